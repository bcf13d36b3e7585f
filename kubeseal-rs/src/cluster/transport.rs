//! HTTP to the API server: ureq with our own rustls (aws-lc-rs) TLS step, because the API
//! server's trust settings need more than ureq's `TlsConfig` offers: `tls-server-name` (a TLS
//! name other than the URL's host), a CA bundle from the kubeconfig, and a client certificate
//! whose key does not match is an error here rather than a panic.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    TcpConnector, Transport, TransportAdapter,
};
use zeroize::Zeroizing;

use super::connection::{ClientIdentity, Connection};
use super::exec;

/// Largest response body read (a SealedSecret is at most about 1 MiB in etcd).
const BODY_LIMIT: u64 = 16 * 1024 * 1024;
/// client-go's dial timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the client could not be set up from the connection settings.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{origin}: {problem}")]
    Tls { origin: String, problem: String },
    #[error(transparent)]
    Exec(#[from] exec::ExecError),
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

/// A configured client for one API server.
pub struct ApiClient {
    agent: ureq::Agent,
    server: String,
    origin: String,
    authorization: Option<Zeroizing<String>>,
    impersonation: Vec<(&'static str, String)>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("server", &self.server)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// Builds the client: runs the exec plugin if one is needed, loads the trust settings and
    /// the client certificate.
    ///
    /// # Errors
    /// Unusable CA or client certificate/key, or the exec plugin failed.
    pub fn new(conn: Connection) -> Result<Self, SetupError> {
        let secure = conn.server.starts_with("https://");
        let tls_err = |problem: String| SetupError::Tls {
            origin: conn.origin.clone(),
            problem,
        };
        // As client-go: credentials only ever go over TLS.
        let (mut token, mut identity) = if secure {
            (conn.token.clone(), None)
        } else {
            (None, None)
        };
        let mut basic = if secure { conn.basic.clone() } else { None };
        if secure {
            identity = conn.client_identity.as_ref().map(|id| ClientIdentity {
                cert_pem: id.cert_pem.clone(),
                key_pem: id.key_pem.clone(),
            });
            if let Some(plugin) = &conn.exec {
                let creds = exec::run(plugin)?;
                token = creds.token;
                identity = creds.client_identity;
                basic = None;
            }
        }
        let tls = tls_config(&conn, identity.as_ref()).map_err(tls_err)?;
        let server_name = match &conn.tls_server_name {
            Some(name) => Some(
                ServerName::try_from(name.clone())
                    .map_err(|_| tls_err(format!("invalid tls-server-name {name:?}")))?,
            ),
            None => None,
        };
        let proxy = match &conn.proxy_url {
            Some(url) => Some(
                ureq::Proxy::new(url)
                    .map_err(|e| tls_err(format!("invalid proxy-url {url:?}: {e}")))?,
            ),
            None => ureq::Proxy::try_from_env(),
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(conn.timeout)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .proxy(proxy)
            .user_agent(concat!("kubeseal-rs/", env!("CARGO_PKG_VERSION")))
            .build();
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default())
                .chain(KubeTls {
                    config: Arc::new(tls),
                    server_name,
                });
        let agent = ureq::Agent::with_parts(config, connector, DefaultResolver::default());

        let authorization = match (token, basic) {
            (Some(token), _) => Some(Zeroizing::new(format!("Bearer {}", token.expose()))),
            (None, Some((user, password))) => {
                let pair = Zeroizing::new(format!("{user}:{}", password.expose()));
                Some(Zeroizing::new(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair.as_bytes())
                )))
            }
            (None, None) => None,
        };
        let mut impersonation = Vec::new();
        if let Some(imp) = &conn.impersonation {
            impersonation.push(("Impersonate-User", imp.user.clone()));
            if let Some(uid) = &imp.uid {
                impersonation.push(("Impersonate-Uid", uid.clone()));
            }
            for group in &imp.groups {
                impersonation.push(("Impersonate-Group", group.clone()));
            }
        }
        Ok(Self {
            agent,
            server: conn.server,
            origin: conn.origin,
            authorization,
            impersonation,
        })
    }

    /// Sends a request to `path` (already escaped) and reads the whole answer, whatever its
    /// status.
    ///
    /// # Errors
    /// No HTTP answer: connection, TLS, timeout or read failure.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        accept: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, TransportError> {
        let url = format!("{}{path}", self.server);
        let err = |reason: String| TransportError {
            server: self.server.clone(),
            origin: self.origin.clone(),
            reason,
        };
        let result = if method == "POST" || method == "DELETE" {
            // DELETE carries DeleteOptions (preconditions) as its body, as client-go sends it.
            let builder = if method == "DELETE" {
                self.agent.delete(&url).force_send_body()
            } else {
                self.agent.post(&url)
            };
            let mut request = builder
                .header("Accept", accept)
                .header("Content-Type", "application/json");
            if let Some(auth) = &self.authorization {
                request = request.header("Authorization", auth.as_str());
            }
            for (name, value) in &self.impersonation {
                request = request.header(*name, value);
            }
            request.send(body.unwrap_or_default())
        } else {
            let mut request = self.agent.get(&url).header("Accept", accept);
            if let Some(auth) = &self.authorization {
                request = request.header("Authorization", auth.as_str());
            }
            for (name, value) in &self.impersonation {
                request = request.header(*name, value);
            }
            request.call()
        };
        let mut response = result.map_err(|e| err(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| err(format!("reading the answer: {e}")))?;
        Ok(Response { status, body })
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The rustls client configuration: trust (CA, system roots, or none with insecure) and the
/// client certificate.
fn tls_config(
    conn: &Connection,
    identity: Option<&ClientIdentity>,
) -> Result<ClientConfig, String> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if conn.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoServerVerification(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        match &conn.ca_pem {
            Some(pem) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("certificate authority is not valid PEM: {e}"))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err("certificate authority holds no usable certificate".to_owned());
                }
            }
            None => {
                // client-go trusts the system roots when the kubeconfig names no CA.
                let native = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(native.certs);
                if added == 0 {
                    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                }
            }
        }
        builder.with_root_certificates(roots)
    };
    match identity {
        Some(id) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&id.cert_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("client certificate is not valid PEM: {e}"))?;
            if chain.is_empty() {
                return Err("client certificate holds no PEM CERTIFICATE block".to_owned());
            }
            // PKCS#1, PKCS#8 and SEC1 keys; the error never shows the key.
            let key = PrivateKeyDer::from_pem_slice(&id.key_pem).map_err(|_| {
                "client key is not a PEM private key (PKCS#1, PKCS#8 or SEC1)".to_owned()
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate and key cannot be used: {e}"))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// `insecure-skip-tls-verify`: the chain and name are not checked, but the handshake
/// signatures still are (so the connection is at least to the holder of the presented key).
#[derive(Debug)]
struct NoServerVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoServerVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS step of the connector chain.
struct KubeTls {
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl fmt::Debug for KubeTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl<In: Transport> Connector<In> for KubeTls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => {
                let host = details.uri.host().unwrap_or_default();
                let host = host.trim_start_matches('[').trim_end_matches(']');
                ServerName::try_from(host.to_owned())
                    .map_err(|_| ureq::Error::Tls("the server's host is not a valid TLS name"))?
            }
        };
        let mut connection = ClientConnection::new(self.config.clone(), name)?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(details.timeout);
        connection.complete_io(&mut socket)?;
        Ok(Some(Either::B(TlsTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream: StreamOwned::new(connection, socket),
        })))
    }
}

/// A TLS connection as a ureq transport.
struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = self.buffers.output().get(..amount).unwrap_or_default();
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
