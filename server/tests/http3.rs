//! HTTP/3 on the `--https` port's UDP side, through the same router as HTTP/1.1 and HTTP/2:
//! - a Rust client (quinn + h3) fetches the multivariant playlist, a blocking playlist reload
//!   (held until the part exists) and that part, and an LL-DASH segment in progress arrives as
//!   a stream of DATA frames over the segment's life;
//! - aioquic (PyPI, an independent QUIC and HTTP/3 stack) fetches the same three;
//! - TLS over TCP advertises it (`Alt-Svc: h3=":PORT"`);
//! - certificate reload: new files are picked up without a restart; new connections (QUIC and
//!   TCP) get the new certificate, a connection opened before keeps working.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use common::{Publisher, Sluice, TempDir, last_part, venv_python};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

struct Fetched {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
    /// Since the request was sent: response headers, and each DATA frame (ms, bytes).
    headers_ms: u128,
    reads: Vec<(u128, usize)>,
}

/// One HTTP/3 connection (quinn + h3) to the server.
struct H3Client {
    _endpoint: quinn::Endpoint,
    conn: quinn::Connection,
    send: h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    authority: String,
}

fn trusting(cert_pem: &Path) -> rustls::ClientConfig {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert_pem).expect("certificate file") {
        roots.add(cert.expect("PEM certificate")).expect("trusted root");
    }
    rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()
}

impl H3Client {
    async fn connect(addr: SocketAddr, cert_pem: &Path) -> Self {
        Self::try_connect(addr, cert_pem).await.expect("HTTP/3 connection to the server")
    }

    async fn try_connect(addr: SocketAddr, cert_pem: &Path) -> Result<Self, String> {
        let mut tls = trusting(cert_pem);
        tls.alpn_protocols = vec![b"h3".to_vec()];
        let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
        let mut endpoint =
            quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("client socket");
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
        let conn = endpoint
            .connect(addr, "localhost")
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| format!("QUIC handshake: {e}"))?;
        let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn.clone()))
            .await
            .map_err(|e| format!("HTTP/3 setup: {e}"))?;
        tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        Ok(Self {
            _endpoint: endpoint,
            conn,
            send,
            authority: format!("localhost:{}", addr.port()),
        })
    }

    async fn get(&mut self, path: &str) -> Fetched {
        self.request(http::Method::GET, path, None).await
    }

    /// `body`: (content type, bytes) sent as DATA frames after the headers.
    async fn request(
        &mut self,
        method: http::Method,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> Fetched {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("https://{}{path}", self.authority));
        if let Some((content_type, _)) = body {
            req = req.header("content-type", content_type);
        }
        let req = req.body(()).expect("request");
        let start = Instant::now();
        let mut stream = self.send.send_request(req).await.expect("request sent");
        if let Some((_, bytes)) = body {
            stream.send_data(Bytes::copy_from_slice(bytes)).await.expect("request body");
        }
        stream.finish().await.expect("request finished");
        let resp = stream.recv_response().await.expect("response headers");
        let headers_ms = start.elapsed().as_millis();
        let (mut body, mut reads) = (Vec::new(), Vec::new());
        while let Some(mut chunk) = stream.recv_data().await.expect("body") {
            reads.push((start.elapsed().as_millis(), chunk.remaining()));
            while chunk.has_remaining() {
                let piece = chunk.chunk();
                body.extend_from_slice(piece);
                let n = piece.len();
                chunk.advance(n);
            }
        }
        Fetched {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body,
            headers_ms,
            reads,
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn dev_cert(sluice: &Sluice) -> PathBuf {
    sluice.data_dir().join("tls/dev-cert.pem")
}

#[test]
fn playlists_blocking_reloads_parts_and_chunked_dash_over_http3() {
    let sluice = Sluice::start_with(true, &[]);
    let https = sluice.https.expect("TLS listener");
    let _publisher = Publisher::start(&sluice.rtmp_url("live/h3"), false);
    sluice.wait_live("live/h3", Duration::from_secs(20));
    runtime().block_on(async {
        let mut client = H3Client::connect(https, &dev_cert(&sluice)).await;
        let multivariant = client.get("/live/h3/hls/index.m3u8").await;
        assert_eq!(multivariant.status, 200);
        assert!(multivariant.body.starts_with(b"#EXTM3U"));
        assert_eq!(
            multivariant.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/vnd.apple.mpegurl")
        );

        // A blocking reload for the part after the newest is held until it exists.
        let playlist = client.get("/live/h3/hls/video.m3u8").await;
        let (msn, part) = last_part(&String::from_utf8_lossy(&playlist.body));
        let held = client
            .get(&format!("/live/h3/hls/video.m3u8?_HLS_msn={msn}&_HLS_part={}", part + 1))
            .await;
        assert_eq!(held.status, 200);
        let after = last_part(&String::from_utf8_lossy(&held.body));
        assert!(after > (msn, part), "{after:?} after {msn}.{part}");
        println!("MEASURE HTTP/3 blocking reload held {} ms", held.headers_ms);
        let part_path = format!("/live/h3/hls/video/{}.{}.m4s", after.0, after.1);
        let part = client.get(&part_path).await;
        assert_eq!(part.status, 200, "{part_path}");
        assert_eq!(&part.body[4..8], b"moof", "a CMAF part");

        // An LL-DASH segment in progress: DATA frames as its parts land.
        let next = after.0 + 1;
        let _ = client.get(&format!("/live/h3/hls/video.m3u8?_HLS_msn={next}&_HLS_part=0")).await;
        let seg = client.get(&format!("/live/h3/dash/video/{next}.m4s")).await;
        assert_eq!(seg.status, 200);
        let (first, last) = (seg.reads[0].0, seg.reads[seg.reads.len() - 1].0);
        println!("MEASURE HTTP/3 in-progress DASH segment reads (ms, bytes): {:?}", seg.reads);
        assert!(first < 200, "first bytes after {first} ms");
        assert!(last - first >= 500, "the body came at once: {:?}", seg.reads);
        let whole = client.get(&format!("/live/h3/dash/video/{next}.m4s")).await;
        assert!(whole.body == seg.body, "streamed bytes are the finished segment");

        // WHEP signalling reads the request body: an offer that is not SDP is refused as such.
        let offer = b"v=0\r\nthis is not an offer\r\n";
        let whep = client
            .request(http::Method::POST, "/live/h3/whep", Some(("application/sdp", offer)))
            .await;
        assert_eq!(whep.status, 400, "{}", String::from_utf8_lossy(&whep.body));
        let preflight = client.request(http::Method::OPTIONS, "/live/h3/whep", None).await;
        assert!(preflight.status < 300, "OPTIONS {}", preflight.status);

        // Operators see the QUIC connections: this one is open and was counted.
        let metrics = client.get("/metrics").await;
        let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
        let value = |name: &str| -> u64 {
            let line = metrics.lines().find(|l| l.starts_with(&format!("{name} ")));
            line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
        };
        assert!(value("sluice_http3_connections") >= 1, "{metrics}");
        assert!(value("sluice_http3_connections_total") >= 1, "{metrics}");
    });

    // TLS over TCP points browsers at it.
    let out = Command::new("curl")
        .args(["-s", "-k", "--http2", "-o", "/dev/null", "-D", "-"])
        .arg(format!("https://{https}/live/h3/hls/index.m3u8"))
        .output()
        .expect("curl runs");
    let headers = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(headers.contains(&format!("alt-svc: h3=\":{}\"", https.port())), "{headers}");
}

#[test]
fn aioquic_fetches_the_multivariant_a_blocking_reload_and_a_part() {
    let sluice = Sluice::start_with(true, &[]);
    let https = sluice.https.expect("TLS listener");
    let _publisher = Publisher::start(&sluice.rtmp_url("live/aq"), false);
    sluice.wait_live("live/aq", Duration::from_secs(20));
    let out = Command::new(venv_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/quic/aioquic_fetch.py"))
        .args(["127.0.0.1", &https.port().to_string()])
        .arg(dev_cert(&sluice))
        .args(["/live/aq/hls/index.m3u8", "next-part:/live/aq/hls/video.m3u8"])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "aioquic: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    // multivariant, playlist, blocking reload (lines up with a fresh part), the measured
    // blocking reload for the part after it, that part
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    for line in &lines {
        assert!(line.contains("status=200") && line.contains("alpn=h3"), "{line}");
        assert!(!line.contains(" bytes=0 "), "{line}");
    }
    let held_ms: u64 = lines[3]
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("headers_ms="))
        .and_then(|v| v.parse().ok())
        .expect("headers_ms");
    println!("MEASURE aioquic blocking reload held {held_ms} ms ({})", lines[3]);
    // Held about a part duration (200 ms) until the next part exists, not answered at once.
    assert!(held_ms >= 100, "the reload for the next part was answered at once: {text}");
    assert!(lines[4].contains(".m4s "), "the last fetch is the part: {}", lines[4]);
}

/// A self-signed certificate for localhost with a fresh key: (cert PEM, key PEM).
fn certificate() -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("certificate params");
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.pem(), key.serialize_pem())
}

/// The certificate a new TLS-over-TCP handshake is answered with (DER).
async fn tcp_certificate(addr: SocketAddr, trust: &Path) -> Vec<u8> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(trusting(trust)));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    tls.get_ref().1.peer_certificates().expect("peer certificate")[0].to_vec()
}

fn quic_certificate(conn: &quinn::Connection) -> Vec<u8> {
    let certs = conn
        .peer_identity()
        .expect("peer identity")
        .downcast::<Vec<CertificateDer<'static>>>()
        .expect("rustls certificates");
    certs[0].to_vec()
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM").to_vec()
}

#[test]
fn a_new_certificate_is_served_without_a_restart_and_open_connections_carry_on() {
    let dir = TempDir::new("certs");
    let (cert_path, key_path) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    let (cert_a, key_a) = certificate();
    std::fs::write(&cert_path, &cert_a).expect("write cert");
    std::fs::write(&key_path, &key_a).expect("write key");
    let config = dir.0.join("sluice.toml");
    std::fs::write(
        &config,
        format!("[tls]\ncert = {:?}\nkey = {:?}\n", cert_path.display(), key_path.display()),
    )
    .expect("write config");
    let sluice = Sluice::start_with(true, &["--config", config.to_str().expect("utf-8 path")]);
    let https = sluice.https.expect("TLS listener");
    let _publisher = Publisher::start(&sluice.rtmp_url("live/certs"), false);
    sluice.wait_live("live/certs", Duration::from_secs(20));
    runtime().block_on(async {
        let mut before = H3Client::connect(https, &cert_path).await;
        assert_eq!(quic_certificate(&before.conn), der(&cert_a));
        assert_eq!(tcp_certificate(https, &cert_path).await, der(&cert_a));

        // Swap the files (key first: a reader between the writes keeps the old pair).
        let (cert_b, key_b) = certificate();
        let trust_b = dir.0.join("trust-b.pem");
        std::fs::write(&trust_b, &cert_b).expect("write trust");
        std::fs::write(&key_path, &key_b).expect("write key");
        std::fs::write(&cert_path, &cert_b).expect("write cert");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let after = H3Client::try_connect(https, &trust_b);
            match tokio::time::timeout(Duration::from_secs(3), after).await {
                Ok(Ok(c)) if quic_certificate(&c.conn) == der(&cert_b) => break,
                _ if Instant::now() > deadline => panic!("the new certificate was not served"),
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        assert_eq!(tcp_certificate(https, &trust_b).await, der(&cert_b));
        // The connection made with the old certificate still gets answers.
        let r = before.get("/live/certs/hls/video.m3u8").await;
        assert_eq!(r.status, 200);
        assert!(r.body.starts_with(b"#EXTM3U"));
    });
    // SIGHUP asks for a reload (and must not stop the server, SIGHUP's default action).
    let hup = Command::new("kill").args(["-HUP", &sluice.pid().to_string()]).status();
    assert!(hup.expect("kill runs").success());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sluice.get("/live/certs/hls/index.m3u8").status, 200, "alive after SIGHUP");
}
