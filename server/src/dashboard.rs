//! The dashboard page (compiled in) and the npm-installed player script it loads.

use bytes::Bytes;
use http::StatusCode;

use crate::egress::response::{Resp, cache, error, with_body};
use crate::server::AppState;

static PAGE: &str = include_str!("dashboard/index.html");

pub fn page() -> Resp {
    let mut r = with_body(StatusCode::OK, "text/html; charset=utf-8", PAGE);
    cache(&mut r, "no-cache");
    r
}

/// hls.js from `<web>/node_modules/hls.js/dist/hls.min.js`, read once and kept.
pub fn hls_js(state: &AppState) -> Resp {
    match state.hls_js.as_ref() {
        Some(bytes) => {
            let mut r = with_body(StatusCode::OK, "text/javascript; charset=utf-8", bytes.clone());
            cache(&mut r, "public, max-age=3600");
            r
        }
        None => error(
            StatusCode::NOT_FOUND,
            "hls.js is not installed: run `npm ci --prefix web` (see README), or pass --web DIR",
        ),
    }
}

/// The WHEP player, served at `GET /{group}/{channel}/whep`: it posts its offer to its own URL.
pub fn whep_player() -> Resp {
    let mut r = with_body(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from_static(include_bytes!("dashboard/whep.html")),
    );
    cache(&mut r, "no-cache");
    r
}
