//! The server clock from `UTCTiming` (http-iso / http-xsdate: the body is an ISO 8601 /
//! xs:dateTime instant), as an offset from the local clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http;
use crate::mpd::{UtcTiming, parse_datetime};
use crate::url::Url;

/// Local wall clock in Unix seconds.
pub fn local_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// One clock reading: server − local (seconds, at the request midpoint) and the round trip.
#[derive(Debug, Clone)]
pub struct Reading {
    /// Scheme short name (`http-iso`, `http-xsdate`).
    pub scheme: String,
    /// URL fetched.
    pub url: String,
    /// Server − local, or why there is no value.
    pub offset: Result<f64, String>,
    /// Round trip in seconds.
    pub rtt: f64,
}

/// True for the schemes whose value is a URL answering with an xs:dateTime body.
pub fn fetchable(u: &UtcTiming) -> bool {
    u.scheme.contains(":http-iso:") || u.scheme.contains(":http-xsdate:")
}

/// Reads every fetchable UTCTiming `samples` times (relative URLs resolved against `base`).
pub fn read(base: &Url, timings: &[UtcTiming], samples: usize) -> Vec<Reading> {
    let mut out = Vec::new();
    for u in timings.iter().filter(|u| fetchable(u)) {
        let scheme = u.scheme.rsplit(':').nth(1).unwrap_or("?").to_string();
        let url = match base.join(u.value.trim()) {
            Ok(url) => url,
            Err(e) => {
                out.push(Reading {
                    scheme,
                    url: u.value.clone(),
                    offset: Err(e.to_string()),
                    rtt: 0.0,
                });
                continue;
            }
        };
        // The reading with the shortest round trip bounds the error best.
        let mut best: Option<Reading> = None;
        for _ in 0..samples.max(1) {
            let before = local_now();
            let r = http::get(&url, Duration::from_secs(3));
            let after = local_now();
            let offset = match r {
                Ok(r) if r.status == 200 => match parse_datetime(r.text().trim()) {
                    Some(t) => Ok(t - (before + after) / 2.0),
                    None => Err(format!("body {:?} is not an xs:dateTime", r.text().trim())),
                },
                Ok(r) => Err(format!("status {}", r.status)),
                Err(e) => Err(e.to_string()),
            };
            let reading = Reading {
                scheme: scheme.clone(),
                url: url.to_string(),
                offset,
                rtt: after - before,
            };
            let better = match &best {
                None => true,
                Some(b) => reading.offset.is_ok() && (b.offset.is_err() || reading.rtt < b.rtt),
            };
            if better {
                best = Some(reading);
            }
        }
        out.extend(best);
    }
    out
}
