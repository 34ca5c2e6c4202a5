//! Glue between ingest and the hub: feeds a channel's pipeline and, after each change,
//! renders the channel's playlists once and publishes the snapshot to every waiting viewer.

use std::sync::atomic::Ordering;

use sluice_media::MediaKind;

use std::sync::Arc;

use crate::hub::{Channel, ChannelSnapshot, Hub, PublishGuard, Rendered, TrackView, TsView};
use crate::pipeline::{IngestEvent, Pipeline, TsSegment};

impl PublishGuard {
    /// Feeds one ingest event at wall-clock `now_ms` (Unix ms).
    pub fn push(&self, event: IngestEvent, now_ms: i64) {
        let Ok(mut pipeline) = self.channel.pipeline.lock() else {
            return;
        };
        let dropped_before = pipeline.dropped_frames;
        let changes = pipeline.handle(event, now_ms);
        for ev in pipeline.take_fanout() {
            self.channel.fanout.send(ev);
        }
        let dropped = pipeline.dropped_frames - dropped_before;
        if dropped > 0 {
            self.hub.counters.frames_dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        if changes.parts || changes.tracks {
            if changes.parts {
                self.hub.counters.parts_published.fetch_add(1, Ordering::Relaxed);
            }
            let previous = self.channel.snapshot();
            let snapshot = render(&self.hub, &pipeline, true, &previous);
            for f in snapshot.findings.iter().filter(|f| !previous.findings.contains(f)) {
                tracing::warn!("stream {}: {}", self.channel.id, f.message);
            }
            self.channel.publish(snapshot);
        }
    }
}

/// The publisher left: flush pending media and publish the final state of this session.
pub(crate) fn end_session(hub: &Hub, channel: &Channel) {
    let Ok(mut pipeline) = channel.pipeline.lock() else {
        return;
    };
    pipeline.end_session();
    for ev in pipeline.take_fanout() {
        channel.fanout.send(ev);
    }
    let previous = channel.snapshot();
    channel.publish(render(hub, &pipeline, false, &previous));
}

/// Human-readable stream description for logs and the API:
/// "H.264 1280x720 30 fps, AAC 48 kHz stereo".
pub fn describe(p: &Pipeline) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &p.video
        && let Some((width, height)) = v.info.codec.video_size()
    {
        let name = match &v.info.codec {
            sluice_media::CodecConfig::H265(_) => "H.265",
            sluice_media::CodecConfig::Av1(_) => "AV1",
            _ => "H.264",
        };
        let fps = v.info.codec.frame_rate();
        let fps = fps.map(|(n, d)| format!(" {} fps", fps_text(n, d))).unwrap_or_default();
        parts.push(format!("{name} {width}x{height}{fps} ({})", v.info.codec_string()));
    }
    if let Some(a) = &p.audio {
        let channels = match a.info.codec.audio_channels() {
            Some(1) => "mono".to_owned(),
            Some(2) => "stereo".to_owned(),
            Some(n) => format!("{n} channels"),
            None => "channels unknown".to_owned(),
        };
        match &a.info.codec {
            sluice_media::CodecConfig::Aac(c) => {
                parts.push(format!("AAC {} kHz {channels}", c.sample_rate as f64 / 1000.0))
            }
            sluice_media::CodecConfig::Opus(_) => parts.push(format!("Opus 48 kHz {channels}")),
            _ => {}
        }
    }
    if parts.is_empty() { "no tracks yet".to_owned() } else { parts.join(", ") }
}

/// "splice_insert out-of-network, event 42, 30.0 s break" — for logs and the API.
pub fn describe_cue(
    splice: &sluice_media::demux::ts::scte35::SpliceInfo,
    pts_90k: Option<i64>,
) -> String {
    use sluice_media::demux::ts::scte35::SpliceCommand;
    let what = match &splice.command {
        SpliceCommand::Insert(i) => format!("{i:?}"),
        SpliceCommand::TimeSignal { .. } => {
            format!("time_signal with {} descriptor(s)", splice.descriptors.len())
        }
        other => format!("{other:?}"),
    };
    match pts_90k {
        Some(p) => format!("{what} at input time {:.3} s", p as f64 / 90_000.0),
        None => format!("{what} (immediate)"),
    }
}

fn fps_text(num: u32, den: u32) -> String {
    let fps = num as f64 / den.max(1) as f64;
    if (fps - fps.round()).abs() < 0.01 { format!("{}", fps.round()) } else { format!("{fps:.2}") }
}

/// Renders every document of the channel for the pipeline's current state.
fn render(hub: &Hub, p: &Pipeline, live: bool, previous: &ChannelSnapshot) -> ChannelSnapshot {
    let part_target_s = hub.pipeline.part_target_ms as f64 / 1000.0;
    let mut snap = ChannelSnapshot {
        live,
        target_duration: p.target_duration(),
        part_target_s,
        summary: describe(p),
        cues: p.cues.len(),
        findings: p.findings(),
        last_cue: p.cues.back().map(|c| describe_cue(&c.splice, c.at_90k)),
        published_at: Some(std::time::Instant::now()),
        timeline_epoch_ms: p.timeline_epoch_ms(),
        ..ChannelSnapshot::default()
    };
    let Some(td) = p.target_duration() else {
        // Playlists wait for the first segment: it fixes TARGETDURATION for good.
        snap.video = p.video.as_ref().map(|t| view("video", t, None));
        snap.audio = p.audio.as_ref().map(|t| view("audio", t, None));
        return snap;
    };
    let tracks: Vec<(&'static str, &crate::pipeline::TrackPipe)> =
        [p.video.as_ref().map(|t| ("video", t)), p.audio.as_ref().map(|t| ("audio", t))]
            .into_iter()
            .flatten()
            .collect();
    let reports: Vec<(String, Option<sluice_media::ring::Position>)> =
        tracks.iter().map(|(name, t)| (format!("{name}.m3u8"), t.ring.last_position())).collect();
    for (name, t) in &tracks {
        let others: Vec<(String, sluice_media::ring::Position)> = reports
            .iter()
            .filter(|(uri, _)| !uri.starts_with(name))
            .filter_map(|(uri, pos)| pos.map(|p| (uri.clone(), p)))
            .collect();
        let ctx = sluice_hls::MediaPlaylistContext {
            rendition: name.to_string(),
            target_duration: td,
            part_target: part_target_s,
            window: hub.playlist_segments,
            rendition_reports: others,
            ended: false,
        };
        let v = view(name, t, Some(&ctx));
        match t.info.kind {
            MediaKind::Video => snap.video = Some(v),
            MediaKind::Audio => snap.audio = Some(v),
        }
    }
    snap.multivariant = Some(Rendered::new(render_multivariant(p).into()));
    // HLS-TS changes once per segment, not per part: reuse what is still current.
    snap.ts = match &previous.ts {
        Some(ts) if ts.version == (p.ts.version(), live) => Some(ts.clone()),
        _ => render_ts(hub, p, td, live).map(Arc::new),
    };
    snap
}

/// The HLS-TS endpoint's playlists (version 3, whole segments) for the segments muxed so far.
fn render_ts(hub: &Hub, p: &Pipeline, td: u32, live: bool) -> Option<TsView> {
    let segments: Vec<Arc<TsSegment>> = p.ts.segments().cloned().collect();
    if segments.is_empty() {
        return None;
    }
    let listed: Vec<sluice_hls::TsPlaylistSegment> = segments
        .iter()
        .map(|s| sluice_hls::TsPlaylistSegment {
            msn: s.msn,
            duration: s.duration,
            program_date_time_ms: s.program_date_time_ms,
            discontinuity: s.discontinuity,
        })
        .collect();
    // Version 3 compares EXTINF with TARGETDURATION unrounded (RULES TS-08), and the pipeline
    // may cut a segment up to half a second past the LL-HLS target: the TS target is the
    // ceiling of that longest possible segment, so it never has to change.
    let longest = crate::pipeline::segment_max_ticks(td, sluice_media::time::VIDEO_TIMESCALE);
    let ctx = sluice_hls::TsPlaylistContext {
        timescale: sluice_media::time::VIDEO_TIMESCALE,
        target_duration: sluice_hls::ts_target_duration(
            longest,
            sluice_media::time::VIDEO_TIMESCALE,
        ),
        window: hub.playlist_segments,
        discontinuities_before: p.ts.discontinuities_dropped(),
        ended: !live,
    };
    let playlist = sluice_hls::render_ts_media_playlist(&listed, &ctx);
    let target_duration = sluice_hls::ts_playlist_target_duration(&listed, &ctx);
    let (peak, avg) = ts_bandwidth(&segments);
    let multivariant = sluice_hls::render_ts_multivariant(&sluice_hls::TsMultivariantInput {
        video: p.video.as_ref().map(|t| &t.info),
        audio: p.audio.as_ref().map(|t| &t.info),
        bandwidth: peak,
        average_bandwidth: Some(avg),
    });
    Some(TsView {
        version: (p.ts.version(), live),
        multivariant: Rendered::new(multivariant.into()),
        playlist: Rendered::new(playlist.into()),
        target_duration,
        segments,
    })
}

fn view(
    name: &'static str,
    t: &crate::pipeline::TrackPipe,
    ctx: Option<&sluice_hls::MediaPlaylistContext>,
) -> TrackView {
    let (playlist, delta) = match ctx {
        Some(ctx) => (
            Rendered::new(sluice_hls::render_media_playlist(&t.ring, ctx, false).into()),
            Rendered::new(sluice_hls::render_media_playlist(&t.ring, ctx, true).into()),
        ),
        None => (Rendered::default(), Rendered::default()),
    };
    TrackView { name, info: t.info.clone(), ring: t.ring.clone(), playlist, delta }
}

/// Peak and average bit rate over the complete segments of all tracks, bits/s.
fn bandwidth(p: &Pipeline) -> (u64, u64) {
    let mut peak = 0u64;
    let mut avg = 0u64;
    let mut measured = usize::MAX;
    for t in [p.video.as_ref(), p.audio.as_ref()].into_iter().flatten() {
        measured = measured.min(t.ring.segments().filter(|s| s.complete).count());
        let ts = t.info.timescale as f64;
        let (mut bytes, mut ticks, mut track_peak) = (0u64, 0u64, 0u64);
        for s in t.ring.segments().filter(|s| s.complete) {
            let d = s.duration();
            if d == 0 {
                continue;
            }
            let bits = s.byte_len() as u64 * 8;
            track_peak = track_peak.max((bits as f64 * ts / d as f64) as u64);
            bytes += s.byte_len() as u64;
            ticks += d;
        }
        peak += track_peak;
        if ticks > 0 {
            avg += (bytes as f64 * 8.0 * ts / ticks as f64) as u64;
        }
    }
    (with_headroom(peak, measured), avg.max(1))
}

/// BANDWIDTH must bound every segment's bit rate (§4.4.6.2), but a live multivariant is read
/// once, early, from the few segments that exist: encoders ramp up after their first GOPs
/// (the checker saw 113 % of a one-segment peak). Headroom, larger while little is measured.
fn with_headroom(peak: u64, segments_measured: usize) -> u64 {
    let factor = if segments_measured < 4 { 1.25 } else { 1.1 };
    ((peak as f64 * factor) as u64).max(1)
}

/// Peak and average bit rate of the TS segments themselves (their packet overhead makes them
/// a few percent larger than the CMAF segments), bits/s. §4.4.6.2: BANDWIDTH is "the peak
/// segment bit rate of the Variant Stream".
fn ts_bandwidth(segments: &[Arc<TsSegment>]) -> (u64, u64) {
    let ticks_per_s = sluice_media::time::VIDEO_TIMESCALE as f64;
    let (mut peak, mut bytes, mut ticks) = (0u64, 0u64, 0u64);
    for s in segments.iter().filter(|s| s.duration > 0) {
        let bits = s.data.len() as f64 * 8.0;
        peak = peak.max((bits * ticks_per_s / s.duration as f64) as u64);
        bytes += s.data.len() as u64;
        ticks += s.duration;
    }
    let avg = if ticks > 0 { (bytes as f64 * 8.0 * ticks_per_s / ticks as f64) as u64 } else { 0 };
    (with_headroom(peak, segments.len()), avg.max(1))
}

fn render_multivariant(p: &Pipeline) -> String {
    let (peak, avg) = bandwidth(p);
    sluice_hls::render_multivariant(&sluice_hls::MultivariantInput {
        video: p.video.as_ref().map(|t| sluice_hls::Rendition { name: "video", track: &t.info }),
        audio: p.audio.as_ref().map(|t| sluice_hls::Rendition { name: "audio", track: &t.info }),
        bandwidth: peak,
        average_bandwidth: Some(avg),
        independent_segments: p.video.as_ref().is_none_or(|t| {
            t.ring.segments().all(|s| s.parts.first().is_none_or(|part| part.independent))
        }),
    })
}
