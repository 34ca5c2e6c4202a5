//! LL-DASH egress (`/{group}/{channel}/dash/…`): the MPD, init segments and segments, from the
//! same CMAF rings as LL-HLS.
//!
//! A segment still being produced is answered at once with the parts it has, then each part
//! the moment it lands (chunked transfer / HTTP/2 DATA frames), ending when the segment
//! closes. The next segment, not started yet, is held until it starts (players ask for it a
//! part after its nominal start; encoders are not that punctual). Anything else that does not
//! exist is 404, cached for a second.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use sluice_dash::{AdaptationInput, ContentKind, Latency, MpdInput, PeriodInput};
use sluice_hls::CacheKind;
use sluice_media::ring::Segment;
use sluice_media::time::rescale;
use sluice_media::{MediaKind, TrackInfo};
use tokio::time::Instant;

use crate::egress::body::{Chunks, LiveTail};
use crate::egress::hls::{STARTUP_WAIT, busy, wait_for};
use crate::egress::response::{Resp, cache, error, with_body};
use crate::hub::{Channel, ChannelSnapshot, HeldGuard, Hub, TrackView};

/// How long past its nominal start the next segment is waited for.
const NEXT_SEGMENT_GRACE: Duration = Duration::from_millis(500);

pub async fn handle(hub: &Arc<Hub>, channel: Arc<Channel>, tail: &str, origin: &str) -> Resp {
    let mut resp = match tail {
        "index.mpd" => mpd(hub, &channel, origin).await,
        _ => match parse_media(tail) {
            Some((rendition, Media::Init(version))) => {
                let snap = channel.snapshot();
                match snap.track(rendition).and_then(|t| t.ring.init(version)) {
                    Some(init) => media(rendition, Chunks::from(init.data.clone()), true),
                    None => error(StatusCode::NOT_FOUND, "no such init segment"),
                }
            }
            Some((rendition, Media::Segment(number))) => {
                segment(hub, &channel, rendition, number).await
            }
            None => error(
                StatusCode::NOT_FOUND,
                "no such LL-DASH resource (index.mpd, {video|audio}/init-N.mp4, {video|audio}/N.m4s)",
            ),
        },
    };
    if resp.status() == StatusCode::NOT_FOUND {
        // Not yet available (or gone): a CDN may remember that briefly, not longer.
        cache(&mut resp, "max-age=1");
    }
    resp
}

enum Media {
    Init(u32),
    Segment(u64),
}

fn parse_media(tail: &str) -> Option<(&'static str, Media)> {
    let (rendition, file) = tail.split_once('/')?;
    let rendition = match rendition {
        "video" => "video",
        "audio" => "audio",
        _ => return None,
    };
    if let Some(v) = file.strip_prefix("init-").and_then(|f| f.strip_suffix(".mp4")) {
        return Some((rendition, Media::Init(v.parse().ok()?)));
    }
    let n = file.strip_suffix(".m4s")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((rendition, Media::Segment(n.parse().ok()?)))
}

/// A segment's response: a finished one is cached like any LL-HLS media; a growing one must
/// not be stored as if it were the whole segment.
fn media(rendition: &str, body: Chunks, complete: bool) -> Resp {
    let mut r = crate::egress::hls::media(rendition, body, CacheKind::Media);
    if !complete {
        cache(&mut r, "no-store");
    }
    r
}

async fn mpd(hub: &Arc<Hub>, channel: &Channel, origin: &str) -> Resp {
    let mut snap = channel.snapshot();
    if !snap.ready() {
        let Some(_held) = hub.hold() else { return busy() };
        match wait_for(channel, Instant::now() + STARTUP_WAIT, |s| s.ready().then(|| s.clone()))
            .await
        {
            Some(s) => snap = s,
            None => return error(StatusCode::NOT_FOUND, format!("{} is not live yet", channel.id)),
        }
    }
    let Some(input) = mpd_input(&snap, channel, origin) else {
        return error(StatusCode::NOT_FOUND, format!("{} is not live yet", channel.id));
    };
    let mut r =
        with_body(StatusCode::OK, sluice_dash::MPD_CONTENT_TYPE, sluice_dash::render_mpd(&input));
    cache(&mut r, "max-age=1");
    r
}

/// One run of segments with one timeline mapping: from a segment that starts the channel or
/// follows a discontinuity, to the next such segment.
struct Run<'a> {
    /// The oldest segment of the run still kept.
    first: &'a Segment,
    /// Wall-clock minus media time (ms) of the run, with its init version: the same for every
    /// segment of one publisher session and codec configuration, so it names the run even after
    /// its first segments have left the window.
    key: (i64, u32),
    /// The run's first complete segment's duration, ticks of the leading track.
    duration: Option<u64>,
    /// Wall-clock end of the run's last segment so far (ms), for a run that has ended.
    end_ms: i64,
}

fn runs(track: &TrackView) -> Vec<Run<'_>> {
    let rate = track.ring.timescale();
    let mut runs: Vec<Run<'_>> = Vec::new();
    for s in track.ring.segments() {
        let offset = s.program_date_time_ms - rescale(s.start_dts, rate, 1000);
        let key = (offset, s.init_version);
        if runs.last().is_none_or(|r| s.discontinuity || r.key != key) {
            runs.push(Run { first: s, key, duration: None, end_ms: s.program_date_time_ms });
        }
        if let Some(last) = runs.last_mut() {
            if last.duration.is_none() && s.complete {
                last.duration = Some(s.duration());
            }
            last.end_ms = s.program_date_time_ms + rescale(s.duration() as i64, rate, 1000);
        }
    }
    runs
}

/// What a Period was published with, kept for as long as its run is listed (ISO 23009-1 §5.4.1:
/// a Period's id, start and presentation time offset do not change across MPD updates).
#[derive(Debug, Clone)]
pub struct PeriodParams {
    id: String,
    start_ms: i64,
    start_number: u64,
    /// Nominal segment duration, ticks of the leading track.
    duration: u64,
    lead_rate: u32,
    /// (timescale, presentation time offset) per track name.
    offsets: Vec<(&'static str, u32, u64)>,
}

#[derive(Debug, Default)]
pub struct PeriodMemory {
    periods: Vec<((i64, u32), PeriodParams)>,
}

impl PeriodMemory {
    /// The remembered Periods of `runs` (new ones fixed now), forgetting runs no longer listed.
    fn resolve(
        &mut self,
        snap: &ChannelSnapshot,
        runs: &[Run<'_>],
        lead_rate: u32,
    ) -> Vec<((i64, u32), PeriodParams)> {
        self.periods.retain(|(k, _)| runs.iter().any(|r| r.key == *k));
        let mut out = Vec::new();
        let mut previous_duration = None;
        for run in runs {
            if let Some((_, p)) = self.periods.iter().find(|(k, _)| *k == run.key) {
                previous_duration = Some(p.duration);
                out.push((run.key, p.clone()));
                continue;
            }
            // A new session is listed from its first part, with the previous run's nominal
            // duration until its own first segment completes; the very first run waits for it.
            let Some(duration) = run.duration.or(previous_duration) else { continue };
            let offsets = [snap.video.as_ref(), snap.audio.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|t| {
                    let rate = t.ring.timescale();
                    let d = rescale(duration as i64, lead_rate, rate);
                    let seg = t.ring.segments().find(|s| s.msn >= run.first.msn)?;
                    let pto = seg.start_dts - (seg.msn - run.first.msn) as i64 * d;
                    Some((t.name, rate, pto.max(0) as u64))
                })
                .collect();
            let params = PeriodParams {
                id: format!("p{}", run.first.msn),
                start_ms: run.first.program_date_time_ms,
                start_number: run.first.msn,
                duration,
                lead_rate,
                offsets,
            };
            previous_duration = Some(duration);
            self.periods.push((run.key, params.clone()));
            out.push((run.key, params));
        }
        out
    }
}

fn mpd_input(snap: &ChannelSnapshot, channel: &Channel, origin: &str) -> Option<MpdInput> {
    let lead = snap.video.as_ref().or(snap.audio.as_ref())?;
    let lead_rate = lead.ring.timescale();
    let runs = runs(lead);
    let periods = channel.dash_periods.lock().ok()?.resolve(snap, &runs, lead_rate);
    let part_ms = (snap.part_target_s * 1000.0).round() as u64;
    let nominal_ms = rescale(periods.last()?.1.duration as i64, lead_rate, 1000) as u64;
    let complete_ms = || {
        lead.ring
            .segments()
            .filter(|s| s.complete)
            .map(|s| rescale(s.duration() as i64, lead_rate, 1000) as u64)
    };
    let max_segment_ms = complete_ms().max().unwrap_or(nominal_ms);
    let listed_ms: u64 = complete_ms().sum();
    let last_index = periods.len() - 1;
    let periods = periods
        .iter()
        .enumerate()
        .map(|(i, (key, p))| {
            // A Period followed by another (a new publisher session) gets its duration. The
            // last one stays open while the publisher is away: a player that saw it end would
            // stop (dashjs fires PLAYBACK_ENDED and never resumes) before the publisher returns.
            let ended = i < last_index;
            let duration_ms = ended
                .then(|| runs.iter().find(|r| r.key == *key).map(|r| r.end_ms))
                .flatten()
                .map(|end| (end - p.start_ms).max(0) as u64);
            PeriodInput {
                id: p.id.clone(),
                start_ms: p.start_ms,
                duration_ms,
                adaptation_sets: [snap.video.as_ref(), snap.audio.as_ref()]
                    .into_iter()
                    .flatten()
                    .filter_map(|t| adaptation(t, p, part_ms))
                    .collect(),
            }
        })
        .collect();
    // Aim a few parts behind the live edge; allow catching up within two segments.
    let target_ms = (4 * part_ms).max(1000);
    Some(MpdInput {
        availability_start_ms: snap.timeline_epoch_ms?,
        publish_time_ms: crate::now_unix_ms(),
        utc_timing_url: format!("{origin}/time"),
        min_update_period_ms: nominal_ms,
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

fn adaptation(t: &TrackView, p: &PeriodParams, part_ms: u64) -> Option<AdaptationInput> {
    let &(_, rate, pto) = p.offsets.iter().find(|(name, _, _)| *name == t.name)?;
    let d = rescale(p.duration as i64, p.lead_rate, rate).max(1) as u64;
    let d_ms = rescale(d as i64, rate, 1000) as u64;
    let init_version =
        t.ring.segments().find(|s| s.msn >= p.start_number).map_or(0, |s| s.init_version);
    let (kind, id) = content(&t.info)?;
    Some(AdaptationInput {
        id,
        kind,
        codecs: t.info.codec_string(),
        bandwidth: bandwidth(t),
        timescale: rate,
        segment_duration: d,
        start_number: p.start_number,
        presentation_time_offset: pto,
        availability_time_offset_s: d_ms.saturating_sub(part_ms) as f64 / 1000.0,
        initialization: format!("{}/init-{init_version}.mp4", t.name),
        media: format!("{}/$Number$.m4s", t.name),
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

async fn segment(hub: &Arc<Hub>, channel: &Arc<Channel>, rendition: &'static str, n: u64) -> Resp {
    let snap = channel.snapshot();
    let Some(track) = snap.track(rendition) else {
        return error(StatusCode::NOT_FOUND, format!("no {rendition} in this stream"));
    };
    if let Some(seg) = track.ring.segment(n) {
        if seg.complete {
            return media(rendition, Chunks::new(seg.chunks().cloned()), true);
        }
        let Some(held) = hub.hold() else { return busy() };
        return stream_segment(held, channel, rendition, n);
    }
    // Not started: only the next one is worth waiting for.
    let next = track.ring.last_msn().map(|m| m + 1);
    if next != Some(n) {
        return error(StatusCode::NOT_FOUND, "segment not available (not yet, or no longer)");
    }
    // One held-request slot from the wait through the end of the streamed body.
    let Some(held) = hub.hold() else { return busy() };
    let td = snap.target_duration.unwrap_or(2);
    let deadline = Instant::now() + Duration::from_secs(u64::from(td)) + NEXT_SEGMENT_GRACE;
    let started = wait_for(channel, deadline, |s| {
        s.track(rendition).and_then(|t| t.ring.segment(n)).map(|seg| seg.parts.len())
    })
    .await;
    match started {
        Some(_) => stream_segment(held, channel, rendition, n),
        None => error(StatusCode::NOT_FOUND, "the segment did not start in time"),
    }
}

/// 200 with the segment's parts so far, then each new part as it lands, until it completes.
fn stream_segment(
    held: HeldGuard,
    channel: &Arc<Channel>,
    rendition: &'static str,
    n: u64,
) -> Resp {
    let snap = channel.snapshot();
    let Some(seg) = snap.track(rendition).and_then(|t| t.ring.segment(n)) else {
        return error(StatusCode::NOT_FOUND, "segment gone");
    };
    if seg.complete {
        return media(rendition, Chunks::new(seg.chunks().cloned()), true);
    }
    let sent = seg.parts.len();
    let head = Chunks::new(seg.chunks().cloned());
    let td = snap.target_duration.unwrap_or(2);
    // A segment lasts at most about TD; a publisher that stalls longer ends the response.
    let deadline = Instant::now() + Duration::from_secs(u64::from(td) * 2 + 1);
    let state = (channel.subscribe(), sent, held);
    let tail: LiveTail =
        Box::pin(futures_util::stream::unfold(state, move |(mut rx, sent, held)| async move {
            loop {
                let part: Option<Option<Bytes>> = {
                    let snap = rx.borrow_and_update();
                    match snap.track(rendition).and_then(|t| t.ring.segment(n)) {
                        Some(seg) if seg.parts.len() > sent => {
                            Some(Some(seg.parts[sent].data.clone()))
                        }
                        Some(seg) if seg.complete => None,
                        Some(_) => Some(None),
                        None => None,
                    }
                };
                match part {
                    Some(Some(data)) => return Some((data, (rx, sent + 1, held))),
                    None => return None,
                    Some(None) => {
                        let changed = tokio::time::timeout_at(deadline, rx.changed()).await;
                        if !matches!(changed, Ok(Ok(()))) {
                            return None;
                        }
                    }
                }
            }
        }));
    media(rendition, head.with_live_tail(tail), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_names_parse_strictly() {
        assert!(matches!(parse_media("video/init-3.mp4"), Some(("video", Media::Init(3)))));
        assert!(matches!(parse_media("audio/1763.m4s"), Some(("audio", Media::Segment(1763)))));
        for bad in
            ["video/.m4s", "video/-1.m4s", "subs/1.m4s", "video/1.mp4", "video", "video/+1.m4s"]
        {
            assert!(parse_media(bad).is_none(), "{bad}");
        }
    }
}
