//! Go's `encoding/json` text for strings and floats: what `json.Marshal` writes, for the
//! templates' `toJson` and for the manifests kubeseal prints.

use super::float::{Bits, format_float};
use crate::value::decode_rune;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Go's float64 encoding: `'f'` format unless the magnitude is below 1e-6 or from 1e21 on,
/// then `'e'` with a one-digit negative exponent written without padding (`1e-7`, `1e+21`).
/// Non-finite values have no JSON form (Go refuses them); callers check first.
#[must_use]
pub fn format_json_float(f: f64) -> Vec<u8> {
    let abs = f.abs();
    let exponent = abs != 0.0 && !(1e-6..1e21).contains(&abs);
    let mut text = format_float(f, if exponent { b'e' } else { b'f' }, None, Bits::B64);
    if exponent {
        let n = text.len();
        if n >= 4 && text[n - 4] == b'e' && text[n - 3] == b'-' && text[n - 2] == b'0' {
            text[n - 2] = text[n - 1];
            text.truncate(n - 1);
        }
    }
    text
}

/// The inside of a JSON string as Go's `appendString` writes it (without the quotes), passed
/// to `push` in pieces: `"` and `\` escaped, control characters as `\n`, `\t`, `\b`, … or
/// `\u00XX`, U+2028 and U+2029 as `\u2028`/`\u2029`, each invalid UTF-8 byte as `\ufffd`,
/// and with `escape_html` (`json.Marshal`; not `SetEscapeHTML(false)`) `<`, `>`, `&` as
/// `\u003c`, `\u003e`, `\u0026`. `/` is never escaped.
pub fn escape_json_string(bytes: &[u8], escape_html: bool, mut push: impl FnMut(&[u8])) {
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            let html = matches!(b, b'<' | b'>' | b'&');
            if b >= 0x20 && b != b'"' && b != b'\\' && !(escape_html && html) {
                i += 1;
                continue;
            }
            push(&bytes[start..i]);
            match b {
                b'\\' | b'"' => push(&[b'\\', b]),
                0x08 => push(b"\\b"),
                0x0C => push(b"\\f"),
                b'\n' => push(b"\\n"),
                b'\r' => push(b"\\r"),
                b'\t' => push(b"\\t"),
                _ => push(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xF)],
                ]),
            }
            i += 1;
            start = i;
            continue;
        }
        let (c, size) = decode_rune(&bytes[i..]).unwrap_or((char::REPLACEMENT_CHARACTER, 1));
        let escape: &[u8] = match c {
            char::REPLACEMENT_CHARACTER if size == 1 => b"\\ufffd",
            '\u{2028}' => b"\\u2028",
            '\u{2029}' => b"\\u2029",
            _ => {
                i += size;
                continue;
            }
        };
        push(&bytes[start..i]);
        push(escape);
        i += size;
        start = i;
    }
    push(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(bytes: &[u8], escape_html: bool) -> String {
        let mut out = Vec::new();
        escape_json_string(bytes, escape_html, |piece| out.extend_from_slice(piece));
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn strings_like_marshal() {
        assert_eq!(escaped(b"a<b>&\"\\/", true), r#"a\u003cb\u003e\u0026\"\\/"#);
        assert_eq!(escaped(b"a<b>&", false), "a<b>&");
        assert_eq!(escaped(b"\x01\x08\x0c\n\r\t", true), r"\u0001\b\f\n\r\t");
        assert_eq!(
            escaped("\u{2028}\u{2029}é".as_bytes(), true),
            "\\u2028\\u2029é"
        );
        assert_eq!(escaped(b"\xff\xe2\x82", true), r"\ufffd\ufffd\ufffd");
    }

    #[test]
    fn floats_like_marshal() {
        assert_eq!(format_json_float(1e-7), b"1e-7");
        assert_eq!(format_json_float(1e21), b"1e+21");
        assert_eq!(format_json_float(1e20), b"100000000000000000000");
        assert_eq!(format_json_float(-0.0), b"-0");
        assert_eq!(format_json_float(0.000001), b"0.000001");
    }
}
