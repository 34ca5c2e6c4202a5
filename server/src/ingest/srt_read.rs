//! SRT playback: a reader (`m=request` / `read:`) receives the channel as MPEG-TS, starting at
//! the next keyframe, in 1316-byte payloads (seven TS packets, what SRT callers expect).
//!
//! Not from the GOP cache: a second of video sent in one burst overflows the reader's UDP
//! receive buffer (libsrt then drops the whole burst as too late), and a relay is better off
//! starting at live latency than a GOP behind.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::SinkExt;
use sluice_media::TrackInfo;
use sluice_media::mux::ts::{TsMuxer, TsMuxerConfig};
use sluice_media::track::VIDEO_TRACK;
use srt_tokio::SrtSocket;
use tokio::sync::broadcast::error::RecvError;

use crate::fanout::FanoutEvent;
use crate::hub::Channel;

/// Seven 188-byte TS packets: the SRT live-mode payload size.
const PAYLOAD: usize = 7 * 188;
/// A reader that cannot take data for this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn serve_reader(mut socket: SrtSocket, channel: Arc<Channel>, peer: SocketAddr) {
    let since = Instant::now();
    let (start, mut rx) = channel.fanout.subscribe();
    let mut reader = Reader::default();
    let mut out = BytesMut::new();
    for ev in start.iter().filter(|ev| matches!(ev, FanoutEvent::Tracks(_))) {
        reader.handle(ev, &mut out);
    }
    let ended = loop {
        if let Err(e) = flush(&mut socket, &mut out).await {
            break e;
        }
        match rx.recv().await {
            Ok(ev) => reader.handle(&ev, &mut out),
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(%peer, "SRT reader of {} fell {n} frames behind; resuming at the next keyframe", channel.id);
                reader.wait_for_keyframe = true;
            }
            Err(RecvError::Closed) => break "the channel was removed".to_owned(),
        }
    };
    tracing::info!(%peer, "SRT reader of {} left after {:.1} s: {ended}", channel.id, since.elapsed().as_secs_f64());
    let _ = socket.close_and_finish().await;
}

async fn flush(socket: &mut SrtSocket, out: &mut BytesMut) -> Result<(), String> {
    while out.len() >= PAYLOAD {
        let chunk = out.split_to(PAYLOAD).freeze();
        match tokio::time::timeout(SEND_TIMEOUT, socket.send((Instant::now(), chunk))).await {
            Err(_) => return Err(format!("not reading for {} s", SEND_TIMEOUT.as_secs())),
            Ok(Err(e)) => return Err(format!("connection error: {e}")),
            Ok(Ok(())) => {}
        }
    }
    Ok(())
}

/// Turns fanout events into TS bytes for one reader.
#[derive(Debug, Default)]
struct Reader {
    muxer: Option<TsMuxer>,
    tracks: Option<Arc<Vec<TrackInfo>>>,
    /// After a lag or a new session: skip video until a keyframe.
    wait_for_keyframe: bool,
}

impl Reader {
    fn handle(&mut self, ev: &FanoutEvent, out: &mut BytesMut) {
        match ev {
            FanoutEvent::Tracks(tracks) => {
                if self.tracks.as_ref() != Some(tracks) {
                    let changed = match self.muxer.as_mut() {
                        Some(m) => m.set_tracks(tracks, out).map(|_| ()),
                        None => TsMuxer::with_config(tracks, TsMuxerConfig::STREAMING)
                            .map(|m| self.muxer = Some(m)),
                    };
                    if let Err(e) = changed {
                        tracing::warn!("SRT playback cannot carry these tracks: {e}");
                        self.muxer = None;
                    }
                    self.tracks = Some(tracks.clone());
                }
                self.wait_for_keyframe = tracks.iter().any(|t| t.id == VIDEO_TRACK);
            }
            FanoutEvent::Frame(au) => {
                // Only the announced tracks (not the Opus the fanout makes for WebRTC).
                if !self.tracks.as_ref().is_some_and(|t| t.iter().any(|t| t.id == au.track)) {
                    return;
                }
                if self.wait_for_keyframe {
                    if !(au.track == VIDEO_TRACK && au.keyframe) {
                        return;
                    }
                    self.wait_for_keyframe = false;
                }
                if let Some(m) = self.muxer.as_mut()
                    && let Err(e) = m.push(au, out)
                {
                    tracing::debug!("SRT playback skipped a frame: {e}");
                }
            }
            FanoutEvent::Ended => self.wait_for_keyframe = true,
        }
    }
}
