//! LL-HLS egress: serves playlists, init segments, parts and segments from hub snapshots.
//!
//! Blocking requests (`_HLS_msn`/`_HLS_part`, the preload-hinted part, a segment still being
//! produced) wait on the channel's `watch` and are answered the moment the snapshot that
//! satisfies them is published — no polling, no timers except the 503 deadline.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use sluice_hls::{CacheKind, Decision, Directives, Resource};
use sluice_media::MediaKind;
use tokio::time::Instant;

use crate::egress::body::Chunks;
use crate::egress::response::{Resp, cache, error, with_body};
use crate::hub::{Channel, ChannelSnapshot, Hub, Rendered};

/// How long a request for a channel's first playlist waits for the stream to become playable.
pub(crate) const STARTUP_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub tail: &'a str,
    pub query: &'a str,
    pub accepts_gzip: bool,
}

pub async fn handle(hub: &Arc<Hub>, channel: Arc<Channel>, req: RequestInfo<'_>) -> Resp {
    let resource = match sluice_hls::parse_resource(req.tail) {
        Ok(r) => r,
        Err(e) => {
            let mut r = error(StatusCode::NOT_FOUND, format!("no such LL-HLS resource: {e}"));
            let td = channel.snapshot().target_duration.unwrap_or(1);
            cache(&mut r, &sluice_hls::cache_control(CacheKind::MediaError, td));
            return r;
        }
    };
    let mut resp = match resource {
        Resource::Multivariant => multivariant(hub, &channel, req).await,
        Resource::MediaPlaylist { rendition } => {
            media_playlist(hub, &channel, rendition, req).await
        }
        Resource::Init { rendition, version } => {
            let snap = channel.snapshot();
            match snap.track(rendition).and_then(|t| t.ring.init(version)) {
                Some(init) => media(rendition, Chunks::from(init.data.clone()), CacheKind::Media),
                None => error(StatusCode::NOT_FOUND, "no such init segment"),
            }
        }
        Resource::Part { rendition, msn, part } => {
            part_request(hub, &channel, rendition, msn, part).await
        }
        Resource::Segment { rendition, msn } => {
            segment_request(hub, &channel, rendition, msn).await
        }
    };
    // HLS App. B.1: errors are cached too, briefly (one TD for media and plain playlists, four
    // for blocking playlist requests), so a CDN shields the origin from repeated misses.
    if matches!(resp.status(), StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST) {
        let kind = match resource {
            Resource::Multivariant | Resource::MediaPlaylist { .. }
                if req.query.contains("_HLS_msn") =>
            {
                CacheKind::BlockingPlaylistError
            }
            Resource::Multivariant | Resource::MediaPlaylist { .. } => CacheKind::PlaylistError,
            _ => CacheKind::MediaError,
        };
        let td = channel.snapshot().target_duration.unwrap_or(1);
        cache(&mut resp, &sluice_hls::cache_control(kind, td));
    }
    resp
}

pub(crate) fn media(rendition: &str, body: Chunks, kind: CacheKind) -> Resp {
    let media_kind = if rendition == "audio" { MediaKind::Audio } else { MediaKind::Video };
    let mut r = with_body(StatusCode::OK, sluice_hls::media_content_type(media_kind), body);
    cache(&mut r, &sluice_hls::cache_control(kind, 1));
    r
}

pub(crate) fn playlist(doc: &Rendered, gzip: bool, kind: CacheKind, td: u32) -> Resp {
    let body = if gzip { doc.gzip().clone() } else { doc.plain.clone() };
    let mut r = with_body(StatusCode::OK, sluice_hls::PLAYLIST_CONTENT_TYPE, body);
    if gzip {
        r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    cache(&mut r, &sluice_hls::cache_control(kind, td));
    r
}

/// Waits until `check` yields a value for the newest snapshot, or the deadline passes.
pub(crate) async fn wait_for<T>(
    channel: &Channel,
    deadline: Instant,
    mut check: impl FnMut(&Arc<ChannelSnapshot>) -> Option<T>,
) -> Option<T> {
    let mut rx = channel.subscribe();
    loop {
        let snap = rx.borrow_and_update().clone();
        if let Some(v) = check(&snap) {
            return Some(v);
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { return None },
            _ = tokio::time::sleep_until(deadline) => return check(&rx.borrow().clone()),
        }
    }
}

async fn multivariant(hub: &Arc<Hub>, channel: &Channel, req: RequestInfo<'_>) -> Resp {
    let snap = channel.snapshot();
    let snap = if snap.ready() {
        snap
    } else {
        let Some(_held) = hub.hold() else {
            return busy();
        };
        match wait_for(channel, Instant::now() + STARTUP_WAIT, |s| s.ready().then(|| s.clone()))
            .await
        {
            Some(s) => s,
            None => {
                return error(StatusCode::NOT_FOUND, format!("{} is not live yet", channel.id));
            }
        }
    };
    let (Some(doc), Some(td)) = (snap.multivariant.as_ref(), snap.target_duration) else {
        return error(StatusCode::NOT_FOUND, "not live");
    };
    playlist(doc, req.accepts_gzip, CacheKind::Playlist, td)
}

async fn media_playlist(
    hub: &Arc<Hub>,
    channel: &Channel,
    rendition: &str,
    req: RequestInfo<'_>,
) -> Resp {
    let directives = match Directives::parse(req.query) {
        Ok(d) => d,
        Err(e) => {
            hub.counters.http_bad_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return error(StatusCode::BAD_REQUEST, format!("bad delivery directive: {e}"));
        }
    };
    let start = Instant::now();
    let mut held = None;
    let mut rx = channel.subscribe();
    loop {
        let snap = rx.borrow_and_update().clone();
        let Some(td) = snap.target_duration else {
            return error(StatusCode::NOT_FOUND, format!("{} is not live yet", channel.id));
        };
        let Some(track) = snap.track(rendition) else {
            return error(StatusCode::NOT_FOUND, format!("no rendition {rendition:?}"));
        };
        let held_ms = start.elapsed().as_millis() as u64;
        match sluice_hls::decide(&directives, &track.ring, held_ms, td, snap.part_target_s, false) {
            Decision::Ready => {
                if held.is_some() {
                    observe_release(hub, &snap);
                }
                let doc =
                    if directives.wants_delta(false) { &track.delta } else { &track.playlist };
                let kind = if directives.is_blocking() {
                    CacheKind::BlockingPlaylist
                } else {
                    CacheKind::Playlist
                };
                return playlist(doc, req.accepts_gzip, kind, td);
            }
            Decision::BadRequest(reason) => {
                hub.counters.http_bad_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return error(StatusCode::BAD_REQUEST, reason);
            }
            Decision::Unavailable => {
                hub.counters.held_timeouts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut r = error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the requested part did not arrive in time (is the publisher still sending?)",
                );
                cache(&mut r, &sluice_hls::cache_control(CacheKind::BlockingPlaylistError, td));
                return r;
            }
            Decision::Wait => {
                if held.is_none() {
                    held = Some(match hub.hold() {
                        Some(h) => h,
                        None => return busy(),
                    });
                }
                let deadline = start + Duration::from_millis(sluice_hls::block_limit_ms(td) + 1);
                tokio::select! {
                    changed = rx.changed() => if changed.is_err() {
                        return error(StatusCode::NOT_FOUND, "channel removed");
                    },
                    _ = tokio::time::sleep_until(deadline) => {}
                }
            }
        }
    }
}

/// Whether (msn, part) is what the playlist's preload hint points at (or the first part of the
/// next segment): requests for it are held until it exists (HLS §6.2.6).
fn is_next_part(snap: &ChannelSnapshot, rendition: &str, msn: u64, part: u32) -> bool {
    let Some(track) = snap.track(rendition) else {
        return false;
    };
    match track.ring.last_position() {
        Some(last) => {
            let open = track.ring.open_segment().is_some_and(|s| s.msn == last.msn);
            (open && msn == last.msn && part == last.part + 1) || (msn == last.msn + 1 && part == 0)
        }
        None => false,
    }
}

async fn part_request(
    hub: &Arc<Hub>,
    channel: &Channel,
    rendition: &str,
    msn: u64,
    part: u32,
) -> Resp {
    let snap = channel.snapshot();
    let found = |s: &Arc<ChannelSnapshot>| {
        s.track(rendition).and_then(|t| t.ring.part(msn, part)).map(|p| p.data.clone())
    };
    if let Some(data) = found(&snap) {
        return media(rendition, data.into(), CacheKind::Media);
    }
    if !is_next_part(&snap, rendition, msn, part) {
        return error(StatusCode::NOT_FOUND, "no such part (not published and not the next one)");
    }
    let Some(_held) = hub.hold() else {
        return busy();
    };
    let td = snap.target_duration.unwrap_or(2);
    let deadline = Instant::now() + Duration::from_millis(sluice_hls::block_limit_ms(td));
    // Give up early when the hint is abandoned (the segment ended before this part existed).
    let result = wait_for(channel, deadline, |s| match found(s) {
        Some(d) => Some(Some(d)),
        None if is_next_part(s, rendition, msn, part) => None,
        None => Some(None),
    })
    .await;
    match result {
        Some(Some(data)) => {
            observe_release(hub, &channel.snapshot());
            media(rendition, data.into(), CacheKind::Media)
        }
        _ => error(StatusCode::NOT_FOUND, "the hinted part was not produced"),
    }
}

async fn segment_request(hub: &Arc<Hub>, channel: &Channel, rendition: &str, msn: u64) -> Resp {
    let complete = |s: &Arc<ChannelSnapshot>| {
        let seg = s.track(rendition)?.ring.segment(msn)?;
        seg.complete.then(|| Chunks::new(seg.chunks().cloned()))
    };
    let snap = channel.snapshot();
    if let Some(body) = complete(&snap) {
        return media(rendition, body, CacheKind::Media);
    }
    let in_progress =
        snap.track(rendition).and_then(|t| t.ring.open_segment()).is_some_and(|s| s.msn == msn);
    if !in_progress {
        return error(StatusCode::NOT_FOUND, "no such segment");
    }
    let Some(_held) = hub.hold() else {
        return busy();
    };
    let td = snap.target_duration.unwrap_or(2);
    let deadline = Instant::now() + Duration::from_millis(sluice_hls::block_limit_ms(td));
    match wait_for(channel, deadline, complete).await {
        Some(body) => media(rendition, body, CacheKind::Media),
        None => error(StatusCode::NOT_FOUND, "the segment did not complete"),
    }
}

/// Records how long after the satisfying snapshot was published a held request got its answer.
fn observe_release(hub: &Hub, snap: &ChannelSnapshot) {
    if let Some(at) = snap.published_at {
        hub.counters.release_latency.observe(at.elapsed());
    }
}

pub(crate) fn busy() -> Resp {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "too many held requests; retry shortly");
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}
