//! Arbitrary bytes as an HEVCDecoderConfigurationRecord (and its SPS), then the init writer;
//! the same bytes split into VPS/SPS/PPS for `HevcConfig::from_parameter_sets`, and as a
//! length-prefixed sample for the IRAP scan.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::h265::{self, HevcConfig, Sps};
use sluice_media::{CodecConfig, MediaKind, TrackInfo};

fn check(c: HevcConfig) {
    let c = c.with_four_byte_lengths();
    let _ = c.codec_string();
    let _ = c.first_sps();
    let t =
        TrackInfo { id: 1, kind: MediaKind::Video, timescale: 90_000, codec: CodecConfig::H265(c) };
    let _ = init_segment(&t);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = HevcConfig::parse(Bytes::copy_from_slice(data)) {
        check(c);
    }
    let _ = Sps::parse(data);
    let _ = h265::scan_sample(data, 4);
    let _ = h265::to_four_byte_lengths(&Bytes::copy_from_slice(data), 2);
    // The first byte picks two cut points: VPS = rest[..a], SPS = rest[a..b], PPS = rest[b..].
    if let Some((&cut, rest)) = data.split_first() {
        let a = usize::from(cut & 0x0f).min(rest.len());
        let b = (a + usize::from(cut >> 4) * 8).min(rest.len());
        let one = |r: &[u8]| vec![Bytes::copy_from_slice(r)];
        let (vps, sps, pps) = (one(&rest[..a]), one(&rest[a..b]), one(&rest[b..]));
        if let Ok(c) = HevcConfig::from_parameter_sets(&vps, &sps, &pps) {
            check(c);
        }
    }
});
