//! LL-HLS media playlists (`{rendition}.m3u8`), full or as a Playlist Delta Update, rendered
//! from one track's [`TrackRing`].
//!
//! The playlist lists the newest `window` segments of the ring (the ring keeps more, for the
//! availability window of HLS §6.2.2). Layout:
//!
//! ```text
//! #EXTM3U / VERSION / TARGETDURATION / SERVER-CONTROL / PART-INF / MEDIA-SEQUENCE /
//! DISCONTINUITY-SEQUENCE / [SKIP]
//! per segment: [DISCONTINUITY] [MAP] PROGRAM-DATE-TIME [PART…] [EXTINF + URI if complete]
//! PRELOAD-HINT (unless ended) / RENDITION-REPORT… / [ENDLIST]
//! ```
//!
//! Every header value derives from the context alone, so it is identical on every reload
//! (LLHLS-PI-02, HLS §6.2.1).

use std::sync::Arc;

use sluice_media::ring::{Position, Segment, TrackRing};

use crate::text::{format_program_date_time, quoted, secs_fixed, secs_to_units, units_trimmed};
use crate::uri::{init_uri, part_uri, segment_uri};

/// Decimals of EXTINF and EXT-X-PART DURATION.
const DURATION_DECIMALS: u32 = 5;

/// Per-rendition settings a media playlist is rendered with.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylistContext {
    /// Rendition name; the URIs of its init segments, segments and parts derive from it.
    pub rendition: String,
    /// EXT-X-TARGETDURATION, seconds. Fixed for the life of the timeline (the caller guarantees
    /// every segment's duration rounds to at most this).
    pub target_duration: u32,
    /// PART-TARGET, seconds: an upper bound of every part's duration.
    pub part_target: f64,
    /// How many segments (the newest) to list.
    pub window: usize,
    /// (media playlist URI, last part) of every OTHER rendition of the multivariant playlist.
    pub rendition_reports: Vec<(String, Position)>,
    /// The stream is over: EXT-X-ENDLIST, no preload hint, no delta updates.
    pub ended: bool,
}

/// Renders the media playlist. `delta` asks for a Playlist Delta Update (`_HLS_skip`); it is
/// ignored when `ctx.ended` (HLS §6.2.5.1), and when nothing is old enough to skip the full
/// playlist is returned.
///
/// The caller should complete the open segment before rendering an ended playlist: an open
/// segment's parts are always listed without EXTINF.
pub fn render_media_playlist(ring: &TrackRing, ctx: &MediaPlaylistContext, delta: bool) -> String {
    let ts = u64::from(ring.timescale().max(1));
    let td = u64::from(ctx.target_duration);
    let name = ctx.rendition.as_str();

    // Segments with at least one part; an open segment with no part yet is not in the playlist.
    let with_parts: Vec<&Arc<Segment>> = ring.segments().filter(|s| !s.parts.is_empty()).collect();
    let listed = &with_parts[with_parts.len().saturating_sub(ctx.window.max(1))..];
    let empty_open = ring.open_segment().filter(|s| s.parts.is_empty());

    // Ticks of media after the end of each listed segment, up to the end of the playlist.
    let mut after = vec![0u64; listed.len()];
    let mut acc = 0u64;
    for (i, seg) in listed.iter().enumerate().rev() {
        after[i] = acc;
        acc = acc.saturating_add(seg.duration());
    }

    // HLS §6.2.5.1: "Media Segments that are further from the end of the last (Parent) Media
    // Segment in the Playlist than the Skip Boundary (Section 4.4.3.8), as well as their
    // associated tags, are replaced by an EXT-X-SKIP tag". `after` only decreases, so the
    // skipped segments are a prefix.
    let skip_boundary_ticks = (6 * td).saturating_mul(ts);
    let skipped = if delta && !ctx.ended {
        after.iter().take_while(|&&a| a > skip_boundary_ticks).count()
    } else {
        0
    };

    let first_msn = listed.first().map(|s| s.msn).or(empty_open.map(|s| s.msn)).unwrap_or(0);
    let pt_units = secs_to_units(ctx.part_target).max(1);

    let mut out = String::with_capacity(256 + listed.len().saturating_mul(160));
    out.push_str("#EXTM3U\n");
    // HLS §8: EXT-X-MAP outside I-frame playlists needs version 6, EXT-X-SKIP version 9; and
    // §6.2.1 "The value of the EXT-X-VERSION tag SHOULD NOT be greater than what is required".
    out.push_str(if skipped > 0 { "#EXT-X-VERSION:9\n" } else { "#EXT-X-VERSION:6\n" });
    out.push_str(&format!("#EXT-X-TARGETDURATION:{td}\n"));
    // HLS §4.4.3.8: CAN-SKIP-UNTIL "MUST be at least six times the Target Duration";
    // PART-HOLD-BACK "MUST be at least twice the Part Target Duration. Its value SHOULD be at
    // least three times the Part Target Duration." Both are exact multiples of the printed
    // values, so the comparison holds on the text a client reads.
    out.push_str(&format!(
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={},PART-HOLD-BACK={}\n",
        units_trimmed((6 * td).saturating_mul(100_000)),
        units_trimmed(pt_units.saturating_mul(3))
    ));
    out.push_str(&format!("#EXT-X-PART-INF:PART-TARGET={}\n", units_trimmed(pt_units)));
    out.push_str(&format!("#EXT-X-MEDIA-SEQUENCE:{first_msn}\n"));
    // HLS §4.4.5.2: "Replacing segments with the the EXT-X-SKIP tag does not change the value
    // of the EXT-X-DISCONTINUITY-SEQUENCE tag."
    out.push_str(&format!(
        "#EXT-X-DISCONTINUITY-SEQUENCE:{}\n",
        ring.discontinuity_sequence(first_msn)
    ));
    if skipped > 0 {
        out.push_str(&format!("#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}\n"));
    }

    // HLS §6.2.2: "EXT-X-PART tags SHOULD be removed from the Playlist after they are greater
    // than three Target Durations from the end of the Playlist", and §6.2.1 allows removing
    // "EXT-X-PART tags no longer at the live edge". Parts are kept per segment: the open
    // segment's always (they are all there is of it), and a complete segment's when it starts
    // within three Target Durations of the end and is among the last three segments, counting
    // the segment a preload hint opens (hls-parser's reading of the rule). Both conditions only
    // ever turn false as the playlist grows, so parts leave in order and never come back.
    let part_window_ticks = (3 * td).saturating_mul(ts);
    let hint_opens_segment = !ctx.ended && listed.last().is_some_and(|s| s.complete);
    let part_slots = if hint_opens_segment { 2 } else { 3 };
    let lists_parts = |i: usize, seg: &Segment| {
        !seg.complete
            || (listed.len() - i <= part_slots
                && after[i].saturating_add(seg.duration()) <= part_window_ticks)
    };

    for (i, seg) in listed.iter().enumerate().skip(skipped) {
        // Tags that apply to a parent segment "MUST appear before the first EXT-X-PART tag of
        // that Parent Segment" (HLS §4.4.4.9).
        if seg.discontinuity {
            out.push_str("#EXT-X-DISCONTINUITY\n");
        }
        // EXT-X-MAP "applies to every Media Segment that appears after it in the Playlist until
        // the next EXT-X-MAP tag" (§4.4.4.5), so it is written before the first segment and
        // where the init changes. In a delta update the MAP in force at the first listed segment
        // belongs to the skipped segments, whose tags EXT-X-SKIP "replaces"; the client merges
        // the delta into its previous copy (§6.3.7) and keeps applying that MAP.
        let prev_init = i.checked_sub(1).map(|p| listed[p].init_version);
        if prev_init != Some(seg.init_version) {
            out.push_str(&format!(
                "#EXT-X-MAP:URI={}\n",
                quoted(&init_uri(name, seg.init_version))
            ));
        }
        out.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:{}\n",
            format_program_date_time(seg.program_date_time_ms)
        ));
        if lists_parts(i, seg) {
            for (p, part) in seg.parts.iter().enumerate() {
                out.push_str(&format!(
                    "#EXT-X-PART:DURATION={},URI={}{}\n",
                    secs_fixed(part.duration, ring.timescale(), DURATION_DECIMALS),
                    quoted(&part_uri(name, seg.msn, part_index(p))),
                    if part.independent { ",INDEPENDENT=YES" } else { "" }
                ));
            }
        }
        if seg.complete {
            out.push_str(&format!(
                "#EXTINF:{},\n{}\n",
                secs_fixed(seg.duration(), ring.timescale(), DURATION_DECIMALS),
                segment_uri(name, seg.msn)
            ));
        }
    }

    if !ctx.ended {
        // HLS §4.4.5.3: "A Playlist containing an EXT-X-ENDLIST tag MUST NOT contain an
        // EXT-X-PRELOAD-HINT tag."
        push_preload_hints(&mut out, ring, listed.last(), empty_open, name);
    }

    for (uri, pos) in &ctx.rendition_reports {
        // HLS §4.4.5.4: LAST-MSN and LAST-PART of "the last Partial Segment currently in the
        // specified Rendition".
        out.push_str(&format!(
            "#EXT-X-RENDITION-REPORT:URI={},LAST-MSN={},LAST-PART={}\n",
            quoted(uri),
            pos.msn,
            pos.part
        ));
    }
    if ctx.ended {
        out.push_str("#EXT-X-ENDLIST\n");
    }
    out
}

/// HLS Appendix B.1: the playlist "will also contain an EXT-X-PRELOAD-HINT tag that specifies
/// the next Partial Segment that is expected to be added", and, if that part "has a different
/// Media Initialization Section than the last Partial Segment in the Playlist", a TYPE=MAP hint.
fn push_preload_hints(
    out: &mut String,
    ring: &TrackRing,
    last: Option<&&Arc<Segment>>,
    empty_open: Option<&Arc<Segment>>,
    name: &str,
) {
    let (next, next_init) = match (empty_open, last) {
        (Some(open), _) => (Position { msn: open.msn, part: 0 }, open.init_version),
        (None, Some(seg)) if !seg.complete => {
            (Position { msn: seg.msn, part: part_index(seg.parts.len()) }, seg.init_version)
        }
        (None, Some(seg)) => (
            Position { msn: seg.msn.saturating_add(1), part: 0 },
            // The next segment will use the newest init (TrackRing::begin_segment).
            ring.current_init().map_or(seg.init_version, |i| i.version),
        ),
        (None, None) => return,
    };
    out.push_str(&format!(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI={}\n",
        quoted(&part_uri(name, next.msn, next.part))
    ));
    if let Some(seg) = last
        && seg.init_version != next_init
    {
        out.push_str(&format!(
            "#EXT-X-PRELOAD-HINT:TYPE=MAP,URI={}\n",
            quoted(&init_uri(name, next_init))
        ));
    }
}

/// Part indices fit `u32` (a segment holds a few dozen parts); saturate rather than wrap.
fn part_index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
