//! HEVC over enhanced RTMP, end to end: `testdata/ffmpeg-x265-eRTMP-hand-built.flv` (a real
//! libx265 encode in E-RTMP `hvc1` tags, see testdata/README.md) through FlvFileReader →
//! FlvDemuxer → Fragmenter, then ffprobe decodes the CMAF output. The expected counts are
//! ffprobe's on the source MP4 (60 video packets, 2 with the key flag; 95 AAC packets).
//! Set SLUICE_SKIP_FFPROBE=1 to skip the ffprobe half on a machine without it.

mod common;

use std::process::Command;

use bytes::BytesMut;
use common::*;
use sluice_media::cmaf::init::init_segment;
use sluice_media::{CodecConfig, TrackInfo};

const HEVC_ERTMP: &[u8] = include_bytes!("../../testdata/ffmpeg-x265-eRTMP-hand-built.flv");

#[test]
fn hevc_capture_demuxes_to_an_hevc_track_with_every_frame() {
    let d = demux(HEVC_ERTMP);
    assert!(d.other_events.is_empty(), "{:?}", d.other_events);
    let v = d.video.as_ref().expect("video track");
    assert_eq!(v.codec_string(), "hvc1.1.6.L60.90");
    let CodecConfig::H265(c) = &v.codec else { panic!("not HEVC: {:?}", v.codec) };
    assert_eq!((c.width, c.height, c.frame_rate), (320, 240, Some((30, 1))));
    assert_eq!(c.nal_length_size, 4);
    // x265 with global headers: VPS, SPS, PPS and a prefix SEI array in the record.
    assert_eq!((c.vps.len(), c.sps.len(), c.pps.len()), (1, 1, 1));
    assert_eq!(d.video_frames.len(), 60);
    let keyframes: Vec<usize> =
        d.video_frames.iter().enumerate().filter(|(_, f)| f.keyframe).map(|(i, _)| i).collect();
    assert_eq!(keyframes, vec![0, 30]);
    // Two B-frames: composition offsets survive (CodedFrames) beside CodedFramesX tags.
    assert!(d.video_frames.iter().any(|f| f.pts != f.dts));
    assert!(d.video_frames.iter().any(|f| f.pts == f.dts));
    assert_eq!(d.audio_frames.len(), 95);
}

#[test]
fn hevc_capture_fragments_into_keyframe_segments() {
    let (_, vsegs, _) = fragment(HEVC_ERTMP);
    assert_eq!(vsegs.len(), 2);
    assert!(vsegs.iter().all(|s| s.independent));
    let samples: usize = vsegs.iter().flat_map(|s| &s.parts).map(|p| sample_count(&p.data)).sum();
    assert_eq!(samples, 60);
}

#[test]
fn ffprobe_decodes_the_hevc_cmaf_output_as_hvc1() {
    if std::env::var_os("SLUICE_SKIP_FFPROBE").is_some() {
        return;
    }
    let (d, vsegs, _) = fragment(HEVC_ERTMP);
    let lines = probe("hevc-video", d.video.as_ref().expect("video track"), &vsegs);
    for want in [
        "codec_name=hevc",
        "codec_tag_string=hvc1",
        "profile=Main",
        "width=320",
        "height=240",
        "nb_read_frames=60",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} missing in {lines:?}");
    }
}

/// Writes init + parts to a temp file and returns ffprobe's `key=value` lines, asserting that
/// ffprobe exits cleanly with nothing on stderr (decode errors land there).
fn probe(name: &str, track: &TrackInfo, segs: &[Seg]) -> Vec<String> {
    let mut file = BytesMut::new();
    file.extend_from_slice(&init_segment(track));
    for p in segs.iter().flat_map(|s| &s.parts) {
        file.extend_from_slice(&p.data);
    }
    let path = std::env::temp_dir().join(format!("sluice-media-{}-{name}.mp4", std::process::id()));
    std::fs::write(&path, &file).expect("write temp file");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=codec_name,codec_tag_string,profile,width,height,nb_read_frames")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.expect("ffprobe runs (install ffmpeg, or set SLUICE_SKIP_FFPROBE=1)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "ffprobe on {name}: {stderr}");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}
