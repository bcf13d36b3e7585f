//! Drift repair (docs/decisions/0006-drift-repair.md): whether a SealedSecret wants its Secret
//! put back when someone else changed it, how often one Secret is put back while something keeps
//! changing it, and the records this process wrote last.
//!
//! A reconcile tells a drift from a changed SealedSecret by the record's sealed tag
//! ([`digest::Check::Drifted`](crate::digest::Check)); this module holds only the per-object
//! state around that decision.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use sealed_secrets_core::names::DRIFT_REPAIR_ANNOTATION;
use tokio::time::Instant;

use crate::resource::SealedSecretObject;

/// Repairs of one Secret that are never delayed, however close together.
pub const FREE_REPAIRS: u32 = 3;
/// The longest wait between two repairs of one Secret.
pub const MAX_REPAIR_DELAY: Duration = Duration::from_secs(300);
/// A Secret not repaired for this long starts again with [`FREE_REPAIRS`].
pub const REPAIR_WINDOW: Duration = Duration::from_secs(600);

/// Whether `obj` wants its Secret put back when it drifts: yes unless its annotation
/// `sealed-secrets-rs/drift-repair` is exactly `"false"`.
#[must_use]
pub fn repair_enabled(obj: &SealedSecretObject) -> bool {
    obj.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DRIFT_REPAIR_ANNOTATION))
        .is_none_or(|v| v != "false")
}

/// How long the `n`-th repair in a row (1-based) waits after the one before: nothing for the
/// first [`FREE_REPAIRS`], then 1 s doubling up to [`MAX_REPAIR_DELAY`].
#[must_use]
pub fn repair_delay(n: u32) -> Duration {
    if n <= FREE_REPAIRS {
        return Duration::ZERO;
    }
    let doublings = (n - FREE_REPAIRS - 1).min(16);
    Duration::from_secs(1u64 << doublings).min(MAX_REPAIR_DELAY)
}

#[derive(Debug, Clone, Copy)]
struct Streak {
    /// Repairs in a row, each less than [`REPAIR_WINDOW`] after the one before.
    count: u32,
    last: Instant,
}

/// Per-object state of drift repair, keyed by `namespace/name`; an entry lives until its
/// SealedSecret is deleted.
#[derive(Debug, Default)]
pub struct DriftState {
    streaks: Mutex<HashMap<String, Streak>>,
    /// The record (`status.unsealedDigest`) of the last pass whose status write succeeded. Our
    /// own Secret write comes back as a watch event, often before the SealedSecret watch shows
    /// the status written after it: this copy lets that pass verify without RSA work.
    records: Mutex<HashMap<String, String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl DriftState {
    /// How long the next repair of `object` must still wait (`None`: it may go now).
    #[must_use]
    pub fn deferral(&self, object: &str, now: Instant) -> Option<Duration> {
        let streak = *lock(&self.streaks).get(object)?;
        let since = now.saturating_duration_since(streak.last);
        if since >= REPAIR_WINDOW {
            return None;
        }
        repair_delay(streak.count.saturating_add(1))
            .checked_sub(since)
            .filter(|wait| !wait.is_zero())
    }

    /// `object`'s Secret was just put back.
    pub fn repaired(&self, object: &str, now: Instant) {
        let mut streaks = lock(&self.streaks);
        let streak = streaks.entry(object.to_owned()).or_insert(Streak {
            count: 0,
            last: now,
        });
        if now.saturating_duration_since(streak.last) >= REPAIR_WINDOW {
            streak.count = 0;
        }
        streak.count = streak.count.saturating_add(1);
        streak.last = now;
    }

    /// The record last written to `object`'s status by this process.
    #[must_use]
    pub fn remembered(&self, object: &str) -> Option<String> {
        lock(&self.records).get(object).cloned()
    }

    /// `record` was written to `object`'s status.
    pub fn remember(&self, object: &str, record: &str) {
        let mut records = lock(&self.records);
        if records.get(object).map(String::as_str) != Some(record) {
            records.insert(object.to_owned(), record.to_owned());
        }
    }

    /// `object` was deleted.
    pub fn forget(&self, object: &str) {
        lock(&self.streaks).remove(object);
        lock(&self.records).remove(object);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annotation_turns_it_off_only_when_false() {
        let with = |value: Option<&str>| {
            let mut obj: SealedSecretObject =
                serde_json::from_value(serde_json::json!({"spec": {}})).unwrap();
            obj.metadata.annotations =
                value.map(|v| [(DRIFT_REPAIR_ANNOTATION.to_owned(), v.to_owned())].into());
            repair_enabled(&obj)
        };
        assert!(with(None));
        assert!(with(Some("true")));
        assert!(with(Some("False")));
        assert!(!with(Some("false")));
    }

    #[test]
    fn repairs_in_a_row_slow_down_then_start_again() {
        assert_eq!(repair_delay(3), Duration::ZERO);
        assert_eq!(repair_delay(4), Duration::from_secs(1));
        assert_eq!(repair_delay(5), Duration::from_secs(2));
        assert_eq!(repair_delay(100), MAX_REPAIR_DELAY);
        let state = DriftState::default();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(state.deferral("ns/s", t0), None);
            state.repaired("ns/s", t0 + Duration::from_millis(i));
        }
        let t1 = t0 + Duration::from_millis(2);
        assert_eq!(state.deferral("ns/s", t1), Some(Duration::from_secs(1)));
        assert_eq!(state.deferral("ns/other", t1), None);
        state.repaired("ns/s", t1 + Duration::from_secs(1));
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(state.deferral("ns/s", t2), Some(Duration::from_secs(2)));
        assert_eq!(state.deferral("ns/s", t2 + Duration::from_secs(2)), None);
        // Quiet for a window: free again.
        let later = t2 + REPAIR_WINDOW;
        assert_eq!(state.deferral("ns/s", later), None);
        state.repaired("ns/s", later);
        assert_eq!(state.deferral("ns/s", later), None);
        state.forget("ns/s");
        assert_eq!(state.deferral("ns/s", later), None);
    }
}
