//! `sluice-check dash MPD-URL`: polls a live MPD for `duration`, fetches segments and probes
//! the live edge, and judges RULES.md section D. Single-document rules run on every MPD whose
//! content changed (`rules::dash`); poll-to-poll rules on consecutive MPDs; media and timed
//! rules in [`media`] and [`probes`].

pub mod addressing;
pub mod clock;
pub mod media;
pub mod probes;

#[cfg(test)]
mod e2e_tests;

use std::collections::{BTreeMap, BTreeSet};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{self, Response};
use crate::mp4::{self, TrackInit};
use crate::mpd::{Mpd, Representation, Template, expand};
use crate::report::Report;
use crate::rules::dash::{self as rules, ato, chunked, segment_duration};
use crate::rules::{Level, Outcome};
use crate::url::Url;
use addressing::{Seg, segments};
use probes::Edge;

/// Section D rule ids, in RULES.md order.
pub const DASH_RULES: &[&str] = &[
    "DASH-MPD-01",
    "DASH-MPD-02",
    "DASH-MPD-03",
    "DASH-MPD-04",
    "DASH-MPD-05",
    "LLDASH-ST-01",
    "LLDASH-ST-02",
    "LLDASH-UTC-01",
    "LLDASH-SD-01",
    "LLDASH-PRT-01",
    "LLDASH-ATO-01",
    "LLDASH-ATO-02",
    "LLDASH-SEG-01",
    "LLDASH-PROF-01",
    "LLDASH-AV-01",
    "LLDASH-CTE-01",
    "LLDASH-TSB-01",
    "LLDASH-AS-01",
    "LLDASH-HTTP-01",
];

/// Options of one `dash` run.
#[derive(Debug, Clone)]
pub struct DashOptions {
    /// MPD URL.
    pub url: Url,
    /// How long to poll.
    pub duration: Duration,
}

/// One Representation of one Period, as the run tracks it.
#[derive(Debug, Clone)]
struct Track {
    period: usize,
    period_id: Option<String>,
    /// AdaptationSet id (or content type).
    set: String,
    name: String,
    chunked: bool,
    ll_segment: bool,
    inband_prft: bool,
    rep: Representation,
    tpl: Template,
}

#[derive(Default)]
struct TrackState {
    init: Option<Result<Vec<TrackInit>, String>>,
    fetched: BTreeSet<u64>,
    /// number → media time, from every MPD seen (numbering must never move).
    numbering: BTreeMap<u64, u64>,
}

fn tracks(mpd: &Mpd) -> Vec<Track> {
    let mut out = Vec::new();
    for (i, p) in mpd.periods.iter().enumerate() {
        let target = p.latency_target.or(mpd.latency_target);
        for set in &p.sets {
            for rep in &set.reps {
                let Some(tpl) = rep.template.clone() else { continue };
                out.push(Track {
                    period: i,
                    period_id: p.id.clone(),
                    set: set.id.clone().unwrap_or_else(|| set.content_type.clone()),
                    name: format!(
                        "{}/{}",
                        p.id.as_deref().unwrap_or("?"),
                        rep.id.as_deref().unwrap_or(&set.content_type)
                    ),
                    chunked: chunked(set),
                    ll_segment: !chunked(set) && target.is_some(),
                    inband_prft: set.prts.iter().any(|p| p.attr("inband") == Some("true")),
                    rep: rep.clone(),
                    tpl,
                });
            }
        }
    }
    out
}

fn key(t: &Track) -> (Option<String>, Option<String>) {
    (t.period_id.clone(), t.rep.id.clone())
}

/// Runs the whole check.
pub fn check_dash(opts: &DashOptions) -> Report {
    let mut report = Report::with_rules(&opts.url.to_string(), DASH_RULES);
    let started = Instant::now();
    let mut prev: Option<Mpd> = None;
    let mut state: BTreeMap<(Option<String>, Option<String>), TrackState> = BTreeMap::new();
    let mut offset = None;
    let mut polls = 0usize;
    let mut last_av = None::<Instant>;
    let mut tsb_done = false;
    let mut cte: Option<thread::JoinHandle<Vec<Outcome>>> = None;
    let mut cte_runs = 0;
    let mut cte_outcomes = Vec::new();
    let mut mpd_responses: Vec<(Response, Option<f64>)> = Vec::new();
    loop {
        let fetched_at = clock::local_now();
        let resp = match http::get(&opts.url, Duration::from_secs(5)) {
            Ok(r) if r.status == 200 => r,
            Ok(r) => {
                let mut o = Outcome::new();
                o.must(format!("MPD poll {polls}: status {}", r.status));
                report.add("DASH-MPD-04", "", o);
                if prev.is_none() {
                    break;
                }
                thread::sleep(Duration::from_millis(500));
                continue;
            }
            Err(e) => {
                let mut o = Outcome::new();
                o.must(format!("MPD poll {polls}: {e}"));
                report.add("DASH-MPD-04", "", o);
                if prev.is_none() || started.elapsed() > opts.duration {
                    break;
                }
                thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        polls += 1;
        let mpd = match Mpd::parse(&resp.text()) {
            Ok(m) => m,
            Err(e) => {
                let mut o = Outcome::new();
                o.must(format!("poll {polls}: MPD does not parse: {e}"));
                report.add("DASH-MPD-01", "", o);
                if started.elapsed() > opts.duration {
                    break;
                }
                thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        mpd_responses.push((resp, mpd.mup));
        let changed = prev
            .as_ref()
            .is_none_or(|p| p.content_without_publish_time() != mpd.content_without_publish_time());
        if changed {
            for (id, o) in rules::snapshot(&mpd) {
                report.add(id, "", o);
            }
        }
        if let Some(p) = &prev {
            report.add("DASH-MPD-02", "", rules::mpd_02_change(p, &mpd));
            report.add("DASH-MPD-05", "", rules::mpd_05(p, &mpd));
            if !mpd.is_dynamic() || mpd.mup.is_none() {
                report.add("DASH-MPD-04", "", end_of_live(&opts.url, &mpd));
                break;
            }
        }
        if offset.is_none() && mpd.is_dynamic() {
            offset = Some(utc_01(&mut report, &opts.url, &mpd));
        }
        let off = offset.unwrap_or(0.0);
        let Some(ast) = mpd.ast_secs().filter(|_| mpd.is_dynamic()) else {
            prev = Some(mpd);
            break;
        };
        let mpd_now = clock::local_now() + off - ast;
        let all = tracks(&mpd);
        for t in &all {
            let st = state.entry(key(t)).or_default();
            numbering(&mut report, t, &mpd, st, mpd_now, fetched_at + off - ast);
            fetch_new(&mut report, &opts.url, &mpd, t, st, mpd_now, polls == 1);
        }
        // Timed probes on the live Period's first Representation of each Adaptation Set.
        let live: Vec<&Track> = {
            let last = mpd.periods.len().saturating_sub(1);
            let mut seen = BTreeSet::new();
            all.iter().filter(|t| t.period == last && seen.insert(t.set.clone())).collect()
        };
        if last_av.is_none_or(|t| t.elapsed() > Duration::from_secs(3)) {
            last_av = Some(Instant::now());
            for t in &live {
                av_01(
                    &mut report,
                    &opts.url,
                    &mpd,
                    t,
                    Edge { name: t.name.clone(), offset: off, ast, ato: ato(&t.rep) },
                );
            }
        }
        if !tsb_done && started.elapsed() > opts.duration / 2 {
            tsb_done = true;
            for t in &live {
                // Now, not at poll time: the AV-01 probes above may have waited a segment or two.
                let now = clock::local_now() + off - ast;
                report.add("LLDASH-TSB-01", "", tsb_oldest(&opts.url, &mpd, t, now));
            }
        }
        if cte.as_ref().is_none_or(|h| h.is_finished()) && cte_runs < 4 {
            if let Some(h) = cte.take() {
                cte_outcomes.extend(h.join().unwrap_or_default());
            }
            if let Some(t) = live.get(cte_runs % live.len().max(1)).filter(|t| t.chunked) {
                cte_runs += 1;
                let (t, base, mpd) = ((*t).clone(), opts.url.clone(), mpd.clone());
                let e = Edge { name: t.name.clone(), offset: off, ast, ato: ato(&t.rep) };
                cte = Some(thread::spawn(move || cte_probe(&base, &mpd, &t, &e)));
            } else if live.iter().all(|t| !t.chunked) {
                cte_runs = usize::MAX;
            }
        }
        prev = Some(mpd);
        if started.elapsed() >= opts.duration {
            break;
        }
        let mup = prev.as_ref().and_then(|m| m.mup).unwrap_or(2.0);
        thread::sleep(Duration::from_secs_f64((mup / 2.0).clamp(0.2, 2.0)));
    }
    if let Some(h) = cte.take() {
        cte_outcomes.extend(h.join().unwrap_or_default());
    }
    for o in cte_outcomes {
        report.add("LLDASH-CTE-01", "", o);
    }
    finish(&mut report, &opts.url, prev.as_ref(), &mpd_responses, polls);
    report
}

/// Skips for rules a run could not exercise, with the reason, and the HTTP-01 checks.
fn finish(
    report: &mut Report,
    url: &Url,
    last: Option<&Mpd>,
    responses: &[(Response, Option<f64>)],
    polls: usize,
) {
    for (r, mup) in responses.iter().rev().take(3) {
        report.add("LLDASH-HTTP-01", "", probes::http_01_response(r, *mup));
    }
    if !responses.is_empty() {
        report.add("LLDASH-HTTP-01", "", probes::http_01_conditional(url));
    }
    report.metric("MPD polls", polls.to_string());
    let Some(mpd) = last else { return };
    if polls < 2 {
        report.add("DASH-MPD-02", "", Outcome::skip("only one MPD fetched"));
        report.add("DASH-MPD-05", "", Outcome::skip("only one MPD fetched"));
    }
    if !mpd.is_dynamic() {
        for id in ["LLDASH-AV-01", "LLDASH-CTE-01", "LLDASH-ST-02", "DASH-MPD-05"] {
            report.add(id, "", Outcome::skip("static MPD: no live edge"));
        }
    }
    let any_chunked = mpd.periods.iter().flat_map(|p| &p.sets).any(chunked);
    if !any_chunked {
        report.add("LLDASH-CTE-01", "", Outcome::skip("no chunked (ATO > 0) Adaptation Set"));
    }
    let any_duration =
        tracks(mpd).iter().any(|t| t.tpl.timeline.is_none() && t.tpl.duration.is_some());
    if !any_duration {
        report.add(
            "LLDASH-ST-02",
            "",
            Outcome::skip("SegmentTimeline addressing only (ST-02 is for @duration)"),
        );
    }
}

fn utc_01(report: &mut Report, base: &Url, mpd: &Mpd) -> f64 {
    let readings = clock::read(base, &mpd.utc, 3);
    let mut best = None;
    let loopback = matches!(base.host.as_str(), "127.0.0.1" | "localhost" | "::1" | "[::1]");
    for r in &readings {
        let mut o = Outcome::new();
        match &r.offset {
            Ok(off) if loopback && off.abs() >= 0.1 => o.must(format!(
                "{} {}: clock {:+.0} ms from the local clock on loopback (rtt {:.0} ms)",
                r.scheme,
                r.url,
                off * 1000.0,
                r.rtt * 1000.0
            )),
            Ok(off) => {
                o.evidence(format!(
                    "{} {}: {:+.0} ms (rtt {:.0} ms)",
                    r.scheme,
                    r.url,
                    off * 1000.0,
                    r.rtt * 1000.0
                ));
                if best.is_none() {
                    best = Some(*off);
                }
            }
            Err(e) => o.must(format!("{} {}: {e}", r.scheme, r.url)),
        }
        report.add("LLDASH-UTC-01", "", o);
        let v = r.offset.as_ref().map_or_else(Clone::clone, |o| {
            format!("{:+.0} ms (rtt {:.0} ms)", o * 1000.0, r.rtt * 1000.0)
        });
        report.metric(format!("UTCTiming {} server - local", r.scheme), v);
    }
    if readings.is_empty() && !mpd.utc.is_empty() {
        report.add(
            "LLDASH-UTC-01",
            "",
            Outcome::skip("no http-iso / http-xsdate UTCTiming to fetch"),
        );
    }
    best.unwrap_or(0.0)
}

/// LLDASH-ST-01 across polls (numbers never move to another time) and at the edge (a
/// SegmentTimeline reaches the live edge).
fn numbering(
    report: &mut Report,
    t: &Track,
    mpd: &Mpd,
    st: &mut TrackState,
    mpd_now: f64,
    fetched: f64,
) {
    let mut o = Outcome::new();
    let segs =
        segments(mpd, t.period, &t.tpl, mpd_now - mpd.tsbd.unwrap_or(30.0), mpd_now + ato(&t.rep));
    for s in &segs {
        match st.numbering.insert(s.number, s.time) {
            Some(old) if old != s.time => {
                o.must(format!("{} #{}: $Time$ moved {old} -> {}", t.name, s.number, s.time));
            }
            _ => {}
        }
    }
    if t.tpl.timeline.is_some() && mpd.period_end(t.period).is_none() {
        let slack = mpd.max_segment_duration.or(segment_duration(&t.tpl)).unwrap_or(1.0)
            + mpd.mup.unwrap_or(0.0);
        let newest = segs.last().map_or(f64::NEG_INFINITY, |s| s.end);
        if newest < fetched - slack - 0.1 {
            o.must(format!(
                "{}: SegmentTimeline ends {:.3} s before the live edge at fetch time",
                t.name,
                fetched - newest
            ));
        }
    }
    o.evidence(format!("{}: numbering stable", t.name));
    report.add("LLDASH-ST-01", "", o);
}

fn seg_url(base: &Url, t: &Track, s: &Seg) -> Option<Url> {
    base.join(&expand(t.tpl.media.as_deref()?, &t.rep, s.number, s.time)).ok()
}

fn init_of(base: &Url, t: &Track, st: &mut TrackState) -> Option<Vec<TrackInit>> {
    if st.init.is_none() {
        let got = match t.tpl.init.as_deref().map(|i| base.join(&expand(i, &t.rep, 0, 0))) {
            Some(Ok(u)) => match http::get(&u, Duration::from_secs(5)) {
                Ok(r) if r.status == 200 => mp4::parse_init(&r.body).map_err(|e| e.to_string()),
                Ok(r) => Err(format!("init {u}: status {}", r.status)),
                Err(e) => Err(format!("init {u}: {e}")),
            },
            _ => Err("no usable @initialization".into()),
        };
        st.init = Some(got);
    }
    st.init.as_ref()?.as_ref().ok().cloned()
}

/// Fetches the complete segments not fetched yet (the newest two on the first poll) and judges
/// their media.
fn fetch_new(
    report: &mut Report,
    base: &Url,
    mpd: &Mpd,
    t: &Track,
    st: &mut TrackState,
    mpd_now: f64,
    first: bool,
) {
    let segs = segments(mpd, t.period, &t.tpl, mpd_now - mpd.tsbd.unwrap_or(30.0), mpd_now - 0.05);
    let skip = if first { segs.len().saturating_sub(2) } else { 0 };
    let new: Vec<Seg> =
        segs.into_iter().skip(skip).filter(|s| !st.fetched.contains(&s.number)).collect();
    if new.is_empty() {
        return;
    }
    let Some(init) = init_of(base, t, st) else {
        if let Some(Err(e)) = &st.init {
            let mut o = Outcome::new();
            o.must(format!("{}: {e}", t.name));
            report.add("LLDASH-AV-01", "", o);
        }
        return;
    };
    for s in new.iter().rev().take(4).rev() {
        st.fetched.insert(s.number);
        let Some(url) = seg_url(base, t, s) else { continue };
        let body = match http::get(&url, Duration::from_secs(5)) {
            Ok(r) if r.status == 200 => r.body,
            Ok(r) => {
                let mut o = Outcome::new();
                o.must(format!(
                    "{} #{} (complete, in the time-shift window): status {}",
                    t.name, s.number, r.status
                ));
                report.add("LLDASH-AV-01", "", o);
                continue;
            }
            Err(e) => {
                let mut o = Outcome::new();
                o.must(format!("{} #{} (complete): {e}", t.name, s.number));
                report.add("LLDASH-AV-01", "", o);
                continue;
            }
        };
        let f = match media::read(&body, &init) {
            Ok(f) => f,
            Err(e) => {
                let mut o = Outcome::new();
                o.must(format!("{} #{}: not a readable fragment: {e}", t.name, s.number));
                report.add("LLDASH-ST-02", "", o);
                continue;
            }
        };
        if t.tpl.timeline.is_none() {
            report.add("LLDASH-ST-02", "", media::st_02(&t.name, s, &t.tpl, &f));
        } else {
            let mut o = media::st_02(&t.name, s, &t.tpl, &f);
            o.evidence.clear();
            report.add("LLDASH-ST-01", "", o);
        }
        if t.chunked {
            report.add("LLDASH-ATO-01", "", media::ato_01(&t.name, s, &t.tpl, ato(&t.rep), &f));
        }
        report.add("LLDASH-TSB-01", "", media::tsb_01(&t.name, s, mpd.max_segment_duration, &f));
        if t.inband_prft {
            let mut o = Outcome::new();
            if !f.prft {
                o.must(format!(
                    "{} #{}: ProducerReferenceTime@inband=true but no prft box",
                    t.name, s.number
                ));
            }
            report.add("LLDASH-PRT-01", "", o);
        }
        if t.ll_segment && f.moofs != 1 {
            let mut o = Outcome::new();
            o.should(format!(
                "{} #{}: segment LL Adaptation Set with {} moofs (one expected)",
                t.name, s.number, f.moofs
            ));
            report.add("LLDASH-SEG-01", "", o);
        }
    }
}

/// LLDASH-AV-01: the newest segment in the window downloads completely; the one after is not
/// served early.
fn av_01(report: &mut Report, base: &Url, mpd: &Mpd, t: &Track, e: Edge) {
    let mpd_now = e.now() - e.ast;
    let segs = segments(mpd, t.period, &t.tpl, mpd_now - 30.0, mpd_now + e.ato);
    let Some(mut newest) = segs.last().copied() else {
        report.add("LLDASH-AV-01", "", Outcome::skip("no segment in the availability window yet"));
        return;
    };
    let d = newest.duration as f64 / t.tpl.timescale as f64;
    // Probe the ATO window itself: if the newest is already complete, wait for the next one's
    // availability start (only @duration addressing knows the next reference).
    if t.tpl.timeline.is_none() && e.ato > 0.0 && mpd_now >= newest.end - 0.05 {
        newest = Seg {
            number: newest.number + 1,
            time: newest.time + newest.duration,
            start: newest.end,
            end: newest.end + d,
            ..newest
        };
        e.sleep_until(e.available_at(&newest) + 0.02);
    }
    let Some(url) = seg_url(base, t, &newest) else { return };
    let init = {
        let mut st = TrackState::default();
        init_of(base, t, &mut st)
    };
    let tpl = t.tpl.clone();
    let slot = move |s: Seg| {
        let init = init.clone();
        let tpl = tpl.clone();
        move |body: &[u8]| -> Result<(), String> {
            let Some(init) = &init else { return Ok(()) };
            let f = media::read(body, init)?;
            if !media::st_02("", &s, &tpl, &f).is_clean() {
                return Err(format!("its EPT {:.3} s is not the slot of #{}", f.ept, s.number));
            }
            if f.duration < 0.5 * d {
                return Err(format!("only {:.3} s of media", f.duration));
            }
            Ok(())
        }
    };
    report.add("LLDASH-AV-01", "", probes::av_01_newest(&e, &newest, &url, slot(newest)));
    if t.tpl.timeline.is_some() {
        return; // the next reference is not in this MPD
    }
    let dticks = newest.duration;
    let mut next = Seg {
        number: newest.number + 1,
        time: newest.time + dticks,
        start: newest.end,
        end: newest.end + d,
        ..newest
    };
    if e.available_at(&next) - e.now() < 0.15 {
        next = Seg {
            number: next.number + 1,
            time: next.time + dticks,
            start: next.end,
            end: next.end + d,
            ..next
        };
    }
    if mpd.period_end(t.period).is_some_and(|pe| next.end > pe) {
        return;
    }
    let Some(url) = seg_url(base, t, &next) else { return };
    report.add("LLDASH-AV-01", "", probes::av_01_after(&e, &next, &url, slot(next)));
}

/// LLDASH-TSB-01: the oldest segment inside the time-shift buffer is still served.
fn tsb_oldest(base: &Url, mpd: &Mpd, t: &Track, mpd_now: f64) -> Outcome {
    let Some(tsbd) = mpd.tsbd else { return Outcome::skip("no @timeShiftBufferDepth") };
    let segs = segments(mpd, t.period, &t.tpl, mpd_now - tsbd + 0.5, mpd_now);
    let Some(oldest) = segs.iter().find(|s| s.start >= mpd_now - tsbd + 0.25) else {
        return Outcome::skip("Period younger than the time-shift buffer");
    };
    let Some(url) = seg_url(base, t, oldest) else { return Outcome::skip("no @media") };
    let mut o = Outcome::new();
    match http::get(&url, Duration::from_secs(5)) {
        Ok(r) if r.status == 200 => o.evidence(format!(
            "{} #{} ({:.1} s old, TSBD {tsbd} s): 200",
            t.name,
            oldest.number,
            mpd_now - oldest.end
        )),
        Ok(r) => o.must(format!(
            "{} #{} ends {:.2} s ago, inside timeShiftBufferDepth {tsbd} s: status {}",
            t.name,
            oldest.number,
            mpd_now - oldest.end,
            r.status
        )),
        Err(e) => o.must(format!("{} #{}: {e}", t.name, oldest.number)),
    }
    o
}

/// One CTE-01 probe: the next segment whose availability starts ≥ 0.3 s from now.
fn cte_probe(base: &Url, mpd: &Mpd, t: &Track, e: &Edge) -> Vec<Outcome> {
    let mpd_now = e.now() - e.ast;
    let horizon = mpd_now + e.ato + 3.0 * segment_duration(&t.tpl).unwrap_or(1.0);
    let segs = segments(mpd, t.period, &t.tpl, mpd_now, horizon);
    let Some(seg) = segs.into_iter().find(|s| e.available_at(s) >= e.now() + 0.3) else {
        return vec![Outcome::skip("no future segment in this Period")];
    };
    let Some(url) = seg_url(base, t, &seg) else { return Vec::new() };
    let d = seg.end - seg.start;
    let chunk = if d - e.ato > 0.0 { d - e.ato } else { d };
    let s = probes::stream_segment(e, &seg, &url);
    vec![probes::cte_01(&t.name, &seg, chunk, &s)]
}

/// DASH-MPD-04 at the end of live: the last Period is bounded and every referenced segment of
/// the final MPD still exists (first and last reference of each Representation).
fn end_of_live(base: &Url, mpd: &Mpd) -> Outcome {
    let mut o = Outcome::new();
    let last = mpd.periods.len().saturating_sub(1);
    if mpd.presentation_duration.is_none() && mpd.period_end(last).is_none() {
        o.must("end of live: no minimumUpdatePeriod and the last Period has no duration");
    }
    for t in tracks(mpd) {
        let segs = segments(
            mpd,
            t.period,
            &t.tpl,
            f64::NEG_INFINITY,
            mpd.period_end(t.period).unwrap_or(f64::INFINITY).min(1e9),
        );
        for s in [segs.first(), segs.last()].into_iter().flatten() {
            if let Some(url) = seg_url(base, &t, s) {
                match http::get(&url, Duration::from_secs(5)) {
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => o.problem(
                        Level::Must,
                        format!(
                            "final MPD references {} #{}: status {}",
                            t.name, s.number, r.status
                        ),
                    ),
                    Err(e) => o.must(format!("final MPD references {} #{}: {e}", t.name, s.number)),
                }
            }
        }
    }
    o.evidence("end of live: references still served");
    o
}
