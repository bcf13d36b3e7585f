//! One object read from a manifest stream, and its conversion into our typed objects.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::schema::{self, Field};
use super::{ManifestError, Position, zeroize_value};
use crate::types::{SEALED_SECRET_KIND, SealedSecret, Secret};

const SECRET_KIND: &str = "Secret";

/// One object of a manifest stream, as JSON, with its position in the stream.
///
/// The value may hold a Secret's plaintext: `Debug` prints only the position and kind, and the
/// strings are overwritten when the document is dropped.
pub struct Document {
    position: Position,
    value: Value,
}

impl Document {
    pub(super) fn new(position: Position, value: Value) -> Self {
        Self { position, value }
    }

    /// Where the document is in the input.
    #[must_use]
    pub fn position(&self) -> Position {
        self.position
    }

    /// The document as read (YAML already turned into JSON values).
    #[must_use]
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Takes the value out. It may hold a Secret's plaintext: the caller now owns that care.
    #[must_use]
    pub fn into_value(mut self) -> Value {
        std::mem::take(&mut self.value)
    }

    /// `kind`, when it is a string.
    #[must_use]
    pub fn kind(&self) -> Option<&str> {
        self.value.get("kind").and_then(Value::as_str)
    }

    /// `apiVersion`, when it is a string.
    #[must_use]
    pub fn api_version(&self) -> Option<&str> {
        self.value.get("apiVersion").and_then(Value::as_str)
    }

    /// Decodes a `core/v1` Secret the way kubeseal does: numbers and booleans in string fields
    /// (labels, annotations, `stringData`, …) become strings, field names match
    /// case-insensitively, `null` means "unset".
    ///
    /// Upstream does not look at `kind` at all. We accept a document without a `kind` (or with
    /// an empty one) as upstream does, but reject one whose `kind` is present and is not
    /// `Secret`: sealing a ConfigMap or an already sealed SealedSecret is never what was meant.
    /// `apiVersion` is not checked.
    ///
    /// # Errors
    /// The document is not an object, has another kind, or a field has the wrong type or (for
    /// `data`) is not base64. Errors name the field, never its value.
    pub fn into_secret(mut self) -> Result<Secret, ManifestError> {
        self.decode(SECRET_KIND, schema::SECRET)
    }

    /// Decodes a `bitnami.com/v1alpha1` SealedSecret, with the same leniency as
    /// [`Document::into_secret`]. A document without a `kind` is accepted (kubeseal's
    /// `--validate` and `--re-encrypt` accept one); a document of another kind is rejected.
    /// Callers that need upstream's stricter recovery behaviour (kind and apiVersion required)
    /// check [`SealedSecret::has_sealed_secret_type`] on the result.
    ///
    /// # Errors
    /// As for [`Document::into_secret`].
    pub fn into_sealed_secret(mut self) -> Result<SealedSecret, ManifestError> {
        self.decode(SEALED_SECRET_KIND, schema::SEALED_SECRET)
    }

    fn decode<T>(&mut self, expected: &'static str, fields: &[Field]) -> Result<T, ManifestError>
    where
        T: for<'de> Deserialize<'de>,
    {
        let position = self.position;
        self.check_kind(expected)?;
        let Value::Object(object) = &mut self.value else {
            return Err(ManifestError::NotAnObject { position });
        };
        schema::normalize_object(object, fields).map_err(|mismatch| {
            ManifestError::InvalidField {
                position,
                field: mismatch.path(),
                expected: mismatch.expected,
            }
        })?;
        // Deserializing from a reference copies the strings into the typed object (secret
        // values into zeroizing buffers); our copy is wiped on drop. serde's own message is not
        // used: it can quote the value.
        T::deserialize(&self.value).map_err(|_| ManifestError::Invalid { position, expected })
    }

    fn check_kind(&self, expected: &'static str) -> Result<(), ManifestError> {
        let position = self.position;
        let Value::Object(object) = &self.value else {
            return Err(ManifestError::NotAnObject { position });
        };
        // Compare as Go would after its string conversion; a field name in other case counts.
        let kind = object
            .iter()
            .find(|(key, _)| key.as_str() == "kind")
            .or_else(|| {
                object
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case("kind"))
            })
            .map(|(_, value)| value);
        let found = match kind {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::String(kind)) if kind.is_empty() || kind == expected => return Ok(()),
            Some(Value::String(kind)) if is_kind_name(kind) => Some(kind.clone()),
            Some(_) => None,
        };
        Err(ManifestError::WrongKind {
            position,
            found,
            expected,
        })
    }
}

/// Whether `kind` is a name we may print: Kubernetes kinds are short ASCII identifiers, and
/// anything else might be a misplaced value.
fn is_kind_name(kind: &str) -> bool {
    kind.len() <= 63
        && kind.starts_with(|c: char| c.is_ascii_alphabetic())
        && kind.chars().all(|c| c.is_ascii_alphanumeric())
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("position", &self.position)
            .field("kind", &self.kind().filter(|kind| is_kind_name(kind)))
            .finish_non_exhaustive()
    }
}

impl Drop for Document {
    fn drop(&mut self) {
        zeroize_value(&mut self.value);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document(value: Value) -> Document {
        Document::new(
            Position {
                document: 1,
                item: None,
            },
            value,
        )
    }

    #[test]
    fn secret_with_or_without_kind() {
        let secret = document(json!({"metadata": {"name": "a"}, "stringData": {"x": 1}}))
            .into_secret()
            .unwrap();
        assert_eq!(secret.metadata.name, "a");
        assert_eq!(secret.string_data["x"].expose(), b"1");
        let secret = document(json!({"kind": "Secret", "data": {"x": "aGk="}}))
            .into_secret()
            .unwrap();
        assert_eq!(secret.data["x"].expose(), b"hi");
    }

    #[test]
    fn wrong_kinds_are_named() {
        let error = document(json!({"kind": "SealedSecret", "apiVersion": "bitnami.com/v1alpha1"}))
            .into_secret()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "document 1 is a SealedSecret, expected a Secret"
        );
        let error = document(json!({"kind": "Secret"}))
            .into_sealed_secret()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "document 1 is a Secret, expected a SealedSecret"
        );
        let error = document(json!({"kind": "s3cr3t value!"}))
            .into_secret()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "document 1 is of an unrecognized kind, expected a Secret"
        );
        let error = document(json!(["a"])).into_secret().unwrap_err();
        assert_eq!(error.to_string(), "document 1 is not an object");
    }

    #[test]
    fn field_errors_name_the_field_only() {
        let error = document(json!({"stringData": {"password": {"nested": "s3cr3t"}}}))
            .into_secret()
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "document 1: stringData[\"password\"] must be a string"
        );
        let error = document(json!({"data": {"password": "s3cr3t!"}}))
            .into_secret()
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "document 1: data[\"password\"] must be standard base64"
        );
    }

    #[test]
    fn sealed_secret_decodes() {
        let sealed = document(json!({
            "kind": "SealedSecret",
            "apiVersion": "bitnami.com/v1alpha1",
            "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"template": {"metadata": {"labels": {"on": true}}}, "encryptedData": {"a": "AgA="}},
        }))
        .into_sealed_secret()
        .unwrap();
        assert!(sealed.has_sealed_secret_type());
        assert_eq!(sealed.spec.template.metadata.labels["on"], "true");
        assert_eq!(sealed.spec.encrypted_data.unwrap()["a"], "AgA=");
    }

    #[test]
    fn debug_hides_values() {
        let doc = document(json!({"kind": "Secret", "stringData": {"password": "s3cr3t"}}));
        let debug = format!("{doc:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("Secret"), "{debug}");
    }
}
