//! `sluice-check lint FILE...`: the single-response rules on playlist files (the fixtures), plus
//! TS-08 (EXTINF against TARGETDURATION) for playlists of `.ts` segments.

use crate::live::segments::{Format, by_extension};
use crate::playlist::{Document, MediaPlaylist, Multivariant};
use crate::report::Report;
use crate::rules::{self, media, multivariant};

/// Judges each file on its own; a Media Playlist with a MEDIA-SEQUENCE above 0 is taken to have
/// had segments removed (for HLS-MP-06/07).
pub fn lint(files: &[(String, Vec<u8>)], apple: bool) -> Report {
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let mut report = Report::new(&names.join(" "), apple);
    for (name, body) in files {
        let text = String::from_utf8_lossy(body).into_owned();
        if Document::parse(&text).is_multivariant() {
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
