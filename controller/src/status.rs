//! The `Synced` condition and when to write the status subresource (SPEC §3.8).
//!
//! Upstream writes only when the condition's status flips or `observedGeneration` lags. We also
//! write when the error message changes while the status stays `False` (SPEC §7.11: upstream
//! leaves a stale message). Status writes never trigger a reconcile here (the watch filters on
//! generation, labels and annotations), so this cannot loop.

use sealed_secrets_core::types::{SealedSecretCondition, SealedSecretStatus};
use time::OffsetDateTime;
use time::macros::format_description;

/// The only condition type.
pub const SYNCED: &str = "Synced";

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

/// Computes the status after a reconcile whose outcome is `result` (`Err` holds the error
/// text and the condition reason, empty as upstream unless diagnosed), for an object at
/// `generation`, at time `now`.
#[must_use]
pub fn next_status(
    current: Option<&SealedSecretStatus>,
    generation: i64,
    result: Result<(), (&str, &str)>,
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
        Err((text, reason)) => ("False", text.to_owned(), reason),
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
    let generation_lags = status.observed_generation != generation;
    status.observed_generation = generation;
    NextStatus {
        status,
        write: transitioned || generation_lags || message_changed,
        transitioned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T1: OffsetDateTime = datetime!(2024-01-02 03:04:05 UTC);
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
        let failed = next_status(None, 1, Err(("no key could decrypt secret (foo)", "")), T1);
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
            Err(("no key could decrypt secret (foo)", "")),
            T2,
        );
        assert!(!same.write);
        // New message while still False: written (an improvement over upstream).
        let other = next_status(
            Some(&failed.status),
            1,
            Err(("other", "WrongNamespace")),
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
