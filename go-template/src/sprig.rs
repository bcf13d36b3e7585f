//! Sprig v3.3.0 functions on strings, and Go's `cast` as Sprig uses it (string lists,
//! hashes and encodings, JSON, regular expressions, numbers, types and paths are in the
//! `sprig_*` modules next to this). Each follows Sprig's Go code's observable behaviour,
//! including its quirks (`b64dec` *returns* Go's error text, `nospace` works byte by byte).

use memchr::memmem;
use zeroize::Zeroizing;

use super::call::{Ctx, FResult, FuncError, arg, arg_int, arg_str};
use super::gofmt::sprint_v;
use super::out::{Fault, Out};
use super::strconv::{parse_float, parse_int_base0, parse_int_base10, quote_into};
use super::value::{GoStr, Value, decode_rune, push_rune, runes};

pub(super) fn call_error<T>(message: impl Into<String>) -> Result<T, FuncError> {
    Err(FuncError::Call(message.into()))
}

/// Sprig's `strval`: strings as they are (shared, not copied), anything else as `fmt`'s
/// `%v`, printed within what the budget can pay for.
pub(super) fn strval(ctx: &mut Ctx<'_>, value: &Value) -> Result<GoStr, FuncError> {
    if let Value::Str(s) = value {
        return Ok(s.clone());
    }
    let (cap, bound) = ctx.budget.string_cap();
    let buf = sprint_v(ctx.heap, value, cap).map_err(|fault| match fault {
        Fault::TooBig => FuncError::Limit(bound),
        Fault::TooDeep => FuncError::Depth,
    })?;
    ctx.reserve(buf.len())?;
    Ok(GoStr::from_buf(buf))
}

/// Sprig's `strslice`: a list as strings (nil elements dropped), nil as empty, anything else
/// as a one-element list.
pub(super) fn strslice(ctx: &mut Ctx<'_>, value: &Value) -> Result<Vec<GoStr>, FuncError> {
    match value {
        Value::StrList(items) => {
            ctx.elements(items.len())?;
            Ok(items.as_ref().clone())
        }
        Value::List(items) => {
            let items = items.as_deref().map(Vec::as_slice).unwrap_or(&[]);
            ctx.elements(items.len())?;
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter().filter(|v| !v.is_missing()) {
                out.push(strval(ctx, item)?);
            }
            Ok(out)
        }
        v if v.is_missing() => Ok(Vec::new()),
        v => {
            ctx.elements(1)?;
            Ok(vec![strval(ctx, v)?])
        }
    }
}

/// Charges the work of reading every string among `args` (casts and comparisons parse or
/// compare them).
pub(super) fn work_of_strings(ctx: &mut Ctx<'_>, args: &[Value]) -> Result<(), FuncError> {
    let total = args
        .iter()
        .map(|v| match v {
            Value::Str(s) => s.len(),
            _ => 0,
        })
        .fold(0usize, usize::saturating_add);
    ctx.work(total)
}

// ---------------------------------------------------------------------------------------------
// Go's cast package (spf13/cast v1.7.0), errors ignored as Sprig does.

fn trim_zero_decimal(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut found_zero = false;
    for i in (1..=bytes.len()).rev() {
        match bytes[i - 1] {
            b'.' => {
                if found_zero {
                    return &s[..i - 1];
                }
            }
            b'0' => found_zero = true,
            _ => return s,
        }
    }
    s
}

/// Go's `int64(f)` on amd64: out of range and NaN give the most negative value.
#[allow(clippy::cast_possible_truncation)]
fn float_to_int(f: f64) -> i64 {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    // NaN is outside every range too.
    if !(-TWO_POW_63..TWO_POW_63).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

pub(super) fn cast_int64(value: &Value) -> i64 {
    match value {
        Value::Int(n) | Value::Int64(n) => *n,
        Value::Float(f) => float_to_int(*f),
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => std::str::from_utf8(s.bytes())
            .ok()
            .and_then(|s| parse_int_base0(trim_zero_decimal(s)).ok())
            .unwrap_or(0),
        _ => 0,
    }
}

#[allow(clippy::cast_precision_loss)]
fn cast_float64(value: &Value) -> f64 {
    match value {
        Value::Int(n) | Value::Int64(n) => *n as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => std::str::from_utf8(s.bytes())
            .ok()
            .and_then(|s| parse_float(s).ok())
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

// ---------------------------------------------------------------------------------------------
// Strings.

pub(super) fn hello(ctx: &mut Ctx<'_>, _args: Vec<Value>) -> FResult {
    ctx.bytes(b"Hello!")
}

pub(super) fn trunc(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let c = arg_int(&args, 0);
    let s = arg_str(&args, 1);
    let len = i64::try_from(s.len()).unwrap_or(i64::MAX);
    let out = if c < 0 && len + c > 0 {
        &s[usize::try_from(len + c).unwrap_or(0)..]
    } else if c >= 0 && len > c {
        &s[..usize::try_from(c).unwrap_or(0)]
    } else {
        s
    };
    ctx.bytes(out)
}

fn is_go_space(c: char) -> bool {
    c.is_whitespace()
}

pub(super) fn trim(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let s = arg_str(&args, 0);
    ctx.work(s.len())?;
    let start = runes(s)
        .find(|&(_, c, w)| !(is_go_space(c) && !(c == char::REPLACEMENT_CHARACTER && w == 1)))
        .map_or(s.len(), |(i, _, _)| i);
    let rest = &s[start..];
    let mut end = rest.len();
    while end > 0 {
        let (c, w) = decode_last_rune(&rest[..end]);
        if !is_go_space(c) || (c == char::REPLACEMENT_CHARACTER && w == 1) {
            break;
        }
        end -= w;
    }
    ctx.bytes(&rest[..end])
}

/// Go's `utf8.DecodeLastRune` (on non-empty input).
fn decode_last_rune(s: &[u8]) -> (char, usize) {
    let end = s.len();
    let Some(&last) = s.last() else {
        return (char::REPLACEMENT_CHARACTER, 0);
    };
    if last < 0x80 {
        return (char::from(last), 1);
    }
    let lim = end.saturating_sub(4);
    let mut start = end - 1;
    while start > lim && (s[start] & 0xC0) == 0x80 {
        start -= 1;
    }
    match decode_rune(&s[start..end]) {
        Some((c, w)) if start + w == end => (c, w),
        _ => (char::REPLACEMENT_CHARACTER, 1),
    }
}

/// Go's `unicode.ToUpper` (simple case mapping).
fn go_upper(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => match u32::from(c) {
            0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => {
                char::from_u32(u32::from(c) + 8).unwrap_or(c)
            }
            0x1FB3 => '\u{1FBC}',
            0x1FC3 => '\u{1FCC}',
            0x1FF3 => '\u{1FFC}',
            _ => c,
        },
    }
}

/// Go's `unicode.ToLower` (simple case mapping).
fn go_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `unicode.ToTitle`: like upper case except for the four digraphs.
fn go_title(c: char) -> char {
    match c {
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        _ => go_upper(c),
    }
}

/// Go's `strings.Map`: every rune mapped (invalid bytes become U+FFFD). The output can be
/// up to three times the input (an invalid byte becomes three), so it is built in a capped
/// buffer after the input's work is charged.
fn map_runes(ctx: &mut Ctx<'_>, s: &[u8], mut f: impl FnMut(char) -> char) -> FResult {
    ctx.work(s.len())?;
    let mut out = ctx.out();
    let mut buf = [0u8; 4];
    for (_, c, _) in runes(s) {
        out.push(f(c).encode_utf8(&mut buf).as_bytes());
        if out.fault.is_some() {
            break;
        }
    }
    ctx.finish(out)
}

pub(super) fn upper(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    map_runes(ctx, arg_str(&args, 0), go_upper)
}

pub(super) fn lower(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    map_runes(ctx, arg_str(&args, 0), go_lower)
}

fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    is_go_space(c)
}

pub(super) fn title(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut prev = ' ';
    map_runes(ctx, arg_str(&args, 0), |c| {
        let mapped = if is_separator(prev) { go_title(c) } else { c };
        prev = c;
        mapped
    })
}

pub(super) fn substr(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (start, end) = (arg_int(&args, 0), arg_int(&args, 1));
    let s = arg_str(&args, 2);
    let len = i64::try_from(s.len()).unwrap_or(i64::MAX);
    let slice = |from: i64, to: i64| -> Result<&[u8], FuncError> {
        match (usize::try_from(from), usize::try_from(to)) {
            (Ok(from), Ok(to)) if from <= to && to <= s.len() => Ok(&s[from..to]),
            _ => call_error("runtime error: slice bounds out of range"),
        }
    };
    let out = if start < 0 {
        slice(0, end)?
    } else if end < 0 || end > len {
        slice(start, len)?
    } else {
        slice(start, end)?
    };
    ctx.bytes(out)
}

pub(super) fn repeat(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let count = arg_int(&args, 0);
    let s = arg_str(&args, 1);
    let Ok(count) = usize::try_from(count) else {
        return call_error("strings: negative Repeat count");
    };
    let Some(total) = s.len().checked_mul(count) else {
        return call_error("strings: Repeat output length overflow");
    };
    // One step per 64 repetitions even when they add nothing (`repeat 100000000 ""`), then
    // the output; both before anything is allocated.
    ctx.work(count)?;
    ctx.reserve(total)?;
    Ok(Ctx::charged(Zeroizing::new(s.repeat(count))))
}

/// Go's `strings.Trim(s, cutset)`.
pub(super) fn trim_all(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let cutset = arg_str(&args, 0);
    let s = arg_str(&args, 1);
    // Each rune of `s` looked at is compared with every rune of the cutset.
    ctx.work(cutset.len())?;
    ctx.work(s.len().saturating_mul(cutset.len().max(1)))?;
    let set: Vec<char> = runes(cutset).map(|(_, c, _)| c).collect();
    let in_set = |c: char| set.contains(&c);
    let start = runes(s)
        .find(|&(_, c, _)| !in_set(c))
        .map_or(s.len(), |(i, _, _)| i);
    let rest = &s[start..];
    let mut end = rest.len();
    while end > 0 {
        let (c, w) = decode_last_rune(&rest[..end]);
        if !in_set(c) {
            break;
        }
        end -= w;
    }
    ctx.bytes(&rest[..end])
}

pub(super) fn trim_suffix(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (suffix, s) = (arg_str(&args, 0), arg_str(&args, 1));
    ctx.work(suffix.len())?;
    ctx.bytes(s.strip_suffix(suffix).unwrap_or(s))
}

pub(super) fn trim_prefix(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (prefix, s) = (arg_str(&args, 0), arg_str(&args, 1));
    ctx.work(prefix.len())?;
    ctx.bytes(s.strip_prefix(prefix).unwrap_or(s))
}

/// goutils' `DeleteWhiteSpace`: byte by byte, each byte taken as a Latin-1 rune.
pub(super) fn nospace(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let s = arg_str(&args, 0);
    ctx.work(s.len())?;
    let keep = |b: u8| !is_go_space(char::from(b));
    if s.iter().all(|&b| keep(b)) {
        return ctx.bytes(s);
    }
    // Bytes from 0x80 become two-byte runes.
    let size = s
        .iter()
        .filter(|&&b| keep(b))
        .map(|&b| if b < 0x80 { 1 } else { 2 })
        .sum();
    ctx.reserve(size)?;
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    for &b in s.iter().filter(|&&b| keep(b)) {
        push_rune(&mut out, char::from(b));
    }
    Ok(Ctx::charged(out))
}

pub(super) fn contains(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (needle, s) = (arg_str(&args, 0), arg_str(&args, 1));
    ctx.work(s.len().saturating_add(needle.len()))?;
    Ok(Value::Bool(memmem::find(s, needle).is_some()))
}

pub(super) fn has_prefix(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.work(arg_str(&args, 0).len())?;
    Ok(Value::Bool(
        arg_str(&args, 1).starts_with(arg_str(&args, 0)),
    ))
}

pub(super) fn has_suffix(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.work(arg_str(&args, 0).len())?;
    Ok(Value::Bool(arg_str(&args, 1).ends_with(arg_str(&args, 0))))
}

pub(super) fn quote(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut out = ctx.out();
    let mut first = true;
    for value in args.iter().filter(|v| !v.is_missing()) {
        if !first {
            out.push_byte(b' ');
        }
        first = false;
        let text = strval(ctx, value)?;
        // Quoting at least adds two bytes and at most makes four of one: refuse what cannot
        // fit before building the quoted copy.
        if text.len().saturating_add(2) > ctx.cap() {
            return Err(FuncError::Limit(ctx.budget.string_cap().1));
        }
        ctx.work(text.len())?;
        let mut quoted = Zeroizing::new(Vec::with_capacity(text.len() + 2));
        quote_into(&mut quoted, text.bytes(), b'"', false);
        out.push(&quoted);
    }
    ctx.finish(out)
}

pub(super) fn squote(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut out = ctx.out();
    let mut first = true;
    for value in args.iter().filter(|v| !v.is_missing()) {
        if !first {
            out.push_byte(b' ');
        }
        first = false;
        out.push_byte(b'\'');
        out.push(strval(ctx, value)?.bytes());
        out.push_byte(b'\'');
    }
    ctx.finish(out)
}

pub(super) fn cat(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut out = ctx.out();
    for (i, value) in args.iter().filter(|v| !v.is_missing()).enumerate() {
        if i > 0 {
            out.push_byte(b' ');
        }
        out.push(strval(ctx, value)?.bytes());
    }
    ctx.finish(out)
}

fn indent_bytes(ctx: &mut Ctx<'_>, spaces: i64, s: &[u8], newline: bool) -> FResult {
    let Ok(spaces) = usize::try_from(spaces) else {
        return call_error("strings: negative Repeat count");
    };
    ctx.work(s.len())?;
    let lines = s.iter().filter(|&&b| b == b'\n').count() + 1;
    let total = spaces
        .checked_mul(lines)
        .and_then(|n| n.checked_add(s.len() + usize::from(newline)));
    ctx.reserve(total.unwrap_or(usize::MAX))?;
    let mut out = Out::new(total.unwrap_or(0));
    if newline {
        out.push_byte(b'\n');
    }
    let pad = vec![b' '; spaces];
    out.push(&pad);
    for &b in s {
        out.push_byte(b);
        if b == b'\n' {
            out.push(&pad);
        }
    }
    Ok(Value::Str(GoStr::from_buf(out.finish()?)))
}

pub(super) fn indent(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    indent_bytes(ctx, arg_int(&args, 0), arg_str(&args, 1), false)
}

pub(super) fn nindent(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    indent_bytes(ctx, arg_int(&args, 0), arg_str(&args, 1), true)
}

/// Go's `strings.Replace(s, old, new, -1)`.
pub(super) fn replace(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (old, new, s) = (arg_str(&args, 0), arg_str(&args, 1), arg_str(&args, 2));
    ctx.work(s.len().saturating_add(old.len()))?;
    if old == new {
        return ctx.bytes(s);
    }
    let mut out = ctx.out();
    if old.is_empty() {
        out.push(new);
        for (i, _, w) in runes(s) {
            out.push(&s[i..i + w]);
            out.push(new);
            if out.fault.is_some() {
                break;
            }
        }
        return ctx.finish(out);
    }
    let mut last = 0;
    for at in memmem::find_iter(s, old) {
        if at < last {
            continue;
        }
        out.push(&s[last..at]);
        out.push(new);
        last = at + old.len();
        if out.fault.is_some() {
            break;
        }
    }
    out.push(&s[last..]);
    ctx.finish(out)
}

pub(super) fn plural(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let pick = if arg_int(&args, 2) == 1 { 0 } else { 1 };
    ctx.bytes(arg_str(&args, pick))
}

pub(super) fn to_string(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Str(strval(ctx, arg(&args, 0))?))
}

pub(super) fn atoi(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    let n = std::str::from_utf8(arg_str(&args, 0))
        .ok()
        .and_then(|s| parse_int_base10(s).ok())
        .unwrap_or(0);
    Ok(Value::Int(n))
}

pub(super) fn to_int(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Int(cast_int64(arg(&args, 0))))
}

pub(super) fn to_int64(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Int64(cast_int64(arg(&args, 0))))
}

pub(super) fn to_float64(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Float(cast_float64(arg(&args, 0))))
}

/// `fail`: the message is shown only when it is written literally in the template, since a
/// computed one could carry a secret into events and status.
pub(super) fn fail(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    if ctx.literal.first().copied().unwrap_or(false) {
        return call_error(String::from_utf8_lossy(arg_str(&args, 0)).into_owned());
    }
    call_error("[message withheld: not a string literal]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_mapping_is_simple() {
        assert_eq!(go_upper('ß'), 'ß');
        assert_eq!(go_upper('a'), 'A');
        assert_eq!(go_lower('İ'), 'i');
        assert_eq!(go_title('ǆ'), 'ǅ');
        assert_eq!(trim_zero_decimal("3.00"), "3");
        assert_eq!(trim_zero_decimal("3.50"), "3.50");
    }
}
