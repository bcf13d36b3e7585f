//! The hybrid blob (SPEC §1.2) from an attacker: any bytes, decrypted with a real key, must fail
//! cleanly (or, astronomically unlikely, succeed) — never panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::crypto::{decrypt_with_key, rsa_block_len};
use sealed_secrets_core::keys::PrivateKey;

static KEY: LazyLock<Option<PrivateKey>> = LazyLock::new(|| {
    PrivateKey::from_pem(include_bytes!("../../sealed-secrets-core/tests/data/rsa4096-pkcs1.pem")).ok()
});

fuzz_target!(|data: &[u8]| {
    let _ = rsa_block_len(data);
    if let Some(key) = KEY.as_ref() {
        let _ = decrypt_with_key(key, b"namespace/name", data);
    }
});
