//! Shared helpers for the integration tests: run a capture through FlvFileReader → FlvDemuxer
//! → Fragmenter, a tiny box reader of the tests' own, the seeded randomness of the never-panic
//! tests ([`rng`]) and the ffprobe/ffmpeg runners ([`tools`]).

#![allow(dead_code)]

pub mod rng;
pub mod tools;

use bytes::{Bytes, BytesMut};
use sluice_media::cmaf::fragmenter::{FragmentOutput, Fragmenter, FragmenterConfig, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::demux::flv::{Event, FlvDemuxer, FlvFileReader, TagKind};
use sluice_media::ring::Part;
use sluice_media::{AccessUnit, MediaKind, TrackInfo};

use rng::Rng;

pub const BASELINE: &[u8] = include_bytes!("../../../testdata/ffmpeg-x264-aac-baseline.flv");
pub const OBS_LIKE: &[u8] = include_bytes!("../../../testdata/obs-like-x264-bframes-aac.flv");
pub const DEMO_CLIP: &[u8] = include_bytes!("../../../testdata/demo-clip.flv");

/// Everything the demuxer said about one file.
#[derive(Debug, Default)]
pub struct Demuxed {
    pub video: Option<TrackInfo>,
    pub audio: Option<TrackInfo>,
    pub video_frames: Vec<AccessUnit>,
    pub audio_frames: Vec<AccessUnit>,
    pub other_events: Vec<Event>,
}

pub fn demux(file: &'static [u8]) -> Demuxed {
    let reader = FlvFileReader::new(Bytes::from_static(file)).expect("valid FLV");
    let mut d = FlvDemuxer::new();
    let mut out = Demuxed::default();
    for tag in reader {
        d.push(tag.expect("complete tag"));
        while let Some(ev) = d.poll_event() {
            match ev {
                Event::Track(t) if t.kind == MediaKind::Video => out.video = Some(t),
                Event::Track(t) => out.audio = Some(t),
                Event::Frame(au) if au.track == sluice_media::track::VIDEO_TRACK => {
                    out.video_frames.push(au)
                }
                Event::Frame(au) => out.audio_frames.push(au),
                other => out.other_events.push(other),
            }
        }
    }
    out
}

/// A segment as the fragmenter announced it.
#[derive(Debug, Clone)]
pub struct Seg {
    pub start_dts: i64,
    pub independent: bool,
    pub parts: Vec<Part>,
}

/// Collects a fragmenter's output into segments.
pub fn collect(f: &mut Fragmenter, segs: &mut Vec<Seg>) {
    while let Some(o) = f.poll_output() {
        match o {
            FragmentOutput::SegmentStart { start_dts, independent } => {
                segs.push(Seg { start_dts, independent, parts: Vec::new() })
            }
            FragmentOutput::Part(p) => segs.last_mut().expect("segment first").parts.push(p),
        }
    }
}

/// 200 ms parts, 1 s segment target, in the track's timescale.
pub fn default_config(track: &TrackInfo) -> FragmenterConfig {
    let ts = u64::from(track.timescale);
    FragmenterConfig { part_target: ts / 5, segment_target: ts }
}

/// Fragments video (keyframe segments) and audio (following the video cuts) the way the
/// pipeline does, feeding frames in file order.
pub fn fragment(file: &'static [u8]) -> (Demuxed, Vec<Seg>, Vec<Seg>) {
    let d = demux(file);
    let vt = d.video.clone().expect("video track");
    let at = d.audio.clone().expect("audio track");
    let mut v = Fragmenter::new(&vt, default_config(&vt), SegmentPolicy::Keyframes);
    let mut a = Fragmenter::new(&at, default_config(&at), SegmentPolicy::Follow);
    let (mut vsegs, mut asegs) = (Vec::new(), Vec::new());
    // Interleave by time as the file does.
    let mut vi = d.video_frames.iter().peekable();
    let mut ai = d.audio_frames.iter().peekable();
    loop {
        let take_video = match (vi.peek(), ai.peek()) {
            (Some(v), Some(a)) => v.dts * i64::from(at.timescale) <= a.dts * 90_000,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_video {
            v.push(vi.next().expect("peeked").clone());
            let before = vsegs.len();
            collect(&mut v, &mut vsegs);
            // The first video segment is where both tracks start; later ones cut audio.
            for s in vsegs[before..].iter().filter(|_| before > 0) {
                a.cut_segment_at(s.start_dts * i64::from(at.timescale) / 90_000);
            }
        } else {
            a.push(ai.next().expect("peeked").clone());
        }
        collect(&mut a, &mut asegs);
    }
    v.flush();
    a.flush();
    collect(&mut v, &mut vsegs);
    collect(&mut a, &mut asegs);
    (d, vsegs, asegs)
}

/// A track's init segment followed by every part of `segs`: one fragmented MP4 file.
pub fn fragmented_mp4(track: &TrackInfo, segs: &[Seg]) -> BytesMut {
    let mut file = BytesMut::from(&init_segment(track)[..]);
    for p in segs.iter().flat_map(|s| &s.parts) {
        file.extend_from_slice(&p.data);
    }
    file
}

/// Demuxer and fragmenter against mutated enhanced-RTMP video tags: 40 sessions of 120 tags
/// drawn from `capture` (the first is its sequence header), about half passed through `mutate`
/// (keeping the 5-byte enhanced header half of those times, so the codec paths see the
/// garbage). Every announced track gets an init segment and a fresh Fragmenter; `check_frame`
/// sees each video frame before it is fragmented. Returns the demuxers' (frames, dropped).
pub fn mutated_enhanced_video_sessions(
    capture: &'static [u8],
    seed: u64,
    mutate: impl Fn(&mut Rng, &[u8]) -> Vec<u8>,
    check_frame: impl Fn(&AccessUnit),
) -> (u64, u64) {
    let tags: Vec<(TagKind, Bytes)> = FlvFileReader::new(Bytes::from_static(capture))
        .expect("valid FLV")
        .map(|t| t.expect("complete tag"))
        .map(|t| (t.kind, t.body))
        .collect();
    let mut rng = Rng(seed);
    let (mut frames, mut dropped) = (0, 0);
    for _session in 0..40 {
        let mut d = FlvDemuxer::new();
        let mut video: Option<Fragmenter> = None;
        let mut ts: u32 = rng.next() as u32;
        for i in 0..120 {
            let (kind, body) = &tags[if i == 0 { 0 } else { rng.below(tags.len()) }];
            let body = if i > 0 && rng.below(2) == 0 {
                let mut b = mutate(&mut rng, body);
                if rng.below(2) == 0 && b.len() >= 5 {
                    b[..5].copy_from_slice(&body[..5]);
                }
                Bytes::from(b)
            } else {
                body.clone()
            };
            ts = ts.wrapping_add(rng.below(40) as u32);
            d.push_tag(*kind, ts, body);
            while let Some(ev) = d.poll_event() {
                match ev {
                    Event::Track(t) if t.kind == MediaKind::Video => {
                        assert!(init_segment(&t).len() > 100);
                        video =
                            Some(Fragmenter::new(&t, default_config(&t), SegmentPolicy::Keyframes));
                    }
                    Event::Frame(au) if au.track == sluice_media::track::VIDEO_TRACK => {
                        check_frame(&au);
                        let f = video.as_mut().expect("frames only after their track");
                        f.push(au);
                        while f.poll_output().is_some() {}
                    }
                    Event::Dropped { reason } => assert!(!reason.is_empty()),
                    _ => {}
                }
            }
        }
        frames += d.stats().frames;
        dropped += d.stats().dropped;
    }
    (frames, dropped)
}

/// (type, payload) of each box in `data` (panics on malformed data: test code).
pub fn boxes(mut data: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let size = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        assert!(size >= 8 && size <= data.len(), "bad box size");
        out.push((data[4..8].try_into().unwrap(), &data[8..size]));
        data = &data[size..];
    }
    out
}

pub fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
    boxes(data).into_iter().find(|b| &b.0 == kind).map(|b| b.1).expect("child box")
}

/// Composition offsets in a part's trun (version 1, signed), if the trun carries them.
pub fn composition_offsets(part: &[u8]) -> Vec<i32> {
    let traf = child(child(part, b"moof"), b"traf");
    let trun = child(traf, b"trun");
    let flags = u32::from_be_bytes(trun[..4].try_into().unwrap()) & 0xff_ffff;
    if flags & 0x800 == 0 {
        return Vec::new();
    }
    let count = u32::from_be_bytes(trun[4..8].try_into().unwrap()) as usize;
    (0..count)
        .map(|i| {
            let at = 12 + i * 16 + 12;
            i32::from_be_bytes(trun[at..at + 4].try_into().unwrap())
        })
        .collect()
}

/// Number of samples in a part's trun.
pub fn sample_count(part: &[u8]) -> usize {
    let trun = child(child(child(part, b"moof"), b"traf"), b"trun");
    u32::from_be_bytes(trun[4..8].try_into().unwrap()) as usize
}
