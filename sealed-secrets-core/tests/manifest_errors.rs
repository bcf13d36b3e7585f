//! A Secret's values are secret: no error from reading a manifest may contain them, however
//! the input is broken. Each case hides the same marker in the broken spot.

// Test helpers outside `#[test]` functions fail loudly on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sealed_secrets_core::manifest::{self, ManifestError};

const SECRET: &str = "s3cr3t-Value-42";

enum Stage {
    Read,
    IntoSecret,
    IntoSealedSecret,
}

fn error_for(input: &[u8], stage: &Stage) -> ManifestError {
    let documents = match manifest::read_documents(input) {
        Ok(documents) => documents,
        Err(error) => return error,
    };
    for document in documents {
        let result = match stage {
            Stage::Read => continue,
            Stage::IntoSecret => document.into_secret().map(drop),
            Stage::IntoSealedSecret => document.into_sealed_secret().map(drop),
        };
        if let Err(error) = result {
            return error;
        }
    }
    panic!("no error for {:?}", String::from_utf8_lossy(input));
}

fn check(input: &str, stage: &Stage, want: &str) {
    let error = error_for(input.as_bytes(), stage);
    let display = error.to_string();
    let debug = format!("{error:?}");
    assert!(
        !display.contains(SECRET) && !display.contains("s3cr3t"),
        "{display}"
    );
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(!display.contains('\n'), "not one line: {display:?}");
    assert!(
        display.starts_with(want),
        "{input:?}\n  gave {display:?}\n  want {want:?}…"
    );
}

#[test]
fn yaml_syntax_errors_give_a_position_not_the_text() {
    let cases = [
        (
            "stringData:\n  password: \"s3cr3t-Value-42\n",
            "document 1: invalid YAML at line ",
        ),
        (
            "stringData:\n  password: s3cr3t-Value-42: more\n",
            "document 1: invalid YAML at line 2 column",
        ),
        (
            "a: 1\n---\nstringData:\n  password: [s3cr3t-Value-42\n",
            "document 2: invalid YAML at line ",
        ),
        (
            "stringData:\n  password: \"s3cr3t-Value-42\\q\"\n",
            "document 1: invalid YAML at line 2",
        ),
        (
            "stringData:\n  password: \"s3cr3t-Value-42\u{1}\"\n",
            "document 1: invalid YAML at line 2",
        ),
        (
            "stringData:\n  password: !!int s3cr3t-Value-42\n",
            "document 1: invalid YAML at line 2 column 19: value does not match its tag",
        ),
        (
            "stringData:\n  {s3cr3t-Value-42: 1}: x\n",
            "document 1: invalid YAML at line 2",
        ),
        (
            "stringData:\n  password: *s3cr3t-Value-42\n",
            "document 1: invalid YAML at line 2",
        ),
        (
            "stringData:\n\tpassword: s3cr3t-Value-42\n",
            "document 1: invalid YAML at line 2",
        ),
    ];
    for (input, want) in cases {
        check(input, &Stage::Read, want);
    }
}

#[test]
fn json_syntax_errors_give_a_position_not_the_text() {
    let cases = [
        (
            "{\"stringData\": {\"password\": \"s3cr3t-Value-42}\n",
            "document 1: invalid JSON at line ",
        ),
        (
            "{\"a\": 1}\n{\"b\": 2}\n{\"stringData\": {\"password\": s3cr3t-Value-42}}\n",
            "document 3: invalid JSON at line 3 column 29",
        ),
        (
            "{\"a\": 1}\n{\"b\": 2}\n{\"stringData\": {\"password\": \"s3cr3t-Value-42\\q\"}}\n",
            "document 3: invalid JSON at line 3",
        ),
    ];
    for (input, want) in cases {
        check(input, &Stage::Read, want);
    }
}

#[test]
fn type_errors_name_the_field_not_the_value() {
    let cases = [
        (
            "stringData:\n  password: [s3cr3t-Value-42]\n",
            "document 1: stringData[\"password\"] must be a string",
        ),
        (
            "{\"stringData\": {\"password\": {\"x\": \"s3cr3t-Value-42\"}}}",
            "document 1: stringData[\"password\"] must be a string",
        ),
        (
            "data:\n  password: s3cr3t-Value-42\n",
            "document 1: data[\"password\"] must be standard base64",
        ),
        (
            "immutable: s3cr3t-Value-42\n",
            "document 1: immutable must be a boolean",
        ),
        (
            "metadata:\n  labels: s3cr3t-Value-42\n",
            "document 1: metadata.labels must be a map of strings",
        ),
        (
            "kind: s3cr3t-Value-42\n",
            "document 1 is of an unrecognized kind, expected a Secret",
        ),
        ("- s3cr3t-Value-42\n", "document 1 is not an object"),
        (
            "kind: List\nitems:\n- kind: Secret\n- kind: Secret\n  stringData: {k: [s3cr3t-Value-42]}\n",
            "document 1, item 2: stringData[\"k\"] must be a string",
        ),
    ];
    for (input, want) in cases {
        check(input, &Stage::IntoSecret, want);
    }
    check(
        "kind: SealedSecret\nspec:\n  template:\n    data:\n      k: [s3cr3t-Value-42]\n",
        &Stage::IntoSealedSecret,
        "document 1: spec.template.data[\"k\"] must be a string",
    );
    check(
        "kind: SealedSecret\nspec:\n  data: s3cr3t-Value-42\n",
        &Stage::IntoSealedSecret,
        "document 1: spec.data must be standard base64",
    );
}

#[test]
fn wrong_kinds_are_refused_both_ways() {
    check(
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nspec:\n  encryptedData: {}\n",
        &Stage::IntoSecret,
        "document 1 is a SealedSecret, expected a Secret",
    );
    check(
        "a: 1\n---\napiVersion: v1\nkind: Secret\nstringData: {password: s3cr3t-Value-42}\n",
        &Stage::IntoSealedSecret,
        "document 2 is a Secret, expected a SealedSecret",
    );
    check(
        "{\"kind\": \"ConfigMap\", \"data\": {\"k\": \"s3cr3t-Value-42\"}}",
        &Stage::IntoSecret,
        "document 1 is a ConfigMap, expected a Secret",
    );
}

#[test]
fn input_that_is_not_utf8_is_refused_without_echo() {
    let mut input = b"stringData:\n  password: s3cr3t-Value-42".to_vec();
    input.extend_from_slice(&[0xff, 0xfe]);
    let error = error_for(&input, &Stage::Read).to_string();
    assert_eq!(
        error,
        "input is not valid UTF-8 (invalid byte at offset 39)"
    );
}

#[test]
fn documents_do_not_print_their_values() {
    let documents =
        manifest::read_documents(b"kind: Secret\nstringData:\n  password: s3cr3t-Value-42\n")
            .unwrap();
    let debug = format!("{documents:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
}
