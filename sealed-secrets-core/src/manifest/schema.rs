//! Upstream's leniency when a document becomes a typed object, done on the JSON value first.
//!
//! Upstream decodes documents with `sigs.k8s.io/yaml`, which turns numbers and booleans into
//! strings wherever the Go field is a string (`port: 5432` in `stringData`, `tier: yes` in
//! labels), and then with Go's `encoding/json`, which matches field names case-insensitively
//! and treats `null` as "leave at the zero value". This module applies the same rules along the
//! shape of a Secret or SealedSecret, and checks the types on the way, so that a bad field is
//! reported by its path rather than by a serde message that would quote its value.

use serde_json::{Map, Number, Value};
use zeroize::Zeroizing;

use super::go_number;
use crate::types::base64_std;

/// What a field holds, as far as decoding cares.
pub(super) enum Shape {
    /// A Go string: numbers and booleans are converted, `null` means empty.
    Str,
    /// A Go string that must be present in our types (`""` when missing).
    RequiredStr,
    /// A `*bool`.
    Bool,
    /// An `int64`.
    Int,
    /// A `metav1.Time`: a string or `null`, no conversion (it has its own decoder upstream).
    Time,
    /// A `[]byte`: standard base64 text.
    Base64,
    /// `map[string]string`.
    StrMap,
    /// A Go `*string`: as [`Shape::Str`], but `null` stays `null` (nil).
    OptStr,
    /// `map[string]*string`: as [`Shape::StrMap`], but a `null` entry stays `null` (nil).
    OptStrMap,
    /// `map[string][]byte`.
    Base64Map,
    /// `[]string`.
    StrList,
    /// A slice of objects.
    ObjectList(&'static [Field]),
    /// A struct.
    Object(&'static [Field]),
    /// Anything (kept as it is).
    Any,
}

pub(super) struct Field {
    name: &'static str,
    shape: Shape,
}

const fn field(name: &'static str, shape: Shape) -> Field {
    Field { name, shape }
}

const OWNER_REFERENCE: &[Field] = &[
    field("apiVersion", Shape::Str),
    field("kind", Shape::Str),
    field("name", Shape::Str),
    field("uid", Shape::Str),
    field("controller", Shape::Bool),
    field("blockOwnerDeletion", Shape::Bool),
];

const OBJECT_META: &[Field] = &[
    field("name", Shape::Str),
    field("generateName", Shape::Str),
    field("namespace", Shape::Str),
    field("selfLink", Shape::Str),
    field("uid", Shape::Str),
    field("resourceVersion", Shape::Str),
    field("generation", Shape::Int),
    field("creationTimestamp", Shape::Time),
    field("deletionTimestamp", Shape::Time),
    field("deletionGracePeriodSeconds", Shape::Int),
    field("labels", Shape::StrMap),
    field("annotations", Shape::StrMap),
    field("ownerReferences", Shape::ObjectList(OWNER_REFERENCE)),
    field("finalizers", Shape::StrList),
    field("managedFields", Shape::ObjectList(&[])),
];

/// `core/v1` Secret.
pub(super) const SECRET: &[Field] = &[
    field("kind", Shape::Str),
    field("apiVersion", Shape::Str),
    field("metadata", Shape::Object(OBJECT_META)),
    field("immutable", Shape::Bool),
    field("data", Shape::Base64Map),
    field("stringData", Shape::StrMap),
    field("type", Shape::Str),
];

const TEMPLATE: &[Field] = &[
    field("metadata", Shape::Object(OBJECT_META)),
    field("type", Shape::Str),
    field("immutable", Shape::Bool),
    field("data", Shape::OptStrMap),
];

const SPEC: &[Field] = &[
    field("template", Shape::Object(TEMPLATE)),
    field("data", Shape::Base64),
    // Upstream's decoder for this map ignores errors; types.rs keeps the string entries.
    field("encryptedData", Shape::Any),
];

const CONDITION: &[Field] = &[
    field("type", Shape::RequiredStr),
    field("status", Shape::RequiredStr),
    field("lastUpdateTime", Shape::Time),
    field("lastTransitionTime", Shape::Time),
    field("reason", Shape::Str),
    field("message", Shape::Str),
];

const STATUS: &[Field] = &[
    field("observedGeneration", Shape::Int),
    field("conditions", Shape::ObjectList(CONDITION)),
];

/// `bitnami.com/v1alpha1` SealedSecret.
pub(super) const SEALED_SECRET: &[Field] = &[
    field("kind", Shape::Str),
    field("apiVersion", Shape::Str),
    field("metadata", Shape::Object(OBJECT_META)),
    field("spec", Shape::Object(SPEC)),
    field("status", Shape::Object(STATUS)),
];

/// One step of a field path.
enum Step {
    Field(&'static str),
    Key(String),
    Index(usize),
}

/// A field that does not fit its shape, with its path (innermost step first while unwinding).
pub(super) struct Mismatch {
    steps: Vec<Step>,
    pub expected: &'static str,
}

impl Mismatch {
    fn new(expected: &'static str) -> Self {
        Self {
            steps: Vec::new(),
            expected,
        }
    }

    fn within(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// The path, e.g. `metadata.labels["app"]` or `status.conditions[0].type`.
    pub fn path(&self) -> String {
        let mut path = String::new();
        for step in self.steps.iter().rev() {
            match step {
                Step::Field(name) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                }
                Step::Key(key) => path.push_str(&format!("[{key:?}]")),
                Step::Index(index) => path.push_str(&format!("[{index}]")),
            }
        }
        path
    }
}

/// Normalizes the fields of `object` in place for the struct `fields` describe.
pub(super) fn normalize_object(
    object: &mut Map<String, Value>,
    fields: &[Field],
) -> Result<(), Mismatch> {
    for field in fields {
        adopt_folded_name(object, field.name);
        let keep = match object.get_mut(field.name) {
            Some(value) => normalize_field(value, &field.shape)
                .map_err(|mismatch| mismatch.within(Step::Field(field.name)))?,
            None => {
                if matches!(field.shape, Shape::RequiredStr) {
                    object.insert(field.name.to_owned(), Value::String(String::new()));
                }
                true
            }
        };
        if !keep {
            object.remove(field.name);
        }
    }
    Ok(())
}

/// Go matches JSON names to fields case-insensitively when there is no exact match. An exact
/// match wins over a differently-cased one (Go would take the later of the two in the text,
/// an order our maps do not keep).
fn adopt_folded_name(object: &mut Map<String, Value>, name: &str) {
    if object.contains_key(name) {
        return;
    }
    let folded = object
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .cloned();
    if let Some(folded) = folded
        && let Some(value) = object.remove(&folded)
    {
        object.insert(name.to_owned(), value);
    }
}

/// Normalizes a struct field; `Ok(false)` means "remove it" (Go leaves the zero value).
fn normalize_field(value: &mut Value, shape: &Shape) -> Result<bool, Mismatch> {
    if value.is_null() {
        if matches!(shape, Shape::RequiredStr) {
            *value = Value::String(String::new());
            return Ok(true);
        }
        return Ok(matches!(shape, Shape::Any));
    }
    normalize_element(value, shape)?;
    Ok(true)
}

/// Normalizes a value that is present (a map or list element: `null` becomes the zero value).
fn normalize_element(value: &mut Value, shape: &Shape) -> Result<(), Mismatch> {
    match shape {
        Shape::Str | Shape::RequiredStr => to_go_string(value),
        Shape::OptStr if value.is_null() => Ok(()),
        Shape::OptStr => to_go_string(value),
        Shape::Bool => match value {
            Value::Bool(_) => Ok(()),
            Value::Null => {
                *value = Value::Bool(false);
                Ok(())
            }
            _ => Err(Mismatch::new("a boolean")),
        },
        Shape::Int => to_integer(value),
        Shape::Time => match value {
            Value::String(_) | Value::Null => Ok(()),
            _ => Err(Mismatch::new("a timestamp string")),
        },
        Shape::Base64 => check_base64(value),
        Shape::StrMap => each_entry(value, &Shape::Str, "a map of strings"),
        Shape::OptStrMap => each_entry(value, &Shape::OptStr, "a map of strings"),
        Shape::Base64Map => each_entry(value, &Shape::Base64, "a map of base64 strings"),
        Shape::StrList => each_item(value, &Shape::Str, "a list of strings"),
        Shape::ObjectList(fields) => each_item(value, &Shape::Object(fields), "a list of objects"),
        Shape::Object(fields) => match value {
            Value::Object(object) => normalize_object(object, fields),
            Value::Null => {
                *value = Value::Object(Map::new());
                Ok(())
            }
            _ => Err(Mismatch::new("an object")),
        },
        Shape::Any => Ok(()),
    }
}

/// `sigs.k8s.io/yaml`'s conversion for string targets: booleans and numbers become their text
/// (floats as float32 `%g`, as it does), `null` the empty string.
fn to_go_string(value: &mut Value) -> Result<(), Mismatch> {
    let text = match value {
        Value::String(_) => return Ok(()),
        Value::Null => String::new(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(int), _) => int.to_string(),
            (None, Some(uint)) => uint.to_string(),
            (None, None) => go_number::format_g(number.as_f64().unwrap_or_default(), true),
        },
        Value::Array(_) | Value::Object(_) => return Err(Mismatch::new("a string")),
    };
    *value = Value::String(text);
    Ok(())
}

/// An integer; a float with an integral value is accepted, since upstream's YAML path writes
/// `1.0` as `1` before Go decodes it.
fn to_integer(value: &mut Value) -> Result<(), Mismatch> {
    let Value::Number(number) = value else {
        return Err(Mismatch::new("an integer"));
    };
    if number.is_i64() {
        return Ok(());
    }
    let float = number.as_f64().unwrap_or(f64::NAN);
    // `i64::MAX as f64` rounds up to 2^63, which is out of range: compare below it.
    #[allow(clippy::cast_precision_loss)]
    let in_range = float.fract() == 0.0 && float >= i64::MIN as f64 && float < i64::MAX as f64;
    if !in_range {
        return Err(Mismatch::new("an integer"));
    }
    #[allow(clippy::cast_possible_truncation)] // checked integral and in range above
    let int = float as i64;
    *value = Value::Number(Number::from(int));
    Ok(())
}

fn check_base64(value: &mut Value) -> Result<(), Mismatch> {
    match value {
        Value::Null => {
            *value = Value::String(String::new());
            Ok(())
        }
        Value::String(text) => match base64_std::decode(text) {
            Ok(bytes) => {
                // The decoded bytes may be a Secret's value: wipe them.
                drop(Zeroizing::new(bytes));
                Ok(())
            }
            Err(_) => Err(Mismatch::new("standard base64")),
        },
        _ => Err(Mismatch::new("a base64 string")),
    }
}

fn each_entry(value: &mut Value, shape: &Shape, expected: &'static str) -> Result<(), Mismatch> {
    match value {
        Value::Object(map) => {
            for (key, entry) in map.iter_mut() {
                normalize_element(entry, shape)
                    .map_err(|mismatch| mismatch.within(Step::Key(key.clone())))?;
            }
            Ok(())
        }
        _ => Err(Mismatch::new(expected)),
    }
}

fn each_item(value: &mut Value, shape: &Shape, expected: &'static str) -> Result<(), Mismatch> {
    match value {
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                normalize_element(item, shape)
                    .map_err(|mismatch| mismatch.within(Step::Index(index)))?;
            }
            Ok(())
        }
        _ => Err(Mismatch::new(expected)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn normalized(mut value: Value, fields: &[Field]) -> Result<Value, String> {
        let Value::Object(object) = &mut value else {
            panic!("not an object");
        };
        normalize_object(object, fields)
            .map_err(|mismatch| format!("{} must be {}", mismatch.path(), mismatch.expected))?;
        Ok(value)
    }

    #[test]
    fn converts_scalars_in_string_fields() {
        let value = json!({
            "metadata": {"name": 12, "labels": {"a": true, "b": 1.5, "c": null, "d": 7}},
            "stringData": {"port": 5432, "ratio": 0.1},
            "type": null,
        });
        assert_eq!(
            normalized(value, SECRET).unwrap(),
            json!({
                "metadata": {"name": "12", "labels": {"a": "true", "b": "1.5", "c": "", "d": "7"}},
                "stringData": {"port": "5432", "ratio": "0.1"},
            })
        );
    }

    #[test]
    fn matches_field_names_case_insensitively() {
        let value = json!({"Metadata": {"NAME": "x"}, "stringdata": {"a": "b"}});
        assert_eq!(
            normalized(value, SECRET).unwrap(),
            json!({"metadata": {"name": "x"}, "stringData": {"a": "b"}})
        );
    }

    #[test]
    fn reports_paths_not_values() {
        let value = json!({"metadata": {"labels": {"app": ["s3cr3t"]}}});
        assert_eq!(
            normalized(value, SECRET).unwrap_err(),
            "metadata.labels[\"app\"] must be a string"
        );
        let value = json!({"data": {"password": "not base64 s3cr3t"}});
        assert_eq!(
            normalized(value, SECRET).unwrap_err(),
            "data[\"password\"] must be standard base64"
        );
        let value = json!({"status": {"conditions": [{"type": "Synced", "status": {}}]}});
        assert_eq!(
            normalized(value, SEALED_SECRET).unwrap_err(),
            "status.conditions[0].status must be a string"
        );
        let value = json!({"immutable": "true"});
        assert_eq!(
            normalized(value, SECRET).unwrap_err(),
            "immutable must be a boolean"
        );
    }

    #[test]
    fn integers_and_required_fields() {
        let value = json!({
            "metadata": {"generation": 2.0},
            "status": {"observedGeneration": 3, "conditions": [{"message": 1}]},
        });
        assert_eq!(
            normalized(value, SEALED_SECRET).unwrap(),
            json!({
                "metadata": {"generation": 2},
                "status": {"observedGeneration": 3,
                           "conditions": [{"type": "", "status": "", "message": "1"}]},
            })
        );
        assert!(normalized(json!({"metadata": {"generation": 1.5}}), SECRET).is_err());
    }
}
