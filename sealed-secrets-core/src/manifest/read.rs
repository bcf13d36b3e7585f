//! Splitting input into documents the way kubeseal's `YAMLOrJSONDecoder` does (SPEC §4.4).

use serde_json::Value;

use super::yaml_load::{self, Origin};
use super::{Document, ManifestError, Position};

/// Reads every object of a JSON or YAML stream.
///
/// - Input starting (after whitespace) with `{` is read as a stream of JSON objects, one after
///   another with optional whitespace between them. As upstream does, if that fails within the
///   first two objects, the rest is read as YAML instead (JSON is YAML, and a flow mapping such
///   as `{a: b}` starts with `{` too).
/// - Anything else is multi-document YAML (`---` separators, a leading `---` or not), read with
///   go-yaml v2's YAML 1.1 meanings.
/// - Empty documents (nothing, `null`, `{}`) are skipped but still counted in positions.
/// - A `List` (kind `List`, or any kind ending in `List` with an `items` array) is replaced by
///   its items; each keeps the list's document number and its own item number.
///
/// # Errors
/// The input is not UTF-8, or a document is not valid JSON/YAML. The error gives the document
/// number and the line and column, never the text.
pub fn read_documents(input: &[u8]) -> Result<Vec<Document>, ManifestError> {
    let text = std::str::from_utf8(input).map_err(|error| ManifestError::NotUtf8 {
        offset: error.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let raw = if text.trim_start().starts_with('{') {
        read_json_stream(text)?
    } else {
        yaml_load::load(
            text,
            Origin {
                lines_before: 0,
                columns_before: 0,
                documents_before: 0,
            },
            yaml_load::alias_budget(text.len()),
        )?
    };
    let mut documents = Vec::with_capacity(raw.len());
    for (index, value) in raw {
        unpack(index, value, &mut documents);
    }
    Ok(documents)
}

fn read_json_stream(text: &str) -> Result<Vec<(usize, Value)>, ManifestError> {
    let mut values = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let resume_at = stream.byte_offset();
        match stream.next() {
            None => return Ok(values),
            Some(Ok(value)) => values.push((values.len() + 1, value)),
            Some(Err(error)) => {
                let json_error = json_error(&error, values.len() + 1);
                // Upstream gives up on JSON only while the stream is still ambiguous.
                if values.len() > 1 {
                    return Err(json_error);
                }
                let (before, rest) = text.split_at(resume_at);
                let origin = Origin {
                    lines_before: before.matches('\n').count(),
                    columns_before: before
                        .rsplit_once('\n')
                        .map_or(before, |(_, line)| line)
                        .chars()
                        .count(),
                    documents_before: values.len(),
                };
                return match yaml_load::load(rest, origin, yaml_load::alias_budget(text.len())) {
                    Ok(more) => {
                        values.extend(more);
                        Ok(values)
                    }
                    // When nothing parsed as JSON, the JSON error describes the input better.
                    Err(_) if values.is_empty() => Err(json_error),
                    Err(yaml_error) => Err(yaml_error),
                };
            }
        }
    }
}

/// serde_json's syntax messages are fixed texts ("expected `,` or `}`"); the position suffix is
/// replaced by ours. Other categories could in principle carry data, so they get a fixed text.
fn json_error(error: &serde_json::Error, index: usize) -> ManifestError {
    let reason = match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            let message = error.to_string();
            message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(reason, _)| reason)
                .to_owned()
        }
        serde_json::error::Category::Data | serde_json::error::Category::Io => {
            "invalid JSON".to_owned()
        }
    };
    ManifestError::Json {
        document: index,
        line: error.line(),
        column: error.column(),
        reason,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Whether `value` is a list to unpack: kind `List` (the generic `v1.List`), or a typed list
/// (`SecretList`, `SealedSecretList`, …) that has its `items`.
fn is_list(value: &Value) -> bool {
    let Some(kind) = value.get("kind").and_then(Value::as_str) else {
        return false;
    };
    kind == "List" || (kind.ends_with("List") && value.get("items").is_some_and(Value::is_array))
}

fn unpack(index: usize, mut value: Value, documents: &mut Vec<Document>) {
    if !is_list(&value) {
        if !is_empty(&value) {
            documents.push(Document::new(
                Position {
                    document: index,
                    item: None,
                },
                value,
            ));
        }
        return;
    }
    let items = match value.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    for (item, value) in items.into_iter().enumerate() {
        if !is_empty(&value) {
            documents.push(Document::new(
                Position {
                    document: index,
                    item: Some(item + 1),
                },
                value,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(text: &str) -> Vec<(Position, Value)> {
        read_documents(text.as_bytes())
            .unwrap()
            .into_iter()
            .map(|d| (d.position(), d.value().clone()))
            .collect()
    }

    fn at(document: usize, item: Option<usize>) -> Position {
        Position { document, item }
    }

    #[test]
    fn json_streams() {
        assert_eq!(
            read("{\"a\":1}{\"b\":2}\n\n {\"c\":3}\n"),
            [
                (at(1, None), json!({"a": 1})),
                (at(2, None), json!({"b": 2})),
                (at(3, None), json!({"c": 3}))
            ]
        );
        assert_eq!(read("  {}\n{\"a\":1}"), [(at(2, None), json!({"a": 1}))]);
    }

    #[test]
    fn json_falls_back_to_yaml_like_upstream() {
        assert_eq!(read("{a: b}\n"), [(at(1, None), json!({"a": "b"}))]);
        assert_eq!(
            read("{\"a\": 1}\n---\nb: yes\n"),
            [
                (at(1, None), json!({"a": 1})),
                (at(2, None), json!({"b": true}))
            ]
        );
        let error = read_documents(b"{\"a\":1}\n{\"b\":2}\n{\"c\": s3cr3t}\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "document 3: invalid JSON at line 3 column 7: expected value"
        );
        let error = read_documents(b"{\"password\": \"s3cr3t\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("document 1: invalid JSON at line 2"),
            "{error}"
        );
        assert!(!error.contains("s3cr3t"), "{error}");
    }

    #[test]
    fn yaml_streams() {
        assert_eq!(
            read("---\na: 1\n---\n\n---\nb: 2\n"),
            [
                (at(1, None), json!({"a": 1})),
                (at(3, None), json!({"b": 2}))
            ]
        );
        assert!(read("").is_empty());
        assert!(read("---\n").is_empty());
    }

    #[test]
    fn lists_are_unpacked() {
        let text = "a: 1\n---\napiVersion: v1\nkind: List\nitems:\n- kind: Secret\n- {}\n- kind: ConfigMap\n";
        assert_eq!(
            read(text),
            [
                (at(1, None), json!({"a": 1})),
                (at(2, Some(1)), json!({"kind": "Secret"})),
                (at(2, Some(3)), json!({"kind": "ConfigMap"})),
            ]
        );
        assert_eq!(
            read("{\"kind\":\"SecretList\",\"items\":[{\"kind\":\"Secret\"}]}"),
            [(at(1, Some(1)), json!({"kind": "Secret"}))]
        );
        assert_eq!(
            read("kind: NotAList\n"),
            [(at(1, None), json!({"kind": "NotAList"}))]
        );
    }

    #[test]
    fn input_must_be_utf8() {
        let error = read_documents(b"a: \xff\xfe\n").unwrap_err().to_string();
        assert_eq!(error, "input is not valid UTF-8 (invalid byte at offset 3)");
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        assert_eq!(read("\u{FEFF}{\"a\":1}"), [(at(1, None), json!({"a": 1}))]);
    }
}
