//! HLS-TS egress (`/{group}/{channel}/ts/`): classic HLS for players and set-top boxes that
//! want MPEG-TS. Playlists and segments come pre-rendered in the channel snapshot; nothing
//! blocks except the first request for a channel that is about to go live.

use std::sync::Arc;

use http::StatusCode;
use sluice_hls::{CacheKind, TsResource};
use tokio::time::Instant;

use crate::egress::hls::{RequestInfo, STARTUP_WAIT, busy, playlist, wait_for};
use crate::egress::response::{Resp, cache, error, with_body};
use crate::hub::{Channel, Hub};

/// RFC 3555 / HLS §3.1.1 media type of MPEG-2 transport stream segments.
const TS_CONTENT_TYPE: &str = "video/mp2t";

pub async fn handle(hub: &Arc<Hub>, channel: Arc<Channel>, req: RequestInfo<'_>) -> Resp {
    let td = || channel.snapshot().ts.as_ref().map_or(1, |t| t.target_duration);
    let resource = match sluice_hls::parse_ts_resource(req.tail) {
        Ok(r) => r,
        Err(e) => {
            let mut r = error(StatusCode::NOT_FOUND, format!("no such HLS-TS resource: {e}"));
            cache(&mut r, &sluice_hls::cache_control(CacheKind::MediaError, td()));
            return r;
        }
    };
    let snap = channel.snapshot();
    let snap = if snap.ts.is_some() || !matches!(resource, TsResource::Multivariant) {
        snap
    } else {
        // The first viewer of a channel that is starting waits for its first segment.
        let Some(_held) = hub.hold() else {
            return busy();
        };
        let deadline = Instant::now() + STARTUP_WAIT;
        match wait_for(&channel, deadline, |s| s.ts.is_some().then(|| s.clone())).await {
            Some(s) => s,
            None => snap,
        }
    };
    let Some(ts) = snap.ts.as_ref() else {
        let mut r = error(StatusCode::NOT_FOUND, format!("{} is not live yet", channel.id));
        cache(&mut r, &sluice_hls::cache_control(CacheKind::PlaylistError, 1));
        return r;
    };
    let td = ts.target_duration;
    match resource {
        TsResource::Multivariant => {
            playlist(&ts.multivariant, req.accepts_gzip, CacheKind::Playlist, td)
        }
        TsResource::MediaPlaylist => {
            playlist(&ts.playlist, req.accepts_gzip, CacheKind::Playlist, td)
        }
        TsResource::Segment { msn } => match ts.segment(msn) {
            Some(seg) => {
                let mut r = with_body(StatusCode::OK, TS_CONTENT_TYPE, seg.data.clone());
                cache(&mut r, &sluice_hls::cache_control(CacheKind::Media, td));
                r
            }
            None => {
                let mut r = error(StatusCode::NOT_FOUND, "no such segment (not yet, or expired)");
                cache(&mut r, &sluice_hls::cache_control(CacheKind::MediaError, td));
                r
            }
        },
    }
}
