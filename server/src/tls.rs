//! TLS for the `--https` listeners (TCP: HTTP/1.1 + HTTP/2 by ALPN; UDP: HTTP/3 over QUIC): the
//! configured certificate, or a self-signed development certificate generated into the data
//! directory on first run (its SPKI fingerprint is logged so browsers can be told to trust it).
//!
//! Both listeners share one [`CertStore`]: when the certificate files change (checked every
//! couple of seconds) or on SIGHUP, new handshakes get the new certificate while established
//! connections, and the viewers on them, carry on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::Config;

/// How often the certificate files are checked for changes.
const RELOAD_CHECK: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("cannot generate the development certificate: {0}")]
    Generate(String),
    #[error("certificate and key do not fit together: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Installs the one crypto provider (aws-lc-rs) for the whole process.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The certificate every TLS handshake is answered with, swappable at run time.
#[derive(Debug)]
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// Modification times of the files last loaded.
    loaded: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl CertStore {
    /// The configured certificate and key, or the development certificate.
    pub fn load(config: &Config) -> Result<Arc<Self>, TlsError> {
        let (cert_path, key_path) = match (&config.tls.cert, &config.tls.key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            _ => ensure_dev_certificate(&config.data)?,
        };
        let stamps = (modified(&cert_path), modified(&key_path));
        let key = certified_key(&cert_path, &key_path)?;
        log_certificate(&cert_path, &key_path, "TLS certificate");
        Ok(Arc::new(Self {
            cert_path,
            key_path,
            current: RwLock::new(key),
            loaded: Mutex::new(stamps),
        }))
    }

    /// Loads the files again if they changed since the last load (or `force`). A certificate
    /// that does not load keeps the old one in service, with the reason in the log.
    pub fn reload(&self, force: bool) -> Result<bool, TlsError> {
        let stamps = (modified(&self.cert_path), modified(&self.key_path));
        let Ok(mut loaded) = self.loaded.lock() else { return Ok(false) };
        if !force && *loaded == stamps {
            return Ok(false);
        }
        let key = certified_key(&self.cert_path, &self.key_path)?;
        *loaded = stamps;
        if let Ok(mut current) = self.current.write() {
            *current = key;
        }
        log_certificate(&self.cert_path, &self.key_path, "TLS certificate reloaded");
        Ok(true)
    }

    /// Watches the files (and SIGHUP) for as long as the server runs.
    pub async fn watch(self: Arc<Self>) {
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(RELOAD_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let force = tokio::select! {
                _ = tick.tick() => false,
                Some(()) = async { hangup.as_mut()?.recv().await } => true,
            };
            if let Err(e) = self.reload(force) {
                tracing::warn!("TLS certificate not reloaded, the current one stays in use: {e}");
            }
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|k| k.clone())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn certified_key(cert_path: &Path, key_path: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let pem_err = |path: &Path, e: &dyn std::fmt::Display| TlsError::Pem {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let certs = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| pem_err(cert_path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(cert_path, &e))?;
    if certs.is_empty() {
        return Err(pem_err(cert_path, &"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| pem_err(key_path, &e))?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    Ok(Arc::new(CertifiedKey::from_der(certs, key, &provider)?))
}

fn log_certificate(cert_path: &Path, key_path: &Path, what: &str) {
    match spki_fingerprint(key_path) {
        Some(fp) => tracing::info!(
            "{what} {} (SPKI sha256 {fp}; for Chromium: --ignore-certificate-errors-spki-list={fp})",
            cert_path.display()
        ),
        None => tracing::info!("{what} {}", cert_path.display()),
    }
}

/// TLS over TCP: HTTP/2 or HTTP/1.1 by ALPN.
pub fn tcp_config(store: Arc<CertStore>) -> Arc<rustls::ServerConfig> {
    let mut sc = rustls::ServerConfig::builder().with_no_client_auth().with_cert_resolver(store);
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(sc)
}

/// QUIC: TLS 1.3 only (RFC 9001), ALPN `h3`.
pub fn quic_config(store: Arc<CertStore>) -> Arc<rustls::ServerConfig> {
    let mut sc = rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
        .with_no_client_auth()
        .with_cert_resolver(store);
    sc.alpn_protocols = vec![b"h3".to_vec()];
    sc.max_early_data_size = 0;
    Arc::new(sc)
}

/// Base64 SHA-256 of the key's SubjectPublicKeyInfo: what browsers pin with
/// `--ignore-certificate-errors-spki-list`.
pub fn spki_fingerprint(key_path: &Path) -> Option<String> {
    use rcgen::PublicKeyData;
    let pem = std::fs::read_to_string(key_path).ok()?;
    let key = rcgen::KeyPair::from_pem(&pem).ok()?;
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &key.subject_public_key_info());
    Some(base64(digest.as_ref()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn ensure_dev_certificate(data: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = data.join("tls");
    let cert = dir.join("dev-cert.pem");
    let key = dir.join("dev-key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|source| TlsError::Write { path: dir.clone(), source })?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let key_pair = rcgen::KeyPair::generate().map_err(|e| TlsError::Generate(e.to_string()))?;
    let params =
        rcgen::CertificateParams::new(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let generated = params.self_signed(&key_pair).map_err(|e| TlsError::Generate(e.to_string()))?;
    std::fs::write(&cert, generated.pem())
        .map_err(|source| TlsError::Write { path: cert.clone(), source })?;
    std::fs::write(&key, key_pair.serialize_pem())
        .map_err(|source| TlsError::Write { path: key.clone(), source })?;
    tracing::info!("generated a self-signed development certificate in {}", dir.display());
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn dev_certificate_is_generated_once_and_loads() {
        install_crypto_provider();
        let dir = std::env::temp_dir().join(format!("sluice-tls-test-{}", std::process::id()));
        let mut config = Config { data: dir.clone(), ..Config::default() };
        CertStore::load(&config).expect("generated certificate loads");
        let (cert, key) = (dir.join("tls/dev-cert.pem"), dir.join("tls/dev-key.pem"));
        let first = std::fs::read(&cert).expect("certificate written");
        let fp = spki_fingerprint(&key).expect("fingerprint");
        assert_eq!(fp.len(), 44, "{fp}");
        let store = CertStore::load(&config).expect("loads again");
        assert!(!store.reload(false).expect("nothing changed"), "unchanged files: no reload");
        assert!(store.reload(true).expect("forced"), "SIGHUP reloads anyway");
        assert_eq!(std::fs::read(&cert).expect("still there"), first, "not regenerated");
        // A configured certificate wins over the development one.
        config.tls.cert = Some(dir.join("missing.pem"));
        config.tls.key = Some(key);
        assert!(matches!(CertStore::load(&config), Err(TlsError::Pem { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
