//! YAML text byte-identical to kubeseal's `-o yaml`: `---\n`, then what `sigs.k8s.io/yaml`
//! `JSONToYAML` prints, which is go-yaml v2's emitter run over the JSON (SPEC §4.6).
//!
//! This is our own emitter for JSON-shaped values, written to follow go-yaml v2's observable
//! rules: keys in go-yaml's order ([`key_order`]); block mappings indented by two; a sequence
//! under a key at the key's own indentation; `{}`/`[]` when empty; strings plain unless they
//! would read back as another type (then double-quoted) or the plain form is not allowed (then
//! single-quoted, or double-quoted when single quotes cannot hold them); strings with a line
//! break as literal blocks (`|`, `|-`, `|+`); long lines folded at the first space past column 80.
//! Tests pin each rule against upstream's own output (`tests/manifest_golden.rs`).

mod scalar;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use self::scalar::{
    Context, Style, analyze, as_read_back, is_break, is_printable, number_text, requested_style,
    select_style,
};
use super::{ManifestError, key_order, zeroize_value};

/// go-yaml's default line width: a line is folded at the first space after this column.
const BEST_WIDTH: usize = 80;
/// go-yaml's default indentation step.
const BEST_INDENT: i32 = 2;
/// Longest key (in bytes) go-yaml writes as `key: value`; longer ones use `? key`.
const MAX_SIMPLE_KEY_LEN: usize = 128;

/// Serializes `value` as kubeseal prints one document with `-o yaml`: `---\n` followed by
/// `sigs.k8s.io/yaml.JSONToYAML` of its JSON, ending with a newline.
///
/// # Errors
/// `value` cannot be serialized to JSON.
pub fn to_yaml<T: Serialize + ?Sized>(value: &T) -> Result<String, ManifestError> {
    let mut value =
        serde_json::to_value(value).map_err(|error| ManifestError::Serialize(error.to_string()))?;
    let mut emitter = Emitter::new();
    emitter.out.push_str("---\n");
    emitter.document(&value);
    // The intermediate tree may hold Secret plaintext.
    zeroize_value(&mut value);
    Ok(emitter.out)
}

/// The output and the few pieces of state go-yaml's emitter keeps while writing.
struct Emitter {
    out: String,
    /// Column of the next character, counted in characters.
    column: usize,
    /// Current indentation; -1 before the root node.
    indent: i32,
    indents: Vec<i32>,
    /// The last thing written was whitespace (or nothing).
    whitespace: bool,
    /// Only indentation has been written on the current line.
    indention: bool,
}

impl Emitter {
    fn new() -> Self {
        Self {
            out: String::with_capacity(1024),
            column: 0,
            indent: -1,
            indents: Vec::new(),
            whitespace: true,
            indention: true,
        }
    }

    fn document(&mut self, value: &Value) {
        self.node(value, Context::default());
        self.write_indent();
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// Writes a line break taken from the text: `\n` as a newline, other breaks as themselves.
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_indent(&mut self) {
        let indent = usize::try_from(self.indent.max(0)).unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn decrease_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn node(&mut self, value: &Value, context: Context) {
        match value {
            Value::Null => self.scalar("null", Style::Plain, context),
            Value::Bool(true) => self.scalar("true", Style::Plain, context),
            Value::Bool(false) => self.scalar("false", Style::Plain, context),
            Value::Number(number) => self.scalar(&number_text(number), Style::Plain, context),
            Value::String(text) => {
                let text = as_read_back(text);
                self.scalar(&text, requested_style(&text), context);
            }
            Value::Array(items) if items.is_empty() => self.empty_flow("[", "]"),
            Value::Object(map) if map.is_empty() => self.empty_flow("{", "}"),
            Value::Array(items) => self.sequence(items, context),
            Value::Object(map) => self.mapping(map),
        }
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.write_indicator(close, false, false, false);
    }

    fn sequence(&mut self, items: &[Value], context: Context) {
        self.increase_indent(false, context.mapping && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::default());
        }
        self.decrease_indent();
    }

    fn mapping(&mut self, map: &serde_json::Map<String, Value>) {
        // Keys that read back the same (see `as_read_back`) collapse, the later one winning,
        // as in go-yaml's map.
        // Byte order first, so the result is deterministic even for keys go-yaml cannot order.
        let mut by_key: BTreeMap<Cow<'_, str>, &Value> = BTreeMap::new();
        for (key, value) in map {
            by_key.insert(as_read_back(key), value);
        }
        let entries: Vec<(Cow<'_, str>, &Value)> = by_key.into_iter().collect();
        let entries =
            key_order::sort_by_key_order(entries, &|e: &(Cow<'_, str>, &Value)| e.0.as_ref());
        self.increase_indent(false, false);
        for (key, value) in entries {
            let key = key.as_ref();
            self.write_indent();
            let analysis = analyze(key);
            let value_context = Context {
                mapping: true,
                simple_key: false,
            };
            if !analysis.multiline && key.len() <= MAX_SIMPLE_KEY_LEN {
                let key_context = Context {
                    mapping: true,
                    simple_key: true,
                };
                self.scalar(key, requested_style(key), key_context);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.scalar(key, requested_style(key), value_context);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(value, value_context);
        }
        self.decrease_indent();
    }

    fn scalar(&mut self, text: &str, requested: Style, context: Context) {
        let analysis = analyze(text);
        let style = select_style(requested, &analysis, text.is_empty(), context);
        self.increase_indent(true, false);
        let allow_breaks = !context.simple_key;
        match style {
            Style::Plain => self.write_plain(text, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(text, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(text, allow_breaks),
            Style::Literal => self.write_literal(text),
        }
        self.decrease_indent();
    }

    fn write_plain(&mut self, text: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = text.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        for (index, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(index + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let last = chars.len().saturating_sub(1);
        let (mut spaces, mut breaks) = (false, false);
        for (index, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(index + 1) == Some(&' ');
                let inside = index > 0 && index < last;
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inside && !next_is_space {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        let last = chars.len().saturating_sub(1);
        // go-yaml's BOM check looks at the start of the text, not at the current character, so
        // a leading U+FEFF makes it escape every character.
        let escape_all = text.starts_with('\u{FEFF}');
        let mut spaces = false;
        for (index, &c) in chars.iter().enumerate() {
            if escape_all || !is_printable(c) || is_break(c) || c == '"' || c == '\\' {
                self.write_escape(c);
                spaces = false;
            } else if c == ' ' {
                let inside = index > 0 && index < last;
                if allow_breaks && !spaces && self.column > BEST_WIDTH && inside {
                    self.write_indent();
                    if chars.get(index + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_escape(&mut self, c: char) {
        self.put('\\');
        let short = match c {
            '\0' => '0',
            '\u{7}' => 'a',
            '\u{8}' => 'b',
            '\t' => 't',
            '\n' => 'n',
            '\u{b}' => 'v',
            '\u{c}' => 'f',
            '\r' => 'r',
            '\u{1b}' => 'e',
            '"' => '"',
            '\\' => '\\',
            '\u{85}' => 'N',
            '\u{a0}' => '_',
            '\u{2028}' => 'L',
            '\u{2029}' => 'P',
            _ => {
                let code = u32::from(c);
                let (marker, width) = match code {
                    0..=0xFF => ('x', 2),
                    0x100..=0xFFFF => ('u', 4),
                    _ => ('U', 8),
                };
                self.put(marker);
                for shift in (0..width).rev() {
                    let digit = (code >> (shift * 4)) & 0xF;
                    self.put(char::from_digit(digit, 16).map_or('0', |d| d.to_ascii_uppercase()));
                }
                return;
            }
        };
        self.put(short);
    }

    fn write_literal(&mut self, text: &str) {
        self.write_indicator("|", true, false, false);
        let chars: Vec<char> = text.chars().collect();
        if chars.first().is_some_and(|c| *c == ' ' || is_break(*c)) {
            self.write_indicator("2", false, false, false);
        }
        let chomp = match chars.as_slice() {
            [] => Some("-"),
            [.., last] if !is_break(*last) => Some("-"),
            [_] => Some("+"),
            [.., second_last, _] if is_break(*second_last) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn yaml(value: &Value) -> String {
        let text = to_yaml(value).unwrap();
        text.strip_prefix("---\n").unwrap().to_owned()
    }

    #[test]
    fn block_layout() {
        let value = json!({
            "b": {"c": [1, {"d": "e", "f": []}, [2, 3]], "g": {}},
            "a": null,
            "h": [],
        });
        assert_eq!(
            yaml(&value),
            "a: null\nb:\n  c:\n  - 1\n  - d: e\n    f: []\n  - - 2\n    - 3\n  g: {}\nh: []\n"
        );
        assert_eq!(yaml(&json!({})), "{}\n");
        assert_eq!(yaml(&json!(["x"])), "- x\n");
        assert_eq!(yaml(&json!("x")), "x\n");
    }

    #[test]
    fn quoting() {
        let cases = [
            ("true", "\"true\""),
            ("yes", "\"yes\""),
            ("123", "\"123\""),
            ("1.5", "\"1.5\""),
            ("", "\"\""),
            ("~", "\"~\""),
            ("2024-01-02", "\"2024-01-02\""),
            ("1:20", "\"1:20\""),
            ("<<", "<<"),
            ("a: b", "'a: b'"),
            ("a #b", "'a #b'"),
            ("a#b", "a#b"),
            ("- a", "'- a'"),
            ("-a", "-a"),
            ("*x", "'*x'"),
            ("it's", "it's"),
            ("'q'", "'''q'''"),
            (" lead", "' lead'"),
            ("trail ", "'trail '"),
            ("a\tb", "\"a\\tb\""),
            ("é ü", "é ü"),
            ("😀", "\"\\U0001F600\""),
            ("---", "'---'"),
            ("a: \"b\"", "'a: \"b\"'"),
        ];
        for (input, want) in cases {
            assert_eq!(
                yaml(&json!({ "k": input })),
                format!("k: {want}\n"),
                "{input:?}"
            );
        }
    }

    #[test]
    fn literal_blocks() {
        assert_eq!(yaml(&json!({"k": "a\nb"})), "k: |-\n  a\n  b\n");
        assert_eq!(yaml(&json!({"k": "a\nb\n"})), "k: |\n  a\n  b\n");
        assert_eq!(yaml(&json!({"k": "a\n\n"})), "k: |+\n  a\n\n");
        assert_eq!(yaml(&json!({"k": "\n"})), "k: |2+\n\n");
        assert_eq!(yaml(&json!({"k": " a\nb"})), "k: |2-\n   a\n  b\n");
        assert_eq!(yaml(&json!({"k": "a \nb"})), "k: \"a \\nb\"\n");
        assert_eq!(
            yaml(&json!({"k": "a\n\nb", "l": 1})),
            "k: |-\n  a\n\n  b\nl: 1\n"
        );
    }

    #[test]
    fn long_lines_fold_past_column_80() {
        let words = "word ".repeat(30);
        let text = words.trim_end();
        let out = yaml(&json!({ "key": text }));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 1, "{out}");
        assert!(lines[1].starts_with("  word"), "{out}");
        // A fold happens at the first space after column 80.
        assert_eq!(lines[0].len(), 84, "{out}");
        let no_spaces = "x".repeat(200);
        assert_eq!(
            yaml(&json!({ "key": no_spaces })),
            format!("key: {no_spaces}\n")
        );
    }

    #[test]
    fn long_keys_use_the_complex_form() {
        let key = "k".repeat(129);
        assert_eq!(
            yaml(&json!({ key.clone(): "v" })),
            format!("? {key}\n: v\n")
        );
        let key = "k".repeat(128);
        assert_eq!(yaml(&json!({ key.clone(): "v" })), format!("{key}: v\n"));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            yaml(&json!({"a": 1, "b": -2, "c": 1.5, "d": 1e21, "e": 2.0, "f": u64::MAX})),
            "a: 1\nb: -2\nc: 1.5\nd: 1e+21\ne: 2\nf: 18446744073709551615\n"
        );
    }
}
