//! WebRTC bridge: WHIP ingest (RFC 9725) and WHEP playback (draft-ietf-wish-whep) over str0m.
//!
//! Each session owns one str0m `Rtc` (sans-IO) and one UDP socket bound on the address the
//! browser reached us by, driven by one task on the worker that answered the POST. WHEP
//! sessions read the channel's fanout (access units on the channel timeline, from the last
//! keyframe); WHIP sessions feed a channel's pipeline like any other ingest.
//!
//! The HTTP side (status codes, Location, ETag, PATCH/DELETE, CORS) is in [`http`].

pub mod http;
mod rtc;
mod whep;
mod whip;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// What a session serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Whip,
    Whep,
}

impl Kind {
    pub fn path(self) -> &'static str {
        match self {
            Kind::Whip => "whip",
            Kind::Whep => "whep",
        }
    }
}

/// Requests from the HTTP side to a running session.
#[derive(Debug)]
pub enum Command {
    /// Trickled ICE candidates (`a=candidate:` lines of an sdpfrag).
    Trickle(Vec<String>),
    /// DELETE: end the session now.
    Close,
}

#[derive(Debug)]
pub struct SessionHandle {
    pub channel: String,
    pub kind: Kind,
    pub etag: String,
    pub commands: mpsc::Sender<Command>,
}

/// Live sessions by id, for PATCH and DELETE. Bounded by `max`.
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<HashMap<String, SessionHandle>>,
    max: usize,
    next: AtomicU64,
    config: rtc::RtcFactory,
    /// Playout delay asked of WHEP viewers, ms (`None`: the browser decides).
    pub playout_delay_ms: Option<u32>,
}

impl Sessions {
    pub fn new(max: usize, playout_delay_ms: Option<u32>) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            max,
            next: AtomicU64::new(1),
            config: rtc::RtcFactory::new(),
            playout_delay_ms,
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// Live sessions of one kind.
    pub fn count(&self, kind: Kind) -> usize {
        self.map.lock().map_or(0, |m| m.values().filter(|h| h.kind == kind).count())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn new_id(&self) -> String {
        // Unguessable enough for a resource URL: a counter mixed with randomness.
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{n:x}{:016x}", rtc::random_u64())
    }

    fn insert(&self, id: String, handle: SessionHandle) -> bool {
        let Ok(mut map) = self.map.lock() else { return false };
        if map.len() >= self.max {
            return false;
        }
        map.insert(id, handle);
        true
    }

    fn remove(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }

    fn with<T>(&self, id: &str, f: impl FnOnce(&SessionHandle) -> T) -> Option<T> {
        self.map.lock().ok()?.get(id).map(f)
    }
}
