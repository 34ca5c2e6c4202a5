//! Real captures through the MPEG-TS demuxer: frame counts, keyframes and timestamps as ffprobe
//! reports them, codec strings, SCTE-35 cues, and the same events whatever the input chunking.
//!
//! Expected numbers come from ffprobe 5.1 on the same files:
//! `ffprobe -v error -select_streams v -show_entries packet=pts,dts,flags -of csv=p=0 FILE`
//! (and `-select_streams a` for audio).

mod common;
mod ts_demux_common;

use common::rng::Rng;
use sluice_media::codec::h264;
use sluice_media::demux::ts::scte35::SpliceCommand;
use sluice_media::demux::ts::{Event, TsDemuxer};
use sluice_media::{AccessUnit, CodecConfig, MediaKind};
use ts_demux_common::*;

fn keyframes(frames: &[&AccessUnit]) -> Vec<usize> {
    frames.iter().enumerate().filter(|(_, f)| f.keyframe).map(|(i, _)| i).collect()
}

/// Video in decode order: dts strictly increasing, pts never before dts.
fn assert_video_timeline(frames: &[&AccessUnit]) {
    for w in frames.windows(2) {
        assert!(w[1].dts > w[0].dts, "dts not increasing: {} then {}", w[0].dts, w[1].dts);
    }
    for f in frames {
        assert!(f.pts >= f.dts, "pts {} before dts {}", f.pts, f.dts);
    }
}

/// Samples are 4-byte length-prefixed NAL units with the parameter sets and AUDs moved out.
fn assert_h264_samples_clean(frames: &[&AccessUnit]) {
    for f in frames {
        for nal in h264::nal_units(&f.data, 4) {
            let t = h264::nal_unit_type(nal.expect("well-formed sample")).unwrap();
            assert!(![7, 8, 9].contains(&t), "NAL type {t} left in a sample");
        }
    }
}

/// Audio: every frame exactly 1024 samples after the previous one, keyframes, no ADTS header.
fn assert_audio_contiguous(frames: &[&AccessUnit]) {
    for w in frames.windows(2) {
        assert_eq!(w[1].dts - w[0].dts, 1024);
    }
    for f in frames {
        assert!(f.keyframe && f.pts == f.dts);
        assert!(!(f.data[0] == 0xff && f.data[1] & 0xf0 == 0xf0), "ADTS header left in");
    }
}

#[test]
fn ffmpeg_h264_aac_matches_ffprobe() {
    let d = demux(FFMPEG_X264_AAC);
    let tracks = d.tracks();
    assert_eq!(tracks.len(), 2, "{:?}", d.events);
    assert_eq!(
        (tracks[0].kind, tracks[0].codec_string().as_str()),
        (MediaKind::Video, "avc1.64000d")
    );
    assert_eq!(tracks[0].codec.video_size(), Some((320, 240)));
    let CodecConfig::H264(avc) = &tracks[0].codec else { panic!("not H.264") };
    assert_eq!(avc.nal_length_size, 4);
    assert_eq!((tracks[1].timescale, tracks[1].codec_string().as_str()), (48_000, "mp4a.40.2"));

    let v = d.video();
    assert_eq!(v.len(), 60);
    assert_eq!(keyframes(&v), vec![0, 30]);
    // ffprobe: first packet pts 132000 dts 126000, last pts 306000 dts 303000.
    assert_eq!((v[0].pts, v[0].dts), (132_000, 126_000));
    assert_eq!((v[59].pts, v[59].dts), (306_000, 303_000));
    assert_video_timeline(&v);
    assert_h264_samples_clean(&v);

    let a = d.audio();
    assert_eq!(a.len(), 95);
    // ffprobe: first audio pts 130080 (90 kHz) = 69376 at 48 kHz, last 310560 = 165632.
    assert_eq!((a[0].dts, a[94].dts), (69_376, 165_632));
    assert_audio_contiguous(&a);

    assert!(d.dropped().is_empty(), "{:?}", d.dropped());
    assert_eq!((d.stats.cc_errors, d.stats.crc_errors, d.stats.audio_reanchors), (0, 0, 0));
    assert_eq!(d.stats.frames, 155);
}

#[test]
fn ffmpeg_h265_aac_matches_ffprobe() {
    let d = demux(FFMPEG_X265_AAC);
    let tracks = d.tracks();
    assert_eq!(tracks.len(), 2, "{:?}", d.events);
    assert_eq!(tracks[0].codec_string(), "hvc1.1.6.L60.90");
    assert_eq!(tracks[0].codec.video_size(), Some((320, 240)));
    assert_eq!((tracks[1].timescale, tracks[1].codec_string().as_str()), (44_100, "mp4a.40.2"));

    let v = d.video();
    assert_eq!(v.len(), 60);
    // ffprobe flags K on packets 1 and 29 (1-based): the IDR and, with x265's open GOP, a CRA.
    assert_eq!(keyframes(&v), vec![0, 28]);
    let nal_types = |f: &AccessUnit| -> Vec<u8> {
        h264::nal_units(&f.data, 4).map(|n| (n.unwrap()[0] >> 1) & 0x3f).collect()
    };
    assert!(nal_types(v[0]).iter().any(|t| matches!(t, 19 | 20)), "{:?}", nal_types(v[0]));
    assert!(nal_types(v[28]).contains(&21), "{:?}", nal_types(v[28]));
    for f in &v {
        // VPS/SPS/PPS/AUD are in the track, not the samples.
        assert!(!nal_types(f).iter().any(|t| matches!(t, 32..=35)));
    }
    assert_eq!((v[0].pts, v[0].dts), (132_000, 126_000));
    assert_eq!((v[59].pts, v[59].dts), (306_000, 303_000));
    assert_video_timeline(&v);

    let a = d.audio();
    assert_eq!(a.len(), 88);
    // ffprobe: first pts 129910 → 63656 at 44.1 kHz; the 90 kHz PES times round by up to a
    // sample, the running count does not.
    assert_eq!(a[0].dts, 63_656);
    assert_audio_contiguous(&a);
    assert_eq!(d.stats.audio_reanchors, 0);
    assert!(d.dropped().is_empty(), "{:?}", d.dropped());
}

#[test]
fn gstreamer_mpegtsmux_matches_ffprobe() {
    let d = demux(GST_X264_VOAAC);
    let tracks = d.tracks();
    assert_eq!(tracks.len(), 2, "{:?}", d.events);
    assert_eq!(tracks[0].codec_string(), "avc1.64000d");
    assert_eq!((tracks[1].timescale, tracks[1].codec_string().as_str()), (44_100, "mp4a.40.2"));
    let v = d.video();
    assert_eq!(v.len(), 60);
    assert_eq!(keyframes(&v), vec![0, 30]);
    // ffprobe: 324000000/323994001 first, 324173999/324171000 last.
    assert_eq!((v[0].pts, v[0].dts), (324_000_000, 323_994_001));
    assert_eq!((v[59].pts, v[59].dts), (324_173_999, 324_171_000));
    assert_video_timeline(&v);
    assert_h264_samples_clean(&v);
    let a = d.audio();
    assert_eq!(a.len(), 94);
    // 324000000 at 90 kHz = 158760000 at 44.1 kHz.
    assert_eq!(a[0].dts, 158_760_000);
    assert_audio_contiguous(&a);
    assert!(d.dropped().is_empty(), "{:?}", d.dropped());
}

#[test]
fn mpeg2_audio_is_reported_unsupported_once_and_video_still_flows() {
    let d = demux(FFMPEG_X264_MP2);
    let unsupported: Vec<&Event> =
        d.events.iter().filter(|e| matches!(e, Event::Unsupported { .. })).collect();
    assert_eq!(
        unsupported,
        vec![&Event::Unsupported {
            pid: 0x101,
            stream_type: 0x03,
            codec: "MPEG-1 audio (MP1/MP2/MP3)".into()
        }]
    );
    assert_eq!(d.tracks().len(), 1);
    assert_eq!(d.tracks()[0].codec_string(), "avc1.42c00d");
    let v = d.video();
    assert_eq!(v.len(), 50);
    assert_eq!(keyframes(&v), vec![0, 25]);
    assert!(d.audio().is_empty());
    assert_eq!(d.stats.unsupported_streams, 1);
    // The audio PID's packets are skipped, not parsed.
    assert!(d.stats.ignored_packets > 100);
    assert!(d.dropped().is_empty(), "{:?}", d.dropped());
}

#[test]
fn scte35_cues_carry_splice_times_on_the_video_timeline() {
    let d = demux(FFMPEG_X264_AAC_SCTE35);
    let v = d.video();
    assert_eq!(v.len(), 60);
    let cues: Vec<(usize, Option<i64>, &SpliceCommand)> = d
        .events
        .iter()
        .scan(0usize, |frames, e| {
            if matches!(e, Event::Frame(au) if au.track == 1) {
                *frames += 1;
            }
            Some((*frames, e))
        })
        .filter_map(|(frames, e)| match e {
            Event::Scte35 { pts, splice } => Some((frames, *pts, &splice.command)),
            _ => None,
        })
        .collect();
    assert_eq!(cues.len(), 4, "{:?}", d.events);
    assert_eq!(d.stats.scte35, 4);

    // Cue-out before frame 10 for the second IDR (frame 30), 30 s break, auto-return.
    let (before, pts, SpliceCommand::Insert(out)) = cues[0] else { panic!("{:?}", cues[0]) };
    // Frame 9 is only complete when frame 10 starts, after the cue's packets.
    assert_eq!(before, 9);
    assert_eq!(pts, Some(v[30].pts));
    assert!(v[30].keyframe);
    assert!(out.out_of_network && !out.splice_immediate);
    assert_eq!(out.splice_event_id, 0x1001);
    assert_eq!(out.break_duration.map(|b| (b.auto_return, b.duration)), Some((true, 2_700_000)));

    // time_signal: pts_time + pts_adjustment lands on frame 40; its segmentation descriptor
    // (with a 150-byte UPID) spanned two TS packets.
    let (before, pts, SpliceCommand::TimeSignal { .. }) = cues[1] else { panic!("{:?}", cues[1]) };
    assert_eq!((before, pts), (19, Some(v[40].pts)));
    let Some(Event::Scte35 { splice, .. }) =
        d.events.iter().filter(|e| matches!(e, Event::Scte35 { .. })).nth(1)
    else {
        unreachable!()
    };
    assert_eq!(splice.pts_adjustment, 90_000);
    let [sluice_media::demux::ts::scte35::SpliceDescriptor::Segmentation(seg)] =
        &splice.descriptors[..]
    else {
        panic!("{:?}", splice.descriptors)
    };
    assert_eq!((seg.type_id, seg.upid_type, seg.upid.len()), (0x34, 0x09, 150));
    assert!(seg.upid.starts_with(b"SIGNAL:sluice-scte35-test-"));
    assert_eq!(seg.duration, Some(60 * 90_000));
    assert!(splice.raw.len() > 184);

    // Cue-in, immediate: no time.
    let (_, pts, SpliceCommand::Insert(back)) = cues[2] else { panic!("{:?}", cues[2]) };
    assert_eq!(pts, None);
    assert!(!back.out_of_network && back.splice_immediate);
    assert_eq!(cues[3].2, &SpliceCommand::Null);

    // The audio and video are untouched by the added PID.
    let plain = demux(FFMPEG_X264_AAC);
    assert_eq!(plain.video(), v);
    assert_eq!(plain.audio(), d.audio());
}

#[test]
fn chunking_does_not_change_the_events() {
    for (name, file) in [
        ("ffmpeg h264", FFMPEG_X264_AAC),
        ("ffmpeg h265", FFMPEG_X265_AAC),
        ("gstreamer", GST_X264_VOAAC),
        ("scte35", FFMPEG_X264_AAC_SCTE35),
    ] {
        let whole = demux_chunked(file, || file.len()).events;
        assert!(whole.len() > 100, "{name}");
        let one_byte = demux_chunked(file, || 1).events;
        assert!(one_byte == whole, "{name}: 1-byte chunks differ");
        let srt = demux_chunked(file, || 1316).events;
        assert!(srt == whole, "{name}: 1316-byte chunks differ");
        let odd = demux_chunked(file, || 1317).events;
        assert!(odd == whole, "{name}: 1317-byte chunks differ");
        let mut rng = Rng(0x5eed_0000 + file.len() as u64);
        let random = demux_chunked(file, || 1 + rng.below(3000)).events;
        assert!(random == whole, "{name}: random chunks differ");
    }
}

#[test]
fn last_unbounded_video_pes_waits_for_flush() {
    let mut d = TsDemuxer::new();
    d.push(FFMPEG_X264_AAC);
    let before: Vec<Event> = std::iter::from_fn(|| d.poll_event()).collect();
    let count =
        |evs: &[Event]| evs.iter().filter(|e| matches!(e, Event::Frame(f) if f.track == 1)).count();
    assert_eq!(count(&before), 59);
    d.flush();
    let after: Vec<Event> = std::iter::from_fn(|| d.poll_event()).collect();
    assert_eq!(count(&after), 1);
    assert_eq!(d.video_track().map(|t| t.codec_string()), Some("avc1.64000d".into()));
    assert_eq!(d.audio_track().map(|t| t.timescale), Some(48_000));
    assert!(d.last_pcr().is_some());
}
