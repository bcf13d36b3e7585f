//! Runs the core crate's unseal and reseal off the async runtime, bounded to the number of CPUs,
//! and counts RSA work.
//!
//! RSA-4096 private operations take milliseconds each; they run on tokio's blocking pool behind
//! a semaphore so that reconciles and HTTP handlers never stall the runtime's workers and a burst
//! of work cannot start more RSA jobs than there are cores; each job is bounded in RSA operations
//! (`seal::rsa_budget`), in time ([`WORK_DEADLINE`]) and shares its core in slices.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealed_secrets_core::check::SEALED_WITH_ANNOTATION;
use sealed_secrets_core::diagnose::{Diagnosis, diagnose_item};
use sealed_secrets_core::keys::Decrypter;
use sealed_secrets_core::seal::{self, UnsealError, UnsealOptions, Unsealed, Work};
use sealed_secrets_core::types::SealedSecret;
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

/// How long one unseal, verify or rotate may work (RSA and templates) before it stops with
/// [`UnsealError::TooMuchWork`]: far above what the budgets allow on a loaded machine, so that
/// only a runaway is ever stopped.
pub const WORK_DEADLINE: Duration = Duration::from_secs(30);

/// How long a job runs before it lets other jobs waiting for a CPU permit go first.
const TIME_SLICE: Duration = Duration::from_millis(20);

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
        self.on_pool(move |options, work| {
            let order = try_order(&keys, &ss, &preferred);
            let refs: Vec<&dyn Decrypter> = order.iter().map(|e| &*e.key).collect();
            let unsealed = seal::unseal_with(&ss, &refs, options, work)?;
            let keys_used = keys_used(&ss, &order, &unsealed);
            Ok(UnsealOutcome {
                unsealed,
                keys_used,
            })
        })
        .await
    }

    /// Whether every item of `ss` decrypts (`/v1/verify`): no template runs.
    ///
    /// # Errors
    /// The core's error, or a failed task.
    pub async fn verify(&self, keys: Arc<KeySet>, ss: SealedSecret) -> Result<(), UnsealTaskError> {
        self.on_pool(move |options, work| {
            let order = try_order(&keys, &ss, &[]);
            let refs: Vec<&dyn Decrypter> = order.iter().map(|e| &*e.key).collect();
            Ok(seal::verify(&ss, &refs, options, work)?)
        })
        .await
    }

    /// Re-encrypts `ss` for the latest key (`/v1/rotate`): no template runs.
    ///
    /// # Errors
    /// No latest key, the core's unseal error, or a failed task.
    pub async fn reseal(
        &self,
        keys: Arc<KeySet>,
        ss: SealedSecret,
    ) -> Result<SealedSecret, UnsealTaskError> {
        self.on_pool(move |options, work| {
            let latest = keys
                .latest()
                .cloned()
                .ok_or_else(|| UnsealTaskError::Task("no sealing key is registered".to_owned()))?;
            let order = try_order(&keys, &ss, &[]);
            let refs: Vec<&dyn Decrypter> = order.iter().map(|e| &*e.key).collect();
            Ok(seal::reseal(
                &ss,
                &refs,
                latest.key.public_key(),
                options,
                work,
            )?)
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
        self.on_pool(move |_, work| {
            let order = keys.unseal_order();
            let refs: Vec<&dyn Decrypter> = order.iter().map(|e| &*e.key).collect();
            let mut rsa_ops = 0;
            let diagnosis = diagnose_item(&ss, &item, &refs, &mut rsa_ops);
            work.rsa_operations += rsa_ops;
            Ok(diagnosis)
        })
        .await
        .ok()
        .flatten()
    }

    /// Runs `job` on the blocking pool once a CPU permit is free.
    ///
    /// The permit moves into the blocking task and is released only when the work really
    /// ends: a caller that stops waiting (an HTTP request past its timeout) does not free a
    /// permit while its RSA work goes on. The job yields its permit to waiting jobs every
    /// [`TIME_SLICE`] (at its next RSA operation, see [`Work::pause`]), so one SealedSecret
    /// with thousands of items delays the others by a slice, not by its whole run, and it
    /// stops at [`WORK_DEADLINE`]. RSA operations are counted in the metrics whatever the
    /// outcome.
    async fn on_pool<T, F>(&self, job: F) -> Result<T, UnsealTaskError>
    where
        T: Send + 'static,
        F: FnOnce(&UnsealOptions, &mut Work<'_>) -> Result<T, UnsealTaskError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| UnsealTaskError::Task(e.to_string()))?;
        let metrics = self.metrics.clone();
        let options = Arc::clone(&self.options);
        let permits = Arc::clone(&self.permits);
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut held = Some(permit);
            let mut slice_start = Instant::now();
            let mut pause = || {
                if slice_start.elapsed() < TIME_SLICE {
                    return;
                }
                // Semaphore waiters are served in order: everyone queued now goes first.
                drop(held.take());
                held = runtime.block_on(Arc::clone(&permits).acquire_owned()).ok();
                slice_start = Instant::now();
            };
            let mut work = Work {
                pause: Some(&mut pause),
                deadline: Some(Instant::now() + WORK_DEADLINE),
                rsa_operations: 0,
            };
            let result = job(&options, &mut work);
            metrics.rsa_decrypt_operations.inc_by(work.rsa_operations);
            result
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_registry::KeyRegistry;
    use sealed_secrets_core::cert::{CertParams, Certificate};
    use sealed_secrets_core::keys::PrivateKey;
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_stops_waiting_does_not_free_the_permit_of_running_work() {
        let metrics = Metrics::new("test").unwrap();
        let unsealer = Unsealer::new(metrics, UnsealOptions::default());
        let total = unsealer.permits.available_permits();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let pool = unsealer.clone();
        let caller = tokio::spawn(async move {
            pool.on_pool(move |_, _| {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
                Ok(())
            })
            .await
        });
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .unwrap()
            .unwrap();
        // The caller gives up (an HTTP request past its timeout): the work still holds its CPU.
        caller.abort();
        let _ = caller.await;
        assert_eq!(unsealer.permits.available_permits(), total - 1);
        release_tx.send(()).unwrap();
        for _ in 0..500 {
            if unsealer.permits.available_permits() == total {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the permit was not returned when the work ended");
    }
}
