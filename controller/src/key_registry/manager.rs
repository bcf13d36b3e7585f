//! Key discovery at startup, generation, renewal on a schedule and on SIGUSR1, and live
//! registration with `--watch-for-secrets`, against the API server: the writer side of
//! [`KeyRegistry`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use sealed_secrets_core::cert::{CertParams, Certificate};
use sealed_secrets_core::key_secret::{self, ACTIVE, SEALED_SECRETS_KEY_LABEL};
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::wrapped_key;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::{KeyEntry, KeyProvider, KeyRegistry};
use crate::cli::{KeyOrderPriority, KmsMigration};
use crate::error::{api_error_text, is_not_found};
use crate::kms::{self, KeyWrapper};
use crate::pkcs11::provider::TokenProvider;
use crate::target_secret;

/// Why a key operation failed. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyManagerError {
    #[error("cannot list key Secrets in namespace {namespace:?}: {message}")]
    List { namespace: String, message: String },
    #[error("cannot generate a {bits}-bit key: {message}")]
    Generate { bits: usize, message: String },
    #[error("cannot write the new key Secret in namespace {namespace:?}: {message}")]
    Write { namespace: String, message: String },
    /// The PKCS#11 provider failed (one line, never the PIN).
    #[error("{message}")]
    Token { message: String },
    /// A wrapped key could not be unwrapped for a reason that is not the key's (the KMS is
    /// unreachable or refuses us, or no KMS is configured): start-up stops rather than
    /// generating a key the existing SealedSecrets were not sealed for.
    #[error("{message}")]
    Kms { message: String },
}

/// How many times [`KeyManager::retry_read`] asks the KMS again.
const RETRY_READS: u32 = 24;

/// Why one key Secret was not registered.
enum ReadError {
    /// This Secret is unusable (logged and skipped, as a malformed key Secret).
    Skip(String),
    /// Wrapped, and no KMS is configured (see [`KeyManagerError::Kms`]).
    NoKms(String),
    /// The KMS did not answer or refused us: worth asking again later.
    Unavailable(String),
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

/// The time that orders the key of `secret`.
fn order_time(secret: &Secret, cert: &Certificate, priority: KeyOrderPriority) -> OffsetDateTime {
    match priority {
        KeyOrderPriority::CertNotBefore => cert.not_before(),
        KeyOrderPriority::SecretCreationTimestamp => {
            secret_creation_time(secret).unwrap_or_else(|| cert.not_before())
        }
    }
}

/// Reads a key Secret into an entry, ordering it by `priority`.
///
/// # Errors
/// The Secret does not hold a usable RSA key and certificate; the text names the Secret only.
pub fn entry_from_secret(secret: &Secret, priority: KeyOrderPriority) -> Result<KeyEntry, String> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let material =
        key_secret::key_from_secret(&target_secret::to_core(secret)).map_err(|e| e.to_string())?;
    let order_time = order_time(secret, &material.cert, priority);
    check_matches(&name, &material.key, &material.cert)?;
    Ok(KeyEntry::new(material.key, material.cert, order_time, name))
}

/// Serving a certificate this controller cannot decrypt for would make every new seal
/// unreadable (or readable by whoever holds the certificate's real key): refused, for plain and
/// unwrapped keys alike.
fn check_matches(name: &str, key: &PrivateKey, cert: &Certificate) -> Result<(), String> {
    if cert.public_key().fingerprint() == key.fingerprint() {
        Ok(())
    } else {
        Err(format!(
            "key Secret {name:?}: its certificate does not match its private key"
        ))
    }
}

/// Key discovery, generation and renewal against the API.
pub struct KeyManager {
    client: Client,
    params: KeyParams,
    registry: Arc<KeyRegistry>,
    /// With `--pkcs11-module`, new keys are made in the token (ADR 0005 §4).
    token: Option<Arc<TokenProvider>>,
    /// With `--kms-provider`, key Secrets are wrapped by this KMS key (ADR 0008).
    kms: Option<Arc<dyn KeyWrapper>>,
    /// `--kms-migrate-keys`, applied by [`Self::load`].
    migrate: KmsMigration,
}

impl KeyManager {
    #[must_use]
    pub fn new(client: Client, params: KeyParams, registry: Arc<KeyRegistry>) -> Self {
        Self {
            client,
            params,
            registry,
            token: None,
            kms: None,
            migrate: KmsMigration::None,
        }
    }

    /// Key Secrets are wrapped by `kms`; [`Self::load`] converts existing ones as `migrate`
    /// says.
    #[must_use]
    pub fn with_kms(mut self, kms: Arc<dyn KeyWrapper>, migrate: KmsMigration) -> Self {
        self.kms = Some(kms);
        self.migrate = migrate;
        self
    }

    /// Keys generated from now on live in `token`.
    #[must_use]
    pub fn with_token(mut self, token: Arc<TokenProvider>) -> Self {
        self.token = Some(token);
        self
    }

    fn validity(&self) -> time::Duration {
        time::Duration::try_from(self.params.ttl).unwrap_or(time::Duration::MAX)
    }

    /// Registers the token's keys (each self-tested first). Returns how many were registered.
    ///
    /// # Errors
    /// [`KeyManagerError::Token`]: a key failed its self-test or a token call failed.
    pub async fn load_token(&self) -> Result<usize, KeyManagerError> {
        let Some(token) = self.token.clone() else {
            return Ok(0);
        };
        let common_name = self.params.common_name.clone();
        let validity = self.validity();
        let entries = tokio::task::spawn_blocking(move || token.load(&common_name, validity))
            .await
            .map_err(|e| KeyManagerError::Token {
                message: e.to_string(),
            })?
            .map_err(|e| KeyManagerError::Token {
                message: e.to_string(),
            })?;
        let mut registered = 0;
        for entry in entries {
            let (label, fp, provider) = (
                entry.secret_name.clone(),
                entry.fingerprint.to_string(),
                entry.provider.to_string(),
            );
            if self.registry.register(entry) {
                registered += 1;
                tracing::info!(key = %label, fingerprint = %fp, provider = %provider, "registered key");
            }
        }
        Ok(registered)
    }

    async fn generate_in_token(
        &self,
        token: Arc<TokenProvider>,
    ) -> Result<Arc<KeyEntry>, KeyManagerError> {
        let bits = self.params.bits;
        let common_name = self.params.common_name.clone();
        let validity = self.validity();
        let entry =
            tokio::task::spawn_blocking(move || token.generate(bits, &common_name, validity))
                .await
                .map_err(|e| KeyManagerError::Generate {
                    bits,
                    message: e.to_string(),
                })?
                .map_err(|e| KeyManagerError::Generate {
                    bits,
                    message: e.to_string(),
                })?;
        tracing::info!(key = %entry.secret_name, provider = %entry.provider, "new key generated in the token");
        tracing::info!(certificate = %entry.cert.to_pem(), "Certificate generated");
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
            match self.read(secret, true).await {
                Ok(entry) => {
                    let (fp, provider) =
                        (entry.fingerprint.to_string(), entry.provider.to_string());
                    if self.registry.register(entry) {
                        registered += 1;
                        tracing::info!(secret = %name, fingerprint = %fp, provider = %provider, "registered key");
                    }
                }
                Err(ReadError::Skip(message)) => tracing::error!(
                    secret = %name,
                    error = %message,
                    "skipping key Secret that cannot be read"
                ),
                Err(ReadError::NoKms(message) | ReadError::Unavailable(message)) => {
                    return Err(KeyManagerError::Kms { message });
                }
            }
        }
        Ok(registered)
    }

    /// Reads one key Secret, plain or wrapped (unwrapped through the KMS); with `migrate`,
    /// converts it as `--kms-migrate-keys` says.
    async fn read(&self, secret: &Secret, migrate: bool) -> Result<KeyEntry, ReadError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let core = target_secret::to_core(secret);
        let (key, cert, provider) = match wrapped_key::wrapped_from_secret(&core) {
            Err(e) => return Err(ReadError::Skip(format!("key Secret {name:?}: {e}"))),
            Ok(None) => {
                let material = key_secret::key_from_secret(&core)
                    .map_err(|e| ReadError::Skip(e.to_string()))?;
                (material.key, material.cert, KeyProvider::Secret)
            }
            Ok(Some((wrapped, cert))) => {
                let Some(kms) = &self.kms else {
                    return Err(ReadError::NoKms(format!(
                        "key Secret {name:?} is wrapped by KMS key {:?} ({}): start the controller with --kms-provider and --kms-key-id (docs/keys.md)",
                        wrapped.key_id, wrapped.provider
                    )));
                };
                match kms::unwrap(kms.as_ref(), &wrapped, &cert).await {
                    Ok(key) => {
                        let key_id = wrapped.key_id.clone();
                        (key, cert, KeyProvider::Kms { key_id })
                    }
                    Err(e) if e.is_unavailable() => {
                        return Err(ReadError::Unavailable(format!("key Secret {name:?}: {e}")));
                    }
                    Err(e) => return Err(ReadError::Skip(format!("key Secret {name:?}: {e}"))),
                }
            }
        };
        check_matches(&name, &key, &cert).map_err(ReadError::Skip)?;
        let provider = if migrate {
            self.migrate(secret, &key, provider).await?
        } else {
            provider
        };
        let order_time = order_time(secret, &cert, self.params.priority);
        let mut entry = KeyEntry::new(key, cert, order_time, name);
        entry.provider = provider;
        Ok(entry)
    }

    /// `--kms-migrate-keys`: rewrites `secret` in place (same name, labels and creation time,
    /// so key order is kept; the resourceVersion guards against a concurrent writer). Returns
    /// where the key lives afterwards.
    async fn migrate(
        &self,
        secret: &Secret,
        key: &PrivateKey,
        provider: KeyProvider,
    ) -> Result<KeyProvider, ReadError> {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let mut core = target_secret::to_core(secret);
        let (after, what) = match (&self.kms, self.migrate, &provider) {
            (Some(kms), KmsMigration::Wrap, KeyProvider::Secret) => {
                let wrapped = kms::wrap(kms.as_ref(), key).await.map_err(|e| {
                    ReadError::Unavailable(format!("wrapping key Secret {name:?}: {e}"))
                })?;
                wrapped_key::wrap_secret(&mut core, &wrapped);
                (
                    KeyProvider::Kms {
                        key_id: wrapped.key_id,
                    },
                    "wrapped",
                )
            }
            (Some(_), KmsMigration::Unwrap, KeyProvider::Kms { .. }) => {
                wrapped_key::unwrap_secret(&mut core, key)
                    .map_err(|e| ReadError::Skip(format!("key Secret {name:?}: {e}")))?;
                (KeyProvider::Secret, "unwrapped")
            }
            _ => return Ok(provider),
        };
        let converted = target_secret::to_k8s(&core);
        let mut next = secret.clone();
        next.data = converted.data;
        next.metadata.annotations = converted.metadata.annotations;
        match self
            .api()
            .replace(&name, &PostParams::default(), &next)
            .await
        {
            Ok(_) => {
                tracing::info!(secret = %name, provider = %after, "key Secret {what} (--kms-migrate-keys)");
                Ok(after)
            }
            // Another replica rewrote it first (same flags): nothing is lost.
            Err(e) if crate::error::is_conflict(&e) => {
                tracing::info!(secret = %name, "key Secret changed meanwhile (another replica migrating it); left to it");
                Ok(provider)
            }
            Err(e) => {
                tracing::error!(secret = %name, error = %api_error_text(&e), "cannot rewrite the key Secret (--kms-migrate-keys); it is left as it was");
                Ok(provider)
            }
        }
    }

    /// Generates a key, writes its Secret (`generateName: <prefix>`) and registers it with
    /// ordering time now.
    ///
    /// # Errors
    /// Generation or the create call failed.
    pub async fn generate(&self) -> Result<Arc<KeyEntry>, KeyManagerError> {
        if let Some(token) = self.token.clone() {
            return self.generate_in_token(token).await;
        }
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
        let mut core_secret = key_secret::new_key_secret(
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
        let mut provider = KeyProvider::Secret;
        if let Some(kms) = &self.kms {
            let wrapped =
                kms::wrap(kms.as_ref(), &key)
                    .await
                    .map_err(|e| KeyManagerError::Generate {
                        bits,
                        message: format!("cannot wrap the new key: {e}"),
                    })?;
            wrapped_key::wrap_secret(&mut core_secret, &wrapped);
            provider = KeyProvider::Kms {
                key_id: wrapped.key_id,
            };
        }
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
        tracing::info!(secret = %name, namespace = %self.params.namespace, provider = %provider, "new key written");
        tracing::info!(certificate = %cert.to_pem(), "Certificate generated");
        let mut entry = KeyEntry::new(key, cert, OffsetDateTime::now_utc(), name);
        entry.provider = provider;
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
            // With a token, the key that seals lives in it (key Secrets still decrypt).
            Some(latest) if self.token.is_some() && latest.provider == KeyProvider::Secret => {
                tracing::info!("no sealing key in the PKCS#11 token, generating one there");
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

    /// Reads a key Secret the KMS could not unwrap, again, with back-off (5 s doubling to a
    /// minute, for about 20 minutes); registers it when it opens.
    async fn retry_read(self: Arc<Self>, secret: Secret) {
        let name = secret.metadata.name.clone().unwrap_or_default();
        let mut delay = Duration::from_secs(5);
        for _ in 0..RETRY_READS {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(60));
            if self.known(&secret) {
                return;
            }
            match self.read(&secret, false).await {
                Ok(entry) => {
                    let fp = entry.fingerprint.to_string();
                    if self.registry.register(entry) {
                        tracing::info!(secret = %name, fingerprint = %fp, "registered key from watch (after a retry)");
                    }
                    return;
                }
                Err(ReadError::Unavailable(_)) => {}
                Err(ReadError::Skip(message) | ReadError::NoKms(message)) => {
                    tracing::error!(secret = %name, error = %message, "skipping key Secret that cannot be read");
                    return;
                }
            }
        }
        tracing::error!(secret = %name, "gave up unwrapping the key Secret; a restart reads it again");
    }

    /// A wrapped key Secret whose certificate's key is registered already.
    fn known(&self, secret: &Secret) -> bool {
        let core = target_secret::to_core(secret);
        matches!(
            wrapped_key::wrapped_from_secret(&core),
            Ok(Some((_, cert))) if self
                .registry
                .snapshot()
                .by_fingerprint(cert.public_key().fingerprint().as_str())
                .is_some()
        )
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
                    // Keys this controller knows are not unwrapped again (a KMS call each).
                    if self.known(&secret) {
                        continue;
                    }
                    match self.read(&secret, false).await {
                        Ok(entry) => {
                            let fp = entry.fingerprint.to_string();
                            if self.registry.register(entry) {
                                tracing::info!(secret = %name, fingerprint = %fp, "registered key from watch");
                            }
                        }
                        // A follower must not miss the leader's new key for a KMS blip: the
                        // watch reports a Secret once, so it is asked again here.
                        Err(ReadError::Unavailable(message)) => {
                            tracing::warn!(secret = %name, error = %message, "cannot unwrap the key Secret now; retrying");
                            tokio::spawn(Arc::clone(&self).retry_read(secret));
                        }
                        Err(ReadError::Skip(message) | ReadError::NoKms(message)) => {
                            tracing::error!(
                                secret = %name,
                                error = %message,
                                "skipping key Secret that cannot be read"
                            );
                        }
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
