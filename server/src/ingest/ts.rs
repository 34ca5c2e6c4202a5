//! MPEG-TS payloads (from SRT) → pipeline: the TS counterpart of `ingest::flv`.
//! Logs what a streamer needs to know: stream started (codecs, size, rate), unsupported
//! codecs, SCTE-35 cues, and packet loss the transport could not recover.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use sluice_media::MediaKind;
use sluice_media::demux::ts::{Event, TsDemuxer};
use sluice_media::time::rescale;
use sluice_media::track::VIDEO_TRACK;

use crate::hub::PublishGuard;
use crate::pipeline::IngestEvent;
use crate::publish::describe;

/// How much audio is held back waiting for the first video parameter sets of a program that
/// lists video (an encoder joined mid-GOP sends audio up to a GOP before its next keyframe).
const MAX_AUDIO_BEFORE_VIDEO_MS: i64 = 5_000;
/// Bound on events held at start-up, whatever their timestamps say.
const MAX_HELD_EVENTS: usize = 2_048;

#[derive(Debug)]
pub struct TsIngest {
    demuxer: TsDemuxer,
    /// Tracks and frames are passed on once the tracks the PMT lists are known, video first:
    /// an audio track reaching the pipeline alone would start an audio-only timeline.
    started: bool,
    held: VecDeque<Event>,
    announced: bool,
    frames_before_announce: u32,
    continuity_errors: u64,
    /// Set when the stream has no codec Sluice can package; the connection is closed.
    pub refused: Option<String>,
    /// Codecs skipped while others play (e.g. a second, MPEG-1 audio track).
    ignored: Vec<String>,
}

impl Default for TsIngest {
    fn default() -> Self {
        Self::new()
    }
}

impl TsIngest {
    pub fn new() -> Self {
        Self {
            demuxer: TsDemuxer::new(),
            started: false,
            held: VecDeque::new(),
            announced: false,
            frames_before_announce: 0,
            continuity_errors: 0,
            refused: None,
            ignored: Vec::new(),
        }
    }

    pub fn push(&mut self, publish: &PublishGuard, data: &[u8], now_ms: i64) {
        self.demuxer.push(data);
        self.drain(publish, now_ms);
    }

    /// The publisher left: a video frame without a PES length ends only when the next one
    /// starts, so the last one is still inside the demuxer.
    pub fn finish(&mut self, publish: &PublishGuard, now_ms: i64) {
        self.demuxer.flush();
        self.drain(publish, now_ms);
        if !self.started {
            self.start(publish, now_ms);
        }
    }

    fn drain(&mut self, publish: &PublishGuard, now_ms: i64) {
        while let Some(event) = self.demuxer.poll_event() {
            if !self.started && matches!(event, Event::Track(_) | Event::Frame(_)) {
                self.held.push_back(event);
                if self.ready_to_start(publish) {
                    self.start(publish, now_ms);
                }
                continue;
            }
            self.handle(publish, event, now_ms);
        }
        let errors = self.demuxer.stats().cc_errors;
        if errors > self.continuity_errors {
            let new = errors - self.continuity_errors;
            publish.hub.counters.ts_continuity_errors.fetch_add(new, Ordering::Relaxed);
            tracing::warn!(
                "stream {}: {new} MPEG-TS packet(s) lost that SRT could not recover (raise the SRT latency if this repeats)",
                publish.channel.id
            );
            self.continuity_errors = errors;
        }
    }

    /// Video's track is held (or the program has none), or audio has waited long enough.
    fn ready_to_start(&self, publish: &PublishGuard) -> bool {
        let has_video_track =
            self.held.iter().any(|e| matches!(e, Event::Track(t) if t.kind == MediaKind::Video));
        if has_video_track || !self.demuxer.expects_video() {
            return true;
        }
        let audio_span_ms = {
            let timescale = self.held.iter().rev().find_map(|e| match e {
                Event::Track(t) if t.kind == MediaKind::Audio => Some(t.timescale),
                _ => None,
            });
            let mut dts = self.held.iter().filter_map(|e| match e {
                Event::Frame(au) if au.track != VIDEO_TRACK => Some(au.dts),
                _ => None,
            });
            match (timescale, dts.next(), dts.last()) {
                (Some(ts), Some(first), Some(last)) => rescale(last - first, ts, 1000),
                _ => 0,
            }
        };
        let waited_too_long = audio_span_ms >= MAX_AUDIO_BEFORE_VIDEO_MS;
        if waited_too_long || self.held.len() >= MAX_HELD_EVENTS {
            tracing::warn!(
                "stream {}: the stream lists video but no H.264/H.265 keyframe with parameter sets came within {} s of audio; starting with audio only (send a keyframe at least every 2 s)",
                publish.channel.id,
                MAX_AUDIO_BEFORE_VIDEO_MS / 1000
            );
            return true;
        }
        false
    }

    /// Passes the held tracks on (video first) and then the held frames in input order.
    fn start(&mut self, publish: &PublishGuard, now_ms: i64) {
        self.started = true;
        let mut held = std::mem::take(&mut self.held);
        let mut tracks: Vec<Event> = Vec::new();
        held.retain(|e| {
            let is_track = matches!(e, Event::Track(_));
            if is_track {
                tracks.push(e.clone());
            }
            !is_track
        });
        // Only the newest description of each kind matters.
        tracks.reverse();
        let mut seen = Vec::new();
        tracks.retain(|e| match e {
            Event::Track(t) if !seen.contains(&t.kind) => {
                seen.push(t.kind);
                true
            }
            _ => false,
        });
        tracks.sort_by_key(|e| !matches!(e, Event::Track(t) if t.kind == MediaKind::Video));
        for event in tracks.into_iter().chain(held) {
            self.handle(publish, event, now_ms);
        }
    }

    fn handle(&mut self, publish: &PublishGuard, event: Event, now_ms: i64) {
        match event {
            Event::Track(info) => publish.push(IngestEvent::Track(info), now_ms),
            Event::Frame(au) => {
                publish.push(IngestEvent::Frame(au), now_ms);
                if !self.announced {
                    self.announce(publish);
                }
            }
            Event::Scte35 { pts, splice } => {
                tracing::info!(
                    "stream {} SCTE-35 {}",
                    publish.channel.id,
                    crate::publish::describe_cue(&splice, pts)
                );
                publish.push(IngestEvent::Cue { pts_90k: pts, splice }, now_ms);
            }
            Event::Unsupported { codec, .. } => {
                if !self.ignored.contains(&codec) {
                    tracing::warn!(
                        "stream {}: {codec} is not supported; that track is ignored (send H.264 or H.265 video and AAC audio)",
                        publish.channel.id
                    );
                    self.ignored.push(codec);
                }
            }
            Event::Dropped { reason } => {
                publish.hub.counters.frames_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(channel = %publish.channel.id, "dropped MPEG-TS data: {reason}");
            }
        }
    }

    fn announce(&mut self, publish: &PublishGuard) {
        let Ok(p) = publish.channel.pipeline.lock() else {
            return;
        };
        // In TS the audio description arrives with the first ADTS frame, after video's: wait
        // for both, or for a second of frames when a stream has only one.
        self.frames_before_announce += 1;
        if (p.video.is_none() || p.audio.is_none()) && self.frames_before_announce < 60 {
            return;
        }
        self.announced = true;
        tracing::info!("stream {} started: {}", publish.channel.id, describe(&p));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;

    static SCTE35: &[u8] = include_bytes!("../../../testdata/ffmpeg-x264-aac-scte35.ts");

    #[test]
    fn scte35_cues_land_on_the_channel_timeline() {
        let hub = crate::hub_from_config(&Config::default());
        let guard = Arc::clone(&hub).begin_publish("live", "cues").expect("publish allowed");
        let mut ingest = TsIngest::new();
        for chunk in SCTE35.chunks(1316) {
            ingest.push(&guard, chunk, 1_000_000);
        }
        ingest.finish(&guard, 1_000_000);
        let p = guard.channel.pipeline.lock().expect("pipeline lock");
        assert!(!p.cues.is_empty(), "no cue kept");
        let video = p.video.as_ref().expect("video track");
        let first = video.ring.segments().next().expect("a segment").start_dts;
        // The capture's cue-out and time_signal carry splice times, the cue-in is immediate,
        // and its splice_null heartbeat is not kept.
        assert_eq!(p.cues.len(), 3);
        let timed: Vec<i64> = p.cues.iter().filter_map(|c| c.at_90k).collect();
        assert_eq!(timed.len(), 2);
        for at in timed {
            // On the channel timeline: within the media that was published.
            assert!(at >= first && at < first + 10 * 90_000, "cue at {at}, media from {first}");
        }
        assert!(p.cues.iter().all(|c| c.at_90k.is_some() == c.program_date_time_ms.is_some()));
        drop(p);
        assert_eq!(
            guard.channel.snapshot().cues,
            guard.channel.pipeline.lock().expect("lock").cues.len()
        );
    }

    /// Publishes a whole capture over the TS ingest as `live/{name}` and ends the publish (the
    /// last segments close), returning the channel.
    fn publish_capture(name: &str, capture: &[u8]) -> Arc<crate::hub::Channel> {
        let hub = crate::hub_from_config(&Config::default());
        let guard = Arc::clone(&hub).begin_publish("live", name).expect("publish allowed");
        let mut ingest = TsIngest::new();
        for chunk in capture.chunks(1316) {
            ingest.push(&guard, chunk, 0);
        }
        ingest.finish(&guard, 0);
        let channel = guard.channel.clone();
        drop(guard);
        channel
    }

    #[test]
    fn audio_announced_after_video_does_not_break_the_hls_ts_segment() {
        static H264: &[u8] = include_bytes!("../../../testdata/ffmpeg-x264-aac.ts");
        // The publisher leaves: the last segment closes on both endpoints.
        let channel = publish_capture("late-audio", H264);
        let p = channel.pipeline.lock().expect("pipeline lock");
        let video = p.video.as_ref().expect("video");
        let cmaf: Vec<(u64, u64)> = video.ring.segments().map(|s| (s.msn, s.duration())).collect();
        let ts: Vec<(u64, u64, bool)> =
            p.ts.segments().map(|s| (s.msn, s.duration, s.discontinuity)).collect();
        assert!(ts.iter().all(|s| !s.2), "no discontinuity in one session: {ts:?}");
        assert_eq!(
            ts.iter().map(|s| s.0).collect::<Vec<_>>(),
            cmaf.iter().map(|s| s.0).collect::<Vec<_>>()
        );
        for (t, c) in ts.iter().zip(&cmaf) {
            assert_eq!((t.0, t.1), *c);
        }
    }

    /// An encoder whose audio starts before video's first keyframe (ffmpeg with one ADTS frame
    /// per PES and a late video input): the channel still starts with video, and the HLS-TS
    /// segments keep the CMAF video segments' numbers instead of an audio-only segment first.
    #[test]
    fn audio_before_the_first_keyframe_waits_for_video() {
        static AUDIO_FIRST: &[u8] =
            include_bytes!("../../../testdata/ffmpeg-x264-aac-audio-first.ts");
        let channel = publish_capture("audio-first", AUDIO_FIRST);
        let p = channel.pipeline.lock().expect("pipeline lock");
        let video = p.video.as_ref().expect("video");
        let audio = p.audio.as_ref().expect("audio");
        let cmaf: Vec<(u64, u64)> = video.ring.segments().map(|s| (s.msn, s.duration())).collect();
        let ts: Vec<(u64, u64)> = p.ts.segments().map(|s| (s.msn, s.duration)).collect();
        assert_eq!(cmaf.len(), 2, "two 1 s GOPs: {cmaf:?}");
        assert_eq!(ts, cmaf);
        let audio_msns: Vec<u64> = audio.ring.segments().map(|s| s.msn).collect();
        assert_eq!(audio_msns, cmaf.iter().map(|s| s.0).collect::<Vec<_>>());
        let video_start = video.ring.segments().next().expect("segment").start_dts;
        let audio_start = audio.ring.segments().next().expect("segment").start_dts;
        // Audio starts with video (48 kHz vs 90 kHz), not 0.7 s before it.
        assert!(
            (audio_start * 90_000 / 48_000 - video_start).abs() < 90_000 / 20,
            "audio at {audio_start}/48k, video at {video_start}/90k"
        );
    }

    #[test]
    fn hevc_over_ts_becomes_an_hvc1_rendition() {
        static HEVC: &[u8] = include_bytes!("../../../testdata/ffmpeg-x265-aac.ts");
        let hub = crate::hub_from_config(&Config::default());
        let guard = Arc::clone(&hub).begin_publish("live", "hevc").expect("publish allowed");
        let mut ingest = TsIngest::new();
        for chunk in HEVC.chunks(1316) {
            ingest.push(&guard, chunk, 0);
        }
        let snap = guard.channel.snapshot();
        let video = snap.video.as_ref().expect("video");
        assert!(video.info.codec_string().starts_with("hvc1."), "{}", video.info.codec_string());
        assert!(snap.audio.is_some());
        assert!(ingest.refused.is_none());
    }
}
