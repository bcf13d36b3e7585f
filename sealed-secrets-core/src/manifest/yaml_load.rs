//! Multi-document YAML into JSON values, as upstream reads YAML: go-yaml v2 into untyped values,
//! then `sigs.k8s.io/yaml`'s conversion to JSON (SPEC §4.4).
//!
//! Parsing is serde-saphyr's YAML parser (`serde_saphyr::granit_parser`, the event layer under
//! `serde_saphyr::from_str`). We build the values from its events rather than through serde
//! because upstream's meaning of plain scalars is YAML 1.1's (`yes` is `true`, `0777` is 511),
//! map keys become strings the way `sigs.k8s.io/yaml` spells them, `<<` merges, and because we
//! need each document's position and errors that never quote the input.

use std::collections::HashMap;

use serde_json::{Map, Value};
use serde_saphyr::granit_parser::{ErrorKind, Event, Marker, Parser, ScalarStyle, ScanError, Tag};

use super::ManifestError;
use super::go_number;

mod scalar;

use scalar::{core_name, scalar_value};

/// Deepest nesting accepted; Kubernetes objects stay far below it, and it keeps recursive
/// consumers of the values (serde, drop) off the end of the stack.
const MAX_DEPTH: usize = 256;
/// Aliases may add at most this many bytes per byte of input to a stream (alias bombs)…
pub(super) const ALIAS_EXPANSION_FACTOR: usize = 8;
/// …and never more than this many bytes in all. Sizes are counted as the copied values' JSON
/// text, which is what the values become; a node count would let one alias of a 1 MB string
/// cost as little as one of `x`.
pub(super) const MAX_ALIAS_BYTES: usize = 16 * 1024 * 1024;

/// The bytes aliases may add to a stream read from `input_len` bytes of text.
#[must_use]
pub(super) fn alias_budget(input_len: usize) -> usize {
    input_len
        .saturating_mul(ALIAS_EXPANSION_FACTOR)
        .min(MAX_ALIAS_BYTES)
}

/// Where `text` sits in the whole input, so positions are reported against the input.
#[derive(Clone, Copy)]
pub(super) struct Origin {
    /// Lines of input before `text`.
    pub lines_before: usize,
    /// Columns before `text` on its first line.
    pub columns_before: usize,
    /// Documents of the input before `text`.
    pub documents_before: usize,
}

/// A problem found while building values, located in the text.
struct Problem {
    at: Marker,
    reason: &'static str,
}

type Built<T> = Result<T, Problem>;

/// Parses every YAML document of `text`. Returns `(document index, value)` for the documents
/// that are not empty; empty ones still count in the numbering. Aliases may copy at most
/// `alias_bytes` bytes (see [`alias_budget`]) over the whole stream.
pub(super) fn load(
    text: &str,
    origin: Origin,
    alias_bytes: usize,
) -> Result<Vec<(usize, Value)>, ManifestError> {
    let mut documents = Vec::new();
    let mut builder = Builder::default_with_budget(alias_bytes);
    let mut index = origin.documents_before;
    let mut in_document = false;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|error| {
            let document = if in_document { index } else { index + 1 };
            scan_error(&error, document, origin)
        })?;
        let result = match event {
            Event::DocumentStart(..) => {
                index += 1;
                in_document = true;
                builder = Builder::default_with_budget(builder.alias_budget);
                Ok(())
            }
            Event::DocumentEnd => {
                in_document = false;
                match builder.root.take() {
                    Some(Value::Null) | None => {}
                    Some(value) => documents.push((index, value)),
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                builder.scalar(&text, style, anchor, tag.as_deref(), span.start)
            }
            Event::SequenceStart(_, anchor, _) => builder.open(Frame::sequence(anchor), span.start),
            Event::MappingStart(_, anchor, _) => builder.open(Frame::mapping(anchor), span.start),
            Event::SequenceEnd | Event::MappingEnd => builder.close(span.start),
            Event::Alias(anchor) => builder.alias(anchor, span.start),
            Event::UnresolvedAlias(_) => Err(Problem {
                at: span.start,
                reason: "alias to an unknown anchor",
            }),
            _ => Ok(()),
        };
        result.map_err(|problem| {
            located(
                index.max(origin.documents_before + 1),
                problem.at,
                problem.reason.to_owned(),
                origin,
            )
        })?;
    }
    Ok(documents)
}

fn located(index: usize, at: Marker, reason: String, origin: Origin) -> ManifestError {
    let column = if at.line() <= 1 {
        at.col() + 1 + origin.columns_before
    } else {
        at.col() + 1
    };
    ManifestError::Yaml {
        document: index,
        line: at.line() + origin.lines_before,
        column,
        reason,
    }
}

/// Maps a parser error to its position and a fixed description. The few kinds whose text can
/// carry input (a character, a custom or I/O message) get a generic description instead, so no
/// error ever quotes a Secret's value.
fn scan_error(error: &ScanError, index: usize, origin: Origin) -> ManifestError {
    let reason = match error.kind() {
        ErrorKind::UnexpectedCharacter { .. } => "unexpected character".to_owned(),
        ErrorKind::Custom(_) | ErrorKind::InputIo { .. } | ErrorKind::InputDecoding { .. } => {
            "syntax error".to_owned()
        }
        kind => kind.to_string(),
    };
    located(index, *error.marker(), reason, origin)
}

/// A mapping key waiting for its value.
enum Key {
    Name(String),
    /// The YAML merge key `<<`.
    Merge,
}

enum Frame {
    Sequence {
        items: Vec<Value>,
        anchor: usize,
    },
    Mapping {
        map: Map<String, Value>,
        key: Option<Key>,
        anchor: usize,
    },
}

impl Frame {
    fn sequence(anchor: usize) -> Self {
        Self::Sequence {
            items: Vec::new(),
            anchor,
        }
    }

    fn mapping(anchor: usize) -> Self {
        Self::Mapping {
            map: Map::new(),
            key: None,
            anchor,
        }
    }
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    /// Anchored values of the current document, with their sizes in bytes (as JSON text).
    anchors: HashMap<usize, (Value, usize)>,
    /// Bytes aliases may still copy in this stream.
    alias_budget: usize,
}

impl Builder {
    fn default_with_budget(alias_budget: usize) -> Self {
        Self {
            alias_budget,
            ..Self::default()
        }
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. }))
    }

    fn open(&mut self, frame: Frame, at: Marker) -> Built<()> {
        if self.expects_key() {
            return Err(Problem {
                at,
                reason: "a mapping or sequence cannot be a map key",
            });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Problem {
                at,
                reason: "nesting is too deep",
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, at: Marker) -> Built<()> {
        let (value, anchor) = match self.stack.pop() {
            Some(Frame::Sequence { items, anchor }) => (Value::Array(items), anchor),
            Some(Frame::Mapping { map, anchor, .. }) => (Value::Object(map), anchor),
            None => return Ok(()),
        };
        self.remember(anchor, &value);
        self.add(value, at)
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor != 0 {
            self.anchors
                .insert(anchor, (value.clone(), json_size(value)));
        }
    }

    fn alias(&mut self, anchor: usize, at: Marker) -> Built<()> {
        let Some((value, size)) = self.anchors.get(&anchor) else {
            return Err(Problem {
                at,
                reason: "alias to an unknown anchor",
            });
        };
        let Some(left) = self.alias_budget.checked_sub(*size) else {
            return Err(Problem {
                at,
                reason: "aliases expand to too much data",
            });
        };
        self.alias_budget = left;
        let value = value.clone();
        if self.expects_key() {
            let key = go_number::scalar_text(&value).ok_or(Problem {
                at,
                reason: "unsupported map key type",
            })?;
            self.set_key(Key::Name(key));
            return Ok(());
        }
        self.add(value, at)
    }

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        at: Marker,
    ) -> Built<()> {
        let value = scalar_value(text, style, tag).ok_or(Problem {
            at,
            reason: "value does not match its tag",
        })?;
        self.remember(anchor, &value);
        if self.expects_key() {
            let plain = style == ScalarStyle::Plain && tag.is_none();
            let merge_tag = tag.and_then(core_name).is_some_and(|name| name == "merge");
            if text == "<<" && (plain || merge_tag) {
                self.set_key(Key::Merge);
                return Ok(());
            }
            let key = go_number::scalar_text(&value).ok_or(Problem {
                at,
                reason: "unsupported map key type",
            })?;
            self.set_key(Key::Name(key));
            return Ok(());
        }
        self.add(value, at)
    }

    fn set_key(&mut self, new_key: Key) {
        if let Some(Frame::Mapping { key, .. }) = self.stack.last_mut() {
            *key = Some(new_key);
        }
    }

    /// Places a finished value in its parent (or as the document root).
    fn add(&mut self, value: Value, at: Marker) -> Built<()> {
        let at_root = self.stack.len() == 1;
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Sequence { items, .. }) => items.push(value),
            Some(Frame::Mapping { map, key, .. }) => match key.take() {
                Some(Key::Name(name)) => {
                    // Two objects pasted together without `---` would silently become the last
                    // one (go-yaml keeps a repeated key's last value): a second top-level
                    // `apiVersion` or `kind` is refused instead.
                    if at_root
                        && (name == "apiVersion" || name == "kind")
                        && map.contains_key(&name)
                    {
                        return Err(Problem {
                            at,
                            reason: "a second top-level apiVersion or kind: objects concatenated without a --- line between them?",
                        });
                    }
                    // Any other repeated key keeps its last value, as go-yaml's map decoding does.
                    map.insert(name, value);
                }
                Some(Key::Merge) => merge(map, value).ok_or(Problem {
                    at,
                    reason: "a merge key needs a mapping or a sequence of mappings",
                })?,
                // Keys are set before values; a value with no key cannot happen.
                None => {}
            },
        }
        Ok(())
    }
}

/// Applies `<<: value` to `map` at this point: merged entries replace earlier keys, later keys
/// replace merged ones, and in a sequence of mappings the earlier mapping wins.
fn merge(map: &mut Map<String, Value>, value: Value) -> Option<()> {
    match value {
        Value::Object(entries) => map.extend(entries),
        Value::Array(items) => {
            if !items.iter().all(Value::is_object) {
                return None;
            }
            for item in items.into_iter().rev() {
                if let Value::Object(entries) = item {
                    map.extend(entries);
                }
            }
        }
        _ => return None,
    }
    Some(())
}

/// The length of `value` as compact JSON text, near enough (strings are counted without
/// escapes): the bytes an alias of it adds to the document.
fn json_size(value: &Value) -> usize {
    let separators = |n: usize| n.saturating_sub(1);
    match value {
        Value::Null => 4,
        Value::Bool(flag) => {
            if *flag {
                4
            } else {
                5
            }
        }
        Value::Number(number) => number.to_string().len(),
        Value::String(text) => text.len().saturating_add(2),
        Value::Array(items) => items
            .iter()
            .map(json_size)
            .fold(2 + separators(items.len()), usize::saturating_add),
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| key.len().saturating_add(3).saturating_add(json_size(value)))
            .fold(2 + separators(map.len()), usize::saturating_add),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const START: Origin = Origin {
        lines_before: 0,
        columns_before: 0,
        documents_before: 0,
    };

    fn load(text: &str, origin: Origin) -> Result<Vec<(usize, Value)>, ManifestError> {
        super::load(text, origin, alias_budget(text.len()))
    }

    fn values(text: &str) -> Vec<(usize, Value)> {
        load(text, START).unwrap()
    }

    #[test]
    fn documents_and_empty_documents() {
        assert_eq!(values("a: 1\n"), [(1, json!({"a": 1}))]);
        assert_eq!(values("---\na: 1\n"), [(1, json!({"a": 1}))]);
        assert_eq!(
            values("a: 1\n---\n---\n# only a comment\n---\nb: x\n...\n"),
            [(1, json!({"a": 1})), (4, json!({"b": "x"}))]
        );
        assert!(values("").is_empty());
        assert!(values("# nothing\n").is_empty());
    }

    #[test]
    fn objects_concatenated_without_a_separator_are_refused() {
        let two =
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\napiVersion: v1\nkind: Secret\n";
        let err = load(two, START).unwrap_err().to_string();
        assert!(
            err.contains("line 4") && err.contains("without a --- line"),
            "{err}"
        );
        // Other repeated keys, and apiVersion/kind below the top level, keep the last value.
        assert_eq!(values("a: 1\na: 2\n"), [(1, json!({"a": 2}))]);
        assert_eq!(
            values("m:\n  kind: a\n  kind: b\n"),
            [(1, json!({"m": {"kind": "b"}}))]
        );
    }

    #[test]
    fn yaml_1_1_scalars() {
        let doc = "a: yes\nb: off\nc: 0x10\nd: 0777\ne: 1_000\nf: ~\ng: '123'\nh: 2024-01-02\n\
                   i: 1.5\nj: .inf\nk: !!str 12\nl: !!float 3\nm: !!binary aGk=\np: |\n  x\n";
        assert_eq!(
            values(doc)[0].1,
            json!({"a": true, "b": false, "c": 16, "d": 511, "e": 1000, "f": null, "g": "123",
                   "h": "2024-01-02", "i": 1.5, "j": ".inf", "k": "12", "l": 3.0, "m": "hi",
                   "p": "x\n"})
        );
    }

    #[test]
    fn keys_become_strings() {
        // As upstream: a label key `y` or `off` turns into "true" / "false".
        assert_eq!(
            values("1: a\ny: b\n1.5: c\n0x10: d\noff: e\n")[0].1,
            json!({"1": "a", "true": "b", "1.5": "c", "16": "d", "false": "e"})
        );
        let error = load("~: a\n", START).unwrap_err().to_string();
        assert_eq!(
            error,
            "document 1: invalid YAML at line 1 column 1: unsupported map key type"
        );
        assert!(load("[a]: b\n", START).is_err());
    }

    #[test]
    fn anchors_aliases_and_merges() {
        let doc = "base: &b {x: 1, w: 2}\nother:\n  w: 0\n  <<: *b\n  x: 3\nlist: [*b]\n\
                   multi:\n  <<: [{k: first}, {k: second, z: 1}]\nquoted:\n  \"<<\": 1\n";
        assert_eq!(
            values(doc)[0].1,
            json!({
                "base": {"x": 1, "w": 2},
                "other": {"x": 3, "w": 2},
                "list": [{"x": 1, "w": 2}],
                "multi": {"k": "first", "z": 1},
                "quoted": {"<<": 1},
            })
        );
        assert!(load("a: {<<: 1}\n", START).is_err());
        assert!(load("a: *nope\n", START).is_err());
    }

    #[test]
    fn yaml_1_1_line_breaks_in_flow_scalars() {
        // As go-yaml writes "x\u{2028}y" at some indentation, and reads it back.
        assert_eq!(
            values("k: 'x\u{2028}      y'\n")[0].1,
            json!({"k": "x\u{2028}y"})
        );
        assert_eq!(values("k: 'a \u{85} b'\n")[0].1, json!({"k": "a b"}));
        assert_eq!(
            values("k: 'a\u{85}\u{85}\u{85}b'\n")[0].1,
            json!({"k": "a\n\nb"})
        );
        assert_eq!(values("k: \"x\\Ly\"\n")[0].1, json!({"k": "x\u{2028}y"}));
        assert_eq!(values("k: 'a  b'\n")[0].1, json!({"k": "a  b"}));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..8 {
            let previous = level - 1;
            let items = vec![format!("*a{previous}"); 10].join(", ");
            doc.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        let error = load(&doc, START).unwrap_err().to_string();
        assert!(error.contains("aliases expand to too much data"), "{error}");
    }

    #[test]
    fn aliases_are_budgeted_in_bytes_not_nodes() {
        // Few aliases of one big string: a handful of nodes, but 8x the input in bytes.
        let big = "x".repeat(100_000);
        let refs = ["*big"; 9].join(", ");
        let doc = format!("a: &big {big}\nb: [{refs}]\n");
        let error = load(&doc, START).unwrap_err().to_string();
        assert_eq!(
            error,
            "document 1: invalid YAML at line 2 column 53: aliases expand to too much data"
        );
        // Seven copies fit in 8x the input.
        let refs = ["*big"; 7].join(", ");
        let doc = format!("a: &big {big}\nb: [{refs}]\n");
        assert_eq!(values(&doc)[0].1["b"].as_array().unwrap().len(), 7);
        // The budget is for the whole stream, not per document: 700 KB of copies in the first
        // document leave less than the 280 KB the second one needs (with the stream's budget
        // to itself, it would fit).
        let small = "y".repeat(20_000);
        let second = format!("c: &s {small}\nd: [{}]\n", ["*s"; 14].join(", "));
        let stream = format!("{doc}---\n{second}");
        assert!(super::load(&second, START, alias_budget(stream.len())).is_ok());
        assert_eq!(
            load(&stream, START).unwrap_err().to_string(),
            "document 2: invalid YAML at line 5 column 57: aliases expand to too much data"
        );
        // The fixed ceiling.
        assert_eq!(alias_budget(usize::MAX), MAX_ALIAS_BYTES);
        assert_eq!(alias_budget(1000), 8000);
    }

    #[test]
    fn json_sizes() {
        for value in [
            serde_json::json!({"a": [1, "xy", null, true, false, {}], "bcd": {"e": 1.5}}),
            serde_json::json!([]),
            serde_json::json!("plain"),
        ] {
            assert_eq!(json_size(&value), value.to_string().len(), "{value}");
        }
    }

    #[test]
    fn errors_locate_without_quoting() {
        let error = load("a: 1\n---\nb: [s3cr3t-value\n", START)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("document 2: invalid YAML at line "),
            "{error}"
        );
        assert!(!error.contains("s3cr3t"), "{error}");
        let shifted = Origin {
            lines_before: 10,
            columns_before: 0,
            documents_before: 3,
        };
        let error = load("a: b: c\n", shifted).unwrap_err().to_string();
        assert!(
            error.starts_with("document 4: invalid YAML at line 11 column"),
            "{error}"
        );
    }
}
