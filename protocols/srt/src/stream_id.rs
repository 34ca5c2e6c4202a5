//! Stream id parsing: which channel a caller wants, and whether it publishes or reads.
//!
//! Accepted forms (DESIGN.md contract):
//! - `publish:{group}/{channel}` and `read:{group}/{channel}` (ffmpeg/OBS style prefixes);
//! - the SRT access-control form `#!::r={group}/{channel},m=publish` (or `m=request` to read),
//!   from the SRT access-control guidelines: "the stream id value is a comma-separated list of
//!   key=value pairs … starting with `#!::`", keys `r` (resource), `m` (mode, default
//!   `request`), `u` (user), `s` (session), `t` (type, default `stream`), `h` (host);
//! - a bare `{group}/{channel}`, taken as publish: hardware encoders often have one free-text
//!   field and no notion of modes, and a reader always has a way to say `read:`.
//!
//! A query string after the resource (`live/cam1?token=x`) is kept apart for access checks.

/// What the caller wants to do with the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Send a stream into the channel.
    Publish,
    /// Receive the channel (SRT playback, for relays).
    Request,
}

/// A parsed stream id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamId {
    pub group: String,
    pub channel: String,
    pub mode: Mode,
    /// `u=` of the access-control form.
    pub user: Option<String>,
    /// Whatever followed `?` in the resource, without the `?`.
    pub query: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StreamIdError {
    #[error("no stream id (set streamid=publish:live/<channel>)")]
    Missing,
    #[error("stream id is {len} bytes; SRT allows at most 512")]
    TooLong { len: usize },
    #[error("stream id {0:?} does not name a channel as <group>/<channel>")]
    NoChannel(String),
    #[error("stream id mode {0:?} is not supported (use publish or request)")]
    UnsupportedMode(String),
    #[error("stream id type {0:?} is not supported (only stream)")]
    UnsupportedType(String),
    #[error("stream id has a malformed key=value pair {0:?}")]
    Malformed(String),
}

/// SRT caps the stream id at 512 bytes ("the maximum length is 512 characters").
pub const MAX_STREAM_ID_LEN: usize = 512;

impl StreamId {
    /// `group/channel`.
    pub fn channel_id(&self) -> String {
        format!("{}/{}", self.group, self.channel)
    }

    pub fn parse(text: &str) -> Result<Self, StreamIdError> {
        if text.len() > MAX_STREAM_ID_LEN {
            return Err(StreamIdError::TooLong { len: text.len() });
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(StreamIdError::Missing);
        }
        if let Some(pairs) = text.strip_prefix("#!::") {
            return parse_access_control(pairs);
        }
        let (mode, resource) = if let Some(rest) = text.strip_prefix("publish:") {
            (Mode::Publish, rest)
        } else if let Some(rest) =
            text.strip_prefix("read:").or_else(|| text.strip_prefix("request:"))
        {
            (Mode::Request, rest)
        } else {
            (Mode::Publish, text)
        };
        resource_to_id(resource, mode, None)
    }
}

fn parse_access_control(pairs: &str) -> Result<StreamId, StreamIdError> {
    let mut resource = None;
    let mut mode = Mode::Request;
    let mut user = None;
    for pair in pairs.split(',').filter(|p| !p.is_empty()) {
        let (key, value) =
            pair.split_once('=').ok_or_else(|| StreamIdError::Malformed(pair.to_owned()))?;
        match key.trim() {
            "r" => resource = Some(value.trim()),
            "m" => {
                mode = match value.trim() {
                    "publish" => Mode::Publish,
                    "request" => Mode::Request,
                    other => return Err(StreamIdError::UnsupportedMode(other.to_owned())),
                }
            }
            "u" => user = Some(value.trim().to_owned()),
            "t" if value.trim() != "stream" => {
                return Err(StreamIdError::UnsupportedType(value.trim().to_owned()));
            }
            // s (session id), h (host) and vendor keys carry nothing Sluice routes on.
            _ => {}
        }
    }
    let resource = resource.ok_or_else(|| StreamIdError::NoChannel(format!("#!::{pairs}")))?;
    resource_to_id(resource, mode, user)
}

fn resource_to_id(
    resource: &str,
    mode: Mode,
    user: Option<String>,
) -> Result<StreamId, StreamIdError> {
    let (path, query) = match resource.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (resource, None),
    };
    let path = path.trim_matches('/');
    let mut it = path.split('/');
    match (it.next(), it.next(), it.next()) {
        (Some(group), Some(channel), None) if !group.is_empty() && !channel.is_empty() => {
            Ok(StreamId { group: group.to_owned(), channel: channel.to_owned(), mode, user, query })
        }
        _ => Err(StreamIdError::NoChannel(resource.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> StreamId {
        StreamId::parse(text).expect("valid stream id")
    }

    #[test]
    fn prefixed_forms_name_channel_and_mode() {
        let p = id("publish:live/cam1");
        assert_eq!((p.channel_id(), p.mode), ("live/cam1".to_owned(), Mode::Publish));
        let r = id("read:live/cam1");
        assert_eq!((r.channel_id(), r.mode), ("live/cam1".to_owned(), Mode::Request));
        assert_eq!(id("request:live/x").mode, Mode::Request);
    }

    #[test]
    fn access_control_form_defaults_to_request() {
        let p = id("#!::r=live/cam1,m=publish");
        assert_eq!((p.channel_id(), p.mode), ("live/cam1".to_owned(), Mode::Publish));
        let r = id("#!::r=live/cam1");
        assert_eq!(r.mode, Mode::Request);
        let u = id("#!::u=alice,r=live/cam1,m=publish,s=123,t=stream");
        assert_eq!(u.user.as_deref(), Some("alice"));
    }

    #[test]
    fn bare_resource_publishes_and_keeps_its_query() {
        let b = id("live/cam1?token=abc");
        assert_eq!(b.mode, Mode::Publish);
        assert_eq!(b.query.as_deref(), Some("token=abc"));
        assert_eq!(b.channel_id(), "live/cam1");
    }

    #[test]
    fn bad_ids_say_what_is_wrong() {
        assert_eq!(StreamId::parse(""), Err(StreamIdError::Missing));
        assert!(matches!(StreamId::parse("publish:cam1"), Err(StreamIdError::NoChannel(_))));
        assert!(matches!(StreamId::parse("a/b/c"), Err(StreamIdError::NoChannel(_))));
        assert!(matches!(
            StreamId::parse("#!::r=live/x,m=bidirectional"),
            Err(StreamIdError::UnsupportedMode(_))
        ));
        assert!(matches!(
            StreamId::parse("#!::r=live/x,t=file"),
            Err(StreamIdError::UnsupportedType(_))
        ));
        assert!(matches!(StreamId::parse("#!::garbage"), Err(StreamIdError::Malformed(_))));
        assert!(matches!(StreamId::parse("#!::m=publish"), Err(StreamIdError::NoChannel(_))));
        let long = "x".repeat(600);
        assert_eq!(StreamId::parse(&long), Err(StreamIdError::TooLong { len: 600 }));
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| b"#!:,=/rmpublishread?u"[((seed >> (i % 50)) as usize + i) % 21])
                .collect();
            let _ = StreamId::parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
