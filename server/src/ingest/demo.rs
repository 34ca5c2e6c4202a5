//! The built-in demo source: loops a short H.264/AAC clip compiled into the binary into
//! `live/demo` at real-time pace with continuous timestamps, so a new user sees a stream
//! playing without an encoder.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sluice_media::demux::flv::{FlvFileReader, TagKind};
use tokio::time::Instant;

use crate::hub::Hub;
use crate::ingest::flv::FlvIngest;
use crate::now_unix_ms;

/// ~4 s, 1280x720 30 fps, 1 s GOP, AAC 48 kHz (see testdata/README.md for how it was made).
static CLIP: &[u8] = include_bytes!("../../../testdata/demo-clip.flv");

struct Tag {
    kind: TagKind,
    timestamp_ms: u32,
    body: Bytes,
}

fn load_clip() -> Result<(Vec<Tag>, u32), String> {
    let reader = FlvFileReader::new(Bytes::from_static(CLIP)).map_err(|e| e.to_string())?;
    let mut tags = Vec::new();
    for tag in reader {
        let tag = tag.map_err(|e| e.to_string())?;
        if matches!(tag.kind, TagKind::Audio | TagKind::Video) {
            tags.push(Tag {
                kind: tag.kind,
                timestamp_ms: tag.timestamp_ms,
                body: tag.body,
            });
        }
    }
    // Loop length: last video frame plus one frame interval, so timestamps stay continuous.
    let video: Vec<u32> = tags
        .iter()
        .filter(|t| t.kind == TagKind::Video)
        .map(|t| t.timestamp_ms)
        .collect();
    let (first, last) = match (video.first(), video.last()) {
        (Some(f), Some(l)) if l > f => (*f, *l),
        _ => return Err("demo clip has no video".into()),
    };
    let frame = (last - first) / (video.len() as u32 - 1).max(1);
    Ok((tags, last - first + frame))
}

/// Runs forever on the current worker.
pub async fn run(hub: Arc<Hub>) {
    let (tags, loop_ms) = match load_clip() {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("demo source unavailable: {e}");
            return;
        }
    };
    let guard = match hub.begin_publish("live", "demo") {
        Ok(g) => g,
        Err(e) => {
            tracing::error!("demo source cannot publish to live/demo: {e}");
            return;
        }
    };
    tracing::info!(
        "demo source publishing to live/demo (a {:.1} s clip, looped)",
        loop_ms as f64 / 1000.0
    );
    let mut ingest = FlvIngest::new();
    let start = Instant::now();
    let mut offset_ms: u64 = 0;
    loop {
        for tag in &tags {
            // Sequence headers only once: repeating them would look like a codec change.
            let is_header = tag.body.get(1) == Some(&0);
            if offset_ms > 0 && is_header {
                continue;
            }
            let ts = offset_ms + tag.timestamp_ms as u64;
            tokio::time::sleep_until(start + Duration::from_millis(ts)).await;
            ingest.push(&guard, tag.kind, ts as u32, tag.body.clone(), now_unix_ms());
        }
        offset_ms += loop_ms as u64;
    }
}
