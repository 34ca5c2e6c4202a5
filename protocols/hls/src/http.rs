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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetimes_follow_the_low_latency_profile() {
        let cc = |k| cache_control(k, 2);
        assert_eq!(cc(CacheKind::BlockingPlaylist), "max-age=12");
        assert_eq!(cc(CacheKind::BlockingPlaylistError), "max-age=8");
        assert_eq!(cc(CacheKind::Playlist), "max-age=1");
        assert_eq!(cc(CacheKind::PlaylistError), "max-age=2");
        assert_eq!(cc(CacheKind::Media), "max-age=12");
        assert_eq!(cc(CacheKind::MediaError), "max-age=2");
        assert_eq!(cache_control(CacheKind::Playlist, 3), "max-age=2");
        assert_eq!(cache_control(CacheKind::Playlist, 6), "max-age=3");
        assert_eq!(cache_control(CacheKind::Playlist, 0), "max-age=1");
    }

    #[test]
    fn content_types() {
        assert_eq!(PLAYLIST_CONTENT_TYPE, "application/vnd.apple.mpegurl");
        assert_eq!(media_content_type(MediaKind::Video), "video/mp4");
        assert_eq!(media_content_type(MediaKind::Audio), "audio/mp4");
    }
}
