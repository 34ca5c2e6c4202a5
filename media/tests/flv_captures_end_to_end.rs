//! Real ffmpeg captures (testdata/) through FlvFileReader → FlvDemuxer → Fragmenter.

mod common;

use common::*;
use sluice_media::cmaf::init::init_segment;
use sluice_media::codec::h264::AvcConfig;
use sluice_media::{CodecConfig, TrackInfo};

fn avc(t: &TrackInfo) -> &AvcConfig {
    match &t.codec {
        CodecConfig::H264(c) => c,
        _ => panic!("not AVC video"),
    }
}

#[test]
fn baseline_capture_demuxes_to_tracks_and_frames() {
    let d = demux(BASELINE);
    let v = d.video.as_ref().unwrap();
    let a = d.audio.as_ref().unwrap();
    assert_eq!(v.codec_string(), "avc1.42c01e");
    assert_eq!((avc(v).width, avc(v).height), (640, 360));
    assert_eq!(avc(v).frame_rate, Some((30, 1)));
    assert_eq!(a.codec_string(), "mp4a.40.2");
    assert_eq!(a.timescale, 48_000);
    assert!(d.other_events.is_empty(), "{:?}", d.other_events);
    assert_eq!(d.video_frames.len(), 90);
    let keys: Vec<usize> =
        d.video_frames.iter().enumerate().filter(|(_, f)| f.keyframe).map(|(i, _)| i).collect();
    assert_eq!(keys, vec![0, 30, 60]);
    assert!(d.video_frames.iter().all(|f| f.pts == f.dts), "baseline has no B-frames");
    assert_eq!(d.audio_frames.len(), 142);
    for w in d.audio_frames.windows(2) {
        assert_eq!(w[1].dts - w[0].dts, 1024, "AAC timestamps are sample-exact");
    }
}

#[test]
fn baseline_capture_fragments_into_one_second_segments_of_200ms_parts() {
    let (_, vsegs, asegs) = fragment(BASELINE);
    assert_eq!(vsegs.len(), 3);
    for s in &vsegs {
        assert!(s.independent);
        assert_eq!(s.parts.len(), 5, "1 s GOP = 5 parts");
        for p in &s.parts {
            assert_eq!(sample_count(&p.data), 6);
            assert!(p.duration <= 18_180, "part {} ticks", p.duration);
        }
        // FLV's whole-millisecond timestamps put each cut within 1 ms of 1 s.
        let dur = s.parts.iter().map(|p| p.duration).sum::<u64>();
        assert!(dur.abs_diff(90_000) <= 90, "segment of {dur} ticks");
    }
    for w in vsegs.windows(2) {
        let dur = w[0].parts.iter().map(|p| p.duration).sum::<u64>();
        assert_eq!(w[0].start_dts + dur as i64, w[1].start_dts, "no gap between segments");
    }
    // Audio follows the video cuts: its segments start at the first frame at or after them,
    // or up to half a part (100 ms) earlier rather than end on a tiny last part.
    assert_eq!(asegs.len(), 3);
    for (a, v) in asegs.iter().zip(&vsegs).skip(1) {
        let v_at_48k = v.start_dts * 48_000 / 90_000;
        assert!(
            a.start_dts > v_at_48k - 4_800 && a.start_dts < v_at_48k + 1024,
            "{} vs {v_at_48k}",
            a.start_dts
        );
    }
    for s in &asegs[..asegs.len() - 1] {
        let last = s.parts.last().map_or(0, |p| p.duration);
        assert!(last >= 4_800, "segment {} ends on a {last}-tick part", s.start_dts);
    }
    for s in &asegs {
        for p in &s.parts {
            assert!(sample_count(&p.data) <= 9);
        }
    }
    let audio_samples: usize =
        asegs.iter().flat_map(|s| &s.parts).map(|p| sample_count(&p.data)).sum();
    assert_eq!(audio_samples, 142);
}

#[test]
fn obs_like_capture_carries_b_frame_composition_offsets() {
    let (d, vsegs, asegs) = fragment(OBS_LIKE);
    let v = d.video.as_ref().unwrap();
    assert_eq!(v.codec_string(), "avc1.64001e");
    assert_eq!((avc(v).width, avc(v).height), (640, 360));
    assert_eq!(avc(v).frame_rate, Some((30, 1)));
    assert_eq!(d.audio.as_ref().unwrap().codec_string(), "mp4a.40.2");
    assert_eq!(d.video_frames.len(), 120);
    assert!(d.video_frames.iter().any(|f| f.pts != f.dts), "B-frames reorder");
    // 2 s GOP with a 1 s target: 2 s segments.
    let starts: Vec<i64> = vsegs.iter().map(|s| s.start_dts).collect();
    assert_eq!(starts, vec![0, 180_000]);
    assert!(vsegs.iter().all(|s| s.parts.len() == 10));
    let ctos: Vec<i32> =
        vsegs.iter().flat_map(|s| &s.parts).flat_map(|p| composition_offsets(&p.data)).collect();
    assert_eq!(ctos.len(), 120);
    assert!(ctos.iter().any(|&c| c > 0), "composition offsets > 0 reach trun");
    assert_eq!(asegs.len(), 2);
}

#[test]
fn demo_clip_is_720p30_whole_one_second_gops() {
    assert!(DEMO_CLIP.len() < 450_000, "demo clip is {} bytes", DEMO_CLIP.len());
    let (d, vsegs, _) = fragment(DEMO_CLIP);
    let v = d.video.as_ref().unwrap();
    assert_eq!((avc(v).width, avc(v).height), (1280, 720));
    assert_eq!(avc(v).frame_rate, Some((30, 1)));
    assert_eq!(avc(v).profile_idc, 77, "Main profile");
    assert_eq!(d.video_frames.len(), 120);
    assert!(d.video_frames.iter().enumerate().all(|(i, f)| f.keyframe == (i % 30 == 0)));
    assert_eq!(vsegs.len(), 4, "loops on a keyframe: 4 whole GOPs");
    assert_eq!(d.audio.as_ref().unwrap().timescale, 48_000);
}

#[test]
fn init_segments_of_captures_carry_their_decoder_config() {
    let d = demux(OBS_LIKE);
    for t in [d.video.unwrap(), d.audio.unwrap()] {
        let init = init_segment(&t);
        let found = init.windows(t.config_bytes().len()).any(|w| w == &t.config_bytes()[..]);
        assert!(found, "{} config is in its init segment", t.codec_string());
    }
}
