//! What of a SealedSecret watch event should trigger a reconcile ([`TriggerFilter`]).

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hash as _, Hasher as _, RandomState};
use std::time::{Duration, Instant};

use crate::resource::SealedSecretObject;

/// Hash of what should trigger a reconcile: the object itself (uid: one deleted and created
/// again under its name is new), generation (spec), labels and annotations (scope annotations
/// change the unsealed result; the instance label is a metric label). Status-only updates are
/// ignored, as upstream; metadata changes are not (SPEC §7.11).
fn trigger_hash(obj: &SealedSecretObject) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    obj.metadata.uid.hash(&mut h);
    obj.metadata.generation.hash(&mut h);
    obj.metadata.labels.hash(&mut h);
    obj.metadata.annotations.hash(&mut h);
    h.finish()
}

/// How long an object's last hash is trusted (kube's `predicate_filter` default): an object
/// not seen for that long passes again, and the entries of deleted objects go.
const TTL: Duration = Duration::from_secs(3600);

struct Seen {
    hash: u64,
    last_seen: Instant,
}

/// Passes a SealedSecret on when its [`trigger_hash`] changed since it was last seen: kube's
/// `predicate_filter`, with an entry of 32 bytes per object instead of its copy of the name,
/// namespace and uid (about 250 bytes). Objects are told apart by a keyed hash of their
/// namespace and name: were two to collide, the worst outcome is an extra reconcile (each
/// would find the other's hash), never a missed one short of a 64-bit match of the trigger
/// hashes too, and the key is unknown to whoever names the objects.
pub(super) struct TriggerFilter {
    seen: HashMap<u64, Seen>,
    names: RandomState,
    last_evicted: Instant,
}

impl Default for TriggerFilter {
    fn default() -> Self {
        Self {
            seen: HashMap::new(),
            names: RandomState::new(),
            last_evicted: Instant::now(),
        }
    }
}

impl TriggerFilter {
    /// Whether `obj` should trigger a reconcile; remembers it.
    pub(super) fn changed(&mut self, obj: &SealedSecretObject) -> bool {
        self.changed_at(obj, Instant::now())
    }

    fn changed_at(&mut self, obj: &SealedSecretObject, now: Instant) -> bool {
        if now.duration_since(self.last_evicted) >= TTL {
            self.seen
                .retain(|_, seen| now.duration_since(seen.last_seen) < TTL);
            self.seen.shrink_to_fit();
            self.last_evicted = now;
        }
        let key = self.names.hash_one((
            obj.metadata.namespace.as_deref(),
            obj.metadata.name.as_deref(),
        ));
        let hash = trigger_hash(obj);
        match self.seen.insert(
            key,
            Seen {
                hash,
                last_seen: now,
            },
        ) {
            Some(old) => old.hash != hash || now.duration_since(old.last_seen) >= TTL,
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn obj(name: &str, uid: &str, generation: i64) -> SealedSecretObject {
        SealedSecretObject {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(uid.into()),
                generation: Some(generation),
                ..ObjectMeta::default()
            },
            ..SealedSecretObject::default()
        }
    }

    #[test]
    fn passes_changes_only() {
        let mut f = TriggerFilter::default();
        let now = Instant::now();
        let a = obj("a", "u1", 1);
        assert!(f.changed_at(&a, now));
        // The same again (a status update, a relist): dropped.
        assert!(!f.changed_at(&a, now));
        // Another object of the same content passes: objects are told apart by name.
        assert!(f.changed_at(&obj("b", "u1", 1), now));
        // A new generation, new labels or annotations, a new object under the name: passed.
        assert!(f.changed_at(&obj("a", "u1", 2), now));
        let mut labelled = obj("a", "u1", 2);
        labelled.metadata.labels = Some([("l".to_owned(), "1".to_owned())].into());
        assert!(f.changed_at(&labelled, now));
        let mut annotated = labelled.clone();
        annotated.metadata.annotations = Some([("x".to_owned(), "1".to_owned())].into());
        assert!(f.changed_at(&annotated, now));
        assert!(!f.changed_at(&annotated, now));
        assert!(f.changed_at(&obj("a", "u2", 2), now));
        // Status changes do not count.
        let mut with_status = obj("a", "u2", 2);
        with_status.status = Some(Default::default());
        assert!(!f.changed_at(&with_status, now));
    }

    #[test]
    fn entries_expire() {
        let mut f = TriggerFilter::default();
        let start = Instant::now();
        let a = obj("a", "u1", 1);
        assert!(f.changed_at(&a, start));
        // Seen again after the TTL: passed, as kube's filter does.
        assert!(f.changed_at(&a, start + TTL));
        // The entries of objects not seen within the TTL are dropped.
        assert!(f.changed_at(&obj("b", "u1", 1), start + TTL));
        f.changed_at(&a, start + TTL * 2 + Duration::from_secs(1));
        assert_eq!(f.seen.len(), 1);
    }
}
