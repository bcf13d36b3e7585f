//! The Secret a SealedSecret produces, and the rules for writing it over an existing one
//! (SPEC §3.6 steps 6–10, §3.9): the ownership gate, patch and normal merges, the semantic
//! comparison that decides whether an update is needed, and which deleted Secrets to recreate.
//!
//! Everything here is pure; `controller.rs` does the API calls.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sealed_secrets_core::seal::{MANAGED_ANNOTATION, PATCH_ANNOTATION};
use sealed_secrets_core::types;

use crate::resource::{self, meta_from_core};
use crate::value_errors::VALUE_ERRORS_ANNOTATION;
use sealed_secrets_core::names::UNSEALED_DIGEST_ANNOTATION as DIGEST_ANNOTATION;

/// The error text upstream uses when a Secret update is refused by the API server because the
/// Secret is immutable.
pub const IMMUTABLE_ERROR_SUFFIX: &str = "field is immutable when `immutable` is set";

fn annotation_is_true(meta: &ObjectMeta, key: &str) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .is_some_and(|v| v == "true")
}

/// Whether `secret` carries `sealedsecrets.bitnami.com/managed: "true"`.
#[must_use]
pub fn is_managed(secret: &Secret) -> bool {
    annotation_is_true(&secret.metadata, MANAGED_ANNOTATION)
}

/// Whether `secret` carries `sealedsecrets.bitnami.com/patch: "true"`.
#[must_use]
pub fn is_patch(secret: &Secret) -> bool {
    annotation_is_true(&secret.metadata, PATCH_ANNOTATION)
}

/// Whether `secret` has a controller ownerReference with `uid` (metav1.IsControlledBy).
#[must_use]
pub fn is_controlled_by(secret: &Secret, uid: &str) -> bool {
    secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// The ownership gate: the controller may write over `existing` when the SealedSecret with
/// `uid` controls it, or it is annotated `managed` or `patch`.
#[must_use]
pub fn may_update(existing: &Secret, uid: &str) -> bool {
    is_controlled_by(existing, uid) || is_managed(existing) || is_patch(existing)
}

/// The error message of a refused Secret (event text; the returned error is `failed update: …`).
#[must_use]
pub fn unmanaged_message(name: &str) -> String {
    format!("Resource {name:?} already exists and is not managed by SealedSecret")
}

/// The message of the event for an update refused because the Secret is immutable.
#[must_use]
pub fn immutable_message(namespace: &str, name: &str) -> String {
    format!(
        "Error updating {namespace}/{name}: the target Secret is immutable. Once a Secret is marked as immutable, it is not possible to revert this change nor to mutate the contents of the data field. You can only delete and recreate the Secret."
    )
}

/// Converts the unsealed core Secret into the k8s object to create.
#[must_use]
pub fn to_k8s(secret: &types::Secret) -> Secret {
    let data: BTreeMap<String, ByteString> = secret
        .data
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec())))
        .collect();
    Secret {
        metadata: meta_from_core(&secret.metadata),
        data: Some(data).filter(|d| !d.is_empty()),
        type_: Some(secret.type_.clone()).filter(|t| !t.is_empty()),
        immutable: secret.immutable,
        string_data: None,
    }
}

/// Converts a k8s Secret to the core type (key Secrets).
#[must_use]
pub fn to_core(secret: &Secret) -> types::Secret {
    types::Secret {
        kind: "Secret".to_owned(),
        api_version: "v1".to_owned(),
        metadata: resource::meta_to_core(&secret.metadata),
        immutable: secret.immutable,
        data: secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| {
                (
                    k.clone(),
                    sealed_secrets_core::secret_bytes::SecretBytes::from_slice(&v.0),
                )
            })
            .collect(),
        string_data: BTreeMap::new(),
        type_: secret.type_.clone().unwrap_or_default(),
    }
}

fn merge_maps<V: Clone>(
    existing: Option<&BTreeMap<String, V>>,
    new: Option<&BTreeMap<String, V>>,
) -> Option<BTreeMap<String, V>> {
    let mut out = existing.cloned().unwrap_or_default();
    for (k, v) in new.into_iter().flatten() {
        out.insert(k.clone(), v.clone());
    }
    Some(out).filter(|m| !m.is_empty())
}

/// Writes `desired` over `existing` (SPEC §3.6 step 9).
///
/// - patch mode (`existing` has `patch: "true"`): data, labels and annotations are merged key
///   by key, the new values winning; owner references are replaced only when `existing` is
///   also `managed` (upstream looks at the merged annotations, so a template could adopt it).
/// - normal mode: data, labels, annotations and owner references are replaced wholesale.
///
/// Both: `type` is the template's; `immutable`, finalizers and other metadata are untouched.
/// Our digest annotation never carries over from `existing`.
#[must_use]
pub fn merge(existing: &Secret, desired: &Secret) -> Secret {
    let mut out = existing.clone();
    if is_patch(existing) {
        out.data = merge_maps(existing.data.as_ref(), desired.data.as_ref());
        out.metadata.labels = merge_maps(
            existing.metadata.labels.as_ref(),
            desired.metadata.labels.as_ref(),
        );
        out.metadata.annotations = merge_maps(
            existing.metadata.annotations.as_ref(),
            desired.metadata.annotations.as_ref(),
        );
        // Ownership follows what the Secret's owner wrote on the Secret, never what the
        // template merges in: a `managed` annotation in a template must not make a patched
        // Secret ours (it would then be garbage-collected with the SealedSecret).
        if is_managed(existing) {
            out.metadata
                .owner_references
                .clone_from(&desired.metadata.owner_references);
        }
    } else {
        out.data.clone_from(&desired.data);
        out.metadata.labels.clone_from(&desired.metadata.labels);
        out.metadata
            .annotations
            .clone_from(&desired.metadata.annotations);
        out.metadata
            .owner_references
            .clone_from(&desired.metadata.owner_references);
    }
    if let Some(a) = out.metadata.annotations.as_mut() {
        a.remove(DIGEST_ANNOTATION);
        // The record of failed values is this pass's, never an earlier one's.
        match desired
            .metadata
            .annotations
            .as_ref()
            .and_then(|d| d.get(VALUE_ERRORS_ANNOTATION))
        {
            Some(errors) => a.insert(VALUE_ERRORS_ANNOTATION.to_owned(), errors.clone()),
            None => a.remove(VALUE_ERRORS_ANNOTATION),
        };
        if a.is_empty() {
            out.metadata.annotations = None;
        }
    }
    out.type_.clone_from(&desired.type_);
    out
}

/// Writes `desired` over `existing` to repair a drift: the SealedSecret is unchanged since the
/// Secret was last written, and the Secret was changed by someone else. In `patch` mode this is
/// [`merge`]. Otherwise data and `type` are the SealedSecret's (data wholesale, as [`merge`]),
/// the labels and annotations the template sets get its values back, and labels, annotations
/// and owner references only others set are kept: other tools may annotate a Secret without a
/// fight (they would be removed only when the SealedSecret itself changes, as upstream).
#[must_use]
pub fn merge_repair(existing: &Secret, desired: &Secret) -> Secret {
    if is_patch(existing) {
        return merge(existing, desired);
    }
    let mut kept = existing.clone();
    kept.metadata.labels = merge_maps(
        existing.metadata.labels.as_ref(),
        desired.metadata.labels.as_ref(),
    );
    kept.metadata.annotations = merge_maps(
        existing.metadata.annotations.as_ref(),
        desired.metadata.annotations.as_ref(),
    );
    // The record of failed values is this pass's (merge takes it from `wanted`).
    let failures = desired
        .metadata
        .annotations
        .as_ref()
        .and_then(|d| d.get(VALUE_ERRORS_ANNOTATION));
    if failures.is_none()
        && let Some(a) = kept.metadata.annotations.as_mut()
    {
        a.remove(VALUE_ERRORS_ANNOTATION);
    }
    let mut wanted = desired.clone();
    wanted.metadata.labels.clone_from(&kept.metadata.labels);
    wanted
        .metadata
        .annotations
        .clone_from(&kept.metadata.annotations);
    wanted
        .metadata
        .owner_references
        .clone_from(&existing.metadata.owner_references);
    merge(&kept, &wanted)
}

fn norm_map<V>(m: Option<&BTreeMap<String, V>>) -> Option<&BTreeMap<String, V>> {
    m.filter(|m| !m.is_empty())
}

fn norm_type(t: Option<&String>) -> &str {
    t.map_or("", String::as_str)
}

/// Whether an update would change anything the controller writes (apimachinery's semantic
/// equality: nil and empty maps are equal). A `type` left empty by the template is a change only
/// if the stored one is not empty either (the API server defaults it to `Opaque`).
#[must_use]
pub fn needs_update(existing: &Secret, candidate: &Secret) -> bool {
    let type_changed = {
        let (a, b) = (
            norm_type(existing.type_.as_ref()),
            norm_type(candidate.type_.as_ref()),
        );
        a != b && !(b.is_empty() && a == "Opaque")
    };
    type_changed
        || norm_map(existing.data.as_ref()) != norm_map(candidate.data.as_ref())
        || norm_map(existing.metadata.labels.as_ref())
            != norm_map(candidate.metadata.labels.as_ref())
        || norm_map(existing.metadata.annotations.as_ref())
            != norm_map(candidate.metadata.annotations.as_ref())
        || existing.metadata.owner_references.as_deref().unwrap_or(&[])
            != candidate
                .metadata
                .owner_references
                .as_deref()
                .unwrap_or(&[])
}

/// Which SealedSecret (namespace, name) to reconcile when a Secret is deleted (SPEC §3.3, §3.9):
/// the one controlling it through a SealedSecret ownerReference, else the one of the same name
/// when the Secret was annotated `managed`. A `patch`-only Secret is not recreated.
#[must_use]
pub fn recreate_target(meta: &ObjectMeta) -> Option<(String, String)> {
    let namespace = meta.namespace.clone()?;
    let owner = meta.owner_references.iter().flatten().find(|o| {
        o.controller == Some(true)
            && o.kind == "SealedSecret"
            && o.api_version.starts_with("bitnami.com/")
    });
    if let Some(owner) = owner {
        return Some((namespace, owner.name.clone()));
    }
    if annotation_is_true(meta, MANAGED_ANNOTATION) {
        return Some((namespace, meta.name.clone()?));
    }
    None
}

/// Which SealedSecret (namespace, name) to check for drift when a Secret changes: the one
/// controlling it, else the one of the same name when the Secret is annotated `managed` or
/// `patch` (the keys a SealedSecret patched in are put back too).
#[must_use]
pub fn drift_target(meta: &ObjectMeta) -> Option<(String, String)> {
    recreate_target(meta).or_else(|| {
        annotation_is_true(meta, PATCH_ANNOTATION)
            .then(|| Some((meta.namespace.clone()?, meta.name.clone()?)))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn owner(uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "bitnami.com/v1alpha1".into(),
            kind: "SealedSecret".into(),
            name: "s".into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: None,
        }
    }

    fn secret(
        data: &[(&str, &str)],
        labels: &[(&str, &str)],
        annotations: &[(&str, &str)],
        owners: Vec<OwnerReference>,
    ) -> Secret {
        let map = |kv: &[(&str, &str)]| {
            Some(
                kv.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            )
            .filter(|m| !m.is_empty())
        };
        Secret {
            metadata: ObjectMeta {
                name: Some("s".into()),
                namespace: Some("n".into()),
                labels: map(labels),
                annotations: map(annotations),
                owner_references: Some(owners).filter(|o| !o.is_empty()),
                resource_version: Some("7".into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            )
            .filter(|m: &BTreeMap<_, _>| !m.is_empty()),
            type_: Some("Opaque".into()),
            ..Secret::default()
        }
    }

    #[test]
    fn ownership_gate() {
        let owned = secret(&[], &[], &[], vec![owner("u1")]);
        assert!(may_update(&owned, "u1"));
        assert!(!may_update(&owned, "u2"));
        let mut not_controller = owner("u1");
        not_controller.controller = None;
        assert!(!may_update(
            &secret(&[], &[], &[], vec![not_controller]),
            "u1"
        ));
        assert!(may_update(
            &secret(&[], &[], &[(MANAGED_ANNOTATION, "true")], vec![]),
            "u1"
        ));
        assert!(may_update(
            &secret(&[], &[], &[(PATCH_ANNOTATION, "true")], vec![]),
            "u1"
        ));
        assert!(!may_update(
            &secret(&[], &[], &[(MANAGED_ANNOTATION, "TRUE")], vec![]),
            "u1"
        ));
        assert!(!may_update(&secret(&[], &[], &[], vec![]), "u1"));
        assert_eq!(
            unmanaged_message("s"),
            "Resource \"s\" already exists and is not managed by SealedSecret"
        );
    }

    #[test]
    fn normal_merge_replaces_wholesale() {
        let existing = secret(
            &[("old", "1"), ("foo", "x")],
            &[("l-old", "1")],
            &[(MANAGED_ANNOTATION, "true")],
            vec![],
        );
        let desired = secret(
            &[("foo", "bar")],
            &[("mylabel", "v")],
            &[],
            vec![owner("u1")],
        );
        let merged = merge(&existing, &desired);
        assert_eq!(merged.data, desired.data);
        assert_eq!(merged.metadata.labels, desired.metadata.labels);
        // The adopted Secret loses its managed annotation (upstream's integration test).
        assert_eq!(merged.metadata.annotations, None);
        assert_eq!(merged.metadata.owner_references, Some(vec![owner("u1")]));
        assert_eq!(merged.metadata.resource_version.as_deref(), Some("7"));
        assert!(needs_update(&existing, &merged));
        assert!(!needs_update(&merged, &merged.clone()));
    }

    #[test]
    fn patch_merge_keeps_existing_keys() {
        let existing = secret(
            &[("keep", "1"), ("foo", "old")],
            &[("a", "1")],
            &[(PATCH_ANNOTATION, "true"), ("x", "1")],
            vec![],
        );
        let desired = secret(
            &[("foo", "new")],
            &[("b", "2")],
            &[("y", "2")],
            vec![owner("u1")],
        );
        let merged = merge(&existing, &desired);
        let data = merged.data.as_ref().unwrap();
        assert_eq!(data["keep"].0, b"1");
        assert_eq!(data["foo"].0, b"new");
        assert_eq!(merged.metadata.labels.as_ref().unwrap().len(), 2);
        let ann = merged.metadata.annotations.as_ref().unwrap();
        assert_eq!(ann[PATCH_ANNOTATION], "true");
        assert_eq!(ann["y"], "2");
        // patch without managed: no ownership taken.
        assert_eq!(merged.metadata.owner_references, None);

        let existing = secret(
            &[],
            &[],
            &[(PATCH_ANNOTATION, "true"), (MANAGED_ANNOTATION, "true")],
            vec![],
        );
        let merged = merge(&existing, &desired);
        assert_eq!(merged.metadata.owner_references, Some(vec![owner("u1")]));
    }

    #[test]
    fn repair_puts_back_ours_and_keeps_theirs() {
        let desired = secret(
            &[("foo", "bar")],
            &[("app", "web")],
            &[("tmpl", "1")],
            vec![owner("u1")],
        );
        let mut existing = secret(
            &[("foo", "edited"), ("extra", "x")],
            &[("app", "changed"), ("team", "t")],
            &[("tool/seen", "yes")],
            vec![owner("u1"), owner("other")],
        );
        existing.metadata.owner_references.as_mut().unwrap()[1].controller = None;
        existing.type_ = Some("kubernetes.io/tls".into());
        let repaired = merge_repair(&existing, &desired);
        assert_eq!(repaired.data, desired.data);
        assert_eq!(repaired.type_.as_deref(), Some("Opaque"));
        let labels = repaired.metadata.labels.as_ref().unwrap();
        assert_eq!(
            (labels["app"].as_str(), labels["team"].as_str()),
            ("web", "t")
        );
        let annotations = repaired.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations["tmpl"], "1");
        assert_eq!(annotations["tool/seen"], "yes");
        assert_eq!(
            repaired.metadata.owner_references,
            existing.metadata.owner_references
        );
        assert!(needs_update(&existing, &repaired));
        // Nothing of ours changed, only theirs: no update.
        let mut theirs = repaired.clone();
        theirs
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("more".into(), "1".into());
        assert!(!needs_update(&theirs, &merge_repair(&theirs, &desired)));
        // Patch mode: the patch merge.
        let patched = secret(
            &[("keep", "1"), ("foo", "edited")],
            &[],
            &[(PATCH_ANNOTATION, "true")],
            vec![],
        );
        assert_eq!(merge_repair(&patched, &desired), merge(&patched, &desired));
    }

    #[test]
    fn type_is_taken_from_template() {
        let existing = secret(&[("a", "1")], &[], &[], vec![owner("u")]);
        let mut desired = existing.clone();
        desired.type_ = Some("kubernetes.io/dockerconfigjson".into());
        assert!(needs_update(&existing, &merge(&existing, &desired)));
        desired.type_ = None;
        // Empty template type over the server default Opaque is no change.
        assert!(!needs_update(&existing, &merge(&existing, &desired)));
    }

    #[test]
    fn nil_and_empty_are_equal() {
        let mut a = secret(&[("a", "1")], &[], &[], vec![]);
        let mut b = a.clone();
        a.metadata.labels = Some(BTreeMap::new());
        b.metadata.labels = None;
        a.metadata.owner_references = Some(vec![]);
        assert!(!needs_update(&a, &b));
    }

    #[test]
    fn digest_annotation_does_not_carry_over() {
        let existing = secret(
            &[],
            &[],
            &[(PATCH_ANNOTATION, "true"), (DIGEST_ANNOTATION, "v1;x;;y")],
            vec![],
        );
        let desired = secret(&[("a", "1")], &[], &[], vec![]);
        let merged = merge(&existing, &desired);
        assert!(
            !merged
                .metadata
                .annotations
                .unwrap()
                .contains_key(DIGEST_ANNOTATION)
        );
    }

    #[test]
    fn recreation_targets() {
        let owned = secret(&[], &[], &[], vec![owner("u1")]);
        assert_eq!(
            recreate_target(&owned.metadata),
            Some(("n".into(), "s".into()))
        );
        let managed = secret(&[], &[], &[(MANAGED_ANNOTATION, "true")], vec![]);
        assert_eq!(
            recreate_target(&managed.metadata),
            Some(("n".into(), "s".into()))
        );
        let patch = secret(&[], &[], &[(PATCH_ANNOTATION, "true")], vec![]);
        assert_eq!(recreate_target(&patch.metadata), None);
        // A change (not a deletion) of a patched Secret is checked for drift.
        assert_eq!(
            drift_target(&patch.metadata),
            Some(("n".into(), "s".into()))
        );
        assert_eq!(
            drift_target(&owned.metadata),
            Some(("n".into(), "s".into()))
        );
        assert_eq!(drift_target(&secret(&[], &[], &[], vec![]).metadata), None);
        assert_eq!(
            recreate_target(&secret(&[], &[], &[], vec![]).metadata),
            None
        );
    }

    #[test]
    fn immutable_text() {
        assert_eq!(
            immutable_message("ns", "s"),
            "Error updating ns/s: the target Secret is immutable. Once a Secret is marked as immutable, it is not possible to revert this change nor to mutate the contents of the data field. You can only delete and recreate the Secret."
        );
    }
}
