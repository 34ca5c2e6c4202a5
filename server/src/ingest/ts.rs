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
                    // Kept as a log line until EXT-X-DATERANGE/EventStream carry them (PRODUCT.md).
                    tracing::info!(
                        "stream {} SCTE-35 cue at {}: {splice:?}",
                        publish.channel.id,
                        pts.map_or("no time".to_owned(), |p| format!(
                            "{:.3} s",
                            p as f64 / 90_000.0
                        ))
                    );
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
