//! Inputs the fuzzers (`fuzz/`) once crashed on, replayed the way their target uses them.
//! Add a file to `tests/data/fuzz-regressions/<target>/` with each fix.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::Path;

use sealed_secrets_core::manifest::{read_documents, to_json, to_yaml};

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("tests/data/fuzz-regressions")
    .join(target);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn manifest_inputs_read_and_write_back() {
    let inputs = inputs("manifest");
    assert!(!inputs.is_empty());
    for input in inputs {
        for document in read_documents(&input).unwrap_or_default() {
            if let Ok(secret) = document.into_secret() {
                let yaml = to_yaml(&secret).unwrap();
                let json = to_json(&secret).unwrap();
                // Deterministic: the same input writes the same bytes.
                assert_eq!(yaml, to_yaml(&secret).unwrap());
                assert_eq!(json, to_json(&secret).unwrap());
            }
        }
    }
}
