//! Keyed digests that let a reconcile skip decryption when nothing changed.
//!
//! When the controller writes a Secret it records, in the annotation [`DIGEST_ANNOTATION`], an
//! HMAC-SHA256 over (a) the SealedSecret's identity, scope and spec and (b) the Secret's final
//! content (type, labels, annotations, owner references and data). The HMAC key is derived from
//! a private key that opened the SealedSecret, so the digest survives restarts, cannot be forged
//! without that key, and says nothing about the plaintext.
//!
//! On a later reconcile, if the annotation verifies against the current SealedSecret and the
//! current Secret, and every key that opened the items is still registered, unsealing again
//! would produce exactly the Secret that is already there: the reconcile does no RSA work.
//! Anything else (a spec or scope change, an edited Secret, a removed key, a legacy `spec.data`
//! object) falls back to a full unseal.
//!
//! The annotation's value is a [`DigestRecord`] (format and parser in the core, shared with
//! `kubeseal-rs keys`): `v1;<signing key fingerprint>;<fingerprints of the keys used, comma
//! separated>;<base64url HMAC>`.
//!
//! The third field is also the controller's readable record of which keys opened the
//! SealedSecret ([`recorded_keys`]): a full unseal tries those keys first, the
//! `sealed_secrets_rs_key_dependents` gauge counts them, and `kubeseal-rs keys list|prune`
//! read it to find the SealedSecrets that still depend on a key (`docs/keys.md`).

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::types::SealedSecret;
use serde::Serialize;

pub use sealed_secrets_core::digest::DigestRecord;
/// The annotation holding the digest on Secrets written by this controller.
pub use sealed_secrets_core::names::UNSEALED_DIGEST_ANNOTATION as DIGEST_ANNOTATION;

const DERIVATION_LABEL: &[u8] = b"sealed-secrets-rs unsealed-digest key v1";

/// An HMAC key derived from one private key.
#[derive(Clone)]
pub struct DigestKey(hmac::Key);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey([redacted])")
    }
}

impl DigestKey {
    /// Derives the digest key of `key`: HMAC-SHA256 keyed by the private key's PKCS#8 DER over
    /// a fixed label. `None` if the key cannot be encoded.
    #[must_use]
    pub fn derive(key: &PrivateKey) -> Option<Self> {
        let der = key.to_pkcs8_der().ok()?;
        let outer = hmac::Key::new(hmac::HMAC_SHA256, der.expose());
        let tag = hmac::sign(&outer, DERIVATION_LABEL);
        Some(Self(hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref())))
    }

    /// A digest key from raw bytes (tests).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }
}

/// Everything about the SealedSecret that decides the unsealed result.
#[derive(Serialize)]
struct SealedPart<'a> {
    uid: &'a str,
    namespace: &'a str,
    name: &'a str,
    scope: &'static str,
    accept_v1_data: bool,
    keys_used: &'a [String],
    spec: &'a sealed_secrets_core::types::SealedSecretSpec,
}

/// The Secret content the digest covers, normalized the way the API server stores it.
#[derive(Serialize)]
struct SecretPart<'a> {
    #[serde(rename = "type")]
    type_: &'a str,
    labels: &'a BTreeMap<String, String>,
    annotations: BTreeMap<&'a str, &'a str>,
    owner_references: &'a [OwnerReference],
    data: &'a BTreeMap<String, ByteString>,
}

/// The inputs of one digest.
pub struct DigestInput<'a> {
    pub sealed: &'a SealedSecret,
    pub accept_v1_data: bool,
    pub keys_used: &'a [String],
}

fn message(input: &DigestInput<'_>, secret: &Secret) -> Option<Vec<u8>> {
    let meta = &input.sealed.metadata;
    let sealed = SealedPart {
        uid: &meta.uid,
        namespace: &meta.namespace,
        name: &meta.name,
        scope: input.sealed.scope().as_str(),
        accept_v1_data: input.accept_v1_data,
        keys_used: input.keys_used,
        spec: &input.sealed.spec,
    };
    let empty_labels = BTreeMap::new();
    let empty_data = BTreeMap::new();
    let secret_part = SecretPart {
        type_: secret
            .type_
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or("Opaque"),
        labels: secret.metadata.labels.as_ref().unwrap_or(&empty_labels),
        annotations: secret
            .metadata
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| k.as_str() != DIGEST_ANNOTATION)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        owner_references: secret.metadata.owner_references.as_deref().unwrap_or(&[]),
        data: secret.data.as_ref().unwrap_or(&empty_data),
    };
    let mut out = serde_json::to_vec(&sealed).ok()?;
    out.push(0);
    out.extend(serde_json::to_vec(&secret_part).ok()?);
    Some(out)
}

/// The annotation value for `secret` as produced from `input`, signed with `signing`
/// (whose fingerprint is `signing_fp`).
#[must_use]
pub fn annotation_value(
    signing: &DigestKey,
    signing_fp: &str,
    input: &DigestInput<'_>,
    secret: &Secret,
) -> Option<String> {
    let msg = message(input, secret)?;
    let tag = hmac::sign(&signing.0, &msg);
    let record = DigestRecord {
        signing_fp: signing_fp.to_owned(),
        keys_used: input.keys_used.to_vec(),
        tag: tag.as_ref().to_vec(),
    };
    Some(record.to_value())
}

/// The fingerprints of the keys that opened the items last time, as recorded in the digest
/// annotation of `secret` (unverified: an ordering hint and a readable record, never a proof).
/// Empty when there is no well-formed annotation.
#[must_use]
pub fn recorded_keys(secret: &Secret) -> Vec<String> {
    DigestRecord::from_annotations(secret.metadata.annotations.as_ref())
        .map(|record| record.keys_used)
        .unwrap_or_default()
}

/// Whether `secret` carries a digest that proves it is exactly what unsealing `sealed` would
/// write. `lookup` returns the digest key of a registered key by fingerprint.
pub fn verify<'k>(
    sealed: &SealedSecret,
    accept_v1_data: bool,
    secret: &Secret,
    lookup: impl Fn(&str) -> Option<&'k DigestKey>,
) -> bool {
    let Some(parsed) = DigestRecord::from_annotations(secret.metadata.annotations.as_ref()) else {
        return false;
    };
    // Every key that opened an item must still be registered: a key removed by an operator
    // (for example a compromised one) must make the SealedSecret fail again, as upstream does.
    if parsed.keys_used.iter().any(|fp| lookup(fp).is_none()) {
        return false;
    }
    let Some(key) = lookup(&parsed.signing_fp) else {
        return false;
    };
    let input = DigestInput {
        sealed,
        accept_v1_data,
        keys_used: &parsed.keys_used,
    };
    let Some(msg) = message(&input, secret) else {
        return false;
    };
    hmac::verify(&key.0, &msg, &parsed.tag).is_ok()
}

/// Writes the digest annotation onto `secret` (replacing any previous one).
pub fn stamp(signing: &DigestKey, signing_fp: &str, input: &DigestInput<'_>, secret: &mut Secret) {
    if let Some(value) = annotation_value(signing, signing_fp, input, secret) {
        secret
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(DIGEST_ANNOTATION.to_owned(), value);
    }
}

/// Removes the digest annotation (when the controller cannot vouch for the content).
pub fn clear(secret: &mut Secret) {
    if let Some(a) = secret.metadata.annotations.as_mut() {
        a.remove(DIGEST_ANNOTATION);
        if a.is_empty() {
            secret.metadata.annotations = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealed_secrets_core::types::{ObjectMeta as CoreMeta, SealedSecretSpec};

    fn sealed() -> SealedSecret {
        SealedSecret {
            metadata: CoreMeta {
                name: "s".into(),
                namespace: "n".into(),
                uid: "u".into(),
                ..CoreMeta::default()
            },
            spec: SealedSecretSpec {
                encrypted_data: Some([("a".to_owned(), "AgA=".to_owned())].into()),
                ..SealedSecretSpec::default()
            },
            ..SealedSecret::default()
        }
    }

    fn secret() -> Secret {
        Secret {
            data: Some([("a".to_owned(), ByteString(b"v".to_vec()))].into()),
            ..Secret::default()
        }
    }

    #[test]
    fn stamp_then_verify() {
        let key = DigestKey::from_bytes(b"k1");
        let ss = sealed();
        let used = vec!["SHA256:one".to_owned()];
        let input = DigestInput {
            sealed: &ss,
            accept_v1_data: true,
            keys_used: &used,
        };
        let mut s = secret();
        stamp(&key, "SHA256:one", &input, &mut s);
        let lookup = |fp: &str| (fp == "SHA256:one").then_some(&key);
        assert!(verify(&ss, true, &s, lookup));
        // The API server defaulting the type to Opaque does not break it.
        s.type_ = Some("Opaque".into());
        assert!(verify(&ss, true, &s, lookup));

        // Changed data.
        let mut edited = s.clone();
        edited.data = Some([("a".to_owned(), ByteString(b"w".to_vec()))].into());
        assert!(!verify(&ss, true, &edited, lookup));
        // Changed spec.
        let mut ss2 = ss.clone();
        ss2.spec.template.type_ = "x".into();
        assert!(!verify(&ss2, true, &s, lookup));
        // Changed scope annotation on the SealedSecret.
        let mut ss3 = ss.clone();
        ss3.metadata.annotations.insert(
            "sealedsecrets.bitnami.com/cluster-wide".into(),
            "true".into(),
        );
        assert!(!verify(&ss3, true, &s, lookup));
        // Changed flag.
        assert!(!verify(&ss, false, &s, lookup));
        // Key gone.
        assert!(!verify(&ss, true, &s, |_| None));
        // Another key with the same name.
        let other = DigestKey::from_bytes(b"k2");
        assert!(!verify(&ss, true, &s, |_| Some(&other)));
        // Extra annotation added by someone else.
        let mut annotated = s.clone();
        annotated
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert("x".into(), "y".into());
        assert!(!verify(&ss, true, &annotated, lookup));
    }

    #[test]
    fn recorded_keys_are_read_back() {
        let key = DigestKey::from_bytes(b"k");
        let ss = sealed();
        let used = vec!["SHA256:one".to_owned(), "SHA256:two".to_owned()];
        let input = DigestInput {
            sealed: &ss,
            accept_v1_data: true,
            keys_used: &used,
        };
        let mut s = secret();
        assert!(recorded_keys(&s).is_empty());
        stamp(&key, "SHA256:one", &input, &mut s);
        assert_eq!(recorded_keys(&s), used);
        s.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(DIGEST_ANNOTATION.to_owned(), "garbage".to_owned());
        assert!(recorded_keys(&s).is_empty());
    }

    #[test]
    fn clear_removes_annotation() {
        let key = DigestKey::from_bytes(b"k");
        let ss = sealed();
        let input = DigestInput {
            sealed: &ss,
            accept_v1_data: true,
            keys_used: &[],
        };
        let mut s = secret();
        stamp(&key, "fp", &input, &mut s);
        clear(&mut s);
        assert!(s.metadata.annotations.is_none());
    }
}
