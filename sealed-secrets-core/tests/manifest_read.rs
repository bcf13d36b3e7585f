//! Reading the streams users and tools actually produce.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use sealed_secrets_core::manifest::{self, Position};

fn at(document: usize, item: Option<usize>) -> Position {
    Position { document, item }
}

#[test]
fn kubectl_list_output_is_unpacked_into_its_items() {
    // The shape of `kubectl get secret -l … -o yaml`, the recovery key file upstream documents.
    let input = b"apiVersion: v1
items:
- apiVersion: v1
  data:
    tls.crt: Y2VydA==
    tls.key: a2V5
  kind: Secret
  metadata:
    generateName: sealed-secrets-key
    labels:
      sealedsecrets.bitnami.com/sealed-secrets-key: active
    name: sealed-secrets-keyab12c
    namespace: kube-system
  type: kubernetes.io/tls
- apiVersion: v1
  data:
    tls.key: a2V5Mg==
  kind: Secret
  metadata:
    name: sealed-secrets-keyzz99x
kind: List
metadata:
  resourceVersion: \"\"
";
    let documents = manifest::read_documents(input).unwrap();
    let positions: Vec<Position> = documents.iter().map(|d| d.position()).collect();
    assert_eq!(positions, [at(1, Some(1)), at(1, Some(2))]);
    let secrets: Vec<_> = documents
        .into_iter()
        .map(|d| d.into_secret().unwrap())
        .collect();
    assert_eq!(secrets[0].metadata.name, "sealed-secrets-keyab12c");
    assert_eq!(secrets[0].data["tls.key"].expose(), b"key");
    assert_eq!(secrets[1].data["tls.key"].expose(), b"key2");
}

#[test]
fn yaml_streams_with_and_without_a_leading_separator() {
    for input in [
        "kind: Secret\nmetadata: {name: a}\n---\nkind: Secret\nmetadata: {name: b}\n",
        "---\nkind: Secret\nmetadata: {name: a}\n---\nkind: Secret\nmetadata: {name: b}\n---\n",
        "# header comment\n---\nkind: Secret\nmetadata: {name: a}\n...\n---\nkind: Secret\nmetadata: {name: b}\n",
    ] {
        let documents = manifest::read_documents(input.as_bytes()).unwrap();
        let names: Vec<String> = documents
            .into_iter()
            .map(|d| d.into_secret().unwrap().metadata.name)
            .collect();
        assert_eq!(names, ["a", "b"], "{input:?}");
    }
}

#[test]
fn empty_documents_are_skipped_but_counted() {
    let documents =
        manifest::read_documents(b"---\n---\nkind: Secret\n---\n{}\n---\nkind: Secret\n").unwrap();
    let positions: Vec<Position> = documents.iter().map(|d| d.position()).collect();
    assert_eq!(positions, [at(2, None), at(4, None)]);
    assert!(manifest::read_documents(b"").unwrap().is_empty());
    assert!(
        manifest::read_documents(b"\n# nothing here\n")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn kind_and_api_version_are_exposed() {
    let documents = manifest::read_documents(
        b"{\"kind\":\"SealedSecret\",\"apiVersion\":\"bitnami.com/v1alpha1\"}\n{\"data\":{}}",
    )
    .unwrap();
    assert_eq!(documents[0].kind(), Some("SealedSecret"));
    assert_eq!(documents[0].api_version(), Some("bitnami.com/v1alpha1"));
    assert_eq!(documents[1].kind(), None);
    assert_eq!(documents[1].api_version(), None);
}

#[test]
fn a_secret_without_kind_is_accepted_as_upstream_does() {
    let secret = manifest::read_documents(b"metadata:\n  name: bare\nstringData:\n  a: b\n")
        .unwrap()
        .remove(0)
        .into_secret()
        .unwrap();
    assert_eq!(secret.metadata.name, "bare");
    assert!(secret.kind.is_empty());
}

/// Upstream's JSON decoder fails on a number in `stringData`, falls back to YAML for the whole
/// stream, and then silently drops every object after the first. We keep them all.
#[test]
fn a_json_stream_with_numbers_keeps_every_object() {
    let input = br#"{"metadata":{"name":"a"},"stringData":{"port":5432}}{"metadata":{"name":"b"},"stringData":{"x":"y"}}"#;
    let secrets: Vec<_> = manifest::read_documents(input)
        .unwrap()
        .into_iter()
        .map(|d| d.into_secret().unwrap())
        .collect();
    assert_eq!(secrets.len(), 2);
    assert_eq!(secrets[0].string_data["port"].expose(), b"5432");
    assert_eq!(secrets[1].metadata.name, "b");
}
