//! Shared harness for the integration tests: a real `sluice` process, real ffmpeg publishers,
//! and a small blocking HTTP/1.1 client. Every process is killed when its handle drops.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sluice {
    child: Child,
    pub http: SocketAddr,
    pub rtmp: SocketAddr,
    pub https: Option<SocketAddr>,
    pub srt: SocketAddr,
    _data: TempDir,
}

impl Drop for Sluice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "sluice-test-{tag}-{}-{:?}",
            std::process::id(),
            Instant::now()
        ));
        let p = std::path::PathBuf::from(p.to_string_lossy().replace([' ', '{', '}', ':'], ""));
        std::fs::create_dir_all(&p).expect("temp dir is creatable");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Sluice {
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(false, extra)
    }

    /// `tls`: also listen with TLS on a free port (development certificate).
    pub fn start_with(tls: bool, extra: &[&str]) -> Self {
        let data = TempDir::new("data");
        let https = if tls { "127.0.0.1:0" } else { "off" };
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--http", "127.0.0.1:0", "--rtmp", "127.0.0.1:0", "--workers", "2"])
            .args(["--srt", "127.0.0.1:0"])
            .args(["--https", https])
            .arg("--data")
            .arg(&data.0)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sluice binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let (mut http, mut rtmp, mut https, mut srt) = (None, None, None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while (http.is_none() || rtmp.is_none() || srt.is_none() || (tls && https.is_none()))
            && Instant::now() < deadline
        {
            let Some(Ok(line)) = lines.next() else { break };
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next()) {
                (Some("listening"), Some("http"), Some(a)) => http = a.parse().ok(),
                (Some("listening"), Some("rtmp"), Some(a)) => rtmp = a.parse().ok(),
                (Some("listening"), Some("https"), Some(a)) => https = a.parse().ok(),
                (Some("listening"), Some("srt"), Some(a)) => srt = a.parse().ok(),
                _ => {}
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            http: http.expect("sluice printed its http address"),
            rtmp: rtmp.expect("sluice printed its rtmp address"),
            https,
            srt: srt.expect("sluice printed its srt address"),
            _data: data,
        }
    }

    /// The server's process id (for /proc measurements).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's data directory (the development certificate is in `tls/`).
    pub fn data_dir(&self) -> &std::path::Path {
        &self._data.0
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn rtmp_url(&self, channel: &str) -> String {
        format!("rtmp://{}/{}", self.rtmp, channel)
    }

    /// An ffmpeg SRT caller URL (`mode` is `publish` or `read`; latency in microseconds).
    pub fn srt_url(&self, channel: &str, mode: &str) -> String {
        format!(
            "srt://{}?mode=caller&latency=120000&pkt_size=1316&streamid={mode}:{channel}",
            self.srt
        )
    }

    pub fn get(&self, path: &str) -> Response {
        get(self.http, path, &[])
    }

    /// Polls until the channel's multivariant playlist answers 200.
    pub fn wait_live(&self, channel: &str, within: Duration) -> Response {
        let deadline = Instant::now() + within;
        loop {
            let r = self.get(&format!("/{channel}/hls/index.m3u8"));
            if r.status == 200 {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{channel} did not become live: {} {}",
                r.status,
                r.text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// An ffmpeg process publishing a synthetic test source over RTMP.
pub struct Publisher(Child);

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a test publisher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// x264 zerolatency, 1 s GOP, no B-frames.
    H264,
    /// OBS defaults: x264 High, 2 B-frames, 2 s GOP.
    ObsLike,
    /// x265, 1 s GOP, no B-frames.
    H265,
    /// x264 zerolatency with a 4 s GOP (keyframe-request tests).
    H264LongGop,
    /// x264 zerolatency with keyframes 1.5 s and 1 s apart in turn (0, 1.5, 2.5, 4, 5, …).
    H264IrregularGop,
}

/// `-force_key_frames` times for [`Source::H264IrregularGop`] over its first minute.
const IRREGULAR_KEYFRAMES: &str = "0,1.5,2.5,4,5,6.5,7.5,9,10,11.5,12.5,14,15,16.5,17.5,19,20,21.5,22.5,24,25,26.5,27.5,29,30,31.5,32.5,34,35,36.5,37.5,39,40,41.5,42.5,44,45,46.5,47.5,49,50,51.5,52.5,54,55,56.5,57.5,59,60";

impl Publisher {
    /// 640x360 30 fps x264 with a 1 s GOP (or OBS-like 2 s GOP with B-frames), AAC 48 kHz, RTMP.
    pub fn start(url: &str, obs_like: bool) -> Self {
        Self::spawn(if obs_like { Source::ObsLike } else { Source::H264 }, "flv", url)
    }

    /// The same synthetic source as MPEG-TS over SRT (`url` from [`Sluice::srt_url`]).
    pub fn srt(url: &str, source: Source) -> Self {
        Self::spawn(source, "mpegts", url)
    }

    pub fn spawn(source: Source, format: &str, url: &str) -> Self {
        let child = Command::new("ffmpeg")
            .args(publisher_args(source, format, url))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ffmpeg is installed (scripts/install-deps.sh)");
        Self(child)
    }

    pub fn stop(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().ok().flatten()
    }
}

/// ffmpeg arguments for a real-time synthetic test source (testsrc2 + 440 Hz tone).
pub fn publisher_args(source: Source, format: &str, url: &str) -> Vec<String> {
    let mut args: Vec<&str> = vec![
        "-hide_banner",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-pix_fmt",
        "yuv420p",
    ];
    let gop = match source {
        Source::H264LongGop => "120",
        // Only the forced keyframes: x264's own interval beyond any of them.
        Source::H264IrregularGop => "300",
        _ => "30",
    };
    let x264_zerolatency = [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-tune",
        "zerolatency",
        "-bf",
        "0",
        "-g",
        gop,
        "-keyint_min",
        gop,
    ];
    args.extend_from_slice(match source {
        Source::H264 | Source::H264LongGop => &x264_zerolatency,
        Source::H264IrregularGop => &x264_zerolatency,
        Source::ObsLike => &[
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
            "-bf",
            "2",
            "-g",
            "60",
            "-keyint_min",
            "60",
        ],
        Source::H265 => &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-x265-params",
            "keyint=30:min-keyint=30:bframes=0:scenecut=0:log-level=error",
        ],
    });
    if source == Source::H264IrregularGop {
        args.extend_from_slice(&["-force_key_frames", IRREGULAR_KEYFRAMES]);
    }
    args.extend_from_slice(&[
        "-sc_threshold",
        "0",
        "-b:v",
        "1M",
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-ac",
        "2",
        "-f",
        format,
        url,
    ]);
    args.into_iter().map(String::from).collect()
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Time from sending the request to the end of the headers.
    pub elapsed: Duration,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 GET (Content-Length or chunked bodies).
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    raw(
        addr,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{}\r\n",
            headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect::<String>()
        ),
    )
}

pub fn raw(addr: SocketAddr, request: &str) -> Response {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).expect("server accepts connections");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout settable");
    s.write_all(request.as_bytes()).expect("request written");
    let mut r = BufReader::new(s);
    let mut status_line = String::new();
    r.read_line(&mut status_line).expect("status line");
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let elapsed = start.elapsed();
    let find = |n: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).expect("chunk size");
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).expect("chunk");
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body).expect("body");
    } else {
        let _ = r.read_to_end(&mut body);
    }
    Response { status, headers, body, elapsed }
}

/// Parses `#EXT-X-...:A=1,B="x"` attribute lists (enough for assertions).
pub fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let (_, list) = line.split_once(':')?;
    let mut rest = list;
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = if let Some(stripped) = after.strip_prefix('"') {
            let end = stripped.find('"')?;
            (&stripped[..end], stripped[end + 1..].trim_start_matches(','))
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            }
        };
        if key == name {
            return Some(value);
        }
        rest = next;
    }
    None
}

/// The last (msn, part) listed in a media playlist, counting parts of the last segment.
pub fn last_part(playlist: &str) -> (u64, u32) {
    let mut msn = 0u64;
    let mut parts_in_current = 0u32;
    let mut last = (0, 0);
    for line in playlist.lines() {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            msn = v.parse().expect("numeric media sequence");
        } else if line.starts_with("#EXT-X-PART:") {
            last = (msn, parts_in_current);
            parts_in_current += 1;
        } else if !line.starts_with('#') && !line.is_empty() {
            msn += 1;
            parts_in_current = 0;
        }
    }
    last
}

/// The Python interpreter of the test venv that `scripts/install-deps.sh` creates
/// (`.venv-webrtc`: imageio-ffmpeg's FFmpeg 9, aiortc, aioquic).
pub fn venv_python() -> std::path::PathBuf {
    let venv = std::env::var_os("SLUICE_WEBRTC_VENV").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-webrtc"),
        std::path::PathBuf::from,
    );
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps.sh (it installs imageio-ffmpeg, aiortc and aioquic)",
        python.display()
    );
    python
}
