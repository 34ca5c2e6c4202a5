//! Arbitrary bytes as an AAC AudioSpecificConfig, then the init writer.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::aac::AudioSpecificConfig;
use sluice_media::{CodecConfig, MediaKind, TrackInfo};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = AudioSpecificConfig::parse(Bytes::copy_from_slice(data)) {
        let _ = c.samples_per_frame();
        let t = TrackInfo {
            id: 2,
            kind: MediaKind::Audio,
            timescale: c.sample_rate,
            codec: CodecConfig::Aac(c),
        };
        let _ = init_segment(&t);
    }
});
