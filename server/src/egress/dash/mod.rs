//! LL-DASH egress (`/{group}/{channel}/dash/…`): the MPD, init segments and segments, from the
//! same CMAF rings as LL-HLS.
//!
//! A segment still being produced is answered at once with the parts it has, then each part
//! the moment it lands (chunked transfer / HTTP/2 DATA frames), ending when the segment
//! closes. The next segment, not started yet, is held until its first part is out and the MPD's
//! availability time has come (players ask for it a part after its nominal start; encoders are
//! not that punctual). Anything else that does not exist is 404, cached for a second.
//!
//! The MPD addresses media per Period (`p13/video/$Number$.m4s`): segment numbers continue
//! across a publisher reconnect, so without the Period in the URL a player still in the old
//! Period asking for "the next segment" would be handed the first segment of the new one and
//! splice it onto the old timeline. A Period-scoped request for a segment of another Period is
//! 404, which sends the player back to the MPD. `video/N.m4s` (any Period) stays for tools.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use sluice_hls::CacheKind;
use tokio::time::Instant;

use crate::egress::body::{Chunks, LiveTail};
use crate::egress::hls::{STARTUP_WAIT, busy, wait_for};
use crate::egress::response::{Resp, cache, error, with_body};
use crate::hub::{Channel, ChannelSnapshot, HeldGuard, Hub};

mod mpd;

pub use mpd::MpdMemory;

/// How long past its nominal start the next segment is waited for.
const NEXT_SEGMENT_GRACE: Duration = Duration::from_millis(500);
/// How long a request for the next segment waits while the publisher is away (a reconnecting
/// encoder is usually back within a few seconds). It then gets 404, never the new Period's
/// first segment; a 404 sooner would only be retried at once, over and over.
const PUBLISHER_RETURN_WAIT: Duration = Duration::from_secs(5);

/// One LL-DASH request: the path below `dash/`, the origin for absolute URLs in the MPD
/// (`http://host:port`), and the MPD's conditional-GET validator.
#[derive(Debug, Clone, Copy)]
pub struct DashRequest<'a> {
    pub tail: &'a str,
    pub origin: &'a str,
    pub if_none_match: Option<&'a str>,
}

pub async fn handle(hub: &Arc<Hub>, channel: Arc<Channel>, req: DashRequest<'_>) -> Resp {
    let mut resp = match req.tail {
        "index.mpd" => mpd(hub, &channel, req.origin, req.if_none_match).await,
        _ => match parse_media(req.tail) {
            Some((_, rendition, Media::Init(version))) => {
                let snap = channel.snapshot();
                match snap.track(rendition).and_then(|t| t.ring.init(version)) {
                    Some(init) => media(rendition, Chunks::from(init.data.clone()), true),
                    None => error(StatusCode::NOT_FOUND, "no such init segment"),
                }
            }
            Some((period, rendition, Media::Segment(number))) => {
                segment(hub, &channel, period, rendition, number).await
            }
            None => error(
                StatusCode::NOT_FOUND,
                "no such LL-DASH resource (index.mpd, {video|audio}/init-N.mp4, [pN/]{video|audio}/N.m4s)",
            ),
        },
    };
    if resp.status() == StatusCode::NOT_FOUND {
        // Not yet available (or gone): a CDN may remember that briefly, not longer.
        cache(&mut resp, "max-age=1");
    }
    resp
}

enum Media {
    Init(u32),
    Segment(u64),
}

/// `[pN/]{video|audio}/{init-V.mp4|N.m4s}`: the optional Period id, the track, the resource.
fn parse_media(tail: &str) -> Option<(Option<&str>, &'static str, Media)> {
    let (period, tail) = match tail.split_once('/') {
        Some((p, rest)) if is_period_id(p) => (Some(p), rest),
        _ => (None, tail),
    };
    let (rendition, file) = tail.split_once('/')?;
    let rendition = match rendition {
        "video" => "video",
        "audio" => "audio",
        _ => return None,
    };
    if let Some(v) = file.strip_prefix("init-").and_then(|f| f.strip_suffix(".mp4")) {
        return Some((period, rendition, Media::Init(v.parse().ok()?)));
    }
    let n = file.strip_suffix(".m4s")?;
    if !is_number(n) {
        return None;
    }
    Some((period, rendition, Media::Segment(n.parse().ok()?)))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_period_id(s: &str) -> bool {
    s.strip_prefix('p').is_some_and(is_number)
}

/// A segment's response: a finished one is cached like any LL-HLS media; a growing one must
/// not be stored as if it were the whole segment.
fn media(rendition: &str, body: Chunks, complete: bool) -> Resp {
    let mut r = crate::egress::hls::media(rendition, body, CacheKind::Media);
    if !complete {
        cache(&mut r, "no-store");
    }
    r
}

async fn mpd(hub: &Arc<Hub>, channel: &Channel, origin: &str, if_none_match: Option<&str>) -> Resp {
    let mut snap = channel.snapshot();
    if !snap.ready() {
        let Some(_held) = hub.hold() else { return busy() };
        match wait_for(channel, Instant::now() + STARTUP_WAIT, |s| s.ready().then(|| s.clone()))
            .await
        {
            Some(s) => snap = s,
            None => return error(StatusCode::NOT_FOUND, format!("{} is not live yet", channel.id)),
        }
    }
    let now = crate::now_unix_ms();
    let document =
        channel.dash.lock().ok().and_then(|mut m| mpd::document(&snap, &mut m, origin, now));
    let Some((body, content)) = document else {
        return error(StatusCode::NOT_FOUND, format!("{} is not live yet", channel.id));
    };
    let etag = format!("\"{content:016x}\"");
    let mut r = if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag)) {
        with_body(StatusCode::NOT_MODIFIED, sluice_dash::MPD_CONTENT_TYPE, String::new())
    } else {
        with_body(StatusCode::OK, sluice_dash::MPD_CONTENT_TYPE, body)
    };
    if let Ok(v) = http::HeaderValue::from_str(&etag) {
        r.headers_mut().insert(http::header::ETAG, v);
    }
    // Revalidated on every poll (a 304 when unchanged): the update period is under the
    // one-second granularity of max-age, and a stale MPD hides a new Period from players.
    cache(&mut r, "no-cache");
    r
}

async fn segment(
    hub: &Arc<Hub>,
    channel: &Arc<Channel>,
    period: Option<&str>,
    rendition: &'static str,
    n: u64,
) -> Resp {
    let period_key = match period {
        None => None,
        Some(id) => match channel.dash.lock().ok().and_then(|m| m.key_of(id)) {
            Some(key) => Some(key),
            None => return error(StatusCode::NOT_FOUND, "no such Period (reload the MPD)"),
        },
    };
    // Whether segment n (once it exists) is one of the requested Period's: the leading track's
    // segment n names the run, as in the MPD.
    let in_period = |snap: &ChannelSnapshot| {
        let Some(key) = period_key else { return true };
        let lead = snap.video.as_ref().or(snap.audio.as_ref());
        lead.and_then(|t| t.ring.segment(n).map(|s| mpd::run_of(&t.ring, s))) == Some(key)
    };
    let other_period = || {
        error(
            StatusCode::NOT_FOUND,
            "this segment number belongs to another Period (reload the MPD)",
        )
    };
    // Available once its first part is out (availabilityTimeOffset = segment − part).
    let available = |snap: &ChannelSnapshot| {
        let seg = snap.track(rendition)?.ring.segment(n)?;
        (seg.complete || !seg.parts.is_empty()).then(|| in_period(snap))
    };
    let snap = channel.snapshot();
    let Some(track) = snap.track(rendition) else {
        return error(StatusCode::NOT_FOUND, format!("no {rendition} in this stream"));
    };
    match available(&snap) {
        Some(false) => return other_period(),
        Some(true) => {
            let seg = track.ring.segment(n).expect("available");
            if seg.complete {
                return media(rendition, Chunks::new(seg.chunks().cloned()), true);
            }
            let Some(held) = hub.hold() else { return busy() };
            return stream_segment(held, channel, rendition, n);
        }
        None => {}
    }
    // Not available yet: only the next one (or the newest, before its first part) is worth
    // waiting for.
    let newest = track.ring.last_msn();
    if newest.map(|m| m + 1) != Some(n) && newest != Some(n) {
        return error(StatusCode::NOT_FOUND, "segment not available (not yet, or no longer)");
    }
    // One held-request slot from the wait through the end of the streamed body.
    let Some(held) = hub.hold() else { return busy() };
    let td = Duration::from_secs(u64::from(snap.target_duration.unwrap_or(2)));
    let wait = if snap.live { td + NEXT_SEGMENT_GRACE } else { PUBLISHER_RETURN_WAIT };
    // A number that turns out to start the next Period is not answered at once: the player
    // asked for it as the old Period's continuation and would retry a 404 at once, over and
    // over, while the MPD it is about to load tells it where the old Period's media ends.
    if wait_for(channel, Instant::now() + wait, |s| available(s).filter(|&ours| ours))
        .await
        .is_none()
    {
        return error(StatusCode::NOT_FOUND, "the segment did not start in time (in this Period)");
    }
    // A publisher running a little ahead of its first frame's clock makes parts before the MPD
    // says they exist: answer no earlier than the MPD promised (ISO 23009-1 §5.3.9.5.3).
    let part_ms = (snap.part_target_s * 1000.0).round() as u64;
    let promised = period
        .and_then(|id| channel.dash.lock().ok().and_then(|m| m.slot_available_ms(id, n, part_ms)));
    if let Some(early_ms) = promised.map(|at| at - crate::now_unix_ms()).filter(|&ms| ms > 0) {
        tokio::time::sleep(Duration::from_millis(early_ms.min(1000) as u64)).await;
    }
    stream_segment(held, channel, rendition, n)
}

/// 200 with the segment's parts so far, then each new part as it lands, until it completes.
fn stream_segment(
    held: HeldGuard,
    channel: &Arc<Channel>,
    rendition: &'static str,
    n: u64,
) -> Resp {
    let snap = channel.snapshot();
    let Some(seg) = snap.track(rendition).and_then(|t| t.ring.segment(n)) else {
        return error(StatusCode::NOT_FOUND, "segment gone");
    };
    if seg.complete {
        return media(rendition, Chunks::new(seg.chunks().cloned()), true);
    }
    let sent = seg.parts.len();
    let head = Chunks::new(seg.chunks().cloned());
    let td = snap.target_duration.unwrap_or(2);
    // A segment lasts at most about TD; a publisher that stalls longer ends the response.
    let deadline = Instant::now() + Duration::from_secs(u64::from(td) * 2 + 1);
    let state = (channel.subscribe(), sent, held);
    let tail: LiveTail =
        Box::pin(futures_util::stream::unfold(state, move |(mut rx, sent, held)| async move {
            loop {
                let part: Option<Option<Bytes>> = {
                    let snap = rx.borrow_and_update();
                    match snap.track(rendition).and_then(|t| t.ring.segment(n)) {
                        Some(seg) if seg.parts.len() > sent => {
                            Some(Some(seg.parts[sent].data.clone()))
                        }
                        Some(seg) if seg.complete => None,
                        Some(_) => Some(None),
                        None => None,
                    }
                };
                match part {
                    Some(Some(data)) => return Some((data, (rx, sent + 1, held))),
                    None => return None,
                    Some(None) => {
                        let changed = tokio::time::timeout_at(deadline, rx.changed()).await;
                        if !matches!(changed, Ok(Ok(()))) {
                            return None;
                        }
                    }
                }
            }
        }));
    media(rendition, head.with_live_tail(tail), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_names_parse_strictly() {
        assert!(matches!(parse_media("video/init-3.mp4"), Some((None, "video", Media::Init(3)))));
        assert!(matches!(
            parse_media("audio/1763.m4s"),
            Some((None, "audio", Media::Segment(1763)))
        ));
        assert!(matches!(
            parse_media("p13/video/14.m4s"),
            Some((Some("p13"), "video", Media::Segment(14)))
        ));
        for bad in [
            "video/.m4s",
            "video/-1.m4s",
            "subs/1.m4s",
            "video/1.mp4",
            "video",
            "video/+1.m4s",
            "p/video/1.m4s",
            "px/video/1.m4s",
            "p1/p2/video/1.m4s",
        ] {
            assert!(parse_media(bad).is_none(), "{bad}");
        }
    }
}
