//! KMS-wrapped key Secrets (issue 19 part 2, ADR 0008): the private key of a key Secret stored
//! encrypted under a key-encryption key that never leaves an external KMS.
//!
//! Envelope encryption: a fresh 256-bit data key encrypts the PKCS#1 DER private key with
//! AES-256-GCM; the KMS encrypts the data key (any provider can: it is 32 bytes, far below every
//! KMS's plaintext limit, whatever the RSA key size). The Secret keeps its name, labels, type
//! and creation time, so key order and every tool that lists key Secrets are unchanged:
//!
//! - `tls.crt`: the certificate, as before (public);
//! - `tls.key`: empty (the API server requires the item in a `kubernetes.io/tls` Secret);
//! - `tls.key.kms`: this module's JSON envelope ([`WrappedKey`]);
//! - annotation [`KMS_KEY_ANNOTATION`]: the KMS key that wraps it (for people; the envelope is
//!   what counts).
//!
//! Both layers are bound to the key's fingerprint: the AES-GCM additional data and the KMS
//! encryption context name it, so an envelope copied into another key Secret (with another
//! certificate) does not open. No IO here: the KMS call is the controller's.

use std::collections::BTreeMap;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::cert::Certificate;
use crate::key_secret::{TLS_CERT, TLS_KEY};
use crate::keys::{Fingerprint, PrivateKey};
use crate::secret_bytes::SecretBytes;
use crate::types::Secret;

/// Item of a wrapped key Secret that holds the envelope.
pub const TLS_KEY_KMS: &str = "tls.key.kms";
/// Key Secret annotation: the KMS key that wraps its private key.
pub const KMS_KEY_ANNOTATION: &str = "sealed-secrets-rs/kms-key-id";
/// KMS encryption-context entry naming what is wrapped.
pub const CONTEXT_PURPOSE: &str = "sealed-secrets-rs/purpose";
/// KMS encryption-context entry naming the key (its fingerprint).
pub const CONTEXT_KEY: &str = "sealed-secrets-rs/key";
/// Length of a data key.
pub const DATA_KEY_LEN: usize = 32;
/// The largest envelope read (an RSA-16384 key wraps to about 14 KiB).
pub const MAX_ENVELOPE_LEN: usize = 64 * 1024;

const VERSION: u32 = 1;
const AAD_PREFIX: &[u8] = b"sealed-secrets-rs wrapped key v1\0";

/// Why an envelope could not be made or opened. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WrapError {
    #[error("the {TLS_KEY_KMS} item is not a key envelope: {0}")]
    Malformed(String),
    #[error("the {TLS_KEY_KMS} envelope has version {0}; this controller reads version 1")]
    Version(u32),
    #[error("the KMS data key is {0} bytes, not {DATA_KEY_LEN}")]
    DataKeyLength(usize),
    #[error(
        "the wrapped key does not open with its data key (the envelope was altered or belongs to another key)"
    )]
    NotOpened,
    #[error("the wrapped key is not the certificate's key")]
    Mismatch,
    #[error("cannot encode the key: {0}")]
    Encode(String),
    #[error("the random number generator failed")]
    Random,
}

/// A data key in the clear: zeroized on drop, never printed.
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

impl DataKey {
    /// A fresh random data key.
    ///
    /// # Errors
    /// The random number generator failed.
    pub fn generate() -> Result<Self, WrapError> {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        aws_lc_rs::rand::fill(key.as_mut_slice()).map_err(|_| WrapError::Random)?;
        Ok(Self(key))
    }

    /// A data key as a KMS returned it.
    ///
    /// # Errors
    /// It is not [`DATA_KEY_LEN`] bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, WrapError> {
        let array: [u8; DATA_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| WrapError::DataKeyLength(bytes.len()))?;
        Ok(Self(Zeroizing::new(array)))
    }

    /// The key bytes, to hand to the KMS.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        self.0.as_slice()
    }

    fn aead(&self) -> Result<LessSafeKey, WrapError> {
        UnboundKey::new(&AES_256_GCM, self.0.as_slice())
            .map(LessSafeKey::new)
            .map_err(|_| WrapError::NotOpened)
    }
}

/// The encryption context a KMS binds the data key to: the key's fingerprint and purpose.
#[must_use]
pub fn encryption_context(fingerprint: &Fingerprint) -> BTreeMap<String, String> {
    BTreeMap::from([
        (CONTEXT_PURPOSE.to_owned(), "sealing-key".to_owned()),
        (CONTEXT_KEY.to_owned(), fingerprint.as_str().to_owned()),
    ])
}

fn aad(fingerprint: &Fingerprint) -> Vec<u8> {
    let mut aad = AAD_PREFIX.to_vec();
    aad.extend_from_slice(fingerprint.as_str().as_bytes());
    aad
}

/// The JSON envelope in `tls.key.kms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Envelope {
    version: u32,
    provider: String,
    key_id: String,
    encrypted_data_key: String,
    nonce: String,
    encrypted_key: String,
}

/// A private key wrapped under a KMS key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The provider that wrapped it (`aws-kms`).
    pub provider: String,
    /// The KMS key that wraps the data key (as configured: an id, ARN or alias).
    pub key_id: String,
    /// The data key, encrypted by the KMS (opaque to us).
    pub encrypted_data_key: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    encrypted_key: Vec<u8>,
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, WrapError> {
    STANDARD
        .decode(text)
        .map_err(|_| WrapError::Malformed(format!("{field} is not base64")))
}

impl WrappedKey {
    /// Encrypts `key` under `data_key`; `encrypted_data_key` is what the KMS made of it.
    ///
    /// # Errors
    /// The key could not be encoded, or the random number generator failed.
    pub fn seal(
        key: &PrivateKey,
        data_key: &DataKey,
        provider: &str,
        key_id: &str,
        encrypted_data_key: Vec<u8>,
    ) -> Result<Self, WrapError> {
        let der = key
            .to_pkcs1_der()
            .map_err(|e| WrapError::Encode(e.to_string()))?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| WrapError::Random)?;
        let mut sealed = Zeroizing::new(der.expose().to_vec());
        let tag = data_key
            .aead()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(&key.fingerprint())),
                sealed.as_mut_slice(),
            )
            .map_err(|_| WrapError::Encode("AES-GCM failed".to_owned()))?;
        let mut encrypted_key = sealed.to_vec();
        encrypted_key.extend_from_slice(tag.as_ref());
        Ok(Self {
            provider: provider.to_owned(),
            key_id: key_id.to_owned(),
            encrypted_data_key,
            nonce,
            encrypted_key,
        })
    }

    /// Opens the key with the data key the KMS returned, and checks that it is the key
    /// `expected` names (the certificate's).
    ///
    /// # Errors
    /// [`WrapError::NotOpened`] (altered, or bound to another key) or [`WrapError::Mismatch`].
    pub fn open(
        &self,
        data_key: &DataKey,
        expected: &Fingerprint,
    ) -> Result<PrivateKey, WrapError> {
        let mut buffer = Zeroizing::new(self.encrypted_key.clone());
        let plain = data_key
            .aead()?
            .open_in_place(
                Nonce::assume_unique_for_key(self.nonce),
                Aad::from(aad(expected)),
                buffer.as_mut_slice(),
            )
            .map_err(|_| WrapError::NotOpened)?;
        let key = PrivateKey::from_pkcs1_der(plain).map_err(|_| WrapError::NotOpened)?;
        if &key.fingerprint() != expected {
            return Err(WrapError::Mismatch);
        }
        Ok(key)
    }

    /// Parses an envelope (at most [`MAX_ENVELOPE_LEN`] bytes).
    ///
    /// # Errors
    /// Not JSON of the right shape, an unknown version, or bad base64.
    pub fn parse(bytes: &[u8]) -> Result<Self, WrapError> {
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(WrapError::Malformed(format!(
                "{} bytes, more than {MAX_ENVELOPE_LEN}",
                bytes.len()
            )));
        }
        let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| {
            WrapError::Malformed(format!("{} at column {}", e.classify_name(), e.column()))
        })?;
        if envelope.version != VERSION {
            return Err(WrapError::Version(envelope.version));
        }
        let nonce: [u8; NONCE_LEN] = decode("nonce", &envelope.nonce)?
            .try_into()
            .map_err(|_| WrapError::Malformed(format!("nonce is not {NONCE_LEN} bytes")))?;
        Ok(Self {
            provider: envelope.provider,
            key_id: envelope.key_id,
            encrypted_data_key: decode("encryptedDataKey", &envelope.encrypted_data_key)?,
            nonce,
            encrypted_key: decode("encryptedKey", &envelope.encrypted_key)?,
        })
    }

    /// The envelope as stored in `tls.key.kms`.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let envelope = Envelope {
            version: VERSION,
            provider: self.provider.clone(),
            key_id: self.key_id.clone(),
            encrypted_data_key: STANDARD.encode(&self.encrypted_data_key),
            nonce: STANDARD.encode(self.nonce),
            encrypted_key: STANDARD.encode(&self.encrypted_key),
        };
        serde_json::to_vec(&envelope).unwrap_or_default()
    }
}

/// Small helper for [`serde_json::Error`]: the category, never the input.
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected field or type",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// Whether a key Secret holds a wrapped key (a `tls.key.kms` item).
#[must_use]
pub fn is_wrapped(secret: &Secret) -> bool {
    secret.data.contains_key(TLS_KEY_KMS)
}

/// The envelope and certificate of a wrapped key Secret; `Ok(None)` when it is not wrapped.
///
/// # Errors
/// The envelope or the certificate does not parse.
pub fn wrapped_from_secret(
    secret: &Secret,
) -> Result<Option<(WrappedKey, Certificate)>, WrapError> {
    let Some(envelope) = secret.data.get(TLS_KEY_KMS) else {
        return Ok(None);
    };
    let wrapped = WrappedKey::parse(envelope.expose())?;
    let cert_pem = secret
        .data
        .get(TLS_CERT)
        .ok_or_else(|| WrapError::Malformed(format!("no {TLS_CERT} item")))?;
    let cert = Certificate::from_pem(cert_pem.expose())
        .map_err(|e| WrapError::Malformed(format!("{TLS_CERT}: {e}")))?;
    Ok(Some((wrapped, cert)))
}

/// Turns a plain key Secret into a wrapped one in place: `tls.key` emptied, the envelope in
/// `tls.key.kms`, the KMS key in [`KMS_KEY_ANNOTATION`]. Everything else is kept.
pub fn wrap_secret(secret: &mut Secret, wrapped: &WrappedKey) {
    secret
        .data
        .insert(TLS_KEY.to_owned(), SecretBytes::default());
    secret
        .data
        .insert(TLS_KEY_KMS.to_owned(), SecretBytes::new(wrapped.to_json()));
    secret
        .metadata
        .annotations
        .insert(KMS_KEY_ANNOTATION.to_owned(), wrapped.key_id.clone());
}

/// Turns a wrapped key Secret back into a plain one in place: the PKCS#1 PEM key in `tls.key`
/// (as upstream writes it), no envelope, no annotation.
///
/// # Errors
/// The key could not be encoded.
pub fn unwrap_secret(secret: &mut Secret, key: &PrivateKey) -> Result<(), WrapError> {
    let pem = key
        .to_pkcs1_pem()
        .map_err(|e| WrapError::Encode(e.to_string()))?;
    secret.data.insert(TLS_KEY.to_owned(), pem);
    secret.data.remove(TLS_KEY_KMS);
    secret.metadata.annotations.remove(KMS_KEY_ANNOTATION);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests;
