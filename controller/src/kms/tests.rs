#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sealed_secrets_core::cert::{CertParams, Certificate};
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::wrapped_key::{DataKey, WrapError};

use super::*;

static KEY: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());
static OTHER: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());

fn cert(key: &PrivateKey) -> Certificate {
    Certificate::self_signed(
        key,
        &CertParams {
            common_name: "t".to_owned(),
            not_before: time::OffsetDateTime::now_utc(),
            validity: time::Duration::days(1),
        },
    )
    .unwrap()
}

/// A KMS in memory: AES-256-GCM under a fixed key, the context as additional data, as a real
/// KMS binds it.
#[derive(Debug, Default)]
struct FakeKms {
    down: AtomicBool,
}

impl FakeKms {
    fn kek() -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[42; 32]).unwrap())
    }
}

impl KeyWrapper for FakeKms {
    fn provider(&self) -> &'static str {
        "fake"
    }
    fn key_id(&self) -> &str {
        "fake-key"
    }
    fn encrypt<'a>(
        &'a self,
        data_key: &'a DataKey,
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<Vec<u8>, KmsError>> {
        Box::pin(async move {
            let mut out = data_key.expose().to_vec();
            let aad = serde_json::to_vec(context).unwrap();
            Self::kek()
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key([0; NONCE_LEN]),
                    Aad::from(aad),
                    &mut out,
                )
                .unwrap();
            Ok(out)
        })
    }
    fn decrypt<'a>(
        &'a self,
        key_id: &'a str,
        ciphertext: &'a [u8],
        context: &'a BTreeMap<String, String>,
    ) -> BoxFuture<'a, Result<DataKey, KmsError>> {
        Box::pin(async move {
            if self.down.load(Ordering::SeqCst) {
                return Err(KmsError::Unavailable {
                    operation: "Decrypt",
                    message: "connection refused".to_owned(),
                });
            }
            assert_eq!(key_id, "fake-key");
            let mut buf = ciphertext.to_vec();
            let aad = serde_json::to_vec(context).unwrap();
            let plain = Self::kek()
                .open_in_place(
                    Nonce::assume_unique_for_key([0; NONCE_LEN]),
                    Aad::from(aad),
                    &mut buf,
                )
                .map_err(|_| KmsError::Refused {
                    operation: "Decrypt",
                    message: "InvalidCiphertextException".to_owned(),
                })?;
            Ok(DataKey::from_slice(plain).unwrap())
        })
    }
}

#[tokio::test]
async fn wraps_and_unwraps_through_the_kms() {
    let kms = FakeKms::default();
    let wrapped = wrap(&kms, &KEY).await.unwrap();
    assert_eq!(wrapped.provider, "fake");
    assert_eq!(wrapped.key_id, "fake-key");
    let key = unwrap(&kms, &wrapped, &cert(&KEY)).await.unwrap();
    assert_eq!(key.fingerprint(), KEY.fingerprint());
}

#[tokio::test]
async fn an_envelope_next_to_another_certificate_is_refused_by_the_kms() {
    let kms = FakeKms::default();
    let wrapped = wrap(&kms, &KEY).await.unwrap();
    let err = unwrap(&kms, &wrapped, &cert(&OTHER)).await.unwrap_err();
    assert!(
        matches!(err, KeyWrapError::Kms(KmsError::Refused { .. })),
        "{err}"
    );
    assert!(!err.is_unavailable());
}

#[tokio::test]
async fn an_altered_envelope_does_not_open() {
    let kms = FakeKms::default();
    let wrapped = wrap(&kms, &KEY).await.unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&wrapped.to_json()).unwrap();
    let mut bytes = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        json["encryptedKey"].as_str().unwrap(),
    )
    .unwrap();
    bytes[0] ^= 0x80;
    json["encryptedKey"] =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes).into();
    let altered =
        sealed_secrets_core::wrapped_key::WrappedKey::parse(&serde_json::to_vec(&json).unwrap())
            .unwrap();
    let err = unwrap(&kms, &altered, &cert(&KEY)).await.unwrap_err();
    assert_eq!(err, KeyWrapError::Envelope(WrapError::NotOpened));
}

#[tokio::test]
async fn another_providers_envelope_and_an_absent_kms_are_told_apart() {
    let kms = FakeKms::default();
    let mut wrapped = wrap(&kms, &KEY).await.unwrap();
    kms.down.store(true, Ordering::SeqCst);
    let err = unwrap(&kms, &wrapped, &cert(&KEY)).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert_eq!(err.to_string(), "KMS Decrypt failed: connection refused");
    wrapped.provider = "gcp-kms".to_owned();
    let err = unwrap(&kms, &wrapped, &cert(&KEY)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the key was wrapped by provider \"gcp-kms\"; this controller uses \"fake\""
    );
}
