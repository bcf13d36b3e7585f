//! JSON text byte-identical to Go's `encoding/json`, which is what kubeseal prints: `json.Marshal`
//! escaping (HTML characters, U+2028/U+2029, control characters) and number spelling, plus
//! `json.MarshalIndent(v, "", "  ")` layout.

use std::io;

use go_template::gocompat::escape_json_string;
use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

use super::{ManifestError, go_number};

/// Serializes `value` as Go `json.MarshalIndent(value, "", "  ")` followed by `"\n"`, the exact
/// bytes kubeseal prints for `-o json` (SPEC §4.6).
///
/// Fields come out in serde's order (our types declare them in Go's order) and map keys in the
/// map's own order (`BTreeMap` sorts bytewise, as Go sorts map keys).
///
/// # Errors
/// `value` cannot be serialized (for example a `stringData` value that is not UTF-8).
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, ManifestError> {
    let mut text = write(value, GoFormatter::indented())?;
    text.push('\n');
    Ok(text)
}

/// Serializes `value` as Go `json.Marshal(value)`: no whitespace, no trailing newline, the same
/// escaping as [`to_json`]. Upstream sends this form to the controller's `/v1/verify` and
/// `/v1/rotate`.
///
/// # Errors
/// `value` cannot be serialized.
pub fn to_json_compact<T: Serialize + ?Sized>(value: &T) -> Result<String, ManifestError> {
    write(value, GoFormatter::compact())
}

fn write<T: Serialize + ?Sized>(
    value: &T,
    formatter: GoFormatter,
) -> Result<String, ManifestError> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .map_err(|error| ManifestError::Serialize(error.to_string()))?;
    // The formatter only ever writes UTF-8 (serde_json input is `str`, escapes are ASCII).
    String::from_utf8(out).map_err(|_| ManifestError::Serialize("output is not UTF-8".to_owned()))
}

/// A `serde_json` formatter that writes what Go's encoder writes.
struct GoFormatter {
    /// `None` for compact output; otherwise the current nesting depth.
    depth: Option<usize>,
    has_value: bool,
}

impl GoFormatter {
    fn indented() -> Self {
        Self {
            depth: Some(0),
            has_value: false,
        }
    }

    fn compact() -> Self {
        Self {
            depth: None,
            has_value: false,
        }
    }

    fn newline_and_indent<W: ?Sized + io::Write>(&self, writer: &mut W) -> io::Result<()> {
        if let Some(depth) = self.depth {
            writer.write_all(b"\n")?;
            for _ in 0..depth {
                writer.write_all(b"  ")?;
            }
        }
        Ok(())
    }

    fn open<W: ?Sized + io::Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        if let Some(depth) = self.depth.as_mut() {
            *depth += 1;
        }
        self.has_value = false;
        writer.write_all(bracket)
    }

    fn close<W: ?Sized + io::Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        if let Some(depth) = self.depth.as_mut() {
            *depth = depth.saturating_sub(1);
        }
        // An empty object or array stays `{}` / `[]`, as in Go.
        if self.has_value {
            self.newline_and_indent(writer)?;
        }
        self.has_value = true;
        writer.write_all(bracket)
    }

    fn item<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if !first {
            writer.write_all(b",")?;
        }
        self.newline_and_indent(writer)
    }
}

/// Writes `text` escaped as Go's `json.Marshal` escapes string contents
/// ([`escape_json_string`] with HTML escaping).
fn write_go_escaped<W: ?Sized + io::Write>(writer: &mut W, text: &[u8]) -> io::Result<()> {
    let mut result = Ok(());
    escape_json_string(text, true, |piece| {
        if result.is_ok() {
            result = writer.write_all(piece);
        }
    });
    result
}

impl Formatter for GoFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(go_number::format_json(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        // Go prints a float32 with float32 digits; widening keeps the value, and the shortest
        // float64 digits of a widened float32 can be longer. Rare enough (no Kubernetes field is
        // a float) to accept the float64 spelling.
        self.write_f64(writer, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_go_escaped(writer, fragment.as_bytes())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        // serde_json splits out the characters it escapes; Go escapes them the same way.
        let byte = match char_escape {
            CharEscape::Quote => b'"',
            CharEscape::ReverseSolidus => b'\\',
            CharEscape::Solidus => b'/',
            CharEscape::Backspace => 0x08,
            CharEscape::FormFeed => 0x0C,
            CharEscape::LineFeed => b'\n',
            CharEscape::CarriageReturn => b'\r',
            CharEscape::Tab => b'\t',
            CharEscape::AsciiControl(byte) => byte,
        };
        write_go_escaped(writer, &[byte])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.item(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(if self.depth.is_some() { b": " } else { b":" })
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[test]
    fn indents_like_marshal_indent() {
        let value = json!({"a": {"b": [1, 2], "c": {}, "d": []}, "e": "x"});
        assert_eq!(
            to_json(&value).unwrap(),
            "{\n  \"a\": {\n    \"b\": [\n      1,\n      2\n    ],\n    \"c\": {},\n    \"d\": []\n  },\n  \"e\": \"x\"\n}\n"
        );
        assert_eq!(
            to_json_compact(&value).unwrap(),
            r#"{"a":{"b":[1,2],"c":{},"d":[]},"e":"x"}"#
        );
    }

    #[test]
    fn escapes_like_go() {
        let text = "<a href=\"x\">&amp;</a>\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}\\/é😀\u{2028}\u{2029}";
        assert_eq!(
            to_json_compact(text).unwrap(),
            "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026amp;\\u003c/a\\u003e\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f}\\\\/é😀\\u2028\\u2029\""
        );
    }

    #[test]
    fn escapes_map_keys_too() {
        let mut map = BTreeMap::new();
        map.insert("a<b", 1);
        assert_eq!(to_json_compact(&map).unwrap(), r#"{"a\u003cb":1}"#);
    }

    #[test]
    fn numbers_like_go() {
        assert_eq!(to_json_compact(&1.0_f64).unwrap(), "1");
        assert_eq!(to_json_compact(&1e21_f64).unwrap(), "1e+21");
        assert_eq!(to_json_compact(&-7_i64).unwrap(), "-7");
        assert_eq!(to_json_compact(&u64::MAX).unwrap(), "18446744073709551615");
    }
}
