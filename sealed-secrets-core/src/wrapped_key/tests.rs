use std::collections::BTreeMap;
use std::sync::LazyLock;

use time::OffsetDateTime;

use super::*;
use crate::cert::CertParams;
use crate::key_secret::{self, new_key_secret};

static KEY: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());
static OTHER: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());

fn cert(key: &PrivateKey) -> Certificate {
    Certificate::self_signed(
        key,
        &CertParams {
            common_name: "test".to_owned(),
            not_before: OffsetDateTime::now_utc(),
            validity: time::Duration::days(1),
        },
    )
    .unwrap()
}

fn key_secret(key: &PrivateKey) -> Secret {
    let mut s = new_key_secret(
        key,
        &cert(key),
        "sealed-secrets-key",
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
    .unwrap();
    s.metadata.name = "sealed-secrets-keyabcde".to_owned();
    s
}

#[test]
fn wraps_and_opens() {
    let dk = DataKey::generate().unwrap();
    let w = WrappedKey::seal(&KEY, &dk, "aws-kms", "alias/k", b"blob".to_vec()).unwrap();
    let parsed = WrappedKey::parse(&w.to_json()).unwrap();
    assert_eq!(parsed, w);
    let opened = parsed.open(&dk, &KEY.fingerprint()).unwrap();
    assert_eq!(opened.fingerprint(), KEY.fingerprint());
}

#[test]
fn the_envelope_holds_no_key_in_the_clear() {
    let dk = DataKey::generate().unwrap();
    let w = WrappedKey::seal(&KEY, &dk, "aws-kms", "alias/k", vec![1, 2, 3]).unwrap();
    let json = String::from_utf8(w.to_json()).unwrap();
    let der = KEY.to_pkcs1_der().unwrap();
    let der_b64 = STANDARD.encode(der.expose());
    assert!(!json.contains(&der_b64[..40]), "{json}");
    assert!(!json.contains("PRIVATE KEY"));
    assert!(json.contains("\"version\":1"), "{json}");
}

#[test]
fn is_bound_to_its_key() {
    let dk = DataKey::generate().unwrap();
    let w = WrappedKey::seal(&KEY, &dk, "aws-kms", "k", vec![]).unwrap();
    // Another key's fingerprint (a copied envelope next to another certificate): not opened.
    assert_eq!(
        w.open(&dk, &OTHER.fingerprint()).unwrap_err(),
        WrapError::NotOpened
    );
    // Another data key: not opened.
    let other_dk = DataKey::generate().unwrap();
    assert_eq!(
        w.open(&other_dk, &KEY.fingerprint()).unwrap_err(),
        WrapError::NotOpened
    );
    // One flipped bit: not opened.
    let mut altered = w.clone();
    altered.encrypted_key[10] ^= 1;
    assert_eq!(
        altered.open(&dk, &KEY.fingerprint()).unwrap_err(),
        WrapError::NotOpened
    );
}

#[test]
fn bad_envelopes_are_one_line_errors() {
    for (bytes, want) in [
        (&b"not json"[..], "syntax error"),
        (br#"{"version":1}"#, "unexpected field or type"),
        (
            br#"{"version":2,"provider":"p","keyId":"k","encryptedDataKey":"","nonce":"","encryptedKey":""}"#,
            "version 2",
        ),
        (
            br#"{"version":1,"provider":"p","keyId":"k","encryptedDataKey":"!","nonce":"AAAAAAAAAAAAAAAA","encryptedKey":""}"#,
            "encryptedDataKey is not base64",
        ),
        (
            br#"{"version":1,"provider":"p","keyId":"k","encryptedDataKey":"","nonce":"AAAA","encryptedKey":""}"#,
            "nonce is not 12 bytes",
        ),
    ] {
        let e = WrappedKey::parse(bytes).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
        assert!(!e.contains('\n'));
    }
    let huge = vec![b' '; MAX_ENVELOPE_LEN + 1];
    assert!(matches!(
        WrappedKey::parse(&huge),
        Err(WrapError::Malformed(_))
    ));
    assert_eq!(
        DataKey::from_slice(&[0; 16]).unwrap_err(),
        WrapError::DataKeyLength(16)
    );
}

#[test]
fn secrets_convert_both_ways_and_keep_their_identity() {
    let plain = key_secret(&KEY);
    assert!(!is_wrapped(&plain));
    assert!(wrapped_from_secret(&plain).unwrap().is_none());
    let dk = DataKey::generate().unwrap();
    let w = WrappedKey::seal(&KEY, &dk, "aws-kms", "alias/k", vec![9]).unwrap();
    let mut wrapped = plain.clone();
    wrap_secret(&mut wrapped, &w);
    assert!(is_wrapped(&wrapped));
    assert!(wrapped.data[TLS_KEY].is_empty());
    assert_eq!(wrapped.metadata.annotations[KMS_KEY_ANNOTATION], "alias/k");
    assert_eq!(wrapped.metadata.name, plain.metadata.name);
    assert_eq!(wrapped.metadata.labels, plain.metadata.labels);
    assert_eq!(wrapped.type_, plain.type_);
    // Without the KMS it reads as a Secret with no usable key.
    assert!(key_secret::key_from_secret(&wrapped).is_err());
    let (back, cert) = wrapped_from_secret(&wrapped).unwrap().unwrap();
    assert_eq!(back, w);
    let key = back.open(&dk, &cert.public_key().fingerprint()).unwrap();
    let mut unwrapped = wrapped.clone();
    unwrap_secret(&mut unwrapped, &key).unwrap();
    assert_eq!(unwrapped.data, plain.data);
    assert!(
        !unwrapped
            .metadata
            .annotations
            .contains_key(KMS_KEY_ANNOTATION)
    );
    assert_eq!(
        key_secret::key_from_secret(&unwrapped)
            .unwrap()
            .key
            .fingerprint(),
        KEY.fingerprint()
    );
}

#[test]
fn the_context_names_the_key() {
    let ctx = encryption_context(&KEY.fingerprint());
    assert_eq!(ctx[CONTEXT_PURPOSE], "sealing-key");
    assert_eq!(ctx[CONTEXT_KEY], KEY.fingerprint().as_str());
}

#[test]
fn debug_hides_the_data_key() {
    let dk = DataKey::from_slice(&[7; DATA_KEY_LEN]).unwrap();
    assert_eq!(format!("{dk:?}"), "DataKey([redacted])");
}
