//! What unsealing needs from a private key (ADR 0005 §1–2): the RSA-OAEP decryption of one
//! session-key block. In-memory keys ([`PrivateKey`]) and keys held elsewhere (a PKCS#11 token
//! in the controller) implement it; the hybrid format around it stays in [`crate::crypto`].

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256;
use zeroize::Zeroizing;

use super::{Fingerprint, PrivateKey, PublicKey};

/// Why a key did not give back a session key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnwrapError {
    /// The block is not for this key, the label is wrong, or the block is corrupt. Opaque,
    /// like [`crate::crypto::DecryptError`]: the next key is tried.
    #[error("no key could decrypt secret")]
    NotOpened,
    /// The key could not be asked at all (token removed, session closed, PIN lost, mechanism
    /// refused): not a verdict on the item, so unsealing stops and is retried later.
    #[error("sealing key unavailable: {reason}")]
    Unavailable {
        /// What failed (a return code, never key material or plaintext).
        reason: String,
    },
}

/// A private key that opens session-key blocks (SPEC §1.1), wherever it lives.
///
/// `dyn`-safe on purpose: one key set mixes providers (ADR 0005).
pub trait Decrypter: Send + Sync + fmt::Debug {
    /// The public half (size checks, fingerprint, re-sealing for this key).
    fn public_key(&self) -> &PublicKey;

    /// SSH-style fingerprint of the public key (SPEC §1.10).
    fn fingerprint(&self) -> Fingerprint {
        self.public_key().fingerprint()
    }

    /// RSA-OAEP (SHA-256, MGF1-SHA-256, `label` as the encoding parameter) of one block of
    /// exactly `public_key().size_bytes()` bytes (callers check the length first).
    ///
    /// # Errors
    /// [`UnwrapError::NotOpened`] when it does not open, [`UnwrapError::Unavailable`] when
    /// the key could not be used.
    fn decrypt_session_key(
        &self,
        label: &[u8],
        rsa_block: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnwrapError>;
}

impl Decrypter for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        PrivateKey::public_key(self)
    }

    fn decrypt_session_key(
        &self,
        label: &[u8],
        rsa_block: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
        let oaep = self.oaep().map_err(|_| UnwrapError::NotOpened)?;
        let mut out = Zeroizing::new(vec![0u8; oaep.min_output_size()]);
        let len = oaep
            .decrypt(
                &OAEP_SHA256_MGF1SHA256,
                rsa_block,
                out.as_mut_slice(),
                Some(label),
            )
            .map_err(|_| UnwrapError::NotOpened)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

/// Callers hold `&PrivateKey` in slices and iterators; `&&PrivateKey` is a decrypter too.
impl<T: Decrypter + ?Sized> Decrypter for &T {
    fn public_key(&self) -> &PublicKey {
        (**self).public_key()
    }

    fn fingerprint(&self) -> Fingerprint {
        (**self).fingerprint()
    }

    fn decrypt_session_key(
        &self,
        label: &[u8],
        rsa_block: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
        (**self).decrypt_session_key(label, rsa_block)
    }
}

/// The controller's registry holds `Arc<dyn Decrypter>`.
impl<T: Decrypter + ?Sized> Decrypter for Arc<T> {
    fn public_key(&self) -> &PublicKey {
        (**self).public_key()
    }

    fn fingerprint(&self) -> Fingerprint {
        (**self).fingerprint()
    }

    fn decrypt_session_key(
        &self,
        label: &[u8],
        rsa_block: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
        (**self).decrypt_session_key(label, rsa_block)
    }
}
