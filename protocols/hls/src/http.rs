//! HTTP header values for LL-HLS responses: `Content-Type` per resource and `Cache-Control`
//! lifetimes from the Low-Latency Server Configuration Profile (HLS Appendix B.1).

use sluice_media::MediaKind;

/// HLS §4 / IANA registration: playlists are `application/vnd.apple.mpegurl` (mediastreamvalidator
/// rejects `application/x-mpegURL`).
pub const PLAYLIST_CONTENT_TYPE: &str = "application/vnd.apple.mpegurl";

/// `Content-Type` of a track's init segment, segments and parts (fMP4).
pub fn media_content_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Video => "video/mp4",
        MediaKind::Audio => "audio/mp4",
    }
}

/// Which response a `Cache-Control` value is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKind {
    /// 200 to a playlist request with `_HLS_msn`.
    BlockingPlaylist,
    /// Error (404, 400, 503) to a playlist request with `_HLS_msn`.
    BlockingPlaylistError,
    /// 200 to a playlist request without `_HLS_msn` (including the multivariant playlist).
    Playlist,
    /// Error to a playlist request without `_HLS_msn`.
    PlaylistError,
    /// 200 with an init segment, segment or part (immutable at its URI).
    Media,
    /// Error to an init segment, segment or part request.
    MediaError,
}

/// `Cache-Control` value for `kind` (`max-age` in whole seconds, at least 1).
///
/// HLS Appendix B.1: "Successful responses to blocking Playlist requests should be cached for
/// six Target Durations. Unsuccessful responses (such as 404s) should be cached for four Target
/// Durations. Successful responses to non-blocking Playlist requests should be cached for half
/// the Target Duration. Unsuccessful responses to non-blocking Playlist requests should be
/// cached for for one Target Duration." and "Successful responses to blocking Media Segment
/// requests should be cached for six Target Durations. Unsuccessful responses should be cached
/// for one Target Duration." Half a Target Duration is rounded half up.
pub fn cache_control(kind: CacheKind, target_duration: u32) -> String {
    let td = u64::from(target_duration);
    let secs = match kind {
        CacheKind::BlockingPlaylist | CacheKind::Media => 6 * td,
        CacheKind::BlockingPlaylistError => 4 * td,
        CacheKind::Playlist => td.div_ceil(2),
        CacheKind::PlaylistError | CacheKind::MediaError => td,
    };
    format!("max-age={}", secs.max(1))
}
