//! WHEP playback: one viewer's session. Access units come from the channel's fanout (from the
//! last keyframe, then live); H.264 goes out as Annex B with SPS/PPS before every keyframe
//! (str0m packetizes it: STAP-A, FU-A); RTP time is the presentation time on the channel
//! timeline, and the RTCP sender reports map it to the wall-clock time the frame was ingested,
//! so a player can tell how far behind the source it plays. A viewer's PLI/FIR asks a WHIP
//! publisher for a keyframe and meanwhile replays the channel's current GOP to that viewer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use sluice_media::codec::annexb;
use sluice_media::track::{AUDIO_TRACK, VIDEO_TRACK};
use sluice_media::{AccessUnit, CodecConfig, TrackInfo};
use str0m::format::Codec;
use str0m::media::{MediaKind, MediaTime, Mid, Pt};
use str0m::{Event, IceConnectionState};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::Command;
use super::rtc::{Driver, Wake};
use crate::fanout::{BRIDGED_OPUS_TRACK, FanoutEvent};
use crate::hub::Channel;

/// A viewer that never connects is dropped after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A viewer's keyframe requests replay the GOP at most this often.
const REPLAY_INTERVAL: Duration = Duration::from_secs(1);
/// Longest GOP replayed. Replayed frames get RTP times 1 tick apart after the last frame sent,
/// so they must fit before the next live frame (3.3 ms here; a frame interval is ≥ 8 ms).
const MAX_REPLAY_FRAMES: usize = 300;

/// What woke the session besides the network.
#[derive(Debug)]
enum Input {
    Media(Result<FanoutEvent, RecvError>),
    Command(Option<Command>),
}

#[derive(Debug, Default)]
struct Viewer {
    video_mid: Option<Mid>,
    audio_mid: Option<Mid>,
    connected: bool,
    /// Frames that arrived before the peer connected (the GOP replay), bounded by the fanout's
    /// GOP cache.
    queued: Vec<FanoutEvent>,
    /// SPS and PPS as Annex B, prepended to every keyframe.
    parameter_sets: Option<BytesMut>,
    /// Why video cannot be sent (codec other than H.264), said once.
    unsupported_video: Option<String>,
    /// Highest presentation time sent: a frame below it is a B-frame.
    max_pts: Option<i64>,
    b_frames_dropped: u64,
    /// Ingest wall-clock (Unix ms) minus timeline ms of the source's session.
    wall_minus_media_ms: Option<i64>,
    /// (first presentation time in 90 kHz, the Instant it was sent): the RTCP wall-clock anchor
    /// while the ingest mapping is unknown.
    anchor: Option<(i64, Instant)>,
    keyframe_requests: u64,
    last_replay: Option<Instant>,
    replays: u64,
    /// The source is Opus already (WHIP): its packets go out as they came. Otherwise the
    /// channel's shared AAC → Opus bridge feeds this viewer.
    audio_passthrough: bool,
    wait_for_keyframe: bool,
    /// Sent with video (min = max), see `webrtc_settings.playout_delay_ms`.
    playout_delay: Option<MediaTime>,
}

pub async fn run(
    mut drv: Driver,
    channel: Arc<Channel>,
    mut commands: mpsc::Receiver<Command>,
    peer: String,
    playout_delay_ms: Option<u32>,
) {
    // Before subscribing, so the bridge runs for the frames this viewer will get.
    let _opus = channel.fanout.listen_opus();
    let (start, mut rx) = channel.fanout.subscribe();
    let playout_delay = playout_delay_ms.map(|ms| MediaTime::from_hundredths(u64::from(ms / 10)));
    let mut viewer = Viewer { queued: start, playout_delay, ..Viewer::default() };
    let mut events = Vec::new();
    let mut buf = Driver::buffer();
    let since = Instant::now();
    let ended = 'session: loop {
        if drv.drain(&mut events).is_err() {
            break "the WebRTC connection failed".to_owned();
        }
        for e in events.drain(..) {
            match e {
                Event::MediaAdded(m) => match m.kind {
                    MediaKind::Video => viewer.video_mid = Some(m.mid),
                    MediaKind::Audio => viewer.audio_mid = Some(m.mid),
                },
                Event::Connected => {
                    viewer.connected = true;
                    for ev in std::mem::take(&mut viewer.queued) {
                        viewer.handle(&mut drv, &channel, &ev);
                    }
                }
                Event::KeyframeRequest(_) => viewer.keyframe_requested(&mut drv, &channel),
                Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    break 'session "the viewer went away".to_owned();
                }
                _ => {}
            }
        }
        if !drv.rtc.is_alive() {
            break "the connection closed".to_owned();
        }
        if !viewer.connected && since.elapsed() > CONNECT_TIMEOUT {
            break "the viewer never connected (ICE/DTLS did not complete)".to_owned();
        }
        let wake = drv
            .wake(&mut buf, async {
                tokio::select! {
                    ev = rx.recv() => Input::Media(ev),
                    cmd = commands.recv() => Input::Command(cmd),
                }
            })
            .await;
        match wake {
            Wake::Datagram(n, from) => drv.receive(&buf[..n], from),
            Wake::Timeout => drv.timeout(),
            Wake::Other(Input::Command(Some(Command::Trickle(lines)))) => {
                // With ICE-lite we only answer the viewer's checks; its candidates are kept for
                // completeness, and unusable ones are silently dropped (RFC 9725 §4.3.2).
                for l in lines {
                    if let Ok(c) = str0m::Candidate::from_sdp_string(&l) {
                        drv.rtc.add_remote_candidate(c);
                    }
                }
            }
            Wake::Other(Input::Command(Some(Command::Close) | None)) => {
                break "the viewer ended the session".to_owned();
            }
            Wake::Other(Input::Media(Ok(ev))) => {
                if viewer.connected {
                    viewer.handle(&mut drv, &channel, &ev);
                } else if viewer.queued.len() < 4096 {
                    viewer.queued.push(ev);
                }
            }
            Wake::Other(Input::Media(Err(RecvError::Lagged(n)))) => {
                tracing::warn!(
                    peer,
                    "WHEP viewer of {} fell {n} frames behind; resuming at the next keyframe",
                    channel.id
                );
                viewer.wait_for_keyframe = true;
            }
            Wake::Other(Input::Media(Err(RecvError::Closed))) => {
                break "the channel was removed".to_owned();
            }
        }
    };
    drv.rtc.disconnect();
    let _ = drv.drain(&mut events);
    if viewer.b_frames_dropped > 0 {
        tracing::info!(
            peer,
            "WHEP viewer of {}: {} B-frames were dropped",
            channel.id,
            viewer.b_frames_dropped
        );
    }
    if viewer.keyframe_requests > 0 {
        tracing::info!(
            peer,
            "WHEP viewer of {} asked for {} keyframe(s) (lost video it could not recover); the current GOP was replayed {} time(s)",
            channel.id,
            viewer.keyframe_requests,
            viewer.replays
        );
    }
    tracing::info!(
        peer,
        "WHEP viewer of {} left after {:.1} s: {ended}",
        channel.id,
        since.elapsed().as_secs_f64()
    );
}

impl Viewer {
    fn handle(&mut self, drv: &mut Driver, channel: &Channel, ev: &FanoutEvent) {
        match ev {
            FanoutEvent::Tracks(tracks) => {
                self.wall_minus_media_ms = None;
                self.set_tracks(tracks)
            }
            FanoutEvent::Frame(au) if au.track == VIDEO_TRACK => self.video(drv, channel, au),
            FanoutEvent::Frame(au) if au.track == AUDIO_TRACK && self.audio_passthrough => {
                self.audio(drv, channel, au)
            }
            FanoutEvent::Frame(au) if au.track == BRIDGED_OPUS_TRACK && !self.audio_passthrough => {
                self.audio(drv, channel, au)
            }
            FanoutEvent::Frame(_) => {}
            FanoutEvent::Ended => {
                self.wall_minus_media_ms = None;
                self.wait_for_keyframe = true
            }
        }
    }

    /// The viewer's decoder lost its reference (loss NACK could not repair): a WHIP publisher
    /// is asked for a keyframe, and this viewer gets the current GOP again right away, squeezed
    /// in just after the last frame it received, instead of a frozen picture until the next
    /// keyframe.
    fn keyframe_requested(&mut self, drv: &mut Driver, channel: &Channel) {
        self.keyframe_requests += 1;
        channel.keyframe_wanted.notify_one();
        if !self.connected || self.last_replay.is_some_and(|t| t.elapsed() < REPLAY_INTERVAL) {
            return;
        }
        let Some(last) = self.max_pts else { return };
        // Frames already sent, in the order sent (B-frames were never sent).
        let mut picked: Vec<AccessUnit> = Vec::new();
        for au in channel.fanout.gop_video() {
            if au.pts > last {
                break;
            }
            if picked.last().is_none_or(|p| au.pts > p.pts) {
                picked.push(au);
            }
        }
        if picked.first().is_none_or(|f| !f.keyframe) || picked.len() > MAX_REPLAY_FRAMES {
            return;
        }
        self.last_replay = Some(Instant::now());
        self.replays += 1;
        for (k, au) in picked.iter().enumerate() {
            self.send_video(drv, channel, au, last + 1 + k as i64);
        }
        self.max_pts = Some(last + picked.len() as i64);
    }

    fn set_tracks(&mut self, tracks: &[TrackInfo]) {
        for t in tracks {
            match &t.codec {
                CodecConfig::H264(c) => {
                    let mut ps = BytesMut::new();
                    for nal in c.sps.iter().chain(&c.pps) {
                        annexb::put_nal(&mut ps, nal);
                    }
                    self.parameter_sets = Some(ps);
                    self.unsupported_video = None;
                }
                CodecConfig::Aac(_) => self.audio_passthrough = false,
                CodecConfig::Opus(_) => self.audio_passthrough = true,
                other if t.id == VIDEO_TRACK => {
                    self.unsupported_video = Some(format!(
                        "WHEP sends H.264 only; this stream is {}",
                        sluice_media::TrackInfo { codec: other.clone(), ..t.clone() }
                            .codec_string()
                    ));
                }
                _ => {}
            }
        }
        self.wait_for_keyframe = true;
        self.max_pts = None;
    }

    /// Wall-clock for RTCP SR: when the frame at `pts_90k` was ingested (before the mapping is
    /// known: the first frame sent plus media time), never in the future.
    fn wallclock(&mut self, channel: &Channel, pts_90k: i64) -> Instant {
        let now = Instant::now();
        if self.wall_minus_media_ms.is_none() {
            self.wall_minus_media_ms =
                channel.pipeline.lock().ok().and_then(|p| p.wall_minus_media_ms());
        }
        if let Some(offset) = self.wall_minus_media_ms {
            let ingested_ms = pts_90k / 90 + offset;
            let age_ms = (crate::now_unix_ms() - ingested_ms).max(0) as u64;
            return now.checked_sub(Duration::from_millis(age_ms)).unwrap_or(now);
        }
        let (pts0, t0) = *self.anchor.get_or_insert((pts_90k, now));
        let offset = Duration::from_micros(((pts_90k - pts0).max(0) as u64) * 1000 / 90);
        (t0 + offset).min(now)
    }

    fn video(&mut self, drv: &mut Driver, channel: &Channel, au: &AccessUnit) {
        if self.video_mid.is_none() || self.unsupported_video.is_some() {
            return;
        }
        if self.wait_for_keyframe {
            if !au.keyframe {
                return;
            }
            self.wait_for_keyframe = false;
        }
        // WebRTC has no composition offsets: a frame presented before one already sent is a
        // B-frame, which Chromium cannot reorder. Drop it (its references are P-frames).
        if self.max_pts.is_some_and(|m| au.pts < m) {
            self.b_frames_dropped += 1;
            return;
        }
        self.max_pts = Some(au.pts);
        self.send_video(drv, channel, au, au.pts);
    }

    /// Sends one frame as RTP time `pts_90k` (its own presentation time, except in a replay).
    fn send_video(&mut self, drv: &mut Driver, channel: &Channel, au: &AccessUnit, pts_90k: i64) {
        let (Some(mid), Some(ps)) = (self.video_mid, self.parameter_sets.as_ref()) else { return };
        let mut data = BytesMut::with_capacity(au.data.len() + ps.len() + 16);
        if au.keyframe {
            data.put_slice(ps);
        }
        if annexb::append_annex_b(&au.data, 4, &mut data).is_err() {
            return;
        }
        let wallclock = self.wallclock(channel, pts_90k);
        let Some(writer) = drv.rtc.writer(mid) else { return };
        let Some(pt) =
            pick_pt(writer.payload_params().map(|p| (p.pt(), p.spec().codec)), Codec::H264)
        else {
            return;
        };
        let rtp = MediaTime::from_90khz(pts_90k.max(0) as u64);
        // With 0: each frame is rendered as soon as it is decoded, no smoothing buffer (Chromium
        // otherwise holds ~25 ms of video on a clean loopback path).
        let writer = match self.playout_delay {
            Some(d) => writer.playout_delay(d, d),
            None => writer,
        };
        let _ = writer.write(pt, wallclock, rtp, data.freeze().to_vec());
    }

    /// One Opus packet: the source's own (WHIP) or the bridge's; both on a 48 kHz timescale.
    fn audio(&mut self, drv: &mut Driver, channel: &Channel, au: &AccessUnit) {
        let Some(mid) = self.audio_mid else { return };
        let wallclock = self.wallclock(channel, au.pts * 90_000 / 48_000);
        let Some(writer) = drv.rtc.writer(mid) else { return };
        let Some(pt) =
            pick_pt(writer.payload_params().map(|p| (p.pt(), p.spec().codec)), Codec::Opus)
        else {
            return;
        };
        let rtp = MediaTime::new(au.pts.max(0) as u64, str0m::media::Frequency::FORTY_EIGHT_KHZ);
        let _ = writer.write(pt, wallclock, rtp, au.data.to_vec());
    }
}

fn pick_pt(params: impl Iterator<Item = (Pt, Codec)>, want: Codec) -> Option<Pt> {
    params.filter(|(_, c)| *c == want).map(|(pt, _)| pt).next()
}
