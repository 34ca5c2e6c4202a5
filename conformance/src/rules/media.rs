//! Rules judged on one playlist response on its own (syntax, tags, attributes, limits).

use super::{Level, Outcome};
use crate::attrs::{AttrList, is_decimal_integer};
use crate::playlist::{Document, MediaPlaylist, Multivariant, TagClass, tag_class};

const EPS: f64 = 1e-9;

/// HLS-PL-01.
pub fn hls_pl_01(text: &str) -> Outcome {
    // "The EXTM3U tag ... MUST be the first line of every Media Playlist and every
    // Multivariant Playlist." (HLS §4.4.1.1)
    let first = text.split('\n').next().unwrap_or_default();
    let first = first.strip_suffix('\r').unwrap_or(first);
    let mut o = Outcome::new();
    if first != "#EXTM3U" {
        o.must(format!("first line is {:?}", truncate(first, 40)));
    }
    o
}

/// HLS-PL-02.
pub fn hls_pl_02(body: &[u8]) -> Outcome {
    // "Playlist files MUST be encoded in UTF-8 [RFC3629]. They MUST NOT contain any Byte Order
    // Mark (BOM) ... MUST NOT contain UTF-8 control characters (U+0000 to U+001F and U+007F to
    // U+009F), with the exceptions of CR (U+000D) and LF (U+000A)." ... "Whitespace MUST NOT be
    // present, except for elements in which it is explicitly specified." ... "Tags begin with
    // #EXT. They are case sensitive." (HLS §4.1)
    let mut o = Outcome::new();
    if body.starts_with(&[0xEF, 0xBB, 0xBF]) {
        o.must("starts with a UTF-8 BOM");
    }
    let Ok(text) = std::str::from_utf8(body) else {
        o.must("body is not valid UTF-8");
        return o;
    };
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        // TAB is allowed only as the delimiter of RECENTLY-REMOVED-DATERANGES (§4.4.5.2).
        let tab_ok = line.starts_with("#EXT-X-SKIP:");
        if let Some(c) = line.chars().find(|c| {
            let u = *c as u32;
            (u < 0x20 && !(tab_ok && u == 9)) || (0x7f..=0x9f).contains(&u)
        }) {
            o.must(format!("line {n}: control character U+{:04X}", c as u32));
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if line.starts_with(char::is_whitespace) || line.ends_with(char::is_whitespace) {
            o.must(format!("line {n}: leading or trailing whitespace"));
            continue;
        }
        if line.len() >= 4 && line[..4].eq_ignore_ascii_case("#EXT") && !line.starts_with("#EXT") {
            o.must(format!("line {n}: mis-cased tag {:?}", truncate(line, 30)));
        } else if let Some(rest) = line.strip_prefix("#EXTINF:") {
            // The title after the comma may contain whitespace; the duration may not.
            let dur = rest.split(',').next().unwrap_or_default();
            if dur.contains(char::is_whitespace) {
                o.must(format!("line {n}: whitespace in EXTINF duration"));
            }
        } else if line.starts_with("#EXT") {
            if whitespace_outside_quotes(line) {
                o.must(format!(
                    "line {n}: whitespace outside a quoted-string in {:?}",
                    truncate(line, 40)
                ));
            }
        } else if !line.starts_with('#') && line.contains(char::is_whitespace) {
            o.must(format!("line {n}: whitespace in URI line"));
        }
    }
    o
}

fn whitespace_outside_quotes(line: &str) -> bool {
    let mut quoted = false;
    for c in line.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if !quoted && c.is_whitespace() {
            return true;
        }
    }
    false
}

/// HLS-PL-04 (any playlist).
pub fn hls_pl_04(doc: &Document) -> Outcome {
    // "A Playlist that contains both Multivariant Playlist Tags and Media Tags is invalid"
    // (HLS §4.1); "clients MUST fail to parse any Playlist that contains both a Multivariant
    // Playlist tag and either a Media Playlist tag or a Media Segment tag." (HLS §4.4.6)
    let mut o = Outcome::new();
    let mv: Vec<_> =
        doc.tags().filter(|(_, n, _)| tag_class(n) == TagClass::Multivariant).collect();
    let media: Vec<_> = doc
        .tags()
        .filter(|(_, n, _)| {
            matches!(tag_class(n), TagClass::MediaPlaylist | TagClass::MediaSegment)
        })
        .collect();
    if let (Some(a), Some(b)) = (mv.first(), media.first()) {
        o.must(format!(
            "multivariant tag {} (line {}) mixed with media tag {} (line {})",
            a.1, a.0, b.1, b.0
        ));
    }
    o
}

/// HLS-PL-05 (any playlist).
pub fn hls_pl_05(doc: &Document) -> Outcome {
    // "There MUST NOT be more than one Media Playlist tag of each type in any Media Playlist."
    // (§4.4.3) "A Playlist file MUST NOT contain more than one EXT-X-VERSION tag." (§4.4.1.2)
    // "Tags in this section MUST NOT appear more than once in a Playlist" (§4.4.2, except
    // EXT-X-DEFINE) "an EXT-X-SKIP, which MUST NOT appear more than once." (§4.4.5)
    let mut o = Outcome::new();
    let mut seen: Vec<&str> = Vec::new();
    for (_, name, _) in doc.tags() {
        let once = match tag_class(name) {
            TagClass::MediaPlaylist => true,
            TagClass::Basic => true,
            TagClass::Either => name != "EXT-X-DEFINE",
            _ => name == "EXT-X-SKIP" || name == "EXT-X-CONTENT-STEERING",
        };
        if once && !seen.contains(&name) {
            seen.push(name);
            let n = doc.count(name);
            if n > 1 {
                o.must(format!("{name} appears {n} times"));
            }
        }
    }
    o
}

/// The lowest EXT-X-VERSION a Media Playlist needs, with the feature that needs it (HLS §8).
pub fn required_version_media(p: &MediaPlaylist) -> (u64, String) {
    let mut req = (1u64, "nothing beyond version 1".to_string());
    let mut need = |v: u64, why: &str| {
        if v > req.0 {
            req = (v, why.to_string());
        }
    };
    if p.key_iv {
        need(2, "EXT-X-KEY IV");
    }
    if p.segments.iter().any(|s| s.duration_raw.contains('.')) {
        need(3, "floating-point EXTINF");
    }
    if p.doc.count("EXT-X-BYTERANGE") > 0 {
        need(4, "EXT-X-BYTERANGE");
    }
    if p.i_frames_only {
        need(4, "EXT-X-I-FRAMES-ONLY");
    }
    if p.key_methods.iter().any(|m| m == "SAMPLE-AES") || p.key_format_attrs {
        need(5, "SAMPLE-AES / KEYFORMAT");
    }
    if p.doc.count("EXT-X-MAP") > 0 {
        if p.i_frames_only {
            need(5, "EXT-X-MAP in an I-frame playlist");
        } else {
            need(6, "EXT-X-MAP");
        }
    }
    common_version_needs(&p.doc, &mut need);
    if p.skip.is_some() {
        need(9, "EXT-X-SKIP");
    }
    if p.skip.as_ref().is_some_and(|s| s.has("RECENTLY-REMOVED-DATERANGES")) {
        need(10, "EXT-X-SKIP replacing date ranges");
    }
    req
}

fn common_version_needs(doc: &Document, need: &mut impl FnMut(u64, &str)) {
    for (_, name, value) in doc.tags() {
        let value = value.unwrap_or_default();
        if name == "EXT-X-DEFINE" {
            need(8, "variable substitution (EXT-X-DEFINE)");
            if AttrList::parse(value).has("QUERYPARAM") {
                need(11, "EXT-X-DEFINE QUERYPARAM");
            }
        }
        if value.contains("REQ-")
            && AttrList::parse(value).pairs.iter().any(|(n, _)| n.starts_with("REQ-"))
        {
            need(12, "REQ- attribute");
        }
    }
}

/// The lowest EXT-X-VERSION a Multivariant Playlist needs (HLS §8).
pub fn required_version_multivariant(mv: &Multivariant) -> (u64, String) {
    let mut req = (1u64, "nothing beyond version 1".to_string());
    let mut need = |v: u64, why: &str| {
        if v > req.0 {
            req = (v, why.to_string());
        }
    };
    for r in &mv.renditions {
        if let Some(id) = r.attrs.text("INSTREAM-ID") {
            if r.attrs.text("TYPE") == Some("CLOSED-CAPTIONS") {
                if id.starts_with("SERVICE") {
                    need(7, "INSTREAM-ID SERVICEn");
                }
            } else {
                need(13, "INSTREAM-ID on a non-CLOSED-CAPTIONS rendition");
            }
        }
    }
    common_version_needs(&mv.doc, &mut need);
    req
}

/// HLS-PL-06 for a Media Playlist.
pub fn hls_pl_06(p: &MediaPlaylist) -> Outcome {
    version_outcome(p.version, p.doc.count("EXT-X-VERSION") > 0, required_version_media(p))
}

/// HLS-PL-06 for a Multivariant Playlist.
pub fn hls_pl_06_multivariant(mv: &Multivariant) -> Outcome {
    version_outcome(
        mv.version,
        mv.doc.count("EXT-X-VERSION") > 0,
        required_version_multivariant(mv),
    )
}

fn version_outcome(declared: Option<u64>, present: bool, (req, why): (u64, String)) -> Outcome {
    // "A Playlist that contains tags or attributes that are not compatible with protocol
    // version 1 MUST include an EXT-X-VERSION tag." (§8) "The value of the EXT-X-VERSION tag
    // SHOULD NOT be greater than what is required for the tags and attributes in the
    // Playlist" (§6.2.1)
    let mut o = Outcome::new();
    let v = declared.unwrap_or(1);
    if present && declared.is_none() {
        o.must("EXT-X-VERSION value is not a decimal-integer");
    } else if v < req {
        o.must(format!("EXT-X-VERSION {v} but {why} needs {req}"));
    } else if v > req {
        o.should(format!("EXT-X-VERSION {v} higher than needed ({req}: {why})"));
    } else {
        o.evidence(format!("version {v}"));
    }
    o
}

/// HLS-MP-01.
pub fn hls_mp_01(p: &MediaPlaylist) -> Outcome {
    // "where s is a decimal-integer indicating the Target Duration in seconds. Its value MUST be
    // at least 1. The EXT-X-TARGETDURATION tag is REQUIRED." (§4.4.3.1)
    let mut o = Outcome::new();
    match (&p.target_duration_raw, p.target_duration) {
        (None, _) => o.must("EXT-X-TARGETDURATION missing"),
        (Some(raw), None) => {
            o.must(format!("EXT-X-TARGETDURATION {raw:?} is not a decimal-integer"))
        }
        (Some(_), Some(0)) => o.must("EXT-X-TARGETDURATION is 0"),
        (Some(_), Some(td)) => o.evidence(format!("TD={td}")),
    }
    o
}

/// HLS-MP-02.
pub fn hls_mp_02(p: &MediaPlaylist) -> Outcome {
    // "The EXTINF duration of each Media Segment in a Playlist file, when rounded to the nearest
    // integer, MUST be less than or equal to the Target Duration." (§4.4.3.1) "in protocol
    // version 5 and earlier it indicated the maximum segment duration" (§8)
    let Some(td) = p.target_duration else { return Outcome::skip("no TARGETDURATION") };
    let mut o = Outcome::new();
    let legacy = p.version.unwrap_or(1) < 6;
    let mut max = 0.0f64;
    for s in &p.segments {
        if !s.duration.is_finite() {
            o.must(format!("msn {}: EXTINF {:?} unreadable", s.msn, s.duration_raw));
            continue;
        }
        max = max.max(s.duration);
        if s.duration.round() > td as f64 {
            o.must(format!(
                "msn {}: EXTINF {} rounds above TARGETDURATION {td}",
                s.msn, s.duration_raw
            ));
        } else if legacy && s.duration > td as f64 + EPS {
            o.must(format!(
                "msn {}: EXTINF {} > TARGETDURATION {td} (version < 6)",
                s.msn, s.duration_raw
            ));
        }
    }
    o.evidence(format!("max EXTINF {max:.3} s, TD {td}"));
    o
}

/// HLS-MP-04, placement part (the progression part is judged across reloads).
pub fn hls_mp_04_placement(p: &MediaPlaylist) -> Outcome {
    // "The EXT-X-MEDIA-SEQUENCE tag MUST appear before the first Media Segment in the
    // Playlist." (§4.4.3.2) "The EXT-X-DISCONTINUITY-SEQUENCE tag MUST appear before the first
    // Media Segment in the Playlist. ... MUST appear before any EXT-X-DISCONTINUITY tag." (§4.4.3.3)
    let mut o = Outcome::new();
    for i in &p.sequence_issues {
        o.must(i.clone());
    }
    o
}

/// HLS-MP-06; `removed_segments` says whether reloads showed segments removed from the head.
pub fn hls_mp_06(p: &MediaPlaylist, removed_segments: bool) -> Outcome {
    // "A Live Playlist MUST NOT contain the EXT-X-PLAYLIST-TYPE tag, as no value of that tag
    // allows Media Segments to be removed." (§6.2.2)
    let mut o = Outcome::new();
    match p.playlist_type.as_deref() {
        None => {}
        Some("VOD") if !p.endlist => {
            o.must("EXT-X-PLAYLIST-TYPE:VOD on a playlist without ENDLIST")
        }
        Some(t) if removed_segments => {
            o.must(format!("EXT-X-PLAYLIST-TYPE:{t} but segments were removed"))
        }
        Some(t) if t != "VOD" && t != "EVENT" => {
            o.must(format!("EXT-X-PLAYLIST-TYPE:{t} is not EVENT or VOD"))
        }
        Some(_) => {}
    }
    o
}

/// HLS-MP-07; `removal_seen` says whether segments have been removed (sliding window started).
pub fn hls_mp_07(p: &MediaPlaylist, removal_seen: bool) -> Outcome {
    // "The server MUST NOT remove a Media Segment from a Playlist file without an EXT-X-ENDLIST
    // tag if that would produce a Playlist whose duration is less than three times the Target
    // Duration." (§6.2.2)
    if p.endlist {
        return Outcome::skip("playlist has ENDLIST");
    }
    let Some(td) = p.target_duration else { return Outcome::skip("no TARGETDURATION") };
    if !removal_seen {
        return Outcome::skip("no segment removal observed yet");
    }
    let mut o = Outcome::new();
    let d = p.duration();
    // A delta update lists fewer segments on purpose.
    if p.skip.is_none() && d + EPS < 3.0 * td as f64 {
        o.must(format!(
            "duration {d:.3} s < 3 x TD ({}) after removals (msn {})",
            3 * td,
            p.media_sequence
        ));
    }
    o.evidence(format!("duration {d:.1} s"));
    o
}

fn is_fmp4_uri(uri: &str) -> bool {
    let path = uri.split('?').next().unwrap_or(uri).to_ascii_lowercase();
    [".m4s", ".mp4", ".m4v", ".m4a", ".cmfv", ".cmfa", ".cmft", ".fmp4"]
        .iter()
        .any(|e| path.ends_with(e))
}

/// HLS-MP-12.
pub fn hls_mp_12(p: &MediaPlaylist) -> Outcome {
    // "The Media Initialization Section of an fMP4 Segment ... Each Fragmented MPEG-4 Media
    // Segment in a Media Playlist MUST have an EXT-X-MAP tag applied to it." (§3.1.2)
    // "When the Media Segment Tags ... EXT-X-DISCONTINUITY, EXT-X-KEY, EXT-X-MAP, or
    // EXT-X-PROGRAM-DATE-TIME are applied to a Parent Segment, they also necessarily apply to
    // the first Partial Segment, so they MUST appear before the first EXT-X-PART tag of that
    // Parent Segment." (§4.4.4.9)
    let fmp4 = p.segments.iter().any(|s| is_fmp4_uri(&s.uri))
        || p.all_parts().iter().any(|(_, _, x)| x.uri.as_deref().is_some_and(is_fmp4_uri));
    if !fmp4 && p.doc.count("EXT-X-MAP") == 0 && p.all_parts().is_empty() {
        return Outcome::skip("no fMP4 segments, EXT-X-MAP or partial segments");
    }
    let mut o = Outcome::new();
    for s in &p.segments {
        if s.map.is_none() && is_fmp4_uri(&s.uri) {
            o.must(format!("msn {}: fMP4 segment {} without EXT-X-MAP", s.msn, s.uri));
        }
    }
    for (m, i, part) in p.all_parts() {
        if part.map.is_none() && part.uri.as_deref().is_some_and(is_fmp4_uri) {
            o.must(format!("part {m}.{i}: fMP4 part without EXT-X-MAP"));
        }
    }
    for i in &p.order_issues {
        o.must(i.clone());
    }
    o
}

/// Parses an EXT-X-PROGRAM-DATE-TIME value: (seconds since the Unix epoch, has time zone,
/// digits of fractional seconds).
pub fn parse_pdt(s: &str) -> Result<(f64, bool, usize), String> {
    let bad = || format!("{s:?} is not an ISO 8601 date-time");
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let mut d = date.split('-');
    let (y, mo, da) = (d.next(), d.next(), d.next());
    let num = |x: Option<&str>, len: usize| -> Result<i64, String> {
        let x = x.ok_or_else(bad)?;
        if x.len() != len || !x.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        x.parse::<i64>().map_err(|_| bad())
    };
    let (y, mo, da) = (num(y, 4)?, num(mo, 2)?, num(da, 2)?);
    if d.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return Err(bad());
    }
    let tz_at = time.find(['Z', 'z', '+', '-']);
    let (clock, tz) = match tz_at {
        Some(i) => (&time[..i], Some(&time[i..])),
        None => (time, None),
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, b)) => (a, b),
        None => (clock, ""),
    };
    let mut t = hms.split(':');
    let (h, mi, se) = (num(t.next(), 2)?, num(t.next(), 2)?, num(t.next(), 2)?);
    if t.next().is_some()
        || h > 23
        || mi > 59
        || se > 60
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let frac_secs = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse::<f64>().map_err(|_| bad())?
    };
    let offset_secs = match tz {
        None => 0,
        Some("Z") | Some("z") => 0,
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let hh: i64 = digits[..2].parse().map_err(|_| bad())?;
            let mm: i64 = digits[2..].parse().map_err(|_| bad())?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    let days = days_from_civil(y, mo, da);
    let secs = days * 86400 + h * 3600 + mi * 60 + se - offset_secs;
    Ok((secs as f64 + frac_secs, tz.is_some(), frac.len()))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// HLS-MP-13, single-playlist part (format and presence; the mapping is judged across renditions).
pub fn hls_mp_13(p: &MediaPlaylist) -> Outcome {
    // "It SHOULD indicate a time zone and fractional parts of seconds, to at least millisecond
    // accuracy." (§4.4.4.6) Profile: "All Media Playlists have EXT-X-PROGRAM-DATE-TIME tags."
    // (App. B.1) HAS: "The EXT-X-PROGRAM-DATE-TIME tag MUST be present in every live/linear
    // media playlist".
    let mut o = Outcome::new();
    let trailing = p.trailing_program_date_time.as_deref().map(|v| (p.next_msn(), v));
    let pdts: Vec<_> = p
        .segments
        .iter()
        .filter_map(|s| s.program_date_time.as_deref().map(|v| (s.msn, v)))
        .chain(trailing)
        .collect();
    if pdts.is_empty() {
        if p.is_low_latency() {
            o.problem(Level::Profile, "no EXT-X-PROGRAM-DATE-TIME in a low-latency playlist");
        } else if !p.endlist {
            o.problem(Level::Apple, "no EXT-X-PROGRAM-DATE-TIME in a live playlist");
        }
        return o;
    }
    for (msn, v) in pdts {
        match parse_pdt(v) {
            Err(e) => o.must(format!("msn {msn}: {e}")),
            Ok((_, tz, frac)) => {
                if !tz {
                    o.should(format!("msn {msn}: PDT {v} has no time zone"));
                }
                if frac < 3 {
                    o.should(format!("msn {msn}: PDT {v} has less than millisecond precision"));
                }
            }
        }
    }
    o
}

/// LLHLS-PI-01.
pub fn llhls_pi_01(p: &MediaPlaylist) -> Outcome {
    // "The EXT-X-PART-INF tag ... is REQUIRED if a Playlist contains one or more EXT-X-PART
    // tags." "PART-TARGET ... This attribute is REQUIRED." (§4.4.3.7)
    let mut o = Outcome::new();
    let parts = p.all_parts().len();
    match (&p.part_inf, p.part_target) {
        (None, _) if parts > 0 => o.must(format!("{parts} EXT-X-PART tags but no EXT-X-PART-INF")),
        (None, _) => return Outcome::skip("no partial segments"),
        (Some(a), None) if !a.has("PART-TARGET") => o.must("EXT-X-PART-INF without PART-TARGET"),
        (Some(a), None) => o.must(format!(
            "PART-TARGET {:?} is not a decimal-floating-point",
            a.text("PART-TARGET")
        )),
        (Some(_), Some(t)) if t <= 0.0 => o.must("PART-TARGET is 0"),
        (Some(_), Some(t)) => o.evidence(format!("PART-TARGET {t}")),
    }
    o
}

/// LLHLS-SC-01.
pub fn llhls_sc_01(p: &MediaPlaylist) -> Outcome {
    // "PART-HOLD-BACK is REQUIRED if the Playlist contains the EXT-X-PART-INF tag." (§4.4.3.8)
    if p.part_inf.is_none() {
        return Outcome::skip("no EXT-X-PART-INF");
    }
    let mut o = Outcome::new();
    match &p.server_control {
        None => o.must("EXT-X-PART-INF but no EXT-X-SERVER-CONTROL (PART-HOLD-BACK missing)"),
        Some(sc) if sc.part_hold_back.is_none() => {
            o.must("EXT-X-SERVER-CONTROL lacks PART-HOLD-BACK")
        }
        Some(_) => {}
    }
    o
}

/// LLHLS-SC-02; `max_part_target` is the largest PART-TARGET of all renditions, when known.
pub fn llhls_sc_02(p: &MediaPlaylist, max_part_target: Option<f64>) -> Outcome {
    // "Its value MUST be at least twice the Part Target Duration. Its value SHOULD be at least
    // three times the Part Target Duration. If different Renditions have different Part Target
    // Durations then PART-HOLD-BACK SHOULD be at least three times the maximum Part Target
    // Duration." (§4.4.3.8)
    let (Some(pt), Some(phb)) =
        (p.part_target, p.server_control.as_ref().and_then(|s| s.part_hold_back))
    else {
        return Outcome::skip("no PART-TARGET / PART-HOLD-BACK");
    };
    let mut o = Outcome::new();
    if phb + EPS < 2.0 * pt {
        o.must(format!("PART-HOLD-BACK {phb} < 2 x PART-TARGET {pt}"));
    } else if phb + EPS < 3.0 * pt {
        o.should(format!("PART-HOLD-BACK {phb} < 3 x PART-TARGET {pt}"));
    }
    if let Some(max) = max_part_target
        && max > pt + EPS
        && phb + EPS < 3.0 * max
    {
        o.should(format!("PART-HOLD-BACK {phb} < 3 x largest PART-TARGET {max} of all renditions"));
    }
    o.evidence(format!("PART-HOLD-BACK {phb} = {:.2} x PART-TARGET", phb / pt));
    o
}

/// LLHLS-SC-03.
pub fn llhls_sc_03(p: &MediaPlaylist) -> Outcome {
    // "HOLD-BACK ... Its value MUST be at least three times the Target Duration. ... Its
    // absence implies a value of three times the Target Duration." (§4.4.3.8)
    let (Some(td), Some(hb)) =
        (p.target_duration, p.server_control.as_ref().and_then(|s| s.hold_back))
    else {
        return Outcome::skip("no HOLD-BACK (implies 3 x TD)");
    };
    let mut o = Outcome::new();
    if hb + EPS < 3.0 * td as f64 {
        o.must(format!("HOLD-BACK {hb} < 3 x TD ({})", 3 * td));
    }
    o
}

/// LLHLS-SC-04.
pub fn llhls_sc_04(p: &MediaPlaylist) -> Outcome {
    // "CAN-SKIP-UNTIL ... The Skip Boundary MUST be at least six times the Target Duration."
    // "CAN-SKIP-DATERANGES ... REQUIRES the presence of the CAN-SKIP-UNTIL attribute." (§4.4.3.8)
    let Some(sc) = &p.server_control else { return Outcome::skip("no EXT-X-SERVER-CONTROL") };
    let mut o = Outcome::new();
    if sc.can_skip_dateranges && sc.can_skip_until.is_none() {
        o.must("CAN-SKIP-DATERANGES=YES without CAN-SKIP-UNTIL");
    }
    match (sc.can_skip_until, p.target_duration) {
        (Some(u), Some(td)) if u + EPS < 6.0 * td as f64 => {
            o.must(format!("CAN-SKIP-UNTIL {u} < 6 x TD ({})", 6 * td))
        }
        (Some(u), _) => o.evidence(format!("CAN-SKIP-UNTIL {u}")),
        (None, _) if !sc.can_skip_dateranges => return Outcome::skip("no CAN-SKIP-UNTIL"),
        (None, _) => {}
    }
    o
}

/// LLHLS-SC-05.
pub fn llhls_sc_05(p: &MediaPlaylist) -> Outcome {
    // Apple: "Blocking Playlist Reload is a required component of Low-Latency HLS" (WWDC20).
    // Draft: "CAN-BLOCK-RELOAD ... This attribute is OPTIONAL; its absence implies no
    // support." (§4.4.3.8)
    if !p.is_low_latency() {
        return Outcome::skip("not a low-latency playlist");
    }
    let mut o = Outcome::new();
    if !p.server_control.as_ref().is_some_and(|s| s.can_block_reload) {
        o.problem(Level::Apple, "low-latency playlist without CAN-BLOCK-RELOAD=YES");
    }
    o
}

/// LLHLS-PART-01.
pub fn llhls_part_01(p: &MediaPlaylist) -> Outcome {
    // "URI ... This attribute is REQUIRED." "DURATION ... This attribute is REQUIRED."
    // "BYTERANGE ... a quoted-string whose contents have the same format as the
    // EXT-X-BYTERANGE tag: "<n>[@<o>]"" "GAP ... It is REQUIRED for such Partial Segments."
    // (§4.4.4.9)
    let parts = p.all_parts();
    if parts.is_empty() {
        return Outcome::skip("no partial segments");
    }
    let mut o = Outcome::new();
    for (m, i, part) in &parts {
        let at = format!("part {m}.{i} (line {})", part.line);
        for e in &part.attrs.errors {
            o.must(format!("{at}: {e}"));
        }
        match part.attrs.quoted("URI") {
            None => o.must(format!("{at}: no URI")),
            Some(Err(e)) => o.must(format!("{at}: {e}")),
            Some(Ok(_)) => {}
        }
        match part.attrs.decimal_float("DURATION") {
            None => o.must(format!("{at}: no DURATION")),
            Some(Err(e)) => o.must(format!("{at}: {e}")),
            Some(Ok(_)) => {}
        }
        if let Some(br) = part.attrs.get("BYTERANGE") {
            let ok = matches!(br, crate::attrs::AttrValue::Quoted(s) if byterange_ok(s));
            if !ok {
                o.must(format!("{at}: BYTERANGE {br} is not \"<n>[@<o>]\""));
            }
        }
        for flag in ["INDEPENDENT", "GAP"] {
            if let Some(Err(e)) = part.attrs.enumerated(flag) {
                o.must(format!("{at}: {e}"));
            }
        }
    }
    o.evidence(format!("{} parts", parts.len()));
    o
}

fn byterange_ok(s: &str) -> bool {
    match s.split_once('@') {
        Some((n, off)) => is_decimal_integer(n) && is_decimal_integer(off),
        None => is_decimal_integer(s),
    }
}

/// LLHLS-PART-02.
pub fn llhls_part_02(p: &MediaPlaylist) -> Outcome {
    // "The duration of a Partial Segment MUST be less than or equal to the Part Target
    // Duration." (§4.4.4.9)
    let Some(pt) = p.part_target else { return Outcome::skip("no PART-TARGET") };
    let mut o = Outcome::new();
    for (m, i, part) in p.all_parts() {
        if let Some(d) = part.duration
            && d > pt + EPS
        {
            o.must(format!("part {m}.{i}: DURATION {d} > PART-TARGET {pt}"));
        }
    }
    if let Some(max) = p.max_part_duration() {
        o.evidence(format!("max part {max} <= PART-TARGET {pt}"));
    }
    o
}

/// LLHLS-PART-03.
pub fn llhls_part_03(p: &MediaPlaylist) -> Outcome {
    // "The duration of each Partial Segment MUST be at least 85% of the Part Target Duration,
    // with the exception of Partial Segments with the INDEPENDENT=YES or GAP=YES attribute,
    // Partial Segments that are immediately followed by a Partial Segment with a GAP=YES
    // attribute, and the final Partial Segment of any Parent Segment." (§4.4.4.9)
    let Some(pt) = p.part_target else { return Outcome::skip("no PART-TARGET") };
    let mut o = Outcome::new();
    let mut check = |msn: u64, parts: &[crate::playlist::Part]| {
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            // The final part of a complete parent is exempt; so is the newest part of the parent
            // still in production (it may turn out to be the final one; later reloads judge it).
            let exempt =
                part.independent || part.gap || parts.get(i + 1).is_some_and(|n| n.gap) || last;
            if exempt {
                continue;
            }
            if let Some(d) = part.duration
                && d + EPS < 0.85 * pt
            {
                o.must(format!(
                    "part {msn}.{i}: DURATION {d} < 0.85 x PART-TARGET {pt} and not exempt"
                ));
            }
        }
    };
    for s in &p.segments {
        check(s.msn, &s.parts);
    }
    check(p.next_msn(), &p.trailing_parts);
    o
}

/// LLHLS-PART-06.
pub fn llhls_part_06(p: &MediaPlaylist) -> Outcome {
    // "EXT-X-PART tags SHOULD be removed from the Playlist after they are greater than three
    // Target Durations from the end of the Playlist." (§6.2.2)
    let Some(td) = p.target_duration else { return Outcome::skip("no TARGETDURATION") };
    if p.all_parts().is_empty() {
        return Outcome::skip("no partial segments");
    }
    let mut o = Outcome::new();
    let trailing: f64 = p.trailing_parts.iter().filter_map(|x| x.duration).sum();
    let mut after = trailing;
    for s in p.segments.iter().rev() {
        if !s.parts.is_empty() && after > 3.0 * td as f64 + EPS {
            o.should(format!(
                "msn {}: parts still listed {after:.2} s (> 3 x TD) from the end",
                s.msn
            ));
            break;
        }
        if s.duration.is_finite() {
            after += s.duration;
        }
    }
    o
}

/// LLHLS-PH-01.
pub fn llhls_ph_01(p: &MediaPlaylist) -> Outcome {
    // "A Playlist that contains an EXT-X-PART tag but no EXT-X-ENDLIST tag will also contain an
    // EXT-X-PRELOAD-HINT tag that specifies the next Partial Segment that is expected to be
    // added to the Playlist." (App. B.1)
    if p.all_parts().is_empty() || p.endlist {
        return Outcome::skip("no parts or ENDLIST");
    }
    let mut o = Outcome::new();
    if p.part_hint().is_none() {
        o.problem(Level::Profile, "parts and no ENDLIST, but no EXT-X-PRELOAD-HINT:TYPE=PART");
    }
    o
}

/// LLHLS-PH-02.
pub fn llhls_ph_02(p: &MediaPlaylist) -> Outcome {
    // "TYPE ... If the value is PART, the resource is a Partial Segment. If the value is MAP,
    // the resource is a Media Initialization Section. This attribute is REQUIRED." "URI ...
    // This attribute is REQUIRED." "BYTERANGE-START ... decimal-integer" "BYTERANGE-LENGTH ...
    // decimal-integer" (§4.4.5.3)
    if p.preload_hints.is_empty() {
        return Outcome::skip("no EXT-X-PRELOAD-HINT");
    }
    let mut o = Outcome::new();
    for h in &p.preload_hints {
        let at = format!("hint line {}", h.line);
        for e in &h.attrs.errors {
            o.must(format!("{at}: {e}"));
        }
        match h.attrs.enumerated("TYPE") {
            Some(Ok("PART" | "MAP")) => {}
            Some(Ok(t)) => o.must(format!("{at}: TYPE={t}")),
            Some(Err(e)) => o.must(format!("{at}: {e}")),
            None => o.must(format!("{at}: no TYPE")),
        }
        match h.attrs.quoted("URI") {
            Some(Ok(_)) => {}
            Some(Err(e)) => o.must(format!("{at}: {e}")),
            None => o.must(format!("{at}: no URI")),
        }
        for a in ["BYTERANGE-START", "BYTERANGE-LENGTH"] {
            if let Some(Err(e)) = h.attrs.decimal_integer(a) {
                o.must(format!("{at}: {e}"));
            }
        }
    }
    o
}

/// LLHLS-PH-03.
pub fn llhls_ph_03(p: &MediaPlaylist) -> Outcome {
    // "A Playlist containing an EXT-X-ENDLIST tag MUST NOT contain an EXT-X-PRELOAD-HINT tag."
    // (§4.4.5.3)
    if p.preload_hints.is_empty() {
        return Outcome::skip("no EXT-X-PRELOAD-HINT");
    }
    let mut o = Outcome::new();
    if p.endlist && !p.preload_hints.is_empty() {
        o.must(format!("EXT-X-ENDLIST with {} EXT-X-PRELOAD-HINT", p.preload_hints.len()));
    }
    o
}

/// LLHLS-PH-04.
pub fn llhls_ph_04(p: &MediaPlaylist) -> Outcome {
    // "The Server SHOULD NOT add more than one EXT-X-PRELOAD-HINT tag with the same TYPE to a
    // Playlist." (§6.2.6)
    if p.preload_hints.is_empty() {
        return Outcome::skip("no EXT-X-PRELOAD-HINT");
    }
    let mut o = Outcome::new();
    for t in ["PART", "MAP"] {
        let n = p.preload_hints.iter().filter(|h| h.hint_type.as_deref() == Some(t)).count();
        if n > 1 {
            o.should(format!("{n} PRELOAD-HINT tags with TYPE={t}"));
        }
    }
    o
}

/// LLHLS-RR-02.
pub fn llhls_rr_02(p: &MediaPlaylist) -> Outcome {
    // "URI ... It MUST be relative to the URI of the Media Playlist containing the
    // EXT-X-RENDITION-REPORT tag. This attribute is REQUIRED." "LAST-MSN ... decimal-integer
    // ... REQUIRED." "LAST-PART ... REQUIRED if the Rendition contains a Partial Segment."
    // "A server MAY omit adding an attribute ... if its value is the same as that of the
    // Rendition Report of the Media Playlist to which the EXT-X-RENDITION-REPORT tag is being
    // added." (§4.4.5.4)
    if p.rendition_reports.is_empty() {
        return Outcome::skip("no EXT-X-RENDITION-REPORT");
    }
    let mut o = Outcome::new();
    for r in &p.rendition_reports {
        let at = format!("report line {}", r.line);
        for e in &r.attrs.errors {
            o.must(format!("{at}: {e}"));
        }
        match r.attrs.quoted("URI") {
            None => o.must(format!("{at}: no URI")),
            Some(Err(e)) => o.must(format!("{at}: {e}")),
            Some(Ok(u)) if u.contains("://") || u.starts_with("//") => {
                o.must(format!("{at}: URI {u:?} is absolute, must be relative"))
            }
            Some(Ok(_)) => {}
        }
        for a in ["LAST-MSN", "LAST-PART"] {
            match r.attrs.decimal_integer(a) {
                Some(Err(e)) => o.must(format!("{at}: {e}")),
                None => o.evidence(format!("{at}: {a} omitted (same as this playlist)")),
                Some(Ok(_)) => {}
            }
        }
    }
    o
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=6.0
#EXT-X-PART-INF:PART-TARGET=0.2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-MAP:URI=\"init.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.000Z
#EXT-X-PART:DURATION=0.2,URI=\"10.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI=\"10.1.m4s\"
#EXT-X-PART:DURATION=0.1,URI=\"10.2.m4s\"
#EXTINF:0.5,
10.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.500Z
#EXT-X-PART:DURATION=0.2,URI=\"11.0.m4s\",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"11.1.m4s\"
#EXT-X-RENDITION-REPORT:URI=\"audio.m3u8\",LAST-MSN=11,LAST-PART=0
";

    fn good() -> MediaPlaylist {
        MediaPlaylist::parse(GOOD)
    }

    fn with(from: &str, to: &str) -> MediaPlaylist {
        assert!(GOOD.contains(from), "fixture lacks {from}");
        MediaPlaylist::parse(&GOOD.replacen(from, to, 1))
    }

    fn fails(o: &Outcome) -> bool {
        o.problems.iter().any(|p| p.level.fails(false))
    }

    #[test]
    fn good_playlist_passes_every_static_rule() {
        let p = good();
        let all = [
            hls_pl_01(GOOD),
            hls_pl_02(GOOD.as_bytes()),
            hls_pl_04(&p.doc),
            hls_pl_05(&p.doc),
            hls_pl_06(&p),
            hls_mp_01(&p),
            hls_mp_02(&p),
            hls_mp_04_placement(&p),
            hls_mp_06(&p, true),
            hls_mp_12(&p),
            hls_mp_13(&p),
            llhls_pi_01(&p),
            llhls_sc_01(&p),
            llhls_sc_02(&p, Some(0.2)),
            llhls_sc_03(&p),
            llhls_sc_04(&p),
            llhls_sc_05(&p),
            llhls_part_01(&p),
            llhls_part_02(&p),
            llhls_part_03(&p),
            llhls_part_06(&p),
            llhls_ph_01(&p),
            llhls_ph_02(&p),
            llhls_ph_03(&p),
            llhls_ph_04(&p),
            llhls_rr_02(&p),
        ];
        for (i, o) in all.iter().enumerate() {
            assert!(o.problems.is_empty(), "rule #{i}: {:?}", o.problems);
        }
    }

    #[test]
    fn pl_01_flags_missing_extm3u() {
        assert!(fails(&hls_pl_01(&GOOD.replacen("#EXTM3U\n", "", 1))));
    }

    #[test]
    fn pl_02_flags_bom_control_chars_and_whitespace() {
        assert!(fails(&hls_pl_02(&[b"\xEF\xBB\xBF".as_slice(), GOOD.as_bytes()].concat())));
        assert!(fails(&hls_pl_02(GOOD.replacen("10.m4s", "10.m4s\x01", 1).as_bytes())));
        assert!(fails(&hls_pl_02(
            GOOD.replacen("PART-TARGET=0.2", "PART-TARGET= 0.2", 1).as_bytes()
        )));
        assert!(fails(&hls_pl_02(GOOD.replacen("10.m4s\n", "10.m4s \n", 1).as_bytes())));
        assert!(fails(&hls_pl_02(GOOD.replacen("#EXT-X-VERSION", "#ext-x-version", 1).as_bytes())));
        assert!(fails(&hls_pl_02(b"#EXTM3U\n\xff\n")));
    }

    #[test]
    fn pl_04_flags_mixed_playlist() {
        let p =
            with("#EXT-X-VERSION:6\n", "#EXT-X-VERSION:6\n#EXT-X-STREAM-INF:BANDWIDTH=1\nx.m3u8\n");
        assert!(fails(&hls_pl_04(&p.doc)));
    }

    #[test]
    fn pl_05_flags_duplicate_tags() {
        assert!(fails(&hls_pl_05(
            &with("#EXT-X-VERSION:6\n", "#EXT-X-VERSION:6\n#EXT-X-VERSION:6\n").doc
        )));
        assert!(fails(&hls_pl_05(
            &with(
                "#EXT-X-TARGETDURATION:1\n",
                "#EXT-X-TARGETDURATION:1\n#EXT-X-TARGETDURATION:1\n"
            )
            .doc
        )));
    }

    #[test]
    fn pl_06_flags_too_low_version_and_warns_on_too_high() {
        assert!(fails(&hls_pl_06(&with("#EXT-X-VERSION:6", "#EXT-X-VERSION:3"))));
        let o = hls_pl_06(&with("#EXT-X-VERSION:6", "#EXT-X-VERSION:9"));
        assert!(!fails(&o) && o.has_level(Level::Should));
        let skip = MediaPlaylist::parse(
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXTINF:1.0,\na.ts\n",
        );
        assert!(fails(&hls_pl_06(&skip)));
    }

    #[test]
    fn mp_01_flags_missing_or_zero_target_duration() {
        assert!(fails(&hls_mp_01(&with("#EXT-X-TARGETDURATION:1\n", ""))));
        assert!(fails(&hls_mp_01(&with("#EXT-X-TARGETDURATION:1", "#EXT-X-TARGETDURATION:0"))));
        assert!(fails(&hls_mp_01(&with("#EXT-X-TARGETDURATION:1", "#EXT-X-TARGETDURATION:1.5"))));
    }

    #[test]
    fn mp_02_flags_extinf_above_target_duration() {
        assert!(fails(&hls_mp_02(&with("#EXTINF:0.5,", "#EXTINF:1.6,"))));
        assert!(!fails(&hls_mp_02(&with("#EXTINF:0.5,", "#EXTINF:1.49,"))));
    }

    #[test]
    fn mp_04_placement_flags_late_media_sequence() {
        let p = MediaPlaylist::parse(&format!(
            "{}#EXT-X-MEDIA-SEQUENCE:10\n",
            GOOD.replace("#EXT-X-MEDIA-SEQUENCE:10\n", "")
        ));
        assert!(fails(&hls_mp_04_placement(&p)));
    }

    #[test]
    fn mp_06_flags_playlist_type_on_live_playlist() {
        let p = with("#EXT-X-VERSION:6\n", "#EXT-X-VERSION:6\n#EXT-X-PLAYLIST-TYPE:EVENT\n");
        assert!(fails(&hls_mp_06(&p, true)));
        assert!(!fails(&hls_mp_06(&p, false)));
        let v = with("#EXT-X-VERSION:6\n", "#EXT-X-VERSION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n");
        assert!(fails(&hls_mp_06(&v, false)));
    }

    #[test]
    fn mp_07_flags_short_window_after_removal() {
        let p = good();
        assert!(fails(&hls_mp_07(&p, true)));
        assert!(hls_mp_07(&p, false).skipped.is_some());
    }

    #[test]
    fn mp_12_flags_missing_map_and_pdt_after_part() {
        assert!(fails(&hls_mp_12(&with("#EXT-X-MAP:URI=\"init.mp4\"\n", ""))));
        let p = MediaPlaylist::parse(&GOOD.replace(
            "#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.500Z\n#EXT-X-PART:DURATION=0.2,URI=\"11.0.m4s\",INDEPENDENT=YES\n",
            "#EXT-X-PART:DURATION=0.2,URI=\"11.0.m4s\",INDEPENDENT=YES\n#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.500Z\n",
        ));
        let o = hls_mp_12(&p);
        assert!(fails(&o), "{o:?}");
    }

    #[test]
    fn mp_13_checks_format_and_presence() {
        let o = hls_mp_13(&with("10:00:00.000Z", "10:00:00"));
        assert!(!fails(&o) && o.problems.len() == 2, "{o:?}");
        let none = MediaPlaylist::parse(
            &GOOD
                .replace("#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.000Z\n", "")
                .replace("#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.500Z\n", ""),
        );
        assert!(hls_mp_13(&none).has_level(Level::Profile));
        assert!(fails(&hls_mp_13(&with("2026-11-22T10:00:00.000Z", "yesterday"))));
    }

    #[test]
    fn mp_13_counts_the_date_of_a_first_segment_still_in_parts() {
        // Right after start-up: one segment, still being produced, dated before its parts.
        const STARTING: &str = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6\n\
             #EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.000Z\n\
             #EXT-X-PART:DURATION=0.2,URI=\"0.0.m4s\",INDEPENDENT=YES\n\
             #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"0.1.m4s\"\n";
        let starting = MediaPlaylist::parse(STARTING);
        assert!(starting.segments.is_empty() && starting.trailing_parts.len() == 1);
        let o = hls_mp_13(&starting);
        assert!(o.problems.is_empty(), "{o:?}");
        let undated = MediaPlaylist::parse(
            &STARTING.replace("#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.000Z\n", ""),
        );
        assert!(hls_mp_13(&undated).has_level(Level::Profile));
    }

    #[test]
    fn parses_pdt_with_offsets() {
        let (z, tz, frac) = parse_pdt("2026-11-22T10:00:00.250Z").unwrap();
        assert!(tz && frac == 3);
        let (o, _, _) = parse_pdt("2026-11-22T11:00:00.250+01:00").unwrap();
        assert!((z - o).abs() < 1e-6);
        let (o2, _, _) = parse_pdt("2026-11-22T11:00:00.250+0100").unwrap();
        assert!((z - o2).abs() < 1e-6);
        assert_eq!(parse_pdt("1970-01-01T00:00:01Z").unwrap().0, 1.0);
        assert!(parse_pdt("2026-13-01T00:00:00Z").is_err());
    }

    #[test]
    fn pi_01_flags_parts_without_part_inf() {
        assert!(fails(&llhls_pi_01(&with("#EXT-X-PART-INF:PART-TARGET=0.2\n", ""))));
        assert!(fails(&llhls_pi_01(&with("PART-TARGET=0.2", "PART-TARGTE=0.2"))));
    }

    #[test]
    fn sc_01_flags_missing_part_hold_back() {
        assert!(fails(&llhls_sc_01(&with(",PART-HOLD-BACK=0.6", ""))));
    }

    #[test]
    fn sc_02_flags_part_hold_back_below_twice_and_warns_below_three_times() {
        assert!(fails(&llhls_sc_02(&with("PART-HOLD-BACK=0.6", "PART-HOLD-BACK=0.3"), None)));
        let o = llhls_sc_02(&with("PART-HOLD-BACK=0.6", "PART-HOLD-BACK=0.5"), None);
        assert!(!fails(&o) && o.has_level(Level::Should));
        let o = llhls_sc_02(&good(), Some(0.5));
        assert!(!fails(&o) && o.has_level(Level::Should));
    }

    #[test]
    fn sc_03_flags_short_hold_back() {
        assert!(fails(&llhls_sc_03(&with(
            "CAN-BLOCK-RELOAD=YES",
            "CAN-BLOCK-RELOAD=YES,HOLD-BACK=2.0"
        ))));
        assert!(!fails(&llhls_sc_03(&with(
            "CAN-BLOCK-RELOAD=YES",
            "CAN-BLOCK-RELOAD=YES,HOLD-BACK=3.0"
        ))));
    }

    #[test]
    fn sc_04_flags_short_skip_boundary() {
        assert!(fails(&llhls_sc_04(&with("CAN-SKIP-UNTIL=6.0", "CAN-SKIP-UNTIL=5.0"))));
        assert!(fails(&llhls_sc_04(&with(",CAN-SKIP-UNTIL=6.0", ",CAN-SKIP-DATERANGES=YES"))));
    }

    #[test]
    fn sc_05_flags_missing_blocking_reload_in_apple_mode() {
        let o = llhls_sc_05(&with("CAN-BLOCK-RELOAD=YES,", ""));
        assert!(o.has_level(Level::Apple));
    }

    #[test]
    fn part_01_flags_missing_uri_duration_and_bad_byterange() {
        assert!(fails(&llhls_part_01(&with(",URI=\"10.1.m4s\"", ""))));
        assert!(fails(&llhls_part_01(&with("DURATION=0.2,URI=\"10.1.m4s\"", "URI=\"10.1.m4s\""))));
        assert!(fails(&llhls_part_01(&with(
            "URI=\"10.1.m4s\"",
            "URI=\"10.1.m4s\",BYTERANGE=\"12@x\""
        ))));
        assert!(fails(&llhls_part_01(&with("URI=\"10.1.m4s\"", "URI=10.1.m4s"))));
    }

    #[test]
    fn part_02_flags_part_longer_than_part_target() {
        assert!(fails(&llhls_part_02(&with(
            "DURATION=0.2,URI=\"10.1.m4s\"",
            "DURATION=0.201,URI=\"10.1.m4s\""
        ))));
    }

    #[test]
    fn part_03_flags_short_middle_part_but_exempts_final_and_independent() {
        assert!(fails(&llhls_part_03(&with(
            "DURATION=0.2,URI=\"10.1.m4s\"",
            "DURATION=0.1,URI=\"10.1.m4s\""
        ))));
        // 10.2 is the final part of its parent (0.1 s) and 10.0 is INDEPENDENT.
        assert!(!fails(&llhls_part_03(&with(
            "DURATION=0.2,URI=\"10.0.m4s\"",
            "DURATION=0.05,URI=\"10.0.m4s\""
        ))));
        // Followed by a GAP part.
        let p = with("DURATION=0.2,URI=\"10.1.m4s\"", "DURATION=0.1,URI=\"10.1.m4s\"");
        let text = GOOD
            .replace("DURATION=0.2,URI=\"10.1.m4s\"", "DURATION=0.1,URI=\"10.1.m4s\"")
            .replace("DURATION=0.1,URI=\"10.2.m4s\"", "DURATION=0.1,URI=\"10.2.m4s\",GAP=YES");
        assert!(fails(&llhls_part_03(&p)));
        assert!(!fails(&llhls_part_03(&MediaPlaylist::parse(&text))));
    }

    #[test]
    fn part_06_warns_on_stale_parts() {
        let mut text = GOOD.to_string();
        for m in 11..16 {
            text = text.replace(
                "#EXT-X-PRELOAD-HINT",
                &format!("#EXTINF:1.0,\n{m}.m4s\n#EXT-X-PRELOAD-HINT"),
            );
        }
        let o = llhls_part_06(&MediaPlaylist::parse(&text));
        assert!(o.has_level(Level::Should), "{o:?}");
    }

    #[test]
    fn ph_rules_flag_missing_bad_and_duplicate_hints() {
        assert!(
            llhls_ph_01(&with("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"11.1.m4s\"\n", ""))
                .has_level(Level::Profile)
        );
        assert!(fails(&llhls_ph_02(&with("TYPE=PART,", "TYPE=SEGMENT,"))));
        assert!(fails(&llhls_ph_02(&with("URI=\"11.1.m4s\"\n", "BYTERANGE-START=x\n"))));
        assert!(fails(&llhls_ph_03(&MediaPlaylist::parse(&format!("{GOOD}#EXT-X-ENDLIST\n")))));
        let dup = with(
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"11.1.m4s\"\n",
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"11.1.m4s\"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"11.2.m4s\"\n",
        );
        assert!(llhls_ph_04(&dup).has_level(Level::Should));
    }

    #[test]
    fn rr_02_flags_absolute_uri_and_bad_numbers() {
        assert!(fails(&llhls_rr_02(&with("URI=\"audio.m3u8\"", "URI=\"http://x/audio.m3u8\""))));
        assert!(fails(&llhls_rr_02(&with("LAST-MSN=11", "LAST-MSN=\"11\""))));
        assert!(fails(&llhls_rr_02(&with("URI=\"audio.m3u8\",", ""))));
    }
}
