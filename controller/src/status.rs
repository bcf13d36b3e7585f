//! The `Synced` condition and when to write the status subresource (SPEC §3.8).
//!
//! Upstream writes only when the condition's status flips or `observedGeneration` lags. We also
//! write when the error message changes while the status stays `False` (SPEC §7.11: upstream
//! leaves a stale message). Status writes never trigger a reconcile here (the watch filters on
//! generation, labels and annotations), so this cannot loop.
//!
//! Next to `Synced` (always the first condition, which upstream's printer columns read), a
//! failure also sets one of the standard conditions kstatus reads (Flux's health checks,
//! `docs/gitops-health.md`): `Stalled=True` when the controller waits for a change (an unseal
//! failure, an immutable Secret, retries used up), `Reconciling=True` while it retries. Both
//! are removed on success. They say nothing `Synced` does not: same message, and the reason is
//! `Synced`'s (or [`STALLED_REASON`] / [`RECONCILING_REASON`] when it has none).

use sealed_secrets_core::types::{SealedSecretCondition, SealedSecretStatus};
use time::OffsetDateTime;
use time::macros::format_description;

/// The condition upstream writes.
pub const SYNCED: &str = "Synced";
/// kstatus: the controller gave up until something changes (kstatus `Failed`).
pub const STALLED: &str = "Stalled";
/// kstatus: the controller is retrying (kstatus `InProgress`).
pub const RECONCILING: &str = "Reconciling";
/// `Stalled`'s reason when `Synced` has none.
pub const STALLED_REASON: &str = "Failed";
/// `Reconciling`'s reason when `Synced` has none.
pub const RECONCILING_REASON: &str = "Retrying";

/// A failed reconcile, as the status reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure<'a> {
    /// The error text (`Synced`'s message).
    pub message: &'a str,
    /// `Synced`'s reason: empty as upstream unless diagnosed.
    pub reason: &'a str,
    /// Whether the controller will try again by itself (with back-off).
    pub retrying: bool,
}

/// `metav1.Time` text: RFC 3339 in UTC, whole seconds.
#[must_use]
pub fn format_time(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(fmt)
        .unwrap_or_default()
}

/// The status after one reconcile, and whether it must be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextStatus {
    pub status: SealedSecretStatus,
    pub write: bool,
    /// The condition's status flipped (or the condition is new).
    pub transitioned: bool,
}

/// Computes the status after a reconcile whose outcome is `result`, for an object at
/// `generation`, at time `now`.
#[must_use]
pub fn next_status(
    current: Option<&SealedSecretStatus>,
    generation: i64,
    result: Result<(), Failure<'_>>,
    now: OffsetDateTime,
) -> NextStatus {
    let mut status = current.cloned().unwrap_or_default();
    let index = if let Some(i) = status.conditions.iter().position(|c| c.type_ == SYNCED) {
        i
    } else {
        status.conditions.push(SealedSecretCondition {
            type_: SYNCED.to_owned(),
            ..SealedSecretCondition::default()
        });
        status.conditions.len() - 1
    };
    let (new_status, message, reason) = match result {
        Ok(()) => ("True", String::new(), ""),
        Err(f) => ("False", f.message.to_owned(), f.reason),
    };
    let stamp = format_time(now);
    let condition = &mut status.conditions[index];
    let message_changed = condition.message != message || condition.reason != reason;
    condition.message = message;
    reason.clone_into(&mut condition.reason);
    condition.last_update_time = Some(stamp.clone());
    let transitioned = condition.status != new_status;
    if transitioned {
        condition.last_transition_time = Some(stamp);
        new_status.clone_into(&mut condition.status);
    }
    let (stalled, reconciling) = match result {
        Ok(()) => (None, None),
        Err(f) => {
            let reason = |fallback| {
                if f.reason.is_empty() {
                    fallback
                } else {
                    f.reason
                }
            };
            if f.retrying {
                (None, Some((f.message, reason(RECONCILING_REASON))))
            } else {
                (Some((f.message, reason(STALLED_REASON))), None)
            }
        }
    };
    let kstatus_changed = set_condition(&mut status.conditions, STALLED, stalled, now)
        | set_condition(&mut status.conditions, RECONCILING, reconciling, now);
    let generation_lags = status.observed_generation != generation;
    status.observed_generation = generation;
    NextStatus {
        status,
        write: transitioned || generation_lags || message_changed || kstatus_changed,
        transitioned,
    }
}

/// Sets condition `type_` to `True` with (message, reason), or removes it (`None`); whether
/// anything but its update time changed.
fn set_condition(
    conditions: &mut Vec<SealedSecretCondition>,
    type_: &str,
    wanted: Option<(&str, &str)>,
    now: OffsetDateTime,
) -> bool {
    let at = conditions.iter().position(|c| c.type_ == type_);
    match (wanted, at) {
        (None, None) => false,
        (None, Some(i)) => {
            conditions.remove(i);
            true
        }
        (Some((message, reason)), at) => {
            let stamp = format_time(now);
            let i = at.unwrap_or_else(|| {
                conditions.push(SealedSecretCondition {
                    type_: type_.to_owned(),
                    ..SealedSecretCondition::default()
                });
                conditions.len() - 1
            });
            let c = &mut conditions[i];
            let changed = c.status != "True" || c.message != message || c.reason != reason;
            if c.status != "True" {
                "True".clone_into(&mut c.status);
                c.last_transition_time = Some(stamp.clone());
            }
            message.clone_into(&mut c.message);
            reason.clone_into(&mut c.reason);
            c.last_update_time = Some(stamp);
            changed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T1: OffsetDateTime = datetime!(2024-01-02 03:04:05 UTC);

    fn failure<'a>(message: &'a str, reason: &'a str) -> Failure<'a> {
        Failure {
            message,
            reason,
            retrying: false,
        }
    }
    const T2: OffsetDateTime = datetime!(2024-01-02 03:05:00 UTC);

    #[test]
    fn first_success_sets_equal_times() {
        let next = next_status(None, 1, Ok(()), T1);
        assert!(next.write && next.transitioned);
        let c = &next.status.conditions[0];
        assert_eq!(c.type_, "Synced");
        assert_eq!(c.status, "True");
        assert_eq!(c.message, "");
        assert_eq!(c.last_update_time.as_deref(), Some("2024-01-02T03:04:05Z"));
        assert_eq!(c.last_transition_time, c.last_update_time);
        assert_eq!(next.status.observed_generation, 1);
    }

    #[test]
    fn unchanged_success_is_not_written() {
        let first = next_status(None, 1, Ok(()), T1).status;
        let again = next_status(Some(&first), 1, Ok(()), T2);
        assert!(!again.write);
        assert!(!again.transitioned);
    }

    #[test]
    fn spec_update_bumps_generation_and_keeps_transition_time() {
        let first = next_status(None, 1, Ok(()), T1).status;
        let second = next_status(Some(&first), 2, Ok(()), T2);
        assert!(second.write);
        assert!(!second.transitioned);
        let c = &second.status.conditions[0];
        assert_eq!(second.status.observed_generation, 2);
        assert_eq!(
            c.last_transition_time.as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(c.last_update_time.as_deref(), Some("2024-01-02T03:05:00Z"));
        assert_ne!(c.last_transition_time, c.last_update_time);
    }

    #[test]
    fn failure_then_recovery() {
        let failed = next_status(
            None,
            1,
            Err(failure("no key could decrypt secret (foo)", "")),
            T1,
        );
        assert!(failed.write);
        let c = &failed.status.conditions[0];
        assert_eq!(
            (c.status.as_str(), c.message.as_str()),
            ("False", "no key could decrypt secret (foo)")
        );
        // Same failure again: nothing to write.
        let same = next_status(
            Some(&failed.status),
            1,
            Err(failure("no key could decrypt secret (foo)", "")),
            T2,
        );
        assert!(!same.write);
        // New message while still False: written (an improvement over upstream).
        let other = next_status(
            Some(&failed.status),
            1,
            Err(failure("other", "WrongNamespace")),
            T2,
        );
        assert!(other.write && !other.transitioned);
        assert_eq!(other.status.conditions[0].reason, "WrongNamespace");
        // Recovery flips and clears the message.
        let ok = next_status(Some(&failed.status), 1, Ok(()), T2);
        assert!(ok.write && ok.transitioned);
        assert_eq!(ok.status.conditions[0].message, "");
        assert_eq!(ok.status.conditions[0].status, "True");
        assert_eq!(ok.status.conditions[0].reason, "");
    }

    #[test]
    fn failures_set_the_kstatus_conditions_and_success_removes_them() {
        let types = |s: &SealedSecretStatus| {
            s.conditions
                .iter()
                .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
                .collect::<Vec<_>>()
        };
        let row = |t: &str, s: &str, r: &str| (t.to_owned(), s.to_owned(), r.to_owned());
        // A retried failure: Reconciling, with Synced's message.
        let retrying = Failure {
            message: "cannot write",
            reason: "",
            retrying: true,
        };
        let first = next_status(None, 1, Err(retrying), T1);
        assert_eq!(
            types(&first.status),
            [
                row("Synced", "False", ""),
                row("Reconciling", "True", "Retrying")
            ]
        );
        assert_eq!(first.status.conditions[1].message, "cannot write");
        // Retries used up: Stalled replaces Reconciling, and that is written.
        let gave_up = next_status(
            Some(&first.status),
            1,
            Err(Failure {
                retrying: false,
                ..retrying
            }),
            T2,
        );
        assert!(gave_up.write && !gave_up.transitioned);
        assert_eq!(
            types(&gave_up.status),
            [row("Synced", "False", ""), row("Stalled", "True", "Failed")]
        );
        // A diagnosed unseal failure keeps its reason on Stalled; the same one again is not
        // written.
        let wrong = failure("no key could decrypt secret (a)", "WrongNamespace");
        let stalled = next_status(Some(&gave_up.status), 1, Err(wrong), T2);
        assert!(stalled.write);
        assert_eq!(stalled.status.conditions[1].reason, "WrongNamespace");
        assert!(!next_status(Some(&stalled.status), 1, Err(wrong), T2).write);
        // Success: only Synced is left.
        let ok = next_status(Some(&stalled.status), 1, Ok(()), T2);
        assert!(ok.write);
        assert_eq!(types(&ok.status), [row("Synced", "True", "")]);
    }

    #[test]
    fn other_conditions_are_kept() {
        let current = SealedSecretStatus {
            observed_generation: 1,
            conditions: vec![SealedSecretCondition {
                type_: "Other".into(),
                status: "True".into(),
                ..SealedSecretCondition::default()
            }],
            unsealed_digest: None,
        };
        let next = next_status(Some(&current), 1, Ok(()), T1);
        assert_eq!(next.status.conditions.len(), 2);
        assert_eq!(next.status.conditions[0].type_, "Other");
    }
}
