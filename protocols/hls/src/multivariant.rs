//! The multivariant playlist (`index.m3u8`): one variant stream made of the channel's video
//! rendition plus, when there is audio, an alternative audio rendition group.
//!
//! Rendered from the tracks' [`TrackInfo`]s and bandwidth figures the caller measures; it only
//! changes when a track's codec configuration or the advertised bandwidth does.

use sluice_media::TrackInfo;

use crate::text::quoted;
use crate::uri::media_playlist_uri;

/// GROUP-ID of the audio rendition group.
const AUDIO_GROUP: &str = "audio";

/// A rendition: its name (URIs derive from it, see [`crate::uri`]) and its track.
#[derive(Debug, Clone, Copy)]
pub struct Rendition<'a> {
    pub name: &'a str,
    pub track: &'a TrackInfo,
}

/// Everything the multivariant playlist says.
#[derive(Debug, Clone, Copy)]
pub struct MultivariantInput<'a> {
    pub video: Option<Rendition<'a>>,
    pub audio: Option<Rendition<'a>>,
    /// BANDWIDTH: peak segment bit rate of the variant (video + audio), bits/s. HLS §4.4.6.2:
    /// "the peak segment bit rate of the Variant Stream".
    pub bandwidth: u64,
    /// AVERAGE-BANDWIDTH, bits/s, when measured.
    pub average_bandwidth: Option<u64>,
    /// Every segment of every rendition starts with an independent frame (the fragmenter cuts
    /// video segments on keyframes; audio frames are all independent).
    pub independent_segments: bool,
}

/// Renders `index.m3u8`.
///
/// With video: an `EXT-X-STREAM-INF` pointing at the video rendition, and the audio rendition
/// (if any) as the `AUDIO` group's only, default member. Audio only: the `EXT-X-STREAM-INF`
/// points at the audio rendition. No `EXT-X-VERSION`: nothing here needs more than version 1
/// (HLS §8 "A Playlist that contains tags or attributes that are not compatible with protocol
/// version 1 MUST include an EXT-X-VERSION tag", and these are all compatible).
pub fn render_multivariant(input: &MultivariantInput<'_>) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("#EXTM3U\n");
    if input.independent_segments {
        // HLS §4.4.2.1: "all media samples in a Media Segment can be decoded without
        // information from other segments"; in the multivariant playlist it applies to every
        // Media Playlist.
        out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    }

    let main = input.video.or(input.audio);
    let Some(main) = main else {
        return out;
    };
    let audio_group = input.video.and(input.audio);

    if let Some(audio) = audio_group {
        // HLS §4.4.6.1: TYPE, GROUP-ID and NAME are REQUIRED; "If the AUTOSELECT attribute is
        // present, its value MUST be YES if the value of the DEFAULT attribute is YES."
        out.push_str("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=");
        out.push_str(&quoted(AUDIO_GROUP));
        out.push_str(",NAME=");
        out.push_str(&quoted(audio.name));
        out.push_str(",DEFAULT=YES,AUTOSELECT=YES");
        if let Some(channels) = channels(audio.track) {
            out.push_str(&format!(",CHANNELS=\"{channels}\""));
        }
        out.push_str(",URI=");
        out.push_str(&quoted(&media_playlist_uri(audio.name)));
        out.push('\n');
    }

    out.push_str(&format!("#EXT-X-STREAM-INF:BANDWIDTH={}", input.bandwidth));
    if let Some(avg) = input.average_bandwidth {
        out.push_str(&format!(",AVERAGE-BANDWIDTH={avg}"));
    }
    // HLS §6.2.4: CODECS "MUST include every media format [RFC6381] present in any Media
    // Segment in any of the Renditions specified by the Variant Stream".
    let codecs: Vec<String> =
        [input.video, input.audio].iter().flatten().map(|r| r.track.codec_string()).collect();
    out.push_str(",CODECS=");
    out.push_str(&quoted(&codecs.join(",")));
    if let Some(video) = input.video {
        if let Some((w, h)) = resolution(video.track) {
            out.push_str(&format!(",RESOLUTION={w}x{h}"));
        }
        if let Some(rate) = frame_rate(video.track) {
            // HLS §4.4.6.2: "a decimal-floating-point describing the maximum frame rate for all
            // the video in the Variant Stream, rounded to three decimal places".
            out.push_str(&format!(",FRAME-RATE={rate}"));
        }
    }
    if audio_group.is_some() {
        out.push_str(",AUDIO=");
        out.push_str(&quoted(AUDIO_GROUP));
    }
    out.push('\n');
    out.push_str(&media_playlist_uri(main.name));
    out.push('\n');
    out
}

fn resolution(track: &TrackInfo) -> Option<(u32, u32)> {
    track.codec.video_size().filter(|&(w, h)| w > 0 && h > 0)
}

/// Frame rate rounded to three decimals, from integer (num, den).
fn frame_rate(track: &TrackInfo) -> Option<String> {
    if let Some((num, den)) = track.codec.frame_rate()
        && num > 0
        && den > 0
    {
        let milli = (u64::from(num) * 1000 + u64::from(den) / 2) / u64::from(den);
        return Some(format!("{}.{:03}", milli / 1000, milli % 1000));
    }
    None
}

/// CHANNELS for an audio rendition (AAC or Opus): HLS §4.4.6.1 "The first parameter is a
/// count of audio channels expressed as a decimal-integer, indicating the maximum number of
/// independent, simultaneous audio channels present in any Media Segment in the Rendition."
/// Left out when the config does not state it (AAC channelConfiguration 0, "defined
/// elsewhere").
fn channels(track: &TrackInfo) -> Option<u8> {
    track.codec.audio_channels()
}
