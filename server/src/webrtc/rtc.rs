//! str0m configuration shared by every session, and the offer → answer step.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::config::DtlsCert;
use str0m::media::Pt;
use str0m::rtp::Extension;
use str0m::{Candidate, Rtc, RtcConfig};

/// One DTLS certificate per process (key generation is not free) and the codec set: H.264
/// packetization-mode 1 in the profiles browsers decode, and Opus.
#[derive(Debug)]
pub struct RtcFactory {
    cert: Option<DtlsCert>,
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("malformed SDP offer: {0}")]
    BadSdp(String),
    #[error("offer not acceptable: {0}")]
    Rejected(String),
}

impl RtcFactory {
    pub fn new() -> Self {
        str0m::crypto::from_feature_flags().install_process_default();
        let cert = str0m::crypto::from_feature_flags().dtls_provider.generate_certificate();
        Self { cert }
    }

    fn config(&self) -> RtcConfig {
        let mut cfg = RtcConfig::new()
            // Lite: we only answer the peer's checks (FFmpeg's WHIP ICE needs this).
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true, false)
            .set_extension(6, Extension::PlayoutDelay)
            // NACK history per viewer: ~0.5 MB at most, several keyframes at 4 Mbit/s.
            .set_send_buffer_video(500);
        if let Some(cert) = &self.cert {
            cfg = cfg.set_dtls_cert(cert.clone());
        }
        let codecs = cfg.codec_config();
        for (pt, rtx, profile) in
            [(102, 103, 0x42001f), (108, 109, 0x42e01f), (123, 119, 0x4d001f), (112, 113, 0x64001f)]
        {
            codecs.add_h264(Pt::from(pt), Some(Pt::from(rtx)), true, profile);
        }
        cfg
    }

    /// Builds a session's `Rtc` for `offer`, with `host` as its only candidate, and the answer.
    pub fn accept(
        &self,
        offer: &str,
        host: SocketAddr,
        now: Instant,
    ) -> Result<(Rtc, String), AcceptError> {
        let offer = parse_offer(offer)?;
        let mut rtc = self.config().build(now);
        let candidate =
            Candidate::host(host, "udp").map_err(|e| AcceptError::Rejected(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer =
            rtc.sdp_api().accept_offer(offer).map_err(|e| AcceptError::Rejected(e.to_string()))?;
        Ok((rtc, one_media_stream(&candidates_in_every_section(&answer.to_sdp_string()))))
    }
}

impl Default for RtcFactory {
    fn default() -> Self {
        Self::new()
    }
}

/// Parses an offer. The parser's own message points into memory, so it is not passed on.
pub fn parse_offer(offer: &str) -> Result<SdpOffer, AcceptError> {
    SdpOffer::from_sdp_string(offer).map_err(|e| {
        tracing::debug!("unparseable SDP offer: {e}");
        AcceptError::BadSdp("it is not a valid SDP session description".into())
    })
}

/// Whether some m-section of `offer` sends media (`want_send`, WHIP) or receives it (WHEP).
/// Direction defaults to sendrecv when a section states none (RFC 8866 §6.7).
pub fn offer_direction_fits(offer: &str, want_send: bool) -> bool {
    let mut sections: Vec<Option<&str>> = Vec::new();
    for line in offer.lines().map(str::trim_end) {
        if line.starts_with("m=") {
            sections.push(None);
        } else if let Some(last) = sections.last_mut()
            && let Some(dir) = line
                .strip_prefix("a=")
                .filter(|a| matches!(*a, "sendonly" | "recvonly" | "sendrecv" | "inactive"))
        {
            *last = Some(dir);
        }
    }
    let usable = if want_send { "sendonly" } else { "recvonly" };
    sections.iter().any(|d| matches!(d.unwrap_or("sendrecv"), x if x == usable || x == "sendrecv"))
}

/// str0m lists candidates in the first m-section only; peers that read them from another
/// section of the bundle (aiortc) then never connect. Repeat them, with end-of-candidates,
/// in every section.
fn candidates_in_every_section(sdp: &str) -> String {
    let candidates: Vec<&str> = sdp.lines().filter(|l| l.starts_with("a=candidate:")).collect();
    let mut out = String::with_capacity(sdp.len() * 2);
    for line in sdp.lines() {
        if line.starts_with("a=candidate:") || line.starts_with("a=end-of-candidates") {
            continue;
        }
        if line.starts_with("a=ice-ufrag:") {
            for c in &candidates {
                out.push_str(c);
                out.push_str("\r\n");
            }
            out.push_str("a=end-of-candidates\r\n");
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// str0m gives each m-section its own `a=msid` stream id when the offer has none, and browsers
/// only synchronise audio and video of the same stream: use the first stream id for all.
fn one_media_stream(sdp: &str) -> String {
    let first = sdp
        .lines()
        .find_map(|l| l.strip_prefix("a=msid:"))
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_owned);
    let Some(stream) = first else { return sdp.to_owned() };
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.lines() {
        match line.strip_prefix("a=msid:").and_then(|v| v.split_once(' ')) {
            Some((_, track)) => out.push_str(&format!("a=msid:{stream} {track}")),
            None => out.push_str(line),
        }
        out.push_str("\r\n");
    }
    out
}

/// Randomness for session ids (not for cryptography: DTLS keys are str0m's).
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// One session's `Rtc` and UDP socket. Every mutation is followed by [`Driver::drain`], which
/// sends what str0m wants sent and returns its events (str0m's "drain until Timeout" rule).
#[derive(Debug)]
pub struct Driver {
    pub rtc: Rtc,
    pub socket: tokio::net::UdpSocket,
    pub local: SocketAddr,
    pub next_timeout: Instant,
}

/// Largest datagram we read (WebRTC keeps packets under the path MTU).
const MAX_DATAGRAM: usize = 2048;

/// What the select loop woke up for.
#[derive(Debug)]
pub enum Wake<T> {
    Datagram(usize, SocketAddr),
    Timeout,
    Other(T),
}

impl Driver {
    pub fn new(rtc: Rtc, socket: tokio::net::UdpSocket) -> std::io::Result<Self> {
        let local = socket.local_addr()?;
        Ok(Self { rtc, socket, local, next_timeout: Instant::now() })
    }

    /// Sends pending datagrams; returns the events. `Err` ends the session.
    pub fn drain(&mut self, events: &mut Vec<str0m::Event>) -> Result<(), str0m::RtcError> {
        loop {
            match self.rtc.poll_output()? {
                str0m::Output::Timeout(t) => {
                    self.next_timeout = t;
                    return Ok(());
                }
                str0m::Output::Transmit(t) => {
                    // A full socket buffer drops the datagram: NACK/RTX recovers, like the network.
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                str0m::Output::Event(e) => events.push(e),
            }
        }
    }

    /// Feeds a received datagram (garbage is dropped).
    pub fn receive(&mut self, data: &[u8], source: SocketAddr) {
        let Ok(contents) = data.try_into() else { return };
        let input = str0m::Input::Receive(
            Instant::now(),
            str0m::net::Receive {
                proto: str0m::net::Protocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        );
        if self.rtc.accepts(&input) {
            let _ = self.rtc.handle_input(input);
        }
    }

    pub fn timeout(&mut self) {
        let _ = self.rtc.handle_input(str0m::Input::Timeout(Instant::now()));
    }

    /// Waits for a datagram, str0m's timeout, or `other`.
    pub async fn wake<T>(
        &mut self,
        buf: &mut [u8; MAX_DATAGRAM],
        other: impl std::future::Future<Output = T>,
    ) -> Wake<T> {
        let deadline = tokio::time::Instant::from_std(self.next_timeout);
        tokio::select! {
            r = self.socket.recv_from(buf) => match r {
                Ok((n, from)) => Wake::Datagram(n, from),
                Err(_) => Wake::Timeout,
            },
            _ = tokio::time::sleep_until(deadline) => Wake::Timeout,
            v = other => Wake::Other(v),
        }
    }

    pub fn buffer() -> [u8; MAX_DATAGRAM] {
        [0; MAX_DATAGRAM]
    }
}
