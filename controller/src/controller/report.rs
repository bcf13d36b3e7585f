//! What a reconcile reports when it ends: the `Synced` condition and the unsealed-digest
//! record in the status (with one retry on a conflict), and the event, metric and status of an
//! update the API server (or the immutable-Secret rule) refused.

use kube::Resource as _;

use time::OffsetDateTime;

use super::{Cluster, Context, names};
use crate::error::{ReconcileError, api_error_text, is_conflict, is_not_found, is_transient};
use crate::events::{EventType, REASON_UPDATE_FAILED};
use crate::metrics::ErrorReason;
use crate::resource::SealedSecretObject;
use crate::status::{Failure, NextStatus, next_status};
use crate::target_secret::{self, IMMUTABLE_ERROR_SUFFIX};

/// Reports an update of an immutable Secret refused without asking the API server (the
/// SealedSecret changed since the Secret was written, [`WriteHooks::immutable_conflict`]): the
/// event, metric and status upstream shows when the API server refuses it.
pub(super) async fn immutable_refused<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    namespace: &str,
    name: &str,
) -> ReconcileError {
    let status = kube::core::Status::failure(
        &format!("Secret \"{name}\" is invalid: data: Forbidden: {IMMUTABLE_ERROR_SUFFIX}"),
        "Invalid",
    )
    .with_code(422);
    update_failed(
        obj,
        ctx,
        namespace,
        name,
        kube::Error::Api(Box::new(status)),
    )
    .await
}

/// How many times a write that hit a 409 is redone on a fresh read within one reconcile.
pub(super) const CONFLICT_RETRIES: u32 = 3;

/// Reports a failed Secret read/create/update: event, metric and error.
pub(super) async fn update_failed<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    namespace: &str,
    name: &str,
    source: kube::Error,
) -> ReconcileError {
    let text = api_error_text(&source);
    let immutable = text.ends_with(IMMUTABLE_ERROR_SUFFIX);
    let message = if immutable {
        target_secret::immutable_message(namespace, name)
    } else {
        text
    };
    ctx.cluster
        .publish(obj, EventType::Warning, REASON_UPDATE_FAILED, message)
        .await;
    ctx.metrics.unseal_error(ErrorReason::Update, namespace);
    if immutable {
        ReconcileError::Immutable { source }
    } else if is_transient(&source) {
        ReconcileError::Unavailable { source }
    } else {
        ReconcileError::SecretApi { source }
    }
}

/// Writes the `Synced` condition when needed (SPEC §3.8); returns whether its status flipped,
/// and whether the write failed (the API server or etcd unavailable).
///
/// `record` is the new `status.unsealedDigest` of a successful pass (`None`: keep the stored
/// one); a changed record is a reason to write. With `--update-status=false` nothing is
/// written, so there is no record and every restart unseals in full.
pub(super) async fn update_status<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    result: Result<(), Failure<'_>>,
    record: Option<&Option<String>>,
    fan_out: Option<&Option<crate::fan_out::Condition>>,
) -> (bool, bool) {
    let (namespace, name) = names(obj);
    let instance = obj.instance_label();
    let generation = obj.metadata.generation.unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    let next = with_fan_out(
        with_record(
            next_status(obj.status.as_ref(), generation, result, now),
            record,
        ),
        fan_out,
        now,
    );
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
                    let next = with_fan_out(
                        with_record(
                            next_status(fresh.status.as_ref(), generation, result, now),
                            record,
                        ),
                        fan_out,
                        now,
                    );
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

/// `next` with the record `record` (if given); a changed record must be written.
pub(super) fn with_record(mut next: NextStatus, record: Option<&Option<String>>) -> NextStatus {
    if let Some(record) = record
        && next.status.unsealed_digest != *record
    {
        next.status.unsealed_digest.clone_from(record);
        next.write = true;
    }
    next
}

/// `next` with the `FanOut` condition set or removed (if given); a change must be written.
fn with_fan_out(
    mut next: NextStatus,
    fan_out: Option<&Option<crate::fan_out::Condition>>,
    now: OffsetDateTime,
) -> NextStatus {
    if let Some(wanted) = fan_out
        && crate::fan_out::apply_condition(&mut next.status.conditions, wanted.as_ref(), now)
    {
        next.write = true;
    }
    next
}

pub(super) fn with_type(mut obj: SealedSecretObject) -> SealedSecretObject {
    obj.api_version = SealedSecretObject::api_version(&()).into_owned();
    obj.kind = SealedSecretObject::kind(&()).into_owned();
    obj
}
