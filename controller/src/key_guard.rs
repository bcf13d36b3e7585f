//! Not replacing lost keys silently (addition to SPEC §3.5).
//!
//! Upstream generates a key at start-up whenever it finds none. When the key Secrets were
//! deleted — by mistake, or on purpose before restoring a backup — that fresh key is worse than
//! useless: every existing SealedSecret stays undecryptable, new ones get sealed for the
//! stranger, and a later restore leaves two key generations behind, one of which nobody backed
//! up ("which certificate is current?").
//!
//! So before generating the first key we look for evidence that keys existed: a SealedSecret
//! in the watched namespaces whose `Synced` condition is `True` was opened by some key. With
//! such evidence the controller does not generate; it logs what it found and how to recover,
//! and polls the key namespace until a key Secret appears (`kubeseal-rs keys restore`,
//! `kubectl apply -f backup.yaml`, or `kubeseal-rs keygen … | kubectl create -f -` to start
//! over on purpose). Until then it serves nothing. Without evidence (a new installation, or
//! `--update-status=false` which writes no conditions) it behaves as upstream. If the listing
//! itself fails we also fall back to upstream's behaviour rather than block a start-up.

use std::time::{Duration, Instant};

use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt as _};

use crate::cli::{Settings, WatchScope};
use crate::error::api_error_text;
use crate::key_registry::{KeyManager, KeyManagerError, KeyRegistry};
use crate::resource::SealedSecretObject;

/// How often the key namespace is listed again while waiting for restored keys.
const POLL: Duration = Duration::from_secs(3);
/// How often the waiting is logged again.
const REMIND: Duration = Duration::from_secs(60);
/// How many SealedSecrets a message names.
const NAMED: usize = 3;

/// SealedSecrets that prove keys existed: how many, and the first few `namespace/name`s.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub count: usize,
    pub examples: Vec<String>,
}

/// Whether `obj` was unsealed by some key (its `Synced` condition is `True`).
#[must_use]
pub fn was_unsealed(obj: &SealedSecretObject) -> bool {
    obj.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Synced" && c.status == "True")
    })
}

/// Counts the unsealed SealedSecrets among `objects` into `evidence`.
pub fn collect<'a>(
    evidence: &mut Evidence,
    objects: impl IntoIterator<Item = &'a SealedSecretObject>,
) {
    for obj in objects.into_iter().filter(|o| was_unsealed(o)) {
        evidence.count += 1;
        if evidence.examples.len() < NAMED {
            evidence.examples.push(format!(
                "{}/{}",
                obj.namespace().unwrap_or_default(),
                obj.name_any()
            ));
        }
    }
}

/// Lists the watched SealedSecrets (pages of 500) and collects the evidence. `Err` when a
/// list call failed.
async fn find_evidence(
    client: &Client,
    scope: &WatchScope,
    label_selector: Option<&str>,
) -> Result<Evidence, String> {
    let apis: Vec<Api<SealedSecretObject>> = match scope {
        WatchScope::All => vec![Api::all(client.clone())],
        WatchScope::Namespaces(list) => list
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect(),
    };
    let mut evidence = Evidence::default();
    for api in apis {
        let mut params = ListParams::default().limit(500);
        if let Some(selector) = label_selector {
            params = params.labels(selector);
        }
        loop {
            let page = match api.list(&params).await {
                Ok(page) => page,
                // A namespace from --additional-namespaces that does not exist holds nothing.
                Err(e) if crate::error::is_not_found(&e) => break,
                Err(e) => return Err(api_error_text(&e)),
            };
            collect(&mut evidence, &page.items);
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
    }
    Ok(evidence)
}

/// The log line that explains the situation.
#[must_use]
pub fn message(evidence: &Evidence, key_namespace: &str) -> String {
    let more = if evidence.count > evidence.examples.len() {
        ", …"
    } else {
        ""
    };
    format!(
        "no sealing key found in namespace {key_namespace:?}, but {} SealedSecrets were already unsealed ({}{more}): their keys were deleted or lost, so no new key is generated; restore the keys (kubeseal-rs keys restore BACKUP, or kubectl apply -f BACKUP), or create a new key on purpose (kubeseal-rs keygen -n {key_namespace} | kubectl create -f -)",
        evidence.count,
        evidence.examples.join(", "),
    )
}

/// Upstream's start-up key step (SPEC §3.5) with the guard above: when there is no key but
/// evidence that keys existed, waits until key Secrets are back instead of generating.
///
/// # Errors
/// Listing the key Secrets or generating a key failed.
pub async fn ensure_initial_key(
    manager: &KeyManager,
    registry: &KeyRegistry,
    client: &Client,
    settings: &Settings,
    key_namespace: &str,
) -> Result<(), KeyManagerError> {
    if registry.snapshot().is_empty() {
        let scope = settings.watch_scope(key_namespace);
        match find_evidence(client, &scope, settings.label_selector.as_deref()).await {
            Ok(evidence) if evidence.count > 0 => {
                wait_for_keys(manager, registry, &message(&evidence, key_namespace)).await?;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(
                error = %error,
                "cannot list SealedSecrets to check for lost keys; generating a key as upstream does"
            ),
        }
    }
    manager.ensure_initial_key(settings.key_cutoff_time).await
}

/// Polls the key namespace until a key is registered.
async fn wait_for_keys(
    manager: &KeyManager,
    registry: &KeyRegistry,
    message: &str,
) -> Result<(), KeyManagerError> {
    let mut reminded: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if reminded.is_none_or(|at| now.duration_since(at) >= REMIND) {
            tracing::error!("{message}");
            reminded = Some(now);
        }
        tokio::time::sleep(POLL).await;
        let found = manager.load().await?;
        if found > 0 || !registry.snapshot().is_empty() {
            tracing::info!(keys = registry.snapshot().len(), "sealing keys are back");
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealed_secrets_core::types::{SealedSecretCondition, SealedSecretStatus};

    fn object(name: &str, synced: Option<&str>) -> SealedSecretObject {
        let mut obj = SealedSecretObject::default();
        obj.metadata.name = Some(name.into());
        obj.metadata.namespace = Some("ns".into());
        obj.status = synced.map(|status| SealedSecretStatus {
            conditions: vec![SealedSecretCondition {
                type_: "Synced".into(),
                status: status.into(),
                ..SealedSecretCondition::default()
            }],
            ..SealedSecretStatus::default()
        });
        obj
    }

    #[test]
    fn only_unsealed_objects_are_evidence() {
        let objects = [
            object("a", Some("True")),
            object("b", Some("False")),
            object("c", None),
            object("d", Some("True")),
            object("e", Some("True")),
            object("f", Some("True")),
        ];
        let mut evidence = Evidence::default();
        collect(&mut evidence, &objects);
        assert_eq!(evidence.count, 4);
        assert_eq!(evidence.examples, ["ns/a", "ns/d", "ns/e"]);
        let text = message(&evidence, "kube-system");
        assert!(
            text.starts_with(
                "no sealing key found in namespace \"kube-system\", but 4 SealedSecrets were already unsealed (ns/a, ns/d, ns/e, …)"
            ),
            "{text}"
        );
        let mut none = Evidence::default();
        collect(&mut none, &objects[1..3]);
        assert_eq!(none, Evidence::default());
    }
}
