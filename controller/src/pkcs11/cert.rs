//! The controller's self-signed certificate (SPEC §1.7) for a token key, signed in the token
//! through rcgen's remote-signer hook (`SigningKey`).

use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, KeyUsagePurpose,
    PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey,
};
use sealed_secrets_core::cert::{CertParams, Certificate};

use super::{Pkcs11Error, TokenKey};

impl TokenKey {
    /// The self-signed certificate the controller makes for a new key (SPEC §1.7, the shape
    /// `sealed_secrets_core::cert::Certificate::self_signed` gives), signed in the token.
    ///
    /// # Errors
    /// [`Pkcs11Error::Certificate`] when it cannot be built, or its key is not this one.
    pub fn self_signed_certificate(&self, params: &CertParams) -> Result<Certificate, Pkcs11Error> {
        let fail = |reason: String| Pkcs11Error::Certificate { reason };
        let not_before = params
            .not_before
            .replace_nanosecond(0)
            .map_err(|_| fail("NotBefore out of range".to_owned()))?;
        let not_after = not_before
            .checked_add(params.validity)
            .ok_or_else(|| fail("NotAfter out of range".to_owned()))?;
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::fill(&mut serial).map_err(|_| fail("random serial".to_owned()))?;

        let mut cert_params = CertificateParams::default();
        cert_params.not_before = not_before;
        cert_params.not_after = not_after;
        cert_params.serial_number = Some(SerialNumber::from_slice(&serial));
        cert_params.distinguished_name = distinguished_name(&params.common_name);
        cert_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        cert_params.key_usages = vec![KeyUsagePurpose::EncipherOnly];
        let cert = cert_params
            .self_signed(self)
            .map_err(|e| fail(e.to_string()))?;
        let cert = Certificate::from_der(cert.der()).map_err(|e| fail(e.to_string()))?;
        if cert.public_key() != &self.public_key {
            return Err(fail("its public key is not the token's".to_owned()));
        }
        Ok(cert)
    }
}

/// rcgen's remote-signer hook: the certificate's TBS bytes are signed by the token.
impl PublicKeyData for TokenKey {
    /// PKCS#1 `RSAPublicKey` DER; rcgen wraps it in an SPKI with the rsaEncryption OID.
    fn der_bytes(&self) -> &[u8] {
        &self.pkcs1_der
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl SigningKey for TokenKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.sign_sha256(msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// `CN=<name>` or the empty DN, with Go's choice of string type (as `cert.rs`).
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
