//! HLS-TS segments, cut at exactly the boundaries (and with the numbers) of the CMAF video
//! segments, from the same access units.
//!
//! The pipeline hands over every access unit it keeps and, when the video fragmenter starts
//! segment N+1 at time S, the boundary S. Segment N is then muxed whole (PAT, PMT, then video
//! and audio interleaved by decode time) as soon as every frame before S has arrived: audio is
//! held in the pipeline until video reaches its time, so that is when an audio frame at or past
//! S shows up, or half a second after S if audio has stopped.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use sluice_media::mux::ts::TsMuxer;
use sluice_media::time::{VIDEO_TIMESCALE, rescale};
use sluice_media::track::VIDEO_TRACK;
use sluice_media::{AccessUnit, MediaKind, TrackInfo};

/// How long past a boundary audio may be missing before the segment is closed without it.
const AUDIO_GRACE_90K: i64 = VIDEO_TIMESCALE as i64 / 2;
/// Bound on frames waiting for a boundary (≈ 35 s of 30 fps video with audio): a stream that
/// never cuts a segment loses its oldest frames rather than memory.
const MAX_PENDING_FRAMES: usize = 4096;

/// One finished HLS-TS segment.
#[derive(Debug, Clone)]
pub struct TsSegment {
    pub msn: u64,
    /// Duration in 90 kHz ticks (the CMAF video segment's).
    pub duration: u64,
    pub program_date_time_ms: i64,
    pub discontinuity: bool,
    pub data: Bytes,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    msn: u64,
    start_90k: i64,
    pdt_ms: i64,
    discontinuity: bool,
}

#[derive(Debug)]
pub struct TsSegments {
    muxer: Option<TsMuxer>,
    tracks: Vec<TrackInfo>,
    /// Frames of the open segment and later, with their decode time in 90 kHz ticks.
    pending: VecDeque<(i64, AccessUnit)>,
    open: Option<Open>,
    /// Boundaries announced but not yet closed: (next segment, its start).
    boundaries: VecDeque<(Open, u64)>,
    ring: VecDeque<Arc<TsSegment>>,
    max_segments: usize,
    /// Newest video decode time pushed, 90 kHz.
    video_at_90k: Option<i64>,
    /// Discontinuities on segments already dropped from the ring.
    discontinuities_dropped: u64,
    /// Bumped whenever the list of segments changes (playlists are re-rendered only then).
    version: u64,
}

impl TsSegments {
    pub fn new(max_segments: usize) -> Self {
        Self {
            muxer: None,
            tracks: Vec::new(),
            pending: VecDeque::new(),
            open: None,
            boundaries: VecDeque::new(),
            ring: VecDeque::new(),
            max_segments,
            video_at_90k: None,
            discontinuities_dropped: 0,
            version: 0,
        }
    }

    /// The tracks changed. A track joining (TS announces audio only with its first ADTS frame,
    /// after video has started) just extends the program. A changed or removed track closes
    /// what is open with the old configuration first: its keyframes must carry their own
    /// parameter sets. Discontinuities come from the CMAF rings via [`Self::begin`].
    pub fn set_tracks(&mut self, mut tracks: Vec<TrackInfo>) {
        // MPEG-TS here carries AAC only: an Opus source (WHIP) gets a video-only HLS-TS
        // endpoint until an Opus→AAC encoder exists.
        let before = tracks.len();
        tracks.retain(|t| !matches!(t.codec, sluice_media::CodecConfig::Opus(_)));
        if tracks.len() != before && !self.tracks.iter().any(|t| t.kind == MediaKind::Video) {
            tracing::info!(
                "HLS-TS for this stream carries video only: its audio is Opus (AAC in TS only)"
            );
        }
        if tracks == self.tracks {
            return;
        }
        let only_added = self.tracks.iter().all(|old| tracks.contains(old));
        if !only_added {
            self.finish(None);
        }
        let mut scratch = BytesMut::new();
        let result = match self.muxer.as_mut() {
            // Nothing is pending inside the muxer between segments, so nothing is written.
            Some(m) => m.set_tracks(&tracks, &mut scratch).map(|_| ()),
            None => TsMuxer::new(&tracks).map(|m| self.muxer = Some(m)),
        };
        if let Err(e) = result {
            tracing::warn!("no HLS-TS output for these tracks: {e}");
            self.muxer = None;
        }
        self.tracks = tracks;
    }

    pub fn push(&mut self, au: &AccessUnit, timescale: u32) {
        if !self.tracks.iter().any(|t| t.id == au.track) {
            return;
        }
        let dts_90k = rescale(au.dts, timescale, VIDEO_TIMESCALE);
        if au.track == VIDEO_TRACK {
            self.video_at_90k = Some(dts_90k);
        }
        if self.pending.len() >= MAX_PENDING_FRAMES {
            self.pending.pop_front();
        }
        self.pending.push_back((dts_90k, au.clone()));
        self.close_ready(false);
    }

    /// Segment `msn` starts at `start_90k`; `previous_duration` is the length of the segment
    /// it ends (the CMAF segment's, so both endpoints list the same EXTINF).
    pub fn begin(
        &mut self,
        msn: u64,
        start_90k: i64,
        pdt_ms: i64,
        discontinuity: bool,
        previous_duration: Option<u64>,
    ) {
        let next = Open { msn, start_90k, pdt_ms, discontinuity };
        let newest = self.boundaries.back().map(|(o, _)| o).or(self.open.as_ref());
        if newest.is_some_and(|o| msn <= o.msn) {
            // The numbering started over (an audio-only start that video then joined): what
            // is open was never listed and must not be listed under a number used twice.
            tracing::debug!(msn, "HLS-TS numbering restarted; the open segment is dropped");
            self.boundaries.clear();
            self.open = None;
        }
        match self.open {
            None => {
                // Frames before the first boundary belong to no segment.
                self.pending.retain(|(t, _)| *t >= start_90k);
                self.open = Some(next);
            }
            Some(_) => {
                let duration = previous_duration.unwrap_or(0);
                self.boundaries.push_back((next, duration));
            }
        }
        self.close_ready(false);
    }

    /// End of a session: the open segment is closed with everything pending.
    /// `last_duration` is the closing CMAF segment's length (90 kHz) when known; otherwise the
    /// segment ends at its last frame's decode time.
    pub fn finish(&mut self, last_duration: Option<u64>) {
        self.close_ready(true);
        if let Some(open) = self.open.take() {
            let frames: Vec<(i64, AccessUnit)> = self.pending.drain(..).collect();
            let duration = match (last_duration, frames.last()) {
                (Some(d), _) => d,
                (None, Some((last, _))) => (last - open.start_90k).max(0) as u64,
                (None, None) => 0,
            };
            self.close(open, frames, duration);
        }
        self.pending.clear();
        self.video_at_90k = None;
    }

    /// Changes whenever a segment is added or dropped.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Discontinuities on segments no longer kept (for EXT-X-DISCONTINUITY-SEQUENCE).
    pub fn discontinuities_dropped(&self) -> u64 {
        self.discontinuities_dropped
    }

    pub fn segments(&self) -> impl DoubleEndedIterator<Item = &Arc<TsSegment>> {
        self.ring.iter()
    }

    pub fn segment(&self, msn: u64) -> Option<&Arc<TsSegment>> {
        let first = self.ring.front()?.msn;
        self.ring.get(msn.checked_sub(first)? as usize).filter(|s| s.msn == msn)
    }

    fn has_audio(&self) -> bool {
        self.tracks.iter().any(|t| t.kind == MediaKind::Audio)
            && self.tracks.iter().any(|t| t.kind == MediaKind::Video)
    }

    fn close_ready(&mut self, all: bool) {
        while let Some(&(next, duration)) = self.boundaries.front() {
            let boundary = next.start_90k;
            let audio_past =
                self.pending.iter().any(|(t, au)| au.track != VIDEO_TRACK && *t >= boundary);
            let ready = all
                || !self.has_audio()
                || audio_past
                || self.video_at_90k.is_some_and(|v| v >= boundary + AUDIO_GRACE_90K);
            if !ready {
                return;
            }
            self.boundaries.pop_front();
            let Some(open) = self.open.replace(next) else { continue };
            let mut frames = Vec::new();
            let mut rest = VecDeque::with_capacity(self.pending.len());
            for (t, au) in self.pending.drain(..) {
                if t < boundary { frames.push((t, au)) } else { rest.push_back((t, au)) }
            }
            self.pending = rest;
            self.close(open, frames, duration);
        }
    }

    fn close(&mut self, open: Open, mut frames: Vec<(i64, AccessUnit)>, duration: u64) {
        let Some(muxer) = self.muxer.as_mut() else { return };
        // Interleave by decode time; the sort is stable, so each track keeps its order.
        frames.sort_by_key(|(t, _)| *t);
        let payload: usize = frames.iter().map(|(_, a)| a.data.len()).sum();
        let mut out = BytesMut::with_capacity(payload + payload / 10 + 1024);
        let report = muxer.write_segment(frames.iter().map(|(_, au)| au), &mut out);
        if let Some(e) = report.first_error {
            tracing::debug!(
                msn = open.msn,
                "HLS-TS segment skipped {} frame(s): {e}",
                report.dropped
            );
        }
        if self.ring.len() >= self.max_segments
            && let Some(old) = self.ring.pop_front()
        {
            self.discontinuities_dropped += u64::from(old.discontinuity);
        }
        self.version += 1;
        self.ring.push_back(Arc::new(TsSegment {
            msn: open.msn,
            duration,
            program_date_time_ms: open.pdt_ms,
            discontinuity: open.discontinuity,
            data: out.freeze(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use sluice_media::codec::aac::AudioSpecificConfig;
    use sluice_media::track::AUDIO_TRACK;
    use sluice_media::{CodecConfig, MediaKind, TrackInfo};

    use super::*;

    fn aac_track() -> TrackInfo {
        let asc = AudioSpecificConfig::parse(Bytes::from_static(&[0x11, 0x90])).expect("AAC-LC");
        TrackInfo {
            id: AUDIO_TRACK,
            kind: MediaKind::Audio,
            timescale: 48_000,
            codec: CodecConfig::Aac(asc),
        }
    }

    fn aac_frames(ts: &mut TsSegments, from_90k: i64, to_90k: i64) {
        // One ADTS-less AAC frame every 1024 samples; the muxer adds the ADTS header.
        let mut t = from_90k;
        while t < to_90k {
            let dts = rescale(t, VIDEO_TIMESCALE, 48_000);
            let au = AccessUnit {
                track: AUDIO_TRACK,
                dts,
                pts: dts,
                keyframe: true,
                data: Bytes::from_static(&[0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c]),
            };
            ts.push(&au, 48_000);
            t += 1920;
        }
    }

    #[test]
    fn a_numbering_that_starts_over_never_lists_a_number_twice() {
        let mut ts = TsSegments::new(8);
        ts.set_tracks(vec![aac_track()]);
        ts.begin(1, 0, 1_000, false, None);
        aac_frames(&mut ts, 0, 60_000);
        // Video joined: its first segment takes the number the audio-only one had.
        ts.begin(1, 63_000, 1_700, false, None);
        aac_frames(&mut ts, 63_000, 153_000);
        ts.begin(2, 153_000, 2_700, false, Some(90_000));
        aac_frames(&mut ts, 153_000, 160_000);
        let listed: Vec<(u64, u64, i64)> =
            ts.segments().map(|s| (s.msn, s.duration, s.program_date_time_ms)).collect();
        assert_eq!(listed, vec![(1, 90_000, 1_700)]);
        assert!(ts.segment(1).is_some_and(|s| !s.data.is_empty()));
    }
}
