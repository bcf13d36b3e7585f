//! KMS-wrapped key Secrets (issue 19 part 2, ADR 0008, `docs/keys.md`): the private key of each
//! key Secret is stored encrypted under a key-encryption key that stays in an external KMS; the
//! controller unwraps at start and when a key Secret appears, and holds keys only in memory.
//!
//! The envelope format is in the core ([`sealed_secrets_core::wrapped_key`]); this module asks
//! the KMS to encrypt and decrypt data keys. A provider is a [`KeyWrapper`]: the AWS KMS API
//! ([`aws::AwsKms`]) first; Vault/OpenBao Transit and GCP KMS fit the same two calls.

pub mod aws;
pub mod sigv4;
pub mod web_identity;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::wrapped_key::{DataKey, WrapError, WrappedKey, encryption_context};

/// A boxed future, so that [`KeyWrapper`] can be a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A KMS call that failed. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// The KMS could not answer or would not work for us (network, timeout, throttling,
    /// credentials, permissions, a disabled key): nothing is said about the ciphertext.
    #[error("KMS {operation} failed: {message}")]
    Unavailable {
        operation: &'static str,
        message: String,
    },
    /// The KMS refused this ciphertext (altered, for another key or another context).
    #[error("KMS {operation} refused the wrapped data key: {message}")]
    Refused {
        operation: &'static str,
        message: String,
    },
}

/// Why a key could not be wrapped or unwrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyWrapError {
    #[error(transparent)]
    Kms(#[from] KmsError),
    #[error(transparent)]
    Envelope(#[from] WrapError),
    #[error("the key was wrapped by provider {found:?}; this controller uses {ours:?}")]
    Provider { found: String, ours: &'static str },
}

impl KeyWrapError {
    /// The KMS did not answer (retry later) rather than refused this key.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, KeyWrapError::Kms(KmsError::Unavailable { .. }))
    }
}

/// A key-encryption key in a KMS: encrypts and decrypts 32-byte data keys, bound to an
/// encryption context.
pub trait KeyWrapper: Send + Sync + std::fmt::Debug {
    /// The provider's name, as recorded in envelopes (`aws-kms`).
    fn provider(&self) -> &'static str;

    /// The key that wraps new data keys (as configured).
    fn key_id(&self) -> &str;

    /// Encrypts a data key under [`Self::key_id`].
    fn encrypt<'a>(
        &'a self,
        data_key: &'a DataKey,
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<u8>, KmsError>>;

    /// Decrypts a data key wrapped under `key_id`.
    fn decrypt<'a>(
        &'a self,
        key_id: &'a str,
        ciphertext: &'a [u8],
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<DataKey, KmsError>>;
}

/// Wraps `key`: a fresh data key, encrypted by the KMS, encrypts the key.
///
/// # Errors
/// The KMS call or the local encryption failed.
pub async fn wrap(kms: &dyn KeyWrapper, key: &PrivateKey) -> Result<WrappedKey, KeyWrapError> {
    let data_key = DataKey::generate()?;
    let context = encryption_context(&key.fingerprint());
    let encrypted = kms.encrypt(&data_key, &context).await?;
    Ok(WrappedKey::seal(
        key,
        &data_key,
        kms.provider(),
        kms.key_id(),
        encrypted,
    )?)
}

/// Unwraps the key of a wrapped key Secret whose certificate is `cert`.
///
/// # Errors
/// Another provider's envelope, the KMS refused or failed, or the envelope does not open to
/// the certificate's key.
pub async fn unwrap(
    kms: &dyn KeyWrapper,
    wrapped: &WrappedKey,
    cert: &Certificate,
) -> Result<PrivateKey, KeyWrapError> {
    if wrapped.provider != kms.provider() {
        return Err(KeyWrapError::Provider {
            found: wrapped.provider.clone(),
            ours: kms.provider(),
        });
    }
    let fingerprint = cert.public_key().fingerprint();
    let context = encryption_context(&fingerprint);
    let data_key = kms
        .decrypt(&wrapped.key_id, &wrapped.encrypted_data_key, &context)
        .await?;
    Ok(wrapped.open(&data_key, &fingerprint)?)
}

#[cfg(test)]
mod tests;
