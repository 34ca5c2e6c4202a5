//! The rules of `conformance/RULES.md` sections A (HLS / LL-HLS), B (HLS with MPEG-TS
//! segments), the HEVC-relevant rules of C (CMAF-01/05/09/13) and E (WHIP / WHEP signalling),
//! one function per rule id (section E: `whip`, several checks per rule id).
//!
//! Every rule function is pure: it takes parsed playlists and/or recorded observations (what
//! came back over the wire and when) and returns an [`Outcome`]. The I/O that produces the
//! observations lives in `crate::live`; the verdict (PASS/FAIL/WARN/SKIP) is decided by
//! `crate::report` from the problems' levels, so a SHOULD problem warns and a MUST problem fails.

pub mod cmaf;
pub mod content;
pub mod dash;
pub mod delivery;
pub mod media;
pub mod multivariant;
pub mod reload;
pub mod timing;
pub mod ts;
pub mod whip;

use std::fmt;

/// How binding a requirement is (RULES.md "Levels").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Spec SHOULD / RECOMMENDED: warn.
    Should,
    /// Apple authoring requirement stricter than the draft: fail with `--apple`, warn otherwise.
    Apple,
    /// Appendix B.1 Low-Latency Server Configuration Profile: fail for LL-HLS.
    Profile,
    /// Spec MUST / SHALL / REQUIRED: fail.
    Must,
}

impl Level {
    /// Upper-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::Apple => "APPLE",
            Self::Profile => "PROFILE",
        }
    }

    /// True when a problem at this level makes the rule FAIL.
    pub fn fails(self, apple: bool) -> bool {
        match self {
            Self::Must | Self::Profile => true,
            Self::Apple => apple,
            Self::Should => false,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One violation found by a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// How binding the violated sentence is.
    pub level: Level,
    /// What was seen (evidence), short.
    pub msg: String,
}

/// What one evaluation of a rule found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Violations.
    pub problems: Vec<Problem>,
    /// Evidence for a pass (what was checked, measured values).
    pub evidence: Vec<String>,
    /// Set when the rule could not be applied here, with the reason.
    pub skipped: Option<String>,
    /// A forced warning that is not a violation (e.g. "h2 not tested by this client").
    pub notes: Vec<String>,
}

impl Outcome {
    /// An empty (passing) outcome.
    pub fn new() -> Self {
        Self::default()
    }

    /// A not-applicable outcome.
    pub fn skip(why: impl Into<String>) -> Self {
        Self { skipped: Some(why.into()), ..Self::default() }
    }

    /// Records a violation.
    pub fn problem(&mut self, level: Level, msg: impl Into<String>) {
        self.problems.push(Problem { level, msg: msg.into() });
    }

    /// Records a MUST violation.
    pub fn must(&mut self, msg: impl Into<String>) {
        self.problem(Level::Must, msg);
    }

    /// Records a SHOULD violation.
    pub fn should(&mut self, msg: impl Into<String>) {
        self.problem(Level::Should, msg);
    }

    /// Records evidence.
    pub fn evidence(&mut self, msg: impl Into<String>) {
        self.evidence.push(msg.into());
    }

    /// Records a note that turns a pass into a WARN.
    pub fn note(&mut self, msg: impl Into<String>) {
        self.notes.push(msg.into());
    }

    /// Builder form of [`Outcome::evidence`].
    pub fn with_evidence(mut self, msg: impl Into<String>) -> Self {
        self.evidence(msg);
        self
    }

    /// True when no problem was recorded and the rule was not skipped.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.skipped.is_none()
    }

    /// True when a problem at `level` or any failing level was recorded.
    pub fn has_level(&self, level: Level) -> bool {
        self.problems.iter().any(|p| p.level == level)
    }
}

/// A rule's id, declared level and title (for listing and for rules never exercised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// Rule id as in RULES.md.
    pub id: &'static str,
    /// Declared level (the strongest level the rule can fail at).
    pub level: Level,
    /// Short title.
    pub title: &'static str,
}

macro_rules! rule {
    ($id:literal, $lvl:ident, $title:literal) => {
        RuleInfo { id: $id, level: Level::$lvl, title: $title }
    };
}

/// Every rule the checker judges, in RULES.md document order: section A, section B, then the
/// section C rules that matter for HEVC in fMP4.
pub const CATALOGUE: &[RuleInfo] = &[
    rule!("HLS-PL-01", Must, "first line is #EXTM3U"),
    rule!("HLS-PL-02", Must, "UTF-8, no BOM / control chars / stray whitespace; well-formed lines"),
    rule!(
        "HLS-PL-03",
        Must,
        "playlist Content-Type application/vnd.apple.mpegurl or audio/mpegurl"
    ),
    rule!("HLS-PL-04", Must, "no mixing of multivariant and media tags"),
    rule!("HLS-PL-05", Must, "at most one of each playlist tag"),
    rule!("HLS-PL-06", Must, "EXT-X-VERSION matches the features used"),
    rule!("HLS-MP-01", Must, "EXT-X-TARGETDURATION present, integer >= 1"),
    rule!("HLS-MP-02", Must, "rounded EXTINF <= TARGETDURATION"),
    rule!("HLS-MP-03", Must, "TARGETDURATION never changes"),
    rule!("HLS-MP-04", Must, "MEDIA-SEQUENCE / DISCONTINUITY-SEQUENCE placement and progression"),
    rule!("HLS-MP-05", Must, "server only appends / removes from the head"),
    rule!("HLS-MP-06", Must, "live playlist has no EXT-X-PLAYLIST-TYPE"),
    rule!("HLS-MP-07", Must, "live playlist duration never below 3 x TD after removals"),
    rule!("HLS-MP-08", Must, "new segment within 1.5 x TD"),
    rule!("HLS-MP-09", Must, "playlist updates are atomic"),
    rule!("HLS-MP-10", Must, "listed segments download at once at link speed"),
    rule!("HLS-MP-11", Must, "removed segments / parts stay downloadable"),
    rule!("HLS-MP-12", Must, "EXT-X-MAP applied; MAP/KEY/DISCONTINUITY/PDT before first part"),
    rule!("HLS-MP-13", Should, "PROGRAM-DATE-TIME format, presence and cross-rendition mapping"),
    rule!("HLS-MP-14", Should, "playlists gzip-encoded when accepted"),
    rule!("HLS-MP-15", Must, "timestamps continue across segments"),
    rule!("HLS-MP-16", Apple, "EXT-X-INDEPENDENT-SEGMENTS in multivariant or every video playlist"),
    rule!("HLS-MV-01", Must, "STREAM-INF BANDWIDTH + URI; BANDWIDTH >= peak bit rate"),
    rule!("HLS-MV-02", Should, "CODECS present and matching the init segments"),
    rule!("HLS-MV-03", Should, "RESOLUTION / FRAME-RATE on video variants"),
    rule!("HLS-MV-04", Must, "EXT-X-MEDIA groups and attributes consistent"),
    rule!("HLS-MV-05", Must, "renditions share TARGETDURATION and SERVER-CONTROL"),
    rule!("LLHLS-PI-01", Must, "EXT-X-PART-INF with PART-TARGET when parts exist"),
    rule!("LLHLS-PI-02", Must, "PART-TARGET and SERVER-CONTROL stable across reloads"),
    rule!("LLHLS-SC-01", Must, "PART-HOLD-BACK present with PART-INF"),
    rule!("LLHLS-SC-02", Must, "PART-HOLD-BACK >= 2 x (SHOULD 3 x) PART-TARGET"),
    rule!("LLHLS-SC-03", Must, "HOLD-BACK >= 3 x TARGETDURATION"),
    rule!("LLHLS-SC-04", Must, "CAN-SKIP-UNTIL >= 6 x TARGETDURATION"),
    rule!("LLHLS-SC-05", Apple, "CAN-BLOCK-RELOAD=YES"),
    rule!("LLHLS-PART-01", Must, "EXT-X-PART has URI and DURATION, valid BYTERANGE"),
    rule!("LLHLS-PART-02", Must, "part DURATION <= PART-TARGET"),
    rule!("LLHLS-PART-03", Must, "part DURATION >= 0.85 x PART-TARGET (with exemptions)"),
    rule!("LLHLS-PART-04", Must, "parts carry exactly the parent's samples"),
    rule!("LLHLS-PART-05", Should, "INDEPENDENT=YES matches sync frames"),
    rule!("LLHLS-PART-06", Should, "EXT-X-PART removed beyond 3 x TD"),
    rule!("LLHLS-PART-07", Must, "new part within one PART-TARGET"),
    rule!("LLHLS-PH-01", Profile, "PRELOAD-HINT TYPE=PART for the next part"),
    rule!("LLHLS-PH-02", Must, "PRELOAD-HINT has TYPE and URI"),
    rule!("LLHLS-PH-03", Must, "no PRELOAD-HINT with ENDLIST"),
    rule!("LLHLS-PH-04", Should, "at most one PRELOAD-HINT per TYPE"),
    rule!("LLHLS-PH-05", Must, "hinted URI is the URI later published"),
    rule!("LLHLS-RR-01", Profile, "one RENDITION-REPORT per other rendition"),
    rule!("LLHLS-RR-02", Must, "RENDITION-REPORT relative URI, LAST-MSN/LAST-PART syntax"),
    rule!("LLHLS-RR-03", Must, "RENDITION-REPORT matches the other playlist"),
    rule!("LLHLS-DD-01", Must, "_HLS_msn blocks until the segment exists"),
    rule!("LLHLS-DD-02", Must, "_HLS_msn+_HLS_part blocks until the part exists"),
    rule!("LLHLS-DD-03", Must, "_HLS_part without _HLS_msn is 400"),
    rule!("LLHLS-DD-04", Should, "far-future directives are refused with 400"),
    rule!("LLHLS-DD-05", Should, "blocked request answered 503 after 3 x TD"),
    rule!("LLHLS-DD-06", Must, "directives ignored when they do not apply"),
    rule!("LLHLS-DD-07", Must, "held playlist released promptly when the part lands"),
    rule!("LLHLS-SKIP-01", Must, "_HLS_skip=YES delta update equals the full playlist"),
    rule!("LLHLS-SKIP-02", Must, "_HLS_skip=v2 date-range skipping"),
    rule!("LLHLS-PL-01", Must, "hinted part requestable; sent whole at link speed"),
    rule!("LLHLS-PL-02", Should, "404 (not blocking) for unknown, unhinted resources"),
    rule!("LLHLS-HTTP-01", Profile, "HTTP/2 or HTTP/3; Range when byte ranges are used"),
    rule!("LLHLS-HTTP-02", Should, "Cache-Control lifetimes per Appendix B.1"),
    rule!("LLHLS-HTTP-03", Should, "Expires on segments planned for removal"),
    rule!("TS-01", Must, "188-byte packets with sync byte 0x47, length a multiple of 188"),
    rule!("TS-02", Must, "exactly one MPEG-2 program per segment"),
    rule!("TS-03", Must, "PAT and PMT in every segment (or EXT-X-MAP)"),
    rule!("TS-04", Should, "first two packets are PAT then PMT"),
    rule!("TS-05", Apple, "segment starts with IDR / IRAP, parameter sets first"),
    rule!("TS-06", Must, "continuity counters and PTS/DTS continue across segments"),
    rule!("TS-07", Must, "PCR on the PCR_PID at most 100 ms apart"),
    rule!("TS-08", Must, "EXTINF vs TARGETDURATION (unrounded before version 6)"),
    rule!("TS-09", Must, "packed audio starts with the ID3 PRIV transportStreamTimestamp"),
    rule!("TS-10", Should, "CODECS matches the TS elementary streams"),
    rule!("CMAF-01", Must, "init: ftyp (iso6 or higher) then moov, no sample data"),
    rule!("CMAF-05", Must, "one track / traf / trun; hvcC well-formed; colr + pasp"),
    rule!("CMAF-09", Must, "each segment starts with a sync sample (IDR / IRAP)"),
    rule!("CMAF-13", Must, "CODECS equals the string derived from avcC / hvcC / esds"),
];

/// RULES.md section D (LL-DASH), judged by `sluice-check dash` and, for .mpd files, `lint`.
pub const DASH_CATALOGUE: &[RuleInfo] = &[
    rule!(
        "DASH-MPD-01",
        Must,
        "MPD well-formed: required elements / attributes (structural, no XSD)"
    ),
    rule!("DASH-MPD-02", Must, "dynamic with AST; AST, Period@id/@start, AdaptationSet ids stable"),
    rule!("DASH-MPD-03", Must, "Representation@id unique within a Period"),
    rule!("DASH-MPD-04", Must, "minimumUpdatePeriod semantics, snapshot validity, end of live"),
    rule!("DASH-MPD-05", Must, "publishTime changes iff the MPD content changes"),
    rule!(
        "LLDASH-ST-01",
        Must,
        "$Number$/$Time$ addressing, no S@n, stable numbering, timeline to the edge"
    ),
    rule!("LLDASH-ST-02", Must, "fragment earliest presentation time within +-50 % of its slot"),
    rule!(
        "LLDASH-UTC-01",
        Must,
        "UTCTiming with an allowed scheme, answering, clock within 100 ms"
    ),
    rule!("LLDASH-SD-01", Must, "ServiceDescription with Latency@target"),
    rule!("LLDASH-PRT-01", Must, "ProducerReferenceTime per LL Adaptation Set (prft when inband)"),
    rule!("LLDASH-ATO-01", Must, "availabilityTimeOffset > 0, ~ segment - chunk duration"),
    rule!("LLDASH-ATO-02", Must, "availabilityTimeComplete=false on chunked Adaptation Sets only"),
    rule!("LLDASH-SEG-01", Must, "LL segment / chunk layout (durations vs target, moofs, Resync)"),
    rule!("LLDASH-PROF-01", Should, "DASH-IF LL profile, LeapSecondInformation, inband MPD events"),
    rule!("LLDASH-AV-01", Must, "availability window: newest in window 200, next not served early"),
    rule!(
        "LLDASH-CTE-01",
        Must,
        "in-progress segment 200 at once, streamed chunk by chunk, same bytes"
    ),
    rule!("LLDASH-TSB-01", Must, "timeShiftBufferDepth served, SPD sane, maxSegmentDuration holds"),
    rule!("LLDASH-AS-01", Should, "availability attributes not on the Representation level only"),
    rule!("LLDASH-HTTP-01", Should, "MPD application/dash+xml, max-age <= MUP, ETag + 304"),
];

/// Section E (WHIP RFC 9725, WHEP draft-ietf-wish-whep-03), in RULES.md order. Kept apart from
/// [`CATALOGUE`] so that HLS reports list only HLS rules and WHIP/WHEP reports only these.
pub const WEBRTC_CATALOGUE: &[RuleInfo] = &[
    rule!(
        "WHIP-01",
        Must,
        "POST offer -> 201, application/sdp answer matching the offer, Location"
    ),
    rule!(
        "WHIP-02",
        Must,
        "wrong Content-Type / malformed SDP -> 4xx (415 / 400), still serving; no partial answers"
    ),
    rule!("WHIP-03", Must, "answer recvonly, BUNDLE, rtcp-mux, a=setup active/passive"),
    rule!("WHIP-04", Must, "DELETE ends the session (If-Match ignored); afterwards 404"),
    rule!("WHIP-05", Must, "OPTIONS and CORS preflight; Accept-Post: application/sdp"),
    rule!("WHIP-06", Must, "GET on endpoint and session: 2xx with no content"),
    rule!(
        "WHIP-07",
        Must,
        "strong ETag; trickle PATCH 204, 428 / 412 / 415 / 400, 422, 405+Allow / 501"
    ),
    rule!("WHIP-08", Must, "ICE restart PATCH (If-Match: *) -> 200 sdpfrag, new ufrag/pwd + ETag"),
    rule!("WHIP-09", Must, "Link rel=ice-server: stun/turn URIs, TURN credentials (optional)"),
    rule!("WHIP-10", Must, "extensions only as Link urn:ietf:params:whip:ext:*, none required"),
    rule!("WHIP-11", Must, "Bearer token: missing / wrong token -> 401 with WWW-Authenticate"),
    rule!("WHIP-12", Must, "redirects use 307, never 301/302; 503 for overload"),
    rule!("WHIP-13", Should, "simulcast and full ICE (needs a WebRTC peer: not exercised)"),
    rule!(
        "WHEP-01",
        Must,
        "POST offer -> 201 answer (or 406 counter-offer; 409 + Retry-After when not live); 4xx errors"
    ),
    rule!(
        "WHEP-02",
        Must,
        "answer sendonly, one msid, BUNDLE, rtcp-mux, setup; counter-offer not recvonly"
    ),
    rule!("WHEP-03", Must, "GET on endpoint and session: 2xx with no content (HEAD reported)"),
    rule!("WHEP-04", Must, "the WHIP-04..WHIP-12 rules applied to WHEP (see those lines)"),
    rule!("WHEP-05", Must, "media flows after set-up (needs a WebRTC peer: not exercised)"),
];

/// The rules a `sluice-check whip` report lists.
pub const WHIP_RULES: &[&str] = &[
    "WHIP-01", "WHIP-02", "WHIP-03", "WHIP-04", "WHIP-05", "WHIP-06", "WHIP-07", "WHIP-08",
    "WHIP-09", "WHIP-10", "WHIP-11", "WHIP-12", "WHIP-13",
];

/// The rules a `sluice-check whep` report lists: WHEP's own, then the WHIP rules WHEP-04 applies
/// (each judged on the WHEP session and also folded into WHEP-04).
pub const WHEP_RULES: &[&str] = &[
    "WHEP-01", "WHEP-02", "WHEP-03", "WHEP-04", "WHEP-05", "WHIP-04", "WHIP-05", "WHIP-07",
    "WHIP-08", "WHIP-09", "WHIP-10", "WHIP-11", "WHIP-12",
];

/// Every rule that judges one Media Playlist response on its own, in catalogue order.
/// `removal_seen` says whether segments have been removed from the head (sliding window).
pub fn media_snapshot(
    text: &str,
    body: &[u8],
    p: &crate::playlist::MediaPlaylist,
    removal_seen: bool,
) -> Vec<(&'static str, Outcome)> {
    let mut syntax = media::hls_pl_02(body);
    for i in &p.syntax_issues {
        syntax.must(format!("syntax: {i}"));
    }
    vec![
        ("HLS-PL-01", media::hls_pl_01(text)),
        ("HLS-PL-02", syntax),
        ("HLS-PL-04", media::hls_pl_04(&p.doc)),
        ("HLS-PL-05", media::hls_pl_05(&p.doc)),
        ("HLS-PL-06", media::hls_pl_06(p)),
        ("HLS-MP-01", media::hls_mp_01(p)),
        ("HLS-MP-02", media::hls_mp_02(p)),
        ("HLS-MP-04", media::hls_mp_04_placement(p)),
        ("HLS-MP-06", media::hls_mp_06(p, removal_seen)),
        ("HLS-MP-07", media::hls_mp_07(p, removal_seen)),
        ("HLS-MP-12", media::hls_mp_12(p)),
        ("HLS-MP-13", media::hls_mp_13(p)),
        ("LLHLS-PI-01", media::llhls_pi_01(p)),
        ("LLHLS-SC-01", media::llhls_sc_01(p)),
        ("LLHLS-SC-03", media::llhls_sc_03(p)),
        ("LLHLS-SC-04", media::llhls_sc_04(p)),
        ("LLHLS-SC-05", media::llhls_sc_05(p)),
        ("LLHLS-PART-01", media::llhls_part_01(p)),
        ("LLHLS-PART-02", media::llhls_part_02(p)),
        ("LLHLS-PART-03", media::llhls_part_03(p)),
        ("LLHLS-PART-06", media::llhls_part_06(p)),
        ("LLHLS-PH-01", media::llhls_ph_01(p)),
        ("LLHLS-PH-02", media::llhls_ph_02(p)),
        ("LLHLS-PH-03", media::llhls_ph_03(p)),
        ("LLHLS-PH-04", media::llhls_ph_04(p)),
        ("LLHLS-RR-02", media::llhls_rr_02(p)),
    ]
}

/// Every rule that judges a Multivariant Playlist on its own.
pub fn multivariant_static(
    text: &str,
    body: &[u8],
    mv: &crate::playlist::Multivariant,
) -> Vec<(&'static str, Outcome)> {
    let mut syntax = media::hls_pl_02(body);
    for i in mv.issues.iter().filter(|i| !i.contains("STREAM-INF")) {
        syntax.must(format!("syntax: {i}"));
    }
    vec![
        ("HLS-PL-01", media::hls_pl_01(text)),
        ("HLS-PL-02", syntax),
        ("HLS-PL-04", media::hls_pl_04(&mv.doc)),
        ("HLS-PL-05", media::hls_pl_05(&mv.doc)),
        ("HLS-PL-06", media::hls_pl_06_multivariant(mv)),
        ("HLS-MV-01", multivariant::hls_mv_01(mv)),
        ("HLS-MV-03", multivariant::hls_mv_03(mv)),
        ("HLS-MV-04", multivariant::hls_mv_04(mv)),
    ]
}

/// The catalogue entry for `id` (sections A-C and E).
pub fn info(id: &str) -> Option<&'static RuleInfo> {
    CATALOGUE.iter().chain(DASH_CATALOGUE).chain(WEBRTC_CATALOGUE).find(|r| r.id == id)
}

/// Percentile (nearest-rank) of a slice of seconds; `None` for an empty slice.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v.get(rank.min(v.len()) - 1).copied()
}

/// Milliseconds with no decimals, for messages.
pub fn ms(secs: f64) -> String {
    let v = secs * 1000.0;
    format!("{:.0} ms", if v.abs() < 0.5 { 0.0 } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_are_unique_and_cover_sections_a_b_and_c_hevc() {
        let mut ids: Vec<&str> = CATALOGUE.iter().map(|r| r.id).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(n, 63 + 10 + 4);
        assert_eq!(CATALOGUE.iter().filter(|r| r.id.starts_with("TS-")).count(), 10);
    }

    #[test]
    fn section_e_has_18_rules_unique_across_catalogues_and_both_lists_resolve() {
        assert_eq!(WEBRTC_CATALOGUE.len(), 13 + 5);
        let mut ids: Vec<&str> = CATALOGUE.iter().chain(WEBRTC_CATALOGUE).map(|r| r.id).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        for id in WHIP_RULES.iter().chain(WHEP_RULES) {
            assert!(info(id).is_some(), "{id}");
        }
    }

    #[test]
    fn section_d_has_19_rules_matching_the_dash_run() {
        assert_eq!(DASH_CATALOGUE.len(), 19);
        let ids: Vec<&str> = DASH_CATALOGUE.iter().map(|r| r.id).collect();
        assert_eq!(ids, crate::dash::DASH_RULES);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v = [0.1, 0.2, 0.3, 0.4, 1.0];
        assert_eq!(percentile(&v, 50.0), Some(0.3));
        assert_eq!(percentile(&v, 99.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn apple_level_fails_only_in_apple_mode() {
        assert!(Level::Apple.fails(true));
        assert!(!Level::Apple.fails(false));
        assert!(Level::Profile.fails(false));
        assert!(!Level::Should.fails(true));
    }
}
