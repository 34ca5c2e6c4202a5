//! Deterministic fuzzing without a fuzzer: thousands of random, truncated and mutated inputs
//! (seeded from the real captures) through every parser, the demuxer, the init writer and the
//! fragmenter. The assertion is that nothing panics and outputs stay well-formed.

mod common;

use bytes::Bytes;
use common::rng::Rng;
use common::*;
use sluice_media::cmaf::fragmenter::{FragmentOutput, Fragmenter, FragmenterConfig, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::aac::AudioSpecificConfig;
use sluice_media::codec::h264::{self, AvcConfig, Sps};
use sluice_media::demux::flv::{Event, FlvDemuxer, FlvFileReader, TagKind};
use sluice_media::{AccessUnit, MediaKind};

fn seed_tags() -> Vec<(TagKind, Bytes)> {
    [BASELINE, OBS_LIKE, DEMO_CLIP]
        .into_iter()
        .flat_map(|f| FlvFileReader::new(Bytes::from_static(f)).unwrap())
        .map(|t| t.unwrap())
        .filter(|t| matches!(t.kind, TagKind::Audio | TagKind::Video))
        .map(|t| (t.kind, t.body))
        .collect()
}

/// One of: random bytes behind a plausible header byte, a truncated real body, a real body with
/// a few bytes changed, or a real body with random bytes spliced in.
fn mutate(rng: &mut Rng, seeds: &[(TagKind, Bytes)]) -> (TagKind, Bytes) {
    let (kind, body) = &seeds[rng.below(seeds.len())];
    let body = body.to_vec();
    let out = match rng.below(4) {
        0 => {
            const HEADS: [u8; 10] = [0x17, 0x27, 0x57, 0xaf, 0x90, 0x91, 0x93, 0x97, 0x2f, 0x9f];
            let mut b = vec![HEADS[rng.below(HEADS.len())], rng.below(4) as u8];
            let n = rng.below(64);
            b.extend(rng.bytes(n));
            b
        }
        1 => body[..rng.below(body.len().min(200) + 1)].to_vec(),
        2 => {
            let mut b = body;
            for _ in 0..=rng.below(8) {
                if !b.is_empty() {
                    let i = rng.below(b.len().min(64));
                    b[i] = rng.next() as u8;
                }
            }
            b
        }
        _ => {
            let mut b = body;
            let at = rng.below(b.len().min(64) + 1);
            let n = rng.below(16);
            let extra = rng.bytes(n);
            b.splice(at..at, extra);
            b
        }
    };
    let kind = if rng.below(8) == 0 {
        if *kind == TagKind::Audio { TagKind::Video } else { TagKind::Audio }
    } else {
        *kind
    };
    (kind, Bytes::from(out))
}

/// Feeds demuxer output into fragmenters (created per announced track) and the init writer.
#[derive(Default)]
struct Sink {
    video: Option<Fragmenter>,
    audio: Option<Fragmenter>,
}

impl Sink {
    fn take(&mut self, d: &mut FlvDemuxer) {
        while let Some(ev) = d.poll_event() {
            match ev {
                Event::Track(t) => {
                    let init = init_segment(&t);
                    assert!(init.len() > 100);
                    let cfg = default_config(&t);
                    let (slot, policy) = match t.kind {
                        MediaKind::Video => (&mut self.video, SegmentPolicy::Keyframes),
                        MediaKind::Audio => (&mut self.audio, SegmentPolicy::Duration),
                    };
                    let mut f = Fragmenter::new(&t, cfg, policy);
                    f.set_segment_max(cfg.segment_target * 4);
                    *slot = Some(f);
                }
                Event::Frame(au) => {
                    let slot =
                        if au.track == 1 { self.video.as_mut() } else { self.audio.as_mut() };
                    let f = slot.expect("frames only after their track");
                    f.push(au);
                    while let Some(o) = f.poll_output() {
                        if let FragmentOutput::Part(p) = o {
                            assert!(!p.data.is_empty());
                        }
                    }
                }
                Event::Unsupported { codec, .. } => assert!(!codec.is_empty()),
                Event::Dropped { reason } => assert!(!reason.is_empty()),
            }
        }
    }
}

#[test]
fn mutated_tags_never_panic_the_demuxer_or_fragmenter() {
    let seeds = seed_tags();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut frames, mut dropped) = (0, 0);
    for _session in 0..60 {
        let mut d = FlvDemuxer::new();
        let mut sink = Sink::default();
        let mut ts: u32 = rng.next() as u32;
        // Announce real tracks first so frames reach the fragmenters.
        for (kind, body) in seeds.iter().filter(|(_, b)| b.get(1) == Some(&0)).take(2) {
            d.push_tag(*kind, ts, body.clone());
        }
        sink.take(&mut d);
        for _ in 0..100 {
            // Mostly real tags (so tracks get announced), some mutated.
            let (kind, body) = if rng.below(3) == 0 {
                let (k, b) = &seeds[rng.below(seeds.len())];
                (*k, b.clone())
            } else {
                mutate(&mut rng, &seeds)
            };
            ts = match rng.below(10) {
                0 => rng.next() as u32,
                _ => ts.wrapping_add(rng.below(40) as u32),
            };
            d.push_tag(kind, ts, body);
            sink.take(&mut d);
        }
        let stats = d.stats();
        frames += stats.frames;
        dropped += stats.dropped;
        for f in [sink.video.as_mut(), sink.audio.as_mut()].into_iter().flatten() {
            f.flush();
            while f.poll_output().is_some() {}
        }
    }
    // Both paths were exercised: frames reached the fragmenters and garbage was dropped.
    assert!(frames > 1000 && dropped > 1000, "frames {frames}, dropped {dropped}");
}

#[test]
fn mutated_configs_never_panic_the_parsers() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    let d = demux(OBS_LIKE);
    let avcc = d.video.unwrap().config_bytes().to_vec();
    let asc = d.audio.unwrap().config_bytes().to_vec();
    for i in 0..4000 {
        let base = if i % 2 == 0 { &avcc } else { &asc };
        let mut b = base[..rng.below(base.len() + 1)].to_vec();
        for _ in 0..rng.below(4) {
            if !b.is_empty() {
                let at = rng.below(b.len());
                b[at] ^= 1 << rng.below(8);
            }
        }
        if rng.below(5) == 0 {
            let n = rng.below(48);
            b = rng.bytes(n);
        }
        let bytes = Bytes::from(b.clone());
        if let Ok(c) = AvcConfig::parse(bytes.clone()) {
            assert!(c.width > 0 && c.height > 0);
            let _ = c.with_four_byte_lengths();
            let _ = c.first_sps();
        }
        if let Ok(c) = AudioSpecificConfig::parse(bytes) {
            assert!(c.sample_rate > 0);
            let _ = c.samples_per_frame();
        }
        let _ = Sps::parse(&b);
        let _ = h264::scan_sample(&b, (rng.below(5)) as u8);
        let _ = h264::to_four_byte_lengths(&Bytes::from(b), [1, 2, 4][rng.below(3)]);
    }
}

#[test]
fn truncated_and_mutated_files_never_panic_the_reader() {
    let mut rng = Rng(0xf1f0_0000_0000_0042);
    for i in 0..400 {
        let src = [BASELINE, OBS_LIKE][i % 2];
        let mut b = src[..rng.below(src.len().min(4096) + 1)].to_vec();
        for _ in 0..rng.below(6) {
            if !b.is_empty() {
                let at = rng.below(b.len());
                b[at] = rng.next() as u8;
            }
        }
        if let Ok(r) = FlvFileReader::new(Bytes::from(b)) {
            let mut d = FlvDemuxer::new();
            for tag in r.take(200) {
                match tag {
                    Ok(t) => d.push(t),
                    Err(_) => break,
                }
            }
            while d.poll_event().is_some() {}
        }
    }
}

#[test]
fn hostile_timestamps_and_targets_never_panic_the_fragmenter() {
    let mut rng = Rng(0x7777_1234_5678_9abc);
    let d = demux(BASELINE);
    let tracks = [d.video.unwrap(), d.audio.unwrap()];
    for i in 0..200 {
        let t = &tracks[i % 2];
        let targets = [0, 1, 1000, 18_000, u64::MAX];
        let cfg = FragmenterConfig {
            part_target: targets[rng.below(targets.len())],
            segment_target: targets[rng.below(targets.len())],
        };
        let policies = [SegmentPolicy::Keyframes, SegmentPolicy::Follow, SegmentPolicy::Duration];
        let mut f = Fragmenter::new(t, cfg, policies[rng.below(3)]);
        f.set_segment_max(targets[rng.below(targets.len())]);
        let mut dts: i64 = match rng.below(3) {
            0 => 0,
            1 => i64::MAX - 1000,
            _ => rng.next() as i64,
        };
        for _ in 0..50 {
            dts = match rng.below(6) {
                0 => rng.next() as i64,
                1 => dts.saturating_sub(rng.below(5000) as i64),
                _ => dts.saturating_add(rng.below(5000) as i64),
            };
            let pts = dts.saturating_add(rng.next() as i32 as i64);
            let n = rng.below(20);
            f.push(AccessUnit {
                track: t.id,
                dts,
                pts,
                keyframe: rng.below(4) == 0,
                data: Bytes::from(rng.bytes(n)),
            });
            if rng.below(10) == 0 {
                f.cut_segment_at(rng.next() as i64);
            }
            while f.poll_output().is_some() {}
        }
        f.flush();
        while f.poll_output().is_some() {}
    }
}
