//! Damaged and unusual transport streams, made from the real captures: the 33-bit timestamp
//! wrap, lost, duplicated and corrupted packets, lost sync, bad CRCs, a codec change mid-stream,
//! oversized PES packets, and garbage that must never panic.

mod common;
mod ts_demux_common;

use common::rng::Rng;
use sluice_media::demux::ts::{Event, MAX_PES_SIZE, TsDemuxer};
use sluice_media::{AccessUnit, MediaKind};
use ts_demux_common::*;

const VIDEO_PID: u16 = 0x100;
const AUDIO_PID: u16 = 0x101;
const PMT_PID: u16 = 0x1000;

/// Index (in packets) of every PES start on `wanted`, in order.
fn pes_starts(data: &[u8], wanted: u16) -> Vec<usize> {
    packets(data)
        .enumerate()
        .filter(|(_, p)| pid(p) == wanted && p[1] & 0x40 != 0)
        .map(|(i, _)| i)
        .collect()
}

/// Packet indices of PES number `n` on `wanted`.
fn pes_packets(data: &[u8], wanted: u16, n: usize) -> Vec<usize> {
    let starts = pes_starts(data, wanted);
    let end = starts.get(n + 1).copied().unwrap_or(data.len() / 188);
    (starts[n]..end).filter(|&i| pid(&data[i * 188..i * 188 + 188]) == wanted).collect()
}

fn without_packets(data: &[u8], drop: &[usize]) -> Vec<u8> {
    packets(data)
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .flat_map(|(_, p)| p.to_vec())
        .collect()
}

#[test]
fn timestamps_continue_across_the_33_bit_wrap() {
    let original = demux(FFMPEG_X264_AAC);
    // Move the capture so that its first DTS (126000) sits 1 s before 2^33: audio and video
    // both wrap half-way through. A multiple of 15 ticks keeps 48 kHz times integral.
    let offset = ((1u64 << 33) - 90_000 - 126_000) / 15 * 15;
    let shifted = demux(&shift_timestamps(FFMPEG_X264_AAC, offset));
    let (v0, v1) = (original.video(), shifted.video());
    assert_eq!(v1.len(), 60);
    assert!(v1.last().unwrap().dts > 1 << 33, "the timeline must run past 2^33");
    for (a, b) in v0.iter().zip(&v1) {
        assert_eq!(b.dts - a.dts, offset as i64);
        assert_eq!(b.pts - a.pts, offset as i64);
        assert_eq!((&b.data, b.keyframe), (&a.data, a.keyframe));
    }
    let (a0, a1) = (original.audio(), shifted.audio());
    assert_eq!(a1.len(), 95);
    let audio_offset = offset as i64 * 48_000 / 90_000;
    for (a, b) in a0.iter().zip(&a1) {
        assert_eq!(b.dts - a.dts, audio_offset);
    }
    assert_eq!(shifted.stats.audio_reanchors, 0);
    assert!(shifted.dropped().is_empty(), "{:?}", shifted.dropped());
}

#[test]
fn lost_packets_drop_their_pes_and_later_frames_arrive_intact() {
    let original = demux(FFMPEG_X264_AAC);
    // The first frame after frame 10 spanning at least three packets loses its second one; the
    // third audio PES loses its second packet.
    let frame = (10..59).find(|&n| pes_packets(FFMPEG_X264_AAC, VIDEO_PID, n).len() >= 3).unwrap();
    // (ffmpeg packs about 16 AAC frames, 340 ms, into each audio PES.)
    let audio_pes = 2;
    assert!(pes_packets(FFMPEG_X264_AAC, AUDIO_PID, audio_pes).len() >= 2);
    let lost = [
        pes_packets(FFMPEG_X264_AAC, VIDEO_PID, frame)[1],
        pes_packets(FFMPEG_X264_AAC, AUDIO_PID, audio_pes)[1],
    ];
    let damaged = demux(&without_packets(FFMPEG_X264_AAC, &lost));

    assert_eq!(damaged.stats.cc_errors, 2);
    let dropped = damaged.dropped();
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    assert!(dropped.iter().all(|r| r.contains("continuity error")), "{dropped:?}");

    // Video: exactly the damaged frame is missing; every other frame is byte-identical.
    let v0 = original.video();
    let expected: Vec<&AccessUnit> =
        v0.iter().enumerate().filter(|(i, _)| *i != frame).map(|(_, f)| *f).collect();
    assert_eq!(damaged.video(), expected);

    // Audio: the frames of the damaged PES are missing, all others identical, at the same
    // times (the running count re-anchors after the gap).
    let (a0, a1) = (original.audio(), damaged.audio());
    assert!(a1.len() < a0.len());
    assert!(a1.iter().all(|f| a0.contains(f)));
    assert_eq!(damaged.stats.audio_reanchors, 1);
}

#[test]
fn duplicate_packets_are_ignored() {
    let mut data = Vec::new();
    let mut copies = 0;
    for (i, p) in packets(FFMPEG_X264_AAC).enumerate() {
        data.extend_from_slice(p);
        // "duplicate packets may be sent as two, and only two, consecutive … packets".
        if i % 7 == 3 && matches!(pid(p), VIDEO_PID | AUDIO_PID) {
            data.extend_from_slice(p);
            copies += 1;
        }
    }
    let d = demux(&data);
    assert_eq!(d.stats.duplicate_packets, copies);
    assert_eq!(d.stats.cc_errors, 0);
    assert!(d.events == demux(FFMPEG_X264_AAC).events);
}

#[test]
fn lost_sync_is_found_again() {
    let original = demux(FFMPEG_X264_AAC);
    let mut data = FFMPEG_X264_AAC.to_vec();
    // 100 bytes vanish from the middle of a packet half-way through, and 37 bytes of garbage
    // (with a misleading sync byte) appear at three quarters.
    let half = data.len() / 2 / 188 * 188 + 50;
    data.drain(half..half + 100);
    let three_quarters = data.len() * 3 / 4 / 188 * 188 + 12;
    let mut garbage = vec![0x47; 1];
    garbage.extend((0..36).map(|i| i as u8 * 7));
    data.splice(three_quarters..three_quarters, garbage);
    let d = demux(&data);
    assert!(d.stats.sync_losses >= 2, "{:?}", d.stats);
    assert!(d.stats.skipped_bytes > 0);
    // The last quarter second of frames comes through unchanged.
    let v0 = original.video();
    let v1 = d.video();
    assert!(v1.len() >= 50, "{}", v1.len());
    assert_eq!(v1[v1.len() - 6..], v0[v0.len() - 6..]);
    let (a0, a1) = (original.audio(), d.audio());
    assert_eq!(a1[a1.len() - 10..], a0[a0.len() - 10..]);
}

#[test]
fn bad_pmt_crc_is_dropped_and_counted() {
    let mut data = FFMPEG_X264_AAC.to_vec();
    // Corrupt the CRC of the second PMT (the first one set the program up).
    let second_pmt = packets(FFMPEG_X264_AAC)
        .enumerate()
        .filter(|(_, p)| pid(p) == PMT_PID)
        .nth(1)
        .map(|(i, _)| i)
        .unwrap();
    data[second_pmt * 188 + 5 + 3 + 0x17 - 1] ^= 0xff;
    let d = demux(&data);
    assert_eq!(d.stats.crc_errors, 1);
    assert_eq!(d.dropped(), vec!["PMT: section crc mismatch"]);
    assert_eq!((d.video().len(), d.audio().len()), (60, 95));
}

#[test]
fn encoder_restart_with_another_codec_announces_new_tracks() {
    let mut data = FFMPEG_X264_AAC.to_vec();
    data.extend_from_slice(FFMPEG_X265_AAC);
    let d = demux(&data);
    let tracks: Vec<String> = d.tracks().iter().map(|t| t.codec_string()).collect();
    assert_eq!(tracks, vec!["avc1.64000d", "mp4a.40.2", "hvc1.1.6.L60.90", "mp4a.40.2"]);
    assert_eq!(d.tracks()[3].timescale, 44_100);
    // The H.264 stream's last frame ends where the new PMT switches codec.
    let v = d.video();
    assert_eq!(v.len(), 120);
    let switch = d
        .events
        .iter()
        .position(|e| matches!(e, Event::Track(t) if t.codec_string().starts_with("hvc1")))
        .unwrap();
    let h264_frames =
        d.events[..switch].iter().filter(|e| matches!(e, Event::Frame(f) if f.track == 1)).count();
    assert_eq!(h264_frames, 60);
    assert!(v[60].keyframe);
    assert_eq!(d.audio().len(), 95 + 88);
}

#[test]
fn oversized_pes_is_dropped_and_memory_stays_bounded() {
    let mut data = first_packet_of(FFMPEG_X264_AAC, 0x0000);
    data.extend(first_packet_of(FFMPEG_X264_AAC, PMT_PID));
    // A video PES that never ends: one start, then MAX_PES_SIZE + 1 packet worth of payload.
    let mut header = vec![0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5];
    header.extend([0x21, 0, 1, 0, 1]);
    header.extend([0, 0, 0, 1, 0x09, 0xf0]);
    let mut cc = 0u8;
    data.extend(ts_packet(VIDEO_PID, true, cc, &header));
    for _ in 0..MAX_PES_SIZE / 184 + 1 {
        cc = (cc + 1) & 0x0f;
        data.extend(ts_packet(VIDEO_PID, false, cc, &[0x55; 184]));
    }
    let mut d = TsDemuxer::new();
    let mut dropped = Vec::new();
    for chunk in data.chunks(1316) {
        d.push(chunk);
        while let Some(e) = d.poll_event() {
            if let Event::Dropped { reason } = e {
                dropped.push(reason);
            }
        }
    }
    assert_eq!(
        dropped,
        vec![format!("video PES on PID 0x100: pes packet larger than {MAX_PES_SIZE} bytes")]
    );
    // The real stream after it still demuxes (its first video packet is a continuity error).
    d.push(FFMPEG_X264_AAC);
    d.flush();
    let frames =
        std::iter::from_fn(|| d.poll_event()).filter(|e| matches!(e, Event::Frame(_))).count();
    assert!(frames >= 150, "{frames}");
}

#[test]
fn garbage_and_truncated_captures_never_panic() {
    let captures =
        [FFMPEG_X264_AAC, FFMPEG_X265_AAC, GST_X264_VOAAC, FFMPEG_X264_MP2, FFMPEG_X264_AAC_SCTE35];
    let mut rng = Rng(0x7473_6465_6d75_7821);
    // Random bytes, with and without sync bytes every 188.
    for round in 0..100 {
        let n = 188 * (1 + rng.below(60));
        let mut data: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        if round % 2 == 0 {
            for p in data.chunks_mut(188) {
                p[0] = 0x47;
                // Favour the PIDs the demuxer follows.
                if rng.below(2) == 0 {
                    p[1] = (p[1] & 0xe0) | [0x00, 0x10, 0x01, 0x01][rng.below(4)];
                    p[2] = [0x00, 0x00, 0x00, 0x01][rng.below(4)];
                }
            }
        }
        let d = demux_chunked(&data, || 1 + rng.below(2000));
        assert!(d.stats.packets <= (n / 188) as u64);
    }
    // Truncated captures, and captures with a few hundred random byte changes.
    for _ in 0..150 {
        let file = captures[rng.below(captures.len())];
        let cut = rng.below(file.len());
        let _ = demux_chunked(&file[..cut], || 1 + rng.below(5000));
        let mut data = file.to_vec();
        for _ in 0..rng.below(400) {
            let i = rng.below(data.len());
            data[i] = rng.next() as u8;
        }
        let d = demux_chunked(&data, || 1 + rng.below(5000));
        for f in d.video().iter().chain(&d.audio()) {
            assert!(!f.data.is_empty());
        }
    }
    // Packets of several captures shuffled together (PID clashes, version changes, CC chaos).
    for _ in 0..50 {
        let mut data = Vec::new();
        for _ in 0..600 {
            let file = captures[rng.below(captures.len())];
            let i = rng.below(file.len() / 188);
            data.extend_from_slice(&file[i * 188..i * 188 + 188]);
        }
        let d = demux_chunked(&data, || 1 + rng.below(3000));
        for t in d.tracks() {
            assert!(matches!(t.kind, MediaKind::Video | MediaKind::Audio));
        }
    }
}
