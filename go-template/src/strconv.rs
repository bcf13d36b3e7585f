//! The parts of Go's `strconv` that template parsing and printing depend on: quoting,
//! unquoting, integer and float literals, and `IsPrint`.

use super::value::{decode_rune, push_rune};

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Go's `strconv.IsPrint`, exact for ASCII and Latin-1, close for the rest of Unicode
/// (Rust's standard library has no general-category table; unassigned code points are
/// treated as printable).
pub(crate) fn is_print(c: char) -> bool {
    let u = u32::from(c);
    if u < 0x80 {
        return (0x20..0x7F).contains(&u);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let format_or_private = matches!(u,
        0x00AD
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x08E2
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xD800..=0xF8FF
        | 0xFDD0..=0xFDEF
        | 0xFEFF
        | 0xFFF0..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF
        | 0xF0000..=0x10FFFF);
    !format_or_private && (u & 0xFFFE) != 0xFFFE
}

/// Go's `strconv.Quote` (`ascii_only`: `QuoteToASCII`).
pub(crate) fn go_quote(bytes: &[u8], ascii_only: bool) -> String {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    quote_into(&mut out, bytes, b'"', ascii_only);
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends `bytes` quoted with `quote` (`"` for strings, `'` for runes) to `out`.
pub(crate) fn quote_into(out: &mut Vec<u8>, bytes: &[u8], quote: u8, ascii_only: bool) {
    out.push(quote);
    let mut rest = bytes;
    while let Some((c, width)) = decode_rune(rest) {
        if width == 1 && c == char::REPLACEMENT_CHARACTER {
            let b = rest[0];
            out.extend_from_slice(b"\\x");
            out.push(LOWER_HEX[usize::from(b >> 4)]);
            out.push(LOWER_HEX[usize::from(b & 0xF)]);
        } else {
            escape_rune(out, c, quote, ascii_only);
        }
        rest = &rest[width..];
    }
    out.push(quote);
}

/// Go's `strconv.QuoteRune` (`ascii_only`: `QuoteRuneToASCII`).
pub(crate) fn quote_rune(out: &mut Vec<u8>, c: char, ascii_only: bool) {
    out.push(b'\'');
    escape_rune(out, c, b'\'', ascii_only);
    out.push(b'\'');
}

fn escape_rune(out: &mut Vec<u8>, c: char, quote: u8, ascii_only: bool) {
    let u = u32::from(c);
    if u == u32::from(quote) || c == '\\' {
        out.push(b'\\');
        out.push(quote_byte(c));
        return;
    }
    if ascii_only {
        if c.is_ascii() && is_print(c) {
            out.push(quote_byte(c));
            return;
        }
    } else if is_print(c) {
        push_rune(out, c);
        return;
    }
    let short = match c {
        '\u{7}' => Some(b'a'),
        '\u{8}' => Some(b'b'),
        '\u{c}' => Some(b'f'),
        '\n' => Some(b'n'),
        '\r' => Some(b'r'),
        '\t' => Some(b't'),
        '\u{b}' => Some(b'v'),
        _ => None,
    };
    if let Some(letter) = short {
        out.push(b'\\');
        out.push(letter);
    } else if u < 0x20 || u == 0x7F {
        out.extend_from_slice(format!("\\x{u:02x}").as_bytes());
    } else if u < 0x10000 {
        out.extend_from_slice(format!("\\u{u:04x}").as_bytes());
    } else {
        out.extend_from_slice(format!("\\U{u:08x}").as_bytes());
    }
}

fn quote_byte(c: char) -> u8 {
    u8::try_from(u32::from(c)).unwrap_or(b'?')
}

/// Go's `strconv.CanBackquote`.
pub(crate) fn can_backquote(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some((c, width)) = decode_rune(rest) {
        if width == 1 && c == char::REPLACEMENT_CHARACTER {
            return false;
        }
        if width > 1 {
            if c == '\u{FEFF}' {
                return false;
            }
        } else if c == '`' || c == '\u{7F}' || (c < ' ' && c != '\t') {
            return false;
        }
        rest = &rest[width..];
    }
    true
}

/// One decoded element of a quoted literal: a rune (UTF-8 encoded when appended) or a raw
/// byte from a `\x` or octal escape.
enum Unquoted {
    Rune(char),
    Byte(u8),
}

fn hex_value(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// Go's `strconv.UnquoteChar`: decodes the first character of `s`, returns it and the rest.
fn unquote_char(s: &str, quote: char) -> Option<(Unquoted, &str)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c != '\\' {
        return Some((Unquoted::Rune(c), chars.as_str()));
    }
    let bytes = s.as_bytes();
    let escape = *bytes.get(1)?;
    let tail = |n: usize| s.get(n..);
    let value = match escape {
        b'a' => Unquoted::Rune('\u{7}'),
        b'b' => Unquoted::Rune('\u{8}'),
        b'f' => Unquoted::Rune('\u{c}'),
        b'n' => Unquoted::Rune('\n'),
        b'r' => Unquoted::Rune('\r'),
        b't' => Unquoted::Rune('\t'),
        b'v' => Unquoted::Rune('\u{b}'),
        b'x' | b'u' | b'U' => {
            let n = match escape {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = bytes.get(2..2 + n)?;
            let mut v: u32 = 0;
            for &d in digits {
                v = v.checked_mul(16)?.checked_add(hex_value(d)?)?;
            }
            let rest = tail(2 + n)?;
            if escape == b'x' {
                return Some((Unquoted::Byte(u8::try_from(v).ok()?), rest));
            }
            return Some((Unquoted::Rune(char::from_u32(v)?), rest));
        }
        b'0'..=b'7' => {
            let digits = bytes.get(1..4)?;
            let mut v: u32 = 0;
            for &d in digits {
                let digit = char::from(d).to_digit(8)?;
                v = v * 8 + digit;
            }
            return Some((Unquoted::Byte(u8::try_from(v).ok()?), tail(4)?));
        }
        b'\\' => Unquoted::Rune('\\'),
        b'\'' | b'"' => {
            if char::from(escape) != quote {
                return None;
            }
            Unquoted::Rune(char::from(escape))
        }
        _ => return None,
    };
    Some((value, tail(2)?))
}

/// Go's `strconv.Unquote` for `"…"` and `` `…` `` literals, as bytes (escapes may produce
/// invalid UTF-8). `None` is Go's `invalid syntax`.
pub(crate) fn go_unquote(literal: &str) -> Option<Vec<u8>> {
    let quote = literal.chars().next()?;
    if literal.len() < 2 || !literal.ends_with(quote) {
        return None;
    }
    let body = literal.get(1..literal.len() - 1)?;
    match quote {
        '`' => {
            if body.contains('`') {
                return None;
            }
            Some(body.bytes().filter(|&b| b != b'\r').collect())
        }
        '"' => {
            if body.contains('\n') {
                return None;
            }
            let mut out = Vec::with_capacity(body.len());
            let mut rest = body;
            while !rest.is_empty() {
                let (value, tail) = unquote_char(rest, '"')?;
                match value {
                    Unquoted::Rune(c) => push_rune(&mut out, c),
                    Unquoted::Byte(b) => out.push(b),
                }
                rest = tail;
            }
            Some(out)
        }
        _ => None,
    }
}

/// A character constant `'x'`: its code point. `Err(true)` is Go's "malformed character
/// constant", `Err(false)` its `invalid syntax`.
pub(crate) fn go_char_constant(literal: &str) -> Result<u32, bool> {
    let body = literal.get(1..).ok_or(false)?;
    let (value, tail) = unquote_char(body, '\'').ok_or(false)?;
    if tail != "'" {
        return Err(true);
    }
    Ok(match value {
        Unquoted::Rune(c) => u32::from(c),
        Unquoted::Byte(b) => u32::from(b),
    })
}

/// Why Go's `strconv` rejected a number.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NumError {
    Syntax,
    Range,
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(s: &str) -> bool {
    let mut bytes = s.as_bytes();
    if let Some(b'+' | b'-') = bytes.first() {
        bytes = &bytes[1..];
    }
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if bytes.len() >= 2
        && bytes[0] == b'0'
        && matches!(bytes[1].to_ascii_lowercase(), b'b' | b'o' | b'x')
    {
        i = 2;
        saw = b'0';
        hex = bytes[1].eq_ignore_ascii_case(&b'x');
    }
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() || (hex && matches!(c.to_ascii_lowercase(), b'a'..=b'f')) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseUint(s, 0, 64)`.
pub(crate) fn parse_uint_base0(s: &str) -> Result<u64, NumError> {
    let bytes = s.as_bytes();
    let first = *bytes.first().ok_or(NumError::Syntax)?;
    let (base, digits): (u64, &[u8]) = if first == b'0' {
        match bytes.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if bytes.len() >= 3 => (2, &bytes[2..]),
            Some(b'o') if bytes.len() >= 3 => (8, &bytes[2..]),
            Some(b'x') if bytes.len() >= 3 => (16, &bytes[2..]),
            _ => (8, &bytes[1..]),
        }
    } else {
        (10, bytes)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        if c == b'_' {
            underscores = true;
            continue;
        }
        let d = u64::from(char::from(c).to_digit(36).ok_or(NumError::Syntax)?);
        if d >= base {
            return Err(NumError::Syntax);
        }
        n = n
            .checked_mul(base)
            .and_then(|n| n.checked_add(d))
            .ok_or(NumError::Range)?;
    }
    if underscores && !underscore_ok(s) {
        return Err(NumError::Syntax);
    }
    Ok(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
pub(crate) fn parse_int_base0(s: &str) -> Result<i64, NumError> {
    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        Some(_) => (false, s),
        None => return Err(NumError::Syntax),
    };
    let magnitude = parse_uint_base0(unsigned)?;
    if negative {
        if magnitude > 1 << 63 {
            return Err(NumError::Range);
        }
        Ok(0i64.wrapping_sub_unsigned(magnitude))
    } else {
        i64::try_from(magnitude).map_err(|_| NumError::Range)
    }
}

/// Go's `strconv.ParseInt(s, 10, 0)` (`Atoi`).
pub(crate) fn parse_int_base10(s: &str) -> Result<i64, NumError> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        Some(_) => (false, s),
        None => return Err(NumError::Syntax),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumError::Syntax);
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(NumError::Range)?;
    }
    if negative {
        if n > 1 << 63 {
            return Err(NumError::Range);
        }
        Ok(0i64.wrapping_sub_unsigned(n))
    } else {
        i64::try_from(n).map_err(|_| NumError::Range)
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal literals (hexadecimal floats are not
/// supported and report a syntax error).
pub(crate) fn parse_float(s: &str) -> Result<f64, NumError> {
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if lower.len() - unsigned.len() > 1 {
        return Err(NumError::Syntax);
    }
    match unsigned {
        "inf" | "infinity" => {
            return Ok(if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    if unsigned.starts_with("0x") {
        return Err(NumError::Syntax);
    }
    let valid = !unsigned.is_empty()
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-' | b'_'));
    if !valid || (s.contains('_') && !underscore_ok(s)) {
        return Err(NumError::Syntax);
    }
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    let value: f64 = cleaned.parse().map_err(|_| NumError::Syntax)?;
    if value.is_infinite() {
        return Err(NumError::Range);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_like_go() {
        assert_eq!(
            go_quote(b"a\"b\\c\n\x01\xff\xe9t\xc3\xa9", false),
            r#""a\"b\\c\n\x01\xff\xe9té""#
        );
        assert_eq!(go_quote("é\u{2028}".as_bytes(), true), r#""\u00e9\u2028""#);
        assert_eq!(go_quote("😀".as_bytes(), true), r#""\U0001f600""#);
    }

    #[test]
    fn unquote_like_go() {
        assert_eq!(
            go_unquote(r#""a\x41\101\u00e9\n""#).unwrap(),
            "aAAé\n".as_bytes()
        );
        assert_eq!(go_unquote("`a\r\\n`").unwrap(), b"a\\n");
        assert_eq!(go_unquote(r#""\xff""#).unwrap(), b"\xff");
        assert!(go_unquote(r#""\'""#).is_none());
        assert!(go_unquote(r#""\400""#).is_none());
        assert_eq!(go_char_constant("'a'"), Ok(97));
        assert_eq!(go_char_constant(r"'\n'"), Ok(10));
        assert_eq!(go_char_constant("'ab'"), Err(true));
    }

    #[test]
    fn numbers_like_go() {
        assert_eq!(parse_int_base0("0x1F"), Ok(31));
        assert_eq!(parse_int_base0("010"), Ok(8));
        assert_eq!(parse_int_base0("0"), Ok(0));
        assert_eq!(parse_int_base0("-0b11"), Ok(-3));
        assert_eq!(parse_int_base0("1_000"), Ok(1000));
        assert_eq!(parse_int_base0("1__0"), Err(NumError::Syntax));
        assert_eq!(parse_int_base0("09"), Err(NumError::Syntax));
        assert_eq!(parse_int_base0("9223372036854775808"), Err(NumError::Range));
        assert_eq!(parse_int_base0("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_uint_base0("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_float("1.5e3"), Ok(1500.0));
        assert_eq!(parse_float("09"), Ok(9.0));
        assert_eq!(parse_float("1e400"), Err(NumError::Range));
        assert_eq!(parse_int_base10("+42"), Ok(42));
        assert_eq!(parse_int_base10("0x1"), Err(NumError::Syntax));
    }
}
