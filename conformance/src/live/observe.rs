//! Turning HTTP exchanges into the [`Observed`] records the rules judge.

use std::time::{Duration, Instant};

use crate::http::{self, HttpError, Request, Response};
use crate::playlist::MediaPlaylist;
use crate::rules::delivery::Observed;
use crate::url::Url;

/// Sends `req`; returns the observation and, on success, the raw response.
pub fn exchange(req: &Request, parse_playlist: bool) -> (Observed, Option<Response>) {
    let started = Instant::now();
    match http::send(req) {
        Ok(resp) => (observed(&resp, parse_playlist), Some(resp)),
        Err(e) => (failed(&e, started.elapsed()), None),
    }
}

/// `GET url` with optional extra headers.
pub fn get(
    url: &Url,
    timeout: Duration,
    headers: &[(&str, &str)],
    parse_playlist: bool,
) -> (Observed, Option<Response>) {
    let mut req = Request::get(url.clone(), timeout);
    for (n, v) in headers {
        req = req.header(n, v);
    }
    exchange(&req, parse_playlist)
}

/// An observation of a complete response.
pub fn observed(resp: &Response, parse_playlist: bool) -> Observed {
    let playlist = (parse_playlist && resp.status == 200 && !resp.body.is_empty())
        .then(|| MediaPlaylist::parse(&resp.text()));
    Observed {
        status: Some(resp.status),
        error: None,
        secs: resp.timings.last_byte.as_secs_f64(),
        playlist,
        content_type: resp.header("content-type").map(str::to_string),
        content_encoding: resp.header("content-encoding").map(str::to_string),
        max_age: resp.cache_max_age(),
        expires: resp.header("expires").map(str::to_string),
        body_len: resp.body.len(),
    }
}

/// An observation of a failed exchange.
pub fn failed(e: &HttpError, elapsed: Duration) -> Observed {
    Observed {
        status: None,
        error: Some(e.to_string()),
        secs: elapsed.as_secs_f64(),
        ..Observed::default()
    }
}

/// Blocking-request deadline for a playlist with target duration `td`: long enough to see a
/// server's 503 at 3 x TD.
pub fn blocking_timeout(td: u64) -> Duration {
    Duration::from_secs_f64(3.0 * td.max(1) as f64 + 3.0)
}
