//! CPU cost of the per-part work on the ingest path, each next to a reference measured in the
//! same run (so the ratio, not the absolute time, is the figure to compare across machines):
//! - fragmenting a real capture into CMAF parts vs copying the same bytes once (memcpy);
//! - rendering a live media playlist (26 segments, 5 parts each) vs formatting a string of the
//!   same length.

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use sluice_media::cmaf::fragmenter::{Fragmenter, FragmenterConfig, SegmentPolicy};
use sluice_media::demux::flv::{Event, FlvDemuxer, FlvFileReader};
use sluice_media::ring::{Part, TrackRing};
use sluice_media::{AccessUnit, TrackInfo};

static CAPTURE: &[u8] = include_bytes!("../../testdata/ffmpeg-x264-aac-baseline.flv");

fn video_of_capture() -> (TrackInfo, Vec<AccessUnit>) {
    let mut demux = FlvDemuxer::new();
    let (mut info, mut frames) = (None, Vec::new());
    for tag in FlvFileReader::new(Bytes::from_static(CAPTURE)).expect("valid capture") {
        demux.push(tag.expect("valid tag"));
        while let Some(ev) = demux.poll_event() {
            match ev {
                Event::Track(t) if t.id == 1 => info = Some(t),
                Event::Frame(au) if au.track == 1 => frames.push(au),
                _ => {}
            }
        }
    }
    (info.expect("capture has video"), frames)
}

fn fragmenting(c: &mut Criterion) {
    let (info, frames) = video_of_capture();
    let total: usize = frames.iter().map(|f| f.data.len()).sum();
    let mut g = c.benchmark_group("fragment_3s_of_video");
    g.bench_function("reference_memcpy", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(total);
            for f in &frames {
                out.extend_from_slice(&f.data);
            }
            out
        })
    });
    g.bench_function("sluice_fragmenter", |b| {
        b.iter(|| {
            let cfg = FragmenterConfig { part_target: 18_000, segment_target: 90_000 };
            let mut frag = Fragmenter::new(&info, cfg, SegmentPolicy::Keyframes);
            let mut n = 0;
            for f in &frames {
                frag.push(f.clone());
                while frag.poll_output().is_some() {
                    n += 1;
                }
            }
            n
        })
    });
    g.finish();
}

fn rendering(c: &mut Criterion) {
    let mut ring = TrackRing::new(90_000, 26);
    ring.push_init(Bytes::from_static(b"init"));
    for msn in 0..26u64 {
        ring.begin_segment(msn, msn as i64 * 90_000, 1_700_000_000_000 + msn as i64 * 1000, false)
            .expect("contiguous");
        for p in 0..5 {
            let part = Part {
                start_dts: 0,
                duration: 18_000,
                independent: p == 0,
                data: Bytes::from_static(b"x"),
            };
            ring.push_part(part).expect("open segment");
        }
    }
    let ctx = sluice_hls::MediaPlaylistContext {
        rendition: "video".into(),
        target_duration: 1,
        part_target: 0.2,
        window: 12,
        rendition_reports: vec![(
            "audio.m3u8".into(),
            sluice_media::ring::Position { msn: 25, part: 4 },
        )],
        ended: false,
    };
    let len = sluice_hls::render_media_playlist(&ring, &ctx, false).len();
    let mut g = c.benchmark_group("render_media_playlist");
    g.bench_function("reference_format_same_length", |b| {
        b.iter(|| {
            let mut s = String::with_capacity(len);
            while s.len() < len {
                s.push_str(&format!(
                    "#EXT-X-PART:DURATION={:.5},URI=\"video/{}.m4s\"\n",
                    0.2,
                    s.len()
                ));
            }
            s
        })
    });
    g.bench_function("sluice_render", |b| {
        b.iter(|| sluice_hls::render_media_playlist(&ring, &ctx, false))
    });
    g.finish();
}

criterion_group!(benches, fragmenting, rendering);
criterion_main!(benches);
