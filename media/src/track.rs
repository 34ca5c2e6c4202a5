//! Track descriptions: codec, parameter sets and the facts playlists need (codec string, size,
//! frame rate, sample rate).

use bytes::Bytes;

use crate::codec::{
    aac::AudioSpecificConfig, av1::Av1Config, h264::AvcConfig, h265::HevcConfig, opus::OpusConfig,
};

/// Fixed track ids: one video and one audio track per input.
pub const VIDEO_TRACK: u32 = 1;
pub const AUDIO_TRACK: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Video,
    Audio,
}

/// Codec plus its parameter sets, as needed to write a CMAF sample entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecConfig {
    H264(AvcConfig),
    /// HEVC; the record uses 4-byte NAL lengths, like the samples.
    H265(HevcConfig),
    /// AV1; samples are temporal units of OBUs with size fields.
    Av1(Av1Config),
    Aac(AudioSpecificConfig),
    /// Opus; samples are single Opus packets at a 48 kHz timescale.
    Opus(OpusConfig),
}

impl CodecConfig {
    /// Cropped picture size of a video codec.
    pub fn video_size(&self) -> Option<(u32, u32)> {
        match self {
            CodecConfig::H264(c) => Some((c.width, c.height)),
            CodecConfig::H265(c) => Some((c.width, c.height)),
            CodecConfig::Av1(c) => Some((c.width, c.height)),
            CodecConfig::Aac(_) | CodecConfig::Opus(_) => None,
        }
    }

    /// Whether samples may carry composition offsets. AV1-ISOBMFF: "In tracks using the
    /// AV1SampleEntry, the 'ctts' box and composition offsets in movie fragments SHALL NOT be
    /// used"; audio has none either.
    pub fn has_composition_offsets(&self) -> bool {
        matches!(self, CodecConfig::H264(_) | CodecConfig::H265(_))
    }

    /// Frame rate (num, den) of a video codec, when its parameter sets signal one.
    pub fn frame_rate(&self) -> Option<(u32, u32)> {
        match self {
            CodecConfig::H264(c) => c.frame_rate,
            CodecConfig::H265(c) => c.frame_rate,
            CodecConfig::Av1(c) => c.frame_rate,
            CodecConfig::Aac(_) | CodecConfig::Opus(_) => None,
        }
    }

    /// Output channel count of an audio codec, when the configuration states one (an AAC
    /// channelConfiguration of 0 leaves it to the stream).
    pub fn audio_channels(&self) -> Option<u8> {
        match self {
            CodecConfig::Aac(c) => Some(c.channels).filter(|&n| n > 0),
            CodecConfig::Opus(c) => Some(c.channels()),
            CodecConfig::H264(_) | CodecConfig::H265(_) | CodecConfig::Av1(_) => None,
        }
    }
}

/// Everything downstream needs to know about one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    pub id: u32,
    pub kind: MediaKind,
    /// Ticks per second of this track's timestamps (90 000 for video, the sample rate for audio).
    pub timescale: u32,
    pub codec: CodecConfig,
}

impl TrackInfo {
    /// RFC 6381 codec string for CODECS attributes (`avc1.64001f`, `hvc1.1.6.L93.B0`,
    /// `av01.0.04M.08`, `mp4a.40.2`, `opus`).
    pub fn codec_string(&self) -> String {
        match &self.codec {
            CodecConfig::H264(c) => c.codec_string(),
            CodecConfig::H265(c) => c.codec_string(),
            CodecConfig::Av1(c) => c.codec_string(),
            CodecConfig::Aac(c) => c.codec_string(),
            CodecConfig::Opus(c) => c.codec_string().to_owned(),
        }
    }

    /// Raw decoder configuration bytes (avcC / hvcC / av1C record / AudioSpecificConfig / dOps
    /// payload); equal
    /// bytes mean an unchanged init segment.
    pub fn config_bytes(&self) -> &Bytes {
        match &self.codec {
            CodecConfig::H264(c) => &c.record,
            CodecConfig::H265(c) => &c.record,
            CodecConfig::Av1(c) => &c.record,
            CodecConfig::Aac(c) => &c.raw,
            CodecConfig::Opus(c) => c.dops_bytes(),
        }
    }
}
