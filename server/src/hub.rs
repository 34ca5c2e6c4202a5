//! The hub: every channel's latest published state, and the wake-up for requests waiting on it.
//!
//! The pipeline (writer) publishes an immutable [`ChannelSnapshot`] after each change through a
//! `tokio::sync::watch`; egress (readers, on any worker) borrow the newest snapshot and serve its
//! pre-rendered `Bytes`. Nothing on the serving path takes the pipeline's lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use bytes::Bytes;
use sluice_media::TrackInfo;
use sluice_media::ring::TrackRing;
use tokio::sync::watch;

use crate::pipeline::{Pipeline, PipelineConfig};

/// Names of groups and channels: what may appear in URLs and stream keys.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.')
}

/// Groups that create channels on first publish. Issue 2 has only the default group.
const OPEN_GROUPS: &[&str] = &["live"];

/// A rendered document and, computed on first request, its gzip form.
#[derive(Debug, Default)]
pub struct Rendered {
    pub plain: Bytes,
    gzip: OnceLock<Bytes>,
}

impl Rendered {
    pub fn new(plain: Bytes) -> Self {
        Self { plain, gzip: OnceLock::new() }
    }

    /// The gzip-encoded body, compressed once per snapshot however many viewers ask.
    pub fn gzip(&self) -> &Bytes {
        self.gzip.get_or_init(|| {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(self.plain.len() / 3),
                flate2::Compression::fast(),
            );
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(&self.plain);
            Bytes::from(enc.finish().unwrap_or_default())
        })
    }
}

/// One track as egress sees it.
#[derive(Debug)]
pub struct TrackView {
    /// `video` or `audio`: the rendition name in URLs.
    pub name: &'static str,
    pub info: TrackInfo,
    pub ring: TrackRing,
    pub playlist: Rendered,
    /// Playlist delta update (`_HLS_skip=YES`).
    pub delta: Rendered,
}

/// The HLS-TS endpoint as egress sees it.
#[derive(Debug)]
pub struct TsView {
    /// [`crate::pipeline::TsSegments::version`] and liveness it was rendered for.
    pub version: (u64, bool),
    pub multivariant: Rendered,
    pub playlist: Rendered,
    pub target_duration: u32,
    pub segments: Vec<Arc<crate::pipeline::TsSegment>>,
}

impl TsView {
    pub fn segment(&self, msn: u64) -> Option<&Arc<crate::pipeline::TsSegment>> {
        let first = self.segments.first()?.msn;
        self.segments.get(usize::try_from(msn.checked_sub(first)?).ok()?).filter(|s| s.msn == msn)
    }
}

/// Everything egress needs about a channel at one instant.
#[derive(Debug, Default)]
pub struct ChannelSnapshot {
    /// A publisher is connected.
    pub live: bool,
    /// Set once the first segment completed; playlists exist only from then on.
    pub target_duration: Option<u32>,
    pub part_target_s: f64,
    pub video: Option<TrackView>,
    pub audio: Option<TrackView>,
    pub multivariant: Option<Rendered>,
    /// The HLS-TS endpoint, once its first segment exists.
    pub ts: Option<Arc<TsView>>,
    /// Human-readable description of the current stream (for logs and the API).
    pub summary: String,
    /// SCTE-35 cues kept on the channel timeline, and the newest one described.
    pub cues: usize,
    pub last_cue: Option<String>,
    /// Publisher diagnostics (what the streamer could fix), said once in the log when new.
    pub findings: Vec<crate::pipeline::diagnostics::Finding>,
    /// Wall-clock of media time 0 on the channel timeline (LL-DASH availabilityStartTime).
    pub timeline_epoch_ms: Option<i64>,
    /// When the pipeline published this snapshot (held requests measure their release from it).
    pub published_at: Option<std::time::Instant>,
}

impl ChannelSnapshot {
    pub fn track(&self, name: &str) -> Option<&TrackView> {
        match name {
            "video" => self.video.as_ref(),
            "audio" => self.audio.as_ref(),
            _ => None,
        }
    }

    /// Playable: playlists have been rendered.
    pub fn ready(&self) -> bool {
        self.multivariant.is_some()
    }
}

#[derive(Debug)]
pub struct Channel {
    pub group: String,
    pub name: String,
    pub id: String,
    publishing: AtomicBool,
    pub(crate) pipeline: Mutex<Pipeline>,
    state: watch::Sender<Arc<ChannelSnapshot>>,
    /// Live access units for SRT playback (and WHEP).
    pub fanout: crate::fanout::Fanout,
    /// A viewer lost the picture (WebRTC PLI/FIR): publishers that can make a keyframe on
    /// request (WHIP) listen here.
    pub keyframe_wanted: tokio::sync::Notify,
    /// LL-DASH Periods as first published (their id, start and addressing never change) and the
    /// last MPD's publishTime.
    pub dash: Mutex<crate::egress::dash::MpdMemory>,
}

impl Channel {
    pub fn snapshot(&self) -> Arc<ChannelSnapshot> {
        self.state.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<ChannelSnapshot>> {
        self.state.subscribe()
    }

    pub(crate) fn publish(&self, snapshot: ChannelSnapshot) {
        self.state.send_replace(Arc::new(snapshot));
    }

    pub fn is_publishing(&self) -> bool {
        self.publishing.load(Ordering::Acquire)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PublishError {
    #[error("invalid name {0:?}: use 1-64 letters, digits, '-', '_' or '.'")]
    BadName(String),
    #[error("group {0:?} does not exist (publish to live/<channel>)")]
    UnknownGroup(String),
    #[error("channel {0} already has a publisher")]
    AlreadyPublishing(String),
    #[error("channel limit reached ({0})")]
    TooManyChannels(usize),
}

/// Server-wide counters (rendered by `metrics`).
#[derive(Debug, Default)]
pub struct Counters {
    pub rtmp_connections: AtomicU64,
    pub rtmp_rejected: AtomicU64,
    pub srt_rejected: AtomicU64,
    /// SRT connections accepted (publishers and readers).
    pub srt_connections: AtomicU64,
    /// MPEG-TS packets lost or out of order on ingest (continuity-counter errors).
    pub ts_continuity_errors: AtomicU64,
    pub ingest_bytes: AtomicU64,
    pub frames_dropped: AtomicU64,
    pub parts_published: AtomicU64,
    pub http_requests: AtomicU64,
    pub http_bad_requests: AtomicU64,
    pub held_timeouts: AtomicU64,
    /// HTTP/3 (QUIC) connections accepted, and those open now.
    pub http3_connections: AtomicU64,
    pub http3_open: AtomicU64,
    /// Part published → held request answered.
    pub release_latency: crate::metrics::Histogram,
}

#[derive(Debug)]
pub struct Hub {
    channels: RwLock<HashMap<String, Arc<Channel>>>,
    pub pipeline: PipelineConfig,
    pub playlist_segments: usize,
    pub max_channels: usize,
    pub max_held_requests: usize,
    held: AtomicUsize,
    pub counters: Counters,
}

impl Hub {
    pub fn new(
        pipeline: PipelineConfig,
        playlist_segments: usize,
        max_channels: usize,
        max_held_requests: usize,
    ) -> Self {
        Self {
            channels: RwLock::new(HashMap::new()),
            pipeline,
            playlist_segments,
            max_channels,
            max_held_requests,
            held: AtomicUsize::new(0),
            counters: Counters::default(),
        }
    }

    pub fn channel(&self, group: &str, name: &str) -> Option<Arc<Channel>> {
        let key = format!("{group}/{name}");
        self.channels.read().ok()?.get(&key).cloned()
    }

    pub fn channels(&self) -> Vec<Arc<Channel>> {
        let mut v: Vec<_> =
            self.channels.read().map(|m| m.values().cloned().collect()).unwrap_or_default();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Claims the channel for one publisher, creating it if its group allows.
    pub fn begin_publish(
        self: &Arc<Self>,
        group: &str,
        name: &str,
    ) -> Result<PublishGuard, PublishError> {
        for n in [group, name] {
            if !valid_name(n) {
                return Err(PublishError::BadName(n.to_owned()));
            }
        }
        let id = format!("{group}/{name}");
        let channel = {
            let mut map = self.channels.write().map_err(|_| PublishError::TooManyChannels(0))?;
            match map.get(&id) {
                Some(c) => c.clone(),
                None => {
                    if !OPEN_GROUPS.contains(&group) {
                        return Err(PublishError::UnknownGroup(group.to_owned()));
                    }
                    if map.len() >= self.max_channels {
                        return Err(PublishError::TooManyChannels(self.max_channels));
                    }
                    let (state, _) = watch::channel(Arc::new(ChannelSnapshot::default()));
                    let c = Arc::new(Channel {
                        group: group.to_owned(),
                        name: name.to_owned(),
                        id: id.clone(),
                        publishing: AtomicBool::new(false),
                        pipeline: Mutex::new(Pipeline::new(self.pipeline)),
                        state,
                        fanout: crate::fanout::Fanout::new(),
                        keyframe_wanted: tokio::sync::Notify::new(),
                        dash: Mutex::default(),
                    });
                    map.insert(id.clone(), c.clone());
                    c
                }
            }
        };
        if channel.publishing.swap(true, Ordering::AcqRel) {
            return Err(PublishError::AlreadyPublishing(id));
        }
        if let Ok(mut p) = channel.pipeline.lock() {
            p.begin_session();
        }
        Ok(PublishGuard { hub: self.clone(), channel })
    }

    /// Counts a held (blocking) request; `None` when the server-wide limit is reached.
    pub fn hold(self: &Arc<Self>) -> Option<HeldGuard> {
        let prev = self.held.fetch_add(1, Ordering::AcqRel);
        if prev >= self.max_held_requests {
            self.held.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(HeldGuard { hub: self.clone() })
    }

    pub fn held_requests(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

/// Releases a held-request slot when dropped.
#[derive(Debug)]
pub struct HeldGuard {
    hub: Arc<Hub>,
}

impl Drop for HeldGuard {
    fn drop(&mut self) {
        self.hub.held.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A publisher's claim on a channel. Feeding media goes through it; dropping it ends the
/// session (the channel stays, so viewers keep their playlist across a reconnect).
#[derive(Debug)]
pub struct PublishGuard {
    pub hub: Arc<Hub>,
    pub channel: Arc<Channel>,
}

impl Drop for PublishGuard {
    fn drop(&mut self) {
        crate::publish::end_session(&self.hub, &self.channel);
        self.channel.publishing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(valid_name("cam1"));
        assert!(valid_name("my-cam_2.hd"));
        assert!(!valid_name(""));
        assert!(!valid_name("../x"));
        assert!(!valid_name(".hidden"));
        assert!(!valid_name(&"a".repeat(65)));
    }
}
