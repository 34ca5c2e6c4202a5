//! The live checks: fetch the multivariant, follow every rendition concurrently for the run's
//! duration, probe the delivery-directive edge cases, then judge everything recorded. Each
//! rendition's segments are classified (fMP4, MPEG-TS, Packed Audio) and judged by the rules of
//! their format (`segments`); rules that need a feature the playlist does not use (parts,
//! blocking reload, preload hints) report "not applicable" rather than pass.

#[cfg(test)]
mod e2e_tests;
#[cfg(test)]
mod e2e_ts_tests;
pub mod follow;
pub mod observe;
pub mod probes;
pub mod segments;
#[cfg(test)]
pub(crate) mod test_origin;

use std::thread;
use std::time::{Duration, Instant};

use follow::FollowResult;

use crate::mp4::{TrackInit, parse_fragments};
use crate::playlist::{Document, MediaPlaylist, Multivariant};
use crate::report::Report;
use crate::rules::delivery::{self, CacheSample};
use crate::rules::media::parse_pdt;
use crate::rules::timing::{self, peak_bitrate};
use crate::rules::ts::TsObservation;
use crate::rules::{Outcome, content, media, ms, multivariant, percentile};
use crate::url::Url;
use segments::{Format, judge_ts};

/// What `sluice-check hls` was asked to do.
#[derive(Debug, Clone)]
pub struct HlsOptions {
    /// Multivariant (or Media) Playlist URL.
    pub url: Url,
    /// How long to follow the renditions.
    pub duration: Duration,
    /// Fail APPLE-level problems.
    pub apple: bool,
}

/// The top-level playlist and the renditions it lists.
#[derive(Debug)]
pub struct Entry {
    /// The multivariant, when the URL was one.
    pub multivariant: Option<Multivariant>,
    /// (name, URL) of every Media Playlist.
    pub renditions: Vec<(String, Url)>,
}

/// Fetches the URL, judges it if it is a multivariant, and lists the renditions.
pub fn entry(url: &Url, report: &mut Report) -> Option<Entry> {
    let (obs, resp) = observe::get(url, Duration::from_secs(5), &[], false);
    let resp = match (obs.status, resp) {
        (Some(200), Some(r)) => r,
        _ => {
            let mut o = Outcome::new();
            o.must(format!("GET {url}: {}", obs.describe()));
            report.add("HLS-PL-01", url.file_name(), o);
            return None;
        }
    };
    let text = resp.text();
    let name = url.file_name().to_string();
    if !Document::parse(&text).is_multivariant() {
        return Some(Entry { multivariant: None, renditions: vec![(name, url.clone())] });
    }
    let mv = Multivariant::parse(&text);
    for (id, o) in crate::rules::multivariant_static(&text, &resp.body, &mv) {
        report.add(id, &name, o);
    }
    report.add("HLS-PL-03", &name, delivery::hls_pl_03(&url.path, obs.content_type.as_deref()));
    let renditions = mv
        .media_playlist_uris()
        .into_iter()
        .filter_map(|u| Some((u.rsplit('/').next().unwrap_or(&u).to_string(), url.join(&u).ok()?)))
        .collect();
    Some(Entry { multivariant: Some(mv), renditions })
}

fn init_for<'a>(fr: &'a FollowResult, map: Option<&String>) -> Option<&'a Vec<TrackInit>> {
    map.and_then(|m| fr.inits.get(m)).or_else(|| fr.current_init())
}

fn main_track_media_time(data: &[u8], init: &[TrackInit]) -> Option<f64> {
    let runs = parse_fragments(data, init).ok()?;
    let video = init.iter().find(|t| t.handler == "vide").map(|t| t.track_id);
    let run = runs.iter().find(|r| Some(r.track_id) == video).or(runs.first())?;
    let ts = init.iter().find(|t| t.track_id == run.track_id)?.timescale;
    (ts > 0).then(|| run.base_decode_time.unwrap_or(0) as f64 / ts as f64)
}

/// Judges everything one follower recorded; `format` is its segment format, `ts` its parsed
/// TS segments (empty unless MPEG-TS), `mv_independent` whether the multivariant carries
/// EXT-X-INDEPENDENT-SEGMENTS.
fn judge_follow(
    fr: &FollowResult,
    format: Format,
    ts: &[TsObservation],
    mv_independent: bool,
    report: &mut Report,
) {
    let name = fr.name.as_str();
    for (id, o) in &fr.outcomes {
        report.add(id, name, o.clone());
    }
    let Some(last) = &fr.last else { return };
    let td = last.target_duration.unwrap_or(1).max(1);
    let pt = last.part_target;
    match format {
        Format::Ts => judge_ts(fr, ts, last.independent_segments || mv_independent, report),
        Format::Packed => segments::judge_packed(fr, report),
        Format::Fmp4 => segments::judge_fmp4(fr, report),
        Format::Unknown => {}
    }

    report.add("HLS-MP-08", name, timing::hls_mp_08(&fr.appearances, td));
    match pt {
        Some(pt) => {
            report.add("LLHLS-PART-07", name, timing::llhls_part_07(&fr.inter_arrivals, pt));
            report.add("LLHLS-DD-07", name, timing::llhls_dd_07(&fr.releases, pt));
        }
        None => {
            report.add("LLHLS-PART-07", name, Outcome::skip("no PART-TARGET"));
            report.add("LLHLS-DD-07", name, timing::llhls_dd_07(&fr.releases, td as f64));
        }
    }
    let hint_fetches: Vec<_> = fr.hints.iter().map(|h| h.fetch.clone()).collect();
    report.add("LLHLS-PL-01", name, timing::llhls_pl_01(&hint_fetches));
    let seg_fetches: Vec<_> = fr.segments.iter().map(|s| s.fetch.clone()).collect();
    report.add("HLS-MP-10", name, timing::hls_mp_10(&seg_fetches));
    report.add("HLS-MP-11", name, timing::hls_mp_11(&fr.rechecks));

    // Parts against their parents.
    let mut judged = 0;
    for s in &fr.segments {
        if judged >= 5
            || s.data.is_empty()
            || s.parts.is_empty()
            || s.parts.iter().any(|p| p.2.is_none())
        {
            continue;
        }
        let Some(init) = init_for(fr, s.map.as_ref()) else { continue };
        let parts: Vec<(Vec<u8>, Option<f64>)> =
            s.parts.iter().map(|(_, d, b)| (b.clone().unwrap_or_default(), *d)).collect();
        report.add(
            "LLHLS-PART-04",
            name,
            content::llhls_part_04(s.msn, &s.data, &parts, s.extinf, init),
        );
        judged += 1;
    }
    if judged == 0 {
        let why = if fr.segments.iter().all(|s| s.parts.is_empty()) && !last.is_low_latency() {
            "no partial segments (not a low-latency playlist)"
        } else {
            "no segment with all its parts fetched"
        };
        report.add("LLHLS-PART-04", name, Outcome::skip(why));
    }
    // INDEPENDENT flags against sync samples.
    for h in fr.hints.iter().filter(|h| h.fetch.status == Ok(200)) {
        let (Some(ind), Some(init)) = (h.independent, init_for(fr, h.map.as_ref())) else {
            continue;
        };
        report.add("LLHLS-PART-05", name, content::llhls_part_05(&h.url, ind, &h.data, init));
    }
    if last.is_low_latency() {
        for s in fr.segments.iter().filter(|s| !s.data.is_empty()) {
            if let Some(init) = init_for(fr, s.map.as_ref()) {
                report.add(
                    "LLHLS-PART-05",
                    name,
                    content::llhls_part_05_parent(s.msn, &s.data, init),
                );
            }
        }
    } else if format != Format::Ts {
        report.add(
            "LLHLS-PART-05",
            name,
            Outcome::skip("no partial segments (not a low-latency playlist); see CMAF-09"),
        );
    }
    // Timestamp continuity: consecutive segments, then consecutive parts.
    for w in fr.segments.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if b.msn != a.msn + 1 || a.data.is_empty() || b.data.is_empty() || a.map != b.map {
            continue;
        }
        if let Some(init) = init_for(fr, b.map.as_ref()) {
            let what = format!("segments {}->{}", a.msn, b.msn);
            report.add(
                "HLS-MP-15",
                name,
                content::hls_mp_15(&what, &a.data, &b.data, b.discontinuity, init),
            );
        }
    }
    for w in fr.hints.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if a.position.is_none()
            || b.previous != a.position
            || a.data.is_empty()
            || b.data.is_empty()
            || a.map != b.map
        {
            continue;
        }
        if let (Some(init), Some((am, ai)), Some((bm, bi))) =
            (init_for(fr, b.map.as_ref()), a.position, b.position)
        {
            let what = format!("parts {am}.{ai}->{bm}.{bi}");
            report.add(
                "HLS-MP-15",
                name,
                content::hls_mp_15(&what, &a.data, &b.data, b.discontinuity, init),
            );
        }
    }
    // HTTP headers.
    let expires: Vec<(String, Option<String>)> = fr
        .segments
        .iter()
        .filter(|s| s.fetch.status == Ok(200))
        .map(|s| (s.fetch.uri.clone(), s.expires.clone()))
        .collect();
    report.add("LLHLS-HTTP-03", name, delivery::llhls_http_03(&expires));

    // Measurements.
    let holds: Vec<f64> = fr.releases.iter().map(|r| r.hold).collect();
    let delays: Vec<f64> = fr.releases.iter().filter_map(|r| r.delay).collect();
    let p = |v: &[f64], q: f64| percentile(v, q).map_or("-".to_string(), ms);
    // The blocking-reload and part measurements mean nothing for a classic playlist.
    if last.is_low_latency() || !fr.releases.is_empty() {
        report.metric(
            format!("{name} blocking reload (request -> answer, waiting for next part)"),
            format!("p50 {} p99 {} n={}", p(&holds, 50.0), p(&holds, 99.0), holds.len()),
        );
        report.metric(
            format!("{name} release delay (playlist answer - hinted part headers)"),
            format!("p50 {} p99 {} n={}", p(&delays, 50.0), p(&delays, 99.0), delays.len()),
        );
        let max_ia = fr.inter_arrivals.iter().copied().fold(0.0, f64::max);
        report.metric(
            format!("{name} part inter-arrival"),
            format!(
                "p50 {} p99 {} max {} n={} (PART-TARGET {})",
                p(&fr.inter_arrivals, 50.0),
                p(&fr.inter_arrivals, 99.0),
                ms(max_ia),
                fr.inter_arrivals.len(),
                pt.map_or("-".to_string(), ms)
            ),
        );
        let transfers: Vec<f64> = fr.hints.iter().map(|h| h.fetch.transfer).collect();
        report.metric(
            format!("{name} hinted part first->last byte"),
            format!("p99 {} n={}", p(&transfers, 99.0), transfers.len()),
        );
    }
    report.metric(
        format!("{name} playlist"),
        format!(
            "{} bytes, {} segments, {} parts listed; {} reloads, {} segments fetched",
            fr.playlist_bytes,
            last.segments.len(),
            last.all_parts().len(),
            fr.reloads,
            fr.segments.len()
        ),
    );
}

/// Runs `sluice-check hls`.
pub fn check_hls(opts: &HlsOptions) -> Report {
    let mut report = Report::new(&opts.url.to_string(), opts.apple);
    let Some(entry) = entry(&opts.url, &mut report) else { return report };

    // Follow every rendition concurrently.
    let start = Instant::now();
    let deadline = start + opts.duration;
    let handles: Vec<_> = entry
        .renditions
        .iter()
        .cloned()
        .map(|(name, url)| thread::spawn(move || follow::follow(name, url, start, deadline)))
        .collect();
    let follows: Vec<FollowResult> = handles.into_iter().filter_map(|h| h.join().ok()).collect();

    let formats: Vec<Format> = follows.iter().map(segments::format_of).collect();
    let ts_obs: Vec<Vec<TsObservation>> = follows
        .iter()
        .zip(&formats)
        .map(|(f, k)| if *k == Format::Ts { segments::ts_observations(f) } else { Vec::new() })
        .collect();
    let mv_independent = entry.multivariant.as_ref().is_some_and(|m| m.independent_segments);
    for (i, fr) in follows.iter().enumerate() {
        if let Some(e) = &fr.error {
            let mut o = Outcome::new();
            o.must(format!("rendition unavailable: {e}"));
            report.add("HLS-MV-01", &fr.name, o);
        }
        judge_follow(fr, formats[i], &ts_obs[i], mv_independent, &mut report);
        report.metric(format!("{} segment format", fr.name), formats[i].name());
    }
    let ts_of = |f: &FollowResult| -> &[TsObservation] {
        follows
            .iter()
            .position(|x| std::ptr::eq(x, f))
            .and_then(|i| ts_obs.get(i))
            .map_or(&[], Vec::as_slice)
    };
    let live: Vec<&FollowResult> = follows.iter().filter(|f| f.last.is_some()).collect();
    let any_ll = live.iter().any(|f| f.last.as_ref().is_some_and(MediaPlaylist::is_low_latency));

    // Across renditions.
    let max_pt = live.iter().filter_map(|f| f.last.as_ref()?.part_target).reduce(f64::max);
    for f in &live {
        if let Some(p) = &f.last {
            report.add("LLHLS-SC-02", &f.name, media::llhls_sc_02(p, max_pt));
        }
    }
    let named: Vec<(String, &MediaPlaylist)> =
        live.iter().filter_map(|f| Some((f.name.clone(), f.last.as_ref()?))).collect();
    report.add("HLS-MV-05", "", multivariant::hls_mv_05(&named));
    let with_urls: Vec<(Url, &MediaPlaylist)> =
        live.iter().filter_map(|f| Some((f.url.clone()?, f.last.as_ref()?))).collect();
    report.add("LLHLS-RR-01", "", multivariant::llhls_rr_01(&with_urls));
    let mapping: Vec<(String, Option<(f64, f64)>)> = live
        .iter()
        .map(|f| {
            let m = f.segments.iter().find_map(|s| {
                let pdt = parse_pdt(s.pdt.as_ref()?).ok()?.0;
                let media = match init_for(f, s.map.as_ref()) {
                    Some(init) => main_track_media_time(&s.data, init)?,
                    None => segments::ts_media_time(ts_of(f), s.msn)?,
                };
                Some((pdt, media))
            });
            let has_pdt = f
                .last
                .as_ref()
                .is_some_and(|p| p.segments.iter().any(|s| s.program_date_time.is_some()));
            (f.name.clone(), if has_pdt { m.or(Some((f64::NAN, f64::NAN))) } else { None })
        })
        .collect();
    let mapping: Vec<(String, Option<(f64, f64)>)> =
        mapping.into_iter().filter(|(_, m)| m.is_none_or(|(a, _)| a.is_finite())).collect();
    report.add("HLS-MP-13", "", multivariant::hls_mp_13_mapping(&mapping));

    if let Some(mv) = &entry.multivariant {
        let rendition = |u: &str| -> Option<&FollowResult> {
            let url = opts.url.join(u).ok()?;
            live.iter().copied().find(|f| f.url.as_ref() == Some(&url))
        };
        let codecs_of = |u: &str| -> Option<Vec<String>> {
            let f = rendition(u)?;
            let mut v: Vec<String> =
                f.inits.values().flatten().filter_map(|t| t.codec.clone()).collect();
            v.extend(segments::ts_streams(ts_of(f)).into_iter().filter_map(|(_, _, c)| c));
            v.sort();
            v.dedup();
            Some(v)
        };
        report.add("HLS-MV-02", "", multivariant::hls_mv_02(mv, &codecs_of));
        let ts_streams_of = |u: &str| {
            let obs = ts_of(rendition(u)?);
            (!obs.is_empty()).then(|| segments::ts_streams(obs))
        };
        report.add("TS-10", "", crate::rules::ts::ts_10(mv, &ts_streams_of));
        let inits_of = |u: &str| -> Option<Vec<TrackInit>> {
            let f = rendition(u)?;
            let mut v: Vec<TrackInit> = f.inits.values().flatten().cloned().collect();
            v.dedup_by(|a, b| a.codec == b.codec && a.sample_entry == b.sample_entry);
            (!v.is_empty()).then_some(v)
        };
        if formats.contains(&Format::Fmp4) {
            report.add("CMAF-13", "", crate::rules::cmaf::cmaf_13(mv, &inits_of));
        } else {
            report.add("CMAF-13", "", Outcome::skip("no fMP4 rendition: CMAF does not apply"));
        }

        let is_video = |f: &FollowResult| {
            f.inits.values().flatten().any(|t| t.handler == "vide")
                || segments::ts_has_video(ts_of(f))
        };
        let video: Vec<(String, &MediaPlaylist)> = live
            .iter()
            .filter(|f| is_video(f))
            .filter_map(|f| Some((f.name.clone(), f.last.as_ref()?)))
            .collect();
        let mut not_independent: Vec<String> = live
            .iter()
            .filter(|f| f.inits.values().flatten().any(|t| t.handler == "vide"))
            .flat_map(|f| {
                f.segments.iter().filter_map(move |s| {
                    let init = init_for(f, s.map.as_ref())?;
                    (content::starts_with_sync(&s.data, init) == Some(false))
                        .then(|| s.fetch.uri.clone())
                })
            })
            .collect();
        for f in &live {
            not_independent.extend(segments::ts_not_independent(ts_of(f)));
        }
        report.add("HLS-MP-16", "", multivariant::hls_mp_16(mv, &video, &not_independent));

        for v in &mv.variants {
            let Some(Ok(declared)) = v.attrs.decimal_integer("BANDWIDTH") else { continue };
            let peak_of = |u: &str| {
                let url = opts.url.join(u).ok()?;
                let f = live.iter().find(|f| f.url.as_ref() == Some(&url))?;
                let td = f.last.as_ref()?.target_duration.unwrap_or(1);
                let segs: Vec<(usize, f64)> = f
                    .segments
                    .iter()
                    .filter(|s| !s.data.is_empty())
                    .map(|s| (s.data.len(), s.extinf))
                    .collect();
                peak_bitrate(&segs, td)
            };
            let members = multivariant::variant_members(mv, v);
            let Some(own) = members.first().and_then(|u| peak_of(u)) else {
                report.add("HLS-MV-01", "", Outcome::skip("no segments measured"));
                continue;
            };
            let others = members.iter().skip(1).filter_map(|u| peak_of(u)).fold(0.0, f64::max);
            report.add("HLS-MV-01", "", multivariant::hls_mv_01_measured(declared, own + others));
        }
    }

    // Probes.
    let mut cache: Vec<CacheSample> = live.iter().flat_map(|f| f.cache.clone()).collect();
    for (name, url) in &entry.renditions {
        probes::directives(name, url, &mut report);
        probes::delta_update(name, url, &mut report);
        probes::not_found_and_range(name, url, &mut report, &mut cache);
        let ll = live
            .iter()
            .any(|f| f.name == *name && f.last.as_ref().is_some_and(MediaPlaylist::is_low_latency));
        if let Some(gz) = probes::reload_burst_and_gzip(name, url, false, ll, &mut report) {
            report.metric(format!("{name} playlist gzip size"), format!("{gz} bytes"));
        }
    }
    if entry.multivariant.is_some() {
        let ll = live.iter().any(|f| f.last.as_ref().is_some_and(MediaPlaylist::is_low_latency));
        let _ =
            probes::reload_burst_and_gzip(opts.url.file_name(), &opts.url, true, ll, &mut report);
    }
    probes::rendition_reports(&entry.renditions, 10, &mut report);
    if entry.multivariant.is_none() {
        let why = "no multivariant playlist (CODECS lives there)";
        report.add("TS-10", "", Outcome::skip(why));
        report.add("CMAF-13", "", Outcome::skip(why));
    }
    if any_ll {
        report.add("LLHLS-HTTP-02", "", delivery::llhls_http_02(&cache));
    } else {
        report.add(
            "LLHLS-HTTP-02",
            "",
            Outcome::skip("not applicable: the Appendix B.1 cache lifetimes are for low-latency playlists (no EXT-X-PART-INF)"),
        );
    }
    report
}
