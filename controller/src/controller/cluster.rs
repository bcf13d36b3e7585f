//! The cluster operations a reconcile needs ([`Cluster`]), and their implementation over the
//! real API server ([`KubeCluster`]). The reconciler's decisions are unit-tested against a fake.

use std::future::Future;
use std::sync::Arc;

use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::reflector::Store;

use super::secret_cache::SecretCache;

use crate::events::{EventType, Recorder};
use crate::fan_out::NamespaceInfo;
use crate::resource::SealedSecretObject;

/// The cluster operations a reconcile needs.
pub trait Cluster: Send + Sync + 'static {
    /// The Secret from the watch cache, if there is one (what the digest check reads of it:
    /// [`SecretCache::get`]).
    fn cached_secret(&self, namespace: &str, name: &str) -> Option<Secret>;
    /// GET a Secret from the API; `None` when it does not exist.
    fn get_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<Secret>, kube::Error>> + Send;
    fn create_secret(
        &self,
        namespace: &str,
        secret: &Secret,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    fn replace_secret(
        &self,
        namespace: &str,
        name: &str,
        secret: &Secret,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    fn delete_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// GET a SealedSecret from the API (to retry a conflicting status write).
    fn get_sealed_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<SealedSecretObject>, kube::Error>> + Send;
    /// PUT the status subresource.
    fn replace_status(
        &self,
        namespace: &str,
        name: &str,
        object: &SealedSecretObject,
    ) -> impl Future<Output = Result<(), kube::Error>> + Send;
    /// Every namespace (fan-out targets), or `None` while the Namespace watch has not listed
    /// them (or may not). The default: none known.
    fn namespaces(&self) -> Option<Vec<NamespaceInfo>> {
        None
    }
    /// LIST Secrets in every namespace matching a label selector (fan-out copies).
    fn list_secrets(
        &self,
        label_selector: &str,
    ) -> impl Future<Output = Result<Vec<Secret>, kube::Error>> + Send {
        let _ = label_selector;
        std::future::ready(Ok(Vec::new()))
    }
    /// Records an event about `ss`.
    fn publish(
        &self,
        ss: &SealedSecretObject,
        type_: EventType,
        reason: &'static str,
        message: String,
    ) -> impl Future<Output = ()> + Send;
}

/// [`Cluster`] over the real API, with the Secret watch cache when there is one.
pub struct KubeCluster {
    client: Client,
    secrets: Option<SecretCache>,
    recorder: Arc<Recorder>,
    namespaces: Option<NamespaceCache>,
}

/// The Namespace watch cache (fan-out), and whether it has listed every namespace once.
#[derive(Clone)]
pub struct NamespaceCache {
    pub store: Store<Namespace>,
    pub synced: Arc<AtomicBool>,
}

impl KubeCluster {
    #[must_use]
    pub fn new(client: Client, secrets: Option<SecretCache>, recorder: Arc<Recorder>) -> Self {
        Self {
            client,
            secrets,
            recorder,
            namespaces: None,
        }
    }

    /// With the Namespace watch cache fan-out reads.
    #[must_use]
    pub fn with_namespaces(mut self, namespaces: NamespaceCache) -> Self {
        self.namespaces = Some(namespaces);
        self
    }

    fn secrets_api(&self, namespace: &str) -> Api<Secret> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn ss_api(&self, namespace: &str) -> Api<SealedSecretObject> {
        Api::namespaced(self.client.clone(), namespace)
    }
}

impl Cluster for KubeCluster {
    fn cached_secret(&self, namespace: &str, name: &str) -> Option<Secret> {
        self.secrets.as_ref()?.get(namespace, name)
    }

    async fn get_secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, kube::Error> {
        self.secrets_api(namespace).get_opt(name).await
    }

    async fn create_secret(&self, namespace: &str, secret: &Secret) -> Result<(), kube::Error> {
        self.secrets_api(namespace)
            .create(&PostParams::default(), secret)
            .await
            .map(|_| ())
    }

    async fn replace_secret(
        &self,
        namespace: &str,
        name: &str,
        secret: &Secret,
    ) -> Result<(), kube::Error> {
        self.secrets_api(namespace)
            .replace(name, &PostParams::default(), secret)
            .await
            .map(|_| ())
    }

    async fn delete_secret(&self, namespace: &str, name: &str) -> Result<(), kube::Error> {
        self.secrets_api(namespace)
            .delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
    }

    fn namespaces(&self) -> Option<Vec<NamespaceInfo>> {
        let cache = self.namespaces.as_ref()?;
        if !cache.synced.load(Ordering::SeqCst) {
            return None;
        }
        Some(
            cache
                .store
                .state()
                .iter()
                .map(|ns| NamespaceInfo::of(ns))
                .collect(),
        )
    }

    async fn list_secrets(&self, label_selector: &str) -> Result<Vec<Secret>, kube::Error> {
        Api::<Secret>::all(self.client.clone())
            .list(&ListParams::default().labels(label_selector))
            .await
            .map(|list| list.items)
    }

    async fn get_sealed_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<SealedSecretObject>, kube::Error> {
        self.ss_api(namespace).get_opt(name).await
    }

    async fn replace_status(
        &self,
        namespace: &str,
        name: &str,
        object: &SealedSecretObject,
    ) -> Result<(), kube::Error> {
        self.ss_api(namespace)
            .replace_status(name, &PostParams::default(), object)
            .await
            .map(|_| ())
    }

    async fn publish(
        &self,
        ss: &SealedSecretObject,
        type_: EventType,
        reason: &'static str,
        message: String,
    ) {
        self.recorder.publish(ss, type_, reason, message).await;
    }
}
