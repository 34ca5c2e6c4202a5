//! WHIP ingest: one publisher's session. Depacketized H.264 (Annex B, one access unit per
//! frame, SPS/PPS in band) becomes length-prefixed access units and an avcC built from the
//! parameter sets; Opus packets become Opus access units. Each stream's RTP time is placed on
//! the session timeline by the arrival of its first frame, so audio and video line up.

use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use sluice_media::codec::annexb;
use sluice_media::codec::h264::{AvcConfig, nal_type};
use sluice_media::codec::opus::OpusConfig;
use sluice_media::track::{AUDIO_TRACK, MediaKind as TrackKind, VIDEO_TRACK};
use sluice_media::{AccessUnit, CodecConfig, TrackInfo};
use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, MediaData, Mid};
use str0m::rtp::rtcp::SenderInfo;
use str0m::{Event, IceConnectionState};
use tokio::sync::mpsc;

use super::Command;
use super::rtc::{Driver, Wake};
use crate::hub::PublishGuard;
use crate::pipeline::IngestEvent;

/// A publisher silent this long is gone (ICE consent would notice later).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keyframe requests to the publisher at most this often.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);
/// Browsers and aiortc send keyframes mostly when asked: without one this often, ask, so
/// segments stay near their target instead of following an 8 s encoder default.
const WANTED_KEYFRAME_INTERVAL: Duration = Duration::from_secs(2);
/// How long audio is dropped waiting for the first video keyframe of an offer with video
/// (after that the stream starts audio-only and video joins when it comes).
const MAX_AUDIO_BEFORE_VIDEO: Duration = Duration::from_secs(5);

/// How long audio waits for the sender reports that place it against video before it is
/// placed by arrival time instead.
const MAX_WAIT_FOR_SENDER_REPORTS: Duration = Duration::from_secs(1);

/// Per RTP stream: (an RTP time, its ticks on the session timeline) → ticks of any RTP time.
#[derive(Debug, Clone, Copy)]
struct Clock {
    rtp0: u64,
    ticks0: i64,
}

/// `a − b` for RTP times that may be 32-bit or extended (sender reports and packets).
fn rtp_diff(a: u64, b: u64) -> i64 {
    i64::from((a as u32).wrapping_sub(b as u32) as i32)
}

/// Where audio RTP time `audio_rtp` (48 kHz) falls on the session timeline, in 48 kHz ticks,
/// using each stream's latest RTCP sender report: both map their RTP clocks to the sender's
/// wall-clock, which lines audio up with video as the publisher captured them (RFC 3550 §6.4.1),
/// whatever order and delay their first packets arrived with.
fn audio_ticks_by_sender_reports(
    audio_rtp: u64,
    audio_sr: &SenderInfo,
    video_sr: &SenderInfo,
    video: Clock,
) -> Option<i64> {
    let signed_secs = |a: SystemTime, b: SystemTime| match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    // Seconds from the video report's instant to this audio packet's capture instant.
    let audio_after_its_sr = rtp_diff(audio_rtp, audio_sr.rtp_time.numer()) as f64 / 48_000.0;
    let since_video_sr = signed_secs(audio_sr.ntp_time, video_sr.ntp_time) + audio_after_its_sr;
    if since_video_sr.abs() > 60.0 {
        // Reports from unrelated clocks: not usable.
        return None;
    }
    let video_ticks = video.ticks0
        + rtp_diff(video_sr.rtp_time.numer(), video.rtp0)
        + (since_video_sr * 90_000.0).round() as i64;
    Some(video_ticks * 48_000 / 90_000)
}

#[derive(Debug)]
struct Publisher {
    t0: Instant,
    video: Option<(AvcConfig, Clock)>,
    audio: Option<Clock>,
    /// The newest sender report of the video stream.
    video_sr: Option<SenderInfo>,
    /// When the first audio packet that could be placed arrived (waiting for sender reports).
    audio_waiting_since: Option<Instant>,
    audio_announced: bool,
    /// The offer has a video section: audio waits for video's first parameter sets.
    video_expected: bool,
    waiting_for_keyframe: bool,
    last_keyframe_request: Option<Instant>,
    last_keyframe: Option<Instant>,
    frames: u64,
    announced: bool,
}

pub async fn run(
    mut drv: Driver,
    guard: PublishGuard,
    mut commands: mpsc::Receiver<Command>,
    peer: String,
) {
    let id = guard.channel.id.clone();
    let mut p = Publisher {
        t0: Instant::now(),
        video: None,
        audio: None,
        video_sr: None,
        audio_waiting_since: None,
        audio_announced: false,
        video_expected: false,
        waiting_for_keyframe: true,
        last_keyframe_request: None,
        last_keyframe: None,
        frames: 0,
        announced: false,
    };
    let mut events = Vec::new();
    let mut buf = Driver::buffer();
    let mut last_media = Instant::now();
    let mut video_mid: Option<Mid> = None;
    let ended = 'session: loop {
        if drv.drain(&mut events).is_err() {
            break "the WebRTC connection failed".to_owned();
        }
        for e in events.drain(..) {
            match e {
                Event::MediaAdded(m) if m.kind == str0m::media::MediaKind::Video => {
                    video_mid = Some(m.mid);
                    p.video_expected = true;
                }
                Event::MediaData(d) => {
                    last_media = Instant::now();
                    let ask = p.media(&guard, d);
                    if ask && let Some(mid) = video_mid {
                        p.request_keyframe(&mut drv, mid);
                    }
                }
                Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    break 'session "the publisher went away".to_owned();
                }
                _ => {}
            }
        }
        if !drv.rtc.is_alive() {
            break "the connection closed".to_owned();
        }
        if last_media.elapsed() > IDLE_TIMEOUT {
            break format!("no media for {} s", IDLE_TIMEOUT.as_secs());
        }
        let wake = drv
            .wake(&mut buf, async {
                tokio::select! {
                    cmd = commands.recv() => Some(cmd),
                    _ = guard.channel.keyframe_wanted.notified() => None,
                }
            })
            .await;
        match wake {
            Wake::Datagram(n, from) => drv.receive(&buf[..n], from),
            Wake::Timeout => drv.timeout(),
            Wake::Other(None) => {
                // A WHEP viewer lost the picture: ask the publisher's encoder for a keyframe.
                if let Some(mid) = video_mid {
                    p.request_keyframe(&mut drv, mid);
                }
            }
            Wake::Other(Some(Some(Command::Trickle(lines)))) => {
                for l in lines {
                    if let Ok(c) = str0m::Candidate::from_sdp_string(&l) {
                        drv.rtc.add_remote_candidate(c);
                    }
                }
            }
            Wake::Other(Some(Some(Command::Close) | None)) => {
                break "the publisher ended the session".to_owned();
            }
        }
    };
    drv.rtc.disconnect();
    let _ = drv.drain(&mut events);
    tracing::info!(
        peer,
        "WHIP stream {id} stopped after {:.1} s: {ended}",
        p.t0.elapsed().as_secs_f64()
    );
}

impl Publisher {
    /// Returns true when a keyframe should be requested (a gap, or no keyframe yet).
    fn media(&mut self, guard: &PublishGuard, d: MediaData) -> bool {
        let now_ms = crate::now_unix_ms();
        match d.params.spec().codec {
            Codec::H264 => self.video_frame(guard, &d, now_ms),
            Codec::Opus => {
                self.audio_frame(guard, &d, now_ms);
                false
            }
            _ => false,
        }
    }

    fn ticks_since_start(&self, at: Instant, rate: u64) -> i64 {
        (at.saturating_duration_since(self.t0).as_micros() as u64 * rate / 1_000_000) as i64
    }

    fn video_frame(&mut self, guard: &PublishGuard, d: &MediaData, now_ms: i64) -> bool {
        if !d.contiguous {
            // Packets were lost beyond NACK's reach: this frame and those depending on it are
            // broken until the next keyframe.
            self.waiting_for_keyframe = true;
        }
        let (mut sps, mut pps) = (Vec::new(), Vec::new());
        let mut sample = BytesMut::with_capacity(d.data.len());
        let mut idr = false;
        for nal in annexb::nal_units(&d.data) {
            match nal.first().map(|b| b & 0x1f) {
                Some(nal_type::SPS) => sps.push(Bytes::copy_from_slice(nal)),
                Some(nal_type::PPS) => pps.push(Bytes::copy_from_slice(nal)),
                Some(nal_type::AUD) | None => {}
                Some(t) => {
                    idr |= t == nal_type::IDR_SLICE;
                    sample.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                    sample.extend_from_slice(nal);
                }
            }
        }
        if !sps.is_empty() && !pps.is_empty() {
            match AvcConfig::from_parameter_sets(&sps, &pps) {
                Ok(config) => {
                    let changed =
                        self.video.as_ref().is_none_or(|(c, _)| c.record != config.record);
                    if changed {
                        let clock = self.video.as_ref().map(|(_, c)| *c).unwrap_or(Clock {
                            rtp0: d.time.numer(),
                            ticks0: self.ticks_since_start(d.network_time, 90_000),
                        });
                        guard.push(
                            IngestEvent::Track(TrackInfo {
                                id: VIDEO_TRACK,
                                kind: TrackKind::Video,
                                timescale: 90_000,
                                codec: CodecConfig::H264(config.clone()),
                            }),
                            now_ms,
                        );
                        self.video = Some((config, clock));
                    }
                }
                Err(e) => tracing::debug!("WHIP {}: bad parameter sets: {e}", guard.channel.id),
            }
        }
        if d.last_sender_info.is_some() {
            self.video_sr = d.last_sender_info;
        }
        let Some((_, clock)) = self.video else { return true };
        if self.waiting_for_keyframe {
            if !idr {
                return true;
            }
            self.waiting_for_keyframe = false;
        }
        if sample.is_empty() {
            return false;
        }
        if idr {
            self.last_keyframe = Some(Instant::now());
        }
        let overdue = self.last_keyframe.is_some_and(|t| t.elapsed() > WANTED_KEYFRAME_INTERVAL);
        let ts = clock.ticks0 + (d.time.numer().wrapping_sub(clock.rtp0)) as i64;
        self.push(
            guard,
            AccessUnit {
                track: VIDEO_TRACK,
                dts: ts,
                pts: ts,
                keyframe: idr,
                data: sample.freeze(),
            },
            now_ms,
        );
        overdue
    }

    fn audio_frame(&mut self, guard: &PublishGuard, d: &MediaData, now_ms: i64) {
        if self.video_expected && self.video.is_none() && self.t0.elapsed() < MAX_AUDIO_BEFORE_VIDEO
        {
            // Browsers send audio before the first keyframe. Announced alone, audio would
            // start an audio-only timeline that video then joins; the pipeline drops audio
            // from before the first keyframe anyway.
            return;
        }
        if !self.audio_announced {
            let channels = if d.params.spec().channels.unwrap_or(2) >= 2 { 2 } else { 1 };
            let Ok(config) = OpusConfig::from_channels(channels) else { return };
            guard.push(
                IngestEvent::Track(TrackInfo {
                    id: AUDIO_TRACK,
                    kind: TrackKind::Audio,
                    timescale: 48_000,
                    codec: CodecConfig::Opus(config),
                }),
                now_ms,
            );
            self.audio_announced = true;
        }
        let Some(clock) = self.audio_clock(d) else { return };
        let ts = clock.ticks0 + (d.time.numer().wrapping_sub(clock.rtp0)) as i64;
        let data = Bytes::copy_from_slice(&d.data);
        self.push(
            guard,
            AccessUnit { track: AUDIO_TRACK, dts: ts, pts: ts, keyframe: true, data },
            now_ms,
        );
    }

    /// The audio clock: placed against video by the sender reports when both streams have
    /// one, by arrival time when no report came within [`MAX_WAIT_FOR_SENDER_REPORTS`] (or the
    /// offer has no video). `None`: drop this packet while waiting.
    fn audio_clock(&mut self, d: &MediaData) -> Option<Clock> {
        if let Some(clock) = self.audio {
            return Some(clock);
        }
        let rtp0 = d.time.numer();
        let by_reports = match (&d.last_sender_info, &self.video_sr, &self.video) {
            (Some(audio_sr), Some(video_sr), Some((_, video))) => {
                audio_ticks_by_sender_reports(rtp0, audio_sr, video_sr, *video)
            }
            _ => None,
        };
        let waiting_since = *self.audio_waiting_since.get_or_insert_with(Instant::now);
        let ticks0 = match by_reports {
            Some(ticks) => ticks,
            None if self.video_expected
                && waiting_since.elapsed() < MAX_WAIT_FOR_SENDER_REPORTS =>
            {
                return None;
            }
            None => {
                tracing::debug!("WHIP audio placed by arrival time (no sender reports)");
                self.ticks_since_start(d.network_time, 48_000)
            }
        };
        let clock = Clock { rtp0, ticks0 };
        self.audio = Some(clock);
        Some(clock)
    }

    fn push(&mut self, guard: &PublishGuard, au: AccessUnit, now_ms: i64) {
        guard.push(IngestEvent::Frame(au), now_ms);
        self.frames += 1;
        if !self.announced && self.video.is_some() && (self.audio_announced || self.frames > 60) {
            self.announced = true;
            if let Ok(p) = guard.channel.pipeline.lock() {
                tracing::info!(
                    "stream {} started over WHIP: {}",
                    guard.channel.id,
                    crate::publish::describe(&p)
                );
            }
        }
    }

    fn request_keyframe(&mut self, drv: &mut Driver, mid: Mid) {
        if self.last_keyframe_request.is_some_and(|t| t.elapsed() < KEYFRAME_REQUEST_INTERVAL) {
            return;
        }
        self.last_keyframe_request = Some(Instant::now());
        let Some(mut w) = drv.rtc.writer(mid) else { return };
        for kind in [KeyframeRequestKind::Pli, KeyframeRequestKind::Fir] {
            if w.is_request_keyframe_possible(kind) {
                let _ = w.request_keyframe(None, kind);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use str0m::media::{Frequency, MediaTime};

    use super::*;

    fn report(rtp: u64, rate: Frequency, at: SystemTime) -> SenderInfo {
        SenderInfo {
            ssrc: 1.into(),
            ntp_time: at,
            rtp_time: MediaTime::new(rtp, rate),
            sender_packet_count: 0,
            sender_octet_count: 0,
        }
    }

    #[test]
    fn sender_reports_place_audio_where_the_publisher_captured_it() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        // Video's first packet (RTP 1000) is at tick 0; its report says RTP 91000 at t.
        let video = Clock { rtp0: 1000, ticks0: 0 };
        let video_sr = report(91_000, Frequency::NINETY_KHZ, t);
        // Audio's report: RTP 5000 at t + 0.5 s; a packet 0.5 s after that was captured at
        // t + 1 s, when video was at tick 90000 + 90000.
        let audio_sr = report(5_000, Frequency::FORTY_EIGHT_KHZ, t + Duration::from_millis(500));
        let ticks = audio_ticks_by_sender_reports(29_000, &audio_sr, &video_sr, video);
        assert_eq!(ticks, Some(180_000 * 48_000 / 90_000));
        // A packet from before its report, and RTP times across the 32-bit wrap.
        let early = audio_ticks_by_sender_reports(4_040, &audio_sr, &video_sr, video);
        assert_eq!(early, Some((180_000 - 45_000 - 1800) * 48_000 / 90_000));
        let wrap_sr = report(u64::from(u32::MAX) - 999, Frequency::FORTY_EIGHT_KHZ, t);
        let wrapped = audio_ticks_by_sender_reports(47_000, &wrap_sr, &video_sr, video);
        assert_eq!(wrapped, Some((90_000 + 90_000) * 48_000 / 90_000));
        // Reports an hour apart come from unrelated clocks.
        let far = report(5_000, Frequency::FORTY_EIGHT_KHZ, t + Duration::from_secs(3600));
        assert_eq!(audio_ticks_by_sender_reports(29_000, &far, &video_sr, video), None);
    }
}
