//! The LL-HLS endpoint's URL scheme, both ways: building the relative URIs playlists list, and
//! parsing a request path tail back into the [`Resource`] it names.
//!
//! Every URI is relative to the endpoint base `/{group}/{channel}/hls/`:
//!
//! | resource | URI |
//! |---|---|
//! | multivariant playlist | `index.m3u8` |
//! | media playlist | `{rendition}.m3u8` |
//! | init segment | `{rendition}/init-{version}.mp4` |
//! | segment | `{rendition}/{msn}.m4s` |
//! | part (0-based within its segment) | `{rendition}/{msn}.{part}.m4s` |
//!
//! Numbers are canonical decimal (no sign, no leading zeros), so each resource has exactly one
//! URI: HLS §6.3.4 has clients check that "each Media Segment in it has the same URI" across
//! reloads.
//!
//! The HLS-TS endpoint (`/{group}/{channel}/ts/`) has its own, flat scheme: `index.m3u8`,
//! `video.m3u8` and `{msn}.ts` ([`parse_ts_resource`], [`ts_segment_uri`]).

/// URI of the multivariant playlist.
pub const MULTIVARIANT_URI: &str = "index.m3u8";

/// Longest path tail [`parse_resource`] looks at; anything longer is not ours.
const MAX_TAIL_LEN: usize = 128;
/// Longest rendition name.
const MAX_RENDITION_LEN: usize = 32;
/// Reserved: `index.m3u8` is the multivariant playlist.
const RESERVED_NAME: &str = "index";

/// What a request path tail names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource<'a> {
    Multivariant,
    MediaPlaylist { rendition: &'a str },
    Init { rendition: &'a str, version: u32 },
    Segment { rendition: &'a str, msn: u64 },
    Part { rendition: &'a str, msn: u64, part: u32 },
}

impl Resource<'_> {
    /// The URI this resource is listed under; `parse_resource(&r.uri()) == Ok(r)`.
    pub fn uri(&self) -> String {
        match *self {
            Resource::Multivariant => MULTIVARIANT_URI.to_owned(),
            Resource::MediaPlaylist { rendition } => media_playlist_uri(rendition),
            Resource::Init { rendition, version } => init_uri(rendition, version),
            Resource::Segment { rendition, msn } => segment_uri(rendition, msn),
            Resource::Part { rendition, msn, part } => part_uri(rendition, msn, part),
        }
    }

    /// The rendition the resource belongs to (`None` for the multivariant playlist).
    pub fn rendition(&self) -> Option<&str> {
        match *self {
            Resource::Multivariant => None,
            Resource::MediaPlaylist { rendition }
            | Resource::Init { rendition, .. }
            | Resource::Segment { rendition, .. }
            | Resource::Part { rendition, .. } => Some(rendition),
        }
    }
}

/// Why a path tail names no resource (the server answers 404).
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum ResourceError {
    #[error("empty path")]
    Empty,
    #[error("path too long")]
    TooLong,
    #[error("bad rendition name")]
    BadRendition,
    #[error("bad number in path")]
    BadNumber,
    #[error("unknown resource")]
    Unknown,
}

/// A rendition name usable in URIs: 1–32 ASCII letters, digits, `_` or `-`, and not `index`.
pub fn is_valid_rendition_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_RENDITION_LEN
        && name != RESERVED_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `{rendition}.m3u8`
pub fn media_playlist_uri(rendition: &str) -> String {
    format!("{rendition}.m3u8")
}

/// `{rendition}/init-{version}.mp4`
pub fn init_uri(rendition: &str, version: u32) -> String {
    format!("{rendition}/init-{version}.mp4")
}

/// `{rendition}/{msn}.m4s`
pub fn segment_uri(rendition: &str, msn: u64) -> String {
    format!("{rendition}/{msn}.m4s")
}

/// `{rendition}/{msn}.{part}.m4s`
pub fn part_uri(rendition: &str, msn: u64, part: u32) -> String {
    format!("{rendition}/{msn}.{part}.m4s")
}

/// URI of the TS endpoint's media playlist (its only one: audio and video are muxed), relative
/// to `/{group}/{channel}/ts/` like everything of that endpoint.
pub const TS_MEDIA_PLAYLIST_URI: &str = "video.m3u8";

/// `{msn}.ts`: a TS endpoint segment, relative to `video.m3u8`.
pub fn ts_segment_uri(msn: u64) -> String {
    format!("{msn}.ts")
}

/// What a path tail under the TS endpoint (`/{group}/{channel}/ts/`) names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsResource {
    /// `index.m3u8`
    Multivariant,
    /// `video.m3u8`
    MediaPlaylist,
    /// `{msn}.ts`
    Segment { msn: u64 },
}

impl TsResource {
    /// The URI this resource is listed under; `parse_ts_resource(&r.uri()) == Ok(r)`.
    pub fn uri(&self) -> String {
        match *self {
            TsResource::Multivariant => MULTIVARIANT_URI.to_owned(),
            TsResource::MediaPlaylist => TS_MEDIA_PLAYLIST_URI.to_owned(),
            TsResource::Segment { msn } => ts_segment_uri(msn),
        }
    }
}

/// Parses a path tail relative to the TS endpoint base (no leading `/`, no query string):
/// `index.m3u8`, `video.m3u8` or `{msn}.ts` with a canonical decimal `msn`.
pub fn parse_ts_resource(tail: &str) -> Result<TsResource, ResourceError> {
    if tail.is_empty() {
        return Err(ResourceError::Empty);
    }
    if tail.len() > MAX_TAIL_LEN {
        return Err(ResourceError::TooLong);
    }
    match tail {
        MULTIVARIANT_URI => Ok(TsResource::Multivariant),
        TS_MEDIA_PLAYLIST_URI => Ok(TsResource::MediaPlaylist),
        _ => {
            let stem = tail.strip_suffix(".ts").ok_or(ResourceError::Unknown)?;
            Ok(TsResource::Segment { msn: number(stem)? })
        }
    }
}

/// Parses a path tail relative to the endpoint base (no leading `/`, no query string), e.g.
/// `"video/12.3.m4s"` → [`Resource::Part`]. Anything that [`segment_uri`] and friends would not
/// have produced is an error.
pub fn parse_resource(tail: &str) -> Result<Resource<'_>, ResourceError> {
    if tail.is_empty() {
        return Err(ResourceError::Empty);
    }
    if tail.len() > MAX_TAIL_LEN {
        return Err(ResourceError::TooLong);
    }
    if tail == MULTIVARIANT_URI {
        return Ok(Resource::Multivariant);
    }
    match tail.split_once('/') {
        None => {
            let rendition = tail.strip_suffix(".m3u8").ok_or(ResourceError::Unknown)?;
            Ok(Resource::MediaPlaylist { rendition: rendition_name(rendition)? })
        }
        Some((rendition, file)) => {
            let rendition = rendition_name(rendition)?;
            if file.contains('/') {
                return Err(ResourceError::Unknown);
            }
            if let Some(version) = file.strip_prefix("init-").and_then(|f| f.strip_suffix(".mp4")) {
                return Ok(Resource::Init { rendition, version: number(version)? });
            }
            let stem = file.strip_suffix(".m4s").ok_or(ResourceError::Unknown)?;
            match stem.split_once('.') {
                None => Ok(Resource::Segment { rendition, msn: number(stem)? }),
                Some((msn, part)) => {
                    Ok(Resource::Part { rendition, msn: number(msn)?, part: number(part)? })
                }
            }
        }
    }
}

fn rendition_name(name: &str) -> Result<&str, ResourceError> {
    if is_valid_rendition_name(name) { Ok(name) } else { Err(ResourceError::BadRendition) }
}

/// A canonical decimal: digits only, no leading zero unless the number is 0, fits `T`.
fn number<T: std::str::FromStr>(s: &str) -> Result<T, ResourceError> {
    let canonical = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s.len() == 1 || !s.starts_with('0'));
    if !canonical {
        return Err(ResourceError::BadNumber);
    }
    s.parse().map_err(|_| ResourceError::BadNumber)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_and_parser_agree() {
        for name in ["video", "audio", "a", "cam-1_hd"] {
            assert_eq!(
                parse_resource(&media_playlist_uri(name)),
                Ok(Resource::MediaPlaylist { rendition: name })
            );
            assert_eq!(
                parse_resource(&init_uri(name, 7)),
                Ok(Resource::Init { rendition: name, version: 7 })
            );
            assert_eq!(
                parse_resource(&segment_uri(name, u64::MAX)),
                Ok(Resource::Segment { rendition: name, msn: u64::MAX })
            );
            assert_eq!(
                parse_resource(&part_uri(name, 0, u32::MAX)),
                Ok(Resource::Part { rendition: name, msn: 0, part: u32::MAX })
            );
        }
        assert_eq!(parse_resource(MULTIVARIANT_URI), Ok(Resource::Multivariant));
    }

    #[test]
    fn ts_builders_and_parser_agree() {
        for r in [
            TsResource::Multivariant,
            TsResource::MediaPlaylist,
            TsResource::Segment { msn: 0 },
            TsResource::Segment { msn: u64::MAX },
        ] {
            assert_eq!(parse_ts_resource(&r.uri()), Ok(r));
        }
        assert_eq!(ts_segment_uri(42), "42.ts");
        assert_eq!(parse_ts_resource("012.ts"), Err(ResourceError::BadNumber));
        assert_eq!(parse_ts_resource("-1.ts"), Err(ResourceError::BadNumber));
        assert_eq!(parse_ts_resource("video/1.ts"), Err(ResourceError::BadNumber));
        assert_eq!(parse_ts_resource("audio.m3u8"), Err(ResourceError::Unknown));
        assert_eq!(parse_ts_resource("1.m4s"), Err(ResourceError::Unknown));
        assert_eq!(parse_ts_resource(""), Err(ResourceError::Empty));
    }

    #[test]
    fn rendition_names_are_restricted() {
        assert!(is_valid_rendition_name("video"));
        assert!(!is_valid_rendition_name(""));
        assert!(!is_valid_rendition_name("index"));
        assert!(!is_valid_rendition_name("a.b"));
        assert!(!is_valid_rendition_name("a/b"));
        assert!(!is_valid_rendition_name(&"x".repeat(33)));
    }
}
