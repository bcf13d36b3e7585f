//! The values a template computes with, modelled on the Go types that reach Go's
//! `text/template` in upstream: `string`, `int`, `int64`, `float64`, `bool`, `[]interface{}`,
//! `[]string`, `map[string]interface{}` and `map[string]string` (the dot).
//!
//! Strings are Go strings: arbitrary bytes (a decrypted value need not be UTF-8), held in
//! zeroizing buffers. Maps of type `map[string]interface{}` are shared and mutable in Go (Sprig's
//! `set` changes the map it is given), so they live in a per-render [`Heap`] and values hold an
//! index: no reference cycles, and everything is wiped when the render ends.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use zeroize::Zeroizing;

/// A Go string: immutable bytes, cheap to clone, zeroized when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct GoStr(Rc<Zeroizing<Vec<u8>>>);

impl PartialEq for GoStr {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for GoStr {}

impl PartialOrd for GoStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Byte order, as Go compares strings (and sorts map keys).
impl Ord for GoStr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes().cmp(other.bytes())
    }
}

impl GoStr {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Self(Rc::new(Zeroizing::new(bytes)))
    }

    pub(crate) fn from_buf(buf: Zeroizing<Vec<u8>>) -> Self {
        Self(Rc::new(buf))
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Self {
        Self::new(bytes.to_vec())
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<&str> for GoStr {
    fn from(text: &str) -> Self {
        Self::from_slice(text.as_bytes())
    }
}

impl fmt::Debug for GoStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Index of a `map[string]interface{}` in the [`Heap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MapId(usize);

/// A template value. Variant names follow the Go type they stand for.
#[derive(Clone)]
#[allow(
    clippy::enum_variant_names,
    reason = "NoValue is Go's name for a missing value"
)]
pub(crate) enum Value {
    /// Go's invalid `reflect.Value`: a missing map key. Prints as `<no value>`.
    NoValue,
    /// A nil `interface{}` (the `nil` literal, or a nil element of a list or map).
    Nil,
    Bool(bool),
    /// Go `int` (literals, `len`, `atoi`).
    Int(i64),
    /// Go `int64` (Sprig arithmetic).
    Int64(i64),
    Float(f64),
    Str(GoStr),
    /// `[]interface{}`; `None` is a nil slice.
    List(Option<Rc<Vec<Value>>>),
    /// `[]string`.
    StrList(Rc<Vec<GoStr>>),
    /// `map[string]interface{}`; `None` is a nil map.
    Map(Option<MapId>),
    /// `map[string]string`: the dot, and Sprig's `split`.
    StrMap(Rc<BTreeMap<GoStr, GoStr>>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the contents: this type holds plaintext.
        write!(f, "Value({})", self.type_name())
    }
}

impl Value {
    pub(crate) fn str(bytes: Vec<u8>) -> Self {
        Value::Str(GoStr::new(bytes))
    }

    pub(crate) fn text(text: &str) -> Self {
        Value::Str(GoStr::from(text))
    }

    pub(crate) fn list(items: Vec<Value>) -> Self {
        Value::List(Some(Rc::new(items)))
    }

    pub(crate) fn str_list(items: Vec<GoStr>) -> Self {
        Value::StrList(Rc::new(items))
    }

    /// Go's `%T` of the value (`<nil>` for nil and for no value).
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::NoValue | Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::StrList(_) => "[]string",
            Value::Map(_) => "map[string]interface {}",
            Value::StrMap(_) => "map[string]string",
        }
    }

    /// Go's `reflect.Kind` name, as Sprig's `kindOf` prints it.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Value::NoValue | Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Int64(_) => "int64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) | Value::StrList(_) => "slice",
            Value::Map(_) | Value::StrMap(_) => "map",
        }
    }

    /// `reflect.Value.IsValid()` after Go's `indirectInterface`.
    pub(crate) fn is_missing(&self) -> bool {
        matches!(self, Value::NoValue | Value::Nil)
    }

    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) | Value::Int64(n) => Some(*n),
            _ => None,
        }
    }

    pub(crate) fn is_slice(&self) -> bool {
        matches!(self, Value::List(_) | Value::StrList(_))
    }
}

/// Storage for the `map[string]interface{}` values of one render.
#[derive(Default)]
pub(crate) struct Heap {
    maps: Vec<BTreeMap<GoStr, Value>>,
}

impl Heap {
    pub(crate) fn alloc(&mut self, map: BTreeMap<GoStr, Value>) -> Value {
        self.maps.push(map);
        Value::Map(Some(MapId(self.maps.len() - 1)))
    }

    pub(crate) fn map(&self, id: MapId) -> Option<&BTreeMap<GoStr, Value>> {
        self.maps.get(id.0)
    }

    pub(crate) fn map_mut(&mut self, id: MapId) -> Option<&mut BTreeMap<GoStr, Value>> {
        self.maps.get_mut(id.0)
    }

    /// The entries of a map value (empty for a nil map), cloned so the heap can be changed.
    pub(crate) fn entries(&self, id: Option<MapId>) -> Vec<(GoStr, Value)> {
        id.and_then(|id| self.map(id))
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    pub(crate) fn map_len(&self, id: Option<MapId>) -> usize {
        id.and_then(|id| self.map(id)).map_or(0, BTreeMap::len)
    }

    pub(crate) fn map_get(&self, id: Option<MapId>, key: &[u8]) -> Option<Value> {
        id.and_then(|id| self.map(id))
            .and_then(|m| m.get(&GoStr::from_slice(key)).cloned())
    }
}

/// Length as Go's `len` sees it, for the kinds that have one.
pub(crate) fn go_len(value: &Value, heap: &Heap) -> Option<usize> {
    match value {
        Value::Str(s) => Some(s.len()),
        Value::List(l) => Some(l.as_ref().map_or(0, |l| l.len())),
        Value::StrList(l) => Some(l.len()),
        Value::Map(id) => Some(heap.map_len(*id)),
        Value::StrMap(m) => Some(m.len()),
        _ => None,
    }
}

/// Go's `template.IsTrue` (after `indirectInterface`).
pub(crate) fn is_true(value: &Value, heap: &Heap) -> bool {
    match value {
        Value::NoValue | Value::Nil => false,
        Value::Bool(b) => *b,
        Value::Int(n) | Value::Int64(n) => *n != 0,
        Value::Float(f) => *f != 0.0,
        other => go_len(other, heap).unwrap_or(0) > 0,
    }
}

/// Sprig's `empty`: like `!is_true`.
pub(crate) fn is_empty(value: &Value, heap: &Heap) -> bool {
    !is_true(value, heap)
}

/// Decodes one rune the way Go's `utf8.DecodeRune` does: an invalid or truncated sequence
/// is `(U+FFFD, 1)`. Returns `None` at the end of input.
pub(crate) fn decode_rune(bytes: &[u8]) -> Option<(char, usize)> {
    let first = *bytes.first()?;
    if first < 0x80 {
        return Some((char::from(first), 1));
    }
    let width = match first {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return Some((char::REPLACEMENT_CHARACTER, 1)),
    };
    match bytes.get(..width).map(std::str::from_utf8) {
        Some(Ok(s)) => s.chars().next().map(|c| (c, width)),
        _ => Some((char::REPLACEMENT_CHARACTER, 1)),
    }
}

/// Iterates over the runes of a Go string, as `for i, r := range s` does.
pub(crate) fn runes(bytes: &[u8]) -> impl Iterator<Item = (usize, char, usize)> + '_ {
    let mut offset = 0;
    std::iter::from_fn(move || {
        let (c, width) = decode_rune(bytes.get(offset..)?)?;
        let start = offset;
        offset += width;
        Some((start, c, width))
    })
}

/// Number of runes, as `utf8.RuneCount`.
pub(crate) fn rune_count(bytes: &[u8]) -> usize {
    runes(bytes).count()
}

pub(crate) fn push_rune(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rune_like_go() {
        assert_eq!(decode_rune(b"a"), Some(('a', 1)));
        assert_eq!(decode_rune("é".as_bytes()), Some(('é', 2)));
        assert_eq!(decode_rune(b"\xE2\x82"), Some(('\u{FFFD}', 1)));
        assert_eq!(decode_rune(b"\xED\xA0\x80"), Some(('\u{FFFD}', 1)));
        assert_eq!(decode_rune(b""), None);
        assert_eq!(rune_count(b"\xE2\x82x"), 3);
    }

    #[test]
    fn debug_never_shows_contents() {
        let v = Value::text("hunter2");
        assert_eq!(format!("{v:?}"), "Value(string)");
        assert_eq!(format!("{:?}", GoStr::from("hunter2")), "[redacted]");
    }
}
