//! Many WHEP viewers at once, without a browser: each viewer is a str0m peer (full ICE agent,
//! receive-only H.264 + Opus, no decoding) on its own loopback UDP socket, all driven from one
//! thread. Covers what real players cannot show cheaply:
//! - churn: 50 viewers joining and leaving for 60 s against an RTMP source; every session gets
//!   video from a keyframe and Opus audio (the channel's one AAC → Opus bridge), DELETE ends it,
//!   and the server's memory returns to where it was after a first round of viewers;
//! - a viewer's PLI is answered with a keyframe at once (the GOP is replayed), not at the
//!   source's next keyframe four seconds later;
//! - RTCP sender reports map RTP time to the wall-clock time the frame was ingested;
//! - with 5% of RTP packets dropped on the way in, NACK retransmission repairs the frames.
//!
//! Prints the server's CPU per viewer (MEASURE lines) for the issue notes.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use common::{Publisher, Sluice, Source, raw};
use str0m::change::SdpAnswer;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::Extension;
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

/// One receive-only WHEP peer.
struct Viewer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    location: String,
    joined: Instant,
    lifetime: Duration,
    video_mid: Mid,
    connected_at: Option<Instant>,
    video_frames: u64,
    keyframes: Vec<Instant>,
    audio_packets: u64,
    /// Drop every n-th incoming RTP packet (loss for the NACK test); 0 = none.
    drop_every: u64,
    rtp_received: u64,
    rtp_dropped: u64,
    /// Video frames str0m could not assemble from consecutive packets.
    broken_frames: u64,
    /// Playout delay (min, max) the server put on the newest video frame, ms.
    playout_delay_ms: Option<(f64, f64)>,
    /// Newest (mapped wall-clock − now) of a video frame through the last sender report, ms.
    sr_offset_ms: Option<f64>,
    next_timeout: Instant,
}

impl Viewer {
    fn join(sluice: &Sluice, channel: &str, lifetime: Duration) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("loopback UDP");
        socket.set_nonblocking(true).expect("non-blocking");
        let local = socket.local_addr().expect("bound");
        let now = Instant::now();
        // Chromium offers the playout-delay extension; Sluice answers with its setting.
        let mut rtc = RtcConfig::new().set_extension(6, Extension::PlayoutDelay).build(now);
        rtc.add_local_candidate(Candidate::host(local, "udp").expect("host candidate"));
        let mut api = rtc.sdp_api();
        let video_mid = api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        let (offer, pending) = api.apply().expect("an offer");
        let sdp = offer.to_sdp_string();
        let r = raw(
            sluice.http,
            &format!(
                "POST /{channel}/whep HTTP/1.1\r\nHost: {}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sdp}",
                sluice.http,
                sdp.len()
            ),
        );
        assert_eq!(r.status, 201, "WHEP POST: {}", r.text());
        let location = r.header("location").expect("Location").to_owned();
        let answer = SdpAnswer::from_sdp_string(&r.text()).expect("answer parses");
        rtc.sdp_api().accept_answer(pending, answer).expect("answer accepted");
        Self {
            rtc,
            socket,
            local,
            location,
            joined: now,
            lifetime,
            video_mid,
            connected_at: None,
            video_frames: 0,
            keyframes: Vec::new(),
            audio_packets: 0,
            drop_every: 0,
            rtp_received: 0,
            rtp_dropped: 0,
            broken_frames: 0,
            playout_delay_ms: None,
            sr_offset_ms: None,
            next_timeout: now,
        }
    }

    /// Runs the peer: sends what it has, reads what arrived, fires timers.
    fn drive(&mut self, buf: &mut [u8]) {
        loop {
            let now = Instant::now();
            match self.socket.recv_from(buf) {
                Ok((n, source)) => {
                    // RTP (not RTCP: its packet types 200–206 read as 72–78 here) after DTLS.
                    let rtp = n > 12 && (128..192).contains(&buf[0]) && (buf[1] & 0x7f) >= 96;
                    if rtp {
                        self.rtp_received += 1;
                        if self.drop_every > 0 && self.rtp_received.is_multiple_of(self.drop_every)
                        {
                            self.rtp_dropped += 1;
                            continue;
                        }
                    }
                    if let Ok(contents) = buf[..n].try_into() {
                        let input = Input::Receive(
                            now,
                            Receive {
                                proto: Protocol::Udp,
                                source,
                                destination: self.local,
                                contents,
                            },
                        );
                        let _ = self.rtc.handle_input(input);
                    }
                }
                Err(_) if now >= self.next_timeout => {
                    let _ = self.rtc.handle_input(Input::Timeout(now));
                }
                Err(_) => {}
            }
            if !self.poll() {
                return;
            }
        }
    }

    /// Handles output until str0m has nothing more; false when no datagram is waiting either.
    fn poll(&mut self) -> bool {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Ok(Output::Timeout(t)) => {
                    self.next_timeout = t;
                    let mut peek = [0u8; 1];
                    return self.socket.peek_from(&mut peek).is_ok();
                }
                Ok(Output::Event(e)) => self.event(e),
                Err(_) => return false,
            }
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Connected => self.connected_at = Some(Instant::now()),
            Event::MediaData(d) if d.mid == self.video_mid => {
                self.video_frames += 1;
                self.broken_frames += u64::from(!d.contiguous);
                if d.is_keyframe() {
                    self.keyframes.push(Instant::now());
                }
                if let (Some(min), Some(max)) =
                    (d.ext_vals.play_delay_min, d.ext_vals.play_delay_max)
                {
                    self.playout_delay_ms = Some((min.as_seconds() * 1e3, max.as_seconds() * 1e3));
                }
                if let Some(sr) = d.last_sender_info {
                    // This frame's wall-clock time by the sender's report.
                    let ticks = d.time.numer() as i64 - sr.rtp_time.numer() as i64;
                    let wall = sr.ntp_time.duration_since(SystemTime::UNIX_EPOCH).expect("ntp");
                    let wall_ms = wall.as_secs_f64() * 1000.0 + ticks as f64 / 90.0;
                    let now_ms = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .expect("clock")
                        .as_secs_f64()
                        * 1000.0;
                    self.sr_offset_ms = Some(wall_ms - now_ms);
                }
            }
            Event::MediaData(_) => self.audio_packets += 1,
            _ => {}
        }
    }

    fn request_keyframe(&mut self) {
        let mid = self.video_mid;
        let mut w = self.rtc.writer(mid).expect("video writer");
        w.request_keyframe(None, KeyframeRequestKind::Pli).expect("PLI possible");
    }

    fn leave(self, sluice: &Sluice) {
        let r = raw(
            sluice.http,
            &format!(
                "DELETE {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.location, sluice.http
            ),
        );
        assert_eq!(r.status, 200, "DELETE {}: {}", self.location, r.text());
    }
}

/// Drives every viewer for `d`.
fn run(viewers: &mut [Viewer], d: Duration, buf: &mut [u8]) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        for v in viewers.iter_mut() {
            v.drive(buf);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Resident memory of a process, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// User + system CPU time of a process, seconds.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

fn metric(sluice: &Sluice, line_start: &str) -> Option<f64> {
    let text = sluice.get("/metrics").text();
    text.lines().find_map(|l| l.strip_prefix(line_start)).and_then(|v| v.trim().parse().ok())
}

/// Waits until the server reports `n` live WHEP sessions.
fn wait_sessions(sluice: &Sluice, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let live = metric(sluice, "sluice_webrtc_sessions{kind=\"whep\"} ");
        if live == Some(n as f64) {
            return;
        }
        assert!(Instant::now() < deadline, "WHEP sessions: {live:?}, expected {n}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Lifetimes of 1.5 to 5 s from a fixed sequence (reproducible churn).
fn lifetime(i: usize) -> Duration {
    Duration::from_millis(1500 + (i as u64 * 7919) % 3500)
}

#[derive(Default)]
struct Tally {
    sessions: usize,
    judged: usize,
    without_keyframe: usize,
    without_audio: usize,
    frames: Vec<u64>,
}

impl Tally {
    fn add(&mut self, v: &Viewer) {
        self.sessions += 1;
        // Judge sessions that were connected for at least a second.
        let Some(at) = v.connected_at else { return };
        if at.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.judged += 1;
        self.without_keyframe += usize::from(v.keyframes.is_empty());
        self.without_audio += usize::from(v.audio_packets == 0);
        self.frames.push(v.video_frames);
    }
}

#[test]
fn fifty_whep_viewers_churn_for_a_minute_and_memory_returns_to_baseline() {
    const VIEWERS: usize = 50;
    let sluice = Sluice::start(&[]);
    let pid = sluice.pid();
    let _publisher = Publisher::start(&sluice.rtmp_url("live/churn"), false);
    sluice.wait_live("live/churn", Duration::from_secs(20));
    let mut buf = vec![0u8; 2000];
    std::thread::sleep(Duration::from_secs(2));
    let rss_before = rss_kib(pid);
    let cpu0 = (cpu_s(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(5));
    let idle_share = (cpu_s(pid) - cpu0.0) / cpu0.1.elapsed().as_secs_f64();

    // A first round: whatever grows once (thread pools, allocator arenas, the Opus bridge).
    let mut viewers: Vec<Viewer> =
        (0..VIEWERS).map(|i| Viewer::join(&sluice, "live/churn", lifetime(i))).collect();
    run(&mut viewers, Duration::from_secs(3), &mut buf);
    assert_eq!(metric(&sluice, "sluice_audio_transcodes "), Some(1.0), "one shared bridge");
    let cpu1 = (cpu_s(pid), Instant::now());
    run(&mut viewers, Duration::from_secs(5), &mut buf);
    let busy_share = (cpu_s(pid) - cpu1.0) / cpu1.1.elapsed().as_secs_f64();
    let mut warmup = Tally::default();
    for v in viewers.drain(..) {
        warmup.add(&v);
        v.leave(&sluice);
    }
    wait_sessions(&sluice, 0, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(2));
    let rss_warm = rss_kib(pid);
    assert_eq!(warmup.judged, VIEWERS, "every first-round viewer connected");
    assert_eq!(warmup.without_keyframe + warmup.without_audio, 0, "first round got media");

    // Churn: keep 50 viewers, each leaving after its lifetime and replaced at once.
    let mut tally = Tally::default();
    let mut next = VIEWERS;
    viewers = (0..VIEWERS).map(|i| Viewer::join(&sluice, "live/churn", lifetime(i))).collect();
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        run(&mut viewers, Duration::from_millis(20), &mut buf);
        let mut i = 0;
        while i < viewers.len() {
            if viewers[i].joined.elapsed() >= viewers[i].lifetime {
                let v = viewers.swap_remove(i);
                tally.add(&v);
                v.leave(&sluice);
                viewers.push(Viewer::join(&sluice, "live/churn", lifetime(next)));
                next += 1;
            } else {
                i += 1;
            }
        }
    }
    for v in viewers.drain(..) {
        tally.add(&v);
        v.leave(&sluice);
    }
    wait_sessions(&sluice, 0, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(metric(&sluice, "sluice_audio_transcodes "), Some(0.0), "bridge stopped");
    let rss_after = rss_kib(pid);

    tally.frames.sort_unstable();
    let median_frames = tally.frames.get(tally.frames.len() / 2).copied().unwrap_or(0);
    println!(
        "MEASURE churn: {} sessions in 60 s ({} judged), median {median_frames} video frames per session, {} without keyframe, {} without audio",
        tally.sessions, tally.judged, tally.without_keyframe, tally.without_audio
    );
    println!(
        "MEASURE server RSS: {} MiB before viewers, {} MiB after the first {VIEWERS}, {} MiB after the churn",
        rss_before / 1024,
        rss_warm / 1024,
        rss_after / 1024
    );
    println!(
        "MEASURE server CPU: {:.1}% of a core with the publisher only, {:.1}% with {VIEWERS} WHEP viewers: {:.2}% per viewer",
        idle_share * 100.0,
        busy_share * 100.0,
        (busy_share - idle_share) * 100.0 / VIEWERS as f64
    );
    assert!(tally.sessions > 3 * VIEWERS, "churn ran: {} sessions", tally.sessions);
    // On a loaded 2-core machine a session can lose its first second; not more than 2%.
    assert!(
        tally.without_keyframe * 50 <= tally.judged && tally.without_audio * 50 <= tally.judged,
        "sessions without video or audio: {} / {} of {}",
        tally.without_keyframe,
        tally.without_audio,
        tally.judged
    );
    assert!(median_frames >= 30, "median video frames per session: {median_frames}");
    // Nothing kept per finished session: after hundreds of them memory is back near where the
    // first round left it. A session holds several hundred KiB (its NACK history alone is up to
    // 500 packets), so leaking even a tenth of each would add ~50 MiB over the churn; the
    // allocator's own growth under a loaded CI run reached +10 MiB (+3 MiB on a quiet machine).
    assert!(
        rss_after <= rss_warm + 24 * 1024,
        "RSS grew from {} KiB to {} KiB over {} sessions",
        rss_warm,
        rss_after,
        tally.sessions
    );
}

#[test]
fn a_viewer_pli_gets_a_keyframe_now_and_sender_reports_carry_ingest_time() {
    let sluice = Sluice::start(&[]);
    // Keyframes every 4 s: without an answer to the PLI the viewer would wait for the next.
    let _publisher = Publisher::spawn(Source::H264LongGop, "flv", &sluice.rtmp_url("live/pli"));
    sluice.wait_live("live/pli", Duration::from_secs(30));
    let mut buf = vec![0u8; 2000];
    let mut v = Viewer::join(&sluice, "live/pli", Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(15);
    // Wait until the GOP is 0.5–1.5 s old: its next keyframe is at least 2.5 s away.
    loop {
        run(std::slice::from_mut(&mut v), Duration::from_millis(20), &mut buf);
        assert!(Instant::now() < deadline, "no keyframe arrived: {} frames", v.video_frames);
        let Some(first) = v.keyframes.first() else { continue };
        let gop_age = first.elapsed();
        if v.keyframes.len() == 1 && gop_age > Duration::from_millis(500) {
            assert!(gop_age < Duration::from_millis(1500), "missed the window: {gop_age:?}");
            break;
        }
    }
    let asked = Instant::now();
    v.request_keyframe();
    while v.keyframes.len() < 2 && asked.elapsed() < Duration::from_secs(2) {
        run(std::slice::from_mut(&mut v), Duration::from_millis(5), &mut buf);
    }
    let answered = v.keyframes.get(1).map(|t| t.duration_since(asked));
    println!("MEASURE PLI → keyframe: {answered:?}");
    assert!(
        answered.is_some_and(|d| d < Duration::from_millis(500)),
        "keyframe after PLI: {answered:?} (source keyframes every 4 s)"
    );
    run(std::slice::from_mut(&mut v), Duration::from_secs(2), &mut buf);
    let frames = v.video_frames;
    assert!(frames > 60, "video kept flowing after the replay: {frames} frames");
    // Sender reports: the frame's mapped wall-clock is when it was ingested, just now (the
    // loopback path takes milliseconds), not some later or earlier anchor.
    let offset = v.sr_offset_ms.expect("sender reports arrived");
    println!("MEASURE RTCP SR wall-clock of the newest frame: {offset:.0} ms from now");
    assert!((-500.0..=50.0).contains(&offset), "SR maps the newest frame {offset:.0} ms from now");
    assert!(v.audio_packets > 50, "Opus kept flowing: {} packets", v.audio_packets);
    // webrtc_settings.playout_delay_ms defaults to 0: render on decode.
    assert_eq!(v.playout_delay_ms, Some((0.0, 0.0)), "playout delay on video");
    v.leave(&sluice);
}

#[test]
fn nack_retransmission_repairs_five_percent_loss() {
    let sluice = Sluice::start(&[]);
    let _publisher = Publisher::start(&sluice.rtmp_url("live/lossy"), false);
    sluice.wait_live("live/lossy", Duration::from_secs(20));
    let mut buf = vec![0u8; 2000];
    let mut v = Viewer::join(&sluice, "live/lossy", Duration::from_secs(60));
    v.drop_every = 20;
    run(std::slice::from_mut(&mut v), Duration::from_secs(8), &mut buf);
    println!(
        "MEASURE NACK: {} of {} RTP packets dropped, {} of {} video frames incomplete after retransmission",
        v.rtp_dropped, v.rtp_received, v.broken_frames, v.video_frames
    );
    assert!(v.rtp_dropped > 50, "loss was applied: {} packets", v.rtp_dropped);
    assert!(v.video_frames > 150, "video flowed: {} frames", v.video_frames);
    // Without retransmission about a third of the frames (several packets each) would be
    // broken; a frame or two may be lost to a dropped retransmission.
    assert!(
        v.broken_frames * 50 <= v.video_frames,
        "{} of {} frames incomplete",
        v.broken_frames,
        v.video_frames
    );
    v.leave(&sluice);
}
