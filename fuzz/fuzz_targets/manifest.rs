//! Manifest reading (YAML 1.1 / JSON, multi-document, `List`) and writing back: never panics,
//! and what it reads it can write.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::manifest::{read_documents, to_json, to_yaml};

fuzz_target!(|data: &[u8]| {
    let Ok(documents) = read_documents(data) else { return };
    for document in documents {
        let _ = document.position().to_string();
        if document.kind() == Some("SealedSecret") {
            if let Ok(ss) = document.into_sealed_secret() {
                let _ = to_json(&ss);
                let _ = to_yaml(&ss);
            }
        } else if let Ok(secret) = document.into_secret() {
            let _ = to_json(&secret);
            let _ = to_yaml(&secret);
        }
    }
});
