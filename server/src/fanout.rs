//! Live access units for consumers that are not CMAF parts: SRT playback today, WHEP next.
//!
//! The pipeline sends every access unit it keeps (on the channel's continuous timeline) here,
//! under its own lock, so order is the channel's order. A new reader gets the current track
//! descriptions and the frames since the last video keyframe (the GOP cache) and then the live
//! feed, with nothing lost or repeated between the two. A reader that falls more than
//! [`FANOUT_CAPACITY`] events behind is told it lagged and must resynchronise on a keyframe:
//! a slow reader never slows ingest.
//!
//! While at least one reader listens for Opus ([`Fanout::listen_opus`], WHEP viewers) and the
//! source's audio is AAC, the fanout also carries that audio as Opus on
//! [`BRIDGED_OPUS_TRACK`]: one AAC → Opus transcode per channel, however many viewers, and none
//! when nobody needs it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sluice_media::codec::aac::AudioSpecificConfig;
use sluice_media::track::AUDIO_TRACK;
use sluice_media::{AccessUnit, CodecConfig, MediaKind, TrackInfo};
use tokio::sync::broadcast;

use crate::transcode::AacToOpus;

/// Events buffered per reader (≈ 10 s of 30 fps video plus 48 kHz AAC).
pub const FANOUT_CAPACITY: usize = 1024;
/// Bounds on the GOP cache; a source with longer GOPs serves new readers from the next keyframe.
const MAX_GOP_FRAMES: usize = 1200;
const MAX_GOP_BYTES: usize = 32 << 20;

/// Track id of the Opus packets made from an AAC source's audio (48 kHz timescale, timestamps
/// already corrected for the encoder's pre-skip). Not part of the announced tracks.
pub const BRIDGED_OPUS_TRACK: u32 = 3;

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

/// The shared AAC → Opus transcoder and what it needs to start.
#[derive(Debug, Default)]
struct OpusBridge {
    /// The AAC track of the current tracks, if the audio is AAC.
    source: Option<AudioSpecificConfig>,
    transcoder: Option<AacToOpus>,
    /// Why this source cannot be bridged (said once per track description).
    refused: bool,
}

#[derive(Debug)]
pub struct Fanout {
    tx: broadcast::Sender<FanoutEvent>,
    gop: Mutex<GopCache>,
    opus_listeners: AtomicUsize,
    bridge: Mutex<OpusBridge>,
}

/// Keeps the Opus bridge running while held (see [`Fanout::listen_opus`]).
#[derive(Debug)]
pub struct OpusListener<'a> {
    fanout: &'a Fanout,
}

impl Drop for OpusListener<'_> {
    fn drop(&mut self) {
        self.fanout.opus_listeners.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Default for Fanout {
    fn default() -> Self {
        Self::new()
    }
}

impl Fanout {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(FANOUT_CAPACITY);
        Self {
            tx,
            gop: Mutex::new(GopCache::default()),
            opus_listeners: AtomicUsize::new(0),
            bridge: Mutex::new(OpusBridge::default()),
        }
    }

    /// Sends one event to every reader, followed by the Opus packets its AAC frame became when
    /// someone listens for Opus.
    pub fn send(&self, event: FanoutEvent) {
        let bridged = self.bridge(&event);
        self.deliver(event);
        for au in bridged {
            self.deliver(FanoutEvent::Frame(au));
        }
    }

    /// Asks for the source's AAC audio as Opus on [`BRIDGED_OPUS_TRACK`] until the returned
    /// guard is dropped. The transcoder starts with the next AAC frame.
    pub fn listen_opus(&self) -> OpusListener<'_> {
        self.opus_listeners.fetch_add(1, Ordering::Relaxed);
        OpusListener { fanout: self }
    }

    /// Whether an AAC → Opus transcode is running for this channel.
    pub fn transcoding(&self) -> bool {
        self.bridge.lock().is_ok_and(|b| b.transcoder.is_some())
    }

    fn bridge(&self, event: &FanoutEvent) -> Vec<AccessUnit> {
        let Ok(mut bridge) = self.bridge.lock() else { return Vec::new() };
        match event {
            FanoutEvent::Tracks(tracks) => {
                let source = tracks.iter().find_map(|t| match &t.codec {
                    CodecConfig::Aac(asc) if t.id == AUDIO_TRACK => Some(asc.clone()),
                    _ => None,
                });
                if source != bridge.source {
                    *bridge = OpusBridge { source, ..OpusBridge::default() };
                }
                Vec::new()
            }
            FanoutEvent::Ended => {
                bridge.transcoder = None;
                Vec::new()
            }
            FanoutEvent::Frame(au) if au.track == AUDIO_TRACK => {
                if self.opus_listeners.load(Ordering::Relaxed) == 0 {
                    bridge.transcoder = None;
                    return Vec::new();
                }
                bridge.transcode(au)
            }
            FanoutEvent::Frame(_) => Vec::new(),
        }
    }

    fn deliver(&self, event: FanoutEvent) {
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

    /// The video frames of the GOP cache (from the last keyframe), empty when it is unusable.
    pub fn gop_video(&self) -> Vec<AccessUnit> {
        let Ok(gop) = self.gop.lock() else { return Vec::new() };
        if !gop.usable {
            return Vec::new();
        }
        gop.frames.iter().filter(|a| a.track == sluice_media::track::VIDEO_TRACK).cloned().collect()
    }

    pub fn readers(&self) -> usize {
        self.tx.receiver_count()
    }
}

impl OpusBridge {
    fn transcode(&mut self, au: &AccessUnit) -> Vec<AccessUnit> {
        let Some(source) = self.source.as_ref() else { return Vec::new() };
        if self.transcoder.is_none() && !self.refused {
            match AacToOpus::new(source) {
                Ok(t) => {
                    tracing::debug!(?t, "AAC → Opus bridge started");
                    self.transcoder = Some(t);
                }
                Err(e) => {
                    tracing::warn!(
                        "WebRTC viewers get no audio: this AAC cannot be turned into Opus ({e}); send AAC-LC mono or stereo"
                    );
                    self.refused = true;
                }
            }
        }
        let Some(transcoder) = self.transcoder.as_mut() else { return Vec::new() };
        // A frame the decoder rejects is counted by the transcoder and its time filled.
        let _ = transcoder.push(au);
        // A packet stamped t decodes to audio that belongs at t − pre-skip.
        let pre_skip = i64::from(transcoder.pre_skip());
        std::iter::from_fn(|| transcoder.poll_output())
            .map(|p| AccessUnit {
                track: BRIDGED_OPUS_TRACK,
                dts: p.pts_48k - pre_skip,
                pts: p.pts_48k - pre_skip,
                keyframe: true,
                data: p.data,
            })
            .collect()
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

    /// The capture's tracks and AAC frames.
    fn aac_source() -> (Vec<TrackInfo>, Vec<AccessUnit>) {
        use sluice_media::demux::flv::{Event, FlvDemuxer, FlvFileReader};
        static BASELINE: &[u8] = include_bytes!("../../testdata/ffmpeg-x264-aac-baseline.flv");
        let mut demux = FlvDemuxer::new();
        let (mut tracks, mut frames) = (Vec::new(), Vec::new());
        for tag in FlvFileReader::new(Bytes::from_static(BASELINE)).expect("valid flv") {
            demux.push(tag.expect("valid tag"));
            while let Some(ev) = demux.poll_event() {
                match ev {
                    Event::Track(t) => tracks.push(t),
                    Event::Frame(au) if au.track == AUDIO_TRACK => frames.push(au),
                    _ => {}
                }
            }
        }
        (tracks, frames)
    }

    fn tracks_rate(f: &Fanout) -> u32 {
        let gop = f.gop.lock().expect("lock");
        let tracks = gop.tracks.as_ref().expect("tracks");
        tracks.iter().find(|t| t.kind == MediaKind::Audio).expect("audio").timescale
    }

    fn bridged(rx: &mut broadcast::Receiver<FanoutEvent>) -> Vec<AccessUnit> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .filter_map(|e| match e {
                FanoutEvent::Frame(au) if au.track == BRIDGED_OPUS_TRACK => Some(au),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn aac_becomes_opus_once_for_all_listeners_and_only_while_someone_listens() {
        let (tracks, frames) = aac_source();
        let f = Fanout::new();
        f.send(FanoutEvent::Tracks(Arc::new(tracks)));
        let (_, mut rx) = f.subscribe();
        let (first, rest) = frames.split_at(frames.len() / 2);
        for au in first {
            f.send(FanoutEvent::Frame(au.clone()));
        }
        assert!(bridged(&mut rx).is_empty() && !f.transcoding(), "nobody listens: no transcode");
        let (a, b) = (f.listen_opus(), f.listen_opus());
        for au in rest {
            f.send(FanoutEvent::Frame(au.clone()));
        }
        assert!(f.transcoding());
        let opus = bridged(&mut rx);
        // ~1.5 s of 20 ms packets, once (two listeners, one transcoder), in time order.
        assert!((60..=80).contains(&opus.len()), "{} packets", opus.len());
        assert!(opus.windows(2).all(|w| w[1].pts - w[0].pts == 960), "20 ms apart at 48 kHz");
        let first_aac_48k = rest[0].pts * 48_000 / i64::from(tracks_rate(&f));
        assert!((opus[0].pts - first_aac_48k).abs() <= 960, "Opus on the AAC timeline");
        drop((a, b));
        f.send(FanoutEvent::Frame(rest[0].clone()));
        assert!(!f.transcoding(), "the last listener left: the transcoder stops");
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
