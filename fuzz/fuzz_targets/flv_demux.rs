//! Arbitrary tag bodies into FlvDemuxer, its frames into Fragmenters.
//!
//! Input framing (so the fuzzer can build tag sequences): repeated
//! `[flags u8][len u16 BE][body; len bytes]`, flags bit 0 = video (else audio), bits 1–7 =
//! milliseconds since the previous tag. A short final record takes what is left.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_media::MediaKind;
use sluice_media::cmaf::fragmenter::{Fragmenter, FragmenterConfig, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::demux::flv::{Event, FlvDemuxer, TagKind};

fuzz_target!(|data: &[u8]| {
    let mut d = FlvDemuxer::new();
    let (mut video, mut audio): (Option<Fragmenter>, Option<Fragmenter>) = (None, None);
    let mut ts: u32 = 0;
    let mut rest = data;
    while let [flags, rest_after_flags @ ..] = rest {
        let len = match rest_after_flags {
            [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
            _ => 0,
        };
        let body = rest_after_flags.get(2..).unwrap_or(&[]);
        let (body, next) = body.split_at(len.min(body.len()));
        rest = next;
        ts = ts.wrapping_add(u32::from(flags >> 1));
        let kind = if flags & 1 == 1 {
            TagKind::Video
        } else {
            TagKind::Audio
        };
        d.push_tag(kind, ts, Bytes::copy_from_slice(body));
        while let Some(ev) = d.poll_event() {
            match ev {
                Event::Track(t) => {
                    let _ = init_segment(&t);
                    let ts = u64::from(t.timescale);
                    let cfg = FragmenterConfig {
                        part_target: ts / 5,
                        segment_target: ts,
                    };
                    let f = Fragmenter::new(&t, cfg, SegmentPolicy::Keyframes);
                    match t.kind {
                        MediaKind::Video => video = Some(f),
                        MediaKind::Audio => audio = Some(f),
                    }
                }
                Event::Frame(au) => {
                    let f = if au.track == 1 {
                        video.as_mut()
                    } else {
                        audio.as_mut()
                    };
                    if let Some(f) = f {
                        f.push(au);
                        while f.poll_output().is_some() {}
                    }
                }
                Event::Unsupported { .. } | Event::Dropped { .. } => {}
            }
        }
    }
    for f in [video.as_mut(), audio.as_mut()].into_iter().flatten() {
        f.flush();
        while f.poll_output().is_some() {}
    }
});
