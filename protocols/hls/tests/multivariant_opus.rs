//! Multivariant playlists of a WHIP-style source whose audio is Opus: CODECS says `opus` and the
//! audio rendition carries CHANNELS from the Opus configuration, exactly as for AAC.

mod common;

use common::h264_track;
use sluice_hls::{MultivariantInput, Rendition, render_multivariant};
use sluice_media::codec::opus::OpusConfig;
use sluice_media::track::{AUDIO_TRACK, CodecConfig, MediaKind, TrackInfo};

fn opus_track(channels: u8) -> TrackInfo {
    TrackInfo {
        id: AUDIO_TRACK,
        kind: MediaKind::Audio,
        timescale: 48_000,
        codec: CodecConfig::Opus(OpusConfig::from_channels(channels).expect("mono or stereo")),
    }
}

#[test]
fn video_with_opus_audio_group_lists_opus_and_its_channels() {
    let video = h264_track(1280, 720, Some((30, 1)));
    let audio = opus_track(2);
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
#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,CODECS=\"avc1.64001f,opus\",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO=\"audio\"
video.m3u8
";
    assert_eq!(text, expected);
}

#[test]
fn opus_only_variant_points_at_the_audio_playlist() {
    let audio = opus_track(1);
    let text = render_multivariant(&MultivariantInput {
        video: None,
        audio: Some(Rendition { name: "audio", track: &audio }),
        bandwidth: 64_000,
        average_bandwidth: None,
        independent_segments: true,
    });
    let expected = "\
#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"opus\"
audio.m3u8
";
    assert_eq!(text, expected);
}
