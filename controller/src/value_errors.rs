//! Values the controller could not compute, reported where only Secret readers look.
//!
//! A template that fails while it runs, a value its Secret type would refuse, or new values for
//! an immutable Secret may each depend on a plaintext: whether `{{ if eq (substr 0 1 .password)
//! "c" }}{{ fail "" }}{{ end }}` fails *is* a bit of the password. Anyone who may edit a
//! SealedSecret can read its status and events, and many of them may not read the Secret; so
//! such a failure leaves the SealedSecret's status, events, metrics and logs exactly as a
//! success would (docs/security.md). The Secret is still written, and it says what happened:
//!
//! - the failed key keeps the value the existing Secret has for it, or gets a placeholder (empty,
//!   or `{}` for the JSON the Docker types require) so that the API server's validation, which
//!   would otherwise refuse a missing key, cannot tell either;
//! - the annotation [`VALUE_ERRORS_ANNOTATION`] lists each failed key with the reason, as a JSON
//!   object; it is removed once every value renders again.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use sealed_secrets_core::seal::{ItemError, JSON_VALUED_KEYS};

/// The Secret annotation listing the values that could not be computed (JSON object: key →
/// reason). Never on the SealedSecret.
pub const VALUE_ERRORS_ANNOTATION: &str = "sealed-secrets-rs/value-errors";

/// Longest reason kept per key (a template error names a position and a function).
const MAX_REASON_BYTES: usize = 512;

/// The reason recorded for a value an immutable Secret kept.
pub const IMMUTABLE_REASON: &str =
    "not updated: the Secret is immutable (delete it to have it written again)";

fn placeholder(secret_type: Option<&str>, key: &str) -> Vec<u8> {
    let json = JSON_VALUED_KEYS
        .iter()
        .any(|(t, k)| Some(*t) == secret_type && *k == key);
    if json { b"{}".to_vec() } else { Vec::new() }
}

fn truncate(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}

/// Gives every failed key of `desired` the value `existing` holds for it, else a placeholder,
/// and records the failures in [`VALUE_ERRORS_ANNOTATION`] (removed when there are none).
pub fn fill(desired: &mut Secret, existing: Option<&Secret>, failures: &[ItemError]) {
    let mut reasons = BTreeMap::new();
    for failure in failures {
        let kept = existing
            .and_then(|e| e.data.as_ref())
            .and_then(|d| d.get(&failure.item))
            .cloned();
        let value = kept
            .unwrap_or_else(|| ByteString(placeholder(desired.type_.as_deref(), &failure.item)));
        desired
            .data
            .get_or_insert_with(BTreeMap::new)
            .insert(failure.item.clone(), value);
        reasons.insert(failure.item.clone(), truncate(&failure.kind.to_string()));
    }
    record(desired, &reasons);
}

/// For an `existing` Secret marked immutable, keeps its data in `candidate` and records the
/// keys whose new value was not written. The API server refuses any change to such data, and
/// whether the new values differ from the stored ones must not show outside the Secret.
pub fn keep_immutable_data(candidate: &mut Secret, existing: &Secret) {
    if existing.immutable != Some(true) {
        return;
    }
    let stored = existing.data.clone().unwrap_or_default();
    let wanted = candidate.data.take().unwrap_or_default();
    let mut reasons = recorded(candidate);
    for (key, value) in &wanted {
        if stored.get(key) != Some(value) {
            reasons.insert(key.clone(), IMMUTABLE_REASON.to_owned());
        }
    }
    for key in stored.keys() {
        if !wanted.contains_key(key) {
            reasons.insert(key.clone(), IMMUTABLE_REASON.to_owned());
        }
    }
    candidate.data = Some(stored).filter(|d| !d.is_empty());
    record(candidate, &reasons);
}

fn recorded(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(VALUE_ERRORS_ANNOTATION))
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default()
}

fn record(secret: &mut Secret, reasons: &BTreeMap<String, String>) {
    let annotations = secret
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    match serde_json::to_string(reasons) {
        Ok(text) if !reasons.is_empty() => {
            annotations.insert(VALUE_ERRORS_ANNOTATION.to_owned(), text);
        }
        _ => {
            annotations.remove(VALUE_ERRORS_ANNOTATION);
        }
    }
    if annotations.is_empty() {
        secret.metadata.annotations = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealed_secrets_core::seal::ItemErrorKind;

    fn failure(item: &str) -> ItemError {
        ItemError {
            item: item.to_owned(),
            kind: ItemErrorKind::Template("template: x:1:3: executing \"x\" at <fail>".into()),
        }
    }

    fn data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
        secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect()
    }

    #[test]
    fn failed_values_keep_the_stored_value_or_get_a_placeholder() {
        let existing = Secret {
            data: Some(BTreeMap::from([("a".into(), ByteString(b"old".to_vec()))])),
            ..Secret::default()
        };
        let mut desired = Secret {
            type_: Some("kubernetes.io/dockerconfigjson".into()),
            ..Secret::default()
        };
        fill(
            &mut desired,
            Some(&existing),
            &[failure("a"), failure("b"), failure(".dockerconfigjson")],
        );
        assert_eq!(
            data(&desired),
            BTreeMap::from([
                ("a".to_owned(), b"old".to_vec()),
                ("b".to_owned(), Vec::new()),
                (".dockerconfigjson".to_owned(), b"{}".to_vec()),
            ])
        );
        let reasons = recorded(&desired);
        assert_eq!(reasons.len(), 3);
        // No failure: the annotation goes away.
        fill(&mut desired, None, &[]);
        assert!(desired.metadata.annotations.is_none());
    }

    #[test]
    fn immutable_secret_keeps_its_data_and_says_which_keys() {
        let existing = Secret {
            immutable: Some(true),
            data: Some(BTreeMap::from([
                ("same".into(), ByteString(b"1".to_vec())),
                ("changed".into(), ByteString(b"2".to_vec())),
            ])),
            ..Secret::default()
        };
        let mut candidate = existing.clone();
        candidate.data = Some(BTreeMap::from([
            ("same".into(), ByteString(b"1".to_vec())),
            ("changed".into(), ByteString(b"3".to_vec())),
        ]));
        keep_immutable_data(&mut candidate, &existing);
        assert_eq!(candidate.data, existing.data);
        assert_eq!(recorded(&candidate).keys().collect::<Vec<_>>(), ["changed"]);
        // A mutable Secret is left alone.
        let mut mutable = existing.clone();
        mutable.immutable = None;
        let mut candidate = mutable.clone();
        candidate.data = None;
        keep_immutable_data(&mut candidate, &mutable);
        assert!(candidate.data.is_none());
    }
}
