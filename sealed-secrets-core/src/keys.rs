//! RSA keys: public keys for sealing, private keys for unsealing (aws-lc-rs, constant-time
//! decryption), PEM parsing in the formats upstream accepts (SPEC §1.9) and SSH-style
//! fingerprints (SPEC §1.10).
//!
//! CONTRACT (owned by the crypto work; signatures are relied on by seal.rs, the CLI and the
//! controller — extend, do not change):
//! - `PublicKey::from_spki_der(&[u8]) -> Result<PublicKey, KeyError>` (RSA only, else
//!   `KeyError::NotRsa`), `size_bytes()`, `size_bits()`, `spki_der()`, `fingerprint()`.
//! - `PrivateKey::generate(bits: usize)`, `PrivateKey::from_pem(&[u8])` (first block that parses
//!   of `RSA PRIVATE KEY` / `PRIVATE KEY`; `EC PRIVATE KEY` → `KeyError::NotRsa`; none →
//!   `KeyError::NoPrivateKey`), `from_pkcs8_der`, `to_pkcs1_pem() -> SecretBytes`,
//!   `to_pkcs8_der() -> SecretBytes`, `public_key() -> &PublicKey`, `fingerprint()`.
//! - `Fingerprint`: `Display` = `SHA256:<base64 no padding>`; `Ord + Hash + Clone`.
//! - `Debug` of `PrivateKey` never prints key material.
//!
//! `KeyError::NotRsa` is a struct variant: match it as `KeyError::NotRsa { .. }`.
//!
//! Key sizes: aws-lc-rs accepts RSA keys of 2048 to 8192 bits. Go would also take smaller keys;
//! we refuse them (a 1024-bit sealing key is not worth being compatible with), and say so.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPair, KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pkcs8::PrivateKeyInfoRef;
use x509_parser::prelude::FromDer as _;
use x509_parser::public_key::PublicKey as ParsedPublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::secret_bytes::SecretBytes;

mod decrypter;
mod fingerprint;

pub use decrypter::{Decrypter, UnwrapError};
pub use fingerprint::Fingerprint;
#[cfg(test)]
use fingerprint::ssh_mpint;

/// `rsaEncryption` (PKCS #1), the only key algorithm a sealing key may use.
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// PEM block labels.
const PEM_RSA_PRIVATE_KEY: &str = "RSA PRIVATE KEY";
const PEM_PRIVATE_KEY: &str = "PRIVATE KEY";
const PEM_EC_PRIVATE_KEY: &str = "EC PRIVATE KEY";

/// What can go wrong with a key. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key of another algorithm (EC, Ed25519, …) where an RSA key is required.
    /// For private keys the text is upstream's controller message.
    #[error("{role} key is not an RSA key")]
    NotRsa {
        /// Which half of a key pair was offered.
        role: KeyRole,
        /// The algorithm that was found, e.g. `ECDSA`, or the dotted OID when unknown.
        algorithm: String,
    },
    /// The PEM data holds no block that parses as a private key (client-go's text).
    #[error("data does not contain a valid RSA or ECDSA private key")]
    NoPrivateKey,
    /// An RSA private key was found, but it cannot be used (size out of range, inconsistent).
    #[error("RSA private key rejected: {reason}")]
    PrivateKeyRejected {
        /// Why the key was rejected (from aws-lc-rs, e.g. `TooSmall`); never key material.
        reason: &'static str,
    },
    /// The DER is not a well-formed PKCS#8 `PrivateKeyInfo`.
    #[error("private key is not valid PKCS#8 DER")]
    InvalidPkcs8,
    /// The DER is not a well-formed X.509 `SubjectPublicKeyInfo`.
    #[error("public key is not a valid SubjectPublicKeyInfo")]
    InvalidPublicKey,
    /// An RSA public key was found, but it cannot be used (size out of range, bad exponent).
    #[error("RSA public key rejected: {reason}")]
    PublicKeyRejected {
        /// Why the key was rejected (from aws-lc-rs, e.g. `TooSmall`).
        reason: &'static str,
    },
    /// `generate` was asked for a size aws-lc-rs does not generate.
    #[error("unsupported RSA key size {bits} (supported: 2048, 3072, 4096, 8192)")]
    UnsupportedKeySize {
        /// The requested size in bits.
        bits: usize,
    },
    /// The random key generation itself failed.
    #[error("RSA key generation failed")]
    Generation,
    /// A key could not be serialized (should not happen for a key we hold).
    #[error("could not encode {what}")]
    Encoding {
        /// Which encoding failed.
        what: &'static str,
    },
}

/// Which half of a key pair an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// A public key (certificate, SPKI).
    Public,
    /// A private key (PEM, PKCS#8).
    Private,
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyRole::Public => "public",
            KeyRole::Private => "private",
        })
    }
}

/// Human name of a key algorithm OID, as used in error messages.
pub(crate) fn algorithm_name(oid: &str) -> String {
    match oid {
        OID_RSA_ENCRYPTION => "RSA".to_owned(),
        "1.2.840.10045.2.1" => "ECDSA".to_owned(),
        "1.3.101.112" => "Ed25519".to_owned(),
        "1.3.101.110" => "X25519".to_owned(),
        "1.2.840.10040.4.1" => "DSA".to_owned(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS".to_owned(),
        other => other.to_owned(),
    }
}

/// The key algorithms Go's `x509.ParsePKCS8PrivateKey` knows besides RSA: a PKCS#8 block of
/// one of these "parses" upstream and is then refused as not RSA. Any other algorithm fails to
/// parse upstream, so the block is skipped.
fn is_known_non_rsa_pkcs8(oid: &str) -> bool {
    matches!(oid, "1.2.840.10045.2.1" | "1.3.101.112" | "1.3.101.110")
}

/// An RSA public key, as found in a sealing certificate.
#[derive(Clone)]
pub struct PublicKey {
    encrypting: PublicEncryptingKey,
    spki_der: Vec<u8>,
    fingerprint: Fingerprint,
}

impl PublicKey {
    /// Parses an X.509 `SubjectPublicKeyInfo` (DER). Only RSA keys of 2048–8192 bits are taken.
    ///
    /// # Errors
    /// [`KeyError::InvalidPublicKey`] for malformed DER, [`KeyError::NotRsa`] for another
    /// algorithm, [`KeyError::PublicKeyRejected`] for an RSA key aws-lc-rs refuses.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let (rest, spki) =
            SubjectPublicKeyInfo::from_der(der).map_err(|_| KeyError::InvalidPublicKey)?;
        if !rest.is_empty() {
            return Err(KeyError::InvalidPublicKey);
        }
        let oid = spki.algorithm.algorithm.to_id_string();
        if oid != OID_RSA_ENCRYPTION {
            return Err(KeyError::NotRsa {
                role: KeyRole::Public,
                algorithm: algorithm_name(&oid),
            });
        }
        let Ok(ParsedPublicKey::RSA(rsa)) = spki.parsed() else {
            return Err(KeyError::InvalidPublicKey);
        };
        let fingerprint = Fingerprint::from_rsa_components(rsa.exponent, rsa.modulus);
        let encrypting =
            PublicEncryptingKey::from_der(der).map_err(|e| KeyError::PublicKeyRejected {
                reason: e.description_(),
            })?;
        Ok(Self {
            encrypting,
            spki_der: der.to_vec(),
            fingerprint,
        })
    }

    /// Modulus length in bytes (`k`; also the length of every RSA-OAEP ciphertext).
    #[must_use]
    pub fn size_bytes(&self) -> usize {
        self.encrypting.key_size_bytes()
    }

    /// Modulus length in bits.
    #[must_use]
    pub fn size_bits(&self) -> usize {
        self.encrypting.key_size_bits()
    }

    /// The X.509 `SubjectPublicKeyInfo` DER this key was read from.
    #[must_use]
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// SSH-style fingerprint (SPEC §1.10). Returned by value (a short string) so that it can
    /// serve directly as a sort or map key, e.g. `keys.sort_by_key(PrivateKey::fingerprint)`.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint.clone()
    }

    /// The OAEP encryption handle (cheap: shares the underlying key).
    pub(crate) fn oaep(&self) -> Result<OaepPublicEncryptingKey, aws_lc_rs::error::Unspecified> {
        OaepPublicEncryptingKey::new(self.encrypting.clone())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.size_bits())
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// An RSA private key for unsealing. Decryption runs in aws-lc (constant-time RSA with
/// blinding). The key material lives inside aws-lc and is freed (and cleansed) by it; the
/// encodings we hand out are [`SecretBytes`].
#[derive(Clone)]
pub struct PrivateKey {
    decrypting: PrivateDecryptingKey,
    public: PublicKey,
}

impl PrivateKey {
    /// Generates a fresh key pair with e = 65537, like Go's `rsa.GenerateKey`.
    ///
    /// # Errors
    /// [`KeyError::UnsupportedKeySize`] unless `bits` is 2048, 3072, 4096 or 8192.
    pub fn generate(bits: usize) -> Result<Self, KeyError> {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            8192 => KeySize::Rsa8192,
            _ => return Err(KeyError::UnsupportedKeySize { bits }),
        };
        let decrypting = PrivateDecryptingKey::generate(size).map_err(|_| KeyError::Generation)?;
        Self::from_decrypting(decrypting)
    }

    /// Reads the first usable private key from PEM data, the way client-go's
    /// `keyutil.ParsePrivateKeyPEM` does (SPEC §1.9): blocks are walked in order and the first
    /// `RSA PRIVATE KEY` (PKCS#1), `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1) that parses
    /// wins; other block types and blocks that fail to parse are skipped. A winning key that is
    /// not RSA is refused with upstream's `private key is not an RSA key`.
    ///
    /// # Errors
    /// [`KeyError::NotRsa`], [`KeyError::NoPrivateKey`], or [`KeyError::PrivateKeyRejected`]
    /// when nothing parsed but an RSA key of a size aws-lc-rs refuses was present (e.g. 1024
    /// bits): upstream would have used such a key, so we say why rather than "no key".
    pub fn from_pem(pem_data: &[u8]) -> Result<Self, KeyError> {
        let mut rejected = None;
        for block in pem_blocks(pem_data) {
            let tag = block.tag().to_owned();
            let der = SecretBytes::new(block.into_contents());
            let attempt = match tag.as_str() {
                PEM_RSA_PRIVATE_KEY => Self::from_pkcs1_der(der.expose()),
                PEM_PRIVATE_KEY => match pkcs8_algorithm(der.expose()) {
                    Some(oid) if oid == OID_RSA_ENCRYPTION => Self::from_pkcs8_der(der.expose()),
                    Some(oid) if is_known_non_rsa_pkcs8(&oid) => Err(KeyError::NotRsa {
                        role: KeyRole::Private,
                        algorithm: algorithm_name(&oid),
                    }),
                    _ => continue,
                },
                PEM_EC_PRIVATE_KEY if is_sec1_ec_key(der.expose()) => Err(KeyError::NotRsa {
                    role: KeyRole::Private,
                    algorithm: "ECDSA".to_owned(),
                }),
                _ => continue,
            };
            match attempt {
                Ok(key) => return Ok(key),
                Err(e @ KeyError::NotRsa { .. }) => return Err(e),
                // Go would have used a key of a size aws-lc-rs refuses; say so instead of
                // "no key". Anything else did not parse, and upstream skips such a block too.
                Err(
                    e @ KeyError::PrivateKeyRejected {
                        reason: "TooSmall" | "TooLarge",
                    },
                ) => {
                    rejected = Some(e);
                }
                Err(_) => {}
            }
        }
        Err(rejected.unwrap_or(KeyError::NoPrivateKey))
    }

    /// Reads a PKCS#1 `RSAPrivateKey` (DER).
    ///
    /// # Errors
    /// [`KeyError::PrivateKeyRejected`] when the DER is not a usable RSA private key.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        // aws-lc-rs reads PKCS#1 only through `KeyPair`; it re-encodes as PKCS#8 (in a buffer
        // it zeroizes), which is the form `PrivateDecryptingKey` takes.
        let pair = KeyPair::from_der(der).map_err(|e| KeyError::PrivateKeyRejected {
            reason: e.description_(),
        })?;
        let pkcs8 = pair.as_der().map_err(|_| KeyError::Encoding {
            what: "private key as PKCS#8",
        })?;
        let decrypting = PrivateDecryptingKey::from_pkcs8(pkcs8.as_ref()).map_err(|e| {
            KeyError::PrivateKeyRejected {
                reason: e.description_(),
            }
        })?;
        Self::from_decrypting(decrypting)
    }

    /// Reads an unencrypted PKCS#8 `PrivateKeyInfo` (DER) holding an RSA key.
    ///
    /// # Errors
    /// [`KeyError::InvalidPkcs8`] for malformed DER, [`KeyError::NotRsa`] for another
    /// algorithm, [`KeyError::PrivateKeyRejected`] for an RSA key aws-lc-rs refuses.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = PrivateKeyInfoRef::try_from(der).map_err(|_| KeyError::InvalidPkcs8)?;
        let oid = info.algorithm.oid.to_string();
        if oid != OID_RSA_ENCRYPTION {
            return Err(KeyError::NotRsa {
                role: KeyRole::Private,
                algorithm: algorithm_name(&oid),
            });
        }
        let decrypting =
            PrivateDecryptingKey::from_pkcs8(der).map_err(|e| KeyError::PrivateKeyRejected {
                reason: e.description_(),
            })?;
        Self::from_decrypting(decrypting)
    }

    fn from_decrypting(decrypting: PrivateDecryptingKey) -> Result<Self, KeyError> {
        let spki = decrypting
            .public_key()
            .as_der()
            .map_err(|_| KeyError::Encoding {
                what: "public key as SubjectPublicKeyInfo",
            })?;
        let public = PublicKey::from_spki_der(spki.as_ref())?;
        Ok(Self { decrypting, public })
    }

    /// The private key as unencrypted PKCS#8 `PrivateKeyInfo` DER.
    ///
    /// # Errors
    /// [`KeyError::Encoding`] if aws-lc cannot serialize the key.
    pub fn to_pkcs8_der(&self) -> Result<SecretBytes, KeyError> {
        let der = self.decrypting.as_der().map_err(|_| KeyError::Encoding {
            what: "private key as PKCS#8",
        })?;
        Ok(SecretBytes::from_slice(der.as_ref()))
    }

    /// The private key as PKCS#1 `RSAPrivateKey` DER (the payload of a PKCS#8 RSA key).
    ///
    /// # Errors
    /// [`KeyError::Encoding`] if aws-lc cannot serialize the key.
    pub fn to_pkcs1_der(&self) -> Result<SecretBytes, KeyError> {
        let pkcs8 = self.to_pkcs8_der()?;
        let info = PrivateKeyInfoRef::try_from(pkcs8.expose()).map_err(|_| KeyError::Encoding {
            what: "private key as PKCS#1",
        })?;
        Ok(SecretBytes::from_slice(info.private_key.as_bytes()))
    }

    /// The private key as a PKCS#1 `RSA PRIVATE KEY` PEM block, which is what the controller
    /// writes into `tls.key` (like upstream). 64-column base64, `\n` line ends, trailing `\n`.
    ///
    /// # Errors
    /// [`KeyError::Encoding`] if aws-lc cannot serialize the key.
    pub fn to_pkcs1_pem(&self) -> Result<SecretBytes, KeyError> {
        let der = self.to_pkcs1_der()?;
        Ok(pem_encode_secret(PEM_RSA_PRIVATE_KEY, der.expose()))
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public key's SSH-style fingerprint (SPEC §1.10).
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.public.fingerprint()
    }

    /// Modulus length in bits.
    #[must_use]
    pub fn size_bits(&self) -> usize {
        self.decrypting.key_size_bits()
    }

    /// Modulus length in bytes.
    #[must_use]
    pub fn size_bytes(&self) -> usize {
        self.decrypting.key_size_bytes()
    }

    /// The OAEP decryption handle (cheap: shares the underlying key).
    pub(crate) fn oaep(&self) -> Result<OaepPrivateDecryptingKey, aws_lc_rs::error::Unspecified> {
        OaepPrivateDecryptingKey::new(self.decrypting.clone())
    }

    /// An aws-lc signing key pair for the same key (used to self-sign the certificate).
    pub(crate) fn signing_key_pair(&self) -> Result<KeyPair, KeyError> {
        let pkcs8 = self.to_pkcs8_der()?;
        KeyPair::from_pkcs8(pkcs8.expose()).map_err(|e| KeyError::PrivateKeyRejected {
            reason: e.description_(),
        })
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.size_bits())
            .field("fingerprint", &self.public.fingerprint)
            .finish_non_exhaustive()
    }
}

/// The algorithm OID of a PKCS#8 `PrivateKeyInfo`, if `der` is one.
fn pkcs8_algorithm(der: &[u8]) -> Option<String> {
    PrivateKeyInfoRef::try_from(der)
        .ok()
        .map(|info| info.algorithm.oid.to_string())
}

/// Whether `der` is a SEC1 `ECPrivateKey` on a curve Go parses (P-256, P-384, P-521).
fn is_sec1_ec_key(der: &[u8]) -> bool {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING,
        ECDSA_P521_SHA512_ASN1_SIGNING, EcdsaKeyPair,
    };
    [
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &ECDSA_P384_SHA384_ASN1_SIGNING,
        &ECDSA_P521_SHA512_ASN1_SIGNING,
    ]
    .into_iter()
    .any(|alg| EcdsaKeyPair::from_private_key_der(alg, der).is_ok())
}

/// The PEM blocks in `data`, in order. Like Go's `pem.Decode` loop, text between blocks is
/// ignored and a malformed block (bad base64, no END line) is skipped rather than ending the
/// walk, so a later good block is still found.
pub(crate) fn pem_blocks(data: &[u8]) -> impl Iterator<Item = pem::Pem> + '_ {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let starts: Vec<usize> = data
        .windows(BEGIN.len())
        .enumerate()
        .filter_map(|(i, w)| (w == BEGIN).then_some(i))
        .collect();
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .copied()
        .chain(std::iter::once(data.len()))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .filter_map(move |(start, end)| pem::parse(&data[start..end]).ok())
}

/// PEM-encodes secret DER the way Go's `pem.Encode` does, without leaving unzeroized copies.
fn pem_encode_secret(label: &str, der: &[u8]) -> SecretBytes {
    let body = SecretBytes::from(STANDARD.encode(der));
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 2 * label.len() + 40);
    out.extend_from_slice(b"-----BEGIN ");
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(b"-----\n");
    for line in body.expose().chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END ");
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(b"-----\n");
    SecretBytes::new(out)
}

#[cfg(test)]
mod tests;
