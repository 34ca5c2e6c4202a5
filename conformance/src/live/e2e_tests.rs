//! End-to-end tests of `check_hls` against a tiny simulated LL-HLS origin (std `TcpListener`,
//! one thread per connection): a correct origin passes the live rules, and an origin that
//! answers blocking reloads at once with a stale playlist (and ignores the `_HLS_part`-only
//! 400) fails LLHLS-DD-02 and LLHLS-DD-03.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::test_origin::serve;
use super::{HlsOptions, check_hls};
use crate::mp4::testing::{fragment, init};
use crate::report::{Report, Verdict};
use crate::url::Url;

const PART: f64 = 0.1;
const PARTS_PER_SEGMENT: u64 = 5;
const BACKLOG: u64 = 20;

#[derive(Clone, Copy)]
struct Origin {
    start: Instant,
    /// Answer blocking requests at once and accept `_HLS_part` without `_HLS_msn`.
    broken_blocking: bool,
}

impl Origin {
    /// Parts published so far.
    fn published(&self) -> u64 {
        BACKLOG + (self.start.elapsed().as_secs_f64() / PART) as u64
    }

    fn part_body(k: u64) -> Vec<u8> {
        let samples: Vec<(u32, bool)> =
            (0..3).map(|i| (3000, i == 0 && k.is_multiple_of(PARTS_PER_SEGMENT))).collect();
        fragment(1, k * 9000, &samples)
    }

    fn playlist(&self, n: u64) -> String {
        let complete = n / PARTS_PER_SEGMENT;
        let first = complete.saturating_sub(8);
        let mut t = format!(
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.3\n\
             #EXT-X-PART-INF:PART-TARGET=0.1\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-MAP:URI=\"init.mp4\"\n"
        );
        let pdt = |seg: u64| {
            let s = seg as f64 * 0.5;
            format!(
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:{:02}:{:06.3}Z\n",
                (s / 60.0) as u64,
                s % 60.0
            )
        };
        let part = |m: u64, i: u64| {
            let ind = if i == 0 { ",INDEPENDENT=YES" } else { "" };
            format!("#EXT-X-PART:DURATION=0.10000,URI=\"{m}.{i}.m4s\"{ind}\n")
        };
        for seg in first..complete {
            t.push_str(&pdt(seg));
            if seg + 2 >= complete {
                for i in 0..PARTS_PER_SEGMENT {
                    t.push_str(&part(seg, i));
                }
            }
            t.push_str(&format!("#EXTINF:0.50000,\n{seg}.m4s\n"));
        }
        let trailing = n % PARTS_PER_SEGMENT;
        if trailing > 0 {
            t.push_str(&pdt(complete));
        }
        for i in 0..trailing {
            t.push_str(&part(complete, i));
        }
        t.push_str(&format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{complete}.{trailing}.m4s\"\n"));
        t
    }

    /// Waits until `ready(published)` or 3 x TD; false on timeout.
    fn wait(&self, ready: impl Fn(u64) -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if ready(self.published()) {
                return true;
            }
            thread::sleep(Duration::from_millis(2));
        }
        false
    }

    fn respond(&self, path: &str, query: &str, gzip: bool) -> (u16, &'static str, Vec<u8>) {
        let param = |name: &str| {
            query.split('&').find_map(|kv| {
                kv.strip_prefix(name)
                    .and_then(|v| v.strip_prefix('='))
                    .and_then(|v| v.parse::<u64>().ok())
            })
        };
        let playlist_type = "application/vnd.apple.mpegurl";
        let gzipped = |body: Vec<u8>| {
            if !gzip {
                return (200, playlist_type, body);
            }
            let mut e = GzEncoder::new(Vec::new(), Compression::default());
            let _ = e.write_all(&body);
            (200, "gzip", e.finish().unwrap_or_default())
        };
        match path {
            "/index.m3u8" => gzipped(
                b"#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=100000,CODECS=\"avc1.64001f\",RESOLUTION=640x360,FRAME-RATE=30.000\nvideo.m3u8\n".to_vec(),
            ),
            "/video.m3u8" => {
                let (msn, part) = (param("_HLS_msn"), param("_HLS_part"));
                if part.is_some() && msn.is_none() && !self.broken_blocking {
                    return (400, "text/plain", b"bad request".to_vec());
                }
                if let Some(m) = msn
                    && !self.broken_blocking
                {
                    let complete = self.published() / PARTS_PER_SEGMENT;
                    if m > complete + 2 {
                        return (400, "text/plain", b"too far".to_vec());
                    }
                    let ok = match part {
                        Some(p) => {
                            let k = if p >= PARTS_PER_SEGMENT { (m + 1) * PARTS_PER_SEGMENT } else { m * PARTS_PER_SEGMENT + p };
                            self.wait(|n| n > k)
                        }
                        None => self.wait(|n| n / PARTS_PER_SEGMENT > m),
                    };
                    if !ok {
                        return (503, "text/plain", b"unavailable".to_vec());
                    }
                }
                gzipped(self.playlist(self.published()).into_bytes())
            }
            "/init.mp4" => (200, "video/mp4", init(1, true, 90000)),
            p => {
                let name = p.trim_start_matches('/').trim_end_matches(".m4s");
                let nums: Vec<u64> = name.split('.').filter_map(|x| x.parse().ok()).collect();
                match nums.as_slice() {
                    [m, i] if *i < PARTS_PER_SEGMENT => {
                        let k = m * PARTS_PER_SEGMENT + i;
                        if k > self.published() + 1 {
                            return (404, "text/plain", Vec::new());
                        }
                        if !self.wait(|n| n > k) {
                            return (503, "text/plain", Vec::new());
                        }
                        (200, "video/mp4", Self::part_body(k))
                    }
                    [m] if (m + 1) * PARTS_PER_SEGMENT <= self.published() => {
                        let body = (0..PARTS_PER_SEGMENT).flat_map(|i| Self::part_body(m * PARTS_PER_SEGMENT + i)).collect();
                        (200, "video/mp4", body)
                    }
                    _ => (404, "text/plain", Vec::new()),
                }
            }
        }
    }
}

/// Runs an origin until the returned flag is set.
fn start(broken_blocking: bool) -> (Url, Arc<AtomicBool>) {
    let origin = Origin { start: Instant::now(), broken_blocking };
    let (port, stop) = serve(move |path, query, gzip| origin.respond(path, query, gzip));
    (Url::parse(&format!("http://127.0.0.1:{port}/index.m3u8")).unwrap(), stop)
}

fn run(broken: bool) -> Report {
    let (url, stop) = start(broken);
    let report = check_hls(&HlsOptions { url, duration: Duration::from_secs(2), apple: false });
    stop.store(true, Ordering::Relaxed);
    report
}

fn verdict(r: &Report, id: &str) -> (Verdict, String) {
    let x = r.results().into_iter().find(|x| x.id == id).unwrap();
    (x.verdict, x.message)
}

#[test]
fn correct_origin_passes_the_live_rules() {
    let r = run(false);
    for id in [
        "LLHLS-DD-01",
        "LLHLS-DD-02",
        "LLHLS-DD-03",
        "LLHLS-DD-07",
        "LLHLS-PART-04",
        "LLHLS-PART-05",
        "LLHLS-PART-07",
        "LLHLS-PH-05",
        "LLHLS-PL-01",
        "HLS-MP-03",
        "HLS-MP-05",
        "HLS-MP-08",
        "HLS-MP-09",
        "HLS-MP-10",
        "HLS-MP-14",
        "HLS-MP-15",
        "HLS-MV-02",
    ] {
        let (v, m) = verdict(&r, id);
        assert_eq!(v, Verdict::Pass, "{id}: {m}\n{}", r.render());
    }
    assert!(!r.failed(), "{}", r.render());
}

#[test]
fn origin_with_broken_blocking_fails_dd_02_and_dd_03() {
    let r = run(true);
    let (v, m) = verdict(&r, "LLHLS-DD-02");
    assert_eq!(v, Verdict::Fail, "{m}");
    assert!(m.contains("_HLS_msn="), "{m}");
    assert_eq!(verdict(&r, "LLHLS-DD-03").0, Verdict::Fail);
    assert!(r.failed());
}
