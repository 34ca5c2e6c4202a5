//! Test plumbing for simulated origins: a std `TcpListener` on loopback port 0, one thread per
//! connection, one request per connection, answered by a closure.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// What an origin answers: status, Content-Type, body. A Content-Type of `"gzip"` means "the
/// body is a gzip-encoded playlist" (sent with `Content-Encoding: gzip`).
pub type Answer = (u16, &'static str, Vec<u8>);

fn handle(mut s: TcpStream, respond: &(dyn Fn(&str, &str, bool) -> Answer + Send + Sync)) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split(' ').nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let gzip = head.to_ascii_lowercase().contains("accept-encoding: gzip");
    let (status, ctype, body) = respond(path, query, gzip);
    let (ctype, encoding) = if ctype == "gzip" {
        ("application/vnd.apple.mpegurl", "Content-Encoding: gzip\r\n")
    } else {
        (ctype, "")
    };
    let _ = s.write_all(
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n{encoding}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let _ = s.write_all(&body);
}

/// Serves `respond(path, query, accepts_gzip)` until the returned flag is set; returns the port.
pub fn serve(
    respond: impl Fn(&str, &str, bool) -> Answer + Send + Sync + 'static,
) -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback port 0");
    listener.set_nonblocking(true).expect("non-blocking listener");
    let port = listener.local_addr().expect("bound address").port();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let respond = Arc::new(respond);
    thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let r = Arc::clone(&respond);
                    thread::spawn(move || handle(s, &*r));
                }
                Err(_) => thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    (port, stop)
}
