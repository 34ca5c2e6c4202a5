//! CPU cost of the MPEG-TS work on the SRT / HLS-TS paths, each next to a reference measured in
//! the same run (the ratio is the figure to compare across machines):
//! - demuxing a real ffmpeg MPEG-TS capture (H.264 + AAC) in SRT-sized 1316-byte chunks vs
//!   copying the same bytes once (memcpy);
//! - muxing the same access units back into one HLS-TS segment vs copying their payloads once.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use sluice_media::demux::ts::{Event, TsDemuxer};
use sluice_media::mux::ts::TsMuxer;
use sluice_media::{AccessUnit, TrackInfo};

static CAPTURE: &[u8] = include_bytes!("../../testdata/ffmpeg-x264-aac.ts");

fn demux_all(data: &[u8]) -> (Vec<TrackInfo>, Vec<AccessUnit>) {
    let mut demux = TsDemuxer::new();
    let (mut tracks, mut frames) = (Vec::new(), Vec::new());
    for chunk in data.chunks(1316) {
        demux.push(chunk);
        while let Some(ev) = demux.poll_event() {
            match ev {
                Event::Track(t) => {
                    tracks.retain(|old: &TrackInfo| old.id != t.id);
                    tracks.push(t);
                }
                Event::Frame(au) => frames.push(au),
                _ => {}
            }
        }
    }
    demux.flush();
    while let Some(ev) = demux.poll_event() {
        if let Event::Frame(au) = ev {
            frames.push(au);
        }
    }
    tracks.sort_by_key(|t| t.id);
    (tracks, frames)
}

fn demuxing(c: &mut Criterion) {
    let mut g = c.benchmark_group("ts_demux_capture");
    g.bench_function("reference_memcpy", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(CAPTURE.len());
            for chunk in CAPTURE.chunks(1316) {
                out.extend_from_slice(chunk);
            }
            out
        })
    });
    g.bench_function("sluice_ts_demuxer", |b| b.iter(|| demux_all(CAPTURE).1.len()));
    g.finish();
}

fn muxing(c: &mut Criterion) {
    let (tracks, mut frames) = demux_all(CAPTURE);
    frames.sort_by_key(|f| {
        let ts = tracks.iter().find(|t| t.id == f.track).map_or(90_000, |t| t.timescale);
        f.dts * 90_000 / i64::from(ts)
    });
    let payload: usize = frames.iter().map(|f| f.data.len()).sum();
    let mut g = c.benchmark_group("ts_mux_segment");
    g.bench_function("reference_memcpy", |b| {
        b.iter(|| {
            let mut out = BytesMut::with_capacity(payload);
            for f in &frames {
                out.extend_from_slice(&f.data);
            }
            out.freeze()
        })
    });
    g.bench_function("sluice_ts_muxer", |b| {
        b.iter(|| {
            let mut mux = TsMuxer::new(&tracks).expect("H.264 + AAC are muxable");
            let mut out = BytesMut::with_capacity(payload * 11 / 10);
            mux.write_segment(&frames, &mut out);
            Bytes::from(out)
        })
    });
    g.finish();
}

criterion_group!(benches, demuxing, muxing);
criterion_main!(benches);
