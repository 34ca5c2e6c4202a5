//! A small SDP reader (RFC 8866) for judging WHIP / WHEP answers, and the syntax checks of the
//! attributes those rules look at: ICE credentials and candidates (RFC 8839), DTLS fingerprints
//! (RFC 8122), `a=setup` (RFC 8842) and media directions (RFC 3264).
//!
//! It reads full session descriptions (`v=` first) and SDP fragments
//! (`application/trickle-ice-sdpfrag`, RFC 8840: no `v=`/`o=`/`s=`/`t=`). Lines are kept as
//! `(type, value)`; attributes are split at the first `:` into name and value. Nothing here
//! decides a verdict: `crate::rules::whip` does.

use std::fmt;

/// Why a body is not an SDP session description (or fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    /// Empty body.
    Empty,
    /// Not UTF-8 text.
    NotText,
    /// A line that is not `<letter>=<value>`.
    BadLine { line: usize, text: String },
    /// RFC 8866 §5: "An SDP description ... MUST begin with a `v=` line".
    NoVersion,
    /// A required session-level line is missing.
    Missing(&'static str),
    /// An `m=` line without media, port, proto and at least one format.
    BadMediaLine(String),
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty body"),
            Self::NotText => write!(f, "body is not utf-8 text"),
            Self::BadLine { line, text } => {
                write!(f, "line {line} is not <type>=<value>: {text:?}")
            }
            Self::NoVersion => write!(f, "does not start with v=0"),
            Self::Missing(what) => write!(f, "no {what} line"),
            Self::BadMediaLine(l) => write!(f, "malformed m= line {l:?}"),
        }
    }
}

impl std::error::Error for SdpError {}

/// One `<type>=<value>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The type letter (`a`, `c`, `m`, …).
    pub kind: char,
    /// Everything after `=`.
    pub value: String,
}

/// One media description: the `m=` line and the lines up to the next `m=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `audio`, `video`, `application`, …
    pub media: String,
    /// Transport port; 0 rejects the section unless `a=bundle-only` is present (RFC 9143).
    pub port: u16,
    /// e.g. `UDP/TLS/RTP/SAVPF`.
    pub proto: String,
    /// Payload types (or other format tokens), in preference order.
    pub formats: Vec<String>,
    /// The lines after the `m=` line.
    pub lines: Vec<Line>,
}

/// A parsed session description or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    /// Session-level lines (before the first `m=`), `v=`/`o=`/`s=`/`t=` included.
    pub session: Vec<Line>,
    /// Media descriptions in order.
    pub media: Vec<Media>,
    /// True when every line ended with CRLF (RFC 8866 §5 requires CRLF; parsers accept LF).
    pub crlf: bool,
}

/// The four media directions of RFC 3264 §5.1 (and RFC 8866 §6.7).
pub const DIRECTIONS: [&str; 4] = ["sendrecv", "sendonly", "recvonly", "inactive"];

fn attrs_of<'a>(lines: &'a [Line], name: &str) -> impl Iterator<Item = &'a str> {
    lines.iter().filter(|l| l.kind == 'a').filter_map(move |l| {
        let (n, v) = l.value.split_once(':').unwrap_or((l.value.as_str(), ""));
        (n == name).then_some(v)
    })
}

impl Media {
    /// Values of every `a=<name>[:value]` in this section (`""` for a flag).
    pub fn attrs<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        attrs_of(&self.lines, name)
    }

    /// The first `a=<name>` value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs(name).next()
    }

    /// True when `a=<name>` is present.
    pub fn has(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }

    /// `a=mid` value.
    pub fn mid(&self) -> Option<&str> {
        self.attr("mid")
    }

    /// True for a section the answerer rejected: port 0 without `a=bundle-only`.
    pub fn rejected(&self) -> bool {
        self.port == 0 && !self.has("bundle-only")
    }

    /// The direction attribute written in this section, if any.
    pub fn direction(&self) -> Option<&'static str> {
        DIRECTIONS.into_iter().find(|d| self.has(d))
    }

    /// The encoding name (`opus`, `H264`, …) of payload type `pt` from `a=rtpmap`.
    pub fn encoding(&self, pt: &str) -> Option<&str> {
        self.attrs("rtpmap").find_map(|v| {
            let (p, rest) = v.split_once(' ')?;
            (p == pt).then(|| rest.split('/').next().unwrap_or_default())
        })
    }

    /// `a=fmtp` parameters of payload type `pt`.
    pub fn fmtp(&self, pt: &str) -> Option<&str> {
        self.attrs("fmtp").find_map(|v| {
            let (p, rest) = v.split_once(' ')?;
            (p == pt).then_some(rest)
        })
    }
}

impl Sdp {
    /// Parses a full session description: `v=0` first, then `o=`, `s=` and `t=` required
    /// (RFC 8866 §5).
    pub fn parse(body: &[u8]) -> Result<Self, SdpError> {
        let sdp = Self::parse_lines(body)?;
        if sdp.session.first().is_none_or(|l| l.kind != 'v' || l.value.trim() != "0") {
            return Err(SdpError::NoVersion);
        }
        for (kind, what) in [('o', "o= (origin)"), ('s', "s= (session name)"), ('t', "t= (timing)")]
        {
            if !sdp.session.iter().any(|l| l.kind == kind) {
                return Err(SdpError::Missing(what));
            }
        }
        Ok(sdp)
    }

    /// Parses an SDP fragment (RFC 8840 `application/trickle-ice-sdpfrag`): the same line
    /// syntax without the session header lines.
    pub fn parse_fragment(body: &[u8]) -> Result<Self, SdpError> {
        Self::parse_lines(body)
    }

    fn parse_lines(body: &[u8]) -> Result<Self, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
        if text.trim().is_empty() {
            return Err(SdpError::Empty);
        }
        let mut sdp = Self { session: Vec::new(), media: Vec::new(), crlf: true };
        let mut rest = text;
        let mut n = 0;
        while !rest.is_empty() {
            n += 1;
            let (raw, next, ended_crlf) = match rest.find('\n') {
                Some(i) => {
                    let raw = &rest[..i];
                    match raw.strip_suffix('\r') {
                        Some(r) => (r, &rest[i + 1..], true),
                        None => (raw, &rest[i + 1..], false),
                    }
                }
                None => (rest, "", false),
            };
            rest = next;
            // A final line without a terminator, or trailing blank lines, are tolerated.
            if raw.is_empty() {
                continue;
            }
            if !ended_crlf {
                sdp.crlf = false;
            }
            let bad = || SdpError::BadLine { line: n, text: raw.chars().take(60).collect() };
            let mut chars = raw.chars();
            let kind = chars.next().ok_or_else(bad)?;
            if !kind.is_ascii_lowercase() || chars.next() != Some('=') {
                return Err(bad());
            }
            let value = raw[2..].to_string();
            if kind == 'm' {
                sdp.media.push(parse_media_line(&value)?);
            } else {
                let line = Line { kind, value };
                match sdp.media.last_mut() {
                    Some(m) => m.lines.push(line),
                    None => sdp.session.push(line),
                }
            }
        }
        Ok(sdp)
    }

    /// Values of every session-level `a=<name>`.
    pub fn session_attrs<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        attrs_of(&self.session, name)
    }

    /// The first session-level `a=<name>` value.
    pub fn session_attr(&self, name: &str) -> Option<&str> {
        self.session_attrs(name).next()
    }

    /// `a=<name>` of media section `m`, falling back to the session level (how ICE
    /// credentials, fingerprints, `a=setup` and directions are inherited, RFC 8866 §6).
    pub fn effective<'a>(&'a self, m: &'a Media, name: &str) -> Option<&'a str> {
        m.attr(name).or_else(|| self.session_attr(name))
    }

    /// Effective direction of `m` (RFC 3264 §5.1: sendrecv when none is written).
    pub fn direction(&self, m: &Media) -> &'static str {
        m.direction()
            .or_else(|| DIRECTIONS.into_iter().find(|d| self.session_attr(d).is_some()))
            .unwrap_or("sendrecv")
    }

    /// The identification tags of every `a=group:BUNDLE` (RFC 9143), group by group.
    pub fn bundle_groups(&self) -> Vec<Vec<&str>> {
        self.session_attrs("group")
            .filter_map(|v| {
                let mut it = v.split_ascii_whitespace();
                (it.next() == Some("BUNDLE")).then(|| it.collect())
            })
            .collect()
    }
}

fn parse_media_line(value: &str) -> Result<Media, SdpError> {
    let bad = || SdpError::BadMediaLine(value.chars().take(80).collect());
    let mut it = value.split_ascii_whitespace();
    let media = it.next().ok_or_else(bad)?.to_string();
    let port_text = it.next().ok_or_else(bad)?;
    let port = port_text.split('/').next().unwrap_or_default().parse::<u16>().map_err(|_| bad())?;
    let proto = it.next().ok_or_else(bad)?.to_string();
    let formats: Vec<String> = it.map(str::to_string).collect();
    if formats.is_empty() {
        return Err(bad());
    }
    Ok(Media { media, port, proto, formats, lines: Vec::new() })
}

/// RFC 8839 §5.4: `ice-char = ALPHA / DIGIT / "+" / "/"`, ufrag `4*256ice-char`, pwd
/// `22*256ice-char`. Returns a problem description.
pub fn check_ice_chars(what: &str, v: &str, min: usize) -> Result<(), String> {
    if v.len() < min || v.len() > 256 {
        return Err(format!("{what} {v:?} has {} characters (allowed {min}..256)", v.len()));
    }
    if let Some(c) = v.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '+' || *c == '/')) {
        return Err(format!("{what} {v:?} contains {c:?} (ice-char is ALPHA / DIGIT / + / /)"));
    }
    Ok(())
}

/// RFC 8122 §5: `fingerprint-attribute = "fingerprint" ":" hash-func SP fingerprint`,
/// `fingerprint = 2UHEX *(":" 2UHEX)`. Returns (hard problem, soft problem).
pub fn check_fingerprint(v: &str) -> (Option<String>, Option<String>) {
    let Some((func, hex)) = v.trim().split_once(' ') else {
        return (Some(format!("fingerprint {v:?} is not <hash-func> <hex>")), None);
    };
    let func_l = func.to_ascii_lowercase();
    let bytes = match func_l.as_str() {
        "sha-1" => Some(20),
        "sha-224" => Some(28),
        "sha-256" => Some(32),
        "sha-384" => Some(48),
        "sha-512" => Some(64),
        "md5" | "md2" => Some(16),
        _ => None,
    };
    let pairs: Vec<&str> = hex.trim().split(':').collect();
    if pairs.iter().any(|p| p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit())) {
        return (Some(format!("fingerprint {hex:?} is not colon-separated hex pairs")), None);
    }
    if let Some(n) = bytes
        && pairs.len() != n
    {
        return (Some(format!("{func} fingerprint has {} bytes, expected {n}", pairs.len())), None);
    }
    let mut soft = None;
    if bytes.is_none() {
        soft = Some(format!("unknown fingerprint hash function {func:?}"));
    } else if func_l.starts_with("md") {
        soft = Some(format!("fingerprint uses {func} (RFC 8122: md2/md5 are obsolete)"));
    } else if hex.chars().any(|c| c.is_ascii_lowercase()) {
        soft = Some("fingerprint hex is lowercase (RFC 8122 grammar: UHEX)".to_string());
    }
    (None, soft)
}

/// RFC 8839 §5.1 candidate-attribute: `foundation SP component-id SP transport SP priority SP
/// connection-address SP port SP "typ" SP cand-type ...`. The value is what follows `a=candidate:`.
pub fn check_candidate(v: &str) -> Result<(), String> {
    let f: Vec<&str> = v.split_ascii_whitespace().collect();
    let bad = |why: &str| Err(format!("candidate {v:?}: {why}"));
    if f.len() < 8 {
        return bad("fewer than 8 fields");
    }
    if f[0].is_empty()
        || f[0].len() > 32
        || !f[0].chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
    {
        return bad("foundation is not 1*32 ice-char");
    }
    if f[1].is_empty() || f[1].len() > 3 || !f[1].chars().all(|c| c.is_ascii_digit()) {
        return bad("component-id is not 1*3 DIGIT");
    }
    if f[2].is_empty() {
        return bad("no transport");
    }
    if f[3].is_empty() || f[3].len() > 10 || !f[3].chars().all(|c| c.is_ascii_digit()) {
        return bad("priority is not 1*10 DIGIT");
    }
    if f[5].parse::<u16>().is_err() {
        return bad("port is not a number");
    }
    if f[6] != "typ" {
        return bad("no \"typ\" after the port");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0 1\r\na=ice-lite\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n\
        a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n\
        m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=bundle-only\r\na=rtpmap:96 H264/90000\r\n";

    #[test]
    fn parses_sections_attributes_and_bundle() {
        let s = Sdp::parse(ANSWER.as_bytes()).unwrap();
        assert!(s.crlf);
        assert_eq!(s.media.len(), 2);
        assert_eq!(s.bundle_groups(), vec![vec!["0", "1"]]);
        assert_eq!(s.session_attr("ice-lite"), Some(""));
        let a = &s.media[0];
        assert_eq!(
            (a.media.as_str(), a.port, a.formats.as_slice()),
            ("audio", 9, &["111".into()][..])
        );
        assert_eq!(a.encoding("111"), Some("opus"));
        assert_eq!(a.fmtp("111"), Some("minptime=10"));
        assert_eq!(s.direction(a), "recvonly");
        assert_eq!(s.direction(&s.media[1]), "sendrecv");
        assert!(!s.media[1].rejected(), "port 0 with bundle-only is not a rejection");
    }

    #[test]
    fn rejects_garbage_and_missing_header_lines() {
        assert_eq!(Sdp::parse(b""), Err(SdpError::Empty));
        assert!(matches!(Sdp::parse(b"hello world\r\n"), Err(SdpError::BadLine { line: 1, .. })));
        assert_eq!(Sdp::parse(b"o=- 1 1 IN IP4 0.0.0.0\r\n"), Err(SdpError::NoVersion));
        assert_eq!(Sdp::parse(b"v=0\r\no=x\r\ns=-\r\n"), Err(SdpError::Missing("t= (timing)")));
        assert!(matches!(
            Sdp::parse(b"v=0\r\no=x\r\ns=-\r\nt=0 0\r\nm=audio x RTP 0\r\n"),
            Err(SdpError::BadMediaLine(_))
        ));
        assert_eq!(Sdp::parse(&[0xff, 0xfe]), Err(SdpError::NotText));
    }

    #[test]
    fn lf_only_lines_are_read_but_flagged() {
        let s = Sdp::parse(b"v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\n").unwrap();
        assert!(!s.crlf);
    }

    #[test]
    fn fragment_needs_no_session_header() {
        let f = Sdp::parse_fragment(b"a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\n")
            .unwrap();
        assert_eq!(f.session_attr("ice-ufrag"), Some("abcd"));
    }

    #[test]
    fn ice_fingerprint_and_candidate_syntax() {
        assert!(check_ice_chars("ufrag", "ab+/", 4).is_ok());
        assert!(check_ice_chars("ufrag", "abc", 4).is_err());
        assert!(check_ice_chars("pwd", "has-a-dash-in-it-xxxxxxxx", 22).is_err());
        let good = (0..32).map(|i| format!("{i:02X}")).collect::<Vec<_>>().join(":");
        assert_eq!(check_fingerprint(&format!("sha-256 {good}")), (None, None));
        assert!(check_fingerprint("sha-256 AB:CD").0.is_some());
        assert!(check_fingerprint("sha-256").0.is_some());
        assert!(check_fingerprint(&format!("sha-256 {}", good.to_lowercase())).1.is_some());
        assert!(check_candidate("1 1 UDP 2130706431 198.51.100.1 39132 typ host").is_ok());
        assert!(check_candidate("1 1 UDP 2130706431 198.51.100.1 39132 host").is_err());
        assert!(check_candidate("1 x UDP 1 1.2.3.4 5 typ host").is_err());
    }
}
