//! Keyed digests that let a reconcile skip decryption when nothing changed.
//!
//! When the controller writes a Secret it records, in the SealedSecret's `status.unsealedDigest`
//! (ADR 0004; written with the status update that follows the Secret write), an HMAC-SHA256
//! over (a) the SealedSecret's identity, scope and spec and (b) the Secret's final content
//! (type, labels, annotations, owner references and data). The HMAC key is derived from a
//! private key that opened the SealedSecret, so the digest survives restarts, cannot be forged
//! without that key, and says nothing about the plaintext.
//!
//! On a later reconcile, if the record verifies against the current SealedSecret and the
//! current Secret, and every key that opened the items is still registered, unsealing again
//! would produce exactly the Secret that is already there: the reconcile does no RSA work.
//! Anything else (a spec or scope change, an edited Secret, a removed key, a legacy `spec.data`
//! object) falls back to a full unseal.
//!
//! The record is a [`DigestRecord`] (format and parser in the core, shared with
//! `kubeseal-rs keys`): `v1;<signing key fingerprint>;<fingerprints of the keys used, comma
//! separated>;<base64url HMAC>`.
//!
//! The third field is also the controller's readable record of which keys opened the
//! SealedSecret ([`recorded_keys`]): a full unseal tries those keys first, the
//! `sealed_secrets_rs_key_dependents` gauge counts them, and `kubeseal-rs keys list|prune`
//! read it to find the SealedSecrets that still depend on a key (`docs/keys.md`).
//!
//! Controllers before ADR 0004 kept the record in the Secret's annotation [`DIGEST_ANNOTATION`].
//! When the status has no record, that annotation is read once (the HMAC never covered it, so
//! the same value verifies); the controller copies it into the status and removes the
//! annotation from the Secret.

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::types::SealedSecret;
use serde::Serialize;

pub use sealed_secrets_core::digest::DigestRecord;
/// The legacy annotation that held the record on Secrets written before ADR 0004 (read once,
/// then removed).
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

/// The record value (`status.unsealedDigest`) for `secret` as produced from `input`, signed
/// with `signing` (whose fingerprint is `signing_fp`).
#[must_use]
pub fn record_value(
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

/// Where a record was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `status.unsealedDigest` of the SealedSecret.
    Status,
    /// The Secret's legacy [`DIGEST_ANNOTATION`] (a controller before ADR 0004 wrote it).
    LegacyAnnotation,
}

/// A record read for one SealedSecret (unverified).
#[derive(Debug, Clone)]
pub struct Found {
    pub record: DigestRecord,
    /// The record's text, as stored.
    pub value: String,
    pub source: Source,
}

/// The record of `sealed`: its status field, else (migration from controllers before ADR
/// 0004) the legacy annotation of `secret`. Unverified: an ordering hint and a readable record
/// until [`verify`] says otherwise.
#[must_use]
pub fn find(sealed: &SealedSecret, secret: Option<&Secret>) -> Option<Found> {
    if let Some(record) = DigestRecord::from_status(sealed.status.as_ref()) {
        return Some(Found {
            value: record.to_value(),
            record,
            source: Source::Status,
        });
    }
    let secret = secret?;
    let record = DigestRecord::from_annotations(secret.metadata.annotations.as_ref())?;
    Some(Found {
        value: record.to_value(),
        record,
        source: Source::LegacyAnnotation,
    })
}

/// The fingerprints of the keys that opened the items last time, as recorded (unverified).
/// Empty when there is no well-formed record.
#[must_use]
pub fn recorded_keys(found: Option<&Found>) -> Vec<String> {
    found
        .map(|f| f.record.keys_used.clone())
        .unwrap_or_default()
}

/// Whether `record` proves that `secret` is exactly what unsealing `sealed` would write.
/// `lookup` returns the digest key of a registered key by fingerprint.
pub fn verify<'k>(
    record: &DigestRecord,
    sealed: &SealedSecret,
    accept_v1_data: bool,
    secret: &Secret,
    lookup: impl Fn(&str) -> Option<&'k DigestKey>,
) -> bool {
    // Every key that opened an item must still be registered: a key removed by an operator
    // (for example a compromised one) must make the SealedSecret fail again, as upstream does.
    if record.keys_used.iter().any(|fp| lookup(fp).is_none()) {
        return false;
    }
    tag_verifies(record, sealed, accept_v1_data, secret, lookup) == Some(true)
}

/// Whether the tag of `record` is right for (`sealed`, `secret`): `None` when it cannot be
/// told (its signing key is not registered), whatever the keys that opened the items.
pub fn tag_verifies<'k>(
    record: &DigestRecord,
    sealed: &SealedSecret,
    accept_v1_data: bool,
    secret: &Secret,
    lookup: impl Fn(&str) -> Option<&'k DigestKey>,
) -> Option<bool> {
    let key = lookup(&record.signing_fp)?;
    let input = DigestInput {
        sealed,
        accept_v1_data,
        keys_used: &record.keys_used,
    };
    let msg = message(&input, secret)?;
    Some(hmac::verify(&key.0, &msg, &record.tag).is_ok())
}

/// Whether `secret` still carries the legacy annotation.
#[must_use]
pub fn has_legacy_annotation(secret: &Secret) -> bool {
    secret
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(DIGEST_ANNOTATION))
}

/// Removes the legacy digest annotation.
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
    use sealed_secrets_core::types::{
        ObjectMeta as CoreMeta, SealedSecretSpec, SealedSecretStatus,
    };

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

    /// `ss` with the record of `secret` (signed by `key`, fingerprint `fp`) in its status.
    fn recorded(
        key: &DigestKey,
        fp: &str,
        used: &[String],
        ss: &SealedSecret,
        s: &Secret,
    ) -> SealedSecret {
        let input = DigestInput {
            sealed: ss,
            accept_v1_data: true,
            keys_used: used,
        };
        let value = record_value(key, fp, &input, s).unwrap();
        let mut out = ss.clone();
        out.status = Some(SealedSecretStatus {
            unsealed_digest: Some(value),
            ..SealedSecretStatus::default()
        });
        out
    }

    fn check<'k>(
        ss: &SealedSecret,
        accept: bool,
        s: &Secret,
        lookup: impl Fn(&str) -> Option<&'k DigestKey>,
    ) -> bool {
        find(ss, Some(s)).is_some_and(|f| verify(&f.record, ss, accept, s, lookup))
    }

    #[test]
    fn record_in_status_then_verify() {
        let key = DigestKey::from_bytes(b"k1");
        let used = vec!["SHA256:one".to_owned()];
        let mut s = secret();
        let ss = recorded(&key, "SHA256:one", &used, &sealed(), &s);
        assert_eq!(find(&ss, None).unwrap().source, Source::Status);
        let lookup = |fp: &str| (fp == "SHA256:one").then_some(&key);
        assert!(check(&ss, true, &s, lookup));
        // The API server defaulting the type to Opaque does not break it.
        s.type_ = Some("Opaque".into());
        assert!(check(&ss, true, &s, lookup));

        // Changed data.
        let mut edited = s.clone();
        edited.data = Some([("a".to_owned(), ByteString(b"w".to_vec()))].into());
        assert!(!check(&ss, true, &edited, lookup));
        // Changed spec (a newer generation): the record is an older generation's.
        let mut ss2 = ss.clone();
        ss2.spec.template.type_ = "x".into();
        assert!(!check(&ss2, true, &s, lookup));
        // Another object's record (same name, another uid).
        let mut ss_other = ss.clone();
        ss_other.metadata.uid = "other".into();
        assert!(!check(&ss_other, true, &s, lookup));
        // A flipped byte in the stored record.
        let mut flipped = ss.clone();
        let value = flipped
            .status
            .as_ref()
            .unwrap()
            .unsealed_digest
            .clone()
            .unwrap();
        let mut record = DigestRecord::parse(&value).unwrap();
        record.tag[0] ^= 1;
        flipped.status.as_mut().unwrap().unsealed_digest = Some(record.to_value());
        assert!(!check(&flipped, true, &s, lookup));
        // Changed scope annotation on the SealedSecret.
        let mut ss3 = ss.clone();
        ss3.metadata.annotations.insert(
            "sealedsecrets.bitnami.com/cluster-wide".into(),
            "true".into(),
        );
        assert!(!check(&ss3, true, &s, lookup));
        // Changed flag.
        assert!(!check(&ss, false, &s, lookup));
        // Key gone.
        assert!(!check(&ss, true, &s, |_| None));
        // Another key with the same name.
        let other = DigestKey::from_bytes(b"k2");
        assert!(!check(&ss, true, &s, |_| Some(&other)));
        // Extra annotation added by someone else.
        let mut annotated = s.clone();
        annotated
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert("x".into(), "y".into());
        assert!(!check(&ss, true, &annotated, lookup));
    }

    #[test]
    fn legacy_annotation_is_read_when_the_status_has_none() {
        let key = DigestKey::from_bytes(b"k1");
        let used = vec!["SHA256:one".to_owned()];
        let plain = sealed();
        let mut s = secret();
        let value = recorded(&key, "SHA256:one", &used, &plain, &s)
            .status
            .unwrap()
            .unsealed_digest
            .unwrap();
        s.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(DIGEST_ANNOTATION.to_owned(), value.clone());
        assert!(has_legacy_annotation(&s));
        let found = find(&plain, Some(&s)).unwrap();
        assert_eq!(found.source, Source::LegacyAnnotation);
        assert_eq!(found.value, value);
        let lookup = |fp: &str| (fp == "SHA256:one").then_some(&key);
        assert!(check(&plain, true, &s, lookup));
        // A record in the status wins.
        let mut with_status = plain.clone();
        with_status.status = Some(SealedSecretStatus {
            unsealed_digest: Some("v1;SHA256:two;;AAEC".into()),
            ..SealedSecretStatus::default()
        });
        assert_eq!(find(&with_status, Some(&s)).unwrap().source, Source::Status);
        clear(&mut s);
        assert!(s.metadata.annotations.is_none());
        assert!(find(&plain, Some(&s)).is_none());
    }

    #[test]
    fn recorded_keys_are_read_back() {
        let key = DigestKey::from_bytes(b"k");
        let used = vec!["SHA256:one".to_owned(), "SHA256:two".to_owned()];
        let s = secret();
        assert!(recorded_keys(find(&sealed(), Some(&s)).as_ref()).is_empty());
        let mut ss = recorded(&key, "SHA256:one", &used, &sealed(), &s);
        assert_eq!(recorded_keys(find(&ss, Some(&s)).as_ref()), used);
        ss.status.as_mut().unwrap().unsealed_digest = Some("garbage".to_owned());
        assert!(recorded_keys(find(&ss, Some(&s)).as_ref()).is_empty());
    }

    #[test]
    fn tag_check_ignores_removed_item_keys_but_needs_the_signing_key() {
        let key = DigestKey::from_bytes(b"k");
        let used = vec!["SHA256:gone".to_owned()];
        let s = secret();
        let ss = recorded(&key, "SHA256:one", &used, &sealed(), &s);
        let record = find(&ss, None).unwrap().record;
        let lookup = |fp: &str| (fp == "SHA256:one").then_some(&key);
        assert!(!verify(&record, &ss, true, &s, lookup));
        assert_eq!(tag_verifies(&record, &ss, true, &s, lookup), Some(true));
        assert_eq!(tag_verifies(&record, &ss, true, &s, |_| None), None);
    }
}
