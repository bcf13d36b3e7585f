//! Kubernetes object types used by the format, serialized in upstream's Go struct field order
//! so that JSON output is byte-identical to kubeseal's (SPEC §2.2, §4.6).
//!
//! Go's `omitempty` is mirrored with `skip_serializing_if` on empty strings, maps, slices and
//! zero integers. Unknown fields are dropped on input, as Go's decoder drops them.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::scope::Scope;
use crate::secret_bytes::SecretBytes;

/// API group/version of SealedSecrets.
pub const SEALED_SECRET_API_VERSION: &str = "bitnami.com/v1alpha1";
/// Kind of SealedSecrets.
pub const SEALED_SECRET_KIND: &str = "SealedSecret";

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// `metav1.ObjectMeta`, fields in Go order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub generate_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub self_link: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: i64,
    /// `omitzero` since apimachinery 0.34: absent when unset; `null` on input is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub annotations: BTreeMap<String, String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub owner_references: Vec<OwnerReference>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub finalizers: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub managed_fields: Vec<serde_json::Value>,
}

impl ObjectMeta {
    /// Clears the fields the API server owns (SPEC §4.5 step 4).
    pub fn strip_server_fields(&mut self) {
        self.self_link.clear();
        self.uid.clear();
        self.resource_version.clear();
        self.generation = 0;
        self.creation_timestamp = None;
        self.deletion_timestamp = None;
        self.deletion_grace_period_seconds = None;
    }

    /// The scope these annotations select.
    #[must_use]
    pub fn scope(&self) -> Scope {
        Scope::from_annotations(Some(&self.annotations))
    }

    /// Whether annotation `key` is exactly `"true"` (upstream's boolean annotation rule).
    #[must_use]
    pub fn annotation_is_true(&self, key: &str) -> bool {
        self.annotations.get(key).is_some_and(|v| v == "true")
    }
}

/// `metav1.OwnerReference`, fields in Go order (`uid` has no `omitempty` upstream).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

/// `core/v1` Secret. `data` values are plaintext held in zeroizing buffers, written as base64;
/// `stringData` values are plaintext written as strings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "secret_map_base64::serialize",
        deserialize_with = "secret_map_base64::deserialize"
    )]
    pub data: BTreeMap<String, SecretBytes>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "secret_map_text::serialize",
        deserialize_with = "secret_map_text::deserialize"
    )]
    pub string_data: BTreeMap<String, SecretBytes>,
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
}

/// `bitnami.com/v1alpha1` SealedSecret, fields in Go order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecret {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: SealedSecretSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SealedSecretStatus>,
}

impl SealedSecret {
    /// Whether the object declares itself a SealedSecret of our group (kind and apiVersion).
    #[must_use]
    pub fn has_sealed_secret_type(&self) -> bool {
        self.kind == SEALED_SECRET_KIND && self.api_version == SEALED_SECRET_API_VERSION
    }

    /// The scope its (outer) annotations select.
    #[must_use]
    pub fn scope(&self) -> Scope {
        self.metadata.scope()
    }

    /// The OAEP label its items are bound to: its scope applied to its namespace and name.
    #[must_use]
    pub fn label(&self) -> Vec<u8> {
        self.scope()
            .label(&self.metadata.namespace, &self.metadata.name)
    }

    /// Its `spec.encryptedData` items (name, base64 ciphertext), in name order.
    pub fn items(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spec
            .encrypted_data
            .iter()
            .flatten()
            .map(|(item, text)| (item.as_str(), text.as_str()))
    }

    /// How many `spec.encryptedData` items it has.
    #[must_use]
    pub fn item_count(&self) -> usize {
        self.spec.encrypted_data.as_ref().map_or(0, BTreeMap::len)
    }
}

/// `spec` of a SealedSecret. `encryptedData` has no `omitempty` upstream (a nil map is `null`),
/// and its decoder ignores malformed values rather than failing the whole object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretSpec {
    #[serde(default)]
    pub template: SecretTemplateSpec,
    /// Legacy v1 whole-Secret blob (base64 in JSON).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "opt_base64::serialize",
        deserialize_with = "opt_base64::deserialize"
    )]
    pub data: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "lenient_string_map")]
    pub encrypted_data: Option<BTreeMap<String, String>>,
    /// The `encryptedData` values are not ciphertexts but their SHA-256 (base64url, unpadded):
    /// the controller's watch cache keeps them so, and reads the object again to open it. Never
    /// read from or written to JSON, so no API object can claim it.
    #[serde(skip)]
    pub ciphertexts_hashed: bool,
}

/// `spec.template`: the metadata, type and templates of the Secret to produce.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplateSpec {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    /// Go `text/template` sources by Secret key. A `null` source omits that key (an
    /// `encryptedData` item of the same name) from the Secret (upstream v0.40).
    pub data: BTreeMap<String, Option<String>>,
}

/// `status` of a SealedSecret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretStatus {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub observed_generation: i64,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub conditions: Vec<SealedSecretCondition>,
    /// The controller's keyed record of the last unseal (addition; a
    /// [`crate::digest::DigestRecord`] value, opaque to anyone else). Written with the status
    /// after the Secret; upstream's CRD prunes it, which only turns the optimisation off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsealed_digest: Option<String>,
}

/// One status condition (upstream only ever uses type `Synced`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedSecretCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Treats an explicit `null` as the type's default (Go decodes `null` into a nil map/slice).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Upstream's `encryptedData` decoder ignores decode errors so one bad object cannot block the
/// controller: non-string entries are dropped, a non-object becomes nil.
fn lenient_string_map<'de, D>(deserializer: D) -> Result<Option<BTreeMap<String, String>>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(match value {
        serde_json::Value::Object(map) => Some(
            map.into_iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k, s)),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    })
}

/// Standard padded base64 that, like Go's `StdEncoding`, ignores `\r` and `\n` when decoding.
pub mod base64_std {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    /// Encodes with padding.
    #[must_use]
    pub fn encode(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    /// Decodes strict padded standard base64, skipping CR and LF.
    ///
    /// # Errors
    /// The input is not valid standard base64.
    pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
        if text.contains(['\r', '\n']) {
            let cleaned: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            STANDARD.decode(cleaned)
        } else {
            STANDARD.decode(text)
        }
    }
}

mod secret_map_base64 {
    use super::{BTreeMap, Deserialize, Deserializer, SecretBytes, Serializer, base64_std};
    use serde::de::Error as _;
    use serde::ser::SerializeMap as _;
    use zeroize::Zeroizing;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, SecretBytes>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(map.len()))?;
        for (key, value) in map {
            let encoded = Zeroizing::new(base64_std::encode(value.expose()));
            out.serialize_entry(key, encoded.as_str())?;
        }
        out.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, SecretBytes>, D::Error> {
        let raw = Option::<BTreeMap<String, Option<String>>>::deserialize(deserializer)?
            .unwrap_or_default();
        let mut out = BTreeMap::new();
        let mut failed = None;
        for (key, value) in raw {
            let text = Zeroizing::new(value.unwrap_or_default());
            match base64_std::decode(&text) {
                Ok(bytes) => {
                    out.insert(key, SecretBytes::new(bytes));
                }
                // The value is never put in the error: only the item name.
                Err(_) => failed = failed.or(Some(key)),
            }
        }
        match failed {
            Some(key) => Err(D::Error::custom(format!(
                "data item {key:?} is not valid base64"
            ))),
            None => Ok(out),
        }
    }
}

mod secret_map_text {
    use super::{BTreeMap, Deserialize, Deserializer, SecretBytes, Serializer};
    use serde::de::Error as _;
    use serde::ser::SerializeMap as _;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, SecretBytes>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(map.len()))?;
        for (key, value) in map {
            let text = value.expose_str().ok_or_else(|| {
                serde::ser::Error::custom(format!("stringData item {key:?} is not UTF-8"))
            })?;
            out.serialize_entry(key, text)?;
        }
        out.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, SecretBytes>, D::Error> {
        let raw = Option::<BTreeMap<String, Option<String>>>::deserialize(deserializer)
            .map_err(|_| D::Error::custom("stringData must map names to strings"))?
            .unwrap_or_default();
        Ok(raw
            .into_iter()
            .map(|(key, value)| {
                let text = value.unwrap_or_default();
                (key, SecretBytes::new(text.into_bytes()))
            })
            .collect())
    }
}

mod opt_base64 {
    use super::{Deserialize, Deserializer, Serializer, base64_std};
    use serde::de::Error as _;

    #[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<T>`
    pub fn serialize<S: Serializer>(
        value: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => serializer.serialize_str(&base64_std::encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(text) => base64_std::decode(&text)
                .map(Some)
                .map_err(|_| D::Error::custom("spec.data is not valid base64")),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_round_trips_with_base64_data() {
        let json = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","creationTimestamp":null},"data":{"a":"aGk="},"stringData":{"b":"yo"}}"#;
        let secret: Secret = serde_json::from_str(json).unwrap();
        assert_eq!(secret.data["a"].expose(), b"hi");
        assert_eq!(secret.string_data["b"].expose(), b"yo");
        assert_eq!(secret.metadata.creation_timestamp, None);
        let out = serde_json::to_string(&secret).unwrap();
        assert_eq!(
            out,
            r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"},"data":{"a":"aGk="},"stringData":{"b":"yo"}}"#
        );
    }

    #[test]
    fn bad_base64_names_item_not_value() {
        let json = r#"{"data":{"password":"not base64 s3cr3t!"}}"#;
        let err = serde_json::from_str::<Secret>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"password\""), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn encrypted_data_is_lenient_and_null_when_nil() {
        let ss: SealedSecret =
            serde_json::from_str(r#"{"spec":{"encryptedData":{"a":"x","b":1}}}"#).unwrap();
        assert_eq!(ss.spec.encrypted_data.as_ref().map(BTreeMap::len), Some(1));
        let empty = SealedSecretSpec::default();
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"template":{"metadata":{}},"encryptedData":null}"#
        );
    }

    #[test]
    fn base64_ignores_newlines() {
        assert_eq!(base64_std::decode("aG\r\nk=").unwrap(), b"hi");
        assert!(base64_std::decode("aGk").is_err());
        assert!(base64_std::decode("a-k=").is_err());
    }
}
