//! What `/v1/verify` and the reconciler do with a SealedSecret body: parse it, then unseal it
//! (items, legacy `spec.data`, templates) with a real key. Never panics.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::manifest::read_documents;
use sealed_secrets_core::seal::{UnsealOptions, unseal};
use sealed_secrets_core::template::Limits;

static KEY: LazyLock<Option<PrivateKey>> = LazyLock::new(|| {
    PrivateKey::from_pem(include_bytes!("../../sealed-secrets-core/tests/data/rsa4096-pkcs1.pem")).ok()
});

fuzz_target!(|data: &[u8]| {
    let Some(key) = KEY.as_ref() else { return };
    let Ok(documents) = read_documents(data) else { return };
    let options = UnsealOptions { accept_v1_data: true, template_limits: Limits::default(), template_time: None };
    for document in documents {
        if let Ok(ss) = document.into_sealed_secret() {
            if let Err(error) = unseal(&ss, &[key], &options) {
                let _ = error.to_string();
            }
        }
    }
});
