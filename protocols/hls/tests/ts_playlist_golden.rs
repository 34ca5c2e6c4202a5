//! Golden HLS-TS (version 3) playlists: the exact text a client of the TS endpoint receives.

mod common;

use common::{BASE_MS, aac_track, h264_track};
use sluice_hls::{
    TsMultivariantInput, TsPlaylistContext, TsPlaylistSegment, render_ts_media_playlist,
    render_ts_multivariant,
};

/// Segments 7–11 of 2 s (10 is 2.002 s, 11 follows a discontinuity), 90 kHz.
fn segments() -> Vec<TsPlaylistSegment> {
    let mut t = 14 * 90_000i64;
    [
        (7, 180_000, false),
        (8, 180_000, false),
        (9, 180_000, false),
        (10, 180_180, false),
        (11, 180_000, true),
    ]
    .into_iter()
    .map(|(msn, duration, discontinuity)| {
        let s = TsPlaylistSegment {
            msn,
            duration,
            program_date_time_ms: BASE_MS + t / 90,
            discontinuity,
        };
        t += duration as i64;
        s
    })
    .collect()
}

fn ctx(window: usize, ended: bool) -> TsPlaylistContext {
    TsPlaylistContext {
        timescale: 90_000,
        target_duration: 3,
        window,
        discontinuities_before: 2,
        ended,
    }
}

#[test]
fn live_playlist_lists_the_newest_segments_with_dates() {
    let text = render_ts_media_playlist(&segments(), &ctx(4, false));
    let expected = "\
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:3
#EXT-X-MEDIA-SEQUENCE:8
#EXT-X-DISCONTINUITY-SEQUENCE:2
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:36.000Z
#EXTINF:2.00000,
8.ts
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:38.000Z
#EXTINF:2.00000,
9.ts
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:40.000Z
#EXTINF:2.00200,
10.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:42.002Z
#EXTINF:2.00000,
11.ts
";
    assert_eq!(text, expected);
}

#[test]
fn ended_playlist_closes_with_endlist_and_counts_passed_discontinuities() {
    // Only the last segment listed: the discontinuity on 11 is its own, not one before it.
    let text = render_ts_media_playlist(&segments(), &ctx(1, true));
    let expected = "\
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:3
#EXT-X-MEDIA-SEQUENCE:11
#EXT-X-DISCONTINUITY-SEQUENCE:2
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:42.002Z
#EXTINF:2.00000,
11.ts
#EXT-X-ENDLIST
";
    assert_eq!(text, expected);
}

#[test]
fn empty_playlist_has_only_the_header() {
    let text = render_ts_media_playlist(&[], &ctx(4, false));
    assert_eq!(
        text,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n"
    );
}

#[test]
fn muxed_variant_lists_both_codecs_and_points_at_video_m3u8() {
    let video = h264_track(1280, 720, Some((30, 1)));
    let audio = aac_track(2);
    let text = render_ts_multivariant(&TsMultivariantInput {
        video: Some(&video),
        audio: Some(&audio),
        bandwidth: 2_500_000,
        average_bandwidth: Some(2_000_000),
    });
    let expected = "\
#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000
video.m3u8
";
    assert_eq!(text, expected);
}

#[test]
fn video_only_and_audio_only_variants() {
    let video = h264_track(1920, 1080, Some((30_000, 1001)));
    let text = render_ts_multivariant(&TsMultivariantInput {
        video: Some(&video),
        audio: None,
        bandwidth: 6_000_000,
        average_bandwidth: None,
    });
    assert_eq!(
        text,
        "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=6000000,CODECS=\"avc1.64001f\",RESOLUTION=1920x1080,FRAME-RATE=29.970\nvideo.m3u8\n"
    );
    let audio = aac_track(1);
    let text = render_ts_multivariant(&TsMultivariantInput {
        video: None,
        audio: Some(&audio),
        bandwidth: 131_000,
        average_bandwidth: None,
    });
    assert_eq!(
        text,
        "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=131000,CODECS=\"mp4a.40.2\"\nvideo.m3u8\n"
    );
    let none = render_ts_multivariant(&TsMultivariantInput {
        video: None,
        audio: None,
        bandwidth: 0,
        average_bandwidth: None,
    });
    assert_eq!(none, "#EXTM3U\n");
}
