//! Unit tests of the reconciler against a scripted in-memory [`Cluster`].

use super::watch::cache_event;
use super::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::digest::DIGEST_ANNOTATION;
use crate::key_registry::KeyEntry;
use crate::target_secret::IMMUTABLE_ERROR_SUFFIX;
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
use time::OffsetDateTime;

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
    fn cached_secret(&self, namespace: &str, name: &str) -> Option<Secret> {
        lock(&self.cache)
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }
    async fn get_secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, kube::Error> {
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
    harness_with_metrics(config, Metrics::new("test").unwrap())
}

fn harness_with_metrics(config: ReconcileConfig, metrics: Metrics) -> Harness {
    let keys = Arc::new(KeyRegistry::new());
    keys.register(key_entry());
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
        fan_out: true,
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
    // The record is in the SealedSecret's status, the Secret carries nothing of ours.
    assert_eq!(secret.metadata.annotations, None);
    assert!(
        last_status(&h)
            .and_then(|s| s.unsealed_digest)
            .is_some_and(|r| r.starts_with("v3;"))
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
    let Some(kube::runtime::watcher::Event::Apply(cached)) =
        cache_event(kube::runtime::watcher::Event::Apply(stored(&h).unwrap()))
    else {
        panic!("our Secret must be cached");
    };
    assert!(
        cached.data.is_some(),
        "our Secret keeps its data in the cache"
    );
    lock(&h.ctx.cluster.cache).insert(("ns".into(), "s".into()), cached);
    reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
    assert_eq!(h.ctx.cluster.gets.load(Ordering::SeqCst), gets);
    assert_eq!(h.ctx.metrics.unseal_skipped.get(), 2);
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
    assert_eq!(
        events(&h),
        vec![(
            EventType::Warning,
            "SecretRepaired",
            "Secret \"s\" was changed outside its SealedSecret and has been restored".to_owned()
        )]
    );
    assert_eq!(h.ctx.metrics.secrets_repaired.get(), 1);
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
    assert!(matches!(err, ReconcileError::Unavailable { .. }), "{err:?}");
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

/// `--metrics-omit-secret-labels`: after a success and a refused update, `/metrics` shows no
/// `condition_info` series and no SealedSecret name, its namespace only on
/// `unseal_errors_total` (which upstream's flag leaves alone); without the flag the series are
/// there.
#[tokio::test]
async fn omitted_secret_labels_keep_sealed_secrets_out_of_the_metrics() {
    for omit in [false, true] {
        let scrape = |h: &Harness| {
            let body = crate::metrics::exposition::expose(&h.ctx.metrics, None, None).body;
            String::from_utf8(body).unwrap()
        };
        let labelled = |h: &Harness| {
            let mut obj = sealed(h, &[("foo", "bar")], &[]);
            obj.metadata.labels =
                Some([("app.kubernetes.io/instance".to_owned(), "rel-x".to_owned())].into());
            obj
        };
        let metrics = Metrics::new("test").unwrap().omitting_secret_labels(omit);
        let ok = harness_with_metrics(config(), metrics);
        reconcile(Arc::new(labelled(&ok)), Arc::clone(&ok.ctx))
            .await
            .unwrap();
        let refused = harness_with_metrics(
            config(),
            Metrics::new("test").unwrap().omitting_secret_labels(omit),
        );
        put(&refused, existing(&[("x", "y")], &[]));
        reconcile(Arc::new(labelled(&refused)), Arc::clone(&refused.ctx))
            .await
            .unwrap_err();
        assert_eq!(last_status(&refused).unwrap().conditions[0].status, "False");

        let (ok_text, refused_text) = (scrape(&ok), scrape(&refused));
        let condition = "sealed_secrets_controller_condition_info{condition=\"Synced\",\
                         name=\"s\",namespace=\"ns\",ss_app_kubernetes_io_instance=\"rel-x\"}";
        if omit {
            for text in [&ok_text, &refused_text] {
                assert!(!text.contains("condition_info"), "{text}");
                assert!(!text.contains("name=\"s\""), "{text}");
                assert!(!text.contains("rel-x"), "{text}");
                let with_namespace: Vec<_> = text
                    .lines()
                    .filter(|l| l.contains("namespace=\"ns\""))
                    .collect();
                assert!(
                    with_namespace
                        .iter()
                        .all(|l| l.starts_with("sealed_secrets_controller_unseal_errors_total{")),
                    "{text}"
                );
            }
            assert_eq!(ok.ctx.metrics.condition_value("ns", "s"), None);
        } else {
            assert!(ok_text.contains(&format!("{condition} 1")), "{ok_text}");
            assert!(
                refused_text.contains(&format!("{condition} -1")),
                "{refused_text}"
            );
        }
        assert!(
            refused_text.contains(
                "sealed_secrets_controller_unseal_errors_total{namespace=\"ns\",reason=\"unmanaged\"} 1"
            ),
            "{refused_text}"
        );
        // Deleting the SealedSecret is fine either way.
        handle_deleted(&labelled(&ok), &ok.ctx).await;
        assert!(!scrape(&ok).contains("name=\"s\""));
    }
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
    let recorded = with_last_status(&h, obj.clone()).to_core();
    assert_eq!(
        digest::recorded_keys(digest::find(&recorded, None).as_ref()),
        vec![oldest.clone()]
    );
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
    let err = reconcile(Arc::new(with_last_status(&h, obj)), ctx)
        .await
        .unwrap_err();
    assert!(matches!(err, ReconcileError::Unseal { .. }));
}

#[tokio::test]
async fn a_legacy_annotation_is_read_once_then_moved_to_the_status() {
    let h = harness();
    let obj = sealed(&h, &[("foo", "bar")], &[]);
    reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
        .await
        .unwrap();
    // As a controller before ADR 0004 left it: the record on the Secret, none in the status.
    let record = last_status(&h).unwrap().unsealed_digest.unwrap();
    let mut secret = stored(&h).unwrap();
    secret
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(DIGEST_ANNOTATION.to_owned(), record.clone());
    put(&h, secret);
    let mut legacy = with_last_status(&h, obj.clone());
    legacy.status.as_mut().unwrap().unsealed_digest = None;
    events(&h);
    reconcile(Arc::new(legacy), Arc::clone(&h.ctx))
        .await
        .unwrap();
    // No RSA work; the record moved to the status and the annotation is gone.
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 1);
    assert_eq!(h.ctx.metrics.unseal_skipped.get(), 1);
    assert_eq!(last_status(&h).unwrap().unsealed_digest, Some(record));
    let secret = stored(&h).unwrap();
    assert_eq!(secret.metadata.annotations, None);
    assert_eq!(data(&secret)["foo"], "bar");
    // The next pass verifies from the status.
    reconcile(Arc::new(with_last_status(&h, obj)), Arc::clone(&h.ctx))
        .await
        .unwrap();
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 1);
    assert_eq!(h.ctx.metrics.unseal_skipped.get(), 2);
}

#[tokio::test]
async fn without_status_updates_there_is_no_record() {
    let h = harness_with(ReconcileConfig {
        update_status: false,
        ..config()
    });
    let obj = sealed(&h, &[("foo", "bar")], &[]);
    reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
        .await
        .unwrap();
    assert_eq!(stored(&h).unwrap().metadata.annotations, None);
    // As after a restart (this process forgets what it wrote): a full unseal (nothing recorded
    // anywhere), no write.
    h.ctx.drift.forget("ns/s");
    let writes = h.ctx.cluster.writes.load(Ordering::SeqCst);
    reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 2);
    assert_eq!(h.ctx.cluster.writes.load(Ordering::SeqCst), writes);
}

fn with_templates(mut obj: SealedSecretObject, templates: &[(&str, &str)]) -> SealedSecretObject {
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
async fn a_changed_sealed_secret_for_an_immutable_secret_is_refused_whatever_the_values() {
    let mut seen = Vec::new();
    for value in ["bar", "new"] {
        let h = harness();
        let mut obj = sealed(&h, &[("foo", "bar")], &[]);
        obj.spec.template.immutable = Some(true);
        reconcile(Arc::new(obj), Arc::clone(&h.ctx)).await.unwrap();
        let before = stored(&h).unwrap();
        assert_eq!(before.immutable, Some(true));
        events(&h);
        // The spec changes (new ciphertexts, for the same value or another one).
        let mut changed = sealed(&h, &[("foo", value)], &[]);
        changed.spec.template.immutable = Some(true);
        changed.metadata.generation = Some(2);
        let changed = with_last_status(&h, changed);
        let err = reconcile(Arc::new(changed), Arc::clone(&h.ctx))
            .await
            .unwrap_err();
        assert!(matches!(err, ReconcileError::Immutable { .. }), "{err}");
        let view = readable(&h);
        assert_eq!(view.0[0].1, "False");
        assert!(
            view.0[0].3.ends_with(IMMUTABLE_ERROR_SUFFIX),
            "{:?}",
            view.0
        );
        assert_eq!(view.1.len(), 1, "{:?}", view.1);
        assert!(
            view.1[0].contains("ErrUpdateFailed")
                && view.1[0].contains("the target Secret is immutable"),
            "{:?}",
            view.1
        );
        assert_eq!(last_status(&h).unwrap().observed_generation, 2);
        // The Secret is unchanged.
        assert_eq!(stored(&h).unwrap(), before);
        seen.push(view);
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

/// The SealedSecret `s` reconciled once into its Secret; events and counters of that pass
/// are cleared. Returns the object with its status as the API server now has it.
async fn unsealed_once(h: &Harness, annotations: &[(&str, &str)]) -> SealedSecretObject {
    let mut obj = sealed(h, &[("foo", "bar")], &[]);
    obj.spec
        .template
        .metadata
        .annotations
        .insert("tmpl".into(), "1".into());
    if !annotations.is_empty() {
        obj.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
    }
    reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
        .await
        .unwrap();
    events(h);
    with_last_status(h, obj)
}

fn edit(h: &Harness, change: impl FnOnce(&mut Secret)) {
    let mut secret = stored(h).unwrap();
    change(&mut secret);
    put(h, secret);
}

#[tokio::test]
async fn a_hand_edit_is_put_back_and_other_tools_metadata_is_kept() {
    let h = harness();
    let obj = Arc::new(unsealed_once(&h, &[]).await);
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 1);
    // Someone edits the value, removes the template's annotation, adds a label of their own.
    edit(&h, |s| {
        s.data = Some([("foo".to_owned(), ByteString(b"edited".to_vec()))].into());
        s.metadata.annotations = None;
        s.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("team".into(), "x".into());
    });
    let action = reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
        .await
        .unwrap();
    assert_eq!(action, Action::await_change());
    let secret = stored(&h).unwrap();
    assert_eq!(data(&secret)["foo"], "bar");
    assert_eq!(secret.metadata.annotations.as_ref().unwrap()["tmpl"], "1");
    let labels = secret.metadata.labels.as_ref().unwrap();
    assert_eq!(
        (labels["mylabel"].as_str(), labels["team"].as_str()),
        ("myvalue", "x")
    );
    assert_eq!(
        secret.metadata.owner_references.as_ref().unwrap()[0].uid,
        "uid-1"
    );
    let ev = events(&h);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].0, ev[0].1), (EventType::Warning, "SecretRepaired"));
    assert!(
        !ev[0].2.contains("bar") && !ev[0].2.contains("edited"),
        "{}",
        ev[0].2
    );
    assert_eq!(h.ctx.metrics.secrets_repaired.get(), 1);
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 2);
    assert_eq!(last_status(&h).unwrap().conditions[0].status, "True");

    // Our own write comes back as a watch event, the watch cache still showing the old status:
    // the record remembered verifies, no RSA work, no write, no event.
    let writes = h.ctx.cluster.writes.load(Ordering::SeqCst);
    reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
        .await
        .unwrap();
    // Another tool annotates the Secret: not ours to put back, no RSA work either.
    edit(&h, |s| {
        s.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert("reloader/last".into(), "42".into());
    });
    let current = Arc::new(with_last_status(&h, (*obj).clone()));
    reconcile(Arc::clone(&current), Arc::clone(&h.ctx))
        .await
        .unwrap();
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 2);
    assert_eq!(h.ctx.cluster.writes.load(Ordering::SeqCst), writes);
    assert!(events(&h).is_empty());
    assert_eq!(
        stored(&h).unwrap().metadata.annotations.unwrap()["reloader/last"],
        "42"
    );
}

#[tokio::test]
async fn opted_out_keeps_the_edit_until_the_sealed_secret_changes() {
    let h = harness();
    let obj = unsealed_once(&h, &[("sealed-secrets-rs/drift-repair", "false")]).await;
    edit(&h, |s| {
        s.data = Some([("foo".to_owned(), ByteString(b"edited".to_vec()))].into());
    });
    let statuses = lock(&h.ctx.cluster.statuses).len();
    for _ in 0..2 {
        reconcile(Arc::new(obj.clone()), Arc::clone(&h.ctx))
            .await
            .unwrap();
    }
    assert_eq!(data(&stored(&h).unwrap())["foo"], "edited");
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 1);
    assert!(events(&h).is_empty());
    assert_eq!(lock(&h.ctx.cluster.statuses).len(), statuses);
    assert_eq!(h.ctx.metrics.secrets_repaired.get(), 0);
    // Still kept after a restart (a fresh process: no memory, the record from the status).
    let restarted = {
        let keys = Arc::clone(&h.keys);
        let metrics = Metrics::new("t").unwrap();
        let fake = Fake::default();
        *lock(&fake.secrets) = lock(&h.ctx.cluster.secrets).clone();
        Harness {
            ctx: Arc::new(Context::new(
                fake,
                Arc::clone(&keys),
                metrics.clone(),
                Unsealer::new(metrics, UnsealOptions::default()),
                config(),
            )),
            keys,
        }
    };
    reconcile(Arc::new(obj.clone()), Arc::clone(&restarted.ctx))
        .await
        .unwrap();
    assert_eq!(data(&stored(&restarted).unwrap())["foo"], "edited");
    assert_eq!(restarted.ctx.metrics.rsa_decrypt_operations.get(), 0);

    // The SealedSecret changes (a new label in its template): the Secret is updated, the edit
    // goes, and that is an update, not a repair.
    let mut changed = obj.clone();
    changed
        .spec
        .template
        .metadata
        .labels
        .insert("tier".into(), "2".into());
    changed.metadata.generation = Some(2);
    reconcile(Arc::new(changed), Arc::clone(&h.ctx))
        .await
        .unwrap();
    let secret = stored(&h).unwrap();
    assert_eq!(data(&secret)["foo"], "bar");
    assert_eq!(secret.metadata.labels.unwrap()["tier"], "2");
    assert_eq!(h.ctx.metrics.secrets_repaired.get(), 0);
    assert_eq!(events(&h)[0].1, "Unsealed");
}

#[tokio::test]
async fn a_secret_that_keeps_changing_is_put_back_less_and_less_often() {
    let h = harness();
    let obj = Arc::new(unsealed_once(&h, &[]).await);
    for round in 1..=drift::FREE_REPAIRS {
        edit(&h, |s| {
            s.data = Some([("foo".to_owned(), ByteString(b"theirs".to_vec()))].into());
        });
        let action = reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
            .await
            .unwrap();
        assert_eq!(action, Action::await_change(), "round {round}");
        assert_eq!(data(&stored(&h).unwrap())["foo"], "bar");
    }
    edit(&h, |s| {
        s.data = Some([("foo".to_owned(), ByteString(b"theirs".to_vec()))].into());
    });
    let rsa = h.ctx.metrics.rsa_decrypt_operations.get();
    let action = reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
        .await
        .unwrap();
    assert_ne!(
        action,
        Action::await_change(),
        "the fourth repair in a row waits"
    );
    assert_eq!(data(&stored(&h).unwrap())["foo"], "theirs");
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), rsa);
    assert_eq!(
        h.ctx.metrics.secrets_repaired.get(),
        u64::from(drift::FREE_REPAIRS)
    );
}

/// The record in `obj`'s status.
fn status_record(obj: &SealedSecretObject) -> String {
    obj.status
        .as_ref()
        .and_then(|s| s.unsealed_digest.clone())
        .expect("a record in the status")
}

/// The record of `obj` and its stored Secret in an older format (`make`: `record_value_v1` or
/// `record_value_v2`), signed with the latest key.
fn older_record(
    h: &Harness,
    obj: &SealedSecretObject,
    make: fn(&digest::DigestKey, &str, &DigestInput<'_>, &Secret) -> Option<String>,
) -> String {
    let secret = stored(h).unwrap();
    let keys = h.keys.snapshot();
    let signing = keys.latest().unwrap();
    let used = vec![signing.fingerprint.to_string()];
    let ss = obj.to_core();
    let input = DigestInput {
        sealed: &ss,
        accept_v1_data: true,
        keys_used: &used,
    };
    make(
        signing.digest_key.as_ref().unwrap(),
        signing.fingerprint.as_str(),
        &input,
        &secret,
    )
    .unwrap()
}

#[tokio::test]
async fn a_record_from_before_drift_repair_verifies_and_is_rewritten_without_rsa() {
    let h = harness();
    let obj = unsealed_once(&h, &[]).await;
    let v1 = older_record(&h, &obj, digest::record_value_v1);
    let v3 = status_record(&obj);
    assert!(v3.starts_with("v3;"), "{v3}");
    let mut old = obj.clone();
    old.status.as_mut().unwrap().unsealed_digest = Some(v1);
    // As a process that never wrote it (an upgrade): no memory.
    h.ctx.drift.forget("ns/s");
    reconcile(Arc::new(old), Arc::clone(&h.ctx)).await.unwrap();
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 1);
    assert_eq!(last_status(&h).unwrap().unsealed_digest, Some(v3));
}

/// `obj` as the SealedSecret watch cache keeps it: ciphertexts replaced by their digests.
fn cache_copy(obj: &SealedSecretObject) -> SealedSecretObject {
    let mut copy = obj.clone();
    digest::hash_ciphertexts(&mut copy.spec);
    copy
}

/// What the fake API server stores for `ns/s`.
fn store_sealed(h: &Harness, obj: &SealedSecretObject) {
    lock(&h.ctx.cluster.sealed).insert(("ns".into(), "s".into()), obj.clone());
}

#[tokio::test]
async fn a_cache_copy_with_a_v3_record_is_skipped_without_reading_the_object() {
    let h = harness();
    let obj = unsealed_once(&h, &[]).await;
    let rsa = h.ctx.metrics.rsa_decrypt_operations.get();
    // A restart: no memory; the object as the API server does not hold it (never read).
    h.ctx.drift.forget("ns/s");
    let copy = cache_copy(&obj);
    assert_ne!(copy.spec.encrypted_data, obj.spec.encrypted_data);
    reconcile(Arc::new(copy), Arc::clone(&h.ctx)).await.unwrap();
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), rsa);
    assert_eq!(h.ctx.metrics.unseal_skipped.get(), 1);
    assert!(lock(&h.ctx.cluster.sealed).is_empty());
    assert_eq!(events(&h), vec![]);
}

#[tokio::test]
async fn a_cache_copy_to_open_is_read_whole_then_unsealed() {
    let h = harness();
    let obj = sealed(&h, &[("foo", "bar")], &[]);
    store_sealed(&h, &obj);
    reconcile(Arc::new(cache_copy(&obj)), Arc::clone(&h.ctx))
        .await
        .unwrap();
    assert_eq!(data(&stored(&h).unwrap())["foo"], "bar");
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 1);
    // The Secret was read once, not again by the pass made with the whole object.
    assert_eq!(h.ctx.cluster.gets.load(Ordering::SeqCst), 1);
    // Its v3 record verifies from the cache copy alone next time.
    let next = cache_copy(&with_last_status(&h, obj));
    h.ctx.drift.forget("ns/s");
    lock(&h.ctx.cluster.sealed).clear();
    reconcile(Arc::new(next), Arc::clone(&h.ctx)).await.unwrap();
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 1);
    assert_eq!(h.ctx.metrics.unseal_skipped.get(), 1);
}

#[tokio::test]
async fn a_cache_copy_with_a_v2_record_is_read_whole_and_rewritten_as_v3_without_rsa() {
    let h = harness();
    let obj = unsealed_once(&h, &[]).await;
    let v3 = status_record(&obj);
    let v2 = older_record(&h, &obj, digest::record_value_v2);
    assert!(v2.starts_with("v2;"), "{v2}");
    let mut old = obj.clone();
    old.status.as_mut().unwrap().unsealed_digest = Some(v2);
    store_sealed(&h, &old);
    // An upgrade: a record from before, and no memory of it.
    h.ctx.drift.forget("ns/s");
    let rsa = h.ctx.metrics.rsa_decrypt_operations.get();
    let writes = h.ctx.cluster.writes.load(Ordering::SeqCst);
    reconcile(Arc::new(cache_copy(&old)), Arc::clone(&h.ctx))
        .await
        .unwrap();
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), rsa);
    assert_eq!(h.ctx.cluster.writes.load(Ordering::SeqCst), writes);
    assert_eq!(last_status(&h).unwrap().unsealed_digest, Some(v3));
}

#[tokio::test]
async fn a_cache_copy_whose_object_went_or_was_replaced_is_not_opened() {
    let h = harness();
    let obj = sealed(&h, &[("foo", "bar")], &[]);
    // Gone: nothing stored.
    reconcile(Arc::new(cache_copy(&obj)), Arc::clone(&h.ctx))
        .await
        .unwrap();
    // Replaced by another object of the same name.
    let mut other = obj.clone();
    other.metadata.uid = Some("uid-2".into());
    store_sealed(&h, &other);
    reconcile(Arc::new(cache_copy(&obj)), Arc::clone(&h.ctx))
        .await
        .unwrap();
    assert_eq!(stored(&h), None);
    assert_eq!(h.ctx.metrics.rsa_decrypt_operations.get(), 0);
    assert!(
        events(&h)
            .iter()
            .all(|(_, reason, _)| *reason != REASON_UNSEAL_FAILED),
        "a digest must never be taken for a ciphertext"
    );
}

/// A key in a "token" that can be taken away (ADR 0005 §2).
#[derive(Debug)]
struct Removable {
    key: PrivateKey,
    away: std::sync::atomic::AtomicBool,
}

impl sealed_secrets_core::keys::Decrypter for Removable {
    fn public_key(&self) -> &sealed_secrets_core::keys::PublicKey {
        self.key.public_key()
    }

    fn decrypt_session_key(
        &self,
        label: &[u8],
        rsa_block: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, sealed_secrets_core::keys::UnwrapError> {
        if self.away.load(Ordering::SeqCst) {
            return Err(sealed_secrets_core::keys::UnwrapError::Unavailable {
                reason: "C_Decrypt: DeviceRemoved".to_owned(),
            });
        }
        sealed_secrets_core::keys::Decrypter::decrypt_session_key(&self.key, label, rsa_block)
    }
}

#[tokio::test]
async fn an_unavailable_token_key_is_retried_without_a_verdict() {
    let h = harness();
    let key = PrivateKey::generate(2048).unwrap();
    // Newer than the harness's key: it is the latest, tried first.
    let later = OffsetDateTime::now_utc() + time::Duration::minutes(1);
    let cert = Certificate::self_signed(&key, &CertParams::controller_default(later)).unwrap();
    let token = Arc::new(Removable {
        key,
        away: std::sync::atomic::AtomicBool::new(true),
    });
    h.keys.register(KeyEntry::held(
        Arc::clone(&token) as Arc<dyn sealed_secrets_core::keys::Decrypter>,
        crate::key_registry::KeyProvider::Pkcs11 { token: "t".into() },
        cert,
        crate::digest::DigestKey::from_bytes(b"token digest key"),
        "sealed-secrets-key-t".into(),
    ));
    let obj = Arc::new(sealed(&h, &[("foo", "bar")], &[]));
    let err = reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ReconcileError::KeyUnavailable { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "sealing key unavailable: C_Decrypt: DeviceRemoved"
    );
    // No verdict: no event, no status, no Secret; counted; retried, not left to a change.
    assert!(events(&h).is_empty(), "{:?}", events(&h));
    assert!(last_status(&h).is_none());
    assert!(stored(&h).is_none());
    assert_eq!(
        h.ctx
            .metrics
            .unseal_error_count(ErrorReason::KeyUnavailable, "ns"),
        1
    );
    assert_ne!(
        error_policy(Arc::clone(&obj), &err, Arc::clone(&h.ctx)),
        Action::await_change()
    );
    // The token is back: the next pass unseals.
    token.away.store(false, Ordering::SeqCst);
    reconcile(Arc::clone(&obj), Arc::clone(&h.ctx))
        .await
        .unwrap();
    assert_eq!(data(&stored(&h).unwrap())["foo"], "bar");
}
