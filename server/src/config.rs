//! Server configuration: a TOML file, overridden by command-line flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Limits for the CMAF timeline (issue 2: part target 100 ms–1 s, default 200 ms).
pub const PART_TARGET_RANGE_MS: (u64, u64) = (100, 1000);
/// Segment target bounds (DESIGN: segments cut on keyframes near 1–2 s; PRODUCT allows up to 30 s).
pub const SEGMENT_TARGET_RANGE_MS: (u64, u64) = (500, 30_000);

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Plain HTTP (HTTP/1.1 and h2c prior knowledge). `None` disables it.
    pub http: Option<SocketAddr>,
    /// TLS (HTTP/1.1 + HTTP/2 via ALPN). `None` disables it.
    pub https: Option<SocketAddr>,
    pub rtmp: Option<SocketAddr>,
    /// SRT ingest and playback (UDP). `None` disables it.
    pub srt: Option<SocketAddr>,
    /// State and archive directory (the dev certificate lives here).
    pub data: PathBuf,
    /// Worker threads, one current-thread runtime each. 0 = one per core.
    pub workers: usize,
    /// Directory holding the npm-installed player (`node_modules/hls.js`).
    pub web: Option<PathBuf>,
    pub tls: TlsConfig,
    pub media: MediaConfig,
    pub limits: Limits,
    pub srt_settings: SrtSettings,
    pub webrtc_settings: WebRtcSettings,
    pub http3: Http3Settings,
    /// Per-channel settings, keyed `"group/channel"`.
    pub channels: BTreeMap<String, ChannelSettings>,
}

/// SRT transport settings shared by every SRT connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SrtSettings {
    /// Receive latency (SRTO_RCVLATENCY): how long SRT may wait to recover a lost packet.
    /// The connection uses the larger of this and the caller's own latency.
    pub latency_ms: u64,
    /// SRT connections (publishers and readers) open at once.
    pub max_connections: usize,
}

/// WebRTC (WHIP/WHEP) settings shared by every session.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebRtcSettings {
    /// Playout delay asked of WHEP viewers (the RTP playout-delay extension, min = max): 0
    /// renders each frame as soon as it is decoded, the lowest latency on a clean network; a
    /// few hundred ms lets the browser smooth out network jitter. `-1` leaves it to the
    /// browser (its adaptive jitter buffer).
    pub playout_delay_ms: i32,
}

/// HTTP/3 (QUIC) on the `--https` port's UDP side.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http3Settings {
    /// Serve HTTP/3 (and advertise it with Alt-Svc) whenever TLS is on.
    pub enabled: bool,
    /// Requests a client may have open on one connection at once, held ones included
    /// (QUIC bidirectional streams); a player needs a handful.
    pub max_streams_per_connection: u32,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout_ms: u64,
}

/// Bounds of the HTTP/3 limits.
pub const HTTP3_STREAMS_RANGE: (u32, u32) = (4, 1000);
pub const HTTP3_IDLE_RANGE_MS: (u64, u64) = (1000, 600_000);

impl Default for Http3Settings {
    fn default() -> Self {
        Self { enabled: true, max_streams_per_connection: 100, idle_timeout_ms: 30_000 }
    }
}

/// Settings of one channel.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelSettings {
    /// SRT passphrase (10–79 characters). When set, SRT callers must encrypt with it (any of
    /// AES-128/192/256, the caller's `pbkeylen` decides); when unset, encrypted callers are refused.
    pub srt_passphrase: Option<String>,
    /// Publish credential: WHIP publishers must send `Authorization: Bearer <token>`.
    pub publish_token: Option<String>,
}

/// SRT receive latency bounds (libsrt's default is 120 ms; 8 s covers satellite-grade links).
pub const SRT_LATENCY_RANGE_MS: (u64, u64) = (20, 8000);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; with `key`, replaces the generated development certificate.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    pub part_target_ms: u64,
    pub segment_target_ms: u64,
    /// Segments listed in each media playlist.
    pub playlist_segments: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Playlist/part requests held open at once, server-wide; beyond it requests get 503.
    pub max_held_requests: usize,
    /// Concurrent RTMP connections per worker.
    pub max_rtmp_connections: usize,
    /// Channels that may exist at once.
    pub max_channels: usize,
    /// WHIP and WHEP sessions at once (each holds a UDP port and a WebRTC engine).
    pub max_webrtc_sessions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: Some(([0, 0, 0, 0], 8080).into()),
            https: Some(([0, 0, 0, 0], 8443).into()),
            rtmp: Some(([0, 0, 0, 0], 1935).into()),
            srt: Some(([0, 0, 0, 0], 9710).into()),
            data: PathBuf::from("sluice-data"),
            workers: 0,
            web: None,
            tls: TlsConfig::default(),
            media: MediaConfig::default(),
            limits: Limits::default(),
            srt_settings: SrtSettings::default(),
            webrtc_settings: WebRtcSettings::default(),
            http3: Http3Settings::default(),
            channels: BTreeMap::new(),
        }
    }
}

impl Default for SrtSettings {
    fn default() -> Self {
        Self { latency_ms: 120, max_connections: 256 }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self { part_target_ms: 200, segment_target_ms: 1000, playlist_segments: 12 }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_held_requests: 10_000,
            max_rtmp_connections: 256,
            max_channels: 1000,
            max_webrtc_sessions: 1000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    pub fn from_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_toml(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Checks every bound; the message names the setting and its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let m = &self.media;
        let (lo, hi) = PART_TARGET_RANGE_MS;
        if !(lo..=hi).contains(&m.part_target_ms) {
            return Err(ConfigError::Invalid(format!(
                "media.part_target_ms = {} is outside {lo}..={hi}",
                m.part_target_ms
            )));
        }
        let (lo, hi) = SEGMENT_TARGET_RANGE_MS;
        if !(lo..=hi).contains(&m.segment_target_ms) {
            return Err(ConfigError::Invalid(format!(
                "media.segment_target_ms = {} is outside {lo}..={hi}",
                m.segment_target_ms
            )));
        }
        if m.segment_target_ms < m.part_target_ms {
            return Err(ConfigError::Invalid(
                "media.segment_target_ms must be at least media.part_target_ms".into(),
            ));
        }
        if !(3..=100).contains(&m.playlist_segments) {
            return Err(ConfigError::Invalid(format!(
                "media.playlist_segments = {} is outside 3..=100",
                m.playlist_segments
            )));
        }
        let (lo, hi) = SRT_LATENCY_RANGE_MS;
        if !(lo..=hi).contains(&self.srt_settings.latency_ms) {
            return Err(ConfigError::Invalid(format!(
                "srt_settings.latency_ms = {} is outside {lo}..={hi}",
                self.srt_settings.latency_ms
            )));
        }
        // The extension carries 10 ms units in 12 bits.
        if !(-1..=40_950).contains(&self.webrtc_settings.playout_delay_ms) {
            return Err(ConfigError::Invalid(format!(
                "webrtc_settings.playout_delay_ms = {} is outside -1..=40950",
                self.webrtc_settings.playout_delay_ms
            )));
        }
        let (lo, hi) = HTTP3_STREAMS_RANGE;
        if !(lo..=hi).contains(&self.http3.max_streams_per_connection) {
            return Err(ConfigError::Invalid(format!(
                "http3.max_streams_per_connection = {} is outside {lo}..={hi}",
                self.http3.max_streams_per_connection
            )));
        }
        let (lo, hi) = HTTP3_IDLE_RANGE_MS;
        if !(lo..=hi).contains(&self.http3.idle_timeout_ms) {
            return Err(ConfigError::Invalid(format!(
                "http3.idle_timeout_ms = {} is outside {lo}..={hi}",
                self.http3.idle_timeout_ms
            )));
        }
        for (id, ch) in &self.channels {
            let valid_id = id
                .split_once('/')
                .is_some_and(|(g, c)| crate::hub::valid_name(g) && crate::hub::valid_name(c));
            if !valid_id {
                return Err(ConfigError::Invalid(format!(
                    "channels.{id:?}: channel keys look like \"live/cam1\""
                )));
            }
            // SRTO_PASSPHRASE: "The passphrase … must be between 10 and 79 characters".
            if let Some(p) = &ch.srt_passphrase
                && !(10..=79).contains(&p.len())
            {
                return Err(ConfigError::Invalid(format!(
                    "channels.\"{id}\".srt_passphrase is {} characters; SRT needs 10 to 79",
                    p.len()
                )));
            }
        }
        if self.workers > 256 {
            return Err(ConfigError::Invalid("workers must be at most 256".into()));
        }
        Ok(())
    }

    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }

    pub fn part_target(&self) -> Duration {
        Duration::from_millis(self.media.part_target_ms)
    }

    pub fn segment_target(&self) -> Duration {
        Duration::from_millis(self.media.segment_target_ms)
    }

    /// The settings of `group/channel` (defaults when the file says nothing about it).
    pub fn channel(&self, id: &str) -> ChannelSettings {
        self.channels.get(id).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().expect("defaults valid");
    }

    /// The example file says it holds every setting at its default: keep it true.
    #[test]
    fn the_example_config_is_valid_and_says_the_defaults() {
        let text = include_str!("../../examples/configs/sluice.toml");
        let c = Config::from_toml(text).expect("example parses");
        c.validate().expect("example valid");
        let d = Config::default();
        assert_eq!(c.webrtc_settings.playout_delay_ms, d.webrtc_settings.playout_delay_ms);
        assert_eq!(c.srt_settings.latency_ms, d.srt_settings.latency_ms);
        assert_eq!(c.srt_settings.max_connections, d.srt_settings.max_connections);
        assert_eq!(format!("{:?}", c.limits), format!("{:?}", d.limits));
        assert_eq!(format!("{:?}", c.http3), format!("{:?}", d.http3));
        assert_eq!(format!("{:?}", c.media), format!("{:?}", d.media));
        let off = Config::from_toml("[webrtc_settings]\nplayout_delay_ms = -2\n").expect("parses");
        assert!(off.validate().is_err(), "below -1 is refused");
    }

    #[test]
    fn file_overrides_defaults_and_rejects_unknown_keys() {
        let c = Config::from_toml("http = \"127.0.0.1:9000\"\n[media]\npart_target_ms = 300\n")
            .expect("parses");
        assert_eq!(c.http, Some(([127, 0, 0, 1], 9000).into()));
        assert_eq!(c.media.part_target_ms, 300);
        assert_eq!(c.media.segment_target_ms, 1000);
        assert!(Config::from_toml("htp = \"x\"").is_err());
    }

    #[test]
    fn channel_settings_are_checked() {
        let c = Config::from_toml(
            "[channels.\"live/cam1\"]\nsrt_passphrase = \"0123456789abc\"\n[srt_settings]\nlatency_ms = 200\n",
        )
        .expect("parses");
        c.validate().expect("valid");
        assert_eq!(c.channel("live/cam1").srt_passphrase.as_deref(), Some("0123456789abc"));
        assert_eq!(c.channel("live/other").srt_passphrase, None);
        let short = Config::from_toml("[channels.\"live/cam1\"]\nsrt_passphrase = \"short\"\n")
            .expect("parses");
        let err = short.validate().expect_err("too short").to_string();
        assert!(err.contains("10 to 79"), "{err}");
        let bad_key = Config::from_toml("[channels.cam1]\n").expect("parses");
        assert!(bad_key.validate().is_err());
    }

    #[test]
    fn out_of_range_part_target_is_refused_with_its_name() {
        let mut c = Config::default();
        c.media.part_target_ms = 50;
        let err = c.validate().expect_err("50 ms is below the floor").to_string();
        assert!(err.contains("part_target_ms"), "{err}");
    }
}
