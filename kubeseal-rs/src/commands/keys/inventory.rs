//! What `keys` knows about the sealing keys and about who depends on them, computed from plain
//! lists (no IO, so it is unit-tested here).
//!
//! A SealedSecret depends on a key when that key opens its items. The controller records the
//! keys that opened a SealedSecret in its `status.unsealedDigest` (a
//! `sealed_secrets_core::digest::DigestRecord`, written in the same status update as the
//! `Synced` condition; ADR 0004); controllers before that kept it in the Secret's
//! `sealed-secrets-rs/unsealed-digest` annotation, still read when the status has no record.
//! That record is trusted only while it is current: the SealedSecret is
//! `Synced=True` at its current generation. Every other SealedSecret (no Secret yet, failing,
//! changed since, unsealed by upstream's controller, `--skip-unchanged=false`) is
//! "unrecorded": `prune` then asks the key itself, one RSA operation per item.

use std::collections::BTreeMap;

use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::crypto;
use sealed_secrets_core::digest::DigestRecord;
use sealed_secrets_core::key_secret::{self, ACTIVE, SEALED_SECRETS_KEY_LABEL};
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::public_cert::KeyListingRow;
use sealed_secrets_core::types::{ObjectMeta, SealedSecret, Secret, base64_std};
use sealed_secrets_core::wrapped_key;
use time::OffsetDateTime;

/// Where controllers before ADR 0004 kept the record: an annotation of the Secret.
pub use sealed_secrets_core::digest::UNSEALED_DIGEST_ANNOTATION as DIGEST_ANNOTATION;
/// The name of the pre-0.9 legacy key Secret (the default `--key-prefix`), loaded without a
/// label.
pub const LEGACY_KEY_NAME: &str = "sealed-secrets-key";

/// One key Secret of the controller's namespace.
#[derive(Debug)]
pub struct KeyInfo {
    pub name: String,
    pub uid: String,
    /// `None` when the Secret holds no usable key in the clear (unreadable, or wrapped).
    pub key: Option<PrivateKey>,
    /// Where the private key lives: `secret`, or `kms:<key id>` for a key Secret wrapped by a
    /// KMS key (ADR 0008; its certificate is read, its key cannot be without the KMS).
    pub location: String,
    /// It holds a key the controller can use (in the clear, or wrapped with a certificate).
    pub readable: bool,
    pub fingerprint: Option<String>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: Option<OffsetDateTime>,
    /// The controller loads it (label `active`, or the legacy name).
    pub loaded: bool,
    /// The key the controller seals with: the loaded key with the latest certificate
    /// NotBefore (ties: the Secret created first), as the controller orders keys by default.
    pub newest: bool,
    created: Option<String>,
}

impl KeyInfo {
    /// `newest`, `active`, `inactive` (labelled otherwise, not loaded), or `unreadable`.
    #[must_use]
    pub fn state(&self) -> &'static str {
        if !self.readable {
            "unreadable"
        } else if self.newest {
            "newest"
        } else if self.loaded {
            "active"
        } else {
            "inactive"
        }
    }

    /// `namespace/name`-free display of the Secret and its key.
    #[must_use]
    pub fn describe(&self) -> String {
        format!(
            "{} ({})",
            self.name,
            self.fingerprint.as_deref().unwrap_or("unreadable")
        )
    }
}

/// Reads the key Secrets (as listed, plus the legacy one if any) into [`KeyInfo`]s, sorted by
/// certificate NotBefore, and marks the newest.
#[must_use]
pub fn inventory(secrets: &[Secret]) -> Vec<KeyInfo> {
    let mut keys: Vec<KeyInfo> = secrets
        .iter()
        .map(|secret| {
            let material = key_secret::key_from_secret(secret).ok();
            let wrapped = wrapped_key::wrapped_from_secret(secret).ok().flatten();
            let label = secret
                .metadata
                .labels
                .get(SEALED_SECRETS_KEY_LABEL)
                .cloned();
            let loaded =
                label.as_deref() == Some(ACTIVE) || secret.metadata.name == LEGACY_KEY_NAME;
            let cert = material
                .as_ref()
                .map(|m| &m.cert)
                .or(wrapped.as_ref().map(|(_, cert)| cert));
            KeyInfo {
                name: secret.metadata.name.clone(),
                uid: secret.metadata.uid.clone(),
                fingerprint: material.as_ref().map_or_else(
                    || cert.map(|c| c.public_key().fingerprint().to_string()),
                    |m| Some(m.key.fingerprint().to_string()),
                ),
                not_before: cert.map(Certificate::not_before),
                not_after: cert.map(Certificate::not_after),
                readable: material.is_some() || wrapped.is_some(),
                location: wrapped
                    .as_ref()
                    .map_or_else(|| "secret".to_owned(), |(w, _)| format!("kms:{}", w.key_id)),
                key: material.map(|m| m.key),
                loaded,
                newest: false,
                created: secret.metadata.creation_timestamp.clone(),
            }
        })
        .collect();
    keys.sort_by(|a, b| {
        a.not_before
            .cmp(&b.not_before)
            .then_with(|| b.created.cmp(&a.created))
            .then_with(|| a.name.cmp(&b.name))
    });
    // Sorted ascending with ties created-last first, so the last loaded one is the newest.
    if let Some(newest) = keys.iter_mut().rev().find(|k| k.loaded && k.readable) {
        newest.newest = true;
    }
    keys
}

/// At most this many keys are read from the controller's published listing.
pub const MAX_PUBLISHED_KEYS: usize = 1000;

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// Adds the keys the controller registered that no key Secret holds (PKCS#11 token keys) from
/// its published listing `json`, and lets the listing say which key is the newest (the
/// controller knows; the Secrets alone cannot tell when a token key seals). A listing that
/// does not parse is ignored (`false`).
pub fn merge_published(keys: &mut Vec<KeyInfo>, json: &str) -> bool {
    let Ok(published) = serde_json::from_str::<Vec<KeyListingRow>>(json) else {
        return false;
    };
    let latest = published
        .iter()
        .find(|p| p.latest)
        .map(|p| p.fingerprint.clone());
    for p in published.into_iter().take(MAX_PUBLISHED_KEYS) {
        if keys
            .iter()
            .any(|k| k.fingerprint.as_deref() == Some(p.fingerprint.as_str()))
        {
            continue;
        }
        let name: String = p
            .name
            .chars()
            .filter(|c| !c.is_control())
            .take(253)
            .collect();
        let location: String = p
            .provider
            .chars()
            .filter(|c| !c.is_control())
            .take(253)
            .collect();
        keys.push(KeyInfo {
            name,
            uid: String::new(),
            key: None,
            location,
            readable: true,
            fingerprint: Some(p.fingerprint),
            not_before: parse_time(&p.not_before),
            not_after: parse_time(&p.not_after),
            loaded: true,
            newest: false,
            created: None,
        });
    }
    if let Some(latest) = latest
        && keys
            .iter()
            .any(|k| k.fingerprint.as_deref() == Some(latest.as_str()))
    {
        for key in keys.iter_mut() {
            key.newest = key.fingerprint.as_deref() == Some(latest.as_str());
        }
    }
    true
}

/// The key fingerprints recorded in a digest annotation value; `None` if malformed.
#[must_use]
pub fn recorded_keys(value: &str) -> Option<Vec<String>> {
    DigestRecord::parse(value).map(|record| record.keys_used)
}

/// Whether the SealedSecret's status says it was unsealed at its current generation.
#[must_use]
pub fn synced_now(ss: &SealedSecret) -> bool {
    ss.status.as_ref().is_some_and(|status| {
        status.observed_generation == ss.metadata.generation
            && status
                .conditions
                .iter()
                .any(|c| c.type_ == "Synced" && c.status == "True")
    })
}

/// Who depends on which key, as far as the records tell.
#[derive(Debug, Default)]
pub struct Usage {
    /// Fingerprint → the SealedSecrets (`namespace/name`) last opened with it.
    pub recorded: BTreeMap<String, Vec<String>>,
    /// SealedSecrets without a current record.
    pub unrecorded: Vec<SealedSecret>,
}

impl Usage {
    /// The SealedSecrets recorded as depending on `fingerprint`.
    #[must_use]
    pub fn dependents(&self, fingerprint: &str) -> &[String] {
        self.recorded.get(fingerprint).map_or(&[], Vec::as_slice)
    }
}

/// Joins every SealedSecret with its record: its status's, else the legacy annotation of its
/// Secret (same namespace and name).
#[must_use]
pub fn usage(sealed: Vec<SealedSecret>, secrets: &[ObjectMeta]) -> Usage {
    let records: BTreeMap<(&str, &str), &str> = secrets
        .iter()
        .filter_map(|m| {
            let value = m.annotations.get(DIGEST_ANNOTATION)?;
            Some(((m.namespace.as_str(), m.name.as_str()), value.as_str()))
        })
        .collect();
    let mut out = Usage::default();
    for ss in sealed {
        let key = (ss.metadata.namespace.as_str(), ss.metadata.name.as_str());
        let record = DigestRecord::from_status(ss.status.as_ref())
            .map(|record| record.keys_used)
            .or_else(|| records.get(&key).and_then(|value| recorded_keys(value)))
            .filter(|_| synced_now(&ss));
        match record {
            Some(fingerprints) => {
                let object = format!("{}/{}", ss.metadata.namespace, ss.metadata.name);
                for fp in fingerprints {
                    out.recorded.entry(fp).or_default().push(object.clone());
                }
            }
            None => out.unrecorded.push(ss),
        }
    }
    for objects in out.recorded.values_mut() {
        objects.sort();
        objects.dedup();
    }
    out
}

/// Whether `key` opens an item of `ss` (one RSA operation per item at most; only the RSA
/// block is opened, the plaintext is never decrypted).
#[must_use]
pub fn opened_by(key: &PrivateKey, ss: &SealedSecret) -> bool {
    let label = ss.label();
    if let Some(blob) = &ss.spec.data {
        return crypto::opens_session_key(key, &label, blob);
    }
    ss.items().any(|(_, text)| {
        base64_std::decode(text).is_ok_and(|blob| crypto::opens_session_key(key, &label, &blob))
    })
}

/// Every SealedSecret that depends on `key` (fingerprint `fingerprint`): the recorded ones, and
/// the unrecorded ones `key` opens. Sorted `namespace/name`s.
#[must_use]
pub fn dependents(usage: &Usage, fingerprint: &str, key: &PrivateKey) -> Vec<String> {
    let mut out: Vec<String> = usage.dependents(fingerprint).to_vec();
    out.extend(
        usage
            .unrecorded
            .iter()
            .filter(|ss| opened_by(key, ss))
            .map(|ss| format!("{}/{}", ss.metadata.namespace, ss.metadata.name)),
    );
    out.sort();
    out.dedup();
    out
}

/// `a, b, c, …` (at most three names, then an ellipsis).
#[must_use]
pub fn few(names: &[String]) -> String {
    let mut text = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 3 {
        text.push_str(", …");
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use super::*;
    use sealed_secrets_core::cert::{CertParams, Certificate};
    use sealed_secrets_core::seal::{SealOptions, seal_secret};
    use sealed_secrets_core::secret_bytes::SecretBytes;
    use sealed_secrets_core::types::{SealedSecretCondition, SealedSecretStatus};
    use time::macros::datetime;

    fn key_secret(
        name: &str,
        label: Option<&str>,
        not_before: OffsetDateTime,
    ) -> (Secret, PrivateKey) {
        let key = PrivateKey::generate(2048).unwrap();
        let cert = Certificate::self_signed(
            &key,
            &CertParams {
                not_before,
                ..CertParams::controller_default(not_before)
            },
        )
        .unwrap();
        let mut secret = key_secret::new_key_secret(
            &key,
            &cert,
            "sealed-secrets-key",
            &BTreeMap::new(),
            &BTreeMap::new(),
        )
        .unwrap();
        secret.metadata.name = name.to_owned();
        match label {
            Some(value) => {
                secret
                    .metadata
                    .labels
                    .insert(SEALED_SECRETS_KEY_LABEL.into(), value.into());
            }
            None => {
                secret.metadata.labels.clear();
            }
        }
        (secret, key)
    }

    fn sealed_for(key: &PrivateKey, name: &str) -> SealedSecret {
        let secret = Secret {
            metadata: ObjectMeta {
                name: name.into(),
                namespace: "ns".into(),
                ..ObjectMeta::default()
            },
            data: [("a".to_owned(), SecretBytes::from_slice(b"v"))].into(),
            ..Secret::default()
        };
        let mut ss = seal_secret(secret, key.public_key(), &SealOptions::default()).unwrap();
        ss.metadata.generation = 1;
        ss
    }

    fn synced(mut ss: SealedSecret, generation: i64) -> SealedSecret {
        ss.status = Some(SealedSecretStatus {
            observed_generation: generation,
            conditions: vec![SealedSecretCondition {
                type_: "Synced".into(),
                status: "True".into(),
                ..SealedSecretCondition::default()
            }],
            unsealed_digest: None,
        });
        ss
    }

    fn record(name: &str, value: &str) -> ObjectMeta {
        ObjectMeta {
            name: name.into(),
            namespace: "ns".into(),
            annotations: [(DIGEST_ANNOTATION.to_owned(), value.to_owned())].into(),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn newest_is_the_latest_loaded_key() {
        let (a, _) = key_secret("k-a", Some("active"), datetime!(2024-01-01 0:00 UTC));
        let (b, _) = key_secret("k-b", Some("active"), datetime!(2025-01-01 0:00 UTC));
        let (c, _) = key_secret("k-c", Some("compromised"), datetime!(2026-01-01 0:00 UTC));
        let (legacy, _) = key_secret(LEGACY_KEY_NAME, None, datetime!(2020-01-01 0:00 UTC));
        let mut broken = a.clone();
        broken.metadata.name = "k-broken".into();
        broken.data.remove("tls.key");
        let keys = inventory(&[c, a, broken, b, legacy]);
        let states: Vec<(&str, &str)> = keys.iter().map(|k| (k.name.as_str(), k.state())).collect();
        assert_eq!(
            states,
            [
                ("k-broken", "unreadable"),
                (LEGACY_KEY_NAME, "active"),
                ("k-a", "active"),
                ("k-b", "newest"),
                ("k-c", "inactive"),
            ]
        );
    }

    #[test]
    fn a_wrapped_key_is_listed_from_its_certificate() {
        let (plain, key) = key_secret("k-w", Some("active"), datetime!(2025-01-01 0:00 UTC));
        let data_key = wrapped_key::DataKey::generate().unwrap();
        let w =
            wrapped_key::WrappedKey::seal(&key, &data_key, "aws-kms", "alias/k", vec![1]).unwrap();
        let mut wrapped = plain.clone();
        wrapped_key::wrap_secret(&mut wrapped, &w);
        let (old, _) = key_secret("k-old", Some("active"), datetime!(2024-01-01 0:00 UTC));
        let keys = inventory(&[wrapped, old]);
        let w = keys.iter().find(|k| k.name == "k-w").unwrap();
        assert_eq!(w.state(), "newest");
        assert_eq!(w.location, "kms:alias/k");
        assert_eq!(w.fingerprint.as_deref(), Some(key.fingerprint().as_str()));
        assert!(w.key.is_none());
        assert_eq!(w.not_before, Some(datetime!(2025-01-01 0:00 UTC)));
        let old = keys.iter().find(|k| k.name == "k-old").unwrap();
        assert_eq!((old.state(), old.location.as_str()), ("active", "secret"));
    }

    #[test]
    fn token_keys_come_from_the_published_listing() {
        let (a, key_a) = key_secret("k-a", Some("active"), datetime!(2025-01-01 0:00 UTC));
        let mut keys = inventory(&[a]);
        assert_eq!(keys[0].state(), "newest");
        let fp_a = key_a.fingerprint().to_string();
        let json = format!(
            r#"[{{"fingerprint":"SHA256:tok","provider":"pkcs11:hsm","name":"sealed-secrets-key-x\n","notBefore":"2026-01-01T00:00:00Z","notAfter":"2036-01-01T00:00:00Z","latest":true}},
                {{"fingerprint":"{fp_a}","provider":"secret","name":"k-a","notBefore":"2025-01-01T00:00:00Z","notAfter":"2035-01-01T00:00:00Z","latest":false}}]"#
        );
        assert!(merge_published(&mut keys, &json));
        assert_eq!(keys.len(), 2);
        let token = keys.iter().find(|k| k.location == "pkcs11:hsm").unwrap();
        assert_eq!(token.state(), "newest");
        assert_eq!(token.name, "sealed-secrets-key-x");
        assert_eq!(token.not_before, Some(datetime!(2026-01-01 0:00 UTC)));
        let a = keys.iter().find(|k| k.name == "k-a").unwrap();
        assert_eq!((a.state(), a.location.as_str()), ("active", "secret"));
        assert!(!merge_published(&mut keys, "not json"));
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn records_count_only_while_current() {
        let key = PrivateKey::generate(2048).unwrap();
        let other = PrivateKey::generate(2048).unwrap();
        let fp = key.fingerprint().to_string();
        let objects = vec![
            synced(sealed_for(&key, "recorded"), 1),
            // Changed since the controller last saw it: its record is stale.
            synced(sealed_for(&key, "stale"), 0),
            sealed_for(&key, "no-status"),
            synced(sealed_for(&other, "other"), 1),
            synced(sealed_for(&key, "no-secret"), 1),
        ];
        let secrets = [
            record("recorded", &format!("v1;{fp};{fp};AAAA")),
            record("stale", &format!("v1;{fp};SHA256:old;AAAA")),
            record("no-status", &format!("v1;{fp};{fp};AAAA")),
            record("other", "v1;SHA256:o;SHA256:o;AAAA"),
        ];
        let usage = usage(objects, &secrets);
        assert_eq!(usage.dependents(&fp), ["ns/recorded"]);
        assert_eq!(usage.dependents("SHA256:o"), ["ns/other"]);
        let unrecorded: Vec<&str> = usage
            .unrecorded
            .iter()
            .map(|s| s.metadata.name.as_str())
            .collect();
        assert_eq!(unrecorded, ["stale", "no-status", "no-secret"]);
        // The key itself finds the unrecorded ones it opens.
        assert_eq!(
            dependents(&usage, &fp, &key),
            ["ns/no-secret", "ns/no-status", "ns/recorded", "ns/stale"]
        );
        let other_fp = other.fingerprint().to_string();
        assert!(dependents(&usage, &other_fp, &other).is_empty());
        assert_eq!(
            few(&dependents(&usage, &fp, &key)),
            "ns/no-secret, ns/no-status, ns/recorded, …"
        );
    }

    #[test]
    fn the_status_record_comes_first_and_the_annotation_is_a_fallback() {
        let key = PrivateKey::generate(2048).unwrap();
        let fp = key.fingerprint().to_string();
        let in_status = |name: &str, generation: i64, value: String| {
            let mut ss = synced(sealed_for(&key, name), generation);
            ss.status.as_mut().unwrap().unsealed_digest = Some(value);
            ss
        };
        let objects = vec![
            in_status("status-only", 1, format!("v1;{fp};{fp};AAAA")),
            in_status("status-wins", 1, format!("v1;{fp};{fp};AAAA")),
            in_status("stale", 0, format!("v1;{fp};{fp};AAAA")),
            synced(sealed_for(&key, "legacy"), 1),
        ];
        let secrets = [
            record("status-wins", "v1;SHA256:o;SHA256:o;AAAA"),
            record("legacy", &format!("v1;{fp};{fp};AAAA")),
        ];
        let usage = usage(objects, &secrets);
        assert_eq!(
            usage.dependents(&fp),
            ["ns/legacy", "ns/status-only", "ns/status-wins"]
        );
        assert!(usage.dependents("SHA256:o").is_empty());
        let unrecorded: Vec<&str> = usage
            .unrecorded
            .iter()
            .map(|s| s.metadata.name.as_str())
            .collect();
        assert_eq!(unrecorded, ["stale"]);
    }

    #[test]
    fn digest_records_parse_like_the_controller_writes_them() {
        assert_eq!(
            recorded_keys("v1;SHA256:a;SHA256:a,SHA256:b;AAEC").unwrap(),
            ["SHA256:a", "SHA256:b"]
        );
        assert_eq!(recorded_keys("v1;SHA256:a;;AAEC").unwrap().len(), 0);
        assert!(recorded_keys("v2;a;;x").is_none());
        assert!(recorded_keys("v1;;a;x").is_none());
        assert!(recorded_keys("v1;a;b;c;d").is_none());
    }
}
