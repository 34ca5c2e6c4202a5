//! AV1 over enhanced RTMP, end to end: `testdata/ffmpeg-svtav1-eRTMP-hand-built.flv` (a real
//! SVT-AV1 encode in E-RTMP `av01` tags, each temporal unit led by a Temporal Delimiter OBU; see
//! testdata/README.md) through FlvFileReader → FlvDemuxer → Fragmenter, then ffprobe decodes
//! the CMAF output. The expected counts are ffprobe's on the source MP4 (60 video packets, 2
//! with the key flag). Set SLUICE_SKIP_FFPROBE=1 to skip the ffprobe half.

mod common;

use common::tools::{assert_listed, probe_streams, skip_tools};
use common::*;
use sluice_media::CodecConfig;
use sluice_media::codec::av1::{self, obu_type};

const AV1_ERTMP: &[u8] = include_bytes!("../../testdata/ffmpeg-svtav1-eRTMP-hand-built.flv");

#[test]
fn av1_capture_demuxes_to_an_av1_track_with_every_frame() {
    let d = demux(AV1_ERTMP);
    assert!(d.other_events.is_empty(), "{:?}", d.other_events);
    let v = d.video.as_ref().expect("video track");
    assert_eq!(v.codec_string(), "av01.0.00M.08");
    let CodecConfig::Av1(c) = &v.codec else { panic!("not AV1: {:?}", v.codec) };
    assert_eq!((c.width, c.height), (320, 240));
    assert_eq!(d.video_frames.len(), 60);
    let keyframes: Vec<usize> =
        d.video_frames.iter().enumerate().filter(|(_, f)| f.keyframe).map(|(i, _)| i).collect();
    assert_eq!(keyframes, vec![0, 30]);
    for f in &d.video_frames {
        assert_eq!(f.pts, f.dts, "AV1 samples carry no composition offset");
        let types: Vec<u8> = av1::obus(&f.data).map(|o| o.expect("valid OBU").obu_type).collect();
        assert!(!types.contains(&obu_type::TEMPORAL_DELIMITER), "{types:?}");
        // Key frames start with the sequence header, as the source's samples do.
        assert_eq!(f.keyframe, types[0] == obu_type::SEQUENCE_HEADER, "{types:?}");
    }
}

#[test]
fn av1_parts_have_no_composition_offsets() {
    let (_, vsegs, _) = fragment(AV1_ERTMP);
    assert_eq!(vsegs.len(), 2);
    assert!(vsegs.iter().all(|s| s.independent));
    let parts: Vec<_> = vsegs.iter().flat_map(|s| &s.parts).collect();
    assert_eq!(parts.iter().map(|p| sample_count(&p.data)).sum::<usize>(), 60);
    // "the 'ctts' box and composition offsets in movie fragments SHALL NOT be used"
    assert!(parts.iter().all(|p| composition_offsets(&p.data).is_empty()));
}

#[test]
fn ffprobe_decodes_the_av1_cmaf_output_as_av01() {
    if skip_tools() {
        return;
    }
    let (d, vsegs, _) = fragment(AV1_ERTMP);
    let mp4 = fragmented_mp4(d.video.as_ref().expect("video track"), &vsegs);
    assert_listed(
        "av1 video",
        &probe_streams("av1-video.mp4", &mp4),
        &[
            "codec_name=av1",
            "codec_tag_string=av01",
            "width=320",
            "height=240",
            "nb_read_frames=60",
        ],
    );
}
