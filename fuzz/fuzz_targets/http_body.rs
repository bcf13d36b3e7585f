//! The controller's `/v1/verify` and `/v1/rotate` bodies: decoded as the handlers decode them
//! (single document for verify, the first of many for rotate), then verified, unsealed and
//! re-sealed for the same key (rotate), with the response encoded. Never panics.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::manifest::{decode_sealed_secret_body, to_json_compact};
use sealed_secrets_core::seal::{UnsealOptions, Work, reseal, unseal, verify};
use sealed_secrets_core::template::Limits;

static KEY: LazyLock<Option<PrivateKey>> = LazyLock::new(|| {
    PrivateKey::from_pem(include_bytes!("../../sealed-secrets-core/tests/data/rsa4096-pkcs1.pem")).ok()
});

fuzz_target!(|data: &[u8]| {
    let Some(key) = KEY.as_ref() else { return };
    let options = UnsealOptions { accept_v1_data: true, template_limits: Limits::default(), template_time: None };
    if let Some(ss) = decode_sealed_secret_body(data, true) {
        let _ = verify(&ss, &[key], &options, &mut Work::default()).map_err(|e| e.to_string());
        let _ = unseal(&ss, &[key], &options).map_err(|e| e.to_string());
    }
    if let Some(ss) = decode_sealed_secret_body(data, false) {
        if let Ok(mut resealed) = reseal(&ss, &[key], key.public_key(), &options, &mut Work::default()) {
            resealed.kind.clear();
            resealed.api_version.clear();
            let _ = to_json_compact(&resealed);
        }
    }
});
