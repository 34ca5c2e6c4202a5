//! End-to-end tests of `check_hls` against a simulated live classic HLS-TS origin (v3 playlist,
//! no parts, PDT, a new 0.5 s `{msn}.ts` segment every 0.5 s, like Sluice's `/ts/` endpoint):
//! the follower's live path (reloads, new segments, consecutive-segment continuity) judges
//! section B, a correct origin passes, and an origin whose segments jump in continuity counter
//! or start without an IDR fails TS-06 / TS-05.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::test_origin::serve;
use super::{HlsOptions, check_hls};
use crate::report::{Report, Verdict};
use crate::ts::testing::{Ccs, segment_frames};
use crate::url::Url;

const SEGMENT_SECS: f64 = 0.5;
const FRAMES: u64 = 15;
const BACKLOG: u64 = 4;
const WINDOW: u64 = 6;
const SEGMENTS: u64 = 40;

/// Faults a broken origin seeds: (msn whose video CCs jump, msn that starts without an IDR).
type Faults = Option<(u64, u64)>;

struct Origin {
    start: Instant,
    segments: Vec<Vec<u8>>,
}

impl Origin {
    fn new(faults: Faults) -> Self {
        let mut ccs = Ccs::default();
        let segments = (0..SEGMENTS)
            .map(|msn| {
                if faults.is_some_and(|(cc, _)| cc == msn) {
                    ccs.video = (ccs.video + 5) & 15;
                }
                let key = faults.is_none_or(|(_, non_idr)| non_idr != msn);
                segment_frames(msn * FRAMES * 3000, &mut ccs, key, FRAMES)
            })
            .collect();
        Self { start: Instant::now(), segments }
    }

    /// Segments complete so far (MSNs 0..n).
    fn published(&self) -> u64 {
        (BACKLOG + (self.start.elapsed().as_secs_f64() / SEGMENT_SECS) as u64).min(SEGMENTS)
    }

    fn playlist(&self) -> String {
        let n = self.published();
        let first = n.saturating_sub(WINDOW);
        let mut t = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        );
        for msn in first..n {
            let s = msn as f64 * SEGMENT_SECS;
            t.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:{:02}:{:06.3}Z\n#EXTINF:0.500000,\n{msn}.ts\n",
                (s / 60.0) as u64,
                s % 60.0
            ));
        }
        t
    }

    fn respond(&self, path: &str) -> (u16, &'static str, Vec<u8>) {
        let mpegurl = "application/vnd.apple.mpegurl";
        match path {
            "/index.m3u8" => (
                200,
                mpegurl,
                b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=30.000\nvideo.m3u8\n".to_vec(),
            ),
            "/video.m3u8" => (200, mpegurl, self.playlist().into_bytes()),
            p => {
                let msn = p.trim_start_matches('/').strip_suffix(".ts").and_then(|m| m.parse::<u64>().ok());
                match msn {
                    Some(m) if m < self.published() => {
                        (200, "video/mp2t", self.segments[m as usize].clone())
                    }
                    _ => (404, "text/plain", Vec::new()),
                }
            }
        }
    }
}

fn run(faults: Faults) -> Report {
    let origin = Arc::new(Origin::new(faults));
    let o = Arc::clone(&origin);
    let (port, stop) = serve(move |path, _, _| o.respond(path));
    let url = Url::parse(&format!("http://127.0.0.1:{port}/index.m3u8")).unwrap();
    let report = check_hls(&HlsOptions { url, duration: Duration::from_secs(3), apple: false });
    stop.store(true, Ordering::Relaxed);
    report
}

fn verdict(r: &Report, id: &str) -> (Verdict, String) {
    let x = r.results().into_iter().find(|x| x.id == id).unwrap();
    (x.verdict, x.message)
}

#[test]
fn correct_live_ts_origin_passes_section_b() {
    let r = run(None);
    for id in [
        "TS-01",
        "TS-02",
        "TS-03",
        "TS-04",
        "TS-05",
        "TS-06",
        "TS-07",
        "TS-08",
        "TS-10",
        "HLS-MP-08",
        "HLS-MP-15",
        "HLS-MP-16",
        "HLS-MV-02",
        "HLS-MP-13",
    ] {
        let (v, m) = verdict(&r, id);
        assert_eq!(v, Verdict::Pass, "{id}: {m}\n{}", r.render());
    }
    let (_, m) = verdict(&r, "TS-06");
    assert!(m.contains("->"), "continuity was judged across new segments: {m}");
    assert!(!r.failed(), "{}", r.render());
}

#[test]
fn live_ts_origin_with_a_cc_jump_and_a_non_idr_start_fails_ts_06_and_ts_05() {
    // Both faults land on segments published during the run (the backlog is 4 segments).
    let r = run(Some((6, 8)));
    let (v, m) = verdict(&r, "TS-06");
    assert_eq!(v, Verdict::Fail, "{m}\n{}", r.render());
    assert!(m.contains("msn 5 -> 6: PID 0x100 continuity_counter"), "{m}");
    let (v, m) = verdict(&r, "TS-05");
    assert_eq!(v, Verdict::Fail, "{m}");
    assert!(m.contains("msn 8 (8.ts): first H.264 picture is NAL type 1"), "{m}");
    let (v, _) = verdict(&r, "HLS-MP-16");
    assert_eq!(v, Verdict::Fail);
}
