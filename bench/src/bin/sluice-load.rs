//! `sluice-load`: an LL-HLS client emulator. N viewers follow one media playlist with blocking
//! reloads (`_HLS_msn`/`_HLS_part`) and fetch every new part, for a bounded time. Prints request
//! latencies and bytes, then reads the server's own histogram of "part published → held request
//! answered" from `/metrics` and prints its p50/p99, with the load average.
//!
//! usage: sluice-load <media playlist URL> [--clients N (20)] [--seconds S (20)]

use std::time::{Duration, Instant};

use sluice_conformance::http;
use sluice_conformance::url::Url;

struct Args {
    playlist: Url,
    clients: usize,
    seconds: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut playlist = None;
    let (mut clients, mut seconds) = (20usize, 20u64);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--clients" => clients = it.next().and_then(|v| v.parse().ok()).ok_or("--clients N")?,
            "--seconds" => seconds = it.next().and_then(|v| v.parse().ok()).ok_or("--seconds S")?,
            url => playlist = Some(Url::parse(url).map_err(|e| format!("{url}: {e}"))?),
        }
    }
    let playlist =
        playlist.ok_or("usage: sluice-load <media playlist URL> [--clients N] [--seconds S]")?;
    if !(1..=2000).contains(&clients) || !(1..=600).contains(&seconds) {
        return Err("clients must be 1..=2000 and seconds 1..=600".into());
    }
    Ok(Args { playlist, clients, seconds })
}

/// A part's (media sequence number, index within its segment).
type PartPos = (u64, u32);

/// The last listed part and every part URI with its position.
fn parse_parts(text: &str) -> (Option<PartPos>, Vec<(PartPos, String)>) {
    let mut msn = 0u64;
    let mut idx = 0u32;
    let mut parts = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            msn = v.trim().parse().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("#EXT-X-PART:") {
            if let Some(uri) = rest.split("URI=\"").nth(1).and_then(|u| u.split('"').next()) {
                parts.push(((msn, idx), uri.to_owned()));
            }
            idx += 1;
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            msn += 1;
            idx = 0;
        }
    }
    (parts.last().map(|p| p.0), parts)
}

#[derive(Default)]
struct ClientStats {
    reloads: Vec<Duration>,
    part_fetches: Vec<Duration>,
    bytes: u64,
    errors: u64,
}

fn client(playlist: Url, until: Instant) -> ClientStats {
    let mut stats = ClientStats::default();
    let timeout = Duration::from_secs(10);
    let mut last: Option<PartPos> = None;
    while Instant::now() < until {
        let url = match last {
            None => playlist.clone(),
            Some((m, p)) => {
                let mut u = playlist.clone();
                u.query = Some(format!("_HLS_msn={m}&_HLS_part={}", p + 1));
                u
            }
        };
        let resp = match http::get(&url, timeout) {
            Ok(r) if r.status == 200 => r,
            _ => {
                stats.errors += 1;
                std::thread::sleep(Duration::from_millis(100));
                last = None;
                continue;
            }
        };
        if last.is_some() {
            stats.reloads.push(resp.timings.last_byte);
        }
        let (newest, parts) = parse_parts(&resp.text());
        for (pos, uri) in parts {
            if last.is_some_and(|l| pos > l) {
                let Ok(part_url) = playlist.join(&uri) else { continue };
                match http::get(&part_url, timeout) {
                    Ok(r) if r.status == 200 => {
                        stats.part_fetches.push(r.timings.last_byte);
                        stats.bytes += r.body.len() as u64;
                    }
                    _ => stats.errors += 1,
                }
            }
        }
        last = newest.or(last);
    }
    stats
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// p50/p99 (seconds) from a Prometheus histogram, interpolating inside buckets.
fn histogram_quantiles(metrics: &str, name: &str) -> Option<(f64, f64, u64)> {
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix(&format!("{name}_bucket{{le=\"")) else { continue };
        let (le, count) = rest.split_once("\"} ")?;
        let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
        buckets.push((le, count.trim().parse().ok()?));
    }
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let q = |q: f64| {
        let target = q * total as f64;
        let mut prev = (0.0, 0u64);
        for &(le, c) in &buckets {
            if c as f64 >= target {
                if le.is_infinite() {
                    return prev.0;
                }
                let frac = (target - prev.1 as f64) / ((c - prev.1).max(1) as f64);
                return prev.0 + (le - prev.0) * frac;
            }
            prev = (le, c);
        }
        prev.0
    };
    Some((q(0.5), q(0.99), total))
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let until = Instant::now() + Duration::from_secs(args.seconds);
    eprintln!("sluice-load: {} clients on {} for {} s", args.clients, args.playlist, args.seconds);
    let handles: Vec<_> = (0..args.clients)
        .map(|_| {
            let url = args.playlist.clone();
            std::thread::spawn(move || client(url, until))
        })
        .collect();
    let mut all = ClientStats::default();
    for h in handles {
        if let Ok(s) = h.join() {
            all.reloads.extend(s.reloads);
            all.part_fetches.extend(s.part_fetches);
            all.bytes += s.bytes;
            all.errors += s.errors;
        }
    }
    all.reloads.sort();
    all.part_fetches.sort();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "clients={} seconds={} loadavg={}",
        args.clients,
        args.seconds,
        loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "blocking reloads: n={} p50={:.1} ms p99={:.1} ms (includes waiting for the next part)",
        all.reloads.len(),
        percentile(&all.reloads, 0.5).as_secs_f64() * 1e3,
        percentile(&all.reloads, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "part fetches: n={} p50={:.2} ms p99={:.2} ms bytes={} ({:.1} Mbit/s) errors={}",
        all.part_fetches.len(),
        percentile(&all.part_fetches, 0.5).as_secs_f64() * 1e3,
        percentile(&all.part_fetches, 0.99).as_secs_f64() * 1e3,
        all.bytes,
        all.bytes as f64 * 8.0 / args.seconds as f64 / 1e6,
        all.errors
    );
    let metrics = args
        .playlist
        .join("/metrics")
        .ok()
        .and_then(|u| http::get(&u, Duration::from_secs(5)).ok());
    match metrics.and_then(|m| histogram_quantiles(&m.text(), "sluice_hls_held_release_seconds")) {
        Some((p50, p99, n)) => println!(
            "server: part published -> held request answered: n={n} p50={:.3} ms p99={:.3} ms",
            p50 * 1e3,
            p99 * 1e3
        ),
        None => println!("server: no held-request release samples in /metrics"),
    }
    if all.reloads.is_empty() {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_numbered_from_the_media_sequence() {
        let text = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-PART:DURATION=0.2,URI=\"v/7.0.m4s\"\n#EXTINF:1,\nv/7.m4s\n#EXT-X-PART:DURATION=0.2,URI=\"v/8.0.m4s\"\n#EXT-X-PART:DURATION=0.2,URI=\"v/8.1.m4s\"\n";
        let (last, parts) = parse_parts(text);
        assert_eq!(last, Some((8, 1)));
        assert_eq!(parts[0], ((7, 0), "v/7.0.m4s".to_owned()));
    }

    #[test]
    fn histogram_quantiles_interpolate() {
        let m =
            "x_bucket{le=\"0.001\"} 50\nx_bucket{le=\"0.002\"} 100\nx_bucket{le=\"+Inf\"} 100\n";
        let (p50, p99, n) = histogram_quantiles(m, "x").expect("samples");
        assert_eq!(n, 100);
        assert!((p50 - 0.001).abs() < 1e-9);
        assert!(p99 > 0.0019 && p99 <= 0.002);
    }
}
