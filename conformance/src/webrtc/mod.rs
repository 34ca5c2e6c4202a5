//! `sluice-check whip URL` and `sluice-check whep URL`: RULES.md section E over HTTP signalling.
//!
//! One run, strictly sequential (at most one session of ours exists at a time, so a WHIP
//! endpoint that allows one publisher per channel is not tripped up):
//! 1. `OPTIONS` on the endpoint (plain and as a CORS preflight), `GET` (and `HEAD` for WHEP);
//! 2. with `--token`: a POST without and one with a wrong token (401 expected);
//! 3. the session: POST of a generated offer (`offer`), the answer judged against it, `GET` on
//!    the session, CORS preflights for DELETE/PATCH, the PATCH sequence (trickle with the
//!    current / no / a stale entity-tag, wrong content type, malformed fragment, ICE restart,
//!    old and new entity-tag after it), `DELETE` with a stale `If-Match`, then `DELETE` and
//!    `PATCH` again (404 expected);
//! 4. error POSTs (text/plain, garbage, truncated SDP, broken m-line), then a valid POST to
//!    prove the server still serves (WHIP also offers an unknown video codec);
//! 5. a POST with `Origin` to judge the CORS headers of a 201.
//!
//! Every session created is deleted before the run ends. Media (ICE, DTLS, RTP) is out of
//! scope: WHEP-05 and WHIP-13 report SKIP.

pub mod exchange;
pub mod link;
pub mod offer;

use std::thread;
use std::time::{Duration, Instant};

use crate::http::{self, Request};
use crate::report::Report;
use crate::rules::Outcome;
use crate::rules::whip::{self as rules, PatchRun, PatchSupport, Proto, SDP, SDPFRAG};
use crate::rules::{WHEP_RULES, WHIP_RULES};
use crate::sdp::Sdp;
use crate::url::Url;
use exchange::Exchange;
use offer::{Bundle, Offer, Role, VideoCodec, random_u64, restart_fragment, trickle_fragment};

/// The `Origin` sent on CORS requests.
const ORIGIN: &str = "http://sluice-check.invalid";
/// How long the "still serving" POST is retried while the server answers 409/429/503 (a
/// publisher slot freed by DELETE may take a moment).
const RETRY_FOR: Duration = Duration::from_millis(2500);
/// Pause between the trickle PATCH with a candidate and the request that checks the session
/// survived it.
const PROBE_AFTER: Duration = Duration::from_millis(500);

/// What `sluice-check whip|whep` was asked to do.
#[derive(Debug, Clone)]
pub struct WebRtcOptions {
    /// The WHIP or WHEP endpoint URL.
    pub url: Url,
    /// Bearer token for every request (except CORS preflights), if the endpoint needs one.
    pub token: Option<String>,
    /// Which protocol.
    pub proto: Proto,
    /// Deadline of each request.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
enum Auth {
    /// `Authorization: Bearer <--token>` when a token was given.
    Token,
    /// No `Authorization`.
    Without,
    /// `Authorization: Bearer <this>`.
    Wrong(String),
}

/// A session opened to continue after the first one vanished.
#[derive(Debug)]
struct Fresh {
    url: Url,
    offer: Offer,
    bundle: Bundle,
    etag: Option<String>,
    server_ufrag: Option<String>,
}

#[derive(Debug)]
struct Run {
    p: Proto,
    endpoint: Url,
    token: Option<String>,
    timeout: Duration,
    report: Report,
    /// Every POST answer (redirect hops included), for WHIP-12.
    posts: Vec<Exchange>,
    /// Sessions to delete before leaving.
    created: Vec<Url>,
    requests: usize,
}

/// Runs the WHIP or WHEP checks against `opts.url`.
pub fn check(opts: &WebRtcOptions) -> Report {
    let ids = match opts.proto {
        Proto::Whip => WHIP_RULES,
        Proto::Whep => WHEP_RULES,
    };
    let mut run = Run {
        p: opts.proto,
        endpoint: opts.url.clone(),
        token: opts.token.clone(),
        timeout: opts.timeout,
        report: Report::with_rules(&opts.url.to_string(), ids),
        posts: Vec::new(),
        created: Vec::new(),
        requests: 0,
    };
    run.all();
    run.cleanup();
    let requests = run.requests;
    run.report.metric("requests", requests.to_string());
    run.report
}

fn if_match(tag: Option<&str>) -> Vec<(&'static str, String)> {
    tag.map(|t| vec![("If-Match", t.to_string())]).unwrap_or_default()
}

impl Run {
    fn role(&self) -> Role {
        match self.p {
            Proto::Whip => Role::Publish,
            Proto::Whep => Role::Play,
        }
    }

    /// WHIP-01 / WHEP-01.
    fn id_post(&self) -> &'static str {
        match self.p {
            Proto::Whip => "WHIP-01",
            Proto::Whep => "WHEP-01",
        }
    }

    /// The rule the POST error cases belong to: WHIP-02 / WHEP-01 (WHEP §4.3.4).
    fn id_errors(&self) -> &'static str {
        match self.p {
            Proto::Whip => "WHIP-02",
            Proto::Whep => "WHEP-01",
        }
    }

    /// WHIP-03 / WHEP-02.
    fn id_constraints(&self) -> &'static str {
        match self.p {
            Proto::Whip => "WHIP-03",
            Proto::Whep => "WHEP-02",
        }
    }

    /// WHIP-06 / WHEP-03.
    fn id_get(&self) -> &'static str {
        match self.p {
            Proto::Whip => "WHIP-06",
            Proto::Whep => "WHEP-03",
        }
    }

    /// A rule WHEP-04 mirrors: judged under its WHIP id, and for WHEP folded into WHEP-04 too.
    fn shared(&mut self, id: &'static str, context: &str, o: Outcome) {
        if self.p == Proto::Whep {
            let ctx = if context.is_empty() { id.to_string() } else { format!("{id} {context}") };
            self.report.add("WHEP-04", &ctx, o.clone());
        }
        self.report.add(id, context, o);
    }

    fn send(
        &mut self,
        what: &str,
        method: &str,
        url: &Url,
        headers: &[(&str, String)],
        body: &[u8],
        auth: &Auth,
    ) -> Exchange {
        let mut req = Request::new(method, url.clone(), self.timeout).body(body.to_vec());
        for (n, v) in headers {
            req = req.header(n, v);
        }
        let bearer = match auth {
            Auth::Token => self.token.clone(),
            Auth::Without => None,
            Auth::Wrong(t) => Some(t.clone()),
        };
        if let Some(t) = bearer {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        self.requests += 1;
        Exchange::record(what, http::send(&req))
    }

    /// POSTs `body`, following up to three 307/308 redirects (RFC 9725 §4.5). Returns the last
    /// answer and the URL that gave it (the base for its `Location`).
    fn post(
        &mut self,
        what: &str,
        ctype: &str,
        body: &[u8],
        extra: &[(&str, String)],
        auth: &Auth,
    ) -> (Exchange, Url) {
        let mut url = self.endpoint.clone();
        let mut headers = vec![("Content-Type", ctype.to_string())];
        headers.extend(extra.iter().cloned());
        let mut hops = 0;
        loop {
            let ex = self.send(what, "POST", &url, &headers, body, auth);
            self.posts.push(ex.clone());
            let next = match ex.status {
                Some(307 | 308) if hops < 3 => ex.header("location").and_then(|l| url.join(l).ok()),
                _ => None,
            };
            match next {
                Some(n) => {
                    hops += 1;
                    url = n;
                }
                None => return (ex, url),
            }
        }
    }

    /// Deletes a session created by a side check right away (one session at a time).
    fn discard(&mut self, ex: &Exchange, base: &Url) {
        if (ex.is(201) || (self.p == Proto::Whep && ex.is(406)))
            && let Ok(s) = rules::session_url(base, ex)
        {
            let d = self.send("DELETE side session", "DELETE", &s, &[], b"", &Auth::Token);
            if !d.success() {
                self.created.push(s);
            }
        }
    }

    fn cleanup(&mut self) {
        for s in std::mem::take(&mut self.created) {
            let _ = self.send("DELETE (cleanup)", "DELETE", &s, &[], b"", &Auth::Token);
        }
    }

    fn all(&mut self) {
        let p = self.p;
        let endpoint = self.endpoint.clone();

        // 1. OPTIONS, GET (and HEAD for WHEP) on the endpoint.
        let opt = self.send("OPTIONS endpoint", "OPTIONS", &endpoint, &[], b"", &Auth::Token);
        self.shared("WHIP-05", "", rules::options_plain(&opt));
        let mut pf_headers = vec!["Content-Type"];
        if self.token.is_some() {
            pf_headers.push("Authorization");
        }
        let pf =
            self.preflight("OPTIONS endpoint (CORS preflight)", &endpoint, "POST", &pf_headers);
        self.shared("WHIP-05", "", rules::preflight(&pf, "POST", &pf_headers));
        let g = self.send("GET endpoint", "GET", &endpoint, &[], b"", &Auth::Token);
        let id_get = self.id_get();
        let authenticated = self.token.is_some();
        self.report.add(id_get, "endpoint", rules::get_no_content(&g, authenticated));
        if p == Proto::Whep {
            let h = self.send("HEAD endpoint", "HEAD", &endpoint, &[], b"", &Auth::Token);
            self.report.add("WHEP-03", "endpoint", rules::head_info(&h, authenticated));
        }

        // 2. Bearer tokens.
        if self.token.is_some() {
            let o = Offer::new(self.role(), VideoCodec::H264);
            let (na, base) = self.post(
                "POST without Authorization",
                SDP,
                o.text.as_bytes(),
                &[],
                &Auth::Without,
            );
            self.discard(&na, &base);
            let wrong = format!("sluice-check-wrong-{:x}", random_u64());
            let (wr, base) = self.post(
                "POST with a wrong token",
                SDP,
                o.text.as_bytes(),
                &[],
                &Auth::Wrong(wrong),
            );
            self.discard(&wr, &base);
            self.shared("WHIP-11", "", rules::bearer(&na, &wr));
        }

        // 3. The session.
        let served = self.session();
        if served {
            // 4. Error POSTs, then a valid one.
            self.error_posts();
            // 5. A cross-origin POST.
            self.cors_post();
        }

        let posts: Vec<&Exchange> = self.posts.iter().collect();
        let o = rules::redirects(&posts);
        self.shared("WHIP-12", "", o);
        if p == Proto::Whip {
            self.report.add(
                "WHIP-13",
                "",
                Outcome::skip(
                    "simulcast and ICE mode need a WebRTC peer; this checker only signals",
                ),
            );
        } else {
            self.report.add(
                "WHEP-05",
                "",
                Outcome::skip(
                    "media flow needs a WebRTC peer (ICE/DTLS/SRTP); this checker only signals",
                ),
            );
        }
    }

    fn preflight(&mut self, what: &str, url: &Url, method: &str, headers: &[&str]) -> Exchange {
        let request_headers =
            headers.iter().map(|h| h.to_ascii_lowercase()).collect::<Vec<_>>().join(",");
        let mut h = vec![
            ("Origin", ORIGIN.to_string()),
            ("Access-Control-Request-Method", method.to_string()),
        ];
        if !request_headers.is_empty() {
            h.push(("Access-Control-Request-Headers", request_headers));
        }
        // Fetch: the preflight itself never carries credentials or Authorization (RFC 9725
        // §4.7.1: clients send the token "in all HTTP requests ... except the preflight OPTIONS
        // requests for CORS").
        self.send(what, "OPTIONS", url, &h, b"", &Auth::Without)
    }

    fn skip_session_rules(&mut self, why: &str) {
        let id_get = self.id_get();
        self.report.add(id_get, "session", Outcome::skip(why));
        for id in ["WHIP-04", "WHIP-07", "WHIP-08"] {
            self.shared(id, "", Outcome::skip(why));
        }
    }

    /// Step 3; false when the endpoint does not serve (needs a token, not live, broken), in
    /// which case the error POSTs would prove nothing.
    fn session(&mut self) -> bool {
        let p = self.p;
        let id_post = self.id_post();
        let offer = Offer::new(self.role(), VideoCodec::H264);
        let offer_sdp = match Sdp::parse(offer.text.as_bytes()) {
            Ok(s) => s,
            Err(e) => {
                self.report.add(
                    id_post,
                    "",
                    Outcome::skip(format!("internal: generated offer does not parse: {e}")),
                );
                return false;
            }
        };
        let (main, base) = self.post("POST offer", SDP, offer.text.as_bytes(), &[], &Auth::Token);
        if let Some(etag) = main.header("etag") {
            self.report.metric("ETag of the 201", etag.to_string());
        }

        if main.is(401) && self.token.is_none() {
            let why = "the endpoint requires a bearer token (401): rerun with --token";
            self.report.add(id_post, "", Outcome::skip(why));
            let mut o = Outcome::new();
            o.note(why);
            self.shared("WHIP-11", "", o);
            self.skip_session_rules(why);
            return false;
        }
        if self.token.is_none() {
            self.shared(
                "WHIP-11",
                "",
                Outcome::skip("the endpoint answered without a token (pass --token to test 401s)"),
            );
        }
        if p == Proto::Whep && main.is(409) {
            self.report.add("WHEP-01", "", rules::whep_not_live(&main));
            let why = "stream not live (409): publish it and rerun";
            self.report.add("WHEP-02", "", Outcome::skip(why));
            self.skip_session_rules(why);
            return false;
        }

        let mut server_ufrag: Option<String> = None;
        let mut etag = main.header("etag").map(str::to_string);
        // Fragments name the negotiated bundle: our offer's, or the counter-offer's.
        let Some(mut bundle) = Bundle::of(&offer_sdp) else {
            self.report.add(id_post, "", Outcome::skip("internal: generated offer has no bundle"));
            return false;
        };
        let session;
        if p == Proto::Whep && main.is(406) {
            let (o1, o2, counter) = rules::counter_offer(&main);
            self.report.add("WHEP-01", "406", o1);
            self.report.add("WHEP-02", "counter-offer", o2);
            session = rules::session_url(&base, &main);
            if let (Some(c), Ok(s)) = (&counter, &session) {
                if let Some(b) = Bundle::of(c) {
                    bundle = b;
                }
                server_ufrag =
                    c.media.first().and_then(|m| c.effective(m, "ice-ufrag")).map(str::to_string);
                let answer = offer::answer_to(c, &offer);
                let h = vec![("Content-Type", SDP.to_string())];
                let pa = self.send(
                    "PATCH answer to the counter-offer",
                    "PATCH",
                    s,
                    &h,
                    answer.as_bytes(),
                    &Auth::Token,
                );
                if etag.is_none() {
                    etag = pa.header("etag").map(str::to_string);
                }
                self.report.add("WHEP-01", "406", rules::counter_answer(&pa));
            }
        } else {
            self.report.add(id_post, "", rules::post_created(&main));
            if !main.is(201) {
                self.skip_session_rules(&format!("no session: {}", main.describe()));
                return main.status.is_some();
            }
            let (o, answer) = rules::answer_matches_offer(&offer_sdp, &offer.ufrag, &main.body);
            self.report.add(id_post, "answer", o);
            if let Some(a) = &answer {
                let id_c = self.id_constraints();
                self.report.add(id_c, "", rules::answer_constraints(p, a));
                if p == Proto::Whip {
                    self.report.add("WHIP-02", "", rules::partial_answer(a));
                }
                server_ufrag =
                    a.media.first().and_then(|m| a.effective(m, "ice-ufrag")).map(str::to_string);
            }
            session = rules::session_url(&base, &main);
        }
        self.shared("WHIP-09", "", rules::ice_servers(&main));
        let ext = rules::extensions(p, &main, &base);
        self.shared("WHIP-10", "", ext);

        let session = match session {
            Ok(s) => s,
            Err(e) => {
                self.skip_session_rules(&format!("no usable session URL: {e}"));
                return true;
            }
        };
        self.report.metric("session URL", session.to_string());
        self.created.push(session.clone());

        let g = self.send("GET session", "GET", &session, &[], b"", &Auth::Token);
        let id_get = self.id_get();
        let authenticated = self.token.is_some();
        self.report.add(id_get, "session", rules::get_no_content(&g, authenticated));

        let mut session = session;
        let mut offer = offer;
        let (run, fresh_ufrag) = self.patches(&mut session, &mut offer, &mut bundle, etag);
        if fresh_ufrag.is_some() {
            server_ufrag = fresh_ufrag;
        }
        let supported = rules::patch_support(&run.trickle, 204) != PatchSupport::NoPatch
            || rules::patch_support(&run.restart, 200) != PatchSupport::NoPatch;

        // Browser clients preflight their DELETE (and PATCH) on the session URL.
        let mut del_headers = Vec::new();
        if self.token.is_some() {
            del_headers.push("Authorization");
        }
        let pf = self.preflight(
            "OPTIONS session (CORS preflight for DELETE)",
            &session,
            "DELETE",
            &del_headers,
        );
        self.shared("WHIP-05", "session", rules::preflight(&pf, "DELETE", &del_headers));
        if supported {
            let mut h = vec!["Content-Type", "If-Match"];
            h.extend(del_headers.iter().copied());
            let pf =
                self.preflight("OPTIONS session (CORS preflight for PATCH)", &session, "PATCH", &h);
            self.shared("WHIP-05", "session", rules::preflight(&pf, "PATCH", &h));
        }

        let stale = vec![("If-Match", format!("\"sluice-check-stale-{:x}\"", random_u64()))];
        let del = self.send(
            "DELETE session (stale If-Match)",
            "DELETE",
            &session,
            &stale,
            b"",
            &Auth::Token,
        );
        let retry = if del.success() || del.is(404) {
            None
        } else {
            Some(self.send("DELETE session", "DELETE", &session, &[], b"", &Auth::Token))
        };
        let again = self.send("DELETE session again", "DELETE", &session, &[], b"", &Auth::Token);
        let frag = trickle_fragment(&bundle, &offer.ufrag, &offer.pwd);
        let mut h = vec![("Content-Type", SDPFRAG.to_string())];
        let newest = run.restart.header("etag").filter(|_| run.restart.is(200));
        h.extend(if_match(newest.or(run.etag.as_deref())));
        let patch_after = self.send(
            "PATCH deleted session",
            "PATCH",
            &session,
            &h,
            frag.as_bytes(),
            &Auth::Token,
        );
        if again.is(404) || again.is(410) {
            self.created.retain(|u| *u != session);
        }
        self.shared("WHIP-04", "", rules::whip_04(&del, retry.as_ref(), &again, &patch_after));
        self.shared("WHIP-07", "", rules::whip_07(&run));
        self.shared("WHIP-08", "", rules::whip_08(&run, server_ufrag.as_deref(), Some(&del)));
        true
    }

    fn patch(
        &mut self,
        what: &str,
        url: &Url,
        ctype: &str,
        body: &str,
        tag: Option<&str>,
    ) -> Exchange {
        let mut h = vec![("Content-Type", ctype.to_string())];
        h.extend(if_match(tag));
        self.send(what, "PATCH", url, &h, body.as_bytes(), &Auth::Token)
    }

    /// The PATCH sequence on session `s`. When the request after an accepted trickle PATCH finds
    /// the session gone (404/410), that is recorded, a fresh session is opened (`s`, `offer`
    /// and `b` are replaced) and the remaining PATCHes carry no candidates. Returns the run and,
    /// after such a switch, the fresh session's server ufrag.
    fn patches(
        &mut self,
        s: &mut Url,
        offer: &mut Offer,
        b: &mut Bundle,
        etag: Option<String>,
    ) -> (PatchRun, Option<String>) {
        let mut frag = trickle_fragment(b, &offer.ufrag, &offer.pwd);
        let mut tag = etag;
        let trickle =
            self.patch("PATCH trickle (current If-Match)", s, SDPFRAG, &frag, tag.as_deref());
        let support = rules::patch_support(&trickle, 204);
        let mut run = PatchRun { etag: tag.clone(), trickle, ..PatchRun::default() };
        let mut fresh_ufrag = None;
        let stale = format!("\"sluice-check-stale-{:x}\"", random_u64());
        if support == PatchSupport::Done {
            // Is the session still there once the candidate has been acted on? A candidate-free
            // trickle with the current entity-tag must get 204 again (a server may tear the
            // session down asynchronously, hence the pause).
            thread::sleep(PROBE_AFTER);
            let quiet = Bundle { candidates: false, ..b.clone() };
            let q = trickle_fragment(&quiet, &offer.ufrag, &offer.pwd);
            let what = "PATCH trickle without candidates (session still there?)";
            let probe = self.patch(what, s, SDPFRAG, &q, tag.as_deref());
            if probe.is(404) || probe.is(410) {
                run.vanished = Some(probe);
                let Some(f) = self.fresh_session() else {
                    run.restart = Exchange {
                        what: "PATCH ICE restart".into(),
                        error: Some("not sent: no new session could be opened".into()),
                        ..Exchange::default()
                    };
                    return (run, None);
                };
                *s = f.url;
                *offer = f.offer;
                *b = Bundle { candidates: false, ..f.bundle };
                tag = f.etag;
                fresh_ufrag = f.server_ufrag;
                run.etag = tag.clone();
                frag = trickle_fragment(b, &offer.ufrag, &offer.pwd);
            } else {
                run.probe = Some(probe);
            }
            if tag.is_some() {
                let what = "PATCH trickle without If-Match";
                run.no_if_match = Some(self.patch(what, s, SDPFRAG, &frag, None));
            }
            let what = "PATCH trickle (stale If-Match)";
            run.stale = Some(self.patch(what, s, SDPFRAG, &frag, Some(&stale)));
        }
        let t = tag.as_deref();
        if support != PatchSupport::NoPatch {
            run.wrong_type =
                Some(self.patch("PATCH fragment as text/plain", s, "text/plain", &frag, t));
            let bad = "this is not an SDP fragment\r\n";
            run.malformed = Some(self.patch("PATCH malformed fragment", s, SDPFRAG, bad, t));
        }
        let (restart, ufrag, pwd) = restart_fragment(b);
        run.restart_ufrag = ufrag.clone();
        run.restart =
            self.patch("PATCH ICE restart (If-Match: *)", s, SDPFRAG, &restart, Some("*"));
        let new = run.restart.header("etag").filter(|_| run.restart.is(200)).map(str::to_string);
        if let Some(new) = new {
            self.report.metric("ETag after ICE restart", new.clone());
            if support == PatchSupport::Done {
                let frag = trickle_fragment(b, &ufrag, &pwd);
                if let Some(old) = &tag {
                    let what = "PATCH trickle (pre-restart If-Match)";
                    run.old_etag_after_restart =
                        Some(self.patch(what, s, SDPFRAG, &frag, Some(old)));
                }
                let what = "PATCH trickle (new If-Match)";
                run.new_etag_after_restart = Some(self.patch(what, s, SDPFRAG, &frag, Some(&new)));
            }
        }
        (run, fresh_ufrag)
    }

    /// Opens another session for the rest of the PATCH checks (after the first one vanished):
    /// 201, or for WHEP a 406 counter-offer answered by PATCH.
    fn fresh_session(&mut self) -> Option<Fresh> {
        let offer = Offer::new(self.role(), VideoCodec::H264);
        let (ex, base) =
            self.post("POST offer (fresh session)", SDP, offer.text.as_bytes(), &[], &Auth::Token);
        let url = rules::session_url(&base, &ex).ok()?;
        let described = if ex.is(201) {
            Sdp::parse(&ex.body).ok()?
        } else if self.p == Proto::Whep && ex.is(406) {
            let counter = Sdp::parse(&ex.body).ok()?;
            let answer = offer::answer_to(&counter, &offer);
            let h = vec![("Content-Type", SDP.to_string())];
            let pa = self.send(
                "PATCH answer (fresh session)",
                "PATCH",
                &url,
                &h,
                answer.as_bytes(),
                &Auth::Token,
            );
            if !pa.is(204) {
                return None;
            }
            counter
        } else {
            return None;
        };
        self.created.push(url.clone());
        self.report.metric("fresh session URL", url.to_string());
        Some(Fresh {
            bundle: Bundle::of(&described)?,
            server_ufrag: described
                .media
                .first()
                .and_then(|m| described.effective(m, "ice-ufrag"))
                .map(str::to_string),
            etag: ex.header("etag").map(str::to_string),
            url,
            offer,
        })
    }

    fn error_posts(&mut self) {
        let id = self.id_errors();
        let o = Offer::new(self.role(), VideoCodec::H264);
        let (ex, base) = self.post(
            "POST offer as text/plain",
            "text/plain",
            o.text.as_bytes(),
            &[],
            &Auth::Token,
        );
        self.report.add(id, "", rules::wrong_content_type(self.p, &ex));
        self.discard(&ex, &base);
        let broken_m =
            o.text.replace("m=video 9 UDP/TLS/RTP/SAVPF 96 97", "m=video nine UDP/TLS/RTP/SAVPF");
        let garbage: [(&str, Vec<u8>); 3] = [
            (
                "POST garbage bytes as application/sdp",
                b"\x00\xff\xfenot an SDP offer {[(\r\n".to_vec(),
            ),
            ("POST truncated SDP (v= o= only)", b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n".to_vec()),
            ("POST SDP with a broken m= line", broken_m.into_bytes()),
        ];
        for (what, body) in garbage {
            let (ex, base) = self.post(what, SDP, &body, &[], &Auth::Token);
            self.report.add(id, "", rules::malformed_sdp(self.p, &ex));
            self.discard(&ex, &base);
        }
        let (ex, base) =
            self.post_retrying("POST offer after the malformed ones", VideoCodec::H264, &[]);
        self.report.add(id, "", rules::still_serving(&ex));
        self.discard(&ex, &base);
        if self.p == Proto::Whip {
            let (ex, base) = self.post_retrying(
                "POST offer with an unknown video codec",
                VideoCodec::Unknown,
                &[],
            );
            let answer = if ex.is(201) { Sdp::parse(&ex.body).ok() } else { None };
            self.report.add("WHIP-02", "", rules::unknown_codec(&ex, answer.as_ref()));
            self.discard(&ex, &base);
        }
    }

    /// POSTs a fresh offer, retrying for [`RETRY_FOR`] while the answer is 409/429/503 (the
    /// previous session's slot may be released asynchronously).
    fn post_retrying(
        &mut self,
        what: &str,
        video: VideoCodec,
        extra: &[(&str, String)],
    ) -> (Exchange, Url) {
        let start = Instant::now();
        loop {
            let o = Offer::new(self.role(), video);
            let (ex, base) = self.post(what, SDP, o.text.as_bytes(), extra, &Auth::Token);
            let busy = matches!(ex.status, Some(409 | 429 | 503));
            if !busy || start.elapsed() >= RETRY_FOR {
                return (ex, base);
            }
            thread::sleep(Duration::from_millis(250));
        }
    }

    fn cors_post(&mut self) {
        let origin = vec![("Origin", ORIGIN.to_string())];
        let (ex, base) = self.post_retrying("POST offer with Origin", VideoCodec::H264, &origin);
        self.shared("WHIP-05", "", rules::cors_response(&ex));
        self.discard(&ex, &base);
    }
}
