//! Offline consistency checks of a manifest file, for CI (`kubeseal-rs check`): no private key,
//! no cluster. What can be told from the file alone:
//!
//! - no plaintext `Secret` with `data`/`stringData`, and no `last-applied-configuration`
//!   annotation (on any object) that carries `data`/`stringData`;
//! - each SealedSecret parses; its name, namespace and scope agree between the outer metadata
//!   (what the controller unseals with) and the template (what it was sealed for);
//! - each item is base64 of a blob whose RSA block (the 2-byte length prefix, SPEC §1.2) is as
//!   long as the pinned certificate's modulus, and the blob holds that block plus a GCM tag;
//! - the certificate recorded in the [`SEALED_WITH_ANNOTATION`] is one of the pinned ones;
//! - with a maximum age, every item's time in the [`SEALED_AT_ANNOTATION`] is recent enough.
//!
//! Every problem is reported (not only the first), as `<file>: <object>: <reason>`. No message
//! contains a value: only file names, object names, item names, scopes and fingerprints.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::crypto::{self, LENGTH_PREFIX_LEN, TAG_LEN};
use crate::manifest::{self, Document};
use crate::scope::Scope;
use crate::seal::LAST_APPLIED_ANNOTATIONS;
use crate::types::{SealedSecret, base64_std};

pub use crate::names::{SEALED_AT_ANNOTATION, SEALED_WITH_ANNOTATION};

/// The rotation policy for one file: items sealed longer than `max_age` before `now` fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgePolicy {
    pub max_age: time::Duration,
    /// The maximum age as the user wrote it (`90d`), for messages.
    pub shown: String,
    /// Where it comes from (`environment prod`, `--max-age`), for messages.
    pub source: String,
    pub now: time::OffsetDateTime,
}

/// What the repository config pins for one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    /// The environments whose paths matched the file (for messages).
    pub environments: Vec<String>,
    /// Allowed certificate fingerprints (`SHA256:…`).
    pub fingerprints: Vec<String>,
    /// Modulus sizes (bytes) of the pinned certificates that are known (from cert files).
    pub key_sizes: Vec<usize>,
    /// Whether a SealedSecret without the annotation fails.
    pub require_sealed_with: bool,
    /// The maximum age of items, when one applies.
    pub max_age: Option<AgePolicy>,
}

mod templated;

/// What `check` found in one file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FileCheck {
    /// One line each: `<file>: <object>: <reason>`.
    pub problems: Vec<String>,
    /// Set when the file was not checked as a manifest, saying why (a Go/Helm template).
    pub skipped: Option<String>,
}

/// Checks one file's text; `display` names it in messages.
///
/// A file that does not parse is a problem (naming the document and position), whatever it
/// seems to hold: guessing from its text whether it "claims" to hold Secrets let a broken
/// document after a plaintext Secret pass unseen. The one exception is a Go/Helm template
/// (`{{ … }}`), which cannot parse before it is rendered: it is skipped with a note, after a
/// conservative scan of its text for literal Secret data (`check/templated.rs`), which is a problem.
#[must_use]
pub fn check_file_noting_skips(display: &str, text: &[u8], pins: Option<&Pins>) -> FileCheck {
    let documents = match manifest::read_documents(text) {
        Ok(documents) => documents,
        Err(error) => {
            let text = String::from_utf8_lossy(text);
            if templated::looks_templated(&text) {
                let scan = templated::scan(display, &text);
                return FileCheck {
                    skipped: scan.problems.is_empty().then(|| {
                        format!("{display}: a Go/Helm template, not a manifest: not checked (no literal Secret data in it)")
                    }),
                    problems: scan.problems,
                };
            }
            return FileCheck {
                problems: vec![format!("{display}: {error}")],
                skipped: None,
            };
        }
    };
    let mut problems = Vec::new();
    for document in documents {
        check_document(display, document, pins, &mut problems);
    }
    FileCheck {
        problems,
        skipped: None,
    }
}

/// [`check_file_noting_skips`] without the note: the problems only.
#[must_use]
pub fn check_file(display: &str, text: &[u8], pins: Option<&Pins>) -> Vec<String> {
    check_file_noting_skips(display, text, pins).problems
}

fn str_at<'v>(value: &'v Value, path: &[&str]) -> &'v str {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn object_name(document: &Document, kind: &str) -> String {
    let value = document.value();
    let name = str_at(value, &["metadata", "name"]);
    let namespace = str_at(value, &["metadata", "namespace"]);
    match (namespace.is_empty(), name.is_empty()) {
        (_, true) => format!("{kind} in {}", document.position()),
        (true, false) => format!("{kind} {name}"),
        (false, false) => format!("{kind} {namespace}/{name}"),
    }
}

fn non_empty_map(value: Option<&Value>) -> bool {
    value
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
}

/// Whether a last-applied annotation holds secret data.
fn carries_data(annotation: &str) -> bool {
    match serde_json::from_str::<Value>(annotation) {
        Ok(applied) => {
            non_empty_map(applied.get("data"))
                || non_empty_map(applied.get("stringData"))
                || applied.get("spec").is_some_and(|s| {
                    non_empty_map(s.pointer("/template/data")) || s.get("data").is_some()
                }) && applied.get("kind").and_then(Value::as_str) != Some("SealedSecret")
        }
        Err(_) => annotation.contains("\"data\"") || annotation.contains("\"stringData\""),
    }
}

fn check_last_applied(annotations: Option<&Value>, what: &str, problems: &mut Vec<String>) {
    let Some(annotations) = annotations.and_then(Value::as_object) else {
        return;
    };
    for key in LAST_APPLIED_ANNOTATIONS {
        if annotations
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(carries_data)
        {
            problems.push(format!("{what}: annotation {key} carries secret data"));
        }
    }
}

fn check_document(
    display: &str,
    document: Document,
    pins: Option<&Pins>,
    problems: &mut Vec<String>,
) {
    let kind = document.kind().unwrap_or("").to_owned();
    let shown_kind = if kind.is_empty() {
        "object"
    } else {
        kind.as_str()
    };
    let object = format!("{display}: {}", object_name(&document, shown_kind));
    let value = document.value();
    check_last_applied(value.pointer("/metadata/annotations"), &object, problems);
    match kind.as_str() {
        "Secret" if non_empty_map(value.get("data")) || non_empty_map(value.get("stringData")) => {
            problems.push(format!(
                "{object}: plaintext Secret with data (seal it, and remove it from the repository)"
            ));
        }
        "SealedSecret" => {
            check_last_applied(
                value.pointer("/spec/template/metadata/annotations"),
                &object,
                problems,
            );
            match document.into_sealed_secret() {
                Ok(ss) => check_sealed_secret(&object, &ss, pins, problems),
                Err(error) => problems.push(format!("{display}: {error}")),
            }
        }
        _ => {}
    }
}

/// What `check` finds in one SealedSecret without the repository config's pins: its name,
/// namespace and scope against what its items are sealed for, and the shape of its items.
/// `object` starts every message (`FILE: SealedSecret NS/NAME`).
#[must_use]
pub fn check_sealed_object(object: &str, ss: &SealedSecret) -> Vec<String> {
    let mut problems = Vec::new();
    check_sealed_secret(object, ss, None, &mut problems);
    problems
}

fn check_sealed_secret(
    object: &str,
    ss: &SealedSecret,
    pins: Option<&Pins>,
    problems: &mut Vec<String>,
) {
    let outer = &ss.metadata;
    let template = &ss.spec.template.metadata;
    if outer.name.is_empty() {
        problems.push(format!("{object}: no metadata.name"));
    }
    if !template.name.is_empty() && template.name != outer.name {
        problems.push(format!(
            "{object}: sealed for name {}, named {}",
            template.name, outer.name
        ));
    }
    if !template.namespace.is_empty() && template.namespace != outer.namespace {
        let placed = if outer.namespace.is_empty() {
            "(none)"
        } else {
            outer.namespace.as_str()
        };
        problems.push(format!(
            "{object}: sealed for namespace {}, placed in {placed}",
            template.namespace
        ));
    }
    let scope = outer.scope();
    let template_scope = Scope::from_annotations(Some(&template.annotations));
    if scope != template_scope {
        problems.push(format!(
            "{object}: sealed for scope {template_scope}, annotated {scope}"
        ));
    }
    let key_sizes = pins.map(|p| p.key_sizes.as_slice()).unwrap_or_default();
    let mut items: BTreeMap<&str, &str> = BTreeMap::new();
    for (item, text) in ss.spec.encrypted_data.iter().flatten() {
        items.insert(item, text);
    }
    for (item, text) in items {
        let Ok(blob) = base64_std::decode(text) else {
            problems.push(format!("{object}: item {item:?} is not valid base64"));
            continue;
        };
        if let Some(problem) = blob_problem(&blob, key_sizes) {
            problems.push(format!("{object}: item {item:?}: {problem}"));
        }
    }
    if let Some(problem) = ss
        .spec
        .data
        .as_ref()
        .and_then(|b| blob_problem(b, key_sizes))
    {
        problems.push(format!("{object}: legacy spec.data: {problem}"));
    }
    if let Some(policy) = pins.and_then(|p| p.max_age.as_ref()) {
        check_ages(object, ss, policy, problems);
    }
    let Some(pins) = pins.filter(|p| !p.fingerprints.is_empty()) else {
        return;
    };
    let environments = pins.environments.join(", ");
    match outer.annotations.get(SEALED_WITH_ANNOTATION) {
        Some(fp) if pins.fingerprints.iter().any(|p| p == fp) => {}
        Some(fp) => problems.push(format!(
            "{object}: sealed with {}, which is not a certificate pinned for {environments}",
            printable_fingerprint(fp)
        )),
        None if pins.require_sealed_with => problems.push(format!(
            "{object}: no {SEALED_WITH_ANNOTATION} annotation, so the sealing certificate is unknown (reseal it with kubeseal-rs)"
        )),
        None => {}
    }
}

/// Every item older than the policy, or without a recorded time, is a problem.
fn check_ages(object: &str, ss: &SealedSecret, policy: &AgePolicy, problems: &mut Vec<String>) {
    let record = match ss.metadata.annotations.get(SEALED_AT_ANNOTATION) {
        None => crate::sealed_at::SealedAt::new(),
        Some(text) => match crate::sealed_at::parse(text) {
            Ok(record) => record,
            Err(error) => {
                problems.push(format!("{object}: {error}"));
                return;
            }
        },
    };
    let items: std::collections::BTreeSet<&str> = ss
        .spec
        .encrypted_data
        .iter()
        .flatten()
        .map(|(item, _)| item.as_str())
        .collect();
    for item in items {
        match record.get(item) {
            None => problems.push(format!(
                "{object}: item {item:?} has no {SEALED_AT_ANNOTATION} record, so its age is unknown (set it again with kubeseal-rs set)"
            )),
            Some(at) if policy.now - *at > policy.max_age => problems.push(format!(
                "{object}: item {item:?} was sealed on {}, older than the max age of {} ({})",
                crate::sealed_at::format_time(*at),
                policy.shown,
                policy.source
            )),
            Some(_) => {}
        }
    }
}

/// A fingerprint as found in a file: printed only when it looks like one (never arbitrary
/// file text).
#[must_use]
pub fn printable_fingerprint(fp: &str) -> &str {
    let looks_like = fp.len() <= 80
        && fp.starts_with("SHA256:")
        && fp[7..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='));
    if looks_like {
        fp
    } else {
        "an unrecognized fingerprint"
    }
}

/// What is wrong with a blob's layout, if anything.
fn blob_problem(blob: &[u8], key_sizes: &[usize]) -> Option<String> {
    let Some(rsa_len) = crypto::rsa_block_len(blob) else {
        return Some("too short to be a sealed value".to_owned());
    };
    if blob.len() < LENGTH_PREFIX_LEN + rsa_len + TAG_LEN {
        return Some(format!(
            "too short for its {rsa_len}-byte RSA block and GCM tag"
        ));
    }
    if !key_sizes.is_empty() && !key_sizes.contains(&rsa_len) {
        let pinned: Vec<String> = key_sizes.iter().map(|k| format!("{}-bit", k * 8)).collect();
        return Some(format!(
            "RSA block of {rsa_len} bytes ({}-bit key) does not fit the pinned {} key",
            rsa_len * 8,
            pinned.join(" or ")
        ));
    }
    if key_sizes.is_empty() && !(128..=1024).contains(&rsa_len) {
        return Some(format!(
            "RSA block of {rsa_len} bytes is not an RSA key size"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKey;
    use crate::seal::{SealOptions, seal_secret};
    use crate::types::Secret;

    fn sealed_yaml(key: &PrivateKey) -> String {
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db", "namespace": "prod"},
            "stringData": {"password": "hunter2"}
        }))
        .unwrap();
        let ss = seal_secret(secret, key.public_key(), &SealOptions::default()).unwrap();
        manifest::to_yaml(&ss).unwrap()
    }

    #[test]
    fn a_clean_file_passes_and_problems_are_all_reported() {
        let key = PrivateKey::generate(2048).unwrap();
        let yaml = sealed_yaml(&key);
        assert!(check_file("a.yaml", yaml.as_bytes(), None).is_empty());

        let moved = yaml.replacen("namespace: prod", "namespace: dev", 1);
        let problems = check_file("a.yaml", moved.as_bytes(), None);
        assert_eq!(
            problems,
            ["a.yaml: SealedSecret dev/db: sealed for namespace prod, placed in dev"]
        );

        let pins = Pins {
            environments: vec!["prod".to_owned()],
            fingerprints: vec!["SHA256:abc".to_owned()],
            key_sizes: vec![512],
            require_sealed_with: true,
            max_age: None,
        };
        let problems = check_file("a.yaml", yaml.as_bytes(), Some(&pins));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains(
            "RSA block of 256 bytes (2048-bit key) does not fit the pinned 4096-bit key"
        ));
        assert!(problems[1].contains("no sealed-secrets-rs/sealed-with annotation"));
    }

    #[test]
    fn items_older_than_the_max_age_or_without_a_time_fail() {
        use time::macros::datetime;
        let key = PrivateKey::generate(2048).unwrap();
        let yaml = sealed_yaml(&key);
        let policy = |now| Pins {
            max_age: Some(AgePolicy {
                max_age: time::Duration::days(90),
                shown: "90d".to_owned(),
                source: "--max-age".to_owned(),
                now,
            }),
            ..Pins::default()
        };
        let young = policy(datetime!(2027-01-01 00:00:00 UTC));
        assert_eq!(
            check_file("a.yaml", yaml.as_bytes(), Some(&young)),
            [
                "a.yaml: SealedSecret prod/db: item \"password\" has no sealed-secrets-rs/sealed-at record, so its age is unknown (set it again with kubeseal-rs set)"
            ]
        );
        let stamped = yaml.replacen(
            "metadata:\n",
            "metadata:\n  annotations:\n    sealed-secrets-rs/sealed-at: '{\"password\":\"2026-12-02T17:00:00Z\"}'\n",
            1,
        );
        assert!(check_file("a.yaml", stamped.as_bytes(), Some(&young)).is_empty());
        let old = policy(datetime!(2027-03-03 17:00:01 UTC));
        assert_eq!(
            check_file("a.yaml", stamped.as_bytes(), Some(&old)),
            [
                "a.yaml: SealedSecret prod/db: item \"password\" was sealed on 2026-12-02T17:00:00Z, older than the max age of 90d (--max-age)"
            ]
        );
        let broken = stamped.replace("2026-12-02T17:00:00Z", "hunter2");
        let problems = check_file("a.yaml", broken.as_bytes(), Some(&young));
        assert_eq!(
            problems,
            [
                "a.yaml: SealedSecret prod/db: annotation sealed-secrets-rs/sealed-at is not a JSON object of item names to RFC 3339 times"
            ]
        );
    }

    #[test]
    fn plaintext_and_last_applied_are_caught_without_printing_values() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns1\nstringData:\n  a: hunter2\n---\napiVersion: apps/v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"kind\":\"Secret\",\"data\":{\"a\":\"aHVudGVyMg==\"}}'\n";
        let problems = check_file("x.yaml", text.as_bytes(), None);
        assert_eq!(
            problems,
            [
                "x.yaml: Secret ns1/s: plaintext Secret with data (seal it, and remove it from the repository)",
                "x.yaml: ConfigMap c: annotation kubectl.kubernetes.io/last-applied-configuration carries secret data"
            ]
        );
        assert!(!problems.concat().contains("hunter2"));
    }

    #[test]
    fn other_manifests_pass_and_broken_documents_fail() {
        assert!(check_file("x.yaml", b"replicas: 3\n", None).is_empty());
        // A Go/Helm template is skipped with a note (its Secret data is scanned: templated.rs).
        let templated = check_file_noting_skips("t.yaml", b"image: {{ .Values.x }}\n", None);
        assert!(templated.problems.is_empty());
        assert_eq!(
            templated.skipped.as_deref(),
            Some(
                "t.yaml: a Go/Helm template, not a manifest: not checked (no literal Secret data in it)"
            )
        );
        assert_eq!(
            check_file("values.yaml", b"image: [unclosed\n", None),
            ["values.yaml: document 1: invalid YAML at line 1 column 8: unclosed bracket '['"]
        );
        // A broken document after a plaintext Secret, with nothing that looks like a claim.
        let text = "apiVersion: v1\nkind: 'Secret'\nmetadata:\n  name: s\nstringData:\n  a: hunter2\n---\nb: [unclosed\n";
        let problems = check_file("x.yaml", text.as_bytes(), None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("x.yaml: document 2: invalid YAML at line "),
            "{problems:?}"
        );
        assert!(!problems[0].contains("hunter2"));
    }
}
