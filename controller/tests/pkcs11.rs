//! The PKCS#11 key provider (`controller/src/pkcs11.rs`) against a real token: kryoptic, built
//! by `tests/pkcs11/install.sh` (SoftHSM 2.6.1 refuses OAEP with SHA-256, see `docs/keys.md`).
//!
//! Skipped unless `SSRS_PKCS11=1`; then the module must be installed (`SSRS_PKCS11_MODULE`, or
//! the install script's cache path). Each test runs in a child process of this test binary with
//! its own token (`KRYOPTIC_CONF` names a fresh SQLite store), since a module is initialised
//! once per process and the environment is set only for a child.
//!
//! - a 4096-bit key generated in the token seals with `crypto::hybrid_encrypt` and opens in
//!   the token (RSA-OAEP SHA-256/MGF1-SHA-256 with the scope label), AES-GCM finished here;
//! - a wrong label, another key's blob, or a truncated block do not open;
//! - the private key is sensitive and not extractable: its private exponent is refused;
//! - the PIN never shows in errors;
//! - the self-signed certificate is signed in the token and verifies with the key;
//! - SoftHSM 2.6, when installed, fails the self-test with `CKR_ARGUMENTS_BAD`;
//! - `bench_oaep_decrypt` (also `SSRS_PKCS11_BENCH=1`): a timing figure, no threshold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use cryptoki::object::{Attribute, AttributeInfo, AttributeType};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use sealed_secrets_controller::cli::Pkcs11Settings;
use sealed_secrets_controller::pkcs11::provider::TokenProvider;
use sealed_secrets_controller::pkcs11::{Module, Pin, Pkcs11Error, Token};
use sealed_secrets_core::cert::CertParams;
use sealed_secrets_core::crypto;
use sealed_secrets_core::keys::{Decrypter as _, PrivateKey, UnwrapError};
use sealed_secrets_core::scope::Scope;
use x509_parser::prelude::{FromDer as _, X509Certificate};

const TOKEN_LABEL: &str = "ssrs-test";
const SO_PIN: &str = "ssrs-so-pin-5318";
const USER_PIN: &str = "ssrs-user-pin-7204";
const KEY_LABEL: &str = "sealed-secrets-key-test";

fn enabled() -> bool {
    std::env::var("SSRS_PKCS11").is_ok_and(|v| v == "1")
}

/// The module the child was given.
fn module_path_in_child() -> PathBuf {
    PathBuf::from(std::env::var("SSRS_PKCS11_MODULE").unwrap())
}

fn module_path() -> PathBuf {
    if let Ok(path) = std::env::var("SSRS_PKCS11_MODULE") {
        return PathBuf::from(path);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
    PathBuf::from(home).join(".cache/sealed-secrets-rs/kryoptic-1.5.4/libkryoptic_pkcs11.so")
}

/// Which soft token a test runs against.
#[derive(Clone, Copy)]
enum Soft {
    /// kryoptic (`tests/pkcs11/install.sh`): does everything sealing needs.
    Kryoptic,
    /// Debian's SoftHSM 2.6 (`apt-get install softhsm2`), for the negative check only.
    SoftHsm,
}

const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Runs `body` with a freshly initialised kryoptic token (label [`TOKEN_LABEL`], PINs above)
/// in a child process; the parent only checks that the child passed.
fn in_token(test: &str, body: impl FnOnce(Module)) {
    in_soft_token(Soft::Kryoptic, test, body);
}

fn in_soft_token(soft: Soft, test: &str, body: impl FnOnce(Module)) {
    if !enabled() {
        eprintln!("skipped: set SSRS_PKCS11=1 (after bash tests/pkcs11/install.sh) to run {test}");
        return;
    }
    if std::env::var("SSRS_PKCS11_CHILD").is_ok_and(|v| v == "1") {
        let module = Module::load(&module_path()).unwrap();
        init_token(&module);
        body(module);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("SSRS_PKCS11_CHILD", "1");
    match soft {
        Soft::Kryoptic => {
            let module = module_path();
            assert!(
                module.is_file(),
                "{} is missing: run bash tests/pkcs11/install.sh (or set SSRS_PKCS11_MODULE)",
                module.display()
            );
            let conf = dir.path().join("kryoptic.conf");
            std::fs::write(
                &conf,
                format!(
                    "[[slots]]\nslot = 1\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
                    dir.path().join("token.sql").display()
                ),
            )
            .unwrap();
            child
                .env("SSRS_PKCS11_MODULE", &module)
                .env("KRYOPTIC_CONF", &conf);
        }
        Soft::SoftHsm => {
            if !std::path::Path::new(SOFTHSM_MODULE).is_file() {
                eprintln!("skipped: {SOFTHSM_MODULE} is not installed (apt-get install softhsm2)");
                return;
            }
            let tokens = dir.path().join("tokens");
            std::fs::create_dir(&tokens).unwrap();
            let conf = dir.path().join("softhsm2.conf");
            std::fs::write(
                &conf,
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                    tokens.display()
                ),
            )
            .unwrap();
            child
                .env("SSRS_PKCS11_MODULE", SOFTHSM_MODULE)
                .env("SOFTHSM2_CONF", &conf);
        }
    }
    let out = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(out.status.success(), "{test} failed in the token");
    assert!(
        stdout.contains("1 passed"),
        "{test} did not run in the child"
    );
}

/// `C_InitToken` with the SO PIN, then the user PIN set by the SO.
fn init_token(module: &Module) {
    let ctx = module.context();
    let slot = *ctx.get_all_slots().unwrap().first().expect("a slot");
    ctx.init_token(slot, &AuthPin::from(SO_PIN), TOKEN_LABEL)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    session
        .login(UserType::So, Some(&AuthPin::from(SO_PIN)))
        .unwrap();
    session.init_pin(&AuthPin::from(USER_PIN)).unwrap();
    session.logout().unwrap();
}

fn open(module: &Module) -> Token {
    module
        .open_token(Some(TOKEN_LABEL), &Pin::new(USER_PIN.to_owned()))
        .unwrap()
}

#[test]
fn round_trip_in_token() {
    in_token("round_trip_in_token", |module| {
        let token = open(&module);
        assert!(token.find_key(KEY_LABEL).unwrap().is_none());
        let key = token.find_or_generate_key(KEY_LABEL, 4096).unwrap();
        assert_eq!(key.public_key().size_bits(), 4096);
        key.self_test().unwrap();

        let label = Scope::Strict.label("prod", "db-credentials");
        let blob = crypto::hybrid_encrypt(key.public_key(), &label, b"s3cr3t in a token").unwrap();
        assert_eq!(crypto::rsa_block_len(&blob), Some(512));
        let plaintext = key.decrypt_blob(&label, &blob).unwrap();
        assert_eq!(plaintext.expose(), b"s3cr3t in a token");

        // The RSA block alone gives the 32-byte session key.
        let session_key = key.decrypt_session_key(&label, &blob[2..2 + 512]).unwrap();
        assert_eq!(session_key.len(), crypto::SESSION_KEY_LEN);

        // Found again by label, same key; no second key is generated.
        let again = token.find_or_generate_key(KEY_LABEL, 4096).unwrap();
        assert_eq!(again.fingerprint(), key.fingerprint());
        assert_eq!(again.handle(), key.handle());
    });
}

#[test]
fn wrong_label_or_key_fails() {
    in_token("wrong_label_or_key_fails", |module| {
        let token = open(&module);
        let key = token.generate_key(KEY_LABEL, 4096).unwrap();
        let label = Scope::Strict.label("prod", "db-credentials");
        let blob = crypto::hybrid_encrypt(key.public_key(), &label, b"value").unwrap();

        let other_label = Scope::Strict.label("prod", "other");
        assert_eq!(
            key.decrypt_blob(&other_label, &blob).unwrap_err(),
            UnwrapError::NotOpened
        );
        assert_eq!(
            key.decrypt_blob(b"", &blob).unwrap_err(),
            UnwrapError::NotOpened
        );
        // A blob for another key (same size) does not open either.
        let other = PrivateKey::generate(4096).unwrap();
        let foreign = crypto::hybrid_encrypt(other.public_key(), &label, b"value").unwrap();
        assert_eq!(
            key.decrypt_blob(&label, &foreign).unwrap_err(),
            UnwrapError::NotOpened
        );
        // Too short, or a flipped AES-GCM byte.
        assert_eq!(
            key.decrypt_blob(&label, &blob[..100]).unwrap_err(),
            UnwrapError::NotOpened
        );
        let mut corrupt = blob.clone();
        *corrupt.last_mut().unwrap() ^= 1;
        assert_eq!(
            key.decrypt_blob(&label, &corrupt).unwrap_err(),
            UnwrapError::NotOpened
        );
        assert_eq!(key.decrypt_blob(&label, &blob).unwrap().expose(), b"value");
    });
}

#[test]
fn private_key_is_not_extractable() {
    in_token("private_key_is_not_extractable", |module| {
        let token = open(&module);
        let key = token.generate_key(KEY_LABEL, 4096).unwrap();
        token.with_session(|session| {
            let info = session
                .get_attribute_info(
                    key.handle(),
                    &[
                        AttributeType::PrivateExponent,
                        AttributeType::Prime1,
                        AttributeType::Prime2,
                    ],
                )
                .unwrap();
            assert!(
                info.iter().all(|i| matches!(i, AttributeInfo::Sensitive)),
                "{info:?}"
            );
            // Reading them gives nothing back.
            let values = session
                .get_attributes(
                    key.handle(),
                    &[AttributeType::PrivateExponent, AttributeType::Prime1],
                )
                .unwrap();
            assert!(values.is_empty(), "{} attributes returned", values.len());
            let flags = session
                .get_attributes(
                    key.handle(),
                    &[
                        AttributeType::Extractable,
                        AttributeType::Sensitive,
                        AttributeType::NeverExtractable,
                        AttributeType::AlwaysSensitive,
                    ],
                )
                .unwrap();
            for flag in flags {
                match flag {
                    Attribute::Extractable(b) => assert!(!b, "CKA_EXTRACTABLE"),
                    Attribute::Sensitive(b)
                    | Attribute::NeverExtractable(b)
                    | Attribute::AlwaysSensitive(b) => assert!(b, "{flag:?}"),
                    other => panic!("unexpected {other:?}"),
                }
            }
        });
    });
}

#[test]
fn pin_never_in_errors() {
    in_token("pin_never_in_errors", |module| {
        // A wrong PIN first (before any login of this process).
        let wrong = "wrong-pin-9381";
        let err = module
            .open_token(Some(TOKEN_LABEL), &Pin::new(wrong.to_owned()))
            .unwrap_err();
        assert!(matches!(err, Pkcs11Error::Login { .. }), "{err}");
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(wrong), "{text}");
            assert!(!text.contains(USER_PIN), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
        // An unknown token label.
        let err = module
            .open_token(Some("no-such-token"), &Pin::new(USER_PIN.to_owned()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no PKCS#11 token labelled \"no-such-token\""
        );
        // The right PIN works, and the PIN is not in the token's Debug either.
        let token = open(&module);
        assert!(!format!("{token:?}").contains(USER_PIN));
        let key = token.generate_key(KEY_LABEL, 2048).unwrap();
        assert!(!format!("{key:?}").contains(USER_PIN));
        assert!(!format!("{:?}", Pin::new(USER_PIN.to_owned())).contains(USER_PIN));
    });
}

#[test]
fn certificate_signed_in_token() {
    in_token("certificate_signed_in_token", |module| {
        let token = open(&module);
        let key = token.generate_key(KEY_LABEL, 4096).unwrap();
        let params = CertParams {
            common_name: "sealed-secret".to_owned(),
            ..CertParams::controller_default(time::OffsetDateTime::now_utc())
        };
        let cert = key.self_signed_certificate(&params).unwrap();
        assert_eq!(cert.public_key(), key.public_key());
        assert_eq!(cert.fingerprint(), key.fingerprint());

        let (_, x509) = X509Certificate::from_der(cert.der()).unwrap();
        assert_eq!(x509.subject().to_string(), "CN=sealed-secret");
        assert_eq!(x509.issuer().to_string(), "CN=sealed-secret");
        assert!(x509.is_ca());
        let usage = x509.key_usage().unwrap().unwrap();
        assert!(usage.critical);
        assert!(usage.value.encipher_only());
        assert_eq!(
            x509.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.113549.1.1.11"
        );
        // The token's signature verifies with the public key over the TBS bytes.
        let rsa_public = &x509.public_key().subject_public_key.data;
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            rsa_public.as_ref(),
        )
        .verify(x509.tbs_certificate.as_ref(), &x509.signature_value.data)
        .unwrap();
        // A sealed value for the certificate's key opens in the token.
        let label = Scope::ClusterWide.label("", "");
        let blob = crypto::hybrid_encrypt(cert.public_key(), &label, b"via cert").unwrap();
        assert_eq!(
            key.decrypt_blob(&label, &blob).unwrap().expose(),
            b"via cert"
        );
    });
}

/// The provider the controller uses (`--pkcs11-*`): keys found by label prefix, generated
/// with `<prefix>-<suffix>` labels, each with a `CKO_CERTIFICATE` of the same `CKA_ID`; a
/// second start finds the same keys and certificates; the digest signature is deterministic.
#[test]
fn provider_generates_and_finds_keys_with_their_certificates() {
    in_token(
        "provider_generates_and_finds_keys_with_their_certificates",
        |module| {
            // The provider loads the module itself: this process's copy is finalised first.
            module.finalize().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let pin_file = dir.path().join("pin");
            std::fs::write(&pin_file, format!("{USER_PIN}\n")).unwrap();
            let settings = Pkcs11Settings {
                module: module_path_in_child(),
                token_label: Some(TOKEN_LABEL.to_owned()),
                key_label: "sealing".to_owned(),
                pin_file: Some(pin_file),
            };
            let validity = time::Duration::days(3650);
            let (first_fp, first_cert) = {
                let provider = TokenProvider::open(&settings).unwrap();
                assert_eq!(provider.provider().to_string(), "pkcs11:ssrs-test");
                assert!(provider.load("cn", validity).unwrap().is_empty());
                let entry = provider.generate(2048, "sealed-secret", validity).unwrap();
                assert!(
                    entry.secret_name.starts_with("sealing-"),
                    "{}",
                    entry.secret_name
                );
                assert_eq!(entry.secret_name.len(), "sealing-".len() + 5);
                assert_eq!(entry.cert.public_key(), entry.key.public_key());
                assert!(entry.digest_key.is_some());
                let label = Scope::Strict.label("ns", "app");
                let blob = crypto::hybrid_encrypt(entry.cert.public_key(), &label, b"v").unwrap();
                assert_eq!(
                    crypto::decrypt_with_key(&*entry.key, &label, &blob)
                        .unwrap()
                        .expose(),
                    b"v"
                );
                let found = (entry.fingerprint.clone(), entry.cert.der().to_vec());
                drop(entry);
                provider.close().unwrap();
                found
            };
            // A new process (here: a new session after finalising) finds the key and the same
            // certificate object; keys of another prefix are not loaded.
            {
                let provider = TokenProvider::open(&settings).unwrap();
                let entries = provider.load("cn", validity).unwrap();
                assert_eq!(entries.len(), 1);
                assert_eq!(entries[0].fingerprint, first_fp);
                assert_eq!(entries[0].cert.der(), first_cert.as_slice());
                assert_eq!(entries[0].provider.to_string(), "pkcs11:ssrs-test");
                drop(entries);
                provider.close().unwrap();
            }
            let other = TokenProvider::open(&Pkcs11Settings {
                key_label: "seal".to_owned(),
                ..settings.clone()
            })
            .unwrap();
            assert!(other.load("cn", validity).unwrap().is_empty());
        },
    );
}

/// Several sessions (one per RSA worker, ADR 0005 §5): decryptions from several threads at once
/// all open, the key's handle found in one session works in the others.
#[test]
fn parallel_decryptions_on_several_sessions() {
    in_token("parallel_decryptions_on_several_sessions", |module| {
        let token = module
            .open_token_sessions(Some(TOKEN_LABEL), &Pin::new(USER_PIN.to_owned()), 4)
            .unwrap();
        assert!(format!("{token:?}").contains("sessions: 4"), "{token:?}");
        let key = token.generate_key(KEY_LABEL, 2048).unwrap();
        let label = Scope::Strict.label("ns", "parallel");
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (key, label) = (&key, &label);
                scope.spawn(move || {
                    for i in 0..5 {
                        let value = format!("value {t}/{i}");
                        let blob =
                            crypto::hybrid_encrypt(key.public_key(), label, value.as_bytes())
                                .unwrap();
                        assert_eq!(
                            key.decrypt_blob(label, &blob).unwrap().expose(),
                            value.as_bytes()
                        );
                    }
                });
            }
        });
    });
}

/// A wrong PIN stops the provider in one line without the PIN.
#[test]
fn provider_wrong_pin_is_one_line() {
    in_token("provider_wrong_pin_is_one_line", |module| {
        module.finalize().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pin_file = dir.path().join("pin");
        let wrong = "wrong-pin-5521";
        std::fs::write(&pin_file, wrong).unwrap();
        let settings = Pkcs11Settings {
            module: module_path_in_child(),
            token_label: Some(TOKEN_LABEL.to_owned()),
            key_label: "sealing".to_owned(),
            pin_file: Some(pin_file),
        };
        let err = TokenProvider::open(&settings).unwrap_err().to_string();
        assert!(err.starts_with("PKCS#11 login failed: "), "{err}");
        assert!(!err.contains(wrong) && !err.contains('\n'), "{err}");
    });
}

/// Why kryoptic and not Debian's SoftHSM 2.6: it refuses OAEP with SHA-256 (and a label), and
/// the self-test says so in one line instead of every item failing as "no key could decrypt".
/// Skipped when SoftHSM is not installed.
#[test]
fn softhsm_refuses_oaep_sha256() {
    in_soft_token(Soft::SoftHsm, "softhsm_refuses_oaep_sha256", |module| {
        let token = open(&module);
        let key = token.generate_key(KEY_LABEL, 2048).unwrap();
        let err = key.self_test().unwrap_err();
        assert!(matches!(err, Pkcs11Error::Unsupported { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("ArgumentsBad"), "{text}");
        let label = Scope::Strict.label("ns", "name");
        let blob = crypto::hybrid_encrypt(key.public_key(), &label, b"value").unwrap();
        assert!(matches!(
            key.decrypt_blob(&label, &blob),
            Err(UnwrapError::Unavailable { .. })
        ));
        // Signing (the certificate) works there.
        key.self_signed_certificate(&CertParams::controller_default(
            time::OffsetDateTime::now_utc(),
        ))
        .unwrap();
    });
}

/// `bench/pkcs11.sh`: RSA-4096 OAEP decryption in the token vs aws-lc-rs in memory (whole
/// blob: RSA block and AES-GCM). Prints figures, asserts nothing about them.
#[test]
fn bench_oaep_decrypt() {
    if !std::env::var("SSRS_PKCS11_BENCH").is_ok_and(|v| v == "1") {
        eprintln!("skipped: set SSRS_PKCS11=1 SSRS_PKCS11_BENCH=1 (bench/pkcs11.sh)");
        return;
    }
    in_token("bench_oaep_decrypt", |module| {
        let rounds: u32 = std::env::var("SSRS_PKCS11_BENCH_N")
            .ok()
            .and_then(|n| n.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(20);
        let token = open(&module);
        let key = token.generate_key(KEY_LABEL, 4096).unwrap();
        let memory = PrivateKey::generate(4096).unwrap();
        let label = Scope::Strict.label("bench", "secret");
        let token_blob = crypto::hybrid_encrypt(key.public_key(), &label, b"value").unwrap();
        let memory_blob = crypto::hybrid_encrypt(memory.public_key(), &label, b"value").unwrap();

        let start = Instant::now();
        for _ in 0..rounds {
            key.decrypt_blob(&label, &token_blob).unwrap();
        }
        let in_token = start.elapsed() / rounds;
        let start = Instant::now();
        for _ in 0..rounds {
            crypto::decrypt_with_key(&memory, &label, &memory_blob).unwrap();
        }
        let in_memory = start.elapsed() / rounds;
        println!(
            "pkcs11 bench: RSA-4096 OAEP-SHA256 decrypt, mean of {rounds}: \
             token (kryoptic) {:.2} ms, aws-lc-rs in memory {:.2} ms",
            in_token.as_secs_f64() * 1e3,
            in_memory.as_secs_f64() * 1e3
        );
    });
}
