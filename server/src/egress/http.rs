//! The one HTTP router every transport (HTTP/1.1, h2c, TLS h1/h2) feeds.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};

use crate::egress::body::Chunks;
use crate::egress::hls::{self, RequestInfo};
use crate::egress::response::{Resp, cache, cors, error, with_body};
use crate::server::{AppState, ConnInfo};
use crate::webrtc::Kind;

/// Longest request target we look at; anything longer is refused (bounded work per request).
const MAX_URI: usize = 2048;

pub async fn route<B>(state: Arc<AppState>, conn: ConnInfo, req: Request<B>) -> Resp
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let hub = &state.hub;
    hub.counters.http_requests.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_owned();
    if let Some(target) = webrtc_target(&path) {
        return webrtc(&state, conn, target, req).await;
    }
    let head = req.method() == Method::HEAD;
    let mut resp = match *req.method() {
        Method::GET | Method::HEAD => get(&state, conn, &req).await,
        Method::OPTIONS => preflight(),
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "only GET, HEAD and OPTIONS are served here"),
    };
    if head {
        // Same headers, no body: keep Content-Length as the GET would send it.
        let len = http_body::Body::size_hint(resp.body()).exact();
        *resp.body_mut() = Chunks::empty();
        if let Some(len) = len
            && let Ok(v) = HeaderValue::from_str(&len.to_string())
        {
            resp.headers_mut().insert(header::CONTENT_LENGTH, v);
        }
    }
    resp
}

/// `/{group}/{channel}/{whip|whep}[/{session}]`.
#[derive(Debug, Clone, Copy)]
struct WebRtcTarget<'a> {
    group: &'a str,
    channel: &'a str,
    kind: Kind,
    session: Option<&'a str>,
}

fn webrtc_target(path: &str) -> Option<WebRtcTarget<'_>> {
    let mut segs = path.trim_start_matches('/').split('/');
    let (group, channel, endpoint) = (segs.next()?, segs.next()?, segs.next()?);
    let kind = match endpoint {
        "whip" => Kind::Whip,
        "whep" => Kind::Whep,
        _ => return None,
    };
    let session = segs.next().filter(|s| !s.is_empty());
    if segs.next().is_some() {
        return None;
    }
    Some(WebRtcTarget { group, channel, kind, session })
}

async fn webrtc<B>(
    state: &Arc<AppState>,
    conn: ConnInfo,
    t: WebRtcTarget<'_>,
    req: Request<B>,
) -> Resp
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use crate::webrtc::http as wh;
    let method = req.method().clone();
    if method == Method::OPTIONS {
        return wh::options(t.session.is_some());
    }
    if t.session.is_none() && matches!(method, Method::GET | Method::HEAD) {
        // A browser (Accept: text/html) gets the WHEP player; WHIP/WHEP clients get the
        // draft's "2xx without content".
        let wants_html = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if t.kind == Kind::Whep && wants_html {
            return crate::dashboard::whep_player();
        }
        return with_body(StatusCode::NO_CONTENT, "text/plain", Chunks::empty());
    }
    let (parts, body) = req.into_parts();
    let body =
        match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, wh::MAX_SDP))
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("bodies here are at most {} bytes", wh::MAX_SDP),
                );
            }
        };
    let request = wh::Request {
        method: &method,
        headers: &parts.headers,
        body,
        local: conn.local,
        peer: conn.peer,
    };
    match t.session {
        Some(id) => {
            wh::session(state, t.kind, &format!("{}/{}", t.group, t.channel), id, request).await
        }
        None if method == Method::POST => {
            wh::post(state, t.kind, t.group, t.channel, request).await
        }
        None => {
            let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "POST an SDP offer here");
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
            r
        }
    }
}

fn preflight() -> Resp {
    let mut r = with_body(StatusCode::NO_CONTENT, "text/plain", Chunks::empty());
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    cors(&mut r);
    r
}

fn accepts_gzip<B>(req: &Request<B>) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let mut it = t.trim().split(';');
            let name = it.next().unwrap_or("").trim();
            let q0 = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !q0
        })
}

async fn get<B>(state: &Arc<AppState>, conn: ConnInfo, req: &Request<B>) -> Resp {
    let hub = &state.hub;
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    if path.len() + query.len() > MAX_URI {
        hub.counters.http_bad_requests.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::URI_TOO_LONG, "request target too long");
    }
    match path {
        "/" | "/index.html" => return crate::dashboard::page(),
        "/assets/hls.min.js" => return crate::dashboard::hls_js(state),
        "/api/v1/channels" => return crate::api::channels(hub),
        "/metrics" => return crate::metrics::render(hub, Some(&state.webrtc)),
        "/time" => {
            let mut r = with_body(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                Bytes::from(sluice_hls::format_program_date_time(crate::now_unix_ms())),
            );
            cache(&mut r, "no-store");
            return r;
        }
        "/favicon.ico" => return error(StatusCode::NOT_FOUND, "no favicon"),
        _ => {}
    }
    // /{group}/{channel}/{endpoint}/{rest}
    let mut segs = path.trim_start_matches('/').splitn(4, '/');
    let (Some(group), Some(name), Some(endpoint), Some(rest)) =
        (segs.next(), segs.next(), segs.next(), segs.next())
    else {
        return error(
            StatusCode::NOT_FOUND,
            "no such page; playback URLs look like /live/cam1/hls/index.m3u8",
        );
    };
    let Some(channel) = hub.channel(group, name) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no channel {group}/{name} (nothing has published to it)"),
        );
    };
    match endpoint {
        "hls" => {
            let info = RequestInfo { tail: rest, query, accepts_gzip: accepts_gzip(req) };
            hls::handle(hub, channel, info).await
        }
        "ts" => {
            let info = RequestInfo { tail: rest, query, accepts_gzip: accepts_gzip(req) };
            crate::egress::ts::handle(hub, channel, info).await
        }
        "dash" => {
            let host = req
                .uri()
                .authority()
                .map(|a| a.as_str().to_owned())
                .or_else(|| req.headers().get(header::HOST)?.to_str().ok().map(str::to_owned))
                .unwrap_or_else(|| conn.local.to_string());
            let origin = format!("{}://{host}", if conn.tls { "https" } else { "http" });
            let if_none_match =
                req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
            let dash_req =
                crate::egress::dash::DashRequest { tail: rest, origin: &origin, if_none_match };
            crate::egress::dash::handle(hub, channel, dash_req).await
        }
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no endpoint {endpoint:?} on {group}/{name} (try hls, ts or dash)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ae: &str) -> Request<()> {
        Request::builder().header(header::ACCEPT_ENCODING, ae).body(()).expect("valid request")
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&req("gzip, deflate, br")));
        assert!(accepts_gzip(&req("br;q=1.0, gzip;q=0.8")));
        assert!(!accepts_gzip(&req("gzip;q=0")));
        assert!(!accepts_gzip(&req("identity")));
        assert!(accepts_gzip(&req("*")));
    }
}
