//! Arbitrary bytes as an MPEG-TS stream into TsDemuxer, its frames into Fragmenters.
//!
//! Input framing: the first byte picks the chunk size the rest is pushed in (1 + byte × 8:
//! 1 to 2041 bytes, so packet boundaries fall anywhere), the rest is the stream. Seeds are the
//! first packets of the real captures in testdata/.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_media::MediaKind;
use sluice_media::cmaf::fragmenter::{Fragmenter, FragmenterConfig, SegmentPolicy};
use sluice_media::cmaf::init::init_segment;
use sluice_media::demux::ts::{Event, TsDemuxer};

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let chunk = 1 + usize::from(first) * 8;
    let mut d = TsDemuxer::new();
    let (mut video, mut audio): (Option<Fragmenter>, Option<Fragmenter>) = (None, None);
    for next in stream.chunks(chunk).map(Some).chain([None]) {
        match next {
            Some(c) => d.push(c),
            None => d.flush(),
        }
        while let Some(ev) = d.poll_event() {
            match ev {
                Event::Track(t) => {
                    let _ = init_segment(&t);
                    let _ = t.codec_string();
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
                Event::Scte35 { splice, .. } => {
                    let _ = splice.splice_pts();
                }
                Event::Unsupported { .. } | Event::Dropped { .. } => {}
            }
        }
    }
    let _ = d.stats();
    for f in [video.as_mut(), audio.as_mut()].into_iter().flatten() {
        f.flush();
        while f.poll_output().is_some() {}
    }
});
