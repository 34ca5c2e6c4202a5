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
        let (stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("http accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(crate::egress::http::route(state, req).await)
                }
            });
            let _ = builder().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

pub async fn serve_https(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Arc<rustls::ServerConfig>,
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
        let state = state.clone();
        let acceptor = acceptor.clone();
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
                async move {
                    Ok::<_, std::convert::Infallible>(crate::egress::http::route(state, req).await)
                }
            });
            let _ = builder().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
