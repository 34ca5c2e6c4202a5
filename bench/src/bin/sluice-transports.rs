//! `sluice-transports`: how fast one client is served the same resource over HTTP/1.1 (TLS),
//! HTTP/2 and HTTP/3, in one run against one server. For each transport: one connection, a
//! bounded number of GETs (`--concurrency` at a time on HTTP/2 and HTTP/3, one after another on
//! HTTP/1.1), then MB/s and requests/s; with `--pid`, the server's CPU time per MB. Meant for a
//! finished LL-HLS segment or part (a cacheable, fixed body), so only the transport differs.
//!
//! usage: sluice-transports https://127.0.0.1:PORT/live/cam1/hls/video/12.m4s --cert CERT.pem
//!        [--requests N (300)] [--concurrency C (8)] [--pid PID] [--only http/1.1|h2|h3]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, Empty};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

struct Args {
    url: http::Uri,
    cert: String,
    requests: usize,
    concurrency: usize,
    pid: Option<u32>,
    only: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut url, mut cert, mut pid, mut only) = (None, None, None, None);
    let (mut requests, mut concurrency) = (300usize, 8usize);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--cert" => cert = Some(value()?),
            "--requests" => requests = value()?.parse().map_err(|_| "--requests N")?,
            "--concurrency" => concurrency = value()?.parse().map_err(|_| "--concurrency C")?,
            "--pid" => pid = Some(value()?.parse().map_err(|_| "--pid PID")?),
            "--only" => only = Some(value()?),
            u => url = Some(u.parse::<http::Uri>().map_err(|e| format!("{u}: {e}"))?),
        }
    }
    let usage = "usage: sluice-transports https://HOST:PORT/PATH --cert CERT.pem [--requests N] [--concurrency C] [--pid PID] [--only http/1.1|h2|h3]";
    let (url, cert) = (url.ok_or(usage)?, cert.ok_or(usage)?);
    if url.scheme_str() != Some("https") || url.port_u16().is_none() {
        return Err(format!("{usage}: an https URL with a port"));
    }
    if !(1..=100_000).contains(&requests) || !(1..=100).contains(&concurrency) {
        return Err("requests must be 1..=100000 and concurrency 1..=100".into());
    }
    if only.as_deref().is_some_and(|o| !["http/1.1", "h2", "h3"].contains(&o)) {
        return Err("--only takes http/1.1, h2 or h3".into());
    }
    Ok(Args { url, cert, requests, concurrency, pid, only })
}

fn tls_config(cert: &str, alpn: &[u8]) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).map_err(|e| format!("{cert}: {e}"))? {
        roots.add(c.map_err(|e| format!("{cert}: {e}"))?).map_err(|e| e.to_string())?;
    }
    let mut c = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    c.alpn_protocols = vec![alpn.to_vec()];
    Ok(c)
}

/// Server CPU time so far (user + system), from /proc.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

struct Outcome {
    bytes: u64,
    requests: usize,
    elapsed: Duration,
}

type TlsIo = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

async fn tcp_tls(args: &Args, alpn: &[u8]) -> Result<TlsIo, String> {
    let host = args.url.host().unwrap_or("127.0.0.1");
    let addr = format!("{host}:{}", args.url.port_u16().unwrap_or(443));
    let tcp = tokio::net::TcpStream::connect(&addr).await.map_err(|e| format!("{addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls_config(&args.cert, alpn)?));
    let tls = connector
        .connect(ServerName::try_from("localhost").map_err(|e| e.to_string())?, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    Ok(hyper_util::rt::TokioIo::new(tls))
}

fn request(args: &Args) -> http::Request<Empty<Bytes>> {
    http::Request::get(args.url.clone())
        .header("host", args.url.authority().map_or("localhost", |a| a.as_str()))
        .body(Empty::new())
        .expect("request")
}

async fn body_len(resp: http::Response<hyper::body::Incoming>) -> Result<u64, String> {
    if !resp.status().is_success() {
        return Err(format!("status {}", resp.status()));
    }
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?;
    Ok(body.to_bytes().len() as u64)
}

async fn http1(args: &Args) -> Result<Outcome, String> {
    let io = tcp_tls(args, b"http/1.1").await?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..args.requests {
        let resp = send.send_request(request(args)).await.map_err(|e| e.to_string())?;
        bytes += body_len(resp).await?;
    }
    Ok(Outcome { bytes, requests: args.requests, elapsed: start.elapsed() })
}

async fn http2(args: &Args) -> Result<Outcome, String> {
    let io = tcp_tls(args, b"h2").await?;
    let (send, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    batched(args, || {
        let mut send = send.clone();
        let req = request(args);
        async move {
            let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
            body_len(resp).await
        }
    })
    .await
}

/// `args.requests` requests made by `one`, `args.concurrency` at a time on one connection.
async fn batched<F, Fut>(args: &Args, one: F) -> Result<Outcome, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<u64, String>> + Send + 'static,
{
    let start = Instant::now();
    let mut bytes = 0;
    let mut left = args.requests;
    while left > 0 {
        let batch = left.min(args.concurrency);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch {
            set.spawn(one());
        }
        while let Some(r) = set.join_next().await {
            bytes += r.map_err(|e| e.to_string())??;
        }
        left -= batch;
    }
    Ok(Outcome { bytes, requests: args.requests, elapsed: start.elapsed() })
}

async fn http3(args: &Args) -> Result<Outcome, String> {
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls_config(&args.cert, b"h3")?)
        .map_err(|e| e.to_string())?;
    let mut endpoint =
        quinn::Endpoint::client("0.0.0.0:0".parse().expect("addr")).map_err(|e| e.to_string())?;
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let host = args.url.host().unwrap_or("127.0.0.1");
    let addr = format!("{host}:{}", args.url.port_u16().unwrap_or(443))
        .parse()
        .map_err(|e| format!("{e}"))?;
    let conn = endpoint
        .connect(addr, "localhost")
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| format!("QUIC: {e}"))?;
    let (mut driver, send) =
        h3::client::new(h3_quinn::Connection::new(conn)).await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    batched(args, || {
        let mut send = send.clone();
        let req = http::Request::get(args.url.clone()).body(()).expect("request");
        async move {
            let mut stream = send.send_request(req).await.map_err(|e| e.to_string())?;
            stream.finish().await.map_err(|e| e.to_string())?;
            let resp = stream.recv_response().await.map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("status {}", resp.status()));
            }
            let mut n = 0u64;
            while let Some(chunk) = stream.recv_data().await.map_err(|e| e.to_string())? {
                n += chunk.remaining() as u64;
            }
            Ok(n)
        }
    })
    .await
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "url {} requests {} concurrency {} load {}",
        args.url,
        args.requests,
        args.concurrency,
        load.trim()
    );
    let mut failed = false;
    for name in ["http/1.1", "h2", "h3"] {
        if args.only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let cpu_before = args.pid.and_then(cpu_time);
        let run = rt.block_on(async {
            let work = async {
                match name {
                    "http/1.1" => http1(&args).await,
                    "h2" => http2(&args).await,
                    _ => http3(&args).await,
                }
            };
            tokio::time::timeout(Duration::from_secs(120), work)
                .await
                .unwrap_or_else(|_| Err("timed out after 120 s".into()))
        });
        match run {
            Ok(o) => {
                let secs = o.elapsed.as_secs_f64();
                let mb = o.bytes as f64 / 1e6;
                let cpu = match (cpu_before, args.pid.and_then(cpu_time)) {
                    (Some(a), Some(b)) if mb > 0.0 => {
                        format!(" server_cpu_ms_per_MB {:.2}", (b - a).as_secs_f64() * 1000.0 / mb)
                    }
                    _ => String::new(),
                };
                println!(
                    "{name:8} {:.1} MB/s {:.0} req/s ({} requests, {:.1} MB in {:.2} s){cpu}",
                    mb / secs,
                    o.requests as f64 / secs,
                    o.requests,
                    mb,
                    secs
                );
            }
            Err(e) => {
                println!("{name:8} failed: {e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
