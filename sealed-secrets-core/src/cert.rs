//! X.509 certificates (SPEC §1.7, §1.8): parsing the first `CERTIFICATE` block of a PEM bundle,
//! expiry checks with upstream's error text, and self-signed generation with the controller's
//! parameters (random 128-bit serial, empty DN unless a CN is given, `EncipherOnly`, `CA:TRUE`).
//!
//! CONTRACT (owned by the crypto work; extend, do not change):
//! - `Certificate::from_pem(&[u8]) -> Result<Certificate, CertError>`; `from_der`; `to_pem() -> String`
//!   (64-column base64, trailing newline); `der()`; `public_key() -> &PublicKey` (RSA only);
//!   `not_before()`, `not_after() -> time::OffsetDateTime`;
//!   `check_not_expired(now) -> Result<(), CertError>` whose error text is
//!   `failed to encrypt using an expired certificate on June 18, 2027`; `fingerprint()` = the
//!   public key's fingerprint.
//! - `Certificate::self_signed(&PrivateKey, &CertParams) -> Result<Certificate, CertError>`
//!   with `CertParams { common_name: String, not_before: OffsetDateTime, validity: time::Duration }`
//!   and `CertParams::controller_default(now)` = empty CN, 87600h.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, KeyUsagePurpose,
    PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey,
};
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer as _;

use crate::keys::{Fingerprint, KeyError, PrivateKey, PublicKey, pem_blocks};

const PEM_CERTIFICATE: &str = "CERTIFICATE";

/// The controller's default certificate lifetime (`--key-ttl`, 87600h = 10 × 365 days).
pub const DEFAULT_VALIDITY: Duration = Duration::hours(87_600);

/// What can go wrong with a certificate. Texts that upstream prints are kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// No `CERTIFICATE` block (without PEM headers) in the data — client-go's text.
    #[error("data does not contain any valid RSA or ECDSA certificates")]
    NoCertificate,
    /// A `CERTIFICATE` block that is not a well-formed X.509 certificate.
    #[error("x509: malformed certificate")]
    Malformed,
    /// The certificate's key is not RSA — kubeseal's text, with the algorithm's name.
    #[error("expected RSA public key but found {algorithm}")]
    NotRsa {
        /// The algorithm found, e.g. `ECDSA`.
        algorithm: String,
    },
    /// The RSA key in the certificate cannot be used.
    #[error("certificate public key")]
    PublicKey(#[source] KeyError),
    /// `now` is after `NotAfter` — kubeseal's text, date in Go's "January 2, 2006" layout.
    #[error("failed to encrypt using an expired certificate on {}", go_long_date(*.not_after))]
    Expired {
        /// The certificate's `NotAfter`.
        not_after: OffsetDateTime,
    },
    /// `NotBefore` + validity is not a representable time.
    #[error("certificate validity period is out of range")]
    ValidityOutOfRange,
    /// The random serial number could not be drawn.
    #[error("random number generator failed")]
    Random,
    /// The signing key could not be prepared.
    #[error("certificate signing key")]
    SigningKey(#[source] KeyError),
    /// rcgen refused to build or sign the certificate.
    #[error("could not create certificate: {reason}")]
    Generation {
        /// rcgen's description (no key material).
        reason: String,
    },
}

/// Go's `Format("January 2, 2006")`: full month name, day without padding, four-digit year.
fn go_long_date(t: OffsetDateTime) -> String {
    format!("{} {}, {}", t.month(), t.day(), t.year())
}

/// Parameters of a controller certificate (SPEC §1.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertParams {
    /// Subject and issuer CN (`--my-cn`); empty gives an empty DN, like upstream's default.
    pub common_name: String,
    /// `NotBefore` (the controller uses "now", UTC). Sub-second precision is dropped.
    pub not_before: OffsetDateTime,
    /// `NotAfter` − `NotBefore` (`--key-ttl`).
    pub validity: Duration,
}

impl CertParams {
    /// Upstream's defaults: empty CN, `NotBefore` = `now`, 87600h validity.
    #[must_use]
    pub fn controller_default(now: OffsetDateTime) -> Self {
        Self {
            common_name: String::new(),
            not_before: now,
            validity: DEFAULT_VALIDITY,
        }
    }
}

/// A parsed X.509 certificate with an RSA public key.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    public_key: PublicKey,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Certificate {
    /// Reads the first certificate of a PEM bundle, as kubeseal does (client-go
    /// `cert.ParseCertsPEM`, then `certs[0]`): blocks other than `CERTIFICATE`, and
    /// `CERTIFICATE` blocks with PEM headers, are skipped; every `CERTIFICATE` block must parse.
    ///
    /// # Errors
    /// [`CertError::NoCertificate`] when there is no certificate block, [`CertError::Malformed`]
    /// when one does not parse, [`CertError::NotRsa`] when the first one has a non-RSA key.
    pub fn from_pem(pem_data: &[u8]) -> Result<Self, CertError> {
        let mut first: Option<Vec<u8>> = None;
        for block in pem_blocks(pem_data) {
            if block.tag() != PEM_CERTIFICATE || block.headers().iter().next().is_some() {
                continue;
            }
            let der = block.into_contents();
            // client-go parses every certificate in the bundle and fails on the first bad one.
            check_x509(&der)?;
            if first.is_none() {
                first = Some(der);
            }
        }
        let der = first.ok_or(CertError::NoCertificate)?;
        Self::from_der(&der)
    }

    /// Reads a DER certificate.
    ///
    /// # Errors
    /// [`CertError::Malformed`], [`CertError::NotRsa`] or [`CertError::PublicKey`].
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|_| CertError::Malformed)?;
        if !rest.is_empty() {
            return Err(CertError::Malformed);
        }
        let public_key = PublicKey::from_spki_der(cert.public_key().raw).map_err(|e| match e {
            KeyError::NotRsa { algorithm, .. } => CertError::NotRsa { algorithm },
            other => CertError::PublicKey(other),
        })?;
        let validity = cert.validity();
        Ok(Self {
            der: der.to_vec(),
            public_key,
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
        })
    }

    /// Creates the self-signed certificate the controller makes for a new key (SPEC §1.7):
    /// X.509 v3, serial uniformly random in [0, 2^128), Subject = Issuer = `CN=<common_name>`
    /// or an empty DN, `KeyUsage` `EncipherOnly` (critical), `BasicConstraints` `CA:TRUE` (critical),
    /// a `SubjectKeyIdentifier` (as Go adds for CAs), signed with `sha256WithRSAEncryption`.
    ///
    /// # Errors
    /// [`CertError::ValidityOutOfRange`], [`CertError::Random`], [`CertError::SigningKey`] or [`CertError::Generation`].
    pub fn self_signed(key: &PrivateKey, params: &CertParams) -> Result<Self, CertError> {
        let not_before = params
            .not_before
            .replace_nanosecond(0)
            .map_err(|_| CertError::ValidityOutOfRange)?;
        let not_after = not_before
            .checked_add(params.validity)
            .ok_or(CertError::ValidityOutOfRange)?;

        let mut cert_params = CertificateParams::default();
        cert_params.not_before = not_before;
        cert_params.not_after = not_after;
        cert_params.serial_number = Some(random_serial()?);
        cert_params.distinguished_name = distinguished_name(&params.common_name);
        cert_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        cert_params.key_usages = vec![KeyUsagePurpose::EncipherOnly];

        let signer = RsaSigner::new(key)?;
        let cert = cert_params
            .self_signed(&signer)
            .map_err(|e| CertError::Generation {
                reason: e.to_string(),
            })?;
        Self::from_der(cert.der())
    }

    /// PEM encoding: one `CERTIFICATE` block, 64-column base64, `\n` line ends, trailing `\n`
    /// (what Go's `pem.Encode` writes).
    #[must_use]
    pub fn to_pem(&self) -> String {
        let body = STANDARD.encode(&self.der);
        let mut out = String::with_capacity(body.len() + body.len() / 64 + 60);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let mut start = 0;
        while start < body.len() {
            // base64 is ASCII, so any byte index is a char boundary.
            let end = (start + 64).min(body.len());
            out.push_str(&body[start..end]);
            out.push('\n');
            start = end;
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// The DER encoding.
    #[must_use]
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate's RSA public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// `NotBefore` (UTC).
    #[must_use]
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// `NotAfter` (UTC).
    #[must_use]
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Refuses a certificate whose `NotAfter` is before `now`, with kubeseal's message.
    /// `NotBefore`, `KeyUsage` and CA are not checked, as upstream does not check them.
    ///
    /// # Errors
    /// [`CertError::Expired`].
    pub fn check_not_expired(&self, now: OffsetDateTime) -> Result<(), CertError> {
        if now > self.not_after {
            Err(CertError::Expired {
                not_after: self.not_after,
            })
        } else {
            Ok(())
        }
    }

    /// The subject, RFC 4514 style (`CN=…`); empty for the controller's empty DN.
    #[must_use]
    pub fn subject(&self) -> String {
        // `der` parsed in `from_der`, so this cannot fail; an empty subject if it ever did.
        X509Certificate::from_der(&self.der)
            .map(|(_, cert)| cert.subject().to_string())
            .unwrap_or_default()
    }

    /// The subject as DER (a PKCS#11 certificate object's `CKA_SUBJECT`).
    #[must_use]
    pub fn subject_der(&self) -> Vec<u8> {
        X509Certificate::from_der(&self.der)
            .map(|(_, cert)| cert.subject().as_raw().to_vec())
            .unwrap_or_default()
    }

    /// The public key's SSH-style fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.public_key.fingerprint()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint", &self.public_key.fingerprint())
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Checks that `der` is one complete X.509 certificate.
fn check_x509(der: &[u8]) -> Result<(), CertError> {
    match X509Certificate::from_der(der) {
        Ok(([], _)) => Ok(()),
        _ => Err(CertError::Malformed),
    }
}

/// A serial uniformly random in [0, 2^128), like Go's `rand.Int(rand.Reader, 2^128)`.
/// rcgen writes it as a minimal positive DER INTEGER.
fn random_serial() -> Result<SerialNumber, CertError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CertError::Random)?;
    Ok(SerialNumber::from_slice(&bytes))
}

/// `CN=<name>` or the empty DN. Go's encoder writes a CN as `PrintableString` when every
/// character allows it, `UTF8String` otherwise; we do the same.
fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if !common_name.is_empty() {
        let value = match PrintableString::try_from(common_name) {
            Ok(printable) => DnValue::PrintableString(printable),
            Err(_) => DnValue::Utf8String(common_name.to_owned()),
        };
        dn.push(DnType::CommonName, value);
    }
    dn
}

/// Signs the certificate with our RSA key through aws-lc directly, so that rcgen never holds
/// a copy of the private key encoding (its `KeyPair` keeps the DER in a plain `Vec`).
struct RsaSigner {
    pair: RsaKeyPair,
    rng: SystemRandom,
}

impl RsaSigner {
    fn new(key: &PrivateKey) -> Result<Self, CertError> {
        Ok(Self {
            pair: key.signing_key_pair().map_err(CertError::SigningKey)?,
            rng: SystemRandom::new(),
        })
    }
}

impl PublicKeyData for RsaSigner {
    /// PKCS#1 `RSAPublicKey` DER; rcgen wraps it in an SPKI with the rsaEncryption OID.
    fn der_bytes(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl SigningKey for RsaSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, msg, &mut signature)
            .map_err(|_| rcgen::Error::RingUnspecified)?;
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use time::macros::datetime;
    use x509_parser::extensions::ParsedExtension;

    use super::*;

    static KEY: LazyLock<PrivateKey> =
        LazyLock::new(|| PrivateKey::generate(2048).expect("generate 2048"));

    fn cert_with(cn: &str) -> Certificate {
        let params = CertParams {
            common_name: cn.to_owned(),
            ..CertParams::controller_default(datetime!(2017-06-20 04:32:45.123 UTC))
        };
        Certificate::self_signed(&KEY, &params).expect("self-signed")
    }

    #[test]
    fn self_signed_has_controller_shape() {
        let cert = cert_with("");
        assert_eq!(cert.public_key(), KEY.public_key());
        assert_eq!(cert.fingerprint(), KEY.fingerprint());
        assert_eq!(cert.not_before(), datetime!(2017-06-20 04:32:45 UTC));
        assert_eq!(cert.not_after(), datetime!(2027-06-18 04:32:45 UTC));

        let (_, x509) = X509Certificate::from_der(cert.der()).expect("parse");
        assert_eq!(x509.version().0, 2, "X.509 v3");
        assert_eq!(x509.subject().iter().count(), 0, "empty subject");
        assert_eq!(x509.issuer().iter().count(), 0, "empty issuer");
        assert_eq!(
            x509.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.113549.1.1.11",
            "sha256WithRSAEncryption"
        );
        let serial = x509.raw_serial();
        assert!(!serial.is_empty() && serial.len() <= 17);
        if serial.len() == 17 {
            assert_eq!(serial[0], 0);
        }

        let mut saw_key_usage = false;
        let mut saw_basic_constraints = false;
        for ext in x509.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::KeyUsage(ku) => {
                    assert!(ext.critical);
                    assert!(ku.encipher_only());
                    assert_eq!(ku.flags, 1 << 7, "only EncipherOnly");
                    saw_key_usage = true;
                }
                ParsedExtension::BasicConstraints(bc) => {
                    assert!(ext.critical);
                    assert!(bc.ca);
                    assert_eq!(bc.path_len_constraint, None);
                    saw_basic_constraints = true;
                }
                ParsedExtension::SubjectKeyIdentifier(_) => {}
                other => panic!("unexpected extension {other:?}"),
            }
        }
        assert!(saw_key_usage && saw_basic_constraints);
        let signed_by_own_key = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            &*x509.public_key().subject_public_key.data,
        );
        signed_by_own_key
            .verify(x509.tbs_certificate.as_ref(), &x509.signature_value.data)
            .expect("self-signature verifies");
    }

    #[test]
    fn common_name_is_subject_and_issuer() {
        let cert = cert_with("sealed-secrets");
        let (_, x509) = X509Certificate::from_der(cert.der()).expect("parse");
        assert_eq!(x509.subject().to_string(), "CN=sealed-secrets");
        assert_eq!(x509.issuer().to_string(), "CN=sealed-secrets");
    }

    #[test]
    fn serials_differ() {
        let a = cert_with("");
        let b = cert_with("");
        let serial = |c: &Certificate| {
            X509Certificate::from_der(c.der())
                .expect("parse")
                .1
                .raw_serial()
                .to_vec()
        };
        assert_ne!(serial(&a), serial(&b));
    }

    #[test]
    fn pem_round_trip_and_first_block_wins() {
        let first = cert_with("");
        let second = cert_with("second");
        let pem = first.to_pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));

        let mut bundle = String::from("junk\n-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n");
        bundle.push_str(&pem);
        bundle.push_str(&second.to_pem());
        let parsed = Certificate::from_pem(bundle.as_bytes()).expect("parse");
        assert_eq!(parsed, first);
    }

    #[test]
    fn no_certificate_message() {
        let err = Certificate::from_pem(b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")
            .expect_err("no cert");
        assert_eq!(
            err.to_string(),
            "data does not contain any valid RSA or ECDSA certificates"
        );
        assert_eq!(
            Certificate::from_pem(
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ),
            Err(CertError::Malformed)
        );
    }

    #[test]
    fn expiry_uses_go_date_layout() {
        let cert = cert_with("");
        assert_eq!(
            cert.check_not_expired(datetime!(2027-06-18 04:32:45 UTC)),
            Ok(())
        );
        assert_eq!(
            cert.check_not_expired(datetime!(2001-01-01 00:00 UTC)),
            Ok(())
        );
        let err = cert
            .check_not_expired(datetime!(2027-06-18 04:32:46 UTC))
            .expect_err("expired");
        assert_eq!(
            err.to_string(),
            "failed to encrypt using an expired certificate on June 18, 2027"
        );
        assert_eq!(
            go_long_date(datetime!(2030-01-05 00:00 UTC)),
            "January 5, 2030"
        );
    }

    #[test]
    fn ecdsa_certificate_is_refused() {
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec key");
        let cert = CertificateParams::default()
            .self_signed(&ec)
            .expect("ec cert");
        let err = Certificate::from_pem(cert.pem().as_bytes()).expect_err("ec");
        assert_eq!(err.to_string(), "expected RSA public key but found ECDSA");
    }
}
