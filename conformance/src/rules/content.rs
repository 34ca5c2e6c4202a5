//! Rules judged on fetched media bytes (CMAF parts and segments), using `crate::mp4`.

use super::{Level, Outcome, ms};
use crate::mp4::{TrackInit, TrackRun, parse_fragments};

/// Per track: (track id, first decode time, end decode time, timescale).
fn spans(runs: &[TrackRun], init: &[TrackInit]) -> Vec<(u32, u64, u64, u32)> {
    let mut out: Vec<(u32, u64, u64, u32)> = Vec::new();
    for r in runs {
        let ts = init.iter().find(|t| t.track_id == r.track_id).map_or(0, |t| t.timescale);
        let start = r.base_decode_time.unwrap_or(0);
        match out.iter_mut().find(|s| s.0 == r.track_id) {
            Some(s) => s.2 = start + r.duration,
            None => out.push((r.track_id, start, start + r.duration, ts)),
        }
    }
    out
}

/// The sync sample of the first track that is video (or of the first track).
fn main_track_sync<'a>(runs: &'a [TrackRun], init: &[TrackInit]) -> Vec<&'a bool> {
    let video = init.iter().find(|t| t.handler == "vide").map(|t| t.track_id);
    let id = video.or_else(|| runs.first().map(|r| r.track_id));
    runs.iter().filter(|r| Some(r.track_id) == id).flat_map(|r| r.sync.iter()).collect()
}

/// LLHLS-PART-04: a parent segment's bytes against its parts' bytes and DURATIONs.
pub fn llhls_part_04(
    msn: u64,
    parent: &[u8],
    parts: &[(Vec<u8>, Option<f64>)],
    extinf: f64,
    init: &[TrackInit],
) -> Outcome {
    // "A Partial Segment MUST contain a subset of the media samples in its Parent Segment. A
    // Parent Segment and its entire set of Partial Segments MUST contain the same set of media
    // samples, with the same timing and metadata." (§3.2)
    let mut o = Outcome::new();
    let sum: f64 = parts.iter().filter_map(|(_, d)| *d).sum();
    let frame = 1.0 / 24.0;
    if (sum - extinf).abs() > frame {
        o.must(format!("msn {msn}: parts sum to {sum:.3} s but EXTINF is {extinf:.3} s"));
    }
    let joined: Vec<u8> = parts.iter().flat_map(|(b, _)| b.iter().copied()).collect();
    if joined == parent {
        o.evidence(format!("msn {msn}: {} parts byte-identical to the parent", parts.len()));
        return o;
    }
    // Not byte-identical: compare the samples (track, decode times, counts, durations).
    let (Ok(a), Ok(b)) = (parse_fragments(parent, init), parse_fragments(&joined, init)) else {
        o.must(format!("msn {msn}: parts differ from the parent and do not parse as fragments"));
        return o;
    };
    let summarize = |runs: &[TrackRun]| {
        let mut v: Vec<(u32, u64, u64, u32)> = spans(runs, init)
            .into_iter()
            .map(|(id, s, e, _)| {
                (
                    id,
                    s,
                    e,
                    runs.iter().filter(|r| r.track_id == id).map(|r| r.sample_count).sum::<u32>(),
                )
            })
            .collect();
        v.sort_unstable();
        v
    };
    if summarize(&a) != summarize(&b) {
        o.must(format!(
            "msn {msn}: samples differ: parent {:?} vs parts {:?} (track, start, end, count)",
            summarize(&a),
            summarize(&b)
        ));
    } else {
        o.evidence(format!("msn {msn}: same samples, different boxing"));
    }
    o
}

/// LLHLS-PART-05 for one fetched part.
pub fn llhls_part_05(uri: &str, independent: bool, data: &[u8], init: &[TrackInit]) -> Outcome {
    // "INDEPENDENT ... The value is an enumerated-string whose value is YES if the Partial Segment
    // contains an independent frame. This attribute is OPTIONAL; however every Partial Segment
    // containing an independent frame SHOULD carry it" (§4.4.4.9); mediastreamvalidator:
    // "Partial segments marked INDEPENDENT MUST contain a sync frame".
    let runs = match parse_fragments(data, init) {
        Ok(r) => r,
        Err(e) => {
            let mut o = Outcome::new();
            o.must(format!("{uri}: not a CMAF fragment ({e})"));
            return o;
        }
    };
    let sync = main_track_sync(&runs, init);
    let mut o = Outcome::new();
    let contains = sync.iter().any(|s| **s);
    let starts = sync.first().is_some_and(|s| **s);
    if independent && !contains {
        o.must(format!("{uri}: INDEPENDENT=YES but no sync sample"));
    } else if independent && !starts {
        o.problem(
            Level::Apple,
            format!("{uri}: INDEPENDENT=YES but the first sample is not a sync sample"),
        );
    }
    if !independent && contains {
        o.problem(Level::Apple, format!("{uri}: contains a sync sample but lacks INDEPENDENT=YES"));
    }
    o
}

/// LLHLS-PART-05, profile half: every parent segment holds at least one independent frame.
pub fn llhls_part_05_parent(msn: u64, data: &[u8], init: &[TrackInit]) -> Outcome {
    // "Each (non-Partial) Media Segment in a Media Playlist will contain at least one independent
    // frame." (App. B.1)
    let mut o = Outcome::new();
    match parse_fragments(data, init) {
        Ok(runs) if main_track_sync(&runs, init).iter().any(|s| **s) => {}
        Ok(_) => {
            o.problem(Level::Profile, format!("msn {msn}: segment without an independent frame"))
        }
        Err(e) => o.must(format!("msn {msn}: not a CMAF segment ({e})")),
    }
    o
}

/// True when the fragment's main track starts with a sync sample.
pub fn starts_with_sync(data: &[u8], init: &[TrackInit]) -> Option<bool> {
    let runs = parse_fragments(data, init).ok()?;
    main_track_sync(&runs, init).first().map(|s| **s)
}

/// HLS-MP-15: two consecutive media resources (segments or parts) of one rendition.
pub fn hls_mp_15(
    what: &str,
    prev: &[u8],
    next: &[u8],
    discontinuity: bool,
    init: &[TrackInit],
) -> Outcome {
    // "The EXT-X-DISCONTINUITY tag MUST be present if there is a change in any of the following
    // characteristics: ... timestamp sequence" (§4.4.4.3) "Any changes in encoding parameters
    // ... or timing information MUST be signalled by the use of EXT-X-DISCONTINUITY." (§6.2.1)
    if discontinuity {
        return Outcome::skip("EXT-X-DISCONTINUITY between them");
    }
    let (Ok(a), Ok(b)) = (parse_fragments(prev, init), parse_fragments(next, init)) else {
        let mut o = Outcome::new();
        o.must(format!("{what}: does not parse as CMAF fragments"));
        return o;
    };
    let mut o = Outcome::new();
    let (sa, sb) = (spans(&a, init), spans(&b, init));
    for (id, _, end, ts) in &sa {
        let Some((_, start, _, _)) = sb.iter().find(|s| s.0 == *id) else {
            o.must(format!("{what}: track {id} missing from the next fragment"));
            continue;
        };
        if start != end {
            let delta = *start as i64 - *end as i64;
            let secs = if *ts > 0 { delta as f64 / *ts as f64 } else { f64::NAN };
            let level =
                if secs.abs() >= 0.01 || !secs.is_finite() { Level::Must } else { Level::Should };
            o.problem(level, format!("{what}: track {id} decode time jumps by {delta} ticks ({}) without DISCONTINUITY", ms(secs)));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::parse_init;
    use crate::mp4::testing::{fragment, init};

    fn fails(o: &Outcome) -> bool {
        o.problems.iter().any(|p| p.level.fails(false))
    }

    fn vinit() -> Vec<TrackInit> {
        parse_init(&init(1, true, 90000)).unwrap()
    }

    #[test]
    fn part_04_accepts_concatenation_and_flags_mismatch() {
        let i = vinit();
        let p0 = fragment(1, 0, &[(3000, true), (3000, false)]);
        let p1 = fragment(1, 6000, &[(3000, false), (3000, false)]);
        let parent = [p0.clone(), p1.clone()].concat();
        let parts =
            vec![(p0.clone(), Some(6000.0 / 90000.0)), (p1.clone(), Some(6000.0 / 90000.0))];
        assert!(llhls_part_04(1, &parent, &parts, 12000.0 / 90000.0, &i).problems.is_empty());
        // Same samples in one moof: accepted as "different boxing".
        let one = fragment(1, 0, &[(3000, true), (3000, false), (3000, false), (3000, false)]);
        assert!(llhls_part_04(1, &one, &parts, 12000.0 / 90000.0, &i).problems.is_empty());
        // Parent missing the last samples.
        let short = fragment(1, 0, &[(3000, true), (3000, false), (3000, false)]);
        assert!(fails(&llhls_part_04(1, &short, &parts, 12000.0 / 90000.0, &i)));
        // DURATIONs not adding up to EXTINF.
        assert!(fails(&llhls_part_04(1, &parent, &parts, 0.5, &i)));
    }

    #[test]
    fn part_05_flags_wrong_independent_marking() {
        let i = vinit();
        let key = fragment(1, 0, &[(3000, true), (3000, false)]);
        let delta = fragment(1, 0, &[(3000, false), (3000, false)]);
        let late_key = fragment(1, 0, &[(3000, false), (3000, true)]);
        assert!(llhls_part_05("k", true, &key, &i).problems.is_empty());
        assert!(llhls_part_05("d", false, &delta, &i).problems.is_empty());
        assert!(fails(&llhls_part_05("d", true, &delta, &i)));
        assert!(llhls_part_05("k", false, &key, &i).has_level(Level::Apple));
        assert!(llhls_part_05("l", true, &late_key, &i).has_level(Level::Apple));
        assert!(fails(&llhls_part_05("junk", true, b"garbage!", &i)));
    }

    #[test]
    fn part_05_parent_requires_an_independent_frame() {
        let i = vinit();
        assert!(
            llhls_part_05_parent(1, &fragment(1, 0, &[(1, false), (1, true)]), &i)
                .problems
                .is_empty()
        );
        assert!(
            llhls_part_05_parent(1, &fragment(1, 0, &[(1, false)]), &i).has_level(Level::Profile)
        );
    }

    #[test]
    fn mp_15_flags_timestamp_jump() {
        let i = vinit();
        let a = fragment(1, 0, &[(3000, true), (3000, false)]);
        let b = fragment(1, 6000, &[(3000, true)]);
        let jump = fragment(1, 9000, &[(3000, true)]);
        assert!(hls_mp_15("1->2", &a, &b, false, &i).problems.is_empty());
        assert!(fails(&hls_mp_15("1->2", &a, &jump, false, &i)));
        assert!(hls_mp_15("1->2", &a, &jump, true, &i).skipped.is_some());
        assert_eq!(starts_with_sync(&a, &i), Some(true));
    }
}
