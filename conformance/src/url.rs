//! Minimal `http://` URLs: parsing, relative resolution (RFC 3986 §5.2) and query editing.
//!
//! The checker only talks plain HTTP/1.1 to a server on loopback, so this is deliberately small:
//! scheme `http`, host, optional port, path and query. Fragments are dropped.

use std::fmt;

/// Why a URL could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// Only `http://` is supported by this client.
    UnsupportedScheme(String),
    /// No host between `//` and the path.
    MissingHost,
    /// The port is not a number in 1..=65535.
    BadPort(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedScheme(s) => {
                write!(f, "unsupported url scheme in {s:?} (only http://)")
            }
            Self::MissingHost => write!(f, "url has no host"),
            Self::BadPort(p) => write!(f, "bad port {p:?}"),
        }
    }
}

impl std::error::Error for UrlError {}

/// An absolute `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host name or address, without brackets for IPv6.
    pub host: String,
    /// TCP port (80 when absent).
    pub port: u16,
    /// Absolute path, always starting with `/`.
    pub path: String,
    /// Query without the leading `?`, if any.
    pub query: Option<String>,
}

impl Url {
    /// Parses an absolute `http://host[:port]/path[?query]` URL.
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        let rest =
            s.strip_prefix("http://").ok_or_else(|| UrlError::UnsupportedScheme(s.to_string()))?;
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path_query) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(UrlError::MissingHost);
        }
        let (host, port) = split_host_port(authority)?;
        let (path, query) = split_query(path_query);
        let path = if path.is_empty() { "/".to_string() } else { path.to_string() };
        Ok(Self { host, port, path, query })
    }

    /// Resolves `reference` (absolute or relative) against this URL, per RFC 3986 §5.2.
    pub fn join(&self, reference: &str) -> Result<Self, UrlError> {
        let reference = reference.split('#').next().unwrap_or_default();
        if reference.contains("://") {
            return Self::parse(reference);
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Self::parse(&format!("http://{rest}"));
        }
        let (rpath, rquery) = split_query(reference);
        let mut out = self.clone();
        if rpath.is_empty() {
            if rquery.is_some() {
                out.query = rquery;
            }
            return Ok(out);
        }
        let merged = if rpath.starts_with('/') {
            rpath.to_string()
        } else {
            let dir = match self.path.rfind('/') {
                Some(i) => &self.path[..=i],
                None => "/",
            };
            format!("{dir}{rpath}")
        };
        out.path = remove_dot_segments(&merged);
        out.query = rquery;
        Ok(out)
    }

    /// `path?query` as sent on the request line.
    pub fn request_target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// `host:port` for the `Host` header and for connecting.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// A copy with `name=value` query parameters appended in the given order.
    ///
    /// Delivery directives must be sent in UTF-8 order (`_HLS_msn`, `_HLS_part`, `_HLS_skip`,
    /// HLS §6.3.2); callers pass them in that order.
    pub fn with_params(&self, params: &[(&str, String)]) -> Self {
        let mut out = self.clone();
        let mut q = self.query.clone().unwrap_or_default();
        for (name, value) in params {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(name);
            q.push('=');
            q.push_str(value);
        }
        out.query = if q.is_empty() { None } else { Some(q) };
        out
    }

    /// The last path segment (file name), e.g. `video.m3u8`.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.request_target())
    }
}

fn split_host_port(authority: &str) -> Result<(String, u16), UrlError> {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(UrlError::MissingHost)?;
        let port = match after.strip_prefix(':') {
            Some(p) => parse_port(p)?,
            None => 80,
        };
        return Ok((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, p)) => Ok((host.to_string(), parse_port(p)?)),
        None => Ok((authority.to_string(), 80)),
    }
}

fn parse_port(p: &str) -> Result<u16, UrlError> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(UrlError::BadPort(p.to_string())),
    }
}

fn split_query(s: &str) -> (&str, Option<String>) {
    match s.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (s, None),
    }
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') { joined } else { format!("/{joined}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_path_and_query() {
        let u = Url::parse("http://127.0.0.1:8080/live/cam1/hls/index.m3u8?a=1").unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 8080);
        assert_eq!(u.path, "/live/cam1/hls/index.m3u8");
        assert_eq!(u.query.as_deref(), Some("a=1"));
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/live/cam1/hls/index.m3u8?a=1");
    }

    #[test]
    fn rejects_https_and_bad_ports() {
        assert!(matches!(Url::parse("https://x/"), Err(UrlError::UnsupportedScheme(_))));
        assert!(matches!(Url::parse("http://x:0/"), Err(UrlError::BadPort(_))));
        assert!(matches!(Url::parse("http:///a"), Err(UrlError::MissingHost)));
    }

    #[test]
    fn resolves_relative_references() {
        let base = Url::parse("http://h:1/live/cam1/hls/index.m3u8?x=y").unwrap();
        assert_eq!(
            base.join("video.m3u8").unwrap().to_string(),
            "http://h:1/live/cam1/hls/video.m3u8"
        );
        assert_eq!(
            base.join("video/12.3.m4s").unwrap().to_string(),
            "http://h:1/live/cam1/hls/video/12.3.m4s"
        );
        assert_eq!(base.join("../other/a.m3u8").unwrap().path, "/live/cam1/other/a.m3u8");
        assert_eq!(base.join("/abs").unwrap().path, "/abs");
        assert_eq!(base.join("http://o:2/z").unwrap().to_string(), "http://o:2/z");
        assert_eq!(base.join("a.m4s?q=1").unwrap().request_target(), "/live/cam1/hls/a.m4s?q=1");
    }

    #[test]
    fn appends_directives_in_order() {
        let u = Url::parse("http://h:1/v.m3u8").unwrap();
        let b = u.with_params(&[("_HLS_msn", "5".into()), ("_HLS_part", "2".into())]);
        assert_eq!(b.request_target(), "/v.m3u8?_HLS_msn=5&_HLS_part=2");
    }
}
