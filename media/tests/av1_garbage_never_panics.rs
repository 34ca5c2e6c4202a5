//! Deterministic fuzzing of the AV1 paths without a fuzzer: mutated av1C records, sequence
//! headers and temporal units through `codec::av1`, and mutated enhanced-RTMP `av01` tags (seeded
//! from the real capture) through the FLV demuxer, the init writer and the fragmenter. The
//! assertion is that nothing panics and what comes out is well-formed.

mod common;

use bytes::Bytes;
use common::*;
use sluice_media::cmaf::fragmenter::{Fragmenter, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::av1::{self, Av1Config, SequenceHeader, obu_type};
use sluice_media::demux::flv::{Event, FlvDemuxer, FlvFileReader, TagKind};
use sluice_media::{CodecConfig, MediaKind, TrackInfo};

const AV1_ERTMP: &[u8] = include_bytes!("../../testdata/ffmpeg-svtav1-eRTMP-hand-built.flv");

/// xorshift64*: deterministic, no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Truncates, flips bits in (anywhere, or in the first 32 bytes where the headers are),
    /// or replaces `base`.
    fn mutate(&mut self, base: &[u8]) -> Vec<u8> {
        let mut b = base.to_vec();
        match self.below(4) {
            0 => b.truncate(self.below(b.len() + 1)),
            1 | 2 => {
                let span = if self.below(2) == 0 { b.len() } else { b.len().min(32) };
                for _ in 0..=self.below(4) {
                    if span > 0 {
                        let at = self.below(span);
                        b[at] ^= 1 << self.below(8);
                    }
                }
            }
            _ => b = (0..self.below(48)).map(|_| self.next() as u8).collect(),
        }
        b
    }
}

#[test]
fn mutated_av1_configs_and_temporal_units_never_panic() {
    let d = demux(AV1_ERTMP);
    let CodecConfig::Av1(real) = d.video.expect("video track").codec else { panic!("not AV1") };
    let units: Vec<Bytes> = d.video_frames.iter().map(|f| f.data.clone()).collect();
    let mut rng = Rng(0xa51_0fee_d00d_0001);
    let (mut parsed, mut rebuilt) = (0, 0);
    for i in 0..4000 {
        let rec = rng.mutate(&real.record);
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
        let obu = rng.mutate(&real.sequence_header);
        let _ = SequenceHeader::parse(&obu);
        if let Ok(c) = Av1Config::from_sequence_header(&obu) {
            rebuilt += 1;
            // A record built here always parses back to the same facts.
            assert_eq!(Av1Config::parse(c.record.clone()).as_ref(), Ok(&c));
        }
        let tu = Bytes::from(rng.mutate(&units[i % units.len()]));
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
    let tags: Vec<(TagKind, Bytes)> = FlvFileReader::new(Bytes::from_static(AV1_ERTMP))
        .expect("valid FLV")
        .map(|t| t.expect("complete tag"))
        .map(|t| (t.kind, t.body))
        .collect();
    let mut rng = Rng(0xa51_0fee_d00d_0002);
    let (mut frames, mut dropped) = (0, 0);
    for _session in 0..40 {
        let mut d = FlvDemuxer::new();
        let mut video: Option<Fragmenter> = None;
        let mut ts: u32 = rng.next() as u32;
        for i in 0..120 {
            let (kind, body) = &tags[if i == 0 { 0 } else { rng.below(tags.len()) }];
            let body = if i > 0 && rng.below(2) == 0 {
                let mut b = rng.mutate(body);
                // Keep the enhanced header often, so the AV1 paths see the garbage.
                if rng.below(2) == 0 && b.len() >= 5 {
                    b[..5].copy_from_slice(&body[..5]);
                }
                Bytes::from(b)
            } else {
                body.clone()
            };
            ts = ts.wrapping_add(rng.below(40) as u32);
            d.push_tag(*kind, ts, body);
            while let Some(ev) = d.poll_event() {
                match ev {
                    Event::Track(t) if t.kind == MediaKind::Video => {
                        assert!(init_segment(&t).len() > 100);
                        video =
                            Some(Fragmenter::new(&t, default_config(&t), SegmentPolicy::Keyframes));
                    }
                    Event::Frame(au) if au.track == 1 => {
                        assert_eq!(au.pts, au.dts);
                        let f = video.as_mut().expect("frames only after their track");
                        f.push(au);
                        while f.poll_output().is_some() {}
                    }
                    Event::Dropped { reason } => assert!(!reason.is_empty()),
                    _ => {}
                }
            }
        }
        frames += d.stats().frames;
        dropped += d.stats().dropped;
    }
    assert!(frames > 1000 && dropped > 500, "frames {frames}, dropped {dropped}");
}
