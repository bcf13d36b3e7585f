use std::sync::LazyLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

use super::*;

static KEY: LazyLock<PrivateKey> =
    LazyLock::new(|| PrivateKey::generate(2048).expect("generate 2048"));

#[test]
fn mpint_encoding() {
    let mut out = Vec::new();
    ssh_mpint(&mut out, &[0x00, 0x00, 0x01, 0x00, 0x01]);
    assert_eq!(out, [0, 0, 0, 3, 0x01, 0x00, 0x01]);
    out.clear();
    ssh_mpint(&mut out, &[0x80]);
    assert_eq!(out, [0, 0, 0, 2, 0x00, 0x80]);
    out.clear();
    ssh_mpint(&mut out, &[0, 0]);
    assert_eq!(out, [0, 0, 0, 0]);
}

#[test]
fn generate_sizes() {
    assert_eq!(KEY.size_bits(), 2048);
    assert_eq!(KEY.size_bytes(), 256);
    assert_eq!(KEY.public_key().size_bytes(), 256);
    assert_eq!(
        PrivateKey::generate(1024).map(|_| ()),
        Err(KeyError::UnsupportedKeySize { bits: 1024 })
    );
}

#[test]
fn pkcs1_and_pkcs8_pem_round_trip() {
    let pem1 = KEY.to_pkcs1_pem().expect("pkcs1 pem");
    let text = pem1.expose_str().expect("utf-8");
    assert!(text.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    assert!(text.ends_with("-----END RSA PRIVATE KEY-----\n"));
    assert!(text.lines().all(|l| l.len() <= 64));
    let back = PrivateKey::from_pem(pem1.expose()).expect("parse pkcs1");
    assert_eq!(back.fingerprint(), KEY.fingerprint());

    let pkcs8 = KEY.to_pkcs8_der().expect("pkcs8");
    let pem8 = pem_encode_secret(PEM_PRIVATE_KEY, pkcs8.expose());
    let back = PrivateKey::from_pem(pem8.expose()).expect("parse pkcs8");
    assert_eq!(back.public_key(), KEY.public_key());
    assert_eq!(
        back.to_pkcs1_der().expect("pkcs1").expose(),
        KEY.to_pkcs1_der().expect("pkcs1").expose()
    );
}

#[test]
fn pem_skips_other_blocks_and_takes_first_key() {
    let other = PrivateKey::generate(2048).expect("generate");
    let mut data =
        b"junk before\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec();
    data.extend_from_slice(
        b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    );
    data.extend_from_slice(KEY.to_pkcs1_pem().expect("pem").expose());
    data.extend_from_slice(other.to_pkcs1_pem().expect("pem").expose());
    let key = PrivateKey::from_pem(&data).expect("parse");
    assert_eq!(key.fingerprint(), KEY.fingerprint());
}

#[test]
fn malformed_pem_block_is_skipped() {
    let mut data =
        b"-----BEGIN RSA PRIVATE KEY-----\n!!!!\n-----END RSA PRIVATE KEY-----\n".to_vec();
    data.extend_from_slice(KEY.to_pkcs1_pem().expect("pem").expose());
    let key = PrivateKey::from_pem(&data).expect("parse");
    assert_eq!(key.fingerprint(), KEY.fingerprint());
}

#[test]
fn too_small_rsa_key_is_reported() {
    // A 1024-bit PKCS#1 key: generated with `openssl genrsa 1024`, test data only.
    let small = include_str!("../../tests/data/rsa1024-pkcs1.pem");
    let err = PrivateKey::from_pem(small.as_bytes()).expect_err("1024 bits");
    assert_eq!(err, KeyError::PrivateKeyRejected { reason: "TooSmall" });
    let junk = b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert_eq!(
        PrivateKey::from_pem(junk).map(|_| ()),
        Err(KeyError::NoPrivateKey)
    );
}

#[test]
fn pem_without_key_is_no_private_key() {
    let err = PrivateKey::from_pem(b"nothing here").expect_err("no key");
    assert_eq!(err, KeyError::NoPrivateKey);
    assert_eq!(
        err.to_string(),
        "data does not contain a valid RSA or ECDSA private key"
    );
    let cert_only = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_eq!(
        PrivateKey::from_pem(cert_only).map(|_| ()),
        Err(KeyError::NoPrivateKey)
    );
}

#[test]
fn ec_keys_are_not_rsa() {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("ec pkcs8");
    let pem8 = pem_encode_secret(PEM_PRIVATE_KEY, pkcs8.as_ref());
    let err = PrivateKey::from_pem(pem8.expose()).expect_err("ec");
    assert!(
        matches!(err, KeyError::NotRsa { role: KeyRole::Private, ref algorithm } if algorithm == "ECDSA")
    );
    assert_eq!(err.to_string(), "private key is not an RSA key");

    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("ec pair");
    let sec1 = pair.private_key().as_der().expect("sec1");
    let pem_ec = pem_encode_secret(PEM_EC_PRIVATE_KEY, sec1.as_ref());
    let err = PrivateKey::from_pem(pem_ec.expose()).expect_err("ec");
    assert_eq!(err.to_string(), "private key is not an RSA key");

    // An EC key ahead of an RSA key wins, as in client-go.
    let mut both = pem_ec.expose().to_vec();
    both.extend_from_slice(KEY.to_pkcs1_pem().expect("pem").expose());
    assert!(matches!(
        PrivateKey::from_pem(&both),
        Err(KeyError::NotRsa { .. })
    ));
}

#[test]
fn spki_round_trip_and_non_rsa() {
    let spki = KEY.public_key().spki_der().to_vec();
    let public = PublicKey::from_spki_der(&spki).expect("spki");
    assert_eq!(&public, KEY.public_key());
    assert_eq!(public.fingerprint(), KEY.fingerprint());
    assert_eq!(
        PublicKey::from_spki_der(b"\x30\x00").map(|_| ()),
        Err(KeyError::InvalidPublicKey)
    );

    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .expect("ec");
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("ec pair");
    let ec_spki = pair.public_key().as_der().expect("ec spki");
    let err = PublicKey::from_spki_der(ec_spki.as_ref()).expect_err("ec");
    assert_eq!(
        err,
        KeyError::NotRsa {
            role: KeyRole::Public,
            algorithm: "ECDSA".to_owned()
        }
    );
}

#[test]
fn debug_prints_no_material() {
    let debug = format!("{:?}", *KEY);
    assert!(debug.starts_with("PrivateKey { bits: 2048, fingerprint: Fingerprint(SHA256:"));
    let pkcs1 = KEY.to_pkcs1_der().expect("pkcs1");
    let b64 = STANDARD.encode(&pkcs1.expose()[..32]);
    assert!(!debug.contains(&b64[..20]));
    assert_eq!(
        format!("{:?}", KEY.to_pkcs1_pem().expect("pem")),
        "[redacted]"
    );
}

#[test]
fn fingerprint_shape() {
    let fp = KEY.fingerprint().to_string();
    assert!(fp.starts_with("SHA256:"));
    assert_eq!(fp.len(), "SHA256:".len() + 43);
    assert!(!fp.ends_with('='));
}
