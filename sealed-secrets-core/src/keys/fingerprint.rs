//! SSH-style key fingerprints (SPEC §1.10).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::{Digest as _, Sha256};

/// SSH-style SHA-256 fingerprint of an RSA public key (SPEC §1.10): identical to
/// `ssh-keygen -lf`'s `SHA256:…` and to upstream's `PublicKeyFingerprint`. Used only to tell
/// keys apart; it never appears on the wire.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Fingerprint of the RSA public key with exponent `e` and modulus `n` (big-endian,
    /// unsigned; leading zero bytes are ignored).
    #[must_use]
    pub fn from_rsa_components(e: &[u8], n: &[u8]) -> Self {
        let mut wire = Vec::with_capacity(n.len() + e.len() + 32);
        ssh_string(&mut wire, b"ssh-rsa");
        ssh_mpint(&mut wire, e);
        ssh_mpint(&mut wire, n);
        let digest = Sha256::digest(&wire);
        Self(format!("SHA256:{}", STANDARD_NO_PAD.encode(digest)))
    }

    /// `SHA256:<base64 without padding>`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.0)
    }
}

/// SSH wire `string`: u32 big-endian length, then the bytes (RFC 4251 §5).
pub(super) fn ssh_string(out: &mut Vec<u8>, bytes: &[u8]) {
    // An RSA component longer than 4 GiB cannot reach here: aws-lc-rs caps keys at 8192 bits.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// SSH wire `mpint` of a non-negative integer: minimal two's complement, so a leading 0x00 is
/// added when the top bit is set, and zero is the empty string (RFC 4251 §5).
pub(super) fn ssh_mpint(out: &mut Vec<u8>, unsigned_be: &[u8]) {
    let start = unsigned_be
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(unsigned_be.len());
    let digits = &unsigned_be[start..];
    if digits.first().is_some_and(|&b| b & 0x80 != 0) {
        let mut padded = Vec::with_capacity(digits.len() + 1);
        padded.push(0);
        padded.extend_from_slice(digits);
        ssh_string(out, &padded);
    } else {
        ssh_string(out, digits);
    }
}
