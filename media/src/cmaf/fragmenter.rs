//! The per-track CMAF fragmenter: access units in, CMAF parts (`moof`+`mdat`, ISO/IEC
//! 23000-19 §7.3.2.3 "CMAF chunk") and segment boundaries out.
//!
//! Push/pull contract: [`Fragmenter::push`] one access unit at a time in decode order, then
//! drain [`Fragmenter::poll_output`] until `None`. A part is closed when the sample after its
//! last one arrives (that is when the last duration is known) and is emitted at once, so a part
//! is published one frame after its last frame is pushed. [`FragmentOutput::SegmentStart`]
//! always comes before the first part of its segment. [`Fragmenter::flush`] ends the input.
//!
//! Sits in the pipeline after timeline normalisation; its parts go into `ring::TrackRing`.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use super::boxes::{patch_u32, write_box, write_full_box};
use crate::AccessUnit;
use crate::codec::opus;
use crate::ring::Part;
use crate::track::{CodecConfig, MediaKind, TrackInfo};

/// Part and segment targets, in the track's timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmenterConfig {
    /// Parts are closed so they never exceed this (LL-HLS PART-TARGET), within 1 %.
    pub part_target: u64,
    /// Segments are cut near this duration (on keyframes for video).
    pub segment_target: u64,
}

/// How a track decides where segments start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentPolicy {
    /// Video: a new segment starts at the first keyframe whose dts − segment start ≥
    /// segment_target − half a frame.
    Keyframes,
    /// Audio beside video: only [`Fragmenter::cut_segment_at`] starts segments.
    Follow,
    /// Audio-only: cut at segment_target (every audio frame is a sync sample).
    Duration,
}

/// What the fragmenter produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragmentOutput {
    /// The next part begins a new segment.
    SegmentStart {
        start_dts: i64,
        independent: bool,
    },
    Part(Part),
}

/// `tfhd` flag "default-base-is-moof": data offsets are relative to the `moof`.
const TFHD_DEFAULT_BASE_IS_MOOF: u32 = 0x02_0000;
/// `trun` flags: data-offset-present, sample-duration-, sample-size-, sample-flags-,
/// sample-composition-time-offsets-present.
const TRUN_DATA_OFFSET: u32 = 0x00_0001;
const TRUN_SAMPLE_DURATION: u32 = 0x00_0100;
const TRUN_SAMPLE_SIZE: u32 = 0x00_0200;
const TRUN_SAMPLE_FLAGS: u32 = 0x00_0400;
const TRUN_SAMPLE_CTO: u32 = 0x00_0800;
/// Sample flags (§8.8.3.1): sync = sample_depends_on 2 ("does not depend on others"),
/// sample_is_non_sync_sample 0.
const FLAGS_SYNC: u32 = 2 << 24;
/// Non-sync = sample_depends_on 1 ("depends on others"), sample_is_non_sync_sample 1.
const FLAGS_NON_SYNC: u32 = (1 << 24) | (1 << 16);
/// Bound on queued [`Fragmenter::cut_segment_at`] requests (the oldest is dropped past it).
const MAX_PENDING_CUTS: usize = 64;
/// Fallback frame duration when a stream ends after a single sample and declares no rate.
const DEFAULT_VIDEO_FRAME_TICKS: u64 = 3000;

/// Per-track CMAF fragmenter. See the module docs for the push/pull contract.
#[derive(Debug)]
pub struct Fragmenter {
    track: TrackInfo,
    cfg: FragmenterConfig,
    policy: SegmentPolicy,
    segment_max: Option<u64>,
    /// Samples of the open part, in decode order.
    samples: Vec<AccessUnit>,
    /// Durations of `samples` (one fewer than the samples until the part closes).
    durations: Vec<u64>,
    part_start: i64,
    segment_start: i64,
    /// Duration of the most recent sample whose duration is known.
    last_duration: Option<u64>,
    /// Pending [`Self::cut_segment_at`] requests, ascending.
    cuts: VecDeque<i64>,
    /// The latest cut requested and the interval since the one before: with a steady GOP the
    /// next cut comes one interval later, which lets parts be balanced before it is announced.
    last_cut: Option<i64>,
    cut_interval: Option<u64>,
    /// Next `mfhd` sequence_number.
    sequence: u32,
    out: VecDeque<FragmentOutput>,
    dropped_before_keyframe: u64,
    dropped_out_of_order: u64,
}

impl Fragmenter {
    pub fn new(track: &TrackInfo, cfg: FragmenterConfig, policy: SegmentPolicy) -> Self {
        Self {
            track: track.clone(),
            cfg,
            policy,
            segment_max: None,
            samples: Vec::new(),
            durations: Vec::new(),
            part_start: 0,
            segment_start: 0,
            last_duration: None,
            cuts: VecDeque::new(),
            last_cut: None,
            cut_interval: None,
            sequence: 1,
            out: VecDeque::new(),
            dropped_before_keyframe: 0,
            dropped_out_of_order: 0,
        }
    }

    pub fn track(&self) -> &TrackInfo {
        &self.track
    }

    /// Video samples dropped because no keyframe had started the stream yet.
    pub fn dropped_before_keyframe(&self) -> u64 {
        self.dropped_before_keyframe
    }

    /// Samples dropped because their dts did not increase.
    pub fn dropped_out_of_order(&self) -> u64 {
        self.dropped_out_of_order
    }

    /// Adds one access unit (decode order, dts ≥ 0, this track's timescale). May make output
    /// available.
    pub fn push(&mut self, au: AccessUnit) {
        let Some(last) = self.samples.last() else {
            return self.start(au);
        };
        if au.dts <= last.dts {
            self.dropped_out_of_order += 1;
            return;
        }
        let duration = au.dts.abs_diff(last.dts);
        self.durations.push(duration);
        self.last_duration = Some(duration);
        let mut new_segment = self.starts_segment(&au, duration);
        if new_segment && self.pull_cut_back(au.dts) {
            // The pending samples open the new segment instead of ending the old one.
            new_segment = false;
        }
        // Close the current part before adding s if (s.dts + est_duration − part_start) >
        // part_target + part_target/100, or if s starts a new segment.
        let part_end = au.dts.saturating_add_unsigned(duration);
        let limit = self.part_limit();
        let closes = new_segment || part_end.abs_diff(self.part_start) > limit;
        if closes {
            self.close_part(self.samples.len());
            self.part_start = au.dts;
        }
        if new_segment {
            self.begin_segment(au.dts, au.keyframe);
        }
        self.samples.push(au);
    }

    /// Follow policy: the first sample with dts ≥ `dts` (this track's timescale) starts a new
    /// segment. A cut that falls inside the part still being filled splits it right away.
    /// Ignored by the other policies.
    pub fn cut_segment_at(&mut self, dts: i64) {
        if self.policy != SegmentPolicy::Follow || self.cuts.back().is_some_and(|&c| dts <= c) {
            return;
        }
        if let Some(prev) = self.last_cut
            && dts > prev
        {
            self.cut_interval = Some(dts.abs_diff(prev));
        }
        self.last_cut = Some(dts);
        if self.cuts.len() >= MAX_PENDING_CUTS {
            self.cuts.pop_front();
        }
        self.cuts.push_back(dts);
        if self.samples.is_empty() {
            return;
        }
        // Samples at or after the cut that are still pending can start the segment now.
        let Some(idx) = self.samples.iter().position(|s| s.dts >= dts) else {
            return;
        };
        let first_dts = self.samples[idx].dts;
        if first_dts <= self.segment_start {
            // The current segment already starts there (or later).
            self.cuts.retain(|&c| c > first_dts);
            return;
        }
        self.cuts.retain(|&c| c > first_dts);
        if self.pull_cut_back(first_dts) {
            return;
        }
        if idx > 0 {
            self.close_part(idx);
            self.part_start = first_dts;
        }
        let keyframe = self.samples.first().is_some_and(|s| s.keyframe);
        self.begin_segment(first_dts, keyframe);
    }

    /// How long the current part may grow: the part target, except before a segment cut that
    /// is announced or predicted (a steady GOP repeats its interval) less than one and a half
    /// parts away. The remainder is then split into two balanced parts, so the segment never
    /// ends on a tiny part published a few ms after the one before it (hls.js 1.7 then marks
    /// the segment loaded without that part and leaves a hole). Audio parts are independent,
    /// so the shorter part is allowed (HLS §4.4.4.9 exempts INDEPENDENT=YES parts from 85 %).
    fn part_limit(&self) -> u64 {
        let normal = self.cfg.part_target.saturating_add(self.cfg.part_target / 100);
        if self.policy != SegmentPolicy::Follow {
            return normal;
        }
        let predicted = match (self.last_cut, self.cut_interval) {
            (Some(last), Some(interval)) => Some(last.saturating_add_unsigned(interval)),
            _ => None,
        };
        let next_cut = self.cuts.iter().copied().chain(predicted).find(|&c| c > self.part_start);
        let Some(cut) = next_cut else { return normal };
        let remaining = cut.abs_diff(self.part_start);
        let target = self.cfg.part_target;
        if remaining > target && remaining < target.saturating_add(target / 2) {
            remaining / 2 + self.last_duration.unwrap_or(0) / 2
        } else {
            normal
        }
    }

    /// Follow policy: a cut at `cut_dts` would leave the samples pending before it as a tiny
    /// last part of the old segment (one or two AAC frames published a few ms after the part
    /// before: hls.js 1.7 then marks the segment loaded without that part and starves audio).
    /// When those samples span less than half a part, the new segment starts at them instead,
    /// at most half a part earlier than the track it follows. Returns whether it did so.
    fn pull_cut_back(&mut self, cut_dts: i64) -> bool {
        let pending_span = cut_dts.abs_diff(self.part_start);
        let tail = self.policy == SegmentPolicy::Follow
            && self.part_start > self.segment_start
            && !self.samples.is_empty()
            && pending_span < self.cfg.part_target / 2;
        if tail {
            let sync = self.samples.first().is_some_and(|s| s.keyframe);
            self.begin_segment(self.part_start, sync);
        }
        tail
    }

    /// Forces a cut before a segment would exceed `ticks`, even without a keyframe (that
    /// segment's first part is then not independent). 0 removes the limit.
    pub fn set_segment_max(&mut self, ticks: u64) {
        self.segment_max = (ticks > 0).then_some(ticks);
    }

    /// End of input: emits the pending part, its last sample lasting as long as it says (Opus) or
    /// else as long as the one before. The next pushed sample starts a new segment (and, for
    /// video, must be a keyframe).
    pub fn flush(&mut self) {
        if self.samples.is_empty() {
            return;
        }
        let last = self
            .own_duration_of_last()
            .or(self.last_duration)
            .unwrap_or_else(|| self.default_duration());
        self.durations.push(last);
        self.close_part(self.samples.len());
        self.samples.clear();
        self.durations.clear();
        self.cuts.clear();
    }

    pub fn poll_output(&mut self) -> Option<FragmentOutput> {
        self.out.pop_front()
    }

    /// The first sample after start or flush opens a segment and a part.
    fn start(&mut self, au: AccessUnit) {
        if self.track.kind == MediaKind::Video && !au.keyframe {
            self.dropped_before_keyframe += 1;
            return;
        }
        self.part_start = au.dts;
        self.cuts.retain(|&c| c > au.dts);
        self.begin_segment(au.dts, au.keyframe);
        self.samples.push(au);
    }

    fn begin_segment(&mut self, start_dts: i64, independent: bool) {
        self.segment_start = start_dts;
        self.out.push_back(FragmentOutput::SegmentStart { start_dts, independent });
    }

    fn starts_segment(&mut self, au: &AccessUnit, est: u64) -> bool {
        let elapsed = au.dts.abs_diff(self.segment_start);
        // "dts − segment_start ≥ segment_target − half a frame"
        let reached_target = elapsed.saturating_add(est / 2) >= self.cfg.segment_target;
        let by_policy = match self.policy {
            SegmentPolicy::Keyframes => au.keyframe && reached_target,
            SegmentPolicy::Duration => reached_target,
            SegmentPolicy::Follow => {
                let mut cut = false;
                while self.cuts.front().is_some_and(|&c| c <= au.dts) {
                    self.cuts.pop_front();
                    cut = true;
                }
                cut
            }
        };
        let over_max = self.segment_max.is_some_and(|max| elapsed.saturating_add(est) > max);
        by_policy || over_max
    }

    /// Emits samples[..n] (all with known durations) as one part and removes them.
    fn close_part(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let samples: Vec<AccessUnit> = self.samples.drain(..n).collect();
        let durations: Vec<u64> = self.durations.drain(..n.min(self.durations.len())).collect();
        let part = self.render_part(&samples, &durations);
        self.out.push_back(FragmentOutput::Part(part));
    }

    /// The duration the last pending sample states itself, for codecs whose samples do: an
    /// Opus packet's TOC gives its frame size and count (Opus-in-ISOBMFF §4.3.4: "The duration of
    /// Opus sample is given by multiplying the total of frame sizes … by the value of the
    /// timescale field").
    fn own_duration_of_last(&self) -> Option<u64> {
        let CodecConfig::Opus(_) = &self.track.codec else { return None };
        let samples_48k = opus::packet_duration_48k(&self.samples.last()?.data)?;
        let ticks = u64::from(samples_48k) * u64::from(self.track.timescale);
        Some(ticks / u64::from(opus::SAMPLE_RATE))
    }

    fn default_duration(&self) -> u64 {
        match &self.track.codec {
            CodecConfig::Aac(c) => u64::from(c.samples_per_frame()),
            // 20 ms, the WebRTC packet time, in the track's timescale.
            CodecConfig::Opus(_) => u64::from(self.track.timescale) / 50,
            video => match video.frame_rate() {
                Some((num, den)) if num > 0 => {
                    u64::from(self.track.timescale) * u64::from(den) / u64::from(num)
                }
                _ => DEFAULT_VIDEO_FRAME_TICKS,
            },
        }
    }

    /// moof (mfhd, traf: tfhd, tfdt v1, trun v1) + mdat for one part.
    fn render_part(&mut self, samples: &[AccessUnit], durations: &[u64]) -> Part {
        let sequence = self.sequence;
        self.sequence = self.sequence.wrapping_add(1).max(1);
        let video = self.track.kind == MediaKind::Video;
        let start_dts = samples.first().map_or(0, |s| s.dts);
        let payload: usize = samples.iter().map(|s| s.data.len()).sum();
        let mut buf = BytesMut::with_capacity(payload + 64 + samples.len() * 16);
        let mut data_offset_at = None;
        write_box(&mut buf, b"moof", |b| {
            write_full_box(b, b"mfhd", 0, 0, |b| b.put_u32(sequence));
            // CMAF: "Each CMAF fragment SHALL contain one TrackFragmentBox" with one trun.
            write_box(b, b"traf", |b| {
                write_full_box(b, b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF, |b| {
                    b.put_u32(self.track.id)
                });
                write_full_box(b, b"tfdt", 1, 0, |b| b.put_u64(start_dts.max(0).unsigned_abs()));
                let mut flags =
                    TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_SIZE | TRUN_SAMPLE_FLAGS;
                let cto = self.track.codec.has_composition_offsets();
                if cto {
                    flags |= TRUN_SAMPLE_CTO;
                }
                // Version 1: "sample_composition_time_offset" is signed.
                write_full_box(b, b"trun", 1, flags, |b| {
                    b.put_u32(u32::try_from(samples.len()).unwrap_or(u32::MAX));
                    data_offset_at = Some(b.len());
                    b.put_i32(0);
                    for (s, &d) in samples.iter().zip(durations) {
                        b.put_u32(u32::try_from(d).unwrap_or(u32::MAX));
                        b.put_u32(u32::try_from(s.data.len()).unwrap_or(u32::MAX));
                        let sync = s.keyframe || !video;
                        b.put_u32(if sync { FLAGS_SYNC } else { FLAGS_NON_SYNC });
                        if cto {
                            let offset =
                                s.composition_offset().clamp(i32::MIN.into(), i32::MAX.into());
                            // Clamped to the i32 range just above.
                            b.put_i32(offset as i32);
                        }
                    }
                });
            });
        });
        // "data_offset … added to the implicit or explicit data_offset established in the track
        // fragment header": with default-base-is-moof, the first byte of mdat's payload.
        let moof_len = buf.len();
        if let Some(at) = data_offset_at {
            patch_u32(&mut buf, at, u32::try_from(moof_len + 8).unwrap_or(u32::MAX));
        }
        write_box(&mut buf, b"mdat", |b| {
            for s in samples {
                b.put_slice(&s.data);
            }
        });
        Part {
            start_dts,
            duration: durations.iter().fold(0u64, |a, &d| a.saturating_add(d)),
            independent: samples.first().is_some_and(|s| s.keyframe),
            data: buf.freeze(),
        }
    }
}

/// Convenience for callers that keep a fragmenter's output as plain data.
impl FragmentOutput {
    /// The part, if this output is one.
    pub fn as_part(&self) -> Option<&Part> {
        match self {
            FragmentOutput::Part(p) => Some(p),
            FragmentOutput::SegmentStart { .. } => None,
        }
    }
}

/// The part data of a segment as one contiguous buffer (tests, archives); egress chains the
/// parts' `Bytes` instead.
pub fn concat_parts<'a>(parts: impl IntoIterator<Item = &'a Part>) -> Bytes {
    let mut b = BytesMut::new();
    for p in parts {
        b.put_slice(&p.data);
    }
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::super::boxes::reader::*;
    use super::*;
    use crate::test_support::{audio_track, video_track};
    use crate::time::ms_to_ticks;
    use crate::track::{AUDIO_TRACK, VIDEO_TRACK};

    const PART_200MS: FragmenterConfig =
        FragmenterConfig { part_target: 18_000, segment_target: 90_000 };

    /// Frame `i` of a 30 fps stream as FLV delivers it (whole milliseconds), keyframe every `gop`.
    fn frame(i: i64, gop: i64) -> AccessUnit {
        let ms = i * 1000 / 30;
        let dts = ms_to_ticks(ms, 90_000);
        AccessUnit {
            track: VIDEO_TRACK,
            dts,
            pts: dts,
            keyframe: i % gop == 0,
            data: Bytes::from(vec![i as u8; 10 + i as usize % 7]),
        }
    }

    fn aac_frame(i: i64) -> AccessUnit {
        AccessUnit {
            track: AUDIO_TRACK,
            dts: i * 1024,
            pts: i * 1024,
            keyframe: true,
            data: Bytes::from(vec![0x21; 5]),
        }
    }

    fn drain(f: &mut Fragmenter) -> Vec<FragmentOutput> {
        std::iter::from_fn(|| f.poll_output()).collect()
    }

    /// What the test reader finds in one part.
    #[derive(Debug)]
    struct Parsed {
        sequence: u32,
        track_id: u32,
        tfdt: u64,
        /// (duration, size, flags, composition offset)
        samples: Vec<(u32, u32, u32, i32)>,
    }

    fn parse_part(data: &[u8]) -> Parsed {
        let top = boxes(data);
        assert_eq!(top.len(), 2);
        assert_eq!((&top[0].kind, &top[1].kind), (b"moof", b"mdat"));
        let moof = top[0].payload;
        let mfhd = child(moof, b"mfhd");
        let traf = child(moof, b"traf");
        let tfhd = child(traf, b"tfhd");
        assert_eq!(u32_at(tfhd, 0), 0x0002_0000, "v0, default-base-is-moof only");
        let tfdt = child(traf, b"tfdt");
        assert_eq!(tfdt[0], 1, "tfdt version 1");
        let trun = child(traf, b"trun");
        assert_eq!(trun[0], 1, "trun version 1");
        let flags = u32_at(trun, 0) & 0xff_ffff;
        let has_cto = flags & TRUN_SAMPLE_CTO != 0;
        let count = u32_at(trun, 4) as usize;
        let data_offset = u32_at(trun, 8) as usize;
        assert_eq!(data_offset, top[0].payload.len() + 8 + 8, "data_offset → mdat payload");
        let stride = if has_cto { 16 } else { 12 };
        let samples: Vec<_> = (0..count)
            .map(|i| {
                let at = 12 + i * stride;
                let cto = if has_cto { u32_at(trun, at + 12) as i32 } else { 0 };
                (u32_at(trun, at), u32_at(trun, at + 4), u32_at(trun, at + 8), cto)
            })
            .collect();
        assert_eq!(trun.len(), 12 + count * stride);
        let total: u32 = samples.iter().map(|s| s.1).sum();
        assert_eq!(total as usize, top[1].payload.len(), "sizes cover mdat");
        Parsed {
            sequence: u32_at(mfhd, 4),
            track_id: u32_at(tfhd, 4),
            tfdt: u64_at(tfdt, 4),
            samples,
        }
    }

    /// Segments as lists of parts.
    fn segments(out: &[FragmentOutput]) -> Vec<(i64, bool, Vec<Part>)> {
        let mut segs: Vec<(i64, bool, Vec<Part>)> = Vec::new();
        for o in out {
            match o {
                FragmentOutput::SegmentStart { start_dts, independent } => {
                    segs.push((*start_dts, *independent, Vec::new()))
                }
                FragmentOutput::Part(p) => {
                    segs.last_mut().expect("part before segment").2.push(p.clone())
                }
            }
        }
        segs
    }

    #[test]
    fn thirty_fps_one_second_gop_makes_five_six_frame_parts_per_segment() {
        let mut f = Fragmenter::new(&video_track(), PART_200MS, SegmentPolicy::Keyframes);
        for i in 0..91 {
            f.push(frame(i, 30));
        }
        let out = drain(&mut f);
        let segs = segments(&out);
        assert_eq!(segs.len(), 4, "three complete segments and the fourth started");
        for (n, (start, independent, parts)) in segs[..3].iter().enumerate() {
            assert_eq!(*start, n as i64 * 90_000);
            assert!(independent);
            assert_eq!(parts.len(), 5);
            for (k, p) in parts.iter().enumerate() {
                assert_eq!(parse_part(&p.data).samples.len(), 6);
                assert_eq!(p.duration, 18_000, "200 ms exactly despite ms rounding");
                assert_eq!(p.independent, k == 0);
            }
        }
        assert!(segs[3].2.is_empty(), "frame 90's part waits for frame 91");
    }

    #[test]
    fn two_second_gop_with_one_second_target_makes_two_second_segments() {
        let mut f = Fragmenter::new(&video_track(), PART_200MS, SegmentPolicy::Keyframes);
        for i in 0..120 {
            f.push(frame(i, 60));
        }
        let segs = segments(&drain(&mut f));
        let starts: Vec<i64> = segs.iter().map(|s| s.0).collect();
        assert_eq!(starts, vec![0, 180_000]);
        assert_eq!(segs[0].2.len(), 10);
        assert_eq!(segs[0].2.iter().map(|p| p.duration).sum::<u64>(), 180_000);
    }

    #[test]
    fn b_frame_composition_offsets_are_carried_into_trun() {
        let mut f = Fragmenter::new(&video_track(), PART_200MS, SegmentPolicy::Keyframes);
        // Decode order I P B B with pts offsets as x264 with 2 B-frames produces.
        let ptss = [6000, 15000, 9000, 12000, 27000];
        for (i, pts) in ptss.iter().enumerate() {
            let dts = i as i64 * 3000;
            f.push(AccessUnit {
                track: VIDEO_TRACK,
                dts,
                pts: *pts,
                keyframe: i == 0,
                data: Bytes::from_static(b"abc"),
            });
        }
        f.flush();
        let out = drain(&mut f);
        let part = out.iter().find_map(FragmentOutput::as_part).unwrap();
        let p = parse_part(&part.data);
        let ctos: Vec<i32> = p.samples.iter().map(|s| s.3).collect();
        assert_eq!(ctos, vec![6000, 12000, 3000, 3000, 15000]);
        let flags: Vec<u32> = p.samples.iter().map(|s| s.2).collect();
        assert_eq!(flags[0], 0x0200_0000, "sync: depends_on 2");
        assert!(flags[1..].iter().all(|&f| f == 0x0101_0000), "non-sync: depends_on 1, non-sync");
    }

    #[test]
    fn aac_48k_parts_hold_nine_frames_and_tfdt_is_continuous() {
        let cfg = FragmenterConfig { part_target: 9600, segment_target: 48_000 };
        let mut f = Fragmenter::new(&audio_track(), cfg, SegmentPolicy::Duration);
        for i in 0..100 {
            f.push(aac_frame(i));
        }
        f.flush();
        let out = drain(&mut f);
        let parts: Vec<&Part> = out.iter().filter_map(FragmentOutput::as_part).collect();
        let mut expected_tfdt = 0u64;
        for (n, part) in parts.iter().enumerate() {
            let p = parse_part(&part.data);
            assert_eq!(p.sequence, n as u32 + 1, "mfhd sequence increments");
            assert_eq!(p.track_id, AUDIO_TRACK);
            assert_eq!(p.tfdt, expected_tfdt, "tfdt = previous tfdt + previous durations");
            assert!(p.samples.iter().all(|s| s.0 == 1024 && s.2 == 0x0200_0000 && s.3 == 0));
            expected_tfdt += p.samples.iter().map(|s| u64::from(s.0)).sum::<u64>();
            assert!(part.duration <= 9600);
        }
        assert_eq!(expected_tfdt, 100 * 1024, "flush gave the last frame the previous duration");
        assert_eq!(parse_part(&parts[0].data).samples.len(), 9);
        // Segments near 1 s: 47 frames (48 128 ticks) is the first ≥ 48 000 − 512.
        let starts: Vec<i64> = segments(&out).iter().map(|s| s.0).collect();
        assert_eq!(starts, vec![0, 47 * 1024, 94 * 1024]);
    }

    #[test]
    fn follow_policy_cuts_audio_where_video_cut() {
        let cfg = FragmenterConfig { part_target: 9600, segment_target: 48_000 };
        let mut f = Fragmenter::new(&audio_track(), cfg, SegmentPolicy::Follow);
        for i in 0..40 {
            f.push(aac_frame(i));
        }
        // Video cut at 1 s = 48 000 ticks; audio frame 47 (48 128) is the first at or after it.
        // The cut is known when the fifth part starts (frame 36), 11 frames before it: those
        // split 5 + 6 rather than 9 + a 2-frame part.
        f.cut_segment_at(48_000);
        for i in 40..100 {
            f.push(aac_frame(i));
        }
        let segs = segments(&drain(&mut f));
        let starts: Vec<i64> = segs.iter().map(|s| s.0).collect();
        assert_eq!(starts, vec![0, 47 * 1024]);
        assert!(segs[1].1);
        assert_eq!(segs[1].2[0].start_dts, 47 * 1024);
        assert!(segs[0].2.iter().all(|p| p.duration >= 5 * 1024), "no tiny last part");
    }

    #[test]
    fn follow_policy_balances_the_last_parts_when_the_cut_is_known_early() {
        let cfg = FragmenterConfig { part_target: 9600, segment_target: 48_000 };
        let mut f = Fragmenter::new(&audio_track(), cfg, SegmentPolicy::Follow);
        // The pipeline holds audio until video passed it: the cut is known before frame 45.
        f.cut_segment_at(48_000);
        for i in 0..60 {
            f.push(aac_frame(i));
        }
        let segs = segments(&drain(&mut f));
        // Cut at frame 47 exactly where video cut; 9,9,9,9 then the last 11 frames split 5 + 6.
        assert_eq!(segs.iter().map(|s| s.0).collect::<Vec<_>>(), vec![0, 47 * 1024]);
        let frames: Vec<u64> = segs[0].2.iter().map(|p| p.duration / 1024).collect();
        assert_eq!(frames, vec![9, 9, 9, 9, 5, 6]);
    }

    #[test]
    fn follow_policy_predicts_a_steady_cut_before_it_is_announced() {
        let cfg = FragmenterConfig { part_target: 9600, segment_target: 48_000 };
        let mut f = Fragmenter::new(&audio_track(), cfg, SegmentPolicy::Follow);
        // Cuts every second, each announced only when audio has already passed it by a frame
        // (video arrives late): after two, the third is predicted.
        for i in 0..150 {
            if i == 48 || i == 95 || i == 142 {
                f.cut_segment_at((i - 1) * 1024 + 512);
            }
            f.push(aac_frame(i));
        }
        let segs = segments(&drain(&mut f));
        let third = &segs[2];
        let last_part = third.2.last().map_or(0, |p| p.duration);
        assert!(
            last_part >= 4 * 1024,
            "predicted cut leaves a balanced last part, not {last_part}"
        );
        assert_eq!(segs[3].0, 142 * 1024, "the segment starts at the first frame after the cut");
    }

    #[test]
    fn follow_policy_keeps_a_long_enough_tail_in_the_old_segment() {
        let cfg = FragmenterConfig { part_target: 9600, segment_target: 48_000 };
        let mut f = Fragmenter::new(&audio_track(), cfg, SegmentPolicy::Follow);
        for i in 0..44 {
            f.push(aac_frame(i));
        }
        // Cut at frame 42: frames 36..41 (6 frames, 128 ms ≥ half a part) end the old segment.
        f.cut_segment_at(42 * 1024);
        for i in 44..60 {
            f.push(aac_frame(i));
        }
        let segs = segments(&drain(&mut f));
        assert_eq!(segs.iter().map(|s| s.0).collect::<Vec<_>>(), vec![0, 42 * 1024]);
        assert_eq!(segs[0].2.last().map(|p| p.duration), Some(6 * 1024));
    }

    #[test]
    fn follow_policy_splits_the_pending_part_when_the_cut_arrives_late() {
        let cfg = FragmenterConfig { part_target: 9600, segment_target: 48_000 };
        let mut f = Fragmenter::new(&audio_track(), cfg, SegmentPolicy::Follow);
        // Audio runs ahead: frames up to 50 are in before video reports its cut at 48 000.
        for i in 0..51 {
            f.push(aac_frame(i));
        }
        f.cut_segment_at(48_000);
        for i in 51..60 {
            f.push(aac_frame(i));
        }
        let segs = segments(&drain(&mut f));
        // Frames 45 and 46 precede the cut but are too short to end a segment on their own.
        assert_eq!(segs.iter().map(|s| s.0).collect::<Vec<_>>(), vec![0, 45 * 1024]);
        let first_seg_end: u64 = segs[0].2.iter().map(|p| p.duration).sum();
        assert_eq!(first_seg_end, 45 * 1024);
    }

    #[test]
    fn forced_max_cuts_without_keyframe_and_marks_segment_dependent() {
        let mut f = Fragmenter::new(&video_track(), PART_200MS, SegmentPolicy::Keyframes);
        f.set_segment_max(180_000);
        // One keyframe only: segments are forced every 2 s.
        for i in 0..151 {
            f.push(frame(i, 1000));
        }
        let segs = segments(&drain(&mut f));
        let heads: Vec<(i64, bool)> = segs.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(heads, vec![(0, true), (180_000, false), (360_000, false)]);
        assert!(!segs[1].2[0].independent);
        assert!(segs[0].2.iter().map(|p| p.duration).sum::<u64>() <= 180_000);
    }

    #[test]
    fn video_before_the_first_keyframe_is_dropped() {
        let mut f = Fragmenter::new(&video_track(), PART_200MS, SegmentPolicy::Keyframes);
        for i in 1..40 {
            f.push(frame(i, 30));
        }
        assert_eq!(f.dropped_before_keyframe(), 29);
        let out = drain(&mut f);
        assert_eq!(out[0], FragmentOutput::SegmentStart { start_dts: 90_000, independent: true });
    }

    #[test]
    fn non_increasing_dts_is_dropped() {
        let mut f = Fragmenter::new(&video_track(), PART_200MS, SegmentPolicy::Keyframes);
        f.push(frame(0, 30));
        f.push(frame(1, 30));
        f.push(frame(1, 30));
        f.push(frame(2, 30));
        f.flush();
        assert_eq!(f.dropped_out_of_order(), 1);
        let out = drain(&mut f);
        let p = parse_part(&out[1].as_part().unwrap().data);
        assert_eq!(p.samples.len(), 3);
    }

    #[test]
    fn a_single_sample_flushes_with_the_declared_frame_rate() {
        let mut f = Fragmenter::new(&video_track(), PART_200MS, SegmentPolicy::Keyframes);
        f.push(frame(0, 30));
        f.flush();
        let out = drain(&mut f);
        assert_eq!(out[1].as_part().unwrap().duration, 3000);
        // After a flush the next sample opens a new segment.
        f.push(frame(30, 30));
        assert!(matches!(
            f.poll_output(),
            Some(FragmentOutput::SegmentStart { start_dts: 90_000, .. })
        ));
    }
}
