//! FLV tag bodies → pipeline, shared by RTMP ingest and the built-in demo source.
//! Logs what a streamer needs to know: stream started (codecs, size, rate), unsupported codecs.

use sluice_media::demux::flv::{Event, FlvDemuxer, TagKind};

use crate::hub::PublishGuard;
use crate::pipeline::IngestEvent;
use crate::publish::describe;

/// Demuxes one publisher's tags into its channel.
#[derive(Debug)]
pub struct FlvIngest {
    demuxer: FlvDemuxer,
    announced: bool,
    /// Set when the publisher sent a codec Sluice cannot package; the connection is closed.
    pub refused: Option<String>,
}

impl Default for FlvIngest {
    fn default() -> Self {
        Self::new()
    }
}

impl FlvIngest {
    pub fn new() -> Self {
        Self {
            demuxer: FlvDemuxer::new(),
            announced: false,
            refused: None,
        }
    }

    pub fn push(
        &mut self,
        publish: &PublishGuard,
        kind: TagKind,
        timestamp_ms: u32,
        body: bytes::Bytes,
        now_ms: i64,
    ) {
        self.demuxer.push_tag(kind, timestamp_ms, body);
        while let Some(event) = self.demuxer.poll_event() {
            match event {
                Event::Track(info) => publish.push(IngestEvent::Track(info), now_ms),
                Event::Frame(au) => {
                    publish.push(IngestEvent::Frame(au), now_ms);
                    if !self.announced {
                        self.announce(publish);
                    }
                }
                Event::Unsupported { codec, .. } => {
                    tracing::warn!(
                        channel = %publish.channel.id,
                        "stream {} refused: {codec} is not supported yet (send H.264 video and AAC audio)",
                        publish.channel.id
                    );
                    self.refused = Some(codec);
                }
                Event::Dropped { reason } => {
                    publish
                        .hub
                        .counters
                        .frames_dropped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::debug!(channel = %publish.channel.id, "dropped a tag: {reason}");
                }
            }
        }
    }

    fn announce(&mut self, publish: &PublishGuard) {
        let Ok(p) = publish.channel.pipeline.lock() else {
            return;
        };
        // Wait until both tracks are known when the stream has both (sequence headers come first).
        if p.video.is_none() && p.audio.is_none() {
            return;
        }
        self.announced = true;
        tracing::info!("stream {} started: {}", publish.channel.id, describe(&p));
    }
}
