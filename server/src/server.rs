//! Per-worker accept loops for HTTP (plain and TLS), sharing one router.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::hub::Hub;

/// What every connection handler shares.
#[derive(Debug)]
pub struct AppState {
    pub hub: Arc<Hub>,
    /// The npm-installed hls.js, read at start-up (None when not installed).
    pub hls_js: Option<Bytes>,
    /// Live WHIP/WHEP sessions.
    pub webrtc: crate::webrtc::Sessions,
    /// Publish credentials (`Authorization: Bearer`) per `group/channel`.
    pub channel_tokens: std::collections::BTreeMap<String, String>,
}

impl AppState {
    pub fn new(hub: Arc<Hub>, hls_js: Option<Bytes>, config: &crate::config::Config) -> Self {
        Self {
            hub,
            hls_js,
            webrtc: crate::webrtc::Sessions::new(
                config.limits.max_webrtc_sessions,
                u32::try_from(config.webrtc_settings.playout_delay_ms).ok(),
            ),
            channel_tokens: config
                .channels
                .iter()
                .filter_map(|(id, c)| c.publish_token.clone().map(|t| (id.clone(), t)))
                .collect(),
        }
    }
}

/// The two ends of the connection a request came in on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub local: std::net::SocketAddr,
    pub peer: std::net::SocketAddr,
    /// The connection came in over TLS (absolute URLs we hand out say `https`).
    pub tls: bool,
}

/// Bounded per-connection work: header size and concurrent HTTP/2 streams.
fn builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .max_buf_size(64 * 1024)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    b.http2().max_concurrent_streams(256).timer(hyper_util::rt::TokioTimer::new());
    b
}

pub async fn serve_http(listener: TcpListener, state: Arc<AppState>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("http accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(local) = stream.local_addr() else { continue };
        let conn = ConnInfo { local, peer, tls: false };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        crate::egress::http::route(state, conn, req).await,
                    )
                }
            });
            let _ = builder().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

/// TLS over TCP. `alt_svc` (when HTTP/3 runs on the same port) goes on every response, so
/// browsers move to QUIC for their next requests (RFC 7838, RFC 9114 §3.1.1).
pub async fn serve_https(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Arc<rustls::ServerConfig>,
    alt_svc: Option<http::HeaderValue>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("https accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(local) = stream.local_addr() else { continue };
        let conn = ConnInfo { local, peer, tls: true };
        let state = state.clone();
        let acceptor = acceptor.clone();
        let alt_svc = alt_svc.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(
                Duration::from_secs(10),
                acceptor.accept(stream),
            )
            .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                    return;
                }
                Err(_) => return,
            };
            let svc = service_fn(move |req| {
                let state = state.clone();
                let alt_svc = alt_svc.clone();
                async move {
                    let mut resp = crate::egress::http::route(state, conn, req).await;
                    if let Some(v) = alt_svc {
                        resp.headers_mut().insert(http::header::ALT_SVC, v);
                    }
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let _ = builder().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
