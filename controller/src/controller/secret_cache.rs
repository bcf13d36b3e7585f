//! The Secret watch cache: what the digest check needs of each Secret a SealedSecret may have
//! written, in a compact form, keyed by `namespace/name`.
//!
//! A k8s-openapi [`Secret`] in kube's reflector store costs about 2.5 KB for three small
//! values: the `Secret` and `ObjectMeta` structs (about 450 bytes, mostly empty options), a
//! B-tree leaf of eleven slots for its data however few values it has, and a store key that
//! repeats its name, namespace, `uid` and `resourceVersion`. A [`CachedSecret`] keeps only what
//! [`crate::digest`] and the reconcile read (type, labels, annotations, owner references, data)
//! in boxed slices, and the values zeroized when it is dropped. The reconcile gets a `Secret`
//! rebuilt from it ([`SecretCache::get`]); every write still starts from a Secret read from the
//! API server.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::runtime::watcher;
use zeroize::Zeroizing;

type Pairs = Box<[(Box<str>, Box<str>)]>;
/// Data values, zeroized when dropped.
type Values = Box<[(Box<str>, Zeroizing<Box<[u8]>>)]>;

/// What the cache keeps of one Secret.
struct CachedSecret {
    type_: Option<Box<str>>,
    immutable: Option<bool>,
    labels: Option<Pairs>,
    annotations: Option<Pairs>,
    owner_references: Option<Box<[OwnerReference]>>,
    data: Option<Values>,
}

fn pairs(map: Option<&BTreeMap<String, String>>) -> Option<Pairs> {
    map.map(|m| {
        m.iter()
            .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
            .collect()
    })
}

fn map(pairs: Option<&Pairs>) -> Option<BTreeMap<String, String>> {
    pairs.map(|p| {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

impl CachedSecret {
    /// Copies what is kept of `secret` (not the rest of it: the watch event goes on).
    fn of(secret: &Secret) -> Self {
        let meta = &secret.metadata;
        Self {
            type_: secret.type_.as_deref().map(Into::into),
            immutable: secret.immutable,
            labels: pairs(meta.labels.as_ref()),
            annotations: pairs(meta.annotations.as_ref()),
            owner_references: meta.owner_references.as_deref().map(Into::into),
            data: secret.data.as_ref().map(|d| {
                d.iter()
                    .map(|(k, v)| (k.as_str().into(), Zeroizing::new(v.0.as_slice().into())))
                    .collect()
            }),
        }
    }

    fn to_secret(&self, namespace: &str, name: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                labels: map(self.labels.as_ref()),
                annotations: map(self.annotations.as_ref()),
                owner_references: self.owner_references.as_deref().map(<[_]>::to_vec),
                ..ObjectMeta::default()
            },
            type_: self.type_.as_deref().map(str::to_owned),
            immutable: self.immutable,
            data: self.data.as_ref().map(|d| {
                d.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect()
            }),
            string_data: None,
        }
    }
}

fn key(namespace: &str, name: &str) -> Box<str> {
    format!("{namespace}/{name}").into()
}

fn key_of(secret: &Secret) -> Option<Box<str>> {
    Some(key(
        secret.metadata.namespace.as_deref()?,
        secret.metadata.name.as_deref()?,
    ))
}

#[derive(Default)]
struct Inner {
    objects: HashMap<Box<str>, CachedSecret>,
    /// The listing under way (between `Init` and `InitDone`); the previous one is read
    /// meanwhile, as kube's reflector does.
    listing: Option<HashMap<Box<str>, CachedSecret>>,
}

/// The Secret watch cache, fed by [`apply`](Self::apply) with the watch's events.
#[derive(Clone, Default)]
pub struct SecretCache {
    inner: Arc<RwLock<Inner>>,
}

impl SecretCache {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies one watch event.
    pub fn apply(&self, event: &watcher::Event<Secret>) {
        let mut inner = self.write();
        match event {
            watcher::Event::Init => inner.listing = Some(HashMap::new()),
            watcher::Event::InitApply(secret) => {
                if let Some(key) = key_of(secret) {
                    let cached = CachedSecret::of(secret);
                    inner.listing.get_or_insert_default().insert(key, cached);
                }
            }
            watcher::Event::InitDone => {
                if let Some(listing) = inner.listing.take() {
                    inner.objects = listing;
                    inner.objects.shrink_to_fit();
                }
            }
            watcher::Event::Apply(secret) => {
                if let Some(key) = key_of(secret) {
                    let cached = CachedSecret::of(secret);
                    inner.objects.insert(key, cached);
                }
            }
            watcher::Event::Delete(secret) => {
                if let Some(key) = key_of(secret) {
                    inner.objects.remove(&key);
                }
            }
        }
    }

    /// The cached Secret `namespace/name`, rebuilt as a `Secret` (name, namespace, type,
    /// labels, annotations, owner references, data).
    #[must_use]
    pub fn get(&self, namespace: &str, name: &str) -> Option<Secret> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .objects
            .get(&*key(namespace, name))
            .map(|c| c.to_secret(namespace, name))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .objects
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, value: &[u8]) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some("u-1".into()),
                resource_version: Some("42".into()),
                labels: Some([("l".to_owned(), "1".to_owned())].into()),
                annotations: Some([("a".to_owned(), "2".to_owned())].into()),
                owner_references: Some(vec![OwnerReference {
                    api_version: "bitnami.com/v1alpha1".into(),
                    kind: "SealedSecret".into(),
                    name: name.into(),
                    uid: "ss-uid".into(),
                    controller: Some(true),
                    ..OwnerReference::default()
                }]),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".into()),
            immutable: Some(false),
            data: Some([("k".to_owned(), ByteString(value.to_vec()))].into()),
            string_data: None,
        }
    }

    #[test]
    fn keeps_what_the_digest_reads() {
        let cache = SecretCache::default();
        let s = secret("a", b"v");
        cache.apply(&watcher::Event::Apply(s.clone()));
        let got = cache.get("ns", "a").unwrap();
        assert_eq!(got.type_, s.type_);
        assert_eq!(got.immutable, s.immutable);
        assert_eq!(got.data, s.data);
        assert_eq!(got.metadata.labels, s.metadata.labels);
        assert_eq!(got.metadata.annotations, s.metadata.annotations);
        assert_eq!(got.metadata.owner_references, s.metadata.owner_references);
        assert_eq!(got.metadata.name.as_deref(), Some("a"));
        assert_eq!(got.metadata.namespace.as_deref(), Some("ns"));
        // Not kept: what no check reads.
        assert_eq!(got.metadata.uid, None);
        assert_eq!(got.metadata.resource_version, None);
        // Absent stays absent (a digest covers `None` and empty alike, but keep them apart).
        let mut bare = secret("b", b"");
        bare.data = None;
        bare.metadata.labels = None;
        cache.apply(&watcher::Event::Apply(bare));
        let got = cache.get("ns", "b").unwrap();
        assert_eq!(got.data, None);
        assert_eq!(got.metadata.labels, None);
        assert!(cache.get("other", "a").is_none());
    }

    #[test]
    fn follows_events_and_relists() {
        let cache = SecretCache::default();
        cache.apply(&watcher::Event::Init);
        cache.apply(&watcher::Event::InitApply(secret("a", b"1")));
        // Until the listing is done, nothing of it is read.
        assert!(cache.get("ns", "a").is_none());
        cache.apply(&watcher::Event::InitDone);
        assert_eq!(cache.len(), 1);
        cache.apply(&watcher::Event::Apply(secret("b", b"2")));
        cache.apply(&watcher::Event::Apply(secret("a", b"3")));
        assert_eq!(
            cache.get("ns", "a").unwrap().data.unwrap()["k"],
            ByteString(b"3".to_vec())
        );
        cache.apply(&watcher::Event::Delete(secret("b", b"2")));
        assert!(cache.get("ns", "b").is_none());
        // A relist replaces the whole cache, and the old one is read until it is done.
        cache.apply(&watcher::Event::Init);
        cache.apply(&watcher::Event::InitApply(secret("c", b"4")));
        assert!(cache.get("ns", "a").is_some());
        cache.apply(&watcher::Event::InitDone);
        assert!(cache.get("ns", "a").is_none());
        assert!(cache.get("ns", "c").is_some());
        assert_eq!(cache.len(), 1);
    }
}
