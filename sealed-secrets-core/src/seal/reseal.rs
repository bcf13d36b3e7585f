//! Re-encrypting sealed items for another key: the controller's `/v1/rotate` (and
//! `kubeseal --re-encrypt` through it) and `kubeseal-rs reseal` (offline, with the private keys)
//! share [`ItemResealer`], one item at a time.
//!
//! Only ciphertexts change. Nothing here runs a template or parses a decrypted value, so no
//! outcome depends on a plaintext: an item either opens with one of the keys (OAEP and GCM
//! decide, whatever the value) or it does not.

use std::collections::BTreeMap;

use crate::crypto;
use crate::keys::{Decrypter, PublicKey};
use crate::scope::Scope;
use crate::types::{SealedSecret, base64_std};

use super::encrypt_item;
use super::unseal::{
    ItemError, ItemErrorKind, Opening, UnsealError, UnsealOptions, Work, base64_error_text,
    open_blob, open_v1, rsa_budget,
};

/// What re-encrypting one item gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resealed {
    /// Re-encrypted: the new base64 ciphertext, and the index of the key that opened the old one.
    Sealed { text: String, opened_by: usize },
    /// Opened by the key at `opened_by`, which the caller chose not to re-encrypt from.
    Skipped { opened_by: usize },
}

/// Why one item could not be re-encrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResealItemError {
    /// The value is not standard base64 (Go's message, with the offset).
    #[error("{0}")]
    Base64(String),
    /// No key opened it.
    #[error("no key could decrypt it")]
    NoKey,
    /// The object's RSA budget or the deadline ran out.
    #[error("exceeds the work allowed for one SealedSecret")]
    TooMuchWork,
    /// Encrypting for the new key failed.
    #[error("cannot encrypt it for the new key")]
    Encrypt,
    /// A key could not be used (a token away): transient, see [`UnsealError::KeyUnavailable`].
    #[error("sealing key unavailable: {0}")]
    KeyUnavailable(String),
}

/// Re-encrypts the items of one SealedSecret for a new key, one at a time, under one RSA
/// budget ([`rsa_budget`] of its items and keys); a key that opened an item is tried first for
/// the next.
pub struct ItemResealer<'k> {
    keys: &'k [&'k dyn Decrypter],
    order: Vec<usize>,
    scope: Scope,
    namespace: String,
    name: String,
    label: Vec<u8>,
    /// RSA operations this object may do: counted from the first item opened.
    budget: u64,
    budget_start: Option<u64>,
}

impl<'k> ItemResealer<'k> {
    /// A resealer for the items of `ss`, opened with `keys`.
    #[must_use]
    pub fn new(ss: &SealedSecret, keys: &'k [&'k dyn Decrypter]) -> Self {
        Self {
            keys,
            order: (0..keys.len()).collect(),
            scope: ss.scope(),
            namespace: ss.metadata.namespace.clone(),
            name: ss.metadata.name.clone(),
            label: ss.label(),
            budget: rsa_budget(ss.item_count(), keys.len()),
            budget_start: None,
        }
    }

    /// Whether `key` opens the item `text` (one RSA operation at most, counted in `work`).
    pub fn opens_with(&self, key: &dyn Decrypter, text: &str, work: &mut Work<'_>) -> bool {
        let Ok(blob) = base64_std::decode(text) else {
            return false;
        };
        let mut order = vec![0];
        let budget = work.rsa_operations.saturating_add(1);
        open_blob(&[key], &mut order, &self.label, &blob, work, budget).is_ok()
    }

    /// Opens the item `text` with the keys and, if `wanted` says so for the key that opened it,
    /// encrypts its value for `new_key`.
    ///
    /// # Errors
    /// See [`ResealItemError`]; nothing in it depends on the plaintext.
    pub fn reseal(
        &mut self,
        text: &str,
        new_key: &PublicKey,
        work: &mut Work<'_>,
        wanted: impl FnOnce(usize) -> bool,
    ) -> Result<Resealed, ResealItemError> {
        let blob = base64_std::decode(text)
            .map_err(|_| ResealItemError::Base64(base64_error_text(text)))?;
        let start = *self.budget_start.get_or_insert(work.rsa_operations);
        let (plaintext, opened_by) = open_blob(
            self.keys,
            &mut self.order,
            &self.label,
            &blob,
            work,
            start.saturating_add(self.budget),
        )
        .map_err(|e| match e {
            Opening::NoKey => ResealItemError::NoKey,
            Opening::TooMuchWork => ResealItemError::TooMuchWork,
            Opening::Unavailable(reason) => ResealItemError::KeyUnavailable(reason),
        })?;
        if !wanted(opened_by) {
            return Ok(Resealed::Skipped { opened_by });
        }
        let text = encrypt_item(
            new_key,
            self.scope,
            &self.namespace,
            &self.name,
            plaintext.expose(),
        )
        .map_err(|_| ResealItemError::Encrypt)?;
        Ok(Resealed::Sealed { text, opened_by })
    }
}

/// Re-encrypts a SealedSecret for `new_key` (the `/v1/rotate` and `--re-encrypt` operation).
///
/// Only ciphertexts change: the template (metadata, type, immutable and the `data` templates,
/// unrendered) is kept as it is, and a legacy `spec.data` blob is re-encrypted as a blob (not
/// parsed), so that the answer never depends on a plaintext. Every item is decrypted once.
///
/// # Errors
/// Decryption failed (see [`super::verify`]), or encryption failed (reported as that item's
/// error).
pub fn reseal(
    ss: &SealedSecret,
    keys: &[&dyn Decrypter],
    new_key: &PublicKey,
    opts: &UnsealOptions,
    work: &mut Work<'_>,
) -> Result<SealedSecret, UnsealError> {
    let mut out = ss.clone();
    out.status = None;
    if let Some(blob) = &ss.spec.data {
        let label = ss.label();
        let plaintext = open_v1(ss, keys, opts, &label, blob, work)?;
        let sealed = crypto::hybrid_encrypt(new_key, &label, plaintext.expose())
            .map_err(|_| UnsealError::V1NoKey)?;
        out.spec.data = Some(sealed);
    } else {
        let mut resealer = ItemResealer::new(ss, keys);
        let mut encrypted = BTreeMap::new();
        let mut errors = Vec::new();
        for (item, text) in ss.items() {
            let kind = match resealer.reseal(text, new_key, work, |_| true) {
                Ok(Resealed::Sealed { text, .. }) => {
                    encrypted.insert(item.to_owned(), text);
                    continue;
                }
                Err(ResealItemError::TooMuchWork) => {
                    return Err(UnsealError::TooMuchWork {
                        items: ss.item_count(),
                        keys: keys.len(),
                    });
                }
                Err(ResealItemError::KeyUnavailable(reason)) => {
                    return Err(UnsealError::KeyUnavailable { reason });
                }
                Err(ResealItemError::Base64(message)) => ItemErrorKind::Base64(message),
                // (Every key is wanted, so nothing is skipped.)
                Ok(Resealed::Skipped { .. })
                | Err(ResealItemError::NoKey | ResealItemError::Encrypt) => ItemErrorKind::NoKey,
            };
            errors.push(ItemError {
                item: item.to_owned(),
                kind,
            });
        }
        if !errors.is_empty() {
            return Err(UnsealError::Items(errors));
        }
        out.spec.encrypted_data = Some(encrypted);
    }
    // A recorded sealing certificate (see `check`) now names the new key.
    if let Some(recorded) = out
        .metadata
        .annotations
        .get_mut(crate::names::SEALED_WITH_ANNOTATION)
    {
        *recorded = new_key.fingerprint().to_string();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;
    use crate::keys::PrivateKey;
    use crate::types::ObjectMeta;

    static OLD: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());
    static OTHER: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());
    static NEW: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());

    fn sealed(items: &[(&str, &PrivateKey)]) -> SealedSecret {
        let mut ss = SealedSecret {
            metadata: ObjectMeta {
                name: "app".into(),
                namespace: "prod".into(),
                ..ObjectMeta::default()
            },
            ..SealedSecret::default()
        };
        let encrypted = items
            .iter()
            .map(|(item, key)| {
                let text = encrypt_item(
                    key.public_key(),
                    Scope::Strict,
                    "prod",
                    "app",
                    item.as_bytes(),
                )
                .unwrap();
                ((*item).to_owned(), text)
            })
            .collect();
        ss.spec.encrypted_data = Some(encrypted);
        ss
    }

    #[test]
    fn items_move_to_the_new_key_and_skips_are_reported() {
        let ss = sealed(&[("a", &OLD), ("b", &OTHER), ("c", &OLD)]);
        let keys: [&dyn Decrypter; 2] = [&*OLD, &*OTHER];
        let mut resealer = ItemResealer::new(&ss, &keys);
        let mut work = Work::default();
        let new_public = NEW.public_key();
        let mut moved = Vec::new();
        for (item, text) in ss.items() {
            // Only what the first key opened moves (as `reseal --only-key`).
            match resealer.reseal(text, new_public, &mut work, |index| index == 0) {
                Ok(Resealed::Sealed { text, opened_by }) => {
                    assert_eq!(opened_by, 0);
                    assert!(resealer.opens_with(&*NEW, &text, &mut work));
                    assert!(!resealer.opens_with(&*OLD, &text, &mut work));
                    moved.push(item);
                }
                Ok(Resealed::Skipped { opened_by }) => assert_eq!((item, opened_by), ("b", 1)),
                Err(e) => panic!("{item}: {e}"),
            }
        }
        assert_eq!(moved, ["a", "c"]);
    }

    #[test]
    fn unopenable_and_malformed_items_are_errors() {
        let ss = sealed(&[("a", &OTHER)]);
        let keys: [&dyn Decrypter; 1] = [&*OLD];
        let mut resealer = ItemResealer::new(&ss, &keys);
        let mut work = Work::default();
        let new_public = NEW.public_key();
        let (_, text) = ss.items().next().unwrap();
        assert_eq!(
            resealer.reseal(text, new_public, &mut work, |_| true),
            Err(ResealItemError::NoKey)
        );
        assert!(matches!(
            resealer.reseal("not base64!", new_public, &mut work, |_| true),
            Err(ResealItemError::Base64(_))
        ));
    }

    #[test]
    fn the_rsa_budget_bounds_the_work_whatever_the_output() {
        // Many items that no key opens: the budget, not the item count, stops the work.
        let items: Vec<(String, &PrivateKey)> =
            (0..40).map(|i| (format!("k{i}"), &*OTHER)).collect();
        let refs: Vec<(&str, &PrivateKey)> = items.iter().map(|(n, k)| (n.as_str(), *k)).collect();
        let ss = sealed(&refs);
        let keys: Vec<&dyn Decrypter> = std::iter::repeat_n(&*OLD as &dyn Decrypter, 8).collect();
        let mut resealer = ItemResealer::new(&ss, &keys);
        let mut work = Work::default();
        let new_public = NEW.public_key();
        let outcomes: Vec<_> = ss
            .items()
            .map(|(_, text)| resealer.reseal(text, new_public, &mut work, |_| true))
            .collect();
        assert!(outcomes.contains(&Err(ResealItemError::TooMuchWork)));
        assert!(work.rsa_operations <= rsa_budget(40, 8));
    }
}
