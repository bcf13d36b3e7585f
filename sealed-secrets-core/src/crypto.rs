//! The hybrid blob (SPEC §1.1, §1.2): `u16be len(rsa) ‖ RSA-OAEP(SHA-256, label)(session key) ‖
//! AES-256-GCM(zero nonce, no AAD)(plaintext) ‖ tag`, one fresh 32-byte session key per blob.
//!
//! CONTRACT (owned by the crypto work; extend, do not change):
//! - `hybrid_encrypt(&PublicKey, label: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError>`
//! - `hybrid_decrypt(keys: &[&dyn Decrypter], label, blob)
//!    -> Result<Decrypted, DecryptError>` where `Decrypted { plaintext: SecretBytes, key_index: usize }`
//!   tells which key (position in the iteration) opened it, so callers can try that key first
//!   next time.
//! - `DecryptError` is opaque: `Display` is exactly `no key could decrypt secret` for every
//!   failure (too short, OAEP failure, GCM failure), like upstream.
//! - `rsa_block_len(blob) -> Option<usize>` reads the length prefix (for diagnostics and checks).
//!
//! Extensions: `decrypt_with_key` (one key), `open_with_key` (one key, telling an unavailable
//! key apart, ADR 0005 §2), `blob_len` (the size a blob will have). Keys are `&dyn Decrypter`:
//! the private-key operation is the key's, the rest of the format is here once.
//!
//! Reusing the all-zero GCM nonce is safe only because every session key encrypts exactly one
//! message; that is why the session key is drawn fresh inside `hybrid_encrypt` and never leaves.

use aws_lc_rs::aead::{
    AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey,
};
use aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256;
use zeroize::Zeroizing;

use crate::keys::{Decrypter, PublicKey, UnwrapError};
use crate::secret_bytes::SecretBytes;

/// Length of the AES-256 session key wrapped in every blob.
pub const SESSION_KEY_LEN: usize = 32;
/// Length of the AES-GCM tag at the end of every blob.
pub const TAG_LEN: usize = 16;
/// Length of the big-endian RSA ciphertext length prefix.
pub const LENGTH_PREFIX_LEN: usize = 2;

/// Sealing failed. None of these happen with a key we accepted, short of an aws-lc fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// RSA-OAEP encryption of the session key failed.
    #[error("RSA-OAEP encryption of the session key failed")]
    Rsa,
    /// AES-GCM encryption failed.
    #[error("AES-GCM encryption failed")]
    Aead,
    /// The RSA ciphertext does not fit the 16-bit length prefix (keys above 524 280 bits).
    #[error("RSA ciphertext of {len} bytes does not fit the 16-bit length prefix")]
    RsaBlockTooLong {
        /// Length of the RSA ciphertext.
        len: usize,
    },
}

/// Unsealing failed. Deliberately opaque, like upstream: the cause (too short, wrong key,
/// wrong scope label, corrupted ciphertext) is never told apart, neither to callers nor in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no key could decrypt secret")]
pub struct DecryptError;

/// A successful unseal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The plaintext, zeroized on drop.
    pub plaintext: SecretBytes,
    /// Position (in the iteration given to [`hybrid_decrypt`]) of the key that opened the blob.
    pub key_index: usize,
}

/// Seals `plaintext` for `public_key` under the OAEP `label` (see [`crate::scope::Scope::label`]).
/// The result is `2 + k + plaintext.len() + 16` bytes for a `k`-byte modulus.
///
/// # Errors
/// See [`CryptoError`]; none is expected with a valid key.
pub fn hybrid_encrypt(
    public_key: &PublicKey,
    label: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    aws_lc_rs::rand::fill(session_key.as_mut_slice()).map_err(|_| CryptoError::Random)?;

    let oaep = public_key.oaep().map_err(|_| CryptoError::Rsa)?;
    let k = oaep.ciphertext_size();
    let prefix = u16::try_from(k).map_err(|_| CryptoError::RsaBlockTooLong { len: k })?;

    let mut blob = Vec::with_capacity(blob_len(k, plaintext.len()));
    blob.extend_from_slice(&prefix.to_be_bytes());
    blob.resize(LENGTH_PREFIX_LEN + k, 0);
    let written = oaep
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            session_key.as_slice(),
            &mut blob[LENGTH_PREFIX_LEN..],
            Some(label),
        )
        .map_err(|_| CryptoError::Rsa)?
        .len();
    // aws-lc always writes exactly k bytes (left-padded), as Go does; anything else would
    // make the prefix lie.
    if written != k {
        return Err(CryptoError::Rsa);
    }

    let aead = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, session_key.as_slice()).map_err(|_| CryptoError::Aead)?,
    );
    let body_start = blob.len();
    blob.extend_from_slice(plaintext);
    let tag = aead
        .seal_in_place_separate_tag(zero_nonce(), Aad::empty(), &mut blob[body_start..])
        .map_err(|_| CryptoError::Aead)?;
    blob.extend_from_slice(tag.as_ref());
    Ok(blob)
}

/// Unseals `blob` with the first of `keys` that opens it, trying each in turn (SPEC §1.5).
/// A key that is unavailable ([`UnwrapError::Unavailable`]) stops the search: the blob is
/// not declared unopenable because a token was away.
///
/// # Errors
/// [`DecryptError`] when no key opens it, whatever the reason.
pub fn hybrid_decrypt(
    keys: &[&dyn Decrypter],
    label: &[u8],
    blob: &[u8],
) -> Result<Decrypted, DecryptError> {
    let parts = split_blob(blob)?;
    for (key_index, key) in keys.iter().enumerate() {
        match open_parts(*key, label, &parts) {
            Ok(plaintext) => {
                return Ok(Decrypted {
                    plaintext,
                    key_index,
                });
            }
            Err(UnwrapError::NotOpened) => {}
            Err(UnwrapError::Unavailable { .. }) => return Err(DecryptError),
        }
    }
    Err(DecryptError)
}

/// Unseals `blob` with one key.
///
/// # Errors
/// [`DecryptError`] when the key does not open it, whatever the reason.
pub fn decrypt_with_key(
    key: &dyn Decrypter,
    label: &[u8],
    blob: &[u8],
) -> Result<SecretBytes, DecryptError> {
    open_with_key(key, label, blob).map_err(|_| DecryptError)
}

/// Unseals `blob` with one key, telling "does not open" from "the key could not be used".
///
/// # Errors
/// [`UnwrapError::NotOpened`] for anything wrong with the blob, the key or the label (as
/// opaque as [`DecryptError`]); [`UnwrapError::Unavailable`] when the key could not be asked.
pub fn open_with_key(
    key: &dyn Decrypter,
    label: &[u8],
    blob: &[u8],
) -> Result<SecretBytes, UnwrapError> {
    let parts = split_blob(blob).map_err(|DecryptError| UnwrapError::NotOpened)?;
    open_parts(key, label, &parts)
}

/// Whether `key` and `label` open the RSA-OAEP block of `blob` (the AES-GCM part is not
/// checked; the session key is zeroized at once). For diagnostics only: it tells a corrupted
/// AES-GCM part from a wrong key or label, which OAEP's chosen-ciphertext security allows.
#[must_use]
pub fn opens_session_key(key: &dyn Decrypter, label: &[u8], blob: &[u8]) -> bool {
    split_blob(blob).is_ok_and(|parts| unwrap_session_key(key, label, parts.rsa).is_ok())
}

/// The RSA ciphertext length a blob declares in its first two bytes, or `None` when it is
/// shorter than the prefix. The rest of the blob is not checked.
#[must_use]
pub fn rsa_block_len(blob: &[u8]) -> Option<usize> {
    match blob {
        [hi, lo, ..] => Some(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

/// The size of a blob sealing `plaintext_len` bytes with a `key_size_bytes`-byte modulus.
#[must_use]
pub const fn blob_len(key_size_bytes: usize, plaintext_len: usize) -> usize {
    LENGTH_PREFIX_LEN + key_size_bytes + plaintext_len + TAG_LEN
}

/// A blob cut at its length prefix.
struct BlobParts<'b> {
    rsa: &'b [u8],
    aead: &'b [u8],
}

/// Upstream's `ErrTooShort` checks: at least the prefix, and at least the RSA block it
/// announces. The announced length is not compared with any key size here.
fn split_blob(blob: &[u8]) -> Result<BlobParts<'_>, DecryptError> {
    let rsa_len = rsa_block_len(blob).ok_or(DecryptError)?;
    let rest = &blob[LENGTH_PREFIX_LEN..];
    if rest.len() < rsa_len {
        return Err(DecryptError);
    }
    let (rsa, aead) = rest.split_at(rsa_len);
    Ok(BlobParts { rsa, aead })
}

fn open_parts(
    key: &dyn Decrypter,
    label: &[u8],
    parts: &BlobParts<'_>,
) -> Result<SecretBytes, UnwrapError> {
    let session_key = unwrap_session_key(key, label, parts.rsa)?;
    open_aead(&session_key, parts.aead).map_err(|DecryptError| UnwrapError::NotOpened)
}

/// The AES-GCM part (zero nonce, no AAD) under a session key.
fn open_aead(session_key: &[u8], aead_part: &[u8]) -> Result<SecretBytes, DecryptError> {
    // Go builds the cipher with `aes.NewCipher(sessionKey)`, which takes 16-, 24- or 32-byte
    // keys. Upstream only ever seals 32-byte keys; the shorter ones are accepted as Go would.
    let algorithm = match session_key.len() {
        SESSION_KEY_LEN => &AES_256_GCM,
        24 => &AES_192_GCM,
        16 => &AES_128_GCM,
        _ => return Err(DecryptError),
    };
    let aead = LessSafeKey::new(UnboundKey::new(algorithm, session_key).map_err(|_| DecryptError)?);
    let mut buffer = Zeroizing::new(aead_part.to_vec());
    let plaintext_len = aead
        .open_in_place(zero_nonce(), Aad::empty(), buffer.as_mut_slice())
        .map_err(|_| DecryptError)?
        .len();
    buffer.truncate(plaintext_len);
    Ok(SecretBytes::new(std::mem::take(&mut *buffer)))
}

/// Whether opening `blob` with `key` would cost a private-key operation: the blob is well
/// formed and its RSA block is exactly as long as the key's modulus. Anything else is refused
/// before any RSA work (see [`unwrap_session_key`]).
#[must_use]
pub fn needs_rsa_operation(key: &dyn Decrypter, blob: &[u8]) -> bool {
    split_blob(blob).is_ok_and(|parts| parts.rsa.len() == key.public_key().size_bytes())
}

/// RSA-OAEP-SHA256 decryption of the session key.
///
/// The block must be exactly as long as the modulus, and that is checked before any
/// private-key operation. Go's `DecryptOAEP` also accepts a shorter block (a big-endian number,
/// left-padded with zeros), but every encrypter, Go's included, writes a full-length block, so
/// only a crafted blob is short; accepting it would let one 3-byte item cost a full private-key
/// operation per key (docs/security.md).
fn unwrap_session_key(
    key: &dyn Decrypter,
    label: &[u8],
    rsa_block: &[u8],
) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
    if rsa_block.len() != key.public_key().size_bytes() {
        return Err(UnwrapError::NotOpened);
    }
    key.decrypt_session_key(label, rsa_block)
}

/// The all-zero 12-byte nonce upstream uses (safe: one message per session key).
fn zero_nonce() -> Nonce {
    Nonce::assume_unique_for_key([0u8; NONCE_LEN])
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::keys::PrivateKey;
    use crate::scope::Scope;

    static KEY: LazyLock<PrivateKey> =
        LazyLock::new(|| PrivateKey::generate(2048).expect("generate 2048"));
    static OTHER: LazyLock<PrivateKey> =
        LazyLock::new(|| PrivateKey::generate(2048).expect("generate 2048"));

    #[test]
    fn layout_matches_spec() {
        let label = Scope::Strict.label("ns", "name");
        let blob = hybrid_encrypt(KEY.public_key(), &label, b"hello").expect("seal");
        assert_eq!(blob.len(), 2 + 256 + 5 + 16);
        assert_eq!(blob.len(), blob_len(256, 5));
        assert_eq!(&blob[..2], &[0x01, 0x00]);
        assert_eq!(rsa_block_len(&blob), Some(256));
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &blob);
        assert!(b64.starts_with("AQ"));
    }

    #[test]
    fn round_trip_reports_key_index() {
        let label = Scope::NamespaceWide.label("ns", "name");
        let blob = hybrid_encrypt(KEY.public_key(), &label, b"s3cr3t").expect("seal");
        let opened = hybrid_decrypt(&[&*OTHER, &*KEY], &label, &blob).expect("open");
        assert_eq!(opened.plaintext.expose(), b"s3cr3t");
        assert_eq!(opened.key_index, 1);
        let opened = decrypt_with_key(&*KEY, &label, &blob).expect("open");
        assert_eq!(opened.expose(), b"s3cr3t");
    }

    #[test]
    fn empty_plaintext_and_empty_label() {
        let blob = hybrid_encrypt(KEY.public_key(), b"", b"").expect("seal");
        assert_eq!(blob.len(), 2 + 256 + 16);
        let opened = hybrid_decrypt(&[&*KEY], b"", &blob).expect("open");
        assert!(opened.plaintext.is_empty());
    }

    #[test]
    fn every_failure_is_the_same_opaque_error() {
        let blob = hybrid_encrypt(KEY.public_key(), b"ns/a", b"v").expect("seal");
        let cases: [(&[u8], &[u8]); 5] = [
            (b"ns/a", &[]),
            (b"ns/a", &[0x01]),
            (b"ns/a", &blob[..200]),
            (b"ns/b", &blob),
            (b"ns/a", &blob[..blob.len() - 1]),
        ];
        for (label, input) in cases {
            let err = hybrid_decrypt(&[&*KEY], label, input).expect_err("must fail");
            assert_eq!(err, DecryptError);
            assert_eq!(err.to_string(), "no key could decrypt secret");
        }
        assert_eq!(hybrid_decrypt(&[], b"ns/a", &blob), Err(DecryptError));
        assert_eq!(
            hybrid_decrypt(&[&*OTHER], b"ns/a", &blob),
            Err(DecryptError)
        );
    }

    #[test]
    fn rsa_block_of_another_length_is_refused_without_rsa_work() {
        // A blob whose RSA ciphertext happens to start with a zero byte, re-encoded without that
        // byte: Go would left-pad and open it; we refuse it, as we refuse a 1-byte block.
        let label = b"ns/x";
        let blob = (0..2000)
            .map(|_| hybrid_encrypt(KEY.public_key(), label, b"pad").expect("seal"))
            .find(|b| b[2] == 0)
            .expect("one in 256 RSA ciphertexts starts with 0x00");
        let mut short = vec![0x00, 0xff];
        short.extend_from_slice(&blob[3..]);
        assert!(needs_rsa_operation(&*KEY, &blob));
        assert!(!needs_rsa_operation(&*KEY, &short));
        assert_eq!(decrypt_with_key(&*KEY, label, &short), Err(DecryptError));
        let tiny = [0x00, 0x01, 0x05, 1, 2, 3];
        assert!(!needs_rsa_operation(&*KEY, &tiny));
        assert_eq!(hybrid_decrypt(&[&*KEY], label, &tiny), Err(DecryptError));
    }

    #[test]
    fn aes128_session_key_is_accepted_like_go() {
        // Build a blob by hand with a 16-byte session key (Go's aes.NewCipher would take it).
        let session_key = [7u8; 16];
        let oaep = KEY.public_key().oaep().expect("oaep");
        let mut blob = vec![0x01, 0x00];
        blob.resize(2 + 256, 0);
        oaep.encrypt(
            &OAEP_SHA256_MGF1SHA256,
            &session_key,
            &mut blob[2..],
            Some(b""),
        )
        .expect("wrap");
        let aead = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &session_key).expect("aes128"));
        let mut body = b"legacy".to_vec();
        aead.seal_in_place_append_tag(zero_nonce(), Aad::empty(), &mut body)
            .expect("seal");
        blob.extend_from_slice(&body);
        let opened = decrypt_with_key(&*KEY, b"", &blob).expect("open");
        assert_eq!(opened.expose(), b"legacy");
    }

    #[test]
    fn rsa_block_len_reads_prefix_only() {
        assert_eq!(rsa_block_len(&[]), None);
        assert_eq!(rsa_block_len(&[2]), None);
        assert_eq!(rsa_block_len(&[2, 0]), Some(512));
    }
}
