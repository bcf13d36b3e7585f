//! core/v1 Events about SealedSecrets (SPEC §3.7): component `sealed-secrets`, involvedObject
//! the SealedSecret, upstream's reasons `Unsealed`, `ErrUnsealFailed`, `ErrUpdateFailed`, and
//! ours, `SecretRepaired` (drift repair; upstream has no such event).
//!
//! Like client-go's recorder, a repeat of the same event (same object, type, reason and message)
//! bumps `count` and `lastTimestamp` on the existing Event instead of creating a new one. Every
//! event is also logged at INFO. Event messages never carry plaintext: they are built from
//! unseal and API errors, which carry item names only.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};

use crate::error::is_not_found;
use crate::resource::SealedSecretObject;

/// The recorder's component name.
pub const COMPONENT: &str = "sealed-secrets";
/// Reason of the success event.
pub const REASON_UNSEALED: &str = "Unsealed";
/// Reason when unsealing failed.
pub const REASON_UNSEAL_FAILED: &str = "ErrUnsealFailed";
/// Reason when writing the Secret failed.
pub const REASON_UPDATE_FAILED: &str = "ErrUpdateFailed";
/// Message of the success event.
pub const MESSAGE_UNSEALED: &str = "SealedSecret unsealed successfully";
/// Reason (Warning, an addition) when a Secret changed outside its SealedSecret was put back.
pub const REASON_SECRET_REPAIRED: &str = "SecretRepaired";

/// The message of a [`REASON_SECRET_REPAIRED`] event: the Secret's name only, never which
/// values or keys differed (whoever may read events in the namespace sees it).
#[must_use]
pub fn repaired_message(name: &str) -> String {
    format!("Secret {name:?} was changed outside its SealedSecret and has been restored")
}

const CACHE_LIMIT: usize = 4096;

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    namespace: String,
    uid: String,
    type_: EventType,
    reason: &'static str,
    message: String,
}

#[derive(Debug, Clone)]
struct CacheEntry {
    name: String,
    count: i32,
}

/// Writes Events through the API.
pub struct Recorder {
    client: Client,
    host: String,
    cache: Mutex<HashMap<CacheKey, CacheEntry>>,
}

impl Recorder {
    #[must_use]
    pub fn new(client: Client) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_default();
        Self {
            client,
            host,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn involved_object(ss: &SealedSecretObject) -> ObjectReference {
        ObjectReference {
            api_version: Some(sealed_secrets_core::types::SEALED_SECRET_API_VERSION.to_owned()),
            kind: Some(sealed_secrets_core::types::SEALED_SECRET_KIND.to_owned()),
            name: ss.metadata.name.clone(),
            namespace: ss.metadata.namespace.clone(),
            uid: ss.metadata.uid.clone(),
            resource_version: ss.metadata.resource_version.clone(),
            field_path: None,
        }
    }

    async fn write(&self, ss: &SealedSecretObject, key: CacheKey) -> Result<(), kube::Error> {
        let namespace = key.namespace.clone();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let now = Time(Timestamp::now());
        let previous = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(entry) = previous {
            let count = entry.count.saturating_add(1);
            let patch = serde_json::json!({
                "count": count,
                "lastTimestamp": now,
            });
            match api
                .patch(&entry.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    self.remember(key, entry.name, count);
                    return Ok(());
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
        }
        let name = format!(
            "{}.{:x}",
            ss.metadata.name.as_deref().unwrap_or_default(),
            Timestamp::now().as_nanosecond()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            involved_object: Self::involved_object(ss),
            reason: Some(key.reason.to_owned()),
            message: Some(key.message.clone()),
            source: Some(EventSource {
                component: Some(COMPONENT.to_owned()),
                host: Some(self.host.clone()).filter(|h| !h.is_empty()),
            }),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            type_: Some(key.type_.as_str().to_owned()),
            reporting_component: Some(COMPONENT.to_owned()),
            reporting_instance: Some(self.host.clone()).filter(|h| !h.is_empty()),
            ..Event::default()
        };
        api.create(&PostParams::default(), &event).await?;
        self.remember(key, name, 1);
        Ok(())
    }

    fn remember(&self, key: CacheKey, name: String, count: i32) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_LIMIT && !cache.contains_key(&key) {
            cache.clear();
        }
        cache.insert(key, CacheEntry { name, count });
    }
}

impl Recorder {
    /// Records one event about `ss` (and logs it); failures to write it are logged only.
    pub async fn publish(
        &self,
        ss: &SealedSecretObject,
        type_: EventType,
        reason: &'static str,
        message: String,
    ) {
        tracing::info!(
            sealed_secret = %ss.key(),
            event_type = type_.as_str(),
            reason,
            message = %message,
            "event"
        );
        let key = CacheKey {
            namespace: ss.metadata.namespace.clone().unwrap_or_default(),
            uid: ss.metadata.uid.clone().unwrap_or_default(),
            type_,
            reason,
            message,
        };
        if let Err(e) = self.write(ss, key).await {
            tracing::warn!(sealed_secret = %ss.key(), reason, error = %e, "cannot record event");
        }
    }
}
