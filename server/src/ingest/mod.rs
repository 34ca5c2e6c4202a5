//! Ingest: protocol front-ends that turn encoder connections into pipeline events.

pub mod demo;
pub mod flv;
pub mod rtmp;
pub mod srt;
pub mod srt_read;
pub mod ts;
