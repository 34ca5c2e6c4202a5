//! Section E: WHIP (RFC 9725 = draft-ietf-wish-whip-16) and WHEP (draft-ietf-wish-whep-03)
//! signalling rules, judged from recorded HTTP exchanges (`crate::webrtc::exchange`).
//!
//! The WHEP draft reuses RFC 9725's wording for everything after session set-up (HTTP usage,
//! PATCH, entity-tags, DELETE, OPTIONS, Link headers, bearer tokens, redirects), so one
//! function serves both protocols; `Proto` only changes the expected answer direction, the
//! extension URN prefix and the section names in messages. Sentences quoted beside the checks
//! are from those documents (or from the RFCs they point to, named each time); "(paraphrase)"
//! marks the few places where the wording is summarised rather than quoted.

use super::Outcome;
use crate::sdp::{Media, Sdp, check_candidate, check_fingerprint, check_ice_chars};
use crate::url::Url;
use crate::webrtc::exchange::{Exchange, media_type};
use crate::webrtc::link::parse_links;

/// Which protocol a run speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// WebRTC-HTTP Ingestion Protocol (RFC 9725).
    Whip,
    /// WebRTC-HTTP Egress Protocol (draft-ietf-wish-whep-03).
    Whep,
}

impl Proto {
    /// `WHIP` / `WHEP`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Whip => "WHIP",
            Self::Whep => "WHEP",
        }
    }

    /// The direction the server's answer must use.
    pub fn answer_direction(self) -> &'static str {
        match self {
            // RFC 9725 §4.2: "The SDP answer MUST use the "recvonly" attribute in any case."
            Self::Whip => "recvonly",
            // WHEP §4.3.5: "When a WHEP endpoint sends an SDP answer (accepting client offer),
            // it MUST use "sendonly" attribute in the SDP answer."
            Self::Whep => "sendonly",
        }
    }

    /// Prefix of extension relation types (RFC 9725 §4.9 / WHEP "Protocol extensions").
    pub fn ext_prefix(self) -> &'static str {
        match self {
            Self::Whip => "urn:ietf:params:whip:ext",
            Self::Whep => "urn:ietf:params:whep:ext",
        }
    }
}

/// `application/sdp`.
pub const SDP: &str = "application/sdp";
/// `application/trickle-ice-sdpfrag` (RFC 8840).
pub const SDPFRAG: &str = "application/trickle-ice-sdpfrag";

fn no_response(o: &mut Outcome, ex: &Exchange) -> bool {
    if ex.status.is_some() {
        return false;
    }
    if ex.dropped {
        o.must(format!("{} (the server dropped the connection: crashed handler?)", ex.describe()));
    } else {
        o.must(ex.describe());
    }
    true
}

fn reason(ex: &Exchange) -> String {
    let b = ex.body_excerpt(80);
    if b.is_empty() { String::new() } else { format!(" ({b:?})") }
}

/// RFC 9110 §8.8.3: `entity-tag = [ weak ] opaque-tag`, `opaque-tag = DQUOTE *etagc DQUOTE`,
/// `weak = %s"W/"`. WHIP §4.3.1 wants a "unique strong entity-tag".
fn etag_problem(tag: &str) -> Option<String> {
    if tag.starts_with("W/") {
        return Some(format!("ETag {tag} is weak (W/); a strong entity-tag is required"));
    }
    let ok = tag.len() >= 2
        && tag.starts_with('"')
        && tag.ends_with('"')
        && tag[1..tag.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80);
    (!ok).then(|| format!("ETag {tag} is not a quoted opaque-tag (RFC 9110 §8.8.3)"))
}

/// WHIP-01 / WHEP-01 (status and headers of the POST that creates the session).
///
/// RFC 9725 §4.2: "The WHIP endpoint MUST generate an SDP answer ... and return a "201 Created"
/// response with a content type of "application/sdp", the SDP answer as the body, and a
/// Location header field pointing to the newly created WHIP session." (WHEP §4.3.1 says the
/// same of the WHEP endpoint.)
pub fn post_created(ex: &Exchange) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, ex) {
        return o;
    }
    if !ex.is(201) {
        o.must(format!("{}, not 201 Created{}", ex.describe(), reason(ex)));
        return o;
    }
    match ex.media_type() {
        Some(t) if t == SDP => o.evidence("201 Created, Content-Type application/sdp"),
        Some(t) => o.must(format!("201 with Content-Type {t}, not {SDP}")),
        None => o.must("201 without Content-Type (must be application/sdp)"),
    }
    match ex.header("location").map(str::trim) {
        Some(l) if !l.is_empty() => o.evidence(format!("Location {l}")),
        _ => o.must("201 without a Location header (the session URL)"),
    }
    if ex.body.is_empty() {
        o.must("201 without an SDP answer body");
    }
    o
}

/// Resolves the `Location` of `ex` against the endpoint URL.
pub fn session_url(endpoint: &Url, ex: &Exchange) -> Result<Url, String> {
    let loc =
        ex.header("location").map(str::trim).filter(|l| !l.is_empty()).ok_or("no Location")?;
    endpoint.join(loc).map_err(|e| format!("Location {loc:?} does not resolve: {e}"))
}

fn accepted<'a>(answer: &'a Sdp) -> impl Iterator<Item = (usize, &'a Media)> + 'a {
    answer.media.iter().enumerate().filter(|(_, m)| !m.rejected())
}

/// WHIP-01 / WHEP-01 (the body is a valid SDP answer to the offer that was sent).
pub fn answer_matches_offer(offer: &Sdp, offer_ufrag: &str, body: &[u8]) -> (Outcome, Option<Sdp>) {
    let mut o = Outcome::new();
    let answer = match Sdp::parse(body) {
        Ok(a) => a,
        Err(e) => {
            o.must(format!("answer body is not an SDP session description: {e}"));
            return (o, None);
        }
    };
    if !answer.crlf {
        // RFC 8866 §5: "... the <CR><LF> sequence ... MUST be used to end a record" (lines end
        // CRLF; parsers should tolerate LF, so a warning).
        o.should("answer lines end with LF only (RFC 8866 §5: CRLF)");
    }
    // RFC 3264 §6: "The answer MUST contain exactly the same number of "m=" lines as the
    // offer." Streams are matched by order.
    if answer.media.len() != offer.media.len() {
        o.must(format!(
            "answer has {} m-lines, the offer {} (RFC 3264 §6: exactly the same number)",
            answer.media.len(),
            offer.media.len()
        ));
    }
    for (i, (a, q)) in answer.media.iter().zip(&offer.media).enumerate() {
        if a.media != q.media {
            o.must(format!("m-line {i} is {} in the answer, {} in the offer", a.media, q.media));
        }
        // RFC 5888 §9.2 (paraphrase): the answer's m-line carries the same mid as the offer's.
        if a.mid() != q.mid() {
            o.must(format!("m-line {i} has mid {:?}, the offer {:?}", a.mid(), q.mid()));
        }
        if a.rejected() {
            continue;
        }
        // RFC 3264 §6.1 (paraphrase): an accepted stream lists media formats from amongst
        // those in the offer; a dynamic payload type keeps the codec the offer gave it.
        for pt in &a.formats {
            if !q.formats.contains(pt) {
                o.must(format!("m-line {i} answers payload type {pt}, which was not offered"));
            } else if let (Some(ea), Some(eq)) = (a.encoding(pt), q.encoding(pt))
                && !ea.eq_ignore_ascii_case(eq)
            {
                o.must(format!("m-line {i} maps payload type {pt} to {ea}, the offer to {eq}"));
            }
        }
        match answer.effective(a, "ice-ufrag") {
            None => o.must(format!("m-line {i} has no a=ice-ufrag (session or media level)")),
            Some(u) => {
                if let Err(e) = check_ice_chars("ice-ufrag", u, 4) {
                    o.must(format!("m-line {i}: {e}"));
                }
                if u == offer_ufrag {
                    o.must(format!("m-line {i} echoes the offer's ice-ufrag {u:?}"));
                }
            }
        }
        match answer.effective(a, "ice-pwd") {
            None => o.must(format!("m-line {i} has no a=ice-pwd")),
            Some(p) => {
                if let Err(e) = check_ice_chars("ice-pwd", p, 22) {
                    o.must(format!("m-line {i}: {e}"));
                }
            }
        }
        match answer.effective(a, "fingerprint") {
            None => o.must(format!("m-line {i} has no a=fingerprint (DTLS-SRTP needs one)")),
            Some(f) => {
                let (hard, soft) = check_fingerprint(f);
                if let Some(h) = hard {
                    o.must(format!("m-line {i}: {h}"));
                }
                if let Some(s) = soft {
                    o.should(format!("m-line {i}: {s}"));
                }
            }
        }
    }
    let kept: Vec<(usize, &Media)> = accepted(&answer).collect();
    if kept.is_empty() && !answer.media.is_empty() {
        o.must("every m-line of the answer is rejected (port 0)");
    }
    // RFC 9725 §4.3.2 (and WHEP "Trickle ICE"): "The WHIP endpoint SHALL gather all the ICE
    // candidates for the media server before responding to the client request and the SDP
    // answer SHALL contain the full list of ICE candidates of the media server."
    let candidates: Vec<&str> = kept.iter().flat_map(|(_, m)| m.attrs("candidate")).collect();
    if candidates.is_empty() && !kept.is_empty() {
        o.must("answer has no a=candidate: the server must send its full candidate list");
    }
    for c in &candidates {
        if let Err(e) = check_candidate(c) {
            o.must(e);
        }
    }
    let kinds: Vec<String> = kept
        .iter()
        .map(|(_, m)| {
            let codec = m.formats.first().and_then(|pt| m.encoding(pt)).unwrap_or("?");
            format!("{} {codec}", m.media)
        })
        .collect();
    o.evidence(format!(
        "{} m-lines ({}), {} candidate(s){}",
        answer.media.len(),
        kinds.join(", "),
        candidates.len(),
        if answer.session_attr("ice-lite").is_some() { ", ice-lite" } else { "" }
    ));
    (o, Some(answer))
}

/// WHIP-03 / WHEP-02: direction, BUNDLE, rtcp-mux, `a=setup`, one transport, one MediaStream.
pub fn answer_constraints(p: Proto, answer: &Sdp) -> Outcome {
    let mut o = Outcome::new();
    let kept: Vec<(usize, &Media)> = accepted(answer).collect();
    if kept.is_empty() {
        return Outcome::skip("no accepted m-line to judge");
    }
    let want = p.answer_direction();
    for (i, m) in &kept {
        let d = answer.direction(m);
        if d != want {
            o.must(format!("m-line {i} ({}) is {d}, the answer must use {want}", m.media));
        }
        // RFC 9725 §4.4.1: "... the WHIP client and the media server SHALL use RTP/RTCP
        // multiplexing [RFC8858] for all bundled media."
        if !m.has("rtcp-mux") {
            o.must(format!("m-line {i} has no a=rtcp-mux"));
        }
        // RFC 8842 §5.3 (paraphrase): the answerer uses "active" or "passive", never
        // "actpass" (that value is the offerer's).
        match answer.effective(m, "setup") {
            Some("active" | "passive") => {}
            Some(v) => {
                o.must(format!("m-line {i} has a=setup:{v} (answer must be active or passive)"))
            }
            None => o.must(format!("m-line {i} has no a=setup")),
        }
    }
    // RFC 9725 §4.4.1: "Both the WHIP client and the WHIP endpoint SHALL support [RFC9143] and
    // use "max-bundle" policy as defined in [RFC9429]."
    let groups = answer.bundle_groups();
    let mids: Vec<&str> = kept.iter().filter_map(|(_, m)| m.mid()).collect();
    match groups.iter().find(|g| mids.iter().all(|mid| g.contains(mid))) {
        Some(g) => o.evidence(format!("BUNDLE {}", g.join(" "))),
        None if groups.is_empty() => {
            o.must("answer has no a=group:BUNDLE (max-bundle is required)")
        }
        None => o.must(format!("no BUNDLE group holds every accepted mid {mids:?}: {groups:?}")),
    }
    // With max-bundle every m-line rides one transport: the ICE and DTLS values must agree.
    for attr in ["ice-ufrag", "ice-pwd", "fingerprint"] {
        let mut values: Vec<&str> =
            kept.iter().filter_map(|(_, m)| answer.effective(m, attr)).collect();
        values.dedup();
        if values.len() > 1 {
            o.should(format!("bundled m-lines carry different a={attr} values"));
        }
    }
    if p == Proto::Whep {
        // WHEP §4.4.2: "... all "m=" sections MUST contain an "msid" attribute with the same
        // value." (compared on the stream id, the first token)
        let streams: Vec<Option<&str>> = kept
            .iter()
            .map(|(_, m)| m.attr("msid").and_then(|v| v.split_ascii_whitespace().next()))
            .collect();
        if streams.iter().any(Option::is_none) {
            o.must(
                "an accepted m-line has no a=msid (WHEP: one MediaStream, msid on every m-line)",
            );
        } else {
            let mut s: Vec<&str> = streams.into_iter().flatten().collect();
            s.dedup();
            if s.len() > 1 {
                o.must(format!("m-lines belong to different MediaStreams {s:?}"));
            }
        }
    }
    o.evidence(format!("{} accepted m-line(s) {want}, rtcp-mux, setup active/passive", kept.len()));
    o
}

/// WHIP-02: RFC 9725 §4.4.3 (paraphrase): the endpoint SHOULD NOT reject individual m-lines
/// when it cannot process them, but reject the whole POST (400 / 422) instead.
pub fn partial_answer(answer: &Sdp) -> Outcome {
    let mut o = Outcome::new();
    let rejected: Vec<String> = answer
        .media
        .iter()
        .enumerate()
        .filter(|(_, m)| m.rejected())
        .map(|(i, m)| format!("{i} ({})", m.media))
        .collect();
    if rejected.is_empty() {
        o.evidence("no m-line rejected in the answer");
    } else {
        o.should(format!(
            "answer rejects m-line(s) {} with port 0 (a partially successful answer)",
            rejected.join(", ")
        ));
    }
    o
}

/// The error cases of the POST: a 4xx is required, `expected` is the precise code.
///
/// RFC 9725 §4.2 / WHEP §4.3.4: "If the HTTP POST to the WHIP endpoint has a content type
/// different than "application/sdp" or the SDP is malformed, the WHIP endpoint MUST reject the
/// HTTP POST request with an appropriate 4XX error response."
fn rejected_4xx(ex: &Exchange, expected: &[u16], why: &str) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, ex) {
        return o;
    }
    let s = ex.status.unwrap_or(0);
    if (200..300).contains(&s) {
        o.must(format!("{} ({why} accepted; must be 4xx)", ex.describe()));
    } else if !(400..500).contains(&s) {
        o.must(format!("{} (must be an appropriate 4xx){}", ex.describe(), reason(ex)));
    } else if !expected.contains(&s) {
        let want: Vec<String> = expected.iter().map(u16::to_string).collect();
        o.should(format!("{} (4xx, but {} is the precise code)", ex.describe(), want.join(" or ")));
    } else {
        o.evidence(ex.describe());
    }
    if (400..500).contains(&s) && ex.body.is_empty() {
        // RFC 9110 §15.5: "... the server SHOULD send a representation containing an
        // explanation of the error situation ..."
        o.should(format!("{} with an empty body (no reason given)", ex.describe()));
    }
    o
}

/// WHEP §4.3 "Determining Server Response Type": ""406 Not Acceptable": The WHEP endpoint has
/// rejected the client's offer and responded with an SDP counter-offer. The client MUST send an
/// HTTP PATCH request to the WHEP session URL with an SDP answer". A 406 that carries no
/// `application/sdp` counter-offer is therefore not "an appropriate 4XX" for an error.
fn not_a_counter_offer(p: Proto, ex: &Exchange, o: &mut Outcome) {
    if p == Proto::Whep && ex.is(406) && ex.media_type().as_deref() != Some(SDP) {
        o.must(format!(
            "{} with Content-Type {:?}: in WHEP 406 announces an SDP counter-offer; use 400/415/422 for errors",
            ex.describe(),
            ex.header("content-type").unwrap_or("")
        ));
    }
}

/// WHIP-02 / WHEP-01: POST with a Content-Type other than application/sdp → 415
/// (RFC 9110 §15.5.16 "415 Unsupported Media Type").
pub fn wrong_content_type(p: Proto, ex: &Exchange) -> Outcome {
    let mut o = rejected_4xx(ex, &[415], "a non-SDP content type");
    not_a_counter_offer(p, ex, &mut o);
    o
}

/// WHIP-02 / WHEP-01: malformed SDP → 400 (422 also fits "appropriate"), with a reason, and
/// no dropped connection.
pub fn malformed_sdp(p: Proto, ex: &Exchange) -> Outcome {
    let mut o = rejected_4xx(ex, &[400, 422], "malformed SDP");
    not_a_counter_offer(p, ex, &mut o);
    o
}

/// WHIP-02 / WHEP-01: after the malformed requests the endpoint still creates a session for a
/// valid offer (a handler that crashed or wedged on bad input fails here).
pub fn still_serving(ex: &Exchange) -> Outcome {
    let mut o = Outcome::new();
    match ex.status {
        None => o.must(format!(
            "after the malformed POSTs, {}{}",
            ex.describe(),
            if ex.dropped { " (dropped: crashed handler?)" } else { "" }
        )),
        // The status of a successful POST is WHIP-01's business; here it only matters that a
        // session answer (or a WHEP counter-offer, 406) still comes back.
        Some(s) if ((200..300).contains(&s) || s == 406) && !ex.body.is_empty() => {
            o.evidence(format!("a valid offer after the malformed ones still got {s}"))
        }
        Some(_) => o.must(format!("after the malformed POSTs, {}{}", ex.describe(), reason(ex))),
    }
    o
}

/// WHIP-02: an offer whose only video codec nobody implements. The POST should be rejected as a
/// whole (400/422) rather than answered with the video m-line rejected (RFC 9725 §4.4.3).
pub fn unknown_codec(ex: &Exchange, answer: Option<&Sdp>) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, ex) {
        return o;
    }
    let s = ex.status.unwrap_or(0);
    if (400..500).contains(&s) {
        o.evidence(format!("offer with an unknown video codec: {}", ex.describe()));
    } else if s == 201 {
        match answer.and_then(|a| a.media.get(1)) {
            Some(v) if v.rejected() => o.should(
                "offer with an unknown video codec answered 201 with the video m-line rejected \
                 (SHOULD reject the whole POST with 400/422)",
            ),
            Some(_) => o.evidence("offer with an unknown video codec accepted as is (201)"),
            None => o.evidence("offer with an unknown video codec answered 201"),
        }
    } else {
        o.must(format!(
            "offer with an unknown video codec: {} (must be 4xx or 201){}",
            ex.describe(),
            reason(ex)
        ));
    }
    o
}

/// WHIP-05 / WHEP-04: plain OPTIONS on the endpoint.
///
/// RFC 9725 §4.2: "The WHIP endpoints MUST support OPTIONS requests for Cross-Origin Resource
/// Sharing (CORS) as defined in [FETCH]. The "200 OK" response to any OPTIONS request SHOULD
/// include an "Accept-Post" header with a media type value of "application/sdp" as per
/// [W3C.REC-ldp-20150226]."
pub fn options_plain(ex: &Exchange) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, ex) {
        return o;
    }
    if !ex.success() {
        o.must(format!("{} (OPTIONS must be supported)", ex.describe()));
        return o;
    }
    let accept_post: Vec<String> =
        ex.header_all("accept-post").flat_map(|v| v.split(',').map(media_type)).collect();
    if accept_post.iter().any(|t| t == SDP) {
        o.evidence(format!("{}, Accept-Post {}", ex.describe(), accept_post.join(", ")));
    } else if accept_post.is_empty() {
        o.should(format!("{} without Accept-Post: application/sdp", ex.describe()));
    } else {
        o.should(format!("Accept-Post {} does not list application/sdp", accept_post.join(", ")));
    }
    o
}

fn list_has(v: Option<&str>, item: &str, star_counts: bool) -> bool {
    v.is_some_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|x| x.eq_ignore_ascii_case(item) || (star_counts && x == "*"))
    })
}

/// WHIP-05 / WHEP-04: a CORS preflight (`Origin` + `Access-Control-Request-*`) as a browser
/// sends it before the POST (endpoint, `method` POST) or before DELETE/PATCH (session).
///
/// Fetch: the preflight needs an ok status (2xx) and `Access-Control-Allow-Origin`; a request
/// header that is not CORS-safelisted (Content-Type `application/sdp`, `Authorization`,
/// `If-Match`) must be listed in `Access-Control-Allow-Headers`, where `*` never covers
/// `Authorization`; a method that is not safelisted (DELETE, PATCH) must be in
/// `Access-Control-Allow-Methods`. RULES.md WHIP-05: "TURN/STUN config SHOULD NOT be returned
/// on a CORS preflight."
pub fn preflight(ex: &Exchange, method: &str, headers: &[&str]) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, ex) {
        return o;
    }
    if !ex.success() {
        o.must(format!("{} (a CORS preflight needs a 2xx)", ex.describe()));
        return o;
    }
    if ex.header("access-control-allow-origin").is_none() {
        o.must(format!("{} without Access-Control-Allow-Origin", ex.describe()));
    }
    let safelisted = matches!(method, "GET" | "HEAD" | "POST");
    if !safelisted && !list_has(ex.header("access-control-allow-methods"), method, true) {
        o.must(format!(
            "{}: Access-Control-Allow-Methods {:?} does not allow {method}",
            ex.what,
            ex.header("access-control-allow-methods").unwrap_or("")
        ));
    }
    let allow_headers = ex.header("access-control-allow-headers");
    for h in headers {
        let star = !h.eq_ignore_ascii_case("authorization");
        if !list_has(allow_headers, h, star) {
            o.must(format!(
                "{}: Access-Control-Allow-Headers {:?} does not allow {h}{}",
                ex.what,
                allow_headers.unwrap_or(""),
                if star { "" } else { " (* does not cover Authorization)" }
            ));
        }
    }
    let (links, _) = parse_links(ex.header_all("link"));
    if links.iter().any(|l| l.rels().contains(&"ice-server")) {
        o.should(format!("{} returns Link rel=ice-server on a CORS preflight", ex.what));
    }
    o.evidence(format!("{} allows {method} with {}", ex.what, headers.join(", ")));
    o
}

/// WHIP-05 / WHEP-04: the 201 to a cross-origin POST must let a browser read it: without
/// `Access-Control-Allow-Origin` the answer is unreadable, and without
/// `Access-Control-Expose-Headers` a script cannot see `Location` (so it can never DELETE),
/// `ETag` or `Link` (Fetch: only safelisted response headers are exposed by default).
pub fn cors_response(ex: &Exchange) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, ex) {
        return o;
    }
    if !ex.is(201) && !ex.is(406) {
        return Outcome::skip(format!("{} (no session to judge)", ex.describe()));
    }
    if ex.header("access-control-allow-origin").is_none() {
        o.must(format!(
            "{} to a POST with Origin has no Access-Control-Allow-Origin",
            ex.status.unwrap_or(0)
        ));
        return o;
    }
    let expose = ex.header("access-control-expose-headers");
    let mut needed = vec!["Location"];
    if ex.header("etag").is_some() {
        needed.push("ETag");
    }
    if ex.header("link").is_some() {
        needed.push("Link");
    }
    let missing: Vec<&str> =
        needed.iter().copied().filter(|h| !list_has(expose, h, true)).collect();
    if missing.is_empty() {
        o.evidence(format!(
            "cross-origin {} exposes {}",
            ex.status.unwrap_or(0),
            needed.join(", ")
        ));
    } else {
        o.should(format!(
            "cross-origin {}: Access-Control-Expose-Headers {:?} hides {} from browser clients",
            ex.status.unwrap_or(0),
            expose.unwrap_or(""),
            missing.join(", ")
        ));
    }
    o
}

/// WHIP-06 / WHEP-03: GET on the endpoint or the session.
///
/// WHEP §4.1 (RFC 9725 §4.1 has the same sentence for WHIP): "Those HTTP resources do not have
/// any representation defined in this specification, so the WHEP endpoints and sessions MUST
/// return a 2XX successful response with no content when a GET request is received."
///
/// `authenticated` says whether a bearer token was sent: without one, a 401 only says the
/// resource is protected (RFC 9725 §4.7.1 lets endpoints and sessions require it).
pub fn get_no_content(ex: &Exchange, authenticated: bool) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, ex) {
        return o;
    }
    if ex.is(401) && !authenticated {
        return Outcome::skip(format!("{} (protected: rerun with --token)", ex.describe()));
    }
    if ex.success() && ex.body.is_empty() {
        o.evidence(ex.describe());
    } else if ex.success() {
        o.must(format!(
            "{} with a {}-byte body (must have no content)",
            ex.describe(),
            ex.body.len()
        ));
    } else if ex.is(405) {
        o.must(format!(
            "{} (405 was the rule of early drafts; RFC 9725 wants 2xx, no content)",
            ex.describe()
        ));
    } else {
        o.must(format!("{} (must be 2xx with no content)", ex.describe()));
    }
    o
}

/// WHEP-03: HEAD on the endpoint, reported for information (same headers as GET expected).
pub fn head_info(ex: &Exchange, authenticated: bool) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, ex) {
        return o;
    }
    if ex.is(401) && !authenticated {
        return Outcome::skip(format!("{} (protected: rerun with --token)", ex.describe()));
    }
    if ex.success() {
        o.evidence(format!(
            "{}{}",
            ex.describe(),
            ex.header("content-type").map(|t| format!(", Content-Type {t}")).unwrap_or_default()
        ));
    } else {
        o.should(format!("{} (HEAD should answer like GET: 2xx)", ex.describe()));
    }
    o
}

/// What a PATCH answer says about support (RFC 9725 §4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchSupport {
    /// The request was processed (204 trickle, 200 restart).
    Done,
    /// 422: this kind of PATCH (trickle or restart) is not supported, the other one is.
    NotThisKind,
    /// 405 or 501: PATCH is not supported at all (RFC 9110 §15.5.6 / §15.6.2).
    NoPatch,
    /// Anything else.
    Other,
}

/// Classifies the answer to a well-formed trickle (`ok` = 204) or restart (`ok` = 200) PATCH.
pub fn patch_support(ex: &Exchange, ok: u16) -> PatchSupport {
    match ex.status {
        Some(s) if s == ok => PatchSupport::Done,
        Some(422) => PatchSupport::NotThisKind,
        Some(405 | 501) => PatchSupport::NoPatch,
        _ => PatchSupport::Other,
    }
}

/// Everything sent to the session with PATCH, in order.
#[derive(Debug, Clone, Default)]
pub struct PatchRun {
    /// `ETag` of the 201 (or of the counter-offer exchange for WHEP).
    pub etag: Option<String>,
    /// Trickle candidates, `If-Match` = the ETag (absent when there is none).
    pub trickle: Exchange,
    /// The request after an accepted trickle PATCH that found the session gone (404/410); the
    /// checks after it ran on a fresh session, with candidate-free fragments.
    pub vanished: Option<Exchange>,
    /// Otherwise: the candidate-free trickle (current `If-Match`) sent ~0.5 s after it.
    pub probe: Option<Exchange>,
    /// Trickle without `If-Match` (only sent when an ETag was issued).
    pub no_if_match: Option<Exchange>,
    /// Trickle with a stale `If-Match`.
    pub stale: Option<Exchange>,
    /// Trickle fragment sent as `text/plain`.
    pub wrong_type: Option<Exchange>,
    /// A malformed fragment as `application/trickle-ice-sdpfrag`.
    pub malformed: Option<Exchange>,
    /// ICE restart with `If-Match: *` and new credentials.
    pub restart: Exchange,
    /// The ufrag sent in the restart fragment.
    pub restart_ufrag: String,
    /// After a successful restart: trickle with the pre-restart ETag.
    pub old_etag_after_restart: Option<Exchange>,
    /// After a successful restart: trickle with the new ETag.
    pub new_etag_after_restart: Option<Exchange>,
}

/// WHIP-07 / WHEP-04: entity-tags and trickle-ICE PATCH.
///
/// RFC 9725 §4.3.1 (WHEP §4.4.1 has the same text): "If the WHIP session supports either Trickle
/// ICE or ICE restarts, but not both, it MUST return a "422 Unprocessable Content" error response
/// for the HTTP PATCH requests that are not supported"; "if the WHIP session supports ICE
/// restarts, it MUST generate a unique strong entity-tag identifying the ICE session ... being
/// OPTIONAL otherwise"; "Missing or outdated ETags in the PATCH requests ... will be answered
/// ... with a "428 Precondition Required" response for a missing entity tag and a "412
/// Precondition Failed" response for a non-matching entity tag." RFC 9725 §4.3.2: "it MUST
/// return a "204 No Content" response without a body and MUST NOT include an ETag header in the
/// response." Servers that implement no PATCH at all answer 405 (with `Allow`, RFC 9110
/// §15.5.6: "The origin server MUST generate an Allow header field in a 405 response") or 501.
pub fn whip_07(run: &PatchRun) -> Outcome {
    let mut o = Outcome::new();
    if let Some(t) = &run.etag
        && let Some(p) = etag_problem(t)
    {
        o.must(p);
    }
    let trickle = patch_support(&run.trickle, 204);
    let restart = patch_support(&run.restart, 200);
    if no_response(&mut o, &run.trickle) {
        return o;
    }
    match trickle {
        PatchSupport::Done => {
            if !run.trickle.body.is_empty() {
                o.must(format!("trickle 204 carries a {}-byte body", run.trickle.body.len()));
            }
            if run.trickle.header("etag").is_some() {
                o.must("trickle 204 carries an ETag (MUST NOT)");
            }
            o.evidence("trickle PATCH with the current ETag: 204");
        }
        PatchSupport::NotThisKind => {
            o.evidence("trickle ICE not supported (422)");
            if restart != PatchSupport::Done {
                o.should("422 for trickle although ICE restart is not supported either (405/501 say \"no PATCH\")");
            }
        }
        PatchSupport::NoPatch => {
            if run.trickle.is(405) && run.trickle.header("allow").is_none() {
                o.must("PATCH answered 405 without an Allow header");
            }
            // RFC 9725 §4.3: "Trickle ICE and ICE restart support is RECOMMENDED for a WHIP
            // session."
            o.should(format!(
                "{}: neither trickle ICE nor ICE restart is supported",
                run.trickle.describe()
            ));
        }
        PatchSupport::Other => {
            o.must(format!(
                "{} (with the current entity-tag: expected 204, 422, 405 or 501){}",
                run.trickle.describe(),
                reason(&run.trickle)
            ));
        }
    }
    if let Some(ex) = &run.vanished {
        // RFC 9725 §4.3.2: "If the WHIP session does not support a candidate transport or is
        // not able to resolve the connection address, it MUST silently discard the candidate
        // and continue processing the rest of the request normally."
        o.must(format!(
            "the session ended after a trickle PATCH with one host candidate (127.0.0.1:9): 0.5 s \
             later {} (an unusable candidate must be discarded, the session kept); later PATCH \
             checks ran on a fresh session without candidates",
            ex.describe()
        ));
    }
    if let Some(ex) = &run.probe
        && !ex.is(204)
    {
        o.must(format!(
            "{} (a candidate-free trickle with the current ETag must get 204)",
            ex.describe()
        ));
    }
    if trickle == PatchSupport::Done {
        if let Some(ex) = &run.no_if_match {
            if ex.is(428) {
                o.evidence("trickle without If-Match: 428");
            } else {
                o.must(format!(
                    "{} (a missing entity-tag must get 428 Precondition Required)",
                    ex.describe()
                ));
            }
        }
        if let Some(ex) = &run.stale {
            if ex.is(412) {
                o.evidence("trickle with a stale If-Match: 412");
            } else if run.etag.is_some() {
                o.must(format!(
                    "{} (a non-matching entity-tag must get 412 Precondition Failed)",
                    ex.describe()
                ));
            } else {
                // No ETag issued: RFC 9110 §13.1.1 still makes If-Match with an unknown tag
                // false (412), but WHIP only requires entity-tags with ICE restarts.
                o.should(format!("{} (If-Match with an unknown tag: 412 expected)", ex.describe()));
            }
        }
    }
    if trickle != PatchSupport::NoPatch {
        // RFC 9725 §4.3.1: "If the HTTP PATCH to the WHIP session has a content type different
        // than "application/trickle-ice-sdpfrag" or the SDP fragment is malformed, the WHIP
        // session MUST reject the HTTP PATCH with an appropriate 4XX error response."
        if let Some(ex) = &run.wrong_type {
            let r = rejected_4xx(ex, &[415], "a non-sdpfrag content type");
            merge(&mut o, r, false);
        }
        if let Some(ex) = &run.malformed {
            let r = rejected_4xx(ex, &[400, 422], "a malformed SDP fragment");
            merge(&mut o, r, false);
        }
    }
    o
}

/// Copies problems (and, when `evidence`, evidence) of `from` into `to`.
fn merge(to: &mut Outcome, from: Outcome, evidence: bool) {
    to.problems.extend(from.problems);
    to.notes.extend(from.notes);
    if evidence {
        to.evidence.extend(from.evidence);
    }
}

fn frag_value<'a>(f: &'a Sdp, name: &str) -> Option<&'a str> {
    f.session_attr(name).or_else(|| f.media.iter().find_map(|m| m.attr(name)))
}

/// WHIP-08 / WHEP-04: ICE restart. `answer_ufrag` is the server's ufrag before the restart;
/// `after` is the next request on the session (a failed restart must leave it alive).
///
/// RFC 9725 §4.3.3: "A WHIP client sending a PATCH request for performing ICE restart MUST
/// contain an If-Match header field with a field-value of "*""; the session "SHALL return a
/// "200 OK" with an "application/trickle-ice-sdpfrag" body containing the new ICE username
/// fragment and password"; "the "200 OK" response for a successful ICE restart MUST contain the
/// new entity-tag corresponding to the new ICE session in an ETag response header field"; "If
/// the ICE restart request cannot be satisfied by the WHIP session, the resource MUST return an
/// appropriate HTTP error code and MUST NOT terminate the session immediately".
pub fn whip_08(run: &PatchRun, answer_ufrag: Option<&str>, after: Option<&Exchange>) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, &run.restart) {
        return o;
    }
    let ex = &run.restart;
    match patch_support(ex, 200) {
        PatchSupport::Done => {}
        PatchSupport::NotThisKind => {
            o.evidence("ICE restart not supported (422)");
            survived(&mut o, after);
            return o;
        }
        PatchSupport::NoPatch => {
            survived(&mut o, after);
            if o.problems.is_empty() {
                return Outcome::skip(format!("{}: PATCH not supported", ex.describe()));
            }
            return o;
        }
        PatchSupport::Other => {
            match ex.status {
                Some(412 | 428) => o.must(format!("{}: If-Match: * must be accepted for a restart", ex.describe())),
                Some(204) => o.must("ICE restart answered 204: new credentials ignored (must be 200 with an sdpfrag)"),
                _ => o.must(format!("{} (expected 200, or 422 when restarts are unsupported){}", ex.describe(), reason(ex))),
            }
            survived(&mut o, after);
            return o;
        }
    }
    match ex.media_type() {
        Some(t) if t == SDPFRAG => {}
        other => o.must(format!("restart 200 has Content-Type {other:?}, not {SDPFRAG}")),
    }
    match Sdp::parse_fragment(&ex.body) {
        Err(e) => o.must(format!("restart 200 body is not an SDP fragment: {e}")),
        Ok(f) => {
            match frag_value(&f, "ice-ufrag") {
                None => o.must("restart 200 body has no a=ice-ufrag"),
                Some(u) => {
                    if let Err(e) = check_ice_chars("ice-ufrag", u, 4) {
                        o.must(e);
                    }
                    if Some(u) == answer_ufrag {
                        o.must(format!("restart 200 keeps the old ice-ufrag {u:?} (must be new)"));
                    }
                    if u == run.restart_ufrag {
                        o.must("restart 200 echoes the client's new ice-ufrag");
                    }
                }
            }
            match frag_value(&f, "ice-pwd") {
                None => o.must("restart 200 body has no a=ice-pwd"),
                Some(p) => {
                    if let Err(e) = check_ice_chars("ice-pwd", p, 22) {
                        o.must(e);
                    }
                }
            }
        }
    }
    match ex.header("etag") {
        None => o.must("restart 200 without an ETag (the new ICE session's entity-tag)"),
        Some(t) => {
            if let Some(p) = etag_problem(t) {
                o.must(p);
            }
            if run.etag.as_deref() == Some(t) {
                o.must(format!("restart 200 ETag {t} equals the pre-restart one"));
            }
        }
    }
    if run.etag.is_none() {
        // "if the WHIP session supports ICE restarts, it MUST generate a unique strong
        // entity-tag ... The initial value ... MUST be returned in an ETag header field in the
        // "201 Created" response".
        o.must("ICE restarts are supported but the 201 carried no ETag");
    }
    if let Some(x) = &run.old_etag_after_restart {
        if x.is(412) {
            o.evidence("after the restart the old ETag gets 412");
        } else {
            o.must(format!("{} (the pre-restart ETag must no longer match: 412)", x.describe()));
        }
    }
    if let Some(x) = &run.new_etag_after_restart {
        if x.is(204) {
            o.evidence("after the restart the new ETag gets 204");
        } else {
            o.must(format!("{} (the new ETag must match)", x.describe()));
        }
    }
    o.evidence("ICE restart: 200, new ufrag/pwd, new ETag");
    o
}

fn survived(o: &mut Outcome, after: Option<&Exchange>) {
    if let Some(a) = after
        && (a.is(404) || a.is(410))
    {
        o.must(format!("the session is gone after the refused restart: {}", a.describe()));
    }
}

/// WHIP-04 / WHEP-04: DELETE ends the session, ignoring entity-tags, and the session is gone
/// afterwards.
///
/// RFC 9725 §4.2: "To explicitly terminate a WHIP session, the WHIP client MUST perform an HTTP
/// DELETE request to the resource URL returned in the Location header field of the initial
/// HTTP POST. Upon receiving the HTTP DELETE request, the WHIP session will be removed and the
/// resources freed on the media server". RFC 9725 §4.3.1: "WHIP sessions MUST ignore any
/// entity-tag value sent by the WHIP client when ICE session matching is not required, as in
/// the HTTP DELETE request."
pub fn whip_04(
    delete: &Exchange,
    retry: Option<&Exchange>,
    delete_again: &Exchange,
    patch_after: &Exchange,
) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, delete) {
        return o;
    }
    if delete.success() {
        o.evidence(format!("{} (stale If-Match ignored)", delete.describe()));
    } else if delete.is(412) {
        o.must(format!("{}: DELETE must ignore If-Match", delete.describe()));
    } else {
        o.must(format!("{} (must be 2xx){}", delete.describe(), reason(delete)));
    }
    if let Some(r) = retry
        && !r.success()
    {
        o.must(format!("{} (plain DELETE must end the session)", r.describe()));
    }
    for (ex, what) in [(delete_again, "DELETE"), (patch_after, "PATCH")] {
        match ex.status {
            Some(404 | 410) => {
                o.evidence(format!("{what} after DELETE: {}", ex.status.unwrap_or(0)))
            }
            Some(s) if (200..300).contains(&s) => o.must(format!(
                "{} after the session was deleted: still there (must be 404)",
                ex.describe()
            )),
            Some(405 | 501) if what == "PATCH" => o.evidence(format!(
                "PATCH after DELETE: {} (PATCH unsupported)",
                ex.status.unwrap_or(0)
            )),
            _ => o.must(format!("{} after DELETE (expected 404 Not Found)", ex.describe())),
        }
    }
    o
}

/// WHIP-09 / WHEP-04: `Link: <stun:…>; rel="ice-server"` on the 201 (RFC 9725 §4.6, optional).
/// RFC 7064 / 7065 URI schemes; TURN entries carry `username` and `credential` (RFC 9725 §4.6,
/// paraphrase) and `credential-type` "password" when present.
pub fn ice_servers(ex: &Exchange) -> Outcome {
    let mut o = Outcome::new();
    if !ex.is(201) {
        return Outcome::skip("no 201 to read Link headers from");
    }
    let (links, bad) = parse_links(ex.header_all("link"));
    for b in bad {
        o.must(format!("Link value {b:?} is not <URI>; params (RFC 8288 §3)"));
    }
    let ice: Vec<_> = links.iter().filter(|l| l.rels().contains(&"ice-server")).collect();
    if ice.is_empty() && o.problems.is_empty() {
        return Outcome::skip("no Link rel=\"ice-server\" on the 201 (optional)");
    }
    for l in &ice {
        let scheme = l.target.split(':').next().unwrap_or_default().to_ascii_lowercase();
        match scheme.as_str() {
            "stun" | "stuns" => {}
            "turn" | "turns" => {
                if l.param("username").is_none() || l.param("credential").is_none() {
                    o.should(format!("TURN server {} without username/credential", l.target));
                }
                if let Some(t) = l.param("credential-type")
                    && t != "password"
                {
                    o.should(format!("TURN server {} has credential-type {t:?}", l.target));
                }
            }
            _ => o.must(format!("ice-server {} is not a stun:/stuns:/turn:/turns: URI", l.target)),
        }
    }
    let targets: Vec<&str> = ice.iter().map(|l| l.target.as_str()).collect();
    o.evidence(format!("ice-server links: {}", targets.join(", ")));
    o
}

/// WHIP-10 / WHEP-04: extensions only as `Link` headers with `rel="urn:ietf:params:whip:ext:…"`
/// on the 201; none may be required (the run used none and got its 201).
///
/// RFC 9725 §4.9: "WHIP clients MUST ignore any Link attribute with an unknown "rel" attribute
/// value, and WHIP endpoints and sessions MUST NOT require the usage of any of the extensions."
pub fn extensions(p: Proto, ex: &Exchange, endpoint: &Url) -> Outcome {
    let mut o = Outcome::new();
    if !ex.is(201) {
        return Outcome::skip("no 201 to read Link headers from");
    }
    let (links, _) = parse_links(ex.header_all("link"));
    let mut found = Vec::new();
    for l in &links {
        for rel in l.rels() {
            if rel.starts_with(p.ext_prefix()) {
                if endpoint.join(&l.target).is_err() && !l.target.starts_with("https://") {
                    o.must(format!("extension {rel} has an unusable URL {:?}", l.target));
                }
                found.push(rel.to_string());
            }
        }
    }
    o.evidence(if found.is_empty() {
        "no extension advertised; POST without extensions got 201".to_string()
    } else {
        format!("extensions: {}", found.join(", "))
    });
    o
}

/// WHIP-11 / WHEP-04: bearer tokens. `no_auth` is the POST without `Authorization`, `wrong` the
/// POST with a wrong token.
///
/// RFC 9725 §4.7.1: "WHIP endpoints and sessions MAY require the HTTP request to be
/// authenticated using an HTTP Authorization header field with a Bearer token as specified in
/// Section 2.1 of [RFC6750]." RFC 9110 §15.5.2: "The server generating a 401 response MUST send
/// a WWW-Authenticate header field containing at least one challenge applicable to the target
/// resource." RFC 6750 §3.1 names `invalid_token` (401) for a wrong token.
pub fn bearer(no_auth: &Exchange, wrong: &Exchange) -> Outcome {
    let mut o = Outcome::new();
    for (ex, what) in [(no_auth, "without a token"), (wrong, "with a wrong token")] {
        if no_response(&mut o, ex) {
            continue;
        }
        match ex.status {
            Some(401) => {
                match ex.header("www-authenticate") {
                    None => o.must(format!("401 {what} has no WWW-Authenticate challenge")),
                    Some(c) if !c.to_ascii_lowercase().contains("bearer") => o.should(format!(
                        "401 {what}: WWW-Authenticate {c:?} has no Bearer challenge"
                    )),
                    Some(_) => {}
                }
                o.evidence(format!("POST {what}: 401"));
            }
            Some(403) if what == "with a wrong token" => {
                o.should("POST with a wrong token: 403 (RFC 6750 invalid_token is 401)")
            }
            Some(s) if (200..300).contains(&s) => {
                o.must(format!("POST {what} accepted ({s}) by a protected endpoint"))
            }
            _ => o.must(format!("{} (expected 401)", ex.describe())),
        }
    }
    o
}

/// WHIP-12 / WHEP-04: redirects and overload answers seen on any POST.
///
/// RFC 9725 §4.5: "In order to avoid POST requests being redirected as GET requests, status
/// codes 301 and 302 MUST NOT be used, and the preferred method for performing load balancing is
/// via the "307 Temporary Redirect" response status code".
pub fn redirects(posts: &[&Exchange]) -> Outcome {
    let mut o = Outcome::new();
    let mut seen = false;
    for ex in posts {
        match ex.status {
            Some(301 | 302) => {
                seen = true;
                o.must(format!("{} (301/302 MUST NOT be used for WHIP/WHEP POSTs)", ex.describe()));
            }
            Some(303) => {
                seen = true;
                o.should(format!("{} (303 turns the POST into a GET; use 307)", ex.describe()));
            }
            Some(307 | 308) => {
                seen = true;
                o.evidence(format!(
                    "{} to {}",
                    ex.describe(),
                    ex.header("location").unwrap_or("?")
                ));
            }
            Some(503) => {
                seen = true;
                o.evidence(format!(
                    "{}{}",
                    ex.describe(),
                    ex.header("retry-after")
                        .map(|r| format!(", Retry-After {r}"))
                        .unwrap_or_default()
                ));
            }
            _ => {}
        }
    }
    if !seen {
        return Outcome::skip("no redirect or overload (503) answer seen");
    }
    o
}

/// WHEP-01: "The WHEP endpoint COULD require a live publishing to be happening in order to allow
/// a WHEP players to start viewing a stream. In that case, the WHEP endpoint SHALL return a "409
/// Conflict" response to the POST request issued by the WHEP player with a "Retry-After" header
/// indicating the number of seconds before sending a new request." (WHEP §4.3 "Session
/// Management")
pub fn whep_not_live(ex: &Exchange) -> Outcome {
    let mut o = Outcome::new();
    match ex.header("retry-after") {
        Some(v) if v.trim().parse::<u64>().is_ok() => {
            o.evidence(format!("409 Conflict (stream not live), Retry-After {v}"))
        }
        Some(v) => o.must(format!("409 Retry-After {v:?} is not a number of seconds")),
        None => o.must("409 Conflict without Retry-After"),
    }
    o
}

/// WHEP-01 / WHEP-02: a `406 Not Acceptable` counter-offer (WHEP §4.3.2): Content-Type
/// application/sdp (optional `valid-until` HTTP-date parameter), Location, an SDP offer with
/// `a=setup:actpass` (RFC 8842: the offerer's value) and media "sendonly" or "sendrecv" ("The
/// "inactive" and "recvonly" attributes MUST NOT be used").
pub fn counter_offer(ex: &Exchange) -> (Outcome, Outcome, Option<Sdp>) {
    let mut o1 = Outcome::new();
    let mut o2 = Outcome::new();
    match ex.header("content-type") {
        Some(ct) if media_type(ct) == SDP => {
            let valid_until = ct.split(';').skip(1).find_map(|p| {
                let (n, v) = p.split_once('=')?;
                n.trim()
                    .eq_ignore_ascii_case("valid-until")
                    .then(|| v.trim().trim_matches('"').to_string())
            });
            if let Some(v) = valid_until
                && !looks_like_imf_fixdate(&v)
            {
                o1.must(format!("valid-until {v:?} is not an HTTP-date (RFC 9110 §5.6.7)"));
            }
        }
        other => o1.must(format!("406 counter-offer with Content-Type {other:?}, not {SDP}")),
    }
    if ex.header("location").is_none() {
        o1.must("406 counter-offer without Location");
    }
    let sdp = match Sdp::parse(&ex.body) {
        Ok(s) => s,
        Err(e) => {
            o1.must(format!("406 body is not an SDP offer: {e}"));
            return (o1, o2, None);
        }
    };
    for (i, m) in sdp.media.iter().enumerate() {
        let d = sdp.direction(m);
        if d == "recvonly" || d == "inactive" {
            o2.must(format!("counter-offer m-line {i} is {d} (MUST NOT)"));
        }
        if sdp.effective(m, "setup") != Some("actpass") {
            o2.should(format!(
                "counter-offer m-line {i} has a=setup:{:?} (offerer: actpass)",
                sdp.effective(m, "setup")
            ));
        }
    }
    o1.evidence(format!("406 counter-offer with {} m-lines", sdp.media.len()));
    o2.evidence("counter-offer directions sendonly/sendrecv");
    (o1, o2, Some(sdp))
}

/// WHEP-01: the PATCH carrying the player's answer to a counter-offer. WHEP §4.3.2: "The WHEP
/// endpoint MUST return a "204 No Content" response."
pub fn counter_answer(ex: &Exchange) -> Outcome {
    let mut o = Outcome::new();
    if no_response(&mut o, ex) {
        return o;
    }
    if ex.is(204) {
        o.evidence("answer to the counter-offer: 204");
    } else {
        o.must(format!("{} (the answer PATCH must get 204){}", ex.describe(), reason(ex)));
    }
    o
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` shape (RFC 9110 §5.6.7 IMF-fixdate).
fn looks_like_imf_fixdate(v: &str) -> bool {
    let f: Vec<&str> = v.split(' ').collect();
    f.len() == 6
        && f[0].len() == 4
        && f[0].ends_with(',')
        && f[1].len() == 2
        && f[1].chars().all(|c| c.is_ascii_digit())
        && f[2].len() == 3
        && f[3].len() == 4
        && f[4].len() == 8
        && f[5] == "GMT"
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:offr\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=ice-ufrag:offr\r\na=mid:1\r\na=bundle-only\r\na=sendonly\r\n\
        a=rtpmap:96 H264/90000\r\na=rtpmap:97 rtx/90000\r\n";

    fn fp() -> String {
        (0..32).map(|i| format!("{i:02X}")).collect::<Vec<_>>().join(":")
    }

    fn answer(dir: &str, setup: &str, video_port: u16) -> String {
        let section = |kind: &str, port: u16, pts: &str, mid: &str, codec: &str| {
            format!(
                "m={kind} {port} UDP/TLS/RTP/SAVPF {pts}\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:srvr\r\n\
                 a=ice-pwd:0123456789abcdef012345\r\na=fingerprint:sha-256 {}\r\na=setup:{setup}\r\n\
                 a=mid:{mid}\r\na={dir}\r\na=rtcp-mux\r\na=rtpmap:{codec}\r\n\
                 a=candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host\r\n",
                fp()
            )
        };
        format!(
            "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n{}{}",
            section("audio", 9, "111", "0", "111 opus/48000/2"),
            section("video", video_port, "96", "1", "96 H264/90000")
        )
    }

    fn offer() -> Sdp {
        Sdp::parse(OFFER.as_bytes()).unwrap()
    }

    #[test]
    fn good_answer_passes_and_constraints_hold() {
        let (o, a) =
            answer_matches_offer(&offer(), "offr", answer("recvonly", "passive", 9).as_bytes());
        assert!(o.is_clean(), "{o:?}");
        let a = a.unwrap();
        assert!(answer_constraints(Proto::Whip, &a).is_clean());
        assert!(partial_answer(&a).is_clean());
    }

    #[test]
    fn answer_with_wrong_direction_and_actpass_fails_constraints() {
        let a = Sdp::parse(answer("sendrecv", "actpass", 9).as_bytes()).unwrap();
        let o = answer_constraints(Proto::Whip, &a);
        assert!(
            o.problems.iter().any(|p| p.msg.contains("sendrecv, the answer must use recvonly")),
            "{o:?}"
        );
        assert!(o.problems.iter().any(|p| p.msg.contains("a=setup:actpass")), "{o:?}");
        // WHEP wants sendonly and one msid on every m-line.
        let w = Sdp::parse(answer("sendonly", "active", 9).as_bytes()).unwrap();
        let o = answer_constraints(Proto::Whep, &w);
        assert!(o.problems.iter().any(|p| p.msg.contains("no a=msid")), "{o:?}");
    }

    #[test]
    fn answer_with_wrong_mline_count_mid_or_codec_fails() {
        let one = answer("recvonly", "passive", 9);
        let cut = &one[..one.find("m=video").unwrap()];
        let (o, _) = answer_matches_offer(&offer(), "offr", cut.as_bytes());
        assert!(
            o.problems.iter().any(|p| p.msg.contains("answer has 1 m-lines, the offer 2")),
            "{o:?}"
        );
        let swapped = one.replace("a=mid:1", "a=mid:v");
        let (o, _) = answer_matches_offer(&offer(), "offr", swapped.as_bytes());
        assert!(o.problems.iter().any(|p| p.msg.contains("mid Some(\"v\")")), "{o:?}");
        let vp8 = one.replace("96 H264/90000", "96 VP8/90000");
        let (o, _) = answer_matches_offer(&offer(), "offr", vp8.as_bytes());
        assert!(o.problems.iter().any(|p| p.msg.contains("maps payload type 96 to VP8")), "{o:?}");
        let no_cand: String = one
            .lines()
            .filter(|l| !l.starts_with("a=candidate"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        let (o, _) = answer_matches_offer(&offer(), "offr", no_cand.as_bytes());
        assert!(o.problems.iter().any(|p| p.msg.contains("no a=candidate")), "{o:?}");
        let (o, _) = answer_matches_offer(&offer(), "srvr", one.as_bytes());
        assert!(o.problems.iter().any(|p| p.msg.contains("echoes the offer's ice-ufrag")), "{o:?}");
    }

    #[test]
    fn rejected_video_is_a_partial_answer_warning() {
        let a = Sdp::parse(answer("recvonly", "passive", 0).as_bytes()).unwrap();
        let o = partial_answer(&a);
        assert!(
            o.has_level(super::super::Level::Should) && !o.has_level(super::super::Level::Must)
        );
    }

    #[test]
    fn post_errors_need_4xx_and_precise_codes_warn() {
        let ok = Exchange::answered("POST text/plain", 415, &[], b"unsupported media type");
        assert!(wrong_content_type(Proto::Whip, &ok).is_clean());
        let vague = Exchange::answered("POST text/plain", 400, &[], b"bad");
        assert!(!wrong_content_type(Proto::Whip, &vague).has_level(super::super::Level::Must));
        assert!(wrong_content_type(Proto::Whip, &vague).has_level(super::super::Level::Should));
        let accepted = Exchange::answered("POST garbage", 201, &[], b"");
        assert!(malformed_sdp(Proto::Whip, &accepted).has_level(super::super::Level::Must));
        // WHEP: 406 is the counter-offer status, not an error code.
        let plain406 =
            Exchange::answered("POST garbage", 406, &[("Content-Type", "text/plain")], b"bad sdp");
        assert!(!malformed_sdp(Proto::Whip, &plain406).has_level(super::super::Level::Must));
        let o = malformed_sdp(Proto::Whep, &plain406);
        assert!(
            o.problems.iter().any(|p| p.msg.contains("406 announces an SDP counter-offer")),
            "{o:?}"
        );
        let crashed = Exchange {
            what: "POST garbage".into(),
            error: Some("closed".into()),
            dropped: true,
            ..Exchange::default()
        };
        let o = malformed_sdp(Proto::Whip, &crashed);
        assert!(o.problems[0].msg.contains("dropped the connection"), "{o:?}");
        let silent = Exchange::answered("POST garbage", 400, &[], b"");
        assert!(
            malformed_sdp(Proto::Whip, &silent)
                .problems
                .iter()
                .any(|p| p.msg.contains("no reason given"))
        );
    }

    #[test]
    fn created_needs_201_sdp_and_location() {
        let good = Exchange::answered(
            "POST",
            201,
            &[("Content-Type", "application/sdp"), ("Location", "/s/1")],
            b"v=0",
        );
        assert!(post_created(&good).is_clean());
        let ok200 = Exchange::answered("POST", 200, &[("Content-Type", "application/sdp")], b"v=0");
        assert!(post_created(&ok200).problems[0].msg.contains("not 201 Created"));
        let noloc = Exchange::answered("POST", 201, &[("Content-Type", "application/sdp")], b"v=0");
        assert!(post_created(&noloc).problems.iter().any(|p| p.msg.contains("Location")));
        let base = Url::parse("http://h:1/live/x/whip").unwrap();
        assert_eq!(session_url(&base, &good).unwrap().to_string(), "http://h:1/s/1");
    }

    fn run(trickle: u16, etag: Option<&str>) -> PatchRun {
        PatchRun {
            etag: etag.map(str::to_string),
            vanished: None,
            probe: Some(Exchange::answered("PATCH probe", 204, &[], b"")),
            trickle: Exchange::answered("PATCH trickle", trickle, &[], b""),
            no_if_match: Some(Exchange::answered("PATCH no If-Match", 428, &[], b"x")),
            stale: Some(Exchange::answered("PATCH stale", 412, &[], b"x")),
            wrong_type: Some(Exchange::answered("PATCH text/plain", 415, &[], b"x")),
            malformed: Some(Exchange::answered("PATCH garbage", 400, &[], b"x")),
            restart: Exchange::answered(
                "PATCH restart",
                200,
                &[("Content-Type", SDPFRAG), ("ETag", "\"e2\"")],
                b"a=ice-ufrag:newu\r\na=ice-pwd:0123456789012345678901xx\r\n",
            ),
            restart_ufrag: "clnt".into(),
            old_etag_after_restart: Some(Exchange::answered("PATCH old", 412, &[], b"x")),
            new_etag_after_restart: Some(Exchange::answered("PATCH new", 204, &[], b"")),
        }
    }

    #[test]
    fn patch_rules_pass_a_correct_session_and_catch_ignored_preconditions() {
        let good = run(204, Some("\"e1\""));
        assert!(whip_07(&good).is_clean(), "{:?}", whip_07(&good));
        assert!(
            whip_08(&good, Some("srvr"), None).is_clean(),
            "{:?}",
            whip_08(&good, Some("srvr"), None)
        );
        let mut lax = run(204, Some("\"e1\""));
        lax.no_if_match = Some(Exchange::answered("PATCH no If-Match", 204, &[], b""));
        lax.stale = Some(Exchange::answered("PATCH stale", 204, &[], b""));
        let o = whip_07(&lax);
        assert_eq!(
            o.problems.iter().filter(|p| p.level == super::super::Level::Must).count(),
            2,
            "{o:?}"
        );
        let unquoted = run(204, Some("e1"));
        assert!(whip_07(&unquoted).problems[0].msg.contains("not a quoted opaque-tag"));
    }

    #[test]
    fn patch_not_supported_is_a_warning_but_405_needs_allow() {
        let mut r = run(501, None);
        r.restart = Exchange::answered("PATCH restart", 501, &[], b"");
        let o = whip_07(&r);
        assert!(
            !o.has_level(super::super::Level::Must) && o.has_level(super::super::Level::Should),
            "{o:?}"
        );
        assert!(whip_08(&r, None, None).skipped.is_some());
        let r405 = PatchRun { trickle: Exchange::answered("PATCH", 405, &[], b""), ..r };
        assert!(whip_07(&r405).problems.iter().any(|p| p.msg.contains("without an Allow header")));
    }

    #[test]
    fn restart_without_etag_or_with_same_credentials_fails() {
        let mut r = run(204, None);
        r.restart = Exchange::answered(
            "PATCH restart",
            200,
            &[("Content-Type", SDPFRAG)],
            b"a=ice-ufrag:srvr\r\na=ice-pwd:0123456789012345678901xx\r\n",
        );
        let o = whip_08(&r, Some("srvr"), None);
        let msgs: Vec<&str> = o.problems.iter().map(|p| p.msg.as_str()).collect();
        assert!(msgs.iter().any(|m| m.contains("without an ETag")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("keeps the old ice-ufrag")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("201 carried no ETag")), "{msgs:?}");
        let ignored = PatchRun {
            restart: Exchange::answered("PATCH restart", 204, &[], b""),
            ..run(204, Some("\"e\""))
        };
        assert!(whip_08(&ignored, None, None).problems[0].msg.contains("new credentials ignored"));
        let killed = PatchRun {
            restart: Exchange::answered("PATCH restart", 422, &[], b"no"),
            ..run(204, Some("\"e\""))
        };
        let gone = Exchange::answered("DELETE", 404, &[], b"");
        assert!(whip_08(&killed, None, Some(&gone)).problems[0].msg.contains("session is gone"));
    }

    #[test]
    fn delete_must_end_the_session_and_ignore_if_match() {
        let ok = Exchange::answered("DELETE", 200, &[], b"");
        let gone = Exchange::answered("DELETE again", 404, &[], b"");
        let gone_patch = Exchange::answered("PATCH after", 404, &[], b"");
        assert!(whip_04(&ok, None, &gone, &gone_patch).is_clean());
        let still = Exchange::answered("DELETE again", 200, &[], b"");
        assert!(whip_04(&ok, None, &still, &gone_patch).problems[0].msg.contains("still there"));
        let picky = Exchange::answered("DELETE", 412, &[], b"");
        assert!(
            whip_04(&picky, Some(&ok), &gone, &gone_patch).problems[0]
                .msg
                .contains("must ignore If-Match")
        );
    }

    #[test]
    fn options_preflight_and_cors_response() {
        let o = options_plain(&Exchange::answered(
            "OPTIONS",
            204,
            &[("Accept-Post", "application/sdp")],
            b"",
        ));
        assert!(o.is_clean());
        let o = options_plain(&Exchange::answered("OPTIONS", 200, &[], b""));
        assert!(o.has_level(super::super::Level::Should));
        let pf = Exchange::answered(
            "OPTIONS preflight",
            204,
            &[
                ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Headers", "*"),
                ("Access-Control-Allow-Methods", "POST, DELETE, PATCH"),
            ],
            b"",
        );
        assert!(preflight(&pf, "POST", &["Content-Type"]).is_clean());
        let o = preflight(&pf, "POST", &["Content-Type", "Authorization"]);
        assert!(
            o.problems.iter().any(|p| p.msg.contains("* does not cover Authorization")),
            "{o:?}"
        );
        assert!(preflight(&pf, "DELETE", &[]).is_clean());
        let created = Exchange::answered(
            "POST",
            201,
            &[("Access-Control-Allow-Origin", "*"), ("ETag", "\"e\"")],
            b"",
        );
        assert!(cors_response(&created).problems[0].msg.contains("hides Location, ETag"));
    }

    #[test]
    fn links_auth_redirects_and_whep_specifics() {
        let e = Exchange::answered(
            "POST",
            201,
            &[
                ("Link", "<turn:t.example:3478>; rel=\"ice-server\""),
                ("Link", "<http://x/ext>; rel=\"urn:ietf:params:whip:ext:demo\""),
            ],
            b"",
        );
        let o = ice_servers(&e);
        assert!(o.problems[0].msg.contains("without username/credential"), "{o:?}");
        let base = Url::parse("http://h/live/x/whip").unwrap();
        assert!(
            extensions(Proto::Whip, &e, &base).evidence[0]
                .contains("urn:ietf:params:whip:ext:demo")
        );
        assert!(ice_servers(&Exchange::answered("POST", 201, &[], b"")).skipped.is_some());
        let unauth = Exchange::answered("POST", 401, &[("WWW-Authenticate", "Bearer")], b"");
        assert!(bearer(&unauth, &unauth).is_clean());
        let bare = Exchange::answered("POST", 401, &[], b"");
        assert!(bearer(&bare, &unauth).problems[0].msg.contains("no WWW-Authenticate"));
        let open = Exchange::answered("POST", 201, &[], b"");
        assert!(bearer(&open, &unauth).has_level(super::super::Level::Must));
        let moved = Exchange::answered("POST", 302, &[("Location", "/x")], b"");
        assert!(redirects(&[&moved]).has_level(super::super::Level::Must));
        assert!(redirects(&[&open]).skipped.is_some());
        assert!(
            whep_not_live(&Exchange::answered("POST", 409, &[("Retry-After", "5")], b""))
                .is_clean()
        );
        assert!(
            whep_not_live(&Exchange::answered("POST", 409, &[], b""))
                .has_level(super::super::Level::Must)
        );
        assert!(looks_like_imf_fixdate("Wed, 09 Oct 2024 10:00:00 GMT"));
        assert!(!looks_like_imf_fixdate("2024-10-09T10:00:00Z"));
    }
}
