//! Every annotation and label name that both programs read or write, in one place.
//!
//! Upstream's names (`sealedsecrets.bitnami.com/…`, SPEC §1.3, §3.4, §3.6) come first; the
//! names of our additions (`sealed-secrets-rs/…`) follow. Upstream's controller and `kubeseal`
//! ignore the additions, so an object carrying them stays readable by upstream's tools.

// --- Upstream's names -------------------------------------------------------------------------

/// Annotation that makes an object cluster-wide (value exactly `"true"`).
pub const CLUSTER_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/cluster-wide";
/// Annotation that makes an object namespace-wide (value exactly `"true"`).
pub const NAMESPACE_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/namespace-wide";
/// Template annotation: the unsealed Secret gets no ownerReference.
pub const SKIP_SET_OWNER_REFERENCES_ANNOTATION: &str =
    "sealedsecrets.bitnami.com/skip-set-owner-references";
/// Secret annotation: the controller may take over a Secret it does not own.
pub const MANAGED_ANNOTATION: &str = "sealedsecrets.bitnami.com/managed";
/// Secret annotation: merge into the existing Secret instead of replacing it.
pub const PATCH_ANNOTATION: &str = "sealedsecrets.bitnami.com/patch";
/// Label that marks the controller's key Secrets; only the value [`KEY_LABEL_ACTIVE`] is loaded.
pub const SEALED_SECRETS_KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
/// The value of [`SEALED_SECRETS_KEY_LABEL`] on keys in use.
pub const KEY_LABEL_ACTIVE: &str = "active";
/// Annotations stripped from a Secret's template because they may carry the plaintext.
pub const LAST_APPLIED_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
];

// --- Our additions ----------------------------------------------------------------------------

/// SealedSecret (outer metadata) annotation: the fingerprint (`SHA256:…`) of the certificate it
/// was sealed with, written by `kubeseal-rs` and read by `check` (never reaches the Secret).
pub const SEALED_WITH_ANNOTATION: &str = "sealed-secrets-rs/sealed-with";
/// SealedSecret (outer metadata) annotation: when each item was sealed, a compact JSON object
/// item → RFC 3339 UTC time in whole seconds, keys sorted ([`crate::sealed_at`]). Written by
/// `kubeseal-rs` next to [`SEALED_WITH_ANNOTATION`], read by `check --max-age`; never in the
/// template, so it never reaches the Secret.
pub const SEALED_AT_ANNOTATION: &str = "sealed-secrets-rs/sealed-at";
/// Where controllers before ADR 0004 kept the digest record ([`crate::digest`]) on the Secret;
/// it now lives in the SealedSecret's `status.unsealedDigest`, and this annotation is only read
/// once (then removed) from Secrets written by an earlier version.
pub const UNSEALED_DIGEST_ANNOTATION: &str = "sealed-secrets-rs/unsealed-digest";
/// Secret annotation: the values that could not be computed, key → reason (never on the
/// SealedSecret: its reason may depend on a plaintext).
pub const VALUE_ERRORS_ANNOTATION: &str = "sealed-secrets-rs/value-errors";
/// SealedSecret (outer metadata) annotation: `"false"` turns drift repair off for this object,
/// so a Secret edited by hand keeps the edit until the SealedSecret itself changes (any other
/// value, or none, leaves it on; docs/controller.md "Drift repair").
pub const DRIFT_REPAIR_ANNOTATION: &str = "sealed-secrets-rs/drift-repair";
/// SealedSecret (outer metadata) annotation of a cluster-wide SealedSecret: also unseal it
/// into these namespaces (comma separated), each of which must consent with
/// [`FAN_OUT_FROM_ANNOTATION`] (fan-out, docs/fan-out.md, ADR 0007).
pub const FAN_OUT_NAMESPACES_ANNOTATION: &str = "sealed-secrets-rs/fan-out-namespaces";
/// SealedSecret (outer metadata) annotation of a cluster-wide SealedSecret: also unseal it into
/// the namespaces whose labels match this label selector (and that consent).
pub const FAN_OUT_SELECTOR_ANNOTATION: &str = "sealed-secrets-rs/fan-out-selector";
/// Namespace annotation: the namespaces (comma separated, or `*`) whose cluster-wide
/// SealedSecrets may fan out into this one. Without it, nothing is ever written here.
pub const FAN_OUT_FROM_ANNOTATION: &str = "sealed-secrets-rs/fan-out-from";
/// Label on a fan-out copy: the namespace of its SealedSecret.
pub const FAN_OUT_SOURCE_NAMESPACE_LABEL: &str = "sealed-secrets-rs/fan-out-source-namespace";
/// Label on a fan-out copy: the name of its SealedSecret.
pub const FAN_OUT_SOURCE_NAME_LABEL: &str = "sealed-secrets-rs/fan-out-source-name";
/// Annotation on a fan-out copy: the uid of its SealedSecret. A Secret without the source's uid
/// is not a copy of it, whatever its labels say: never overwritten, never deleted.
pub const FAN_OUT_SOURCE_UID_ANNOTATION: &str = "sealed-secrets-rs/fan-out-source-uid";
/// Annotation on a fan-out copy: the keyed digest record of the copy (as the SealedSecret's
/// `status.unsealedDigest` for its own Secret), so that a current copy costs no RSA work.
pub const FAN_OUT_DIGEST_ANNOTATION: &str = "sealed-secrets-rs/fan-out-digest";
/// Label marking the ConfigMap in which the controller publishes its certificate.
pub const PUBLIC_CERT_LABEL: &str = "sealed-secrets-rs/public-cert";
/// The value of [`PUBLIC_CERT_LABEL`].
pub const PUBLIC_CERT_LABEL_VALUE: &str = "true";
/// ConfigMap annotation: the fingerprint of the certificate it holds.
pub const CERT_FINGERPRINT_ANNOTATION: &str = "sealed-secrets-rs/cert-fingerprint";
/// Services that front a sealed secrets controller: `app.kubernetes.io/name` is the chart name,
/// `sealed-secrets` for upstream's Helm chart and `sealed-secrets-rs` for ours (SPEC §5); the
/// charts' metrics Services carry `app.kubernetes.io/component: metrics` and are excluded.
pub const CONTROLLER_SERVICE_SELECTOR: &str = "app.kubernetes.io/name in (sealed-secrets,sealed-secrets-rs),app.kubernetes.io/component!=metrics";
