//! How old the sealed values are, from the `sealed-secrets-rs/sealed-at` record `kubeseal-rs`
//! writes (when each item was sealed): the count of SealedSecrets whose oldest recorded item is
//! older than each of a few fixed ages, and of those whose record misses an item. No object
//! names: the cardinality is the number of ages.
//!
//! Only the annotation is read, never anything unsealed: whether a value changed is not
//! observed (a change of plaintext seen from outside the Secret would tell who can update a
//! SealedSecret whether two ciphertexts hold the same value). A SealedSecret without the
//! annotation (sealed by upstream's `kubeseal`, or without `--record-fingerprint`) is not
//! counted and costs no memory here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus::{IntGauge, IntGaugeVec, Opts, Registry};
use sealed_secrets_core::sealed_at::{self, SEALED_AT_ANNOTATION};

use crate::resource::SealedSecretObject;

/// `sealed_secrets_rs_sealed_values_older_than{age}`.
pub const OLDER_THAN_METRIC: &str = "sealed_secrets_rs_sealed_values_older_than";
/// `sealed_secrets_rs_sealed_values_unrecorded`.
pub const UNRECORDED_METRIC: &str = "sealed_secrets_rs_sealed_values_unrecorded";

const DAY: i64 = 86_400;
/// The `age` label values and their length in seconds.
const AGES: [(&str, i64); 6] = [
    ("7d", 7 * DAY),
    ("30d", 30 * DAY),
    ("90d", 90 * DAY),
    ("180d", 180 * DAY),
    ("365d", 365 * DAY),
    ("730d", 730 * DAY),
];

/// What one SealedSecret's record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Unix time of its oldest recorded item (`None`: no item has a time).
    pub oldest: Option<i64>,
    /// Some item has no time (or the annotation does not parse).
    pub incomplete: bool,
}

impl Record {
    /// The record of `ss`, `None` when it has no `sealed-at` annotation.
    #[must_use]
    pub fn of(ss: &SealedSecretObject) -> Option<Self> {
        let text = ss
            .metadata
            .annotations
            .as_ref()?
            .get(SEALED_AT_ANNOTATION)?;
        let Ok(times) = sealed_at::parse(text) else {
            return Some(Self {
                oldest: None,
                incomplete: true,
            });
        };
        let mut record = Self {
            oldest: None,
            incomplete: false,
        };
        for item in ss.spec.encrypted_data.iter().flat_map(|items| items.keys()) {
            match times.get(item) {
                Some(at) => {
                    let t = at.unix_timestamp();
                    record.oldest = Some(record.oldest.map_or(t, |o| o.min(t)));
                }
                None => record.incomplete = true,
            }
        }
        Some(record)
    }
}

/// The per-object records and the gauges computed from them at each scrape.
#[derive(Clone)]
pub struct SealedAges {
    older_than: IntGaugeVec,
    unrecorded: IntGauge,
    /// `namespace/name` → its record (only objects that have one).
    by_object: Arc<Mutex<HashMap<String, Record>>>,
}

impl SealedAges {
    /// Creates the gauges and registers them in `registry`.
    ///
    /// # Errors
    /// Registration failed.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let older_than = IntGaugeVec::new(
            Opts::new(
                OLDER_THAN_METRIC,
                "SealedSecrets whose oldest item was sealed longer ago than age (from the sealed-secrets-rs/sealed-at annotation)",
            ),
            &["age"],
        )?;
        let unrecorded = IntGauge::with_opts(Opts::new(
            UNRECORDED_METRIC,
            "SealedSecrets with a sealed-secrets-rs/sealed-at annotation that gives no time for some item",
        ))?;
        for (age, _) in AGES {
            let _ = older_than.with_label_values(&[age]);
        }
        registry.register(Box::new(older_than.clone()))?;
        registry.register(Box::new(unrecorded.clone()))?;
        Ok(Self {
            older_than,
            unrecorded,
            by_object: Arc::default(),
        })
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.by_object
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `object` (`namespace/name`) was seen with `ss` as its current content.
    pub fn observe(&self, object: &str, ss: &SealedSecretObject) {
        match Record::of(ss) {
            Some(record) => {
                self.objects().insert(object.to_owned(), record);
            }
            None => self.forget(object),
        }
    }

    /// `object` is gone.
    pub fn forget(&self, object: &str) {
        self.objects().remove(object);
    }

    /// Sets the gauges for the time `now` (Unix seconds); called before each scrape.
    pub fn refresh(&self, now: i64) {
        let objects = self.objects();
        let mut counts = [0_i64; AGES.len()];
        let mut unrecorded = 0;
        for record in objects.values() {
            if record.incomplete {
                unrecorded += 1;
            }
            if let Some(oldest) = record.oldest {
                let age = now.saturating_sub(oldest);
                for (count, (_, limit)) in counts.iter_mut().zip(AGES) {
                    if age > limit {
                        *count += 1;
                    }
                }
            }
        }
        drop(objects);
        for (count, (age, _)) in counts.into_iter().zip(AGES) {
            self.older_than.with_label_values(&[age]).set(count);
        }
        self.unrecorded.set(unrecorded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(annotation: Option<&str>, items: &[&str]) -> SealedSecretObject {
        let mut ss: SealedSecretObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret",
            "metadata": {"name": "s", "namespace": "n"},
            "spec": {"encryptedData": items.iter().map(|i| ((*i).to_owned(), serde_json::json!("AgB="))).collect::<serde_json::Map<_, _>>()}
        }))
        .unwrap();
        if let Some(text) = annotation {
            ss.metadata
                .annotations
                .get_or_insert_default()
                .insert(SEALED_AT_ANNOTATION.to_owned(), text.to_owned());
        }
        ss
    }

    #[test]
    fn records_count_by_their_oldest_item_and_objects_without_one_are_not_kept() {
        let registry = Registry::new();
        let ages = SealedAges::register(&registry).unwrap();
        // 2026-01-01 and 2026-07-01 (334 and 153 days before now, 2026-12-01).
        let both = r#"{"a":"2026-01-01T00:00:00Z","b":"2026-07-01T00:00:00Z"}"#;
        ages.observe("n/old", &sealed(Some(both), &["a", "b"]));
        ages.observe("n/new", &sealed(Some(both), &["b"]));
        ages.observe(
            "n/missing",
            &sealed(Some(r#"{"a":"2026-11-30T00:00:00Z"}"#), &["a", "c"]),
        );
        ages.observe("n/broken", &sealed(Some("not json"), &["a"]));
        ages.observe("n/upstream", &sealed(None, &["a"]));
        assert_eq!(ages.objects().len(), 4);
        let now = time::macros::datetime!(2026-12-01 00:00 UTC).unix_timestamp();
        ages.refresh(now);
        let get = |age: &str| ages.older_than.with_label_values(&[age]).get();
        assert_eq!(
            AGES.map(|(age, _)| get(age)),
            [2, 2, 2, 1, 0, 0],
            "7d 30d 90d 180d 365d 730d"
        );
        assert_eq!(ages.unrecorded.get(), 2);
        // Resealed without the annotation, or deleted: no longer counted.
        ages.observe("n/old", &sealed(None, &["a"]));
        ages.forget("n/new");
        ages.refresh(now);
        assert_eq!(get("90d"), 0);
        assert_eq!(ages.objects().len(), 2);
    }
}
