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
    video_track_with(CodecConfig::H264(
        AvcConfig::parse(Bytes::from_static(AVCC)).expect("valid avcC"),
    ))
}

/// The 90 kHz video track with another codec configuration.
pub fn video_track_with(codec: CodecConfig) -> TrackInfo {
    TrackInfo { id: VIDEO_TRACK, kind: MediaKind::Video, timescale: 90_000, codec }
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

/// MSB-first bit writer for building parameter sets in tests, with the exp-Golomb codes of
/// H.264/H.265 §9.1 (the inverse of [`crate::codec::bits::BitReader`]).
#[derive(Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    nbits: usize,
}

impl BitWriter {
    /// The low `n` bits of `v`, most significant first.
    pub fn bits(&mut self, v: u32, n: u32) {
        for i in (0..n).rev() {
            if self.nbits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = ((v >> i) & 1) as u8;
            let last = self.bytes.last_mut().expect("a byte was pushed above");
            *last |= bit << (7 - (self.nbits % 8));
            self.nbits += 1;
        }
    }

    /// ue(v).
    pub fn ue(&mut self, v: u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        self.bits(0, len - 1);
        self.bits(x, len);
    }

    /// se(v): k > 0 codes as 2k − 1, k ≤ 0 as −2k.
    pub fn se(&mut self, v: i32) {
        let k = if v > 0 { 2 * v as u32 - 1 } else { 2 * (-v) as u32 };
        self.ue(k);
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}
