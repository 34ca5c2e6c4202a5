//! Live access units for consumers that are not CMAF parts: SRT playback today, WHEP next.
//!
//! The pipeline sends every access unit it keeps (on the channel's continuous timeline) here,
//! under its own lock, so order is the channel's order. A new reader gets the current track
//! descriptions and the frames since the last video keyframe (the GOP cache) and then the live
//! feed, with nothing lost or repeated between the two. A reader that falls more than
//! [`FANOUT_CAPACITY`] events behind is told it lagged and must resynchronise on a keyframe:
//! a slow reader never slows ingest.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use sluice_media::{AccessUnit, MediaKind, TrackInfo};
use tokio::sync::broadcast;

/// Events buffered per reader (≈ 10 s of 30 fps video plus 48 kHz AAC).
pub const FANOUT_CAPACITY: usize = 1024;
/// Bounds on the GOP cache; a source with longer GOPs serves new readers from the next keyframe.
const MAX_GOP_FRAMES: usize = 1200;
const MAX_GOP_BYTES: usize = 32 << 20;

#[derive(Debug, Clone)]
pub enum FanoutEvent {
    /// The tracks in force from now on (first publish, codec change, reconnect).
    Tracks(Arc<Vec<TrackInfo>>),
    Frame(AccessUnit),
    /// The publisher left; a new session (if any) begins with `Tracks`.
    Ended,
}

#[derive(Debug, Default)]
struct GopCache {
    tracks: Option<Arc<Vec<TrackInfo>>>,
    frames: VecDeque<AccessUnit>,
    bytes: usize,
    /// The cache starts at a video keyframe (or the stream has no video).
    usable: bool,
}

#[derive(Debug)]
pub struct Fanout {
    tx: broadcast::Sender<FanoutEvent>,
    gop: Mutex<GopCache>,
}

impl Default for Fanout {
    fn default() -> Self {
        Self::new()
    }
}

impl Fanout {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(FANOUT_CAPACITY);
        Self { tx, gop: Mutex::new(GopCache::default()) }
    }

    pub fn send(&self, event: FanoutEvent) {
        let Ok(mut gop) = self.gop.lock() else { return };
        match &event {
            FanoutEvent::Tracks(tracks) => {
                *gop = GopCache { tracks: Some(tracks.clone()), ..GopCache::default() };
                gop.usable = !tracks.iter().any(|t| t.kind == MediaKind::Video);
            }
            FanoutEvent::Frame(au) => {
                let is_video = au.track == sluice_media::track::VIDEO_TRACK;
                if is_video && au.keyframe {
                    gop.frames.clear();
                    gop.bytes = 0;
                    gop.usable = true;
                }
                if gop.usable {
                    gop.bytes += au.data.len();
                    gop.frames.push_back(au.clone());
                    if gop.frames.len() > MAX_GOP_FRAMES || gop.bytes > MAX_GOP_BYTES {
                        gop.frames.clear();
                        gop.bytes = 0;
                        gop.usable = false;
                    }
                }
            }
            FanoutEvent::Ended => *gop = GopCache::default(),
        }
        // No receivers is fine: nobody is reading the channel this way right now.
        let _ = self.tx.send(event);
    }

    /// Starts a reader: what to play first (tracks, then the cached GOP), then the live feed.
    pub fn subscribe(&self) -> (Vec<FanoutEvent>, broadcast::Receiver<FanoutEvent>) {
        let Ok(gop) = self.gop.lock() else {
            return (Vec::new(), self.tx.subscribe());
        };
        let mut start = Vec::with_capacity(gop.frames.len() + 1);
        if let Some(tracks) = &gop.tracks {
            start.push(FanoutEvent::Tracks(tracks.clone()));
            start.extend(gop.frames.iter().cloned().map(FanoutEvent::Frame));
        }
        (start, self.tx.subscribe())
    }

    pub fn readers(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sluice_media::track::{AUDIO_TRACK, VIDEO_TRACK};

    fn frame(track: u32, dts: i64, keyframe: bool) -> FanoutEvent {
        FanoutEvent::Frame(AccessUnit {
            track,
            dts,
            pts: dts,
            keyframe,
            data: Bytes::from_static(b"x"),
        })
    }

    fn dts(ev: &FanoutEvent) -> Option<i64> {
        match ev {
            FanoutEvent::Frame(au) => Some(au.dts),
            _ => None,
        }
    }

    fn video_track() -> TrackInfo {
        use sluice_media::demux::flv::{Event, FlvDemuxer, FlvFileReader};
        static BASELINE: &[u8] = include_bytes!("../../testdata/ffmpeg-x264-aac-baseline.flv");
        let mut demux = FlvDemuxer::new();
        for tag in FlvFileReader::new(Bytes::from_static(BASELINE)).expect("valid flv") {
            demux.push(tag.expect("valid tag"));
            while let Some(ev) = demux.poll_event() {
                if let Event::Track(t) = ev
                    && t.kind == MediaKind::Video
                {
                    return t;
                }
            }
        }
        panic!("the capture has a video track")
    }

    #[test]
    fn a_new_reader_starts_at_the_last_keyframe_then_follows_live() {
        let f = Fanout::new();
        f.send(FanoutEvent::Tracks(Arc::new(vec![video_track()])));
        f.send(frame(VIDEO_TRACK, 0, false)); // before any keyframe: not cached
        f.send(frame(VIDEO_TRACK, 1, true));
        f.send(frame(AUDIO_TRACK, 1, true));
        f.send(frame(VIDEO_TRACK, 2, false));
        f.send(frame(VIDEO_TRACK, 3, true));
        f.send(frame(VIDEO_TRACK, 4, false));
        let (start, mut rx) = f.subscribe();
        assert!(matches!(start[0], FanoutEvent::Tracks(_)));
        assert_eq!(start[1..].iter().filter_map(dts).collect::<Vec<_>>(), vec![3, 4]);
        f.send(frame(VIDEO_TRACK, 5, false));
        let live = rx.try_recv().expect("live frame");
        assert_eq!(dts(&live), Some(5));
    }

    #[test]
    fn an_ended_stream_has_nothing_to_replay() {
        let f = Fanout::new();
        f.send(FanoutEvent::Tracks(Arc::new(vec![video_track()])));
        f.send(frame(VIDEO_TRACK, 1, true));
        f.send(FanoutEvent::Ended);
        assert!(f.subscribe().0.is_empty());
    }
}
