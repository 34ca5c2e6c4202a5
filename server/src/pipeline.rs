//! The pipeline: the only writer of a channel's media.
//!
//! Ingest hands it track descriptions and access units; it normalises the timeline (so a
//! reconnecting publisher continues where the last one stopped), runs one CMAF fragmenter per
//! track, numbers segments, maps media time to wall-clock for PROGRAM-DATE-TIME, and appends
//! parts to each track's ring. It never reads the clock: callers pass `now_ms` (Unix ms).

use bytes::Bytes;
use sluice_media::cmaf::fragmenter::{FragmentOutput, Fragmenter, FragmenterConfig, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::ring::TrackRing;
use sluice_media::time::{VIDEO_TIMESCALE, rescale};
use sluice_media::{AccessUnit, MediaKind, TrackInfo};

/// What ingest feeds the pipeline.
#[derive(Debug, Clone)]
pub enum IngestEvent {
    Track(TrackInfo),
    Frame(AccessUnit),
}

/// Timeline settings shared by every track of a channel.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    pub part_target_ms: u64,
    pub segment_target_ms: u64,
    /// Segments each ring keeps (playlist window plus the availability window after removal).
    pub ring_segments: usize,
}

/// One track's fragmenter and output.
#[derive(Debug)]
pub struct TrackPipe {
    pub info: TrackInfo,
    /// `None` between publish sessions (the ring and numbering survive).
    fragmenter: Option<Fragmenter>,
    pub ring: TrackRing,
    next_msn: Option<u64>,
    /// The next segment starts after a break (publisher reconnect or codec change).
    discontinuity_next: bool,
    /// End of the last sample written, in this track's ticks.
    end_dts: Option<i64>,
}

/// Per publish session: how input timestamps map onto the channel timeline and onto wall-clock.
#[derive(Debug, Default, Clone, Copy)]
struct Session {
    /// Added to every input timestamp (90 kHz ticks), fixed at the session's first frame.
    offset_90k: Option<i64>,
    /// Wall-clock (Unix ms) minus timeline ms.
    wall_minus_media_ms: Option<i64>,
}

/// What changed after a call, so the caller re-renders only when needed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    pub parts: bool,
    pub tracks: bool,
    pub target_duration_set: bool,
}

#[derive(Debug)]
pub struct Pipeline {
    cfg: PipelineConfig,
    pub video: Option<TrackPipe>,
    pub audio: Option<TrackPipe>,
    session: Option<Session>,
    /// Fixed once the first segment completes, then never changes for this channel
    /// (RFC 8216bis §6.2.1: "The EXT-X-TARGETDURATION tag MUST NOT change").
    target_duration: Option<u32>,
    /// The video track has started a segment in this session. Until then audio is held back,
    /// so that audio segment N and video segment N start together (same MSN, same time).
    video_started: bool,
    /// Frames dropped because they arrived for a track with no description.
    pub dropped_frames: u64,
}

impl Pipeline {
    pub fn new(cfg: PipelineConfig) -> Self {
        Self {
            cfg,
            video: None,
            audio: None,
            session: None,
            target_duration: None,
            video_started: false,
            dropped_frames: 0,
        }
    }

    pub fn target_duration(&self) -> Option<u32> {
        self.target_duration
    }

    pub fn is_publishing(&self) -> bool {
        self.session.is_some()
    }

    /// A publisher started: the next segment of every track is a discontinuity.
    pub fn begin_session(&mut self) {
        self.session = Some(Session::default());
        self.video_started = false;
        for t in self.tracks_mut() {
            t.discontinuity_next = t.ring.last_msn().is_some();
        }
    }

    /// The publisher stopped: emit what is pending and close open segments.
    pub fn end_session(&mut self) -> Changes {
        let mut changes = Changes::default();
        for kind in [MediaKind::Video, MediaKind::Audio] {
            if let Some(mut frag) = self.track_mut(kind).and_then(|t| t.fragmenter.take()) {
                frag.flush();
                self.drain(kind, &mut frag, &mut changes);
            }
            if let Some(t) = self.track_mut(kind) {
                t.ring.complete_segment();
            }
        }
        self.session = None;
        self.video_started = false;
        changes.parts = true;
        changes
    }

    pub fn handle(&mut self, event: IngestEvent, now_ms: i64) -> Changes {
        match event {
            IngestEvent::Track(info) => self.set_track(info),
            IngestEvent::Frame(au) => self.push_frame(au, now_ms),
        }
    }

    fn set_track(&mut self, info: TrackInfo) -> Changes {
        let mut changes = Changes {
            tracks: true,
            ..Changes::default()
        };
        let kind = info.kind;
        // A new description mid-stream: finish the old fragments first.
        if let Some(mut old) = self.track_mut(kind).and_then(|t| t.fragmenter.take()) {
            old.flush();
            self.drain(kind, &mut old, &mut changes);
        }
        let policy = match kind {
            MediaKind::Video => SegmentPolicy::Keyframes,
            MediaKind::Audio if self.video.is_some() => SegmentPolicy::Follow,
            MediaKind::Audio => SegmentPolicy::Duration,
        };
        let frag_cfg = FragmenterConfig {
            part_target: self.cfg.part_target_ms * info.timescale as u64 / 1000,
            segment_target: self.cfg.segment_target_ms * info.timescale as u64 / 1000,
        };
        let mut fragmenter = Fragmenter::new(&info, frag_cfg, policy);
        if let Some(td) = self.target_duration {
            fragmenter.set_segment_max(segment_max_ticks(td, info.timescale));
        }
        let ring_segments = self.cfg.ring_segments;
        match self.track_mut(kind) {
            Some(t) => {
                if t.info.config_bytes() != info.config_bytes() {
                    t.ring.complete_segment();
                    t.ring.push_init(init_segment(&info));
                    t.discontinuity_next = t.ring.last_msn().is_some();
                }
                t.info = info;
                t.fragmenter = Some(fragmenter);
            }
            None => {
                let mut ring = TrackRing::new(info.timescale, ring_segments);
                ring.push_init(init_segment(&info));
                let pipe = TrackPipe {
                    info,
                    fragmenter: Some(fragmenter),
                    ring,
                    next_msn: None,
                    discontinuity_next: false,
                    end_dts: None,
                };
                match kind {
                    MediaKind::Video => self.video = Some(pipe),
                    MediaKind::Audio => self.audio = Some(pipe),
                }
            }
        }
        changes
    }

    fn push_frame(&mut self, mut au: AccessUnit, now_ms: i64) -> Changes {
        let mut changes = Changes::default();
        let kind = match au.track {
            sluice_media::track::VIDEO_TRACK => MediaKind::Video,
            _ => MediaKind::Audio,
        };
        if kind == MediaKind::Audio && self.video.is_some() && !self.video_started {
            // Audio before the first video keyframe of the session has nothing to play with.
            return changes;
        }
        let timeline_end_90k = self.timeline_end_90k();
        let Some(track) = self.track_mut(kind) else {
            self.dropped_frames += 1;
            return changes;
        };
        let timescale = track.info.timescale;
        if track.fragmenter.is_none() {
            self.dropped_frames += 1;
            return changes;
        }
        let session = self.session.get_or_insert_with(Session::default);
        // The first frame of a session fixes the offset that continues the channel timeline.
        let offset_90k = *session
            .offset_90k
            .get_or_insert_with(|| match timeline_end_90k {
                Some(end) => end - rescale(au.dts, timescale, VIDEO_TIMESCALE),
                None => 0,
            });
        let offset = rescale(offset_90k, VIDEO_TIMESCALE, timescale);
        au.dts += offset;
        au.pts += offset;
        let media_ms = rescale(au.dts, timescale, 1000);
        session.wall_minus_media_ms.get_or_insert(now_ms - media_ms);

        let Some(track) = self.track_mut(kind) else {
            return changes;
        };
        let Some(mut frag) = track.fragmenter.take() else {
            return changes;
        };
        frag.push(au);
        self.drain(kind, &mut frag, &mut changes);
        if let Some(t) = self.track_mut(kind) {
            t.fragmenter = Some(frag);
        }
        changes
    }

    /// Moves fragmenter output into the ring, numbering segments.
    fn drain(&mut self, kind: MediaKind, frag: &mut Fragmenter, changes: &mut Changes) {
        while let Some(out) = frag.poll_output() {
            match out {
                FragmentOutput::SegmentStart { start_dts, .. } => {
                    self.begin_segment(kind, start_dts, changes);
                }
                FragmentOutput::Part(part) => {
                    let Some(t) = self.track_mut(kind) else {
                        continue;
                    };
                    t.end_dts = Some(part.start_dts + part.duration as i64);
                    if t.ring.push_part(part).is_ok() {
                        changes.parts = true;
                    }
                }
            }
        }
    }

    fn begin_segment(&mut self, kind: MediaKind, start_dts: i64, changes: &mut Changes) {
        let segment_target_ms = self.cfg.segment_target_ms;
        let wall_minus_media_ms = self
            .session
            .and_then(|s| s.wall_minus_media_ms)
            .unwrap_or(0);
        // Audio beside video takes the number of the video segment it starts with.
        let video_msn = match kind {
            MediaKind::Audio => self.video.as_ref().and_then(|v| v.next_msn).map(|n| n - 1),
            MediaKind::Video => {
                self.video_started = true;
                None
            }
        };
        let Some(t) = self.track_mut(kind) else {
            return;
        };
        let timescale = t.info.timescale;
        // The segment that just ended fixes the target duration if nothing has yet.
        let finished = t.ring.open_segment().map(|s| s.duration());
        // Deterministic naming: the first number derives from media time, then +1.
        let msn = t.next_msn.or(video_msn).unwrap_or_else(|| {
            let ms = rescale(start_dts, timescale, 1000).max(0) as u64;
            ms / segment_target_ms
        });
        let pdt = rescale(start_dts, timescale, 1000) + wall_minus_media_ms;
        let discontinuity = std::mem::take(&mut t.discontinuity_next);
        if t.ring
            .begin_segment(msn, start_dts, pdt, discontinuity)
            .is_err()
        {
            tracing::error!(msn, "pipeline bug: segment numbering not contiguous");
            return;
        }
        t.next_msn = Some(msn + 1);
        changes.parts = true;

        if kind == MediaKind::Video
            && let Some(audio) = self.audio.as_mut()
            && let Some(frag) = audio.fragmenter.as_mut()
        {
            frag.cut_segment_at(rescale(start_dts, timescale, audio.info.timescale));
        }
        let decides = kind == MediaKind::Video || self.video.is_none();
        if decides
            && self.target_duration.is_none()
            && let Some(ticks) = finished
        {
            self.fix_target_duration(ticks, timescale);
            changes.target_duration_set = true;
        }
    }

    fn fix_target_duration(&mut self, first_segment_ticks: u64, timescale: u32) {
        let first_s = first_segment_ticks as f64 / timescale as f64;
        let target_s = self.cfg.segment_target_ms as f64 / 1000.0;
        // EXTINF rounded to the nearest integer must not exceed it (§4.4.3.1).
        let td = first_s.round().max(target_s.ceil()).max(1.0) as u32;
        self.target_duration = Some(td);
        for t in self.tracks_mut() {
            let max = segment_max_ticks(td, t.info.timescale);
            if let Some(f) = t.fragmenter.as_mut() {
                f.set_segment_max(max);
            }
        }
    }

    fn timeline_end_90k(&self) -> Option<i64> {
        [self.video.as_ref(), self.audio.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|t| {
                t.end_dts
                    .map(|e| rescale(e, t.info.timescale, VIDEO_TIMESCALE))
            })
            .max()
    }

    fn track_mut(&mut self, kind: MediaKind) -> Option<&mut TrackPipe> {
        match kind {
            MediaKind::Video => self.video.as_mut(),
            MediaKind::Audio => self.audio.as_mut(),
        }
    }

    fn tracks_mut(&mut self) -> impl Iterator<Item = &mut TrackPipe> {
        [self.video.as_mut(), self.audio.as_mut()]
            .into_iter()
            .flatten()
    }

    /// The init segment currently in force for a track (for tests and diagnostics).
    pub fn init_of(&self, kind: MediaKind) -> Option<Bytes> {
        let t = match kind {
            MediaKind::Video => self.video.as_ref(),
            MediaKind::Audio => self.audio.as_ref(),
        }?;
        t.ring.current_init().map(|i| i.data.clone())
    }
}

/// Longest segment allowed once the target duration is fixed: EXTINF must round to ≤ TD.
fn segment_max_ticks(td: u32, timescale: u32) -> u64 {
    (td as u64 * timescale as u64) + (timescale as u64 / 2) - 1
}
