//! The pipeline: the only writer of a channel's media.
//!
//! Ingest hands it track descriptions and access units; it normalises the timeline (so a
//! reconnecting publisher continues where the last one stopped), runs one CMAF fragmenter per
//! track, numbers segments, maps media time to wall-clock for PROGRAM-DATE-TIME, and appends
//! parts to each track's ring. It never reads the clock: callers pass `now_ms` (Unix ms).

pub mod diagnostics;
mod ts_segments;

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use sluice_media::cmaf::fragmenter::{FragmentOutput, Fragmenter, FragmenterConfig, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::demux::ts::scte35::{SpliceCommand, SpliceInfo};
use sluice_media::ring::TrackRing;
use sluice_media::time::{VIDEO_TIMESCALE, rescale};
use sluice_media::{AccessUnit, MediaKind, TrackInfo};

pub use self::ts_segments::{TsSegment, TsSegments};
use crate::fanout::FanoutEvent;

/// What ingest feeds the pipeline.
#[derive(Debug, Clone)]
pub enum IngestEvent {
    Track(TrackInfo),
    Frame(AccessUnit),
    /// An SCTE-35 splice_info_section; `pts_90k` on the input's video timeline.
    Cue {
        pts_90k: Option<i64>,
        splice: SpliceInfo,
    },
}

/// An SCTE-35 cue placed on the channel timeline (EXT-X-DATERANGE / EventStream later).
#[derive(Debug, Clone)]
pub struct Cue {
    /// Splice time on the channel timeline (90 kHz), when the command carries one.
    pub at_90k: Option<i64>,
    /// The same instant as wall-clock (Unix ms), once the session's clock mapping exists.
    pub program_date_time_ms: Option<i64>,
    pub splice: SpliceInfo,
}

/// Cues kept per channel (oldest dropped first).
const MAX_CUES: usize = 64;

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
}

impl Changes {
    fn merge(&mut self, other: Changes) {
        self.parts |= other.parts;
        self.tracks |= other.tracks;
    }
}

#[derive(Debug)]
pub struct Pipeline {
    cfg: PipelineConfig,
    pub video: Option<TrackPipe>,
    pub audio: Option<TrackPipe>,
    session: Option<Session>,
    /// See [`Self::timeline_epoch_ms`].
    timeline_epoch_ms: Option<i64>,
    /// Fixed once the first segment completes, then never changes for this channel
    /// (RFC 8216bis §6.2.1: "The EXT-X-TARGETDURATION tag MUST NOT change").
    target_duration: Option<u32>,
    /// The video track has started a segment in this session. Until then audio is held back,
    /// so that audio segment N and video segment N start together (same MSN, same time).
    video_started: bool,
    /// Where video starts in this session (timeline ticks, 90 kHz); earlier audio is dropped.
    video_start_90k: Option<i64>,
    /// Frames dropped because they arrived for a track with no description.
    pub dropped_frames: u64,
    /// Audio access units waiting for video to reach their time (see `push_frame`).
    held_audio: VecDeque<AccessUnit>,
    /// Newest video decode time of this session, input timeline, 90 kHz.
    video_dts_90k: Option<i64>,
    /// The HLS-TS endpoint's segments, cut where the CMAF video segments are.
    pub ts: TsSegments,
    /// Access units (channel timeline) for the fanout, drained by the caller after each call.
    fanout: Vec<FanoutEvent>,
    /// Recent SCTE-35 cues (splice_null heartbeats are not kept).
    pub cues: VecDeque<Cue>,
    /// What the streamer could fix in the encoder.
    pub diagnostics: diagnostics::Diagnostics,
}

/// Bound on held audio (≈ 1.4 s of AAC at 48 kHz): past it audio goes on without video.
const MAX_HELD_AUDIO: usize = 64;

impl Pipeline {
    pub fn new(cfg: PipelineConfig) -> Self {
        Self {
            cfg,
            video: None,
            audio: None,
            session: None,
            timeline_epoch_ms: None,
            target_duration: None,
            video_started: false,
            video_start_90k: None,
            dropped_frames: 0,
            held_audio: VecDeque::new(),
            video_dts_90k: None,
            ts: TsSegments::new(cfg.ring_segments),
            fanout: Vec::new(),
            cues: VecDeque::new(),
            diagnostics: diagnostics::Diagnostics::default(),
        }
    }

    /// Events for the channel's fanout produced since the last call, in order.
    pub fn take_fanout(&mut self) -> Vec<FanoutEvent> {
        std::mem::take(&mut self.fanout)
    }

    fn track_infos(&self) -> Vec<TrackInfo> {
        [self.video.as_ref(), self.audio.as_ref()]
            .into_iter()
            .flatten()
            .map(|t| t.info.clone())
            .collect()
    }

    /// Current publisher diagnostics for this channel's targets.
    pub fn findings(&self) -> Vec<diagnostics::Finding> {
        self.diagnostics.findings(self.cfg.segment_target_ms, self.cfg.part_target_ms)
    }

    pub fn target_duration(&self) -> Option<u32> {
        self.target_duration
    }

    /// Wall-clock (Unix ms) of media time 0 on the channel timeline as the channel's first
    /// session mapped it: fixed for the channel's life (LL-DASH's availabilityStartTime).
    pub fn timeline_epoch_ms(&self) -> Option<i64> {
        self.timeline_epoch_ms
    }

    /// Wall-clock (Unix ms) minus channel-timeline ms for the current session, once its first
    /// frame has arrived: the ingest time of any frame on the timeline.
    pub fn wall_minus_media_ms(&self) -> Option<i64> {
        self.session.and_then(|s| s.wall_minus_media_ms)
    }

    pub fn is_publishing(&self) -> bool {
        self.session.is_some()
    }

    /// A publisher started: the next segment of every track is a discontinuity.
    pub fn begin_session(&mut self) {
        self.session = Some(Session::default());
        self.video_started = false;
        self.held_audio.clear();
        self.video_dts_90k = None;
        self.video_start_90k = None;
        for t in self.tracks_mut() {
            t.discontinuity_next = t.ring.last_msn().is_some();
        }
    }

    /// The publisher stopped: emit what is pending and close open segments.
    pub fn end_session(&mut self) -> Changes {
        let mut changes = self.release_audio(0, true);
        for kind in [MediaKind::Video, MediaKind::Audio] {
            if let Some(mut frag) = self.track_mut(kind).and_then(|t| t.fragmenter.take()) {
                frag.flush();
                self.drain(kind, &mut frag, &mut changes);
            }
            if let Some(t) = self.track_mut(kind) {
                t.ring.complete_segment();
            }
        }
        // The segment boundaries' owner (video, or audio alone) knows the final length.
        let last_duration =
            [self.video.as_ref(), self.audio.as_ref()].into_iter().flatten().next().and_then(|t| {
                let seg = t.ring.segments().next_back()?;
                Some(rescale(seg.duration() as i64, t.info.timescale, VIDEO_TIMESCALE) as u64)
            });
        self.ts.finish(last_duration);
        self.fanout.push(FanoutEvent::Ended);
        self.session = None;
        self.video_started = false;
        changes.parts = true;
        changes
    }

    pub fn handle(&mut self, event: IngestEvent, now_ms: i64) -> Changes {
        match event {
            IngestEvent::Track(info) => self.set_track(info),
            IngestEvent::Frame(au) => self.push_frame(au, now_ms),
            IngestEvent::Cue { pts_90k, splice } => self.add_cue(pts_90k, splice),
        }
    }

    /// Places a cue on the channel timeline with the session's offset (known once the
    /// session's first frame arrived; a cue before it keeps no time).
    fn add_cue(&mut self, pts_90k: Option<i64>, splice: SpliceInfo) -> Changes {
        if splice.command == SpliceCommand::Null {
            return Changes::default();
        }
        let session = self.session.unwrap_or_default();
        let at_90k = pts_90k.zip(session.offset_90k).map(|(p, o)| p + o);
        let program_date_time_ms = at_90k
            .zip(session.wall_minus_media_ms)
            .map(|(t, w)| rescale(t, VIDEO_TIMESCALE, 1000) + w);
        if self.cues.len() >= MAX_CUES {
            self.cues.pop_front();
        }
        self.cues.push_back(Cue { at_90k, program_date_time_ms, splice });
        Changes { tracks: true, ..Changes::default() }
    }

    fn set_track(&mut self, info: TrackInfo) -> Changes {
        let mut changes = Changes { tracks: true, ..Changes::default() };
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
        let tracks = self.track_infos();
        self.diagnostics.set_tracks(&tracks);
        self.ts.set_tracks(tracks.clone());
        self.fanout.push(FanoutEvent::Tracks(Arc::new(tracks)));
        changes
    }

    /// Video goes straight to its fragmenter. Audio beside video waits until video has reached
    /// its time, so the audio fragmenter already knows where the next video segment starts when
    /// it cuts parts (no tiny last part, no abandoned preload hint). Costs audio at most one
    /// video frame interval.
    fn push_frame(&mut self, au: AccessUnit, now_ms: i64) -> Changes {
        if au.track == sluice_media::track::VIDEO_TRACK || self.video.is_none() {
            // Video timestamps are already 90 kHz.
            let video_dts_90k = (au.track == sluice_media::track::VIDEO_TRACK).then_some(au.dts);
            let mut changes = self.process_frame(au, now_ms);
            if let Some(v) = video_dts_90k {
                self.video_dts_90k = Some(v);
                changes.merge(self.release_audio(now_ms, false));
            }
            return changes;
        }
        self.held_audio.push_back(au);
        self.release_audio(now_ms, false)
    }

    /// Feeds held audio whose time video has reached (all of it when `all`, or whatever
    /// exceeds [`MAX_HELD_AUDIO`] if video stalls).
    fn release_audio(&mut self, now_ms: i64, all: bool) -> Changes {
        let mut changes = Changes::default();
        let timescale = self.audio.as_ref().map_or(VIDEO_TIMESCALE, |a| a.info.timescale);
        while let Some(front) = self.held_audio.front() {
            let at_90k = rescale(front.dts, timescale, VIDEO_TIMESCALE);
            let ready = all
                || self.held_audio.len() > MAX_HELD_AUDIO
                || self.video_dts_90k.is_some_and(|v| v >= at_90k);
            if !ready {
                break;
            }
            let Some(au) = self.held_audio.pop_front() else { break };
            changes.merge(self.process_frame(au, now_ms));
        }
        changes
    }

    fn process_frame(&mut self, mut au: AccessUnit, now_ms: i64) -> Changes {
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
        // Where the channel timeline stands by the wall clock now (the first session fixed
        // its epoch).
        let wall_90k = self.timeline_epoch_ms.map(|epoch| (now_ms - epoch) * 90);
        let session = self.session.get_or_insert_with(Session::default);
        // The first frame of a session fixes the offset that places it on the channel timeline:
        // where the wall clock says, so the timeline keeps one mapping to wall-clock time across
        // reconnects (LL-DASH addresses segments by that mapping; the time the publisher was
        // away is a gap in the media), never before the end of what is already there.
        let offset_90k = *session.offset_90k.get_or_insert_with(|| match timeline_end_90k {
            Some(end) => {
                end.max(wall_90k.unwrap_or(end)) - rescale(au.dts, timescale, VIDEO_TIMESCALE)
            }
            None => 0,
        });
        let offset = rescale(offset_90k, VIDEO_TIMESCALE, timescale);
        au.dts += offset;
        au.pts += offset;
        if kind == MediaKind::Audio
            && self.video_start_90k.is_some_and(|v| rescale(au.dts, timescale, VIDEO_TIMESCALE) < v)
        {
            // Before the session's first video frame: nothing to play it with.
            return changes;
        }
        let media_ms = rescale(au.dts, timescale, 1000);
        session.wall_minus_media_ms.get_or_insert(now_ms - media_ms);
        let session_wall = session.wall_minus_media_ms;
        self.timeline_epoch_ms = self.timeline_epoch_ms.or(session_wall);

        let Some(track) = self.track_mut(kind) else {
            return changes;
        };
        let Some(mut frag) = track.fragmenter.take() else {
            return changes;
        };
        self.ts.push(&au, timescale);
        if kind == MediaKind::Video {
            self.diagnostics.video(&au);
        }
        self.fanout.push(FanoutEvent::Frame(au.clone()));
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
        let wall_minus_media_ms = self.session.and_then(|s| s.wall_minus_media_ms).unwrap_or(0);
        // Audio beside video takes the number of the video segment it starts with.
        let video_msn = match kind {
            MediaKind::Audio => self.video.as_ref().and_then(|v| v.next_msn).map(|n| n - 1),
            MediaKind::Video => {
                if !self.video_started {
                    self.video_start_90k = Some(start_dts);
                }
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
        if t.ring.begin_segment(msn, start_dts, pdt, discontinuity).is_err() {
            tracing::error!(msn, "pipeline bug: segment numbering not contiguous");
            return;
        }
        t.next_msn = Some(msn + 1);
        changes.parts = true;
        if kind == MediaKind::Video || self.video.is_none() {
            self.ts.begin(
                msn,
                rescale(start_dts, timescale, VIDEO_TIMESCALE),
                pdt,
                discontinuity,
                finished.map(|d| rescale(d as i64, timescale, VIDEO_TIMESCALE) as u64),
            );
        }

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
            .filter_map(|t| t.end_dts.map(|e| rescale(e, t.info.timescale, VIDEO_TIMESCALE)))
            .max()
    }

    fn track_mut(&mut self, kind: MediaKind) -> Option<&mut TrackPipe> {
        match kind {
            MediaKind::Video => self.video.as_mut(),
            MediaKind::Audio => self.audio.as_mut(),
        }
    }

    fn tracks_mut(&mut self) -> impl Iterator<Item = &mut TrackPipe> {
        [self.video.as_mut(), self.audio.as_mut()].into_iter().flatten()
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
pub(crate) fn segment_max_ticks(td: u32, timescale: u32) -> u64 {
    (td as u64 * timescale as u64) + (timescale as u64 / 2) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_media::demux::flv::{Event, FlvDemuxer, FlvFileReader};

    static BASELINE: &[u8] = include_bytes!("../../../testdata/ffmpeg-x264-aac-baseline.flv");
    static OBS_LIKE: &[u8] = include_bytes!("../../../testdata/obs-like-x264-bframes-aac.flv");

    fn cfg() -> PipelineConfig {
        PipelineConfig { part_target_ms: 200, segment_target_ms: 1000, ring_segments: 64 }
    }

    /// Feeds a capture as one publish session; the wall clock follows the media timestamps.
    fn publish(p: &mut Pipeline, capture: &'static [u8], wall_start_ms: i64) {
        p.begin_session();
        let mut demux = FlvDemuxer::new();
        for tag in FlvFileReader::new(Bytes::from_static(capture)).expect("valid flv") {
            let tag = tag.expect("valid tag");
            let now = wall_start_ms + tag.timestamp_ms as i64;
            demux.push(tag);
            while let Some(ev) = demux.poll_event() {
                match ev {
                    Event::Track(t) => p.handle(IngestEvent::Track(t), now),
                    Event::Frame(au) => p.handle(IngestEvent::Frame(au), now),
                    other => panic!("unexpected demux event {other:?}"),
                };
            }
        }
        p.end_session();
    }

    fn msns(t: &TrackPipe) -> Vec<u64> {
        t.ring.segments().map(|s| s.msn).collect()
    }

    #[test]
    fn one_second_gop_gives_one_second_segments_of_200ms_parts() {
        let mut p = Pipeline::new(cfg());
        publish(&mut p, BASELINE, 1_000_000);
        assert_eq!(p.target_duration(), Some(1));
        let video = p.video.as_ref().expect("video track");
        let segs: Vec<_> = video.ring.segments().collect();
        assert!(segs.len() >= 3, "{} segments", segs.len());
        for s in &segs[..segs.len() - 1] {
            assert_eq!(s.duration(), 90_000, "segment {}", s.msn);
            assert_eq!(s.parts.len(), 5);
            assert!(s.parts.iter().all(|p| p.duration == 18_000));
            assert!(s.parts[0].independent && !s.parts[1].independent);
        }
        // PDT follows media time from the wall-clock anchor.
        assert_eq!(segs[1].program_date_time_ms - segs[0].program_date_time_ms, 1000);
    }

    #[test]
    fn diagnostics_name_what_the_streamer_can_fix() {
        let codes = |capture| {
            let mut p = Pipeline::new(cfg());
            publish(&mut p, capture, 0);
            p.findings().into_iter().map(|f| f.code).collect::<Vec<_>>()
        };
        // x264 baseline, 1 s GOP, AAC: nothing to say.
        assert_eq!(codes(BASELINE), Vec::<&str>::new());
        // OBS defaults: B-frames, a 2 s GOP against 1 s segments, High profile.
        assert_eq!(codes(OBS_LIKE), vec!["b_frames", "keyframe_interval", "profile_high"]);
    }

    #[test]
    fn hls_ts_segments_match_the_cmaf_video_segments() {
        let mut p = Pipeline::new(cfg());
        publish(&mut p, BASELINE, 0);
        let video = p.video.as_ref().expect("video");
        let cmaf: Vec<(u64, u64)> = video.ring.segments().map(|s| (s.msn, s.duration())).collect();
        let ts: Vec<(u64, u64)> = p.ts.segments().map(|s| (s.msn, s.duration)).collect();
        // Same numbers and, for every complete segment, the same duration.
        assert_eq!(
            ts.iter().map(|s| s.0).collect::<Vec<_>>(),
            cmaf.iter().map(|s| s.0).collect::<Vec<_>>()
        );
        assert_eq!(ts, cmaf);
        for seg in p.ts.segments() {
            let d = &seg.data;
            assert_eq!(d.len() % 188, 0, "segment {}", seg.msn);
            // PAT (PID 0) then PMT first, as HLS §3.1.1 / RULES TS-04 want.
            assert_eq!((d[0], u16::from(d[1] & 0x1f) << 8 | u16::from(d[2])), (0x47, 0));
            assert_eq!(d[188], 0x47);
        }
        // Audio is in there too: every segment has packets on two elementary PIDs.
        let pids = |d: &Bytes| -> std::collections::BTreeSet<u16> {
            d.chunks(188).map(|p| u16::from(p[1] & 0x1f) << 8 | u16::from(p[2])).collect()
        };
        assert!(p.ts.segments().all(|s| pids(&s.data).len() >= 4));
    }

    #[test]
    fn audio_segments_carry_the_number_of_their_video_segment() {
        let mut p = Pipeline::new(cfg());
        publish(&mut p, BASELINE, 0);
        let (v, a) = (p.video.as_ref().expect("video"), p.audio.as_ref().expect("audio"));
        assert_eq!(msns(v), msns(a));
        for (vs, as_) in v.ring.segments().zip(a.ring.segments()) {
            let vt = vs.start_dts as f64 / 90_000.0;
            let at = as_.start_dts as f64 / a.info.timescale as f64;
            // At the first audio frame after the video cut, or up to half a part (0.1 s) before
            // it rather than end the previous audio segment on a tiny part.
            assert!(at > vt - 0.1 && at < vt + 0.025, "segment {} video {vt} audio {at}", vs.msn);
        }
    }

    #[test]
    fn reconnect_continues_the_timeline_after_a_discontinuity() {
        let mut p = Pipeline::new(cfg());
        publish(&mut p, BASELINE, 0);
        let before = p.video.as_ref().expect("video").ring.clone();
        let last = before.segments().last().expect("segments").clone();
        let end = last.start_dts + last.duration() as i64;
        publish(&mut p, BASELINE, 60_000);
        let video = p.video.as_ref().expect("video");
        let next = video.ring.segment(last.msn + 1).expect("numbering continues");
        assert!(next.discontinuity, "reconnect marks a discontinuity");
        // The new session starts where the wall clock puts it: 60 s after the first one on the
        // channel timeline (the first frame of each capture arrives at its wall start), the
        // time between the sessions a gap in the media.
        let epoch = p.timeline_epoch_ms().expect("epoch");
        assert!(next.start_dts > end, "{} vs {end}", next.start_dts);
        assert!(
            (next.start_dts - (60_000 - epoch) * 90).abs() < 3000,
            "{} vs wall {}",
            next.start_dts,
            (60_000 - epoch) * 90
        );
        assert_eq!(next.init_version, last.init_version, "same codec: same init");
        assert_eq!(video.ring.discontinuity_sequence(last.msn + 2), 1);
        let audio = p.audio.as_ref().expect("audio");
        assert!(audio.ring.segment(last.msn + 1).expect("audio too").discontinuity);
    }

    #[test]
    fn a_new_sequence_header_brings_a_new_init_and_a_discontinuity() {
        let mut p = Pipeline::new(cfg());
        publish(&mut p, BASELINE, 0);
        let first_init = p.init_of(MediaKind::Video).expect("init");
        let last_msn = p.video.as_ref().and_then(|v| v.ring.last_msn()).expect("segments");
        // Same channel, new publisher with another encoder configuration (B-frames, High).
        publish(&mut p, OBS_LIKE, 10_000);
        let video = p.video.as_ref().expect("video");
        assert_ne!(p.init_of(MediaKind::Video).expect("init"), first_init);
        let next = video.ring.segment(last_msn + 1).expect("next segment");
        assert!(next.discontinuity);
        assert_eq!(next.init_version, 1);
        assert!(video.ring.init(0).is_some(), "the old init stays while its segments are listed");
        // Target duration was fixed by the first stream (1 s) and never changes; the 2 s GOP of
        // the new stream is cut at the maximum instead (EXTINF must round to ≤ TD).
        assert_eq!(p.target_duration(), Some(1));
        for s in video.ring.segments() {
            assert!((s.duration() as f64 / 90_000.0).round() <= 1.0, "segment {} too long", s.msn);
        }
    }

    #[test]
    fn two_second_gop_fixes_a_two_second_target_duration() {
        let mut p = Pipeline::new(cfg());
        publish(&mut p, OBS_LIKE, 0);
        assert_eq!(p.target_duration(), Some(2));
        let video = p.video.as_ref().expect("video");
        let full: Vec<_> = video.ring.segments().filter(|s| s.complete).collect();
        assert!(full.iter().any(|s| s.duration() == 180_000));
    }

    #[test]
    fn frames_without_a_track_are_counted_not_fatal() {
        let mut p = Pipeline::new(cfg());
        p.begin_session();
        let au =
            AccessUnit { track: 1, dts: 0, pts: 0, keyframe: true, data: Bytes::from_static(b"x") };
        let changes = p.handle(IngestEvent::Frame(au), 0);
        assert_eq!(changes, Changes::default());
        assert_eq!(p.dropped_frames, 1);
    }
}
