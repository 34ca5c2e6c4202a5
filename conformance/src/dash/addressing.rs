//! Segment references of one Representation in one Period: numbers, media times and MPD-time
//! spans from `$Number$` + `@duration` or from a SegmentTimeline (IOP-TM "Addressing").

use crate::mpd::{Mpd, Template};

/// Most references produced for one call (a hostile timeline or r cannot run away).
const MAX_SEGMENTS: usize = 20_000;

/// One segment reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seg {
    /// `$Number$`.
    pub number: u64,
    /// `$Time$` (media time in the template timescale, PTO included).
    pub time: u64,
    /// Duration in timescale units.
    pub duration: u64,
    /// Start in MPD (presentation) time, seconds.
    pub start: f64,
    /// End in MPD time, seconds.
    pub end: f64,
}

/// Every reference of `t` in Period `period` whose end lies in `[from, to]` (MPD seconds).
pub fn segments(mpd: &Mpd, period: usize, t: &Template, from: f64, to: f64) -> Vec<Seg> {
    let Some(ps) = mpd.period_start(period) else { return Vec::new() };
    let pend = mpd.period_end(period).unwrap_or(f64::INFINITY);
    let ts = t.timescale as f64;
    let to = to.min(pend + 1e-9);
    let mut out = Vec::new();
    let at = |time: u64, d: u64, number: u64| {
        let start = ps + (time as f64 - t.pto as f64) / ts;
        Seg { number, time, duration: d, start, end: start + d as f64 / ts }
    };
    if let Some(tl) = &t.timeline {
        let mut next_t: u64 = 0;
        let mut number = t.start_number;
        for (i, s) in tl.iter().enumerate() {
            let mut time = s.t.unwrap_or(next_t);
            if s.d == 0 {
                return out;
            }
            let mut left: i64 = if s.r >= 0 { s.r + 1 } else { i64::MAX };
            let next_start = tl.get(i + 1).and_then(|n| n.t);
            while left > 0 {
                let seg = at(time, s.d, number);
                if s.r < 0 && (next_start.is_some_and(|n| time >= n) || seg.end > to) {
                    break;
                }
                if seg.end > to {
                    return out;
                }
                if seg.end >= from {
                    out.push(seg);
                    if out.len() >= MAX_SEGMENTS {
                        return out;
                    }
                }
                time = time.saturating_add(s.d);
                number += 1;
                left -= 1;
            }
            next_t = time;
        }
        return out;
    }
    let Some(d) = t.duration.filter(|d| *d > 0) else { return out };
    let dsec = d as f64 / ts;
    // Index k spans [ps + k·d, ps + (k+1)·d).
    let first = (((from - ps) / dsec) - 1.0).ceil().max(0.0);
    let last = ((to - ps) / dsec - 1.0 + 1e-9).floor();
    if !(first.is_finite() && last.is_finite()) || last < first {
        return out;
    }
    let mut k = first as u64;
    while k as f64 <= last && out.len() < MAX_SEGMENTS {
        out.push(at(t.pto + k * d, d, t.start_number + k));
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mpd(tpl: &str) -> Mpd {
        Mpd::parse(&format!(
            r#"<MPD type="dynamic"><Period id="p" start="PT10S"><AdaptationSet id="1">{tpl}
            <Representation id="v" bandwidth="1"/></AdaptationSet></Period></MPD>"#
        ))
        .unwrap()
    }

    fn tpl(m: &Mpd) -> Template {
        m.periods[0].sets[0].reps[0].template.clone().unwrap()
    }

    #[test]
    fn number_duration_addressing() {
        let m = mpd(
            r#"<SegmentTemplate timescale="1000" duration="2000" startNumber="5" presentationTimeOffset="500" media="$Number$"/>"#,
        );
        let s = segments(&m, 0, &tpl(&m), 13.0, 16.0);
        let got: Vec<(u64, f64, f64)> = s.iter().map(|s| (s.number, s.start, s.end)).collect();
        assert_eq!(got, vec![(6, 12.0, 14.0), (7, 14.0, 16.0)]);
        assert_eq!(s[0].time, 2500);
    }

    #[test]
    fn timeline_addressing_with_repeat_to_the_edge() {
        let m = mpd(
            r#"<SegmentTemplate timescale="10" startNumber="1" media="$Time$"><SegmentTimeline>
            <S t="0" d="10" r="1"/><S d="15"/><S t="40" d="10" r="-1"/></SegmentTimeline></SegmentTemplate>"#,
        );
        let s = segments(&m, 0, &tpl(&m), 0.0, 16.5);
        let got: Vec<(u64, u64)> = s.iter().map(|s| (s.number, s.time)).collect();
        assert_eq!(got, vec![(1, 0), (2, 10), (3, 20), (4, 40), (5, 50)]);
        assert_eq!(s[3].start, 14.0);
    }
}
