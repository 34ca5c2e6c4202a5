//! Low-latency DASH for Sluice: the dynamic MPD over the same CMAF segments and parts that feed
//! LL-HLS. Sans-IO: the server describes what it has ([`MpdInput`]) and gets the document.
//!
//! Addressing is `SegmentTemplate` with `$Number$` and a fixed `@duration`, so a player computes
//! which segment is at the live edge from the clock alone (DASH-IF IOP low-latency, chunked
//! mode): segment numbers are the LL-HLS media sequence numbers. Where segments leave their
//! nominal slots (irregular GOPs, a publisher that was away), a `SegmentTimeline` lists each
//! segment's time and duration instead, still numbered by `$Number$`. `availabilityStartTime` is the
//! wall-clock time of media time 0 on the channel's timeline, fixed for the channel's life;
//! each run of segments with one timeline mapping (a publisher session) is a Period starting at
//! its first segment's wall-clock time, so a reconnect or a codec change starts a new Period
//! instead of breaking the number ↔ time mapping. (For the first Period, Period@start equals the
//! presentation time offset, which is what ffmpeg's DASH reader assumes.)
//! `availabilityTimeOffset` = segment duration − part duration, with
//! `availabilityTimeComplete="false"`: a segment may be requested once its first part exists
//! and is then delivered chunk by chunk as parts land (chunked transfer).

use std::fmt::Write;

/// `urn:mpeg:dash:profile:isoff-live:2011` plus the CMAF and DASH-IF low-latency profiles.
pub const PROFILES: &str = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019,http://www.dashif.org/guidelines/low-latency-live-v5";
pub const MPD_CONTENT_TYPE: &str = "application/dash+xml";

/// The whole document's inputs.
#[derive(Debug, Clone)]
pub struct MpdInput {
    /// `@availabilityStartTime`, Unix ms.
    pub availability_start_ms: i64,
    /// When the document was made (Unix ms): `@publishTime`.
    pub publish_time_ms: i64,
    /// Absolute URL of the server's time endpoint (ISO 8601 with milliseconds).
    pub utc_timing_url: String,
    pub min_update_period_ms: u64,
    pub min_buffer_time_ms: u64,
    pub suggested_presentation_delay_ms: u64,
    pub time_shift_buffer_depth_ms: u64,
    pub max_segment_duration_ms: u64,
    pub latency: Latency,
    pub periods: Vec<PeriodInput>,
}

/// `ServiceDescription`: what latency the player should aim for and how fast it may catch up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub target_ms: u64,
    pub min_ms: u64,
    pub max_ms: u64,
    pub min_playback_rate: f64,
    pub max_playback_rate: f64,
}

/// One publisher session's segments (one timeline mapping).
#[derive(Debug, Clone)]
pub struct PeriodInput {
    /// Stable for the Period's life (the first segment number).
    pub id: String,
    /// Wall-clock of the Period's first segment start, Unix ms (Period@start is this minus the
    /// availability start time).
    pub start_ms: i64,
    /// Set once the Period has ended (its publisher left): `Period@duration`.
    pub duration_ms: Option<u64>,
    pub adaptation_sets: Vec<AdaptationInput>,
}

#[derive(Debug, Clone)]
pub enum ContentKind {
    Video { width: u32, height: u32, frame_rate: Option<f64> },
    Audio { sample_rate: u32, channels: u8 },
}

#[derive(Debug, Clone)]
pub struct AdaptationInput {
    /// 1 for video, 2 for audio (stable across Periods, so players keep their choice).
    pub id: u32,
    pub kind: ContentKind,
    /// RFC 6381 codec string.
    pub codecs: String,
    pub bandwidth: u64,
    pub timescale: u32,
    /// Nominal segment duration, ticks (`@duration`, unless there is a timeline).
    pub segment_duration: u64,
    /// Number of the first segment: the Period's first, or the timeline's first entry.
    pub start_number: u64,
    /// `SegmentTimeline` entries (media time, duration; ticks), oldest first, numbered from
    /// `start_number`; `None` for fixed-duration addressing.
    pub timeline: Option<Vec<(u64, u64)>>,
    /// Media time of the Period's first segment, ticks (`@presentationTimeOffset`).
    pub presentation_time_offset: u64,
    /// Seconds before a segment's end at which it may be requested (segment − part).
    pub availability_time_offset_s: f64,
    /// `SegmentTemplate@initialization` and `@media`, relative to the MPD.
    pub initialization: String,
    pub media: String,
    /// `ProducerReferenceTime`: this media time (ticks) was ingested at this wall-clock (ms).
    pub producer_reference: (u64, i64),
}

/// Renders the dynamic MPD.
pub fn render_mpd(input: &MpdInput) -> String {
    let mut out = String::with_capacity(2048);
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="{PROFILES}" availabilityStartTime="{}" publishTime="{}" minimumUpdatePeriod="{}" minBufferTime="{}" suggestedPresentationDelay="{}" timeShiftBufferDepth="{}" maxSegmentDuration="{}">"#,
        iso_datetime(input.availability_start_ms),
        iso_datetime(input.publish_time_ms),
        duration(input.min_update_period_ms),
        duration(input.min_buffer_time_ms),
        duration(input.suggested_presentation_delay_ms),
        duration(input.time_shift_buffer_depth_ms),
        duration(input.max_segment_duration_ms),
    );
    let l = input.latency;
    let _ = writeln!(
        out,
        r#"  <ServiceDescription id="0"><Latency referenceId="0" target="{}" min="{}" max="{}"/><PlaybackRate min="{}" max="{}"/></ServiceDescription>"#,
        l.target_ms, l.min_ms, l.max_ms, l.min_playback_rate, l.max_playback_rate
    );
    for p in &input.periods {
        let ended = p.duration_ms.map(|d| format!(r#" duration="{}""#, duration(d)));
        let _ = writeln!(
            out,
            r#"  <Period id="{}" start="{}"{}>"#,
            escape(&p.id),
            duration((p.start_ms - input.availability_start_ms).max(0) as u64),
            ended.as_deref().unwrap_or("")
        );
        for a in &p.adaptation_sets {
            adaptation_set(&mut out, a, &input.utc_timing_url);
        }
        let _ = writeln!(out, "  </Period>");
    }
    let _ = writeln!(
        out,
        r#"  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="{}"/>"#,
        escape(&input.utc_timing_url)
    );
    let _ = writeln!(
        out,
        r#"  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-xsdate:2014" value="{}"/>"#,
        escape(&input.utc_timing_url)
    );
    let _ = writeln!(out, "</MPD>");
    out
}

fn adaptation_set(out: &mut String, a: &AdaptationInput, utc_timing_url: &str) {
    let (content_type, mime, extra) = match &a.kind {
        ContentKind::Video { width, height, frame_rate } => {
            let fr = frame_rate.map(|f| format!(r#" frameRate="{}""#, frame_rate_attr(f)));
            (
                "video",
                "video/mp4",
                format!(
                    r#" maxWidth="{width}" maxHeight="{height}"{}"#,
                    fr.as_deref().unwrap_or("")
                ),
            )
        }
        ContentKind::Audio { .. } => ("audio", "audio/mp4", " lang=\"und\"".to_owned()),
    };
    let _ = writeln!(
        out,
        r#"    <AdaptationSet id="{}" contentType="{content_type}" mimeType="{mime}" segmentAlignment="true" startWithSAP="1"{extra}>"#,
        a.id
    );
    let (wall_ms, media_ticks) = (a.producer_reference.1, a.producer_reference.0);
    let _ = writeln!(
        out,
        r#"      <ProducerReferenceTime id="{}" type="captured" wallClockTime="{}" presentationTime="{media_ticks}"><UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="{}"/></ProducerReferenceTime>"#,
        a.id,
        iso_datetime(wall_ms),
        escape(utc_timing_url)
    );
    let fixed = match &a.timeline {
        None => format!(r#" duration="{}""#, a.segment_duration),
        Some(_) => String::new(),
    };
    let _ = write!(
        out,
        r#"      <SegmentTemplate timescale="{}"{fixed} startNumber="{}" presentationTimeOffset="{}" availabilityTimeOffset="{}" availabilityTimeComplete="false" initialization="{}" media="{}""#,
        a.timescale,
        a.start_number,
        a.presentation_time_offset,
        trim_float(a.availability_time_offset_s),
        escape(&a.initialization),
        escape(&a.media)
    );
    match &a.timeline {
        None => out.push_str("/>\n"),
        Some(entries) => {
            out.push_str("><SegmentTimeline>");
            segment_timeline(out, entries);
            out.push_str("</SegmentTimeline></SegmentTemplate>\n");
        }
    }
    match &a.kind {
        ContentKind::Video { width, height, .. } => {
            let _ = writeln!(
                out,
                r#"      <Representation id="{content_type}" codecs="{}" bandwidth="{}" width="{width}" height="{height}"/>"#,
                escape(&a.codecs),
                a.bandwidth
            );
        }
        ContentKind::Audio { sample_rate, channels } => {
            let _ = writeln!(
                out,
                r#"      <Representation id="{content_type}" codecs="{}" bandwidth="{}" audioSamplingRate="{sample_rate}"><AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="{channels}"/></Representation>"#,
                escape(&a.codecs),
                a.bandwidth
            );
        }
    }
    let _ = writeln!(out, "    </AdaptationSet>");
}

/// `S` elements: `@t` where a segment does not follow on from the one before (the first, and
/// after a gap), `@r` for runs of equal durations.
fn segment_timeline(out: &mut String, entries: &[(u64, u64)]) {
    let mut i = 0;
    let mut expected_t = None;
    while i < entries.len() {
        let (t, d) = entries[i];
        let mut repeat = 0;
        while entries
            .get(i + repeat + 1)
            .is_some_and(|&(nt, nd)| nd == d && nt == t + (repeat as u64 + 1) * d)
        {
            repeat += 1;
        }
        let t_attr = if expected_t == Some(t) { String::new() } else { format!(r#" t="{t}""#) };
        let r_attr = if repeat > 0 { format!(r#" r="{repeat}""#) } else { String::new() };
        let _ = write!(out, r#"<S{t_attr} d="{d}"{r_attr}/>"#);
        expected_t = Some(t + (repeat as u64 + 1) * d);
        i += repeat + 1;
    }
}

/// xs:duration with millisecond precision: `PT1.5S`.
pub fn duration(ms: u64) -> String {
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 { format!("PT{s}S") } else { format!("PT{s}.{frac:03}S") }
}

/// xs:dateTime in UTC with milliseconds: `2026-11-22T10:00:00.000Z`.
pub fn iso_datetime(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn frame_rate_attr(f: f64) -> String {
    // 29.97 and friends as the exact NTSC fractions players expect.
    for (num, den) in [(30_000, 1001), (24_000, 1001), (60_000, 1001)] {
        if (f - num as f64 / den as f64).abs() < 0.001 {
            return format!("{num}/{den}");
        }
    }
    trim_float((f * 1000.0).round() / 1000.0)
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".to_owned() } else { s.to_owned() }
}

/// XML attribute escaping.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> MpdInput {
        let video = AdaptationInput {
            id: 1,
            kind: ContentKind::Video { width: 1280, height: 720, frame_rate: Some(30.0) },
            codecs: "avc1.64001f".into(),
            bandwidth: 2_500_000,
            timescale: 90_000,
            segment_duration: 90_000,
            start_number: 1_763_800_000,
            timeline: None,
            presentation_time_offset: 180_000,
            availability_time_offset_s: 0.8,
            initialization: "video/init-0.mp4".into(),
            media: "video/$Number$.m4s".into(),
            producer_reference: (180_000, 1_763_800_000_000),
        };
        let audio = AdaptationInput {
            id: 2,
            kind: ContentKind::Audio { sample_rate: 48_000, channels: 2 },
            codecs: "mp4a.40.2".into(),
            timescale: 48_000,
            segment_duration: 48_000,
            presentation_time_offset: 96_000,
            initialization: "audio/init-0.mp4".into(),
            media: "audio/$Number$.m4s".into(),
            bandwidth: 128_000,
            producer_reference: (96_000, 1_763_800_000_000),
            ..video.clone()
        };
        MpdInput {
            availability_start_ms: 1_763_799_998_000,
            publish_time_ms: 1_763_800_012_345,
            utc_timing_url: "http://127.0.0.1:8080/time".into(),
            min_update_period_ms: 2000,
            min_buffer_time_ms: 2000,
            suggested_presentation_delay_ms: 1500,
            time_shift_buffer_depth_ms: 12_000,
            max_segment_duration_ms: 1000,
            latency: Latency {
                target_ms: 1500,
                min_ms: 800,
                max_ms: 4000,
                min_playback_rate: 0.96,
                max_playback_rate: 1.04,
            },
            periods: vec![PeriodInput {
                id: "p1763800000".into(),
                start_ms: 1_763_800_000_000,
                duration_ms: None,
                adaptation_sets: vec![video, audio],
            }],
        }
    }

    #[test]
    fn the_mpd_carries_what_low_latency_players_need() {
        let mpd = render_mpd(&input());
        for needle in [
            r#"type="dynamic""#,
            r#"availabilityStartTime="2025-11-22T08:26:38.000Z""#,
            r#"publishTime="2025-11-22T08:26:52.345Z""#,
            r#"minimumUpdatePeriod="PT2S""#,
            r#"suggestedPresentationDelay="PT1.500S""#,
            r#"<Latency referenceId="0" target="1500" min="800" max="4000"/>"#,
            r#"<PlaybackRate min="0.96" max="1.04"/>"#,
            r#"<Period id="p1763800000" start="PT2S">"#,
            r#"availabilityTimeOffset="0.8" availabilityTimeComplete="false""#,
            r#"media="video/$Number$.m4s""#,
            r#"startNumber="1763800000" presentationTimeOffset="180000""#,
            r#"frameRate="30""#,
            r#"wallClockTime="2025-11-22T08:26:40.000Z" presentationTime="180000""#,
            r#"urn:mpeg:dash:utc:http-iso:2014" value="http://127.0.0.1:8080/time""#,
            r#"urn:mpeg:dash:utc:http-xsdate:2014"#,
            r#"audioSamplingRate="48000""#,
        ] {
            assert!(mpd.contains(needle), "missing {needle} in\n{mpd}");
        }
        // Well-formed enough: every element opened is closed.
        assert_eq!(mpd.matches("<AdaptationSet").count(), mpd.matches("</AdaptationSet>").count());
        assert_eq!(mpd.matches("<Period ").count(), mpd.matches("</Period>").count());
    }

    #[test]
    fn a_timeline_lists_gaps_with_t_and_equal_runs_with_r() {
        let mut input = input();
        let video = &mut input.periods[0].adaptation_sets[0];
        // Three regular segments, a gap of 2.5 s (the publisher was away), then two of 0.8 s
        // and the one in progress.
        video.timeline = Some(vec![
            (180_000, 90_000),
            (270_000, 90_000),
            (360_000, 90_000),
            (675_000, 72_000),
            (747_000, 72_000),
            (819_000, 90_000),
        ]);
        let mpd = render_mpd(&input);
        let expected = r#"<SegmentTimeline><S t="180000" d="90000" r="2"/><S t="675000" d="72000" r="1"/><S d="90000"/></SegmentTimeline></SegmentTemplate>"#;
        assert!(mpd.contains(expected), "{mpd}");
        // No @duration beside a timeline; the audio set keeps its fixed duration.
        let video_template = mpd.split("<SegmentTemplate").nth(1).expect("video template");
        assert!(!video_template.split('>').next().expect("tag").contains(" duration="));
        assert!(mpd.contains(r#"<SegmentTemplate timescale="48000" duration="48000""#), "{mpd}");
    }

    #[test]
    fn dates_and_durations() {
        assert_eq!(iso_datetime(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_datetime(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_datetime(1_798_761_599_999), "2026-12-31T23:59:59.999Z");
        assert_eq!(duration(0), "PT0S");
        assert_eq!(duration(200), "PT0.200S");
        assert_eq!(frame_rate_attr(29.97002997), "30000/1001");
        assert_eq!(frame_rate_attr(25.0), "25");
        assert_eq!(escape(r#"a&"b"#), "a&amp;&quot;b");
    }
}
