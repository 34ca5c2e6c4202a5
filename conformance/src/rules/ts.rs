//! The rules of `conformance/RULES.md` section B (HLS with MPEG-TS segments), judged on
//! fetched segments summarised by `crate::ts` (and, for TS-09, on Packed Audio bytes read by
//! `crate::packed`).

use super::{Level, Outcome, ms};
use crate::playlist::{MediaPlaylist, Multivariant};
use crate::ts::{self, PCR_HZ, PTS_HZ, Segment, StreamKind};

/// One fetched TS segment of a rendition, with what the playlist said about it.
#[derive(Debug, Clone)]
pub struct TsObservation {
    /// Media Sequence Number.
    pub msn: u64,
    /// URI as listed.
    pub uri: String,
    /// EXTINF.
    pub extinf: f64,
    /// EXT-X-DISCONTINUITY applied.
    pub discontinuity: bool,
    /// EXT-X-MAP applied.
    pub has_map: bool,
    /// The parsed segment.
    pub seg: Segment,
}

impl TsObservation {
    fn at(&self) -> String {
        format!("msn {} ({})", self.msn, self.uri)
    }
}

fn kind_name(k: StreamKind) -> &'static str {
    match k {
        StreamKind::H264 => "H.264",
        StreamKind::Hevc => "HEVC",
        StreamKind::AacAdts => "AAC",
        StreamKind::Other => "other",
    }
}

/// TS-01: 188-byte packets, sync bytes, whole-packet length.
pub fn ts_01(o: &TsObservation) -> Outcome {
    // "MPEG-2 Transport Streams are specified by [ISO_13818]." (HLS §3.1.1) ISO/IEC 13818-1
    // §2.4.3.2: a transport packet is 188 bytes and its sync_byte "is a fixed 8-bit field whose
    // value is '0100 0111' (0x47)".
    let mut out = Outcome::new();
    let s = &o.seg;
    if s.len == 0 {
        out.must(format!("{}: empty segment", o.at()));
        return out;
    }
    if !s.len.is_multiple_of(ts::PACKET_LEN) {
        out.must(format!(
            "{}: {} bytes is not a multiple of 188 ({} whole packets + {} bytes)",
            o.at(),
            s.len,
            s.packets,
            s.len % ts::PACKET_LEN
        ));
    }
    if s.sync_errors > 0 {
        out.must(format!(
            "{}: {} packets without sync byte 0x47 (first at packet {})",
            o.at(),
            s.sync_errors,
            s.first_sync_error.unwrap_or(0)
        ));
    }
    for i in s.issues.iter().filter(|i| i.contains("adaptation")) {
        out.must(format!("{}: {i}", o.at()));
    }
    out.evidence(format!("{} packets", s.packets));
    out
}

/// TS-02: exactly one program.
pub fn ts_02(o: &TsObservation) -> Outcome {
    // "Transport Stream Segments MUST contain a single MPEG-2 Program; playback of
    // Multi-Program Transport Streams is not defined." (HLS §3.1.1)
    let mut out = Outcome::new();
    if o.seg.pats == 0 {
        if o.has_map {
            return Outcome::skip(format!("{}: no PAT, EXT-X-MAP applied", o.at()));
        }
        out.must(format!("{}: no PAT, cannot count programs", o.at()));
        return out;
    }
    match o.seg.programs.len() {
        1 => out.evidence(format!("program {}", o.seg.programs[0].0)),
        n => out.must(format!("{}: PAT lists {n} programs {:?}", o.at(), o.seg.programs)),
    }
    for i in o.seg.issues.iter().filter(|i| i.contains("PAT")) {
        out.must(format!("{}: {i}", o.at()));
    }
    out
}

/// TS-03: a PAT and a PMT in the segment, unless EXT-X-MAP applies.
pub fn ts_03(o: &TsObservation) -> Outcome {
    // "Each Transport Stream Segment MUST contain a PAT and a PMT, or have an EXT-X-MAP tag
    // (Section 4.4.4.5) applied to it." (HLS §3.1.1)
    if o.has_map {
        return Outcome::skip(format!("{}: EXT-X-MAP applied", o.at()));
    }
    let mut out = Outcome::new();
    if o.seg.pats == 0 {
        out.must(format!("{}: no (valid) PAT", o.at()));
    }
    if o.seg.pmts == 0 {
        out.must(format!("{}: no (valid) PMT", o.at()));
    }
    for i in o.seg.issues.iter().filter(|i| i.contains("PMT")) {
        out.must(format!("{}: {i}", o.at()));
    }
    if out.problems.is_empty() {
        out.evidence(format!("{} PAT, {} PMT", o.seg.pats, o.seg.pmts));
    }
    out
}

/// TS-04: the first two packets are the PAT and the PMT.
pub fn ts_04(o: &TsObservation) -> Outcome {
    // "The first two Transport Stream packets in a Segment without an EXT-X-MAP tag SHOULD be a
    // PAT and a PMT." (HLS §3.1.1)
    if o.has_map {
        return Outcome::skip(format!("{}: EXT-X-MAP applied", o.at()));
    }
    let pmt_pid = o.seg.programs.first().map(|p| p.1);
    let mut out = Outcome::new();
    let first = o.seg.first_pids.first().copied();
    let second = o.seg.first_pids.get(1).copied();
    if first != Some(0) || second.is_none() || second != pmt_pid {
        let name = |p: Option<u16>| match p {
            Some(0) => "PAT (PID 0x0)".to_string(),
            Some(0x11) => "SDT (PID 0x11)".to_string(),
            Some(p) if Some(p) == pmt_pid => format!("PMT (PID 0x{p:x})"),
            Some(p) => format!("PID 0x{p:x}"),
            None => "nothing".to_string(),
        };
        out.should(format!(
            "{}: first two packets are {} then {}, not PAT then PMT",
            o.at(),
            name(first),
            name(second)
        ));
    }
    out
}

/// TS-05: the segment starts with an IDR (H.264) / IRAP (HEVC) access unit whose parameter
/// sets precede the picture. `independent` says whether EXT-X-INDEPENDENT-SEGMENTS applies.
pub fn ts_05(o: &TsObservation, independent: bool) -> Outcome {
    // "Any Media Segment that contains video SHOULD include enough information to initialize a
    // video decoder and decode a continuous set of frames that includes the final frame in the
    // Segment ... any Media Segment containing H.264 video SHOULD contain an Instantaneous
    // Decoding Refresh (IDR); frames prior to the first IDR will be downloaded but possibly
    // discarded." (HLS §3) HAS: "Video segments MUST start with an IDR frame". "The
    // EXT-X-INDEPENDENT-SEGMENTS tag indicates that all media samples in a Media Segment can be
    // decoded without information from other segments." (HLS §4.4.2.1)
    let Some(v) = o.seg.video() else {
        return Outcome::skip(format!("{}: no video stream", o.at()));
    };
    let level = if independent { Level::Must } else { Level::Apple };
    let why = if independent { " (EXT-X-INDEPENDENT-SEGMENTS applies)" } else { "" };
    let mut out = Outcome::new();
    if v.starts_mid_pes {
        out.problem(
            level,
            format!("{}: starts inside a video PES begun in the previous segment{why}", o.at()),
        );
    }
    let types = &v.first_nal_types;
    match types.iter().position(|t| v.kind.is_vcl_nal(*t)) {
        None if v.pes.is_empty() => {
            out.problem(level, format!("{}: video stream has no PES{why}", o.at()))
        }
        None => out.problem(
            level,
            format!("{}: first video PES holds no picture (NAL types {types:?}){why}", o.at()),
        ),
        Some(i) if !v.kind.is_key_nal(types[i]) => {
            let none = if v.key_pes == 0 { "; the segment has no key frame at all" } else { "" };
            out.problem(
                level,
                format!(
                    "{}: first {} picture is NAL type {}, not {}{none}{why}",
                    o.at(),
                    kind_name(v.kind),
                    types[i],
                    if v.kind == StreamKind::Hevc { "IRAP (16-21)" } else { "IDR (5)" }
                ),
            )
        }
        Some(i) => {
            if types[i] == 21 && v.leading_rasl > 0 {
                // A CRA starts an open GOP: its RASL leading pictures reference the previous
                // segment and are dropped by a decoder that starts here.
                out.should(format!(
                    "{}: starts with a CRA followed by {} RASL pictures that need the previous segment (open GOP){}",
                    o.at(),
                    v.leading_rasl,
                    if independent { ", although EXT-X-INDEPENDENT-SEGMENTS applies" } else { "" }
                ));
            }
            let missing: Vec<&str> = v
                .kind
                .parameter_sets()
                .iter()
                .filter(|(t, _)| !types[..i].contains(t))
                .map(|(_, n)| *n)
                .collect();
            if missing.is_empty() {
                out.evidence(format!("NAL types {:?}", &types[..=i]));
            } else {
                out.problem(
                    level,
                    format!(
                        "{}: key picture not preceded by {} in its access unit (NAL types {:?}){why}",
                        o.at(),
                        missing.join("/"),
                        &types[..=i]
                    ),
                );
            }
        }
    }
    out
}

/// TS-06: continuity counters and timestamps continue inside the segment and from `prev` (the
/// segment with the previous Media Sequence Number, when it was fetched).
pub fn ts_06(prev: Option<&TsObservation>, next: &TsObservation) -> Outcome {
    // "Each Media Segment MUST carry the continuation of the encoded bitstream from the end of
    // the segment with the previous Media Sequence Number, where values in a series such as
    // timestamps and Continuity Counters MUST continue uninterrupted. The only exceptions are
    // the first Media Segment ever to appear in a Media Playlist and Media Segments that are
    // explicitly signaled as discontinuities" (HLS §3)
    let mut out = Outcome::new();
    for p in next.seg.pids.iter().filter(|p| p.cc_errors > 0) {
        out.must(format!(
            "{}: {} continuity errors inside the segment, first: {}",
            next.at(),
            p.cc_errors,
            p.first_cc_error.as_deref().unwrap_or("-")
        ));
    }
    for s in &next.seg.streams {
        let times: Vec<u64> = s.pes.iter().filter_map(ts::PesInfo::decode_time).collect();
        if let Some(w) = times.windows(2).find(|w| ts::pts_delta(w[0], w[1]) < 0) {
            out.must(format!(
                "{}: {} PID 0x{:x} decode time goes backwards {} -> {} inside the segment",
                next.at(),
                kind_name(s.kind),
                s.pid,
                w[0],
                w[1]
            ));
        }
    }
    let Some(prev) = prev.filter(|p| p.msn + 1 == next.msn) else {
        out.evidence(format!("{}: inside the segment only (predecessor not fetched)", next.at()));
        return out;
    };
    if next.discontinuity {
        out.evidence(format!("{}: EXT-X-DISCONTINUITY, continuity not required", next.at()));
        return out;
    }
    let pair = format!("msn {} -> {}", prev.msn, next.msn);
    for p in &next.seg.pids {
        let (Some(first), Some(last)) = (p.first_cc, prev.seg.pid(p.pid).and_then(|q| q.last_cc))
        else {
            continue;
        };
        if first != (last + 1) & 0x0f && !p.first_discontinuity {
            out.must(format!(
                "{pair}: PID 0x{:x} continuity_counter {last} at the end, {first} at the start of the next",
                p.pid
            ));
        }
    }
    let mut worst: Option<(i64, u64)> = None;
    for s in &next.seg.streams {
        let Some(before) = prev.seg.streams.iter().find(|x| x.pid == s.pid) else { continue };
        let (Some(end), Some(start)) = (before.end_time(), s.first_time()) else { continue };
        let d = ts::pts_delta(end, start);
        let frame = before.frame_duration().unwrap_or(PTS_HZ / 25);
        if worst.is_none_or(|(w, _)| d.unsigned_abs() > w.unsigned_abs()) {
            worst = Some((d, frame));
        }
        if d.unsigned_abs() * 2 > frame {
            out.must(format!(
                "{pair}: {} PID 0x{:x} timestamps {} by {} (previous ends at {end}, next starts at {start}; frame {})",
                kind_name(s.kind),
                s.pid,
                if d > 0 { "jump forward" } else { "overlap" },
                ms(d.unsigned_abs() as f64 / PTS_HZ as f64),
                ms(frame as f64 / PTS_HZ as f64)
            ));
        }
    }
    if let Some((d, _)) = worst {
        out.evidence(format!(
            "{pair}: largest timestamp deviation {}",
            ms(d as f64 / PTS_HZ as f64)
        ));
    }
    out
}

/// The longest PCR interval ISO/IEC 13818-1 allows, in 27 MHz ticks (0.1 s).
const MAX_PCR_INTERVAL: i64 = (PCR_HZ / 10) as i64;

/// TS-07: PCRs on the PCR_PID at most 100 ms apart, inside the segment and from `prev`.
pub fn ts_07(prev: Option<&TsObservation>, next: &TsObservation) -> Outcome {
    // "The transport stream shall be constructed so that the time interval between the bytes
    // containing the last bit of system_clock_reference_base fields in successive occurrences
    // of the program_clock_reference in TS packets of the same program shall be less than or
    // equal to 0.1 s." (ISO/IEC 13818-1 §2.7.2; TR 101 290 PCR_repetition_error)
    let Some(pmt) = &next.seg.pmt else {
        return Outcome::skip(format!("{}: no PMT, PCR_PID unknown (see TS-03)", next.at()));
    };
    let mut out = Outcome::new();
    let pcrs = next.seg.program_pcrs();
    if pcrs.is_empty() {
        out.must(format!("{}: no PCR on PCR_PID 0x{:x}", next.at(), pmt.pcr_pid));
        return out;
    }
    let secs = |d: i64| d as f64 / PCR_HZ as f64;
    let mut max = 0i64;
    for w in pcrs.windows(2) {
        if w[1].discontinuity {
            continue;
        }
        let d = ts::pcr_delta(w[0].value, w[1].value);
        max = max.max(d);
        if d <= 0 {
            out.must(format!(
                "{}: PCR goes backwards by {} at packet {}",
                next.at(),
                ms(secs(-d)),
                w[1].packet
            ));
        } else if d > MAX_PCR_INTERVAL {
            out.must(format!(
                "{}: PCR interval {} > 100 ms at packet {}",
                next.at(),
                ms(secs(d)),
                w[1].packet
            ));
        }
    }
    if let Some(prev) = prev.filter(|p| p.msn + 1 == next.msn && !next.discontinuity)
        && let Some(last) = prev.seg.program_pcrs().last().copied()
        && !pcrs[0].discontinuity
    {
        let d = ts::pcr_delta(last.value, pcrs[0].value);
        max = max.max(d);
        if d <= 0 || d > MAX_PCR_INTERVAL {
            out.must(format!(
                "msn {} -> {}: PCR interval across the boundary is {}",
                prev.msn,
                next.msn,
                ms(secs(d))
            ));
        }
    }
    out.evidence(format!("max PCR interval {}", ms(secs(max))));
    out
}

/// TS-08: EXTINF against TARGETDURATION (HLS-MP-02 with the version < 6 reading), and each
/// measured segment duration (video, else first stream) against its EXTINF.
pub fn ts_08(p: &MediaPlaylist, measured: &[(u64, f64, f64)]) -> Outcome {
    // "The EXTINF duration of each Media Segment in a Playlist file, when rounded to the nearest
    // integer, MUST be less than or equal to the Target Duration" (§4.4.3.1); before version 6
    // the Target Duration was the maximum segment duration itself, unrounded (§8 note, RULES.md
    // TS-08). "The duration of each Media Segment is indicated in the Media Playlist by its
    // EXTINF tag ... The value is the total presentation duration of samples in the segment ...
    // preferring video media over audio" (§3).
    let Some(td) = p.target_duration else { return Outcome::skip("no TARGETDURATION") };
    let mut out = Outcome::new();
    let legacy = p.version.unwrap_or(1) < 6;
    let mut max = 0.0f64;
    for s in &p.segments {
        if !s.duration.is_finite() {
            out.must(format!("msn {}: EXTINF {:?} unreadable", s.msn, s.duration_raw));
            continue;
        }
        max = max.max(s.duration);
        if s.duration.round() > td as f64 {
            out.must(format!(
                "msn {}: EXTINF {} rounds above TARGETDURATION {td}",
                s.msn, s.duration_raw
            ));
        } else if legacy && s.duration > td as f64 + 1e-9 {
            out.must(format!(
                "msn {}: EXTINF {} > TARGETDURATION {td} with EXT-X-VERSION {} (< 6: TD is the maximum, not rounded)",
                s.msn,
                s.duration_raw,
                p.version.unwrap_or(1)
            ));
        }
    }
    for (msn, secs, frame) in measured {
        let Some(s) = p.segments.iter().find(|s| s.msn == *msn) else { continue };
        let tolerance = frame.max(0.001) + 0.001;
        if (secs - s.duration).abs() > tolerance {
            out.should(format!(
                "msn {msn}: EXTINF {} but its media spans {secs:.3} s",
                s.duration_raw
            ));
        }
    }
    out.evidence(format!(
        "max EXTINF {max:.3} s, TD {td}, version {}; {} segment durations measured",
        p.version.unwrap_or(1),
        measured.len()
    ));
    out
}

/// TS-09 on one Packed Audio segment.
pub fn ts_09(uri: &str, data: &[u8]) -> Outcome {
    // "Each Packed Audio Segment MUST signal the timestamp of its first sample with an ID3
    // Private frame (PRIV) tag [ID3] at the beginning of the segment. The ID3 PRIV owner
    // identifier MUST be "com.apple.streaming.transportStreamTimestamp". The ID3 payload MUST be
    // a 33-bit MPEG-2 Program Elementary Stream timestamp expressed as a big-endian eight-octet
    // number, with the upper 31 bits set to zero." (HLS §3.1.3)
    let mut out = Outcome::new();
    match crate::packed::read_start(data) {
        Ok(s) => {
            out.evidence(format!("{uri}: transportStreamTimestamp {}", s.timestamp));
            if !s.audio_follows {
                out.must(format!("{uri}: no audio frame sync word after the ID3 tag"));
            }
        }
        Err(e) => out.must(format!("{uri}: {e}")),
    }
    out
}

/// What one rendition's TS segments carry: (stream_type, kind, codec derived in-band).
pub type TsStreams = Vec<(u8, StreamKind, Option<String>)>;

fn family(stream_type: u8) -> Option<(&'static str, &'static [&'static str])> {
    Some(match stream_type {
        0x1b => ("H.264 (0x1B)", &["avc1.", "avc3."]),
        0x24 => ("HEVC (0x24)", &["hvc1.", "hev1."]),
        0x0f | 0x11 => ("AAC (0x0F/0x11)", &["mp4a.40."]),
        0x03 | 0x04 => ("MPEG audio (0x03/0x04)", &["mp4a.40.34", "mp4a.6b", "mp4a.69"]),
        0x81 => ("AC-3 (0x81)", &["ac-3"]),
        0x87 => ("E-AC-3 (0x87)", &["ec-3"]),
        _ => return None,
    })
}

/// TS-10: CODECS of each variant against its renditions' TS elementary streams.
/// `streams_of` maps a rendition URI (as written in the multivariant) to what its segments held.
pub fn ts_10(mv: &Multivariant, streams_of: &dyn Fn(&str) -> Option<TsStreams>) -> Outcome {
    // "Every EXT-X-STREAM-INF tag SHOULD include a CODECS attribute." (§4.4.6.2) "the attribute
    // value MUST include every media format [RFC6381] present in any Media Segment in any of
    // the Renditions specified by the Variant Stream." (§6.2.4) HAS 1.5: "The container format
    // for HEVC video MUST be fMP4."
    let mut out = Outcome::new();
    let mut judged = false;
    for v in &mv.variants {
        let members = super::multivariant::variant_members(mv, v);
        let found: Vec<(String, TsStreams)> =
            members.iter().filter_map(|m| Some((m.clone(), streams_of(m)?))).collect();
        if found.is_empty() {
            continue;
        }
        judged = true;
        for (member, streams) in &found {
            if streams.iter().any(|(_, k, _)| *k == StreamKind::Hevc) {
                out.problem(
                    Level::Apple,
                    format!("{member}: HEVC in MPEG-TS (HAS 1.5: HEVC must be carried in fMP4)"),
                );
            }
        }
        let Some(codecs) = v.attrs.text("CODECS") else {
            out.should(format!("line {}: STREAM-INF of MPEG-TS renditions without CODECS", v.line));
            continue;
        };
        let listed: Vec<String> =
            codecs.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
        for (member, streams) in &found {
            for (stream_type, kind, codec) in streams {
                if *kind == StreamKind::Hevc {
                    out.problem(
                        Level::Apple,
                        format!(
                            "{member}: HEVC in MPEG-TS (HAS 1.5: HEVC must be carried in fMP4)"
                        ),
                    );
                }
                let Some((name, prefixes)) = family(*stream_type) else { continue };
                let matching: Vec<&String> =
                    listed.iter().filter(|l| prefixes.iter().any(|p| l.starts_with(p))).collect();
                if matching.is_empty() {
                    out.must(format!("{member}: carries {name} but CODECS is \"{codecs}\""));
                    continue;
                }
                let Some(c) = codec else { continue };
                let exact = matching.iter().any(|l| {
                    crate::codecs::same(l, c)
                        || (*kind == StreamKind::Hevc && crate::codecs::same_hevc_bitstream(l, c))
                });
                if exact {
                    out.evidence(format!("{member}: {c}"));
                } else {
                    out.should(format!(
                        "{member}: the stream says {c} but CODECS says \"{codecs}\""
                    ));
                }
            }
        }
    }
    if !judged {
        return Outcome::skip("no variant with fetched MPEG-TS segments");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ts::testing::{Ccs, segment};

    fn fails(o: &Outcome) -> bool {
        o.problems.iter().any(|p| p.level.fails(false))
    }

    fn obs(msn: u64, data: &[u8]) -> TsObservation {
        TsObservation {
            msn,
            uri: format!("{msn}.ts"),
            extinf: 1.0,
            discontinuity: false,
            has_map: false,
            seg: ts::parse(data),
        }
    }

    fn two() -> (TsObservation, TsObservation) {
        let mut ccs = Ccs::default();
        let a = segment(0, &mut ccs, true);
        let b = segment(90_000, &mut ccs, true);
        (obs(0, &a), obs(1, &b))
    }

    #[test]
    fn good_segments_pass_every_rule() {
        let (a, b) = two();
        for o in [
            ts_01(&b),
            ts_02(&b),
            ts_03(&b),
            ts_04(&b),
            ts_05(&b, true),
            ts_06(Some(&a), &b),
            ts_07(Some(&a), &b),
        ] {
            assert!(o.is_clean(), "{o:?}");
        }
    }

    #[test]
    fn corrupted_segments_never_panic_any_rule() {
        let mut ccs = Ccs::default();
        let a = segment(0, &mut ccs, true);
        let b = segment(90_000, &mut ccs, true);
        let prev = obs(0, &a);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..200 {
            let mut data = b.clone();
            for _ in 0..(1 + round % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed % data.len() as u64) as usize;
                data[at] = (seed >> 32) as u8;
            }
            data.truncate(data.len() - (seed % 300) as usize);
            let o = obs(1, &data);
            let all = [
                ts_01(&o),
                ts_02(&o),
                ts_03(&o),
                ts_04(&o),
                ts_05(&o, true),
                ts_06(Some(&prev), &o),
                ts_07(Some(&prev), &o),
            ];
            assert_eq!(all.len(), 7);
        }
    }

    #[test]
    fn ts_01_flags_truncation_and_lost_sync() {
        let mut ccs = Ccs::default();
        let mut data = segment(0, &mut ccs, true);
        data.truncate(data.len() - 100);
        assert!(fails(&ts_01(&obs(0, &data))));
        let mut data = segment(0, &mut ccs, true);
        data[188 * 3] = 0;
        assert!(fails(&ts_01(&obs(0, &data))));
    }

    #[test]
    fn ts_02_to_04_flag_table_problems() {
        let mut ccs = Ccs::default();
        let data = segment(0, &mut ccs, true);
        let two_programs =
            [ts::testing::pat(0, &[(1, 0x1000), (2, 0x1001)]), data[188..].to_vec()].concat();
        assert!(fails(&ts_02(&obs(0, &two_programs))));
        let no_tables = data[376..].to_vec();
        assert!(fails(&ts_03(&obs(0, &no_tables))));
        let mut mapped = obs(0, &no_tables);
        mapped.has_map = true;
        assert!(ts_03(&mapped).skipped.is_some());
        // PMT first, then PAT: a SHOULD warning only.
        let swapped =
            [data[188..376].to_vec(), data[..188].to_vec(), data[376..].to_vec()].concat();
        let o = ts_04(&obs(0, &swapped));
        assert!(o.has_level(Level::Should) && !fails(&o), "{o:?}");
        assert!(o.problems[0].msg.contains("PMT (PID 0x1000) then PAT"), "{o:?}");
    }

    #[test]
    fn ts_05_flags_a_segment_without_a_leading_key_frame() {
        let mut ccs = Ccs::default();
        let data = segment(0, &mut ccs, false);
        let o = ts_05(&obs(0, &data), false);
        assert!(o.has_level(Level::Apple) && !fails(&o), "{o:?}");
        assert!(o.problems[0].msg.contains("no key frame at all"), "{o:?}");
        assert!(fails(&ts_05(&obs(0, &data), true)));
    }

    #[test]
    fn ts_06_flags_counter_and_timestamp_jumps_unless_discontinuous() {
        let mut ccs = Ccs::default();
        let a = segment(0, &mut ccs, true);
        ccs.video = (ccs.video + 3) & 15;
        let b = segment(90_000, &mut ccs, true);
        let o = ts_06(Some(&obs(0, &a)), &obs(1, &b));
        assert!(fails(&o) && o.problems[0].msg.contains("PID 0x100"), "{o:?}");
        let mut disc = obs(1, &b);
        disc.discontinuity = true;
        assert!(ts_06(Some(&obs(0, &a)), &disc).is_clean());
        // A 10-frame gap in time with continuous counters.
        let mut ccs = Ccs::default();
        let a = segment(0, &mut ccs, true);
        let b = segment(120_000, &mut ccs, true);
        let o = ts_06(Some(&obs(0, &a)), &obs(1, &b));
        assert!(fails(&o) && o.problems.iter().any(|p| p.msg.contains("jump forward")), "{o:?}");
    }

    #[test]
    fn ts_07_flags_missing_or_sparse_pcr() {
        let (a, b) = two();
        assert!(ts_07(Some(&a), &b).is_clean());
        // Strip the PCR flag from every adaptation field.
        let mut ccs = Ccs::default();
        let mut data = segment(0, &mut ccs, true);
        for p in data.chunks_exact_mut(188) {
            if p[3] & 0x20 != 0 && p[4] > 0 && p[5] & 0x10 != 0 {
                p[5] &= !0x10;
                p[6..12].fill(0xff);
            }
        }
        let o = ts_07(None, &obs(0, &data));
        assert!(fails(&o) && o.problems[0].msg.contains("no PCR"), "{o:?}");
    }

    #[test]
    fn ts_08_applies_the_unrounded_reading_before_version_6() {
        let v3 = MediaPlaylist::parse(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.002667,\na.ts\n",
        );
        assert!(fails(&ts_08(&v3, &[])));
        let v6 = MediaPlaylist::parse(
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.002667,\na.ts\n",
        );
        assert!(ts_08(&v6, &[]).is_clean());
        let o = ts_08(&v6, &[(0, 1.5, 1.0 / 30.0)]);
        assert!(o.has_level(Level::Should) && !fails(&o), "{o:?}");
        assert!(ts_08(&v6, &[(0, 1.01, 1.0 / 30.0)]).is_clean());
    }

    #[test]
    fn ts_09_reads_the_id3_timestamp() {
        assert!(ts_09("a.aac", &crate::packed::testing::segment(900, 2)).is_clean());
        assert!(fails(&ts_09("a.aac", &crate::ts::testing::adts(2))));
    }

    #[test]
    fn ts_10_compares_codecs_with_stream_types() {
        let mv = Multivariant::parse(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f,mp4a.40.2\"\nv.m3u8\n",
        );
        let good: TsStreams = vec![
            (0x1b, StreamKind::H264, Some("avc1.64001F".into())),
            (0x0f, StreamKind::AacAdts, Some("mp4a.40.2".into())),
        ];
        assert!(ts_10(&mv, &|_| Some(good.clone())).is_clean());
        let other_level: TsStreams = vec![(0x1b, StreamKind::H264, Some("avc1.640028".into()))];
        let o = ts_10(&mv, &|_| Some(other_level.clone()));
        assert!(o.has_level(Level::Should) && !fails(&o), "{o:?}");
        let hevc: TsStreams = vec![(0x24, StreamKind::Hevc, Some("hvc1.1.6.L93.90".into()))];
        let o = ts_10(&mv, &|_| Some(hevc.clone()));
        assert!(fails(&o) && o.has_level(Level::Apple), "{o:?}");
        let bare = Multivariant::parse("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n");
        assert!(ts_10(&bare, &|_| Some(good.clone())).has_level(Level::Should));
        assert!(ts_10(&mv, &|_| None).skipped.is_some());
    }
}
