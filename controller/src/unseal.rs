//! Runs the core crate's unseal and reseal off the async runtime, bounded to the number of CPUs,
//! and counts RSA work.
//!
//! RSA-4096 private operations take milliseconds each; they run on tokio's blocking pool behind
//! a semaphore so that reconciles and HTTP handlers never stall the runtime's workers and a burst
//! of work cannot start more RSA jobs than there are cores.

use std::collections::BTreeSet;
use std::sync::Arc;

use sealed_secrets_core::check::SEALED_WITH_ANNOTATION;
use sealed_secrets_core::diagnose::{Diagnosis, diagnose_item};
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::seal::{self, ItemErrorKind, UnsealError, UnsealOptions, Unsealed};
use sealed_secrets_core::types::{SealedSecret, base64_std};
use tokio::sync::Semaphore;

use crate::key_registry::{KeyEntry, KeySet};
use crate::metrics::Metrics;

/// A successful unseal and the fingerprints of the keys that opened its items (in unseal
/// order, deduplicated). `keys_used` is `None` for a legacy `spec.data` object, where the core
/// does not report which key opened it.
#[derive(Debug)]
pub struct UnsealOutcome {
    pub unsealed: Unsealed,
    pub keys_used: Option<Vec<String>>,
}

/// Why the blocking task failed.
#[derive(Debug, thiserror::Error)]
pub enum UnsealTaskError {
    #[error("{0}")]
    Unseal(#[from] UnsealError),
    #[error("the unseal task failed: {0}")]
    Task(String),
}

/// Shared unseal executor.
#[derive(Debug, Clone)]
pub struct Unsealer {
    permits: Arc<Semaphore>,
    metrics: Metrics,
    options: Arc<UnsealOptions>,
}

impl Unsealer {
    #[must_use]
    pub fn new(metrics: Metrics, options: UnsealOptions) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            permits: Arc::new(Semaphore::new(cpus)),
            metrics,
            options: Arc::new(options),
        }
    }

    /// The options unseals use.
    #[must_use]
    pub fn options(&self) -> &UnsealOptions {
        &self.options
    }

    /// Unseals `ss` with every registered key, latest first (after the key its
    /// `sealed-with` annotation names, see [`try_order`]).
    ///
    /// # Errors
    /// The core's unseal error, or a failed task.
    pub async fn unseal(
        &self,
        keys: Arc<KeySet>,
        ss: SealedSecret,
    ) -> Result<UnsealOutcome, UnsealTaskError> {
        self.unseal_preferring(keys, ss, Vec::new()).await
    }

    /// Unseals `ss` trying the `preferred` keys first (the keys recorded as having opened it
    /// last time, see [`try_order`]): about one RSA operation per item whatever the number of
    /// keys, where trying every key in turn costs up to one per key.
    ///
    /// # Errors
    /// The core's unseal error, or a failed task.
    pub async fn unseal_preferring(
        &self,
        keys: Arc<KeySet>,
        ss: SealedSecret,
        preferred: Vec<String>,
    ) -> Result<UnsealOutcome, UnsealTaskError> {
        self.on_pool(move |metrics, options| {
            let order = try_order(&keys, &ss, &preferred);
            let refs: Vec<&PrivateKey> = order.iter().map(|e| &e.key).collect();
            let result = seal::unseal(&ss, &refs, options);
            metrics
                .rsa_decrypt_operations
                .inc_by(rsa_operations(&ss, refs.len(), &result));
            let unsealed = result?;
            let keys_used = keys_used(&ss, &order, &unsealed);
            Ok(UnsealOutcome {
                unsealed,
                keys_used,
            })
        })
        .await
    }

    /// Re-encrypts `ss` for the latest key (`/v1/rotate`).
    ///
    /// # Errors
    /// No latest key, the core's unseal error, or a failed task.
    pub async fn reseal(
        &self,
        keys: Arc<KeySet>,
        ss: SealedSecret,
    ) -> Result<SealedSecret, UnsealTaskError> {
        self.on_pool(move |metrics, options| {
            let latest = keys
                .latest()
                .cloned()
                .ok_or_else(|| UnsealTaskError::Task("no sealing key is registered".to_owned()))?;
            let order = keys.unseal_order();
            let refs: Vec<&PrivateKey> = order.iter().map(|e| &e.key).collect();
            let result = seal::reseal(&ss, &refs, latest.key.public_key(), options);
            // A successful reseal decrypts every item once; count it like an unseal.
            let approx: Result<(), &UnsealError> = result.as_ref().map(|_| ());
            metrics
                .rsa_decrypt_operations
                .inc_by(rsa_operations_approx(&ss, refs.len(), approx));
            Ok(result?)
        })
        .await
    }

    /// Says why no key opened `item` of `ss` ([`diagnose_item`]: a few extra decryptions, on
    /// the pool like any RSA work). `None` when it cannot tell or the task failed.
    pub async fn diagnose(
        &self,
        keys: Arc<KeySet>,
        ss: SealedSecret,
        item: String,
    ) -> Option<Diagnosis> {
        self.on_pool(move |metrics, _| {
            let order = keys.unseal_order();
            let refs: Vec<&PrivateKey> = order.iter().map(|e| &e.key).collect();
            let mut rsa_ops = 0;
            let diagnosis = diagnose_item(&ss, &item, &refs, &mut rsa_ops);
            metrics.rsa_decrypt_operations.inc_by(rsa_ops);
            Ok(diagnosis)
        })
        .await
        .ok()
        .flatten()
    }

    /// Runs `job` on the blocking pool once a CPU permit is free.
    async fn on_pool<T, F>(&self, job: F) -> Result<T, UnsealTaskError>
    where
        T: Send + 'static,
        F: FnOnce(&Metrics, &UnsealOptions) -> Result<T, UnsealTaskError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| UnsealTaskError::Task(e.to_string()))?;
        let metrics = self.metrics.clone();
        let options = Arc::clone(&self.options);
        tokio::task::spawn_blocking(move || job(&metrics, &options))
            .await
            .map_err(|e| UnsealTaskError::Task(e.to_string()))?
    }
}

/// The order in which keys are tried on `ss`: the registered keys among `preferred` (in that
/// order), then the key named by the SealedSecret's `sealed-secrets-rs/sealed-with`
/// annotation, then the rest in the registry's order (latest first). Only the order changes,
/// never the set of keys: a hint naming an unknown key is ignored, and a wrong hint costs one
/// extra decryption per item. Each RSA operation stays constant-time, and which key opened an
/// item is not revealed by anything but the record the controller itself wrote.
#[must_use]
pub fn try_order(keys: &KeySet, ss: &SealedSecret, preferred: &[String]) -> Vec<Arc<KeyEntry>> {
    let mut order = keys.unseal_order();
    let sealed_with = ss.metadata.annotations.get(SEALED_WITH_ANNOTATION);
    let hints = preferred
        .iter()
        .map(String::as_str)
        .chain(sealed_with.map(String::as_str));
    let mut front = 0;
    for hint in hints {
        let rest = order.get(front..).unwrap_or_default();
        if let Some(offset) = rest.iter().position(|e| e.fingerprint.as_str() == hint) {
            let entry = order.remove(front + offset);
            order.insert(front, entry);
            front += 1;
        }
    }
    order
}

fn keys_used(
    ss: &SealedSecret,
    order: &[Arc<KeyEntry>],
    unsealed: &Unsealed,
) -> Option<Vec<String>> {
    if ss.spec.data.is_some() {
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for index in unsealed.key_index_by_item.values() {
        let entry = order.get(*index)?;
        let fp = entry.fingerprint.to_string();
        if seen.insert(fp.clone()) {
            out.push(fp);
        }
    }
    Some(out)
}

/// RSA private operations an unseal performed: exact on success (each item tried keys up to
/// the one that opened it), a lower bound on failure (an item that failed tried every key; an
/// item that did not fail tried at least one).
fn rsa_operations(
    ss: &SealedSecret,
    key_count: usize,
    result: &Result<Unsealed, UnsealError>,
) -> u64 {
    match result {
        Ok(unsealed) if ss.spec.data.is_none() => unsealed
            .key_index_by_item
            .values()
            .map(|i| u64::try_from(*i).unwrap_or(u64::MAX).saturating_add(1))
            .sum(),
        Ok(_) => 1,
        Err(e) => rsa_operations_approx(ss, key_count, Err(e)),
    }
}

fn rsa_operations_approx(
    ss: &SealedSecret,
    key_count: usize,
    result: Result<(), &UnsealError>,
) -> u64 {
    let keys = u64::try_from(key_count).unwrap_or(u64::MAX);
    if ss.spec.data.is_some() {
        return match result {
            Ok(()) => 1,
            Err(UnsealError::V1NoKey | UnsealError::V1Malformed) => keys,
            Err(_) => 0,
        };
    }
    let failed = result.err().map(UnsealError::items).unwrap_or_default();
    ss.spec
        .encrypted_data
        .iter()
        .flatten()
        .map(
            |(item, text)| match failed.iter().find(|e| &e.item == item).map(|e| &e.kind) {
                Some(ItemErrorKind::NoKey) => keys,
                Some(ItemErrorKind::Base64(_)) => 0,
                _ if base64_std::decode(text).is_err() => 0,
                _ => 1,
            },
        )
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_registry::KeyRegistry;
    use sealed_secrets_core::cert::{CertParams, Certificate};
    use time::OffsetDateTime;

    fn registry(n: i64) -> (KeyRegistry, Vec<String>) {
        let reg = KeyRegistry::new();
        let mut fps = Vec::new();
        for i in 0..n {
            let key = PrivateKey::generate(2048).unwrap();
            let at = OffsetDateTime::now_utc() + time::Duration::hours(i);
            let cert = Certificate::self_signed(&key, &CertParams::controller_default(at)).unwrap();
            fps.push(key.fingerprint().to_string());
            reg.register(KeyEntry::new(key, cert, at, format!("k{i}")));
        }
        (reg, fps)
    }

    fn fps(order: &[Arc<KeyEntry>]) -> Vec<String> {
        order.iter().map(|e| e.fingerprint.to_string()).collect()
    }

    #[test]
    fn recorded_keys_then_sealed_with_then_the_rest() {
        let (reg, k) = registry(3);
        let keys = reg.snapshot();
        let mut ss = SealedSecret::default();
        // Newest first without hints.
        assert_eq!(
            fps(&try_order(&keys, &ss, &[])),
            [k[2].clone(), k[1].clone(), k[0].clone()]
        );
        assert_eq!(
            fps(&try_order(&keys, &ss, &[k[0].clone()])),
            [k[0].clone(), k[2].clone(), k[1].clone()]
        );
        ss.metadata
            .annotations
            .insert(SEALED_WITH_ANNOTATION.into(), k[1].clone());
        assert_eq!(
            fps(&try_order(&keys, &ss, &[k[0].clone()])),
            [k[0].clone(), k[1].clone(), k[2].clone()]
        );
        // Unknown and repeated hints change nothing else; the set of keys never changes.
        let hints = ["SHA256:gone".to_owned(), k[1].clone(), k[1].clone()];
        assert_eq!(
            fps(&try_order(&keys, &ss, &hints)),
            [k[1].clone(), k[2].clone(), k[0].clone()]
        );
    }
}
