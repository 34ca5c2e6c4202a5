//! Hand-built rings and tracks shared by the integration tests.

#![allow(dead_code)] // each test binary uses a different subset

use bytes::Bytes;
use sluice_media::codec::{aac::AudioSpecificConfig, h264::AvcConfig};
use sluice_media::ring::{Part, TrackRing};
use sluice_media::track::{AUDIO_TRACK, CodecConfig, MediaKind, TrackInfo, VIDEO_TRACK};

/// Wall clock of timeline tick 0: 2023-11-14T22:13:20.000Z.
pub const BASE_MS: i64 = 1_700_000_000_000;

/// One segment of a hand-built ring.
pub struct Seg<'a> {
    pub msn: u64,
    /// Starts after a discontinuity.
    pub discontinuity: bool,
    /// Push a new init segment before opening this one.
    pub new_init: bool,
    /// Part durations in ticks; the first part is independent.
    pub parts: &'a [u64],
    /// Extra independent parts (indices).
    pub keyframes: &'a [usize],
    pub complete: bool,
}

impl<'a> Seg<'a> {
    pub fn new(msn: u64, parts: &'a [u64]) -> Self {
        Self { msn, discontinuity: false, new_init: false, parts, keyframes: &[], complete: true }
    }
    pub fn open(mut self) -> Self {
        self.complete = false;
        self
    }
    pub fn discontinuity_with_new_init(mut self) -> Self {
        self.discontinuity = true;
        self.new_init = true;
        self
    }
    pub fn keyframes(mut self, k: &'a [usize]) -> Self {
        self.keyframes = k;
        self
    }
}

/// Builds a ring: one init before the first segment, segments back to back from tick
/// `start_ticks`, program date time = BASE_MS + start time.
pub fn ring(timescale: u32, start_ticks: i64, segs: &[Seg<'_>]) -> TrackRing {
    let mut r = TrackRing::new(timescale, 64);
    r.push_init(Bytes::from_static(b"init-0"));
    let mut t = start_ticks;
    for s in segs {
        if s.new_init {
            r.push_init(Bytes::from_static(b"init-n"));
        }
        let pdt = BASE_MS + t * 1000 / i64::from(timescale);
        r.begin_segment(s.msn, t, pdt, s.discontinuity).expect("test segments are contiguous");
        for (i, &d) in s.parts.iter().enumerate() {
            r.push_part(Part {
                start_dts: t,
                duration: d,
                independent: i == 0 || s.keyframes.contains(&i),
                data: Bytes::from_static(b"moof+mdat"),
            })
            .expect("a segment is open");
            t += d as i64;
        }
        if s.complete {
            r.complete_segment();
        }
    }
    r
}

pub fn h264_track(width: u32, height: u32, frame_rate: Option<(u32, u32)>) -> TrackInfo {
    TrackInfo {
        id: VIDEO_TRACK,
        kind: MediaKind::Video,
        timescale: 90_000,
        codec: CodecConfig::H264(AvcConfig {
            record: Bytes::from_static(b"avcC"),
            profile_idc: 0x64,
            constraint_flags: 0x00,
            level_idc: 0x1f,
            nal_length_size: 4,
            sps: Vec::new(),
            pps: Vec::new(),
            width,
            height,
            frame_rate,
        }),
    }
}

pub fn aac_track(channels: u8) -> TrackInfo {
    TrackInfo {
        id: AUDIO_TRACK,
        kind: MediaKind::Audio,
        timescale: 48_000,
        codec: CodecConfig::Aac(AudioSpecificConfig {
            raw: Bytes::from_static(&[0x11, 0x90]),
            object_type: 2,
            sample_rate: 48_000,
            channels,
        }),
    }
}

/// The value of attribute `name` in the first line starting with `tag:`.
pub fn attr<'a>(playlist: &'a str, tag: &str, name: &str) -> Option<&'a str> {
    let line = playlist.lines().find(|l| l.starts_with(tag))?;
    let list = line.split_once(':')?.1;
    list.split(',').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}
