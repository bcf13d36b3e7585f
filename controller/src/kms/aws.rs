//! The AWS KMS provider: `TrentService.Encrypt` and `TrentService.Decrypt` over the KMS JSON
//! API (`application/x-amz-json-1.1`), SigV4-signed ([`super::sigv4`]). Works with AWS and
//! with servers that speak the same API (local-kms in the tests).
//!
//! Credentials come from the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! optional `AWS_SESSION_TOKEN`), as every AWS SDK reads them first. Every call has a deadline
//! and reads at most [`MAX_RESPONSE`] bytes; errors name the KMS error type, never a key.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sealed_secrets_core::wrapped_key::DataKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::sigv4::{self, Credentials};
use super::web_identity::{self, Expiring, WebIdentity};
use super::{BoxFuture, KeyWrapper, KmsError};
use crate::cli::KmsSettings;

/// The name recorded in envelopes.
pub const PROVIDER: &str = "aws-kms";
/// The largest KMS answer read.
pub const MAX_RESPONSE: usize = 1024 * 1024;
/// Deadline of one KMS call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// An AWS KMS key, with the client that reaches it.
pub struct AwsKms {
    key_id: String,
    region: String,
    /// `https://kms.<region>.amazonaws.com`, or the configured endpoint.
    endpoint: hyper::Uri,
    host: String,
    credentials: CredentialSource,
    client: Client<Https, Full<Bytes>>,
}

/// Where the request-signing credentials come from.
enum CredentialSource {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    Static(Credentials),
    /// STS `AssumeRoleWithWebIdentity` ([`web_identity`]), cached until shortly before expiry.
    WebIdentity(Box<WebIdentitySource>),
}

/// [`CredentialSource::WebIdentity`].
struct WebIdentitySource {
    identity: WebIdentity,
    sts: hyper::Uri,
    cached: tokio::sync::Mutex<Option<Expiring>>,
}

impl std::fmt::Debug for AwsKms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKms")
            .field("key_id", &self.key_id)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn unavailable(operation: &'static str, message: impl Into<String>) -> KmsError {
    KmsError::Unavailable {
        operation,
        message: message.into(),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptRequest<'a> {
    key_id: &'a str,
    plaintext: &'a str,
    encryption_context: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptRequest<'a> {
    key_id: &'a str,
    ciphertext_blob: &'a str,
    encryption_context: &'a BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptResponse {
    ciphertext_blob: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptResponse<'a> {
    /// Borrowed from the (zeroized) answer: no copy of the data key to wipe.
    plaintext: &'a str,
}

#[derive(Deserialize)]
struct ErrorResponse {
    #[serde(rename = "__type", default)]
    type_: String,
    #[serde(alias = "Message", default)]
    message: String,
}

/// KMS error types that say the ciphertext will never open (any other error is the KMS or
/// our access to it).
const REFUSALS: &[&str] = &[
    "InvalidCiphertextException",
    "IncorrectKeyException",
    "InvalidKeyUsageException",
    "NotFoundException",
];

/// One line from a KMS error answer: its type (without the namespace) and at most 200
/// characters of its message, control characters removed.
fn error_text(status: u16, body: &[u8]) -> (String, String) {
    let parsed: Option<ErrorResponse> = serde_json::from_slice(body).ok();
    let (type_, message) =
        parsed.map_or_else(|| (String::new(), String::new()), |e| (e.type_, e.message));
    let type_ = type_.rsplit('#').next().unwrap_or_default().to_owned();
    let message: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let text = match (type_.is_empty(), message.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (false, true) => format!("{type_} (HTTP {status})"),
        (true, false) => format!("HTTP {status}: {message}"),
        (false, false) => format!("{type_}: {message} (HTTP {status})"),
    };
    (type_, text)
}

impl AwsKms {
    /// The provider for `settings`, reading the region, endpoint and credentials from the
    /// environment where the flags do not give them.
    ///
    /// # Errors
    /// No region, no credentials, or a bad endpoint URL.
    pub fn from_settings(settings: &KmsSettings) -> Result<Self, KmsError> {
        let setup = |m: String| unavailable("setup", m);
        let region = settings
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .ok_or_else(|| setup("no region: set --kms-region or AWS_REGION".to_owned()))?;
        let endpoint = settings
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_KMS"))
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"));
        let endpoint: hyper::Uri = endpoint
            .parse()
            .map_err(|_| setup(format!("the KMS endpoint {endpoint:?} is not a URL")))?;
        let host = endpoint
            .authority()
            .map(ToString::to_string)
            .ok_or_else(|| setup("the KMS endpoint has no host".to_owned()))?;
        let credentials = match (
            env("AWS_ACCESS_KEY_ID"),
            WebIdentity::from_env(&region, env),
        ) {
            (Some(access_key_id), _) => {
                let secret_access_key =
                    Zeroizing::new(env("AWS_SECRET_ACCESS_KEY").ok_or_else(|| {
                        setup(
                            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".to_owned(),
                        )
                    })?);
                CredentialSource::Static(Credentials {
                    access_key_id,
                    secret_access_key,
                    session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
                })
            }
            (None, Some(identity)) => {
                let sts = identity.sts.parse().map_err(|_| {
                    setup(format!("the STS endpoint {:?} is not a URL", identity.sts))
                })?;
                CredentialSource::WebIdentity(Box::new(WebIdentitySource {
                    identity,
                    sts,
                    cached: tokio::sync::Mutex::new(None),
                }))
            }
            (None, None) => {
                return Err(setup(
                    "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE (IRSA)".to_owned(),
                ));
            }
        };
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| setup(format!("TLS set-up failed: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            key_id: settings.key_id.clone(),
            region,
            endpoint,
            host,
            credentials,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    /// The credentials to sign with now: the static ones, or web-identity ones (exchanged
    /// again when they are about to expire).
    async fn signing_credentials(&self, operation: &'static str) -> Result<Credentials, KmsError> {
        let (identity, sts, cached) = match &self.credentials {
            CredentialSource::Static(credentials) => return Ok(credentials.clone()),
            CredentialSource::WebIdentity(source) => {
                (&source.identity, &source.sts, &source.cached)
            }
        };
        let mut cached = cached.lock().await;
        let now = time::OffsetDateTime::now_utc();
        if let Some(current) = cached.as_ref().filter(|c| c.fresh(now)) {
            return Ok(current.credentials.clone());
        }
        let token = identity.token().map_err(|m| unavailable(operation, m))?;
        let request = hyper::Request::post(sts.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/xml")
            .body(Full::new(Bytes::from_owner(identity.request_body(&token))))
            .map_err(|e| unavailable(operation, format!("cannot build the STS request: {e}")))?;
        let sts_host = sts.authority().map(ToString::to_string).unwrap_or_default();
        let (status, body) = self.send(operation, &sts_host, request).await?;
        let text = String::from_utf8_lossy(&body);
        if status != 200 {
            return Err(unavailable(
                operation,
                format!(
                    "STS AssumeRoleWithWebIdentity: {}",
                    web_identity::error_text(status, &text)
                ),
            ));
        }
        let fresh = web_identity::parse_response(&text)
            .map_err(|m| unavailable(operation, format!("STS AssumeRoleWithWebIdentity: {m}")))?;
        tracing::info!(role = %identity.role_arn, expires = %fresh.expires, "KMS credentials from the web identity token");
        let credentials = fresh.credentials.clone();
        *cached = Some(fresh);
        Ok(credentials)
    }

    /// Sends `request` to `host` with the call deadline; the status and the body, read into
    /// one wiped buffer (a Decrypt or STS answer holds secrets; the HTTP and TLS layers' own
    /// buffers are freed, not wiped).
    async fn send(
        &self,
        operation: &'static str,
        host: &str,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<(u16, Zeroizing<Vec<u8>>), KmsError> {
        let answer = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| unavailable(operation, format!("cannot reach {host}: {e}")))?;
            let status = response.status().as_u16();
            let mut body = Limited::new(response.into_body(), MAX_RESPONSE);
            let mut bytes = Zeroizing::new(Vec::with_capacity(4096));
            while let Some(frame) = body.frame().await {
                let frame = frame
                    .map_err(|e| unavailable(operation, format!("reading the answer: {e}")))?;
                if let Ok(data) = frame.into_data() {
                    if bytes.len() + data.len() > bytes.capacity() {
                        // Grow by hand so the old buffer is wiped, not left behind.
                        let mut bigger =
                            Zeroizing::new(Vec::with_capacity((bytes.len() + data.len()) * 2));
                        bigger.extend_from_slice(&bytes);
                        bytes = bigger;
                    }
                    bytes.extend_from_slice(&data);
                }
            }
            Ok::<_, KmsError>((status, bytes))
        };
        tokio::time::timeout(CALL_TIMEOUT, answer)
            .await
            .map_err(|_| {
                unavailable(
                    operation,
                    format!("no answer from {host} in {CALL_TIMEOUT:?}"),
                )
            })?
    }

    /// One signed `TrentService.<operation>` call; the answer's body (zeroized on drop: a
    /// Decrypt answer holds a data key).
    async fn call(
        &self,
        operation: &'static str,
        body: Zeroizing<Vec<u8>>,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let credentials = self.signing_credentials(operation).await?;
        let amz_date = sigv4::amz_date(time::OffsetDateTime::now_utc());
        let target = format!("TrentService.{operation}");
        let content_type = "application/x-amz-json-1.1";
        let mut signed: Vec<(&str, &str)> = vec![
            ("content-type", content_type),
            ("host", &self.host),
            ("x-amz-date", &amz_date),
            ("x-amz-target", &target),
        ];
        if let Some(token) = &credentials.session_token {
            signed.push(("x-amz-security-token", token.as_str()));
        }
        let authorization = sigv4::authorization(
            &sigv4::Request {
                method: "POST",
                path: "/",
                headers: &signed,
                body: &body,
                amz_date: &amz_date,
                region: &self.region,
                service: "kms",
            },
            &credentials,
        );
        let mut builder = hyper::Request::post(self.endpoint.clone());
        for (name, value) in &signed {
            if *name != "host" {
                builder = builder.header(*name, *value);
            }
        }
        let request = builder
            .header("authorization", authorization)
            // The body (an Encrypt request holds the data key) is wiped when hyper drops it.
            .body(Full::new(Bytes::from_owner(body)))
            .map_err(|e| unavailable(operation, format!("cannot build the request: {e}")))?;
        let (status, bytes) = self.send(operation, &self.host, request).await?;
        if status == 200 {
            return Ok(bytes);
        }
        let (type_, text) = error_text(status, &bytes);
        if REFUSALS.contains(&type_.as_str()) {
            Err(KmsError::Refused {
                operation,
                message: text,
            })
        } else {
            Err(unavailable(operation, text))
        }
    }
}

impl KeyWrapper for AwsKms {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn encrypt<'a>(
        &'a self,
        data_key: &'a DataKey,
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<u8>, KmsError>> {
        Box::pin(async move {
            let plaintext = Zeroizing::new(STANDARD.encode(data_key.expose()));
            let body = serde_json::to_vec(&EncryptRequest {
                key_id: &self.key_id,
                plaintext: &plaintext,
                encryption_context: context,
            })
            .map_err(|e| unavailable("Encrypt", e.to_string()))?;
            let answer = self.call("Encrypt", Zeroizing::new(body)).await?;
            let parsed: EncryptResponse = serde_json::from_slice(&answer)
                .map_err(|_| unavailable("Encrypt", "the answer has no CiphertextBlob"))?;
            STANDARD
                .decode(parsed.ciphertext_blob)
                .map_err(|_| unavailable("Encrypt", "CiphertextBlob is not base64"))
        })
    }

    fn decrypt<'a>(
        &'a self,
        key_id: &'a str,
        ciphertext: &'a [u8],
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<DataKey, KmsError>> {
        Box::pin(async move {
            let blob = STANDARD.encode(ciphertext);
            let body = serde_json::to_vec(&DecryptRequest {
                key_id,
                ciphertext_blob: &blob,
                encryption_context: context,
            })
            .map_err(|e| unavailable("Decrypt", e.to_string()))?;
            let answer = self.call("Decrypt", Zeroizing::new(body)).await?;
            let parsed: DecryptResponse = serde_json::from_slice(&answer)
                .map_err(|_| unavailable("Decrypt", "the answer has no Plaintext"))?;
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(parsed.plaintext.as_bytes())
                    .map_err(|_| unavailable("Decrypt", "Plaintext is not base64"))?,
            );
            DataKey::from_slice(&bytes).map_err(|e| unavailable("Decrypt", e.to_string()))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use super::*;

    #[test]
    fn kms_errors_are_one_line_and_classified() {
        let (t, text) = error_text(
            400,
            br#"{"__type":"com.amazonaws.kms#InvalidCiphertextException","message":"bad\nline"}"#,
        );
        assert_eq!(t, "InvalidCiphertextException");
        assert_eq!(text, "InvalidCiphertextException: badline (HTTP 400)");
        let (t, text) = error_text(400, br#"{"__type":"AccessDeniedException","Message":"no"}"#);
        assert_eq!(t, "AccessDeniedException");
        assert!(!REFUSALS.contains(&t.as_str()));
        assert_eq!(text, "AccessDeniedException: no (HTTP 400)");
        assert_eq!(error_text(503, b"<html>").1, "HTTP 503");
        let long = format!(r#"{{"__type":"X","message":"{}"}}"#, "a".repeat(5000));
        assert!(error_text(400, long.as_bytes()).1.len() < 300);
    }
}
