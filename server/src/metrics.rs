//! Prometheus text exposition of the server's counters and per-channel gauges.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use http::StatusCode;

use crate::egress::response::{Resp, cache, with_body};
use crate::hub::Hub;

pub fn render(hub: &Hub) -> Resp {
    let c = &hub.counters;
    let mut out = String::new();
    let counters = [
        (
            "sluice_rtmp_connections_total",
            "RTMP connections accepted",
            &c.rtmp_connections,
        ),
        (
            "sluice_rtmp_publish_rejected_total",
            "RTMP publish attempts refused",
            &c.rtmp_rejected,
        ),
        (
            "sluice_ingest_bytes_total",
            "Bytes received from publishers",
            &c.ingest_bytes,
        ),
        (
            "sluice_frames_dropped_total",
            "Malformed or unusable frames dropped",
            &c.frames_dropped,
        ),
        (
            "sluice_parts_published_total",
            "Pipeline updates that published parts",
            &c.parts_published,
        ),
        (
            "sluice_http_requests_total",
            "HTTP requests",
            &c.http_requests,
        ),
        (
            "sluice_http_bad_requests_total",
            "HTTP requests answered 4xx for bad input",
            &c.http_bad_requests,
        ),
        (
            "sluice_held_request_timeouts_total",
            "Blocking requests answered 503",
            &c.held_timeouts,
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            v.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP sluice_held_requests Requests currently held open\n# TYPE sluice_held_requests gauge\nsluice_held_requests {}",
        hub.held_requests()
    );
    let _ = writeln!(
        out,
        "# HELP sluice_channel_publishing 1 while a publisher is connected\n# TYPE sluice_channel_publishing gauge"
    );
    for ch in hub.channels() {
        let _ = writeln!(
            out,
            "sluice_channel_publishing{{channel=\"{}\"}} {}",
            ch.id,
            u8::from(ch.is_publishing())
        );
    }
    let mut r = with_body(StatusCode::OK, "text/plain; version=0.0.4", out);
    cache(&mut r, "no-store");
    r
}
