//! Sluice's LL-HLS engine: playlist text and blocking-request decisions, sans-IO.
//!
//! Where it sits: the hub keeps one [`TrackRing`](sluice_media::ring::TrackRing) per track; the
//! server's LL-HLS egress calls into this crate to
//!
//! - route a request path tail to a [`Resource`] ([`uri`]), with the same functions building
//!   every URI the playlists contain, so routing and rendering cannot disagree;
//! - render the multivariant playlist ([`multivariant`]) and media playlists, full or delta
//!   ([`media_playlist`]), once per change, for every waiting request to share;
//! - parse delivery directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`, [`directives`]) and decide
//!   whether a held request is ready, must keep waiting, or gets 400/503 ([`blocking`]);
//! - pick the `Cache-Control` and `Content-Type` headers ([`http`]);
//! - render the HLS-TS endpoint's classic version 3 playlists ([`ts_playlist`]).
//!
//! Nothing here reads a clock or touches a socket: how long a request has been held is an
//! argument, and the output is text. Spec references are to draft-pantos-hls-rfc8216bis-22.

pub mod blocking;
pub mod directives;
pub mod http;
pub mod media_playlist;
pub mod multivariant;
pub mod text;
pub mod ts_playlist;
pub mod uri;

pub use blocking::{Decision, block_limit_ms, decide};
pub use directives::{DirectiveError, Directives, Skip};
pub use http::{CacheKind, PLAYLIST_CONTENT_TYPE, cache_control, media_content_type};
pub use media_playlist::{MediaPlaylistContext, render_media_playlist};
pub use multivariant::{MultivariantInput, Rendition, render_multivariant};
pub use text::format_program_date_time;
pub use ts_playlist::{
    TsMultivariantInput, TsPlaylistContext, TsPlaylistSegment, render_ts_media_playlist,
    render_ts_multivariant, ts_playlist_target_duration, ts_target_duration,
};
pub use uri::{
    MULTIVARIANT_URI, Resource, ResourceError, TS_MEDIA_PLAYLIST_URI, TsResource, init_uri,
    is_valid_rendition_name, media_playlist_uri, parse_resource, parse_ts_resource, part_uri,
    segment_uri, ts_segment_uri,
};
