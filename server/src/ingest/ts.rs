//! MPEG-TS payloads (from SRT) → pipeline: the TS counterpart of `ingest::flv`.
//! Logs what a streamer needs to know: stream started (codecs, size, rate), unsupported
//! codecs, SCTE-35 cues, and packet loss the transport could not recover.

use std::sync::atomic::Ordering;

use sluice_media::demux::ts::{Event, TsDemuxer};

use crate::hub::PublishGuard;
use crate::pipeline::IngestEvent;
use crate::publish::describe;

#[derive(Debug)]
pub struct TsIngest {
    demuxer: TsDemuxer,
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
    }

    fn drain(&mut self, publish: &PublishGuard, now_ms: i64) {
        while let Some(event) = self.demuxer.poll_event() {
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

    #[test]
    fn audio_announced_after_video_does_not_break_the_hls_ts_segment() {
        static H264: &[u8] = include_bytes!("../../../testdata/ffmpeg-x264-aac.ts");
        let hub = crate::hub_from_config(&Config::default());
        let guard = Arc::clone(&hub).begin_publish("live", "late-audio").expect("publish allowed");
        let mut ingest = TsIngest::new();
        for chunk in H264.chunks(1316) {
            ingest.push(&guard, chunk, 0);
        }
        ingest.finish(&guard, 0);
        // The publisher leaves: the last segment closes on both endpoints.
        let channel = guard.channel.clone();
        drop(guard);
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
