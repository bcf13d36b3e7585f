//! What an unseal reports, sorted by what decided it (docs/templates.md, docs/security.md):
//! failures a plaintext may decide are value failures of `unseal_with`, never `UnsealError`s;
//! `verify` and `reseal` run no template; the RSA work of one unseal is bounded.

// Test helpers and statics live outside `#[test]` functions, where clippy.toml's test allowances
// do not reach; a failing setup should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use sealed_secrets_core::keys::{Decrypter, PrivateKey};
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::seal::{
    ItemErrorKind, MAX_SECRET_DATA_BYTES, UnsealError, UnsealOptions, Work, encrypt_item, reseal,
    rsa_budget, unseal, unseal_with, verify,
};
use sealed_secrets_core::types::{ObjectMeta, SealedSecret, base64_std};

static KEY: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());
static OTHER: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());

const NS: &str = "ns";
const NAME: &str = "app";
const PASSWORD: &str = "correct horse";

fn sealed(items: &[(&str, &[u8])], templates: &[(&str, &str)]) -> SealedSecret {
    let mut ss = SealedSecret {
        metadata: ObjectMeta {
            name: NAME.into(),
            namespace: NS.into(),
            ..ObjectMeta::default()
        },
        ..SealedSecret::default()
    };
    ss.spec.template.metadata = ss.metadata.clone();
    ss.spec.encrypted_data = Some(
        items
            .iter()
            .map(|(k, v)| {
                let blob = encrypt_item(KEY.public_key(), Scope::Strict, NS, NAME, v).unwrap();
                ((*k).to_owned(), blob)
            })
            .collect(),
    );
    ss.spec.template.data = templates
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
        .collect();
    ss
}

fn opts() -> UnsealOptions {
    UnsealOptions {
        accept_v1_data: true,
        ..UnsealOptions::default()
    }
}

/// Pairs of templates that branch on a true and a false guess about the password.
fn guesses(template: &str) -> [String; 2] {
    [
        template.replace("GUESS", "c"),
        template.replace("GUESS", "x"),
    ]
}

#[test]
fn a_failure_decided_by_a_plaintext_is_a_value_failure_not_an_error() {
    let probes = [
        r#"{{ if eq (substr 0 1 .password) "GUESS" }}{{ fail "guessed" }}{{ end }}ok"#,
        r#"{{ if hasPrefix "GUESS" .password }}{{ fail .password }}{{ end }}ok"#,
        r#"{{ if hasPrefix "GUESS" .password }}{{ mustFromJson "{" }}{{ end }}ok"#,
        r#"{{ index (list 1) (ternary 5 0 (hasPrefix "GUESS" .password)) }}"#,
        r#"{{ mustRegexMatch (ternary "(" "a" (hasPrefix "GUESS" .password)) "a" }}"#,
        r#"{{ if hasPrefix "GUESS" .password }}{{ repeat 2000000 "ab" }}{{ end }}ok"#,
    ];
    for probe in probes {
        let mut shapes = Vec::new();
        for template in guesses(probe) {
            let ss = sealed(&[("password", PASSWORD.as_bytes())], &[("x", &template)]);
            let out = unseal_with(&ss, &[&*KEY], &opts(), &mut Work::default())
                .unwrap_or_else(|e| panic!("{probe}: an error a plaintext decided: {e}"));
            for failure in &out.value_failures {
                assert!(
                    !failure.kind.to_string().contains(PASSWORD),
                    "{probe}: the value is in {failure:?}"
                );
            }
            shapes.push(out.value_failures.len());
        }
        // The true guess fails, the false one does not: the bit exists, and only the Secret
        // (value_failures) carries it.
        assert_eq!(shapes, [1, 0], "{probe}");
    }
    // Offline recovery, by whoever holds the key, reports it as an error.
    let [fails, _] = guesses(r#"{{ if hasPrefix "GUESS" .password }}{{ fail "no" }}{{ end }}"#);
    let ss = sealed(&[("password", PASSWORD.as_bytes())], &[("x", &fails)]);
    let err = unseal(&ss, &[&*KEY], &opts()).unwrap_err();
    assert!(
        matches!(err.items()[0].kind, ItemErrorKind::Template(_)),
        "{err}"
    );
}

#[test]
fn failures_decided_by_public_input_are_errors() {
    // A source that does not parse.
    let ss = sealed(&[("password", PASSWORD.as_bytes())], &[("x", "{{ if }}")]);
    let err = unseal_with(&ss, &[&*KEY], &opts(), &mut Work::default()).unwrap_err();
    assert!(err.to_string().contains("template: x:1"), "{err}");
    // An item no key opens: only the decryption errors are told, no template ran.
    let mut ss = sealed(
        &[("password", PASSWORD.as_bytes())],
        &[("x", r#"{{ fail "never" }}"#), ("y", "{{ .password }}")],
    );
    ss.metadata.name = "renamed".into();
    let err = unseal_with(&ss, &[&*KEY], &opts(), &mut Work::default()).unwrap_err();
    assert_eq!(err.to_string(), "no key could decrypt secret (password)");
    // Decrypted values over what a Secret may hold.
    let big = vec![b'a'; MAX_SECRET_DATA_BYTES + 1];
    let ss = sealed(&[("big", &big)], &[]);
    let err = unseal_with(&ss, &[&*KEY], &opts(), &mut Work::default()).unwrap_err();
    assert!(matches!(err, UnsealError::TooLarge { .. }), "{err}");
}

#[test]
fn templates_fill_only_what_the_values_leave_of_a_secret() {
    let half = vec![b'a'; MAX_SECRET_DATA_BYTES / 2 + 10];
    let ss = sealed(
        &[("big", &half)],
        &[("copy", "{{ .big }}"), ("small", "{{ len .big }}")],
    );
    let out = unseal_with(&ss, &[&*KEY], &opts(), &mut Work::default()).unwrap();
    let total: usize = out.secret.data.values().map(|v| v.len()).sum();
    assert!(total <= MAX_SECRET_DATA_BYTES, "{total}");
    assert_eq!(out.value_failures.len(), 1, "{:?}", out.value_failures);
    assert_eq!(out.value_failures[0].item, "copy");
    assert!(!out.secret.data.contains_key("copy"));
    assert_eq!(out.secret.data["small"].expose(), b"524298");
}

#[test]
fn a_value_the_secret_type_refuses_is_a_value_failure() {
    for (value, fails) in [
        (&b"not json"[..], true),
        (b"[1]", true),
        (b"{\"auths\":{}}", false),
    ] {
        let mut ss = sealed(&[(".dockerconfigjson", value)], &[]);
        ss.spec.template.type_ = "kubernetes.io/dockerconfigjson".into();
        let out = unseal_with(&ss, &[&*KEY], &opts(), &mut Work::default()).unwrap();
        assert_eq!(out.value_failures.len(), usize::from(fails));
        assert_eq!(out.secret.data.contains_key(".dockerconfigjson"), !fails);
    }
}

#[test]
fn templates_stop_at_their_time_limit() {
    let ss = sealed(
        &[("password", PASSWORD.as_bytes())],
        &[("x", "{{ .password }}")],
    );
    let none = UnsealOptions {
        template_time: Some(Duration::ZERO),
        ..opts()
    };
    let out = unseal_with(&ss, &[&*KEY], &none, &mut Work::default()).unwrap();
    assert_eq!(out.value_failures.len(), 1);
    let enough = UnsealOptions {
        template_time: Some(Duration::from_secs(60)),
        ..opts()
    };
    let out = unseal_with(&ss, &[&*KEY], &enough, &mut Work::default()).unwrap();
    assert!(out.value_failures.is_empty());
    // Past the whole unseal's deadline, not even decryption starts.
    let mut late = Work {
        deadline: Some(Instant::now()),
        ..Work::default()
    };
    let err = unseal_with(&ss, &[&*KEY], &opts(), &mut late).unwrap_err();
    assert!(matches!(err, UnsealError::TooMuchWork { .. }), "{err}");
}

#[test]
fn verify_and_reseal_run_no_template() {
    let ss = sealed(
        &[("password", PASSWORD.as_bytes())],
        &[("x", r#"{{ fail "never runs" }}"#), ("y", "{{ if }}")],
    );
    verify(&ss, &[&*KEY], &opts(), &mut Work::default()).unwrap();
    let out = reseal(
        &ss,
        &[&*KEY],
        OTHER.public_key(),
        &opts(),
        &mut Work::default(),
    )
    .unwrap();
    assert_eq!(out.spec.template.data, ss.spec.template.data);
    let opened = verify(&out, &[&*OTHER], &opts(), &mut Work::default());
    assert!(opened.is_ok());
    // Wrong name: the same error whatever the templates say.
    let mut renamed = ss.clone();
    renamed.metadata.name = "other".into();
    let err = verify(&renamed, &[&*KEY], &opts(), &mut Work::default()).unwrap_err();
    assert_eq!(err.to_string(), "no key could decrypt secret (password)");
}

#[test]
fn reseal_re_encrypts_a_legacy_blob_without_parsing_it() {
    let label = Scope::Strict.label(NS, NAME);
    let mut ss = sealed(&[], &[]);
    ss.spec.encrypted_data = None;
    // Not a Secret at all: verify and reseal do not care, unseal says so.
    ss.spec.data = Some(
        sealed_secrets_core::crypto::hybrid_encrypt(KEY.public_key(), &label, b"not a secret")
            .unwrap(),
    );
    verify(&ss, &[&*KEY], &opts(), &mut Work::default()).unwrap();
    let out = reseal(
        &ss,
        &[&*KEY],
        OTHER.public_key(),
        &opts(),
        &mut Work::default(),
    )
    .unwrap();
    let blob = out.spec.data.as_ref().unwrap();
    let opened = sealed_secrets_core::crypto::decrypt_with_key(&*OTHER, &label, blob).unwrap();
    assert_eq!(opened.expose(), b"not a secret");
    assert!(matches!(
        unseal(&ss, &[&*KEY], &opts()),
        Err(UnsealError::V1Malformed)
    ));
}

#[test]
fn rsa_work_is_counted_and_bounded() {
    // One operation per item with the right key first; none for a block of the wrong length.
    let mut ss = sealed(&[("a", b"1"), ("b", b"2"), ("c", b"3")], &[]);
    let mut work = Work::default();
    unseal_with(&ss, &[&*OTHER, &*KEY], &opts(), &mut work).unwrap();
    // The key that opened the first item is tried first for the next ones.
    assert_eq!(work.rsa_operations, 4);
    ss.spec
        .encrypted_data
        .as_mut()
        .unwrap()
        .insert("tiny".into(), base64_std::encode(&[0, 1, 9, 1, 2]));
    let mut work = Work::default();
    let err = unseal_with(&ss, &[&*OTHER, &*KEY], &opts(), &mut work).unwrap_err();
    assert_eq!(err.to_string(), "no key could decrypt secret (tiny)");
    assert_eq!(work.rsa_operations, 4);
    // Items no key opens use the budget up, then the unseal stops.
    let keys: Vec<PrivateKey> = (0..12)
        .map(|_| PrivateKey::generate(2048).unwrap())
        .collect();
    let refs: Vec<&dyn Decrypter> = keys.iter().map(|k| k as &dyn Decrypter).collect();
    let items: Vec<(String, Vec<u8>)> = (0..8).map(|i| (format!("i{i}"), vec![b'v'])).collect();
    let borrowed: Vec<(&str, &[u8])> = items
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let ss = sealed(&borrowed, &[]);
    let mut work = Work::default();
    let err = unseal_with(&ss, &refs, &opts(), &mut work).unwrap_err();
    assert!(matches!(err, UnsealError::TooMuchWork { .. }), "{err}");
    assert_eq!(work.rsa_operations, rsa_budget(8, 12));
    // The pause runs before each operation.
    let mut pauses = 0;
    let mut pause = || pauses += 1;
    let mut work = Work {
        pause: Some(&mut pause),
        ..Work::default()
    };
    let ss = sealed(&[("a", b"1")], &[]);
    unseal_with(&ss, &[&*KEY], &opts(), &mut work).unwrap();
    assert_eq!(work.rsa_operations, 1);
    let _ = work;
    assert_eq!(pauses, 1);
}
