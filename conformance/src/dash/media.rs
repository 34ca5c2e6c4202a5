//! Fetched DASH segments and the rules read from their boxes: LLDASH-ST-02 (earliest
//! presentation time in its `$Number$` slot), LLDASH-ATO-01 (ATO against the chunk count),
//! LLDASH-TSB-01 (maxSegmentDuration against the real duration), LLDASH-PRT-01 (inband
//! `prft`), LLDASH-SEG-01 (one `moof` per segment of a segment LL Adaptation Set).

use super::addressing::Seg;
use crate::mp4::{self, TrackInit};
use crate::mpd::Template;
use crate::rules::Outcome;

/// What one segment's boxes say.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// `moof` boxes (chunks).
    pub moofs: usize,
    /// First `tfdt` in seconds of the track timescale.
    pub ept: f64,
    /// Sum of sample durations in seconds.
    pub duration: f64,
    /// A top-level `prft` box is present.
    pub prft: bool,
}

/// Reads a segment against its init segment.
pub fn read(body: &[u8], init: &[TrackInit]) -> Result<Fragment, String> {
    let top = mp4::boxes(body).map_err(|e| e.to_string())?;
    let runs = mp4::parse_fragments(body, init).map_err(|e| e.to_string())?;
    let first = runs.first().ok_or("no traf")?;
    let ts = init.iter().find(|t| t.track_id == first.track_id).map_or(0, |t| t.timescale);
    if ts == 0 {
        return Err(format!("track {} not in the init segment", first.track_id));
    }
    let tfdt = first.base_decode_time.ok_or("first traf has no tfdt")?;
    let duration: u64 =
        runs.iter().filter(|r| r.track_id == first.track_id).map(|r| r.duration).sum();
    Ok(Fragment {
        moofs: top.iter().filter(|b| &b.kind == b"moof").count(),
        ept: tfdt as f64 / ts as f64,
        duration: duration as f64 / ts as f64,
        prft: top.iter().any(|b| &b.kind == b"prft"),
    })
}

/// LLDASH-ST-02: the fragment's earliest presentation time (tfdt − PTO) lies within ±50 % of
/// the segment's nominal slot. Timeline addressing is held to the same bound on S@t (ST-01).
pub fn st_02(name: &str, seg: &Seg, t: &Template, f: &Fragment) -> Outcome {
    let mut o = Outcome::new();
    let ts = t.timescale as f64;
    let ept = f.ept - t.pto as f64 / ts;
    let slot = (seg.time as f64 - t.pto as f64) / ts;
    let d = seg.duration as f64 / ts;
    if (ept - slot).abs() > 0.5 * d {
        o.must(format!(
            "{name} #{}: earliest presentation time {ept:.3} s, nominal slot {slot:.3} s (±{:.3} s)",
            seg.number,
            0.5 * d
        ));
    } else {
        o.evidence(format!(
            "{name} #{}: EPT {:+.0} ms from its slot",
            seg.number,
            (ept - slot) * 1000.0
        ));
    }
    o
}

/// LLDASH-ATO-01 from media: segment duration − ATO ≈ one chunk (segment / moof count). More
/// than that promises bytes before the first chunk exists (MUST); much less wastes latency.
pub fn ato_01(name: &str, seg: &Seg, t: &Template, ato: f64, f: &Fragment) -> Outcome {
    let mut o = Outcome::new();
    let d = seg.duration as f64 / t.timescale as f64;
    let chunk = d / f.moofs.max(1) as f64;
    let expect = d - chunk;
    if ato > expect + 0.5 * chunk {
        o.must(format!(
            "{name} #{}: ATO {ato} s > segment {d:.3} s − chunk {chunk:.3} s ({} moofs) by more than half a chunk",
            seg.number, f.moofs
        ));
    } else if ato < expect - chunk {
        o.should(format!(
            "{name} #{}: ATO {ato} s well below segment − chunk = {expect:.3} s ({} moofs)",
            seg.number, f.moofs
        ));
    } else {
        o.evidence(format!(
            "{name}: ATO {ato} s vs segment − chunk {expect:.3} s ({} moofs)",
            f.moofs
        ));
    }
    o
}

/// LLDASH-TSB-01 from media: no segment longer than @maxSegmentDuration (1 ms rounding slack).
pub fn tsb_01(name: &str, seg: &Seg, max: Option<f64>, f: &Fragment) -> Outcome {
    let Some(max) = max else { return Outcome::skip("no @maxSegmentDuration") };
    let mut o = Outcome::new();
    if f.duration > max + 1e-3 {
        o.must(format!(
            "{name} #{}: segment lasts {:.4} s > maxSegmentDuration {max} s",
            seg.number, f.duration
        ));
    } else {
        o.evidence(format!("{name}: segments <= maxSegmentDuration {max} s"));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp4::testing::{fragment, init};

    #[test]
    fn reads_chunks_and_judges_slot_and_ato() {
        let init_seg = init(1, true, 90000);
        let tracks = mp4::parse_init(&init_seg).unwrap();
        let mut body = fragment(1, 90000 + 1890, &[(3000, true), (3000, false)]);
        for k in 1..5 {
            body.extend(fragment(1, 90000 + 1890 + k * 6000, &[(3000, false), (3000, false)]));
        }
        let f = read(&body, &tracks).unwrap();
        assert_eq!(f.moofs, 5);
        let t =
            Template { timescale: 90000, duration: Some(30000), pto: 1890, ..Template::default() };
        let seg = Seg { number: 3, time: 1890 + 90000, duration: 30000, start: 1.0, end: 1.333 };
        assert!(st_02("v", &seg, &t, &f).is_clean());
        let late = Seg { time: 1890, ..seg };
        assert!(!st_02("v", &late, &t, &f).is_clean());
        // 1/3 s segment of 5 chunks: ATO should be ~0.267 s.
        assert!(ato_01("v", &seg, &t, 0.26, &f).is_clean());
        assert!(!ato_01("v", &seg, &t, 0.33, &f).is_clean());
        assert!(read(b"garbage", &tracks).is_err());
    }
}
