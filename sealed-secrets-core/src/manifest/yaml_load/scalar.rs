//! What a scalar means, as go-yaml v2 decodes it into an untyped value: YAML 1.1 resolution
//! of plain scalars (`resolve`), explicit core tags, YAML 1.1 line breaks and `!!binary`.

use serde_json::{Number, Value};
use serde_saphyr::granit_parser::{ScalarStyle, Tag};

use crate::manifest::go_number;
use crate::manifest::resolve::{self, Resolved};

/// A scalar's value as go-yaml v2 decodes it into an untyped value. Non-finite floats (`.inf`,
/// `.nan`) have no JSON form; they are kept as their YAML spelling, which is what upstream
/// produces for the string fields they could legally fill. `None` when an explicit tag does not
/// fit the text.
pub(super) fn scalar_value(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Option<Value> {
    let folded = match style {
        ScalarStyle::Plain | ScalarStyle::SingleQuoted => fold_yaml11_breaks(text),
        _ => None,
    };
    let text = folded.as_deref().unwrap_or(text);
    let resolved = match tag {
        None if style == ScalarStyle::Plain => resolve::resolve_plain(text),
        None => Resolved::Str,
        Some(tag) => match core_name(tag).as_deref() {
            Some("binary") => return decode_binary(text),
            Some(name @ ("int" | "float" | "bool" | "null" | "timestamp")) => {
                tagged(resolve::resolve_plain(text), name)?
            }
            // `!!str`, other core tags, the non-specific `!` and application tags: a string.
            _ => Resolved::Str,
        },
    };
    Some(match resolved {
        Resolved::Null => Value::Null,
        Resolved::Bool(flag) => Value::Bool(flag),
        Resolved::Int(int) => Value::Number(int.into()),
        Resolved::Uint(uint) => Value::Number(uint.into()),
        Resolved::Float(float) => Number::from_f64(float).map_or_else(
            || Value::String(go_number::format_g(float, false)),
            Value::Number,
        ),
        Resolved::Timestamp | Resolved::Str => Value::String(text.to_owned()),
    })
}

/// The name of a `tag:yaml.org,2002:` tag (`!!int` is `int`); `None` for other tags.
pub(super) fn core_name(tag: &Tag) -> Option<std::borrow::Cow<'_, str>> {
    tag.suffix_in_namespace("tag:yaml.org,2002:")
}

/// YAML 1.1 (go-yaml) also breaks lines at U+0085, U+2028 and U+2029, which YAML 1.2 (our
/// parser) reads as ordinary characters. go-yaml writes them unescaped in single-quoted
/// scalars, followed by the indentation of the next line, so reading its output needs the
/// 1.1 rule: blanks around the breaks go; U+0085 folds like a newline (one becomes a space,
/// `n` become `n-1` newlines) and the other two stay. Block scalars are not adjusted (go-yaml
/// writes these characters there too, but only in strings that already hold a newline).
fn fold_yaml11_breaks(text: &str) -> Option<String> {
    const NEXT_LINE: char = '\u{85}';
    let is_break = |c: char| matches!(c, NEXT_LINE | '\u{2028}' | '\u{2029}');
    if !text.contains(is_break) {
        return None;
    }
    let is_blank_or_break = |c: char| c == ' ' || c == '\t' || is_break(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut index = 0;
    while index < chars.len() {
        if !is_blank_or_break(chars[index]) {
            out.push(chars[index]);
            index += 1;
            continue;
        }
        let run_end = chars[index..]
            .iter()
            .position(|c| !is_blank_or_break(*c))
            .map_or(chars.len(), |length| index + length);
        let run = &chars[index..run_end];
        let breaks: Vec<char> = run
            .iter()
            .filter(|c| is_break(**c))
            .map(|c| if *c == NEXT_LINE { '\n' } else { *c })
            .collect();
        match breaks.split_first() {
            // Blanks with no break are content.
            None => out.extend(run),
            Some(('\n', [])) => out.push(' '),
            Some(('\n', rest)) => out.extend(rest),
            Some(_) => out.extend(&breaks),
        }
        index = run_end;
    }
    Some(out)
}

/// Checks a plain resolution against an explicit core tag (go-yaml lets `!!float` take an int).
fn tagged(resolved: Resolved, suffix: &str) -> Option<Resolved> {
    match (suffix, resolved) {
        ("int", Resolved::Int(_) | Resolved::Uint(_))
        | ("float", Resolved::Float(_))
        | ("bool", Resolved::Bool(_))
        | ("null", Resolved::Null)
        | ("timestamp", Resolved::Timestamp) => Some(resolved),
        ("float", Resolved::Int(int)) => {
            #[allow(clippy::cast_precision_loss)] // Go converts int to float64 the same way
            Some(Resolved::Float(int as f64))
        }
        _ => None,
    }
}

/// `!!binary`: go-yaml decodes the base64 into a string of those bytes, which Go's JSON then
/// writes with invalid UTF-8 replaced by U+FFFD.
fn decode_binary(text: &str) -> Option<Value> {
    let bytes = crate::types::base64_std::decode(text).ok()?;
    Some(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}
