//! Blocking Playlist Reload (HLS §6.2.5.2): given a request's directives and the track's ring,
//! decide whether to answer now, keep holding, or fail with 400 / 503.
//!
//! The server calls [`decide`] when the request arrives and again every time the ring changes
//! (and once when [`block_limit_ms`] has passed); this module keeps no state and reads no clock.

use sluice_media::ring::{Position, TrackRing};

use crate::directives::Directives;

/// What to do with a playlist request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Render and send the playlist (200).
    Ready,
    /// Hold the request until the ring changes (or [`block_limit_ms`] passes).
    Wait,
    /// Refuse at once (400) with a short reason.
    BadRequest(&'static str),
    /// Held too long without the requested media (503).
    Unavailable,
}

/// How long a request may be held before it is answered 503: HLS §6.2.5.2 "A Server that cannot
/// provide the requested Playlist after blocking for more than three Target Durations SHOULD
/// return Service Unavailable, such as HTTP 503." [`decide`] returns
/// [`Decision::Unavailable`] once `held_for_ms` exceeds this.
pub fn block_limit_ms(target_duration: u32) -> u64 {
    3 * u64::from(target_duration) * 1000
}

/// Decides a media playlist request.
///
/// - `held_for_ms`: how long the request has been held so far (0 on arrival).
/// - `target_duration`, `part_target`: the values the playlist advertises.
/// - `ended`: the playlist carries EXT-X-ENDLIST.
pub fn decide(
    d: &Directives,
    ring: &TrackRing,
    held_for_ms: u64,
    target_duration: u32,
    part_target: f64,
    ended: bool,
) -> Decision {
    // "A Server MUST ignore _HLS_msn and _HLS_part if the Playlist contains an EXT-X-ENDLIST
    // tag."
    if ended {
        return Decision::Ready;
    }
    let Some(msn) = d.msn else {
        // "If the Playlist URI contains an _HLS_part directive but no _HLS_msn directive, the
        // Server MUST return Bad Request, such as HTTP 400."
        if d.part.is_some() {
            return Decision::BadRequest("_HLS_part without _HLS_msn");
        }
        return Decision::Ready;
    };

    // The playlist's live edge: the last part it lists (an open segment's parts are listed, so
    // its MSN is "the last Media Segment in the current Playlist").
    let Some(last) = ring.last_position() else {
        return wait_or_unavailable(held_for_ms, target_duration);
    };
    let wanted = requested_position(ring, msn, d.part);
    if wanted <= last {
        return Decision::Ready;
    }

    // "If the _HLS_msn is greater than the Media Sequence Number of the last Media Segment in
    // the current Playlist plus two, or if the _HLS_part exceeds the last Partial Segment in the
    // current Playlist by the Advance Part Limit, then the server SHOULD immediately return Bad
    // Request, such as HTTP 400."
    if wanted.msn > last.msn.saturating_add(2) {
        return Decision::BadRequest("_HLS_msn more than two segments ahead");
    }
    if d.part.is_some()
        && exceeds_advance_part_limit(parts_ahead_at_least(wanted, last), part_target)
    {
        return Decision::BadRequest("_HLS_part beyond the advance part limit");
    }
    wait_or_unavailable(held_for_ms, target_duration)
}

/// The part the request waits for.
///
/// Without `_HLS_part` the request waits for segment M's first part: "defer responding to the
/// request until the Playlist contains a Media Segment with a Media Sequence Number of M or
/// later", and a segment is in an LL-HLS playlist as soon as its first EXT-X-PART is (Safari
/// asks `_HLS_msn=M` alone for the next segment's first part once M-1 has its EXTINF).
///
/// "If the Client requests a Part Index greater than that of the final Partial Segment of the
/// Parent Segment, the Server MUST treat the request as one for Part Index 0 of the following
/// Parent Segment." The final part is only known once the segment is complete.
fn requested_position(ring: &TrackRing, msn: u64, part: Option<u32>) -> Position {
    let part = part.unwrap_or(0);
    match ring.segment(msn) {
        Some(seg) if seg.complete && part as usize >= seg.parts.len() => {
            Position { msn: msn.saturating_add(1), part: 0 }
        }
        _ => Position { msn, part },
    }
}

/// A lower bound on how many parts after `last` the part `wanted` (> `last`) is. Segments after
/// `last.msn` hold at least one part each, and `last`'s own segment may still grow.
fn parts_ahead_at_least(wanted: Position, last: Position) -> u64 {
    if wanted.msn == last.msn {
        u64::from(wanted.part.saturating_sub(last.part))
    } else {
        // Part 0 of the next segment is at least one part after `last`; each further segment
        // contributes at least one more.
        let segments_between = wanted.msn.saturating_sub(last.msn).saturating_sub(1);
        u64::from(wanted.part).saturating_add(1).saturating_add(segments_between)
    }
}

/// "The Advance Part Limit is three divided by the Part Target Duration if the Part Target
/// Duration is less than one second, or three otherwise."
/// Compared with a little slack so that 3 / 0.2 counts as 15, not 14.999….
fn exceeds_advance_part_limit(parts_ahead: u64, part_target: f64) -> bool {
    let limit = if part_target > 0.0 && part_target < 1.0 { 3.0 / part_target } else { 3.0 };
    parts_ahead as f64 > limit + 1e-6
}

fn wait_or_unavailable(held_for_ms: u64, target_duration: u32) -> Decision {
    if held_for_ms > block_limit_ms(target_duration) {
        Decision::Unavailable
    } else {
        Decision::Wait
    }
}
