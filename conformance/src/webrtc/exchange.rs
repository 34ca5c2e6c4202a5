//! One recorded request/response of a WHIP or WHEP run: what was sent (for messages) and what
//! came back, or how the request failed. The rules in `crate::rules::whip` judge these.

use crate::http::{HttpError, Response};

/// One request and its outcome.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// Short description of the request, e.g. `PATCH session (stale If-Match)`.
    pub what: String,
    /// Status code, when a response head arrived.
    pub status: Option<u16>,
    /// Response headers in arrival order.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
    /// Why no response was read (connect error, timeout, dropped connection, bad framing).
    pub error: Option<String>,
    /// True when the server closed or reset the connection instead of answering.
    pub dropped: bool,
}

impl Exchange {
    /// Records the result of `http::send`.
    pub fn record(what: impl Into<String>, result: Result<Response, HttpError>) -> Self {
        let what = what.into();
        match result {
            Ok(r) => Self {
                what,
                status: Some(r.status),
                headers: r.headers,
                body: r.body,
                error: None,
                dropped: false,
            },
            Err(e) => Self {
                what,
                dropped: e.is_dropped(),
                error: Some(e.to_string()),
                ..Self::default()
            },
        }
    }

    /// A response with this status, headers and body (for tests and synthetic cases).
    pub fn answered(what: &str, status: u16, headers: &[(&str, &str)], body: &[u8]) -> Self {
        Self {
            what: what.to_string(),
            status: Some(status),
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.to_vec(),
            error: None,
            dropped: false,
        }
    }

    /// First header value with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of this header, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type of `Content-Type` (lower case, parameters dropped).
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(media_type)
    }

    /// True when a response with `status` arrived.
    pub fn is(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    /// True for a 2xx response.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// `"<what> answered 415"` or `"<what> failed: <error>"`, for messages.
    pub fn describe(&self) -> String {
        match (self.status, &self.error) {
            (Some(s), _) => format!("{} answered {s}", self.what),
            (None, Some(e)) => format!("{} failed: {e}", self.what),
            (None, None) => format!("{} was not sent", self.what),
        }
    }

    /// The body as text (lossy), cut to `max` characters, for messages.
    pub fn body_excerpt(&self, max: usize) -> String {
        let t = String::from_utf8_lossy(&self.body);
        let t = t.trim();
        if t.chars().count() > max {
            format!("{}…", t.chars().take(max).collect::<String>())
        } else {
            t.to_string()
        }
    }
}

/// `type/subtype` of a Content-Type value, lower case, without parameters.
pub fn media_type(v: &str) -> String {
    v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_drops_parameters_and_case() {
        assert_eq!(media_type("Application/SDP; charset=utf-8"), "application/sdp");
        let e = Exchange::answered("POST", 201, &[("Content-Type", "application/sdp")], b"v=0");
        assert_eq!(e.media_type().as_deref(), Some("application/sdp"));
        assert!(e.success() && e.is(201));
        assert_eq!(e.describe(), "POST answered 201");
    }

    #[test]
    fn dropped_connection_is_recorded_as_such() {
        let e = Exchange::record("POST garbage", Err(HttpError::Closed));
        assert!(e.dropped);
        assert_eq!(e.status, None);
        assert!(e.describe().contains("connection closed without a response"));
    }
}
