//! Prometheus text exposition of the server's counters and per-channel gauges.

use std::fmt::Write;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use http::StatusCode;

use crate::egress::response::{Resp, cache, with_body};
use crate::hub::Hub;

/// Bucket upper bounds in microseconds: fine around the 2 ms goal for held-request release.
const BUCKETS_US: [u64; 16] = [
    50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 20_000, 50_000,
    100_000, 1_000_000,
];

/// A lock-free latency histogram (Prometheus cumulative buckets when rendered).
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: std::time::Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let idx = BUCKETS_US.iter().position(|&b| us <= b).unwrap_or(BUCKETS_US.len());
        self.counts[idx].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, b) in BUCKETS_US.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", *b as f64 / 1e6);
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count());
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {}", self.count());
    }
}

pub fn render(hub: &Hub, webrtc: Option<&crate::webrtc::Sessions>) -> Resp {
    let c = &hub.counters;
    let mut out = String::new();
    let counters = [
        ("sluice_rtmp_connections_total", "RTMP connections accepted", &c.rtmp_connections),
        ("sluice_rtmp_publish_rejected_total", "RTMP publish attempts refused", &c.rtmp_rejected),
        (
            "sluice_srt_connections_total",
            "SRT connections accepted (publishers and readers)",
            &c.srt_connections,
        ),
        (
            "sluice_srt_rejected_total",
            "SRT callers refused (stream id, passphrase, busy channel)",
            &c.srt_rejected,
        ),
        (
            "sluice_ts_continuity_errors_total",
            "MPEG-TS packets lost or reordered on ingest",
            &c.ts_continuity_errors,
        ),
        ("sluice_ingest_bytes_total", "Bytes received from publishers", &c.ingest_bytes),
        ("sluice_frames_dropped_total", "Malformed or unusable frames dropped", &c.frames_dropped),
        (
            "sluice_parts_published_total",
            "Pipeline updates that published parts",
            &c.parts_published,
        ),
        ("sluice_http_requests_total", "HTTP requests", &c.http_requests),
        (
            "sluice_http_bad_requests_total",
            "HTTP requests answered 4xx for bad input",
            &c.http_bad_requests,
        ),
        ("sluice_held_request_timeouts_total", "Blocking requests answered 503", &c.held_timeouts),
        (
            "sluice_http3_connections_total",
            "HTTP/3 (QUIC) connections accepted",
            &c.http3_connections,
        ),
    ];
    for (name, help, v) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            v.load(Ordering::Relaxed)
        );
    }
    hub.counters.release_latency.render(
        &mut out,
        "sluice_hls_held_release_seconds",
        "Time from a part being published to the held request it satisfies being answered",
    );
    let _ = writeln!(
        out,
        "# HELP sluice_held_requests Requests currently held open\n# TYPE sluice_held_requests gauge\nsluice_held_requests {}",
        hub.held_requests()
    );
    let _ = writeln!(
        out,
        "# HELP sluice_http3_connections HTTP/3 (QUIC) connections open\n# TYPE sluice_http3_connections gauge\nsluice_http3_connections {}",
        c.http3_open.load(Ordering::Relaxed)
    );
    if let Some(sessions) = webrtc {
        let _ = writeln!(
            out,
            "# HELP sluice_webrtc_sessions Live WebRTC sessions (WHIP publishers, WHEP viewers)\n# TYPE sluice_webrtc_sessions gauge"
        );
        for (kind, label) in
            [(crate::webrtc::Kind::Whip, "whip"), (crate::webrtc::Kind::Whep, "whep")]
        {
            let _ = writeln!(
                out,
                "sluice_webrtc_sessions{{kind=\"{label}\"}} {}",
                sessions.count(kind)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP sluice_audio_transcodes Channels whose AAC audio is being turned into Opus for WebRTC viewers\n# TYPE sluice_audio_transcodes gauge\nsluice_audio_transcodes {}",
        hub.channels().iter().filter(|c| c.fanout.transcoding()).count()
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
    let _ = writeln!(
        out,
        "# HELP sluice_channel_diagnostic 1 for each publisher problem found (see /api/v1/channels)\n# TYPE sluice_channel_diagnostic gauge"
    );
    for ch in hub.channels() {
        for f in &ch.snapshot().findings {
            let _ = writeln!(
                out,
                "sluice_channel_diagnostic{{channel=\"{}\",code=\"{}\"}} 1",
                ch.id, f.code
            );
        }
    }
    let mut r = with_body(StatusCode::OK, "text/plain; version=0.0.4", out);
    cache(&mut r, "no-store");
    r
}
