//! A second opinion on the CMAF output: ffprobe must decode init + every part of a track,
//! concatenated, with no errors and the right frame count. Needs `ffprobe` on PATH (CI installs
//! it); set SLUICE_SKIP_FFPROBE=1 to skip on a machine without it.

mod common;

use std::process::Command;

use bytes::BytesMut;
use common::*;
use sluice_media::TrackInfo;
use sluice_media::cmaf::init::init_segment;

fn skip() -> bool {
    std::env::var_os("SLUICE_SKIP_FFPROBE").is_some()
}

/// Writes init + parts to a temp file and returns ffprobe's `key=value` lines.
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
        .arg("stream=codec_name,profile,width,height,sample_rate,channels,nb_read_frames")
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.expect("ffprobe runs (install ffmpeg, or set SLUICE_SKIP_FFPROBE=1)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "ffprobe on {name}: {stderr}");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

fn has(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l == want)
}

#[test]
fn ffprobe_decodes_every_baseline_video_and_audio_frame() {
    if skip() {
        return;
    }
    let (d, vsegs, asegs) = fragment(BASELINE);
    let v = probe("baseline-video", d.video.as_ref().unwrap(), &vsegs);
    for want in ["codec_name=h264", "width=640", "height=360", "nb_read_frames=90"] {
        assert!(has(&v, want), "{want} missing in {v:?}");
    }
    let a = probe("baseline-audio", d.audio.as_ref().unwrap(), &asegs);
    for want in ["codec_name=aac", "sample_rate=48000", "channels=2", "nb_read_frames=142"] {
        assert!(has(&a, want), "{want} missing in {a:?}");
    }
}

#[test]
fn ffprobe_decodes_every_b_frame_video_frame() {
    if skip() {
        return;
    }
    let (d, vsegs, _) = fragment(OBS_LIKE);
    let v = probe("obs-like-video", d.video.as_ref().unwrap(), &vsegs);
    for want in ["codec_name=h264", "profile=High", "nb_read_frames=120"] {
        assert!(has(&v, want), "{want} missing in {v:?}");
    }
}
