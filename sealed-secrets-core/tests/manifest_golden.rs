//! Output and input pinned against the real upstream kubeseal v0.36.6 and the go-yaml it uses.
//! How every fixture was made: `tests/data/manifest/README.md`.

// Test helpers outside `#[test]` functions fail loudly on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use sealed_secrets_core::manifest::{self, Document, Position};
use sealed_secrets_core::types::{SealedSecret, Secret};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("tests/data/manifest")
    .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn documents(name: &str) -> Vec<Document> {
    manifest::read_documents(fixture(name).as_bytes()).unwrap()
}

fn sealed(name: &str) -> Vec<SealedSecret> {
    documents(name)
        .into_iter()
        .map(|d| d.into_sealed_secret().unwrap())
        .collect()
}

fn only<T>(mut items: Vec<T>) -> T {
    assert_eq!(items.len(), 1);
    items.remove(0)
}

const INPUTS: [&str; 2] = ["tricky-annotations", "yaml11-secret"];

#[test]
fn sealed_json_is_written_byte_for_byte_like_kubeseal() {
    for base in INPUTS {
        let want = fixture(&format!("{base}.sealed.json"));
        let object = only(sealed(&format!("{base}.sealed.json")));
        assert_eq!(manifest::to_json(&object).unwrap(), want, "{base}");
    }
}

#[test]
fn sealed_yaml_is_written_byte_for_byte_like_kubeseal() {
    for base in INPUTS {
        let want = fixture(&format!("{base}.sealed.yaml"));
        let object = only(sealed(&format!("{base}.sealed.json")));
        assert_eq!(manifest::to_yaml(&object).unwrap(), want, "{base}");
    }
}

#[test]
fn kubeseal_yaml_reads_back_to_the_same_object() {
    for base in INPUTS {
        let from_yaml = only(sealed(&format!("{base}.sealed.yaml")));
        let mut from_json = only(sealed(&format!("{base}.sealed.json")));
        // Upstream's YAML itself loses U+0085: JSONToYAML reads Go's JSON as YAML, where that
        // character is a line break, and folds it into a space.
        if let Some(value) = from_json.spec.template.metadata.annotations.get_mut("v095") {
            assert_eq!(value, "x\u{85}y");
            *value = "x y".to_owned();
        }
        assert_eq!(from_yaml, from_json, "{base}");
    }
}

#[test]
fn recovered_secret_is_written_byte_for_byte_like_kubeseal() {
    let secret = only(documents("tricky-annotations.recovered.json"))
        .into_secret()
        .unwrap();
    assert_eq!(
        manifest::to_json(&secret).unwrap(),
        fixture("tricky-annotations.recovered.json")
    );
    assert_eq!(
        manifest::to_yaml(&secret).unwrap(),
        fixture("tricky-annotations.recovered.yaml")
    );
    // yaml11-secret has an empty item, which upstream's recovery prints as `null` (a nil Go
    // slice); our typed Secret cannot tell nil from empty. Its YAML (sorted keys, so no struct
    // order is involved) is compared from the document as read.
    let document = only(documents("yaml11-secret.recovered.json"));
    assert_eq!(
        manifest::to_yaml(document.value()).unwrap(),
        fixture("yaml11-secret.recovered.yaml")
    );
}

/// The input, read by us, has the metadata upstream put in the template, and the values
/// upstream sealed (seen through its own recovery): numbers, booleans and YAML 1.1 words in
/// string fields become the same strings, keys the same keys.
#[test]
fn input_is_read_the_way_kubeseal_reads_it() {
    for base in INPUTS {
        let input_name = if base == "yaml11-secret" {
            format!("{base}.yaml")
        } else {
            format!("{base}.json")
        };
        let input: Secret = only(documents(&input_name)).into_secret().unwrap();
        let upstream = only(sealed(&format!("{base}.sealed.json")));
        assert_eq!(upstream.spec.template.metadata, input.metadata, "{base}");
        assert_eq!(upstream.spec.template.type_, input.type_, "{base}");

        let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (key, value) in input.data.iter().chain(&input.string_data) {
            expected.insert(key.clone(), value.expose().to_vec());
        }
        let sealed_items: Vec<&String> = upstream
            .spec
            .encrypted_data
            .as_ref()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(sealed_items, expected.keys().collect::<Vec<_>>(), "{base}");

        let recovered = only(documents(&format!("{base}.recovered.json")))
            .into_secret()
            .unwrap();
        let recovered: BTreeMap<String, Vec<u8>> = recovered
            .data
            .iter()
            .map(|(key, value)| (key.clone(), value.expose().to_vec()))
            .collect();
        assert_eq!(recovered, expected, "{base}");
    }
}

#[test]
fn a_json_stream_is_read_and_written_document_by_document() {
    let inputs = documents("stream.json");
    let positions: Vec<Position> = inputs.iter().map(Document::position).collect();
    assert_eq!(
        positions,
        [
            Position {
                document: 1,
                item: None
            },
            Position {
                document: 2,
                item: None
            }
        ]
    );
    let names: Vec<String> = inputs
        .into_iter()
        .map(|d| d.into_secret().unwrap().metadata.name)
        .collect();

    let from_yaml = sealed("stream.sealed.yaml");
    let from_json = sealed("stream.sealed.json");
    assert_eq!(from_yaml, from_json);
    let sealed_names: Vec<String> = from_json.iter().map(|s| s.metadata.name.clone()).collect();
    assert_eq!(sealed_names, names);

    let yaml: String = from_json
        .iter()
        .map(|s| manifest::to_yaml(s).unwrap())
        .collect();
    assert_eq!(yaml, fixture("stream.sealed.yaml"));
    let json: String = from_json
        .iter()
        .map(|s| manifest::to_json(s).unwrap())
        .collect();
    assert_eq!(json, fixture("stream.sealed.json"));
}

/// Every case go-yaml's own emitter and Go's encoder were run on (see the README), through
/// our emitters.
#[test]
fn emitters_agree_with_go_yaml_and_encoding_json_on_every_case() {
    let cases = fixture("go-yaml-cases.jsonl");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in cases.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let input = &case["input"];
        let want_yaml = format!("---\n{}", case["yaml"].as_str().unwrap());
        let want_json = format!("{}\n", case["json"].as_str().unwrap());
        let yaml = manifest::to_yaml(input).unwrap();
        let json = manifest::to_json(input).unwrap();
        if yaml != want_yaml || json != want_json {
            failures.push(format!(
                "input {input}\n want yaml {want_yaml:?}\n  got yaml {yaml:?}\n want json {want_json:?}\n  got json {json:?}"
            ));
        }
        count += 1;
    }
    assert!(count > 700, "only {count} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
