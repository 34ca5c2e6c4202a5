//! Shared helpers for the MPEG-TS demuxer tests: the captures, running bytes through
//! `TsDemuxer` in chunks, and small TS rewriting tools (packets, PES timestamps, PSI CRCs).

#![allow(dead_code)]

use sluice_media::demux::ts::packet::PACKET_LEN;
use sluice_media::demux::ts::psi::crc32;
use sluice_media::demux::ts::{Event, TsDemuxer, TsStats};
use sluice_media::track::VIDEO_TRACK;
use sluice_media::{AccessUnit, TrackInfo};

pub const FFMPEG_X264_AAC: &[u8] = include_bytes!("../../../testdata/ffmpeg-x264-aac.ts");
pub const FFMPEG_X265_AAC: &[u8] = include_bytes!("../../../testdata/ffmpeg-x265-aac.ts");
pub const FFMPEG_X264_MP2: &[u8] = include_bytes!("../../../testdata/ffmpeg-x264-mp2.ts");
pub const GST_X264_VOAAC: &[u8] = include_bytes!("../../../testdata/gst-x264-voaac.ts");
pub const FFMPEG_X264_AAC_SCTE35: &[u8] =
    include_bytes!("../../../testdata/ffmpeg-x264-aac-scte35.ts");

/// Everything the demuxer said about one input.
#[derive(Debug, Default)]
pub struct Demuxed {
    pub events: Vec<Event>,
    pub stats: TsStats,
}

impl Demuxed {
    pub fn tracks(&self) -> Vec<&TrackInfo> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Track(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    pub fn frames(&self, track: u32) -> Vec<&AccessUnit> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Frame(au) if au.track == track => Some(au),
                _ => None,
            })
            .collect()
    }

    pub fn video(&self) -> Vec<&AccessUnit> {
        self.frames(VIDEO_TRACK)
    }

    pub fn audio(&self) -> Vec<&AccessUnit> {
        self.frames(sluice_media::track::AUDIO_TRACK)
    }

    pub fn dropped(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Dropped { reason } => Some(reason.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Pushes `data` in chunks of the sizes `chunk` returns, then flushes.
pub fn demux_chunked(data: &[u8], mut chunk: impl FnMut() -> usize) -> Demuxed {
    let mut d = TsDemuxer::new();
    let mut out = Demuxed::default();
    let mut rest = data;
    while !rest.is_empty() {
        let n = chunk().clamp(1, rest.len());
        let (now, later) = rest.split_at(n);
        d.push(now);
        out.events.extend(std::iter::from_fn(|| d.poll_event()));
        rest = later;
    }
    d.flush();
    out.events.extend(std::iter::from_fn(|| d.poll_event()));
    out.stats = d.stats();
    out
}

/// Pushes `data` in SRT-sized (1316-byte) chunks.
pub fn demux(data: &[u8]) -> Demuxed {
    demux_chunked(data, || 1316)
}

/// The PID of a 188-byte packet.
pub fn pid(packet: &[u8]) -> u16 {
    u16::from(packet[1] & 0x1f) << 8 | u16::from(packet[2])
}

/// Offset of the payload in a packet (after the adaptation field), None without payload.
pub fn payload_offset(packet: &[u8]) -> Option<usize> {
    let afc = (packet[3] >> 4) & 3;
    match afc {
        1 => Some(4),
        3 => Some(5 + usize::from(packet[4])),
        _ => None,
    }
}

pub fn packets(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.chunks_exact(PACKET_LEN)
}

/// Reads a 5-byte PES timestamp.
pub fn read_ts(b: &[u8]) -> u64 {
    u64::from(b[0] >> 1 & 7) << 30
        | u64::from(b[1]) << 22
        | u64::from(b[2] >> 1) << 15
        | u64::from(b[3]) << 7
        | u64::from(b[4] >> 1)
}

/// Writes a 5-byte PES timestamp keeping the 4-bit prefix.
pub fn write_ts(b: &mut [u8], t: u64) {
    b[0] = (b[0] & 0xf0) | ((t >> 29) & 0x0e) as u8 | 1;
    b[1] = (t >> 22) as u8;
    b[2] = ((t >> 14) & 0xfe) as u8 | 1;
    b[3] = (t >> 7) as u8;
    b[4] = ((t << 1) & 0xfe) as u8 | 1;
}

/// Adds `offset` (mod 2^33) to every PES PTS/DTS and PCR of a capture.
pub fn shift_timestamps(data: &[u8], offset: u64) -> Vec<u8> {
    const MASK: u64 = (1 << 33) - 1;
    let mut out = data.to_vec();
    for p in out.chunks_exact_mut(PACKET_LEN) {
        let afc = (p[3] >> 4) & 3;
        if afc & 2 != 0 && p[4] > 0 && p[5] & 0x10 != 0 {
            // PCR base (33 bits) in bytes 6..11.
            let base = u64::from(p[6]) << 25
                | u64::from(p[7]) << 17
                | u64::from(p[8]) << 9
                | u64::from(p[9]) << 1
                | u64::from(p[10] >> 7);
            let base = (base + offset) & MASK;
            p[6] = (base >> 25) as u8;
            p[7] = (base >> 17) as u8;
            p[8] = (base >> 9) as u8;
            p[9] = (base >> 1) as u8;
            p[10] = (p[10] & 0x7f) | ((base & 1) as u8) << 7;
        }
        let unit_start = p[1] & 0x40 != 0;
        let Some(off) = payload_offset(p) else { continue };
        if !unit_start || off + 19 > PACKET_LEN || p[off..off + 3] != [0, 0, 1] {
            continue;
        }
        let flags = p[off + 7] >> 6;
        if flags & 2 != 0 {
            let t = (read_ts(&p[off + 9..off + 14]) + offset) & MASK;
            write_ts(&mut p[off + 9..off + 14], t);
        }
        if flags == 3 {
            let t = (read_ts(&p[off + 14..off + 19]) + offset) & MASK;
            write_ts(&mut p[off + 14..off + 19], t);
        }
    }
    out
}

/// Recomputes the CRC_32 at the end of a section.
pub fn fix_crc(section: &mut [u8]) {
    let n = section.len();
    let crc = crc32(&section[..n - 4]);
    section[n - 4..].copy_from_slice(&crc.to_be_bytes());
}

/// Builds one packet: `payload` (at most 184 bytes) behind a header, padded with an adaptation
/// field of stuffing when shorter.
pub fn ts_packet(pid: u16, unit_start: bool, cc: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() <= 184);
    let mut p = vec![0x47, (u8::from(unit_start) << 6) | (pid >> 8) as u8, pid as u8];
    if payload.len() == 184 {
        p.push(0x10 | (cc & 0x0f));
    } else {
        p.push(0x30 | (cc & 0x0f));
        let af_len = 183 - payload.len();
        p.push(af_len as u8);
        if af_len > 0 {
            p.push(0);
            p.extend(std::iter::repeat_n(0xff, af_len - 1));
        }
    }
    p.extend_from_slice(payload);
    assert_eq!(p.len(), PACKET_LEN);
    p
}

/// The first packet of `pid` in a capture.
pub fn first_packet_of(data: &[u8], wanted: u16) -> Vec<u8> {
    packets(data).find(|p| pid(p) == wanted).expect("PID present").to_vec()
}
