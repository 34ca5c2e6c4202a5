//! Golden media playlists for hand-built rings: the exact text a client receives.

mod common;

use common::{Seg, ring};
use sluice_hls::{MediaPlaylistContext, render_media_playlist};
use sluice_media::ring::Position;

const P: u64 = 45_000; // 0.5 s at 90 kHz

fn video_ctx(window: usize) -> MediaPlaylistContext {
    MediaPlaylistContext {
        rendition: "video".into(),
        target_duration: 2,
        part_target: 0.5,
        window,
        rendition_reports: vec![("audio.m3u8".into(), Position { msn: 25, part: 1 })],
        ended: false,
    }
}

/// Segments 20–24 complete (24 after a discontinuity with a new init, 23 ending on a short
/// part), 25 open with two parts.
fn live_video_ring() -> sluice_media::ring::TrackRing {
    ring(
        90_000,
        0,
        &[
            Seg::new(20, &[P, P, P, P]),
            Seg::new(21, &[P, P, P, P]),
            Seg::new(22, &[P, P, P, P]),
            Seg::new(23, &[P, P, P, 27_000]).keyframes(&[2]),
            Seg::new(24, &[P, P, P, P]).discontinuity_with_new_init(),
            Seg::new(25, &[P, P]).open(),
        ],
    )
}

#[test]
fn live_playlist_lists_parts_of_segments_starting_within_three_target_durations() {
    let text = render_media_playlist(&live_video_ring(), &video_ctx(5), false);
    let expected = "\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.5
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-MEDIA-SEQUENCE:21
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-MAP:URI=\"video/init-0.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:22.000Z
#EXTINF:2.00000,
video/21.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:24.000Z
#EXTINF:2.00000,
video/22.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:26.000Z
#EXT-X-PART:DURATION=0.50000,URI=\"video/23.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI=\"video/23.1.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/23.2.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.30000,URI=\"video/23.3.m4s\"
#EXTINF:1.80000,
video/23.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI=\"video/init-1.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:27.800Z
#EXT-X-PART:DURATION=0.50000,URI=\"video/24.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI=\"video/24.1.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/24.2.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/24.3.m4s\"
#EXTINF:2.00000,
video/24.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:29.800Z
#EXT-X-PART:DURATION=0.50000,URI=\"video/25.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI=\"video/25.1.m4s\"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"video/25.2.m4s\"
#EXT-X-RENDITION-REPORT:URI=\"audio.m3u8\",LAST-MSN=25,LAST-PART=1
";
    assert_eq!(text, expected);
}

#[test]
fn discontinuity_sequence_counts_discontinuities_that_left_the_window() {
    // Window of 1: only the open segment 25 is listed; the discontinuity at 24 precedes it.
    let text = render_media_playlist(&live_video_ring(), &video_ctx(1), false);
    assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:25\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
    // The init in force is written before the first listed segment.
    assert!(text.contains(
        "#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-MAP:URI=\"video/init-1.mp4\"\n\
         #EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:29.800Z\n"
    ));
    assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
}

#[test]
fn completed_last_segment_hints_part_zero_of_the_next_and_a_new_init() {
    let mut r = ring(90_000, 0, &[Seg::new(0, &[P, P]), Seg::new(1, &[P, P])]);
    let mut ctx = video_ctx(5);
    ctx.rendition_reports.clear();
    let text = render_media_playlist(&r, &ctx, false);
    assert!(text.ends_with(
        "#EXTINF:1.00000,\nvideo/1.m4s\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"video/2.0.m4s\"\n"
    ));

    // A codec change registered before segment 2 opens: its first part needs init 1.
    r.push_init(bytes::Bytes::from_static(b"init-1"));
    let text = render_media_playlist(&r, &ctx, false);
    assert!(text.ends_with(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"video/2.0.m4s\"\n\
         #EXT-X-PRELOAD-HINT:TYPE=MAP,URI=\"video/init-1.mp4\"\n"
    ));

    // Segment 2 opened but has no part yet: not listed, still hinted.
    r.begin_segment(2, 180_000, common::BASE_MS + 2000, true).unwrap();
    let opened = render_media_playlist(&r, &ctx, false);
    assert_eq!(opened, text);
}

#[test]
fn ended_playlist_has_endlist_and_no_hint_and_ignores_delta() {
    let r = ring(90_000, 0, &(0..12).map(|m| Seg::new(m, &[P, P, P, P])).collect::<Vec<_>>());
    let mut ctx = video_ctx(3);
    ctx.ended = true;
    ctx.rendition_reports = vec![("audio.m3u8".into(), Position { msn: 11, part: 3 })];
    let full = render_media_playlist(&r, &ctx, false);
    let expected = "\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.5
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-MEDIA-SEQUENCE:9
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-MAP:URI=\"video/init-0.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:38.000Z
#EXT-X-PART:DURATION=0.50000,URI=\"video/9.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI=\"video/9.1.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/9.2.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/9.3.m4s\"
#EXTINF:2.00000,
video/9.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:40.000Z
#EXT-X-PART:DURATION=0.50000,URI=\"video/10.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI=\"video/10.1.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/10.2.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/10.3.m4s\"
#EXTINF:2.00000,
video/10.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:42.000Z
#EXT-X-PART:DURATION=0.50000,URI=\"video/11.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI=\"video/11.1.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/11.2.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/11.3.m4s\"
#EXTINF:2.00000,
video/11.m4s
#EXT-X-RENDITION-REPORT:URI=\"audio.m3u8\",LAST-MSN=11,LAST-PART=3
#EXT-X-ENDLIST
";
    assert_eq!(full, expected);
    // HLS §6.2.5.1: _HLS_skip is ignored when the playlist has EXT-X-ENDLIST.
    let mut long = ctx.clone();
    long.window = 12;
    assert_eq!(render_media_playlist(&r, &long, true), render_media_playlist(&r, &long, false));
}

/// Segments 100–108 of 2 s (102 after a discontinuity with a new init), 109 open with one part.
fn long_ring(change_at: u64) -> sluice_media::ring::TrackRing {
    let segs: Vec<Seg<'_>> = (100..110)
        .map(|m| {
            let s = Seg::new(m, if m == 109 { &[P] } else { &[P, P, P, P] });
            let s = if m == change_at { s.discontinuity_with_new_init() } else { s };
            if m == 109 { s.open() } else { s }
        })
        .collect();
    ring(90_000, 0, &segs)
}

#[test]
fn delta_update_skips_segments_beyond_the_skip_boundary_with_their_tags() {
    let r = long_ring(102);
    let mut ctx = video_ctx(10);
    ctx.rendition_reports = vec![("audio.m3u8".into(), Position { msn: 109, part: 0 })];
    let delta = render_media_playlist(&r, &ctx, true);
    // Media after the end of segment N: 0.5 s (109) + 2 s per complete segment after N.
    // 100, 101 and 102 end more than 12 s (6 × TD) before the end of the playlist.
    let expected = "\
#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.5
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-SKIP:SKIPPED-SEGMENTS=3
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:26.000Z
#EXTINF:2.00000,
video/103.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:28.000Z
#EXTINF:2.00000,
video/104.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:30.000Z
#EXTINF:2.00000,
video/105.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:32.000Z
#EXTINF:2.00000,
video/106.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:34.000Z
#EXT-X-PART:DURATION=0.50000,URI=\"video/107.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI=\"video/107.1.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/107.2.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/107.3.m4s\"
#EXTINF:2.00000,
video/107.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:36.000Z
#EXT-X-PART:DURATION=0.50000,URI=\"video/108.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI=\"video/108.1.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/108.2.m4s\"
#EXT-X-PART:DURATION=0.50000,URI=\"video/108.3.m4s\"
#EXTINF:2.00000,
video/108.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:38.000Z
#EXT-X-PART:DURATION=0.50000,URI=\"video/109.0.m4s\",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"video/109.1.m4s\"
#EXT-X-RENDITION-REPORT:URI=\"audio.m3u8\",LAST-MSN=109,LAST-PART=0
";
    assert_eq!(delta, expected);
}

#[test]
fn delta_update_keeps_a_map_that_changes_at_the_first_unskipped_segment() {
    let r = long_ring(103);
    let delta = render_media_playlist(&r, &video_ctx(10), true);
    assert!(delta.contains(
        "#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXT-X-DISCONTINUITY\n\
         #EXT-X-MAP:URI=\"video/init-1.mp4\"\n#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:26.000Z\n"
    ));
    // The discontinuity sequence is that of the first segment of the full playlist (100).
    assert!(delta.contains("#EXT-X-DISCONTINUITY-SEQUENCE:0\n"));
}

#[test]
fn delta_request_on_a_short_playlist_returns_the_full_playlist() {
    let r = long_ring(102);
    let ctx = video_ctx(5); // 105–109: 8.5 s, nothing beyond the 12 s skip boundary
    assert_eq!(render_media_playlist(&r, &ctx, true), render_media_playlist(&r, &ctx, false));
}

#[test]
fn audio_playlist_marks_every_part_independent_and_reports_video() {
    // 48 kHz audio, parts of ten AAC frames (10 240 ticks = 0.21333 s).
    const A: u64 = 10_240;
    let mut r = ring(48_000, 0, &[Seg::new(7, &[A, A, A]).keyframes(&[1, 2])]);
    r.begin_segment(8, 3 * A as i64, common::BASE_MS + 640, false).unwrap();
    r.push_part(sluice_media::ring::Part {
        start_dts: 3 * A as i64,
        duration: A,
        independent: true,
        data: bytes::Bytes::from_static(b"moof+mdat"),
    })
    .unwrap();
    let ctx = MediaPlaylistContext {
        rendition: "audio".into(),
        target_duration: 1,
        part_target: 0.25,
        window: 4,
        rendition_reports: vec![("video.m3u8".into(), Position { msn: 8, part: 0 })],
        ended: false,
    };
    let expected = "\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.0,PART-HOLD-BACK=0.75
#EXT-X-PART-INF:PART-TARGET=0.25
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-MAP:URI=\"audio/init-0.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z
#EXT-X-PART:DURATION=0.21333,URI=\"audio/7.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.21333,URI=\"audio/7.1.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.21333,URI=\"audio/7.2.m4s\",INDEPENDENT=YES
#EXTINF:0.64000,
audio/7.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.640Z
#EXT-X-PART:DURATION=0.21333,URI=\"audio/8.0.m4s\",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"audio/8.1.m4s\"
#EXT-X-RENDITION-REPORT:URI=\"video.m3u8\",LAST-MSN=8,LAST-PART=0
";
    assert_eq!(render_media_playlist(&r, &ctx, false), expected);
}

#[test]
fn parts_stay_on_the_last_three_segments_counting_the_hinted_one() {
    let mut r = ring(90_000, 0, &(0..5).map(|m| Seg::new(m, &[P, P, P, P])).collect::<Vec<_>>());
    let ctx = video_ctx(5);
    let with_parts = |text: &str| -> Vec<u64> {
        (0..6).filter(|m| text.contains(&format!("URI=\"video/{m}.0.m4s\",INDEPENDENT"))).collect()
    };
    // Last segment complete: the hint opens segment 5, so parts are listed for 3 and 4 only.
    let text = render_media_playlist(&r, &ctx, false);
    assert_eq!(with_parts(&text), [3, 4]);
    assert!(text.contains("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"video/5.0.m4s\"\n"));
    // Part 0 of 5 published: 3, 4 and the open 5.
    r.begin_segment(5, 5 * 4 * P as i64, common::BASE_MS + 10_000, false).unwrap();
    r.push_part(sluice_media::ring::Part {
        start_dts: 5 * 4 * P as i64,
        duration: P,
        independent: true,
        data: bytes::Bytes::from_static(b"moof+mdat"),
    })
    .unwrap();
    assert_eq!(with_parts(&render_media_playlist(&r, &ctx, false)), [3, 4, 5]);
    // Ended (no hint): the last three complete segments.
    r.complete_segment();
    let ended = MediaPlaylistContext { ended: true, ..ctx };
    assert_eq!(with_parts(&render_media_playlist(&r, &ended, false)), [3, 4, 5]);
}
