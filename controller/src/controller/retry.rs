//! What happens after a failed reconcile: client-go's per-item back-off, up to
//! `--max-unseal-retries` for transient errors, waiting for a change for the rest, and never
//! giving up while the API server is unavailable. The status reports the same decision
//! ([`will_retry`]: `Reconciling` or `Stalled`).

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;

use super::{Cluster, Context};
use crate::error::{ReconcileError, RetryPolicy};
use crate::resource::SealedSecretObject;

/// The longest wait between retries while the API server is unavailable.
pub const UNAVAILABLE_MAX_DELAY: Duration = Duration::from_secs(60);

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

/// Whether [`error_policy`] will requeue `err` (reported as `Reconciling` rather than
/// `Stalled`): the same decision, from the attempts made so far.
pub(super) fn will_retry<C: Cluster>(ctx: &Context<C>, key: &str, err: &ReconcileError) -> bool {
    match err.retry_policy() {
        RetryPolicy::AwaitChange => false,
        RetryPolicy::UntilAvailable => true,
        RetryPolicy::Backoff => {
            let made = ctx.retries().get(key).copied().unwrap_or(0);
            made.saturating_add(1) <= ctx.config.max_unseal_retries
        }
    }
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
