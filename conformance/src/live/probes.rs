//! One-off requests made after following: delivery-directive edge cases, delta updates, 404s,
//! Range, gzip, rapid reloads and rendition-report cross-checks.

use std::thread;
use std::time::Duration;

use super::observe::{self, blocking_timeout};
use crate::playlist::{MediaPlaylist, Multivariant};
use crate::report::Report;
use crate::rules::delivery::{self, CacheSample};
use crate::rules::multivariant;
use crate::url::Url;

fn fresh(url: &Url) -> Option<MediaPlaylist> {
    observe::get(url, Duration::from_secs(5), &[], true).0.playlist
}

fn td_of(p: &MediaPlaylist) -> u64 {
    p.target_duration.unwrap_or(1).max(1)
}

/// The URI of part 0 of the segment ten ahead, derived from the newest part's URI when it
/// spells out "{msn}.{part}" (or "{msn}").
pub fn far_part_uri(uri: &str, msn: u64, part: u64) -> Option<String> {
    let mp = format!("{msn}.{part}");
    if let Some(i) = uri.rfind(&mp) {
        return Some(format!("{}{}.0{}", &uri[..i], msn + 10, &uri[i + mp.len()..]));
    }
    let m = msn.to_string();
    let i = uri.rfind(&m)?;
    Some(format!("{}{}{}", &uri[..i], msn + 10, &uri[i + m.len()..]))
}

/// Delivery-directive probes against one rendition (DD-01, DD-02, DD-03, DD-04, DD-06).
pub fn directives(name: &str, url: &Url, report: &mut Report) {
    let Some(p) = fresh(url) else {
        report.add(
            "LLHLS-DD-03",
            name,
            crate::rules::Outcome::skip("playlist unavailable for probes"),
        );
        return;
    };
    let td = td_of(&p);
    let can_block = p.server_control.as_ref().is_some_and(|s| s.can_block_reload);

    // DD-03: _HLS_part without _HLS_msn (a Blocking Playlist Reload requirement, §6.2.5.2).
    if can_block {
        let (o, _) = observe::get(
            &url.with_params(&[("_HLS_part", "0".into())]),
            Duration::from_secs(3),
            &[],
            true,
        );
        report.add("LLHLS-DD-03", name, delivery::llhls_dd_03(&o));
    } else {
        report.add(
            "LLHLS-DD-03",
            name,
            crate::rules::Outcome::skip(
                "not applicable: no CAN-BLOCK-RELOAD=YES (the server does not offer blocking reloads)",
            ),
        );
    }

    // DD-06: _HLS_skip on a playlist that cannot skip (or has ENDLIST).
    let (skip_obs, _) = observe::get(
        &url.with_params(&[("_HLS_skip", "YES".into())]),
        Duration::from_secs(3),
        &[],
        true,
    );
    let endlist_obs = p.endlist.then(|| {
        observe::get(
            &url.with_params(&[("_HLS_msn", (p.next_msn() + 1).to_string())]),
            Duration::from_secs(3),
            &[],
            true,
        )
        .0
    });
    report.add(
        "LLHLS-DD-06",
        name,
        delivery::llhls_dd_06(&p, Some(&skip_obs), endlist_obs.as_ref()),
    );

    if !can_block {
        for id in ["LLHLS-DD-01", "LLHLS-DD-02", "LLHLS-DD-04"] {
            report.add(id, name, crate::rules::Outcome::skip("no CAN-BLOCK-RELOAD=YES"));
        }
        return;
    }
    if p.all_parts().is_empty() {
        report.add("LLHLS-DD-02", name, crate::rules::Outcome::skip("no partial segments"));
    }

    // DD-04: far-future msn, far-future part, and a legal msn two ahead.
    let in_progress = p.next_msn();
    let (far, _) = observe::get(
        &url.with_params(&[("_HLS_msn", (in_progress + 3).to_string())]),
        Duration::from_secs(2),
        &[],
        true,
    );
    // Asked in the segment after the newest part's, so that a parent completing meanwhile
    // cannot turn it into "part 0 of the following Parent Segment" (a MUST that wins).
    let far_part = match (p.part_target, p.last_part()) {
        (Some(pt), Some((m, _))) if pt > 0.0 => {
            let apl = if pt < 1.0 { (3.0 / pt).ceil() as u64 } else { 3 };
            let target = url.with_params(&[
                ("_HLS_msn", (m + 1).to_string()),
                ("_HLS_part", (apl + 1).to_string()),
            ]);
            Some(observe::get(&target, Duration::from_secs(2), &[], true).0)
        }
        _ => None,
    };
    let near_msn = p.last_msn().map_or(in_progress + 1, |m| m + 2);
    let (near, _) = observe::get(
        &url.with_params(&[("_HLS_msn", near_msn.to_string())]),
        Duration::from_millis(1000),
        &[],
        true,
    );
    report.add("LLHLS-DD-04", name, delivery::llhls_dd_04(&far, far_part.as_ref(), &near));

    // DD-01: _HLS_msn for the segment in production.
    let Some(p) = fresh(url) else { return };
    let m = p.next_msn();
    let (o, _) = observe::get(
        &url.with_params(&[("_HLS_msn", m.to_string())]),
        blocking_timeout(td),
        &[],
        true,
    );
    report.add("LLHLS-DD-01", name, delivery::llhls_dd_01(m, &o));

    // DD-02: a part index past the final part of a complete parent means part 0 of the next.
    if let Some(p) = fresh(url)
        && let Some(s) = p.segments.iter().rev().find(|s| !s.parts.is_empty())
    {
        let (m, k) = (s.msn, s.parts.len() as u64);
        let (o, _) = observe::get(
            &url.with_params(&[("_HLS_msn", m.to_string()), ("_HLS_part", k.to_string())]),
            blocking_timeout(td),
            &[],
            true,
        );
        report.add("LLHLS-DD-02", name, delivery::llhls_dd_02(m + 1, 0, &o));
    }
}

/// LLHLS-SKIP-01 (and SKIP-02 applicability) against one rendition.
pub fn delta_update(name: &str, url: &Url, report: &mut Report) {
    let Some(p) = fresh(url) else { return };
    let sc = p.server_control.clone();
    if sc.as_ref().and_then(|s| s.can_skip_until).is_none() {
        report.add("LLHLS-SKIP-01", name, crate::rules::Outcome::skip("no CAN-SKIP-UNTIL"));
        report.add("LLHLS-SKIP-02", name, crate::rules::Outcome::skip("no CAN-SKIP-UNTIL"));
        return;
    }
    if !sc.as_ref().is_some_and(|s| s.can_skip_dateranges) {
        report.add(
            "LLHLS-SKIP-02",
            name,
            crate::rules::Outcome::skip("no CAN-SKIP-DATERANGES=YES"),
        );
    } else {
        report.add(
            "LLHLS-SKIP-02",
            name,
            crate::rules::Outcome::skip(
                "date-range skipping not exercised (no date ranges generated)",
            ),
        );
    }
    // Full and delta at the same point: ask both for the part that already exists.
    for _ in 0..5 {
        let Some(p) = fresh(url) else { return };
        let point: Vec<(&str, String)> = match p.last_part() {
            Some((m, i)) => vec![("_HLS_msn", m.to_string()), ("_HLS_part", i.to_string())],
            None => vec![("_HLS_msn", p.last_msn().unwrap_or(0).to_string())],
        };
        let full_url = url.with_params(&point);
        let mut with_skip = point.clone();
        with_skip.push(("_HLS_skip", "YES".into()));
        let delta_url = url.with_params(&with_skip);
        let t =
            thread::spawn(move || observe::get(&delta_url, Duration::from_secs(5), &[], true).0);
        let full = observe::get(&full_url, Duration::from_secs(5), &[], true).0;
        let Ok(delta) = t.join() else { return };
        let (Some(f), Some(d)) = (full.playlist, delta.playlist.clone()) else {
            let mut o = crate::rules::Outcome::new();
            o.must(format!("delta update request answered {}", delta.describe()));
            report.add("LLHLS-SKIP-01", name, o);
            return;
        };
        if f.last_part() == d.last_part() && f.last_msn() == d.last_msn() {
            report.add("LLHLS-SKIP-01", name, delivery::llhls_skip_01(&f, &d));
            report.add("HLS-PL-06", &format!("{name} (delta)"), crate::rules::media::hls_pl_06(&d));
            return;
        }
    }
    report.add(
        "LLHLS-SKIP-01",
        name,
        crate::rules::Outcome::skip("could not catch full and delta at the same point"),
    );
}

/// LLHLS-PL-02, LLHLS-HTTP-01, LLHLS-HTTP-02 (failure cases) against one rendition.
pub fn not_found_and_range(
    name: &str,
    url: &Url,
    report: &mut Report,
    cache: &mut Vec<CacheSample>,
) {
    let Some(p) = fresh(url) else { return };
    let td = td_of(&p) as f64;
    let unknown_url = url.join("sluice-check-no-such-resource.m4s").ok();
    let Some(unknown_url) = unknown_url else { return };
    let (unknown, _) = observe::get(&unknown_url, Duration::from_secs(3), &[], false);
    cache.push(CacheSample { kind: "media 404", expected: td, got: unknown.max_age });
    let far = p
        .last_part()
        .and_then(|(m, i)| {
            let part =
                p.all_parts().into_iter().find(|(a, b, _)| *a == m && *b == i)?.2.uri.clone()?;
            far_part_uri(&part, m, i)
        })
        .or_else(|| p.segments.last().and_then(|s| far_part_uri(&s.uri, s.msn, 0)))
        .and_then(|u| url.join(&u).ok())
        .map(|u| observe::get(&u, Duration::from_secs(3), &[], false).0);
    if p.preload_hints.is_empty() {
        report.add(
            "LLHLS-PL-02",
            name,
            crate::rules::Outcome::skip(
                "not applicable: no EXT-X-PRELOAD-HINT (§6.2.6 is about hinted resources)",
            ),
        );
    } else {
        report.add("LLHLS-PL-02", name, delivery::llhls_pl_02(far.as_ref(), &unknown));
    }

    let (missing_pl, _) = observe::get(
        &url.join("sluice-check-no-such-playlist.m3u8").unwrap_or_else(|_| url.clone()),
        Duration::from_secs(3),
        &[],
        false,
    );
    if missing_pl.status == Some(404) {
        cache.push(CacheSample {
            kind: "non-blocking playlist 404",
            expected: td,
            got: missing_pl.max_age,
        });
    }

    // Range on the newest complete segment.
    let uses_byterange = p.all_parts().iter().any(|(_, _, x)| x.byterange.is_some())
        || p.segments.iter().any(|s| s.byterange.is_some())
        || p.preload_hints
            .iter()
            .any(|h| h.attrs.has("BYTERANGE-START") || h.attrs.has("BYTERANGE-LENGTH"));
    if !p.is_low_latency() && !uses_byterange {
        report.add(
            "LLHLS-HTTP-01",
            name,
            crate::rules::Outcome::skip(
                "not applicable: Appendix B.1 (low-latency profile) and no byte ranges in use",
            ),
        );
        return;
    }
    let range = p
        .segments
        .last()
        .and_then(|s| url.join(&s.uri).ok())
        .map(|u| observe::get(&u, Duration::from_secs(5), &[("Range", "bytes=0-99")], false).0);
    report.add("LLHLS-HTTP-01", name, delivery::llhls_http_01(uses_byterange, range.as_ref(), 100));
}

fn complete(text: &str, multivariant: bool) -> Result<(), String> {
    if !multivariant {
        return MediaPlaylist::parse(text).looks_complete();
    }
    let mv = Multivariant::parse(text);
    if !text.starts_with("#EXTM3U") {
        return Err("does not start with #EXTM3U".into());
    }
    if mv.variants.is_empty() || !mv.doc.ends_with_newline {
        return Err("no EXT-X-STREAM-INF or last line not terminated (truncated?)".into());
    }
    match mv.issues.first() {
        Some(i) => Err(i.clone()),
        None => Ok(()),
    }
}

/// HLS-MP-09 (rapid reloads) and HLS-MP-14 (gzip) against one playlist URL. Returns the gzip
/// wire size for the measurements.
pub fn reload_burst_and_gzip(
    name: &str,
    url: &Url,
    multivariant: bool,
    low_latency: bool,
    report: &mut Report,
) -> Option<usize> {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let u = url.clone();
            thread::spawn(move || {
                (0..10)
                    .map(|_| match observe::get(&u, Duration::from_secs(5), &[], false) {
                        (o, Some(r)) if o.status == Some(200) => complete(&r.text(), multivariant),
                        (o, _) => Err(format!("answered {}", o.describe())),
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Result<(), String>> =
        handles.into_iter().filter_map(|h| h.join().ok()).flatten().collect();
    report.add("HLS-MP-09", name, delivery::hls_mp_09(&results));

    let (o, resp) =
        observe::get(url, Duration::from_secs(5), &[("Accept-Encoding", "gzip")], false);
    let mut outcome = delivery::hls_mp_14(&o, low_latency);
    if let Some(r) = &resp
        && r.status == 200
        && let Err(e) = complete(&r.text(), multivariant)
    {
        outcome.must(format!("body received with Accept-Encoding: gzip is incomplete: {e}"));
    }
    report.add("HLS-MP-14", name, outcome);
    resp.filter(|r| r.gzip).map(|r| r.wire_body_len)
}

/// LLHLS-RR-03: every rendition report checked against the reported playlist, sampled
/// `samples` times per pair.
pub fn rendition_reports(renditions: &[(String, Url)], samples: usize, report: &mut Report) {
    let any =
        renditions.iter().any(|(_, u)| fresh(u).is_some_and(|p| !p.rendition_reports.is_empty()));
    if !any {
        report.add("LLHLS-RR-03", "", crate::rules::Outcome::skip("no EXT-X-RENDITION-REPORT"));
        return;
    }
    for (name, url) in renditions {
        for k in 0..samples {
            let Some(p) = fresh(url) else { break };
            let own = p.last_part();
            for r in &p.rendition_reports {
                let Some(other) = r.uri.as_ref().and_then(|u| url.join(u).ok()) else { continue };
                let last_msn = r.last_msn.or(own.map(|o| o.0)).or(p.last_msn());
                let Some(last_msn) = last_msn else { continue };
                let last_part =
                    r.last_part.or(if r.last_msn.is_none() { own.map(|o| o.1) } else { None });
                let mut params = vec![("_HLS_msn", last_msn.to_string())];
                if let Some(lp) = last_part {
                    params.push(("_HLS_part", lp.to_string()));
                }
                let (obs, _) =
                    observe::get(&other.with_params(&params), Duration::from_secs(3), &[], true);
                let what = format!("{name} -> {}", other.file_name());
                report.add(
                    "LLHLS-RR-03",
                    "",
                    multivariant::llhls_rr_03(&what, last_msn, last_part, &obs),
                );
            }
            if k + 1 < samples {
                thread::sleep(Duration::from_millis(70));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_part_uri_shifts_the_sequence_number() {
        assert_eq!(far_part_uri("video/123.4.m4s", 123, 4).as_deref(), Some("video/133.0.m4s"));
        assert_eq!(far_part_uri("seg-7.m4s", 7, 0).as_deref(), Some("seg-17.m4s"));
        assert_eq!(far_part_uri("opaque.m4s", 7, 0), None);
    }
}
