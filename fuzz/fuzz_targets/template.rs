//! `spec.template.data` sources against fixed values: bounded, never panics.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::secret_bytes::SecretBytes;
use sealed_secrets_core::template::{Limits, render};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let mut values = BTreeMap::new();
    values.insert("user".to_owned(), SecretBytes::from_slice(b"admin"));
    values.insert("password".to_owned(), SecretBytes::from_slice(b"p@ss\"word\n"));
    let limits = Limits { max_steps: 100_000, ..Limits::default() };
    if let Err(error) = render("fuzz", source, &values, &limits) {
        let _ = error.to_string();
    }
});
