//! Unit tests of the key set, its registry and the key manager.

use super::*;
use std::collections::BTreeMap;

use crate::cli::KeyOrderPriority;
use crate::target_secret;
use k8s_openapi::api::core::v1::Secret;
use sealed_secrets_core::cert::CertParams;
use time::macros::datetime;

fn entry(bits: usize, order: OffsetDateTime) -> KeyEntry {
    let key = PrivateKey::generate(bits).unwrap();
    let cert = Certificate::self_signed(
        &key,
        &CertParams {
            common_name: String::new(),
            not_before: order,
            validity: time::Duration::days(3650),
        },
    )
    .unwrap();
    KeyEntry::new(key, cert, order, "k".into())
}

#[test]
fn latest_only_moves_forward_and_dedups() {
    let reg = KeyRegistry::new();
    let t1 = datetime!(2024-01-01 00:00 UTC);
    let t0 = datetime!(2023-01-01 00:00 UTC);
    let a = entry(2048, t1);
    let a_fp = a.fingerprint.clone();
    assert!(reg.register(a));
    // An older key does not become the latest.
    let b = entry(2048, t0);
    let b_fp = b.fingerprint.clone();
    assert!(reg.register(b));
    let snap = reg.snapshot();
    assert_eq!(snap.latest().unwrap().fingerprint, a_fp);
    assert_eq!(snap.len(), 2);
    // A tie does not replace the latest either.
    let c = entry(2048, t1);
    let c_fp = c.fingerprint.clone();
    reg.register(c);
    assert_eq!(reg.snapshot().latest().unwrap().fingerprint, a_fp);
    // Unseal order: latest, then newest first.
    let order: Vec<_> = reg
        .snapshot()
        .unseal_order()
        .iter()
        .map(|e| e.fingerprint.clone())
        .collect();
    assert_eq!(order, vec![a_fp.clone(), c_fp, b_fp]);
    // Re-registering the same key is a no-op.
    let snap = reg.snapshot();
    let latest = snap.latest().unwrap();
    let dup = KeyEntry {
        order_time: datetime!(2030-01-01 00:00 UTC),
        secret_name: "dup".into(),
        key: Arc::clone(&latest.key),
        provider: latest.provider.clone(),
        cert: latest.cert.clone(),
        fingerprint: latest.fingerprint.clone(),
        digest_key: latest.digest_key.clone(),
    };
    assert!(!reg.register(dup));
    assert_eq!(reg.snapshot().len(), 3);
    assert_eq!(reg.snapshot().latest().unwrap().fingerprint, a_fp);
    // A key dated far ahead is registered (it decrypts) but never becomes the latest.
    let future = entry(
        2048,
        OffsetDateTime::now_utc() + time::Duration::days(365 * 70),
    );
    let future_fp = future.fingerprint.clone();
    assert!(reg.register(future));
    assert_eq!(reg.snapshot().latest().unwrap().fingerprint, a_fp);
    assert!(reg.snapshot().by_fingerprint(future_fp.as_str()).is_some());
}

#[test]
fn snapshots_are_stable() {
    let reg = KeyRegistry::new();
    let before = reg.snapshot();
    reg.register(entry(2048, datetime!(2024-01-01 00:00 UTC)));
    assert!(before.is_empty());
    assert_eq!(reg.snapshot().len(), 1);
    let rx = reg.subscribe();
    reg.register(entry(2048, datetime!(2025-01-01 00:00 UTC)));
    assert!(rx.has_changed().unwrap());
}

#[test]
fn malformed_key_secret_is_an_error_not_a_crash() {
    let secret = Secret {
        metadata: kube::core::ObjectMeta {
            name: Some("bad".into()),
            ..Default::default()
        },
        data: Some(
            [
                (
                    "tls.key".to_owned(),
                    k8s_openapi::ByteString(b"garbage".to_vec()),
                ),
                (
                    "tls.crt".to_owned(),
                    k8s_openapi::ByteString(b"garbage".to_vec()),
                ),
            ]
            .into(),
        ),
        ..Secret::default()
    };
    let err = entry_from_secret(&secret, KeyOrderPriority::CertNotBefore).unwrap_err();
    assert!(err.contains("bad"), "{err}");
    let empty = Secret::default();
    assert!(entry_from_secret(&empty, KeyOrderPriority::CertNotBefore).is_err());
}

#[test]
fn a_certificate_of_another_key_is_refused() {
    let key = PrivateKey::generate(2048).unwrap();
    let other = PrivateKey::generate(2048).unwrap();
    let now = OffsetDateTime::now_utc();
    let cert = Certificate::self_signed(&other, &CertParams::controller_default(now)).unwrap();
    let mut core = sealed_secrets_core::key_secret::new_key_secret(
        &key,
        &cert,
        "sealed-secrets-key",
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
    .unwrap();
    core.metadata.name = "planted".into();
    let secret = target_secret::to_k8s(&core);
    let err = entry_from_secret(&secret, KeyOrderPriority::CertNotBefore).unwrap_err();
    assert_eq!(
        err,
        "key Secret \"planted\": its certificate does not match its private key"
    );
}
