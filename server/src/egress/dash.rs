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
use crate::hub::{Channel, ChannelSnapshot, Hub, TrackView};

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

fn media(rendition: &str, body: Chunks, complete: bool) -> Resp {
    let kind = if rendition == "audio" { MediaKind::Audio } else { MediaKind::Video };
    let mut r = with_body(StatusCode::OK, sluice_hls::media_content_type(kind), body);
    if complete {
        cache(&mut r, &sluice_hls::cache_control(CacheKind::Media, 1));
    } else {
        // A growing response must not be stored as if it were the whole segment.
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
    let Some(input) = mpd_input(&snap, origin) else {
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
    first: &'a Segment,
    /// Nominal segment duration (the run's first complete segment), ticks of the leading track.
    duration: u64,
}

fn runs(track: &TrackView) -> Vec<Run<'_>> {
    let mut runs: Vec<(&Segment, Option<u64>)> = Vec::new();
    for s in track.ring.segments() {
        if runs.is_empty() || s.discontinuity {
            runs.push((s, None));
        }
        if let Some(last) = runs.last_mut()
            && last.1.is_none()
            && s.complete
        {
            last.1 = Some(s.duration());
        }
    }
    // A run is listed once its first segment is complete: that fixes its @duration.
    runs.into_iter().filter_map(|(first, d)| Some(Run { first, duration: d? })).collect()
}

fn mpd_input(snap: &ChannelSnapshot, origin: &str) -> Option<MpdInput> {
    let lead = snap.video.as_ref().or(snap.audio.as_ref())?;
    let runs = runs(lead);
    let lead_rate = lead.ring.timescale();
    let part_ms = (snap.part_target_s * 1000.0).round() as u64;
    let nominal_ms = rescale(runs.last()?.duration as i64, lead_rate, 1000) as u64;
    let max_segment_ms = lead
        .ring
        .segments()
        .filter(|s| s.complete)
        .map(|s| rescale(s.duration() as i64, lead_rate, 1000) as u64)
        .max()
        .unwrap_or(nominal_ms);
    let listed_ms: u64 = lead
        .ring
        .segments()
        .filter(|s| s.complete)
        .map(|s| rescale(s.duration() as i64, lead_rate, 1000) as u64)
        .sum();
    let periods = runs
        .iter()
        .map(|run| PeriodInput {
            id: format!("p{}", run.first.msn),
            start_ms: run.first.program_date_time_ms,
            adaptation_sets: [snap.video.as_ref(), snap.audio.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|t| adaptation(t, run, lead_rate, part_ms))
                .collect(),
        })
        .collect();
    // Aim a few parts behind the live edge; allow catching up within two segments.
    let target_ms = (4 * part_ms).max(1000);
    Some(MpdInput {
        availability_start_ms: snap.timeline_epoch_ms?,
        publish_time_ms: crate::now_unix_ms(),
        utc_timing_url: format!("{origin}/time"),
        min_update_period_ms: 2 * nominal_ms,
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
    run: &Run<'_>,
    lead_rate: u32,
    part_ms: u64,
) -> Option<AdaptationInput> {
    let rate = t.ring.timescale();
    let d = rescale(run.duration as i64, lead_rate, rate).max(1) as u64;
    // This track's segment with the run's first number, or its first one in the run
    // (a track that joined later), extrapolated back to the run's start.
    let seg = t.ring.segments().find(|s| s.msn >= run.first.msn)?;
    let pto = seg.start_dts - (seg.msn - run.first.msn) as i64 * d as i64;
    let d_ms = rescale(d as i64, rate, 1000) as u64;
    let (kind, id) = content(&t.info)?;
    Some(AdaptationInput {
        id,
        kind,
        codecs: t.info.codec_string(),
        bandwidth: bandwidth(t),
        timescale: rate,
        segment_duration: d,
        start_number: run.first.msn,
        presentation_time_offset: pto.max(0) as u64,
        availability_time_offset_s: d_ms.saturating_sub(part_ms) as f64 / 1000.0,
        initialization: format!("{}/init-{}.mp4", t.name, seg.init_version),
        media: format!("{}/$Number$.m4s", t.name),
        producer_reference: (pto.max(0) as u64, run.first.program_date_time_ms),
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
        return stream_segment(hub, channel, rendition, n);
    }
    // Not started: only the next one is worth waiting for.
    let next = track.ring.last_msn().map(|m| m + 1);
    if next != Some(n) {
        return error(StatusCode::NOT_FOUND, "segment not available (not yet, or no longer)");
    }
    let Some(_held) = hub.hold() else { return busy() };
    let td = snap.target_duration.unwrap_or(2);
    let deadline = Instant::now() + Duration::from_secs(u64::from(td)) + NEXT_SEGMENT_GRACE;
    let started = wait_for(channel, deadline, |s| {
        s.track(rendition).and_then(|t| t.ring.segment(n)).map(|seg| seg.parts.len())
    })
    .await;
    match started {
        Some(_) => stream_segment(hub, channel, rendition, n),
        None => error(StatusCode::NOT_FOUND, "the segment did not start in time"),
    }
}

/// 200 with the segment's parts so far, then each new part as it lands, until it completes.
fn stream_segment(hub: &Arc<Hub>, channel: &Arc<Channel>, rendition: &'static str, n: u64) -> Resp {
    let Some(held) = hub.hold() else { return busy() };
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
