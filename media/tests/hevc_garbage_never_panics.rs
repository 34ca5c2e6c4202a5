//! Deterministic fuzzing of the HEVC paths without a fuzzer: mutated hvcC records, SPSs and
//! parameter-set splits through `HevcConfig`, and mutated enhanced-RTMP `hvc1` tags (seeded from
//! the real capture) through the FLV demuxer, the init writer and the fragmenter. The assertion
//! is that nothing panics and what comes out is well-formed.

mod common;

use bytes::Bytes;
use common::*;
use sluice_media::cmaf::fragmenter::{Fragmenter, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::h265::{self, HevcConfig, Sps};
use sluice_media::demux::flv::{Event, FlvDemuxer, FlvFileReader, TagKind};
use sluice_media::{CodecConfig, MediaKind};

const HEVC_ERTMP: &[u8] = include_bytes!("../../testdata/ffmpeg-x265-eRTMP-hand-built.flv");

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
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Truncates, flips bits in (anywhere, or in the first 64 bytes where the headers are),
    /// or replaces `base`.
    fn mutate(&mut self, base: &[u8]) -> Vec<u8> {
        let mut b = base.to_vec();
        match self.below(4) {
            0 => b.truncate(self.below(b.len() + 1)),
            1 | 2 => {
                let span = if self.below(2) == 0 { b.len() } else { b.len().min(64) };
                for _ in 0..=self.below(4) {
                    if span > 0 {
                        let at = self.below(span);
                        b[at] ^= 1 << self.below(8);
                    }
                }
            }
            _ => {
                let n = self.below(64);
                b = self.bytes(n);
            }
        }
        b
    }
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
        let rec = rng.mutate(&real.record);
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
        let s = rng.mutate(&sps);
        let _ = Sps::parse(&s);
        let built = HevcConfig::from_parameter_sets(
            &[Bytes::from(rng.mutate(&vps))],
            &[Bytes::from(s)],
            &[Bytes::from(rng.mutate(&pps))],
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
    let tags: Vec<(TagKind, Bytes)> = FlvFileReader::new(Bytes::from_static(HEVC_ERTMP))
        .expect("valid FLV")
        .map(|t| t.expect("complete tag"))
        .map(|t| (t.kind, t.body))
        .collect();
    let mut rng = Rng(0x4e5c_0fee_d00d_0002);
    let (mut frames, mut dropped) = (0, 0);
    for _session in 0..40 {
        let mut d = FlvDemuxer::new();
        let mut video: Option<Fragmenter> = None;
        let mut ts: u32 = rng.next() as u32;
        for i in 0..120 {
            let (kind, body) = &tags[if i == 0 { 0 } else { rng.below(tags.len()) }];
            let body = if i > 0 && rng.below(2) == 0 {
                let mut b = rng.mutate(body);
                // Keep the enhanced header often, so the HEVC paths see the garbage.
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
