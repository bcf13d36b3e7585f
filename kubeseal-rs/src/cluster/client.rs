//! HTTP to the API server through kube's `Config` and `Client` (hyper, rustls with aws-lc-rs),
//! on a current-thread tokio runtime that only the online paths start.
//!
//! Each call is sent with `Client::send` and its whole answer read, whatever the status: the
//! callers decide what a 403, 404 or 503 means (discovery falls back on them), so kube's typed
//! `Client::request`, which turns every non-2xx into an error, does not fit.

use std::fmt;
use std::time::Duration;

use http_body_util::BodyExt as _;
use kube::config::KubeConfigOptions;

use super::kubeconfig::{InClusterEnv, KubeconfigError, Overrides, Resolved};

/// Largest response body read (a SealedSecret is at most about 1 MiB in etcd).
const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// client-go's dial timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the client could not be set up from the connection settings.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {problem}")]
pub struct SetupError {
    pub origin: String,
    pub problem: String,
}

/// A request that got no HTTP answer.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the API server {server} ({origin}): {reason}")]
pub struct TransportError {
    pub server: String,
    pub origin: String,
    pub reason: String,
}

/// An HTTP answer.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A configured client for one API server, with the runtime it runs on.
pub struct ApiClient {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    server: String,
    origin: String,
    timeout: Option<Duration>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("server", &self.server)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Failures of [`ApiClient::connect`].
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Config(#[from] KubeconfigError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

impl ApiClient {
    /// Reads the kubeconfig (or the in-cluster configuration), applies the override flags and
    /// builds kube's client. Nothing is sent yet (an exec plugin runs with the first call).
    ///
    /// # Errors
    /// The kubeconfig is missing or unusable, or the trust settings or client certificate are.
    pub fn connect(
        explicit: Option<&std::path::Path>,
        overrides: &Overrides,
    ) -> Result<Self, ConnectError> {
        let loaded = super::kubeconfig::load(explicit, false)?;
        let resolved =
            super::kubeconfig::resolve(&loaded, overrides, &InClusterEnv::from_process())?;
        Ok(Self::new(resolved)?)
    }

    /// Builds the client for a resolved connection.
    ///
    /// # Errors
    /// Unusable CA, client certificate/key or proxy URL.
    pub fn new(resolved: Resolved) -> Result<Self, SetupError> {
        let Resolved {
            kubeconfig,
            server,
            origin,
            dropped_credentials,
            timeout,
        } = resolved;
        let setup = |problem: String| SetupError {
            origin: origin.clone(),
            problem: redact_userinfo(&problem),
        };
        if dropped_credentials {
            eprintln!(
                "note: {server} is plain http: the credentials of {origin} are not sent over it"
            );
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(format!("cannot start the I/O runtime: {e}")))?;
        let client = runtime.block_on(async {
            let mut config =
                kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await
                    .map_err(|e| setup(config_problem(&e)))?;
            // Our callers decide what to send again (429 from the controller); a POST to
            // /v1/rotate is never repeated behind their back.
            config.default_retry = false;
            config.connect_timeout = Some(CONNECT_TIMEOUT);
            config.read_timeout = None;
            config.write_timeout = None;
            kube::Client::try_from(config).map_err(|e| setup(error_text(&e)))
        })?;
        Ok(Self {
            runtime,
            client,
            server,
            origin,
            timeout,
        })
    }

    /// Sends a request to `path` (already escaped) and reads the whole answer, whatever its
    /// status.
    ///
    /// # Errors
    /// No HTTP answer: connection, TLS, credential plugin, timeout or read failure.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        accept: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, TransportError> {
        let err = |reason: String| TransportError {
            server: self.server.clone(),
            origin: self.origin.clone(),
            reason: redact_userinfo(&reason),
        };
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::ACCEPT, accept)
            .header(
                http::header::USER_AGENT,
                concat!("kubeseal-rs/", env!("CARGO_PKG_VERSION")),
            );
        if method != "GET" {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(kube::client::Body::from(body.unwrap_or_default().to_vec()))
            .map_err(|e| err(format!("invalid request: {e}")))?;
        let exchange = async {
            let response = self
                .client
                .send(request)
                .await
                .map_err(|e| err(error_text(&e)))?;
            let status = response.status().as_u16();
            let body = http_body_util::Limited::new(response.into_body(), BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| err(format!("reading the answer: {}", source_chain(&*e))))?
                .to_bytes()
                .to_vec();
            Ok(Response { status, body })
        };
        self.runtime.block_on(async {
            match self.timeout {
                Some(limit) => tokio::time::timeout(limit, exchange)
                    .await
                    .map_err(|_| err(format!("no answer within {limit:?} (--request-timeout)")))?,
                None => exchange.await,
            }
        })
    }
}

/// kube's configuration error, without anything read from a file or the environment that
/// could be a credential.
fn config_problem(e: &kube::config::KubeconfigError) -> String {
    use kube::config::KubeconfigError as K;
    match e {
        K::ParseClusterUrl(_) => "the server URL is not valid".to_owned(),
        K::ParseProxyUrl(_) => "the proxy URL is not valid".to_owned(),
        K::ParseNoProxy(_) => "NO_PROXY is not valid".to_owned(),
        K::LoadCertificateAuthority(_) => "cannot load the certificate authority".to_owned(),
        K::LoadClientCertificate(_) => "cannot load the client certificate".to_owned(),
        K::LoadClientKey(_) => "cannot load the client key".to_owned(),
        K::ParseCertificates(_) => "the certificate authority is not valid PEM".to_owned(),
        other => error_text(other),
    }
}

/// An error and its causes, `a: b: c`, skipping causes already in the text.
fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    // kube's exec-plugin failure shows the plugin's whole command line and output, which may
    // hold a token.
    if let Some(kube::Error::Auth(kube::client::AuthError::AuthExecRun { out, .. })) =
        e.downcast_ref::<kube::Error>()
    {
        return format!("the exec credential plugin failed with {}", out.status);
    }
    source_chain(e)
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace(['\n', '\r'], "; ")
}

/// `scheme://user:password@host` becomes `scheme://[redacted]@host` wherever it appears (a
/// proxy URL from `https_proxy`, say).
#[must_use]
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(['/', '"', '\'', ' ', '?', '#'])
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("[redacted]");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use super::*;

    #[test]
    fn user_info_is_redacted() {
        assert_eq!(
            redact_userinfo("configured proxy \"http://u:p4ss@proxy:3128/\" is bad"),
            "configured proxy \"http://[redacted]@proxy:3128/\" is bad"
        );
        assert_eq!(
            redact_userinfo("https://h:1/x and socks5://a@b"),
            "https://h:1/x and socks5://[redacted]@b"
        );
    }
}
