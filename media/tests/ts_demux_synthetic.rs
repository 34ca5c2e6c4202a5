//! Hand-built transport streams for the behaviours the captures do not show: ADTS frames split
//! across PES packets, PES packets without PTS, AAC configuration changes, several programs and
//! streams, PMT updates, transport errors, scrambling, and a bad SCTE-35 CRC. The video is the
//! real x264 stream of `testdata/ffmpeg-x264-aac.ts` put back into Annex B form.

mod ts_demux_common;

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use sluice_media::codec::aac::AudioSpecificConfig;
use sluice_media::codec::adts::AdtsHeader;
use sluice_media::codec::annexb;
use sluice_media::demux::ts::psi::crc32;
use sluice_media::demux::ts::{Event, TsDemuxer};
use sluice_media::{AccessUnit, CodecConfig};
use ts_demux_common::*;

/// Writes packets with per-PID continuity counters.
#[derive(Default)]
struct Mux {
    cc: HashMap<u16, u8>,
    out: Vec<u8>,
}

impl Mux {
    fn packet(&mut self, pid: u16, unit_start: bool, payload: &[u8]) -> &mut Vec<u8> {
        let cc = self.cc.entry(pid).or_insert(0);
        self.out.extend(ts_packet(pid, unit_start, *cc, payload));
        *cc = (*cc + 1) & 0x0f;
        &mut self.out
    }

    /// One unit (section with pointer_field, or PES packet) split over as many packets as it
    /// needs.
    fn unit(&mut self, pid: u16, data: &[u8]) {
        for (i, chunk) in data.chunks(184).enumerate() {
            self.packet(pid, i == 0, chunk);
        }
    }

    fn section(&mut self, pid: u16, section: &[u8]) {
        let mut d = vec![0];
        d.extend_from_slice(section);
        self.unit(pid, &d);
    }

    fn psi(&mut self, programs: &[(u16, u16)], pmt_pid: u16, streams: &[(u8, u16)], version: u8) {
        self.section(0, &pat(programs, version));
        self.section(pmt_pid, &pmt(1, streams, version));
    }
}

fn long_section(table_id: u8, extension: u16, version: u8, body: &[u8]) -> Vec<u8> {
    let len = 5 + body.len() + 4;
    let mut s = vec![table_id, 0xb0 | (len >> 8) as u8, len as u8];
    s.extend_from_slice(&extension.to_be_bytes());
    s.extend_from_slice(&[0xc1 | (version << 1), 0, 0]);
    s.extend_from_slice(body);
    let crc = crc32(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

fn pat(programs: &[(u16, u16)], version: u8) -> Vec<u8> {
    let body: Vec<u8> = programs
        .iter()
        .flat_map(|&(n, pid)| {
            let [a, b] = n.to_be_bytes();
            [a, b, 0xe0 | (pid >> 8) as u8, pid as u8]
        })
        .collect();
    long_section(0, 1, version, &body)
}

fn pmt(program: u16, streams: &[(u8, u16)], version: u8) -> Vec<u8> {
    let pcr = streams.first().map_or(0x1fff, |s| s.1);
    let mut body = vec![0xe0 | (pcr >> 8) as u8, pcr as u8, 0xf0, 0];
    for &(t, pid) in streams {
        body.extend_from_slice(&[t, 0xe0 | (pid >> 8) as u8, pid as u8, 0xf0, 0]);
    }
    long_section(2, program, version, &body)
}

fn pes(stream_id: u8, pts: Option<u64>, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0, 0, 1, stream_id, 0, 0, 0x80];
    match pts {
        Some(t) => {
            h.extend_from_slice(&[0x80, 5, 0x21, 0, 1, 0, 1]);
            let n = h.len();
            write_ts(&mut h[n - 5..], t);
        }
        None => h.extend_from_slice(&[0, 0]),
    }
    h.extend_from_slice(payload);
    // Audio PES packets carry their length (video ones may be unbounded).
    if stream_id & 0xf0 == 0xc0 {
        let len = (h.len() - 6) as u16;
        h[4..6].copy_from_slice(&len.to_be_bytes());
    }
    h
}

fn adts_frame(asc: &[u8], payload: &[u8]) -> Vec<u8> {
    let config = AudioSpecificConfig::parse(Bytes::copy_from_slice(asc)).unwrap();
    let mut out = BytesMut::new();
    AdtsHeader::from_config(&config).unwrap().write(payload.len(), &mut out).unwrap();
    out.extend_from_slice(payload);
    out.to_vec()
}

const ASC_48K: &[u8] = &[0x11, 0x90];
const ASC_44K: &[u8] = &[0x12, 0x10];

/// The first `n` video frames of the ffmpeg capture in Annex B, parameter sets before each
/// keyframe, with their (pts, dts).
fn annex_b_frames(n: usize) -> Vec<(Vec<u8>, u64, u64, bool)> {
    let d = demux(FFMPEG_X264_AAC);
    let CodecConfig::H264(avc) = &d.tracks()[0].codec else { unreachable!() };
    d.video()
        .into_iter()
        .take(n)
        .map(|f: &AccessUnit| {
            let mut out = BytesMut::new();
            if f.keyframe {
                for ps in avc.sps.iter().chain(&avc.pps) {
                    annexb::put_nal(&mut out, ps);
                }
            }
            annexb::append_annex_b(&f.data, 4, &mut out).unwrap();
            (out.to_vec(), f.pts as u64, f.dts as u64, f.keyframe)
        })
        .collect()
}

fn run(data: &[u8]) -> Demuxed {
    demux_chunked(data, || 1316)
}

#[test]
fn adts_frame_split_across_pes_packets_is_joined_and_timed() {
    let mut m = Mux::default();
    m.psi(&[(1, 0x1000)], 0x1000, &[(0x0f, 0x101)], 0);
    let frames: Vec<Vec<u8>> = (0..3u8).map(|i| adts_frame(ASC_48K, &[i + 1; 200])).collect();
    let mut first = frames[0].clone();
    first.extend_from_slice(&frames[1][..50]);
    let mut second = frames[1][50..].to_vec();
    second.extend_from_slice(&frames[2]);
    m.unit(0x101, &pes(0xc0, Some(90_000), &first));
    // The second PES's PTS belongs to the first frame starting in it: frame 2.
    m.unit(0x101, &pes(0xc0, Some(90_000 + 2 * 1920), &second));
    let d = run(&m.out);
    let a = d.audio();
    let got: Vec<(i64, u8, usize)> = a.iter().map(|f| (f.dts, f.data[0], f.data.len())).collect();
    assert_eq!(got, vec![(48_000, 1, 200), (49_024, 2, 200), (50_048, 3, 200)]);
    assert!(d.dropped().is_empty(), "{:?}", d.dropped());
}

#[test]
fn audio_pes_without_pts_continues_the_sample_count() {
    let mut m = Mux::default();
    m.psi(&[(1, 0x1000)], 0x1000, &[(0x0f, 0x101)], 0);
    let two: Vec<u8> = [adts_frame(ASC_48K, &[1; 100]), adts_frame(ASC_48K, &[2; 100])].concat();
    m.unit(0x101, &pes(0xc0, Some(90_000), &two));
    m.unit(0x101, &pes(0xc0, None, &two));
    let d = run(&m.out);
    let dts: Vec<i64> = d.audio().iter().map(|f| f.dts).collect();
    assert_eq!(dts, vec![48_000, 49_024, 50_048, 51_072]);
}

#[test]
fn aac_sample_rate_change_announces_a_new_track() {
    let mut m = Mux::default();
    m.psi(&[(1, 0x1000)], 0x1000, &[(0x0f, 0x101)], 0);
    m.unit(0x101, &pes(0xc0, Some(0), &adts_frame(ASC_48K, &[1; 50])));
    m.unit(0x101, &pes(0xc0, Some(1920), &adts_frame(ASC_48K, &[1; 50])));
    m.unit(0x101, &pes(0xc0, Some(3840), &adts_frame(ASC_44K, &[1; 50])));
    let d = run(&m.out);
    let rates: Vec<u32> = d.tracks().iter().map(|t| t.timescale).collect();
    assert_eq!(rates, vec![48_000, 44_100]);
    let dts: Vec<i64> = d.audio().iter().map(|f| f.dts).collect();
    // 3840 at 90 kHz is 1881.6 → 1882 at 44.1 kHz.
    assert_eq!(dts, vec![0, 1024, 1882]);
}

#[test]
fn garbage_between_adts_frames_is_skipped_with_a_reason() {
    let mut m = Mux::default();
    m.psi(&[(1, 0x1000)], 0x1000, &[(0x0f, 0x101)], 0);
    let mut payload = adts_frame(ASC_48K, &[1; 60]);
    payload.extend_from_slice(&[0x12, 0x34, 0xff, 0x00, 0x56]);
    payload.extend(adts_frame(ASC_48K, &[2; 60]));
    m.unit(0x101, &pes(0xc0, Some(0), &payload));
    let d = run(&m.out);
    assert_eq!(d.audio().len(), 2);
    assert_eq!(d.dropped(), vec!["ADTS sync lost: 5 bytes skipped"]);
}

#[test]
fn video_needs_a_pts_and_parameter_sets() {
    let frames = annex_b_frames(32);
    let mut m = Mux::default();
    m.psi(&[(1, 0x1000)], 0x1000, &[(0x1b, 0x100)], 0);
    // Joined mid-GOP: frames 1..=29 come before any SPS/PPS; frame 30 is the next IDR.
    for (i, (data, pts, _, _)) in frames.iter().enumerate().skip(1) {
        let pts = if i == 31 { None } else { Some(*pts) };
        m.unit(0x100, &pes(0xe0, pts, data));
    }
    let d = run(&m.out);
    let dropped = d.dropped();
    assert_eq!(dropped.len(), 30, "{dropped:?}");
    assert!(dropped[..29].iter().all(|r| *r == "video frame before its parameter sets"));
    assert_eq!(dropped[29], "video PES on PID 0x100 without PTS");
    let v = d.video();
    assert_eq!(v.len(), 1);
    assert!(v[0].keyframe);
    assert_eq!(v[0].pts as u64, frames[30].1);
    // No DTS in the PES: it defaults to the PTS.
    assert_eq!(v[0].dts, v[0].pts);
    assert_eq!(d.tracks().len(), 1);
}

#[test]
fn only_the_first_program_and_first_stream_of_each_kind_are_followed() {
    let mut m = Mux::default();
    let streams = [(0x1b, 0x100), (0x1b, 0x200), (0x0f, 0x101), (0x0f, 0x201), (0x81, 0x300)];
    m.psi(&[(1, 0x1000), (2, 0x2000)], 0x1000, &streams, 0);
    for _ in 0..3 {
        // Repeated PSI: nothing is counted or reported twice.
        m.psi(&[(1, 0x1000), (2, 0x2000)], 0x1000, &streams, 0);
    }
    for pid in [0x101, 0x201] {
        m.unit(pid, &pes(0xc0, Some(0), &adts_frame(ASC_48K, &[7; 30])));
    }
    m.unit(0x300, &[0; 184]);
    let d = run(&m.out);
    assert_eq!(d.stats.ignored_programs, 1);
    assert_eq!(d.stats.ignored_streams, 2);
    assert_eq!(d.stats.unsupported_streams, 1);
    assert_eq!(d.audio().len(), 1);
    assert_eq!(d.stats.ignored_packets, 2);
    let unsupported: Vec<&Event> =
        d.events.iter().filter(|e| matches!(e, Event::Unsupported { .. })).collect();
    assert_eq!(
        unsupported,
        vec![&Event::Unsupported { pid: 0x300, stream_type: 0x81, codec: "AC-3".into() }]
    );
}

#[test]
fn pmt_update_moves_audio_to_a_new_pid() {
    let mut m = Mux::default();
    m.psi(&[(1, 0x1000)], 0x1000, &[(0x0f, 0x101)], 0);
    m.unit(0x101, &pes(0xc0, Some(0), &adts_frame(ASC_48K, &[1; 30])));
    m.psi(&[(1, 0x1000)], 0x1000, &[(0x0f, 0x102)], 1);
    m.unit(0x101, &pes(0xc0, Some(1920), &adts_frame(ASC_48K, &[2; 30])));
    m.unit(0x102, &pes(0xc0, Some(3840), &adts_frame(ASC_48K, &[3; 30])));
    let d = run(&m.out);
    let got: Vec<(i64, u8)> = d.audio().iter().map(|f| (f.dts, f.data[0])).collect();
    assert_eq!(got, vec![(0, 1), (2048, 3)]);
    // Same configuration on the new PID: no new track.
    assert_eq!(d.tracks().len(), 1);
}

#[test]
fn pat_not_yet_applicable_is_ignored() {
    let mut m = Mux::default();
    let mut next = pat(&[(1, 0x1000)], 0);
    next[5] &= 0xfe; // current_next_indicator = 0
    let n = next.len();
    let crc = crc32(&next[..n - 4]);
    next[n - 4..].copy_from_slice(&crc.to_be_bytes());
    m.section(0, &next);
    m.section(0x1000, &pmt(1, &[(0x0f, 0x101)], 0));
    m.unit(0x101, &pes(0xc0, Some(0), &adts_frame(ASC_48K, &[1; 30])));
    let d = run(&m.out);
    assert!(d.audio().is_empty());
    assert!(d.tracks().is_empty());
}

#[test]
fn transport_errors_and_scrambling_are_counted() {
    let mut m = Mux::default();
    m.psi(&[(1, 0x1000)], 0x1000, &[(0x0f, 0x101)], 0);
    let long: Vec<u8> = (0..4).flat_map(|i| adts_frame(ASC_48K, &[i; 90])).collect();
    let start = m.out.len();
    m.unit(0x101, &pes(0xc0, Some(0), &long));
    // Mark the PES's second packet as errored: the PES is lost, the next one survives.
    m.out[start + 188 + 1] |= 0x80;
    let good = adts_frame(ASC_48K, &[9; 30]);
    m.unit(0x101, &pes(0xc0, Some(4 * 1920), &good));
    // Two scrambled packets: reported once.
    for _ in 0..2 {
        let p = m.packet(0x101, true, &pes(0xc0, Some(0), &good));
        let n = p.len();
        p[n - 188 + 3] |= 0x80;
    }
    let d = run(&m.out);
    assert_eq!(d.stats.transport_errors, 1);
    assert_eq!(d.stats.cc_errors, 1);
    assert_eq!(d.stats.scrambled_packets, 2);
    let dropped = d.dropped();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(dropped[0].starts_with("continuity error on PID 0x101"));
    assert_eq!(dropped[1], "scrambled packets on PID 0x101 cannot be demuxed");
    let got: Vec<(i64, u8)> = d.audio().iter().map(|f| (f.dts, f.data[0])).collect();
    assert_eq!(got, vec![(4096, 9)]);
}

#[test]
fn scte35_section_with_bad_crc_is_dropped_and_counted() {
    let mut data = FFMPEG_X264_AAC_SCTE35.to_vec();
    // The first SCTE-35 packet: flip a byte of its splice_insert.
    let i = packets(&data).position(|p| pid(p) == 0x1f0).unwrap();
    data[i * 188 + 4 + 1 + 20] ^= 0x01;
    let d = run(&data);
    assert_eq!(d.stats.crc_errors, 1);
    assert_eq!(d.stats.scte35, 3);
    assert_eq!(d.dropped(), vec!["SCTE-35 section on PID 0x1f0: splice_info_section crc mismatch"]);
}

#[test]
fn stats_count_packets_and_frames() {
    let mut d = TsDemuxer::new();
    d.push(FFMPEG_X264_AAC);
    d.flush();
    while d.poll_event().is_some() {}
    let s = d.stats();
    assert_eq!(s.packets as usize, FFMPEG_X264_AAC.len() / 188);
    assert_eq!(s.frames, 155);
    assert_eq!((s.sync_losses, s.skipped_bytes, s.dropped), (0, 0, 0));
}
