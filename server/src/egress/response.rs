//! Small response builders shared by every handler (CORS and content types in one place).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};

use crate::egress::body::Chunks;

pub type Resp = Response<Chunks>;

/// Browser players fetch from other origins (the dashboard of another host, a CDN test page).
pub fn cors(resp: &mut Resp) {
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Age, Date, Content-Length, Content-Range"),
    );
}

pub fn with_body(status: StatusCode, content_type: &'static str, body: impl Into<Chunks>) -> Resp {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    cors(&mut r);
    r
}

/// A plain-text error whose body says what went wrong, cached briefly at most.
pub fn error(status: StatusCode, message: impl Into<String>) -> Resp {
    let mut text: String = message.into();
    text.push('\n');
    let mut r = with_body(status, "text/plain; charset=utf-8", Bytes::from(text));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub fn cache(resp: &mut Resp, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(header::CACHE_CONTROL, v);
    }
}
