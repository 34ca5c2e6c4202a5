//! The checker's HTTP/1.1 client against a tiny std `TcpListener` server: Content-Length,
//! chunked transfer (split across writes, with a pause), gzip, read-to-close, HEAD and timeouts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use sluice_conformance::http::{self, Request};
use sluice_conformance::url::Url;

/// Serves one connection with `respond`, which gets the request head and the stream.
fn serve_once(
    respond: impl FnOnce(String, &mut TcpStream) + Send + 'static,
) -> (Url, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut b).unwrap() == 0 {
                break;
            }
            head.push(b[0]);
        }
        respond(String::from_utf8_lossy(&head).into_owned(), &mut s);
    });
    (Url::parse(&format!("http://127.0.0.1:{port}/live/x/video.m3u8?_HLS_msn=3")).unwrap(), handle)
}

#[test]
fn content_length_body_and_request_line() {
    let (url, h) = serve_once(|head, s| {
        assert!(head.starts_with("GET /live/x/video.m3u8?_HLS_msn=3 HTTP/1.1\r\n"), "{head}");
        assert!(head.contains("\r\nHost: 127.0.0.1:"), "{head}");
        assert!(head.contains("\r\nX-Test: 1\r\n"), "{head}");
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apple.mpegurl\r\nContent-Length: 8\r\nCache-Control: max-age=6\r\n\r\n#EXTM3U\nEXTRA").unwrap();
    });
    let r = http::send(&Request::get(url, Duration::from_secs(2)).header("X-Test", "1")).unwrap();
    h.join().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"#EXTM3U\n");
    assert_eq!(r.header("content-type"), Some("application/vnd.apple.mpegurl"));
    assert_eq!(r.cache_max_age(), Some(6.0));
    assert!(!r.chunked && !r.gzip);
}

#[test]
fn chunked_body_split_across_writes_is_reassembled_and_timed() {
    let (url, h) = serve_once(|_, s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel").unwrap();
        s.flush().unwrap();
        thread::sleep(Duration::from_millis(150));
        s.write_all(b"lo\r\n6;x=y\r\n world\r\n0\r\n\r\n").unwrap();
        // Keep the connection open: the decoder must stop at the last chunk, not at close.
        thread::sleep(Duration::from_millis(300));
    });
    let r = http::get(&url, Duration::from_secs(2)).unwrap();
    assert_eq!(r.body, b"hello world");
    assert!(r.chunked);
    assert!(r.timings.body_transfer() >= Duration::from_millis(140), "{:?}", r.timings);
    assert!(r.timings.last_byte < Duration::from_millis(300), "waited for close: {:?}", r.timings);
    h.join().unwrap();
}

#[test]
fn gzip_body_is_decoded_and_wire_size_kept() {
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n".repeat(50);
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let wire = gz.len();
    let (url, h) = serve_once(move |head, s| {
        assert!(head.contains("Accept-Encoding: gzip"), "{head}");
        s.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                gz.len()
            )
            .as_bytes(),
        )
        .unwrap();
        s.write_all(&gz).unwrap();
    });
    let r =
        http::send(&Request::get(url, Duration::from_secs(2)).header("Accept-Encoding", "gzip"))
            .unwrap();
    h.join().unwrap();
    assert!(r.gzip);
    assert_eq!(r.body, text.as_bytes());
    assert_eq!(r.wire_body_len, wire);
    assert!(wire < text.len());
}

#[test]
fn body_without_length_is_read_to_close() {
    let (url, h) = serve_once(|_, s| {
        s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnot found")
            .unwrap();
    });
    let r = http::get(&url, Duration::from_secs(2)).unwrap();
    h.join().unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.body, b"not found");
}

#[test]
fn head_response_has_no_body_despite_content_length() {
    let (url, h) = serve_once(|head, s| {
        assert!(head.starts_with("HEAD "));
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n").unwrap();
        thread::sleep(Duration::from_millis(200));
    });
    let mut req = Request::get(url, Duration::from_secs(2));
    req.method = "HEAD".into();
    let r = http::send(&req).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    h.join().unwrap();
}

#[test]
fn held_request_times_out_with_a_timeout_error() {
    let (url, h) = serve_once(|_, _s| thread::sleep(Duration::from_millis(600)));
    let e = http::get(&url, Duration::from_millis(200)).unwrap_err();
    assert!(e.is_timeout(), "{e}");
    h.join().unwrap();
}

#[test]
fn truncated_content_length_body_is_an_error() {
    let (url, h) = serve_once(|_, s| {
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort").unwrap();
    });
    let e = http::get(&url, Duration::from_secs(2)).unwrap_err();
    h.join().unwrap();
    assert!(e.to_string().contains("closed after 5 of 100"), "{e}");
}

#[test]
fn connection_refused_is_a_connect_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
    let e = http::get(&url, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(e, http::HttpError::Connect(_)), "{e}");
}
