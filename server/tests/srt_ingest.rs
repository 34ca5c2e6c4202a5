//! SRT ingest end to end: real ffmpeg SRT callers push MPEG-TS (H.264 or H.265 with AAC); the
//! LL-HLS and HLS-TS endpoints both decode with ffprobe; refused callers (wrong passphrase,
//! unknown group, malformed stream id, busy channel) leave a live publisher untouched; and SRT
//! playback (`read:`) is readable by ffprobe.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Publisher, Sluice, Source, TempDir, last_part};

/// ffprobe's `stream=codec_name,…` for a URL, as compact text; asserts it succeeded.
fn probe(url: &str) -> String {
    let out = run(Command::new("ffprobe").args([
        "-v",
        "error",
        "-rw_timeout",
        "15000000",
        "-show_entries",
        "stream=codec_name,codec_tag_string,width,height,sample_rate",
        "-of",
        "compact",
        url,
    ]));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "ffprobe {url}: {text} {}", String::from_utf8_lossy(&out.stderr));
    text
}

/// Decodes `seconds` of every track of `url`; asserts no decoder complained.
fn decode(url: &str, seconds: &str) {
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i", url, "-map", "0", "-t", seconds, "-f", "null", "-"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "decoding {url}: {err}");
    assert!(err.trim().is_empty(), "decode errors in {url}: {err}");
}

/// Runs a command with a hard time bound (kills it past 60 s).
fn run(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tool installed (scripts/install-deps.sh)");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output collected")
}

fn segment_numbers(playlist: &str) -> Vec<u64> {
    let mut msn: u64 = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.parse().ok())
        .expect("media sequence");
    let mut out = Vec::new();
    for line in playlist.lines() {
        if line.starts_with("#EXTINF:") {
            out.push(msn);
            msn += 1;
        }
    }
    out
}

fn wait_ts_segments(sluice: &Sluice, channel: &str, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = sluice.get(&format!("/{channel}/ts/video.m3u8"));
        if r.status == 200 && segment_numbers(&r.text()).len() >= n {
            return r.text();
        }
        assert!(Instant::now() < deadline, "no HLS-TS playlist: {} {}", r.status, r.text());
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn srt_h264_aac_plays_as_llhls_and_hls_ts() {
    let sluice = Sluice::start(&[]);
    let _pub = Publisher::srt(&sluice.srt_url("live/srt", "publish"), Source::H264);
    let multivariant = sluice.wait_live("live/srt", Duration::from_secs(20)).text();
    assert!(multivariant.contains("avc1.") && multivariant.contains("mp4a.40.2"), "{multivariant}");

    let ts = wait_ts_segments(&sluice, "live/srt", 3);
    assert!(ts.contains("#EXT-X-VERSION:3\n"), "{ts}");
    assert!(!ts.contains("#EXT-X-PART"), "classic HLS has no parts: {ts}");
    assert!(ts.contains("#EXT-X-PROGRAM-DATE-TIME:"), "{ts}");
    // The same segment numbers as the LL-HLS endpoint.
    let ll = sluice.get("/live/srt/hls/video.m3u8").text();
    let ll_numbers = segment_numbers(&ll);
    for n in segment_numbers(&ts) {
        assert!(
            ll_numbers.contains(&n) || n < ll_numbers[0],
            "TS segment {n} not in LL-HLS {ll_numbers:?}"
        );
    }

    let ts_probe = probe(&sluice.url("/live/srt/ts/index.m3u8"));
    assert!(ts_probe.contains("codec_name=h264") && ts_probe.contains("width=640"), "{ts_probe}");
    assert!(
        ts_probe.contains("codec_name=aac") && ts_probe.contains("sample_rate=48000"),
        "{ts_probe}"
    );
    decode(&sluice.url("/live/srt/ts/index.m3u8"), "3");
    let ll_probe = probe(&sluice.url("/live/srt/hls/index.m3u8"));
    assert!(
        ll_probe.contains("codec_name=h264") && ll_probe.contains("codec_name=aac"),
        "{ll_probe}"
    );
    decode(&sluice.url("/live/srt/hls/index.m3u8"), "3");

    let api = sluice.get("/api/v1/channels").text();
    assert!(api.contains("\"live/srt\"") && api.contains("\"width\":640"), "{api}");
}

#[test]
fn srt_obs_like_bframes_and_two_second_gop_play_on_both_endpoints() {
    let sluice = Sluice::start(&[]);
    let _pub = Publisher::srt(&sluice.srt_url("live/obs", "publish"), Source::ObsLike);
    sluice.wait_live("live/obs", Duration::from_secs(20));
    wait_ts_segments(&sluice, "live/obs", 2);
    let ts = sluice.get("/live/obs/ts/video.m3u8").text();
    // A 2 s GOP gives 2 s segments; version 3 needs TARGETDURATION ≥ every EXTINF unrounded.
    let td: f64 = ts
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .and_then(|v| v.parse().ok())
        .expect("target duration");
    for extinf in ts.lines().filter_map(|l| l.strip_prefix("#EXTINF:")) {
        let d: f64 = extinf.trim_end_matches(',').parse().expect("numeric EXTINF");
        assert!(d <= td && d > 1.5, "EXTINF {d} vs TARGETDURATION {td}");
    }
    decode(&sluice.url("/live/obs/ts/index.m3u8"), "4");
    decode(&sluice.url("/live/obs/hls/index.m3u8"), "4");
    let metrics = sluice.get("/metrics").text();
    assert!(metrics.contains("sluice_srt_connections_total 1"), "{metrics}");
}

#[test]
fn srt_h265_aac_is_packaged_as_hvc1_and_hevc_ts() {
    let sluice = Sluice::start(&[]);
    let _pub = Publisher::srt(&sluice.srt_url("live/hevc", "publish"), Source::H265);
    let multivariant = sluice.wait_live("live/hevc", Duration::from_secs(30)).text();
    assert!(multivariant.contains("CODECS=\"hvc1."), "{multivariant}");
    wait_ts_segments(&sluice, "live/hevc", 2);
    let ll = probe(&sluice.url("/live/hevc/hls/index.m3u8"));
    assert!(ll.contains("codec_name=hevc") && ll.contains("codec_tag_string=hvc1"), "{ll}");
    assert!(ll.contains("codec_name=aac"), "{ll}");
    decode(&sluice.url("/live/hevc/hls/index.m3u8"), "2");
    let ts = probe(&sluice.url("/live/hevc/ts/index.m3u8"));
    assert!(ts.contains("codec_name=hevc") && ts.contains("width=640"), "{ts}");
    decode(&sluice.url("/live/hevc/ts/index.m3u8"), "2");
}

/// An ffmpeg caller that is expected to be refused: it must exit with an error, quickly.
fn refused(url: &str) -> String {
    let out = run(Command::new("ffmpeg").args(common::publisher_args(Source::H264, "mpegts", url)));
    assert!(!out.status.success(), "{url} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn refused_callers_leave_a_live_publisher_streaming() {
    let dir = TempDir::new("srt-config");
    let config = dir.0.join("sluice.toml");
    std::fs::write(
        &config,
        "[channels.\"live/locked\"]\nsrt_passphrase = \"correct-horse-battery\"\n\
         [channels.\"live/spare\"]\nsrt_passphrase = \"correct-horse-battery\"\n",
    )
    .expect("config written");
    let sluice = Sluice::start(&["--config", config.to_str().expect("utf-8 path")]);
    let good = format!(
        "{}&passphrase=correct-horse-battery&pbkeylen=16",
        sluice.srt_url("live/locked", "publish")
    );
    let _pub = Publisher::srt(&good, Source::H264);
    sluice.wait_live("live/locked", Duration::from_secs(20));
    let (msn_before, _) = last_part(&sluice.get("/live/locked/hls/video.m3u8").text());

    // Wrong passphrase (AES-128 and AES-256), no passphrase, unknown group, malformed id, busy
    // channel.
    for pbkeylen in [16, 32] {
        let wrong = format!(
            "{}&passphrase=wrong-horse-battery&pbkeylen={pbkeylen}",
            sluice.srt_url("live/spare", "publish")
        );
        refused(&wrong);
    }
    refused(&sluice.srt_url("live/spare", "publish"));
    refused(&sluice.srt_url("nogroup/cam", "publish"));
    refused(&sluice.srt_url("only-one-part", "publish"));
    let busy = format!(
        "{}&passphrase=correct-horse-battery&pbkeylen=16",
        sluice.srt_url("live/locked", "publish")
    );
    refused(&busy);

    // The first publisher kept going all along.
    std::thread::sleep(Duration::from_secs(2));
    let (msn_after, _) = last_part(&sluice.get("/live/locked/hls/video.m3u8").text());
    assert!(msn_after >= msn_before + 2, "publisher stalled: {msn_before} -> {msn_after}");
    let metrics = sluice.get("/metrics").text();
    let rejected: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sluice_srt_rejected_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("srt rejection counter");
    assert!(rejected >= 6, "{rejected} refusals counted");
    // The spare channel never went live: nothing of the refused callers reached it.
    assert_ne!(sluice.get("/live/spare/hls/index.m3u8").status, 200);
}

#[test]
fn srt_playback_is_readable_by_ffprobe() {
    let sluice = Sluice::start(&[]);
    let _pub = Publisher::start(&sluice.rtmp_url("live/relay"), false);
    sluice.wait_live("live/relay", Duration::from_secs(20));
    let url = sluice.srt_url("live/relay", "read");
    let text = probe(&url);
    assert!(text.contains("codec_name=h264") && text.contains("width=640"), "{text}");
    assert!(text.contains("codec_name=aac") && text.contains("sample_rate=48000"), "{text}");
    decode(&url, "3");
    // A reader of a channel nobody publishes is refused.
    let out =
        run(Command::new("ffprobe").args(["-v", "error", &sluice.srt_url("live/none", "read")]));
    assert!(!out.status.success());
}

#[test]
fn garbage_datagrams_do_not_stop_the_srt_listener() {
    let sluice = Sluice::start(&[]);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..3000u32 {
        let len = (next() % 200) as usize + 1;
        let mut datagram: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 && len >= 16 {
            // Looks like an SRT control packet (top bit set) of an arbitrary type, so the
            // packet parser goes past the first byte.
            datagram[0] = 0x80 | (datagram[0] & 0x7f);
            datagram[1] = (i % 0x10) as u8;
        }
        let _ = socket.send_to(&datagram, sluice.srt);
    }
    std::thread::sleep(Duration::from_millis(300));
    // The listener still takes a publisher.
    let _pub = Publisher::srt(&sluice.srt_url("live/after", "publish"), Source::H264);
    sluice.wait_live("live/after", Duration::from_secs(20));
}

#[test]
fn many_publishers_share_the_srt_port() {
    // Encode once, then push copies: five encoders would starve a 2-core machine.
    let dir = TempDir::new("srt-many");
    let clip = dir.0.join("clip.ts");
    let out = run(Command::new("ffmpeg").args([
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "30",
        "-bf",
        "0",
        "-c:a",
        "aac",
        "-f",
        "mpegts",
        clip.to_str().expect("utf-8 path"),
    ]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sluice = Sluice::start(&[]);
    let publishers: Vec<std::process::Child> = (0..5)
        .map(|i| {
            Command::new("ffmpeg")
                .args(["-v", "error", "-re", "-stream_loop", "-1", "-i"])
                .arg(&clip)
                .args(["-c", "copy", "-f", "mpegts"])
                .arg(sluice.srt_url(&format!("live/many{i}"), "publish"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("ffmpeg starts")
        })
        .collect();
    let _stop = KillOnDrop(publishers);
    for i in 0..5 {
        sluice.wait_live(&format!("live/many{i}"), Duration::from_secs(20));
    }
    let api = sluice.get("/api/v1/channels").text();
    assert_eq!(api.matches("\"live\":true").count(), 5, "{api}");
}

struct KillOnDrop(Vec<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
