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
//! `kubeseal-rs keys`): `v2;<signing key fingerprint>;<fingerprints of the keys used, comma
//! separated>;<content HMAC>;<sealed HMAC>` (base64url). The content HMAC covers the
//! SealedSecret and the part of the Secret the controller puts back ([`RestoredPart`]: type,
//! data, the labels and annotations the template sets, whether the ownership gate passes), so
//! labels or annotations other tools add to the Secret do not cost an unseal; the sealed HMAC
//! covers the SealedSecret alone, so that [`check`] tells a Secret changed by hand
//! ([`Check::Drifted`], drift repair: docs/decisions/0006-drift-repair.md) from a changed
//! SealedSecret. Records written before drift repair (`v1;…;<HMAC>`, one HMAC over the
//! SealedSecret and the whole Secret) still verify; a pass that verifies one rewrites it as `v2`
//! (no RSA work).
//!
//! Records since the ciphertext-free watch cache are `v3`: the same two HMACs, over messages in
//! which every ciphertext (and a legacy `spec.data` blob) stands as its SHA-256
//! ([`ciphertext_digest`]). The watch cache keeps only those digests ([`hash_ciphertexts`]), so
//! a `v3` record is verified from the cache alone; a reconcile that has to open the
//! SealedSecret, or to verify an older record, reads the whole object first. A pass that
//! verifies a `v1` or `v2` record rewrites it as `v3` (no RSA work).
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

use std::borrow::Cow;
use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::types::{SealedSecret, SealedSecretSpec, SecretTemplateSpec};
use serde::Serialize;

use crate::target_secret;
use crate::value_errors::VALUE_ERRORS_ANNOTATION;

pub use sealed_secrets_core::digest::DigestRecord;
/// The legacy annotation that held the record on Secrets written before ADR 0004 (read once,
/// then removed).
pub use sealed_secrets_core::names::UNSEALED_DIGEST_ANNOTATION as DIGEST_ANNOTATION;

pub(crate) const DERIVATION_LABEL: &[u8] = b"sealed-secrets-rs unsealed-digest key v1";

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

    /// The digest key of a key that cannot be exported (a token key, ADR 0005 §6): keyed by
    /// SHA-256 of the key's PKCS#1 v1.5 signature of [`DERIVATION_LABEL`]. That signature is
    /// deterministic, so every replica and restart derives the same key, and only a holder of
    /// the private key can compute it.
    #[must_use]
    pub fn from_signature(signature: &[u8]) -> Self {
        let seed = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, signature);
        Self(hmac::Key::new(hmac::HMAC_SHA256, seed.as_ref()))
    }

    /// A digest key from raw bytes (tests).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }
}

/// Everything about the SealedSecret that decides the unsealed result; `S` is its spec (`v1`,
/// `v2`) or [`HashedSpec`] (`v3`).
#[derive(Serialize)]
struct SealedPart<'a, S> {
    uid: &'a str,
    namespace: &'a str,
    name: &'a str,
    scope: &'static str,
    accept_v1_data: bool,
    keys_used: &'a [String],
    spec: S,
}

/// The spec as `v3` messages cover it: each ciphertext (and a legacy `spec.data` blob) by its
/// SHA-256.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HashedSpec<'a> {
    template: &'a SecretTemplateSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    encrypted_data: Option<BTreeMap<&'a str, Cow<'a, str>>>,
}

/// The SHA-256 of a ciphertext (or any sealed bytes), base64url unpadded: what `v3` messages
/// and the watch cache hold in its place.
#[must_use]
pub fn ciphertext_digest(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

/// Replaces the ciphertexts of `spec.encryptedData` by their [`ciphertext_digest`], as the
/// watch cache keeps them (about 700 bytes less per RSA-4096 item). Enough for the digest
/// checks of `v3` records; to open the SealedSecret, it is read again.
pub fn hash_ciphertexts(spec: &mut SealedSecretSpec) {
    if spec.ciphertexts_hashed {
        return;
    }
    for value in spec.encrypted_data.iter_mut().flat_map(|d| d.values_mut()) {
        *value = ciphertext_digest(value.as_bytes());
    }
    spec.ciphertexts_hashed = true;
}

fn hashed_spec(spec: &SealedSecretSpec) -> HashedSpec<'_> {
    HashedSpec {
        template: &spec.template,
        data: spec.data.as_deref().map(ciphertext_digest),
        encrypted_data: spec.encrypted_data.as_ref().map(|items| {
            items
                .iter()
                .map(|(item, value)| {
                    let digest = if spec.ciphertexts_hashed {
                        Cow::Borrowed(value.as_str())
                    } else {
                        Cow::Owned(ciphertext_digest(value.as_bytes()))
                    };
                    (item.as_str(), digest)
                })
                .collect()
        }),
    }
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

/// What a drift repair puts back of a Secret (the `v2` content HMAC): its type, its data (in
/// `patch` mode only the keys the SealedSecret produces; other keys are the Secret owner's),
/// the values it has at the label and annotation keys the template sets (absent ones as
/// `null`), and whether the ownership gate lets this SealedSecret write it. Labels and
/// annotations only others set, and owner references, are not covered: the controller leaves
/// them alone when it repairs.
#[derive(Serialize)]
struct RestoredPart<'a> {
    #[serde(rename = "type")]
    type_: &'a str,
    patch: bool,
    gate: bool,
    data: BTreeMap<&'a str, &'a ByteString>,
    labels: BTreeMap<&'a str, Option<&'a str>>,
    annotations: BTreeMap<&'a str, Option<&'a str>>,
}

/// The inputs of one digest.
pub struct DigestInput<'a> {
    pub sealed: &'a SealedSecret,
    pub accept_v1_data: bool,
    pub keys_used: &'a [String],
}

/// The message about the SealedSecret alone: `v3` (`hashed`) covers its ciphertexts by their
/// SHA-256 and starts `v3\0`; `v1` and `v2` cover the spec as it is, and cannot be made from
/// a watch cache copy (`None`).
fn sealed_message(input: &DigestInput<'_>, hashed: bool) -> Option<Vec<u8>> {
    fn part<'a, S>(input: &DigestInput<'a>, spec: S) -> SealedPart<'a, S> {
        let meta = &input.sealed.metadata;
        SealedPart {
            uid: &meta.uid,
            namespace: &meta.namespace,
            name: &meta.name,
            scope: input.sealed.scope().as_str(),
            accept_v1_data: input.accept_v1_data,
            keys_used: input.keys_used,
            spec,
        }
    }
    let spec = &input.sealed.spec;
    if hashed {
        let mut out = b"v3\0".to_vec();
        out.extend(serde_json::to_vec(&part(input, hashed_spec(spec))).ok()?);
        Some(out)
    } else if spec.ciphertexts_hashed {
        None
    } else {
        serde_json::to_vec(&part(input, spec)).ok()
    }
}

fn secret_type(secret: &Secret) -> &str {
    secret
        .type_
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or("Opaque")
}

/// The `v1` message: the SealedSecret and the whole Secret.
fn message(input: &DigestInput<'_>, secret: &Secret) -> Option<Vec<u8>> {
    let empty_labels = BTreeMap::new();
    let empty_data = BTreeMap::new();
    let secret_part = SecretPart {
        type_: secret_type(secret),
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
    let mut out = sealed_message(input, false)?;
    out.push(0);
    out.extend(serde_json::to_vec(&secret_part).ok()?);
    Some(out)
}

/// The `v2`/`v3` content message: the SealedSecret and the [`RestoredPart`] of the Secret.
/// (JSON never holds a raw 0 byte, and the `v1` message goes on with `{` after it: the
/// messages cannot be confused.)
fn content_message(input: &DigestInput<'_>, secret: &Secret, hashed: bool) -> Option<Vec<u8>> {
    let sealed = input.sealed;
    let patch = target_secret::is_patch(secret);
    let template = &sealed.spec.template;
    let produced = |key: &str| {
        sealed
            .spec
            .encrypted_data
            .as_ref()
            .is_some_and(|d| d.contains_key(key))
            || template.data.contains_key(key)
    };
    let labels = secret.metadata.labels.as_ref();
    let annotations = secret.metadata.annotations.as_ref();
    let restored = RestoredPart {
        type_: secret_type(secret),
        patch,
        gate: target_secret::may_update(secret, &sealed.metadata.uid),
        data: secret
            .data
            .iter()
            .flatten()
            .filter(|(k, _)| !patch || produced(k))
            .map(|(k, v)| (k.as_str(), v))
            .collect(),
        labels: template
            .metadata
            .labels
            .keys()
            .map(|k| {
                (
                    k.as_str(),
                    labels.and_then(|l| l.get(k)).map(String::as_str),
                )
            })
            .collect(),
        annotations: template
            .metadata
            .annotations
            .keys()
            .map(String::as_str)
            .chain([VALUE_ERRORS_ANNOTATION])
            .map(|k| (k, annotations.and_then(|a| a.get(k)).map(String::as_str)))
            .collect(),
    };
    let mut out = sealed_message(input, hashed)?;
    out.push(0);
    out.extend(b"v2-restored");
    out.push(0);
    out.extend(serde_json::to_vec(&restored).ok()?);
    Some(out)
}

/// The `v2`/`v3` sealed message: the SealedSecret alone.
fn sealed_only_message(input: &DigestInput<'_>, hashed: bool) -> Option<Vec<u8>> {
    let mut out = sealed_message(input, hashed)?;
    out.push(0);
    out.extend(b"v2-sealed");
    Some(out)
}

/// The record value (`status.unsealedDigest`, `v3`) for `secret` as produced from `input`,
/// signed with `signing` (whose fingerprint is `signing_fp`).
#[must_use]
pub fn record_value(
    signing: &DigestKey,
    signing_fp: &str,
    input: &DigestInput<'_>,
    secret: &Secret,
) -> Option<String> {
    record_with(signing, signing_fp, input, secret, true)
}

fn record_with(
    signing: &DigestKey,
    signing_fp: &str,
    input: &DigestInput<'_>,
    secret: &Secret,
    hashed: bool,
) -> Option<String> {
    let content = hmac::sign(&signing.0, &content_message(input, secret, hashed)?);
    let sealed = hmac::sign(&signing.0, &sealed_only_message(input, hashed)?);
    let record = DigestRecord {
        signing_fp: signing_fp.to_owned(),
        keys_used: input.keys_used.to_vec(),
        tag: content.as_ref().to_vec(),
        sealed_tag: Some(sealed.as_ref().to_vec()),
        hashed_ciphertexts: hashed,
    };
    Some(record.to_value())
}

/// A `v2` record value, as controllers before the ciphertext-free cache wrote it (tests of the
/// migration).
#[cfg(test)]
#[must_use]
pub fn record_value_v2(
    signing: &DigestKey,
    signing_fp: &str,
    input: &DigestInput<'_>,
    secret: &Secret,
) -> Option<String> {
    record_with(signing, signing_fp, input, secret, false)
}

/// A `v1` record value, as controllers before drift repair wrote it (tests of the migration).
#[cfg(test)]
#[must_use]
pub fn record_value_v1(
    signing: &DigestKey,
    signing_fp: &str,
    input: &DigestInput<'_>,
    secret: &Secret,
) -> Option<String> {
    let tag = hmac::sign(&signing.0, &message(input, secret)?);
    let record = DigestRecord {
        signing_fp: signing_fp.to_owned(),
        keys_used: input.keys_used.to_vec(),
        tag: tag.as_ref().to_vec(),
        sealed_tag: None,
        hashed_ciphertexts: false,
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
    /// The record this process last wrote to the status (its watch cache may not show it yet).
    Memory,
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

/// What a record says about a SealedSecret and its Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Unsealing would write nothing new: the Secret is current.
    Current,
    /// The SealedSecret is the one the record was made for, but the Secret changed in what the
    /// controller writes (a `v2` record only): a drift.
    Drifted,
    /// Anything else: the SealedSecret changed, a key that opened it is gone, or the record
    /// cannot tell (a `v1` record that does not verify, an unregistered signing key).
    Changed,
}

/// What `record` proves about `sealed` and `secret`. `lookup` returns the digest key of a
/// registered key by fingerprint.
pub fn check<'k>(
    record: &DigestRecord,
    sealed: &SealedSecret,
    accept_v1_data: bool,
    secret: &Secret,
    lookup: impl Fn(&str) -> Option<&'k DigestKey>,
) -> Check {
    // Every key that opened an item must still be registered: a key removed by an operator
    // (for example a compromised one) must make the SealedSecret fail again, as upstream does.
    if record.keys_used.iter().any(|fp| lookup(fp).is_none()) {
        return Check::Changed;
    }
    let Some(key) = lookup(&record.signing_fp) else {
        return Check::Changed;
    };
    let input = DigestInput {
        sealed,
        accept_v1_data,
        keys_used: &record.keys_used,
    };
    let verifies = |msg: Option<Vec<u8>>, tag: &[u8]| {
        msg.is_some_and(|m| hmac::verify(&key.0, &m, tag).is_ok())
    };
    let hashed = record.hashed_ciphertexts;
    match &record.sealed_tag {
        None if verifies(message(&input, secret), &record.tag) => Check::Current,
        None => Check::Changed,
        Some(_) if verifies(content_message(&input, secret, hashed), &record.tag) => Check::Current,
        Some(tag) if verifies(sealed_only_message(&input, hashed), tag) => Check::Drifted,
        Some(_) => Check::Changed,
    }
}

/// Whether `record` proves that `secret` is exactly what unsealing `sealed` would write.
pub fn verify<'k>(
    record: &DigestRecord,
    sealed: &SealedSecret,
    accept_v1_data: bool,
    secret: &Secret,
    lookup: impl Fn(&str) -> Option<&'k DigestKey>,
) -> bool {
    check(record, sealed, accept_v1_data, secret, lookup) == Check::Current
}

/// Whether `record` shows `sealed` unchanged since it was made, whatever the keys that opened
/// the items: `None` when it cannot be told (its signing key is not registered, or a `v1`/`v2`
/// record and a watch cache copy without ciphertexts). A `v2` or `v3` record
/// answers from its sealed tag; a `v1` record only from its one tag, which also covers the
/// whole Secret (so an edited Secret reads as a changed SealedSecret).
pub fn sealed_unchanged<'k>(
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
    let (msg, tag) = match &record.sealed_tag {
        Some(tag) => (sealed_only_message(&input, record.hashed_ciphertexts)?, tag),
        None => (message(&input, secret)?, &record.tag),
    };
    Some(hmac::verify(&key.0, &msg, tag).is_ok())
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
        // An annotation added by someone else is not ours to put back: still current.
        let mut annotated = s.clone();
        annotated
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert("x".into(), "y".into());
        assert!(check(&ss, true, &annotated, lookup));
    }

    #[test]
    fn a_v3_record_verifies_from_the_watch_cache_copy_and_older_ones_do_not() {
        let key = DigestKey::from_bytes(b"k1");
        let used = vec!["SHA256:one".to_owned()];
        let s = secret();
        let lookup = |fp: &str| (fp == "SHA256:one").then_some(&key);
        let mut whole = sealed();
        whole.spec.data = Some(b"legacy".to_vec());
        let ss = recorded(&key, "SHA256:one", &used, &whole, &s);
        assert!(find(&ss, None).unwrap().value.starts_with("v3;"));
        let mut copy = ss.clone();
        hash_ciphertexts(&mut copy.spec);
        assert_ne!(copy.spec.encrypted_data, ss.spec.encrypted_data);
        // The same record verifies from both, and tells a drift from both.
        assert!(check(&ss, true, &s, lookup));
        assert!(check(&copy, true, &s, lookup));
        let mut edited = s.clone();
        edited.data = Some([("a".to_owned(), ByteString(b"w".to_vec()))].into());
        assert_eq!(what(&copy, &edited, &key), Check::Drifted);
        // Hashing twice changes nothing.
        let mut twice = copy.clone();
        hash_ciphertexts(&mut twice.spec);
        assert_eq!(twice, copy);
        // Another ciphertext, or an item renamed: changed.
        let mut other = ss.clone();
        other.spec.encrypted_data = Some([("a".to_owned(), "AgB=".to_owned())].into());
        hash_ciphertexts(&mut other.spec);
        assert_eq!(what(&other, &s, &key), Check::Changed);
        let mut renamed = copy.clone();
        let items = renamed.spec.encrypted_data.take().unwrap();
        renamed.spec.encrypted_data =
            Some(items.into_values().map(|v| ("b".to_owned(), v)).collect());
        assert_eq!(what(&renamed, &s, &key), Check::Changed);
        // A ciphertext that is the text of another's digest is not that digest: an API object
        // cannot claim to be a cache copy.
        let mut claimed = ss.clone();
        claimed.spec.encrypted_data = copy.spec.encrypted_data.clone();
        assert_eq!(what(&claimed, &s, &key), Check::Changed);
        // A v2 record: verified from the whole object only; a cache copy cannot tell.
        let input = DigestInput {
            sealed: &whole,
            accept_v1_data: true,
            keys_used: &used,
        };
        let v2 =
            DigestRecord::parse(&record_value_v2(&key, "SHA256:one", &input, &s).unwrap()).unwrap();
        assert!(!v2.hashed_ciphertexts);
        assert_eq!(super::check(&v2, &ss, true, &s, lookup), Check::Current);
        assert_eq!(super::check(&v2, &copy, true, &s, lookup), Check::Changed);
        assert_eq!(sealed_unchanged(&v2, &ss, true, &s, lookup), Some(true));
        assert_eq!(sealed_unchanged(&v2, &copy, true, &s, lookup), None);
    }

    fn what(ss: &SealedSecret, s: &Secret, key: &DigestKey) -> Check {
        let record = find(ss, Some(s)).unwrap().record;
        super::check(&record, ss, true, s, |fp: &str| {
            (fp == "SHA256:one").then_some(key)
        })
    }

    #[test]
    fn a_changed_secret_is_told_from_a_changed_sealed_secret() {
        let key = DigestKey::from_bytes(b"k1");
        let used = vec!["SHA256:one".to_owned()];
        let mut plain = sealed();
        plain
            .spec
            .template
            .metadata
            .labels
            .insert("app".into(), "web".into());
        let mut s = secret();
        s.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
        let ss = recorded(&key, "SHA256:one", &used, &plain, &s);
        assert_eq!(what(&ss, &s, &key), Check::Current);
        // Edited data, a removed template label, another type, a lost owner: drifted.
        let mut edited = s.clone();
        edited.data = Some([("a".to_owned(), ByteString(b"w".to_vec()))].into());
        assert_eq!(what(&ss, &edited, &key), Check::Drifted);
        let mut unlabelled = s.clone();
        unlabelled.metadata.labels = None;
        assert_eq!(what(&ss, &unlabelled, &key), Check::Drifted);
        let mut retyped = s.clone();
        retyped.type_ = Some("kubernetes.io/tls".into());
        assert_eq!(what(&ss, &retyped, &key), Check::Drifted);
        let mut owned = s.clone();
        owned.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "bitnami.com/v1alpha1".into(),
            kind: "SealedSecret".into(),
            name: "s".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        let ss_owned = recorded(&key, "SHA256:one", &used, &plain, &owned);
        assert_eq!(what(&ss_owned, &s, &key), Check::Drifted);
        // Another tool's label: current.
        let mut labelled = s.clone();
        labelled
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("team".into(), "x".into());
        assert_eq!(what(&ss, &labelled, &key), Check::Current);
        // The SealedSecret changed: changed, whatever the Secret.
        let mut ss2 = ss.clone();
        ss2.spec.template.type_ = "x".into();
        assert_eq!(what(&ss2, &s, &key), Check::Changed);
        assert_eq!(what(&ss2, &edited, &key), Check::Changed);
        // A key that opened it is gone: changed.
        let record = find(&ss, None).unwrap().record;
        assert_eq!(
            super::check(&record, &ss, true, &edited, |fp: &str| {
                (fp == "SHA256:signer").then_some(&key)
            }),
            Check::Changed
        );
        assert_eq!(
            sealed_unchanged(&record, &ss, true, &edited, |_| Some(&key)),
            Some(true)
        );
        assert_eq!(
            sealed_unchanged(&record, &ss2, true, &edited, |_| Some(&key)),
            Some(false)
        );
    }

    #[test]
    fn patch_mode_covers_only_the_keys_the_sealed_secret_produces() {
        let key = DigestKey::from_bytes(b"k1");
        let used = vec!["SHA256:one".to_owned()];
        let mut s = secret();
        s.metadata.annotations = Some(
            [(
                sealed_secrets_core::names::PATCH_ANNOTATION.to_owned(),
                "true".to_owned(),
            )]
            .into(),
        );
        s.data
            .as_mut()
            .unwrap()
            .insert("owners".into(), ByteString(b"1".to_vec()));
        let ss = recorded(&key, "SHA256:one", &used, &sealed(), &s);
        let mut theirs = s.clone();
        theirs
            .data
            .as_mut()
            .unwrap()
            .insert("owners".into(), ByteString(b"2".to_vec()));
        assert_eq!(what(&ss, &theirs, &key), Check::Current);
        let mut ours = s.clone();
        ours.data
            .as_mut()
            .unwrap()
            .insert("a".into(), ByteString(b"x".to_vec()));
        assert_eq!(what(&ss, &ours, &key), Check::Drifted);
    }

    #[test]
    fn a_v1_record_still_verifies_but_cannot_tell_a_drift() {
        let key = DigestKey::from_bytes(b"k1");
        let used = vec!["SHA256:one".to_owned()];
        let s = secret();
        let plain = sealed();
        let input = DigestInput {
            sealed: &plain,
            accept_v1_data: true,
            keys_used: &used,
        };
        let value = record_value_v1(&key, "SHA256:one", &input, &s).unwrap();
        assert!(value.starts_with("v1;"));
        let mut ss = plain.clone();
        ss.status = Some(SealedSecretStatus {
            unsealed_digest: Some(value),
            ..SealedSecretStatus::default()
        });
        assert_eq!(what(&ss, &s, &key), Check::Current);
        let mut edited = s.clone();
        edited.data = Some([("a".to_owned(), ByteString(b"w".to_vec()))].into());
        assert_eq!(what(&ss, &edited, &key), Check::Changed);
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
        assert_eq!(sealed_unchanged(&record, &ss, true, &s, lookup), Some(true));
        assert_eq!(sealed_unchanged(&record, &ss, true, &s, |_| None), None);
    }
}
