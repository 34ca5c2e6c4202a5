//! Arbitrary bytes as an AVCDecoderConfigurationRecord (and its SPS), then the init writer.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::h264::AvcConfig;
use sluice_media::{CodecConfig, MediaKind, TrackInfo};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = AvcConfig::parse(Bytes::copy_from_slice(data)) {
        let c = c.with_four_byte_lengths();
        let _ = c.codec_string();
        let t = TrackInfo {
            id: 1,
            kind: MediaKind::Video,
            timescale: 90_000,
            codec: CodecConfig::H264(c),
        };
        let _ = init_segment(&t);
    }
});
