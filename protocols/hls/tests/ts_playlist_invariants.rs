//! Properties every HLS-TS media playlist keeps, checked on the text a client parses, over a
//! simulated live stream: uneven segment durations, discontinuities, a store that drops old
//! segments, and many reloads.

use sluice_hls::TsResource;
use sluice_hls::{
    TsPlaylistContext, TsPlaylistSegment, parse_ts_resource, render_ts_media_playlist,
    ts_playlist_target_duration, ts_target_duration,
};

/// What a client reads out of one playlist.
#[derive(Debug)]
struct Parsed {
    version: u32,
    target: u64,
    media_sequence: u64,
    discontinuity_sequence: u64,
    /// (msn from the URI, EXTINF text, discontinuity before it, has a date)
    segments: Vec<(u64, String, bool, bool)>,
    ended: bool,
}

fn parse(text: &str) -> Parsed {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#EXTM3U"));
    let mut p = Parsed {
        version: 0,
        target: 0,
        media_sequence: u64::MAX,
        discontinuity_sequence: u64::MAX,
        segments: Vec::new(),
        ended: false,
    };
    let (mut disc, mut date, mut extinf) = (false, false, None::<String>);
    for line in lines {
        if let Some(v) = line.strip_prefix("#EXT-X-VERSION:") {
            p.version = v.parse().unwrap();
        } else if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            p.target = v.parse().unwrap();
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            assert!(p.segments.is_empty(), "MEDIA-SEQUENCE before the first segment");
            p.media_sequence = v.parse().unwrap();
        } else if let Some(v) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
            assert!(p.segments.is_empty() && !disc, "DISCONTINUITY-SEQUENCE first");
            p.discontinuity_sequence = v.parse().unwrap();
        } else if line == "#EXT-X-DISCONTINUITY" {
            disc = true;
        } else if line.starts_with("#EXT-X-PROGRAM-DATE-TIME:") {
            date = true;
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            extinf = Some(v.strip_suffix(',').expect("EXTINF ends with a comma").to_owned());
        } else if line == "#EXT-X-ENDLIST" {
            p.ended = true;
        } else if line.starts_with('#') {
            panic!("unexpected tag in a version 3 playlist: {line}");
        } else {
            let Ok(TsResource::Segment { msn }) = parse_ts_resource(line) else {
                panic!("segment URI {line}");
            };
            p.segments.push((msn, extinf.take().expect("EXTINF before URI"), disc, date));
            (disc, date) = (false, false);
        }
    }
    p
}

/// Deterministic pseudo-random durations around 2 s (1.6–2.6 s).
fn durations(n: usize) -> Vec<u64> {
    let mut x = 0x2545_f491_u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            144_000 + x % 90_000
        })
        .collect()
}

#[test]
fn a_live_stream_keeps_every_rule_across_reloads() {
    let timescale = 90_000;
    // The caller fixes the target from the longest segment it can cut (2.6 s here).
    let target = ts_target_duration(144_000 + 89_999, timescale);
    assert_eq!(target, 3);
    let mut store: Vec<TsPlaylistSegment> = Vec::new();
    let mut dropped_disc = 0u64;
    let mut msn_to_extinf = std::collections::HashMap::new();
    let mut last: Option<Parsed> = None;
    let mut t_ms = 1_700_000_000_000i64;
    for (i, d) in durations(200).into_iter().enumerate() {
        store.push(TsPlaylistSegment {
            msn: 100 + i as u64,
            duration: d,
            program_date_time_ms: t_ms,
            discontinuity: i % 37 == 5,
        });
        t_ms += (d / 90) as i64;
        // The store keeps 8 segments; the dropped ones' discontinuities are carried over.
        while store.len() > 8 {
            if store.remove(0).discontinuity {
                dropped_disc += 1;
            }
        }
        let ctx = TsPlaylistContext {
            timescale,
            target_duration: target,
            window: 5,
            discontinuities_before: dropped_disc,
            ended: i == 199,
        };
        let p = parse(&render_ts_media_playlist(&store, &ctx));
        assert_eq!(p.version, 3);
        // HLS-MP-03: TARGETDURATION never changes between reloads.
        assert_eq!(p.target, u64::from(target));
        assert!(p.segments.len() <= 5 && !p.segments.is_empty());
        assert_eq!(p.media_sequence, p.segments[0].0);
        for (k, (msn, extinf, _, date)) in p.segments.iter().enumerate() {
            assert_eq!(*msn, p.media_sequence + k as u64, "consecutive MSNs");
            assert!(date, "PROGRAM-DATE-TIME on every segment");
            // TS-08: EXTINF, unrounded, ≤ TARGETDURATION (so also when rounded).
            let secs: f64 = extinf.parse().unwrap();
            assert!(secs <= p.target as f64, "EXTINF {extinf} > {}", p.target);
            assert_eq!(extinf.split('.').nth(1).map(str::len), Some(5));
            // A segment's EXTINF never changes between reloads.
            assert_eq!(msn_to_extinf.entry(*msn).or_insert_with(|| extinf.clone()), extinf);
        }
        // Discontinuity sequence: all discontinuities before the first listed segment.
        let before = (0..(p.media_sequence - 100) as usize).filter(|&j| j % 37 == 5).count() as u64;
        assert_eq!(p.discontinuity_sequence, before);
        for (msn, _, disc, _) in &p.segments {
            assert_eq!(*disc, (msn - 100) % 37 == 5);
        }
        if let Some(prev) = &last {
            assert!(p.media_sequence >= prev.media_sequence);
            assert!(p.discontinuity_sequence >= prev.discontinuity_sequence);
            // MEDIA-SEQUENCE grows by exactly the segments that left the head.
            let gone = prev.segments.iter().filter(|s| s.0 < p.media_sequence).count() as u64;
            assert_eq!(p.media_sequence - prev.media_sequence, gone);
        }
        assert_eq!(p.ended, i == 199);
        last = Some(p);
    }
}

#[test]
fn target_duration_covers_a_long_segment_by_the_ceiling() {
    let segs = [TsPlaylistSegment {
        msn: 0,
        duration: 270_001,
        program_date_time_ms: 0,
        discontinuity: false,
    }];
    let ctx = TsPlaylistContext {
        timescale: 90_000,
        target_duration: 2,
        window: 3,
        discontinuities_before: 0,
        ended: false,
    };
    let p = parse(&render_ts_media_playlist(&segs, &ctx));
    assert_eq!(p.target, 4);
    assert_eq!(ts_playlist_target_duration(&segs, &ctx), 4);
    assert_eq!(p.segments[0].1, "3.00001");
}
