//! WHEP playback: one viewer's session. Access units come from the channel's fanout (from the
//! last keyframe, then live); H.264 goes out as Annex B with SPS/PPS before every keyframe
//! (str0m packetizes it: STAP-A, FU-A); RTP time is the presentation time on the channel
//! timeline, and the RTCP wall clock is anchored at the first frame sent.

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
use crate::fanout::FanoutEvent;
use crate::hub::Channel;
use crate::transcode::AacToOpus;

/// A viewer that never connects is dropped after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

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
    /// (first presentation time in 90 kHz, the Instant it was sent): RTCP wall-clock anchor.
    anchor: Option<(i64, Instant)>,
    audio: Option<AacToOpus>,
    /// The source is Opus already (WHIP): packets go out as they came.
    audio_passthrough: bool,
    audio_unsupported: Option<String>,
    wait_for_keyframe: bool,
}

pub async fn run(
    mut drv: Driver,
    channel: Arc<Channel>,
    mut commands: mpsc::Receiver<Command>,
    peer: String,
) {
    let (start, mut rx) = channel.fanout.subscribe();
    let mut viewer = Viewer { queued: start, ..Viewer::default() };
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
                        viewer.handle(&mut drv, &ev);
                    }
                }
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
                    viewer.handle(&mut drv, &ev);
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
    tracing::info!(
        peer,
        "WHEP viewer of {} left after {:.1} s: {ended}",
        channel.id,
        since.elapsed().as_secs_f64()
    );
}

impl Viewer {
    fn handle(&mut self, drv: &mut Driver, ev: &FanoutEvent) {
        match ev {
            FanoutEvent::Tracks(tracks) => self.set_tracks(tracks),
            FanoutEvent::Frame(au) if au.track == VIDEO_TRACK => self.video(drv, au),
            FanoutEvent::Frame(au) if au.track == AUDIO_TRACK => self.audio(drv, au),
            FanoutEvent::Frame(_) => {}
            FanoutEvent::Ended => self.wait_for_keyframe = true,
        }
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
                CodecConfig::Aac(c) => match AacToOpus::new(c) {
                    Ok(t) => {
                        self.audio = Some(t);
                        self.audio_passthrough = false;
                    }
                    Err(e) => self.audio_unsupported = Some(e.to_string()),
                },
                CodecConfig::Opus(_) => {
                    self.audio = None;
                    self.audio_passthrough = true;
                }
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

    /// Wall-clock for RTCP SR: the anchor plus media time, never in the future.
    fn wallclock(&mut self, pts_90k: i64) -> Instant {
        let now = Instant::now();
        let (pts0, t0) = *self.anchor.get_or_insert((pts_90k, now));
        let offset = Duration::from_micros(((pts_90k - pts0).max(0) as u64) * 1000 / 90);
        (t0 + offset).min(now)
    }

    fn video(&mut self, drv: &mut Driver, au: &AccessUnit) {
        let (Some(mid), Some(ps)) = (self.video_mid, self.parameter_sets.as_ref()) else { return };
        if self.unsupported_video.is_some() {
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
        let mut data = BytesMut::with_capacity(au.data.len() + ps.len() + 16);
        if au.keyframe {
            data.put_slice(ps);
        }
        if annexb::append_annex_b(&au.data, 4, &mut data).is_err() {
            return;
        }
        let wallclock = self.wallclock(au.pts);
        let Some(writer) = drv.rtc.writer(mid) else { return };
        let Some(pt) =
            pick_pt(writer.payload_params().map(|p| (p.pt(), p.spec().codec)), Codec::H264)
        else {
            return;
        };
        let rtp = MediaTime::from_90khz(au.pts.max(0) as u64);
        let _ = writer.write(pt, wallclock, rtp, data.freeze().to_vec());
    }

    fn audio(&mut self, drv: &mut Driver, au: &AccessUnit) {
        let Some(mid) = self.audio_mid else { return };
        let packets: Vec<(i64, bytes::Bytes)> = if self.audio_passthrough {
            // Opus sources (WHIP) use the 48 kHz timescale already.
            vec![(au.pts, au.data.clone())]
        } else {
            let Some(transcoder) = self.audio.as_mut() else { return };
            // A frame the decoder rejects is counted by the transcoder and skipped.
            let _ = transcoder.push(au);
            // A packet stamped t decodes to audio that belongs at t − pre-skip.
            let pre_skip = i64::from(transcoder.pre_skip());
            std::iter::from_fn(|| transcoder.poll_output())
                .map(|p| (p.pts_48k - pre_skip, p.data))
                .collect()
        };
        for (pts_48k, data) in packets {
            let wallclock = self.wallclock(pts_48k * 90_000 / 48_000);
            let Some(writer) = drv.rtc.writer(mid) else { return };
            let Some(pt) =
                pick_pt(writer.payload_params().map(|p| (p.pt(), p.spec().codec)), Codec::Opus)
            else {
                return;
            };
            let rtp =
                MediaTime::new(pts_48k.max(0) as u64, str0m::media::Frequency::FORTY_EIGHT_KHZ);
            let _ = writer.write(pt, wallclock, rtp, data.to_vec());
        }
    }
}

fn pick_pt(params: impl Iterator<Item = (Pt, Codec)>, want: Codec) -> Option<Pt> {
    params.filter(|(_, c)| *c == want).map(|(pt, _)| pt).next()
}
