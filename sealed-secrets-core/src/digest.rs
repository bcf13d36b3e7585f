//! The record the controller keeps of every Secret it writes, in the SealedSecret's
//! `status.unsealedDigest`: which keys opened the SealedSecret, and a keyed digest of what was
//! written (addition; upstream has none). Controllers before ADR 0004 kept it in the Secret's
//! [`UNSEALED_DIGEST_ANNOTATION`]; that annotation is still read once, then removed.
//!
//! The controller computes the digest (an HMAC keyed from a private key that opened the
//! SealedSecret, over the SealedSecret's identity, scope and spec and the Secret's content) and
//! skips decryption when it still matches; `kubeseal-rs keys list|prune` read the record to
//! find the SealedSecrets that depend on a key (docs/keys.md). This module holds only the
//! record's format, so both programs parse it the same way.
//!
//! Value of `status.unsealedDigest` (and of the legacy annotation): `v1;<signing key
//! fingerprint>;<fingerprints of the keys used, comma separated>;<base64url HMAC, unpadded>`,
//! or, since drift repair (docs/decisions/0006-drift-repair.md), `v2;<signing key
//! fingerprint>;<keys used>;<content HMAC>;<sealed HMAC>`: the first HMAC covers the
//! SealedSecret and what the controller writes of the Secret, the second the SealedSecret alone,
//! so that a changed Secret can be told from a changed SealedSecret. `v3` has the fields of `v2`;
//! its HMACs cover each ciphertext by its SHA-256 instead of its text, so the controller's
//! watch cache need not keep the ciphertexts (docs/performance.md). Readers that know only
//! older versions see no record (and fall back to work that needs none).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use crate::names::UNSEALED_DIGEST_ANNOTATION;
use crate::types::SealedSecretStatus;

/// A parsed [`UNSEALED_DIGEST_ANNOTATION`] value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRecord {
    /// Fingerprint of the key whose derived HMAC key signed the record.
    pub signing_fp: String,
    /// Fingerprints of the keys that opened the items (an ordering hint and a readable record;
    /// never a proof unless the tag verifies).
    pub keys_used: Vec<String>,
    /// The HMAC tag: over the SealedSecret and the whole Secret (`v1`), or over the
    /// SealedSecret and the part of the Secret the controller restores (`v2`).
    pub tag: Vec<u8>,
    /// `v2` and `v3`: the HMAC tag over the SealedSecret alone.
    pub sealed_tag: Option<Vec<u8>>,
    /// `v3`: the HMACs cover the ciphertexts by their SHA-256 (needs a sealed tag).
    pub hashed_ciphertexts: bool,
}

impl DigestRecord {
    /// Parses a record; `None` if it is not a well-formed `v1`, `v2` or `v3` record.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let (v2, hashed_ciphertexts) = match parts.next()? {
            "v1" => (false, false),
            "v2" => (true, false),
            "v3" => (true, true),
            _ => return None,
        };
        let signing_fp = parts.next()?.to_owned();
        let used = parts.next()?;
        let tag = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        let sealed_tag = if v2 {
            Some(URL_SAFE_NO_PAD.decode(parts.next()?).ok()?)
        } else {
            None
        };
        if parts.next().is_some() || signing_fp.is_empty() {
            return None;
        }
        let keys_used = if used.is_empty() {
            Vec::new()
        } else {
            used.split(',').map(str::to_owned).collect()
        };
        Some(Self {
            signing_fp,
            keys_used,
            tag,
            sealed_tag,
            hashed_ciphertexts,
        })
    }

    /// The record in a SealedSecret's status, if it has a well-formed one.
    #[must_use]
    pub fn from_status(status: Option<&SealedSecretStatus>) -> Option<Self> {
        status
            .and_then(|s| s.unsealed_digest.as_deref())
            .and_then(Self::parse)
    }

    /// The record read from a Secret's legacy annotation (written by controllers before
    /// ADR 0004), if it has a well-formed one.
    #[must_use]
    pub fn from_annotations(annotations: Option<&BTreeMap<String, String>>) -> Option<Self> {
        annotations
            .and_then(|a| a.get(UNSEALED_DIGEST_ANNOTATION))
            .and_then(|value| Self::parse(value))
    }

    /// The text of this record (`v3` when it hashes ciphertexts, else `v2` when it has a sealed
    /// tag).
    #[must_use]
    pub fn to_value(&self) -> String {
        let head = format!(
            "{};{};{}",
            self.signing_fp,
            self.keys_used.join(","),
            URL_SAFE_NO_PAD.encode(&self.tag)
        );
        match &self.sealed_tag {
            None => format!("v1;{head}"),
            Some(sealed) => format!(
                "{};{head};{}",
                if self.hashed_ciphertexts { "v3" } else { "v2" },
                URL_SAFE_NO_PAD.encode(sealed)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trip() {
        let p = DigestRecord::parse("v1;SHA256:a;SHA256:a,SHA256:b;AAEC").unwrap();
        assert_eq!(p.signing_fp, "SHA256:a");
        assert_eq!(p.keys_used, vec!["SHA256:a", "SHA256:b"]);
        assert_eq!(p.tag, vec![0, 1, 2]);
        assert_eq!(p.to_value(), "v1;SHA256:a;SHA256:a,SHA256:b;AAEC");
        let none_used = DigestRecord::parse("v1;SHA256:a;;AAEC").unwrap();
        assert!(none_used.keys_used.is_empty());
        assert_eq!(none_used.to_value(), "v1;SHA256:a;;AAEC");
        let v2 = DigestRecord::parse("v2;SHA256:a;SHA256:a;AAEC;AQI").unwrap();
        assert_eq!(v2.tag, vec![0, 1, 2]);
        assert_eq!(v2.sealed_tag, Some(vec![1, 2]));
        assert_eq!(v2.to_value(), "v2;SHA256:a;SHA256:a;AAEC;AQI");
        assert!(!v2.hashed_ciphertexts && !p.hashed_ciphertexts);
        assert_eq!(p.sealed_tag, None);
        let v3 = DigestRecord::parse("v3;SHA256:a;SHA256:a;AAEC;AQI").unwrap();
        assert!(v3.hashed_ciphertexts);
        assert_eq!(v3.sealed_tag, Some(vec![1, 2]));
        assert_eq!(v3.to_value(), "v3;SHA256:a;SHA256:a;AAEC;AQI");
    }

    #[test]
    fn malformed_values_are_not_records() {
        for value in [
            "v4;a;;AAEC;AAEC",
            "v3;a;;AAEC",
            "v3;a;;AAEC;AAEC;extra",
            "v2;a;;AAEC",
            "v2;a;;AAEC;AAEC;extra",
            "v2;a;;AAEC;not base64!",
            "v1;;;AAEC",
            "v1;a;b",
            "v1;a;b;AAEC;extra",
            "v1;a;b;not base64!",
            "garbage",
            "",
        ] {
            assert!(DigestRecord::parse(value).is_none(), "{value:?}");
        }
    }

    #[test]
    fn read_from_status() {
        assert!(DigestRecord::from_status(None).is_none());
        let mut status = SealedSecretStatus::default();
        assert!(DigestRecord::from_status(Some(&status)).is_none());
        status.unsealed_digest = Some("garbage".into());
        assert!(DigestRecord::from_status(Some(&status)).is_none());
        status.unsealed_digest = Some("v1;fp;k1,k2;AAEC".into());
        let record = DigestRecord::from_status(Some(&status)).unwrap();
        assert_eq!(record.keys_used, vec!["k1", "k2"]);
    }

    #[test]
    fn read_from_annotations() {
        let mut annotations = BTreeMap::new();
        assert!(DigestRecord::from_annotations(None).is_none());
        assert!(DigestRecord::from_annotations(Some(&annotations)).is_none());
        annotations.insert(
            UNSEALED_DIGEST_ANNOTATION.to_owned(),
            "v1;fp;k1;AAEC".to_owned(),
        );
        let record = DigestRecord::from_annotations(Some(&annotations)).unwrap();
        assert_eq!(record.keys_used, vec!["k1"]);
    }
}
