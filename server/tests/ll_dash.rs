//! LL-DASH over real sockets, from a real ffmpeg RTMP publish:
//! - the MPD is dynamic, low-latency (ATO, availabilityTimeComplete=false, UTCTiming on our own
//!   `/time`, ServiceDescription) and ffprobe decodes the stream it describes;
//! - a request for the segment in progress is answered at once with chunked transfer: the first
//!   part's bytes within a part duration, each later part as it lands, and the bytes end up
//!   identical to the finished segment;
//! - a segment not yet available is 404 with a short Cache-Control;
//! - the MPD answers conditional GETs (ETag → 304);
//! - a publisher that leaves and comes back starts a new Period where the wall clock says; the
//!   old Period lasts until it, lists its segments in a SegmentTimeline (its media ends early),
//!   and a request scoped to the old Period never gets the new Period's segment;
//! - segments that leave their `$Number$` slots (an irregular GOP) are listed in a
//!   SegmentTimeline with their real durations.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Publisher, Sluice, Source, get, last_part};

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
        r#"/video/$Number$.m4s""#,
        r#"/audio/$Number$.m4s""#,
        r#"<Latency referenceId="0" target="#,
        "<ProducerReferenceTime ",
        &format!(r#"value="http://{}/time""#, sluice.http),
    ] {
        assert!(mpd.contains(needle), "MPD lacks {needle}:\n{mpd}");
    }
    // Conditional GET: the same document is a 304 (players and CDNs poll it every half segment).
    let etag = r.header("etag").expect("the MPD has an ETag").to_owned();
    let again = get(sluice.http, "/live/dash/dash/index.mpd", &[("If-None-Match", &etag)]);
    if again.header("etag") == Some(etag.as_str()) {
        assert_eq!(again.status, 304, "same ETag, so not modified");
        assert!(again.body.is_empty());
    } else {
        assert_eq!(again.status, 200, "changed in between (a new segment): the new document");
    }
    assert_eq!(r.header("cache-control"), Some("no-cache"));
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

/// `(id, start s, duration s)` of each Period in an MPD.
fn periods(mpd: &str) -> Vec<(String, f64, Option<f64>)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[at..].split('"').next()?.to_owned())
    };
    let seconds = |v: String| v.trim_start_matches("PT").trim_end_matches('S').parse().ok();
    mpd.split("<Period ")
        .skip(1)
        .filter_map(|rest| {
            let tag = format!(" {}", rest.split('>').next()?);
            Some((
                attr(&tag, "id")?,
                seconds(attr(&tag, "start")?)?,
                attr(&tag, "duration").and_then(seconds),
            ))
        })
        .collect()
}

#[test]
fn a_returning_publisher_starts_a_new_period_the_old_one_ending_with_its_timeline() {
    let sluice = Sluice::start(&[]);
    let publisher = Publisher::start(&sluice.rtmp_url("live/back"), false);
    sluice.wait_live("live/back", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    let before = sluice.get("/live/back/dash/index.mpd").text();
    assert_eq!(periods(&before).len(), 1, "{before}");
    assert!(!before.contains("<SegmentTimeline>"), "a regular live Period uses @duration");
    publisher.stop();
    std::thread::sleep(Duration::from_millis(1500));
    let _back = Publisher::start(&sluice.rtmp_url("live/back"), false);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mpd = loop {
        let mpd = sluice.get("/live/back/dash/index.mpd").text();
        if periods(&mpd).len() == 2 || Instant::now() > deadline {
            break mpd;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let p = periods(&mpd);
    assert_eq!(p.len(), 2, "a second Period for the returning publisher:\n{mpd}");
    let ((old_id, old_start, old_duration), (new_id, new_start, _)) = (&p[0], &p[1]);
    assert_eq!(periods(&before)[0].0, *old_id, "the first Period keeps its id");
    // No hole between Periods; the time away (≥ 1.5 s) lies inside the old one, after its media.
    let old_duration = old_duration.expect("the ended Period has a duration");
    assert!((old_start + old_duration - new_start).abs() < 0.002, "{mpd}");
    let old_period = mpd.split("<Period ").nth(1).expect("old Period");
    assert_eq!(old_period.matches("<SegmentTimeline>").count(), 2, "both tracks: {old_period}");
    // The timeline's media ends at least the time away before the Period does.
    let last_s_end = {
        let video = old_period.split("<SegmentTemplate").nth(1).expect("video template");
        let timescale: f64 = video
            .split("timescale=\"")
            .nth(1)
            .and_then(|v| v.split('"').next()?.parse().ok())
            .expect("timescale");
        let pto: f64 = video
            .split("presentationTimeOffset=\"")
            .nth(1)
            .and_then(|v| v.split('"').next()?.parse().ok())
            .expect("pto");
        let mut end = 0.0;
        for s in video.split("<S ").skip(1) {
            let get = |n: &str| {
                s.split(&format!("{n}=\""))
                    .nth(1)
                    .and_then(|v| v.split('"').next()?.parse::<f64>().ok())
            };
            let t = get("t").unwrap_or(end);
            end = t + get("d").expect("S@d") * (1.0 + get("r").unwrap_or(0.0));
        }
        old_start + (end - pto) / timescale
    };
    assert!(new_start - last_s_end >= 1.4, "gap {} s:\n{mpd}", new_start - last_s_end);
    // The new Period's first segment: served in its own Period, never as the old one's.
    let first: u64 = new_id.trim_start_matches('p').parse().expect("numeric Period id");
    let ours = sluice.get(&format!("/live/back/dash/{new_id}/video/{first}.m4s"));
    assert_eq!(ours.status, 200);
    let theirs = sluice.get(&format!("/live/back/dash/{old_id}/video/{first}.m4s"));
    assert_eq!(theirs.status, 404, "{}", theirs.text());
    let unknown = sluice.get(&format!("/live/back/dash/p999999/video/{first}.m4s"));
    assert_eq!(unknown.status, 404);
}

#[test]
fn an_irregular_gop_is_addressed_by_a_segment_timeline() {
    let sluice = Sluice::start(&[]);
    let _publisher =
        Publisher::spawn(Source::H264IrregularGop, "flv", &sluice.rtmp_url("live/gop"));
    sluice.wait_live("live/gop", Duration::from_secs(20));
    // Segments of 1.5 s and 1 s in turn: by the third, they are half a segment off the
    // 1.5 s slots the first one set.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mpd = loop {
        let mpd = sluice.get("/live/gop/dash/index.mpd").text();
        if mpd.contains("<SegmentTimeline>") || Instant::now() > deadline {
            break mpd;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(periods(&mpd).len(), 1, "one publisher session, one Period:\n{mpd}");
    let video = mpd.split("<SegmentTemplate").nth(1).expect("video template");
    let video = video.split("</SegmentTemplate>").next().expect("template");
    assert!(video.contains("<SegmentTimeline>"), "video addressed by a timeline:\n{mpd}");
    assert!(!video.split('>').next().expect("tag").contains(" duration="), "{video}");
    // Both real durations are listed (90 kHz), not one nominal one.
    assert!(video.contains(r#"d="135000""#) && video.contains(r#"d="90000""#), "{video}");
    // The timeline's numbers fetch the segments it describes.
    let start: u64 = video
        .split("startNumber=\"")
        .nth(1)
        .and_then(|v| v.split('"').next()?.parse().ok())
        .expect("startNumber");
    let (id, ..) = &periods(&mpd)[0];
    let seg = sluice.get(&format!("/live/gop/dash/{id}/video/{start}.m4s"));
    assert_eq!(seg.status, 200);
    assert_eq!(&seg.body[4..8], b"moof");
}
