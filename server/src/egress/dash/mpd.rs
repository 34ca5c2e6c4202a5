//! What the MPD says, from a channel snapshot: each run of segments (one publisher session
//! and codec configuration, i.e. one discontinuity sequence) is a Period, remembered so that its
//! id, start and offsets never change while it is listed (ISO 23009-1 §5.4.1).
//!
//! The live Period is addressed by `$Number$` with a fixed `@duration` while its segments keep
//! to their nominal slots (what low-latency players handle best: they compute the live edge
//! from the clock). A Period whose segments left their slots (an irregular GOP) switches to a
//! `SegmentTimeline` for good, and so does a Period whose publisher has left: it must say where
//! its media stops, so that players finish it and move on to the next Period instead of asking
//! for segments that will never exist. The channel timeline follows the wall clock across
//! publisher sessions (the pipeline places a returning publisher where the clock says), so each
//! Period starts where its wall-clock time says.

use std::hash::{Hash, Hasher};
use std::ops::RangeInclusive;

use sluice_dash::{AdaptationInput, ContentKind, Latency, MpdInput, PeriodInput};
use sluice_media::ring::{Segment, TrackRing};
use sluice_media::time::rescale;
use sluice_media::{MediaKind, TrackInfo};

use crate::hub::{ChannelSnapshot, TrackView};

/// Which run segment `s` of `ring` belongs to: the discontinuities up to and including it.
pub(super) fn run_of(ring: &TrackRing, s: &Segment) -> u64 {
    ring.discontinuity_sequence(s.msn) + u64::from(s.discontinuity)
}

/// One run of segments in the leading track's ring.
struct Run<'a> {
    /// The oldest segment of the run still kept.
    first: &'a Segment,
    key: u64,
    /// Segment numbers of the run in the ring.
    msns: RangeInclusive<u64>,
    /// The run's first complete segment's duration, ticks of the leading track.
    duration: Option<u64>,
}

fn runs(track: &TrackView) -> Vec<Run<'_>> {
    let mut runs: Vec<Run<'_>> = Vec::new();
    // Counted as the ring is walked (run_of per segment would walk it again for each).
    let first = track.ring.segments().next().map(|s| s.msn);
    let mut key = first.map_or(0, |msn| track.ring.discontinuity_sequence(msn));
    for s in track.ring.segments() {
        key += u64::from(s.discontinuity);
        match runs.last_mut() {
            Some(run) if run.key == key => run.msns = *run.msns.start()..=s.msn,
            _ => runs.push(Run { first: s, key, msns: s.msn..=s.msn, duration: None }),
        }
        if let Some(run) = runs.last_mut()
            && run.duration.is_none()
            && s.complete
        {
            run.duration = Some(s.duration());
        }
    }
    runs
}

/// What a Period was published with.
#[derive(Debug, Clone)]
struct PeriodParams {
    id: String,
    start_ms: i64,
    start_number: u64,
    /// Nominal segment duration, ticks of the leading track.
    duration: u64,
    lead_rate: u32,
    /// (track name, timescale, presentation time offset).
    offsets: Vec<(&'static str, u32, u64)>,
    /// Its segments left their `$Number$` slots once: addressed by a SegmentTimeline from then on.
    irregular: bool,
}

/// The Periods as first published, and the last document's identity (for `publishTime`, which
/// changes only with the content, and the ETag).
#[derive(Debug, Default)]
pub struct MpdMemory {
    periods: Vec<(u64, PeriodParams)>,
    last: Option<(u64, i64)>,
}

impl MpdMemory {
    /// The run a listed Period was published for.
    pub(super) fn key_of(&self, id: &str) -> Option<u64> {
        self.periods.iter().find(|(_, p)| p.id == id).map(|(k, _)| *k)
    }

    /// When segment `n` of a listed Period becomes available by its `$Number$` slot (Unix ms):
    /// one part after the slot starts. `None` once the Period is addressed by a timeline (its
    /// segments are available when they are).
    pub(super) fn slot_available_ms(&self, id: &str, n: u64, part_ms: u64) -> Option<i64> {
        let (_, p) = self.periods.iter().find(|(_, p)| p.id == id)?;
        if p.irregular || n < p.start_number {
            return None;
        }
        let slot = rescale(((n - p.start_number) * p.duration) as i64, p.lead_rate, 1000);
        Some(p.start_ms + slot + part_ms as i64)
    }

    /// The remembered Periods of `runs` (new ones fixed now), forgetting runs no longer listed.
    fn resolve(&mut self, snap: &ChannelSnapshot, runs: &[Run<'_>], lead_rate: u32) -> Vec<Listed> {
        self.periods.retain(|(k, _)| runs.iter().any(|r| r.key == *k));
        let mut out = Vec::new();
        let mut previous_duration = None;
        for run in runs {
            let known = self.periods.iter_mut().find(|(k, _)| *k == run.key);
            let params = match known {
                Some((_, p)) => {
                    p.irregular |= !keeps_to_slots(snap, p, &run.msns);
                    p.clone()
                }
                None => {
                    // A new run is listed from its first part, with the previous run's nominal
                    // duration until its own first segment completes; the very first run waits.
                    let Some(duration) = run.duration.or(previous_duration) else { continue };
                    let params = new_period(snap, run, duration, lead_rate);
                    self.periods.push((run.key, params.clone()));
                    params
                }
            };
            previous_duration = Some(params.duration);
            out.push(Listed { params, msns: run.msns.clone() });
        }
        out
    }

    /// The `publishTime` for a document whose content (without it) hashes to `content`: the
    /// previous one if nothing changed.
    fn publish_time(&mut self, content: u64, now_ms: i64) -> i64 {
        match self.last {
            Some((hash, published)) if hash == content => published,
            _ => {
                self.last = Some((content, now_ms));
                now_ms
            }
        }
    }
}

struct Listed {
    params: PeriodParams,
    msns: RangeInclusive<u64>,
}

fn new_period(
    snap: &ChannelSnapshot,
    run: &Run<'_>,
    duration: u64,
    lead_rate: u32,
) -> PeriodParams {
    let offsets = tracks(snap)
        .filter_map(|t| {
            let rate = t.ring.timescale();
            let d = rescale(duration as i64, lead_rate, rate);
            let seg = t.ring.segments().find(|s| s.msn >= run.first.msn)?;
            let pto = seg.start_dts - (seg.msn - run.first.msn) as i64 * d;
            Some((t.name, rate, pto.max(0) as u64))
        })
        .collect();
    PeriodParams {
        id: format!("p{}", run.first.msn),
        start_ms: run.first.program_date_time_ms,
        start_number: run.first.msn,
        duration,
        lead_rate,
        offsets,
        irregular: false,
    }
}

fn tracks(snap: &ChannelSnapshot) -> impl Iterator<Item = &TrackView> {
    [snap.video.as_ref(), snap.audio.as_ref()].into_iter().flatten()
}

/// Every segment of the run starts within a quarter segment of its `$Number$` slot, on every
/// track (AAC segments end on whole frames, a few ms off; a GOP change moves them further).
fn keeps_to_slots(snap: &ChannelSnapshot, p: &PeriodParams, msns: &RangeInclusive<u64>) -> bool {
    tracks(snap).all(|t| {
        let Some(&(_, rate, pto)) = p.offsets.iter().find(|(name, _, _)| *name == t.name) else {
            return true;
        };
        let d = rescale(p.duration as i64, p.lead_rate, rate);
        t.ring.segments().filter(|s| msns.contains(&s.msn)).all(|s| {
            let slot = pto as i64 + (s.msn - p.start_number) as i64 * d;
            (s.start_dts - slot).abs() <= d / 4
        })
    })
}

/// The document, with `publishTime` from `memory` (unchanged while the content is) and the
/// content hash that names it (ETag).
pub(super) fn document(
    snap: &ChannelSnapshot,
    memory: &mut MpdMemory,
    origin: &str,
    now_ms: i64,
) -> Option<(String, u64)> {
    let mut input = mpd_input(snap, memory, origin)?;
    let content = hash(&sluice_dash::render_mpd(&input));
    input.publish_time_ms = memory.publish_time(content, now_ms);
    let body = sluice_dash::render_mpd(&input);
    Some((body, content))
}

fn hash(s: &str) -> u64 {
    // SipHash with fixed keys: the same content gives the same ETag for the process's life.
    let mut h = std::hash::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn mpd_input(snap: &ChannelSnapshot, memory: &mut MpdMemory, origin: &str) -> Option<MpdInput> {
    let lead = tracks(snap).next()?;
    let lead_rate = lead.ring.timescale();
    let runs = runs(lead);
    let periods = memory.resolve(snap, &runs, lead_rate);
    let part_ms = (snap.part_target_s * 1000.0).round() as u64;
    let nominal_ms = rescale(periods.last()?.params.duration as i64, lead_rate, 1000) as u64;
    // Longest complete segment on any track, rounded up (audio segments end on whole frames,
    // a few ms past the video's).
    let max_segment_ms = tracks(snap)
        .flat_map(|t| {
            let rate = u64::from(t.ring.timescale());
            t.ring
                .segments()
                .filter(|s| s.complete)
                .map(move |s| (s.duration() * 1000).div_ceil(rate))
        })
        .max()
        .unwrap_or(nominal_ms);
    // The wall-clock span the complete segments cover (gaps included).
    let complete = || lead.ring.segments().filter(|s| s.complete);
    let listed_ms = match (complete().next(), complete().next_back()) {
        (Some(first), Some(last)) => {
            let end = last.program_date_time_ms + rescale(last.duration() as i64, lead_rate, 1000);
            (end - first.program_date_time_ms).max(0) as u64
        }
        _ => 0,
    };
    let periods = periods
        .iter()
        .enumerate()
        .map(|(i, listed)| {
            let p = &listed.params;
            // A Period followed by another (a new codec configuration) lasts until the next
            // starts (ISO 23009-1 §5.3.2: Periods leave no hole). The last one stays open while
            // the publisher is away: a player that saw it end would stop (dashjs fires
            // PLAYBACK_ENDED and never resumes) before the publisher returns.
            let duration_ms =
                periods.get(i + 1).map(|next| (next.params.start_ms - p.start_ms).max(0) as u64);
            PeriodInput {
                id: p.id.clone(),
                start_ms: p.start_ms,
                duration_ms,
                adaptation_sets: tracks(snap)
                    .filter_map(|t| {
                        // Its publisher gone (or a next Period begun), a Period says where
                        // its media stops: players then ask for nothing beyond it.
                        let timeline = p.irregular || duration_ms.is_some() || !snap.live;
                        adaptation(t, p, &listed.msns, timeline, part_ms)
                    })
                    .collect(),
            }
        })
        .collect();
    // Aim a few parts behind the live edge; allow catching up within two segments.
    let target_ms = (4 * part_ms).max(1000);
    Some(MpdInput {
        availability_start_ms: snap.timeline_epoch_ms?,
        publish_time_ms: 0,
        utc_timing_url: format!("{origin}/time"),
        // Half a segment: a player learns of a new Period (a publisher back) that much sooner.
        min_update_period_ms: (nominal_ms / 2).max(part_ms),
        min_buffer_time_ms: (2 * part_ms).max(500),
        suggested_presentation_delay_ms: target_ms,
        time_shift_buffer_depth_ms: listed_ms.max(nominal_ms),
        max_segment_duration_ms: max_segment_ms.max(nominal_ms),
        latency: Latency {
            target_ms,
            min_ms: 2 * part_ms,
            max_ms: target_ms + 2 * nominal_ms,
            min_playback_rate: 0.95,
            max_playback_rate: 1.05,
        },
        periods,
    })
}

fn adaptation(
    t: &TrackView,
    p: &PeriodParams,
    msns: &RangeInclusive<u64>,
    timeline: bool,
    part_ms: u64,
) -> Option<AdaptationInput> {
    let &(_, rate, pto) = p.offsets.iter().find(|(name, _, _)| *name == t.name)?;
    let d = rescale(p.duration as i64, p.lead_rate, rate).max(1) as u64;
    let d_ms = rescale(d as i64, rate, 1000) as u64;
    let segments = || t.ring.segments().filter(|s| msns.contains(&s.msn));
    let init_version = segments().next().map_or(0, |s| s.init_version);
    // Complete segments as they are; the one in progress with the nominal duration, so that a
    // player asks for it once its first part is out (availabilityTimeOffset).
    let timeline = timeline.then(|| {
        segments()
            .map(|s| (s.start_dts.max(0) as u64, if s.complete { s.duration() } else { d }))
            .collect::<Vec<_>>()
    });
    let start_number = match &timeline {
        Some(_) => segments().next().map_or(p.start_number, |s| s.msn),
        None => p.start_number,
    };
    let (kind, id) = content(&t.info)?;
    Some(AdaptationInput {
        id,
        kind,
        codecs: t.info.codec_string(),
        bandwidth: bandwidth(t),
        timescale: rate,
        segment_duration: d,
        start_number,
        timeline,
        presentation_time_offset: pto,
        availability_time_offset_s: d_ms.saturating_sub(part_ms) as f64 / 1000.0,
        initialization: format!("{}/init-{init_version}.mp4", t.name),
        media: format!("{}/{}/$Number$.m4s", p.id, t.name),
        producer_reference: (pto, p.start_ms),
    })
}

fn content(info: &TrackInfo) -> Option<(ContentKind, u32)> {
    match info.kind {
        MediaKind::Video => {
            let (width, height) = info.codec.video_size()?;
            let frame_rate = info
                .codec
                .frame_rate()
                .filter(|&(n, d)| n > 0 && d > 0)
                .map(|(n, d)| f64::from(n) / f64::from(d));
            Some((ContentKind::Video { width, height, frame_rate }, 1))
        }
        MediaKind::Audio => {
            // Opus is always decoded at 48 kHz; AAC says its rate.
            let sample_rate = match &info.codec {
                sluice_media::CodecConfig::Aac(c) => c.sample_rate,
                _ => 48_000,
            };
            let channels = info.codec.audio_channels().unwrap_or(2);
            Some((ContentKind::Audio { sample_rate, channels }, 2))
        }
    }
}

/// Peak bits per second over the complete segments, with 10% headroom (1 Mbit/s before any).
fn bandwidth(t: &TrackView) -> u64 {
    let rate = f64::from(t.ring.timescale());
    let peak = t
        .ring
        .segments()
        .filter(|s| s.complete && s.duration() > 0)
        .map(|s| s.byte_len() as f64 * 8.0 * rate / s.duration() as f64)
        .fold(0.0, f64::max);
    if peak > 0.0 { (peak * 1.1) as u64 } else { 1_000_000 }
}
