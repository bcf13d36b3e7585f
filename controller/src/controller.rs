//! Reconciling SealedSecrets into Secrets (SPEC §3.3, §3.6–§3.9): the reconciler, its error
//! policy and deletion handling. The cluster operations are in `controller/cluster.rs`, the
//! watch wiring per watched namespace (caches, triggers, readiness) in `controller/watch.rs`.
//!
//! One reconcile: skip if the SealedSecret's record (`status.unsealedDigest`) proves its Secret
//! current (no RSA, no write), else unseal, read the Secret, apply the ownership gate, merge,
//! write if different, record events, and update the `Synced` condition (with the new record).
//! A Secret changed by someone else while its SealedSecret stayed the same (the record tells)
//! is put back, or left alone when the SealedSecret opts out (drift repair, `controller/drift.rs`).
//! The reconciler talks to the cluster through [`Cluster`] so that its decisions are unit-tested
//! against a fake.

mod cluster;
mod drift;
mod fan_out;
mod records;
mod report;
mod retry;
mod secret_cache;
mod trigger;
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::Action;
use sealed_secrets_core::seal::{ItemError, ItemErrorKind, UnsealError};
use sealed_secrets_core::types::SealedSecret;
use tracing::Instrument as _;

pub use self::cluster::{Cluster, KubeCluster};
pub use self::drift::DriftState;
pub use self::records::Record;
use self::records::{best_check, lookup_in, record_of, records_of};
use self::report::{CONFLICT_RETRIES, immutable_refused, update_failed, update_status};
use self::retry::will_retry;
pub use self::retry::{UNAVAILABLE_MAX_DELAY, error_policy, retry_delay};
pub use self::watch::{Readiness, Shared, WatchOptions, run};
use crate::digest::{self, DigestInput};
use crate::error::{ReconcileError, api_error_text, is_conflict, is_not_found};
use crate::events::{
    EventType, MESSAGE_UNSEALED, REASON_SECRET_REPAIRED, REASON_UNSEAL_FAILED, REASON_UNSEALED,
    REASON_UPDATE_FAILED, repaired_message,
};
use crate::key_registry::{KeyRegistry, KeySet};
use crate::metrics::{ErrorReason, Metrics};
use crate::resource::SealedSecretObject;
use crate::status::Failure;
use crate::target_secret;
use crate::unseal::{UnsealOutcome, UnsealTaskError, Unsealer};
use crate::value_errors;
#[cfg(test)]
use crate::value_errors::VALUE_ERRORS_ANNOTATION;

/// Reconcile behaviour from the flags.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)]
pub struct ReconcileConfig {
    pub accept_v1_data: bool,
    pub update_status: bool,
    pub old_gc_behavior: bool,
    pub skip_unchanged: bool,
    pub max_unseal_retries: u32,
    /// `--fan-out`: copies of cluster-wide SealedSecrets in consenting namespaces (ADR 0007).
    pub fan_out: bool,
}

/// Shared state of one namespace-controller.
pub struct Context<C> {
    pub cluster: C,
    pub keys: Arc<KeyRegistry>,
    pub metrics: Metrics,
    pub unsealer: Unsealer,
    pub config: ReconcileConfig,
    retries: Mutex<HashMap<String, u32>>,
    drift: DriftState,
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
            drift: DriftState::default(),
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
    /// Changed by someone else and put back (drift repair).
    Repaired,
    /// Already up to date, found by unsealing and comparing.
    Unchanged,
    /// Already up to date, proven by its digest: nothing was decrypted.
    Skipped,
    /// Changed by someone else, and left so: the SealedSecret opts out of drift repair.
    DriftKept,
    /// Changed by someone else again and again: put back no sooner than after this wait.
    RepairDeferred(Duration),
}

impl Outcome {
    /// Whether the pass decrypted the SealedSecret.
    #[must_use]
    pub fn unsealed(self) -> bool {
        matches!(self, Self::Written | Self::Repaired | Self::Unchanged)
    }
}

fn names(obj: &SealedSecretObject) -> (String, String) {
    (
        obj.metadata.namespace.clone().unwrap_or_default(),
        obj.metadata.name.clone().unwrap_or_default(),
    )
}

/// A successful pass: what it did, and the record to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: Outcome,
    pub record: Record,
}

/// Steps 5–10 of SPEC §3.6: everything except the status update. Skips a SealedSecret whose
/// record (`status.unsealedDigest`) proves its Secret current, else unseals it
/// ([`unseal_or_report`]) and writes the result ([`write_secret`]).
///
/// The watch cache holds no ciphertexts (their digests only, [`digest::hash_ciphertexts`]):
/// a pass that has to open the SealedSecret, or to verify a record older than `v3`, reads the
/// whole object ([`whole_object`]) and is made again with it and the Secret it already read.
async fn apply<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    keys: &Arc<KeySet>,
    for_copies: &mut Option<fan_out::Unsealed>,
) -> Result<Applied, ReconcileError> {
    match apply_with(obj, ctx, keys, for_copies, None).await? {
        Step::Done(applied) => Ok(applied),
        Step::NeedsCiphertexts(existing) => {
            let Some(whole) = whole_object(obj, ctx).await? else {
                tracing::debug!("the SealedSecret went while it was reconciled");
                return Ok(Applied {
                    outcome: Outcome::Skipped,
                    record: Record::Keep,
                });
            };
            match apply_with(&whole, ctx, keys, for_copies, Some(existing.map(|s| *s))).await? {
                Step::Done(applied) => Ok(applied),
                Step::NeedsCiphertexts(_) => Err(ReconcileError::Internal {
                    source: crate::unseal::UnsealTaskError::Task(
                        "the SealedSecret read from the API server has no ciphertexts".to_owned(),
                    ),
                }),
            }
        }
    }
}

/// What one [`apply_with`] came to.
enum Step {
    Done(Applied),
    /// The object is a watch cache copy and the pass must open it: read it whole, and make
    /// the pass again with the Secret this one read.
    NeedsCiphertexts(Option<Box<Secret>>),
}

/// `obj` as stored, with its ciphertexts (a GET), for a pass that opens it; `None` when it
/// has gone or is another object of the same name now (its own events follow).
pub(super) async fn whole_object<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
) -> Result<Option<SealedSecretObject>, ReconcileError> {
    let (namespace, name) = names(obj);
    match ctx.cluster.get_sealed_secret(&namespace, &name).await {
        Ok(Some(whole)) if whole.metadata.uid == obj.metadata.uid => Ok(Some(whole)),
        Ok(_) => Ok(None),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(update_failed(obj, ctx, &namespace, &name, e).await),
    }
}

/// One pass of [`apply`]. `read`: the Secret as the pass before this one read it (`None`: read
/// it here, after the check against the watch cache).
async fn apply_with<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    keys: &Arc<KeySet>,
    for_copies: &mut Option<fan_out::Unsealed>,
    read: Option<Option<Secret>>,
) -> Result<Step, ReconcileError> {
    let (namespace, name) = names(obj);
    let ss = obj.to_core();
    let accept_v1 = ctx.config.accept_v1_data;
    let object = format!("{namespace}/{name}");
    let dependents = &ctx.metrics.key_dependents;
    dependents.observe_keys(keys.unseal_order().iter().map(|e| e.fingerprint.as_str()));

    if ctx.config.skip_unchanged
        && read.is_none()
        && let Some(cached) = ctx.cluster.cached_secret(&namespace, &name)
        && let (digest::Check::Current, Some(found)) = best_check(
            keys,
            records_of(&ctx.drift, &object, &ss, Some(&cached)),
            &ss,
            accept_v1,
            &cached,
        )
    {
        return Ok(Step::Done(skipped(obj, ctx, keys, found, &cached).await));
    }

    // Upstream unseals before reading the Secret, so an undecryptable SealedSecret reports
    // ErrUnsealFailed even when its Secret is not ours; the digest check above needs no read.
    let existing = match read {
        Some(existing) => existing,
        None => match ctx.cluster.get_secret(&namespace, &name).await {
            Ok(existing) => existing,
            Err(e) => return Err(update_failed(obj, ctx, &namespace, &name, e).await),
        },
    };
    let records = records_of(&ctx.drift, &object, &ss, existing.as_ref());
    let (check, found) = match &existing {
        Some(existing) if ctx.config.skip_unchanged => {
            best_check(keys, records, &ss, accept_v1, existing)
        }
        _ => (digest::Check::Changed, records.into_iter().next()),
    };
    if let Some(found) = &found
        && let Some(existing) = &existing
    {
        match check {
            digest::Check::Current => {
                return Ok(Step::Done(
                    skipped(obj, ctx, keys, found.clone(), existing).await,
                ));
            }
            digest::Check::Drifted => {
                if let Some(kept) = drift_not_repaired(obj, ctx, &object, found) {
                    return Ok(Step::Done(kept));
                }
            }
            digest::Check::Changed => {}
        }
    }
    let repair = check == digest::Check::Drifted;
    if ss.spec.ciphertexts_hashed {
        return Ok(Step::NeedsCiphertexts(existing.map(Box::new)));
    }

    // The keys that opened it last time (the record) are tried first: about one RSA operation
    // per item instead of up to one per registered key.
    let recorded = digest::recorded_keys(found.as_ref());
    let outcome = unseal_or_report(obj, ctx, keys, &ss, recorded).await?;
    match &outcome.keys_used {
        Some(used) => dependents.record(&object, used),
        // A legacy `spec.data` object: the core does not say which key opened it.
        None => dependents.forget(&object),
    }
    let mut desired = target_secret::to_k8s(&outcome.unsealed.secret);
    desired.metadata.namespace = Some(namespace);
    if fan_out::concerns(obj) {
        *for_copies = Some(fan_out::Unsealed {
            desired: desired.clone(),
            failures: outcome.unsealed.value_failures.clone(),
            keys_used: outcome.keys_used.clone(),
        });
    }
    let record = |secret: &Secret| {
        if !ctx.config.skip_unchanged {
            return None;
        }
        let used = outcome.keys_used.as_ref()?;
        record_of(keys, &ss, accept_v1, used, secret)
    };
    // An immutable Secret whose record no longer verifies: the SealedSecret changed since the
    // Secret was written (or the Secret's metadata did). Decided from public inputs only, the
    // record and the objects, never from the new values (docs/security.md).
    let immutable_conflict = |existing: &Secret| {
        existing.immutable == Some(true)
            && found.as_ref().is_some_and(|f| {
                digest::sealed_unchanged(&f.record, &ss, accept_v1, existing, lookup_in(keys))
                    == Some(false)
            })
    };
    // Values that failed in a way a plaintext may have decided are reported only on the
    // Secret; from here on the pass looks like any other (value_errors.rs).
    write_secret(
        obj,
        ctx,
        &desired,
        &outcome.unsealed.value_failures,
        existing,
        WriteHooks {
            record: &record,
            immutable_conflict: &immutable_conflict,
            repair,
        },
    )
    .await
    .map(Step::Done)
}

/// A drift (`found` shows the SealedSecret unchanged, its Secret changed) that is not to be
/// repaired now: the SealedSecret opts out, or its Secret was put back too often lately.
/// `None`: repair it. Decided without RSA work.
fn drift_not_repaired<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    object: &str,
    found: &digest::Found,
) -> Option<Applied> {
    ctx.metrics
        .key_dependents
        .record(object, &found.record.keys_used);
    let outcome = if !drift::repair_enabled(obj) {
        tracing::info!("the Secret was changed outside its SealedSecret; drift repair is off");
        Outcome::DriftKept
    } else {
        let wait = ctx.drift.deferral(object, tokio::time::Instant::now())?;
        tracing::warn!(
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "the Secret keeps being changed outside its SealedSecret; putting it back later"
        );
        Outcome::RepairDeferred(wait)
    };
    Some(Applied {
        outcome,
        record: Record::Keep,
    })
}

/// A pass proven unnecessary by the record `found`: no RSA work, no Secret write, except that
/// a Secret still carrying the legacy annotation loses it (one metadata update).
///
/// A `v1` or `v2` record (written before drift repair, or before the ciphertext-free watch
/// cache) is rewritten as `v3` from the same inputs (the pass verified it with the whole
/// object); a record remembered by this process is not written again (its status write
/// succeeded).
async fn skipped<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    keys: &KeySet,
    found: digest::Found,
    secret: &Secret,
) -> Applied {
    let (namespace, name) = names(obj);
    ctx.metrics.unseal_skipped.inc();
    ctx.metrics
        .key_dependents
        .record(&format!("{namespace}/{name}"), &found.record.keys_used);
    if digest::has_legacy_annotation(secret) {
        remove_legacy_annotation(obj, ctx).await;
    }
    let record = match found.source {
        digest::Source::Memory => {
            return Applied {
                outcome: Outcome::Skipped,
                record: Record::Keep,
            };
        }
        _ if !found.record.hashed_ciphertexts => {
            let ss = obj.to_core();
            let upgraded = keys
                .by_fingerprint(&found.record.signing_fp)
                .and_then(|signing| {
                    let input = DigestInput {
                        sealed: &ss,
                        accept_v1_data: ctx.config.accept_v1_data,
                        keys_used: &found.record.keys_used,
                    };
                    digest::record_value(
                        signing.digest_key.as_ref()?,
                        signing.fingerprint.as_str(),
                        &input,
                        secret,
                    )
                });
            upgraded.unwrap_or(found.value)
        }
        _ => found.value,
    };
    Applied {
        outcome: Outcome::Skipped,
        record: Record::Set(Some(record)),
    }
}

/// Removes the legacy digest annotation from the Secret (read fresh; the cache keeps no
/// `managedFields`). A failure is logged and retried at the next pass.
async fn remove_legacy_annotation<C: Cluster>(obj: &SealedSecretObject, ctx: &Context<C>) {
    let (namespace, name) = names(obj);
    let mut secret = match ctx.cluster.get_secret(&namespace, &name).await {
        Ok(Some(secret)) if digest::has_legacy_annotation(&secret) => secret,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(
                error = %api_error_text(&e),
                "cannot read the Secret to remove the legacy digest annotation"
            );
            return;
        }
    };
    digest::clear(&mut secret);
    if let Err(e) = ctx.cluster.replace_secret(&namespace, &name, &secret).await {
        tracing::warn!(error = %api_error_text(&e), "cannot remove the legacy digest annotation");
    }
}

/// What [`write_secret`] asks of its caller.
struct WriteHooks<'a> {
    /// The record of a Secret as it will be stored.
    record: &'a (dyn Fn(&Secret) -> Option<String> + Sync),
    /// Whether an existing Secret is immutable and its record shows the SealedSecret changed.
    immutable_conflict: &'a (dyn Fn(&Secret) -> bool + Sync),
    /// A drift repair ([`target_secret::merge_repair`]) rather than an update.
    repair: bool,
}

/// Unseals `ss`, trying the `recorded` keys first. On failure, reports it (event with a
/// diagnosis of the first item no key opened, metric) and returns the error for the status.
async fn unseal_or_report<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    keys: &Arc<KeySet>,
    ss: &SealedSecret,
    recorded: Vec<String>,
) -> Result<UnsealOutcome, ReconcileError> {
    if ss.spec.ciphertexts_hashed {
        // A watch cache copy: its items are digests, which no key opens ([`whole_object`]).
        return Err(ReconcileError::Internal {
            source: UnsealTaskError::Task("a watch cache copy cannot be unsealed".to_owned()),
        });
    }
    let e = match ctx
        .unsealer
        .unseal_preferring(Arc::clone(keys), ss.clone(), recorded)
        .await
    {
        Ok(outcome) => return Ok(outcome),
        Err(e) => e,
    };
    let (namespace, name) = names(obj);
    if let UnsealTaskError::Unseal(source @ UnsealError::KeyUnavailable { .. }) = e {
        // Not a verdict on the object: no event, no status, retried (ADR 0005 §2).
        tracing::warn!(error = %source, "a sealing key is unavailable, will retry");
        ctx.metrics
            .unseal_error(ErrorReason::KeyUnavailable, &namespace);
        return Err(ReconcileError::KeyUnavailable { source });
    }
    if matches!(e, UnsealTaskError::Unseal(_)) {
        ctx.metrics
            .key_dependents
            .forget(&format!("{namespace}/{name}"));
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
            .diagnose(Arc::clone(keys), ss.clone(), item.clone())
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
    Err(match e {
        UnsealTaskError::Unseal(source) => ReconcileError::Unseal {
            source,
            reason: diagnosis.map(|(_, d)| d.reason()).unwrap_or_default(),
        },
        source @ UnsealTaskError::Task(_) => ReconcileError::Internal { source },
    })
}

/// The write loop: creates the Secret, or passes the ownership gate, merges and replaces it
/// when it differs. A 409 means someone wrote the Secret between our read and our write (a
/// stale resourceVersion, or AlreadyExists on create): it reads the Secret again and redoes the
/// gate and the merge, as client-go's RetryOnConflict, before reporting anything.
async fn write_secret<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    desired: &Secret,
    failures: &[ItemError],
    mut existing: Option<Secret>,
    hooks: WriteHooks<'_>,
) -> Result<Applied, ReconcileError> {
    let (namespace, name) = names(obj);
    let mut attempt = 0;
    loop {
        let (written, record) = match &existing {
            None => {
                let mut desired = desired.clone();
                value_errors::fill(&mut desired, None, failures);
                let record = (hooks.record)(&desired);
                (
                    ctx.cluster.create_secret(&namespace, &desired).await,
                    record,
                )
            }
            Some(existing) => {
                let uid = obj.metadata.uid.clone().unwrap_or_default();
                if !target_secret::may_update(existing, &uid) {
                    let message = target_secret::unmanaged_message(&name);
                    ctx.cluster
                        .publish(obj, EventType::Warning, REASON_UPDATE_FAILED, message)
                        .await;
                    ctx.metrics.unseal_error(ErrorReason::Unmanaged, &namespace);
                    return Err(ReconcileError::Unmanaged { name });
                }
                if (hooks.immutable_conflict)(existing) {
                    return Err(immutable_refused(obj, ctx, &namespace, &name).await);
                }
                let mut wanted = desired.clone();
                value_errors::fill(&mut wanted, Some(existing), failures);
                let mut candidate = if hooks.repair {
                    target_secret::merge_repair(existing, &wanted)
                } else {
                    target_secret::merge(existing, &wanted)
                };
                value_errors::keep_immutable_data(&mut candidate, existing);
                digest::clear(&mut candidate);
                if !target_secret::needs_update(existing, &candidate) {
                    return Ok(Applied {
                        outcome: Outcome::Unchanged,
                        record: Record::Set((hooks.record)(existing)),
                    });
                }
                let record = (hooks.record)(&candidate);
                (
                    ctx.cluster
                        .replace_secret(&namespace, &name, &candidate)
                        .await,
                    record,
                )
            }
        };
        match written {
            Ok(()) => {
                return Ok(Applied {
                    outcome: if hooks.repair && existing.is_some() {
                        Outcome::Repaired
                    } else {
                        Outcome::Written
                    },
                    record: Record::Set(record),
                });
            }
            Err(e) if is_conflict(&e) && attempt < CONFLICT_RETRIES => {
                attempt += 1;
                tracing::debug!(attempt, "conflict writing the Secret; reading it again");
                existing = match ctx.cluster.get_secret(&namespace, &name).await {
                    Ok(fresh) => fresh,
                    Err(e) => return Err(update_failed(obj, ctx, &namespace, &name, e).await),
                };
            }
            Err(e) => return Err(update_failed(obj, ctx, &namespace, &name, e).await),
        }
    }
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
        ctx.metrics.sealed_ages.observe(&key, &obj);
        tracing::debug!("reconciling");
        let keys = ctx.keys.snapshot();
        let mut for_copies = None;
        let outcome = apply(&obj, &ctx, &keys, &mut for_copies).await;
        // Fan-out (ADR 0007) once the SealedSecret's own Secret is current.
        let copies = match &outcome {
            Ok(_) if fan_out::concerns(&obj) => {
                fan_out::sync(&obj, &ctx, &keys, for_copies.take()).await
            }
            _ => fan_out::Outcome::default(),
        };
        drop(for_copies);
        // How long templates ran may depend on a plaintext: a SealedSecret with templates
        // reports (status, event) no sooner than REPORT_DELAY after the reconcile began, and
        // templates stop well before that (UnsealOptions::template_time).
        if !obj.spec.template.data.is_empty()
            && (copies.unsealed
                || outcome
                    .as_ref()
                    .map_or(true, |applied| applied.outcome.unsealed()))
        {
            tokio::time::sleep_until(started + REPORT_DELAY).await;
        }
        if let Err(e @ ReconcileError::KeyUnavailable { .. }) = outcome {
            // The status keeps its last verdict: the token being away says nothing about it.
            return Err(e);
        }
        let message = outcome.as_ref().err().map(ToString::to_string);
        let status_input = match (&outcome, &message) {
            (Err(e), Some(message)) => Err(Failure {
                message,
                reason: e.condition_reason(),
                retrying: will_retry(&ctx, &key, e),
            }),
            _ => Ok(()),
        };
        let (transitioned, status_failed) = update_status(
            &obj,
            &ctx,
            status_input,
            outcome
                .as_ref()
                .ok()
                .and_then(|applied| match &applied.record {
                    Record::Keep => None,
                    Record::Set(record) => Some(record),
                }),
            copies.condition.as_ref(),
        )
        .await;
        match outcome {
            Ok(Applied { outcome, record }) => {
                ctx.retries().remove(&key);
                if !status_failed && let Record::Set(Some(record)) = &record {
                    ctx.drift.remember(&key, record);
                }
                if outcome == Outcome::Repaired {
                    // Said in place of `Unsealed`: the Secret's name only, never what differed.
                    let name = obj.metadata.name.as_deref().unwrap_or_default();
                    ctx.metrics.secrets_repaired.inc();
                    ctx.drift.repaired(&key, tokio::time::Instant::now());
                    ctx.cluster
                        .publish(
                            &obj,
                            EventType::Warning,
                            REASON_SECRET_REPAIRED,
                            repaired_message(name),
                        )
                        .await;
                } else if outcome.unsealed() || transitioned {
                    // Upstream emits `Unsealed` on every pass; we emit it when the SealedSecret
                    // was unsealed (not skipped by its digest) or just became Synced. Whether
                    // the Secret then needed a write is not told: it can depend on a plaintext.
                    ctx.cluster
                        .publish(
                            &obj,
                            EventType::Normal,
                            REASON_UNSEALED,
                            MESSAGE_UNSEALED.to_owned(),
                        )
                        .await;
                }
                tracing::debug!(unsealed = outcome.unsealed(), "reconciled");
                // A status write that failed (etcd restarting, say) is redone: the next pass
                // finds the Secret current by its digest and only writes the status.
                Ok(match outcome {
                    Outcome::RepairDeferred(wait) => Action::requeue(wait),
                    _ if status_failed => Action::requeue(STATUS_RETRY_DELAY),
                    _ if copies.retry => Action::requeue(FAN_OUT_RETRY_DELAY),
                    _ => Action::await_change(),
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

/// When a reconcile whose fan-out could not finish (namespaces not listed yet, a copy not
/// written) is redone.
const FAN_OUT_RETRY_DELAY: Duration = Duration::from_secs(10);

/// When a reconcile whose status write failed is redone.
const STATUS_RETRY_DELAY: Duration = Duration::from_secs(2);

/// A SealedSecret disappeared (SPEC §3.6 step 2, §3.3 delete handler).
pub async fn handle_deleted<C: Cluster>(obj: &SealedSecretObject, ctx: &Context<C>) {
    let (namespace, name) = names(obj);
    ctx.metrics.unseal_requests.inc();
    ctx.metrics
        .forget_condition(&namespace, &name, &obj.instance_label());
    ctx.metrics
        .key_dependents
        .forget(&format!("{namespace}/{name}"));
    ctx.metrics
        .sealed_ages
        .forget(&format!("{namespace}/{name}"));
    ctx.retries().remove(&obj.key());
    ctx.drift.forget(&obj.key());
    if fan_out::concerns(obj) {
        fan_out::deleted(obj, ctx).await;
    }
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

#[cfg(test)]
mod tests;
