//! Go's `encoding/json` for template values: `toJson`, `toPrettyJson`, `toRawJson` (encode)
//! and `fromJson` (decode into `interface{}`).
//!
//! Encoding matches `json.Marshal`: map keys sorted, `<`, `>` and `&` escaped as `\u003c`…
//! (unless raw), U+2028/U+2029 escaped, invalid UTF-8 replaced by `\ufffd`, floats in Go's
//! format. Decoding gives `map[string]interface{}`, `[]interface{}`, `float64`, `string`,
//! `bool` and nil, like Go.

use std::collections::BTreeMap;

use super::gocompat::{Bits, escape_json_string, format_float, format_json_float};
use super::gofmt::MAX_PRINT_DEPTH;
use super::out::{Fault, Out};
use super::value::{GoStr, Heap, Value, decode_rune, push_rune};

/// Why encoding failed.
pub(crate) enum EncodeError {
    /// Go's `json: unsupported value: NaN` (the text after `json: `).
    Unsupported(String),
    /// The output cap or the nesting limit.
    Limit(Fault),
}

/// How to lay out the document.
#[derive(Clone, Copy)]
pub(crate) struct Style {
    pub(crate) escape_html: bool,
    pub(crate) indent: bool,
}

/// Encodes `value` like `json.Marshal` (or `MarshalIndent(v, "", "  ")` when `style.indent`).
pub(crate) fn encode(
    value: &Value,
    heap: &Heap,
    style: Style,
    out: &mut Out,
) -> Result<(), EncodeError> {
    encode_value(value, heap, style, out, 0)?;
    match out.fault {
        Some(fault) => Err(EncodeError::Limit(fault)),
        None => Ok(()),
    }
}

fn newline(out: &mut Out, style: Style, depth: usize) {
    if style.indent {
        out.push_byte(b'\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
}

fn encode_value(
    value: &Value,
    heap: &Heap,
    style: Style,
    out: &mut Out,
    depth: usize,
) -> Result<(), EncodeError> {
    if depth > MAX_PRINT_DEPTH {
        return Err(EncodeError::Limit(Fault::TooDeep));
    }
    if out.fault.is_some() {
        return Ok(());
    }
    match value {
        Value::NoValue | Value::Nil | Value::List(None) | Value::Map(None) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) | Value::Int64(n) => out.push_str(&n.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                let shown =
                    String::from_utf8_lossy(&format_float(*f, b'g', None, Bits::B64)).into_owned();
                return Err(EncodeError::Unsupported(format!(
                    "unsupported value: {shown}"
                )));
            }
            out.push(&format_json_float(*f));
        }
        Value::Str(s) => encode_string(s.bytes(), style.escape_html, out),
        Value::List(Some(items)) => {
            encode_array(items.len(), style, out, depth, |i, out| {
                match items.get(i) {
                    Some(item) => encode_value(item, heap, style, out, depth + 1),
                    None => Ok(()),
                }
            })?;
        }
        Value::StrList(items) => {
            encode_array(items.len(), style, out, depth, |i, out| {
                if let Some(item) = items.get(i) {
                    encode_string(item.bytes(), style.escape_html, out);
                }
                Ok(())
            })?;
        }
        Value::Map(Some(id)) => {
            let entries = heap.entries(Some(*id));
            encode_object(entries.len(), style, out, depth, |i, out| {
                match entries.get(i) {
                    Some((k, v)) => {
                        encode_string(k.bytes(), style.escape_html, out);
                        out.push_str(if style.indent { ": " } else { ":" });
                        encode_value(v, heap, style, out, depth + 1)
                    }
                    None => Ok(()),
                }
            })?;
        }
        Value::StrMap(map) => {
            let entries: Vec<_> = map.iter().collect();
            encode_object(entries.len(), style, out, depth, |i, out| {
                if let Some((k, v)) = entries.get(i) {
                    encode_string(k.bytes(), style.escape_html, out);
                    out.push_str(if style.indent { ": " } else { ":" });
                    encode_string(v.bytes(), style.escape_html, out);
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

fn encode_array(
    len: usize,
    style: Style,
    out: &mut Out,
    depth: usize,
    mut item: impl FnMut(usize, &mut Out) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    out.push_byte(b'[');
    for i in 0..len {
        if i > 0 {
            out.push_byte(b',');
        }
        newline(out, style, depth + 1);
        item(i, out)?;
    }
    if len > 0 {
        newline(out, style, depth);
    }
    out.push_byte(b']');
    Ok(())
}

fn encode_object(
    len: usize,
    style: Style,
    out: &mut Out,
    depth: usize,
    mut entry: impl FnMut(usize, &mut Out) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    out.push_byte(b'{');
    for i in 0..len {
        if i > 0 {
            out.push_byte(b',');
        }
        newline(out, style, depth + 1);
        entry(i, out)?;
    }
    if len > 0 {
        newline(out, style, depth);
    }
    out.push_byte(b'}');
    Ok(())
}

/// Go's `appendString`: `bytes` as a JSON string, quotes included.
pub(crate) fn encode_string(bytes: &[u8], escape_html: bool, out: &mut Out) {
    out.push_byte(b'"');
    escape_json_string(bytes, escape_html, |piece| out.push(piece));
    out.push_byte(b'"');
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/// What `json.Unmarshal` into `interface{}` gives: the value (possibly partial) and whether an
/// error occurred. Error details are not kept: Go's messages quote the input.
pub(crate) struct Decoded {
    pub(crate) value: Value,
    pub(crate) failed: bool,
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    heap: &'a mut Heap,
    /// A number out of `float64` range: Go stores nil and reports an error at the end.
    range_error: bool,
    budget: &'a mut dyn FnMut(usize, usize) -> bool,
}

/// Decodes `input`. `charge(strings, bytes)` is called for each value created: with
/// `(0, 0)` for a number, list element or dict entry, with `(1, len)` for a string of `len`
/// bytes. It returns false when the render's budget is exhausted (decoding then fails).
pub(crate) fn decode(
    input: &[u8],
    heap: &mut Heap,
    charge: &mut dyn FnMut(usize, usize) -> bool,
) -> Decoded {
    let mut parser = Parser {
        input,
        pos: 0,
        heap,
        range_error: false,
        budget: charge,
    };
    parser.skip_space();
    let value = parser.value(0);
    parser.skip_space();
    match value {
        Some(value) if parser.pos == input.len() => Decoded {
            value,
            failed: parser.range_error,
        },
        _ => Decoded {
            value: Value::Nil,
            failed: true,
        },
    }
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while matches!(self.input.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Option<Value> {
        if self.input.get(self.pos..)?.starts_with(word) {
            self.pos += word.len();
            Some(value)
        } else {
            None
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_PRINT_DEPTH || !(self.budget)(0, 0) {
            return None;
        }
        match self.input.get(self.pos)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Value::Str),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Nil),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        self.pos += 1;
        let mut map = BTreeMap::new();
        self.skip_space();
        if self.input.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Some(self.heap.alloc(map));
        }
        loop {
            self.skip_space();
            if self.input.get(self.pos) != Some(&b'"') {
                return None;
            }
            let key = self.string()?;
            self.skip_space();
            if self.input.get(self.pos) != Some(&b':') {
                return None;
            }
            self.pos += 1;
            self.skip_space();
            let value = self.value(depth + 1)?;
            map.insert(key, value);
            self.skip_space();
            match self.input.get(self.pos)? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(self.heap.alloc(map));
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_space();
        if self.input.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Some(Value::list(items));
        }
        loop {
            self.skip_space();
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.input.get(self.pos)? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(Value::list(items));
                }
                _ => return None,
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while matches!(p.input.get(p.pos), Some(b'0'..=b'9')) {
                p.pos += 1;
            }
            p.pos > from
        };
        if self.input.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        if self.input.get(self.pos) == Some(&b'0') {
            self.pos += 1;
        } else if !digits(self) {
            return None;
        }
        if self.input.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return None;
            }
        }
        if matches!(self.input.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.input.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        let text = std::str::from_utf8(self.input.get(start..self.pos)?).ok()?;
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Some(Value::Float(f)),
            _ => {
                self.range_error = true;
                Some(Value::Nil)
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.input.get(self.pos..self.pos + 4)?;
        let mut v = 0;
        for &d in digits {
            v = v * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(v)
    }

    fn string(&mut self) -> Option<GoStr> {
        self.pos += 1;
        let mut out = zeroize::Zeroizing::new(Vec::new());
        loop {
            let b = *self.input.get(self.pos)?;
            match b {
                b'"' => {
                    self.pos += 1;
                    if !(self.budget)(1, out.len()) {
                        return None;
                    }
                    return Some(GoStr::from_buf(out));
                }
                b'\\' => {
                    let escape = *self.input.get(self.pos + 1)?;
                    self.pos += 2;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    push_rune(&mut out, c);
                }
                0..=0x1F => return None,
                b if b < 0x80 => {
                    out.push(b);
                    self.pos += 1;
                }
                _ => {
                    let (c, size) = decode_rune(&self.input[self.pos..])?;
                    if c == char::REPLACEMENT_CHARACTER && size == 1 {
                        push_rune(&mut out, c);
                    } else {
                        out.extend_from_slice(&self.input[self.pos..self.pos + size]);
                    }
                    self.pos += size;
                }
            }
        }
    }

    /// `\uXXXX` (already past `\u`), combining surrogate pairs; a lone surrogate is U+FFFD.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            let save = self.pos;
            if self.input.get(self.pos..self.pos + 2) == Some(b"\\u")
                && let Some(second) = {
                    self.pos += 2;
                    self.hex4()
                }
                && (0xDC00..0xE000).contains(&second)
            {
                let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Some(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.pos = save;
            return Some(char::REPLACEMENT_CHARACTER);
        }
        Some(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(value: &Value, heap: &Heap, escape_html: bool, indent: bool) -> String {
        let mut out = Out::new(1 << 20);
        if encode(
            value,
            heap,
            Style {
                escape_html,
                indent,
            },
            &mut out,
        )
        .is_err()
        {
            return "ERR".into();
        }
        String::from_utf8(out.finish().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn encodes_like_marshal() {
        let heap = Heap::default();
        assert_eq!(
            enc(&Value::text("a\"<b>&=\u{2028}\n"), &heap, true, false),
            r#""a\"\u003cb\u003e\u0026=\u2028\n""#
        );
        assert_eq!(enc(&Value::text("<>"), &heap, false, false), r#""<>""#);
        assert_eq!(
            enc(&Value::str(b"\xff".to_vec()), &heap, true, false),
            r#""\ufffd""#
        );
        assert_eq!(enc(&Value::Float(1e21), &heap, true, false), "1e+21");
        assert_eq!(enc(&Value::Float(1e-7), &heap, true, false), "1e-7");
        assert_eq!(enc(&Value::Float(1.5), &heap, true, false), "1.5");
        assert_eq!(enc(&Value::Float(100.0), &heap, true, false), "100");
        assert_eq!(enc(&Value::Float(f64::NAN), &heap, true, false), "ERR");
        let list = Value::list(vec![Value::Int(1), Value::list(vec![])]);
        assert_eq!(enc(&list, &heap, true, true), "[\n  1,\n  []\n]");
    }

    #[test]
    fn decodes_like_unmarshal() {
        let mut heap = Heap::default();
        let mut charge = |_, _| true;
        let d = decode(
            br#" {"b": [1, "x\u00e9\ud83d\ude00", null, true], "a": {}} "#,
            &mut heap,
            &mut charge,
        );
        assert!(!d.failed);
        let mut out = Out::new(1 << 20);
        assert!(
            encode(
                &d.value,
                &heap,
                Style {
                    escape_html: true,
                    indent: false
                },
                &mut out
            )
            .is_ok()
        );
        assert_eq!(
            out.bytes(),
            "{\"a\":{},\"b\":[1,\"xé😀\",null,true]}".as_bytes()
        );
        assert!(decode(b"{\"a\":1,}", &mut heap, &mut charge).failed);
        assert!(decode(b"01", &mut heap, &mut charge).failed);
        assert!(decode(b"1e400", &mut heap, &mut charge).failed);
    }
}
