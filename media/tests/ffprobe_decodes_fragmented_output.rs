//! A second opinion on the CMAF output: ffprobe must decode init + every part of a track,
//! concatenated, with no errors and the right frame count. Needs `ffprobe` on PATH (CI installs
//! it); set SLUICE_SKIP_FFPROBE=1 to skip on a machine without it.

mod common;

use common::tools::{assert_listed, probe_streams, skip_tools};
use common::*;

#[test]
fn ffprobe_decodes_every_baseline_video_and_audio_frame() {
    if skip_tools() {
        return;
    }
    let (d, vsegs, asegs) = fragment(BASELINE);
    let video = fragmented_mp4(d.video.as_ref().unwrap(), &vsegs);
    assert_listed(
        "baseline video",
        &probe_streams("baseline-video.mp4", &video),
        &["codec_name=h264", "width=640", "height=360", "nb_read_frames=90"],
    );
    let audio = fragmented_mp4(d.audio.as_ref().unwrap(), &asegs);
    assert_listed(
        "baseline audio",
        &probe_streams("baseline-audio.mp4", &audio),
        &["codec_name=aac", "sample_rate=48000", "channels=2", "nb_read_frames=142"],
    );
}

#[test]
fn ffprobe_decodes_every_b_frame_video_frame() {
    if skip_tools() {
        return;
    }
    let (d, vsegs, _) = fragment(OBS_LIKE);
    let video = fragmented_mp4(d.video.as_ref().unwrap(), &vsegs);
    assert_listed(
        "obs-like video",
        &probe_streams("obs-like-video.mp4", &video),
        &["codec_name=h264", "profile=High", "nb_read_frames=120"],
    );
}
