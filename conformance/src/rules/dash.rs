//! RULES.md section D, the rules one MPD document can answer (used by `lint` and on every
//! poll of `dash`), and the rules that compare consecutive polls. The rules that need media or
//! timed requests are in `dash_live`.

use std::collections::BTreeSet;

use super::{Level, Outcome};
use crate::mpd::{AdaptationSet, Mpd, Representation, Template, parse_datetime, parse_duration};
use crate::xml::Element;

/// DASH-IF's UTCTiming schemes allowed by IOP (RULES.md LLDASH-UTC-01).
const UTC_SCHEMES: &[&str] = &[
    "urn:mpeg:dash:utc:http-xsdate:2014",
    "urn:mpeg:dash:utc:http-iso:2014",
    "urn:mpeg:dash:utc:http-ntp:2014",
    "urn:mpeg:dash:utc:ntp:2014",
    "urn:mpeg:dash:utc:http-head:2014",
    "urn:mpeg:dash:utc:direct:2014",
];

/// The effective availabilityTimeOffset of a Representation (0 when absent).
pub fn ato(rep: &Representation) -> f64 {
    rep.template.as_ref().and_then(|t| t.ato).unwrap_or(0.0)
}

/// A chunked low-latency Adaptation Set: some Representation has ATO > 0 or ATC=false.
pub fn chunked(set: &AdaptationSet) -> bool {
    set.reps.iter().any(|r| ato(r) > 0.0 || r.template.as_ref().and_then(|t| t.atc) == Some(false))
}

/// Nominal segment duration of a template in seconds (@duration, else the longest S@d).
pub fn segment_duration(t: &Template) -> Option<f64> {
    let ticks = t.duration.or_else(|| t.timeline.as_ref()?.iter().map(|s| s.d).max())?;
    Some(ticks as f64 / t.timescale as f64)
}

fn set_name(set: &AdaptationSet) -> String {
    format!("AdaptationSet {}", set.id.as_deref().unwrap_or(&set.content_type))
}

/// Every (Period index, AdaptationSet, Representation) of the MPD.
fn reps(mpd: &Mpd) -> impl Iterator<Item = (usize, &AdaptationSet, &Representation)> {
    mpd.periods
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.sets.iter().flat_map(move |s| s.reps.iter().map(move |r| (i, s, r))))
}

/// The single-document rules, each with its outcome.
pub fn snapshot(mpd: &Mpd) -> Vec<(&'static str, Outcome)> {
    vec![
        ("DASH-MPD-01", mpd_01(mpd)),
        ("DASH-MPD-02", mpd_02_snapshot(mpd)),
        ("DASH-MPD-03", mpd_03(mpd)),
        ("DASH-MPD-04", mpd_04_snapshot(mpd)),
        ("LLDASH-ST-01", st_01_snapshot(mpd)),
        ("LLDASH-UTC-01", utc_01_snapshot(mpd)),
        ("LLDASH-SD-01", sd_01(mpd)),
        ("LLDASH-PRT-01", prt_01(mpd)),
        ("LLDASH-ATO-01", ato_01_snapshot(mpd)),
        ("LLDASH-ATO-02", ato_02(mpd)),
        ("LLDASH-SEG-01", seg_01_snapshot(mpd)),
        ("LLDASH-PROF-01", prof_01(mpd)),
        ("LLDASH-TSB-01", tsb_01_snapshot(mpd)),
        ("LLDASH-AS-01", as_01(mpd)),
    ]
}

/// DASH-MPD-01, structurally: the XSD is not available here, so the required elements and
/// attributes of ISO/IEC 23009-1 Table 3 ff. and the value syntax are checked instead.
pub fn mpd_01(mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    let root = &mpd.root;
    if root.attr("xmlns") != Some("urn:mpeg:dash:schema:mpd:2011") {
        o.must(format!("MPD@xmlns {:?}, want urn:mpeg:dash:schema:mpd:2011", root.attr("xmlns")));
    }
    for req in ["profiles", "minBufferTime"] {
        if root.attr(req).is_none() {
            o.must(format!("MPD@{req} missing (required)"));
        }
    }
    if !matches!(mpd.kind.as_str(), "static" | "dynamic") {
        o.must(format!("MPD@type {:?}", mpd.kind));
    }
    check_syntax(root, &mut o);
    if mpd.periods.is_empty() {
        o.must("no Period (at least one required)");
    }
    for (_, set, rep) in reps(mpd) {
        if rep.bandwidth.is_none() {
            o.must(format!(
                "{}: Representation {:?} without a valid @bandwidth",
                set_name(set),
                rep.id
            ));
        }
        if rep.id.is_none() {
            o.must(format!("{}: Representation without @id (required)", set_name(set)));
        }
    }
    o.evidence(format!(
        "structural check (the DASH XSD is not available here): {} Period(s), required attributes and value syntax",
        mpd.periods.len()
    ));
    o
}

/// xs:duration / xs:dateTime / xs:unsignedInt syntax of the attributes the rules read.
fn check_syntax(el: &Element, o: &mut Outcome) {
    const DURATIONS: &[&str] = &[
        "minimumUpdatePeriod",
        "minBufferTime",
        "timeShiftBufferDepth",
        "suggestedPresentationDelay",
        "maxSegmentDuration",
        "mediaPresentationDuration",
        "start",
        "duration",
    ];
    const DATES: &[&str] =
        &["availabilityStartTime", "publishTime", "availabilityEndTime", "wallClockTime"];
    const UINTS: &[&str] =
        &["timescale", "startNumber", "presentationTimeOffset", "bandwidth", "t", "d"];
    for (n, v) in &el.attrs {
        let n = n.as_str();
        // S@d / SegmentTemplate@duration are integers, Period@duration is xs:duration.
        let integer_duration =
            n == "duration" && matches!(el.local_name(), "SegmentTemplate" | "S");
        let bad = if DURATIONS.contains(&n) && !integer_duration {
            parse_duration(v).is_none()
        } else if DATES.contains(&n) {
            parse_datetime(v).is_none()
        } else if UINTS.contains(&n) || integer_duration {
            v.trim().parse::<u64>().is_err()
        } else {
            false
        };
        if bad {
            o.must(format!("{}@{n}={v:?} is not valid for its type", el.local_name()));
        }
    }
    for c in &el.children {
        check_syntax(c, o);
    }
}

/// DASH-MPD-02 on one document: dynamic with AST, every AdaptationSet with an @id.
pub fn mpd_02_snapshot(mpd: &Mpd) -> Outcome {
    if !mpd.is_dynamic() {
        return Outcome::skip("static MPD: the live-MPD rule does not apply");
    }
    let mut o = Outcome::new();
    match &mpd.ast {
        None => o.must("dynamic MPD without @availabilityStartTime"),
        Some((raw, None)) => o.must(format!("@availabilityStartTime {raw:?} does not parse")),
        Some(_) => {}
    }
    for (i, p) in mpd.periods.iter().enumerate() {
        if p.id.is_none() {
            o.must(format!("Period {i} has no @id"));
        }
        for s in &p.sets {
            if s.id.is_none() {
                o.must(format!("Period {:?}: {} without @id", p.id, set_name(s)));
            }
        }
    }
    o.evidence(format!("type=dynamic, AST {}", mpd.ast.as_ref().map_or("-", |a| a.0.as_str())));
    o
}

/// DASH-MPD-02 across two polls: AST, Period@start/@id and the AdaptationSet ids never change.
pub fn mpd_02_change(prev: &Mpd, cur: &Mpd) -> Outcome {
    if !prev.is_dynamic() || !cur.is_dynamic() {
        return Outcome::skip("not two dynamic MPDs");
    }
    let mut o = Outcome::new();
    if prev.ast.as_ref().map(|a| &a.0) != cur.ast.as_ref().map(|a| &a.0) {
        o.must(format!(
            "availabilityStartTime changed {:?} -> {:?}",
            prev.ast.as_ref().map(|a| &a.0),
            cur.ast.as_ref().map(|a| &a.0)
        ));
    }
    for (i, p) in prev.periods.iter().enumerate() {
        let ps = prev.period_start(i);
        let ids = |p: &crate::mpd::Period| -> BTreeSet<String> {
            p.sets.iter().filter_map(|s| s.id.clone()).collect()
        };
        match cur.periods.iter().position(|c| c.id.is_some() && c.id == p.id) {
            Some(j) => {
                let cs = cur.period_start(j);
                if ps.zip(cs).is_none_or(|(a, b)| (a - b).abs() > 1e-6) {
                    o.must(format!("Period {:?} start changed {ps:?} -> {cs:?}", p.id));
                }
                let (a, b) = (ids(p), ids(&cur.periods[j]));
                if a != b {
                    o.must(format!("Period {:?} AdaptationSet ids changed {a:?} -> {b:?}", p.id));
                }
            }
            None => {
                // Gone is fine (aged out); the same start under another id is a rename.
                let renamed = cur.periods.iter().enumerate().find(|(j, c)| {
                    c.id != p.id
                        && ps.zip(cur.period_start(*j)).is_some_and(|(a, b)| (a - b).abs() < 1e-6)
                });
                if let Some((_, c)) = renamed {
                    o.must(format!("Period at start {ps:?} renamed {:?} -> {:?}", p.id, c.id));
                }
            }
        }
    }
    o.evidence(format!("AST, {} Period(s) and their AdaptationSet ids stable", cur.periods.len()));
    o
}

/// DASH-MPD-03: Representation@id unique within each Period.
pub fn mpd_03(mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    for p in &mpd.periods {
        let mut seen = BTreeSet::new();
        for r in p.sets.iter().flat_map(|s| &s.reps) {
            if let Some(id) = &r.id
                && !seen.insert(id.clone())
            {
                o.must(format!("Period {:?}: Representation id {id:?} used twice", p.id));
            }
        }
        o.evidence(format!("Period {:?}: {} unique Representation ids", p.id, seen.len()));
    }
    o
}

/// DASH-MPD-04 on one document: a dynamic MPD either keeps updating (MUP > 0) or is at its
/// end (no MUP, last Period bounded).
pub fn mpd_04_snapshot(mpd: &Mpd) -> Outcome {
    if !mpd.is_dynamic() {
        return Outcome::skip("static MPD (end-of-live segment existence is checked live)");
    }
    let mut o = Outcome::new();
    match mpd.mup {
        Some(m) if m > 0.0 => o.evidence(format!("minimumUpdatePeriod {m} s")),
        Some(m) => o.must(format!("minimumUpdatePeriod {m} s is not > 0")),
        None => {
            let last = mpd.periods.len().saturating_sub(1);
            if mpd.presentation_duration.is_none() && mpd.period_end(last).is_none() {
                o.must("dynamic MPD without minimumUpdatePeriod (end of live) but the last Period has no duration");
            } else {
                o.evidence("end of live: no minimumUpdatePeriod, last Period bounded");
            }
        }
    }
    o
}

/// LLDASH-ST-01 on one document: $Number$/$Time$ in @media, no S@n, a gap-free timeline.
pub fn st_01_snapshot(mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    for (_, set, rep) in reps(mpd) {
        let name = format!("{} rep {:?}", set_name(set), rep.id);
        let Some(t) = &rep.template else {
            o.must(format!("{name}: no SegmentTemplate"));
            continue;
        };
        let media = t.media.as_deref().unwrap_or("");
        if !media.contains("$Number") && !media.contains("$Time") {
            o.must(format!("{name}: @media {media:?} has neither $Number$ nor $Time$"));
        }
        match &t.timeline {
            Some(tl) => {
                if tl.iter().any(|s| s.n.is_some()) {
                    o.must(format!("{name}: SegmentTimeline uses S@n"));
                }
                let mut end: Option<u64> = None;
                for (i, s) in tl.iter().enumerate() {
                    if s.d == 0 {
                        o.must(format!("{name}: S[{i}]@d missing or 0"));
                    }
                    if let (Some(t0), Some(e)) = (s.t, end)
                        && t0 != e
                    {
                        let what = if t0 > e { "gap" } else { "overlap" };
                        o.must(format!(
                            "{name}: SegmentTimeline {what}: S[{i}]@t={t0}, previous ends at {e}"
                        ));
                    }
                    if s.r < 0 && i + 1 < tl.len() && tl[i + 1].t.is_none() {
                        o.must(format!("{name}: S[{i}]@r=-1 followed by an S without @t"));
                    }
                    let start = s.t.or(end).unwrap_or(0);
                    end = Some(start.saturating_add(s.d.saturating_mul(s.r.max(0) as u64 + 1)));
                }
                if tl.is_empty() {
                    o.must(format!("{name}: empty SegmentTimeline"));
                }
            }
            None if t.duration.is_none() => {
                o.must(format!("{name}: neither SegmentTimeline nor @duration"));
            }
            None => {}
        }
    }
    o.evidence("SegmentTemplate addressing well-formed");
    o
}

/// LLDASH-UTC-01 on one document: a UTCTiming with an allowed scheme on a dynamic MPD.
pub fn utc_01_snapshot(mpd: &Mpd) -> Outcome {
    if !mpd.is_dynamic() {
        return Outcome::skip("static MPD");
    }
    let mut o = Outcome::new();
    if mpd.utc.is_empty() {
        o.must("no UTCTiming element on the dynamic MPD");
    } else if !mpd.utc.iter().any(|u| UTC_SCHEMES.contains(&u.scheme.as_str())) {
        o.must(format!(
            "no UTCTiming with an allowed scheme: {:?}",
            mpd.utc.iter().map(|u| &u.scheme).collect::<Vec<_>>()
        ));
    } else {
        o.evidence(format!(
            "UTCTiming {}",
            mpd.utc
                .iter()
                .map(|u| u.scheme.rsplit(':').nth(1).unwrap_or("?"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    o
}

/// LLDASH-SD-01: ServiceDescription/Latency@target on the MPD or every Period.
pub fn sd_01(mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    if mpd.latency_target.is_some() {
        o.evidence(format!("Latency@target {} ms", mpd.latency_target.unwrap_or(0.0)));
        return o;
    }
    if mpd.periods.is_empty() || mpd.periods.iter().any(|p| p.latency_target.is_none()) {
        o.must("no ServiceDescription with Latency@target (MPD or Period)");
    }
    o
}

/// LLDASH-PRT-01: every LL Adaptation Set has a well-formed ProducerReferenceTime.
pub fn prt_01(mpd: &Mpd) -> Outcome {
    if !mpd.is_dynamic() {
        return Outcome::skip("static MPD");
    }
    let mut o = Outcome::new();
    let mut ids = BTreeSet::new();
    let mut sets = 0;
    for p in &mpd.periods {
        for set in p.sets.iter().filter(|s| chunked(s) || mpd.latency_target.is_some()) {
            sets += 1;
            let name = format!("Period {:?} {}", p.id, set_name(set));
            if set.prts.is_empty() {
                o.must(format!("{name}: no ProducerReferenceTime"));
            }
            for prt in &set.prts {
                match prt.attr("id") {
                    None => o.must(format!("{name}: ProducerReferenceTime without @id")),
                    Some(id) if !ids.insert((p.id.clone(), id.to_string())) => {
                        o.must(format!("{name}: ProducerReferenceTime @id {id} not unique"))
                    }
                    Some(_) => {}
                }
                let kind = prt.attr("type").unwrap_or("encoder");
                if !matches!(kind, "encoder" | "captured") {
                    o.must(format!("{name}: ProducerReferenceTime@type {kind:?}"));
                }
                if prt.child("UTCTiming").is_none() {
                    o.must(format!("{name}: ProducerReferenceTime without UTCTiming"));
                }
                if prt.attr("wallClockTime").and_then(parse_datetime).is_none() {
                    o.must(format!(
                        "{name}: ProducerReferenceTime@wallClockTime missing or invalid"
                    ));
                }
                if prt.attr("presentationTime").and_then(|v| v.trim().parse::<u64>().ok()).is_none()
                {
                    o.must(format!(
                        "{name}: ProducerReferenceTime@presentationTime missing or invalid"
                    ));
                }
            }
        }
    }
    if sets == 0 {
        return Outcome::skip("no low-latency Adaptation Set");
    }
    o.evidence(format!("{sets} LL Adaptation Set(s) with ProducerReferenceTime"));
    o
}

/// LLDASH-ATO-01 on one document: chunked AS has ATO (SHOULD on the AS), 0 < ATO < segment
/// duration. The chunk-count comparison needs media (`dash_live`).
pub fn ato_01_snapshot(mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    let mut any = false;
    for p in &mpd.periods {
        for set in p.sets.iter().filter(|s| chunked(s)) {
            any = true;
            let name = format!("Period {:?} {}", p.id, set_name(set));
            if set.ato.is_none() {
                o.should(format!("{name}: availabilityTimeOffset not on the AdaptationSet level"));
            }
            for rep in &set.reps {
                let a = ato(rep);
                let d = rep.template.as_ref().and_then(segment_duration);
                let max = mpd.max_segment_duration.or(d);
                if a <= 0.0 {
                    o.must(format!(
                        "{name} rep {:?}: chunked but availabilityTimeOffset {a}",
                        rep.id
                    ));
                } else if let Some(max) = max.filter(|m| a >= *m) {
                    o.must(format!(
                        "{name} rep {:?}: availabilityTimeOffset {a} >= segment duration {max}",
                        rep.id
                    ));
                } else {
                    o.evidence(format!(
                        "{name}: ATO {a} s, segment {} s",
                        d.map_or("?".into(), |d| d.to_string())
                    ));
                }
            }
        }
    }
    if !any {
        return Outcome::skip("no chunked (ATO > 0 / ATC=false) Adaptation Set");
    }
    o
}

/// LLDASH-ATO-02: chunked AS has ATC=false (SHOULD on the AS); a segment LL AS has no ATC.
/// IOP-LL is followed; IOP-TM forbids @availabilityTimeComplete (RULES.md notes the conflict).
pub fn ato_02(mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    for p in &mpd.periods {
        for set in &p.sets {
            let name = format!("Period {:?} {}", p.id, set_name(set));
            if chunked(set) {
                for rep in &set.reps {
                    if rep.template.as_ref().and_then(|t| t.atc) != Some(false) {
                        o.must(format!(
                            "{name} rep {:?}: chunked but no availabilityTimeComplete=\"false\"",
                            rep.id
                        ));
                    }
                }
                if set.atc != Some(false) {
                    o.should(format!(
                        "{name}: availabilityTimeComplete not on the AdaptationSet level"
                    ));
                }
            } else if set.reps.iter().any(|r| r.template.as_ref().and_then(|t| t.atc).is_some()) {
                o.must(format!(
                    "{name}: segment (non-chunked) Adaptation Set carries availabilityTimeComplete"
                ));
            }
        }
    }
    o.evidence("availabilityTimeComplete as IOP-LL requires (IOP-TM forbids it; IOP-LL followed)");
    o
}

/// LLDASH-SEG-01 on one document: segment LL AS durations against Latency@target; a Resync
/// per Representation of a chunked AS (SHOULD).
pub fn seg_01_snapshot(mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    let mut any = false;
    for p in &mpd.periods {
        let target = p.latency_target.or(mpd.latency_target).map(|ms| ms / 1000.0);
        for set in &p.sets {
            let name = format!("Period {:?} {}", p.id, set_name(set));
            if chunked(set) {
                any = true;
                for rep in set.reps.iter().filter(|r| !r.resync) {
                    o.should(format!("{name} rep {:?}: chunked but no Resync element", rep.id));
                }
            } else if let Some(target) = target {
                any = true;
                for rep in &set.reps {
                    let Some(d) = rep.template.as_ref().and_then(segment_duration) else {
                        continue;
                    };
                    if d > 0.5 * target {
                        o.must(format!(
                            "{name}: segment {d} s > 50 % of Latency@target {target} s"
                        ));
                    } else if d > 0.3 * target {
                        o.should(format!(
                            "{name}: segment {d} s > 30 % of Latency@target {target} s"
                        ));
                    }
                }
            }
        }
    }
    if !any {
        return Outcome::skip("no low-latency Adaptation Set (no ATO and no Latency@target)");
    }
    o.evidence("segment / chunk layout declared as IOP-LL asks");
    o
}

/// LLDASH-PROF-01 (SHOULD): the DASH-IF low-latency profile, LeapSecondInformation, inband
/// MPD-validity events.
pub fn prof_01(mpd: &Mpd) -> Outcome {
    if !mpd.is_dynamic() {
        return Outcome::skip("static MPD");
    }
    let mut o = Outcome::new();
    if !mpd.profiles.split(',').any(|p| p.trim().contains("dashif.org/guidelines/low-latency-live"))
    {
        o.should(format!(
            "@profiles {:?} lacks the DASH-IF low-latency-live identifier",
            mpd.profiles
        ));
    }
    if !mpd.leap_seconds {
        o.should("no LeapSecondInformation");
    }
    let inband = mpd
        .periods
        .iter()
        .flat_map(|p| &p.sets)
        .any(|s| s.inband_events.iter().any(|e| e.starts_with("urn:mpeg:dash:event:2012")));
    if !inband {
        o.should("no InbandEventStream for MPD validity (urn:mpeg:dash:event:2012)");
    }
    o.evidence(format!("profiles {}", mpd.profiles));
    o
}

/// LLDASH-TSB-01 on one document: SPD leaves a positive time-shift buffer; maxSegmentDuration
/// covers every declared segment duration.
pub fn tsb_01_snapshot(mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    if let (Some(t), Some(s)) = (mpd.tsbd, mpd.spd)
        && t - s <= 0.0
    {
        o.must(format!(
            "suggestedPresentationDelay {s} s leaves no time-shift buffer (TSBD {t} s)"
        ));
    }
    if let Some(max) = mpd.max_segment_duration {
        for (_, set, rep) in reps(mpd) {
            if let Some(t) = &rep.template {
                let longest =
                    t.timeline.as_ref().and_then(|tl| tl.iter().map(|s| s.d).max()).or(t.duration);
                if let Some(d) = longest.map(|d| d as f64 / t.timescale as f64)
                    && d > max + 1e-3
                {
                    o.must(format!(
                        "{} rep {:?}: segment {d} s > maxSegmentDuration {max} s",
                        set_name(set),
                        rep.id
                    ));
                }
            }
        }
    }
    o.evidence(format!(
        "TSBD {:?} s, SPD {:?} s, maxSegmentDuration {:?} s",
        mpd.tsbd, mpd.spd, mpd.max_segment_duration
    ));
    o
}

/// LLDASH-AS-01 (WARN): availability-window attributes only on Representations.
pub fn as_01(mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    for p in &mpd.periods {
        for set in &p.sets {
            if set.ato.is_none() && set.atc.is_none() && set.reps.iter().any(|r| r.own_ato) {
                o.should(format!(
                    "Period {:?} {}: availabilityTimeOffset/Complete only on the Representation level (IOP-TM SHALL NOT; IOP-LL allows)",
                    p.id,
                    set_name(set)
                ));
            }
        }
    }
    o.evidence("availability-window attributes on the AdaptationSet level (or absent)");
    o
}

/// DASH-MPD-05: publishTime changes exactly when the content (publishTime aside) changes.
pub fn mpd_05(prev: &Mpd, cur: &Mpd) -> Outcome {
    if !cur.is_dynamic() {
        return Outcome::skip("static MPD");
    }
    let mut o = Outcome::new();
    let changed = prev.content_without_publish_time() != cur.content_without_publish_time();
    let pt_changed = prev.publish_time != cur.publish_time;
    match (changed, pt_changed) {
        (true, false) => {
            o.must(format!("content changed but publishTime stayed {:?}", cur.publish_time))
        }
        (false, true) => o.problem(
            Level::Should,
            format!(
                "content unchanged but publishTime {:?} -> {:?}",
                prev.publish_time, cur.publish_time
            ),
        ),
        _ => o.evidence(format!(
            "content {} with publishTime",
            if changed { "changed" } else { "unchanged" }
        )),
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mpd(s: &str) -> Mpd {
        Mpd::parse(s).unwrap()
    }

    #[test]
    fn timeline_gap_and_s_n_fail_st_01() {
        let m = mpd(
            r#"<MPD><Period id="1"><AdaptationSet id="1"><SegmentTemplate media="$Time$.m4s">
            <SegmentTimeline><S t="0" d="10" r="1"/><S t="25" d="10" n="3"/></SegmentTimeline></SegmentTemplate>
            <Representation id="a" bandwidth="1"/></AdaptationSet></Period></MPD>"#,
        );
        let o = st_01_snapshot(&m);
        assert_eq!(o.problems.len(), 2, "{o:?}");
        assert!(o.problems[1].msg.contains("gap: S[1]@t=25, previous ends at 20"), "{o:?}");
    }

    #[test]
    fn publish_time_must_follow_content() {
        let a =
            mpd(r#"<MPD type="dynamic" publishTime="2026-01-01T00:00:00Z"><Period id="1"/></MPD>"#);
        let b =
            mpd(r#"<MPD type="dynamic" publishTime="2026-01-01T00:00:00Z"><Period id="2"/></MPD>"#);
        let c =
            mpd(r#"<MPD type="dynamic" publishTime="2026-01-01T00:00:01Z"><Period id="2"/></MPD>"#);
        assert!(mpd_05(&a, &b).has_level(Level::Must));
        assert!(mpd_05(&a, &c).is_clean());
        assert!(mpd_05(&b, &c).has_level(Level::Should));
    }

    #[test]
    fn period_rename_and_ast_change_fail_mpd_02() {
        let a = mpd(
            r#"<MPD type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z"><Period id="p0" start="PT0S"/></MPD>"#,
        );
        let b = mpd(
            r#"<MPD type="dynamic" availabilityStartTime="2026-01-01T00:00:01Z"><Period id="p1" start="PT0S"/></MPD>"#,
        );
        let o = mpd_02_change(&a, &b);
        assert_eq!(o.problems.len(), 2, "{o:?}");
        let c = mpd(
            r#"<MPD type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z"><Period id="p0" start="PT0S"/><Period id="p1" start="PT9S"/></MPD>"#,
        );
        assert!(mpd_02_change(&a, &c).is_clean());
    }
}
