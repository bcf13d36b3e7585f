//! Certificates and keys from PEM or DER: `--cert` input, `/v1/cert.pem` answers, key files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::keys::{PrivateKey, PublicKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_pem(data) {
        let _ = cert.fingerprint();
        let _ = cert.public_key().size_bits();
    }
    let _ = Certificate::from_der(data);
    let _ = PublicKey::from_spki_der(data);
    let _ = PrivateKey::from_pem(data);
    let _ = PrivateKey::from_pkcs1_der(data);
    let _ = PrivateKey::from_pkcs8_der(data);
});
