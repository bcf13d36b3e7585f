//! The sealing keys (SPEC §3.4, §3.5): discovery at startup, generation, renewal on a schedule
//! and on SIGUSR1, and live registration with `--watch-for-secrets`.
//!
//! Keys are held in an immutable [`KeySet`] behind an `RwLock<Arc<_>>`: readers take a snapshot
//! (one pointer clone) and never see a half-registered key; writers copy, add and swap. The lock
//! is never held across an await or an RSA operation. Keys are never removed while running.
//!
//! Unlike upstream, a key Secret that cannot be parsed is logged and skipped (upstream crashes),
//! and so is a key whose certificate does not match it; a key dated more than
//! [`MAX_FUTURE_ORDER_TIME`] ahead decrypts but never becomes the latest.

mod manager;

use std::sync::{Arc, RwLock};

use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::keys::{Decrypter, Fingerprint, PrivateKey};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::digest::DigestKey;

pub use self::manager::{KeyManager, KeyManagerError, KeyParams, entry_from_secret};

/// Where a key's private half lives (ADR 0005 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProvider {
    /// A `kubernetes.io/tls` key Secret, held in memory.
    Secret,
    /// A PKCS#11 token with this label; the private key never leaves it.
    Pkcs11 { token: String },
    /// A key Secret wrapped by this KMS key, unwrapped in memory (ADR 0008).
    Kms { key_id: String },
}

impl std::fmt::Display for KeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyProvider::Secret => f.write_str("secret"),
            KeyProvider::Pkcs11 { token } => write!(f, "pkcs11:{token}"),
            KeyProvider::Kms { key_id } => write!(f, "kms:{key_id}"),
        }
    }
}

/// One registered key.
#[derive(Debug)]
pub struct KeyEntry {
    pub fingerprint: Fingerprint,
    /// The private-key operation, wherever the key lives.
    pub key: Arc<dyn Decrypter>,
    pub provider: KeyProvider,
    pub cert: Certificate,
    /// The time that orders keys: cert NotBefore, or the Secret's creation time.
    pub order_time: OffsetDateTime,
    /// HMAC key for digests signed with this key.
    pub digest_key: Option<DigestKey>,
    /// Name of the key Secret, or the token key's label (for logs).
    pub secret_name: String,
}

impl KeyEntry {
    /// Builds an entry, deriving its digest key.
    #[must_use]
    pub fn new(
        key: PrivateKey,
        cert: Certificate,
        order_time: OffsetDateTime,
        secret_name: String,
    ) -> Self {
        Self {
            fingerprint: key.fingerprint().clone(),
            digest_key: DigestKey::derive(&key),
            key: Arc::new(key),
            provider: KeyProvider::Secret,
            cert,
            order_time,
            secret_name,
        }
    }

    /// Builds an entry for a key held elsewhere (a token), whose digest key the provider
    /// derived (ADR 0005 §6).
    #[must_use]
    pub fn held(
        key: Arc<dyn Decrypter>,
        provider: KeyProvider,
        cert: Certificate,
        digest_key: DigestKey,
        label: String,
    ) -> Self {
        Self {
            fingerprint: key.fingerprint(),
            order_time: cert.not_before(),
            digest_key: Some(digest_key),
            key,
            provider,
            cert,
            secret_name: label,
        }
    }
}

/// How far ahead of now a key's ordering time may be for it to become the latest.
pub const MAX_FUTURE_ORDER_TIME: time::Duration = time::Duration::days(1);

/// An immutable snapshot of the registered keys.
#[derive(Debug, Default, Clone)]
pub struct KeySet {
    /// In registration order.
    entries: Vec<Arc<KeyEntry>>,
    latest: Option<usize>,
}

impl KeySet {
    /// The key whose certificate is served and used by `/v1/rotate`.
    #[must_use]
    pub fn latest(&self) -> Option<&Arc<KeyEntry>> {
        self.latest.and_then(|i| self.entries.get(i))
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The order in which keys are tried when unsealing: the latest first (new SealedSecrets
    /// are sealed with it), then by ordering time, newest first.
    #[must_use]
    pub fn unseal_order(&self) -> Vec<Arc<KeyEntry>> {
        let mut out: Vec<(usize, Arc<KeyEntry>)> =
            self.entries.iter().cloned().enumerate().collect();
        let latest = self.latest;
        out.sort_by(|(ia, a), (ib, b)| {
            let a_latest = Some(*ia) == latest;
            let b_latest = Some(*ib) == latest;
            b_latest
                .cmp(&a_latest)
                .then(b.order_time.cmp(&a.order_time))
                .then(ib.cmp(ia))
        });
        out.into_iter().map(|(_, e)| e).collect()
    }

    /// The entry with this fingerprint.
    #[must_use]
    pub fn by_fingerprint(&self, fp: &str) -> Option<&Arc<KeyEntry>> {
        self.entries.iter().find(|e| e.fingerprint.as_str() == fp)
    }

    /// A copy with `entry` added (upstream `registerNewKey`): duplicates by fingerprint are
    /// ignored, and the latest key changes only if the new one's ordering time is strictly
    /// later. Returns `None` when the key was already registered.
    #[must_use]
    pub fn with(&self, entry: KeyEntry) -> Option<KeySet> {
        if self.by_fingerprint(entry.fingerprint.as_str()).is_some() {
            return None;
        }
        let mut next = self.clone();
        // A key dated far ahead would stay the latest for as long as it says, whatever keys
        // renewal adds (a planted key Secret with NotBefore 2099 would be sealed for forever):
        // it still decrypts, but it is not served or used to rotate until a restart finds its
        // time within reach.
        let reachable = entry.order_time <= OffsetDateTime::now_utc() + MAX_FUTURE_ORDER_TIME;
        if !reachable {
            tracing::warn!(
                secret = %entry.secret_name,
                not_before = %entry.order_time,
                "key is dated more than a day ahead; it decrypts but is not used to seal"
            );
        }
        let later = reachable
            && next
                .latest()
                .is_none_or(|l| entry.order_time > l.order_time);
        next.entries.push(Arc::new(entry));
        if later {
            next.latest = Some(next.entries.len() - 1);
        }
        Some(next)
    }
}

/// The registry shared by the reconciler, the HTTP server and the key tasks.
#[derive(Debug)]
pub struct KeyRegistry {
    set: RwLock<Arc<KeySet>>,
    /// Bumped when a key is registered after startup.
    changed: watch::Sender<u64>,
}

impl Default for KeyRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyRegistry {
    #[must_use]
    pub fn new() -> Self {
        Self {
            set: RwLock::new(Arc::new(KeySet::default())),
            changed: watch::channel(0).0,
        }
    }

    /// The current keys.
    #[must_use]
    pub fn snapshot(&self) -> Arc<KeySet> {
        self.set
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Registers a key; `false` if it was already known.
    pub fn register(&self, entry: KeyEntry) -> bool {
        let mut guard = self
            .set
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.with(entry) {
            Some(next) => {
                *guard = Arc::new(next);
                drop(guard);
                self.changed.send_modify(|v| *v += 1);
                true
            }
            None => false,
        }
    }

    /// A receiver that sees every registration.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests;
