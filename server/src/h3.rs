//! HTTP/3: one QUIC endpoint per worker on the `--https` port's UDP side (SO_REUSEPORT, so the
//! kernel keeps each client's packets on one worker), feeding the same router as HTTP/1.1 and
//! HTTP/2. Response bodies go out as DATA frames as they are produced, so blocking playlist
//! reloads, preload hints and LL-DASH segments in progress behave as on the other transports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Http3Settings;
use crate::egress::response::error;
use crate::server::{AppState, ConnInfo};

/// Largest request body taken (WHIP/WHEP SDP offers and trickle fragments are a few KiB).
const MAX_REQUEST_BODY: usize = 64 * 1024;
/// Largest request header section (QPACK-decoded), as for HTTP/1.1's buffer.
const MAX_FIELD_SECTION: u64 = 64 * 1024;
/// Unidirectional streams a client may open: HTTP/3 needs three (control, QPACK encoder and
/// decoder); a few more for extensions we ignore.
const MAX_UNI_STREAMS: u32 = 8;

/// Binds a UDP socket with SO_REUSEPORT (every worker binds the same address).
pub fn bind_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// The QUIC server settings: TLS 1.3 with ALPN h3, and limits that suit many viewers.
pub fn server_config(
    tls: Arc<rustls::ServerConfig>,
    settings: &Http3Settings,
) -> Result<quinn::ServerConfig, String> {
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| format!("TLS settings unusable for QUIC: {e}"))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(settings.max_streams_per_connection.into())
        .max_concurrent_uni_streams(MAX_UNI_STREAMS.into())
        .max_idle_timeout(Some(
            Duration::from_millis(settings.idle_timeout_ms)
                .try_into()
                .map_err(|e| format!("idle timeout: {e}"))?,
        ));
    config.transport_config(Arc::new(transport));
    // Each worker has its own socket: a client that changes address would reach another one.
    config.migration(false);
    Ok(config)
}

/// Accepts QUIC connections on `socket` until the process ends.
pub async fn serve(socket: std::net::UdpSocket, state: Arc<AppState>, config: quinn::ServerConfig) {
    let endpoint = match quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        socket,
        Arc::new(quinn::TokioRuntime),
    ) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("HTTP/3 endpoint failed to start: {e}");
            return;
        }
    };
    let Ok(local) = endpoint.local_addr() else { return };
    while let Some(incoming) = endpoint.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            let peer = incoming.remote_address();
            match tokio::time::timeout(Duration::from_secs(10), incoming).await {
                Ok(Ok(conn)) => connection(conn, ConnInfo { local, peer, tls: true }, state).await,
                Ok(Err(e)) => tracing::debug!(%peer, "QUIC handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "QUIC handshake timed out"),
            }
        });
    }
}

/// Counts a connection open for as long as it lives (metrics).
#[derive(Debug)]
struct OpenConnection(Arc<AppState>);

impl OpenConnection {
    fn new(state: &Arc<AppState>) -> Self {
        let c = &state.hub.counters;
        c.http3_connections.fetch_add(1, Ordering::Relaxed);
        c.http3_open.fetch_add(1, Ordering::Relaxed);
        Self(state.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.hub.counters.http3_open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(conn: quinn::Connection, info: ConnInfo, state: Arc<AppState>) {
    let _open = OpenConnection::new(&state);
    // No GREASE frames (RFC 9114 §7.2.8): clients must ignore them, but aioquic 1.3 then never
    // sees the end of the response stream.
    let h3 = h3::server::builder()
        .max_field_section_size(MAX_FIELD_SECTION)
        .send_grease(false)
        .build::<_, Bytes>(h3_quinn::Connection::new(conn))
        .await;
    let mut h3 = match h3 {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(peer = %info.peer, "HTTP/3 connection setup failed: {e}");
            return;
        }
    };
    loop {
        match h3.accept().await {
            Ok(Some(resolver)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    match resolver.resolve_request().await {
                        Ok((req, stream)) => request(req, stream, info, state).await,
                        Err(e) => tracing::debug!(peer = %info.peer, "bad HTTP/3 request: {e}"),
                    }
                });
            }
            Ok(None) => break,
            Err(e) => {
                if !e.is_h3_no_error() {
                    tracing::debug!(peer = %info.peer, "HTTP/3 connection ended: {e}");
                }
                break;
            }
        }
    }
}

type Stream = h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

async fn request(req: Request<()>, mut stream: Stream, info: ConnInfo, state: Arc<AppState>) {
    let resp = match read_body(&mut stream).await {
        Ok(body) => crate::egress::http::route(state, info, req.map(|()| Full::new(body))).await,
        Err(status) => error(status, "request body too large or broken"),
    };
    let (head, mut body) = resp.into_parts();
    if stream.send_response(Response::from_parts(head, ())).await.is_err() {
        return;
    }
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame;
        if let Ok(data) = frame.into_data()
            && stream.send_data(data).await.is_err()
        {
            return;
        }
    }
    let _ = stream.finish().await;
}

async fn read_body(stream: &mut Stream) -> Result<Bytes, StatusCode> {
    let mut body = BytesMut::new();
    loop {
        match stream.recv_data().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.remaining() > MAX_REQUEST_BODY {
                    return Err(StatusCode::PAYLOAD_TOO_LARGE);
                }
                body.put(chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(_) => return Err(StatusCode::BAD_REQUEST),
        }
    }
}
