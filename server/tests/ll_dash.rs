//! LL-DASH over real sockets, from a real ffmpeg RTMP publish:
//! - the MPD is dynamic, low-latency (ATO, availabilityTimeComplete=false, UTCTiming on our own
//!   `/time`, ServiceDescription) and ffprobe decodes the stream it describes;
//! - a request for the segment in progress is answered at once with chunked transfer: the first
//!   part's bytes within a part duration, each later part as it lands, and the bytes end up
//!   identical to the finished segment;
//! - a segment not yet available is 404 with a short Cache-Control.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Publisher, Sluice, get, last_part};

/// Sends a GET and reads the response, noting when each piece of the body arrived.
struct Timed {
    status: u16,
    headers: Vec<(String, String)>,
    /// (ms since the request was sent, bytes of the raw body read at that moment)
    reads: Vec<(u128, usize)>,
    raw_body: Vec<u8>,
}

impl Timed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn timed_get(sluice: &Sluice, path: &str) -> Timed {
    let mut s = TcpStream::connect(sluice.http).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let start = Instant::now();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", sluice.http)
        .expect("request");
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
        if let Some((k, v)) = l.trim_end().split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let (mut reads, mut raw_body) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 65536];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                reads.push((start.elapsed().as_millis(), n));
                raw_body.extend_from_slice(&buf[..n]);
            }
        }
    }
    Timed { status, headers, reads, raw_body }
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size else { break };
        raw = &raw[eol + 2..];
        if size == 0 || raw.len() < size {
            break;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[(size + 2).min(raw.len())..];
    }
    out
}

#[test]
fn the_mpd_is_low_latency_and_ffprobe_decodes_it() {
    let sluice = Sluice::start(&[]);
    let _publisher = Publisher::start(&sluice.rtmp_url("live/dash"), false);
    sluice.wait_live("live/dash", Duration::from_secs(20));
    let r = sluice.get("/live/dash/dash/index.mpd");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/dash+xml"));
    let mpd = r.text();
    for needle in [
        r#"type="dynamic""#,
        r#"availabilityTimeOffset="0.8" availabilityTimeComplete="false""#,
        r#"media="video/$Number$.m4s""#,
        r#"media="audio/$Number$.m4s""#,
        r#"<Latency referenceId="0" target="#,
        "<ProducerReferenceTime ",
        &format!(r#"value="http://{}/time""#, sluice.http),
    ] {
        assert!(mpd.contains(needle), "MPD lacks {needle}:\n{mpd}");
    }
    // The time endpoint the MPD points at answers with the server's clock (ISO 8601, ms).
    let time = sluice.get("/time").text();
    assert!(time.ends_with('Z') && time.contains('.'), "time: {time}");

    let out = Command::new("ffprobe")
        .args(["-v", "error", "-rw_timeout", "10000000", "-show_entries"])
        .args(["stream=codec_name,width,height,sample_rate", "-of", "compact"])
        .arg(sluice.url("/live/dash/dash/index.mpd"))
        .output()
        .expect("ffprobe runs (scripts/install-deps.sh)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("codec_name=h264|width=640|height=360"), "{text}");
    assert!(text.contains("codec_name=aac|sample_rate=48000"), "{text}");
}

#[test]
fn a_segment_in_progress_arrives_part_by_part() {
    let sluice = Sluice::start(&[]);
    let _publisher = Publisher::start(&sluice.rtmp_url("live/chunks"), false);
    sluice.wait_live("live/chunks", Duration::from_secs(20));
    // Wait (blocking reload) until the next segment's first part exists, then ask for the
    // segment at once, as a DASH player does one part after its start.
    let (msn, _) = last_part(&sluice.get("/live/chunks/hls/video.m3u8").text());
    let next = msn + 1;
    let r =
        get(sluice.http, &format!("/live/chunks/hls/video.m3u8?_HLS_msn={next}&_HLS_part=0"), &[]);
    assert_eq!(r.status, 200);
    let t = timed_get(&sluice, &format!("/live/chunks/dash/video/{next}.m4s"));
    assert_eq!(t.status, 200);
    assert_eq!(t.header("transfer-encoding"), Some("chunked"), "{:?}", t.headers);
    assert_eq!(t.header("cache-control"), Some("no-store"));
    let first = t.reads.first().expect("body bytes").0;
    let last = t.reads.last().expect("body bytes").0;
    println!("MEASURE in-progress segment reads (ms, bytes): {:?}", t.reads);
    // The first part's bytes come at once (within a part duration), the rest over the
    // segment's remaining ~0.8 s as its parts land, not in one piece at the end.
    assert!(first < 200, "first bytes after {first} ms");
    assert!(last - first >= 500, "body spread over {} ms only: {:?}", last - first, t.reads);
    let arrivals_after_100ms = t.reads.iter().filter(|(at, _)| *at > first + 100).count();
    assert!(arrivals_after_100ms >= 3, "later parts arrived in {arrivals_after_100ms} reads");
    // The streamed bytes are the finished segment.
    let streamed = dechunk(&t.raw_body);
    let whole = sluice.get(&format!("/live/chunks/dash/video/{next}.m4s"));
    assert_eq!(whole.status, 200);
    assert!(whole.header("content-length").is_some(), "a finished segment has a length");
    assert_eq!(streamed.len(), whole.body.len());
    assert!(streamed == whole.body, "streamed bytes differ from the finished segment");
    assert_eq!(&streamed[4..8], b"moof", "CMAF chunks (moof first)");

    // Far ahead of the live edge: 404, remembered briefly.
    let ahead = sluice.get(&format!("/live/chunks/dash/video/{}.m4s", next + 10));
    assert_eq!(ahead.status, 404);
    assert_eq!(ahead.header("cache-control"), Some("max-age=1"));
    let init = sluice.get("/live/chunks/dash/video/init-0.mp4");
    assert_eq!(init.status, 200);
    assert_eq!(&init.body[4..8], b"ftyp");
}
