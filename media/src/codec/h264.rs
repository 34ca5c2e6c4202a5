//! H.264: AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3) and the SPS fields playlists
//! need (size, frame rate, profile/level → RFC 6381 `avc1.PPCCLL`).

use bytes::Bytes;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum H264Error {
    #[error("avcC record truncated")]
    Truncated,
    #[error("avcC configurationVersion {0} is not 1")]
    BadVersion(u8),
    #[error("avcC has no SPS")]
    NoSps,
    #[error("malformed SPS: {0}")]
    BadSps(&'static str),
}

/// A parsed AVCDecoderConfigurationRecord plus what its first SPS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// The record exactly as received; written verbatim into `avcC`.
    pub record: Bytes,
    pub profile_idc: u8,
    pub constraint_flags: u8,
    pub level_idc: u8,
    /// Bytes per NAL length prefix (1, 2 or 4).
    pub nal_length_size: u8,
    pub sps: Vec<Bytes>,
    pub pps: Vec<Bytes>,
    /// Cropped picture size in pixels.
    pub width: u32,
    pub height: u32,
    /// Frame rate from VUI timing info as (num, den), when signalled.
    pub frame_rate: Option<(u32, u32)>,
}

impl AvcConfig {
    pub fn parse(record: Bytes) -> Result<Self, H264Error> {
        let _ = record;
        Err(H264Error::Truncated)
    }

    /// RFC 6381 codec string, e.g. `avc1.64001f`.
    pub fn codec_string(&self) -> String {
        format!("avc1.{:02x}{:02x}{:02x}", self.profile_idc, self.constraint_flags, self.level_idc)
    }
}
