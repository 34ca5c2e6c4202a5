//! Judging the media a follower fetched, by segment format: MPEG-TS segments get section B
//! (TS-01..TS-08, and HLS-MP-15 / LLHLS-PART-05 from the same data), Packed Audio gets TS-09,
//! fMP4 gets CMAF-01/05/09. Every rule that does not apply to the format is reported as not
//! applicable with the reason, never passed silently.

use super::follow::FollowResult;
use crate::mp4::TrackInit;
use crate::report::Report;
use crate::rules::ts::{self as ts_rules, TsObservation, TsStreams};
use crate::rules::{Outcome, cmaf};
use crate::ts::{self, PTS_HZ};

/// What a rendition's segments are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Fragmented MPEG-4 (HLS §3.1.2).
    Fmp4,
    /// MPEG-2 Transport Stream (HLS §3.1.1).
    Ts,
    /// Packed Audio (HLS §3.1.3).
    Packed,
    /// Nothing fetched and nothing in the URIs to tell.
    Unknown,
}

impl Format {
    /// Short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fmp4 => "fMP4",
            Self::Ts => "MPEG-TS",
            Self::Packed => "Packed Audio",
            Self::Unknown => "unknown",
        }
    }
}

/// The format a segment URI's extension suggests.
pub fn by_extension(uri: &str) -> Format {
    let path = uri.split('?').next().unwrap_or(uri).to_ascii_lowercase();
    let ends = |exts: &[&str]| exts.iter().any(|e| path.ends_with(e));
    if ends(&[".ts", ".m2ts", ".mts", ".tsv", ".tsa"]) {
        Format::Ts
    } else if ends(&[".aac", ".ac3", ".ec3", ".mp3", ".adts"]) {
        Format::Packed
    } else if ends(&[".m4s", ".mp4", ".m4v", ".m4a", ".cmfv", ".cmfa", ".fmp4"]) {
        Format::Fmp4
    } else {
        Format::Unknown
    }
}

/// Decides a rendition's segment format: content sniffing of the first fetched segment, then
/// the URI extension, then the presence of EXT-X-MAP / init segments.
pub fn format_of(fr: &FollowResult) -> Format {
    if let Some(s) = fr.segments.iter().find(|s| s.fetch.status == Ok(200) && !s.data.is_empty()) {
        if ts::sniff(&s.data) {
            return Format::Ts;
        }
        if crate::packed::sniff(&s.data) {
            return Format::Packed;
        }
        if crate::mp4::boxes(&s.data).is_ok() {
            return Format::Fmp4;
        }
    }
    let by_uri = fr
        .last
        .as_ref()
        .and_then(|p| p.segments.last())
        .map_or(Format::Unknown, |s| by_extension(&s.uri));
    if by_uri != Format::Unknown {
        return by_uri;
    }
    if !fr.inits.is_empty() { Format::Fmp4 } else { Format::Unknown }
}

/// The fetched TS segments of a rendition, parsed, in Media Sequence order.
pub fn ts_observations(fr: &FollowResult) -> Vec<TsObservation> {
    fr.segments
        .iter()
        .filter(|s| s.fetch.status == Ok(200))
        .map(|s| TsObservation {
            msn: s.msn,
            uri: s.fetch.uri.clone(),
            extinf: s.extinf,
            discontinuity: s.discontinuity,
            has_map: s.map.is_some(),
            seg: ts::parse(&s.data),
        })
        .collect()
}

/// The stream that times a segment for EXTINF: video, else the first stream with timestamps.
fn main_stream(seg: &ts::Segment) -> Option<&ts::Stream> {
    seg.video().or_else(|| seg.streams.iter().find(|s| s.first_time().is_some()))
}

/// What a rendition's TS segments carry, for CODECS comparisons (TS-10, HLS-MV-02).
pub fn ts_streams(obs: &[TsObservation]) -> TsStreams {
    let mut out: TsStreams = Vec::new();
    for o in obs {
        for s in &o.seg.streams {
            match out.iter_mut().find(|(t, _, _)| *t == s.stream_type) {
                Some(entry) if entry.2.is_none() => entry.2 = s.codec.clone(),
                Some(_) => {}
                None => out.push((s.stream_type, s.kind, s.codec.clone())),
            }
        }
    }
    out
}

/// (PDT of a segment in seconds since the epoch, its media time in seconds) for HLS-MP-13.
pub fn ts_media_time(obs: &[TsObservation], msn: u64) -> Option<f64> {
    let o = obs.iter().find(|o| o.msn == msn)?;
    Some(main_stream(&o.seg)?.first_time()? as f64 / PTS_HZ as f64)
}

/// URIs of TS segments whose video does not start with a key frame (for HLS-MP-16).
pub fn ts_not_independent(obs: &[TsObservation]) -> Vec<String> {
    obs.iter()
        .filter(|o| {
            o.seg.video().is_some_and(|v| {
                v.starts_mid_pes
                    || v.first_nal_types
                        .iter()
                        .find(|t| v.kind.is_vcl_nal(**t))
                        .is_none_or(|t| !v.kind.is_key_nal(*t))
            })
        })
        .map(|o| o.uri.clone())
        .collect()
}

/// True when the rendition's TS segments carry video.
pub fn ts_has_video(obs: &[TsObservation]) -> bool {
    obs.iter().any(|o| o.seg.video().is_some())
}

const TS_IDS: [&str; 8] = ["TS-01", "TS-02", "TS-03", "TS-04", "TS-05", "TS-06", "TS-07", "TS-08"];
const CMAF_SEGMENT_IDS: [&str; 3] = ["CMAF-01", "CMAF-05", "CMAF-09"];

/// Section B on a TS rendition. `independent` says whether EXT-X-INDEPENDENT-SEGMENTS applies
/// (in the Media Playlist or the multivariant).
pub fn judge_ts(fr: &FollowResult, obs: &[TsObservation], independent: bool, report: &mut Report) {
    let name = fr.name.as_str();
    for id in CMAF_SEGMENT_IDS {
        report.add(id, name, Outcome::skip("MPEG-TS segments: CMAF (section C) does not apply"));
    }
    report.add(
        "TS-09",
        name,
        Outcome::skip(
            "not applicable: MPEG-TS segments (muxed), TS-09 is for Packed Audio segments",
        ),
    );
    report.add(
        "LLHLS-PART-05",
        name,
        Outcome::skip("MPEG-TS segments without parts: segment starts are judged by TS-05"),
    );
    if obs.is_empty() {
        for id in TS_IDS {
            report.add(id, name, Outcome::skip("no MPEG-TS segment fetched"));
        }
        return;
    }
    for (i, o) in obs.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| obs.get(j));
        report.add("TS-01", name, ts_rules::ts_01(o));
        report.add("TS-02", name, ts_rules::ts_02(o));
        report.add("TS-03", name, ts_rules::ts_03(o));
        report.add("TS-04", name, ts_rules::ts_04(o));
        report.add("TS-05", name, ts_rules::ts_05(o, independent));
        let continuity = ts_rules::ts_06(prev, o);
        report.add("HLS-MP-15", name, continuity.clone());
        report.add("TS-06", name, continuity);
        report.add("TS-07", name, ts_rules::ts_07(prev, o));
    }
    // Measured durations: to the next segment's first decode time when it follows directly,
    // else the segment's own span.
    let mut measured = Vec::new();
    for (i, o) in obs.iter().enumerate() {
        let Some(s) = main_stream(&o.seg) else { continue };
        let Some(start) = s.first_time() else { continue };
        let frame = s.frame_duration().unwrap_or(0) as f64 / PTS_HZ as f64;
        let next_start = obs
            .get(i + 1)
            .filter(|n| n.msn == o.msn + 1 && !n.discontinuity)
            .and_then(|n| n.seg.streams.iter().find(|x| x.pid == s.pid)?.first_time());
        let secs = match next_start {
            Some(n) => ts::pts_delta(start, n) as f64 / PTS_HZ as f64,
            None => match s.duration_secs() {
                Some(d) => d,
                None => continue,
            },
        };
        measured.push((o.msn, secs, frame));
    }
    match &fr.last {
        Some(p) => report.add("TS-08", name, ts_rules::ts_08(p, &measured)),
        None => report.add("TS-08", name, Outcome::skip("no playlist")),
    }
}

/// TS-09 on a Packed Audio rendition (and section B's TS rules as not applicable).
pub fn judge_packed(fr: &FollowResult, report: &mut Report) {
    let name = fr.name.as_str();
    for id in TS_IDS {
        report.add(id, name, Outcome::skip("Packed Audio segments, not MPEG-TS"));
    }
    for id in CMAF_SEGMENT_IDS {
        report.add(id, name, Outcome::skip("Packed Audio segments: CMAF does not apply"));
    }
    let mut any = false;
    for s in fr.segments.iter().filter(|s| s.fetch.status == Ok(200)) {
        any = true;
        report.add("TS-09", name, ts_rules::ts_09(&s.fetch.uri, &s.data));
    }
    if !any {
        report.add("TS-09", name, Outcome::skip("no Packed Audio segment fetched"));
    }
}

fn init_of<'a>(
    fr: &'a FollowResult,
    map: Option<&String>,
) -> Option<(&'a String, &'a Vec<TrackInit>)> {
    match map {
        Some(m) => fr.inits.get_key_value(m),
        None => {
            let u = fr.current_init()?;
            fr.inits.iter().find(|(_, v)| *v == u)
        }
    }
}

/// CMAF-01/05/09 on an fMP4 rendition (and section B as not applicable).
pub fn judge_fmp4(fr: &FollowResult, report: &mut Report) {
    let name = fr.name.as_str();
    for id in TS_IDS {
        report.add(id, name, Outcome::skip("fMP4 segments: section B (MPEG-TS) does not apply"));
    }
    report.add("TS-09", name, Outcome::skip("fMP4 segments, not Packed Audio"));
    let mut urls: Vec<&String> = fr.init_layouts.keys().collect();
    urls.sort();
    for url in urls {
        let (Some(layout), Some(tracks)) = (fr.init_layouts.get(url), fr.inits.get(url)) else {
            continue;
        };
        let short = url.rsplit('/').next().unwrap_or(url);
        report.add("CMAF-01", name, cmaf::cmaf_01(short, layout));
        report.add("CMAF-05", name, cmaf::cmaf_05_init(short, layout, tracks));
    }
    let mut judged = 0;
    for s in fr.segments.iter().filter(|s| s.fetch.status == Ok(200) && !s.data.is_empty()) {
        let Some((url, init)) = init_of(fr, s.map.as_ref()) else { continue };
        let cmaf = fr.init_layouts.get(url).is_some_and(cmaf::claims_cmaf);
        report.add("CMAF-05", name, cmaf::cmaf_05_segment(&s.fetch.uri, &s.data, cmaf));
        report.add("CMAF-09", name, cmaf::cmaf_09(&s.fetch.uri, &s.data, init));
        judged += 1;
    }
    if judged == 0 {
        report.add("CMAF-09", name, Outcome::skip("no fMP4 segment fetched"));
    }
}
