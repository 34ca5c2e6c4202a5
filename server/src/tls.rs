//! TLS for the `--https` listener: the configured certificate, or a self-signed development
//! certificate generated into the data directory on first run (its SPKI fingerprint is logged so
//! browsers can be told to trust it). ALPN offers h2 and http/1.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

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

pub fn server_config(config: &Config) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let (cert_path, key_path) = match (&config.tls.cert, &config.tls.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => ensure_dev_certificate(&config.data)?,
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| TlsError::Pem { path: cert_path.clone(), message: e.to_string() })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem { path: cert_path.clone(), message: e.to_string() })?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| TlsError::Pem { path: key_path.clone(), message: e.to_string() })?;
    match spki_fingerprint(&key_path) {
        Some(fp) => tracing::info!(
            "TLS certificate {} (SPKI sha256 {fp}; for Chromium: --ignore-certificate-errors-spki-list={fp})",
            cert_path.display()
        ),
        None => tracing::info!("TLS certificate {}", cert_path.display()),
    }
    let mut sc =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key)?;
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(sc))
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
        server_config(&config).expect("generated certificate loads");
        let (cert, key) = (dir.join("tls/dev-cert.pem"), dir.join("tls/dev-key.pem"));
        let first = std::fs::read(&cert).expect("certificate written");
        let fp = spki_fingerprint(&key).expect("fingerprint");
        assert_eq!(fp.len(), 44, "{fp}");
        server_config(&config).expect("reloads");
        assert_eq!(std::fs::read(&cert).expect("still there"), first, "not regenerated");
        // A configured certificate wins over the development one.
        config.tls.cert = Some(dir.join("missing.pem"));
        config.tls.key = Some(key);
        assert!(matches!(server_config(&config), Err(TlsError::Pem { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
