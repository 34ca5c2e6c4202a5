//! RTMP ingest: one task per TCP connection drives the sans-IO `sluice_rtmp` engine.
//! App = channel group, stream key = channel. A second publisher on a live channel, an
//! unknown group or an unsupported codec is refused with a clear log line; the connection is
//! closed cleanly and nothing else is disturbed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sluice_media::demux::flv::TagKind;
use sluice_rtmp::{Output, RtmpConfig, RtmpSession};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::hub::{Hub, PublishGuard};
use crate::ingest::flv::FlvIngest;
use crate::now_unix_ms;

/// A publisher that sends nothing for this long is considered gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
const READ_BUFFER: usize = 64 * 1024;

pub async fn serve(listener: TcpListener, hub: Arc<Hub>, max_connections: usize) {
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("rtmp accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "rtmp connection refused: {max_connections} connections already open on this worker");
            continue;
        };
        hub.counters.rtmp_connections.fetch_add(1, Ordering::Relaxed);
        let hub = hub.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, hub).await {
                tracing::info!(%peer, "rtmp connection closed: {e}");
            }
            drop(permit);
        });
    }
}

async fn connection(mut stream: TcpStream, peer: SocketAddr, hub: Arc<Hub>) -> Result<(), String> {
    let _ = stream.set_nodelay(true);
    let mut session = RtmpSession::new(RtmpConfig::default());
    let mut publish: Option<(PublishGuard, FlvIngest, Instant)> = None;
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let n = match tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut buf)).await {
            Err(_) => return Err(format!("no data for {} s", IDLE_TIMEOUT.as_secs())),
            Ok(Err(e)) => return Err(format!("read error: {e}")),
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
        };
        hub.counters.ingest_bytes.fetch_add(n as u64, Ordering::Relaxed);
        session.handle_input(&buf[..n]).map_err(|e| format!("protocol error: {e}"))?;
        while let Some(out) = session.poll_output() {
            match out {
                Output::Send(bytes) => {
                    stream.write_all(&bytes).await.map_err(|e| format!("write error: {e}"))?
                }
                Output::PublishRequested(req) => {
                    match hub.begin_publish(&req.app, &req.stream_key) {
                        Ok(guard) => {
                            tracing::info!(%peer, "publisher connected to {}", guard.channel.id);
                            session.accept_publish(req).map_err(|e| e.to_string())?;
                            publish = Some((guard, FlvIngest::new(), Instant::now()));
                        }
                        Err(e) => {
                            hub.counters.rtmp_rejected.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%peer, "publish to {}/{} refused: {e}", req.app, req.stream_key);
                            session
                                .reject_publish(req, &e.to_string())
                                .map_err(|e| e.to_string())?;
                            flush(&mut session, &mut stream).await?;
                            let _ = stream.shutdown().await;
                            return Ok(());
                        }
                    }
                }
                Output::Video { timestamp_ms, data } | Output::Audio { timestamp_ms, data }
                    if publish.is_none() =>
                {
                    let _ = (timestamp_ms, data);
                    return Err("media before publish".into());
                }
                Output::Video { timestamp_ms, data } => {
                    if let Some((guard, ingest, _)) = publish.as_mut() {
                        ingest.push(guard, TagKind::Video, timestamp_ms, data, now_unix_ms());
                    }
                }
                Output::Audio { timestamp_ms, data } => {
                    if let Some((guard, ingest, _)) = publish.as_mut() {
                        ingest.push(guard, TagKind::Audio, timestamp_ms, data, now_unix_ms());
                    }
                }
                Output::Metadata { fields } => {
                    let encoder =
                        fields.iter().find(|(k, _)| k == "encoder").map(|(_, v)| v.as_str());
                    if let (Some(enc), Some((g, _, _))) = (encoder, publish.as_ref()) {
                        tracing::info!("stream {} encoder: {enc}", g.channel.id);
                    }
                }
                Output::PublishFinished => {
                    if let Some((g, _, since)) = publish.take() {
                        tracing::info!(
                            "stream {} ended by the publisher after {:.1} s",
                            g.channel.id,
                            since.elapsed().as_secs_f64()
                        );
                    }
                }
            }
            if let Some((g, ingest, _)) = publish.as_ref()
                && let Some(codec) = &ingest.refused
            {
                let id = g.channel.id.clone();
                let codec = codec.clone();
                drop(publish.take());
                let _ = stream.shutdown().await;
                return Err(format!("stream {id} closed: unsupported codec {codec}"));
            }
        }
    }
    if let Some((g, _, since)) = publish.take() {
        tracing::info!(
            "stream {} stopped: the publisher disconnected after {:.1} s",
            g.channel.id,
            since.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

async fn flush(session: &mut RtmpSession, stream: &mut TcpStream) -> Result<(), String> {
    while let Some(out) = session.poll_output() {
        if let Output::Send(bytes) = out {
            stream.write_all(&bytes).await.map_err(|e| format!("write error: {e}"))?;
        }
    }
    Ok(())
}
