//! `sluice-check lint FILE...`: the single-response rules on playlist files (the fixtures), plus
//! TS-08 (EXTINF against TARGETDURATION) for playlists of `.ts` segments, and the
//! single-document section D rules on `.mpd` files.

use crate::dash::DASH_RULES;
use crate::live::segments::{Format, by_extension};
use crate::mpd::Mpd;
use crate::playlist::{Document, MediaPlaylist, Multivariant};
use crate::report::Report;
use crate::rules::{self, CATALOGUE, Outcome, dash, media, multivariant};

/// Section D rules that need a live server (SKIP in lint).
const LIVE_ONLY: &[&str] =
    &["DASH-MPD-05", "LLDASH-ST-02", "LLDASH-AV-01", "LLDASH-CTE-01", "LLDASH-HTTP-01"];

/// An MPD file: by extension, else by a root `<MPD` near the start.
fn is_mpd(name: &str, body: &[u8]) -> bool {
    name.to_ascii_lowercase().ends_with(".mpd")
        || String::from_utf8_lossy(&body[..body.len().min(512)]).contains("<MPD")
}

/// Judges each file on its own; a Media Playlist with a MEDIA-SEQUENCE above 0 is taken to have
/// had segments removed (for HLS-MP-06/07).
pub fn lint(files: &[(String, Vec<u8>)], apple: bool) -> Report {
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let mpds = files.iter().filter(|(n, b)| is_mpd(n, b)).count();
    let mut report = if mpds == 0 {
        Report::new(&names.join(" "), apple)
    } else if mpds == files.len() {
        Report::with_rules(&names.join(" "), DASH_RULES)
    } else {
        let ids: Vec<&str> =
            CATALOGUE.iter().map(|r| r.id).chain(DASH_RULES.iter().copied()).collect();
        Report::with_rules(&names.join(" "), &ids)
    };
    for (name, body) in files {
        let text = String::from_utf8_lossy(body).into_owned();
        if is_mpd(name, body) {
            match Mpd::parse(&text) {
                Ok(mpd) => {
                    for (id, o) in dash::snapshot(&mpd) {
                        report.add(id, name, o);
                    }
                }
                Err(e) => {
                    let mut o = Outcome::new();
                    o.must(format!("does not parse: {e}"));
                    report.add("DASH-MPD-01", name, o);
                }
            }
            for id in LIVE_ONLY {
                report.add(id, name, Outcome::skip("needs a live server (sluice-check dash)"));
            }
        } else if Document::parse(&text).is_multivariant() {
            let mv = Multivariant::parse(&text);
            for (id, o) in rules::multivariant_static(&text, body, &mv) {
                report.add(id, name, o);
            }
            report.add("HLS-MV-02", name, multivariant::hls_mv_02(&mv, &|_| None));
        } else {
            let p = MediaPlaylist::parse(&text);
            for (id, o) in rules::media_snapshot(&text, body, &p, p.media_sequence > 0) {
                report.add(id, name, o);
            }
            report.add("LLHLS-SC-02", name, media::llhls_sc_02(&p, p.part_target));
            let ts = p.segments.iter().any(|s| by_extension(&s.uri) == Format::Ts);
            if ts {
                report.add("TS-08", name, crate::rules::ts::ts_08(&p, &[]));
            }
        }
    }
    report
}
