//! `--recovery-private-key` files and key Secrets: PEM, Secret manifests, `List`s of them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::key_secret::private_keys_from_file;

fuzz_target!(|data: &[u8]| {
    if let Err(error) = private_keys_from_file(data) {
        let _ = error.to_string();
    }
});
