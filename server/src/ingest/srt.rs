//! SRT listener (srt-tokio): publishers push MPEG-TS into a channel; readers (`m=request`) get
//! the channel back as MPEG-TS, for relaying to other systems.
//!
//! One UDP socket serves every SRT connection, so the listener lives on one worker. A refused
//! caller (bad stream id, unknown group, wrong or missing passphrase, channel already
//! publishing) is logged in words and never stops the listener; if srt-tokio's listener task
//! itself dies, it is bound again on the same port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sluice_srt::{Mode, StreamId};
use srt_tokio::access::{RejectReason, ServerRejectReason};
use srt_tokio::options::{DataRate, KeySize, LiveBandwidthMode, Passphrase};
use srt_tokio::{ConnectionRequest, SrtListener, SrtSocket};
use tokio::sync::Semaphore;

use crate::hub::{Hub, PublishError};
use crate::ingest::ts::TsIngest;

/// A publisher silent this long is considered gone (SRT's own peer-idle timeout is 5 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct SrtConfig {
    pub latency: Duration,
    pub max_connections: usize,
    /// Passphrase per `group/channel`.
    pub passphrases: BTreeMap<String, String>,
}

/// Binds the SRT UDP socket (port 0 resolves here, so `listening srt ADDR` names the real port).
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

pub async fn serve(socket: std::net::UdpSocket, hub: Arc<Hub>, cfg: SrtConfig) {
    let Ok(addr) = socket.local_addr() else { return };
    let slots = Arc::new(Semaphore::new(cfg.max_connections));
    let mut first = Some(socket);
    loop {
        let udp = match first.take() {
            Some(s) => tokio::net::UdpSocket::from_std(s),
            None => tokio::net::UdpSocket::bind(addr).await,
        };
        let bound = match udp {
            Ok(udp) => {
                SrtListener::builder()
                    .latency(cfg.latency)
                    // libsrt's live-mode default (1 Gbit/s): paces bursts such as keyframes
                    // instead of srt-tokio's unpaced default.
                    .bandwidth(LiveBandwidthMode::Max(DataRate(125_000_000)))
                    .socket(udp)
                    .bind(addr)
                    .await
            }
            Err(e) => Err(e),
        };
        let (_listener, mut incoming) = match bound {
            Ok(x) => x,
            Err(e) => {
                tracing::error!("SRT listener on {addr} cannot start: {e}; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(request) = incoming.incoming().next().await {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                tracing::warn!(peer = %request.remote(), "SRT caller refused: {} connections already open", cfg.max_connections);
                let _ = request.reject(RejectReason::Server(ServerRejectReason::Overload)).await;
                continue;
            };
            let hub = hub.clone();
            let cfg = cfg.clone();
            tokio::spawn(async move {
                handle(request, hub, &cfg).await;
                drop(permit);
            });
        }
        tracing::error!("SRT listener on {addr} stopped unexpectedly; binding it again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn handle(request: ConnectionRequest, hub: Arc<Hub>, cfg: &SrtConfig) {
    let peer = request.remote();
    let raw_id = request.stream_id().map(|s| s.as_str().to_owned()).unwrap_or_default();
    let id = match StreamId::parse(&raw_id) {
        Ok(id) => id,
        Err(e) => {
            refuse(&hub, request, peer, &raw_id, &e.to_string(), ServerRejectReason::BadRequest)
                .await;
            return;
        }
    };
    let channel_id = id.channel_id();
    let passphrase = cfg.passphrases.get(&channel_id);
    let encrypted = request.key_size() != KeySize::Unspecified;
    let key = match (passphrase, encrypted) {
        (Some(p), true) => match Passphrase::try_from(p.clone()) {
            Ok(passphrase) => Some(srt_protocol::settings::KeySettings {
                key_size: request.key_size(),
                passphrase,
            }),
            Err(_) => None,
        },
        (Some(_), false) => {
            let why = "this channel needs a passphrase (set passphrase=… and pbkeylen)";
            refuse(&hub, request, peer, &raw_id, why, ServerRejectReason::Unauthorized).await;
            return;
        }
        (None, true) => {
            let why = "the caller encrypts but this channel has no SRT passphrase configured";
            refuse(&hub, request, peer, &raw_id, why, ServerRejectReason::Unauthorized).await;
            return;
        }
        (None, false) => None,
    };
    match id.mode {
        Mode::Publish => {
            let guard = match hub.begin_publish(&id.group, &id.channel) {
                Ok(g) => g,
                Err(e) => {
                    let reason = match e {
                        PublishError::AlreadyPublishing(_) => ServerRejectReason::Conflict,
                        PublishError::UnknownGroup(_) => ServerRejectReason::Notfound,
                        PublishError::TooManyChannels(_) => ServerRejectReason::Overload,
                        PublishError::BadName(_) => ServerRejectReason::BadRequest,
                    };
                    refuse(&hub, request, peer, &raw_id, &e.to_string(), reason).await;
                    return;
                }
            };
            let socket = match request.accept(key).await {
                Ok(s) => s,
                Err(e) => {
                    hub.counters.srt_rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, "SRT publish to {channel_id} refused: the handshake failed, most likely a wrong passphrase");
                    tracing::debug!(%peer, "SRT handshake error: {e}");
                    return;
                }
            };
            hub.counters.srt_connections.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, "SRT publisher connected to {channel_id} (latency {} ms)", socket.settings().recv_tsbpd_latency.as_millis());
            publish(socket, guard).await;
        }
        Mode::Request => {
            let Some(channel) = hub.channel(&id.group, &id.channel) else {
                let why = format!("no channel {channel_id} (nothing has published to it)");
                refuse(&hub, request, peer, &raw_id, &why, ServerRejectReason::Notfound).await;
                return;
            };
            let socket = match request.accept(key).await {
                Ok(s) => s,
                Err(e) => {
                    hub.counters.srt_rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, "SRT reader of {channel_id} refused: the handshake failed, most likely a wrong passphrase");
                    tracing::debug!(%peer, "SRT handshake error: {e}");
                    return;
                }
            };
            hub.counters.srt_connections.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%peer, "SRT reader connected to {channel_id}");
            crate::ingest::srt_read::serve_reader(socket, channel, peer).await;
        }
    }
}

async fn refuse(
    hub: &Hub,
    request: ConnectionRequest,
    peer: SocketAddr,
    raw_id: &str,
    why: &str,
    reason: ServerRejectReason,
) {
    hub.counters.srt_rejected.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(%peer, "SRT caller with stream id {raw_id:?} refused: {why}");
    let _ = request.reject(RejectReason::Server(reason)).await;
}

async fn publish(mut socket: SrtSocket, guard: crate::hub::PublishGuard) {
    let id = guard.channel.id.clone();
    let since = Instant::now();
    let mut ingest = TsIngest::new();
    let ended = loop {
        match tokio::time::timeout(IDLE_TIMEOUT, socket.next()).await {
            Err(_) => break format!("no data for {} s", IDLE_TIMEOUT.as_secs()),
            Ok(None) => break "the publisher disconnected".to_owned(),
            Ok(Some(Err(e))) => break format!("connection error: {e}"),
            Ok(Some(Ok((_, data)))) => {
                guard.hub.counters.ingest_bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                ingest.push(&guard, &data, crate::now_unix_ms());
                if let Some(codec) = &ingest.refused {
                    break format!("unsupported codec {codec}");
                }
            }
        }
    };
    ingest.finish(&guard, crate::now_unix_ms());
    tracing::info!("stream {id} stopped after {:.1} s: {ended}", since.elapsed().as_secs_f64());
    drop(guard);
    let _ = socket.close_and_finish().await;
}
