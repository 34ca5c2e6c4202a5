//! Helpers for the TS muxer tests: captures → interleaved access units → segments cut at
//! keyframes → TS bytes, a transport stream packet reader of the tests' own (not the crate's
//! demuxer, so a bug cannot hide by agreeing with itself) and ffprobe/ffmpeg runners.

#![allow(dead_code)]

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use sluice_media::mux::ts::{SegmentReport, TsMuxer};
use sluice_media::{AccessUnit, MediaKind, TrackInfo};

use crate::common::Demuxed;
use crate::common::tools::run_on;

/// Video and audio frames merged in DTS order (video first on ties), as a pipeline feeds them.
pub fn interleave(d: &Demuxed, video: bool, audio: bool) -> Vec<AccessUnit> {
    let vs = d.video.as_ref().map_or(90_000, |t| i64::from(t.timescale));
    let as_ = d.audio.as_ref().map_or(48_000, |t| i64::from(t.timescale));
    let mut all: Vec<(i128, u8, AccessUnit)> = Vec::new();
    if video {
        all.extend(d.video_frames.iter().map(|f| (i128::from(f.dts * as_), 0, f.clone())));
    }
    if audio {
        all.extend(d.audio_frames.iter().map(|f| (i128::from(f.dts * vs), 1, f.clone())));
    }
    all.sort_by_key(|(t, k, _)| (*t, *k));
    all.into_iter().map(|(_, _, f)| f).collect()
}

/// Splits interleaved frames into segments: a new one at every video keyframe but the first, or (no video) whenever audio crosses another whole second.
pub fn cut(frames: &[AccessUnit], tracks: &[TrackInfo]) -> Vec<Vec<AccessUnit>> {
    let video = tracks.iter().find(|t| t.kind == MediaKind::Video).map(|t| t.id);
    let audio_rate =
        tracks.iter().find(|t| t.kind == MediaKind::Audio).map_or(1, |t| i64::from(t.timescale));
    let mut segs: Vec<Vec<AccessUnit>> = Vec::new();
    let mut second = -1;
    for f in frames {
        let new = match video {
            // Audio ahead of the first keyframe stays in the first segment.
            Some(v) => {
                f.track == v
                    && f.keyframe
                    && segs.last().is_some_and(|s| s.iter().any(|g| g.track == v))
            }
            None => {
                let s = f.dts / audio_rate;
                let new = s != second;
                second = s;
                new
            }
        };
        if new || segs.is_empty() {
            segs.push(Vec::new());
        }
        segs.last_mut().expect("pushed").push(f.clone());
    }
    segs
}

/// Muxes each segment with one muxer; panics if any frame is dropped.
pub fn mux_segments(tracks: &[TrackInfo], segs: &[Vec<AccessUnit>]) -> Vec<Bytes> {
    let mut m = TsMuxer::new(tracks).expect("muxable tracks");
    segs.iter()
        .map(|s| {
            let mut out = BytesMut::new();
            let r = m.write_segment(s, &mut out);
            assert_eq!(r, SegmentReport { written: s.len(), dropped: 0, first_error: None });
            out.freeze()
        })
        .collect()
}

/// One transport stream packet, as read by the tests.
#[derive(Debug, Clone)]
pub struct Packet<'a> {
    pub pid: u16,
    pub unit_start: bool,
    pub cc: u8,
    pub has_payload: bool,
    pub random_access: bool,
    /// PCR base (90 kHz).
    pub pcr: Option<u64>,
    pub payload: &'a [u8],
}

/// Reads 188-byte packets, asserting the sync byte and the adaptation field's bounds.
pub fn packets(ts: &[u8]) -> Vec<Packet<'_>> {
    assert_eq!(ts.len() % 188, 0, "length {} is not a multiple of 188", ts.len());
    ts.chunks(188)
        .map(|p| {
            assert_eq!(p[0], 0x47, "sync byte");
            let pid = u16::from(p[1] & 0x1f) << 8 | u16::from(p[2]);
            let afc = p[3] >> 4 & 0x3;
            assert_ne!(afc, 0, "reserved adaptation_field_control");
            let mut at = 4;
            let (mut pcr, mut random_access) = (None, false);
            if afc & 0b10 != 0 {
                let len = usize::from(p[4]);
                assert!(len <= 183, "adaptation field length {len}");
                if len > 0 {
                    random_access = p[5] & 0x40 != 0;
                    if p[5] & 0x10 != 0 {
                        let b = &p[6..12];
                        pcr = Some(
                            u64::from(b[0]) << 25
                                | u64::from(b[1]) << 17
                                | u64::from(b[2]) << 9
                                | u64::from(b[3]) << 1
                                | u64::from(b[4]) >> 7,
                        );
                    }
                }
                at = 5 + len;
                if afc == 0b10 {
                    assert_eq!(at, 188, "adaptation-only packet must fill the packet");
                }
            }
            Packet {
                pid,
                unit_start: p[1] & 0x40 != 0,
                cc: p[3] & 0x0f,
                has_payload: afc & 0b01 != 0,
                random_access,
                pcr,
                payload: &p[at..],
            }
        })
        .collect()
}

/// PES packets reassembled per PID: (pid, first packet index, PES bytes).
pub fn pes_packets(pkts: &[Packet<'_>]) -> Vec<(u16, usize, Vec<u8>)> {
    let mut open: HashMap<u16, usize> = HashMap::new();
    let mut out: Vec<(u16, usize, Vec<u8>)> = Vec::new();
    for (i, p) in pkts.iter().enumerate() {
        if p.pid == 0 || p.pid == 0x1000 || !p.has_payload {
            continue;
        }
        if p.unit_start {
            open.insert(p.pid, out.len());
            out.push((p.pid, i, p.payload.to_vec()));
        } else if let Some(&k) = open.get(&p.pid) {
            out[k].2.extend_from_slice(p.payload);
        }
    }
    out
}

/// (PTS, DTS) of a PES header (DTS = PTS when absent).
pub fn pes_times(pes: &[u8]) -> (u64, u64) {
    assert_eq!(&pes[..3], &[0, 0, 1], "PES start code");
    let flags = pes[7] >> 6;
    let ts = |b: &[u8]| {
        (u64::from(b[0] >> 1) & 7) << 30
            | u64::from(b[1]) << 22
            | u64::from(b[2] >> 1) << 15
            | u64::from(b[3]) << 7
            | u64::from(b[4] >> 1)
    };
    let pts = ts(&pes[9..14]);
    let dts = if flags == 0b11 { ts(&pes[14..19]) } else { pts };
    (pts, dts)
}

/// The PES payload after its header.
pub fn pes_payload(pes: &[u8]) -> &[u8] {
    &pes[9 + usize::from(pes[8])..]
}

/// One packet as ffprobe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub codec_type: String,
    pub pts: i64,
    pub dts: i64,
    pub keyframe: bool,
}

/// ffprobe's streams (`codec_name,codec_type,...` lines) and packets of a TS file.
pub fn ffprobe(name: &str, ts: &[u8]) -> (Vec<String>, Vec<Probed>) {
    let file = ts_file_name(name);
    let streams = run_on(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,codec_type,profile,width,height,sample_rate,channels",
            "-of",
            "csv=p=0",
        ],
        &[],
        &file,
        ts,
    );
    let packets = run_on(
        "ffprobe",
        &["-v", "error", "-show_entries", "packet=codec_type,pts,dts,flags", "-of", "csv=p=0"],
        &[],
        &file,
        ts,
    );
    let packets = packets
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Probed {
                codec_type: f[0].to_owned(),
                pts: f[1].parse().expect("pts"),
                dts: f[2].parse().expect("dts"),
                keyframe: f[3].contains('K'),
            }
        })
        .collect();
    (streams.lines().map(str::to_owned).collect(), packets)
}

/// Decodes every frame with ffmpeg (`-f null`); asserts no errors only.
pub fn ffmpeg_decodes(name: &str, ts: &[u8]) {
    let file = ts_file_name(name);
    run_on("ffmpeg", &["-nostdin", "-v", "error", "-i"], &["-f", "null", "-"], &file, ts);
}

/// The temp file name the tools see for the TS segment `name`.
fn ts_file_name(name: &str) -> String {
    format!("tsmux-{name}.ts")
}
