//! The one type that crosses from ingest to the pipeline: one coded frame of one track.

use bytes::Bytes;

/// One coded frame (video picture or audio frame) of one track.
///
/// Timestamps are in the track's timescale ([`crate::TrackInfo::timescale`]). For H.264/H.265
/// `data` is in length-prefixed (AVCC/HVCC, 4-byte lengths) form, exactly what an MP4 sample
/// holds; for AAC it is one raw access unit without ADTS header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    /// Track id as announced in the matching [`crate::TrackInfo`].
    pub track: u32,
    /// Decode timestamp, ticks.
    pub dts: i64,
    /// Presentation timestamp, ticks (≥ dts for well-formed input; B-frames make it differ).
    pub pts: i64,
    /// True when the frame can be decoded without earlier frames (IDR / every audio frame).
    pub keyframe: bool,
    pub data: Bytes,
}

impl AccessUnit {
    /// Composition offset (pts − dts), what CMAF stores in `trun`.
    pub fn composition_offset(&self) -> i64 {
        self.pts - self.dts
    }
}
