//! Rules judged on measured times: segment and part cadence, blocking release, transfers.

use super::{Outcome, ms, percentile};

/// Slack for our own observation (thread wake-up, loopback, a loaded 2-core machine).
const OBSERVATION_SLACK: f64 = 0.1;

/// HLS-MP-08; `appearances` are (msn, seconds since start) when each segment was first seen
/// complete, in order of msn.
pub fn hls_mp_08(appearances: &[(u64, f64)], td: u64) -> Outcome {
    // "If a Media Playlist does not contain the EXT-X-ENDLIST tag, the server MUST make a new
    // version of the Playlist file available that contains at least one new Media Segment. It
    // MUST be made available no later than 1.5 times the Target Duration after the previous
    // time the Playlist was updated with a Media Segment." (§6.2.1)
    if appearances.len() < 2 {
        return Outcome::skip("fewer than two new segments observed");
    }
    let limit = 1.5 * td as f64;
    let mut o = Outcome::new();
    let mut gaps = Vec::new();
    for w in appearances.windows(2) {
        let gap = w[1].1 - w[0].1;
        gaps.push(gap);
        if gap > limit + OBSERVATION_SLACK {
            o.must(format!(
                "msn {} appeared {} after msn {} (> 1.5 x TD = {})",
                w[1].0,
                ms(gap),
                w[0].0,
                ms(limit)
            ));
        }
    }
    let max = gaps.iter().copied().fold(0.0, f64::max);
    o.evidence(format!("{} segment additions, max gap {}", gaps.len(), ms(max)));
    o
}

/// LLHLS-PART-07; `inter_arrivals` are the times between consecutive new parts.
pub fn llhls_part_07(inter_arrivals: &[f64], part_target: f64) -> Outcome {
    // "If a Media Playlist without an EXT-X-ENDLIST tag contains Partial Segments, the Server
    // MUST add a new Partial Segment to the Playlist within one Part Target Duration after it
    // added the previous Partial Segment." (§6.2.1)
    if inter_arrivals.is_empty() {
        return Outcome::skip("no consecutive parts observed");
    }
    // Jitter allowance: the source itself is paced by a real-time encoder.
    let limit = part_target * 1.5 + OBSERVATION_SLACK / 2.0;
    let mut o = Outcome::new();
    let late: Vec<f64> = inter_arrivals.iter().copied().filter(|d| *d > limit).collect();
    let (p50, p99) = (
        percentile(inter_arrivals, 50.0).unwrap_or(0.0),
        percentile(inter_arrivals, 99.0).unwrap_or(0.0),
    );
    let max = inter_arrivals.iter().copied().fold(0.0, f64::max);
    if !late.is_empty() {
        o.must(format!(
            "{}/{} parts arrived more than {} after the previous (PART-TARGET {}), max {}",
            late.len(),
            inter_arrivals.len(),
            ms(limit),
            ms(part_target),
            ms(max)
        ));
    }
    o.evidence(format!(
        "inter-arrival p50 {} p99 {} max {} (n={})",
        ms(p50),
        ms(p99),
        ms(max),
        inter_arrivals.len()
    ));
    o
}

/// One held playlist request for the next part, with the matching held part request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Release {
    /// Seconds from sending the blocking playlist request to its last byte.
    pub hold: f64,
    /// Playlist answered minus hinted-part response headers (seconds; negative = playlist
    /// first), when the part was fetched concurrently.
    pub delay: Option<f64>,
}

/// LLHLS-DD-07.
pub fn llhls_dd_07(samples: &[Release], part_target: f64) -> Outcome {
    // "the Server MUST defer responding to the request until the Playlist contains the Partial
    // Segment" (§6.2.5.2) + "A Partial Segment MUST be similarly available at the time it is
    // added to a Playlist." (§6.2.1): the held playlist is released when the part is published,
    // measured as ≤ PART-TARGET/2 after the part became downloadable (RULES.md, derived).
    if samples.is_empty() {
        return Outcome::skip("no blocking reloads measured");
    }
    let holds: Vec<f64> = samples.iter().map(|s| s.hold).collect();
    let delays: Vec<f64> = samples.iter().filter_map(|s| s.delay).collect();
    let mut o = Outcome::new();
    let limit = part_target / 2.0;
    if let Some(p99) = percentile(&delays, 99.0)
        && p99 > limit
    {
        let late = delays.iter().filter(|d| **d > limit).count();
        o.must(format!(
            "playlist released p99 {} after the part was downloadable (> PART-TARGET/2 = {}; {late}/{} late)",
            ms(p99),
            ms(limit),
            delays.len()
        ));
    }
    o.evidence(format!(
        "hold p50 {} p99 {}; release delay vs part p50 {} p99 {} (n={})",
        ms(percentile(&holds, 50.0).unwrap_or(0.0)),
        ms(percentile(&holds, 99.0).unwrap_or(0.0)),
        ms(percentile(&delays, 50.0).unwrap_or(0.0)),
        ms(percentile(&delays, 99.0).unwrap_or(0.0)),
        samples.len()
    ));
    o
}

/// A GET of a resource announced by a playlist (hinted part, listed segment, removed URI).
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    /// What was fetched (URI as listed).
    pub uri: String,
    /// HTTP status, or the transport error.
    pub status: Result<u16, String>,
    /// Seconds from request to last byte.
    pub total: f64,
    /// Seconds from first body byte to last byte.
    pub transfer: f64,
    /// Media duration of the resource (part DURATION / EXTINF), when known.
    pub media_duration: Option<f64>,
}

/// A hinted-part 404 that took at least this long was held first (then abandoned).
const ABANDONED_AFTER_HOLD_S: f64 = 0.015;

/// LLHLS-PL-01.
pub fn llhls_pl_01(fetches: &[Fetch]) -> Outcome {
    // "A hinted resource MUST be available for request when its EXT-X-PRELOAD-HINT tag is added
    // to the Playlist." "the server MUST refrain from transmitting any bytes belonging to a
    // Partial Segment until all bytes of that Partial Segment can be transmitted at the full
    // speed of the link to the client." (§6.2.6)
    if fetches.is_empty() {
        return Outcome::skip("no hinted part fetched");
    }
    let mut o = Outcome::new();
    let mut transfers = Vec::new();
    for f in fetches {
        match &f.status {
            Ok(200 | 206) => {
                transfers.push(f.transfer);
                let d = f.media_duration.unwrap_or(0.2);
                if f.transfer > d * 0.25 + 0.01 {
                    o.must(format!(
                        "{}: body trickled over {} (part is {})",
                        f.uri,
                        ms(f.transfer),
                        ms(d)
                    ));
                }
            }
            // "A server MAY choose not to publish previously-hinted resources ... SHOULD respond
            // to client requests for those resources with Not Found" (§6.2.6): a 404 after the
            // request was held is an abandoned hint; an immediate 404 means it was never
            // requestable.
            Ok(404) if f.total >= ABANDONED_AFTER_HOLD_S => {
                o.note(format!("{}: hint abandoned, 404 after holding {}", f.uri, ms(f.total)))
            }
            Ok(404) => {
                o.must(format!("{}: hinted part answered 404 at once ({})", f.uri, ms(f.total)))
            }
            Ok(s) => o.must(format!("{}: hinted part answered {s}", f.uri)),
            Err(e) => o.must(format!("{}: {e}", f.uri)),
        }
    }
    o.evidence(format!(
        "{} hinted parts, first-to-last byte p99 {}",
        fetches.len(),
        ms(percentile(&transfers, 99.0).unwrap_or(0.0))
    ));
    o
}

/// HLS-MP-10.
pub fn hls_mp_10(fetches: &[Fetch]) -> Outcome {
    // "A Media Segment MUST be available for immediate download at the full speed of the link to
    // the Client when it is added to a Playlist unless it has been marked with an EXT-X-GAP tag"
    // (§6.2.1)
    if fetches.is_empty() {
        return Outcome::skip("no newly listed segment fetched");
    }
    let mut o = Outcome::new();
    let mut totals = Vec::new();
    for f in fetches {
        match &f.status {
            Ok(200) => {
                totals.push(f.total);
                let d = f.media_duration.unwrap_or(1.0);
                if f.total > d * 0.25 + 0.05 {
                    o.must(format!(
                        "{}: took {} to download (EXTINF {})",
                        f.uri,
                        ms(f.total),
                        ms(d)
                    ));
                }
            }
            Ok(s) => o.must(format!("{}: listed segment answered {s}", f.uri)),
            Err(e) => o.must(format!("{}: {e}", f.uri)),
        }
    }
    o.evidence(format!(
        "{} segments, download p50 {} p99 {}",
        fetches.len(),
        ms(percentile(&totals, 50.0).unwrap_or(0.0)),
        ms(percentile(&totals, 99.0).unwrap_or(0.0))
    ));
    o
}

/// A re-GET of a segment or part after it left the playlist, within its availability window.
#[derive(Debug, Clone, PartialEq)]
pub struct Recheck {
    /// The GET.
    pub fetch: Fetch,
    /// "segment" or "part".
    pub kind: &'static str,
    /// Seconds since it was removed from the playlist.
    pub since_removed: f64,
    /// Seconds it must stay available after removal (at least).
    pub window: f64,
}

/// HLS-MP-11.
pub fn hls_mp_11(rechecks: &[Recheck]) -> Outcome {
    // "If the server removes a Media Segment URI from a Playlist that does not contain an
    // EXT-X-ENDLIST tag, clients MUST be able to download the segment until the time at which it
    // first appeared in the Playlist plus the segment's Availability Duration." "Clients MUST be
    // able to download the Partial Segment for at least three Target Durations after the
    // EXT-X-PART tag is removed from the Playlist." (§6.2.2)
    if rechecks.is_empty() {
        return Outcome::skip("nothing left the playlist during the run");
    }
    let mut o = Outcome::new();
    for r in rechecks {
        if r.since_removed > r.window {
            continue;
        }
        match &r.fetch.status {
            Ok(200 | 206) => {}
            Ok(s) => o.must(format!(
                "{} {} answered {s} {} after removal (must stay available {})",
                r.kind,
                r.fetch.uri,
                ms(r.since_removed),
                ms(r.window)
            )),
            Err(e) => o.must(format!("{} {}: {e}", r.kind, r.fetch.uri)),
        }
    }
    let segs = rechecks.iter().filter(|r| r.kind == "segment").count();
    o.evidence(format!(
        "{segs} removed segments and {} removed parts re-fetched",
        rechecks.len() - segs
    ));
    o
}

/// Peak segment bit rate (bits/s) of a run of (bytes, seconds) segments (HLS §4.1).
pub fn peak_bitrate(segments: &[(usize, f64)], td: u64) -> Option<f64> {
    // "The peak segment bit rate of a Media Playlist is the largest bit rate of any contiguous
    // set of segments whose total duration is between 0.5 times the Target Duration and 1.5
    // times the Target Duration plus 0.5 seconds" (§4.1)
    let (lo, hi) = (0.5 * td as f64, 1.5 * td as f64 + 0.5);
    let mut best: Option<f64> = None;
    for i in 0..segments.len() {
        let (mut bytes, mut dur) = (0usize, 0.0);
        for s in &segments[i..] {
            bytes += s.0;
            dur += s.1;
            if dur > hi {
                break;
            }
            if dur >= lo && dur > 0.0 {
                let rate = bytes as f64 * 8.0 / dur;
                best = Some(best.map_or(rate, |b: f64| b.max(rate)));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(o: &Outcome) -> bool {
        o.problems.iter().any(|p| p.level.fails(false))
    }

    #[test]
    fn mp_08_flags_late_segment() {
        assert!(!fails(&hls_mp_08(&[(1, 0.0), (2, 1.0), (3, 2.0)], 1)));
        assert!(fails(&hls_mp_08(&[(1, 0.0), (2, 1.0), (3, 2.8)], 1)));
    }

    #[test]
    fn part_07_flags_late_part() {
        assert!(!fails(&llhls_part_07(&[0.2, 0.21, 0.19], 0.2)));
        let o = llhls_part_07(&[0.2, 0.45, 0.19], 0.2);
        assert!(fails(&o), "{o:?}");
    }

    #[test]
    fn dd_07_flags_slow_release() {
        let ok: Vec<Release> = (0..50).map(|_| Release { hold: 0.2, delay: Some(0.002) }).collect();
        assert!(!fails(&llhls_dd_07(&ok, 0.2)));
        let slow: Vec<Release> =
            (0..50).map(|_| Release { hold: 0.35, delay: Some(0.15) }).collect();
        assert!(fails(&llhls_dd_07(&slow, 0.2)));
    }

    fn fetch(status: Result<u16, String>, total: f64, transfer: f64, d: f64) -> Fetch {
        Fetch { uri: "x".into(), status, total, transfer, media_duration: Some(d) }
    }

    #[test]
    fn pl_01_flags_404_and_trickled_parts() {
        assert!(!fails(&llhls_pl_01(&[fetch(Ok(200), 0.2, 0.001, 0.2)])));
        assert!(fails(&llhls_pl_01(&[fetch(Ok(404), 0.0, 0.0, 0.2)])));
        // Held, then abandoned: allowed by §6.2.6, reported as a note.
        let abandoned = llhls_pl_01(&[fetch(Ok(404), 0.05, 0.0, 0.2)]);
        assert!(!fails(&abandoned) && !abandoned.notes.is_empty());
        assert!(fails(&llhls_pl_01(&[fetch(Ok(200), 0.2, 0.19, 0.2)])));
        assert!(fails(&llhls_pl_01(&[fetch(Err("timed out".into()), 1.0, 0.0, 0.2)])));
    }

    #[test]
    fn mp_10_flags_slow_or_missing_segment() {
        assert!(!fails(&hls_mp_10(&[fetch(Ok(200), 0.01, 0.001, 1.0)])));
        assert!(fails(&hls_mp_10(&[fetch(Ok(200), 0.9, 0.8, 1.0)])));
        assert!(fails(&hls_mp_10(&[fetch(Ok(404), 0.01, 0.0, 1.0)])));
    }

    #[test]
    fn mp_11_flags_removed_segment_gone_too_early() {
        let gone = Recheck {
            fetch: fetch(Ok(404), 0.0, 0.0, 1.0),
            kind: "segment",
            since_removed: 1.0,
            window: 6.0,
        };
        assert!(fails(&hls_mp_11(std::slice::from_ref(&gone))));
        let late = Recheck { since_removed: 7.0, ..gone.clone() };
        assert!(!fails(&hls_mp_11(&[late])));
    }

    #[test]
    fn peak_bitrate_uses_windows_around_target_duration() {
        let segs = [(125_000usize, 1.0), (250_000, 1.0), (125_000, 1.0)];
        assert_eq!(peak_bitrate(&segs, 1), Some(2_000_000.0));
        assert_eq!(peak_bitrate(&[], 1), None);
    }
}
