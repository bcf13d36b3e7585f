//! The watch wiring of one namespace-controller: the SealedSecret and Secret watches and
//! their slimmed caches, what triggers a reconcile, cache-sync tracking and the readiness
//! reported on `/readyz`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Client;
use kube::api::Api;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt as _, watcher};

use super::cluster::NamespaceCache;
use super::secret_cache::SecretCache;
use super::trigger::TriggerFilter;
use super::{Context, KubeCluster, ReconcileConfig, error_policy, handle_deleted, reconcile};
use crate::digest;
use crate::events::Recorder;
use crate::key_registry::KeyRegistry;
use crate::metrics::Metrics;
use crate::resource::{SealedSecretObject, WatchedSecret};
use crate::target_secret;
use crate::unseal::Unsealer;

/// Whether every watch cache of every namespace-controller this process runs has listed
/// everything once (`/readyz`). Not ready until [`bootstrapped`](Self::bootstrapped) says that
/// every namespace-controller is registered ([`add`](Self::add)), so a controller that synced
/// early cannot make it ready while the next one is still being set up.
#[derive(Debug, Default)]
pub struct Readiness {
    pending: AtomicUsize,
    bootstrapped: AtomicBool,
}

impl Readiness {
    /// Namespace-controllers are about to be registered (on becoming the leader): not ready
    /// until [`bootstrapped`](Self::bootstrapped).
    pub fn bootstrapping(&self) {
        self.bootstrapped.store(false, Ordering::SeqCst);
    }

    /// Registers one more namespace-controller whose caches to wait for.
    pub fn add(&self) {
        self.pending.fetch_add(1, Ordering::SeqCst);
    }

    /// The caches of one namespace-controller synced.
    pub fn done(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }

    /// Every namespace-controller this process will run is registered (none for a follower).
    pub fn bootstrapped(&self) {
        self.bootstrapped.store(true, Ordering::SeqCst);
    }

    /// Whether every registered namespace-controller's caches synced.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.bootstrapped.load(Ordering::SeqCst) && self.pending.load(Ordering::SeqCst) == 0
    }
}

/// The two watch caches of one namespace-controller.
#[derive(Debug, Clone, Copy)]
enum CacheKind {
    SealedSecrets,
    Secrets,
}

/// Tracks the first full listing of each cache of one namespace-controller, and counts the
/// listings after it (relists).
#[derive(Debug)]
struct CacheSync {
    readiness: Arc<Readiness>,
    sealed_secrets: AtomicBool,
    secrets: AtomicBool,
    reported: AtomicBool,
    relists: tokio::sync::watch::Sender<u64>,
}

impl CacheSync {
    fn new(readiness: Arc<Readiness>, watch_secrets: bool) -> Self {
        Self {
            readiness,
            sealed_secrets: AtomicBool::new(false),
            secrets: AtomicBool::new(!watch_secrets),
            reported: AtomicBool::new(false),
            relists: tokio::sync::watch::channel(0).0,
        }
    }

    fn mark(&self, kind: CacheKind) {
        let relisted = match kind {
            CacheKind::SealedSecrets => self.sealed_secrets.swap(true, Ordering::SeqCst),
            CacheKind::Secrets => self.secrets.swap(true, Ordering::SeqCst),
        };
        if relisted {
            tracing::info!(cache = ?kind, "relisted; reconciling every SealedSecret again");
            self.relists.send_modify(|n| *n += 1);
        }
        if self.sealed_secrets.load(Ordering::SeqCst)
            && self.secrets.load(Ordering::SeqCst)
            && !self.reported.swap(true, Ordering::SeqCst)
        {
            self.readiness.done();
            tracing::info!("caches synced");
        }
    }
}

/// What a namespace-controller watches.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// `None` for all namespaces.
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    /// Watch Secrets (cache, recreation on delete, drift repair); false with `--skip-recreate`.
    pub watch_secrets: bool,
    /// `--watch-list`: start the watches with streaming lists, not paged lists.
    pub watch_list: bool,
    pub concurrency: u16,
}

fn scoped<K>(client: Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

/// The parts shared by every namespace-controller.
pub struct Shared {
    pub client: Client,
    pub keys: Arc<KeyRegistry>,
    pub metrics: Metrics,
    pub unsealer: Unsealer,
    pub recorder: Arc<Recorder>,
    pub config: ReconcileConfig,
    pub readiness: Arc<Readiness>,
}

/// Whether a SealedSecret may have written `secret` (owned by a SealedSecret, a fan-out copy,
/// annotated `managed` or `patch`, or carrying the legacy digest annotation): the only Secrets
/// the watch cache keeps.
fn may_be_ours(secret: &Secret) -> bool {
    let owned = secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "SealedSecret" && o.api_version.starts_with("bitnami.com/"));
    owned
        || crate::fan_out::source_of(&secret.metadata).is_some()
        || target_secret::is_managed(secret)
        || target_secret::is_patch(secret)
        || digest::has_legacy_annotation(secret)
}

/// Which Secret events reach the watch cache: those about the Secrets a SealedSecret may have
/// written ([`may_be_ours`]); of those, [`SecretCache`] keeps only what the digest check reads.
/// Any other Secret (one of the same name as a SealedSecret that is not ours) is read from the
/// API server when it matters. Unrelated Secrets in a watched namespace (Helm releases, tokens,
/// TLS) then cost nothing once listed: an event about one is passed to the cache as a deletion
/// (it may have been ours before), and the listing skips them.
pub(super) fn cache_event(event: watcher::Event<Secret>) -> Option<watcher::Event<Secret>> {
    match event {
        watcher::Event::InitApply(secret) if !may_be_ours(&secret) => None,
        watcher::Event::Apply(secret) if !may_be_ours(&secret) => {
            Some(watcher::Event::Delete(secret))
        }
        other => Some(other),
    }
}

/// What the SealedSecret watch cache keeps: everything but `managedFields`, `kubectl apply`'s
/// copy of the whole object and the ciphertexts, which it holds as their SHA-256
/// ([`digest::hash_ciphertexts`]: what a `v3` record covers; a pass that opens the object reads
/// it whole). Status writes go to the status subresource, where the API server takes the
/// metadata and spec from the stored object, so none of it is written back.
fn slim_sealed_secret(obj: &mut SealedSecretObject) {
    obj.metadata.managed_fields = None;
    if let Some(annotations) = obj.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
    digest::hash_ciphertexts(&mut obj.spec);
}

const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Runs one namespace-controller until `shutdown` resolves. The caller has registered it with
/// [`Readiness::add`] (before spawning it, so that `/readyz` cannot answer `ok` in between);
/// it reports [`Readiness::done`] when both of its watches have listed everything once.
pub async fn run(
    shared: &Shared,
    options: WatchOptions,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let ns = options.namespace.as_deref();
    // (Store::wait_until_ready is not used: with several waiters only the last one is woken.)
    let sync = Arc::new(CacheSync::new(
        Arc::clone(&shared.readiness),
        options.watch_secrets,
    ));
    let ss_sync = Arc::clone(&sync);
    let mut wc = watcher::Config::default();
    if let Some(selector) = &options.label_selector {
        wc = wc.labels(selector);
    }
    if options.watch_list {
        wc = wc.streaming_lists();
    }

    // Which SealedSecret a Secret event concerns: a deleted Secret is recreated (upstream); a
    // changed one (a watch event, not the listing at start or after a relist, which reconciles
    // everything anyway) is checked for drift when there are records to tell a drift by
    // (`--skip-unchanged`). Our own writes come back here too: their pass verifies the record
    // this process remembers (DriftState), no RSA work.
    let drift = shared.config.skip_unchanged;
    let (secret_cache, secret_stream) = if options.watch_secrets {
        let cache = SecretCache::default();
        let stream = watcher(
            scoped::<WatchedSecret>(shared.client.clone(), ns),
            wc.clone(),
        )
        .default_backoff()
        .try_filter_map(|event| {
            std::future::ready(Ok(cache_event(WatchedSecret::into_event(event))))
        })
        .inspect_ok({
            let sync = Arc::clone(&sync);
            let cache = cache.clone();
            move |event| {
                cache.apply(event);
                if matches!(event, watcher::Event::InitDone) {
                    sync.mark(CacheKind::Secrets);
                }
            }
        })
        .try_filter_map(move |event| {
            std::future::ready(Ok(match event {
                // A fan-out copy deleted or changed: its SealedSecret puts it back.
                watcher::Event::Delete(secret) | watcher::Event::Apply(secret)
                    if crate::fan_out::source_of(&secret.metadata).is_some() =>
                {
                    crate::fan_out::source_of(&secret.metadata)
                }
                watcher::Event::Delete(secret) => target_secret::recreate_target(&secret.metadata),
                watcher::Event::Apply(secret) if drift => {
                    target_secret::drift_target(&secret.metadata)
                }
                _ => None,
            }
            .map(|(ns, name)| ObjectRef::<SealedSecretObject>::new(&name).within(&ns))))
        })
        .filter_map(|event| {
            std::future::ready(match event {
                Ok(target) => Some(target),
                // The watcher retries with back-off (default_backoff); the error is logged
                // by the watcher's consumer only, so say it here.
                Err(e) => {
                    tracing::debug!(error = %e, "Secret watch error");
                    None
                }
            })
        });
        (Some(cache), Some(stream))
    } else {
        (None, None)
    };

    // Namespaces, with --fan-out (ADR 0007): their labels and consent. A Namespace created,
    // relabelled, re-annotated or deleted looks at every SealedSecret that asks for fan-out.
    let fan_out = shared.config.fan_out;
    let namespaces = fan_out.then(|| {
        let (ns_reader, ns_writer) = reflector::store::<Namespace>();
        let ns_synced = Arc::new(AtomicBool::new(false));
        let ns_config = if options.watch_list {
            watcher::Config::default().streaming_lists()
        } else {
            watcher::Config::default()
        };
        let ns_events = watcher(Api::<Namespace>::all(shared.client.clone()), ns_config)
            .default_backoff()
            .modify(|ns: &mut Namespace| {
                ns.metadata.managed_fields = None;
                ns.spec = None;
                ns.status = None;
            })
            .reflect(ns_writer)
            .filter_map({
                let synced = Arc::clone(&ns_synced);
                move |event| {
                    std::future::ready(match event {
                        Ok(watcher::Event::InitDone) => {
                            synced.store(true, Ordering::SeqCst);
                            Some(())
                        }
                        Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => Some(()),
                        Ok(_) => None,
                        Err(e) => {
                            tracing::debug!(error = %e, "Namespace watch error (fan-out)");
                            None
                        }
                    })
                }
            });
        (
            NamespaceCache {
                store: ns_reader,
                synced: ns_synced,
            },
            ns_events,
        )
    });
    let (ns_cache, ns_events) = namespaces.unzip();
    let mut cluster = KubeCluster::new(
        shared.client.clone(),
        secret_cache.clone(),
        Arc::clone(&shared.recorder),
    );
    if let Some(cache) = ns_cache {
        cluster = cluster.with_namespaces(cache);
    }
    let ctx = Arc::new(Context::new(
        cluster,
        Arc::clone(&shared.keys),
        shared.metrics.clone(),
        shared.unsealer.clone(),
        shared.config.clone(),
    ));

    let (reader, writer) = reflector::store::<SealedSecretObject>();
    let deletions_ctx = Arc::clone(&ctx);
    // Copies whose SealedSecret went while nobody watched are removed once every SealedSecret
    // is listed (at start and after each relist). Not with --label-selector: a SealedSecret
    // outside the selector would look gone.
    let sweep = (fan_out && options.label_selector.is_none())
        .then(|| (Arc::clone(&ctx), reader.clone(), options.namespace.clone()));
    let ss_stream = watcher(scoped::<SealedSecretObject>(shared.client.clone(), ns), wc)
        .default_backoff()
        .modify(slim_sealed_secret)
        .reflect(writer)
        .inspect_ok(move |event| match event {
            watcher::Event::Delete(obj) => {
                let ctx = Arc::clone(&deletions_ctx);
                let obj = obj.clone();
                tokio::spawn(async move { handle_deleted(&obj, &ctx).await });
            }
            watcher::Event::InitDone => {
                ss_sync.mark(CacheKind::SealedSecrets);
                if let Some((ctx, reader, namespace)) = &sweep {
                    let (ctx, reader, namespace) =
                        (Arc::clone(ctx), reader.clone(), namespace.clone());
                    tokio::spawn(async move {
                        let exists = |ns: &str, name: &str, uid: &str| {
                            reader
                                .get(&ObjectRef::new(name).within(ns))
                                .is_some_and(|o| o.metadata.uid.as_deref() == Some(uid))
                        };
                        super::fan_out::sweep(&ctx, namespace.as_deref(), exists).await;
                    });
                }
            }
            _ => {}
        })
        .applied_objects()
        .try_filter({
            let mut triggers = TriggerFilter::default();
            move |obj| std::future::ready(triggers.changed(obj))
        });

    // A key registered at runtime may open SealedSecrets that failed: look at all of them again
    // (unchanged ones cost a digest check only).
    let key_changes = futures::stream::unfold(shared.keys.subscribe(), |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    });
    // A relist (after 410 Gone, e.g. an API server restart) replays unchanged objects, which
    // the trigger filter drops, and reports no deletion that happened while the watch was
    // down: an object whose write or status update failed during the outage, or whose Secret
    // was deleted meanwhile, would wait for its next change. So every relist looks at all of
    // them again, as an informer's resync would (current ones cost a digest check).
    let relists = futures::stream::unfold(sync.relists.subscribe(), |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    });

    let fan_out_sources = ns_events.map(|ns_events| {
        let reader = reader.clone();
        ns_events.flat_map(move |()| {
            futures::stream::iter(
                reader
                    .state()
                    .iter()
                    .filter(|o| crate::fan_out::asks(&o.metadata))
                    .map(|o| ObjectRef::from_obj(o.as_ref()))
                    .collect::<Vec<_>>(),
            )
        })
    });
    let mut controller = Controller::for_stream(ss_stream, reader)
        .with_config(ControllerConfig::default().concurrency(options.concurrency))
        .reconcile_all_on(futures::stream::select(key_changes, relists))
        .graceful_shutdown_on(shutdown);
    if let Some(stream) = secret_stream {
        controller = controller.reconcile_on(stream);
    }
    if let Some(stream) = fan_out_sources {
        controller = controller.reconcile_on(stream);
    }
    let scope = ns.unwrap_or("<all>").to_owned();
    tracing::info!(namespace = %scope, "starting controller");
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            match result {
                Ok((object, _)) => tracing::trace!(object = %object, "reconciled"),
                Err(kube::runtime::controller::Error::ReconcilerFailed(_, object)) => {
                    tracing::debug!(object = %object, "reconcile failed");
                }
                Err(e) => tracing::debug!(error = %e, "controller event"),
            }
            std::future::ready(())
        })
        .await;
    tracing::info!(namespace = %scope, "controller stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn watch_caches_keep_only_what_is_used() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
        let meta = |annotations: &[(&str, &str)]| ObjectMeta {
            name: Some("s".into()),
            namespace: Some("ns".into()),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            managed_fields: Some(vec![ManagedFieldsEntry::default()]),
            ..ObjectMeta::default()
        };
        let data = Some([("k".to_owned(), ByteString(vec![7; 4096]))].into());
        // A Secret that is not ours (a Helm release, a token) is not kept: not listed, and an
        // event about it removes whatever the cache held under its name.
        let other = Secret {
            metadata: meta(&[("a", "b")]),
            data: data.clone(),
            ..Secret::default()
        };
        assert!(cache_event(watcher::Event::InitApply(other.clone())).is_none());
        assert!(matches!(
            cache_event(watcher::Event::Apply(other.clone())),
            Some(watcher::Event::Delete(_))
        ));
        assert!(matches!(
            cache_event(watcher::Event::Delete(other)),
            Some(watcher::Event::Delete(_))
        ));
        // Ours reaches the cache, which keeps its data and not its managedFields.
        let cache = SecretCache::default();
        for ours in [
            meta(&[("sealedsecrets.bitnami.com/managed", "true")]),
            meta(&[("sealedsecrets.bitnami.com/patch", "true")]),
        ] {
            let secret = Secret {
                metadata: ours,
                data: data.clone(),
                ..Secret::default()
            };
            for event in [
                watcher::Event::InitApply(secret.clone()),
                watcher::Event::Apply(secret),
            ] {
                let kept = cache_event(event).unwrap();
                let (watcher::Event::InitApply(secret) | watcher::Event::Apply(secret)) = &kept
                else {
                    panic!("an event about our Secret must reach the cache as it is");
                };
                assert_eq!(secret.data, data);
                let listed = matches!(kept, watcher::Event::InitApply(_));
                if listed {
                    cache.apply(&watcher::Event::Init);
                }
                cache.apply(&kept);
                if listed {
                    cache.apply(&watcher::Event::InitDone);
                }
                let cached = cache.get("ns", "s").unwrap();
                assert_eq!(cached.data, data);
                assert_eq!(cached.metadata.managed_fields, None);
            }
        }
        // A SealedSecret loses managedFields, kubectl's last-applied copy and its ciphertexts
        // (kept as their SHA-256), nothing else.
        let mut ss: SealedSecretObject = serde_json::from_value(serde_json::json!({
            "spec": {"encryptedData": {"k": "AgB="}, "template": {"metadata": {"labels": {"l": "m"}}}}
        }))
        .unwrap();
        ss.metadata = meta(&[(LAST_APPLIED_ANNOTATION, "{}"), ("x", "y")]);
        let template = ss.spec.template.clone();
        slim_sealed_secret(&mut ss);
        assert_eq!(ss.metadata.managed_fields, None);
        assert_eq!(
            ss.metadata.annotations.unwrap().keys().collect::<Vec<_>>(),
            ["x"]
        );
        assert!(ss.spec.ciphertexts_hashed);
        assert_eq!(ss.spec.template, template);
        let items = ss.spec.encrypted_data.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items["k"], digest::ciphertext_digest(b"AgB="));
    }
}
