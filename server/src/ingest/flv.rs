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
        Self { demuxer: FlvDemuxer::new(), announced: false, refused: None }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::config::Config;

    #[test]
    fn enhanced_rtmp_vp9_is_refused_with_its_name() {
        let hub = crate::hub_from_config(&Config::default());
        let guard = Arc::clone(&hub).begin_publish("live", "vp9").expect("publish allowed");
        let mut ingest = FlvIngest::new();
        // Enhanced RTMP: IsExHeader | keyframe | PacketTypeSequenceStart, FourCC "vp09".
        let tag = Bytes::from_static(&[0x90, b'v', b'p', b'0', b'9', 0x01, 0x02, 0x03]);
        ingest.push(&guard, TagKind::Video, 0, tag, 0);
        let codec = ingest.refused.expect("VP9 is refused");
        assert!(codec.contains("VP9"), "{codec}");
        assert!(guard.channel.snapshot().video.is_none(), "nothing reached the pipeline");
    }

    #[test]
    fn enhanced_rtmp_hevc_becomes_an_hvc1_rendition() {
        use sluice_media::demux::flv::FlvFileReader;
        static HEVC: &[u8] = include_bytes!("../../../testdata/ffmpeg-x265-eRTMP-hand-built.flv");
        let hub = crate::hub_from_config(&Config::default());
        let guard = Arc::clone(&hub).begin_publish("live", "hevc").expect("publish allowed");
        let mut ingest = FlvIngest::new();
        for tag in FlvFileReader::new(Bytes::from_static(HEVC)).expect("valid flv") {
            let tag = tag.expect("valid tag");
            ingest.push(&guard, tag.kind, tag.timestamp_ms, tag.body, i64::from(tag.timestamp_ms));
        }
        assert!(ingest.refused.is_none(), "{:?}", ingest.refused);
        let snap = guard.channel.snapshot();
        let video = snap.video.as_ref().expect("video track");
        assert!(video.info.codec_string().starts_with("hvc1."), "{}", video.info.codec_string());
        assert!(snap.summary.starts_with("H.265 "), "{}", snap.summary);
    }

    #[test]
    fn malformed_tags_are_dropped_and_counted() {
        let hub = crate::hub_from_config(&Config::default());
        let guard = Arc::clone(&hub).begin_publish("live", "junk").expect("publish allowed");
        let mut ingest = FlvIngest::new();
        for body in [&[][..], &[0x17][..], &[0x17, 0x01, 0, 0, 0, 1, 2][..], &[0xaf, 0x01, 9][..]] {
            ingest.push(&guard, TagKind::Video, 0, Bytes::copy_from_slice(body), 0);
        }
        assert!(ingest.refused.is_none());
        let dropped = hub.counters.frames_dropped.load(std::sync::atomic::Ordering::Relaxed);
        assert!(dropped >= 3, "dropped {dropped}");
    }

    #[test]
    fn a_second_publisher_is_refused_until_the_first_leaves() {
        let hub = crate::hub_from_config(&Config::default());
        let first = Arc::clone(&hub).begin_publish("live", "cam").expect("first publisher");
        let err = Arc::clone(&hub).begin_publish("live", "cam").expect_err("second is refused");
        assert_eq!(err.to_string(), "channel live/cam already has a publisher");
        drop(first);
        Arc::clone(&hub).begin_publish("live", "cam").expect("free again after the first left");
        assert!(matches!(
            Arc::clone(&hub).begin_publish("other", "cam"),
            Err(crate::hub::PublishError::UnknownGroup(_))
        ));
    }
}
