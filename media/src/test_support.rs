//! Fixtures shared by the unit tests of this crate: real parameter sets from the captures in
//! `testdata/` and the tracks built from them.

use bytes::Bytes;

use crate::codec::aac::AudioSpecificConfig;
use crate::codec::h264::AvcConfig;
use crate::track::{AUDIO_TRACK, CodecConfig, MediaKind, TrackInfo, VIDEO_TRACK};

/// avcC of testdata/ffmpeg-x264-aac-baseline.flv (Constrained Baseline 3.0, 640x360).
pub const AVCC: &[u8] = &[
    0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00, 0x19, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf,
    0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x58, 0xba,
    0x80, 0x01, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80,
];

/// AudioSpecificConfig of AAC-LC, 48 kHz, stereo.
pub const ASC_48K_STEREO: &[u8] = &[0x11, 0x90];

pub fn video_track() -> TrackInfo {
    TrackInfo {
        id: VIDEO_TRACK,
        kind: MediaKind::Video,
        timescale: 90_000,
        codec: CodecConfig::H264(AvcConfig::parse(Bytes::from_static(AVCC)).expect("valid avcC")),
    }
}

pub fn audio_track() -> TrackInfo {
    TrackInfo {
        id: AUDIO_TRACK,
        kind: MediaKind::Audio,
        timescale: 48_000,
        codec: CodecConfig::Aac(
            AudioSpecificConfig::parse(Bytes::from_static(ASC_48K_STEREO)).expect("valid ASC"),
        ),
    }
}
