//! HEVC over enhanced RTMP, end to end: `testdata/ffmpeg-x265-eRTMP-hand-built.flv` (a real
//! libx265 encode in E-RTMP `hvc1` tags, see testdata/README.md) through FlvFileReader →
//! FlvDemuxer → Fragmenter, then ffprobe decodes the CMAF output. The expected counts are
//! ffprobe's on the source MP4 (60 video packets, 2 with the key flag; 95 AAC packets).
//! Set SLUICE_SKIP_FFPROBE=1 to skip the ffprobe half on a machine without it.

mod common;

use common::tools::{assert_listed, probe_streams, skip_tools};
use common::*;
use sluice_media::CodecConfig;

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
    if skip_tools() {
        return;
    }
    let (d, vsegs, _) = fragment(HEVC_ERTMP);
    let mp4 = fragmented_mp4(d.video.as_ref().expect("video track"), &vsegs);
    assert_listed(
        "hevc video",
        &probe_streams("hevc-video.mp4", &mp4),
        &[
            "codec_name=hevc",
            "codec_tag_string=hvc1",
            "profile=Main",
            "width=320",
            "height=240",
            "nb_read_frames=60",
        ],
    );
}
