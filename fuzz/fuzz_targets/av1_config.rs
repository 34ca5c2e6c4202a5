//! Arbitrary bytes as an AV1CodecConfigurationRecord (and its sequence header), then the init
//! writer; the same bytes as an in-band sequence header OBU for `Av1Config::from_sequence_header`,
//! and as a temporal unit for the random-access scan and OBU stripping.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::av1::{self, Av1Config};
use sluice_media::{CodecConfig, MediaKind, TrackInfo};

fn check(c: Av1Config) {
    let _ = c.codec_string();
    let t =
        TrackInfo { id: 1, kind: MediaKind::Video, timescale: 90_000, codec: CodecConfig::Av1(c) };
    let _ = init_segment(&t);
}

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(c) = Av1Config::parse(bytes.clone()) {
        check(c);
    }
    if let Ok(c) = Av1Config::from_sequence_header(data) {
        assert_eq!(Av1Config::parse(c.record.clone()).as_ref(), Ok(&c));
        check(c);
    }
    if av1::scan_temporal_unit(data, false).is_ok() {
        assert!(av1::strip_droppable_obus(&bytes).is_ok());
    }
});
