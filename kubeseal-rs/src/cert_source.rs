//! Loading the sealing certificate: a local path, a `file://` URL or an `http(s)://` URL
//! (SPEC §4.1 `--cert`). Fetching from the controller in the cluster lives in `cluster.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use sealed_secrets_core::cert::{CertError, Certificate};

/// A certificate that could not be loaded, naming where it came from.
#[derive(Debug, thiserror::Error)]
pub enum CertSourceError {
    #[error("cannot read certificate {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot fetch {uri:?}: {reason}")]
    Http { uri: String, reason: String },
    #[error("certificate {origin}: {source}")]
    Parse {
        origin: String,
        #[source]
        source: CertError,
    },
}

/// Reads the raw bytes at `location` (path, `file://` or `http(s)://`).
///
/// # Errors
/// The file cannot be read, or the URL does not answer 200.
pub fn fetch(location: &str) -> Result<Vec<u8>, CertSourceError> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return fetch_http(location);
    }
    let path = PathBuf::from(location.strip_prefix("file://").unwrap_or(location));
    std::fs::read(&path).map_err(|source| CertSourceError::File { path, source })
}

fn fetch_http(uri: &str) -> Result<Vec<u8>, CertSourceError> {
    let http_err = |reason: String| CertSourceError::Http {
        uri: uri.to_owned(),
        reason,
    };
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(uri)
        .header("Accept", "application/x-pem-file, */*")
        .call()
        .map_err(|e| http_err(e.to_string()))?;
    let status = response.status();
    if status != 200 {
        return Err(http_err(status.to_string()));
    }
    response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_vec()
        .map_err(|e| http_err(e.to_string()))
}

/// Parses certificate bytes and refuses an expired certificate, as upstream does.
///
/// # Errors
/// Not a usable RSA certificate, or expired.
pub fn parse_for_sealing(bytes: &[u8], origin: &str) -> Result<Certificate, CertSourceError> {
    let parse_err = |source| CertSourceError::Parse {
        origin: origin.to_owned(),
        source,
    };
    let cert = Certificate::from_pem(bytes).map_err(parse_err)?;
    cert.check_not_expired(time::OffsetDateTime::now_utc())
        .map_err(parse_err)?;
    Ok(cert)
}
