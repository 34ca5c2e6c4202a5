//! Rules judged on the Multivariant Playlist and across its renditions.

use super::delivery::Observed;
use super::{Level, Outcome, ms};
use crate::playlist::{MediaPlaylist, Multivariant};
use crate::url::Url;

/// HLS-MV-01, syntax part.
pub fn hls_mv_01(mv: &Multivariant) -> Outcome {
    // "Every EXT-X-STREAM-INF tag MUST include the BANDWIDTH attribute." "The URI line that
    // follows the EXT-X-STREAM-INF tag specifies a Media Playlist ... The URI line is REQUIRED."
    // (§4.4.6.2)
    if mv.variants.is_empty() {
        return Outcome::skip("no EXT-X-STREAM-INF");
    }
    let mut o = Outcome::new();
    for v in &mv.variants {
        match v.attrs.decimal_integer("BANDWIDTH") {
            None => o.must(format!("line {}: STREAM-INF without BANDWIDTH", v.line)),
            Some(Err(e)) => o.must(format!("line {}: {e}", v.line)),
            Some(Ok(_)) => {}
        }
        if v.uri.is_none() {
            o.must(format!("line {}: STREAM-INF not followed by a URI line", v.line));
        }
    }
    o
}

/// HLS-MV-01, measured part: declared BANDWIDTH against the measured peak segment bit rate of
/// the variant (video playlist + its audio rendition).
pub fn hls_mv_01_measured(declared: u64, peak_bps: f64) -> Outcome {
    // "BANDWIDTH ... represents the peak segment bit rate of the Variant Stream." "If the
    // Multivariant Playlist is to be made available before all Media Segments in the
    // presentation have been encoded, the BANDWIDTH value SHOULD be the BANDWIDTH value of a
    // representative period of similar content" (§4.4.6.2); RULES.md flags > 110 %.
    let mut o = Outcome::new();
    let ratio = peak_bps / declared.max(1) as f64;
    if ratio > 1.1 {
        o.must(format!(
            "measured peak {:.0} kbit/s is {:.0} % of BANDWIDTH {} kbit/s",
            peak_bps / 1000.0,
            ratio * 100.0,
            declared / 1000
        ));
    } else {
        o.evidence(format!(
            "peak {:.0} kbit/s = {:.0} % of BANDWIDTH",
            peak_bps / 1000.0,
            ratio * 100.0
        ));
    }
    o
}

/// Renditions (Media Playlist URIs) that make up a variant: its own URI and its groups' URIs.
pub fn variant_members(mv: &Multivariant, v: &crate::playlist::Variant) -> Vec<String> {
    let mut out: Vec<String> = v.uri.iter().cloned().collect();
    for (attr, ty) in [("AUDIO", "AUDIO"), ("VIDEO", "VIDEO"), ("SUBTITLES", "SUBTITLES")] {
        if let Some(group) = v.attrs.text(attr) {
            for r in &mv.renditions {
                if r.attrs.text("TYPE") == Some(ty)
                    && r.attrs.text("GROUP-ID") == Some(group)
                    && let Some(u) = r.attrs.text("URI")
                    && !out.iter().any(|x| x == u)
                {
                    out.push(u.to_string());
                }
            }
        }
    }
    out
}

/// HLS-MV-02; `codecs_of` maps a rendition URI (as written in the multivariant) to the codec
/// strings found in its init segment.
pub fn hls_mv_02(mv: &Multivariant, codecs_of: &dyn Fn(&str) -> Option<Vec<String>>) -> Outcome {
    // "Every EXT-X-STREAM-INF tag SHOULD include a CODECS attribute." (§4.4.6.2) "If an
    // EXT-X-STREAM-INF tag or EXT-X-I-FRAME-STREAM-INF tag contains the CODECS attribute, the
    // attribute value MUST include every media format [RFC6381] present in any Media Segment in
    // any of the Renditions specified by the Variant Stream." (§6.2.4)
    if mv.variants.is_empty() {
        return Outcome::skip("no EXT-X-STREAM-INF");
    }
    let mut o = Outcome::new();
    for v in &mv.variants {
        let Some(codecs) = v.attrs.text("CODECS") else {
            o.problem(Level::Apple, format!("line {}: STREAM-INF without CODECS", v.line));
            continue;
        };
        let listed: Vec<String> =
            codecs.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
        for member in variant_members(mv, v) {
            let Some(found) = codecs_of(&member) else { continue };
            for c in found {
                let lc = c.to_ascii_lowercase();
                let present =
                    listed.iter().any(|l| *l == lc || (lc.len() == 4 && l.starts_with(&lc)));
                if !present {
                    o.must(format!("{member} carries {c} but CODECS is \"{codecs}\""));
                } else {
                    o.evidence(format!("{member}: {c}"));
                }
            }
        }
    }
    o
}

fn is_video_codec(c: &str) -> bool {
    ["avc1", "avc3", "hvc1", "hev1", "av01", "vp09", "vp08", "dvh1", "dvhe"]
        .iter()
        .any(|p| c.trim().starts_with(p))
}

/// HLS-MV-03.
pub fn hls_mv_03(mv: &Multivariant) -> Outcome {
    // "The RESOLUTION attribute is OPTIONAL but is recommended if the Variant Stream includes
    // video." "The FRAME-RATE attribute is OPTIONAL but is recommended if the Variant Stream
    // includes video. The FRAME-RATE attribute SHOULD be included if any video in a Variant
    // Stream exceeds 30 frames per second." (§4.4.6.2); HAS: required.
    let mut o = Outcome::new();
    let mut any_video = false;
    for v in &mv.variants {
        let video = match v.attrs.text("CODECS") {
            Some(c) => c.split(',').any(is_video_codec),
            None => true,
        };
        if !video {
            continue;
        }
        any_video = true;
        match v.attrs.text("RESOLUTION") {
            None => o.problem(
                Level::Apple,
                format!("line {}: video variant without RESOLUTION", v.line),
            ),
            Some(r) => {
                let ok = r.split_once('x').is_some_and(|(w, h)| {
                    crate::attrs::is_decimal_integer(w) && crate::attrs::is_decimal_integer(h)
                });
                if !ok {
                    o.must(format!("line {}: RESOLUTION={r} is not a decimal-resolution", v.line));
                }
            }
        }
        match v.attrs.decimal_float("FRAME-RATE") {
            None => o.problem(
                Level::Apple,
                format!("line {}: video variant without FRAME-RATE", v.line),
            ),
            Some(Err(e)) => o.must(format!("line {}: {e}", v.line)),
            Some(Ok(_)) => {}
        }
    }
    if !any_video {
        return Outcome::skip("no video variant");
    }
    o
}

/// HLS-MV-04.
pub fn hls_mv_04(mv: &Multivariant) -> Outcome {
    // "AUDIO ... It MUST match the value of the GROUP-ID attribute of an EXT-X-MEDIA tag
    // elsewhere in the Multivariant Playlist whose TYPE attribute is AUDIO." (same for VIDEO,
    // SUBTITLES, CLOSED-CAPTIONS) (§4.4.6.2) "TYPE ... REQUIRED." "GROUP-ID ... REQUIRED."
    // "NAME ... REQUIRED." "If the AUTOSELECT attribute is present, its value MUST be YES if the
    // value of the DEFAULT attribute is YES." "If the TYPE is CLOSED-CAPTIONS, the URI attribute
    // MUST NOT be present." (§4.4.6.1) "All EXT-X-MEDIA tags in the same Group MUST have
    // different NAME attributes." "A Group MUST NOT have more than one member with a DEFAULT
    // attribute of YES." (§4.4.6.1.1)
    let mut o = Outcome::new();
    for r in &mv.renditions {
        let at = format!("EXT-X-MEDIA line {}", r.line);
        let ty = r.attrs.text("TYPE");
        match ty {
            Some("AUDIO" | "VIDEO" | "SUBTITLES" | "CLOSED-CAPTIONS") => {}
            Some(t) => o.must(format!("{at}: TYPE={t}")),
            None => o.must(format!("{at}: no TYPE")),
        }
        for a in ["GROUP-ID", "NAME"] {
            match r.attrs.quoted(a) {
                None => o.must(format!("{at}: no {a}")),
                Some(Err(e)) => o.must(format!("{at}: {e}")),
                Some(Ok(_)) => {}
            }
        }
        if r.attrs.is_yes("DEFAULT") && r.attrs.has("AUTOSELECT") && !r.attrs.is_yes("AUTOSELECT") {
            o.must(format!("{at}: DEFAULT=YES with AUTOSELECT not YES"));
        }
        if ty == Some("CLOSED-CAPTIONS") && r.attrs.has("URI") {
            o.must(format!("{at}: CLOSED-CAPTIONS with a URI"));
        }
        if ty == Some("SUBTITLES") && !r.attrs.has("URI") {
            o.must(format!("{at}: SUBTITLES without URI"));
        }
    }
    // Group constraints.
    let mut groups: Vec<(&str, &str)> = mv
        .renditions
        .iter()
        .filter_map(|r| Some((r.attrs.text("TYPE")?, r.attrs.text("GROUP-ID")?)))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    for (ty, gid) in &groups {
        let members: Vec<_> = mv
            .renditions
            .iter()
            .filter(|r| r.attrs.text("TYPE") == Some(ty) && r.attrs.text("GROUP-ID") == Some(gid))
            .collect();
        let defaults = members.iter().filter(|r| r.attrs.is_yes("DEFAULT")).count();
        if defaults > 1 {
            o.must(format!("{ty} group {gid:?} has {defaults} DEFAULT=YES members"));
        }
        let mut names: Vec<&str> = members.iter().filter_map(|r| r.attrs.text("NAME")).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        if names.len() != n {
            o.must(format!("{ty} group {gid:?} repeats a NAME"));
        }
    }
    for v in &mv.variants {
        for (attr, ty) in [
            ("AUDIO", "AUDIO"),
            ("VIDEO", "VIDEO"),
            ("SUBTITLES", "SUBTITLES"),
            ("CLOSED-CAPTIONS", "CLOSED-CAPTIONS"),
        ] {
            let Some(val) = v.attrs.get(attr) else { continue };
            if ty == "CLOSED-CAPTIONS"
                && matches!(val, crate::attrs::AttrValue::Bare(s) if s == "NONE")
            {
                continue;
            }
            if !groups.iter().any(|(t, g)| *t == ty && *g == val.as_str()) {
                o.must(format!(
                    "line {}: {attr}={val} matches no EXT-X-MEDIA TYPE={ty} GROUP-ID",
                    v.line
                ));
            }
        }
    }
    o
}

/// HLS-MV-05: every Media Playlist of the multivariant (name, playlist, is SUBTITLES).
pub fn hls_mv_05(playlists: &[(String, &MediaPlaylist)]) -> Outcome {
    // "Each Media Playlist in each Variant Stream and Rendition MUST have the same Target
    // Duration. The only exceptions are SUBTITLES Renditions and Media Playlists containing an
    // EXT-X-I-FRAMES-ONLY tag" "If any Media Playlist in a Multivariant Playlist contains an
    // EXT-X-SERVER-CONTROL tag, then all Media Playlists in that Multivariant Playlist MUST
    // contain that tag, with the same attributes and values." "Matching content in Variant
    // Streams and Renditions MUST have matching Discontinuity Sequence Numbers" (§6.2.4)
    if playlists.len() < 2 {
        return Outcome::skip("only one Media Playlist");
    }
    let mut o = Outcome::new();
    let (name0, p0) = (&playlists[0].0, playlists[0].1);
    let sc = |p: &MediaPlaylist| (p.server_control.is_some(), p.server_control_pairs());
    for (name, p) in &playlists[1..] {
        if !p.i_frames_only && p.target_duration != p0.target_duration {
            o.must(format!(
                "TARGETDURATION {name}={:?} vs {name0}={:?}",
                p.target_duration, p0.target_duration
            ));
        }
        if sc(p) != sc(p0) {
            o.must(format!(
                "EXT-X-SERVER-CONTROL differs: {name} {:?} vs {name0} {:?}",
                sc(p).1,
                sc(p0).1
            ));
        }
        let dseq = |p: &MediaPlaylist| {
            p.segments.last().map(|s| s.discontinuity_seq).unwrap_or(p.discontinuity_sequence)
        };
        if dseq(p) != dseq(p0) {
            o.must(format!(
                "live-edge discontinuity sequence {name}={} vs {name0}={}",
                dseq(p),
                dseq(p0)
            ));
        }
    }
    o
}

/// LLHLS-RR-01: each playlist (its URL and body) carries one report per other playlist.
pub fn llhls_rr_01(playlists: &[(Url, &MediaPlaylist)]) -> Outcome {
    // "Each Media Playlist MUST contain one EXT-X-RENDITION-REPORT tag for each Media Playlist
    // (Rendition) in the Multivariant Playlist, except for the Media Playlist to which the
    // EXT-X-RENDITION-REPORT tag is being added, and Playlists that contain the
    // EXT-X-I-FRAMES-ONLY tag." (App. B.1)
    if playlists.len() < 2 {
        return Outcome::skip("only one Media Playlist");
    }
    if !playlists.iter().any(|(_, p)| p.is_low_latency()) {
        return Outcome::skip("not low-latency");
    }
    let mut o = Outcome::new();
    for (url, p) in playlists {
        let reported: Vec<String> = p
            .rendition_reports
            .iter()
            .filter_map(|r| r.uri.as_deref())
            .filter_map(|u| url.join(u).ok())
            .map(|u| u.path)
            .collect();
        for (other_url, other) in playlists {
            if other_url.path == url.path || other.i_frames_only {
                continue;
            }
            let n = reported.iter().filter(|r| **r == other_url.path).count();
            if n != 1 {
                o.problem(
                    Level::Profile,
                    format!(
                        "{} has {n} RENDITION-REPORT for {}",
                        url.file_name(),
                        other_url.file_name()
                    ),
                );
            }
        }
        if reported.contains(&url.path) {
            o.should(format!("{} reports on itself", url.file_name()));
        }
    }
    o
}

/// LLHLS-RR-03: a report (`last_msn`, `last_part` after applying omitted-attribute defaults)
/// checked with a blocking GET of the reported playlist at exactly that part.
pub fn llhls_rr_03(what: &str, last_msn: u64, last_part: Option<u64>, obs: &Observed) -> Outcome {
    // "The EXT-X-RENDITION-REPORT tag carries information about an associated Rendition that is
    // as up-to-date as the Playlist that contains it." "LAST-MSN ... the Media Sequence Number of
    // the last Media Segment currently in the specified Rendition. If the Rendition contains
    // Partial Segments then this value is the Media Sequence Number of the last Partial
    // Segment." "LAST-PART ... the Part Index of the last Partial Segment currently in the
    // specified Rendition" (§4.4.5.4) Profile: "All Renditions in a Multivariant Playlist are
    // updated in sync, within an accuracy of one Part Target Duration." (App. B.1)
    let mut o = Outcome::new();
    let at = match last_part {
        Some(p) => format!("{last_msn}.{p}"),
        None => format!("msn {last_msn}"),
    };
    match (obs.status, &obs.playlist) {
        (Some(200), Some(p)) => {
            let present = match last_part {
                Some(n) => p.has_part_at_or_after(last_msn, n),
                None => {
                    p.has_segment_at_or_after(last_msn)
                        || p.last_part().is_some_and(|(m, _)| m >= last_msn)
                }
            };
            if !present {
                o.must(format!("{what}: reported {at} but the playlist does not contain it"));
            } else if obs.secs > 0.1 {
                o.must(format!(
                    "{what}: reported {at} ahead of the playlist (blocking GET took {})",
                    ms(obs.secs)
                ));
            }
            // Behind: the reported playlist already had more than one newer part.
            if let (Some(n), Some((lm, li))) = (last_part, p.last_part()) {
                let parts = p.all_parts();
                let pos = |m: u64, i: u64| parts.iter().position(|(a, b, _)| *a == m && *b == i);
                if let (Some(r), Some(l)) = (pos(last_msn, n), pos(lm, li))
                    && l > r + 1
                {
                    o.problem(Level::Profile, format!("{what}: reported {at} but the playlist already had {lm}.{li} ({} parts newer)", l - r));
                }
            }
        }
        _ => o.must(format!(
            "{what}: blocking GET for the reported {at} answered {}",
            obs.describe()
        )),
    }
    o
}

/// HLS-MP-13, cross-rendition part: (rendition, PDT of a segment in epoch seconds, media time of
/// that segment's first sample in seconds), or `None` when a rendition has no PDT.
pub fn hls_mp_13_mapping(renditions: &[(String, Option<(f64, f64)>)]) -> Outcome {
    // "If any Media Playlist in a Multivariant Playlist contains an EXT-X-PROGRAM-DATE-TIME tag,
    // then all Media Playlists in that Multivariant Playlist MUST contain
    // EXT-X-PROGRAM-DATE-TIME tags with consistent mappings of date and time to media
    // timestamps." (§6.2.4)
    if renditions.len() < 2 {
        return Outcome::skip("only one rendition");
    }
    let with: Vec<_> = renditions.iter().filter_map(|(n, m)| m.map(|m| (n, m))).collect();
    if with.is_empty() {
        return Outcome::skip("no PDT in any rendition");
    }
    let mut o = Outcome::new();
    for (n, m) in renditions {
        if m.is_none() {
            o.must(format!("{n} has no PDT although other renditions do"));
        }
    }
    let offsets: Vec<(&String, f64)> =
        with.iter().map(|(n, (pdt, media))| (*n, pdt - media)).collect();
    let (n0, off0) = offsets[0];
    for (n, off) in &offsets[1..] {
        let d = off - off0;
        if d.abs() > 0.1 {
            o.must(format!("PDT-to-media-time mapping of {n} differs from {n0} by {}", ms(d)));
        } else {
            o.evidence(format!("{n} vs {n0}: {}", ms(d)));
        }
    }
    o
}

/// HLS-MP-16: `video` lists the video Media Playlists; `not_independent` names segments that did
/// not start with a sync sample.
pub fn hls_mp_16(
    mv: &Multivariant,
    video: &[(String, &MediaPlaylist)],
    not_independent: &[String],
) -> Outcome {
    // HAS: "If EXT-X-INDEPENDENT-SEGMENTS is not in the multivariant playlist it MUST be in every
    // video media playlist". "The EXT-X-INDEPENDENT-SEGMENTS tag indicates that all media
    // samples in a Media Segment can be decoded without information from other segments."
    // (§4.4.2.1)
    if video.is_empty() {
        return Outcome::skip("no video playlist");
    }
    let mut o = Outcome::new();
    let mut tagged = mv.independent_segments;
    if !mv.independent_segments {
        for (n, p) in video {
            if !p.independent_segments {
                o.problem(
                    Level::Apple,
                    format!("{n}: no EXT-X-INDEPENDENT-SEGMENTS here nor in the multivariant"),
                );
            } else {
                tagged = true;
            }
        }
    }
    if tagged && let Some(first) = not_independent.first() {
        o.must(format!(
            "EXT-X-INDEPENDENT-SEGMENTS but {first} does not start with a sync sample ({} such)",
            not_independent.len()
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const MV: &str = "#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"audio.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO=\"aud\"
video.m3u8
";

    fn mv() -> Multivariant {
        Multivariant::parse(MV)
    }

    fn with(from: &str, to: &str) -> Multivariant {
        assert!(MV.contains(from));
        Multivariant::parse(&MV.replacen(from, to, 1))
    }

    fn fails(o: &Outcome) -> bool {
        o.problems.iter().any(|p| p.level.fails(false))
    }

    fn codecs(u: &str) -> Option<Vec<String>> {
        match u {
            "video.m3u8" => Some(vec!["avc1.64001F".into()]),
            "audio.m3u8" => Some(vec!["mp4a.40.2".into()]),
            _ => None,
        }
    }

    #[test]
    fn good_multivariant_passes() {
        let m = mv();
        for o in [hls_mv_01(&m), hls_mv_02(&m, &codecs), hls_mv_03(&m), hls_mv_04(&m)] {
            assert!(o.problems.is_empty(), "{:?}", o.problems);
        }
        assert_eq!(variant_members(&m, &m.variants[0]), vec!["video.m3u8", "audio.m3u8"]);
    }

    #[test]
    fn mv_01_flags_missing_bandwidth_and_excess_bitrate() {
        assert!(fails(&hls_mv_01(&with("BANDWIDTH=3000000,", ""))));
        assert!(fails(&hls_mv_01_measured(1_000_000, 1_200_000.0)));
        assert!(!fails(&hls_mv_01_measured(1_000_000, 1_050_000.0)));
    }

    #[test]
    fn mv_02_flags_codec_missing_from_codecs() {
        assert!(fails(&hls_mv_02(&with("avc1.64001f,mp4a.40.2", "avc1.64001f"), &codecs)));
        assert!(fails(&hls_mv_02(&with("avc1.64001f", "avc1.42e01e"), &codecs)));
        assert!(
            hls_mv_02(&with("CODECS=\"avc1.64001f,mp4a.40.2\",", ""), &codecs)
                .has_level(Level::Apple)
        );
    }

    #[test]
    fn mv_03_warns_missing_resolution_and_frame_rate() {
        let o = hls_mv_03(&with("RESOLUTION=1280x720,FRAME-RATE=30.000,", ""));
        assert_eq!(o.problems.len(), 2);
        assert!(o.problems.iter().all(|p| p.level == Level::Apple));
        assert!(fails(&hls_mv_03(&with("1280x720", "1280*720"))));
    }

    #[test]
    fn mv_04_flags_dangling_group_and_bad_media() {
        assert!(fails(&hls_mv_04(&with("AUDIO=\"aud\"", "AUDIO=\"nope\""))));
        assert!(fails(&hls_mv_04(&with("AUTOSELECT=YES", "AUTOSELECT=NO"))));
        assert!(fails(&hls_mv_04(&with("NAME=\"en\",", ""))));
        let two_defaults = MV.replace(
            "#EXT-X-STREAM-INF",
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"fr\",DEFAULT=YES,URI=\"fr.m3u8\"\n#EXT-X-STREAM-INF",
        );
        assert!(fails(&hls_mv_04(&Multivariant::parse(&two_defaults))));
    }

    fn media(td: u32, sc: &str) -> MediaPlaylist {
        MediaPlaylist::parse(&format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:{td}\n#EXT-X-SERVER-CONTROL:{sc}\n#EXT-X-PART-INF:PART-TARGET=0.2\n\
             #EXT-X-PART:DURATION=0.2,URI=\"1.0.m4s\"\n#EXTINF:1.0,\n1.m4s\n\
             #EXT-X-RENDITION-REPORT:URI=\"audio.m3u8\",LAST-MSN=1,LAST-PART=4\n"
        ))
    }

    #[test]
    fn mv_05_flags_mismatched_target_duration_and_server_control() {
        let a = media(1, "CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6");
        let b = media(2, "CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6");
        let c = media(1, "CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.0");
        assert!(hls_mv_05(&[("v".into(), &a), ("a".into(), &a)]).problems.is_empty());
        assert!(fails(&hls_mv_05(&[("v".into(), &a), ("a".into(), &b)])));
        assert!(fails(&hls_mv_05(&[("v".into(), &a), ("a".into(), &c)])));
    }

    #[test]
    fn rr_01_flags_missing_report() {
        let v = media(1, "CAN-BLOCK-RELOAD=YES");
        let a = MediaPlaylist::parse(
            &v.doc
                .items
                .iter()
                .filter_map(|i| match &i.kind {
                    crate::playlist::ItemKind::Tag { name, value }
                        if name != "EXT-X-RENDITION-REPORT" =>
                    {
                        Some(format!(
                            "#{name}{}\n",
                            value.as_ref().map(|v| format!(":{v}")).unwrap_or_default()
                        ))
                    }
                    crate::playlist::ItemKind::Uri(u) => Some(format!("{u}\n")),
                    _ => None,
                })
                .collect::<String>(),
        );
        let vu = Url::parse("http://h:1/x/video.m3u8").unwrap();
        let au = Url::parse("http://h:1/x/audio.m3u8").unwrap();
        let o = llhls_rr_01(&[(vu.clone(), &v), (au.clone(), &a)]);
        assert!(o.has_level(Level::Profile), "{o:?}");
        assert_eq!(o.problems.len(), 1);
        let o = llhls_rr_01(&[(vu, &v), (au, &v)]);
        // audio.m3u8 reports on itself and lacks video.m3u8.
        assert!(o.has_level(Level::Profile) && o.has_level(Level::Should));
    }

    fn obs(status: u16, secs: f64, body: &str) -> Observed {
        Observed {
            status: Some(status),
            secs,
            playlist: Some(MediaPlaylist::parse(body)),
            ..Observed::default()
        }
    }

    #[test]
    fn rr_03_flags_report_ahead_or_behind() {
        let other = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.2\n\
            #EXT-X-PART:DURATION=0.2,URI=\"1.0.m4s\"\n#EXT-X-PART:DURATION=0.2,URI=\"1.1.m4s\"\n\
            #EXT-X-PART:DURATION=0.2,URI=\"1.2.m4s\"\n#EXT-X-PART:DURATION=0.2,URI=\"1.3.m4s\"\n";
        assert!(llhls_rr_03("v->a", 0, Some(3), &obs(200, 0.005, other)).problems.is_empty());
        // Ahead: the blocking GET had to wait for the part.
        assert!(fails(&llhls_rr_03("v->a", 0, Some(3), &obs(200, 0.2, other))));
        // Behind: two newer parts already listed.
        assert!(llhls_rr_03("v->a", 0, Some(1), &obs(200, 0.005, other)).has_level(Level::Profile));
        assert!(fails(&llhls_rr_03(
            "v->a",
            0,
            Some(3),
            &Observed { status: Some(404), ..Observed::default() }
        )));
    }

    #[test]
    fn mp_13_mapping_flags_missing_and_inconsistent_pdt() {
        let ok =
            [("v".to_string(), Some((1000.0, 10.0))), ("a".to_string(), Some((1000.02, 10.0)))];
        assert!(hls_mp_13_mapping(&ok).problems.is_empty());
        let off =
            [("v".to_string(), Some((1000.0, 10.0))), ("a".to_string(), Some((1001.0, 10.0)))];
        assert!(fails(&hls_mp_13_mapping(&off)));
        let missing = [("v".to_string(), Some((1000.0, 10.0))), ("a".to_string(), None)];
        assert!(fails(&hls_mp_13_mapping(&missing)));
    }

    #[test]
    fn mp_16_flags_missing_tag_and_false_claim() {
        let p = media(1, "CAN-BLOCK-RELOAD=YES");
        let plain = with("#EXT-X-INDEPENDENT-SEGMENTS\n", "");
        assert!(hls_mp_16(&plain, &[("video".into(), &p)], &[]).has_level(Level::Apple));
        assert!(fails(&hls_mp_16(&mv(), &[("video".into(), &p)], &["video/5.m4s".into()])));
        assert!(hls_mp_16(&mv(), &[("video".into(), &p)], &[]).problems.is_empty());
    }
}
