//! Rules judged on how the server answered specific requests: delivery directives, delta
//! updates, preload hints, status codes and HTTP headers.

use super::{Level, Outcome, ms};
use crate::playlist::MediaPlaylist;

/// What came back for one request, reduced to what the rules need.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// HTTP status; `None` when no response arrived (timeout, reset).
    pub status: Option<u16>,
    /// Transport error text when `status` is `None`.
    pub error: Option<String>,
    /// Seconds from request to last byte (or to the failure).
    pub secs: f64,
    /// The body parsed as a Media Playlist, for playlist requests that returned a body.
    pub playlist: Option<MediaPlaylist>,
    /// Content-Type header.
    pub content_type: Option<String>,
    /// Content-Encoding header.
    pub content_encoding: Option<String>,
    /// Cache-Control max-age / s-maxage in seconds.
    pub max_age: Option<f64>,
    /// Expires header.
    pub expires: Option<String>,
    /// Decoded body length.
    pub body_len: usize,
}

impl Observed {
    /// "200 in 12 ms" / "no response (timed out) after 3000 ms".
    pub fn describe(&self) -> String {
        match self.status {
            Some(s) => format!("{s} in {}", ms(self.secs)),
            None => format!(
                "no response ({}) after {}",
                self.error.as_deref().unwrap_or("error"),
                ms(self.secs)
            ),
        }
    }
}

fn edge(p: &MediaPlaylist) -> String {
    match p.last_part() {
        Some((m, i)) => format!("last part {m}.{i}"),
        None => format!("last msn {}", p.last_msn().map_or("-".to_string(), |m| m.to_string())),
    }
}

/// LLHLS-DD-01: the answer to `_HLS_msn=M` (no `_HLS_part`).
pub fn llhls_dd_01(m: u64, obs: &Observed) -> Outcome {
    // "When the Playlist URI contains an _HLS_msn directive and no _HLS_part directive, the
    // Server MUST defer responding to the request until the Playlist contains a Media Segment
    // with a Media Sequence Number of M or later or it responds with an error." "The Server MUST
    // deliver the entire Playlist" (§6.2.5.2)
    let mut o = Outcome::new();
    match (obs.status, &obs.playlist) {
        (Some(200), Some(p)) => {
            if !p.has_segment_at_or_after(m) && p.has_part_at_or_after(m, 0) {
                // Segment M is in the playlist only as its first parts. Safari waits for a new
                // segment's first part with `_HLS_msn` alone and stalls if that blocks until
                // the whole segment (OvenMediaEngine PR #2207), so servers answer here; the
                // literal reading wants the complete segment. Reported, not failed.
                o.should(format!(
                    "_HLS_msn={m}: answered {} when segment {m} had parts but was not complete (Safari-compatible reading)",
                    obs.describe()
                ));
            } else if !p.has_segment_at_or_after(m) {
                o.must(format!(
                    "_HLS_msn={m}: answered {} without segment {m} (last complete msn {})",
                    obs.describe(),
                    p.last_msn().map_or("-".to_string(), |x| x.to_string())
                ));
            }
            if p.skip.is_some() {
                o.must(format!(
                    "_HLS_msn={m}: answered with a delta update that was not asked for"
                ));
            }
            o.evidence(format!("_HLS_msn={m} answered {}", obs.describe()));
        }
        (Some(503), _) => {
            return Outcome::skip(format!("_HLS_msn={m} answered 503 after {}", ms(obs.secs)));
        }
        (None, _) => return Outcome::skip(format!("_HLS_msn={m}: {}", obs.describe())),
        (Some(s), _) => o.must(format!("_HLS_msn={m}: valid blocking request answered {s}")),
    }
    o
}

/// LLHLS-DD-02: the answer to `_HLS_msn=M&_HLS_part=N`.
pub fn llhls_dd_02(m: u64, n: u64, obs: &Observed) -> Outcome {
    // "When the Playlist URI contains both an _HLS_msn directive and an _HLS_part directive,
    // the Server MUST defer responding to the request until the Playlist contains the Partial
    // Segment with Part Index N and with a Media Sequence Number of M or later or it responds
    // with an error." "If the Client requests a Part Index greater than that of the final
    // Partial Segment of the Parent Segment, the Server MUST treat the request as one for Part
    // Index 0 of the following Parent Segment." (§6.2.5.2)
    let mut o = Outcome::new();
    match (obs.status, &obs.playlist) {
        (Some(200), Some(p)) => {
            if !p.has_part_at_or_after(m, n) && !p.endlist {
                o.must(format!(
                    "_HLS_msn={m}&_HLS_part={n}: answered {} with {}",
                    obs.describe(),
                    edge(p)
                ));
            }
        }
        (Some(503), _) => {
            return Outcome::skip(format!("{m}.{n} answered 503 after {}", ms(obs.secs)));
        }
        (None, _) => return Outcome::skip(format!("{m}.{n}: {}", obs.describe())),
        (Some(s), _) => {
            o.must(format!("_HLS_msn={m}&_HLS_part={n}: valid blocking request answered {s}"))
        }
    }
    o
}

/// LLHLS-DD-03: the answer to `_HLS_part` without `_HLS_msn`.
pub fn llhls_dd_03(obs: &Observed) -> Outcome {
    // "If the Playlist URI contains an _HLS_part directive but no _HLS_msn directive, the Server
    // MUST return Bad Request, such as HTTP 400." (§6.2.5.2)
    let mut o = Outcome::new();
    if obs.status != Some(400) {
        o.must(format!("_HLS_part without _HLS_msn answered {}", obs.describe()));
    } else {
        o.evidence(format!("400 in {}", ms(obs.secs)));
    }
    o
}

/// LLHLS-DD-04: far-future msn (`far_msn`), far-future part (`far_part`) and a legal msn two
/// ahead (`near`, which must not be refused).
pub fn llhls_dd_04(far_msn: &Observed, far_part: Option<&Observed>, near: &Observed) -> Outcome {
    // "If the _HLS_msn is greater than the Media Sequence Number of the last Media Segment in
    // the current Playlist plus two, or if the _HLS_part exceeds the last Partial Segment in the
    // current Playlist by the Advance Part Limit, then the server SHOULD immediately return Bad
    // Request, such as HTTP 400." (§6.2.5.2)
    let mut o = Outcome::new();
    for (what, obs) in std::iter::once(("msn > last+2", far_msn))
        .chain(far_part.map(|f| ("part beyond the Advance Part Limit", f)))
    {
        match obs.status {
            Some(400) if obs.secs <= 0.2 => o.evidence(format!("{what}: 400 in {}", ms(obs.secs))),
            Some(400) => o.should(format!("{what}: 400 only after {}", ms(obs.secs))),
            _ => {
                o.should(format!("{what}: answered {} instead of an immediate 400", obs.describe()))
            }
        }
    }
    if near.status == Some(400) {
        o.must(format!(
            "msn = last+2 is a legal blocking request but was refused with 400 ({})",
            near.describe()
        ));
    }
    o
}

/// LLHLS-DD-05: a blocking request that cannot be satisfied (publisher paused).
pub fn llhls_dd_05(m: u64, n: Option<u64>, obs: &Observed, td: u64) -> Outcome {
    // "A Server that cannot provide the requested Playlist after blocking for more than three
    // Target Durations SHOULD return Service Unavailable, such as HTTP 503." (§6.2.5.2)
    let target = 3.0 * td as f64;
    let what = match n {
        Some(n) => format!("{m}.{n}"),
        None => format!("msn {m}"),
    };
    let mut o = Outcome::new();
    match (obs.status, &obs.playlist) {
        (Some(503), _)
            if obs.secs >= target * 0.9 && obs.secs <= target + (td as f64).max(1.0) + 0.5 =>
        {
            o.evidence(format!("{what}: 503 after {} (3 x TD = {})", ms(obs.secs), ms(target)))
        }
        (Some(503), _) if obs.secs < target * 0.9 => o.should(format!(
            "{what}: gave up with 503 after {}, before 3 x TD = {}",
            ms(obs.secs),
            ms(target)
        )),
        (Some(503), _) => {
            o.should(format!("{what}: 503 only after {} (3 x TD = {})", ms(obs.secs), ms(target)))
        }
        (Some(200), Some(p)) if p.endlist => {
            return Outcome::skip("playlist ended (ENDLIST) while stalled");
        }
        (Some(200), Some(p)) => {
            let satisfied = match n {
                Some(n) => p.has_part_at_or_after(m, n),
                None => p.has_segment_at_or_after(m),
            };
            if satisfied {
                return Outcome::skip(format!(
                    "{what} was satisfied after {}: is the publisher paused?",
                    ms(obs.secs)
                ));
            }
            o.must(format!(
                "{what}: held request answered 200 after {} with the unchanged playlist ({}) instead of 503 (violates DD-01/02)",
                ms(obs.secs),
                edge(p)
            ));
        }
        (None, _) => {
            o.should(format!("{what}: {} (expected 503 at ~{})", obs.describe(), ms(target)))
        }
        (Some(s), _) => {
            o.should(format!("{what}: answered {} (expected 503 at ~{})", s, ms(target)))
        }
    }
    o
}

/// LLHLS-DD-06: `_HLS_skip=YES` on a playlist without CAN-SKIP-UNTIL (`skip_obs`), and
/// `_HLS_msn` on a playlist with ENDLIST (`endlist_obs`).
pub fn llhls_dd_06(
    base: &MediaPlaylist,
    skip_obs: Option<&Observed>,
    endlist_obs: Option<&Observed>,
) -> Outcome {
    // "A Server MUST ignore the _HLS_skip directive if the Playlist does not contain the
    // CAN-SKIP-UNTIL attribute, or if it contains an EXT-X-ENDLIST tag." (§6.2.5.1) "A Server
    // MUST ignore _HLS_msn and _HLS_part if the Playlist contains an EXT-X-ENDLIST tag."
    // (§6.2.5.2)
    let can_skip = base.server_control.as_ref().is_some_and(|s| s.can_skip_until.is_some());
    let mut o = Outcome::new();
    let mut applied = false;
    if let Some(obs) = skip_obs
        && (!can_skip || base.endlist)
    {
        applied = true;
        match (&obs.playlist, obs.status) {
            (Some(p), Some(200)) if p.skip.is_some() => {
                o.must("_HLS_skip=YES honoured although the playlist has no CAN-SKIP-UNTIL (or has ENDLIST)")
            }
            (Some(_), Some(200)) => o.evidence("_HLS_skip ignored"),
            _ => o.must(format!("_HLS_skip=YES (to be ignored) answered {}", obs.describe())),
        }
    }
    if let Some(obs) = endlist_obs
        && base.endlist
    {
        applied = true;
        if obs.status != Some(200) || obs.secs > 0.5 {
            o.must(format!(
                "_HLS_msn on an ENDLIST playlist answered {} (must be ignored)",
                obs.describe()
            ));
        }
    }
    if !applied {
        return Outcome::skip("live playlist with CAN-SKIP-UNTIL: no directive to ignore");
    }
    o
}

/// LLHLS-SKIP-01: a full playlist and a delta update taken at the same point.
pub fn llhls_skip_01(full: &MediaPlaylist, delta: &MediaPlaylist) -> Outcome {
    // "When a Server receives a request for a Playlist containing the CAN-SKIP-UNTIL attribute
    // but no EXT-X-ENDLIST tag, and the requested URI contains an _HLS_skip directive whose value
    // is YES or v2, it MUST respond with a Playlist Delta Update." "The Playlist Delta Update is a
    // version of the Playlist in which Media Segments that are further from the end of the last
    // (Parent) Media Segment in the Playlist than the Skip Boundary (Section 4.4.3.8), as well as
    // their associated tags, are replaced by an EXT-X-SKIP tag" "All tags that were not skipped
    // MUST remain in the Playlist Delta Update." (§6.2.5.1) "Replacing segments with the the
    // EXT-X-SKIP tag does not change the value of the EXT-X-DISCONTINUITY-SEQUENCE tag."
    // (§4.4.5.2) "A Playlist MUST indicate an EXT-X-VERSION of 9 or higher if it contains: The
    // EXT-X-SKIP tag." (§8)
    let Some(boundary) = full.server_control.as_ref().and_then(|s| s.can_skip_until) else {
        return Outcome::skip("no CAN-SKIP-UNTIL");
    };
    let mut o = Outcome::new();
    let Some(n) = delta.skipped_segments else {
        // Nothing may be skippable yet if the whole playlist is within the boundary.
        let skippable = skippable_count(full, boundary);
        if skippable > 0 {
            o.must(format!("_HLS_skip=YES answered without EXT-X-SKIP although {skippable} segments lie beyond the {boundary} s boundary"));
        } else {
            o.evidence("playlist shorter than the skip boundary; full playlist returned");
        }
        return o;
    };
    if delta.version.unwrap_or(1) < 9 {
        o.must(format!("delta update with EXT-X-VERSION {:?} (< 9)", delta.version));
    }
    if delta.media_sequence != full.media_sequence {
        o.must(format!(
            "MEDIA-SEQUENCE {} in delta vs {} in full",
            delta.media_sequence, full.media_sequence
        ));
    }
    if delta.discontinuity_sequence != full.discontinuity_sequence {
        o.must("DISCONTINUITY-SEQUENCE differs between delta and full");
    }
    let n = n as usize;
    if n > full.segments.len() {
        o.must(format!(
            "SKIPPED-SEGMENTS={n} but the full playlist has {} segments",
            full.segments.len()
        ));
        return o;
    }
    let rest = &full.segments[n..];
    if rest.len() != delta.segments.len() {
        o.must(format!(
            "delta lists {} segments after skipping {n}; full has {} after them",
            delta.segments.len(),
            rest.len()
        ));
    }
    for (a, b) in rest.iter().zip(&delta.segments) {
        if a.uri != b.uri || a.duration_raw != b.duration_raw || a.msn != b.msn {
            o.must(format!(
                "delta segment {} ({}) differs from full {} ({})",
                b.msn, b.uri, a.msn, a.uri
            ));
            break;
        }
        if a.map.as_ref().map(|m| &m.uri) != b.map.as_ref().map(|m| &m.uri) {
            // An EXT-X-MAP written before the skipped segments is one of "their associated tags"
            // that EXT-X-SKIP replaces (the 2019 LL-HLS spec lists EXT-X-MAP among them); the
            // client keeps it from its previous copy (§6.3.7). A MAP that sits among the
            // remaining segments must stay.
            let before_skip = match (&a.map, n.checked_sub(1).and_then(|i| full.segments.get(i))) {
                (Some(m), Some(last_skipped)) => m.line < last_skipped.line,
                _ => false,
            };
            if b.map.is_none() && before_skip {
                o.evidence(format!(
                    "EXT-X-MAP ahead of the skipped segments replaced by EXT-X-SKIP (msn {})",
                    a.msn
                ));
            } else {
                o.must(format!("msn {}: EXT-X-MAP lost or changed in the delta update", a.msn));
                break;
            }
        }
        if a.program_date_time.is_some() && b.program_date_time.is_none() {
            o.must(format!("msn {}: PROGRAM-DATE-TIME lost in the delta update", a.msn));
            break;
        }
        if a.parts.len() != b.parts.len() {
            o.must(format!(
                "msn {}: {} parts in full, {} in delta",
                a.msn,
                a.parts.len(),
                b.parts.len()
            ));
            break;
        }
    }
    if full.trailing_parts.len() != delta.trailing_parts.len() {
        o.must("trailing parts differ between full and delta");
    }
    if full.preload_hints.len() != delta.preload_hints.len() {
        o.must("PRELOAD-HINT tags differ between full and delta");
    }
    // Skip Boundary: distances from the end of the last complete segment.
    let total: f64 = full.segments.iter().map(|s| s.duration).filter(|d| d.is_finite()).sum();
    let mut start = 0.0;
    for (i, s) in full.segments.iter().enumerate() {
        let d = if s.duration.is_finite() { s.duration } else { 0.0 };
        let (start_dist, end_dist) = (total - start, total - start - d);
        if i < n && start_dist <= boundary - 1e-6 {
            o.must(format!("msn {} skipped although it lies within the skip boundary ({start_dist:.2} s <= {boundary} s)", s.msn));
            break;
        }
        if i >= n && end_dist > boundary + 1e-6 {
            o.must(format!("msn {} not skipped although it lies beyond the skip boundary ({end_dist:.2} s > {boundary} s)", s.msn));
            break;
        }
        start += d;
    }
    o.evidence(format!("skipped {n} of {} segments", full.segments.len()));
    o
}

fn skippable_count(full: &MediaPlaylist, boundary: f64) -> usize {
    let total: f64 = full.segments.iter().map(|s| s.duration).filter(|d| d.is_finite()).sum();
    let mut start = 0.0;
    let mut n = 0;
    for s in &full.segments {
        let d = if s.duration.is_finite() { s.duration } else { 0.0 };
        if total - start - d > boundary + 1e-6 {
            n += 1;
        }
        start += d;
    }
    n
}

/// LLHLS-PL-02: requests for a part far ahead (`far_part`) and for an unknown name (`unknown`).
pub fn llhls_pl_02(far_part: Option<&Observed>, unknown: &Observed) -> Outcome {
    // "The server SHOULD respond with "Not Found" (such as HTTP 404) to a request for a resource
    // that it cannot find and that is not specified by an EXT-X-PRELOAD-HINT tag in an active
    // Media Playlist." (§6.2.6)
    let mut o = Outcome::new();
    for (what, obs) in std::iter::once(("unknown resource", unknown))
        .chain(far_part.map(|f| ("part 10 segments ahead", f)))
    {
        if obs.status != Some(404) {
            o.should(format!("{what}: answered {} (expected 404)", obs.describe()));
        } else if obs.secs > 0.5 {
            o.should(format!("{what}: 404 only after {} (blocked)", ms(obs.secs)));
        } else {
            o.evidence(format!("{what}: 404 in {}", ms(obs.secs)));
        }
    }
    o
}

/// LLHLS-HTTP-01 as far as an HTTP/1.1 client can judge it.
pub fn llhls_http_01(uses_byterange: bool, range: Option<&Observed>, range_len: u64) -> Outcome {
    // "HTTP-delivered Playlists and Segments are served via HTTP/2 [RFC9113] or HTTP/3
    // [RFC9114]." "Servers support HTTP Range requests if Media Playlists contain the BYTERANGE,
    // BYTERANGE-START, or BYTERANGE-LENGTH attributes." (App. B.1)
    let mut o = Outcome::new();
    o.note("HTTP/2 and HTTP/3 not tested by this client (HTTP/1.1 only)");
    if let Some(r) = range {
        let ok = r.status == Some(206) && r.body_len as u64 == range_len;
        match (ok, uses_byterange) {
            (true, _) => o.evidence(format!("Range request answered 206 with {range_len} bytes")),
            (false, true) => o.problem(
                Level::Profile,
                format!(
                    "playlists use byte ranges but a Range request answered {} ({} bytes)",
                    r.describe(),
                    r.body_len
                ),
            ),
            (false, false) => o.note(format!(
                "Range request answered {} (not required: no byte ranges)",
                r.describe()
            )),
        }
    }
    o
}

/// One response whose Cache-Control is judged against Appendix B.1.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSample {
    /// Which kind of response this is ("blocking playlist 200", …).
    pub kind: &'static str,
    /// Recommended lifetime in seconds.
    pub expected: f64,
    /// max-age / s-maxage found, if any.
    pub got: Option<f64>,
}

/// LLHLS-HTTP-02.
pub fn llhls_http_02(samples: &[CacheSample]) -> Outcome {
    // "Successful responses to blocking Playlist requests should be cached for six Target
    // Durations. Unsuccessful responses (such as 404s) should be cached for four Target
    // Durations. Successful responses to non-blocking Playlist requests should be cached for
    // half the Target Duration. Unsuccessful responses to non-blocking Playlist requests should
    // be cached for for one Target Duration." "Successful responses to blocking Media Segment
    // requests should be cached for six Target Durations. Unsuccessful responses should be
    // cached for one Target Duration." "Origin servers should use Cache-Control headers to
    // communicate the desired cache lifetime." (App. B.1)
    if samples.is_empty() {
        return Outcome::skip("no responses sampled");
    }
    let mut o = Outcome::new();
    for s in samples {
        match s.got {
            None => o.should(format!(
                "{}: no Cache-Control max-age (recommended {} s)",
                s.kind, s.expected
            )),
            // max-age is whole seconds: accept the nearest whole seconds too (0.5 s -> 0 or 1).
            Some(g) if (g - s.expected).abs() > (s.expected * 0.5).max(0.5) => {
                o.should(format!("{}: max-age {g} (recommended {} s)", s.kind, s.expected))
            }
            Some(g) => o.evidence(format!("{}: max-age {g}", s.kind)),
        }
    }
    o
}

/// LLHLS-HTTP-03: Expires on segment responses of a live playlist that removes segments.
pub fn llhls_http_03(segments: &[(String, Option<String>)]) -> Outcome {
    // "If a server plans to remove a Media Segment after it is delivered to clients over HTTP, it
    // SHOULD ensure that the HTTP response contains an Expires header that reflects the planned
    // time-to-live." (§6.2.2)
    if segments.is_empty() {
        return Outcome::skip("no segment responses");
    }
    let mut o = Outcome::new();
    let missing: Vec<&str> =
        segments.iter().filter(|(_, e)| e.is_none()).map(|(u, _)| u.as_str()).collect();
    if !missing.is_empty() {
        o.should(format!(
            "{}/{} segment responses without Expires (e.g. {})",
            missing.len(),
            segments.len(),
            missing[0]
        ));
    }
    o
}

/// HLS-MP-09: results of many rapid GETs (Ok = parsed completely).
pub fn hls_mp_09(results: &[Result<(), String>]) -> Outcome {
    // "Changes to the Playlist file MUST be made atomically from the point of view of the
    // clients, or playback errors MAY occur." (§6.2.1)
    if results.is_empty() {
        return Outcome::skip("no rapid reloads made");
    }
    let mut o = Outcome::new();
    let bad: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    if let Some(first) = bad.first() {
        o.must(format!("{}/{} rapid reloads incomplete: {first}", bad.len(), results.len()));
    }
    o.evidence(format!("{} rapid reloads parsed", results.len()));
    o
}

/// HLS-MP-14: a playlist request sent with `Accept-Encoding: gzip`.
pub fn hls_mp_14(obs: &Observed, low_latency: bool) -> Outcome {
    // "HTTP servers SHOULD transfer text files -- such as Playlists and WebVTT segments -- using
    // the "gzip" Content-Encoding if the client indicates that it is prepared to accept it."
    // (§6.2.1) Profile: "Playlists are delivered in GZIP format." (App. B.1)
    let mut o = Outcome::new();
    let level = if low_latency { Level::Profile } else { Level::Should };
    let gz = obs.content_encoding.as_deref().is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
    if obs.status != Some(200) {
        o.problem(level, format!("gzip request answered {}", obs.describe()));
    } else if !gz {
        o.problem(
            level,
            format!("Accept-Encoding: gzip but Content-Encoding is {:?}", obs.content_encoding),
        );
    } else if let Some(Err(e)) = obs.playlist.as_ref().map(|p| p.looks_complete()) {
        o.must(format!("gzip body decodes to an incomplete playlist: {e}"));
    } else {
        o.evidence(format!("gzip {} bytes decoded", obs.body_len));
    }
    o
}

/// HLS-PL-03.
pub fn hls_pl_03(path: &str, content_type: Option<&str>) -> Outcome {
    // "Each Playlist file MUST be identifiable either by the path component of its URI or by
    // HTTP Content-Type. In the first case, the path MUST end with either .m3u8 or .m3u. In the
    // second, the HTTP Content-Type MUST be "application/vnd.apple.mpegurl" or "audio/mpegurl"."
    // (§4) RULES.md: require one of the two types regardless (mediastreamvalidator "Illegal MIME
    // type").
    let mut o = Outcome::new();
    let mime =
        content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match mime.as_deref() {
        Some("application/vnd.apple.mpegurl" | "audio/mpegurl") => {}
        other => {
            let by_path = path.ends_with(".m3u8") || path.ends_with(".m3u");
            o.must(format!(
                "Content-Type {:?} is not application/vnd.apple.mpegurl or audio/mpegurl{}",
                other.unwrap_or("(none)"),
                if by_path { " (path ends .m3u8)" } else { "" }
            ));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails(o: &Outcome) -> bool {
        o.problems.iter().any(|p| p.level.fails(false))
    }

    fn seg_playlist(first: u64, count: u64, dur: f64, extra_header: &str) -> String {
        let mut t = format!(
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.0\n{extra_header}#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n"
        );
        for m in first..first + count {
            t.push_str(&format!("#EXTINF:{dur:.3},\n{m}.m4s\n"));
        }
        t
    }

    fn obs(status: u16, secs: f64, body: Option<&str>) -> Observed {
        Observed {
            status: Some(status),
            secs,
            playlist: body.map(MediaPlaylist::parse),
            ..Observed::default()
        }
    }

    #[test]
    fn dd_01_flags_stale_answer() {
        let p = seg_playlist(10, 5, 1.0, "");
        assert!(!fails(&llhls_dd_01(14, &obs(200, 0.9, Some(&p)))));
        assert!(fails(&llhls_dd_01(15, &obs(200, 0.01, Some(&p)))));
        assert!(fails(&llhls_dd_01(15, &obs(404, 0.01, None))));
        assert!(llhls_dd_01(15, &obs(503, 3.0, None)).skipped.is_some());
        // Segment 15 present only as parts: a warning, not a failure.
        let with_parts = format!("{p}#EXT-X-PART:DURATION=0.2,URI=\"15.0.m4s\"\n");
        let o = llhls_dd_01(15, &obs(200, 0.2, Some(&with_parts)));
        assert!(!fails(&o) && !o.problems.is_empty(), "{o:?}");
    }

    #[test]
    fn dd_02_flags_answer_without_the_part() {
        let p = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART-INF:PART-TARGET=0.2\n#EXT-X-PART:DURATION=0.2,URI=\"5.0.m4s\"\n";
        assert!(!fails(&llhls_dd_02(0, 0, &obs(200, 0.2, Some(p)))));
        assert!(fails(&llhls_dd_02(0, 1, &obs(200, 0.0, Some(p)))));
    }

    #[test]
    fn dd_03_requires_400() {
        assert!(!fails(&llhls_dd_03(&obs(400, 0.001, None))));
        assert!(fails(&llhls_dd_03(&obs(200, 0.001, None))));
    }

    #[test]
    fn dd_04_warns_on_blocking_far_future_and_fails_on_refused_near() {
        let far_ok = obs(400, 0.01, None);
        let near_blocked = Observed {
            status: None,
            error: Some("timed out".into()),
            secs: 1.0,
            ..Observed::default()
        };
        assert!(llhls_dd_04(&far_ok, None, &near_blocked).problems.is_empty());
        let o = llhls_dd_04(&near_blocked, None, &near_blocked);
        assert!(o.has_level(Level::Should) && !fails(&o));
        assert!(fails(&llhls_dd_04(&far_ok, None, &obs(400, 0.0, None))));
    }

    #[test]
    fn dd_05_accepts_503_at_three_target_durations_and_flags_stale_200() {
        assert!(llhls_dd_05(5, Some(1), &obs(503, 3.05, None), 1).problems.is_empty());
        assert!(llhls_dd_05(5, Some(1), &obs(503, 0.5, None), 1).has_level(Level::Should));
        let p = seg_playlist(1, 4, 1.0, "");
        assert!(fails(&llhls_dd_05(5, None, &obs(200, 3.0, Some(&p)), 1)));
    }

    #[test]
    fn dd_06_flags_skip_honoured_without_can_skip_until() {
        let base =
            MediaPlaylist::parse(&seg_playlist(1, 4, 1.0, "").replace(",CAN-SKIP-UNTIL=6.0", ""));
        let delta = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXTINF:1.0,\n3.m4s\n";
        assert!(fails(&llhls_dd_06(&base, Some(&obs(200, 0.0, Some(delta))), None)));
        let full = seg_playlist(1, 4, 1.0, "");
        assert!(!fails(&llhls_dd_06(&base, Some(&obs(200, 0.0, Some(&full))), None)));
        let live = MediaPlaylist::parse(&full);
        assert!(llhls_dd_06(&live, Some(&obs(200, 0.0, Some(&full))), None).skipped.is_some());
    }

    fn delta_of(full: &str, skipped: usize) -> String {
        let p = MediaPlaylist::parse(full);
        let mut t = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:1\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.0\n".to_string();
        t.push_str(&format!("#EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}\n#EXT-X-MAP:URI=\"init.mp4\"\n", p.media_sequence));
        for s in &p.segments[skipped..] {
            t.push_str(&format!("#EXTINF:{},\n{}\n", s.duration_raw, s.uri));
        }
        t
    }

    #[test]
    fn skip_01_accepts_correct_delta_and_flags_wrong_ones() {
        let full_text = seg_playlist(100, 12, 1.0, "");
        let full = MediaPlaylist::parse(&full_text);
        // 12 s of media, boundary 6 s: segments 100..105 lie entirely beyond it.
        let good = MediaPlaylist::parse(&delta_of(&full_text, 6));
        assert!(
            llhls_skip_01(&full, &good).problems.is_empty(),
            "{:?}",
            llhls_skip_01(&full, &good)
        );
        let too_many = MediaPlaylist::parse(&delta_of(&full_text, 8));
        assert!(fails(&llhls_skip_01(&full, &too_many)));
        let too_few = MediaPlaylist::parse(&delta_of(&full_text, 2));
        assert!(fails(&llhls_skip_01(&full, &too_few)));
        // A MAP ahead of the skipped segments goes with them…
        let no_map = MediaPlaylist::parse(
            &delta_of(&full_text, 6).replace("#EXT-X-MAP:URI=\"init.mp4\"\n", ""),
        );
        assert!(!fails(&llhls_skip_01(&full, &no_map)), "{:?}", llhls_skip_01(&full, &no_map));
        // …but a MAP among the remaining segments (here before msn 108) must stay.
        let switched = full_text.replacen(
            "#EXTINF:1.000,\n108.m4s",
            "#EXT-X-MAP:URI=\"init-2.mp4\"\n#EXTINF:1.000,\n108.m4s",
            1,
        );
        let lost = MediaPlaylist::parse(&delta_of(&switched, 6));
        assert!(fails(&llhls_skip_01(&MediaPlaylist::parse(&switched), &lost)));
        let low_version =
            MediaPlaylist::parse(&delta_of(&full_text, 6).replace("VERSION:9", "VERSION:6"));
        assert!(fails(&llhls_skip_01(&full, &low_version)));
        assert!(fails(&llhls_skip_01(&full, &full)));
    }

    #[test]
    fn pl_02_warns_unless_fast_404() {
        assert!(llhls_pl_02(None, &obs(404, 0.01, None)).problems.is_empty());
        assert!(llhls_pl_02(None, &obs(200, 0.01, None)).has_level(Level::Should));
        assert!(
            llhls_pl_02(Some(&obs(404, 2.0, None)), &obs(404, 0.01, None)).has_level(Level::Should)
        );
    }

    #[test]
    fn http_01_always_notes_h2_and_fails_missing_range_support_with_byteranges() {
        let o = llhls_http_01(
            false,
            Some(&Observed { status: Some(206), body_len: 100, ..Observed::default() }),
            100,
        );
        assert!(o.problems.is_empty() && !o.notes.is_empty());
        let o = llhls_http_01(true, Some(&obs(200, 0.0, None)), 100);
        assert!(fails(&o));
    }

    #[test]
    fn http_02_warns_outside_half_to_double() {
        let ok = CacheSample { kind: "non-blocking playlist 200", expected: 0.5, got: Some(0.5) };
        assert!(llhls_http_02(std::slice::from_ref(&ok)).problems.is_empty());
        let bad = CacheSample { got: Some(60.0), ..ok.clone() };
        assert!(llhls_http_02(&[bad]).has_level(Level::Should));
        let none = CacheSample { got: None, ..ok };
        assert!(llhls_http_02(&[none]).has_level(Level::Should));
    }

    #[test]
    fn http_03_warns_without_expires() {
        assert!(llhls_http_03(&[("1.m4s".into(), None)]).has_level(Level::Should));
        assert!(
            llhls_http_03(&[("1.m4s".into(), Some("Thu, 01 Jan 2026 00:00:00 GMT".into()))])
                .problems
                .is_empty()
        );
    }

    #[test]
    fn mp_09_flags_any_incomplete_reload() {
        assert!(fails(&hls_mp_09(&[Ok(()), Err("no EXT-X-TARGETDURATION".into())])));
        assert!(!fails(&hls_mp_09(&[Ok(())])));
    }

    #[test]
    fn mp_14_requires_gzip_for_ll() {
        let plain = Observed { status: Some(200), ..Observed::default() };
        assert!(fails(&hls_mp_14(&plain, true)));
        assert!(!fails(&hls_mp_14(&plain, false)));
        let gz = Observed {
            status: Some(200),
            content_encoding: Some("gzip".into()),
            playlist: Some(MediaPlaylist::parse(&seg_playlist(1, 1, 1.0, ""))),
            ..Observed::default()
        };
        assert!(hls_mp_14(&gz, true).problems.is_empty());
    }

    #[test]
    fn pl_03_requires_playlist_mime_type() {
        assert!(hls_pl_03("/a.m3u8", Some("application/vnd.apple.mpegurl")).problems.is_empty());
        assert!(hls_pl_03("/a.m3u8", Some("audio/mpegurl; charset=utf-8")).problems.is_empty());
        assert!(fails(&hls_pl_03("/a.m3u8", Some("application/x-mpegURL"))));
        assert!(fails(&hls_pl_03("/a.m3u8", None)));
    }
}
