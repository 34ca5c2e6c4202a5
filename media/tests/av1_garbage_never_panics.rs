//! Deterministic fuzzing of the AV1 paths without a fuzzer: mutated av1C records, sequence
//! headers and temporal units through `codec::av1`, and mutated enhanced-RTMP `av01` tags (seeded
//! from the real capture) through the FLV demuxer, the init writer and the fragmenter. The
//! assertion is that nothing panics and what comes out is well-formed.

mod common;

use bytes::Bytes;
use common::rng::Rng;
use common::*;
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::av1::{self, Av1Config, SequenceHeader, obu_type};
use sluice_media::{CodecConfig, MediaKind, TrackInfo};

const AV1_ERTMP: &[u8] = include_bytes!("../../testdata/ffmpeg-svtav1-eRTMP-hand-built.flv");

/// Mutations for AV1 inputs: the headers sit in the first 32 bytes.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    rng.mutate(base, 32, 48)
}

#[test]
fn mutated_av1_configs_and_temporal_units_never_panic() {
    let d = demux(AV1_ERTMP);
    let CodecConfig::Av1(real) = d.video.expect("video track").codec else { panic!("not AV1") };
    let units: Vec<Bytes> = d.video_frames.iter().map(|f| f.data.clone()).collect();
    let mut rng = Rng(0xa51_0fee_d00d_0001);
    let (mut parsed, mut rebuilt) = (0, 0);
    for i in 0..4000 {
        let rec = mutate(&mut rng, &real.record);
        if let Ok(c) = Av1Config::parse(Bytes::from(rec.clone())) {
            parsed += 1;
            assert!(c.width > 0 && c.height > 0);
            assert!(c.codec_string().starts_with("av01."));
            let track = TrackInfo {
                id: 1,
                kind: MediaKind::Video,
                timescale: 90_000,
                codec: CodecConfig::Av1(c),
            };
            assert!(init_segment(&track).len() > 100);
        }
        let obu = mutate(&mut rng, &real.sequence_header);
        let _ = SequenceHeader::parse(&obu);
        if let Ok(c) = Av1Config::from_sequence_header(&obu) {
            rebuilt += 1;
            // A record built here always parses back to the same facts.
            assert_eq!(Av1Config::parse(c.record.clone()).as_ref(), Ok(&c));
        }
        let tu = Bytes::from(mutate(&mut rng, &units[i % units.len()]));
        if let Ok(info) = av1::scan_temporal_unit(&tu, rng.below(2) == 0) {
            let stripped = av1::strip_droppable_obus(&tu).expect("scanned units strip");
            let kept: Vec<_> = av1::obus(&stripped).collect();
            assert!(kept.iter().all(Result::is_ok), "kept OBUs stay valid");
            let kept = kept.len();
            assert_eq!(kept + info.droppable_obus, info.obus);
            assert!(
                av1::obus(&stripped).flatten().all(|o| !matches!(
                    o.obu_type,
                    obu_type::TEMPORAL_DELIMITER | obu_type::PADDING
                ))
            );
        }
    }
    assert!(parsed > 100, "only {parsed} mutated records parsed");
    assert!(rebuilt > 100, "only {rebuilt} mutated sequence headers rebuilt a record");
}

#[test]
fn mutated_av01_tags_never_panic_the_demuxer_or_fragmenter() {
    let (frames, dropped) =
        mutated_enhanced_video_sessions(AV1_ERTMP, 0xa51_0fee_d00d_0002, mutate, |au| {
            assert_eq!(au.pts, au.dts);
        });
    assert!(frames > 1000 && dropped > 500, "frames {frames}, dropped {dropped}");
}
