//! Publishes the active certificate in a ConfigMap in the controller's namespace (addition,
//! `--cert-configmap`), so that clients which cannot reach the controller through the API
//! server's service proxy (private control planes) can still read it with plain `get configmaps`.
//!
//! The ConfigMap is labelled `sealed-secrets-rs/public-cert: "true"`, holds the PEM under
//! `cert.pem` exactly as `/v1/cert.pem` serves it and records the certificate's fingerprint in
//! `sealed-secrets-rs/cert-fingerprint` (names in `sealed_secrets_core::public_cert`). It is
//! rewritten whenever the latest key changes (start-up, renewal, SIGUSR1, a key Secret seen by
//! the watch) and checked again every [`RESYNC`], so a deleted or edited copy comes back.
//!
//! Publishing is best effort: it never stops the controller or unsealing. A failure (say RBAC
//! forbids `configmaps`) is a warning, logged once per distinct cause and retried with back-off.
//! A ConfigMap of that name without the label belongs to someone else: it is never written, and
//! the controller says so once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::PostParams;
use kube::core::ObjectMeta;
use sealed_secrets_core::public_cert::{
    DATA_KEY, FINGERPRINT_ANNOTATION, KEYS_DATA_KEY, LABEL, LABEL_VALUE,
};

use crate::error::{api_error_text, is_conflict};
use crate::key_registry::KeyRegistry;

/// How often an up-to-date ConfigMap is checked again.
pub const RESYNC: Duration = Duration::from_secs(300);
/// First retry after a failed write; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Conflicting writes (another writer between our GET and PUT) retried at once, at most.
const CONFLICT_ATTEMPTS: usize = 3;

/// What to do with the ConfigMap, given what exists.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing of that name: create this.
    Create(ConfigMap),
    /// Ours, but holding another certificate: replace it with this (same `resourceVersion`).
    Replace(ConfigMap),
    /// Ours and current.
    UpToDate,
    /// A ConfigMap of that name without our label: leave it.
    NotOurs,
}

/// Decides what to write so that the ConfigMap `namespace/name` holds `pem` (fingerprint `fp`)
/// and the key listing `keys` (JSON). Pure: the caller does the API calls. Other data keys,
/// labels and annotations are kept.
#[must_use]
pub fn plan(
    existing: Option<&ConfigMap>,
    namespace: &str,
    name: &str,
    pem: &str,
    fp: &str,
    keys: &str,
) -> Plan {
    let Some(existing) = existing else {
        return Plan::Create(ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                labels: Some(BTreeMap::from([(LABEL.to_owned(), LABEL_VALUE.to_owned())])),
                annotations: Some(BTreeMap::from([(
                    FINGERPRINT_ANNOTATION.to_owned(),
                    fp.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([
                (DATA_KEY.to_owned(), pem.to_owned()),
                (KEYS_DATA_KEY.to_owned(), keys.to_owned()),
            ])),
            ..ConfigMap::default()
        });
    };
    let label = existing
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL))
        .map(String::as_str);
    if !sealed_secrets_core::public_cert::is_ours(label) {
        return Plan::NotOurs;
    }
    let item = |key: &str| {
        existing
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(String::as_str)
    };
    let holds = item(DATA_KEY);
    let lists = item(KEYS_DATA_KEY);
    let records = existing
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(FINGERPRINT_ANNOTATION))
        .map(String::as_str);
    if holds == Some(pem) && records == Some(fp) && lists == Some(keys) {
        return Plan::UpToDate;
    }
    let mut next = existing.clone();
    next.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(FINGERPRINT_ANNOTATION.to_owned(), fp.to_owned());
    let data = next.data.get_or_insert_with(BTreeMap::new);
    data.insert(DATA_KEY.to_owned(), pem.to_owned());
    data.insert(KEYS_DATA_KEY.to_owned(), keys.to_owned());
    // Both are text: a stale binary copy under the same key would make the object invalid.
    if let Some(binary) = next.binary_data.as_mut() {
        binary.remove(DATA_KEY);
        binary.remove(KEYS_DATA_KEY);
    }
    Plan::Replace(next)
}

/// The outcome of one publishing pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Created or replaced.
    Written,
    UpToDate,
    NotOurs,
    /// No key yet.
    NoKey,
}

/// Keeps the ConfigMap in line with the registry's latest key.
pub struct CertPublisher {
    api: Api<ConfigMap>,
    namespace: String,
    name: String,
}

impl CertPublisher {
    #[must_use]
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// One pass: makes the ConfigMap hold `pem`.
    ///
    /// # Errors
    /// An API call failed; the text is the API server's message (never key material: the
    /// certificate is public).
    pub async fn publish(&self, pem: &str, fp: &str, keys: &str) -> Result<Outcome, String> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let existing = self
                .api
                .get_opt(&self.name)
                .await
                .map_err(|e| api_error_text(&e))?;
            let result = match plan(
                existing.as_ref(),
                &self.namespace,
                &self.name,
                pem,
                fp,
                keys,
            ) {
                Plan::UpToDate => return Ok(Outcome::UpToDate),
                Plan::NotOurs => return Ok(Outcome::NotOurs),
                Plan::Create(object) => self.api.create(&PostParams::default(), &object).await,
                Plan::Replace(object) => {
                    self.api
                        .replace(&self.name, &PostParams::default(), &object)
                        .await
                }
            };
            match result {
                Ok(_) => return Ok(Outcome::Written),
                // Created or changed by someone else since the GET: look again.
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(api_error_text(&e)),
            }
        }
        Err("the ConfigMap kept changing while it was written".to_owned())
    }

    /// Publishes the latest key's certificate now, then again whenever the registry changes,
    /// every [`RESYNC`], and after a failure with back-off. Returns when the registry is gone.
    pub async fn run(self, registry: Arc<KeyRegistry>) {
        let mut changes = registry.subscribe();
        let mut last_problem: Option<String> = None;
        let mut backoff = FIRST_BACKOFF;
        loop {
            // Mark the current version seen before reading the snapshot, so a key registered
            // while we write wakes the next pass.
            changes.mark_unchanged();
            let snapshot = registry.snapshot();
            let latest = snapshot.latest().cloned();
            let keys = crate::server::keys_json(&snapshot);
            let outcome = match &latest {
                Some(entry) => {
                    self.publish(&entry.cert.to_pem(), entry.fingerprint.as_str(), &keys)
                        .await
                }
                None => Ok(Outcome::NoKey),
            };
            let wait = match outcome {
                Ok(Outcome::Written) => {
                    let fp = latest.as_ref().map(|e| e.fingerprint.to_string());
                    tracing::info!(
                        configmap = %self.name,
                        namespace = %self.namespace,
                        fingerprint = fp.as_deref().unwrap_or_default(),
                        "published the certificate"
                    );
                    last_problem = None;
                    backoff = FIRST_BACKOFF;
                    RESYNC
                }
                Ok(Outcome::UpToDate | Outcome::NoKey) => {
                    last_problem = None;
                    backoff = FIRST_BACKOFF;
                    RESYNC
                }
                Ok(Outcome::NotOurs) => {
                    let problem = "not ours".to_owned();
                    if last_problem.as_ref() != Some(&problem) {
                        tracing::warn!(
                            configmap = %self.name,
                            namespace = %self.namespace,
                            "a ConfigMap of this name exists without the label {LABEL}={LABEL_VALUE}; leaving it alone and not publishing the certificate (choose another name with --cert-configmap)"
                        );
                        last_problem = Some(problem);
                    }
                    RESYNC
                }
                Err(message) => {
                    if last_problem.as_ref() == Some(&message) {
                        tracing::debug!(configmap = %self.name, error = %message, "still cannot publish the certificate");
                    } else {
                        tracing::warn!(
                            configmap = %self.name,
                            namespace = %self.namespace,
                            error = %message,
                            "cannot publish the certificate in a ConfigMap (unsealing is not affected); retrying"
                        );
                        last_problem = Some(message);
                    }
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
            };
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

    fn ours(pem: &str, fp: &str) -> ConfigMap {
        match plan(None, "ns", "cm", pem, fp, "[]") {
            Plan::Create(object) => object,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn creates_labelled_with_fingerprint() {
        let object = ours(PEM, "SHA256:a");
        assert_eq!(object.metadata.name.as_deref(), Some("cm"));
        assert_eq!(object.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(
            object
                .metadata
                .labels
                .unwrap()
                .get(LABEL)
                .map(String::as_str),
            Some("true")
        );
        assert_eq!(
            object.metadata.annotations.unwrap()[FINGERPRINT_ANNOTATION],
            "SHA256:a"
        );
        assert_eq!(object.data.unwrap()[DATA_KEY], PEM);
    }

    #[test]
    fn up_to_date_replace_and_not_ours() {
        let current = ours(PEM, "SHA256:a");
        assert_eq!(
            plan(Some(&current), "ns", "cm", PEM, "SHA256:a", "[]"),
            Plan::UpToDate
        );
        // A new key: same object, new certificate and fingerprint; others' keys stay.
        let mut decorated = current.clone();
        decorated
            .metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("team".into(), "x".into());
        decorated
            .data
            .as_mut()
            .unwrap()
            .insert("README".into(), "hi".into());
        decorated.binary_data = Some(BTreeMap::from([(
            DATA_KEY.to_owned(),
            k8s_openapi::ByteString(b"old".to_vec()),
        )]));
        let Plan::Replace(next) = plan(Some(&decorated), "ns", "cm", "NEW", "SHA256:b", "[]")
        else {
            panic!("expected a replace");
        };
        assert_eq!(next.data.as_ref().unwrap()[DATA_KEY], "NEW");
        assert_eq!(next.data.as_ref().unwrap()["README"], "hi");
        assert_eq!(next.metadata.labels.as_ref().unwrap()["team"], "x");
        assert_eq!(
            next.metadata.annotations.as_ref().unwrap()[FINGERPRINT_ANNOTATION],
            "SHA256:b"
        );
        assert!(next.binary_data.unwrap().is_empty());
        // Same PEM but a missing or stale fingerprint is rewritten.
        let mut stale = current.clone();
        stale.metadata.annotations = None;
        assert!(matches!(
            plan(Some(&stale), "ns", "cm", PEM, "SHA256:a", "[]"),
            Plan::Replace(_)
        ));
        // Without the label (or with another value) it is someone else's.
        let mut foreign = current.clone();
        foreign.metadata.labels = None;
        assert_eq!(
            plan(Some(&foreign), "ns", "cm", "NEW", "SHA256:b", "[]"),
            Plan::NotOurs
        );
        foreign.metadata.labels = Some(BTreeMap::from([(LABEL.to_owned(), "false".to_owned())]));
        assert_eq!(
            plan(Some(&foreign), "ns", "cm", "NEW", "SHA256:b", "[]"),
            Plan::NotOurs
        );
    }
}
