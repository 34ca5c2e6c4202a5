//! WHIP/WHEP over HTTP (RFC 9725 §4; the WHEP draft mirrors it):
//! `POST /{g}/{c}/whip|whep` with an SDP offer → `201 Created`, the answer, `Location` and
//! `ETag`; `PATCH` the session with `application/trickle-ice-sdpfrag` (trickle only: an ICE
//! restart gets 422); `DELETE` ends it; `OPTIONS` answers CORS preflights.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::rtc::Driver;
use super::{Command, Kind, SessionHandle};
use crate::egress::body::Chunks;
use crate::egress::response::{Resp, error, with_body};
use crate::hub::PublishError;
use crate::server::AppState;

/// Largest SDP offer or sdpfrag accepted (browsers send 3–8 KB).
pub const MAX_SDP: usize = 64 * 1024;
const SDP: &str = "application/sdp";
const SDPFRAG: &str = "application/trickle-ice-sdpfrag";

/// The request as the WHIP/WHEP handlers need it.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    /// Our address on the connection the request came in on: the candidate we advertise.
    pub local: SocketAddr,
    pub peer: SocketAddr,
}

fn content_type_is(headers: &HeaderMap, want: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
}

fn with_webrtc_cors(mut r: Resp, methods: &'static str) -> Resp {
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, If-Match"),
    );
    // Without these a browser's script cannot read where the session lives.
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location, ETag, Link, Accept-Post, Accept-Patch"),
    );
    r
}

/// `OPTIONS` on an endpoint or a session.
pub fn options(session: bool) -> Resp {
    let mut r = with_body(StatusCode::NO_CONTENT, "text/plain", Chunks::empty());
    let h = r.headers_mut();
    if session {
        h.insert("Accept-Patch", HeaderValue::from_static(SDPFRAG));
    } else {
        // RFC 9725 §4.2: "the WHIP endpoint SHOULD return an Accept-Post header".
        h.insert("Accept-Post", HeaderValue::from_static(SDP));
    }
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    with_webrtc_cors(r, if session { "PATCH, DELETE, OPTIONS" } else { "POST, OPTIONS" })
}

fn bearer_ok(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized() -> Resp {
    let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong Authorization: Bearer token");
    r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// `POST /{group}/{channel}/{whip|whep}`.
pub async fn post(
    state: &Arc<AppState>,
    kind: Kind,
    group: &str,
    name: &str,
    req: Request<'_>,
) -> Resp {
    let r = post_inner(state, kind, group, name, req).await;
    with_webrtc_cors(r, "POST, OPTIONS")
}

async fn post_inner(
    state: &Arc<AppState>,
    kind: Kind,
    group: &str,
    name: &str,
    req: Request<'_>,
) -> Resp {
    let hub = &state.hub;
    let channel_id = format!("{group}/{name}");
    if !content_type_is(req.headers, SDP) {
        // RFC 9725 §4.2: the offer "MUST be an SDP document with content type application/sdp".
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the SDP offer as application/sdp");
    }
    if let Some(token) = state.channel_tokens.get(&channel_id)
        && kind == Kind::Whip
        && !bearer_ok(req.headers, token)
    {
        return unauthorized();
    }
    let Ok(offer) = std::str::from_utf8(&req.body) else {
        return error(StatusCode::BAD_REQUEST, "the SDP offer is not UTF-8 text");
    };
    // Check the offer before claiming anything: a refused POST leaves no channel behind.
    if let Err(e) = super::rtc::parse_offer(offer) {
        hub.counters.http_bad_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return error(StatusCode::BAD_REQUEST, e.to_string());
    }
    if !super::rtc::offer_direction_fits(offer, kind == Kind::Whip) {
        let why = match kind {
            Kind::Whip => "a WHIP offer must send media (sendonly or sendrecv m-lines)",
            Kind::Whep => "a WHEP offer must receive media (recvonly or sendrecv m-lines)",
        };
        return error(StatusCode::BAD_REQUEST, why);
    }
    if state.webrtc.len() >= state.webrtc.max {
        let mut r =
            error(StatusCode::SERVICE_UNAVAILABLE, "too many WebRTC sessions; retry shortly");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    }
    // Claim the channel before answering, so a busy channel is refused, not half-connected.
    let (guard, channel) = match kind {
        Kind::Whip => match hub.begin_publish(group, name) {
            Ok(g) => {
                let c = g.channel.clone();
                (Some(g), c)
            }
            Err(e) => {
                let status = match e {
                    PublishError::AlreadyPublishing(_) => StatusCode::CONFLICT,
                    PublishError::UnknownGroup(_) => StatusCode::NOT_FOUND,
                    PublishError::BadName(_) => StatusCode::BAD_REQUEST,
                    PublishError::TooManyChannels(_) => StatusCode::SERVICE_UNAVAILABLE,
                };
                return error(status, e.to_string());
            }
        },
        Kind::Whep => match hub.channel(group, name) {
            Some(c) if c.is_publishing() => (None, c),
            Some(_) => {
                // WHEP draft: "409 Conflict" with Retry-After when the stream is not live.
                let mut r =
                    error(StatusCode::CONFLICT, format!("{channel_id} is not live right now"));
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return r;
            }
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("no channel {channel_id} (nothing has published to it)"),
                );
            }
        },
    };
    let socket = match tokio::net::UdpSocket::bind(SocketAddr::new(req.local.ip(), 0)).await {
        Ok(s) => s,
        Err(e) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, format!("no UDP port for media: {e}"));
        }
    };
    let Ok(media_addr) = socket.local_addr() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "no UDP port for media");
    };
    let (rtc, answer) =
        match state.webrtc.config.accept(offer, media_addr, std::time::Instant::now()) {
            Ok(x) => x,
            Err(e @ super::rtc::AcceptError::BadSdp(_)) => {
                hub.counters.http_bad_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return error(StatusCode::BAD_REQUEST, e.to_string());
            }
            // 406 would promise a counter-offer (WHEP): an offer we cannot use is a bad request.
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        };
    let Ok(driver) = Driver::new(rtc, socket) else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "no UDP port for media");
    };
    let id = state.webrtc.new_id();
    let etag = format!("\"{id}-1\"");
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let handle =
        SessionHandle { channel: channel_id.clone(), kind, etag: etag.clone(), commands: tx };
    if !state.webrtc.insert(id.clone(), handle) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "too many WebRTC sessions; retry shortly");
    }
    let peer = req.peer.to_string();
    let task_state = state.clone();
    let task_id = id.clone();
    match (kind, guard) {
        (Kind::Whip, Some(guard)) => {
            tracing::info!(peer, "WHIP publisher connecting to {channel_id}");
            tokio::spawn(async move {
                super::whip::run(driver, guard, rx, peer).await;
                task_state.webrtc.remove(&task_id);
            });
        }
        _ => {
            tracing::info!(peer, "WHEP viewer connecting to {channel_id}");
            tokio::spawn(async move {
                let playout_delay_ms = task_state.webrtc.playout_delay_ms;
                super::whep::run(driver, channel, rx, peer, playout_delay_ms).await;
                task_state.webrtc.remove(&task_id);
            });
        }
    }
    let mut r = with_body(StatusCode::CREATED, SDP, Bytes::from(answer));
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/{channel_id}/{}/{id}", kind.path())) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `PATCH`/`DELETE` (and anything else) on `/{group}/{channel}/{whip|whep}/{id}`.
pub async fn session(
    state: &Arc<AppState>,
    kind: Kind,
    channel_id: &str,
    id: &str,
    req: Request<'_>,
) -> Resp {
    let r = session_inner(state, kind, channel_id, id, req).await;
    with_webrtc_cors(r, "PATCH, DELETE, OPTIONS")
}

async fn session_inner(
    state: &Arc<AppState>,
    kind: Kind,
    channel_id: &str,
    id: &str,
    req: Request<'_>,
) -> Resp {
    let found = state
        .webrtc
        .with(id, |s| {
            (s.kind == kind && s.channel == channel_id)
                .then(|| (s.etag.clone(), s.commands.clone()))
        })
        .flatten();
    let Some((etag, commands)) = found else {
        return error(StatusCode::NOT_FOUND, "no such session (ended or never existed)");
    };
    if kind == Kind::Whip
        && let Some(token) = state.channel_tokens.get(channel_id)
        && !bearer_ok(req.headers, token)
    {
        return unauthorized();
    }
    match *req.method {
        Method::DELETE => {
            let _ = commands.send(Command::Close).await;
            state.webrtc.remove(id);
            with_body(StatusCode::OK, "text/plain", Chunks::empty())
        }
        Method::PATCH => {
            if !content_type_is(req.headers, SDPFRAG) {
                return error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "PATCH takes application/trickle-ice-sdpfrag",
                );
            }
            let Some(if_match) = req.headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
            else {
                // RFC 9725 §4.3.2: trickle requests carry If-Match; without it, 428.
                return error(
                    StatusCode::PRECONDITION_REQUIRED,
                    "PATCH needs If-Match with the session's ETag",
                );
            };
            if if_match.trim() == "*" {
                // §4.3.3: a server that supports trickle but not ICE restart answers 422.
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "ICE restart is not supported; start a new session",
                );
            }
            if if_match.trim() != etag {
                return error(
                    StatusCode::PRECONDITION_FAILED,
                    "If-Match does not match the session's ETag",
                );
            }
            let Ok(frag) = std::str::from_utf8(&req.body) else {
                return error(StatusCode::BAD_REQUEST, "the sdpfrag is not UTF-8 text");
            };
            // RFC 8840: a fragment is SDP lines; anything else is malformed (400).
            if let Some(bad) = frag.lines().map(str::trim_end).find(|l| {
                !(l.is_empty() || l.starts_with("a=") || l.starts_with("m=") || l.starts_with("c="))
            }) {
                return error(StatusCode::BAD_REQUEST, format!("not an sdpfrag line: {bad:.60}"));
            }
            let candidates: Vec<String> = frag
                .lines()
                .filter_map(|l| l.trim_end().strip_prefix("a="))
                .filter(|l| l.starts_with("candidate:"))
                .map(str::to_owned)
                .collect();
            if !candidates.is_empty() {
                let _ = commands.send(Command::Trickle(candidates)).await;
            }
            with_body(StatusCode::NO_CONTENT, "text/plain", Chunks::empty())
        }
        // WHEP draft: GET on the session "returns 2xx without content".
        Method::GET | Method::HEAD => {
            with_body(StatusCode::NO_CONTENT, "text/plain", Chunks::empty())
        }
        _ => {
            let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "sessions take PATCH and DELETE");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("PATCH, DELETE, OPTIONS"));
            r
        }
    }
}
