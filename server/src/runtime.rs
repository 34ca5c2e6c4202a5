//! Thread per core: one current-thread tokio runtime per worker, each with its own listeners
//! bound to the same addresses with SO_REUSEPORT so the kernel spreads connections.

use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Config;
use crate::hub::Hub;
use crate::server::AppState;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind { what: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error("cannot start worker runtime: {0}")]
    Runtime(std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("HTTP/3: {0}")]
    Http3(String),
}

/// Binds a TCP listener with SO_REUSEPORT (so every worker can bind the same address).
pub fn bind_tcp(
    addr: SocketAddr,
    what: &'static str,
) -> Result<std::net::TcpListener, RuntimeError> {
    let err = |source| RuntimeError::Bind { what, addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    socket.set_reuse_address(true).map_err(err)?;
    socket.set_reuse_port(true).map_err(err)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(err)?;
    }
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    socket.listen(1024).map_err(err)?;
    Ok(socket.into())
}

/// One kind of listener, resolved: port 0 becomes the port the first bind got, so all
/// workers share one real port.
struct Listeners {
    what: &'static str,
    addr: SocketAddr,
    first: Option<std::net::TcpListener>,
}

impl Listeners {
    fn new(what: &'static str, addr: Option<SocketAddr>) -> Result<Option<Self>, RuntimeError> {
        let Some(addr) = addr else { return Ok(None) };
        let first = bind_tcp(addr, what)?;
        let addr =
            first.local_addr().map_err(|source| RuntimeError::Bind { what, addr, source })?;
        // Scripts and tests read these lines to learn the ports (stdout, one per listener).
        println!("listening {what} {addr}");
        Ok(Some(Self { what, addr, first: Some(first) }))
    }

    fn take(&mut self) -> Result<std::net::TcpListener, RuntimeError> {
        match self.first.take() {
            Some(l) => Ok(l),
            None => bind_tcp(self.addr, self.what),
        }
    }
}

/// Starts the workers and blocks until they all end (they run until the process exits).
pub fn run(
    config: &Config,
    hub: Arc<Hub>,
    state: Arc<AppState>,
    demo: bool,
) -> Result<(), RuntimeError> {
    let workers = config.worker_count();
    let mut http = Listeners::new("http", config.http)?;
    let mut https = Listeners::new("https", config.https)?;
    let mut rtmp = Listeners::new("rtmp", config.rtmp)?;
    let mut srt =
        match config.srt {
            Some(addr) => {
                let socket = crate::ingest::srt::bind(addr)
                    .map_err(|source| RuntimeError::Bind { what: "srt", addr, source })?;
                let bound = socket.local_addr().map_err(|source| RuntimeError::Bind {
                    what: "srt",
                    addr,
                    source,
                })?;
                println!("listening srt {bound}");
                Some(socket)
            }
            None => None,
        };
    let srt_cfg = crate::ingest::srt::SrtConfig {
        latency: std::time::Duration::from_millis(config.srt_settings.latency_ms),
        max_connections: config.srt_settings.max_connections,
        passphrases: config
            .channels
            .iter()
            .filter_map(|(id, c)| c.srt_passphrase.clone().map(|p| (id.clone(), p)))
            .collect(),
    };
    let certs = match config.https {
        Some(_) => Some(crate::tls::CertStore::load(config)?),
        None => None,
    };
    let tls = certs.clone().map(crate::tls::tcp_config);
    // HTTP/3 on the UDP side of the https port: (address, QUIC settings, Alt-Svc value).
    let h3 = match (&certs, &https) {
        (Some(store), Some(l)) if config.http3.enabled => {
            let quic_tls = crate::tls::quic_config(store.clone());
            let quic =
                crate::h3::server_config(quic_tls, &config.http3).map_err(RuntimeError::Http3)?;
            println!("listening h3 {}", l.addr);
            let alt_svc =
                http::HeaderValue::from_str(&format!("h3=\":{}\"; ma=86400", l.addr.port()))
                    .map_err(|e| RuntimeError::Http3(e.to_string()))?;
            Some((l.addr, quic, alt_svc))
        }
        _ => None,
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let mut handles = Vec::new();
    for worker in 0..workers {
        let http_l = http.as_mut().map(Listeners::take).transpose()?;
        let https_l = https.as_mut().map(Listeners::take).transpose()?;
        let rtmp_l = rtmp.as_mut().map(Listeners::take).transpose()?;
        let h3_l = match &h3 {
            Some((addr, quic, _)) => Some((
                crate::h3::bind_udp(*addr).map_err(|source| RuntimeError::Bind {
                    what: "h3",
                    addr: *addr,
                    source,
                })?,
                quic.clone(),
            )),
            None => None,
        };
        let alt_svc = h3.as_ref().map(|(_, _, v)| v.clone());
        let certs = certs.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RuntimeError::Runtime)?;
        let hub = hub.clone();
        let state = state.clone();
        let tls = tls.clone();
        let max_rtmp = config.limits.max_rtmp_connections;
        // One UDP socket carries every SRT connection: it lives on the first worker.
        let srt_socket = srt.take();
        let srt_cfg = srt_cfg.clone();
        let handle = std::thread::Builder::new()
            .name(format!("sluice-worker-{worker}"))
            .spawn(move || {
                rt.block_on(async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    if let Some(l) = http_l.and_then(|l| tokio::net::TcpListener::from_std(l).ok())
                    {
                        tasks.spawn(crate::server::serve_http(l, state.clone()));
                    }
                    if let (Some(l), Some(tls)) =
                        (https_l.and_then(|l| tokio::net::TcpListener::from_std(l).ok()), tls)
                    {
                        tasks.spawn(crate::server::serve_https(l, state.clone(), tls, alt_svc));
                    }
                    if let Some((socket, quic)) = h3_l {
                        tasks.spawn(crate::h3::serve(socket, state.clone(), quic));
                    }
                    if let (Some(store), 0) = (certs, worker) {
                        tasks.spawn(store.watch());
                    }
                    if let Some(l) = rtmp_l.and_then(|l| tokio::net::TcpListener::from_std(l).ok())
                    {
                        tasks.spawn(crate::ingest::rtmp::serve(l, hub.clone(), max_rtmp));
                    }
                    if let Some(socket) = srt_socket {
                        tasks.spawn(crate::ingest::srt::serve(socket, hub.clone(), srt_cfg));
                    }
                    if demo && worker == 0 {
                        tasks.spawn(crate::ingest::demo::run(hub.clone()));
                    }
                    while tasks.join_next().await.is_some() {}
                });
            })
            .map_err(RuntimeError::Runtime)?;
        handles.push(handle);
    }
    tracing::info!(
        "sluice ready: {workers} workers; LL-HLS at http://HOST:{}/<group>/<channel>/hls/index.m3u8",
        http.as_ref().map_or(0, |l| l.addr.port())
    );
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}
