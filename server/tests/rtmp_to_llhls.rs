//! ffmpeg pushes RTMP into a real `sluice`; LL-HLS comes out over real sockets.

mod common;

use std::time::{Duration, Instant};

use common::{Publisher, Sluice, attr, get, last_part, raw};

fn playlist_line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

#[test]
fn rtmp_publish_serves_multivariant_and_media_playlists() {
    let sluice = Sluice::start(&[]);
    let _pub = Publisher::start(&sluice.rtmp_url("live/cam1"), false);
    let mv = sluice.wait_live("live/cam1", Duration::from_secs(20));
    assert_eq!(mv.header("content-type"), Some("application/vnd.apple.mpegurl"));
    assert_eq!(mv.header("access-control-allow-origin"), Some("*"));
    let mv = mv.text();
    assert!(mv.starts_with("#EXTM3U\n"), "{mv}");
    let inf = playlist_line(&mv, "#EXT-X-STREAM-INF:").expect("a variant");
    let codecs = attr(inf, "CODECS").expect("CODECS");
    assert!(codecs.contains("avc1.") && codecs.contains("mp4a.40.2"), "{codecs}");
    assert_eq!(attr(inf, "RESOLUTION"), Some("640x360"));
    assert_eq!(attr(inf, "FRAME-RATE"), Some("30.000"));
    assert!(
        attr(inf, "BANDWIDTH").and_then(|b| b.parse::<u64>().ok()).is_some_and(|b| b > 100_000),
        "{inf}"
    );
    assert!(attr(inf, "AVERAGE-BANDWIDTH").is_some(), "{inf}");
    assert_eq!(attr(inf, "AUDIO"), Some("audio"));
    let media = playlist_line(&mv, "#EXT-X-MEDIA:").expect("audio rendition");
    assert_eq!(attr(media, "TYPE"), Some("AUDIO"));
    assert_eq!(attr(media, "URI"), Some("audio.m3u8"));

    // Let a few segments accumulate, then look at the media playlists.
    std::thread::sleep(Duration::from_secs(3));
    for (rendition, other) in [("video", "audio"), ("audio", "video")] {
        let r = sluice.get(&format!("/live/cam1/hls/{rendition}.m3u8"));
        assert_eq!(r.status, 200);
        assert!(r.header("cache-control").is_some_and(|c| c.contains("max-age")));
        let text = r.text();
        assert_eq!(
            playlist_line(&text, "#EXT-X-TARGETDURATION:"),
            Some("#EXT-X-TARGETDURATION:1"),
            "{text}"
        );
        let part_inf = playlist_line(&text, "#EXT-X-PART-INF:").expect("PART-INF");
        assert_eq!(
            attr(part_inf, "PART-TARGET").map(|v| v.parse::<f64>().expect("number")),
            Some(0.2)
        );
        let sc = playlist_line(&text, "#EXT-X-SERVER-CONTROL:").expect("SERVER-CONTROL");
        assert_eq!(attr(sc, "CAN-BLOCK-RELOAD"), Some("YES"));
        let phb: f64 = attr(sc, "PART-HOLD-BACK").expect("PART-HOLD-BACK").parse().expect("number");
        assert!(phb >= 0.6 - 1e-9, "{sc}");
        let skip: f64 =
            attr(sc, "CAN-SKIP-UNTIL").expect("CAN-SKIP-UNTIL").parse().expect("number");
        assert!(skip >= 6.0, "{sc}");
        assert!(text.contains("#EXT-X-MAP:URI=\""), "{text}");
        assert!(text.contains("#EXT-X-PROGRAM-DATE-TIME:20"), "{text}");
        assert!(text.contains("#EXT-X-PART:DURATION="), "{text}");
        let hint = playlist_line(&text, "#EXT-X-PRELOAD-HINT:").expect("preload hint");
        assert_eq!(attr(hint, "TYPE"), Some("PART"));
        let report = playlist_line(&text, "#EXT-X-RENDITION-REPORT:").expect("rendition report");
        assert_eq!(attr(report, "URI"), Some(format!("{other}.m3u8").as_str()));
        if rendition == "video" {
            assert!(text.contains("INDEPENDENT=YES"), "{text}");
        }
        // Every listed part and segment is downloadable and is CMAF (moof first, init ftyp).
        let seg_uri =
            text.lines().rfind(|l| l.ends_with(".m4s") && !l.starts_with('#')).expect("a segment");
        let seg = sluice.get(&format!("/live/cam1/hls/{seg_uri}"));
        assert_eq!(seg.status, 200);
        assert_eq!(&seg.body[4..8], b"moof");
        assert!(seg.header("cache-control").is_some_and(|c| c.contains("max-age")));
        let map =
            playlist_line(&text, "#EXT-X-MAP:").and_then(|l| attr(l, "URI")).expect("map uri");
        let init = sluice.get(&format!("/live/cam1/hls/{map}"));
        assert_eq!(&init.body[4..8], b"ftyp");
    }

    // gzip when asked, identical content once decoded.
    let gz = get(sluice.http, "/live/cam1/hls/index.m3u8", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(&gz.body[..2], &[0x1f, 0x8b]);
}

#[test]
fn blocking_reload_answers_when_the_next_part_lands() {
    let sluice = Sluice::start(&[]);
    let _pub = Publisher::start(&sluice.rtmp_url("live/block"), false);
    sluice.wait_live("live/block", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2));
    let mut waits = Vec::new();
    let (mut msn, mut part) = last_part(&sluice.get("/live/block/hls/video.m3u8").text());
    for _ in 0..15 {
        let path = format!("/live/block/hls/video.m3u8?_HLS_msn={msn}&_HLS_part={}", part + 1);
        let r = sluice.get(&path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let text = r.text();
        let (m, p) = last_part(&text);
        assert!((m, p) > (msn, part), "{path} answered without the requested part:\n{text}");
        waits.push(r.elapsed);
        (msn, part) = (m, p);
    }
    waits.sort();
    let p50 = waits[waits.len() / 2];
    let max = *waits.last().expect("15 samples");
    eprintln!("blocking reload wait p50={p50:?} max={max:?}");
    // The next part lands at most one part duration (200 ms) after the last one.
    assert!(max <= Duration::from_millis(300), "a held request took {max:?}");

    // Far future → 400 at once; _HLS_part alone → 400; garbage → 400.
    for bad in [
        format!("_HLS_msn={}", msn + 3),
        "_HLS_part=1".to_owned(),
        "_HLS_msn=abc".to_owned(),
        // Far beyond the advance part limit (3 / 0.2 s = 15 parts) in the next segment. (In the
        // current segment it could legally mean part 0 of the next, if that segment completes.)
        format!("_HLS_msn={}&_HLS_part=99", msn + 1),
    ] {
        let t = Instant::now();
        let r = sluice.get(&format!("/live/block/hls/video.m3u8?{bad}"));
        assert_eq!(r.status, 400, "{bad}");
        assert!(t.elapsed() < Duration::from_millis(200), "{bad} was held");
    }

    // The hinted part blocks until it exists, then arrives whole.
    let text = sluice.get("/live/block/hls/video.m3u8").text();
    let hint = playlist_line(&text, "#EXT-X-PRELOAD-HINT:")
        .and_then(|l| attr(l, "URI"))
        .expect("hint")
        .to_owned();
    let r = sluice.get(&format!("/live/block/hls/{hint}"));
    assert!(r.status == 200 || r.status == 404, "hinted part: {}", r.status);
    if r.status == 200 {
        assert_eq!(&r.body[4..8], b"moof");
    }
    // A part far ahead is not held.
    let t = Instant::now();
    assert_eq!(sluice.get(&format!("/live/block/hls/video/{}.0.m4s", msn + 50)).status, 404);
    assert!(t.elapsed() < Duration::from_millis(200));
}

#[test]
fn ffprobe_decodes_both_tracks() {
    let sluice = Sluice::start(&[]);
    let _pub = Publisher::start(&sluice.rtmp_url("live/probe"), false);
    sluice.wait_live("live/probe", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2));
    let url = sluice.url("/live/probe/hls/index.m3u8");
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height,sample_rate",
            "-of",
            "compact",
            &url,
        ])
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("codec_name=h264") && text.contains("width=640"), "{text}");
    assert!(text.contains("codec_name=aac") && text.contains("sample_rate=48000"), "{text}");
    // Decode three seconds of both tracks: no decoder errors.
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v", "error", "-i", &url, "-map", "0:v", "-map", "0:a", "-t", "3", "-f", "null", "-",
        ])
        .output()
        .expect("ffmpeg runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.trim().is_empty(), "decode errors: {err}");
}

#[test]
fn reconnecting_publisher_keeps_the_playlist_valid() {
    let sluice = Sluice::start(&[]);
    let first = Publisher::start(&sluice.rtmp_url("live/re"), false);
    sluice.wait_live("live/re", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2));
    let before = sluice.get("/live/re/hls/video.m3u8").text();
    let (msn_before, _) = last_part(&before);
    first.stop();
    std::thread::sleep(Duration::from_secs(1));
    let _second = Publisher::start(&sluice.rtmp_url("live/re"), false);
    // Wait for the new session's media to appear after a discontinuity.
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let t = sluice.get("/live/re/hls/video.m3u8").text();
        let (m, _) = last_part(&t);
        if t.contains("#EXT-X-DISCONTINUITY\n") && m >= msn_before + 2 {
            break t;
        }
        assert!(Instant::now() < deadline, "no discontinuity after reconnect:\n{t}");
        std::thread::sleep(Duration::from_millis(300));
    };
    let seq = |t: &str| -> u64 {
        playlist_line(t, "#EXT-X-MEDIA-SEQUENCE:")
            .and_then(|l| l.split(':').nth(1))
            .and_then(|v| v.parse().ok())
            .expect("media sequence")
    };
    assert!(seq(&after) >= seq(&before), "media sequence went back");
    // The audio rendition carries the same break.
    let audio = sluice.get("/live/re/hls/audio.m3u8").text();
    assert!(audio.contains("#EXT-X-DISCONTINUITY\n"), "{audio}");
    // And the whole thing still decodes.
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv",
            &sluice.url("/live/re/hls/index.m3u8"),
        ])
        .output()
        .expect("ffprobe runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("h264"));
}

#[test]
fn second_publisher_is_refused_and_garbage_harms_nothing() {
    let sluice = Sluice::start(&[]);
    let _first = Publisher::start(&sluice.rtmp_url("live/one"), false);
    sluice.wait_live("live/one", Duration::from_secs(20));

    let mut second = Publisher::start(&sluice.rtmp_url("live/one"), false);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = second.exited() {
            break s;
        }
        assert!(Instant::now() < deadline, "the second publisher was not refused");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success(), "ffmpeg should fail when refused");

    // Garbage on the RTMP port and on the HTTP port.
    use std::io::Write;
    for _ in 0..5 {
        let mut s = std::net::TcpStream::connect(sluice.rtmp).expect("rtmp port open");
        let junk: Vec<u8> =
            (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let _ = s.write_all(&junk);
    }
    let r = raw(sluice.http, "BLAH / HTTP/9\r\n\r\n");
    assert!(r.status == 400 || r.status == 0 || r.status == 505, "{}", r.status);
    let r = sluice.get("/live/one/hls/video.m3u8?_HLS_msn=-1");
    assert_eq!(r.status, 400);
    assert_eq!(sluice.get("/live/one/hls/../../etc/passwd").status, 404);
    assert_eq!(sluice.get("/nope/none/hls/index.m3u8").status, 404);

    // The live channel is unharmed: new parts keep arriving.
    let (m, p) = last_part(&sluice.get("/live/one/hls/video.m3u8").text());
    let r = sluice.get(&format!("/live/one/hls/video.m3u8?_HLS_msn={m}&_HLS_part={}", p + 1));
    assert_eq!(r.status, 200);
    assert!(last_part(&r.text()) > (m, p));
}

#[test]
fn obs_like_bframes_and_two_second_gop_play() {
    let sluice = Sluice::start(&[]);
    let _pub = Publisher::start(&sluice.rtmp_url("live/obs"), true);
    sluice.wait_live("live/obs", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(3));
    let text = sluice.get("/live/obs/hls/video.m3u8").text();
    // A 2 s GOP with a 1 s target gives 2 s segments, and TARGETDURATION says so.
    assert_eq!(
        playlist_line(&text, "#EXT-X-TARGETDURATION:"),
        Some("#EXT-X-TARGETDURATION:2"),
        "{text}"
    );
    let url = sluice.url("/live/obs/hls/index.m3u8");
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i", &url, "-map", "0:v", "-t", "3", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "decode errors with B-frames: {err}");
    // Composition offsets reached the parts: trun version 1 with composition offsets flag.
    let seg_uri =
        text.lines().rfind(|l| l.ends_with(".m4s") && !l.starts_with('#')).expect("a segment");
    let seg = sluice.get(&format!("/live/obs/hls/{seg_uri}")).body;
    let trun = seg.windows(4).position(|w| w == b"trun").expect("trun box");
    let flags = u32::from_be_bytes([0, seg[trun + 5], seg[trun + 6], seg[trun + 7]]);
    assert_eq!(seg[trun + 4], 1, "trun version 1 (signed composition offsets)");
    assert!(flags & 0x800 != 0, "composition offsets present");
}

#[test]
fn blocked_request_gets_503_when_the_publisher_goes_away() {
    let sluice = Sluice::start(&[]);
    let publisher = Publisher::start(&sluice.rtmp_url("live/gone"), false);
    sluice.wait_live("live/gone", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2));
    publisher.stop();
    std::thread::sleep(Duration::from_millis(500));
    let (m, _) = last_part(&sluice.get("/live/gone/hls/video.m3u8").text());
    let t = Instant::now();
    let r = sluice.get(&format!("/live/gone/hls/video.m3u8?_HLS_msn={}", m + 1));
    let waited = t.elapsed();
    assert_eq!(r.status, 503, "{}", r.text());
    // Three target durations (TD = 1 s), not much less and not much more.
    assert!(
        waited >= Duration::from_millis(2900) && waited < Duration::from_millis(4000),
        "{waited:?}"
    );
}
