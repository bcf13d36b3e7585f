//! Reconciling SealedSecrets into Secrets (SPEC §3.3, §3.6–§3.9): the reconciler, its error
//! policy, deletion handling, and the watch wiring per watched namespace.
//!
//! One reconcile: skip if the Secret already carries a digest proving it is current (no RSA, no
//! write), else unseal, read the Secret, apply the ownership gate, merge, write if different,
//! record events, and update the `Synced` condition. The reconciler talks to the cluster through
//! [`Cluster`] so that its decisions are unit-tested against a fake.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Client, Resource as _};
use sealed_secrets_core::seal::ItemErrorKind;
use sealed_secrets_core::types::SealedSecret;
use time::OffsetDateTime;
use tracing::Instrument as _;

use crate::digest::{self, DigestInput};
use crate::error::{
    ReconcileError, RetryPolicy, api_error_text, is_conflict, is_not_found, is_transient,
};
use crate::events::{
    EventType, MESSAGE_UNSEALED, REASON_UNSEAL_FAILED, REASON_UNSEALED, REASON_UPDATE_FAILED,
    Recorder,
};
use crate::key_registry::{KeyRegistry, KeySet};
use crate::metrics::{ErrorReason, Metrics};
use crate::resource::SealedSecretObject;
use crate::status::next_status;
use crate::target_secret::{self, IMMUTABLE_ERROR_SUFFIX};
use crate::unseal::{UnsealTaskError, Unsealer};
use crate::value_errors;
#[cfg(test)]
use crate::value_errors::VALUE_ERRORS_ANNOTATION;

/// The cluster operations a reconcile needs.
pub trait Cluster: Send + Sync + 'static {
    /// The Secret from the watch cache, if there is one.
    fn cached_secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>>;
    /// GET a Secret from the API; `None` when it does not exist.
    fn get_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<Secret>, kube::Error>> + Send;
    fn create_secret(
        &self,
        namespace: &str,
        secret: &Secret,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    fn replace_secret(
        &self,
        namespace: &str,
        name: &str,
        secret: &Secret,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    fn delete_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// GET a SealedSecret from the API (to retry a conflicting status write).
    fn get_sealed_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<SealedSecretObject>, kube::Error>> + Send;
    /// PUT the status subresource.
    fn replace_status(
        &self,
        namespace: &str,
        name: &str,
        object: &SealedSecretObject,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Records an event about `ss`.
    fn publish(
        &self,
        ss: &SealedSecretObject,
        type_: EventType,
        reason: &'static str,
        message: String,
    ) -> impl Future<Output = ()> + Send;
}

/// Reconcile behaviour from the flags.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)]
pub struct ReconcileConfig {
    pub accept_v1_data: bool,
    pub update_status: bool,
    pub old_gc_behavior: bool,
    pub skip_unchanged: bool,
    pub max_unseal_retries: u32,
}

/// Shared state of one namespace-controller.
pub struct Context<C> {
    pub cluster: C,
    pub keys: Arc<KeyRegistry>,
    pub metrics: Metrics,
    pub unsealer: Unsealer,
    pub config: ReconcileConfig,
    retries: Mutex<HashMap<String, u32>>,
}

impl<C: Cluster> Context<C> {
    #[must_use]
    pub fn new(
        cluster: C,
        keys: Arc<KeyRegistry>,
        metrics: Metrics,
        unsealer: Unsealer,
        config: ReconcileConfig,
    ) -> Self {
        Self {
            cluster,
            keys,
            metrics,
            unsealer,
            config,
            retries: Mutex::new(HashMap::new()),
        }
    }

    fn retries(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.retries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a successful reconcile did to the Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Created or updated.
    Written,
    /// Already up to date, found by unsealing and comparing.
    Unchanged,
    /// Already up to date, proven by its digest: nothing was decrypted.
    Skipped,
}

fn names(obj: &SealedSecretObject) -> (String, String) {
    (
        obj.metadata.namespace.clone().unwrap_or_default(),
        obj.metadata.name.clone().unwrap_or_default(),
    )
}

fn digest_matches(keys: &KeySet, ss: &SealedSecret, accept_v1: bool, secret: &Secret) -> bool {
    digest::verify(ss, accept_v1, secret, |fp| {
        keys.by_fingerprint(fp).and_then(|e| e.digest_key.as_ref())
    })
}

fn stamp_digest(
    keys: &KeySet,
    ss: &SealedSecret,
    accept_v1: bool,
    keys_used: &[String],
    secret: &mut Secret,
) {
    let signing = keys_used
        .first()
        .and_then(|fp| keys.by_fingerprint(fp))
        .or_else(|| keys.latest());
    let Some(signing) = signing else { return };
    let Some(digest_key) = signing.digest_key.as_ref() else {
        return;
    };
    let input = DigestInput {
        sealed: ss,
        accept_v1_data: accept_v1,
        keys_used,
    };
    digest::stamp(digest_key, signing.fingerprint.as_str(), &input, secret);
}

/// Steps 5–10 of SPEC §3.6: everything except the status update.
async fn apply<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
) -> Result<Outcome, ReconcileError> {
    let (namespace, name) = names(obj);
    let ss = obj.to_core();
    let accept_v1 = ctx.config.accept_v1_data;
    let keys = ctx.keys.snapshot();
    let object = format!("{namespace}/{name}");
    let dependents = &ctx.metrics.key_dependents;
    dependents.observe_keys(keys.unseal_order().iter().map(|e| e.fingerprint.as_str()));

    if ctx.config.skip_unchanged
        && let Some(cached) = ctx.cluster.cached_secret(&namespace, &name)
        && digest_matches(&keys, &ss, accept_v1, &cached)
    {
        ctx.metrics.unseal_skipped.inc();
        dependents.record(&object, &digest::recorded_keys(&cached));
        return Ok(Outcome::Skipped);
    }

    // Upstream unseals before reading the Secret, so an undecryptable SealedSecret reports
    // ErrUnsealFailed even when its Secret is not ours; the digest check above needs no read.
    let existing = match ctx.cluster.get_secret(&namespace, &name).await {
        Ok(existing) => existing,
        Err(e) => return Err(update_failed(obj, ctx, &namespace, &name, &e).await),
    };
    if ctx.config.skip_unchanged
        && let Some(existing) = &existing
        && digest_matches(&keys, &ss, accept_v1, existing)
    {
        ctx.metrics.unseal_skipped.inc();
        dependents.record(&object, &digest::recorded_keys(existing));
        return Ok(Outcome::Skipped);
    }

    // The keys that opened it last time (the record in our digest) are tried first: about one
    // RSA operation per item instead of up to one per registered key.
    let recorded = existing
        .as_ref()
        .map(digest::recorded_keys)
        .unwrap_or_default();
    let outcome = match ctx
        .unsealer
        .unseal_preferring(Arc::clone(&keys), ss.clone(), recorded)
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => {
            if matches!(e, UnsealTaskError::Unseal(_)) {
                dependents.forget(&object);
            }
            let text = match &e {
                UnsealTaskError::Unseal(inner) => inner.to_string(),
                UnsealTaskError::Task(_) => e.to_string(),
            };
            // Why no key opened it (addition): the first such item, a few extra decryptions.
            let first_unopened = match &e {
                UnsealTaskError::Unseal(inner) => inner
                    .items()
                    .iter()
                    .find(|i| i.kind == ItemErrorKind::NoKey)
                    .map(|i| i.item.clone()),
                UnsealTaskError::Task(_) => None,
            };
            let diagnosis = match first_unopened {
                Some(item) => ctx
                    .unsealer
                    .diagnose(Arc::clone(&keys), ss.clone(), item.clone())
                    .await
                    .map(|d| (item, d)),
                None => None,
            };
            let mut message = format!("Failed to unseal: {text}");
            if let Some((item, diagnosis)) = &diagnosis {
                message.push_str(&format!("{DIAGNOSIS_SEPARATOR}{item}: {diagnosis}"));
            }
            ctx.cluster
                .publish(obj, EventType::Warning, REASON_UNSEAL_FAILED, message)
                .await;
            ctx.metrics.unseal_error(ErrorReason::Unseal, &namespace);
            return Err(match e {
                UnsealTaskError::Unseal(_) => ReconcileError::Unseal(
                    text,
                    diagnosis.map(|(_, d)| d.reason()).unwrap_or_default(),
                ),
                UnsealTaskError::Task(_) => ReconcileError::Internal(text),
            });
        }
    };
    match &outcome.keys_used {
        Some(used) => dependents.record(&object, used),
        // A legacy `spec.data` object: the core does not say which key opened it.
        None => dependents.forget(&object),
    }
    let mut desired = target_secret::to_k8s(&outcome.unsealed.secret);
    desired.metadata.namespace = Some(namespace.clone());
    // Values that failed in a way a plaintext may have decided are reported only on the
    // Secret; from here on the pass looks like any other (value_errors.rs).
    let failures = &outcome.unsealed.value_failures;
    let stamp = |secret: &mut Secret| {
        if ctx.config.skip_unchanged
            && let Some(used) = &outcome.keys_used
        {
            stamp_digest(&keys, &ss, accept_v1, used, secret);
        }
    };

    // A 409 means someone wrote the Secret between our read and our write (a stale
    // resourceVersion, or AlreadyExists on create): read it again and redo the gate and the
    // merge, as client-go's RetryOnConflict, before reporting anything.
    let mut existing = existing;
    let mut attempt = 0;
    loop {
        let written = match &existing {
            None => {
                let mut desired = desired.clone();
                value_errors::fill(&mut desired, None, failures);
                stamp(&mut desired);
                ctx.cluster.create_secret(&namespace, &desired).await
            }
            Some(existing) => {
                let uid = obj.metadata.uid.clone().unwrap_or_default();
                if !target_secret::may_update(existing, &uid) {
                    let message = target_secret::unmanaged_message(&name);
                    ctx.cluster
                        .publish(
                            obj,
                            EventType::Warning,
                            REASON_UPDATE_FAILED,
                            message.clone(),
                        )
                        .await;
                    ctx.metrics.unseal_error(ErrorReason::Unmanaged, &namespace);
                    return Err(ReconcileError::Unmanaged(message));
                }
                let mut wanted = desired.clone();
                value_errors::fill(&mut wanted, Some(existing), failures);
                let mut candidate = target_secret::merge(existing, &wanted);
                value_errors::keep_immutable_data(&mut candidate, existing);
                stamp(&mut candidate);
                if !target_secret::needs_update(existing, &candidate) {
                    return Ok(Outcome::Unchanged);
                }
                ctx.cluster
                    .replace_secret(&namespace, &name, &candidate)
                    .await
            }
        };
        match written {
            Ok(()) => return Ok(Outcome::Written),
            Err(e) if is_conflict(&e) && attempt < CONFLICT_RETRIES => {
                attempt += 1;
                tracing::debug!(attempt, "conflict writing the Secret; reading it again");
                existing = match ctx.cluster.get_secret(&namespace, &name).await {
                    Ok(fresh) => fresh,
                    Err(e) => return Err(update_failed(obj, ctx, &namespace, &name, &e).await),
                };
            }
            Err(e) => return Err(update_failed(obj, ctx, &namespace, &name, &e).await),
        }
    }
}

/// How many times a write that hit a 409 is redone on a fresh read within one reconcile.
const CONFLICT_RETRIES: u32 = 3;

/// Reports a failed Secret read/create/update: event, metric and error.
async fn update_failed<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    namespace: &str,
    name: &str,
    err: &kube::Error,
) -> ReconcileError {
    let text = api_error_text(err);
    let immutable = text.ends_with(IMMUTABLE_ERROR_SUFFIX);
    let message = if immutable {
        target_secret::immutable_message(namespace, name)
    } else {
        text.clone()
    };
    ctx.cluster
        .publish(obj, EventType::Warning, REASON_UPDATE_FAILED, message)
        .await;
    ctx.metrics.unseal_error(ErrorReason::Update, namespace);
    if immutable {
        ReconcileError::Immutable(text)
    } else if is_transient(err) {
        ReconcileError::Unavailable(text)
    } else {
        ReconcileError::SecretApi(text)
    }
}

/// Writes the `Synced` condition when needed (SPEC §3.8); returns whether its status flipped,
/// and whether the write failed (the API server or etcd unavailable).
async fn update_status<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    result: Result<(), (&str, &str)>,
) -> (bool, bool) {
    let (namespace, name) = names(obj);
    let instance = obj.instance_label();
    let generation = obj.metadata.generation.unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    let next = next_status(obj.status.as_ref(), generation, result, now);
    let condition_status = if result.is_ok() { "True" } else { "False" };
    if !ctx.config.update_status {
        ctx.metrics
            .observe_condition(&namespace, &name, &instance, condition_status);
        return (next.transitioned, false);
    }
    if !next.write {
        ctx.metrics
            .observe_condition(&namespace, &name, &instance, condition_status);
        return (false, false);
    }
    let mut updated = obj.clone();
    updated.status = Some(next.status);
    let mut written = ctx
        .cluster
        .replace_status(&namespace, &name, &with_type(updated))
        .await;
    if let Err(e) = &written
        && is_conflict(e)
    {
        {
            // The cached object was stale; recompute on the current one and try once more.
            written = match ctx.cluster.get_sealed_secret(&namespace, &name).await {
                Ok(Some(fresh)) if fresh.metadata.uid == obj.metadata.uid => {
                    let generation = fresh.metadata.generation.unwrap_or_default();
                    let next = next_status(fresh.status.as_ref(), generation, result, now);
                    if next.write {
                        let mut fresh = fresh;
                        fresh.status = Some(next.status);
                        ctx.cluster
                            .replace_status(&namespace, &name, &with_type(fresh))
                            .await
                    } else {
                        Ok(())
                    }
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
        }
    }
    match written {
        Ok(()) => ctx
            .metrics
            .observe_condition(&namespace, &name, &instance, condition_status),
        Err(e) if is_not_found(&e) => {}
        Err(e) => {
            tracing::error!(error = %api_error_text(&e), "error updating SealedSecret status");
            ctx.metrics.unseal_error(ErrorReason::Status, &namespace);
            return (next.transitioned, true);
        }
    }
    (next.transitioned, false)
}

fn with_type(mut obj: SealedSecretObject) -> SealedSecretObject {
    obj.api_version = SealedSecretObject::api_version(&()).into_owned();
    obj.kind = SealedSecretObject::kind(&()).into_owned();
    obj
}

/// Separates upstream's unseal error from our diagnosis in `ErrUnsealFailed` events.
pub const DIAGNOSIS_SEPARATOR: &str = "; diagnosis: ";

/// The reconciler.
///
/// # Errors
/// See [`ReconcileError`]; the status and events have already been written when it returns.
pub async fn reconcile<C: Cluster>(
    obj: Arc<SealedSecretObject>,
    ctx: Arc<Context<C>>,
) -> Result<Action, ReconcileError> {
    let key = obj.key();
    let span = tracing::info_span!("reconcile", sealed_secret = %key);
    async move {
        let started = tokio::time::Instant::now();
        ctx.metrics.unseal_requests.inc();
        tracing::debug!("reconciling");
        let outcome = apply(&obj, &ctx).await;
        // How long templates ran may depend on a plaintext: a SealedSecret with templates
        // reports (status, event) no sooner than REPORT_DELAY after the reconcile began, and
        // templates stop well before that (UnsealOptions::template_time).
        if !obj.spec.template.data.is_empty() && !matches!(outcome, Ok(Outcome::Skipped)) {
            tokio::time::sleep_until(started + REPORT_DELAY).await;
        }
        let status_input = outcome
            .as_ref()
            .map(|_| ())
            .map_err(|e| (e.to_string(), e.condition_reason()));
        let (transitioned, status_failed) = update_status(
            &obj,
            &ctx,
            status_input
                .as_ref()
                .copied()
                .map_err(|(m, r)| (m.as_str(), *r)),
        )
        .await;
        match outcome {
            Ok(outcome) => {
                ctx.retries().remove(&key);
                // Upstream emits `Unsealed` on every pass; we emit it when the SealedSecret
                // was unsealed (not skipped by its digest) or just became Synced. Whether the
                // Secret then needed a write is not told: it can depend on a plaintext.
                if outcome != Outcome::Skipped || transitioned {
                    ctx.cluster
                        .publish(
                            &obj,
                            EventType::Normal,
                            REASON_UNSEALED,
                            MESSAGE_UNSEALED.to_owned(),
                        )
                        .await;
                }
                let unsealed = outcome != Outcome::Skipped;
                tracing::debug!(unsealed, "reconciled");
                // A status write that failed (etcd restarting, say) is redone: the next pass
                // finds the Secret current by its digest and only writes the status.
                Ok(if status_failed {
                    Action::requeue(STATUS_RETRY_DELAY)
                } else {
                    Action::await_change()
                })
            }
            Err(e) => Err(e),
        }
    }
    .instrument(span)
    .await
}

/// The earliest a SealedSecret with templates reports the outcome of an unseal, counted from
/// the start of its reconcile: longer than templates may run (`TEMPLATE_TIME`) plus the
/// Secret write, so that the moment of the report does not depend on what the templates did.
pub const REPORT_DELAY: Duration = Duration::from_millis(1500);

/// How long the templates of one SealedSecret may run, all together.
pub const TEMPLATE_TIME: Duration = Duration::from_millis(500);

/// The longest wait between retries while the API server is unavailable.
pub const UNAVAILABLE_MAX_DELAY: Duration = Duration::from_secs(60);

/// When a reconcile whose status write failed is redone.
const STATUS_RETRY_DELAY: Duration = Duration::from_secs(2);

/// Back-off of the n-th retry (client-go's per-item limiter: 5 ms doubling, capped at 1000 s).
#[must_use]
pub fn retry_delay(attempt: u32) -> Duration {
    let factor = 2u64.saturating_pow(attempt.saturating_sub(1));
    Duration::from_millis(5u64.saturating_mul(factor)).min(Duration::from_secs(1000))
}

/// Counts one more failed attempt for `key`; returns the count.
fn next_attempt<C: Cluster>(ctx: &Context<C>, key: &str) -> u32 {
    let mut retries = ctx.retries();
    let n = retries.entry(key.to_owned()).or_insert(0);
    *n = n.saturating_add(1);
    *n
}

/// The error policy: transient errors are retried with back-off up to `--max-unseal-retries`
/// times, the rest wait for a change.
pub fn error_policy<C: Cluster>(
    obj: Arc<SealedSecretObject>,
    err: &ReconcileError,
    ctx: Arc<Context<C>>,
) -> Action {
    let key = obj.key();
    match err.retry_policy() {
        RetryPolicy::AwaitChange => {
            ctx.retries().remove(&key);
            tracing::error!(sealed_secret = %key, error = %err, "cannot unseal, waiting for a change");
            Action::await_change()
        }
        RetryPolicy::Backoff => {
            let attempt = next_attempt(&ctx, &key);
            if attempt > ctx.config.max_unseal_retries {
                ctx.retries().remove(&key);
                tracing::error!(sealed_secret = %key, error = %err, "error updating, giving up");
                Action::await_change()
            } else {
                tracing::error!(sealed_secret = %key, error = %err, attempt, "error updating, will retry");
                Action::requeue(retry_delay(attempt))
            }
        }
        RetryPolicy::UntilAvailable => {
            let attempt = next_attempt(&ctx, &key);
            tracing::warn!(sealed_secret = %key, error = %err, attempt, "API server unavailable, will retry");
            Action::requeue(retry_delay(attempt).min(UNAVAILABLE_MAX_DELAY))
        }
    }
}

/// A SealedSecret disappeared (SPEC §3.6 step 2, §3.3 delete handler).
pub async fn handle_deleted<C: Cluster>(obj: &SealedSecretObject, ctx: &Context<C>) {
    let (namespace, name) = names(obj);
    ctx.metrics.unseal_requests.inc();
    ctx.metrics
        .forget_condition(&namespace, &name, &obj.instance_label());
    ctx.metrics
        .key_dependents
        .forget(&format!("{namespace}/{name}"));
    ctx.retries().remove(&obj.key());
    if ctx.config.old_gc_behavior {
        tracing::info!(sealed_secret = %obj.key(), "SealedSecret has gone, deleting Secret");
        match ctx.cluster.delete_secret(&namespace, &name).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => tracing::error!(
                sealed_secret = %obj.key(),
                error = %api_error_text(&e),
                "cannot delete the Secret of a deleted SealedSecret"
            ),
        }
    }
}

/// [`Cluster`] over the real API, with the Secret watch cache when there is one.
pub struct KubeCluster {
    client: Client,
    secrets: Option<Store<Secret>>,
    recorder: Arc<Recorder>,
}

impl KubeCluster {
    #[must_use]
    pub fn new(client: Client, secrets: Option<Store<Secret>>, recorder: Arc<Recorder>) -> Self {
        Self {
            client,
            secrets,
            recorder,
        }
    }

    fn secrets_api(&self, namespace: &str) -> Api<Secret> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn ss_api(&self, namespace: &str) -> Api<SealedSecretObject> {
        Api::namespaced(self.client.clone(), namespace)
    }
}

impl Cluster for KubeCluster {
    fn cached_secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
        self.secrets
            .as_ref()?
            .get(&ObjectRef::new(name).within(namespace))
    }

    async fn get_secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, kube::Error> {
        self.secrets_api(namespace).get_opt(name).await
    }

    async fn create_secret(&self, namespace: &str, secret: &Secret) -> Result<(), kube::Error> {
        self.secrets_api(namespace)
            .create(&PostParams::default(), secret)
            .await
            .map(|_| ())
    }

    async fn replace_secret(
        &self,
        namespace: &str,
        name: &str,
        secret: &Secret,
    ) -> Result<(), kube::Error> {
        self.secrets_api(namespace)
            .replace(name, &PostParams::default(), secret)
            .await
            .map(|_| ())
    }

    async fn delete_secret(&self, namespace: &str, name: &str) -> Result<(), kube::Error> {
        self.secrets_api(namespace)
            .delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
    }

    async fn get_sealed_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<SealedSecretObject>, kube::Error> {
        self.ss_api(namespace).get_opt(name).await
    }

    async fn replace_status(
        &self,
        namespace: &str,
        name: &str,
        object: &SealedSecretObject,
    ) -> Result<(), kube::Error> {
        self.ss_api(namespace)
            .replace_status(name, &PostParams::default(), object)
            .await
            .map(|_| ())
    }

    async fn publish(
        &self,
        ss: &SealedSecretObject,
        type_: EventType,
        reason: &'static str,
        message: String,
    ) {
        self.recorder.publish(ss, type_, reason, message).await;
    }
}

/// Set once every watch cache of every namespace-controller has synced (`/healthz`).
#[derive(Debug, Default)]
pub struct Readiness {
    pending: std::sync::atomic::AtomicUsize,
    started: std::sync::atomic::AtomicBool,
}

impl Readiness {
    /// Registers one more cache to wait for.
    pub fn add(&self) {
        self.pending
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.started
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// One cache synced.
    pub fn done(&self) {
        self.pending
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether every registered cache synced.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.started.load(std::sync::atomic::Ordering::SeqCst)
            && self.pending.load(std::sync::atomic::Ordering::SeqCst) == 0
    }
}

/// The two watch caches of one namespace-controller.
#[derive(Debug, Clone, Copy)]
enum CacheKind {
    SealedSecrets,
    Secrets,
}

/// Tracks the first full listing of each cache of one namespace-controller, and counts the
/// listings after it (relists).
#[derive(Debug)]
struct CacheSync {
    readiness: Arc<Readiness>,
    sealed_secrets: std::sync::atomic::AtomicBool,
    secrets: std::sync::atomic::AtomicBool,
    reported: std::sync::atomic::AtomicBool,
    relists: tokio::sync::watch::Sender<u64>,
}

impl CacheSync {
    fn new(readiness: Arc<Readiness>, watch_secrets: bool) -> Self {
        Self {
            readiness,
            sealed_secrets: std::sync::atomic::AtomicBool::new(false),
            secrets: std::sync::atomic::AtomicBool::new(!watch_secrets),
            reported: std::sync::atomic::AtomicBool::new(false),
            relists: tokio::sync::watch::channel(0).0,
        }
    }

    fn mark(&self, kind: CacheKind) {
        use std::sync::atomic::Ordering::SeqCst;
        let relisted = match kind {
            CacheKind::SealedSecrets => self.sealed_secrets.swap(true, SeqCst),
            CacheKind::Secrets => self.secrets.swap(true, SeqCst),
        };
        if relisted {
            tracing::info!(cache = ?kind, "relisted; reconciling every SealedSecret again");
            self.relists.send_modify(|n| *n += 1);
        }
        if self.sealed_secrets.load(SeqCst)
            && self.secrets.load(SeqCst)
            && !self.reported.swap(true, SeqCst)
        {
            self.readiness.done();
            tracing::info!("caches synced");
        }
    }
}

/// What a namespace-controller watches.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// `None` for all namespaces.
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    /// Watch Secrets (cache + recreation on delete); false with `--skip-recreate`.
    pub watch_secrets: bool,
    pub concurrency: u16,
}

fn scoped<K>(client: Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

/// The parts shared by every namespace-controller.
pub struct Shared {
    pub client: Client,
    pub keys: Arc<KeyRegistry>,
    pub metrics: Metrics,
    pub unsealer: Unsealer,
    pub recorder: Arc<Recorder>,
    pub config: ReconcileConfig,
    pub readiness: Arc<Readiness>,
}

/// Hash of what should trigger a reconcile: generation (spec), labels and annotations (scope
/// annotations change the unsealed result; the instance label is a metric label). Status-only
/// updates are ignored, as upstream; metadata changes are not (SPEC §7.11).
fn reconcile_trigger_hash(obj: &SealedSecretObject) -> Option<u64> {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.metadata.generation.hash(&mut h);
    obj.metadata.labels.hash(&mut h);
    obj.metadata.annotations.hash(&mut h);
    Some(h.finish())
}

/// What the Secret watch cache keeps of a Secret: its metadata without `managedFields`, and its
/// data only when it carries our digest (the only use of cached data is the digest check; any
/// other Secret is read from the API server when it matters). Unrelated Secrets in a watched
/// namespace (Helm releases, tokens, TLS) then cost a few hundred bytes each, not their size.
fn slim_secret(secret: &mut Secret) {
    secret.metadata.managed_fields = None;
    let ours = secret
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(digest::DIGEST_ANNOTATION));
    if !ours {
        secret.data = None;
        secret.string_data = None;
    }
}

/// What the SealedSecret watch cache keeps: everything but `managedFields` and `kubectl
/// apply`'s copy of the whole object. Status writes go to the status subresource, where the API
/// server takes the metadata from the stored object, so neither is written back.
fn slim_sealed_secret(obj: &mut SealedSecretObject) {
    obj.metadata.managed_fields = None;
    if let Some(annotations) = obj.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Runs one namespace-controller until `shutdown` resolves.
pub async fn run(
    shared: &Shared,
    options: WatchOptions,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let ns = options.namespace.as_deref();
    // Readiness: set when both watches of this controller have listed everything once. (Store::
    // wait_until_ready is not used: with several waiters only the last one is woken.)
    shared.readiness.add();
    let sync = Arc::new(CacheSync::new(
        Arc::clone(&shared.readiness),
        options.watch_secrets,
    ));
    let ss_sync = Arc::clone(&sync);
    let mut wc = watcher::Config::default();
    if let Some(selector) = &options.label_selector {
        wc = wc.labels(selector);
    }

    let (secret_store, secret_stream) = if options.watch_secrets {
        let (reader, writer) = reflector::store::<Secret>();
        let stream = watcher(scoped::<Secret>(shared.client.clone(), ns), wc.clone())
            .default_backoff()
            .modify(slim_secret)
            .reflect(writer)
            .inspect_ok({
                let sync = Arc::clone(&sync);
                move |event| {
                    if matches!(event, watcher::Event::InitDone) {
                        sync.mark(CacheKind::Secrets);
                    }
                }
            })
            .try_filter_map(|event| {
                std::future::ready(Ok(match event {
                    watcher::Event::Delete(secret) => Some(secret),
                    _ => None,
                }))
            });
        (Some(reader), Some(stream))
    } else {
        (None, None)
    };

    let cluster = KubeCluster::new(
        shared.client.clone(),
        secret_store.clone(),
        Arc::clone(&shared.recorder),
    );
    let ctx = Arc::new(Context::new(
        cluster,
        Arc::clone(&shared.keys),
        shared.metrics.clone(),
        shared.unsealer.clone(),
        shared.config.clone(),
    ));

    let (reader, writer) = reflector::store::<SealedSecretObject>();
    let deletions_ctx = Arc::clone(&ctx);
    let ss_stream = watcher(scoped::<SealedSecretObject>(shared.client.clone(), ns), wc)
        .default_backoff()
        .modify(slim_sealed_secret)
        .reflect(writer)
        .inspect_ok(move |event| match event {
            watcher::Event::Delete(obj) => {
                let ctx = Arc::clone(&deletions_ctx);
                let obj = obj.clone();
                tokio::spawn(async move { handle_deleted(&obj, &ctx).await });
            }
            watcher::Event::InitDone => ss_sync.mark(CacheKind::SealedSecrets),
            _ => {}
        })
        .applied_objects()
        .predicate_filter(reconcile_trigger_hash, Default::default());

    // A key registered at runtime may open SealedSecrets that failed: look at all of them again
    // (unchanged ones cost a digest check only).
    let key_changes = futures::stream::unfold(shared.keys.subscribe(), |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    });
    // A relist (after 410 Gone, e.g. an API server restart) replays unchanged objects, which
    // the predicate filter drops, and reports no deletion that happened while the watch was
    // down: an object whose write or status update failed during the outage, or whose Secret
    // was deleted meanwhile, would wait for its next change. So every relist looks at all of
    // them again, as an informer's resync would (current ones cost a digest check).
    let relists = futures::stream::unfold(sync.relists.subscribe(), |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    });

    let mut controller = Controller::for_stream(ss_stream, reader)
        .with_config(ControllerConfig::default().concurrency(options.concurrency))
        .reconcile_all_on(futures::stream::select(key_changes, relists))
        .graceful_shutdown_on(shutdown);
    if let Some(stream) = secret_stream {
        controller = controller.watches_stream(stream, |secret: Secret| {
            target_secret::recreate_target(&secret.metadata)
                .map(|(ns, name)| ObjectRef::<SealedSecretObject>::new(&name).within(&ns))
        });
    }
    let scope = ns.unwrap_or("<all>").to_owned();
    tracing::info!(namespace = %scope, "starting controller");
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            match result {
                Ok((object, _)) => tracing::trace!(object = %object, "reconciled"),
                Err(kube::runtime::controller::Error::ReconcilerFailed(_, object)) => {
                    tracing::debug!(object = %object, "reconcile failed");
                }
                Err(e) => tracing::debug!(error = %e, "controller event"),
            }
            std::future::ready(())
        })
        .await;
    tracing::info!(namespace = %scope, "controller stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::digest::DIGEST_ANNOTATION;
    use crate::key_registry::KeyEntry;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use sealed_secrets_core::cert::{CertParams, Certificate};
    use sealed_secrets_core::keys::PrivateKey;
    use sealed_secrets_core::seal::{
        MANAGED_ANNOTATION, PATCH_ANNOTATION, SKIP_SET_OWNER_REFERENCES_ANNOTATION, SealOptions,
        UnsealOptions, seal_secret,
    };
    use sealed_secrets_core::secret_bytes::SecretBytes;
    use sealed_secrets_core::types::{ObjectMeta as CoreMeta, Secret as CoreSecret};

    type Key = (String, String);

    /// A scripted in-memory cluster.
    #[derive(Default)]
    struct Fake {
        secrets: Mutex<BTreeMap<Key, Secret>>,
        cache: Mutex<BTreeMap<Key, Secret>>,
        sealed: Mutex<BTreeMap<Key, SealedSecretObject>>,
        statuses: Mutex<Vec<SealedSecretObject>>,
        events: Mutex<Vec<(EventType, &'static str, String)>>,
        deleted: Mutex<Vec<Key>>,
        gets: AtomicUsize,
        writes: AtomicUsize,
        /// Error (code, message) for the next Secret update.
        fail_update: Mutex<Option<(u16, String)>>,
        /// Conflict on the next status write.
        status_conflicts: AtomicUsize,
    }

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure(message, "Failure").with_code(code),
        ))
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap()
    }

    impl Cluster for Fake {
        fn cached_secret(&self, namespace: &str, name: &str) -> Option<Arc<Secret>> {
            lock(&self.cache)
                .get(&(namespace.to_owned(), name.to_owned()))
                .cloned()
                .map(Arc::new)
        }
        async fn get_secret(
            &self,
            namespace: &str,
            name: &str,
        ) -> Result<Option<Secret>, kube::Error> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            Ok(lock(&self.secrets)
                .get(&(namespace.to_owned(), name.to_owned()))
                .cloned())
        }
        async fn create_secret(&self, namespace: &str, secret: &Secret) -> Result<(), kube::Error> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let name = secret.metadata.name.clone().unwrap_or_default();
            let mut stored = secret.clone();
            stored.type_.get_or_insert_with(|| "Opaque".to_owned());
            lock(&self.secrets).insert((namespace.to_owned(), name), stored);
            Ok(())
        }
        async fn replace_secret(
            &self,
            namespace: &str,
            name: &str,
            secret: &Secret,
        ) -> Result<(), kube::Error> {
            if let Some((code, message)) = lock(&self.fail_update).take() {
                return Err(api_error(code, &message));
            }
            self.writes.fetch_add(1, Ordering::SeqCst);
            lock(&self.secrets).insert((namespace.to_owned(), name.to_owned()), secret.clone());
            Ok(())
        }
        async fn delete_secret(&self, namespace: &str, name: &str) -> Result<(), kube::Error> {
            lock(&self.deleted).push((namespace.to_owned(), name.to_owned()));
            match lock(&self.secrets).remove(&(namespace.to_owned(), name.to_owned())) {
                Some(_) => Ok(()),
                None => Err(api_error(404, "not found")),
            }
        }
        async fn get_sealed_secret(
            &self,
            namespace: &str,
            name: &str,
        ) -> Result<Option<SealedSecretObject>, kube::Error> {
            Ok(lock(&self.sealed)
                .get(&(namespace.to_owned(), name.to_owned()))
                .cloned())
        }
        async fn replace_status(
            &self,
            _ns: &str,
            _name: &str,
            object: &SealedSecretObject,
        ) -> Result<(), kube::Error> {
            if self
                .status_conflicts
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(api_error(409, "the object has been modified"));
            }
            lock(&self.statuses).push(object.clone());
            Ok(())
        }
        async fn publish(
            &self,
            _ss: &SealedSecretObject,
            type_: EventType,
            reason: &'static str,
            message: String,
        ) {
            lock(&self.events).push((type_, reason, message));
        }
    }

    struct Harness {
        ctx: Arc<Context<Fake>>,
        keys: Arc<KeyRegistry>,
    }

    fn key_entry() -> KeyEntry {
        let key = PrivateKey::generate(2048).unwrap();
        let now = OffsetDateTime::now_utc();
        let cert = Certificate::self_signed(&key, &CertParams::controller_default(now)).unwrap();
        KeyEntry::new(key, cert, now, "key".into())
    }

    fn harness_with(config: ReconcileConfig) -> Harness {
        let keys = Arc::new(KeyRegistry::new());
        keys.register(key_entry());
        let metrics = Metrics::new("test").unwrap();
        let unsealer = Unsealer::new(
            metrics.clone(),
            UnsealOptions {
                accept_v1_data: config.accept_v1_data,
                ..UnsealOptions::default()
            },
        );
        let ctx = Arc::new(Context::new(
            Fake::default(),
            Arc::clone(&keys),
            metrics,
            unsealer,
            config,
        ));
        Harness { ctx, keys }
    }

    fn config() -> ReconcileConfig {
        ReconcileConfig {
            accept_v1_data: true,
            update_status: true,
            old_gc_behavior: false,
            skip_unchanged: true,
            max_unseal_retries: 5,
        }
    }

    fn harness() -> Harness {
        harness_with(config())
    }

    /// A SealedSecret `ns/s` sealing `items` for `public`, with template annotations.
    fn sealed(
        h: &Harness,
        items: &[(&str, &str)],
        template_annotations: &[(&str, &str)],
    ) -> SealedSecretObject {
        let public = h.keys.snapshot().latest().unwrap().key.public_key().clone();
        sealed_for(&public, items, template_annotations)
    }

    fn sealed_for(
        public: &sealed_secrets_core::keys::PublicKey,
        items: &[(&str, &str)],
        template_annotations: &[(&str, &str)],
    ) -> SealedSecretObject {
        let secret = CoreSecret {
            metadata: CoreMeta {
                name: "s".into(),
                namespace: "ns".into(),
                labels: [("mylabel".to_owned(), "myvalue".to_owned())].into(),
                annotations: template_annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..CoreMeta::default()
            },
            data: items
                .iter()
                .map(|(k, v)| ((*k).to_owned(), SecretBytes::from_slice(v.as_bytes())))
                .collect(),
            ..CoreSecret::default()
        };
        let ss = seal_secret(secret, public, &SealOptions::default()).unwrap();
        let mut json = serde_json::to_value(&ss).unwrap();
        json["metadata"]["uid"] = "uid-1".into();
        json["metadata"]["generation"] = 1.into();
        json["metadata"]["resourceVersion"] = "10".into();
        serde_json::from_value(json).unwrap()
    }

    fn stored(h: &Harness) -> Option<Secret> {
        lock(&h.ctx.cluster.secrets)
            .get(&("ns".to_owned(), "s".to_owned()))
            .cloned()
    }

    fn put(h: &Harness, secret: Secret) {
        lock(&h.ctx.cluster.secrets).insert(("ns".to_owned(), "s".to_owned()), secret);
    }

    /// Gives `secret` the controller owner reference of the SealedSecret `s` (uid-1).
    fn owned_by_s(secret: &mut Secret) {
        secret.metadata.owner_references = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "bitnami.com/v1alpha1".into(),
                kind: "SealedSecret".into(),
                name: "s".into(),
                uid: "uid-1".into(),
                controller: Some(true),
                block_owner_deletion: None,
            },
        ]);
    }

    fn existing(data: &[(&str, &str)], annotations: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("s".into()),
                namespace: Some("ns".into()),
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect::<BTreeMap<_, _>>(),
                )
                .filter(|m| !m.is_empty()),
                resource_version: Some("5".into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            type_: Some("Opaque".into()),
            ..Secret::default()
        }
    }

    fn events(h: &Harness) -> Vec<(EventType, &'static str, String)> {
        std::mem::take(&mut *lock(&h.ctx.cluster.events))
    }

    fn last_status(h: &Harness) -> Option<sealed_secrets_core::types::SealedSecretStatus> {
        lock(&h.ctx.cluster.statuses)
            .last()
            .and_then(|o| o.status.clone())
    }

    /// Applies the last written status to `obj` as the API server would.
    fn with_last_status(h: &Harness, mut obj: SealedSecretObject) -> SealedSecretObject {
        obj.status = last_status(h);
        obj
    }

    fn data(secret: &Secret) -> BTreeMap<String, String> {
        secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), String::from_utf8(v.0.clone()).unwrap()))
            .collect()
    }

    #[tokio::test]
    async fn creates_owned_secret_then_skips_unchanged() {
        let h = harness();
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        let action = reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert_eq!(action, Action::await_change());
        let secret = stored(&h).unwrap();
        assert_eq!(data(&secret)["foo"], "bar");
        assert_eq!(
            secret.metadata.labels.as_ref().unwrap()["mylabel"],
            "myvalue"
        );
        let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.uid.as_str(),
                owner.controller,
                owner.block_owner_deletion
            ),
            ("SealedSecret", "uid-1", Some(true), None)
        );
        assert!(
            secret
                .metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(DIGEST_ANNOTATION)
        );
        assert_eq!(
            events(&h),
            vec![(
                EventType::Normal,
                "Unsealed",
                "SealedSecret unsealed successfully".to_owned()
            )]
        );
        let status = last_status(&h).unwrap();
        assert_eq!(status.observed_generation, 1);
        assert_eq!(status.conditions[0].status, "True");
        assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 1);
        assert_eq!(h.ctx.metrics.unseal_requests.get(), 1);
        assert_eq!(h.ctx.metrics.condition_value("ns", "s"), Some(1.0));

        // Again, as after a restart: no RSA, no write, no event, no status write.
        let writes = h.ctx.cluster.writes.load(Ordering::SeqCst);
        let statuses = lock(&h.ctx.cluster.statuses).len();
        let obj = with_last_status(&h, obj);
        reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 1);
        assert_eq!(h.ctx.metrics.unseal_skipped.get(), 1);
        assert_eq!(h.ctx.cluster.writes.load(Ordering::SeqCst), writes);
        assert_eq!(lock(&h.ctx.cluster.statuses).len(), statuses);
        assert!(events(&h).is_empty());

        // With the Secret in the watch cache (slimmed as the watch does), not even a GET.
        let gets = h.ctx.cluster.gets.load(Ordering::SeqCst);
        let mut cached = stored(&h).unwrap();
        slim_secret(&mut cached);
        assert!(
            cached.data.is_some(),
            "our Secret keeps its data in the cache"
        );
        lock(&h.ctx.cluster.cache).insert(("ns".into(), "s".into()), cached);
        reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
        assert_eq!(h.ctx.cluster.gets.load(Ordering::SeqCst), gets);
        assert_eq!(h.ctx.metrics.unseal_skipped.get(), 2);
    }

    #[test]
    fn watch_caches_keep_only_what_is_used() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
        let meta = |annotations: &[(&str, &str)]| ObjectMeta {
            name: Some("s".into()),
            namespace: Some("ns".into()),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            managed_fields: Some(vec![ManagedFieldsEntry::default()]),
            ..ObjectMeta::default()
        };
        let data = Some([("k".to_owned(), ByteString(vec![7; 4096]))].into());
        // A Secret that is not ours (a Helm release, a token): metadata only.
        let mut other = Secret {
            metadata: meta(&[("a", "b")]),
            data: data.clone(),
            string_data: Some([("s".to_owned(), "t".to_owned())].into()),
            ..Secret::default()
        };
        slim_secret(&mut other);
        assert_eq!((other.data, other.string_data), (None, None));
        assert_eq!(other.metadata.managed_fields, None);
        assert_eq!(other.metadata.annotations.unwrap()["a"], "b");
        // A SealedSecret loses managedFields and kubectl's last-applied copy, nothing else.
        let mut ss: SealedSecretObject = serde_json::from_value(serde_json::json!({
            "spec": {"encryptedData": {"k": "AgB="}, "template": {"metadata": {"labels": {"l": "m"}}}}
        }))
        .unwrap();
        ss.metadata = meta(&[(LAST_APPLIED_ANNOTATION, "{}"), ("x", "y")]);
        let spec = serde_json::to_value(&ss.spec).unwrap();
        slim_sealed_secret(&mut ss);
        assert_eq!(ss.metadata.managed_fields, None);
        assert_eq!(
            ss.metadata.annotations.unwrap().keys().collect::<Vec<_>>(),
            ["x"]
        );
        assert_eq!(serde_json::to_value(&ss.spec).unwrap(), spec);
    }

    #[tokio::test]
    async fn edited_secret_is_restored() {
        let h = harness();
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        let mut secret = stored(&h).unwrap();
        secret.data = Some([("foo".to_owned(), ByteString(b"tampered".to_vec()))].into());
        put(&h, secret);
        events(&h);
        reconcile(Arc::new(with_last_status(&h, obj)), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert_eq!(data(&stored(&h).unwrap())["foo"], "bar");
        assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 2);
        assert_eq!(events(&h).len(), 1);
    }

    #[tokio::test]
    async fn unmanaged_secret_is_refused_and_retried_with_backoff() {
        let h = harness();
        put(&h, existing(&[("x", "y")], &[]));
        let obj = Arc::new(sealed(&h, &[("foo", "bar")], &[]));
        let err = reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed update: Resource \"s\" already exists and is not managed by SealedSecret"
        );
        assert_eq!(
            events(&h),
            vec![(
                EventType::Warning,
                "ErrUpdateFailed",
                "Resource \"s\" already exists and is not managed by SealedSecret".to_owned()
            )]
        );
        assert_eq!(
            h.ctx
                .metrics
                .unseal_error_count(ErrorReason::Unmanaged, "ns"),
            1
        );
        let status = last_status(&h).unwrap();
        assert_eq!(status.conditions[0].status, "False");
        assert_eq!(status.conditions[0].message, err.to_string());
        assert_eq!(h.ctx.metrics.condition_value("ns", "s"), Some(-1.0));
        assert_eq!(data(&stored(&h).unwrap())["x"], "y");
        // Back-off 5 ms, 10 ms, … then give up after --max-unseal-retries.
        for attempt in 1..=5 {
            let action = error_policy(Arc::clone(&obj), &err, Arc::clone(&h.ctx));
            assert_eq!(action, Action::requeue(retry_delay(attempt)));
        }
        assert_eq!(retry_delay(1), Duration::from_millis(5));
        assert_eq!(retry_delay(2), Duration::from_millis(10));
        assert_eq!(
            error_policy(Arc::clone(&obj), &err, Arc::clone(&h.ctx)),
            Action::await_change()
        );
        assert_eq!(retry_delay(40), Duration::from_secs(1000));
    }

    #[tokio::test]
    async fn managed_secret_is_adopted_with_wholesale_replace() {
        let h = harness_with(ReconcileConfig {
            skip_unchanged: false,
            ..config()
        });
        put(
            &h,
            existing(&[("old", "1")], &[(MANAGED_ANNOTATION, "true")]),
        );
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
        let secret = stored(&h).unwrap();
        assert_eq!(data(&secret), [("foo".to_owned(), "bar".to_owned())].into());
        // Upstream's integration test: annotations are nil afterwards (no digest here).
        assert_eq!(secret.metadata.annotations, None);
        assert_eq!(secret.metadata.owner_references.unwrap()[0].name, "s");
        assert_eq!(events(&h)[0].1, "Unsealed");
    }

    #[tokio::test]
    async fn patch_secret_is_merged_without_ownership() {
        let h = harness();
        put(
            &h,
            existing(
                &[("keep", "1"), ("foo", "old")],
                &[(PATCH_ANNOTATION, "true")],
            ),
        );
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        let secret = stored(&h).unwrap();
        assert_eq!(data(&secret)["keep"], "1");
        assert_eq!(data(&secret)["foo"], "bar");
        assert_eq!(secret.metadata.owner_references, None);
        assert_eq!(
            secret.metadata.annotations.as_ref().unwrap()[PATCH_ANNOTATION],
            "true"
        );
        // And it is stable: nothing decrypted the second time.
        reconcile(Arc::new(with_last_status(&h, obj)), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert_eq!(h.ctx.metrics.unseal_skipped.get(), 1);
    }

    #[tokio::test]
    async fn wrong_key_fails_without_retry() {
        let h = harness();
        let other = key_entry();
        let obj = Arc::new(sealed_for(other.key.public_key(), &[("foo", "bar")], &[]));
        let err = reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "no key could decrypt secret (foo)");
        assert_eq!(
            events(&h),
            vec![(
                EventType::Warning,
                "ErrUnsealFailed",
                "Failed to unseal: no key could decrypt secret (foo); diagnosis: foo: sealed for \
                 a key this controller does not have, or corrupted"
                    .to_owned()
            )]
        );
        assert!(stored(&h).is_none());
        assert_eq!(
            h.ctx.metrics.unseal_error_count(ErrorReason::Unseal, "ns"),
            1
        );
        assert_eq!(
            last_status(&h).unwrap().conditions[0].message,
            err.to_string()
        );
        assert_eq!(
            error_policy(Arc::clone(&obj), &err, Arc::clone(&h.ctx)),
            Action::await_change()
        );
        // A key added at runtime (--watch-for-secrets) lets it through on the next pass.
        h.keys.register(other);
        reconcile(obj, Arc::clone(&h.ctx)).await.unwrap();
        assert_eq!(data(&stored(&h).unwrap())["foo"], "bar");
    }

    #[tokio::test]
    async fn unavailable_api_server_is_retried_until_it_answers() {
        let h = harness();
        let mut secret = existing(&[("foo", "old")], &[]);
        owned_by_s(&mut secret);
        put(&h, secret);
        let obj = Arc::new(sealed(&h, &[("foo", "bar")], &[]));
        *lock(&h.ctx.cluster.fail_update) = Some((503, "etcdserver: leader changed".to_owned()));
        let err = reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
            .await
            .unwrap_err();
        assert!(matches!(err, ReconcileError::Unavailable(_)), "{err:?}");
        assert_eq!(err.to_string(), "etcdserver: leader changed");
        // Past --max-unseal-retries (5) it keeps going, a minute apart at most.
        for attempt in 1..=40 {
            let action = error_policy(Arc::clone(&obj), &err, Arc::clone(&h.ctx));
            assert_eq!(
                action,
                Action::requeue(retry_delay(attempt).min(UNAVAILABLE_MAX_DELAY))
            );
        }
        assert_eq!(
            error_policy(Arc::clone(&obj), &err, Arc::clone(&h.ctx)),
            Action::requeue(UNAVAILABLE_MAX_DELAY)
        );
        // The API server answers again: the write lands and the back-off is forgotten.
        reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert_eq!(data(&stored(&h).unwrap())["foo"], "bar");
        assert!(h.ctx.retries().is_empty());
    }

    #[tokio::test]
    async fn immutable_update_is_reported_and_not_retried() {
        let h = harness();
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        let mut secret = existing(&[("foo", "old")], &[]);
        owned_by_s(&mut secret);
        secret.immutable = Some(true);
        put(&h, secret);
        let raw =
            "Secret \"s\" is invalid: data: Forbidden: field is immutable when `immutable` is set";
        *lock(&h.ctx.cluster.fail_update) = Some((422, raw.to_owned()));
        let obj = Arc::new(obj);
        let err = reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), raw);
        let ev = events(&h);
        assert_eq!(ev[0].1, "ErrUpdateFailed");
        assert!(
            ev[0]
                .2
                .starts_with("Error updating ns/s: the target Secret is immutable."),
            "{}",
            ev[0].2
        );
        assert_eq!(last_status(&h).unwrap().conditions[0].message, raw);
        assert_eq!(
            h.ctx.metrics.unseal_error_count(ErrorReason::Update, "ns"),
            1
        );
        assert_eq!(
            error_policy(obj, &err, Arc::clone(&h.ctx)),
            Action::await_change()
        );
    }

    #[tokio::test]
    async fn skip_set_owner_references_creates_unowned_secret() {
        let h = harness();
        let obj = sealed(
            &h,
            &[("foo", "bar")],
            &[(SKIP_SET_OWNER_REFERENCES_ANNOTATION, "true")],
        );
        reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
        let secret = stored(&h).unwrap();
        assert_eq!(secret.metadata.owner_references, None);
        assert_eq!(last_status(&h).unwrap().conditions[0].status, "True");
    }

    #[tokio::test]
    async fn without_skip_unchanged_every_pass_decrypts_but_writes_once() {
        let h = harness_with(ReconcileConfig {
            skip_unchanged: false,
            ..config()
        });
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert!(stored(&h).unwrap().metadata.annotations.is_none());
        events(&h);
        reconcile(Arc::new(with_last_status(&h, obj)), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 2);
        assert_eq!(h.ctx.cluster.writes.load(Ordering::SeqCst), 1);
        // A pass that unsealed emits `Unsealed` whether or not the Secret needed a write (that
        // can depend on a plaintext), as upstream does on every pass.
        let ev = events(&h);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].1, "Unsealed");
    }

    #[tokio::test]
    async fn update_status_false_writes_no_status() {
        let h = harness_with(ReconcileConfig {
            update_status: false,
            ..config()
        });
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
        assert!(lock(&h.ctx.cluster.statuses).is_empty());
        assert!(stored(&h).is_some());
    }

    #[tokio::test]
    async fn status_conflict_is_retried_on_a_fresh_object() {
        let h = harness();
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        lock(&h.ctx.cluster.sealed).insert(("ns".into(), "s".into()), obj.clone());
        h.ctx.cluster.status_conflicts.store(1, Ordering::SeqCst);
        reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
        assert_eq!(last_status(&h).unwrap().conditions[0].status, "True");
        assert_eq!(
            h.ctx.metrics.unseal_error_count(ErrorReason::Status, "ns"),
            0
        );
    }

    #[tokio::test]
    async fn deletion_forgets_metrics_and_old_gc_deletes() {
        let h = harness_with(ReconcileConfig {
            old_gc_behavior: true,
            ..config()
        });
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert!(h.ctx.metrics.condition_value("ns", "s").is_some());
        handle_deleted(&obj, &h.ctx).await;
        assert!(h.ctx.metrics.condition_value("ns", "s").is_none());
        assert!(stored(&h).is_none());
        assert_eq!(h.ctx.metrics.unseal_requests.get(), 2);
        // Already gone: NotFound is fine.
        handle_deleted(&obj, &h.ctx).await;
        assert_eq!(lock(&h.ctx.cluster.deleted).len(), 2);

        let h = harness();
        put(&h, existing(&[("a", "b")], &[]));
        handle_deleted(&obj, &h.ctx).await;
        assert!(
            stored(&h).is_some(),
            "without --old-gc-behavior the GC does it"
        );
    }

    #[tokio::test]
    async fn recorded_key_is_tried_first_and_dependents_are_counted() {
        let h = harness();
        let oldest = h.keys.snapshot().latest().unwrap().fingerprint.to_string();
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        // Two newer keys: the unseal order is now newest, middle, oldest.
        let later = |hours| {
            let key = PrivateKey::generate(2048).unwrap();
            let at = OffsetDateTime::now_utc() + time::Duration::hours(hours);
            let cert = Certificate::self_signed(&key, &CertParams::controller_default(at)).unwrap();
            KeyEntry::new(key, cert, at, "newer".into())
        };
        h.keys.register(later(1));
        h.keys.register(later(2));
        reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        // No record yet: every key was tried, the oldest last.
        assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 3);
        let secret = stored(&h).unwrap();
        assert_eq!(digest::recorded_keys(&secret), vec![oldest.clone()]);
        assert_eq!(h.ctx.metrics.key_dependents.get(&oldest), 1);
        let newest = h.keys.snapshot().latest().unwrap().fingerprint.to_string();
        assert_eq!(h.ctx.metrics.key_dependents.get(&newest), 0);

        // A spec change: a full unseal, with the recorded key first.
        let mut changed = with_last_status(&h, obj.clone());
        changed
            .spec
            .template
            .metadata
            .labels
            .insert("tier".into(), "2".into());
        changed.metadata.generation = Some(2);
        reconcile(Arc::new(changed.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 4);
        assert_eq!(
            stored(&h).unwrap().metadata.labels.unwrap()["tier"],
            "2".to_owned()
        );
        assert_eq!(h.ctx.metrics.key_dependents.get(&oldest), 1);

        // Deleted: nothing depends on the key any more.
        handle_deleted(&changed, &h.ctx).await;
        assert_eq!(h.ctx.metrics.key_dependents.get(&oldest), 0);
    }

    #[tokio::test]
    async fn removed_key_makes_digest_invalid() {
        let h = harness();
        let obj = sealed(&h, &[("foo", "bar")], &[]);
        reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        // A fresh registry without the key that opened it (an operator removed it).
        let keys = Arc::new(KeyRegistry::new());
        keys.register(key_entry());
        let metrics = Metrics::new("t").unwrap();
        let fake = Fake::default();
        *lock(&fake.secrets) = lock(&h.ctx.cluster.secrets).clone();
        let ctx = Arc::new(Context::new(
            fake,
            keys,
            metrics.clone(),
            Unsealer::new(metrics, UnsealOptions::default()),
            config(),
        ));
        let err = reconcile(Arc::new(obj), ctx).await.unwrap_err();
        assert!(matches!(err, ReconcileError::Unseal(..)));
    }

    fn with_templates(
        mut obj: SealedSecretObject,
        templates: &[(&str, &str)],
    ) -> SealedSecretObject {
        obj.spec.template.data = templates
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
            .collect();
        obj
    }

    /// A condition as (type, status, reason, message), and the events as text.
    type Readable = (Vec<(String, String, String, String)>, Vec<String>);

    /// What someone who may read the SealedSecret but not the Secret sees of one reconcile.
    fn readable(h: &Harness) -> Readable {
        let status = last_status(h).unwrap();
        let conditions = status
            .conditions
            .iter()
            .map(|c| {
                (
                    c.type_.clone(),
                    c.status.clone(),
                    c.reason.clone(),
                    c.message.clone(),
                )
            })
            .collect();
        let events = events(h)
            .into_iter()
            .map(|(t, r, m)| format!("{t:?} {r} {m}"))
            .collect();
        (conditions, events)
    }

    #[tokio::test]
    async fn a_template_failure_looks_like_a_success_and_is_recorded_on_the_secret() {
        let probe = r#"{{ if hasPrefix "GUESS" .foo }}{{ fail .foo }}{{ end }}ok"#;
        let mut seen = Vec::new();
        for guess in ["b", "x"] {
            let h = harness();
            let obj = with_templates(
                sealed(&h, &[("foo", "bar")], &[]),
                &[("x", &probe.replace("GUESS", guess))],
            );
            reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
            seen.push(readable(&h));
            let secret = stored(&h).unwrap();
            let note = secret
                .metadata
                .annotations
                .clone()
                .unwrap_or_default()
                .remove(VALUE_ERRORS_ANNOTATION);
            if guess == "b" {
                let note = note.expect("the failure is recorded on the Secret");
                assert!(note.contains("\"x\""), "{note}");
                assert!(!note.contains("bar"), "{note}");
                // A first write: the failed key is there, empty.
                assert_eq!(data(&secret)["x"], "");
            } else {
                assert_eq!(note, None);
                assert_eq!(data(&secret)["x"], "ok");
            }
            assert_eq!(
                h.ctx.metrics.unseal_error_count(ErrorReason::Unseal, "ns"),
                0
            );
        }
        assert_eq!(seen[0], seen[1]);
        assert_eq!(seen[0].0[0].1, "True");
    }

    #[tokio::test]
    async fn a_failed_value_keeps_what_the_secret_had() {
        let h = harness();
        let obj = with_templates(sealed(&h, &[("foo", "bar")], &[]), &[("x", "{{ .foo }}")]);
        reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert_eq!(data(&stored(&h).unwrap())["x"], "bar");
        let mut broken = with_templates(obj, &[("x", r#"{{ fail "now" }}"#)]);
        broken.metadata.generation = Some(2);
        reconcile(Arc::new(broken), Arc::clone(&h.ctx))
            .await
            .unwrap();
        let secret = stored(&h).unwrap();
        assert_eq!(data(&secret)["x"], "bar");
        assert!(secret.metadata.annotations.unwrap()[VALUE_ERRORS_ANNOTATION].contains("fail"));
    }

    #[tokio::test]
    async fn an_immutable_secret_keeps_its_data_whether_or_not_it_differs() {
        let mut seen = Vec::new();
        for value in ["bar", "new"] {
            let h = harness();
            let obj = sealed(&h, &[("foo", value)], &[]);
            let mut secret = existing(&[("foo", "bar")], &[]);
            owned_by_s(&mut secret);
            secret.immutable = Some(true);
            put(&h, secret);
            reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
            seen.push(readable(&h));
            let stored = stored(&h).unwrap();
            assert_eq!(data(&stored)["foo"], "bar");
            let note = stored
                .metadata
                .annotations
                .unwrap_or_default()
                .remove(VALUE_ERRORS_ANNOTATION);
            assert_eq!(note.is_some(), value == "new");
        }
        assert_eq!(seen[0], seen[1]);
    }

    #[tokio::test]
    async fn a_template_cannot_make_a_patched_secret_ours() {
        let h = harness();
        put(
            &h,
            existing(&[("keep", "1")], &[(PATCH_ANNOTATION, "true")]),
        );
        let obj = sealed(&h, &[("foo", "bar")], &[(MANAGED_ANNOTATION, "true")]);
        reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
        let secret = stored(&h).unwrap();
        assert_eq!(data(&secret)["foo"], "bar");
        assert_eq!(secret.metadata.owner_references, None);
    }
}
