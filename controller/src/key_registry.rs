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

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use sealed_secrets_core::cert::{CertParams, Certificate};
use sealed_secrets_core::key_secret::{self, ACTIVE, SEALED_SECRETS_KEY_LABEL};
use sealed_secrets_core::keys::{Fingerprint, PrivateKey};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

use crate::cli::KeyOrderPriority;
use crate::digest::DigestKey;
use crate::error::{api_error_text, is_not_found};
use crate::target_secret;

/// One registered key.
#[derive(Debug)]
pub struct KeyEntry {
    pub fingerprint: Fingerprint,
    pub key: PrivateKey,
    pub cert: Certificate,
    /// The time that orders keys: cert NotBefore, or the Secret's creation time.
    pub order_time: OffsetDateTime,
    /// HMAC key for digests signed with this key.
    pub digest_key: Option<DigestKey>,
    /// Name of the key Secret (for logs).
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
            key,
            cert,
            order_time,
            secret_name,
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

/// Why a key operation failed. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyManagerError {
    #[error("cannot list key Secrets in namespace {namespace:?}: {message}")]
    List { namespace: String, message: String },
    #[error("cannot generate a {bits}-bit key: {message}")]
    Generate { bits: usize, message: String },
    #[error("cannot write the new key Secret in namespace {namespace:?}: {message}")]
    Write { namespace: String, message: String },
}

/// Settings for key generation.
#[derive(Debug, Clone)]
pub struct KeyParams {
    pub namespace: String,
    pub prefix: String,
    pub bits: usize,
    pub ttl: Duration,
    pub common_name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub priority: KeyOrderPriority,
}

fn secret_creation_time(secret: &Secret) -> Option<OffsetDateTime> {
    let ts = secret.metadata.creation_timestamp.as_ref()?;
    OffsetDateTime::from_unix_timestamp(ts.0.as_second()).ok()
}

/// Reads a key Secret into an entry, ordering it by `priority`.
///
/// # Errors
/// The Secret does not hold a usable RSA key and certificate; the text names the Secret only.
pub fn entry_from_secret(secret: &Secret, priority: KeyOrderPriority) -> Result<KeyEntry, String> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let material =
        key_secret::key_from_secret(&target_secret::to_core(secret)).map_err(|e| e.to_string())?;
    let order_time = match priority {
        KeyOrderPriority::CertNotBefore => material.cert.not_before(),
        KeyOrderPriority::SecretCreationTimestamp => {
            secret_creation_time(secret).unwrap_or_else(|| material.cert.not_before())
        }
    };
    // Serving a certificate this controller cannot decrypt for would make every new seal
    // unreadable (or readable by whoever holds the certificate's real key): refused.
    if material.cert.public_key().fingerprint() != material.key.fingerprint() {
        return Err(format!(
            "key Secret {name:?}: its certificate does not match its private key"
        ));
    }
    Ok(KeyEntry::new(material.key, material.cert, order_time, name))
}

/// Key discovery, generation and renewal against the API.
pub struct KeyManager {
    client: Client,
    params: KeyParams,
    registry: Arc<KeyRegistry>,
}

impl KeyManager {
    #[must_use]
    pub fn new(client: Client, params: KeyParams, registry: Arc<KeyRegistry>) -> Self {
        Self {
            client,
            params,
            registry,
        }
    }

    fn api(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.params.namespace)
    }

    /// Loads every active key Secret plus the legacy one named `--key-prefix` (SPEC §3.4).
    /// Malformed ones are logged and skipped. Returns how many keys were registered.
    ///
    /// # Errors
    /// The list call failed.
    pub async fn load(&self) -> Result<usize, KeyManagerError> {
        let api = self.api();
        let selector = format!("{SEALED_SECRETS_KEY_LABEL}={ACTIVE}");
        let list = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| KeyManagerError::List {
                namespace: self.params.namespace.clone(),
                message: api_error_text(&e),
            })?;
        let mut secrets = list.items;
        match api.get(&self.params.prefix).await {
            Ok(legacy) => secrets.push(legacy),
            Err(e) if is_not_found(&e) => {}
            Err(e) => tracing::warn!(
                secret = %self.params.prefix,
                error = %api_error_text(&e),
                "cannot read the legacy key Secret"
            ),
        }
        secrets.sort_by_key(|s| secret_creation_time(s).map(OffsetDateTime::unix_timestamp));
        let mut registered = 0;
        for secret in &secrets {
            let name = secret.metadata.name.clone().unwrap_or_default();
            match entry_from_secret(secret, self.params.priority) {
                Ok(entry) => {
                    let fp = entry.fingerprint.to_string();
                    if self.registry.register(entry) {
                        registered += 1;
                        tracing::info!(secret = %name, fingerprint = %fp, "registered key");
                    }
                }
                Err(message) => tracing::error!(
                    secret = %name,
                    error = %message,
                    "skipping key Secret that cannot be read"
                ),
            }
        }
        Ok(registered)
    }

    /// Generates a key, writes its Secret (`generateName: <prefix>`) and registers it with
    /// ordering time now.
    ///
    /// # Errors
    /// Generation or the create call failed.
    pub async fn generate(&self) -> Result<Arc<KeyEntry>, KeyManagerError> {
        let bits = self.params.bits;
        let common_name = self.params.common_name.clone();
        let validity = time::Duration::try_from(self.params.ttl).unwrap_or(time::Duration::MAX);
        let now = OffsetDateTime::now_utc();
        let generated = tokio::task::spawn_blocking(move || {
            let key = PrivateKey::generate(bits).map_err(|e| e.to_string())?;
            let cert = Certificate::self_signed(
                &key,
                &CertParams {
                    common_name,
                    not_before: now,
                    validity,
                },
            )
            .map_err(|e| e.to_string())?;
            Ok::<_, String>((key, cert))
        })
        .await
        .map_err(|e| KeyManagerError::Generate {
            bits,
            message: e.to_string(),
        })?
        .map_err(|message| KeyManagerError::Generate { bits, message })?;
        let (key, cert) = generated;
        let core_secret = key_secret::new_key_secret(
            &key,
            &cert,
            &self.params.prefix,
            &self.params.labels,
            &self.params.annotations,
        )
        .map_err(|e| KeyManagerError::Generate {
            bits,
            message: e.to_string(),
        })?;
        let mut secret = target_secret::to_k8s(&core_secret);
        secret.metadata.namespace = Some(self.params.namespace.clone());
        let created = self
            .api()
            .create(&PostParams::default(), &secret)
            .await
            .map_err(|e| KeyManagerError::Write {
                namespace: self.params.namespace.clone(),
                message: api_error_text(&e),
            })?;
        let name = created.metadata.name.unwrap_or_default();
        tracing::info!(secret = %name, namespace = %self.params.namespace, "new key written");
        tracing::info!(certificate = %cert.to_pem(), "Certificate generated");
        let entry = KeyEntry::new(key, cert, OffsetDateTime::now_utc(), name);
        let fp = entry.fingerprint.clone();
        self.registry.register(entry);
        self.registry
            .snapshot()
            .by_fingerprint(fp.as_str())
            .cloned()
            .ok_or_else(|| KeyManagerError::Generate {
                bits,
                message: "the new key was not registered".to_owned(),
            })
    }

    /// Startup (SPEC §3.5): generates a key when there is none, or when the newest is older
    /// than `cutoff`.
    ///
    /// # Errors
    /// Generation failed.
    pub async fn ensure_initial_key(
        &self,
        cutoff: Option<OffsetDateTime>,
    ) -> Result<(), KeyManagerError> {
        let snapshot = self.registry.snapshot();
        let needs_key = match snapshot.latest() {
            None => {
                tracing::info!("no sealing key found, generating one");
                true
            }
            Some(latest) => match cutoff {
                Some(cutoff) if latest.order_time < cutoff => {
                    tracing::info!("newest key is older than --key-cutoff-time, generating one");
                    true
                }
                _ => false,
            },
        };
        if needs_key {
            self.generate().await?;
        }
        Ok(())
    }

    /// Runs the renewal schedule and manual triggers until the process ends (SPEC §3.5). With a
    /// zero `period` only triggers generate keys. A trigger does not move the schedule.
    pub async fn run_renewal(self: Arc<Self>, period: Duration, mut trigger: mpsc::Receiver<()>) {
        let first_delay = if period.is_zero() {
            None
        } else {
            let age = self
                .registry
                .snapshot()
                .latest()
                .map(|l| OffsetDateTime::now_utc() - l.order_time)
                .and_then(|d| Duration::try_from(d).ok())
                .unwrap_or_default();
            Some(period.saturating_sub(age))
        };
        let mut deadline = first_delay.map(|d| tokio::time::Instant::now() + d);
        if let Some(d) = first_delay {
            tracing::info!(in_seconds = d.as_secs(), "next key renewal scheduled");
        }
        loop {
            let scheduled = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = scheduled => {
                    deadline = deadline.map(|at| at + period);
                    self.generate_logged("scheduled renewal").await;
                }
                msg = trigger.recv() => {
                    if msg.is_none() {
                        return;
                    }
                    self.generate_logged("manual trigger").await;
                }
            }
        }
    }

    async fn generate_logged(&self, why: &str) {
        match self.generate().await {
            Ok(entry) => {
                tracing::info!(reason = why, secret = %entry.secret_name, "generated a new sealing key");
            }
            Err(e) => {
                tracing::error!(reason = why, error = %e, "cannot generate a new sealing key")
            }
        }
    }

    /// `--watch-for-secrets`: registers key Secrets as they are added (update and delete
    /// events are ignored, as upstream).
    pub async fn watch_keys(self: Arc<Self>) {
        let selector = format!("{SEALED_SECRETS_KEY_LABEL}={ACTIVE}");
        let stream = watcher(self.api(), watcher::Config::default().labels(&selector));
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(secret) | watcher::Event::InitApply(secret)) => {
                    let name = secret.metadata.name.clone().unwrap_or_default();
                    match entry_from_secret(&secret, self.params.priority) {
                        Ok(entry) => {
                            let fp = entry.fingerprint.to_string();
                            if self.registry.register(entry) {
                                tracing::info!(secret = %name, fingerprint = %fp, "registered key from watch");
                            }
                        }
                        Err(message) => tracing::error!(
                            secret = %name,
                            error = %message,
                            "skipping key Secret that cannot be read"
                        ),
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "key Secret watch failed, retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn entry(bits: usize, order: OffsetDateTime) -> KeyEntry {
        let key = PrivateKey::generate(bits).unwrap();
        let cert = Certificate::self_signed(
            &key,
            &CertParams {
                common_name: String::new(),
                not_before: order,
                validity: time::Duration::days(3650),
            },
        )
        .unwrap();
        KeyEntry::new(key, cert, order, "k".into())
    }

    #[test]
    fn latest_only_moves_forward_and_dedups() {
        let reg = KeyRegistry::new();
        let t1 = datetime!(2024-01-01 00:00 UTC);
        let t0 = datetime!(2023-01-01 00:00 UTC);
        let a = entry(2048, t1);
        let a_fp = a.fingerprint.clone();
        assert!(reg.register(a));
        // An older key does not become the latest.
        let b = entry(2048, t0);
        let b_fp = b.fingerprint.clone();
        assert!(reg.register(b));
        let snap = reg.snapshot();
        assert_eq!(snap.latest().unwrap().fingerprint, a_fp);
        assert_eq!(snap.len(), 2);
        // A tie does not replace the latest either.
        let c = entry(2048, t1);
        let c_fp = c.fingerprint.clone();
        reg.register(c);
        assert_eq!(reg.snapshot().latest().unwrap().fingerprint, a_fp);
        // Unseal order: latest, then newest first.
        let order: Vec<_> = reg
            .snapshot()
            .unseal_order()
            .iter()
            .map(|e| e.fingerprint.clone())
            .collect();
        assert_eq!(order, vec![a_fp.clone(), c_fp, b_fp]);
        // Re-registering the same key is a no-op.
        let snap = reg.snapshot();
        let dup = KeyEntry::new(
            snap.latest().unwrap().key.clone(),
            snap.latest().unwrap().cert.clone(),
            datetime!(2030-01-01 00:00 UTC),
            "dup".into(),
        );
        assert!(!reg.register(dup));
        assert_eq!(reg.snapshot().len(), 3);
        assert_eq!(reg.snapshot().latest().unwrap().fingerprint, a_fp);
        // A key dated far ahead is registered (it decrypts) but never becomes the latest.
        let future = entry(
            2048,
            OffsetDateTime::now_utc() + time::Duration::days(365 * 70),
        );
        let future_fp = future.fingerprint.clone();
        assert!(reg.register(future));
        assert_eq!(reg.snapshot().latest().unwrap().fingerprint, a_fp);
        assert!(reg.snapshot().by_fingerprint(future_fp.as_str()).is_some());
    }

    #[test]
    fn snapshots_are_stable() {
        let reg = KeyRegistry::new();
        let before = reg.snapshot();
        reg.register(entry(2048, datetime!(2024-01-01 00:00 UTC)));
        assert!(before.is_empty());
        assert_eq!(reg.snapshot().len(), 1);
        let rx = reg.subscribe();
        reg.register(entry(2048, datetime!(2025-01-01 00:00 UTC)));
        assert!(rx.has_changed().unwrap());
    }

    #[test]
    fn malformed_key_secret_is_an_error_not_a_crash() {
        let secret = Secret {
            metadata: kube::core::ObjectMeta {
                name: Some("bad".into()),
                ..Default::default()
            },
            data: Some(
                [
                    (
                        "tls.key".to_owned(),
                        k8s_openapi::ByteString(b"garbage".to_vec()),
                    ),
                    (
                        "tls.crt".to_owned(),
                        k8s_openapi::ByteString(b"garbage".to_vec()),
                    ),
                ]
                .into(),
            ),
            ..Secret::default()
        };
        let err = entry_from_secret(&secret, KeyOrderPriority::CertNotBefore).unwrap_err();
        assert!(err.contains("bad"), "{err}");
        let empty = Secret::default();
        assert!(entry_from_secret(&empty, KeyOrderPriority::CertNotBefore).is_err());
    }

    #[test]
    fn a_certificate_of_another_key_is_refused() {
        let key = PrivateKey::generate(2048).unwrap();
        let other = PrivateKey::generate(2048).unwrap();
        let now = OffsetDateTime::now_utc();
        let cert = Certificate::self_signed(&other, &CertParams::controller_default(now)).unwrap();
        let mut core = sealed_secrets_core::key_secret::new_key_secret(
            &key,
            &cert,
            "sealed-secrets-key",
            &BTreeMap::new(),
            &BTreeMap::new(),
        )
        .unwrap();
        core.metadata.name = "planted".into();
        let secret = target_secret::to_k8s(&core);
        let err = entry_from_secret(&secret, KeyOrderPriority::CertNotBefore).unwrap_err();
        assert_eq!(
            err,
            "key Secret \"planted\": its certificate does not match its private key"
        );
    }
}
