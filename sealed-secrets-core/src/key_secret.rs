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
/// JSON/YAML key Secrets (one, a stream, or a `List`).
///
/// # Errors
/// The file is neither, or a key Secret in it is unusable.
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
        let secret = document.into_secret().map_err(KeySecretError::Manifest)?;
        keys.push(private_key_from_secret(&secret)?);
    }
    if keys.is_empty() {
        return Err(KeySecretError::NoKeys);
    }
    Ok(keys)
}
