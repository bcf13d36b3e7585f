//! Properties of the hybrid blob format (round trip in every scope; wrong label, wrong key,
//! truncation and any single-byte corruption all fail opaquely), and known answers from the
//! fixtures in `tests/data/` (made with openssl, ssh-keygen and upstream kubeseal; see its
//! README).

// Test helpers and statics live outside `#[test]` functions, where clippy.toml's test allowances
// do not reach; a failing setup should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use sealed_secrets_core::cert::{CertError, Certificate};
use sealed_secrets_core::crypto::{
    DecryptError, blob_len, decrypt_with_key, hybrid_decrypt, hybrid_encrypt, rsa_block_len,
};
use sealed_secrets_core::keys::{KeyError, PrivateKey};
use sealed_secrets_core::scope::Scope;
use time::macros::datetime;

/// Two 2048-bit keys, generated once for the whole file so that the properties stay quick.
static KEY: LazyLock<PrivateKey> =
    LazyLock::new(|| PrivateKey::generate(2048).expect("generate 2048"));
static OTHER_KEY: LazyLock<PrivateKey> =
    LazyLock::new(|| PrivateKey::generate(2048).expect("generate 2048"));

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        Just(Scope::Strict),
        Just(Scope::NamespaceWide),
        Just(Scope::ClusterWide)
    ]
}

/// Kubernetes-ish names (DNS labels), plus the empty string that upstream also handles.
fn name() -> impl Strategy<Value = String> {
    "[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?|"
}

fn plaintext() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..1024)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn round_trip_in_every_scope(
        scope in scope(),
        namespace in name(),
        secret_name in name(),
        plaintext in plaintext(),
    ) {
        let label = scope.label(&namespace, &secret_name);
        let blob = hybrid_encrypt(KEY.public_key(), &label, &plaintext).expect("seal");
        prop_assert_eq!(blob.len(), blob_len(256, plaintext.len()));
        prop_assert_eq!(rsa_block_len(&blob), Some(256));

        let opened = hybrid_decrypt(&[&*OTHER_KEY, &*KEY], &label, &blob).expect("unseal");
        prop_assert_eq!(opened.plaintext.expose(), plaintext.as_slice());
        prop_assert_eq!(opened.key_index, 1);
    }

    #[test]
    fn sealing_twice_gives_different_blobs(plaintext in plaintext()) {
        let a = hybrid_encrypt(KEY.public_key(), b"ns/n", &plaintext).expect("seal");
        let b = hybrid_encrypt(KEY.public_key(), b"ns/n", &plaintext).expect("seal");
        prop_assert_ne!(a, b);
    }

    #[test]
    fn wrong_label_fails(
        sealed_scope in scope(),
        opened_scope in scope(),
        namespace in name(),
        secret_name in name(),
        other_name in name(),
        plaintext in plaintext(),
    ) {
        let label = sealed_scope.label(&namespace, &secret_name);
        let other_label = opened_scope.label(&namespace, &other_name);
        prop_assume!(label != other_label);
        let blob = hybrid_encrypt(KEY.public_key(), &label, &plaintext).expect("seal");
        prop_assert_eq!(hybrid_decrypt(&[&*KEY], &other_label, &blob), Err(DecryptError));
    }

    #[test]
    fn any_single_byte_corruption_fails(
        plaintext in plaintext(),
        position in any::<prop::sample::Index>(),
        flip in 1..=255u8,
    ) {
        let mut blob = hybrid_encrypt(KEY.public_key(), b"ns/n", &plaintext).expect("seal");
        let at = position.index(blob.len());
        blob[at] ^= flip;
        let err = hybrid_decrypt(&[&*KEY], b"ns/n", &blob).expect_err("corrupted blob opened");
        prop_assert_eq!(err.to_string(), "no key could decrypt secret");
    }

    #[test]
    fn any_truncation_fails(plaintext in plaintext(), cut in any::<prop::sample::Index>()) {
        let blob = hybrid_encrypt(KEY.public_key(), b"ns/n", &plaintext).expect("seal");
        let len = cut.index(blob.len());
        prop_assert_eq!(hybrid_decrypt(&[&*KEY], b"ns/n", &blob[..len]), Err(DecryptError));
    }

    #[test]
    fn wrong_key_fails(scope in scope(), plaintext in plaintext()) {
        let label = scope.label("ns", "n");
        let blob = hybrid_encrypt(KEY.public_key(), &label, &plaintext).expect("seal");
        prop_assert_eq!(hybrid_decrypt(&[&*OTHER_KEY], &label, &blob), Err(DecryptError));
        prop_assert_eq!(decrypt_with_key(&*OTHER_KEY, &label, &blob), Err(DecryptError));
    }

    #[test]
    fn arbitrary_input_never_opens(blob in prop::collection::vec(any::<u8>(), 0..600)) {
        prop_assert_eq!(hybrid_decrypt(&[&*KEY], b"", &blob), Err(DecryptError));
    }
}

// ---- Known answers from tests/data ----------------------------------------------------------

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
        "tests",
        "data",
        name,
    ]
    .iter()
    .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("utf-8 fixture")
}

static FIXTURE_KEY: LazyLock<PrivateKey> =
    LazyLock::new(|| PrivateKey::from_pem(&fixture("rsa4096-pkcs1.pem")).expect("pkcs1 key"));

#[test]
fn fixture_fingerprint_matches_ssh_keygen() {
    let expected = fixture_text("rsa4096-fingerprint.txt");
    let expected = expected.trim();
    assert_eq!(FIXTURE_KEY.fingerprint().to_string(), expected);
    let pkcs8 = PrivateKey::from_pem(&fixture("rsa4096-pkcs8.pem")).expect("pkcs8 key");
    assert_eq!(pkcs8.fingerprint().to_string(), expected);
    let cert = Certificate::from_pem(&fixture("rsa4096-cert.pem")).expect("cert");
    assert_eq!(cert.fingerprint().to_string(), expected);
    assert_eq!(cert.public_key(), FIXTURE_KEY.public_key());
}

#[test]
fn fixture_pkcs8_converts_to_openssl_pkcs1_pem() {
    let pkcs8 = PrivateKey::from_pem(&fixture("rsa4096-pkcs8.pem")).expect("pkcs8 key");
    let pem = pkcs8.to_pkcs1_pem().expect("pkcs1 pem");
    assert_eq!(pem.expose(), fixture("rsa4096-pkcs1.pem").as_slice());
}

#[test]
fn fixture_values_sealed_by_upstream_kubeseal_open() {
    for (scope, file) in [
        (Scope::Strict, "upstream-sealed-strict.b64"),
        (Scope::NamespaceWide, "upstream-sealed-namespace-wide.b64"),
        (Scope::ClusterWide, "upstream-sealed-cluster-wide.b64"),
    ] {
        let text = fixture_text(file);
        assert!(text.starts_with("Ag"), "{file}: 4096-bit prefix");
        let blob = STANDARD.decode(text.trim()).expect("base64");
        assert_eq!(rsa_block_len(&blob), Some(512));
        assert_eq!(blob.len(), blob_len(512, b"hunter2".len()));
        let label = scope.label("myns", "mysecret");
        let opened = hybrid_decrypt(&[&*KEY, &*FIXTURE_KEY], &label, &blob).expect(file);
        assert_eq!(opened.plaintext.expose(), b"hunter2");
        assert_eq!(opened.key_index, 1);
        // Each value is bound to its own scope's label.
        for other in Scope::ALL.into_iter().filter(|s| *s != scope) {
            let other_label = other.label("myns", "mysecret");
            assert_eq!(
                decrypt_with_key(&*FIXTURE_KEY, &other_label, &blob),
                Err(DecryptError)
            );
        }
    }
}

#[test]
fn fixture_certificate_seals_4096_round_trip() {
    let cert = Certificate::from_pem(&fixture("rsa4096-cert.pem")).expect("cert");
    assert_eq!(cert.public_key().size_bits(), 4096);
    let label = Scope::Strict.label("myns", "mysecret");
    let blob = hybrid_encrypt(cert.public_key(), &label, b"value").expect("seal");
    assert_eq!(&blob[..2], &[0x02, 0x00]);
    let opened = decrypt_with_key(&*FIXTURE_KEY, &label, &blob).expect("unseal");
    assert_eq!(opened.expose(), b"value");
}

#[test]
fn fixture_expired_certificate_message_matches_kubeseal() {
    let cert = Certificate::from_pem(&fixture("rsa4096-expired-cert.pem")).expect("cert");
    assert_eq!(cert.not_after(), datetime!(2021-06-18 04:32:45 UTC));
    let upstream = fixture_text("upstream-expired-error.txt");
    let upstream = upstream.trim_end().trim_start_matches("error: ");
    let err = cert
        .check_not_expired(datetime!(2021-06-18 04:32:46 UTC))
        .expect_err("expired");
    assert_eq!(err.to_string(), upstream);
    assert!(matches!(err, CertError::Expired { .. }));
}

#[test]
fn fixture_ec_keys_and_certificates_are_refused() {
    for file in ["ec-p256-sec1.pem", "ec-p256-pkcs8.pem"] {
        let err = PrivateKey::from_pem(&fixture(file)).expect_err(file);
        assert!(matches!(err, KeyError::NotRsa { .. }), "{file}: {err:?}");
        assert_eq!(err.to_string(), "private key is not an RSA key");
    }
    let err = Certificate::from_pem(&fixture("ec-p256-cert.pem")).expect_err("ec cert");
    assert_eq!(err.to_string(), "expected RSA public key but found ECDSA");
}

#[test]
fn fixture_private_key_pem_takes_first_key_of_a_bundle() {
    // A cert followed by an EC key followed by the RSA key: the EC key comes first and wins
    // (and is refused), as with client-go.
    let mut bundle = fixture("rsa4096-cert.pem");
    bundle.extend_from_slice(&fixture("ec-p256-sec1.pem"));
    bundle.extend_from_slice(&fixture("rsa4096-pkcs1.pem"));
    assert!(matches!(
        PrivateKey::from_pem(&bundle),
        Err(KeyError::NotRsa { .. })
    ));
    // The RSA key first: it wins.
    let mut bundle = fixture("rsa4096-cert.pem");
    bundle.extend_from_slice(&fixture("rsa4096-pkcs8.pem"));
    bundle.extend_from_slice(&fixture("ec-p256-sec1.pem"));
    let key = PrivateKey::from_pem(&bundle).expect("rsa first");
    assert_eq!(key.fingerprint(), FIXTURE_KEY.fingerprint());
}
