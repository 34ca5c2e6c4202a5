//! Classic HLS playlists for the MPEG-TS endpoint (`/{group}/{channel}/ts/`): protocol
//! version 3, whole segments only, no LL-HLS tags, no parts, no EXT-X-MAP (every segment
//! carries its own PAT/PMT, HLS §3.1.1).
//!
//! - [`render_ts_multivariant`]: `index.m3u8`, one variant with audio and video muxed in the
//!   same segments, pointing at `video.m3u8`.
//! - [`render_ts_media_playlist`]: `video.m3u8`, listing `{msn}.ts` segments.
//!
//! Layout of the media playlist:
//!
//! ```text
//! #EXTM3U / VERSION:3 / TARGETDURATION / MEDIA-SEQUENCE / DISCONTINUITY-SEQUENCE
//! per segment: [DISCONTINUITY] PROGRAM-DATE-TIME EXTINF URI
//! [ENDLIST]
//! ```
//!
//! Version 3 is what decimal EXTINF durations need (HLS §8 lists floating-point EXTINF values
//! under protocol version 3) and nothing here needs more; §6.2.1: "The value of the
//! EXT-X-VERSION tag SHOULD NOT be greater than what is required".

use sluice_media::TrackInfo;
use sluice_media::track::MediaKind;

use crate::text::{format_program_date_time, quoted, secs_fixed};
use crate::uri::{TS_MEDIA_PLAYLIST_URI, ts_segment_uri};

/// Decimals of EXTINF (as the LL-HLS playlists print them).
const DURATION_DECIMALS: u32 = 5;

/// One complete TS segment as the media playlist lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsPlaylistSegment {
    pub msn: u64,
    /// Duration in [`TsPlaylistContext::timescale`] ticks.
    pub duration: u64,
    /// Wall-clock time of the segment's first frame, Unix milliseconds.
    pub program_date_time_ms: i64,
    /// The segment starts after a discontinuity (new timeline, codec or encoder).
    pub discontinuity: bool,
}

/// Settings a TS media playlist is rendered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsPlaylistContext {
    /// Ticks per second of the segments' durations (90 000 for the TS endpoint).
    pub timescale: u32,
    /// EXT-X-TARGETDURATION, seconds. It "MUST NOT change" between reloads (§6.2.1), so the
    /// caller fixes it from its segment target with [`ts_target_duration`]; a listed segment
    /// longer than it still raises it (a changed target is the lesser fault than an EXTINF
    /// above it).
    pub target_duration: u32,
    /// How many segments (the newest) to list.
    pub window: usize,
    /// Discontinuities on segments that are no longer among those passed in (dropped from the
    /// caller's store), so EXT-X-DISCONTINUITY-SEQUENCE keeps counting.
    pub discontinuities_before: u64,
    /// The stream is over: EXT-X-ENDLIST.
    pub ended: bool,
}

/// EXT-X-TARGETDURATION for segments up to `max_duration` ticks: the ceiling of the duration in
/// seconds, at least 1.
///
/// HLS §4.4.3.1: "The EXTINF duration of each Media Segment in a Playlist file, when rounded to
/// the nearest integer, MUST be less than or equal to the Target Duration"; before protocol
/// version 6 the duration was not rounded (RULES TS-08), so a version 3 playlist takes the
/// ceiling, which is valid under both readings. Computed on the EXTINF as printed.
pub fn ts_target_duration(max_duration: u64, timescale: u32) -> u32 {
    let printed = extinf(max_duration, timescale);
    let (int, frac) = printed.split_once('.').unwrap_or((printed.as_str(), ""));
    let int: u64 = int.parse().unwrap_or(u64::MAX);
    let ceil = if frac.bytes().any(|b| b != b'0') { int.saturating_add(1) } else { int };
    u32::try_from(ceil.max(1)).unwrap_or(u32::MAX)
}

fn extinf(duration: u64, timescale: u32) -> String {
    secs_fixed(duration, timescale, DURATION_DECIMALS)
}

/// The segments [`render_ts_media_playlist`] lists: the newest `ctx.window`.
fn listed<'a>(
    segments: &'a [TsPlaylistSegment],
    ctx: &TsPlaylistContext,
) -> &'a [TsPlaylistSegment] {
    &segments[segments.len().saturating_sub(ctx.window.max(1))..]
}

/// The EXT-X-TARGETDURATION [`render_ts_media_playlist`] writes for these inputs:
/// `ctx.target_duration`, raised to [`ts_target_duration`] of any listed segment longer than it
/// (HTTP caching headers derive from it).
pub fn ts_playlist_target_duration(segments: &[TsPlaylistSegment], ctx: &TsPlaylistContext) -> u32 {
    listed(segments, ctx)
        .iter()
        .map(|s| ts_target_duration(s.duration, ctx.timescale))
        .fold(ctx.target_duration.max(1), u32::max)
}

/// Renders `video.m3u8`. `segments` are the complete segments kept, oldest first, with
/// consecutive media sequence numbers; the newest `ctx.window` are listed.
pub fn render_ts_media_playlist(segments: &[TsPlaylistSegment], ctx: &TsPlaylistContext) -> String {
    let listed = listed(segments, ctx);
    let skip = segments.len() - listed.len();
    // HLS §4.4.3.3: EXT-X-DISCONTINUITY-SEQUENCE is the discontinuity sequence number of the
    // first listed segment: every discontinuity before it counts (as TrackRing counts them).
    let sequence = ctx.discontinuities_before
        + segments[..skip].iter().filter(|s| s.discontinuity).count() as u64;
    let target = ts_playlist_target_duration(segments, ctx);
    let first_msn = listed.first().map_or(0, |s| s.msn);

    let mut out = String::with_capacity(160 + listed.len() * 96);
    out.push_str("#EXTM3U\n#EXT-X-VERSION:3\n");
    out.push_str(&format!("#EXT-X-TARGETDURATION:{target}\n"));
    out.push_str(&format!("#EXT-X-MEDIA-SEQUENCE:{first_msn}\n"));
    out.push_str(&format!("#EXT-X-DISCONTINUITY-SEQUENCE:{sequence}\n"));
    for seg in listed {
        if seg.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        // §4.4.4.6: the date "SHOULD indicate a time zone and fractional parts of seconds";
        // on every segment so a client maps each one to wall-clock time without summing
        // EXTINFs (hls.js's playingDate, latency figures).
        out.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:{}\n",
            format_program_date_time(seg.program_date_time_ms)
        ));
        out.push_str(&format!(
            "#EXTINF:{},\n{}\n",
            extinf(seg.duration, ctx.timescale),
            ts_segment_uri(seg.msn)
        ));
    }
    if ctx.ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// Everything the TS multivariant playlist says.
#[derive(Debug, Clone, Copy)]
pub struct TsMultivariantInput<'a> {
    pub video: Option<&'a TrackInfo>,
    pub audio: Option<&'a TrackInfo>,
    /// BANDWIDTH, bits/s: "the peak segment bit rate of the Variant Stream" (§4.4.6.2).
    pub bandwidth: u64,
    /// AVERAGE-BANDWIDTH, bits/s, when measured.
    pub average_bandwidth: Option<u64>,
}

/// Renders `index.m3u8` for the TS endpoint: one `EXT-X-STREAM-INF` whose segments carry
/// both tracks, so CODECS lists both and there is no rendition group. Empty (just `#EXTM3U`)
/// without tracks. Every segment starts with PAT/PMT and, for video, a keyframe with its
/// parameter sets, hence EXT-X-INDEPENDENT-SEGMENTS.
pub fn render_ts_multivariant(input: &TsMultivariantInput<'_>) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("#EXTM3U\n");
    let tracks: Vec<&TrackInfo> = [input.video, input.audio].into_iter().flatten().collect();
    if tracks.is_empty() {
        return out;
    }
    // §4.4.2.1: "all media samples in a Media Segment can be decoded without information
    // from other segments".
    out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    out.push_str(&format!("#EXT-X-STREAM-INF:BANDWIDTH={}", input.bandwidth));
    if let Some(avg) = input.average_bandwidth {
        out.push_str(&format!(",AVERAGE-BANDWIDTH={avg}"));
    }
    // §6.2.4: CODECS "MUST include every media format [RFC6381] present in any Media Segment";
    // RULES TS-10: it matches the PMT's stream types (avc1/hvc1 for 0x1B/0x24, mp4a for 0x0F).
    let codecs: Vec<String> = tracks.iter().map(|t| t.codec_string()).collect();
    out.push_str(",CODECS=");
    out.push_str(&quoted(&codecs.join(",")));
    if let Some(video) = input.video.filter(|t| t.kind == MediaKind::Video) {
        if let Some((w, h)) = video.codec.video_size().filter(|&(w, h)| w > 0 && h > 0) {
            out.push_str(&format!(",RESOLUTION={w}x{h}"));
        }
        if let Some((num, den)) = video.codec.frame_rate().filter(|&(n, d)| n > 0 && d > 0) {
            // §4.4.6.2: "rounded to three decimal places".
            out.push_str(&format!(",FRAME-RATE={}", secs_fixed(u64::from(num), den, 3)));
        }
    }
    out.push('\n');
    out.push_str(TS_MEDIA_PLAYLIST_URI);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_duration_is_the_ceiling_of_the_printed_extinf() {
        assert_eq!(ts_target_duration(180_000, 90_000), 2);
        assert_eq!(ts_target_duration(180_001, 90_000), 3);
        // 2.000004 s prints as 2.00000: the text a client compares stays ≤ 2.
        assert_eq!(ts_target_duration(2_000_004, 1_000_000), 2);
        assert_eq!(ts_target_duration(2_000_005, 1_000_000), 3);
        assert_eq!(ts_target_duration(0, 90_000), 1);
        assert_eq!(ts_target_duration(u64::MAX, 1), u32::MAX);
    }
}
