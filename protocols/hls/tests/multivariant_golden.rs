//! Golden multivariant playlists.

mod common;

use common::{aac_track, h264_track};
use sluice_hls::{MultivariantInput, Rendition, render_multivariant};

#[test]
fn video_with_audio_group() {
    let video = h264_track(1280, 720, Some((30, 1)));
    let audio = aac_track(2);
    let text = render_multivariant(&MultivariantInput {
        video: Some(Rendition { name: "video", track: &video }),
        audio: Some(Rendition { name: "audio", track: &audio }),
        bandwidth: 2_500_000,
        average_bandwidth: Some(2_000_000),
        independent_segments: true,
    });
    let expected = "\
#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio.m3u8\"
#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO=\"audio\"
video.m3u8
";
    assert_eq!(text, expected);
}

#[test]
fn audio_only_variant_points_at_the_audio_playlist() {
    let audio = aac_track(1);
    let text = render_multivariant(&MultivariantInput {
        video: None,
        audio: Some(Rendition { name: "audio", track: &audio }),
        bandwidth: 131_000,
        average_bandwidth: None,
        independent_segments: true,
    });
    let expected = "\
#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=131000,CODECS=\"mp4a.40.2\"
audio.m3u8
";
    assert_eq!(text, expected);
}

#[test]
fn video_only_variant_with_ntsc_rate_and_no_independence_claim() {
    let video = h264_track(1920, 1080, Some((30_000, 1001)));
    let text = render_multivariant(&MultivariantInput {
        video: Some(Rendition { name: "video", track: &video }),
        audio: None,
        bandwidth: 6_000_000,
        average_bandwidth: None,
        independent_segments: false,
    });
    let expected = "\
#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=6000000,CODECS=\"avc1.64001f\",RESOLUTION=1920x1080,FRAME-RATE=29.970
video.m3u8
";
    assert_eq!(text, expected);
}

#[test]
fn unknown_size_rate_and_channels_are_left_out() {
    let video = h264_track(0, 0, None);
    let audio = aac_track(0);
    let text = render_multivariant(&MultivariantInput {
        video: Some(Rendition { name: "video", track: &video }),
        audio: Some(Rendition { name: "audio", track: &audio }),
        bandwidth: 1,
        average_bandwidth: None,
        independent_segments: true,
    });
    assert!(!text.contains("RESOLUTION"));
    assert!(!text.contains("FRAME-RATE"));
    assert!(!text.contains("CHANNELS"));
    assert!(text.contains("AUDIO=\"audio\"\nvideo.m3u8\n"));
}

#[test]
fn no_tracks_renders_only_the_header() {
    let text = render_multivariant(&MultivariantInput {
        video: None,
        audio: None,
        bandwidth: 0,
        average_bandwidth: None,
        independent_segments: false,
    });
    assert_eq!(text, "#EXTM3U\n");
}
