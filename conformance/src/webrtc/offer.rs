//! What the checker sends: a JSEP-shaped SDP offer (audio Opus + video H.264
//! packetization-mode=1, max-bundle, rtcp-mux, `a=setup:actpass`), trickle-ICE and ICE-restart
//! SDP fragments (RFC 8840), and an answer to a WHEP counter-offer.
//!
//! No WebRTC stack is behind it: the ICE credentials are random, the DTLS fingerprint is random
//! bytes and the offer carries no candidates (RFC 8863 allows an empty list; the WHIP/WHEP
//! server answers before any ICE or DTLS happens). That is enough for every signalling rule.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::sdp::Sdp;

/// Random bits from std's per-process randomly keyed hasher (no RNG dependency).
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    RandomState::new().hash_one((COUNTER.fetch_add(1, Ordering::Relaxed), nanos))
}

/// `n` random `ice-char`s (RFC 8839 §5.4: ALPHA / DIGIT / "+" / "/").
pub fn ice_chars(n: usize) -> String {
    const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(n);
    let mut bits = random_u64();
    for i in 0..n {
        if i % 10 == 0 {
            bits = random_u64();
        }
        out.push(char::from(SET[(bits & 63) as usize]));
        bits >>= 6;
    }
    out
}

/// A sha-256 fingerprint of 32 random bytes, upper-case hex pairs (RFC 8122 §5).
pub fn fake_fingerprint() -> String {
    let mut bytes = Vec::with_capacity(32);
    while bytes.len() < 32 {
        bytes.extend_from_slice(&random_u64().to_be_bytes());
    }
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!("sha-256 {}", hex.join(":"))
}

/// Which way media flows for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// WHIP client: sends media (`a=sendonly`, WHIP §4.2 "The SDP offer SHOULD use the
    /// 'sendonly' attribute").
    Publish,
    /// WHEP player: receives media (`a=recvonly`, WHEP §4.3.5 "it SHOULD use 'recvonly'").
    Play,
}

/// The video codec line of an offer (a seeded variant offers one nobody implements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// H.264 Constrained Baseline 3.1, packetization-mode=1, with RTX.
    H264,
    /// `x-sluice-check/90000`: an unknown codec, to see how a server rejects it.
    Unknown,
}

/// An offer and the values the answer is judged against.
#[derive(Debug, Clone)]
pub struct Offer {
    /// The SDP text (CRLF line ends).
    pub text: String,
    /// Our ICE username fragment.
    pub ufrag: String,
    /// Our ICE password.
    pub pwd: String,
    /// `a=mid` of each m-line, in order.
    pub mids: Vec<String>,
}

impl Offer {
    /// A fresh offer with random credentials.
    pub fn new(role: Role, video: VideoCodec) -> Self {
        let ufrag = ice_chars(8);
        let pwd = ice_chars(24);
        let fingerprint = fake_fingerprint();
        let stream = format!("sluice-check-{:x}", random_u64() & 0xffff_ffff);
        let direction = match role {
            Role::Publish => "sendonly",
            Role::Play => "recvonly",
        };
        let (vpt, vcodec) = match video {
            VideoCodec::H264 => (
                "96 97",
                "a=rtpmap:96 H264/90000\r\n\
                a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtcp-fb:96 ccm fir\r\n\
                a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
                a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n",
            ),
            VideoCodec::Unknown => ("98", "a=rtpmap:98 x-sluice-check/90000\r\n"),
        };
        let common = |mid: &str| {
            let mut s = format!(
                "c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
                 a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=ice-options:trickle\r\n\
                 a=fingerprint:{fingerprint}\r\na=setup:actpass\r\na=mid:{mid}\r\n"
            );
            if mid != "0" {
                s.push_str("a=bundle-only\r\n");
            }
            s.push_str("a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n");
            s.push_str(&format!("a={direction}\r\n"));
            s
        };
        let msid = |kind: &str| match role {
            Role::Publish => format!("a=msid:{stream} {stream}-{kind}\r\n"),
            Role::Play => String::new(),
        };
        let ssrc = |n: u64| match role {
            Role::Publish => format!("a=ssrc:{} cname:{stream}\r\n", (n & 0x7fff_ffff) + 1),
            Role::Play => String::new(),
        };
        let text = format!(
            "v=0\r\no=- {sess} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
             a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS {stream}\r\n\
             m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n{ca}{msa}a=rtcp-mux\r\n\
             a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n{ssa}\
             m=video 9 UDP/TLS/RTP/SAVPF {vpt}\r\n{cv}{msv}a=rtcp-mux\r\na=rtcp-rsize\r\n{vcodec}{ssv}",
            sess = random_u64() >> 2,
            ca = common("0"),
            cv = common("1"),
            msa = msid("audio"),
            msv = msid("video"),
            ssa = ssrc(random_u64()),
            ssv = ssrc(random_u64()),
        );
        Self { text, ufrag, pwd, mids: vec!["0".into(), "1".into()] }
    }
}

/// The bundle a fragment refers to: every mid of the session and the bundle-tagged (first)
/// m-line, whose `m=` line an sdpfrag repeats (RFC 9725 §4.3.2: "the SDP fragment will contain
/// only the offerer-tagged m-line of the bundle group").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Every mid, in order.
    pub mids: Vec<String>,
    /// `audio 9 UDP/TLS/RTP/SAVPF 111`: the tagged m-line's media, port, proto and formats.
    pub tagged: String,
    /// The tagged m-line's mid.
    pub tagged_mid: String,
    /// Whether fragments carry a host candidate (switched off once a server has shown that a
    /// candidate ends its session, so the remaining checks still run).
    pub candidates: bool,
}

impl Bundle {
    /// The bundle of a negotiated session description (`None` without a usable m-line).
    pub fn of(sdp: &Sdp) -> Option<Self> {
        let mids: Vec<String> =
            sdp.media.iter().filter_map(|m| m.mid()).map(str::to_string).collect();
        let first = sdp.media.iter().find(|m| !m.rejected() && m.mid().is_some())?;
        Some(Self {
            tagged: format!("{} 9 {} {}", first.media, first.proto, first.formats.join(" ")),
            tagged_mid: first.mid()?.to_string(),
            mids,
            candidates: true,
        })
    }

    fn fragment(&self, ufrag: &str, pwd: &str) -> String {
        let mut f = format!(
            "a=group:BUNDLE {}\r\nm={}\r\na=mid:{}\r\na=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\n",
            self.mids.join(" "),
            self.tagged,
            self.tagged_mid
        );
        if self.candidates {
            f.push_str("a=candidate:1 1 udp 2122260223 127.0.0.1 9 typ host generation 0\r\n");
        }
        f
    }
}

/// RFC 8840 / RFC 9725 §4.3.2 trickle fragment: the client's current credentials, the
/// bundle-tagged m-line and one host candidate (loopback, discard port: nothing listens there).
pub fn trickle_fragment(bundle: &Bundle, ufrag: &str, pwd: &str) -> String {
    bundle.fragment(ufrag, pwd)
}

/// RFC 9725 §4.3.3 ICE-restart fragment: new credentials (returned as ufrag, pwd) and a
/// candidate.
pub fn restart_fragment(bundle: &Bundle) -> (String, String, String) {
    let ufrag = ice_chars(8);
    let pwd = ice_chars(24);
    (bundle.fragment(&ufrag, &pwd), ufrag, pwd)
}

/// A WHEP player's answer to a server counter-offer (WHEP §4.3.2): every m-line mirrored with
/// its mid, `a=recvonly` ("it MUST use 'recvonly' attribute in the SDP answer"),
/// `a=setup:active` (RFC 8842), the first offered format kept with its rtpmap/fmtp lines.
pub fn answer_to(counter: &Sdp, offer: &Offer) -> String {
    let fingerprint = fake_fingerprint();
    let tags: Vec<&str> = counter.media.iter().filter_map(|m| m.mid()).collect();
    let mut s = format!("v=0\r\no=- {} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", random_u64() >> 2);
    if !tags.is_empty() {
        s.push_str(&format!("a=group:BUNDLE {}\r\n", tags.join(" ")));
    }
    for m in &counter.media {
        let Some(pt) = m.formats.first() else { continue };
        s.push_str(&format!("m={} 9 {} {pt}\r\nc=IN IP4 0.0.0.0\r\n", m.media, m.proto));
        s.push_str(&format!(
            "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=fingerprint:{fingerprint}\r\na=setup:active\r\n",
            offer.ufrag, offer.pwd
        ));
        if let Some(mid) = m.mid() {
            s.push_str(&format!("a=mid:{mid}\r\n"));
        }
        s.push_str("a=recvonly\r\na=rtcp-mux\r\n");
        for name in ["rtpmap", "fmtp"] {
            for v in m.attrs(name) {
                if v.split(' ').next() == Some(pt.as_str()) {
                    s.push_str(&format!("a={name}:{v}\r\n"));
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::{check_fingerprint, check_ice_chars};

    #[test]
    fn publish_offer_is_valid_sdp_with_two_bundled_sendonly_sections() {
        let o = Offer::new(Role::Publish, VideoCodec::H264);
        let s = Sdp::parse(o.text.as_bytes()).unwrap();
        assert!(s.crlf);
        assert_eq!(s.bundle_groups(), vec![vec!["0", "1"]]);
        assert_eq!(s.media.len(), 2);
        for m in &s.media {
            assert_eq!(s.direction(m), "sendonly");
            assert_eq!(m.attr("setup"), Some("actpass"));
            assert!(m.has("rtcp-mux") && m.has("msid"));
            assert_eq!(m.attr("ice-ufrag"), Some(o.ufrag.as_str()));
            assert_eq!(check_fingerprint(m.attr("fingerprint").unwrap()), (None, None));
        }
        assert_eq!(s.media[0].encoding("111"), Some("opus"));
        assert_eq!(s.media[1].encoding("96"), Some("H264"));
        assert!(s.media[1].fmtp("96").unwrap().contains("packetization-mode=1"));
        assert!(check_ice_chars("ufrag", &o.ufrag, 4).is_ok());
        assert!(check_ice_chars("pwd", &o.pwd, 22).is_ok());
    }

    #[test]
    fn play_offer_is_recvonly_without_msid_and_credentials_are_random() {
        let a = Offer::new(Role::Play, VideoCodec::H264);
        let b = Offer::new(Role::Play, VideoCodec::H264);
        let s = Sdp::parse(a.text.as_bytes()).unwrap();
        assert!(s.media.iter().all(|m| s.direction(m) == "recvonly" && !m.has("msid")));
        assert_ne!(a.ufrag, b.ufrag);
        assert_ne!(a.pwd, b.pwd);
    }

    #[test]
    fn fragments_parse_and_answer_mirrors_the_counter_offer() {
        let o = Offer::new(Role::Play, VideoCodec::H264);
        let b = Bundle::of(&Sdp::parse(o.text.as_bytes()).unwrap()).unwrap();
        assert_eq!(b.tagged, "audio 9 UDP/TLS/RTP/SAVPF 111");
        let f = Sdp::parse_fragment(trickle_fragment(&b, &o.ufrag, &o.pwd).as_bytes()).unwrap();
        assert_eq!(f.bundle_groups(), vec![vec!["0", "1"]]);
        assert_eq!(f.media[0].mid(), Some("0"));
        assert_eq!(f.media[0].attr("ice-ufrag"), Some(o.ufrag.as_str()));
        assert_eq!(f.media[0].attrs("candidate").count(), 1);
        let quiet = Bundle { candidates: false, ..b.clone() };
        let f = Sdp::parse_fragment(trickle_fragment(&quiet, &o.ufrag, &o.pwd).as_bytes()).unwrap();
        assert_eq!(f.media[0].attrs("candidate").count(), 0);
        let (r, ufrag, _) = restart_fragment(&b);
        assert_eq!(
            Sdp::parse_fragment(r.as_bytes()).unwrap().media[0].attr("ice-ufrag"),
            Some(ufrag.as_str())
        );
        let counter = Sdp::parse(
            b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a v\r\n\
              m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=mid:a\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n\
              m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:v\r\na=sendonly\r\na=rtpmap:102 H264/90000\r\n\
              a=fmtp:102 packetization-mode=1\r\n",
        )
        .unwrap();
        let cb = Bundle::of(&counter).unwrap();
        assert_eq!((cb.mids.join(" "), cb.tagged_mid.as_str()), ("a v".to_string(), "a"));
        let ans = Sdp::parse(answer_to(&counter, &o).as_bytes()).unwrap();
        assert_eq!(ans.bundle_groups(), vec![vec!["a", "v"]]);
        assert_eq!(ans.media[0].formats, vec!["111"]);
        assert_eq!(ans.media[1].fmtp("102"), Some("packetization-mode=1"));
        assert!(ans.media.iter().all(|m| ans.direction(m) == "recvonly"));
    }
}
