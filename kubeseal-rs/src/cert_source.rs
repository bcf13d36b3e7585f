//! Loading the sealing certificate: a local path, a `file://` URL or an `http(s)://` URL
//! (SPEC §4.1 `--cert`). Fetching from the controller in the cluster lives in `cluster.rs`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sealed_secrets_core::cert::{CertError, Certificate};

use crate::input;

/// A certificate that could not be loaded, naming where it came from.
#[derive(Debug, thiserror::Error)]
pub enum CertSourceError {
    /// In Go's words, as upstream prints it (`open P: no such file or directory`); upstream's
    /// integration suite matches `^error:.*no such file or directory`.
    #[error("cannot read certificate: {op} {}: {}", path.display(), input::go_io_text(cause))]
    File {
        path: PathBuf,
        op: &'static str,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Input(#[from] input::InputError),
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
    match input::read_file_limited(&path, input::CERT_LIMIT) {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(input::InputError::File { op, source, .. }) => Err(CertSourceError::File {
            path,
            op,
            cause: source,
        }),
        Err(other) => Err(CertSourceError::Input(other)),
    }
}

/// How long connecting (DNS, TCP, TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the headers, and then the body, may each take to arrive.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the whole fetch may take, redirects included.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
/// Redirects followed, all within the URL's own scheme.
const MAX_REDIRECTS: usize = 5;

/// Where a redirect from `from` to `location` leads: an absolute URL, or a path on the same
/// server. `Err` (the reason) when it would change the scheme: an `https://` URL must never
/// lead to plain `http://` (the certificate decides who can read the secrets, so a downgrade
/// lets anyone on the path substitute theirs), and upgrades are refused too, to keep one rule.
fn redirect_target(from: &str, location: &str) -> Result<String, String> {
    let (scheme, rest) = from.split_once("://").unwrap_or(("", from));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let target = if let Some((to_scheme, _)) = location.split_once("://") {
        if !to_scheme.eq_ignore_ascii_case(scheme) {
            return Err(format!(
                "redirected to {location}, another scheme than {scheme}; refused"
            ));
        }
        location.to_owned()
    } else if let Some(network_path) = location.strip_prefix("//") {
        format!("{scheme}://{network_path}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = &rest[authority.len()..];
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{scheme}://{authority}{dir}/{location}")
    };
    Ok(target)
}

/// Fetches a certificate over HTTP(S): bounded in time and size, redirects followed only
/// within the scheme.
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
        .max_redirects(0)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(READ_TIMEOUT))
        .timeout_recv_body(Some(READ_TIMEOUT))
        .timeout_global(Some(TOTAL_TIMEOUT))
        .build()
        .into();
    let call_err = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => http_err("timed out".to_owned()),
        other => http_err(other.to_string()),
    };
    let mut current = uri.to_owned();
    let mut redirects = 0;
    let mut response = loop {
        let response = agent
            .get(&current)
            .header("Accept", "application/x-pem-file, */*")
            .call()
            .map_err(call_err)?;
        let status = response.status();
        if !status.is_redirection() {
            break response;
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| http_err(format!("{status} without a usable Location")))?;
        redirects += 1;
        if redirects > MAX_REDIRECTS {
            return Err(http_err(format!("more than {MAX_REDIRECTS} redirects")));
        }
        current = redirect_target(&current, location).map_err(http_err)?;
    };
    let status = response.status();
    if status != 200 {
        return Err(http_err(status.to_string()));
    }
    response
        .body_mut()
        .with_config()
        .limit(input::CERT_LIMIT)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                CertSourceError::Input(input::InputError::TooLarge {
                    what: uri.to_owned(),
                    limit: input::CERT_LIMIT,
                })
            }
            other => call_err(other),
        })
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_in_their_scheme() {
        let from = "https://example.org/certs/a.pem?x=1";
        assert_eq!(
            redirect_target(from, "https://other.example/b.pem").unwrap(),
            "https://other.example/b.pem"
        );
        assert_eq!(
            redirect_target(from, "/c.pem").unwrap(),
            "https://example.org/c.pem"
        );
        assert_eq!(
            redirect_target(from, "d.pem").unwrap(),
            "https://example.org/certs/d.pem"
        );
        assert_eq!(
            redirect_target(from, "//cdn.example/e.pem").unwrap(),
            "https://cdn.example/e.pem"
        );
        assert_eq!(
            redirect_target(from, "http://example.org/a.pem").unwrap_err(),
            "redirected to http://example.org/a.pem, another scheme than https; refused"
        );
        assert!(redirect_target("http://h/a", "https://h/a").is_err());
        assert!(redirect_target("http://h/a", "file:///etc/passwd").is_err());
    }
}
