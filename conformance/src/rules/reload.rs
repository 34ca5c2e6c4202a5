//! Rules judged on two consecutive reloads of the same Media Playlist (what may change).

use super::{Level, Outcome};
use crate::playlist::{MediaPlaylist, Part};
use crate::url::Url;

/// HLS-MP-03.
pub fn hls_mp_03(prev: &MediaPlaylist, next: &MediaPlaylist) -> Outcome {
    // "The value of the EXT-X-TARGETDURATION tag in the Media Playlist MUST NOT change."
    // (§6.2.1)
    let mut o = Outcome::new();
    if prev.target_duration_raw != next.target_duration_raw {
        o.must(format!(
            "TARGETDURATION changed {:?} -> {:?}",
            prev.target_duration_raw.as_deref().unwrap_or("-"),
            next.target_duration_raw.as_deref().unwrap_or("-")
        ));
    }
    o
}

/// HLS-MP-04, progression across reloads.
pub fn hls_mp_04(prev: &MediaPlaylist, next: &MediaPlaylist) -> Outcome {
    // "Its value MUST be incremented by 1 for every Media Segment that is removed from the
    // Playlist file; it MUST NOT decrease or wrap." (§6.2.2) "The value of the
    // EXT-X-DISCONTINUITY-SEQUENCE tag MUST NOT decrease or wrap." (§6.2.2)
    let mut o = Outcome::new();
    if next.media_sequence < prev.media_sequence {
        o.must(format!(
            "MEDIA-SEQUENCE decreased {} -> {}",
            prev.media_sequence, next.media_sequence
        ));
    }
    if next.discontinuity_sequence < prev.discontinuity_sequence {
        o.must(format!(
            "DISCONTINUITY-SEQUENCE decreased {} -> {}",
            prev.discontinuity_sequence, next.discontinuity_sequence
        ));
    }
    for s in &next.segments {
        if let Some(old) = prev.segments.iter().find(|p| p.uri == s.uri) {
            if old.msn != s.msn {
                o.must(format!("{} had msn {} and now {}", s.uri, old.msn, s.msn));
                break;
            }
            if old.discontinuity_seq != s.discontinuity_seq {
                o.must(format!(
                    "{} had discontinuity sequence {} and now {}",
                    s.uri, old.discontinuity_seq, s.discontinuity_seq
                ));
                break;
            }
        }
    }
    o
}

fn same_parts(a: &Part, b: &Part) -> bool {
    a.uri == b.uri
        && a.attrs.text("DURATION") == b.attrs.text("DURATION")
        && a.independent == b.independent
        && a.gap == b.gap
}

/// HLS-MP-05.
pub fn hls_mp_05(prev: &MediaPlaylist, next: &MediaPlaylist) -> Outcome {
    // "The server MUST NOT change the Media Playlist file, except to: Append lines to it ...
    // Remove Media Segment URIs from the Playlist in the order that they appear ... Remove Media
    // Metadata tags that no longer apply ... Remove EXT-X-PART tags no longer at the live edge
    // ... Increment the value of the EXT-X-MEDIA-SEQUENCE or EXT-X-DISCONTINUITY-SEQUENCE tags
    // ... Add an EXT-X-ENDLIST tag" (§6.2.1) "Media Segments and EXT-X-PART tags MUST be
    // removed from the Playlist in the order that they appear" (§6.2.2)
    let mut o = Outcome::new();
    if prev.endlist && !next.endlist {
        o.must("EXT-X-ENDLIST disappeared");
    }
    let first_listed = next.segments.first().map(|s| s.msn).unwrap_or(next.next_msn());
    let last_listed = next.segments.last().map(|s| s.msn);
    for old in &prev.segments {
        if old.msn < first_listed {
            continue; // removed from the head (or skipped in a delta update)
        }
        let Some(new) = next.segments.iter().find(|s| s.msn == old.msn) else {
            if last_listed.is_none_or(|l| old.msn > l) {
                o.must(format!(
                    "msn {} ({}) vanished from the end of the playlist",
                    old.msn, old.uri
                ));
            } else {
                o.must(format!("msn {} ({}) removed from the middle", old.msn, old.uri));
            }
            continue;
        };
        if new.uri != old.uri || new.duration_raw != old.duration_raw {
            o.must(format!(
                "msn {} changed: {} EXTINF {} -> {} EXTINF {}",
                old.msn, old.uri, old.duration_raw, new.uri, new.duration_raw
            ));
        }
        if new.discontinuity != old.discontinuity || new.gap != old.gap {
            o.must(format!("msn {}: DISCONTINUITY/GAP changed", old.msn));
        }
        if let (Some(a), Some(b)) = (&old.program_date_time, &new.program_date_time)
            && a != b
        {
            o.must(format!("msn {}: PROGRAM-DATE-TIME changed {a} -> {b}", old.msn));
        }
        if old.map.as_ref().map(|m| &m.uri) != new.map.as_ref().map(|m| &m.uri) {
            o.must(format!("msn {}: EXT-X-MAP changed", old.msn));
        }
        if !new.parts.is_empty() && !parts_equal(&old.parts, &new.parts) {
            o.must(format!(
                "msn {}: EXT-X-PART list changed ({} -> {} parts)",
                old.msn,
                old.parts.len(),
                new.parts.len()
            ));
        }
    }
    // Parts of the parent in production may only be extended.
    let in_progress = prev.next_msn();
    if !prev.trailing_parts.is_empty() && in_progress >= first_listed {
        let later: &[Part] = match next.segments.iter().find(|s| s.msn == in_progress) {
            Some(s) => &s.parts,
            None if next.next_msn() == in_progress => &next.trailing_parts,
            None => &[],
        };
        let gone =
            next.segments.iter().all(|s| s.msn != in_progress) && next.next_msn() != in_progress;
        if gone && next.next_msn() < in_progress {
            o.must(format!("parts of msn {in_progress} vanished"));
        } else if !later.is_empty() && !is_prefix(&prev.trailing_parts, later) {
            o.must(format!(
                "parts of msn {in_progress} changed: had {} parts ({}), now {} ({})",
                prev.trailing_parts.len(),
                uris(&prev.trailing_parts),
                later.len(),
                uris(later)
            ));
        } else if later.is_empty()
            && next.segments.iter().any(|s| s.msn == in_progress)
            && next.skip.is_none()
        {
            // The parent completed and its parts were dropped at once: allowed only far from the edge.
            o.should(format!("parts of msn {in_progress} dropped as soon as it completed"));
        }
    }
    // EXT-X-PART tags are removed oldest first.
    let with_parts: Vec<u64> =
        next.segments.iter().filter(|s| !s.parts.is_empty()).map(|s| s.msn).collect();
    if let Some(first_with) = with_parts.first()
        && let Some(gap) = next.segments.iter().find(|s| {
            s.msn > *first_with
                && s.parts.is_empty()
                && prev.segments.iter().any(|p| p.msn == s.msn && !p.parts.is_empty())
        })
    {
        o.must(format!(
            "parts of msn {} removed while older msn {first_with} keeps its parts",
            gap.msn
        ));
    }
    if prev.playlist_type.as_deref() == Some("EVENT") && next.media_sequence > prev.media_sequence {
        o.must("EVENT playlist removed segments");
    }
    if prev.playlist_type.as_deref() == Some("VOD") && prev.doc != next.doc {
        o.must("VOD playlist changed");
    }
    o
}

fn parts_equal(a: &[Part], b: &[Part]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_parts(x, y))
}

fn is_prefix(a: &[Part], b: &[Part]) -> bool {
    a.len() <= b.len() && a.iter().zip(b).all(|(x, y)| same_parts(x, y))
}

fn uris(parts: &[Part]) -> String {
    let v: Vec<&str> = parts.iter().map(|p| p.uri.as_deref().unwrap_or("?")).collect();
    let s = v.join(" ");
    if s.len() > 80 { format!("{}…", &s[..s.floor_char_boundary(80)]) } else { s }
}

/// LLHLS-PI-02.
pub fn llhls_pi_02(prev: &MediaPlaylist, next: &MediaPlaylist) -> Outcome {
    // Derived from "The server MUST NOT change the Media Playlist file, except to ..." (§6.2.1):
    // PART-TARGET and EXT-X-SERVER-CONTROL are not among the allowed changes (AVPlayer -12642
    // "illegal PART-HOLD-BACK change").
    let uses = |p: &MediaPlaylist| p.part_inf.is_some() || p.server_control.is_some();
    if !uses(prev) && !uses(next) {
        return Outcome::skip("no EXT-X-PART-INF or EXT-X-SERVER-CONTROL");
    }
    let mut o = Outcome::new();
    let pt = |p: &MediaPlaylist| {
        p.part_inf.as_ref().and_then(|a| a.text("PART-TARGET").map(str::to_string))
    };
    if pt(prev) != pt(next) {
        o.must(format!("PART-TARGET changed {:?} -> {:?}", pt(prev), pt(next)));
    }
    let sc = MediaPlaylist::server_control_pairs;
    if sc(prev) != sc(next) {
        o.must(format!("EXT-X-SERVER-CONTROL changed {:?} -> {:?}", sc(prev), sc(next)));
    }
    o
}

/// The parts of `next` that were not in `prev`, oldest first.
pub fn new_parts<'a>(prev: &MediaPlaylist, next: &'a MediaPlaylist) -> Vec<(u64, u64, &'a Part)> {
    let last = prev.last_part();
    next.all_parts()
        .into_iter()
        .filter(|(m, i, _)| match last {
            Some((lm, li)) => *m > lm || (*m == lm && *i > li),
            None => true,
        })
        .collect()
}

/// LLHLS-PH-05; `hint_status` is the status of a GET of the previous hint, if one was made.
pub fn llhls_ph_05(
    prev: &MediaPlaylist,
    next: &MediaPlaylist,
    base: &Url,
    hint_status: Option<u16>,
) -> Outcome {
    // "URI ... It MUST match the URI that will be subsequently added to the Playlist as a
    // non-hinted resource (for example, the URI of an EXT-X-PART tag)." (§4.4.5.3) "A server MAY
    // choose not to publish previously-hinted resources ... SHOULD respond to client requests for
    // those resources with "Not Found"" (§6.2.6)
    let Some(hint) = prev.part_hint().and_then(|h| h.uri.clone()) else {
        return Outcome::skip("no PART hint in the earlier playlist");
    };
    let fresh = new_parts(prev, next);
    let Some((m, i, first)) = fresh.first() else { return Outcome::skip("no new part yet") };
    let mut o = Outcome::new();
    let published = first.uri.clone().unwrap_or_default();
    let same = published == hint
        || matches!((base.join(&published), base.join(&hint)), (Ok(a), Ok(b)) if a == b);
    if !same {
        if hint_status == Some(404) {
            o.note(format!("hint {hint} abandoned (404); next part {m}.{i} is {published}"));
        } else {
            o.must(format!("hinted {hint} but the next part {m}.{i} is {published}"));
        }
    }
    o
}

/// LLHLS-PH-01, MAP half: a new part with a new init must have been hinted with TYPE=MAP.
pub fn llhls_ph_01_map(prev: &MediaPlaylist, next: &MediaPlaylist) -> Outcome {
    // "If the Partial Segment specified by an EXT-X-PRELOAD-HINT tag has a different Media
    // Initialization Section than the last Partial Segment in the Playlist, the Playlist will
    // also contain an EXT-X-PRELOAD-HINT tag with TYPE=MAP that hints the Media Initialization
    // Section of the hinted Partial Segment." (App. B.1)
    let fresh = new_parts(prev, next);
    let Some((m, i, first)) = fresh.first() else { return Outcome::skip("no new part yet") };
    let old_map = prev.final_map.as_ref().and_then(|m| m.uri.clone());
    let new_map = first.map.as_ref().and_then(|m| m.uri.clone());
    let mut o = Outcome::new();
    if old_map != new_map
        && !prev
            .preload_hints
            .iter()
            .any(|h| h.hint_type.as_deref() == Some("MAP") && h.uri == new_map)
    {
        o.problem(
            Level::Profile,
            format!("part {m}.{i} switched init to {new_map:?} without a PRELOAD-HINT TYPE=MAP"),
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pl(msn: u64, segs: &[u64], trailing: &[&str], hint: &str) -> MediaPlaylist {
        let mut t = format!(
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6\n\
             #EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-MEDIA-SEQUENCE:{msn}\n#EXT-X-MAP:URI=\"init.mp4\"\n"
        );
        for s in segs {
            t.push_str(&format!(
                "#EXT-X-PART:DURATION=0.2,URI=\"{s}.0.m4s\",INDEPENDENT=YES\n#EXT-X-PART:DURATION=0.2,URI=\"{s}.1.m4s\"\n#EXTINF:0.4,\n{s}.m4s\n"
            ));
        }
        for u in trailing {
            let ind = if u.ends_with(".0.m4s") { ",INDEPENDENT=YES" } else { "" };
            t.push_str(&format!("#EXT-X-PART:DURATION=0.2,URI=\"{u}\"{ind}\n"));
        }
        if !hint.is_empty() {
            t.push_str(&format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{hint}\"\n"));
        }
        MediaPlaylist::parse(&t)
    }

    fn fails(o: &Outcome) -> bool {
        o.problems.iter().any(|p| p.level.fails(false))
    }

    fn base() -> Url {
        Url::parse("http://h:1/live/x/hls/video.m3u8").unwrap()
    }

    #[test]
    fn normal_progress_passes_every_reload_rule() {
        let a = pl(10, &[10, 11], &["12.0.m4s"], "12.1.m4s");
        let b = pl(11, &[11, 12], &[], "13.0.m4s");
        // b lists 12 complete with parts 12.0, 12.1: hint 12.1 was published.
        for o in [
            hls_mp_03(&a, &b),
            hls_mp_04(&a, &b),
            hls_mp_05(&a, &b),
            llhls_pi_02(&a, &b),
            llhls_ph_05(&a, &b, &base(), None),
            llhls_ph_01_map(&a, &b),
        ] {
            assert!(o.problems.is_empty(), "{:?}", o.problems);
        }
    }

    #[test]
    fn mp_03_flags_target_duration_change() {
        let a = pl(10, &[10], &[], "");
        let b = MediaPlaylist::parse(&a.doc_text().replace("TARGETDURATION:1", "TARGETDURATION:2"));
        assert!(fails(&hls_mp_03(&a, &b)));
    }

    #[test]
    fn mp_04_flags_decrease_and_renumbering() {
        let a = pl(10, &[10, 11], &[], "");
        let b = pl(9, &[10, 11], &[], "");
        assert!(fails(&hls_mp_04(&a, &b)));
        let renumbered =
            MediaPlaylist::parse(&a.doc_text().replace("MEDIA-SEQUENCE:10", "MEDIA-SEQUENCE:11"));
        assert!(fails(&hls_mp_04(&a, &renumbered)));
    }

    #[test]
    fn mp_05_flags_changed_extinf_removed_tail_and_rewritten_parts() {
        let a = pl(10, &[10, 11], &["12.0.m4s"], "12.1.m4s");
        let changed = MediaPlaylist::parse(&a.doc_text().replacen(
            "#EXTINF:0.4,\n11.m4s",
            "#EXTINF:0.5,\n11.m4s",
            1,
        ));
        assert!(fails(&hls_mp_05(&a, &changed)));
        let shrunk = pl(10, &[10], &[], "");
        assert!(fails(&hls_mp_05(&a, &shrunk)));
        let rewritten = pl(10, &[10, 11], &["12.0-b.m4s", "12.1.m4s"], "12.2.m4s");
        assert!(fails(&hls_mp_05(&a, &rewritten)));
    }

    #[test]
    fn pi_02_flags_part_target_or_server_control_change() {
        let a = pl(10, &[10], &[], "");
        let b = MediaPlaylist::parse(&a.doc_text().replace("PART-TARGET=0.2", "PART-TARGET=0.25"));
        assert!(fails(&llhls_pi_02(&a, &b)));
        let c = MediaPlaylist::parse(
            &a.doc_text().replace("PART-HOLD-BACK=0.6", "PART-HOLD-BACK=0.75"),
        );
        assert!(fails(&llhls_pi_02(&a, &c)));
    }

    #[test]
    fn ph_05_flags_hint_that_is_not_published() {
        let a = pl(10, &[10], &["11.0.m4s"], "11.1.m4s");
        let b = pl(10, &[10], &["11.0.m4s", "11.1-other.m4s"], "11.2.m4s");
        assert!(fails(&llhls_ph_05(&a, &b, &base(), None)));
        let o = llhls_ph_05(&a, &b, &base(), Some(404));
        assert!(!fails(&o) && !o.notes.is_empty());
        let good = pl(10, &[10], &["11.0.m4s", "11.1.m4s"], "11.2.m4s");
        assert!(llhls_ph_05(&a, &good, &base(), None).problems.is_empty());
    }

    #[test]
    fn ph_01_map_flags_unhinted_init_switch() {
        let a = pl(10, &[10], &["11.0.m4s"], "11.1.m4s");
        let b = MediaPlaylist::parse(&format!(
            "{}#EXT-X-MAP:URI=\"init-2.mp4\"\n#EXT-X-PART:DURATION=0.2,URI=\"11.1.m4s\"\n",
            a.doc_text().replace("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"11.1.m4s\"\n", "")
        ));
        assert!(llhls_ph_01_map(&a, &b).has_level(Level::Profile));
    }

    impl MediaPlaylist {
        fn doc_text(&self) -> String {
            use crate::playlist::ItemKind;
            let mut s = String::new();
            for it in &self.doc.items {
                match &it.kind {
                    ItemKind::Tag { name, value: Some(v) } => s.push_str(&format!("#{name}:{v}\n")),
                    ItemKind::Tag { name, value: None } => s.push_str(&format!("#{name}\n")),
                    ItemKind::Uri(u) => s.push_str(&format!("{u}\n")),
                    _ => s.push('\n'),
                }
            }
            s
        }
    }
}
