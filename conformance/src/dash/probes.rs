//! Timed requests against the live edge: LLDASH-AV-01 (availability window), LLDASH-CTE-01
//! (the in-progress segment streamed chunk by chunk) and LLDASH-HTTP-01 (MPD caching and
//! conditional GET). Times are on the server clock (local + UTCTiming offset).

use std::thread;
use std::time::Duration;

use super::addressing::Seg;
use super::clock::local_now;
use crate::http::{self, Request, Response};
use crate::rules::Outcome;
use crate::url::Url;

/// Where one Representation's segments live in time.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Label for messages (`video`, `audio`).
    pub name: String,
    /// Server − local clock (s).
    pub offset: f64,
    /// Wall-clock (Unix s) of MPD time 0: AST.
    pub ast: f64,
    /// availabilityTimeOffset (s).
    pub ato: f64,
}

impl Edge {
    /// Server wall clock now.
    pub fn now(&self) -> f64 {
        local_now() + self.offset
    }

    /// Wall-clock availability start of a segment (its end − ATO).
    pub fn available_at(&self, s: &Seg) -> f64 {
        self.ast + s.end - self.ato
    }

    /// Sleeps until server wall time `t`.
    pub fn sleep_until(&self, t: f64) {
        let wait = t - self.now();
        if wait > 0.0 {
            thread::sleep(Duration::from_secs_f64(wait.min(30.0)));
        }
    }
}

/// LLDASH-AV-01, the newest segment whose availability has started: `200` and a complete body.
pub fn av_01_newest(
    e: &Edge,
    seg: &Seg,
    url: &Url,
    complete: impl Fn(&[u8]) -> Result<(), String>,
) -> Outcome {
    let mut o = Outcome::new();
    let d = seg.end - seg.start;
    let since = (e.now() - e.available_at(seg)) * 1000.0;
    match http::get(url, Duration::from_secs_f64(d + e.ato + 3.0)) {
        Ok(r) if r.status == 200 => match complete(&r.body) {
            Ok(()) => o.evidence(format!(
                "{} #{}: newest in window (asked {since:.0} ms after its availability start) 200, {} B complete",
                e.name,
                seg.number,
                r.body.len()
            )),
            Err(why) => o.must(format!("{} #{} (newest in window): 200 but {why}", e.name, seg.number)),
        },
        Ok(r) => o.must(format!(
            "{} #{} (newest in window, asked {since:.0} ms after its availability start): status {}",
            e.name, seg.number, r.status
        )),
        Err(err) => o.must(format!("{} #{} (newest in window): {err}", e.name, seg.number)),
    }
    o
}

/// LLDASH-AV-01, a segment after the window: not `200`. A server that holds the request and
/// answers `200` only once the segment's availability has started sends no early or old
/// bytes; that is reported as a warning (RULES.md expects 404/425), an earlier `200` or a body
/// from another slot fails.
pub fn av_01_after(
    e: &Edge,
    seg: &Seg,
    url: &Url,
    slot_ok: impl Fn(&[u8]) -> Result<(), String>,
) -> Outcome {
    let mut o = Outcome::new();
    let asked = e.now();
    let avail = e.available_at(seg);
    let d = seg.end - seg.start;
    match http::get(url, Duration::from_secs_f64(d + e.ato + 3.0)) {
        Ok(r) if r.status == 200 => {
            let headers_at = asked + r.timings.headers.as_secs_f64();
            if headers_at < avail - 0.02 {
                o.must(format!(
                    "{} #{}: 200 {:.0} ms before its availability start (asked {:.0} ms before)",
                    e.name,
                    seg.number,
                    (avail - headers_at) * 1000.0,
                    (avail - asked) * 1000.0
                ));
            } else if let Err(why) = slot_ok(&r.body) {
                o.must(format!(
                    "{} #{} after the window: 200 with a wrong body: {why}",
                    e.name, seg.number
                ));
            } else {
                o.should(format!(
                    "{} #{} asked {:.0} ms before its availability start: held and answered 200 {:+.0} ms after it (expected 404/425)",
                    e.name,
                    seg.number,
                    (avail - asked) * 1000.0,
                    (headers_at - avail) * 1000.0
                ));
            }
        }
        Ok(r) => o.evidence(format!(
            "{} #{} asked {:.0} ms before its availability start: {}",
            e.name,
            seg.number,
            (avail - asked) * 1000.0,
            r.status
        )),
        Err(err) if err.is_timeout() => {
            o.must(format!("{} #{} after the window: {err}", e.name, seg.number))
        }
        Err(err) => o.evidence(format!("{} #{} after the window: {err}", e.name, seg.number)),
    }
    o
}

/// What the CTE-01 probe saw.
#[derive(Debug)]
pub struct Streamed {
    /// Seconds after the availability start at which the request was sent.
    pub asked_after: f64,
    /// The in-progress request.
    pub live: Result<Response, String>,
    /// The same segment fetched after it completed.
    pub later: Result<Response, String>,
}

/// Requests `seg` just after its availability start, then again once it is complete.
pub fn stream_segment(e: &Edge, seg: &Seg, url: &Url) -> Streamed {
    let avail = e.available_at(seg);
    e.sleep_until(avail + 0.02);
    let asked_after = e.now() - avail;
    let d = seg.end - seg.start;
    let live = http::send(&Request::get(url.clone(), Duration::from_secs_f64(d + e.ato + 3.0)))
        .map_err(|err| err.to_string());
    e.sleep_until(e.ast + seg.end + 0.3);
    let later = http::get(url, Duration::from_secs(5)).map_err(|err| err.to_string());
    Streamed { asked_after, live, later }
}

/// LLDASH-CTE-01: `200` at once, streamed (chunked or close-delimited), first byte within a
/// chunk duration, bytes spread over the segment's remaining time, identical to the later fetch.
pub fn cte_01(name: &str, seg: &Seg, chunk: f64, s: &Streamed) -> Outcome {
    let mut o = Outcome::new();
    let n = seg.number;
    let r = match &s.live {
        Ok(r) => r,
        Err(err) => {
            o.must(format!(
                "{name} #{n} asked {:.0} ms into its ATO window: {err}",
                s.asked_after * 1000.0
            ));
            return o;
        }
    };
    if r.status != 200 {
        o.must(format!(
            "{name} #{n} asked {:.0} ms into its ATO window: status {} (must be 200, streamed)",
            s.asked_after * 1000.0,
            r.status
        ));
        return o;
    }
    let first = r.timings.first_body_byte.unwrap_or(r.timings.last_byte).as_secs_f64();
    if first >= chunk {
        o.must(format!(
            "{name} #{n}: first body byte after {:.0} ms >= one chunk ({:.0} ms)",
            first * 1000.0,
            chunk * 1000.0
        ));
    }
    let streamed = r.chunked || r.header("content-length").is_none();
    if !streamed {
        o.must(format!("{name} #{n}: in-progress segment sent with Content-Length (not streamed)"));
    }
    let spread = match (r.progress.first(), r.progress.last()) {
        (Some(a), Some(b)) => (b.0 - a.0).as_secs_f64(),
        _ => 0.0,
    };
    let remaining = (seg.end - seg.start) - chunk - s.asked_after;
    if remaining > chunk && spread < 0.5 * remaining {
        o.must(format!(
            "{name} #{n}: body arrived within {:.0} ms, not as chunks over the {:.0} ms left",
            spread * 1000.0,
            remaining * 1000.0
        ));
    }
    match &s.later {
        Ok(l) if l.status == 200 && l.body == r.body => {}
        Ok(l) if l.status == 200 => o.must(format!(
            "{name} #{n}: streamed {} B differ from the completed segment's {} B",
            r.body.len(),
            l.body.len()
        )),
        Ok(l) => o.must(format!("{name} #{n}: completed segment fetch status {}", l.status)),
        Err(err) => o.must(format!("{name} #{n}: completed segment fetch: {err}")),
    }
    o.evidence(format!(
        "{name} #{n}: 200 {} asked +{:.0} ms, first byte {:.0} ms, {} reads over {:.0} ms, {} B identical",
        if r.chunked { "chunked" } else { "close-delimited" },
        s.asked_after * 1000.0,
        first * 1000.0,
        r.progress.len(),
        spread * 1000.0,
        r.body.len()
    ));
    o
}

/// LLDASH-HTTP-01 (SHOULD): one MPD response's Content-Type and caching.
pub fn http_01_response(r: &Response, mup: Option<f64>) -> Outcome {
    let mut o = Outcome::new();
    let ct = r.header("content-type").unwrap_or("");
    if !ct.trim().to_ascii_lowercase().starts_with("application/dash+xml") {
        o.should(format!("MPD Content-Type {ct:?}, want application/dash+xml"));
    }
    // `no-cache` (RFC 9111 §5.2.2.4): stored but revalidated before every use, i.e. never
    // served stale, the shortest caching there is.
    let no_cache = r
        .header("cache-control")
        .is_some_and(|v| v.split(',').any(|d| d.trim().eq_ignore_ascii_case("no-cache")));
    match (r.cache_max_age(), mup) {
        (None, _) if no_cache => {
            o.evidence("application/dash+xml, no-cache (revalidated on every poll)".to_owned())
        }
        (None, _) => {
            o.should(format!("no Cache-Control max-age ({:?})", r.header("cache-control")))
        }
        (Some(a), Some(m)) if a > m + 1e-9 => {
            o.should(format!("Cache-Control max-age {a} > minimumUpdatePeriod {m}"))
        }
        (Some(a), _) => o.evidence(format!("application/dash+xml, max-age {a}")),
    }
    o
}

/// LLDASH-HTTP-01 (SHOULD): ETag and If-None-Match → 304. Tries a few times, as the MPD may
/// change between the two requests.
pub fn http_01_conditional(url: &Url) -> Outcome {
    let mut o = Outcome::new();
    for _ in 0..4 {
        let Ok(r) = http::get(url, Duration::from_secs(5)) else { continue };
        let Some(etag) = r.header("etag").map(str::to_string) else {
            o.should("MPD has no ETag (conditional GET unsupported)");
            return o;
        };
        let req = Request::get(url.clone(), Duration::from_secs(5)).header("If-None-Match", &etag);
        match http::send(&req) {
            Ok(c) if c.status == 304 => {
                o.evidence(format!("ETag {etag}, If-None-Match -> 304"));
                return o;
            }
            Ok(c) if c.status == 200 && c.header("etag") != Some(etag.as_str()) => continue,
            Ok(c) => {
                o.should(format!("If-None-Match {etag} answered {} with the same ETag", c.status));
                return o;
            }
            Err(_) => continue,
        }
    }
    o.should("If-None-Match never answered 304 (the MPD changed between every pair of requests)");
    o
}
