//! Plain Kubernetes API calls for `kubeseal-rs keys`: the key Secrets of the controller's
//! namespace (list, get, create, delete guarded by a uid precondition), the metadata of every
//! Secret in the cluster (a `PartialObjectMetadataList`: annotations and owners, never a
//! Secret's data), and every SealedSecret. Lists are paged with `limit`/`continue`.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use sealed_secrets_core::key_secret::SEALED_SECRETS_KEY_LABEL;
use sealed_secrets_core::types::{ObjectMeta, SealedSecret, Secret};

use super::client::{ApiClient, ConnectError, Response, TransportError};
use super::kubeconfig::Overrides;

/// Objects per page of a list call.
const PAGE: usize = 500;

/// A failed API call: one line naming the call, never a credential or a Secret value.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{what}: {answer}")]
    Status {
        what: String,
        status: u16,
        answer: String,
    },
    #[error("{what}: the API server's answer is not {expected}")]
    Decode {
        what: String,
        expected: &'static str,
    },
}

impl ApiError {
    /// The HTTP status of a refused call.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct ListMeta {
    #[serde(default, rename = "continue")]
    continue_: Option<String>,
}

#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct List<T> {
    #[serde(default)]
    items: Vec<T>,
    #[serde(default)]
    metadata: Option<ListMeta>,
}

#[derive(Deserialize)]
struct MetadataOnly {
    #[serde(default)]
    metadata: ObjectMeta,
}

/// One API server.
#[derive(Debug)]
pub struct KubeApi {
    client: ApiClient,
}

impl KubeApi {
    /// Resolves the kubeconfig (or in-cluster configuration). Nothing is sent yet.
    ///
    /// # Errors
    /// The kubeconfig is missing or unusable, or the exec plugin failed.
    pub fn connect(
        kubeconfig: Option<&std::path::Path>,
        overrides: &Overrides,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            client: ApiClient::connect(kubeconfig, overrides)?,
        })
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        accept: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ApiError> {
        Ok(self.client.request(method, path, accept, body)?)
    }

    fn list<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &str,
        accept: &str,
    ) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = format!("{path}?limit={PAGE}");
            if !query.is_empty() {
                url.push('&');
                url.push_str(query);
            }
            if let Some(token) = &token {
                url.push_str("&continue=");
                url.push_str(&escape(token));
            }
            let response = self.call("GET", &url, accept, None)?;
            if response.status != 200 {
                return Err(refused(what, &response));
            }
            let page: List<T> =
                serde_json::from_slice(&response.body).map_err(|_| ApiError::Decode {
                    what: what.to_owned(),
                    expected: "a list",
                })?;
            out.extend(page.items);
            token = page
                .metadata
                .and_then(|m| m.continue_)
                .filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// Every Secret labelled `sealedsecrets.bitnami.com/sealed-secrets-key` (any value) in
    /// `namespace`, as `kubectl get secret -l sealedsecrets.bitnami.com/sealed-secrets-key`.
    ///
    /// # Errors
    /// The call failed or was refused.
    pub fn key_secrets(&self, namespace: &str) -> Result<Vec<Secret>, ApiError> {
        self.list(
            &format!("cannot list key Secrets in namespace {namespace:?}"),
            &format!("/api/v1/namespaces/{}/secrets", escape(namespace)),
            &format!("labelSelector={}", escape(SEALED_SECRETS_KEY_LABEL)),
            "application/json",
        )
    }

    /// One Secret, `None` when it does not exist.
    ///
    /// # Errors
    /// The call failed or was refused.
    pub fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, ApiError> {
        let what = format!("cannot read Secret {namespace}/{name}");
        let response = self.call(
            "GET",
            &secret_path(namespace, name),
            "application/json",
            None,
        )?;
        match response.status {
            200 => serde_json::from_slice(&response.body)
                .map(Some)
                .map_err(|_| ApiError::Decode {
                    what,
                    expected: "a Secret",
                }),
            404 => Ok(None),
            _ => Err(refused(&what, &response)),
        }
    }

    /// One ConfigMap as JSON, `None` when it does not exist.
    ///
    /// # Errors
    /// The call failed or was refused.
    pub fn configmap(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, ApiError> {
        let what = format!("cannot read ConfigMap {namespace}/{name}");
        let path = format!(
            "/api/v1/namespaces/{}/configmaps/{}",
            escape(namespace),
            escape(name)
        );
        let response = self.call("GET", &path, "application/json", None)?;
        match response.status {
            200 => serde_json::from_slice(&response.body)
                .map(Some)
                .map_err(|_| ApiError::Decode {
                    what,
                    expected: "a ConfigMap",
                }),
            404 => Ok(None),
            _ => Err(refused(&what, &response)),
        }
    }

    /// Creates `secret` in `namespace` (its name must be set).
    ///
    /// # Errors
    /// The call failed or was refused (409 when it exists).
    pub fn create_secret(&self, namespace: &str, secret: &Secret) -> Result<(), ApiError> {
        let what = format!("cannot create Secret {namespace}/{}", secret.metadata.name);
        let body =
            zeroize::Zeroizing::new(serde_json::to_vec(secret).map_err(|_| ApiError::Decode {
                what: what.clone(),
                expected: "encodable",
            })?);
        let path = format!("/api/v1/namespaces/{}/secrets", escape(namespace));
        let response = self.call("POST", &path, "application/json", Some(body.as_slice()))?;
        match response.status {
            200 | 201 => Ok(()),
            _ => Err(refused(&what, &response)),
        }
    }

    /// Deletes Secret `namespace/name` if it still has `uid` (a precondition: a Secret
    /// re-created under the same name meanwhile is not touched).
    ///
    /// # Errors
    /// The call failed or was refused (409 when the uid no longer matches).
    pub fn delete_secret(&self, namespace: &str, name: &str, uid: &str) -> Result<(), ApiError> {
        let what = format!("cannot delete Secret {namespace}/{name}");
        let body = serde_json::json!({
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "preconditions": {"uid": uid},
        })
        .to_string();
        let response = self.call(
            "DELETE",
            &secret_path(namespace, name),
            "application/json",
            Some(body.as_bytes()),
        )?;
        match response.status {
            200 | 202 => Ok(()),
            _ => Err(refused(&what, &response)),
        }
    }

    /// The metadata of every Secret in the cluster (no data is transferred).
    ///
    /// # Errors
    /// The call failed or was refused.
    pub fn secret_metadata(&self) -> Result<Vec<ObjectMeta>, ApiError> {
        let items: Vec<MetadataOnly> = self.list(
            "cannot list Secrets (metadata only) in all namespaces",
            "/api/v1/secrets",
            "",
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        )?;
        Ok(items.into_iter().map(|i| i.metadata).collect())
    }

    /// Every SealedSecret in the cluster; empty when the CRD is not installed.
    ///
    /// # Errors
    /// The call failed or was refused.
    pub fn sealed_secrets(&self) -> Result<Vec<SealedSecret>, ApiError> {
        match self.list(
            "cannot list SealedSecrets in all namespaces",
            "/apis/bitnami.com/v1alpha1/sealedsecrets",
            "",
            "application/json",
        ) {
            Err(e) if e.status() == Some(404) => Ok(Vec::new()),
            other => other,
        }
    }
}

fn secret_path(namespace: &str, name: &str) -> String {
    format!(
        "/api/v1/namespaces/{}/secrets/{}",
        escape(namespace),
        escape(name)
    )
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters stay).
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `what: 403 Forbidden: secrets is forbidden: …` (the `message` of a Status body, else the
/// first line of the body, shortened).
fn refused(what: &str, response: &Response) -> ApiError {
    ApiError::Status {
        what: what.to_owned(),
        status: response.status,
        answer: super::answer_text(response),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_segments_and_queries_apart() {
        assert_eq!(
            escape(SEALED_SECRETS_KEY_LABEL),
            "sealedsecrets.bitnami.com%2Fsealed-secrets-key"
        );
        assert_eq!(escape("a+b/c=="), "a%2Bb%2Fc%3D%3D");
    }

    #[test]
    fn refusals_quote_the_status_message() {
        let response = Response {
            status: 403,
            body: br#"{"kind":"Status","message":"secrets is forbidden: User \"x\" cannot list"}"#
                .to_vec(),
        };
        assert_eq!(
            refused("cannot list", &response).to_string(),
            "cannot list: 403 Forbidden: secrets is forbidden: User \"x\" cannot list"
        );
    }

    #[test]
    fn lists_decode_with_and_without_continue() {
        let page: List<MetadataOnly> = serde_json::from_str(
            r#"{"kind":"PartialObjectMetadataList","metadata":{"continue":"abc"},"items":[{"metadata":{"name":"a","namespace":"n","annotations":{"x":"y"}}}]}"#,
        )
        .unwrap();
        assert_eq!(page.items[0].metadata.annotations["x"], "y");
        assert_eq!(page.metadata.unwrap().continue_.as_deref(), Some("abc"));
    }
}
