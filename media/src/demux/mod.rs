//! Container demuxers: turn ingest payloads into track descriptions and access units.

pub mod flv;
pub mod ts;
