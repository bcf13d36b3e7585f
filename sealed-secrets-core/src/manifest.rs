//! Reading JSON/YAML document streams and writing upstream-identical JSON and YAML.
//!
//! Reading ([`read_documents`]) accepts what kubeseal accepts (SPEC §4.4): a stream of JSON
//! objects or a multi-document YAML stream, detected as upstream detects it, with YAML read the
//! way go-yaml v2 reads it (`yes` is `true`, keys become strings). `List` objects are unpacked.
//! Each [`Document`] remembers where it came from, and turns into a typed
//! [`Secret`](crate::types::Secret) or [`SealedSecret`](crate::types::SealedSecret) with
//! upstream's leniency (numbers and booleans in string fields become strings).
//!
//! Writing produces kubeseal's exact bytes (SPEC §4.6): [`to_json`] is Go's
//! `json.MarshalIndent` plus a newline, [`to_json_compact`] is `json.Marshal`, [`to_yaml`] is
//! `---\n` plus `sigs.k8s.io/yaml` (go-yaml v2) output.
//!
//! No error from this module quotes the input: a Secret's values are secret, so errors name the
//! document, the field and the line and column, never the text found there.
//!
//! ```
//! use sealed_secrets_core::manifest;
//!
//! let input = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n    tier: yes\n\
//!               stringData:\n  port: 5432\n";
//! let documents = manifest::read_documents(input)?;
//! let secret = documents.into_iter().next().unwrap().into_secret()?;
//! assert_eq!(secret.metadata.labels["tier"], "true"); // YAML 1.1, as upstream reads it
//! assert_eq!(secret.string_data["port"].expose(), b"5432");
//!
//! let yaml = manifest::to_yaml(&secret.metadata)?;
//! assert_eq!(yaml, "---\nlabels:\n  tier: \"true\"\nname: db\n");
//! # Ok::<(), manifest::ManifestError>(())
//! ```

mod document;
mod go_number;
mod json;
mod key_order;
mod read;
mod resolve;
mod schema;
mod yaml;
mod yaml_load;

use std::fmt;

use serde_json::Value;
use zeroize::Zeroize;

pub use document::Document;
pub use json::{to_json, to_json_compact};
pub use read::read_documents;
pub use yaml::to_yaml;

/// Where a document sits in the input: its 1-based position in the stream (empty documents
/// count) and, for an object unpacked from a `List`, its 1-based position in `items`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    pub document: usize,
    pub item: Option<usize>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.item {
            Some(item) => write!(f, "document {}, item {item}", self.document),
            None => write!(f, "document {}", self.document),
        }
    }
}

/// Why input could not be read or output written. Messages never contain input values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("input is not valid UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("document {document}: invalid JSON at line {line} column {column}: {reason}")]
    Json {
        document: usize,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("document {document}: invalid YAML at line {line} column {column}: {reason}")]
    Yaml {
        document: usize,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{position} is not an object")]
    NotAnObject { position: Position },
    #[error("{position} is {}, expected a {expected}", kind_phrase(.found.as_deref()))]
    WrongKind {
        position: Position,
        /// The document's kind, when it is a plain identifier (`None` otherwise).
        found: Option<String>,
        expected: &'static str,
    },
    #[error("{position}: {field} must be {expected}")]
    InvalidField {
        position: Position,
        /// Path of the field, e.g. `metadata.labels["app"]`.
        field: String,
        expected: &'static str,
    },
    #[error("{position} is not a valid {expected}")]
    Invalid {
        position: Position,
        expected: &'static str,
    },
    #[error("cannot serialize: {0}")]
    Serialize(String),
}

/// `a ConfigMap`, `an Ingress`, or a phrase for a kind we will not print.
fn kind_phrase(kind: Option<&str>) -> String {
    match kind {
        Some(kind) if kind.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) => {
            format!("an {kind}")
        }
        Some(kind) => format!("a {kind}"),
        None => "of an unrecognized kind".to_owned(),
    }
}

/// Overwrites every string in `value` (objects keep their keys, which are names, not values).
pub(crate) fn zeroize_value(value: &mut Value) {
    match value {
        Value::String(text) => text.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(zeroize_value),
        Value::Object(map) => map.values_mut().for_each(zeroize_value),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Decodes an HTTP request body as one SealedSecret, as the controller's `/v1/verify` and
/// `/v1/rotate` read it (upstream decodes them with the API machinery's universal deserializer):
/// JSON, or YAML, carrying `apiVersion: bitnami.com/v1alpha1` and `kind: SealedSecret`.
/// `single_document` rejects YAML streams holding more than one non-empty document. `None` for
/// anything else; the caller answers with a status code and no detail.
#[must_use]
pub fn decode_sealed_secret_body(
    body: &[u8],
    single_document: bool,
) -> Option<crate::types::SealedSecret> {
    let text = std::str::from_utf8(body).ok()?;
    let value: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).ok()?
    } else {
        let docs: Vec<Value> = serde_saphyr::from_multiple(text).ok()?;
        let mut docs = docs.into_iter().filter(|d| !d.is_null());
        let first = docs.next()?;
        if single_document && docs.next().is_some() {
            return None;
        }
        first
    };
    let ss: crate::types::SealedSecret = serde_json::from_value(value).ok()?;
    ss.has_sealed_secret_type().then_some(ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_display() {
        let top = Position {
            document: 2,
            item: None,
        };
        let item = Position {
            document: 2,
            item: Some(3),
        };
        assert_eq!(top.to_string(), "document 2");
        assert_eq!(item.to_string(), "document 2, item 3");
    }

    #[test]
    fn wrong_kind_reads_well() {
        let position = Position {
            document: 1,
            item: None,
        };
        let error = ManifestError::WrongKind {
            position,
            found: Some("Ingress".to_owned()),
            expected: "Secret",
        };
        assert_eq!(
            error.to_string(),
            "document 1 is an Ingress, expected a Secret"
        );
        let error = ManifestError::WrongKind {
            position,
            found: None,
            expected: "SealedSecret",
        };
        assert_eq!(
            error.to_string(),
            "document 1 is of an unrecognized kind, expected a SealedSecret"
        );
    }
}
