//! The Sluice server: the only crate with sockets, tokio, hyper and TLS.
//!
//! Data flow (DESIGN.md): `ingest` (RTMP, demo source) → `pipeline` (timeline, CMAF
//! fragmenters) → `hub` (per-channel snapshots + wake-ups) → `egress` (LL-HLS over HTTP).

pub mod api;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod egress;
pub mod fanout;
pub mod h3;
pub mod hub;
pub mod ingest;
pub mod metrics;
pub mod pipeline;
pub mod publish;
pub mod runtime;
pub mod server;
pub mod tls;
pub mod transcode;
pub mod webrtc;

use std::sync::Arc;

use bytes::Bytes;

use crate::config::Config;
use crate::hub::Hub;
use crate::pipeline::PipelineConfig;

/// Wall-clock now as Unix milliseconds: the only place the server reads the date.
pub fn now_unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Builds the hub from the configuration.
pub fn hub_from_config(config: &Config) -> Arc<Hub> {
    let playlist_segments = config.media.playlist_segments;
    let pipeline = PipelineConfig {
        part_target_ms: config.media.part_target_ms,
        segment_target_ms: config.media.segment_target_ms,
        // The playlist window, then as long again so removed segments stay downloadable
        // (HLS §6.2.2: segment duration + the longest playlist duration).
        ring_segments: playlist_segments * 2 + 2,
    };
    Arc::new(Hub::new(
        pipeline,
        playlist_segments,
        config.limits.max_channels,
        config.limits.max_held_requests,
    ))
}

/// Finds the npm-installed hls.js: `--web DIR`, else `./web`, else next to the source tree.
pub fn load_hls_js(config: &Config) -> Option<Bytes> {
    let rel = "node_modules/hls.js/dist/hls.min.js";
    let mut candidates = Vec::new();
    if let Some(w) = &config.web {
        candidates.push(w.join(rel));
    }
    candidates.push(std::path::PathBuf::from("web").join(rel));
    candidates.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web").join(rel));
    candidates.into_iter().find_map(|p| std::fs::read(p).ok()).map(Bytes::from)
}
