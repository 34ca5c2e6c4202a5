//! The bounded, cheaply cloned history of one track's CMAF output: segments made of parts.
//!
//! The pipeline is the only writer. After each change it publishes a clone (a handful of `Arc`
//! increments) for egress to read, so readers never hold a lock while they serve.
//! Numbering is the pipeline's job: this ring stores what it is given and keeps MSNs contiguous.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

/// One CMAF part (a `moof`+`mdat` pair, one or more samples).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Decode time of the part's first sample, ticks.
    pub start_dts: i64,
    /// Sum of the part's sample durations, ticks.
    pub duration: u64,
    /// The part starts with a sync sample (LL-HLS `INDEPENDENT=YES`).
    pub independent: bool,
    pub data: Bytes,
}

/// A segment: the parts that make it up, in order. Open (still growing) until `complete`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Media sequence number.
    pub msn: u64,
    /// Decode time of the first sample, ticks.
    pub start_dts: i64,
    /// Wall-clock (Unix milliseconds) of the first sample, from the ingest clock mapping.
    pub program_date_time_ms: i64,
    /// The segment follows a break in the timeline or a codec change (EXT-X-DISCONTINUITY).
    pub discontinuity: bool,
    /// Which init segment applies (index into [`TrackRing::inits`] history by version).
    pub init_version: u32,
    pub parts: Vec<Part>,
    pub complete: bool,
}

impl Segment {
    /// Duration so far, ticks.
    pub fn duration(&self) -> u64 {
        self.parts.iter().map(|p| p.duration).sum()
    }

    /// Total byte length of the segment (the concatenation of its parts).
    pub fn byte_len(&self) -> usize {
        self.parts.iter().map(|p| p.data.len()).sum()
    }

    /// The segment's bytes as the chain of its parts' `Bytes` (no copy).
    pub fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        self.parts.iter().map(|p| &p.data)
    }
}

/// An init segment (ftyp+moov) and the version number segments refer to it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Init {
    pub version: u32,
    pub data: Bytes,
}

/// Where a request stands relative to the ring: the last published part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub msn: u64,
    /// Index of the last part within segment `msn`.
    pub part: u32,
}

/// Errors from feeding the ring out of order (a pipeline bug, reported rather than panicking).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RingError {
    #[error("no open segment to add a part to")]
    NoOpenSegment,
    #[error("segment {got} does not follow {last}")]
    NonContiguous { last: u64, got: u64 },
}

/// Bounded history of one track. Cloning is cheap (segments are shared `Arc`s).
#[derive(Debug, Clone)]
pub struct TrackRing {
    timescale: u32,
    /// Oldest first. The last one may be open.
    segments: VecDeque<Arc<Segment>>,
    /// Init segments still referenced by a retained segment, oldest first.
    inits: VecDeque<Init>,
    max_segments: usize,
    /// Discontinuities among segments already dropped from the front (for
    /// EXT-X-DISCONTINUITY-SEQUENCE, which counts from the start of the timeline).
    dropped_discontinuities: u64,
}

impl TrackRing {
    /// `max_segments` bounds memory: older segments are dropped (they must already have left
    /// every playlist and their availability window, which the caller sizes this for).
    pub fn new(timescale: u32, max_segments: usize) -> Self {
        Self {
            timescale,
            segments: VecDeque::new(),
            inits: VecDeque::new(),
            max_segments: max_segments.max(2),
            dropped_discontinuities: 0,
        }
    }

    pub fn timescale(&self) -> u32 {
        self.timescale
    }

    /// Registers a new init segment; returns its version.
    pub fn push_init(&mut self, data: Bytes) -> u32 {
        let version = self.inits.back().map_or(0, |i| i.version + 1);
        self.inits.push_back(Init { version, data });
        version
    }

    pub fn current_init(&self) -> Option<&Init> {
        self.inits.back()
    }

    pub fn init(&self, version: u32) -> Option<&Init> {
        self.inits.iter().find(|i| i.version == version)
    }

    /// Opens a new segment. The previous one, if still open, is completed.
    pub fn begin_segment(
        &mut self,
        msn: u64,
        start_dts: i64,
        program_date_time_ms: i64,
        discontinuity: bool,
    ) -> Result<(), RingError> {
        if let Some(last) = self.segments.back()
            && last.msn + 1 != msn
        {
            return Err(RingError::NonContiguous { last: last.msn, got: msn });
        }
        self.complete_segment();
        let init_version = self.inits.back().map_or(0, |i| i.version);
        self.segments.push_back(Arc::new(Segment {
            msn,
            start_dts,
            program_date_time_ms,
            discontinuity,
            init_version,
            parts: Vec::new(),
            complete: false,
        }));
        while self.segments.len() > self.max_segments {
            if let Some(dropped) = self.segments.pop_front()
                && dropped.discontinuity
            {
                self.dropped_discontinuities += 1;
            }
        }
        self.drop_unreferenced_inits();
        Ok(())
    }

    /// Appends a part to the open segment.
    pub fn push_part(&mut self, part: Part) -> Result<(), RingError> {
        let seg = self.segments.back_mut().ok_or(RingError::NoOpenSegment)?;
        if seg.complete {
            return Err(RingError::NoOpenSegment);
        }
        Arc::make_mut(seg).parts.push(part);
        Ok(())
    }

    /// Marks the open segment complete (no-op if none is open). Empty segments are removed.
    pub fn complete_segment(&mut self) {
        if let Some(seg) = self.segments.back_mut()
            && !seg.complete
        {
            if seg.parts.is_empty() {
                self.segments.pop_back();
            } else {
                Arc::make_mut(seg).complete = true;
            }
        }
    }

    fn drop_unreferenced_inits(&mut self) {
        let oldest = self.segments.front().map(|s| s.init_version);
        while self.inits.len() > 1 {
            match (self.inits.front(), oldest) {
                (Some(i), Some(v)) if i.version < v => {
                    self.inits.pop_front();
                }
                _ => break,
            }
        }
    }

    pub fn segments(&self) -> impl DoubleEndedIterator<Item = &Arc<Segment>> + ExactSizeIterator {
        self.segments.iter()
    }

    pub fn segment(&self, msn: u64) -> Option<&Arc<Segment>> {
        let first = self.segments.front()?.msn;
        let idx = msn.checked_sub(first)?;
        self.segments.get(usize::try_from(idx).ok()?)
    }

    pub fn part(&self, msn: u64, part: u32) -> Option<&Part> {
        self.segment(msn)?.parts.get(part as usize)
    }

    /// The last published part, if any.
    pub fn last_position(&self) -> Option<Position> {
        self.segments.iter().rev().find_map(|s| {
            let n = s.parts.len();
            (n > 0).then(|| Position { msn: s.msn, part: (n - 1) as u32 })
        })
    }

    /// The open segment, if the last one is still growing.
    pub fn open_segment(&self) -> Option<&Arc<Segment>> {
        self.segments.back().filter(|s| !s.complete)
    }

    /// EXT-X-DISCONTINUITY-SEQUENCE for a playlist whose first segment is `msn`: the number of
    /// discontinuities before it on this track's timeline.
    pub fn discontinuity_sequence(&self, msn: u64) -> u64 {
        self.dropped_discontinuities
            + self.segments.iter().take_while(|s| s.msn < msn).filter(|s| s.discontinuity).count()
                as u64
    }

    pub fn last_msn(&self) -> Option<u64> {
        self.segments.back().map(|s| s.msn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: i64, independent: bool) -> Part {
        Part { start_dts: start, duration: 100, independent, data: Bytes::from_static(b"x") }
    }

    #[test]
    fn positions_follow_parts_and_segments() {
        let mut r = TrackRing::new(1000, 4);
        r.push_init(Bytes::from_static(b"init"));
        assert_eq!(r.last_position(), None);
        r.begin_segment(7, 0, 0, false).unwrap();
        assert_eq!(r.last_position(), None);
        r.push_part(part(0, true)).unwrap();
        r.push_part(part(100, false)).unwrap();
        assert_eq!(r.last_position(), Some(Position { msn: 7, part: 1 }));
        r.begin_segment(8, 200, 200, false).unwrap();
        assert!(r.segment(7).unwrap().complete);
        assert_eq!(r.last_position(), Some(Position { msn: 7, part: 1 }));
        r.push_part(part(200, true)).unwrap();
        assert_eq!(r.last_position(), Some(Position { msn: 8, part: 0 }));
        assert_eq!(r.part(7, 1).unwrap().start_dts, 100);
        assert_eq!(r.segment(7).unwrap().duration(), 200);
    }

    #[test]
    fn ring_is_bounded_and_contiguous() {
        let mut r = TrackRing::new(1000, 3);
        for msn in 0..10 {
            r.begin_segment(msn, msn as i64 * 100, 0, false).unwrap();
            r.push_part(part(msn as i64 * 100, true)).unwrap();
        }
        assert_eq!(r.segments().len(), 3);
        assert_eq!(r.segments().next().unwrap().msn, 7);
        assert!(r.segment(6).is_none());
        assert_eq!(
            r.begin_segment(12, 0, 0, false),
            Err(RingError::NonContiguous { last: 9, got: 12 })
        );
    }

    #[test]
    fn clones_do_not_see_later_writes() {
        let mut r = TrackRing::new(1000, 3);
        r.begin_segment(0, 0, 0, false).unwrap();
        r.push_part(part(0, true)).unwrap();
        let snapshot = r.clone();
        r.push_part(part(100, false)).unwrap();
        assert_eq!(snapshot.segment(0).unwrap().parts.len(), 1);
        assert_eq!(r.segment(0).unwrap().parts.len(), 2);
    }

    #[test]
    fn old_inits_are_dropped_when_unreferenced() {
        let mut r = TrackRing::new(1000, 2);
        r.push_init(Bytes::from_static(b"a"));
        r.begin_segment(0, 0, 0, false).unwrap();
        r.push_part(part(0, true)).unwrap();
        let v = r.push_init(Bytes::from_static(b"b"));
        r.begin_segment(1, 100, 0, true).unwrap();
        r.push_part(part(100, true)).unwrap();
        assert!(r.init(0).is_some());
        r.begin_segment(2, 200, 0, false).unwrap();
        r.push_part(part(200, true)).unwrap();
        assert!(r.init(0).is_none());
        assert_eq!(r.current_init().unwrap().version, v);
    }

    #[test]
    fn discontinuity_sequence_counts_dropped_segments() {
        let mut r = TrackRing::new(1000, 2);
        for msn in 0..5 {
            r.begin_segment(msn, 0, 0, msn == 1 || msn == 3).unwrap();
            r.push_part(part(0, true)).unwrap();
        }
        // Ring holds 3 and 4; discontinuities at 1 (dropped) and 3 (kept).
        assert_eq!(r.discontinuity_sequence(3), 1);
        assert_eq!(r.discontinuity_sequence(4), 2);
    }
}
