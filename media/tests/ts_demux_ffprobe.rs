//! A second opinion on what the TS demuxer produces: its tracks (decoder configuration built
//! from in-band parameter sets / ADTS headers) and access units, fragmented to CMAF, must decode
//! in ffprobe with no errors and every frame counted. Needs `ffprobe` on PATH; set
//! SLUICE_SKIP_FFPROBE=1 to skip on a machine without it.

mod common;
mod ts_demux_common;

use bytes::BytesMut;
use common::default_config;
use common::tools::{assert_listed, probe_streams, skip_tools};
use sluice_media::cmaf::fragmenter::{FragmentOutput, Fragmenter, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::{AccessUnit, TrackInfo};
use ts_demux_common::*;

/// init + every part of one track, as a fragmented MP4 file.
fn fragmented(track: &TrackInfo, frames: &[&AccessUnit], policy: SegmentPolicy) -> BytesMut {
    let mut f = Fragmenter::new(track, default_config(track), policy);
    let mut file = BytesMut::from(&init_segment(track)[..]);
    let drain = |f: &mut Fragmenter, file: &mut BytesMut| {
        while let Some(o) = f.poll_output() {
            if let FragmentOutput::Part(p) = o {
                file.extend_from_slice(&p.data);
            }
        }
    };
    for au in frames {
        f.push((*au).clone());
        drain(&mut f, &mut file);
    }
    f.flush();
    drain(&mut f, &mut file);
    file
}

fn check(name: &str, capture: &[u8], video: &[&str], audio: &[&str]) {
    let d = demux(capture);
    let tracks = d.tracks();
    let v = fragmented(tracks[0], &d.video(), SegmentPolicy::Keyframes);
    assert_listed(
        &format!("{name} video"),
        &probe_streams(&format!("ts-{name}-video.mp4"), &v),
        video,
    );
    let a = fragmented(tracks[1], &d.audio(), SegmentPolicy::Duration);
    assert_listed(
        &format!("{name} audio"),
        &probe_streams(&format!("ts-{name}-audio.mp4"), &a),
        audio,
    );
}

#[test]
fn ffprobe_decodes_every_frame_demuxed_from_ffmpeg_h264_ts() {
    if skip_tools() {
        return;
    }
    check(
        "ffmpeg-x264",
        FFMPEG_X264_AAC,
        &["codec_name=h264", "profile=High", "width=320", "height=240", "nb_read_frames=60"],
        &["codec_name=aac", "sample_rate=48000", "channels=2", "nb_read_frames=95"],
    );
}

#[test]
fn ffprobe_decodes_every_frame_demuxed_from_ffmpeg_h265_ts() {
    if skip_tools() {
        return;
    }
    check(
        "ffmpeg-x265",
        FFMPEG_X265_AAC,
        &["codec_name=hevc", "profile=Main", "width=320", "height=240", "nb_read_frames=60"],
        &["codec_name=aac", "sample_rate=44100", "nb_read_frames=88"],
    );
}

#[test]
fn ffprobe_decodes_every_frame_demuxed_from_gstreamer_ts() {
    if skip_tools() {
        return;
    }
    check(
        "gst-x264",
        GST_X264_VOAAC,
        &["codec_name=h264", "profile=High", "nb_read_frames=60"],
        &["codec_name=aac", "sample_rate=44100", "nb_read_frames=94"],
    );
}
