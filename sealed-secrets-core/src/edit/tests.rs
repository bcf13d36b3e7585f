use super::*;

const YAML: &str = "# header comment\n---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db   # the db\n  namespace: prod\nspec:\n  encryptedData:\n    # the password\n    password: AgAold1\n    user: AgAold2  # keep me\n  template:\n    metadata:\n      name: db\n      namespace: prod\n---\nkind: ConfigMap\n";

const JSON: &str = "{\n  \"kind\": \"SealedSecret\",\n  \"apiVersion\": \"bitnami.com/v1alpha1\",\n  \"metadata\": {\n    \"name\": \"db\",\n    \"namespace\": \"prod\"\n  },\n  \"spec\": {\n    \"template\": {\n      \"metadata\": {\n        \"name\": \"db\"\n      }\n    },\n    \"encryptedData\": {\n      \"password\": \"AgAold1\",\n      \"user\": \"AgAold2\"\n    }\n  }\n}\n";

const ED: [&str; 2] = ["spec", "encryptedData"];
const ANN: [&str; 2] = ["metadata", "annotations"];

fn first_yaml() -> Chunk {
    let chunks = split(YAML);
    assert_eq!(join(&chunks), YAML);
    chunks[0].clone()
}

#[test]
fn yaml_split_keeps_every_byte() {
    let chunks = split(YAML);
    assert_eq!(chunks.len(), 2);
    assert!(chunks[1].text.starts_with("---\nkind: ConfigMap"));
}

#[test]
fn yaml_replace_keeps_comments_and_other_items() {
    let out = set_entry(&first_yaml(), &ED, "user", "AgAnew").unwrap();
    assert_eq!(
        out,
        YAML.split("---\nkind: Config")
            .next()
            .unwrap()
            .replace("AgAold2  # keep me", "AgAnew  # keep me")
    );
}

#[test]
fn yaml_insert_sorted_and_remove() {
    let chunk = first_yaml();
    let out = set_entry(&chunk, &ED, "token", "AgAt").unwrap();
    assert!(out.contains("    password: AgAold1\n    token: AgAt\n    user: AgAold2  # keep me\n"));
    let out = set_entry(&chunk, &ED, "zzz", "AgAz").unwrap();
    assert!(out.contains("    user: AgAold2  # keep me\n    zzz: AgAz\n  template:"));
    let removed = remove_entry(&chunk, &ED, "password").unwrap().unwrap();
    assert!(removed.contains("    # the password\n    user: AgAold2"));
    assert!(remove_entry(&chunk, &ED, "nope").unwrap().is_none());
}

#[test]
fn yaml_remove_last_leaves_empty_map_and_set_fills_it() {
    let chunk = Chunk {
        text: "spec:\n  encryptedData:\n    a: AgA1\n  template: {}\n".to_owned(),
        syntax: Syntax::Yaml,
    };
    let out = remove_entry(&chunk, &ED, "a").unwrap().unwrap();
    assert_eq!(out, "spec:\n  encryptedData: {}\n  template: {}\n");
    let again = Chunk {
        text: out,
        syntax: Syntax::Yaml,
    };
    assert_eq!(set_entry(&again, &ED, "a", "AgA1").unwrap(), chunk.text);
}

#[test]
fn yaml_creates_missing_annotations_and_quotes_odd_keys() {
    let out = set_entry(
        &first_yaml(),
        &ANN,
        "sealed-secrets-rs/sealed-with",
        "SHA256:x",
    )
    .unwrap();
    assert!(
        out.contains(
            "metadata:\n  annotations:\n    sealed-secrets-rs/sealed-with: SHA256:x\n  name: db"
        ),
        "{out}"
    );
    let out = set_entry(&first_yaml(), &ED, "yes", "AgA").unwrap();
    assert!(out.contains("    \"yes\": AgA\n"));
}

#[test]
fn yaml_without_trailing_newline_and_crlf() {
    let chunk = Chunk {
        text: "spec:\r\n  encryptedData:\r\n    a: AgA1".to_owned(),
        syntax: Syntax::Yaml,
    };
    assert_eq!(
        set_entry(&chunk, &ED, "b", "AgA2").unwrap(),
        "spec:\r\n  encryptedData:\r\n    a: AgA1\r\n    b: AgA2\r\n"
    );
}

#[test]
fn yaml_unsupported_layouts_are_refused() {
    let chunk = Chunk {
        text: "spec: {encryptedData: {a: b}}\n".to_owned(),
        syntax: Syntax::Yaml,
    };
    assert!(matches!(
        set_entry(&chunk, &ED, "a", "x"),
        Err(EditError::Unsupported { .. })
    ));
    let missing = Chunk {
        text: "kind: SealedSecret\n".to_owned(),
        syntax: Syntax::Yaml,
    };
    assert!(matches!(
        set_entry(&missing, &ED, "a", "x"),
        Err(EditError::PathNotFound { .. })
    ));
}

#[test]
fn json_replace_insert_remove() {
    let chunks = split(JSON);
    assert_eq!(chunks.len(), 1);
    let chunk = &chunks[0];
    let out = set_entry(chunk, &ED, "user", "AgAnew").unwrap();
    assert_eq!(out, JSON.replace("\"AgAold2\"", "\"AgAnew\""));
    let out = set_entry(chunk, &ED, "token", "AgAt").unwrap();
    assert!(out.contains(
        "\"password\": \"AgAold1\",\n      \"token\": \"AgAt\",\n      \"user\": \"AgAold2\"\n"
    ));
    let out = set_entry(chunk, &ED, "zz", "AgAz").unwrap();
    assert!(out.contains("\"user\": \"AgAold2\",\n      \"zz\": \"AgAz\"\n    }"));
    let out = remove_entry(chunk, &ED, "user").unwrap().unwrap();
    assert!(out.contains("\"password\": \"AgAold1\"\n    }"));
    let out = remove_entry(chunk, &ED, "password").unwrap().unwrap();
    assert!(out.contains("{\n      \"user\": \"AgAold2\"\n    }"));
    let one = Chunk {
        text: out,
        syntax: Syntax::Json,
    };
    let empty = remove_entry(&one, &ED, "user").unwrap().unwrap();
    assert!(empty.contains("\"encryptedData\": {}"));
    let refilled = set_entry(
        &Chunk {
            text: empty,
            syntax: Syntax::Json,
        },
        &ED,
        "a",
        "AgA",
    )
    .unwrap();
    assert!(
        refilled.contains("\"encryptedData\": {\n      \"a\": \"AgA\"\n    }"),
        "{refilled}"
    );
}

#[test]
fn json_creates_missing_annotations() {
    let chunk = &split(JSON)[0];
    let out = set_entry(chunk, &ANN, "k/x", "SHA256:x").unwrap();
    assert!(out.contains("\"namespace\": \"prod\",\n    \"annotations\": {\n      \"k/x\": \"SHA256:x\"\n    }\n  },"), "{out}");
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed["metadata"]["annotations"]["k/x"], "SHA256:x");
}

#[test]
fn json_stream_splits_per_object() {
    let text = format!("{JSON}{JSON}");
    let chunks = split(&text);
    assert_eq!(chunks.len(), 2);
    assert_eq!(join(&chunks), text);
}
