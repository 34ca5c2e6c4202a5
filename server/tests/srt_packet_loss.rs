//! SRT ingest over a lossy link: an ffmpeg SRT caller and `sluice` run in two network
//! namespaces joined by a veth pair that drops 5% of the UDP packets in each direction (data,
//! ACK, NAK and keep-alive alike). SRT's retransmission must hide the loss: the channel stays
//! live for the whole run and every served segment decodes without a single decoder complaint.
//!
//! Needs root (namespaces, veth, nftables), iproute2 (`ip`) and nftables (`nft`). The loss is an
//! nftables rule on each namespace's veth ingress (`numgen random mod 100 < 5 drop`): the same
//! independent random 5% loss as `tc qdisc … netem loss 5%`, but nf_tables is built into kernels
//! that lack sch_netem (the dev VM's kernel has `CONFIG_NET_SCH_NETEM` unset and no modules).
//! Nothing leaves the two namespaces: the veth pair has private addresses and HTTP is checked on
//! the server namespace's own loopback.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Source, TempDir, attr, last_part, publisher_args};

const SERVER_ADDR: &str = "10.213.0.1";
const PUBLISHER_ADDR: &str = "10.213.0.2";
const CHANNEL: &str = "live/lossy";
/// SRT receive latency on both ends: time SRT has to recover a lost packet.
const LATENCY_MS: u64 = 400;
/// How long the lossy publish is watched once the channel is live.
const PUBLISH_FOR: Duration = Duration::from_secs(20);
/// The test source's frame rate (`publisher_args`: testsrc2 at 30 fps).
const FPS: f64 = 30.0;

/// Runs a command with a hard time bound (killed past `limit`), collecting its output.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let program = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (scripts/install-deps.sh)"));
    let deadline = Instant::now() + limit;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output of a spawned child is collectable")
}

/// Runs a setup command line (words separated by spaces) that must succeed.
fn must(line: &str) {
    let args: Vec<&str> = line.split_whitespace().collect();
    let out = run(Command::new(args[0]).args(&args[1..]), Duration::from_secs(20));
    assert!(
        out.status.success(),
        "`{line}` failed ({}): {} — this test needs root, iproute2 and nftables",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// The two namespaces and the veth pair between them; deleted on drop (every path, panics
/// included). Deleting a namespace destroys the veth end inside it, and with it the peer.
struct Lab {
    server: String,
    publisher: String,
}

impl Lab {
    fn create() -> Self {
        sweep_stale_namespaces();
        let pid = std::process::id();
        // Constructed before the first `ip` command so a half-built lab is still torn down.
        let lab = Self { server: format!("sl-srv-{pid}"), publisher: format!("sl-pub-{pid}") };
        must(&format!("ip netns add {}", lab.server));
        must(&format!("ip netns add {}", lab.publisher));
        // Both ends are created inside their namespaces: the host's own links are never touched.
        must(&format!(
            "ip link add name veth0 netns {} type veth peer name veth0 netns {}",
            lab.server, lab.publisher
        ));
        for (ns, addr) in [(&lab.server, SERVER_ADDR), (&lab.publisher, PUBLISHER_ADDR)] {
            must(&format!("ip -n {ns} addr add {addr}/30 dev veth0"));
            must(&format!("ip -n {ns} link set veth0 up"));
            must(&format!("ip -n {ns} link set lo up"));
        }
        lab
    }

    /// A command run inside namespace `ns`.
    fn exec(ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Drops 5% of the UDP packets arriving on each namespace's veth, counting what passes.
    ///
    /// Header layout (draft-sharabayko-srt §3.1 Figure 3, §3.2 Figure 4): a data packet starts
    /// `0 | Packet Sequence Number (31)`, then `PP(2) | O | KK(2) | R | Message Number (26)`
    /// where R is the Retransmitted Packet Flag (bit 101 counted from the UDP header's start);
    /// a control packet starts `1 | Control Type (15) | Subtype (16)`, and NAK is type 0x0003.
    fn impair(&self, dir: &TempDir) {
        for ns in [&self.server, &self.publisher] {
            let rules = dir.0.join(format!("{ns}.nft"));
            std::fs::write(
                &rules,
                "table netdev sluice_loss {\n\
                   chain ingress {\n\
                     type filter hook ingress device \"veth0\" priority 0; policy accept;\n\
                     ip protocol udp @th,64,1 0 counter comment \"data\"\n\
                     ip protocol udp @th,64,1 0 @th,101,1 1 counter comment \"retransmitted\"\n\
                     ip protocol udp @th,64,32 & 0xffff0000 == 0x80030000 counter comment \"nak\"\n\
                     ip protocol udp numgen random mod 100 < 5 counter drop comment \"dropped\"\n\
                   }\n\
                 }\n",
            )
            .expect("temp dir is writable");
            must(&format!("ip netns exec {ns} nft -f {}", rules.display()));
        }
    }

    /// The named rule counters of `ns`'s loss table.
    fn counters(ns: &str) -> Counters {
        let out = run(
            Self::exec(ns, "nft").args(["list", "table", "netdev", "sluice_loss"]),
            Duration::from_secs(10),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let count = |name: &str| {
            text.lines()
                .find(|l| l.contains(&format!("comment \"{name}\"")))
                .and_then(|l| l.split_once("counter packets "))
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {name} counter in {ns}: {text}"))
        };
        Counters {
            data: count("data"),
            retransmitted: count("retransmitted"),
            naks: count("nak"),
            dropped: count("dropped"),
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.server, &self.publisher] {
            let _ = run(Command::new("ip").args(["netns", "del", ns]), Duration::from_secs(10));
        }
    }
}

/// Deletes namespaces left by an earlier run of this test that was killed before its `Drop`
/// (their names carry the pid of a process that no longer exists).
fn sweep_stale_namespaces() {
    let out = run(Command::new("ip").args(["netns", "list"]), Duration::from_secs(10));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let pid = name.strip_prefix("sl-srv-").or_else(|| name.strip_prefix("sl-pub-"));
        if let Some(pid) = pid.filter(|p| p.parse::<u32>().is_ok())
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = run(Command::new("ip").args(["netns", "del", name]), Duration::from_secs(10));
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Counters {
    data: u64,
    retransmitted: u64,
    naks: u64,
    dropped: u64,
}

/// A child process killed (and reaped) on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sluice serve` inside the server namespace: SRT on the veth address, HTTP on loopback.
struct Server {
    _proc: Proc,
    ns: String,
    http: String,
    srt: String,
}

impl Server {
    fn start(ns: &str, dir: &TempDir) -> Self {
        let config = dir.0.join("sluice.toml");
        std::fs::write(&config, format!("[srt_settings]\nlatency_ms = {LATENCY_MS}\n"))
            .expect("temp dir is writable");
        let data = dir.0.join("data");
        let mut child = Lab::exec(ns, env!("CARGO_BIN_EXE_sluice"))
            .args(["serve", "--http", "127.0.0.1:0", "--rtmp", "off", "--https", "off"])
            .args(["--srt", &format!("{SERVER_ADDR}:0"), "--workers", "2"])
            .arg("--config")
            .arg(&config)
            .arg("--data")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ip netns exec runs sluice");
        let stdout = child.stdout.take().expect("stdout is piped");
        let proc = Proc(child);
        // Lines arrive through a channel so a server that never prints cannot hang the test.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut http, mut srt) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.is_none() || srt.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else { break };
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next()) {
                (Some("listening"), Some("http"), Some(a)) => http = Some(a.to_owned()),
                (Some("listening"), Some("srt"), Some(a)) => srt = Some(a.to_owned()),
                _ => {}
            }
        }
        Self {
            _proc: proc,
            ns: ns.to_owned(),
            http: http.expect("sluice printed its http address within 20 s"),
            srt: srt.expect("sluice printed its srt address within 20 s"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// GET from inside the server namespace: (status, body).
    fn get(&self, path: &str) -> (u16, String) {
        let out = run(
            Lab::exec(&self.ns, "curl").args([
                "-sS",
                "-m",
                "10",
                "-w",
                "\n%{http_code}",
                &self.url(path),
            ]),
            Duration::from_secs(15),
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        (status.trim().parse().unwrap_or(0), body.to_owned())
    }

    /// Downloads `paths` back to back into one file (an init segment followed by media).
    fn download(&self, paths: &[String], file: &std::path::Path) {
        let sink = std::fs::File::create(file).expect("temp dir is writable");
        let mut cmd = Lab::exec(&self.ns, "curl");
        cmd.args(["-sS", "--fail", "-m", "20"]);
        cmd.args(paths.iter().map(|p| self.url(p)));
        let status = cmd
            .stdin(Stdio::null())
            .stdout(sink)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("curl is installed")
            .wait()
            .expect("curl is waitable (bounded by -m 20)");
        assert!(status.success(), "downloading {paths:?}: {status}");
    }

    fn metric(&self, name: &str) -> u64 {
        let (status, text) = self.get("/metrics");
        assert_eq!(status, 200, "{text}");
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics: {text}"))
    }
}

/// Decodes every stream of `input` (a URL, fetched inside `ns`, or a file); returns ffmpeg's
/// complaints, which must be none.
fn decode_errors(ns: &str, input: &str) -> String {
    let out = run(
        Lab::exec(ns, "ffmpeg").args(["-v", "error", "-i", input, "-map", "0", "-f", "null", "-"]),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if out.status.success() { err } else { format!("exit {}: {err}", out.status) }
}

/// Video packets ffprobe reads from `input`.
fn video_packets(ns: &str, input: &str) -> u64 {
    let out = run(
        Lab::exec(ns, "ffprobe").args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "csv=p=0",
            input,
        ]),
        Duration::from_secs(60),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // MPEG-TS inputs list the stream twice (under its program and on its own): same count.
    text.lines().find_map(|l| l.trim().parse().ok()).unwrap_or_else(|| {
        panic!("ffprobe {input}: {text} {}", String::from_utf8_lossy(&out.stderr))
    })
}

/// (EXTINF seconds, URI) of every complete segment in a media playlist.
fn segments(playlist: &str) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    let mut duration = None;
    for line in playlist.lines() {
        if let Some(v) = line.strip_prefix("#EXTINF:") {
            duration = v.split(',').next().and_then(|d| d.parse::<f64>().ok());
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((duration.take().expect("EXTINF before every segment URI"), line.to_owned()));
        }
    }
    out
}

#[test]
fn five_percent_loss_both_ways_keeps_srt_channel_live_with_clean_segments() {
    let started = Instant::now();
    let dir = TempDir::new("srt-loss");
    let lab = Lab::create();
    lab.impair(&dir);
    let server = Server::start(&lab.server, &dir);
    let url = format!(
        "srt://{}?mode=caller&latency={}&pkt_size=1316&streamid=publish:{CHANNEL}",
        server.srt,
        LATENCY_MS * 1000
    );
    let mut publisher = Proc(
        Lab::exec(&lab.publisher, "ffmpeg")
            .args(publisher_args(Source::H264, "mpegts", &url))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ffmpeg is installed"),
    );

    // Live within 20 s despite losing handshake packets too.
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.get(&format!("/{CHANNEL}/hls/video.m3u8")).0 != 200 {
        assert!(Instant::now() < deadline, "{CHANNEL} never went live over the lossy link");
        std::thread::sleep(Duration::from_millis(250));
    }

    // Watch the live edge once a second: it must keep moving the whole time.
    let mut edges: Vec<(Duration, u64)> = Vec::new();
    let watch = Instant::now();
    while watch.elapsed() < PUBLISH_FOR {
        std::thread::sleep(Duration::from_secs(1));
        assert!(
            publisher.0.try_wait().ok().flatten().is_none(),
            "the SRT publisher gave up after {:?} of loss",
            watch.elapsed()
        );
        let (status, playlist) = server.get(&format!("/{CHANNEL}/hls/video.m3u8"));
        assert_eq!(status, 200, "channel dropped off after {:?}: {playlist}", watch.elapsed());
        edges.push((watch.elapsed(), last_part(&playlist).0));
    }
    for w in edges.windows(4) {
        assert!(w[3].1 > w[0].1, "live edge stalled for 3 s: {edges:?}");
    }
    let advanced = edges.last().expect("20 samples").1 - edges[0].1;
    assert!(advanced >= 15, "only {advanced} segments in {PUBLISH_FOR:?}: {edges:?}");
    assert_eq!(server.metric(&format!("sluice_channel_publishing{{channel=\"{CHANNEL}\"}}")), 1);

    // Every HLS-TS segment still listed decodes cleanly and holds all of its frames.
    let (status, ts_playlist) = server.get(&format!("/{CHANNEL}/ts/video.m3u8"));
    assert_eq!(status, 200, "{ts_playlist}");
    let ts_segments = segments(&ts_playlist);
    assert!(ts_segments.len() >= 5, "{ts_playlist}");
    for (duration, uri) in &ts_segments {
        let url = server.url(&format!("/{CHANNEL}/ts/{uri}"));
        let errors = decode_errors(&lab.server, &url);
        assert!(errors.is_empty(), "broken TS segment {uri}: {errors}");
        let frames = video_packets(&lab.server, &url);
        let expected = (duration * FPS).round() as u64;
        assert!(frames.abs_diff(expected) <= 1, "{uri}: {frames} frames for {duration} s");
    }

    // The last complete LL-HLS segments, with their init segment, decode cleanly too.
    for rendition in ["video", "audio"] {
        let (status, playlist) = server.get(&format!("/{CHANNEL}/hls/{rendition}.m3u8"));
        assert_eq!(status, 200, "{playlist}");
        let init = playlist
            .lines()
            .find(|l| l.starts_with("#EXT-X-MAP:"))
            .and_then(|l| attr(l, "URI"))
            .unwrap_or_else(|| panic!("no EXT-X-MAP: {playlist}"));
        let media = segments(&playlist);
        assert!(media.len() >= 4, "{playlist}");
        let last = &media[media.len() - 4..];
        let mut paths = vec![format!("/{CHANNEL}/hls/{init}")];
        paths.extend(last.iter().map(|(_, uri)| format!("/{CHANNEL}/hls/{uri}")));
        let file = dir.0.join(format!("{rendition}.mp4"));
        server.download(&paths, &file);
        let file = file.to_str().expect("utf-8 temp path");
        let errors = decode_errors(&lab.server, file);
        assert!(errors.is_empty(), "broken {rendition} segments {paths:?}: {errors}");
        if rendition == "video" {
            let frames = video_packets(&lab.server, file);
            let expected = (last.iter().map(|(d, _)| d).sum::<f64>() * FPS).round() as u64;
            assert!(frames.abs_diff(expected) <= 1, "{paths:?}: {frames} frames, {expected} due");
        }
    }

    // The loss really happened, both ways, and SRT repaired it rather than the server
    // papering over gaps.
    let to_server = Lab::counters(&lab.server);
    let to_publisher = Lab::counters(&lab.publisher);
    let cc_errors = server.metric("sluice_ts_continuity_errors_total");
    let frames_dropped = server.metric("sluice_frames_dropped_total");
    println!(
        "publisher→server: {} data packets ({} retransmitted), {} UDP packets dropped; \
         server→publisher: {} NAKs, {} UDP packets dropped; \
         sluice_ts_continuity_errors_total={cc_errors} sluice_frames_dropped_total={frames_dropped}; \
         {} TS segments checked; run took {:?}",
        to_server.data,
        to_server.retransmitted,
        to_server.dropped,
        to_publisher.naks,
        to_publisher.dropped,
        ts_segments.len(),
        started.elapsed()
    );
    assert!(to_server.dropped > 0 && to_publisher.dropped > 0, "{to_server:?} {to_publisher:?}");
    assert!(to_publisher.naks > 0 && to_server.retransmitted > 0, "{to_server:?} {to_publisher:?}");
    assert_eq!(cc_errors, 0, "MPEG-TS packets reached sluice lost or out of order");
    assert_eq!(frames_dropped, 0, "sluice dropped frames");
    drop(publisher);
}
