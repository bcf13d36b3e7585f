//! What an unquoted YAML scalar means, by go-yaml v2's rules (YAML 1.1 flavoured).
//!
//! Both directions need it. Reading: upstream reads YAML with go-yaml v2, so `yes` is `true`,
//! `0x1F` is 31 and `0777` is 511. Writing: go-yaml v2 quotes a string exactly when its plain
//! form would read back as something else (`"true"`, `"123"`, `"2024-01-02"`, `"1:20"`).
//! The rules below were written from go-yaml v2.4's documented behaviour and checked against
//! its output (see `tests/data/manifest/README.md`).

/// The meaning of a plain scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    /// Looks like a YAML timestamp. go-yaml v2 reads it as a string into untyped values but
    /// still quotes such strings on output.
    Timestamp,
    Str,
}

/// Resolves a plain (unquoted, untagged) scalar. Only text starting with a character that can
/// begin a number, a boolean, a null or `.inf`/`.nan` can resolve to anything but a string (so
/// `<<` is a string here; the decoder recognizes the merge key by its text).
pub(crate) fn resolve_plain(text: &str) -> Resolved {
    let hinted = match text.as_bytes().first() {
        None => true,
        Some(first) => b"+-0123456789yYnNtTfFoO~.".contains(first),
    };
    if !hinted {
        return Resolved::Str;
    }
    if let Some(known) = resolve_word(text) {
        return known;
    }
    match text.as_bytes().first() {
        Some(b'.') => parse_decimal_float(text).map_or(Resolved::Str, Resolved::Float),
        Some(b'+' | b'-' | b'0'..=b'9') => resolve_number_like(text),
        _ => Resolved::Str,
    }
}

/// Whether go-yaml v2 writes `text` quoted because its plain form would not read back as the
/// same string. go-yaml also quotes strings that look like YAML 1.1 base-60 floats.
pub(crate) fn plain_reads_as_other_type(text: &str) -> bool {
    resolve_plain(text) != Resolved::Str || is_base60_float(text)
}

fn resolve_word(text: &str) -> Option<Resolved> {
    Some(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Resolved::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

fn resolve_number_like(text: &str) -> Resolved {
    if is_timestamp(text) {
        return Resolved::Timestamp;
    }
    // go-yaml drops every underscore before parsing numbers.
    let plain: String = text.chars().filter(|c| *c != '_').collect();
    if let Some(value) = parse_go_int(&plain) {
        return Resolved::Int(value);
    }
    if let Some(value) = parse_go_uint(&plain) {
        return Resolved::Uint(value);
    }
    if is_yaml_float_syntax(&plain)
        && let Ok(value) = plain.parse::<f64>()
        && value.is_finite()
    {
        return Resolved::Float(value);
    }
    Resolved::Str
}

/// Go `strconv.ParseUint(text, 0, 64)`: `0x`/`0o`/`0b` prefixes, a bare leading `0` means octal,
/// no sign.
fn parse_go_uint(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let (radix, digits) = match bytes {
        [] => return None,
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'x') => (16, &text[2..]),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'o') => (8, &text[2..]),
        [b'0', prefix, _, ..] if prefix.eq_ignore_ascii_case(&b'b') => (2, &text[2..]),
        [b'0', ..] => (8, &text[1..]),
        _ => (10, text),
    };
    let mut value: u64 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(radix)?;
        value = value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// Go `strconv.ParseInt(text, 0, 64)`: an optional sign, then [`parse_go_uint`], in range.
fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_go_uint(rest)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, go-yaml's float syntax.
fn is_yaml_float_syntax(text: &str) -> bool {
    let mut rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    if let Some(after_point) = rest.strip_prefix('.') {
        let n = leading_digits(after_point);
        if n == 0 {
            return false;
        }
        rest = &after_point[n..];
    } else {
        let n = leading_digits(rest);
        if n == 0 {
            return false;
        }
        rest = &rest[n..];
        if let Some(fraction) = rest.strip_prefix('.') {
            rest = &fraction[leading_digits(fraction)..];
        }
    }
    is_exponent_or_empty(rest)
}

fn is_exponent_or_empty(text: &str) -> bool {
    let Some(exponent) = text.strip_prefix(['e', 'E']) else {
        return text.is_empty();
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    !exponent.is_empty() && leading_digits(exponent) == exponent.len()
}

/// A plain scalar starting with `.` that Go's `ParseFloat` accepts (`.5`, `.5e3`).
fn parse_decimal_float(text: &str) -> Option<f64> {
    let fraction = text.strip_prefix('.')?;
    let n = leading_digits(fraction);
    if n == 0 || !is_exponent_or_empty(&fraction[n..]) {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn leading_digits(text: &str) -> usize {
    text.bytes().take_while(u8::is_ascii_digit).count()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: YAML 1.1 base-60 floats, which
/// go-yaml does not read but still quotes on output.
fn is_base60_float(text: &str) -> bool {
    let rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !rest.starts_with(|c: char| c.is_ascii_digit()) || !rest.contains(':') {
        return false;
    }
    let head_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'_')
        .count();
    let mut rest = &rest[head_len..];
    let mut groups = 0;
    while let Some(group) = rest.strip_prefix(':') {
        let bytes = group.as_bytes();
        let len = match bytes {
            [b'0'..=b'5', b'0'..=b'9', ..] => 2,
            [b'0'..=b'9', ..] => 1,
            _ => return false,
        };
        rest = &group[len..];
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    match rest.strip_prefix('.') {
        Some(fraction) => fraction.bytes().all(|b| b.is_ascii_digit() || b == b'_'),
        None => rest.is_empty(),
    }
}

/// Whether go-yaml v2 takes `text` for a timestamp: Go `time.Parse` with one of the layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (also with `t`), `2006-1-2 15:4:5.999999999`, `2006-1-2`.
fn is_timestamp(text: &str) -> bool {
    let mut cursor = Cursor(text.as_bytes());
    let Some(year) = cursor.fixed_digits(4) else {
        return false;
    };
    if !cursor.eat(b'-') {
        return false;
    }
    let Some(month) = cursor.short_number() else {
        return false;
    };
    if !cursor.eat(b'-') {
        return false;
    }
    let Some(day) = cursor.short_number() else {
        return false;
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(month, year) {
        return false;
    }
    if cursor.is_empty() {
        return true;
    }
    let zoned = match cursor.next() {
        Some(b'T' | b't') => true,
        Some(b' ') => false,
        _ => return false,
    };
    let time_ok = cursor.short_number().is_some_and(|h| h < 24)
        && cursor.eat(b':')
        && cursor.short_number().is_some_and(|m| m < 60)
        && cursor.eat(b':')
        && cursor.short_number().is_some_and(|s| s < 60);
    if !time_ok {
        return false;
    }
    cursor.fraction();
    if zoned {
        cursor.zone() && cursor.is_empty()
    } else {
        cursor.is_empty()
    }
}

fn days_in_month(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn next(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.0.first() == Some(&byte) {
            self.0 = &self.0[1..];
            true
        } else {
            false
        }
    }

    fn digit_at(&self, index: usize) -> Option<u32> {
        self.0
            .get(index)
            .filter(|b| b.is_ascii_digit())
            .map(|b| u32::from(b - b'0'))
    }

    /// Exactly `count` digits.
    fn fixed_digits(&mut self, count: usize) -> Option<u32> {
        let mut value = 0;
        for index in 0..count {
            value = value * 10 + self.digit_at(index)?;
        }
        self.0 = &self.0[count..];
        Some(value)
    }

    /// One or two digits (Go's non-fixed `getnum`).
    fn short_number(&mut self) -> Option<u32> {
        let first = self.digit_at(0)?;
        match self.digit_at(1) {
            Some(second) => {
                self.0 = &self.0[2..];
                Some(first * 10 + second)
            }
            None => {
                self.0 = &self.0[1..];
                Some(first)
            }
        }
    }

    /// An optional fractional second: `.` or `,` then any number of digits.
    fn fraction(&mut self) {
        if matches!(self.0, [b'.' | b',', b'0'..=b'9', ..]) {
            let digits = self.0[1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            self.0 = &self.0[1 + digits..];
        }
    }

    /// `Z` or `±hh:mm` (Go accepts offsets up to 24:60).
    fn zone(&mut self) -> bool {
        if self.eat(b'Z') {
            return true;
        }
        let [sign, h1, h2, b':', m1, m2, ..] = self.0 else {
            return false;
        };
        let digits = [*h1, *h2, *m1, *m2];
        if !matches!(sign, b'+' | b'-') || !digits.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let hours = (h1 - b'0') * 10 + (h2 - b'0');
        let minutes = (m1 - b'0') * 10 + (m2 - b'0');
        self.0 = &self.0[6..];
        hours <= 24 && minutes <= 60
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_words() {
        for word in ["y", "Yes", "ON", "true", "TRUE"] {
            assert_eq!(resolve_plain(word), Resolved::Bool(true), "{word}");
        }
        for word in ["n", "NO", "off", "False"] {
            assert_eq!(resolve_plain(word), Resolved::Bool(false), "{word}");
        }
        for word in ["", "~", "null", "NULL"] {
            assert_eq!(resolve_plain(word), Resolved::Null, "{word}");
        }
        for word in ["yES", "nULL", "tRUE", "oN", "none"] {
            assert_eq!(resolve_plain(word), Resolved::Str, "{word}");
        }
        assert_eq!(resolve_plain("<<"), Resolved::Str);
        assert_eq!(resolve_plain("-.inf"), Resolved::Float(f64::NEG_INFINITY));
    }

    #[test]
    fn numbers() {
        assert_eq!(resolve_plain("123"), Resolved::Int(123));
        assert_eq!(resolve_plain("-12"), Resolved::Int(-12));
        assert_eq!(resolve_plain("+12"), Resolved::Int(12));
        assert_eq!(resolve_plain("0x1F"), Resolved::Int(31));
        assert_eq!(resolve_plain("0o17"), Resolved::Int(15));
        assert_eq!(resolve_plain("0777"), Resolved::Int(511));
        assert_eq!(resolve_plain("0b101"), Resolved::Int(5));
        assert_eq!(resolve_plain("1_000"), Resolved::Int(1000));
        assert_eq!(resolve_plain("0"), Resolved::Int(0));
        assert_eq!(
            resolve_plain("18446744073709551615"),
            Resolved::Uint(u64::MAX)
        );
        assert_eq!(resolve_plain("08"), Resolved::Float(8.0));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve_plain("1."), Resolved::Float(1.0));
        assert_eq!(resolve_plain(".5"), Resolved::Float(0.5));
        assert_eq!(resolve_plain("-1.5e-3"), Resolved::Float(-0.0015));
        assert_eq!(resolve_plain("1e400"), Resolved::Str);
        assert_eq!(resolve_plain("0x"), Resolved::Str);
        assert_eq!(resolve_plain("12abc"), Resolved::Str);
        assert_eq!(resolve_plain("1.2.3"), Resolved::Str);
        assert_eq!(resolve_plain("."), Resolved::Str);
        assert_eq!(resolve_plain("-"), Resolved::Str);
    }

    #[test]
    fn timestamps() {
        for text in [
            "2024-01-02",
            "2024-1-2",
            "2024-02-29",
            "2001-12-14t21:59:43.10Z",
            "2001-12-14T21:59:43+05:30",
            "2001-12-14 21:59:43.10",
            "2001-12-14 1:2:3",
        ] {
            assert_eq!(resolve_plain(text), Resolved::Timestamp, "{text}");
        }
        for text in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-02T10:00:00",
            "2001-12-14 21:59:43 +05:00",
            "20240-01-02",
            "2024-01-02x",
        ] {
            assert_ne!(resolve_plain(text), Resolved::Timestamp, "{text}");
        }
    }

    #[test]
    fn base60_floats_are_quoted() {
        for text in ["1:20", "190:20:30.15", "-1:59", "12:30:45"] {
            assert!(plain_reads_as_other_type(text), "{text}");
        }
        for text in ["1:60", "a:1", "1:", "1:2:"] {
            assert!(!plain_reads_as_other_type(text), "{text}");
        }
    }
}
