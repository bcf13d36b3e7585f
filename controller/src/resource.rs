//! The SealedSecret as a kube resource: the core crate's spec and status under a k8s-openapi
//! `ObjectMeta`, so that kube's `Api`, watchers and reflectors can hold it.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use sealed_secrets_core::types::{
    self, SEALED_SECRET_API_VERSION, SEALED_SECRET_KIND, SealedSecretSpec, SealedSecretStatus,
};
use serde::{Deserialize, Serialize};

/// API group of SealedSecrets.
pub const GROUP: &str = "bitnami.com";
/// The only version.
pub const VERSION: &str = "v1alpha1";
/// Resource plural.
pub const PLURAL: &str = "sealedsecrets";

/// `bitnami.com/v1alpha1` SealedSecret as stored in the API server.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretObject {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: SealedSecretSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SealedSecretStatus>,
}

impl Resource for SealedSecretObject {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind((): &()) -> Cow<'_, str> {
        Cow::Borrowed(SEALED_SECRET_KIND)
    }
    fn group((): &()) -> Cow<'_, str> {
        Cow::Borrowed(GROUP)
    }
    fn version((): &()) -> Cow<'_, str> {
        Cow::Borrowed(VERSION)
    }
    fn api_version((): &()) -> Cow<'_, str> {
        Cow::Borrowed(SEALED_SECRET_API_VERSION)
    }
    fn plural((): &()) -> Cow<'_, str> {
        Cow::Borrowed(PLURAL)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl SealedSecretObject {
    /// The object in the core crate's types, with `apiVersion`/`kind` filled in (cache objects
    /// lack them; SPEC §3.6 step 3).
    #[must_use]
    pub fn to_core(&self) -> types::SealedSecret {
        types::SealedSecret {
            kind: SEALED_SECRET_KIND.to_owned(),
            api_version: SEALED_SECRET_API_VERSION.to_owned(),
            metadata: meta_to_core(&self.metadata),
            spec: self.spec.clone(),
            status: self.status.clone(),
        }
    }

    /// `namespace/name`, for logs.
    #[must_use]
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default()
        )
    }

    /// The SealedSecret's own `app.kubernetes.io/instance` label (a `condition_info` label).
    #[must_use]
    pub fn instance_label(&self) -> String {
        self.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app.kubernetes.io/instance"))
            .cloned()
            .unwrap_or_default()
    }
}

/// Converts k8s-openapi metadata to the core crate's (server fields included).
#[must_use]
pub fn meta_to_core(meta: &ObjectMeta) -> types::ObjectMeta {
    types::ObjectMeta {
        name: meta.name.clone().unwrap_or_default(),
        generate_name: meta.generate_name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        self_link: meta.self_link.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        resource_version: meta.resource_version.clone().unwrap_or_default(),
        generation: meta.generation.unwrap_or_default(),
        creation_timestamp: meta
            .creation_timestamp
            .as_ref()
            .and_then(|t| serde_json::to_value(t).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
        deletion_timestamp: meta
            .deletion_timestamp
            .as_ref()
            .and_then(|t| serde_json::to_value(t).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
        deletion_grace_period_seconds: meta.deletion_grace_period_seconds,
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
        owner_references: meta
            .owner_references
            .iter()
            .flatten()
            .map(|o| types::OwnerReference {
                api_version: o.api_version.clone(),
                kind: o.kind.clone(),
                name: o.name.clone(),
                uid: o.uid.clone(),
                controller: o.controller,
                block_owner_deletion: o.block_owner_deletion,
            })
            .collect(),
        finalizers: meta.finalizers.clone().unwrap_or_default(),
        managed_fields: Vec::new(),
    }
}

/// Converts the core crate's metadata to k8s-openapi's, for objects we write. Server-owned
/// fields that a client must not send on create (uid, resourceVersion, timestamps) are dropped.
#[must_use]
pub fn meta_from_core(meta: &types::ObjectMeta) -> ObjectMeta {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    let non_empty = |s: &String| Some(s.clone()).filter(|s| !s.is_empty());
    ObjectMeta {
        name: non_empty(&meta.name),
        generate_name: non_empty(&meta.generate_name),
        namespace: non_empty(&meta.namespace),
        labels: Some(meta.labels.clone()).filter(|m| !m.is_empty()),
        annotations: Some(meta.annotations.clone()).filter(|m| !m.is_empty()),
        owner_references: Some(
            meta.owner_references
                .iter()
                .map(|o| OwnerReference {
                    api_version: o.api_version.clone(),
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    uid: o.uid.clone(),
                    controller: o.controller,
                    block_owner_deletion: o.block_owner_deletion,
                })
                .collect::<Vec<_>>(),
        )
        .filter(|v| !v.is_empty()),
        finalizers: Some(meta.finalizers.clone()).filter(|v| !v.is_empty()),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_identity() {
        assert_eq!(SealedSecretObject::kind(&()), "SealedSecret");
        assert_eq!(SealedSecretObject::api_version(&()), "bitnami.com/v1alpha1");
        assert_eq!(
            SealedSecretObject::url_path(&(), Some("ns")),
            "/apis/bitnami.com/v1alpha1/namespaces/ns/sealedsecrets"
        );
    }

    #[test]
    fn decodes_api_object_and_converts() {
        let json = r#"{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret",
            "metadata":{"name":"s","namespace":"n","uid":"u1","generation":2,
                        "creationTimestamp":"2024-01-02T03:04:05Z",
                        "annotations":{"sealedsecrets.bitnami.com/namespace-wide":"true"}},
            "spec":{"template":{"metadata":{"labels":{"a":"b"}},"type":"Opaque"},
                    "encryptedData":{"foo":"AgA="}},
            "status":{"observedGeneration":1,"conditions":[{"type":"Synced","status":"True"}]}}"#;
        let obj: SealedSecretObject = serde_json::from_str(json).unwrap();
        let core = obj.to_core();
        assert_eq!(core.metadata.uid, "u1");
        assert_eq!(core.metadata.generation, 2);
        assert_eq!(
            core.metadata.creation_timestamp.as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert!(core.has_sealed_secret_type());
        assert_eq!(core.spec.template.type_, "Opaque");
        assert_eq!(obj.key(), "n/s");
        let back = meta_from_core(&core.spec.template.metadata);
        assert_eq!(back.labels.unwrap()["a"], "b");
    }
}
