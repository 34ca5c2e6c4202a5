//! `sluice-check whip|whep` against a tiny in-process WHIP/WHEP server (std `TcpListener`, one
//! thread per connection, one request per connection). The correct server passes every
//! signalling rule; each seeded fault (no Location, 200 instead of 201, no ETag, PATCH ignored,
//! DELETE not honoured, a handler that dies on bad SDP, no WWW-Authenticate) fails the rule that
//! covers it (and nothing else, except that a dead server also fails the later CORS POST).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use sluice_conformance::report::{Report, Verdict};
use sluice_conformance::rules::whip::Proto;
use sluice_conformance::url::Url;
use sluice_conformance::webrtc::{WebRtcOptions, check};

#[derive(Debug, Clone, Copy, Default)]
struct Faults {
    no_location: bool,
    status_200: bool,
    no_etag: bool,
    patch_ignored: bool,
    delete_not_honoured: bool,
    dies_on_bad_sdp: bool,
    no_www_authenticate: bool,
    not_live: bool,
    counter_offer: bool,
    trickle_kills_session: bool,
}

#[derive(Debug, Clone)]
struct Session {
    etag: String,
    /// mids of the negotiated session; a fragment naming another one is refused.
    mids: Vec<String>,
    /// WHEP counter-offer sent, answer not received yet.
    pending: bool,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, Session>,
    next: u64,
    dead: bool,
}

struct Server {
    whep: bool,
    token: Option<&'static str>,
    faults: Faults,
    state: Mutex<State>,
}

struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, n: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.as_str())
    }
}

/// Status, headers, body; `None` = drop the connection without answering.
type Resp = Option<(u16, Vec<(String, String)>, Vec<u8>)>;

fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Resp {
    Some((
        status,
        headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body.as_bytes().to_vec(),
    ))
}

const CORS: [(&str, &str); 4] = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type, If-Match, Authorization"),
    ("Access-Control-Expose-Headers", "Location, ETag, Link"),
];

/// One offered m-line as the fake sees it: media kind, payload types, the lines after it.
type OfferedMedia = (String, Vec<String>, Vec<String>);

/// The fake's own minimal SDP handling (deliberately not the checker's parser).
fn parse_offer(body: &[u8]) -> Result<Vec<OfferedMedia>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "not utf-8".to_string())?;
    if !text.starts_with("v=0\r\n") {
        return Err("does not start with v=0".into());
    }
    let mut media: Vec<OfferedMedia> = Vec::new();
    let mut session_lines = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b'=' {
            return Err(format!("bad line {line:?}"));
        }
        if let Some(m) = line.strip_prefix("m=") {
            let f: Vec<String> = m.split(' ').map(str::to_string).collect();
            if f.len() < 4 || f[1].parse::<u16>().is_err() {
                return Err(format!("bad m-line {line:?}"));
            }
            media.push((f[0].clone(), f[3..].to_vec(), Vec::new()));
        } else if let Some(last) = media.last_mut() {
            last.2.push(line.to_string());
        } else {
            session_lines.push(line.to_string());
        }
    }
    for need in ["o=", "s=", "t="] {
        if !session_lines.iter().any(|l| l.starts_with(need)) {
            return Err(format!("no {need} line"));
        }
    }
    if media.is_empty() {
        return Err("no m= line".into());
    }
    Ok(media)
}

fn fingerprint() -> String {
    (0..32).map(|i| format!("{:02X}", i * 7 % 256)).collect::<Vec<_>>().join(":")
}

impl Server {
    fn answer(&self, media: &[OfferedMedia], ufrag: &str, setup: &str, dir: &str) -> String {
        let mids: Vec<String> = media
            .iter()
            .map(|(_, _, l)| {
                l.iter().find_map(|x| x.strip_prefix("a=mid:")).unwrap_or("").to_string()
            })
            .collect();
        let mut s = format!(
            "v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE {}\r\n",
            mids.join(" ")
        );
        for ((kind, pts, lines), mid) in media.iter().zip(&mids) {
            let pt = &pts[0];
            s.push_str(&format!(
                "m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:{ufrag}\r\n\
                 a=ice-pwd:fakepasswordfakepassword\r\na=fingerprint:sha-256 {}\r\na=setup:{setup}\r\n\
                 a=mid:{mid}\r\na={dir}\r\na=rtcp-mux\r\n",
                fingerprint()
            ));
            if dir == "sendonly" {
                s.push_str(&format!("a=msid:fake-stream fake-{kind}\r\n"));
            }
            for l in lines {
                if l.starts_with(&format!("a=rtpmap:{pt} "))
                    || l.starts_with(&format!("a=fmtp:{pt} "))
                {
                    s.push_str(l);
                    s.push_str("\r\n");
                }
            }
            s.push_str("a=candidate:1 1 UDP 2130706431 127.0.0.1 40000 typ host\r\n");
        }
        s
    }

    fn handle(&self, r: &Req) -> Resp {
        let endpoint = if self.whep { "/live/x/whep" } else { "/live/x/whip" };
        let origin = r.header("origin").is_some();
        if r.method == "OPTIONS" {
            let mut h: Vec<(&str, &str)> = vec![("Accept-Post", "application/sdp")];
            h.extend(CORS);
            return resp(204, &h, "");
        }
        if let Some(t) = self.token
            && r.header("authorization") != Some(&format!("Bearer {t}"))
        {
            return if self.faults.no_www_authenticate {
                resp(401, &[], "unauthorized")
            } else {
                resp(401, &[("WWW-Authenticate", "Bearer realm=\"fake\"")], "unauthorized")
            };
        }
        let mut st = self.state.lock().expect("fake server state");
        if r.path == endpoint {
            return match r.method.as_str() {
                "GET" => resp(204, &[], ""),
                "HEAD" => resp(200, &[("Content-Type", "application/sdp")], ""),
                "POST" => self.post(r, &mut st, origin),
                _ => resp(405, &[("Allow", "OPTIONS, GET, HEAD, POST")], ""),
            };
        }
        let Some(id) = r.path.strip_prefix("/session/").map(str::to_string) else {
            return resp(404, &[], "not found");
        };
        let Some(session) = st.sessions.get(&id).cloned() else {
            return resp(404, &[], "no such session");
        };
        match r.method.as_str() {
            "GET" => resp(204, &[], ""),
            "DELETE" => {
                if !self.faults.delete_not_honoured {
                    st.sessions.remove(&id);
                }
                resp(200, &[], "")
            }
            "PATCH" => self.patch(r, &mut st, &id, session),
            _ => resp(405, &[("Allow", "GET, PATCH, DELETE, OPTIONS")], ""),
        }
    }

    fn post(&self, r: &Req, st: &mut State, origin: bool) -> Resp {
        if st.dead {
            return None;
        }
        if self.faults.not_live {
            return resp(409, &[("Retry-After", "2")], "stream not live");
        }
        let ct = r.header("content-type").unwrap_or("");
        if ct.split(';').next().unwrap_or("").trim() != "application/sdp" {
            return resp(415, &[], "expected application/sdp");
        }
        let media = match parse_offer(&r.body) {
            Ok(m) => m,
            Err(e) => {
                if self.faults.dies_on_bad_sdp {
                    st.dead = true;
                    return None;
                }
                return resp(400, &[], &format!("malformed SDP: {e}"));
            }
        };
        if media
            .iter()
            .any(|(k, _, l)| k == "video" && !l.iter().any(|x| x.contains(" H264/90000")))
        {
            return resp(422, &[], "no supported video codec");
        }
        st.next += 1;
        let id = format!("s{}", st.next);
        let etag = format!("\"e-{}-0\"", st.next);
        let ufrag = format!("srv{}x", st.next);
        let location = format!("/session/{id}");
        let mut h: Vec<(String, String)> = Vec::new();
        let mut push = |n: &str, v: &str| h.push((n.to_string(), v.to_string()));
        if !self.faults.no_location {
            push("Location", &location);
        }
        if !self.faults.no_etag {
            push("ETag", &etag);
        }
        push("Link", "<stun:127.0.0.1:3478>; rel=\"ice-server\"");
        if origin {
            for (n, v) in CORS {
                push(n, v);
            }
        }
        if self.whep && self.faults.counter_offer {
            // The counter-offer picks its own mids.
            let mids = vec!["a".to_string(), "v".to_string()];
            st.sessions.insert(id, Session { etag, mids, pending: true });
            push("Content-Type", "application/sdp; valid-until=\"Wed, 09 Oct 2030 10:00:00 GMT\"");
            let offer = self
                .answer(&media, &ufrag, "actpass", "sendonly")
                .replace("a=group:BUNDLE 0 1", "a=group:BUNDLE a v")
                .replace("a=mid:0", "a=mid:a")
                .replace("a=mid:1", "a=mid:v");
            return Some((406, h, offer.into_bytes()));
        }
        let mids = vec!["0".to_string(), "1".to_string()];
        st.sessions.insert(id, Session { etag, mids, pending: false });
        push("Content-Type", "application/sdp");
        let dir = if self.whep { "sendonly" } else { "recvonly" };
        let status = if self.faults.status_200 { 200 } else { 201 };
        Some((status, h, self.answer(&media, &ufrag, "passive", dir).into_bytes()))
    }

    fn patch(&self, r: &Req, st: &mut State, id: &str, s: Session) -> Resp {
        if self.faults.patch_ignored {
            return resp(204, &[], "");
        }
        let ct = r.header("content-type").unwrap_or("");
        if s.pending {
            return if ct == "application/sdp" && parse_offer(&r.body).is_ok() {
                if let Some(x) = st.sessions.get_mut(id) {
                    x.pending = false;
                }
                resp(204, &[], "")
            } else {
                resp(400, &[], "expected the SDP answer")
            };
        }
        if ct != "application/trickle-ice-sdpfrag" {
            return resp(415, &[], "expected application/trickle-ice-sdpfrag");
        }
        let text = String::from_utf8_lossy(&r.body).into_owned();
        if text.lines().any(|l| l.len() < 2 || &l[1..2] != "=") {
            return resp(400, &[], "malformed SDP fragment");
        }
        if let Some(mid) = text.lines().find_map(|l| l.strip_prefix("a=mid:"))
            && !s.mids.iter().any(|m| m == mid)
        {
            return resp(400, &[], "fragment names an unknown mid");
        }
        match r.header("if-match") {
            None if !self.faults.no_etag => resp(428, &[], "If-Match required"),
            Some("*") => {
                let Some(new_ufrag) = text.lines().find_map(|l| l.strip_prefix("a=ice-ufrag:"))
                else {
                    return resp(400, &[], "restart without ice-ufrag");
                };
                let n = st.next;
                st.next += 1;
                let etag = format!("\"e-r{n}\"");
                if let Some(x) = st.sessions.get_mut(id) {
                    x.etag = etag.clone();
                }
                let body = format!(
                    "a=ice-ufrag:rst{n}{}\r\na=ice-pwd:restartpasswordrestartpw\r\n",
                    new_ufrag.len()
                );
                resp(
                    200,
                    &[("Content-Type", "application/trickle-ice-sdpfrag"), ("ETag", &etag)],
                    &body,
                )
            }
            Some(tag) if tag != s.etag => resp(412, &[], "stale entity-tag"),
            _ => {
                if self.faults.trickle_kills_session && text.contains("a=candidate:") {
                    // Like a server whose ICE agent tears the session down on an unreachable
                    // candidate.
                    st.sessions.remove(id);
                }
                resp(204, &[], "")
            }
        }
    }
}

fn read_request(s: &mut TcpStream) -> Option<Req> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).ok()? == 0 {
            return None;
        }
        buf.push(b[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':').map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let len = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some(Req { method, path, headers, body })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        _ => "X",
    }
}

/// Serves until the flag is set; returns the endpoint URL.
fn serve(whep: bool, token: Option<&'static str>, faults: Faults) -> (Url, Arc<AtomicBool>) {
    let server = Arc::new(Server { whep, token, faults, state: Mutex::new(State::default()) });
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("address").port();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let server = Arc::clone(&server);
                    thread::spawn(move || {
                        let Some(req) = read_request(&mut s) else { return };
                        let Some((status, headers, body)) = server.handle(&req) else { return };
                        let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
                        for (n, v) in headers {
                            out.push_str(&format!("{n}: {v}\r\n"));
                        }
                        out.push_str(&format!(
                            "Content-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        ));
                        let _ = s.write_all(out.as_bytes());
                        let _ = s.write_all(&body);
                    });
                }
                Err(_) => thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    let path = if whep { "whep" } else { "whip" };
    (Url::parse(&format!("http://127.0.0.1:{port}/live/x/{path}")).expect("url"), stop)
}

fn run(whep: bool, token: Option<&'static str>, use_token: bool, faults: Faults) -> Report {
    let (url, stop) = serve(whep, token, faults);
    let report = check(&WebRtcOptions {
        url,
        token: if use_token { token.map(str::to_string) } else { None },
        proto: if whep { Proto::Whep } else { Proto::Whip },
        timeout: Duration::from_secs(3),
    });
    stop.store(true, Ordering::Relaxed);
    report
}

fn verdicts(r: &Report) -> HashMap<&'static str, (Verdict, String)> {
    r.results().into_iter().map(|x| (x.id, (x.verdict, x.message))).collect()
}

fn failing(r: &Report) -> Vec<&'static str> {
    let mut v: Vec<&str> =
        r.results().into_iter().filter(|x| x.verdict == Verdict::Fail).map(|x| x.id).collect();
    v.sort_unstable();
    v
}

#[test]
fn correct_whip_server_passes_every_signalling_rule() {
    let r = run(false, Some("s3cret"), true, Faults::default());
    let v = verdicts(&r);
    for id in [
        "WHIP-01", "WHIP-02", "WHIP-03", "WHIP-04", "WHIP-05", "WHIP-06", "WHIP-07", "WHIP-08",
        "WHIP-09", "WHIP-10", "WHIP-11",
    ] {
        assert_eq!(v[id].0, Verdict::Pass, "{id}: {}\n{}", v[id].1, r.render());
    }
    assert_eq!(v["WHIP-12"].0, Verdict::Skip);
    assert_eq!(v["WHIP-13"].0, Verdict::Skip);
    assert!(!r.failed());
    assert!(
        r.render().contains("SUMMARY 13 rules: 11 pass, 0 fail, 0 warn, 2 skip"),
        "{}",
        r.render()
    );
    assert!(r.to_json().contains("\"id\": \"WHIP-07\""));
}

#[test]
fn correct_whep_server_passes_and_whep_04_folds_the_shared_rules() {
    let r = run(true, None, false, Faults::default());
    let v = verdicts(&r);
    for id in [
        "WHEP-01", "WHEP-02", "WHEP-03", "WHEP-04", "WHIP-04", "WHIP-05", "WHIP-07", "WHIP-08",
        "WHIP-09", "WHIP-10",
    ] {
        assert_eq!(v[id].0, Verdict::Pass, "{id}: {}\n{}", v[id].1, r.render());
    }
    assert_eq!(v["WHEP-05"].0, Verdict::Skip);
    assert_eq!(v["WHIP-11"].0, Verdict::Skip, "no token needed");
    assert!(failing(&r).is_empty(), "{}", r.render());
}

#[test]
fn missing_location_fails_whip_01_and_skips_the_session_rules() {
    let r = run(false, None, false, Faults { no_location: true, ..Faults::default() });
    let v = verdicts(&r);
    assert_eq!(failing(&r), vec!["WHIP-01"], "{}", r.render());
    assert!(v["WHIP-01"].1.contains("without a Location header"), "{}", v["WHIP-01"].1);
    assert_eq!(v["WHIP-04"].0, Verdict::Skip);
    assert_eq!(v["WHIP-07"].0, Verdict::Skip);
}

#[test]
fn status_200_instead_of_201_fails_whip_01() {
    let r = run(false, None, false, Faults { status_200: true, ..Faults::default() });
    assert_eq!(failing(&r), vec!["WHIP-01"], "{}", r.render());
    assert!(verdicts(&r)["WHIP-01"].1.contains("answered 200, not 201 Created"));
}

#[test]
fn no_etag_with_ice_restart_support_fails_whip_08() {
    let r = run(false, None, false, Faults { no_etag: true, ..Faults::default() });
    assert_eq!(failing(&r), vec!["WHIP-08"], "{}", r.render());
    assert!(verdicts(&r)["WHIP-08"].1.contains("201 carried no ETag"));
}

#[test]
fn ignored_patches_fail_whip_07_and_whip_08() {
    let r = run(false, None, false, Faults { patch_ignored: true, ..Faults::default() });
    assert_eq!(failing(&r), vec!["WHIP-07", "WHIP-08"], "{}", r.render());
    let v = verdicts(&r);
    assert!(v["WHIP-07"].1.contains("428 Precondition Required"), "{}", v["WHIP-07"].1);
    assert!(v["WHIP-08"].1.contains("new credentials ignored"), "{}", v["WHIP-08"].1);
}

#[test]
fn session_ended_by_a_trickled_candidate_fails_whip_07_once_and_the_rest_still_runs() {
    for whep in [false, true] {
        let r = run(whep, None, false, Faults { trickle_kills_session: true, ..Faults::default() });
        let expected = if whep { vec!["WHEP-04", "WHIP-07"] } else { vec!["WHIP-07"] };
        assert_eq!(failing(&r), expected, "{}", r.render());
        let v = verdicts(&r);
        assert!(
            v["WHIP-07"].1.contains("the session ended after a trickle PATCH"),
            "{}",
            v["WHIP-07"].1
        );
        assert!(!v["WHIP-07"].1.contains("(+"), "one problem only: {}", v["WHIP-07"].1);
        for id in ["WHIP-04", "WHIP-08"] {
            assert_eq!(v[id].0, Verdict::Pass, "{id}: {}\n{}", v[id].1, r.render());
        }
        assert!(r.metrics().iter().any(|(k, _)| k == "fresh session URL"));
    }
}

#[test]
fn delete_not_honoured_fails_whip_04() {
    let r = run(false, None, false, Faults { delete_not_honoured: true, ..Faults::default() });
    assert_eq!(failing(&r), vec!["WHIP-04"], "{}", r.render());
    assert!(verdicts(&r)["WHIP-04"].1.contains("still there"));
}

#[test]
fn handler_dying_on_bad_sdp_fails_whip_02() {
    let r = run(false, None, false, Faults { dies_on_bad_sdp: true, ..Faults::default() });
    assert_eq!(failing(&r), vec!["WHIP-02", "WHIP-05"], "{}", r.render());
    let problems: Vec<String> = r
        .results()
        .into_iter()
        .find(|x| x.id == "WHIP-02")
        .map(|x| x.problems.into_iter().map(|(_, m)| m).collect())
        .unwrap_or_default();
    assert!(problems.iter().any(|m| m.contains("dropped the connection")), "{problems:?}");
    assert!(problems.iter().any(|m| m.contains("after the malformed POSTs")), "{problems:?}");
}

#[test]
fn bearer_token_rules() {
    // The checker without the token: nothing to judge, said so.
    let r = run(false, Some("s3cret"), false, Faults::default());
    let v = verdicts(&r);
    assert_eq!(v["WHIP-01"].0, Verdict::Skip);
    assert!(v["WHIP-01"].1.contains("rerun with --token"), "{}", v["WHIP-01"].1);
    assert!(failing(&r).is_empty(), "{}", r.render());
    // A 401 without a challenge.
    let r =
        run(false, Some("s3cret"), true, Faults { no_www_authenticate: true, ..Faults::default() });
    assert_eq!(failing(&r), vec!["WHIP-11"], "{}", r.render());
    assert!(verdicts(&r)["WHIP-11"].1.contains("no WWW-Authenticate"));
}

#[test]
fn whep_not_live_is_409_with_retry_after() {
    let r = run(true, None, false, Faults { not_live: true, ..Faults::default() });
    let v = verdicts(&r);
    assert_eq!(v["WHEP-01"].0, Verdict::Pass, "{}", r.render());
    assert!(v["WHEP-01"].1.contains("Retry-After 2"));
    assert_eq!(v["WHEP-02"].0, Verdict::Skip);
    assert!(failing(&r).is_empty(), "{}", r.render());
}

#[test]
fn whep_counter_offer_is_answered_by_patch() {
    let r = run(true, None, false, Faults { counter_offer: true, ..Faults::default() });
    let v = verdicts(&r);
    assert_eq!(v["WHEP-01"].0, Verdict::Pass, "{}", r.render());
    assert_eq!(v["WHEP-02"].0, Verdict::Pass, "{}", r.render());
    assert_eq!(v["WHIP-08"].0, Verdict::Pass, "{}", r.render());
    assert!(failing(&r).is_empty(), "{}", r.render());
}
