//! Real ffmpeg (Debian `ffmpeg`) publishing to, being refused by, and trying to play from a
//! loopback server driven by the engine.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::tcp::{Decision, serve_ffmpeg};
use sluice_rtmp::{Output, PublishRequest, RtmpError};

/// One ffmpeg at a time: the machine has two cores and other tests run alongside.
static FFMPEG: Mutex<()> = Mutex::new(());

/// 3 s of 320x240 H.264 (2 B-frames, keyframe every 30 frames) and AAC, in real time.
const PUBLISH_ARGS: &[&str] = &[
    "-re",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=320x240:rate=30",
    "-f",
    "lavfi",
    "-i",
    "sine",
    "-t",
    "3",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-g",
    "30",
    "-bf",
    "2",
    "-c:a",
    "aac",
    "-f",
    "flv",
    "{url}",
];

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn ffmpeg_publish_delivers_h264_aac_and_metadata_then_finishes() {
    let _one = FFMPEG.lock().unwrap_or_else(|e| e.into_inner());
    let run = serve_ffmpeg("/live/cam1", PUBLISH_ARGS, Decision::Accept, Duration::from_secs(15));
    assert!(run.error.is_none(), "engine error: {:?}\nffmpeg: {}", run.error, run.client_stderr);
    assert_eq!(
        run.events.first(),
        Some(&Output::PublishRequested(PublishRequest {
            request_id: 0,
            app: "live".into(),
            stream_key: "cam1".into(),
            query: None,
        })),
        "ffmpeg: {}",
        run.client_stderr
    );
    assert!(
        run.client_status.is_some_and(|s| s.success()),
        "ffmpeg finished cleanly: {:?} {}",
        run.client_status,
        run.client_stderr
    );

    let video: Vec<(u32, &[u8])> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Output::Video { timestamp_ms, data } => Some((*timestamp_ms, &data[..])),
            _ => None,
        })
        .collect();
    let audio: Vec<(u32, &[u8])> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Output::Audio { timestamp_ms, data } => Some((*timestamp_ms, &data[..])),
            _ => None,
        })
        .collect();

    // FLV video tag body: frame type 1 (key) + codec 7 (AVC), then AVCPacketType 0 = sequence
    // header (AVCDecoderConfigurationRecord, version 1).
    let (_, first) = video[0];
    assert_eq!(&first[..2], &[0x17, 0x00], "first video message is the AVC sequence header");
    assert_eq!(first[5], 1, "configurationVersion 1");
    let keyframes = video.iter().filter(|(_, d)| d[0] == 0x17 && d[1] == 1).count();
    assert!(keyframes >= 3, "a keyframe every 30 frames over 3 s, got {keyframes}");
    assert!(video.len() >= 60, "got {} video messages", video.len());
    // With B-frames some frames carry a non-zero composition time offset.
    assert!(video.iter().any(|(_, d)| d[1] == 1 && d[2..5] != [0, 0, 0]));
    // FLV timestamps are decode times: never going back, spanning about 3 s.
    assert!(video.windows(2).all(|w| w[0].0 <= w[1].0), "monotonic video timestamps");
    let last = video.last().map_or(0, |(t, _)| *t);
    assert!((2_500..=3_500).contains(&last), "last video at {last} ms");

    // Audio: sound format 10 (AAC) 44.1 kHz stereo 16-bit (0xAF), packet type 0 = config.
    assert_eq!(&audio[0].1[..2], &[0xAF, 0x00], "first audio message is the AAC sequence header");
    assert!(audio.len() > 50, "got {} audio messages", audio.len());

    let metadata = run
        .events
        .iter()
        .find_map(|e| match e {
            Output::Metadata { fields } => Some(fields.clone()),
            _ => None,
        })
        .expect("onMetaData");
    let field = |k: &str| metadata.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(field("width"), Some("320"), "{metadata:?}");
    assert_eq!(field("height"), Some("240"));
    assert_eq!(field("framerate"), Some("30"));
    assert!(field("encoder").is_some_and(|e| e.starts_with("Lavf")), "{metadata:?}");

    let finished = run.events.iter().filter(|e| **e == Output::PublishFinished).count();
    assert!(finished == 1 || run.eof, "finished {finished} times, eof {}", run.eof);
    assert_eq!(finished, 1, "ffmpeg sends FCUnpublish/deleteStream on close");
    assert_eq!(run.events.last(), Some(&Output::PublishFinished));
}

#[test]
fn ffmpeg_is_refused_quickly_with_the_reason() {
    let _one = FFMPEG.lock().unwrap_or_else(|e| e.into_inner());
    let reason = "channel live/cam1 is already live";
    let run = serve_ffmpeg(
        "/live/cam1",
        PUBLISH_ARGS,
        Decision::Reject(reason.into()),
        Duration::from_secs(10),
    );
    assert!(run.error.is_none(), "{:?}", run.error);
    assert!(matches!(run.events.as_slice(), [Output::PublishRequested(_)]), "{:?}", run.events);
    let sent = run.decision_bytes.concat();
    assert!(contains(&sent, "onStatus"), "the decision sent an onStatus");
    assert!(contains(&sent, "NetStream.Publish.Rejected"));
    assert!(contains(&sent, reason));

    let status = run.client_status.expect("ffmpeg exited by itself");
    assert!(!status.success(), "ffmpeg reports failure");
    let decided = run.decided_at.expect("decided");
    let exited = run.client_exited_at.expect("exited");
    assert!(exited.duration_since(decided) < Duration::from_secs(3), "ffmpeg gave up quickly");
    assert!(
        run.client_stderr.contains(&format!("Server error: {reason}")),
        "ffmpeg printed the reason: {}",
        run.client_stderr
    );
}

#[test]
fn ffmpeg_query_string_key_is_split_into_stream_key_and_query() {
    let _one = FFMPEG.lock().unwrap_or_else(|e| e.into_inner());
    let run = serve_ffmpeg(
        "/live/cam1?token=abc",
        PUBLISH_ARGS,
        Decision::Reject("test over".into()),
        Duration::from_secs(10),
    );
    let request = run
        .events
        .iter()
        .find_map(|e| match e {
            Output::PublishRequested(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no publish request: {:?} {}", run.error, run.client_stderr));
    assert_eq!(request.app, "live");
    assert_eq!(request.stream_key, "cam1");
    assert_eq!(request.query.as_deref(), Some("token=abc"));
}

#[test]
fn ffmpeg_play_is_refused_with_a_clear_error() {
    let _one = FFMPEG.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let run = serve_ffmpeg(
        "/live/cam1",
        &["-i", "{url}", "-t", "1", "-f", "null", "-"],
        Decision::Accept,
        Duration::from_secs(10),
    );
    assert_eq!(
        run.error,
        Some(RtmpError::PlayNotSupported { stream_key: "cam1".into() }),
        "ffmpeg: {}",
        run.client_stderr
    );
    assert!(contains(&run.farewell_bytes.concat(), "NetStream.Play.Failed"));
    assert!(run.events.is_empty(), "{:?}", run.events);
    let status = run.client_status.expect("ffmpeg exited by itself");
    assert!(!status.success());
    assert!(
        run.client_stderr.contains("only accepts publishing"),
        "ffmpeg printed the refusal: {}",
        run.client_stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
