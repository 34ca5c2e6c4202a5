//! A small blocking HTTP/1.1 client over `std::net::TcpStream`, written for measuring.
//!
//! One request per connection (`Connection: close`), an overall deadline per request, and the
//! timings the LL-HLS rules need: time to response headers, time to the first body byte and
//! time to the last byte. Bodies are framed by `Content-Length`, `Transfer-Encoding: chunked`
//! or connection close, and decoded from `Content-Encoding: gzip` when the server used it.
//! Requests may carry a body (`POST` / `PATCH` of SDP for WHIP and WHEP), always framed by
//! `Content-Length`. Concurrency (held blocking requests) is done by the caller with threads.

use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::url::Url;

/// Largest response the checker accepts (playlists and segments on loopback are far smaller).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Largest response head (status line + headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What went wrong with one request.
#[derive(Debug)]
pub enum HttpError {
    /// The TCP connection could not be established.
    Connect(std::io::Error),
    /// Reading or writing the socket failed.
    Io(std::io::Error),
    /// No complete response before the deadline.
    Timeout { after: Duration, got_headers: bool },
    /// The server closed the connection without sending a response head.
    Closed,
    /// The response violates HTTP/1.1 framing.
    Malformed(String),
    /// `Content-Encoding: gzip` body that does not decode.
    Gzip(std::io::Error),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "connect failed: {e}"),
            Self::Io(e) => write!(f, "i/o error: {e}"),
            Self::Timeout { after, got_headers } => write!(
                f,
                "timed out after {:.0} ms ({})",
                after.as_secs_f64() * 1000.0,
                if *got_headers {
                    "headers received, body incomplete"
                } else {
                    "no response headers"
                }
            ),
            Self::Closed => write!(f, "connection closed without a response"),
            Self::Malformed(m) => write!(f, "malformed response: {m}"),
            Self::Gzip(e) => write!(f, "gzip body does not decode: {e}"),
        }
    }
}

impl std::error::Error for HttpError {}

impl HttpError {
    /// True when the request hit its deadline (a held request that never returned).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// True when the server dropped the connection instead of answering (closed before the
    /// response head, or reset): what a request handler that crashed looks like on the wire.
    pub fn is_dropped(&self) -> bool {
        match self {
            Self::Closed => true,
            Self::Io(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ),
            _ => false,
        }
    }
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, …
    pub method: String,
    /// Target URL.
    pub url: Url,
    /// Extra request headers (Host, Connection and User-Agent are added).
    pub headers: Vec<(String, String)>,
    /// Deadline for the whole exchange, from connect to last byte.
    pub timeout: Duration,
    /// Request content, sent with `Content-Length` (none for an empty body unless the method
    /// is `POST`, `PUT` or `PATCH`, which always announce their length).
    pub body: Vec<u8>,
}

impl Request {
    /// A request with no extra headers and no body.
    pub fn new(method: &str, url: Url, timeout: Duration) -> Self {
        Self { method: method.into(), url, headers: Vec::new(), timeout, body: Vec::new() }
    }

    /// A `GET` with no extra headers.
    pub fn get(url: Url, timeout: Duration) -> Self {
        Self::new("GET", url, timeout)
    }

    /// Sets the request content.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// When each stage of the response arrived, measured from just before connecting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timings {
    /// The instant the request started (before connect).
    pub started: Instant,
    /// Time until the full response head was read.
    pub headers: Duration,
    /// Time until the first byte after the head (None for an empty body).
    pub first_body_byte: Option<Duration>,
    /// Time until the response was complete.
    pub last_byte: Duration,
}

impl Timings {
    /// Time from the first body byte to the last (zero for empty bodies).
    pub fn body_transfer(&self) -> Duration {
        match self.first_body_byte {
            Some(f) => self.last_byte.saturating_sub(f),
            None => Duration::ZERO,
        }
    }

    /// Absolute instant of the response head.
    pub fn headers_at(&self) -> Instant {
        self.started + self.headers
    }

    /// Absolute instant of the last byte.
    pub fn done_at(&self) -> Instant {
        self.started + self.last_byte
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    /// Body after transfer decoding and gzip decoding.
    pub body: Vec<u8>,
    /// Body length on the wire (after de-chunking, before gzip decoding).
    pub wire_body_len: usize,
    /// True when the body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// True when the body was gzip-decoded.
    pub gzip: bool,
    /// Timings.
    pub timings: Timings,
    /// (time since start, wire body bytes received so far) at each read that added body bytes.
    pub progress: Vec<(Duration, usize)>,
}

impl Response {
    /// First header value with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Body as text (lossy; byte-level rules look at `body` directly).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `max-age` (or `s-maxage` when present) from Cache-Control, in seconds.
    pub fn cache_max_age(&self) -> Option<f64> {
        let cc = self.header("cache-control")?;
        let mut max_age = None;
        let mut s_max_age = None;
        for item in cc.split(',') {
            let item = item.trim();
            if let Some((k, v)) = item.split_once('=') {
                let v = v.trim().trim_matches('"').parse::<f64>().ok();
                match k.trim().to_ascii_lowercase().as_str() {
                    "max-age" => max_age = v,
                    "s-maxage" => s_max_age = v,
                    _ => {}
                }
            }
        }
        s_max_age.or(max_age)
    }
}

/// Sends one request and reads the full response.
pub fn send(req: &Request) -> Result<Response, HttpError> {
    let started = Instant::now();
    let deadline = started + req.timeout;
    let mut stream = connect(&req.url, req.timeout)?;
    stream.set_nodelay(true).map_err(HttpError::Io)?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sluice-check\r\nConnection: close\r\n",
        req.method,
        req.url.request_target(),
        req.url.authority()
    );
    for (n, v) in &req.headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    let announces_length = matches!(req.method.as_str(), "POST" | "PUT" | "PATCH");
    if !req.body.is_empty() || announces_length {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    let mut wire = head.into_bytes();
    wire.extend_from_slice(&req.body);
    stream.write_all(&wire).map_err(HttpError::Io)?;

    let mut reader = Reader { stream, buf: Vec::new(), deadline, started, eof: false };
    let head_end = reader.read_until_head_end()?;
    let headers_time = started.elapsed();
    let (status, headers) = parse_head(&reader.buf[..head_end])?;
    let body_start = head_end;

    let no_body = req.method.eq_ignore_ascii_case("HEAD")
        || status == 204
        || status == 304
        || (100..200).contains(&status);
    let chunked = header_of(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let content_length = match header_of(&headers, "content-length") {
        Some(v) => Some(
            v.trim()
                .parse::<usize>()
                .map_err(|_| HttpError::Malformed(format!("content-length {v:?}")))?,
        ),
        None => None,
    };

    let mut first_body_byte = None;
    // (elapsed, wire body bytes so far) after each read that grew the body: how a streamed
    // (chunked) body arrived over time.
    let mut progress: Vec<(Duration, usize)> = Vec::new();
    let mut note_first = |reader: &Reader, first: &mut Option<Duration>| {
        let have = reader.buf.len().saturating_sub(body_start);
        if first.is_none() && have > 0 {
            *first = Some(reader.started.elapsed());
        }
        if have > progress.last().map_or(0, |p| p.1) {
            progress.push((reader.started.elapsed(), have));
        }
    };
    note_first(&reader, &mut first_body_byte);

    let wire_body: Vec<u8> = if no_body {
        Vec::new()
    } else if chunked {
        let mut dec = ChunkedDecoder::new(body_start);
        loop {
            dec.feed(&reader.buf)?;
            if dec.done {
                break;
            }
            if reader.eof {
                return Err(HttpError::Malformed("connection closed inside chunked body".into()));
            }
            reader.read_more(true)?;
            note_first(&reader, &mut first_body_byte);
        }
        dec.body
    } else if let Some(len) = content_length {
        if len > MAX_RESPONSE_BYTES {
            return Err(HttpError::Malformed(format!("content-length {len} too large")));
        }
        while reader.buf.len() - body_start < len {
            if reader.eof {
                return Err(HttpError::Malformed(format!(
                    "connection closed after {} of {len} body bytes",
                    reader.buf.len() - body_start
                )));
            }
            reader.read_more(true)?;
            note_first(&reader, &mut first_body_byte);
        }
        reader.buf[body_start..body_start + len].to_vec()
    } else {
        while !reader.eof {
            reader.read_more(true)?;
            note_first(&reader, &mut first_body_byte);
        }
        reader.buf[body_start..].to_vec()
    };
    let last_byte = started.elapsed();

    let gzip = header_of(&headers, "content-encoding")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let wire_body_len = wire_body.len();
    let body = if gzip && !wire_body.is_empty() {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&wire_body[..])
            .take(MAX_RESPONSE_BYTES as u64)
            .read_to_end(&mut out)
            .map_err(HttpError::Gzip)?;
        out
    } else {
        wire_body
    };

    Ok(Response {
        status,
        headers,
        body,
        wire_body_len,
        chunked,
        gzip,
        timings: Timings {
            started,
            headers: headers_time,
            first_body_byte: if wire_body_len == 0 { None } else { first_body_byte },
            last_byte,
        },
        progress,
    })
}

/// `GET url` with a timeout and no extra headers.
pub fn get(url: &Url, timeout: Duration) -> Result<Response, HttpError> {
    send(&Request::get(url.clone(), timeout))
}

fn connect(url: &Url, timeout: Duration) -> Result<TcpStream, HttpError> {
    let addrs = (url.host.as_str(), url.port).to_socket_addrs().map_err(HttpError::Connect)?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(HttpError::Connect(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "host resolved to no address")
    })))
}

struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
    deadline: Instant,
    started: Instant,
    eof: bool,
}

impl Reader {
    fn read_more(&mut self, got_headers: bool) -> Result<(), HttpError> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(HttpError::Timeout { after: self.started.elapsed(), got_headers });
        }
        self.stream.set_read_timeout(Some(self.deadline - now)).map_err(HttpError::Io)?;
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.eof = true;
                Ok(())
            }
            Ok(n) => {
                if self.buf.len() + n > MAX_RESPONSE_BYTES {
                    return Err(HttpError::Malformed("response too large".into()));
                }
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(HttpError::Timeout { after: self.started.elapsed(), got_headers })
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(HttpError::Io(e)),
        }
    }

    /// Reads until `\r\n\r\n`; returns the index just past it.
    fn read_until_head_end(&mut self) -> Result<usize, HttpError> {
        let mut searched: usize = 0;
        loop {
            if let Some(i) = find(&self.buf[searched.saturating_sub(3)..], b"\r\n\r\n") {
                return Ok(searched.saturating_sub(3) + i + 4);
            }
            searched = self.buf.len();
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(HttpError::Malformed("response head too large".into()));
            }
            if self.eof {
                return Err(HttpError::Closed);
            }
            self.read_more(false)?;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

type Head = (u16, Vec<(String, String)>);

fn parse_head(head: &[u8]) -> Result<Head, HttpError> {
    let text = std::str::from_utf8(head)
        .map_err(|_| HttpError::Malformed("response head is not utf-8".into()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!("status line {status_line:?}")));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| HttpError::Malformed(format!("status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| HttpError::Malformed(format!("header line {line:?}")))?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    Ok((status, headers))
}

/// Incremental `Transfer-Encoding: chunked` decoder over a growing buffer.
#[derive(Debug)]
struct ChunkedDecoder {
    pos: usize,
    body: Vec<u8>,
    done: bool,
}

impl ChunkedDecoder {
    fn new(pos: usize) -> Self {
        Self { pos, body: Vec::new(), done: false }
    }

    /// Consumes as many complete chunks from `buf[self.pos..]` as are available.
    fn feed(&mut self, buf: &[u8]) -> Result<(), HttpError> {
        while !self.done {
            let rest = &buf[self.pos..];
            let Some(line_end) = find(rest, b"\r\n") else { return Ok(()) };
            let line = std::str::from_utf8(&rest[..line_end])
                .map_err(|_| HttpError::Malformed("chunk size line".into()))?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| HttpError::Malformed(format!("chunk size {size_text:?}")))?;
            if size > MAX_RESPONSE_BYTES {
                return Err(HttpError::Malformed("chunk too large".into()));
            }
            if size == 0 {
                // Last chunk, optional trailers, then an empty line.
                let after = &rest[line_end + 2..];
                if after.starts_with(b"\r\n") {
                    self.pos += line_end + 4;
                    self.done = true;
                } else if let Some(end) = find(after, b"\r\n\r\n") {
                    self.pos += line_end + 2 + end + 4;
                    self.done = true;
                }
                return Ok(());
            }
            let data_start = line_end + 2;
            if rest.len() < data_start + size + 2 {
                return Ok(());
            }
            if &rest[data_start + size..data_start + size + 2] != b"\r\n" {
                return Err(HttpError::Malformed("chunk not followed by CRLF".into()));
            }
            self.body.extend_from_slice(&rest[data_start..data_start + size]);
            self.pos += data_start + size + 2;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_decoder_handles_split_input_and_extensions() {
        let wire = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n";
        let mut dec = ChunkedDecoder::new(0);
        for end in 1..=wire.len() {
            dec.feed(&wire[..end]).unwrap();
            if end < wire.len() {
                assert!(!dec.done, "done too early at {end}");
            }
        }
        assert!(dec.done);
        assert_eq!(dec.body, b"Wikipedia");
    }

    #[test]
    fn chunked_decoder_rejects_garbage_size() {
        let mut dec = ChunkedDecoder::new(0);
        assert!(dec.feed(b"zz\r\nabc\r\n").is_err());
    }

    #[test]
    fn parses_status_and_headers() {
        let (status, headers) =
            parse_head(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX-A:  b \r\n\r\n").unwrap();
        assert_eq!(status, 404);
        assert_eq!(header_of(&headers, "x-a"), Some("b"));
        assert!(parse_head(b"SPDY 200\r\n\r\n").is_err());
    }
}
