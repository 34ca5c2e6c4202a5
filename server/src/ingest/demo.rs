//! The built-in demo source: loops a short H.264/AAC clip compiled into the binary into
//! `live/demo` at real-time pace with continuous timestamps, so a new user sees a stream
//! playing without an encoder.
//!
//! Video loops every clip length (a whole number of GOPs). Audio cannot loop on the same period
//! (4 s is not a whole number of 1024-sample AAC frames), so its frames are replayed cyclically
//! with timestamps taken from a global frame count: both timelines stay continuous and neither
//! drifts from the wall clock.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sluice_media::codec::aac::AudioSpecificConfig;
use sluice_media::demux::flv::{FlvFileReader, TagKind};
use tokio::time::Instant;

use crate::hub::Hub;
use crate::ingest::flv::FlvIngest;
use crate::now_unix_ms;

/// ~4 s, 1280x720 30 fps, 1 s GOP, AAC 48 kHz (see testdata/README.md for how it was made).
static CLIP: &[u8] = include_bytes!("../../../testdata/demo-clip.flv");

#[derive(Debug)]
struct Clip {
    /// Sequence headers (video, audio), sent once.
    headers: Vec<(TagKind, Bytes)>,
    /// (timestamp ms, body) of every coded video frame.
    video: Vec<(u32, Bytes)>,
    /// Bodies of every coded audio frame.
    audio: Vec<Bytes>,
    loop_ms: u64,
    /// Audio frame duration as (samples per frame, sample rate).
    audio_frame: (u64, u64),
}

fn is_sequence_header(body: &Bytes) -> bool {
    body.get(1) == Some(&0)
}

fn load_clip() -> Result<Clip, String> {
    let reader = FlvFileReader::new(Bytes::from_static(CLIP)).map_err(|e| e.to_string())?;
    let mut clip = Clip {
        headers: Vec::new(),
        video: Vec::new(),
        audio: Vec::new(),
        loop_ms: 0,
        audio_frame: (1024, 48_000),
    };
    for tag in reader {
        let tag = tag.map_err(|e| e.to_string())?;
        match tag.kind {
            TagKind::Video | TagKind::Audio if is_sequence_header(&tag.body) => {
                if tag.kind == TagKind::Audio
                    && let Ok(asc) = AudioSpecificConfig::parse(tag.body.slice(2..))
                {
                    clip.audio_frame =
                        (u64::from(asc.samples_per_frame()), u64::from(asc.sample_rate.max(1)));
                }
                clip.headers.push((tag.kind, tag.body));
            }
            // Coded frames only (packet type 1); end-of-sequence markers would end the loop.
            TagKind::Video if tag.body.get(1) == Some(&1) => {
                clip.video.push((tag.timestamp_ms, tag.body))
            }
            TagKind::Audio if tag.body.get(1) == Some(&1) => clip.audio.push(tag.body),
            _ => {}
        }
    }
    let (first, last) = match (clip.video.first(), clip.video.last()) {
        (Some(f), Some(l)) if l.0 > f.0 => (f.0, l.0),
        _ => return Err("demo clip has no video".into()),
    };
    // Loop length: last frame plus one frame interval, so video timestamps stay continuous.
    let frame = (last - first) / (clip.video.len() as u32 - 1).max(1);
    clip.loop_ms = u64::from(last - first + frame);
    Ok(clip)
}

/// Runs forever on the current worker.
pub async fn run(hub: Arc<Hub>) {
    let clip = match load_clip() {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("demo source unavailable: {e}");
            return;
        }
    };
    let guard = match hub.begin_publish("live", "demo") {
        Ok(g) => g,
        Err(e) => {
            tracing::error!("demo source cannot publish to live/demo: {e}");
            return;
        }
    };
    tracing::info!(
        "demo source publishing to live/demo (a {:.1} s clip, looped)",
        clip.loop_ms as f64 / 1000.0
    );
    let mut ingest = FlvIngest::new();
    for (kind, body) in &clip.headers {
        ingest.push(&guard, *kind, 0, body.clone(), now_unix_ms());
    }
    let start = Instant::now();
    let (spf, rate) = clip.audio_frame;
    let (mut video_n, mut audio_n) = (0u64, 0u64);
    loop {
        // Next video frame and next audio frame on their own continuous timelines; send
        // whichever is due first.
        let loops = video_n / clip.video.len() as u64;
        let (vts, vbody) = &clip.video[(video_n % clip.video.len() as u64) as usize];
        let video_ms = loops * clip.loop_ms + u64::from(*vts);
        let audio_ms = audio_n * spf * 1000 / rate;
        let (kind, ts, body) = if clip.audio.is_empty() || video_ms <= audio_ms {
            video_n += 1;
            (TagKind::Video, video_ms, vbody.clone())
        } else {
            let body = clip.audio[(audio_n % clip.audio.len() as u64) as usize].clone();
            audio_n += 1;
            (TagKind::Audio, audio_ms, body)
        };
        tokio::time::sleep_until(start + Duration::from_millis(ts)).await;
        // RTMP timestamps are 32-bit milliseconds: the demo wraps after 49 days like a real feed.
        ingest.push(&guard, kind, ts as u32, body, now_unix_ms());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_loads_as_whole_gops_with_audio() {
        let clip = load_clip().expect("committed clip is valid");
        assert_eq!(clip.loop_ms, 4000);
        assert_eq!(clip.headers.len(), 2);
        assert_eq!(clip.video.len(), 120);
        assert!(clip.audio.len() > 180);
        assert_eq!(clip.audio_frame, (1024, 48_000));
    }
}
