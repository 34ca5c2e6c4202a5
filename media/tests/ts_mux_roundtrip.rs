//! Muxer → Sluice's own TS demuxer: what SRT playback of a Sluice stream into another Sluice
//! would see. Every frame comes back with its timing, keyframe flag and bytes (the muxer's
//! AUD and repeated parameter sets aside), the tracks' codecs match, and the demuxer counts no
//! continuity, CRC or sync error across segment boundaries.

mod common;
mod ts_mux_common;

use bytes::Bytes;
use common::*;
use sluice_media::codec::h264;
use sluice_media::demux::ts::{Event, TsDemuxer};
use sluice_media::{AccessUnit, MediaKind, TrackInfo};
use ts_mux_common::*;

const HEVC: &[u8] = include_bytes!("../../testdata/ffmpeg-x265-eRTMP-hand-built.flv");

/// The NAL units of a sample that are picture data: no AUD, no parameter sets (the demuxer
/// moves those into the track).
fn picture_nals(au: &AccessUnit, hevc: bool) -> Vec<Vec<u8>> {
    h264::nal_units(&au.data, 4)
        .map(|n| n.unwrap())
        .filter(|n| {
            let t = if hevc { n[0] >> 1 & 0x3f } else { n[0] & 0x1f };
            if hevc { !(32..=35).contains(&t) } else { !(7..=9).contains(&t) }
        })
        .map(<[u8]>::to_vec)
        .collect()
}

fn roundtrip(file: &'static [u8], hevc: bool) {
    let d = demux(file);
    let tracks: Vec<TrackInfo> = vec![d.video.clone().unwrap(), d.audio.clone().unwrap()];
    let frames = interleave(&d, true, true);
    let segs = cut(&frames, &tracks);
    let ts = mux_segments(&tracks, &segs);

    let mut demuxer = TsDemuxer::new();
    let mut out_tracks = Vec::new();
    let mut out_frames: Vec<AccessUnit> = Vec::new();
    // Fed in SRT-sized chunks that ignore packet and segment boundaries.
    let all: Bytes = ts.iter().flat_map(|s| s.iter().copied()).collect::<Vec<u8>>().into();
    for chunk in all.chunks(1316) {
        demuxer.push(chunk);
        while let Some(ev) = demuxer.poll_event() {
            match ev {
                Event::Track(t) => out_tracks.push(t),
                Event::Frame(f) => out_frames.push(f),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    demuxer.flush();
    while let Some(ev) = demuxer.poll_event() {
        if let Event::Frame(f) = ev {
            out_frames.push(f);
        }
    }
    let stats = demuxer.stats();
    assert_eq!((stats.cc_errors, stats.crc_errors, stats.sync_losses, stats.dropped), (0, 0, 0, 0));

    for t in &tracks {
        let back = out_tracks.iter().rev().find(|o| o.kind == t.kind).expect("track announced");
        assert_eq!(back.codec_string(), t.codec_string());
        assert_eq!(back.timescale, t.timescale);
        let want: Vec<&AccessUnit> = frames.iter().filter(|f| f.track == t.id).collect();
        let got: Vec<&AccessUnit> = out_frames.iter().filter(|f| f.track == back.id).collect();
        assert_eq!(got.len(), want.len(), "{:?} frames", t.kind);
        // One timeline offset per track at most (the demuxer may rebase); then exact.
        let offset = got[0].dts - want[0].dts;
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((g.dts - offset, g.pts - offset, g.keyframe), (w.dts, w.pts, w.keyframe));
            match t.kind {
                MediaKind::Video => assert_eq!(picture_nals(g, hevc), picture_nals(w, hevc)),
                MediaKind::Audio => assert_eq!(g.data, w.data),
            }
        }
    }
}

#[test]
fn h264_and_aac_survive_mux_and_demux() {
    roundtrip(OBS_LIKE, false);
}

#[test]
fn hevc_and_aac_survive_mux_and_demux() {
    roundtrip(HEVC, true);
}
