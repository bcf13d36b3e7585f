//! Sprig v3.3.0 regular expression functions, on Go's syntax (`goregex`). Each charges one
//! step per input byte (more for long patterns) before compiling or matching.

use zeroize::Zeroizing;

use super::call::{Ctx, FResult, FuncError, arg_int, arg_str};
use super::goregex;
use super::sprig::call_error;
use super::value::{GoStr, Value};

/// Steps charged for compiling a pattern with a counted repetition (`a{1000}`): it can
/// expand up to the compiler's size limit, whatever the pattern's length.
const COUNTED_REPETITION_STEPS: usize = 4096;

/// Charges for compiling `pattern` and matching it against `input`, before doing either:
/// one step per pattern byte (more with a counted repetition), and one step per input byte
/// for each 64 bytes of pattern (matching may run every state of the pattern over every
/// byte).
fn charge_regex(ctx: &mut Ctx<'_>, pattern: &[u8], input: &[u8]) -> Result<(), FuncError> {
    ctx.steps(pattern.len())?;
    if pattern.contains(&b'{') {
        ctx.steps(COUNTED_REPETITION_STEPS)?;
    }
    let per_byte = pattern.len().div_ceil(64).max(1);
    ctx.steps(input.len().saturating_add(1).saturating_mul(per_byte))
}

fn regex(
    ctx: &mut Ctx<'_>,
    pattern: &[u8],
    input: &[u8],
) -> Result<regex::bytes::Regex, FuncError> {
    charge_regex(ctx, pattern, input)?;
    match goregex::compile(pattern) {
        Some(re) => Ok(re),
        None => call_error("regexp: invalid or unsupported pattern"),
    }
}

pub(super) fn regex_match(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (pattern, s) = (arg_str(&args, 0), arg_str(&args, 1));
    charge_regex(ctx, pattern, s)?;
    Ok(Value::Bool(
        goregex::compile(pattern).is_some_and(|re| re.is_match(s)),
    ))
}

pub(super) fn must_regex_match(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (pattern, s) = (arg_str(&args, 0), arg_str(&args, 1));
    let re = regex(ctx, pattern, s)?;
    Ok(Value::Bool(re.is_match(s)))
}

/// Go's `FindAllIndex(s, n)`.
fn find_all(
    ctx: &mut Ctx<'_>,
    re: &regex::bytes::Regex,
    s: &[u8],
    n: i64,
) -> Result<Vec<(usize, usize)>, FuncError> {
    let limit = usize::try_from(n).unwrap_or(usize::MAX);
    let mut found = Vec::new();
    for m in re.find_iter(s) {
        if found.len() >= limit {
            break;
        }
        ctx.elements(1)?;
        found.push((m.start(), m.end()));
    }
    Ok(found)
}

pub(super) fn regex_find_all(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (pattern, s) = (arg_str(&args, 0), arg_str(&args, 1));
    let re = regex(ctx, pattern, s)?;
    let matches = find_all(ctx, &re, s, arg_int(&args, 2))?;
    if matches.is_empty() {
        // Go returns a nil []string (JSON `null`); the nil list prints and encodes alike.
        return Ok(Value::List(None));
    }
    let mut found = Vec::with_capacity(matches.len());
    for (a, b) in matches {
        ctx.reserve(b - a)?;
        found.push(GoStr::from_slice(&s[a..b]));
    }
    Ok(Value::str_list(found))
}

pub(super) fn regex_find(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (pattern, s) = (arg_str(&args, 0), arg_str(&args, 1));
    let re = regex(ctx, pattern, s)?;
    let found = re.find(s).map_or(&[][..], |m| m.as_bytes());
    ctx.bytes(found)
}

fn replace_with(ctx: &mut Ctx<'_>, args: &[Value], literal: bool) -> FResult {
    let (pattern, s, replacement) = (arg_str(args, 0), arg_str(args, 1), arg_str(args, 2));
    let re = regex(ctx, pattern, s)?;
    let mut out = ctx.out();
    let cap = ctx.cap();
    let mut last = 0;
    let mut expanded = Zeroizing::new(Vec::new());
    // Every `$` of the replacement expands to at most the match (groups lie inside it).
    let dollars = replacement.iter().filter(|&&b| b == b'$').count();
    for caps in re.captures_iter(s) {
        let Some(m) = caps.get(0) else { continue };
        let most = replacement
            .len()
            .saturating_add(dollars.saturating_mul(m.len()));
        if most > cap {
            return Err(FuncError::Limit(ctx.budget.string_cap().1));
        }
        ctx.steps(1)?;
        ctx.work(most)?;
        out.push(&s[last..m.start()]);
        if literal {
            out.push(replacement);
        } else {
            expanded.clear();
            caps.expand(replacement, &mut expanded);
            out.push(&expanded);
        }
        last = m.end();
        if out.fault.is_some() {
            break;
        }
    }
    out.push(&s[last..]);
    ctx.finish(out)
}

pub(super) fn regex_replace_all(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    replace_with(ctx, &args, false)
}

pub(super) fn regex_replace_all_literal(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    replace_with(ctx, &args, true)
}

/// Go's `Regexp.Split`.
pub(super) fn regex_split(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let (pattern, s, n) = (arg_str(&args, 0), arg_str(&args, 1), arg_int(&args, 2));
    let re = regex(ctx, pattern, s)?;
    if n == 0 {
        return Ok(Value::str_list(Vec::new()));
    }
    if !pattern.is_empty() && s.is_empty() {
        ctx.elements(1)?;
        return Ok(Value::str_list(vec![GoStr::new(Vec::new())]));
    }
    let matches = find_all(ctx, &re, s, n)?;
    let limit = usize::try_from(n).ok();
    let mut parts = Vec::new();
    let (mut begin, mut end) = (0, 0);
    for (start, stop) in matches {
        if limit.is_some_and(|n| parts.len() + 1 == n) {
            break;
        }
        end = start;
        if stop != 0 {
            ctx.reserve(end - begin)?;
            parts.push(GoStr::from_slice(&s[begin..end]));
        }
        begin = stop;
    }
    if end != s.len() {
        ctx.elements(1)?;
        ctx.reserve(s.len() - begin)?;
        parts.push(GoStr::from_slice(&s[begin..]));
    }
    Ok(Value::str_list(parts))
}

pub(super) fn regex_quote_meta(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let s = arg_str(&args, 0);
    ctx.work(s.len())?;
    ctx.reserve(s.len().saturating_mul(2))?;
    Ok(Ctx::charged(Zeroizing::new(goregex::quote_meta(s))))
}
