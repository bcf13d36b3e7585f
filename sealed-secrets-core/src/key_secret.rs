//! The `kubernetes.io/tls` key Secrets that hold the controller's keys (SPEC §3.4), and the key
//! files accepted for offline recovery (SPEC §4.11): a PEM private key, a key Secret manifest,
//! a stream of them, or a `List` as written by `kubectl get secret -o yaml`.

use std::collections::BTreeMap;

use crate::cert::{CertError, Certificate};
use crate::keys::{KeyError, PrivateKey};
use crate::manifest::{self, ManifestError};
use crate::secret_bytes::SecretBytes;
use crate::types::{ObjectMeta, Secret};

pub use crate::names::{KEY_LABEL_ACTIVE as ACTIVE, SEALED_SECRETS_KEY_LABEL};
/// Secret type of key Secrets.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";
/// Item holding the PKCS#1 PEM private key.
pub const TLS_KEY: &str = "tls.key";
/// Item holding the PEM certificate(s).
pub const TLS_CERT: &str = "tls.crt";

/// Why a key Secret or key file could not be used. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeySecretError {
    #[error("key Secret {name:?} has no {TLS_KEY:?} item")]
    MissingTlsKey { name: String },
    #[error("key Secret {name:?} has no {TLS_CERT:?} item")]
    MissingTlsCert { name: String },
    #[error("key Secret {name:?}: {source}")]
    Key {
        name: String,
        #[source]
        source: KeyError,
    },
    #[error("key Secret {name:?}: {source}")]
    Cert {
        name: String,
        #[source]
        source: CertError,
    },
    #[error("not a PEM private key nor a key Secret manifest: {0}")]
    Manifest(#[source] ManifestError),
    #[error("no private key found")]
    NoKeys,
}

/// A private key with the certificate that publishes it.
#[derive(Debug)]
pub struct KeyMaterial {
    pub key: PrivateKey,
    pub cert: Certificate,
}

/// Builds a new key Secret as the controller writes it: `generateName: <prefix>`, type
/// `kubernetes.io/tls`, the active label plus `labels`, `annotations`, PKCS#1 `tls.key`.
///
/// # Errors
/// The key could not be encoded.
pub fn new_key_secret(
    key: &PrivateKey,
    cert: &Certificate,
    prefix: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Result<Secret, KeySecretError> {
    let mut all_labels = labels.clone();
    all_labels.insert(SEALED_SECRETS_KEY_LABEL.to_owned(), ACTIVE.to_owned());
    let mut data = BTreeMap::new();
    let key_pem = key.to_pkcs1_pem().map_err(|source| KeySecretError::Key {
        name: prefix.to_owned(),
        source,
    })?;
    data.insert(TLS_KEY.to_owned(), key_pem);
    data.insert(
        TLS_CERT.to_owned(),
        SecretBytes::from_slice(cert.to_pem().as_bytes()),
    );
    Ok(Secret {
        kind: "Secret".to_owned(),
        api_version: "v1".to_owned(),
        metadata: ObjectMeta {
            generate_name: prefix.to_owned(),
            labels: all_labels,
            annotations: annotations.clone(),
            ..ObjectMeta::default()
        },
        immutable: None,
        data,
        string_data: BTreeMap::new(),
        type_: TLS_SECRET_TYPE.to_owned(),
    })
}

fn secret_name(secret: &Secret) -> String {
    if secret.metadata.name.is_empty() {
        secret.metadata.generate_name.clone()
    } else {
        secret.metadata.name.clone()
    }
}

/// Reads the key and its (first) certificate from a key Secret.
///
/// # Errors
/// An item is missing or does not parse.
pub fn key_from_secret(secret: &Secret) -> Result<KeyMaterial, KeySecretError> {
    let name = secret_name(secret);
    let key = private_key_from_secret(secret)?;
    let cert_pem = secret
        .data
        .get(TLS_CERT)
        .ok_or_else(|| KeySecretError::MissingTlsCert { name: name.clone() })?;
    let cert = Certificate::from_pem(cert_pem.expose())
        .map_err(|source| KeySecretError::Cert { name, source })?;
    Ok(KeyMaterial { key, cert })
}

/// Reads only the private key of a key Secret (recovery needs no certificate).
///
/// # Errors
/// `tls.key` is missing or does not parse.
pub fn private_key_from_secret(secret: &Secret) -> Result<PrivateKey, KeySecretError> {
    let name = secret_name(secret);
    let key_pem = secret
        .data
        .get(TLS_KEY)
        .ok_or_else(|| KeySecretError::MissingTlsKey { name: name.clone() })?;
    PrivateKey::from_pem(key_pem.expose()).map_err(|source| KeySecretError::Key { name, source })
}

/// Reads every private key from a recovery key file: a PEM private key (PKCS#1 or PKCS#8), or
/// JSON/YAML key Secrets (one, a stream, or a `List`). A document with no `kind` and an `items`
/// array is a list too: Go's `json.Marshal` of a typed `SecretList` (what upstream's suite
/// writes) has neither `kind` nor `apiVersion`, and upstream decodes the file as a `v1.List`
/// whatever its kind.
///
/// # Errors
/// The file is neither, or a key Secret in it is unusable.
/// A document without `kind` (or with an empty one) whose `items` is an array.
fn is_kindless_list(document: &manifest::Document) -> bool {
    document.kind().is_none_or(str::is_empty)
        && document
            .value()
            .get("items")
            .is_some_and(serde_json::Value::is_array)
}

/// The items of a kind-less list, read as the items of a `List`. They hold key material: the
/// JSON they pass through is zeroized on drop, and so is what is left of the document.
fn kindless_list_items(
    document: manifest::Document,
    input_len: usize,
) -> Result<Vec<manifest::Document>, KeySecretError> {
    let mut value = document.into_value();
    let items = value
        .get_mut("items")
        .map(serde_json::Value::take)
        .unwrap_or_default();
    manifest::zeroize_value(&mut value);
    let mut list = serde_json::json!({ "kind": "List", "items": items });
    // Room enough that the buffer never moves (and leaves an unwiped copy) while it is written.
    let mut json = zeroize::Zeroizing::new(Vec::with_capacity(input_len.saturating_mul(2) + 64));
    let written = serde_json::to_writer(&mut *json, &list);
    manifest::zeroize_value(&mut list);
    written.map_err(|_| KeySecretError::NoKeys)?;
    manifest::read_documents(&json).map_err(KeySecretError::Manifest)
}

pub fn private_keys_from_file(bytes: &[u8]) -> Result<Vec<PrivateKey>, KeySecretError> {
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return PrivateKey::from_pem(bytes)
            .map(|k| vec![k])
            .map_err(|source| KeySecretError::Key {
                name: "(PEM file)".to_owned(),
                source,
            });
    }
    let documents = manifest::read_documents(bytes).map_err(KeySecretError::Manifest)?;
    let mut keys = Vec::new();
    for document in documents {
        if is_kindless_list(&document) {
            for item in kindless_list_items(document, bytes.len())? {
                let secret = item.into_secret().map_err(KeySecretError::Manifest)?;
                keys.push(private_key_from_secret(&secret)?);
            }
            continue;
        }
        let secret = document.into_secret().map_err(KeySecretError::Manifest)?;
        keys.push(private_key_from_secret(&secret)?);
    }
    if keys.is_empty() {
        return Err(KeySecretError::NoKeys);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code

    use base64::Engine as _;

    use super::*;

    fn key_pem_b64(key: &PrivateKey) -> String {
        base64::engine::general_purpose::STANDARD.encode(key.to_pkcs1_pem().unwrap().expose())
    }

    /// What upstream's suite writes: `json.Marshal` of the `SecretList` the API returned, with
    /// no `kind`/`apiVersion` on the list nor on its items.
    #[test]
    fn kindless_secret_list_is_a_list() {
        let a = PrivateKey::generate(2048).unwrap();
        let b = PrivateKey::generate(2048).unwrap();
        let file = format!(
            r#"{{"metadata":{{"resourceVersion":"42"}},"items":[{{"metadata":{{"name":"k1","namespace":"kube-system"}},"data":{{"tls.key":"{}"}},"type":"kubernetes.io/tls"}},{{"metadata":{{"name":"k2"}},"data":{{"tls.key":"{}"}}}}]}}"#,
            key_pem_b64(&a),
            key_pem_b64(&b),
        );
        let keys = private_keys_from_file(file.as_bytes()).unwrap();
        let got: Vec<_> = keys.iter().map(PrivateKey::fingerprint).collect();
        assert_eq!(got, [a.fingerprint(), b.fingerprint()]);
        // The same in YAML, and an empty kind-less list has no keys.
        let yaml = format!("items:\n- data:\n    tls.key: {}\n", key_pem_b64(&a));
        assert_eq!(private_keys_from_file(yaml.as_bytes()).unwrap().len(), 1);
        assert!(matches!(
            private_keys_from_file(b"{\"items\":[]}"),
            Err(KeySecretError::NoKeys)
        ));
    }
}
