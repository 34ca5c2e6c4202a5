//! Deterministic fuzzing of the HEVC paths without a fuzzer: mutated hvcC records, SPSs and
//! parameter-set splits through `HevcConfig`, and mutated enhanced-RTMP `hvc1` tags (seeded from
//! the real capture) through the FLV demuxer, the init writer and the fragmenter. The assertion
//! is that nothing panics and what comes out is well-formed.

mod common;

use bytes::Bytes;
use common::rng::Rng;
use common::*;
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::h265::{self, HevcConfig, Sps};
use sluice_media::{CodecConfig, MediaKind};

const HEVC_ERTMP: &[u8] = include_bytes!("../../testdata/ffmpeg-x265-eRTMP-hand-built.flv");

/// Mutations for HEVC inputs: the headers sit in the first 64 bytes.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    rng.mutate(base, 64, 64)
}

fn real_config() -> HevcConfig {
    match demux(HEVC_ERTMP).video.expect("video track").codec {
        CodecConfig::H265(c) => c,
        other => panic!("not HEVC: {other:?}"),
    }
}

#[test]
fn mutated_hevc_configs_never_panic_the_parsers() {
    let mut rng = Rng(0x4e5c_0fee_d00d_0001);
    let real = real_config();
    let (vps, sps, pps) = (real.vps[0].to_vec(), real.sps[0].to_vec(), real.pps[0].to_vec());
    let mut parsed = 0;
    for _ in 0..4000 {
        let rec = mutate(&mut rng, &real.record);
        if let Ok(c) = HevcConfig::parse(Bytes::from(rec.clone())) {
            parsed += 1;
            assert!(c.width > 0 && c.height > 0);
            assert!(c.codec_string().starts_with("hvc1."));
            let c4 = c.with_four_byte_lengths();
            assert_eq!(c4.nal_length_size, 4);
            let track = sluice_media::TrackInfo {
                id: 1,
                kind: MediaKind::Video,
                timescale: 90_000,
                codec: CodecConfig::H265(c4),
            };
            assert!(init_segment(&track).len() > 100);
        }
        let s = mutate(&mut rng, &sps);
        let _ = Sps::parse(&s);
        let built = HevcConfig::from_parameter_sets(
            &[Bytes::from(mutate(&mut rng, &vps))],
            &[Bytes::from(s)],
            &[Bytes::from(mutate(&mut rng, &pps))],
        );
        if let Ok(c) = built {
            // A record built here always parses back to the same facts.
            assert_eq!(HevcConfig::parse(c.record.clone()).as_ref(), Ok(&c));
        }
        let _ = h265::scan_sample(&rec, [1, 2, 3, 4][rng.below(4)]);
        let _ = h265::to_four_byte_lengths(&Bytes::from(rec), [1, 2, 4][rng.below(3)]);
    }
    assert!(parsed > 100, "only {parsed} mutated records parsed");
}

#[test]
fn mutated_hvc1_tags_never_panic_the_demuxer_or_fragmenter() {
    let (frames, dropped) =
        mutated_enhanced_video_sessions(HEVC_ERTMP, 0x4e5c_0fee_d00d_0002, mutate, |_| {});
    assert!(frames > 1000 && dropped > 500, "frames {frames}, dropped {dropped}");
}
