//! Properties every rendered media playlist keeps, checked on the text a client would parse,
//! over a simulated live stream that grows part by part (segment cuts, short final parts,
//! discontinuities with new inits, the ring dropping old segments).

mod common;

use std::collections::HashMap;

use bytes::Bytes;
use common::attr;
use sluice_hls::{MediaPlaylistContext, render_media_playlist};
use sluice_media::ring::{Part, Position, TrackRing};

#[test]
fn server_control_bounds_hold_for_awkward_part_targets() {
    let r = common::ring(90_000, 0, &[common::Seg::new(0, &[45_000]).open()]);
    for td in [1u32, 2, 4, 6, 10] {
        for pt in [0.1, 0.2, 0.25, 1.0 / 3.0, 0.33334, 0.5, 0.99999, 1.0, 1.5, 2.0] {
            let ctx = MediaPlaylistContext {
                rendition: "video".into(),
                target_duration: td,
                part_target: pt,
                window: 4,
                rendition_reports: Vec::new(),
                ended: false,
            };
            let text = render_media_playlist(&r, &ctx, false);
            let num = |tag, name| -> f64 { attr(&text, tag, name).unwrap().parse().unwrap() };
            let part_target = num("#EXT-X-PART-INF", "PART-TARGET");
            let hold_back = num("#EXT-X-SERVER-CONTROL", "PART-HOLD-BACK");
            let skip_until = num("#EXT-X-SERVER-CONTROL", "CAN-SKIP-UNTIL");
            assert!((part_target - pt).abs() <= 0.000_005, "PART-TARGET {part_target} for {pt}");
            // HLS §4.4.3.8: PART-HOLD-BACK SHOULD be ≥ 3 × PART-TARGET (MUST ≥ 2 ×);
            // CAN-SKIP-UNTIL MUST be ≥ 6 × TARGETDURATION.
            assert!(hold_back + 1e-9 >= 3.0 * part_target, "{hold_back} < 3 × {part_target}");
            assert!(skip_until >= 6.0 * f64::from(td), "{skip_until} < 6 × {td}");
            assert_eq!(attr(&text, "#EXT-X-SERVER-CONTROL", "CAN-BLOCK-RELOAD"), Some("YES"));
        }
    }
}

/// A media playlist split the way a client reads it.
#[derive(Debug, PartialEq)]
struct Parsed {
    header: Vec<String>,
    media_sequence: u64,
    discontinuity_sequence: u64,
    skipped: u64,
    /// Per segment: its tags, parts and (if complete) EXTINF + URI.
    blocks: Vec<Vec<String>>,
    trailer: Vec<String>,
}

fn parse(text: &str) -> Parsed {
    let mut p = Parsed {
        header: Vec::new(),
        media_sequence: 0,
        discontinuity_sequence: 0,
        skipped: 0,
        blocks: Vec::new(),
        trailer: Vec::new(),
    };
    let mut lines = text.lines().peekable();
    for line in lines.by_ref() {
        p.header.push(line.to_owned());
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            p.media_sequence = v.parse().unwrap();
        }
        if let Some(v) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
            p.discontinuity_sequence = v.parse().unwrap();
            break;
        }
    }
    if let Some(v) = lines.peek().and_then(|l| l.strip_prefix("#EXT-X-SKIP:SKIPPED-SEGMENTS=")) {
        p.skipped = v.parse().unwrap();
        lines.next();
    }
    let mut block = Vec::new();
    for line in lines {
        let trailer = ["#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT", "#EXT-X-ENDLIST"]
            .iter()
            .any(|t| line.starts_with(t));
        if trailer || !p.trailer.is_empty() {
            p.trailer.push(line.to_owned());
            continue;
        }
        block.push(line.to_owned());
        if !line.starts_with('#') {
            p.blocks.push(std::mem::take(&mut block));
        }
    }
    if !block.is_empty() {
        p.blocks.push(block);
    }
    p
}

/// MSN named by a block's first part or segment URI.
fn block_msn(block: &[String]) -> u64 {
    let uri = block
        .iter()
        .find_map(|l| {
            l.split_once("URI=\"video/")
                .map(|(_, rest)| rest)
                .filter(|_| l.starts_with("#EXT-X-PART:"))
                .or_else(|| l.strip_prefix("video/"))
        })
        .expect("every block names its segment");
    uri.split(['.', '"']).next().unwrap().parse().unwrap()
}

/// With `SLUICE_HLS_DUMP=<dir>` set, writes the playlists of the simulation there, for external
/// validators (hls-parser, media-doctor).
fn dump(text: &str, kind: &str, at: Option<Position>) {
    if let (Ok(dir), Some(p)) = (std::env::var("SLUICE_HLS_DUMP"), at) {
        let path = std::path::Path::new(&dir).join(format!("{kind}-{}-{}.m3u8", p.msn, p.part));
        std::fs::write(path, text).expect("dump directory is writable");
    }
}

struct Live {
    ring: TrackRing,
    msn: u64,
    dts: i64,
    parts_in_segment: usize,
}

impl Live {
    fn new() -> Self {
        let mut ring = TrackRing::new(90_000, 20);
        ring.push_init(Bytes::from_static(b"init"));
        Live { ring, msn: 0, dts: 0, parts_in_segment: 0 }
    }

    /// Publishes the next part: four parts per segment, every fifth segment ends on a short
    /// part, every eleventh segment starts after a discontinuity with a new init.
    fn step(&mut self) {
        if self.parts_in_segment == 0 {
            let disc = self.msn > 0 && self.msn.is_multiple_of(11);
            if disc {
                self.ring.push_init(Bytes::from_static(b"init"));
            }
            let pdt = common::BASE_MS + self.dts / 90;
            self.ring.begin_segment(self.msn, self.dts, pdt, disc).unwrap();
        }
        let last = self.parts_in_segment == 3;
        let duration = if last && self.msn % 5 == 4 { 30_000 } else { 45_000 };
        self.ring
            .push_part(Part {
                start_dts: self.dts,
                duration,
                independent: self.parts_in_segment == 0,
                data: Bytes::from_static(b"p"),
            })
            .unwrap();
        self.dts += duration as i64;
        self.parts_in_segment += 1;
        if last {
            self.ring.complete_segment();
            self.parts_in_segment = 0;
            self.msn += 1;
        }
    }
}

fn ctx() -> MediaPlaylistContext {
    MediaPlaylistContext {
        rendition: "video".into(),
        target_duration: 2,
        part_target: 0.5,
        window: 9,
        rendition_reports: vec![("audio.m3u8".into(), Position { msn: 0, part: 0 })],
        ended: false,
    }
}

#[test]
fn live_reloads_only_append_and_trim_the_head() {
    let mut live = Live::new();
    let ctx = ctx();
    let mut prev: Option<Parsed> = None;
    let mut segment_uri_msn: HashMap<String, u64> = HashMap::new();
    let mut dsn_of: HashMap<u64, u64> = HashMap::new();
    let mut hinted: Option<String> = None;
    let mut parts_gone = std::collections::HashSet::new();

    for _ in 0..400 {
        live.step();
        let text = render_media_playlist(&live.ring, &ctx, false);
        dump(&text, "full", live.ring.last_position());
        dump(&render_media_playlist(&live.ring, &ctx, true), "delta", live.ring.last_position());
        let cur = parse(&text);

        // Header attributes never change (HLS §6.2.1, LLHLS-PI-02), except the sequence tags.
        let fixed = |p: &Parsed| -> Vec<String> {
            p.header.iter().filter(|l| !l.contains("-SEQUENCE:")).cloned().collect()
        };

        let mut dsn = cur.discontinuity_sequence;
        for (i, block) in cur.blocks.iter().enumerate() {
            let msn = block_msn(block);
            // MSNs are contiguous from EXT-X-MEDIA-SEQUENCE.
            assert_eq!(msn, cur.media_sequence + i as u64);
            if block.iter().any(|l| l == "#EXT-X-DISCONTINUITY") {
                dsn += 1;
            }
            // A segment keeps its discontinuity sequence number across reloads.
            assert_eq!(*dsn_of.entry(msn).or_insert(dsn), dsn, "DSN of {msn}");
            // Every segment has PDT, and an EXT-X-MAP applies to it.
            assert!(block.iter().any(|l| l.starts_with("#EXT-X-PROGRAM-DATE-TIME:")));
            // Parts, if listed, come after the parent's other tags and before EXTINF.
            let first_part = block.iter().position(|l| l.starts_with("#EXT-X-PART:"));
            if let Some(fp) = first_part {
                assert!(block[..fp].iter().all(|l| !l.starts_with("#EXTINF")));
                assert!(block[fp..].iter().all(|l| !l.starts_with("#EXT-X-MAP")
                    && !l.starts_with("#EXT-X-PROGRAM-DATE-TIME")
                    && !l.starts_with("#EXT-X-DISCONTINUITY")));
            }
            if let Some(uri) = block.last().filter(|l| !l.starts_with('#')) {
                // A URI keeps its MSN (HLS §6.2.2).
                assert_eq!(*segment_uri_msn.entry(uri.clone()).or_insert(msn), msn);
            }
        }
        assert!(cur.blocks[0].iter().any(|l| l.starts_with("#EXT-X-MAP:")));
        // Parts are only listed on a suffix of the segments.
        let with_parts: Vec<bool> =
            cur.blocks.iter().map(|b| b.iter().any(|l| l.starts_with("#EXT-X-PART:"))).collect();
        assert!(with_parts.windows(2).all(|w| !w[0] || w[1]), "{with_parts:?}");
        // Once a complete segment is listed without parts, its parts never come back.
        for (block, &has_parts) in cur.blocks.iter().zip(&with_parts) {
            let complete = !block.last().unwrap().starts_with('#');
            let msn = block_msn(block);
            if complete && !has_parts {
                parts_gone.insert(msn);
            }
            assert!(!(has_parts && parts_gone.contains(&msn)), "parts of {msn} came back");
        }

        // The hinted part is the part published next (LLHLS-PH-05).
        if let Some(h) = hinted.take() {
            assert!(
                text.contains(&format!("#EXT-X-PART:DURATION=0.50000,URI={h}"))
                    || text.contains(&format!("#EXT-X-PART:DURATION=0.33333,URI={h}")),
                "{h}"
            );
        }
        let hint =
            cur.trailer.iter().find_map(|l| l.strip_prefix("#EXT-X-PRELOAD-HINT:TYPE=PART,URI="));
        hinted = Some(hint.expect("live playlists always hint the next part").to_owned());

        if let Some(prev) = &prev {
            assert_eq!(fixed(prev), fixed(&cur));
            // MEDIA-SEQUENCE grows by exactly the number of segments dropped from the head.
            assert!(cur.media_sequence >= prev.media_sequence);
            let dropped = (cur.media_sequence - prev.media_sequence) as usize;
            assert!(cur.discontinuity_sequence >= prev.discontinuity_sequence);
            // Surviving complete segments keep their EXTINF + URI lines.
            for (old, new) in prev.blocks[dropped..].iter().zip(&cur.blocks) {
                let tail = |b: &[String]| b.iter().rev().take(2).cloned().collect::<Vec<_>>();
                if !old.last().unwrap().starts_with('#') {
                    assert_eq!(tail(old), tail(new));
                }
            }
        }
        prev = Some(cur);
    }
    assert!(live.msn > 90, "the simulation ran through many segments");
}

#[test]
fn delta_update_is_the_full_playlist_with_its_oldest_segments_replaced_by_skip() {
    let mut live = Live::new();
    let mut ctx = ctx();
    ctx.window = 14; // long enough to skip
    let mut saw_skip = 0;
    for _ in 0..400 {
        live.step();
        let full = parse(&render_media_playlist(&live.ring, &ctx, false));
        let delta = parse(&render_media_playlist(&live.ring, &ctx, true));
        if delta.skipped == 0 {
            assert_eq!(full, delta);
            continue;
        }
        saw_skip += 1;
        let n = delta.skipped as usize;
        // HLS §6.2.5.1: "All tags that were not skipped MUST remain in the Playlist Delta
        // Update"; MEDIA-SEQUENCE and DISCONTINUITY-SEQUENCE are unchanged.
        assert_eq!(delta.blocks, full.blocks[n..]);
        assert_eq!(delta.trailer, full.trailer);
        assert_eq!(delta.media_sequence, full.media_sequence);
        assert_eq!(delta.discontinuity_sequence, full.discontinuity_sequence);
        let versionless = |p: &Parsed| -> Vec<String> {
            p.header.iter().filter(|l| !l.starts_with("#EXT-X-VERSION")).cloned().collect()
        };
        assert_eq!(versionless(&delta), versionless(&full));
        assert!(delta.header.contains(&"#EXT-X-VERSION:9".to_owned()));
        assert!(full.header.contains(&"#EXT-X-VERSION:6".to_owned()));
        // Every skipped segment ends more than the Skip Boundary (12 s) before the end of the
        // playlist; the first kept one does not. Durations: sum the kept blocks' media.
        let kept_secs: f64 = full.blocks[n..]
            .iter()
            .map(|b| {
                b.iter()
                    .find_map(|l| l.strip_prefix("#EXTINF:"))
                    .map(|v| v.trim_end_matches(',').parse::<f64>().unwrap())
                    .unwrap_or_else(|| {
                        b.iter()
                            .filter_map(|l| l.strip_prefix("#EXT-X-PART:DURATION="))
                            .map(|v| v.split(',').next().unwrap().parse::<f64>().unwrap())
                            .sum()
                    })
            })
            .sum();
        let first_kept_secs: f64 = full.blocks[n]
            .iter()
            .find_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|v| v.trim_end_matches(',').parse().unwrap())
            .unwrap();
        assert!(kept_secs - first_kept_secs <= 12.0 + 1e-6);
        assert!(kept_secs > 12.0, "the last skipped segment ends beyond the boundary");
    }
    assert!(saw_skip > 100);
}

#[test]
fn extreme_settings_render_without_panicking() {
    let r = common::ring(u32::MAX, 0, &[common::Seg::new(u64::MAX - 1, &[u64::MAX / 4]).open()]);
    for (td, pt) in [(u32::MAX, f64::MAX), (0, 0.0), (1, f64::NAN), (u32::MAX, -1.0)] {
        let ctx = MediaPlaylistContext {
            rendition: "video".into(),
            target_duration: td,
            part_target: pt,
            window: usize::MAX,
            rendition_reports: vec![(
                "a\"b.m3u8".into(),
                Position { msn: u64::MAX, part: u32::MAX },
            )],
            ended: false,
        };
        for delta in [false, true] {
            let text = render_media_playlist(&r, &ctx, delta);
            assert!(text.starts_with("#EXTM3U\n"));
            assert!(text.contains("URI=\"ab.m3u8\""), "quotes are stripped from quoted-strings");
        }
    }
}
