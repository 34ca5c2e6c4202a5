//! A second opinion on what the TS demuxer produces: its tracks (decoder configuration built
//! from in-band parameter sets / ADTS headers) and access units, fragmented to CMAF, must decode
//! in ffprobe with no errors and every frame counted. Needs `ffprobe` on PATH; set
//! SLUICE_SKIP_FFPROBE=1 to skip on a machine without it.

mod ts_demux_common;

use std::process::Command;

use bytes::BytesMut;
use sluice_media::cmaf::fragmenter::{FragmentOutput, Fragmenter, FragmenterConfig, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::{AccessUnit, TrackInfo};
use ts_demux_common::*;

fn skip() -> bool {
    std::env::var_os("SLUICE_SKIP_FFPROBE").is_some()
}

/// init + every part of one track, as a fragmented MP4 file.
fn fragmented(track: &TrackInfo, frames: &[&AccessUnit], policy: SegmentPolicy) -> BytesMut {
    let ts = u64::from(track.timescale);
    let mut f = Fragmenter::new(
        track,
        FragmenterConfig { part_target: ts / 5, segment_target: ts },
        policy,
    );
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

fn probe(name: &str, file: &[u8]) -> Vec<String> {
    let path =
        std::env::temp_dir().join(format!("sluice-media-ts-{}-{name}.mp4", std::process::id()));
    std::fs::write(&path, file).expect("write temp file");
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

fn check(name: &str, capture: &[u8], video: &[&str], audio: &[&str]) {
    let d = demux(capture);
    let tracks = d.tracks();
    let v = probe(
        &format!("{name}-video"),
        &fragmented(tracks[0], &d.video(), SegmentPolicy::Keyframes),
    );
    for want in video {
        assert!(v.iter().any(|l| l == want), "{name}: {want} missing in {v:?}");
    }
    let a = probe(
        &format!("{name}-audio"),
        &fragmented(tracks[1], &d.audio(), SegmentPolicy::Duration),
    );
    for want in audio {
        assert!(a.iter().any(|l| l == want), "{name}: {want} missing in {a:?}");
    }
}

#[test]
fn ffprobe_decodes_every_frame_demuxed_from_ffmpeg_h264_ts() {
    if skip() {
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
    if skip() {
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
    if skip() {
        return;
    }
    check(
        "gst-x264",
        GST_X264_VOAAC,
        &["codec_name=h264", "profile=High", "nb_read_frames=60"],
        &["codec_name=aac", "sample_rate=44100", "nb_read_frames=94"],
    );
}
