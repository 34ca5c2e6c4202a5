//! A tiny blocking RTMP server for tests: accepts one connection from a real client (ffmpeg)
//! on 127.0.0.1, drives an [`RtmpSession`] with it and records what the engine produced.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sluice_rtmp::{Output, RtmpConfig, RtmpError, RtmpSession};

/// What the harness answers to a publish request.
#[derive(Debug, Clone)]
pub enum Decision {
    Accept,
    Reject(String),
}

/// Everything one connection produced.
#[derive(Debug)]
pub struct Run {
    /// Non-`Send` outputs, in order.
    pub events: Vec<Output>,
    /// Bytes written in answer to the publish decision (the onStatus).
    pub decision_bytes: Vec<Bytes>,
    /// Bytes written after the engine reported an error.
    pub farewell_bytes: Vec<Bytes>,
    pub error: Option<RtmpError>,
    /// The client closed the connection.
    pub eof: bool,
    /// When the decision was taken, and how the client exited (and when).
    pub decided_at: Option<Instant>,
    pub client_status: Option<ExitStatus>,
    pub client_exited_at: Option<Instant>,
    pub client_stderr: String,
}

/// Runs `ffmpeg` with `args` (`{url}` is replaced by `rtmp://127.0.0.1:PORT{path}`) against
/// one session, for at most `budget`.
pub fn serve_ffmpeg(path: &str, args: &[&str], decision: Decision, budget: Duration) -> Run {
    let deadline = Instant::now() + budget;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("rtmp://127.0.0.1:{}{path}", listener.local_addr().expect("addr").port());
    let args: Vec<String> = args.iter().map(|a| a.replace("{url}", &url)).collect();
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg is installed (Debian package ffmpeg)");
    let stderr = child.stderr.take().expect("piped stderr");
    let stderr_reader: JoinHandle<String> = std::thread::spawn(move || {
        let mut text = String::new();
        let mut stderr = stderr;
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut run = Run {
        events: Vec::new(),
        decision_bytes: Vec::new(),
        farewell_bytes: Vec::new(),
        error: None,
        eof: false,
        decided_at: None,
        client_status: None,
        client_exited_at: None,
        client_stderr: String::new(),
    };
    if let Some(stream) = accept_until(&listener, &mut child, deadline) {
        drive(stream, &decision, deadline, &mut run);
    }

    // Give the client a moment to exit on its own, then stop it.
    let grace = (Instant::now() + Duration::from_secs(5)).min(deadline + Duration::from_secs(2));
    while Instant::now() < grace {
        if let Ok(Some(status)) = child.try_wait() {
            run.client_status = Some(status);
            run.client_exited_at = Some(Instant::now());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if run.client_status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    run.client_stderr = stderr_reader.join().unwrap_or_default();
    run
}

fn accept_until(listener: &TcpListener, child: &mut Child, deadline: Instant) -> Option<TcpStream> {
    listener.set_nonblocking(true).expect("nonblocking listener");
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking stream");
                return Some(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if let Ok(Some(_)) = child.try_wait() {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept failed: {e}"),
        }
    }
    None
}

fn drive(mut stream: TcpStream, decision: &Decision, deadline: Instant, run: &mut Run) {
    stream.set_read_timeout(Some(Duration::from_millis(100))).expect("read timeout");
    let mut session = RtmpSession::new(RtmpConfig::default());
    let mut buf = vec![0u8; 64 * 1024];
    let mut closing = false;
    while Instant::now() < deadline && !closing {
        let n = match stream.read(&mut buf) {
            Ok(0) => {
                run.eof = true;
                break;
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => {
                // ffmpeg resets the connection when killed; treat like end of input.
                run.eof = true;
                break;
            }
        };
        let result = session.handle_input(&buf[..n]);
        let failed = result.is_err();
        if let Err(e) = result {
            run.error = Some(e);
        }
        while let Some(out) = session.poll_output() {
            match out {
                Output::Send(bytes) => {
                    if failed {
                        run.farewell_bytes.push(bytes.clone());
                    }
                    let _ = stream.write_all(&bytes);
                }
                Output::PublishRequested(request) => {
                    run.events.push(Output::PublishRequested(request.clone()));
                    run.decided_at = Some(Instant::now());
                    match decision {
                        Decision::Accept => session.accept_publish(request).expect("accept"),
                        Decision::Reject(reason) => {
                            session.reject_publish(request, reason).expect("reject");
                            closing = true;
                        }
                    }
                    // The decision's own bytes come out first.
                    if let Some(Output::Send(bytes)) = session.poll_output() {
                        run.decision_bytes.push(bytes.clone());
                        let _ = stream.write_all(&bytes);
                    }
                }
                other => run.events.push(other),
            }
        }
        if failed {
            closing = true;
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}
