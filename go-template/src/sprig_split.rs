//! Sprig's string lists: `split splitn splitList toStrings join sortAlpha`.

use memchr::memmem;

use super::budget::ELEMENT_BYTES;
use super::call::{Ctx, FResult, FuncError, arg, arg_int, arg_str};
use super::sprig::{strslice, strval};
use super::value::{GoStr, Value, decode_rune, rune_count};

/// Go's `strings.SplitN` (`n < 0`: no limit).
fn split_n(ctx: &mut Ctx<'_>, s: &[u8], sep: &[u8], n: i64) -> Result<Vec<GoStr>, FuncError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let limit = usize::try_from(n).unwrap_or(usize::MAX);
    ctx.work(s.len().saturating_add(sep.len()))?;
    let mut parts = Vec::new();
    // Each part is charged (as an element and as a string) before it is copied.
    let part = |ctx: &mut Ctx<'_>, bytes: &[u8]| -> Result<GoStr, FuncError> {
        ctx.elements(1)?;
        ctx.reserve(bytes.len())?;
        Ok(GoStr::from_slice(bytes))
    };
    if sep.is_empty() {
        let total = rune_count(s);
        let n = total.min(limit);
        let mut rest = s;
        while parts.len() + 1 < n {
            let (_, w) = decode_rune(rest).unwrap_or((char::REPLACEMENT_CHARACTER, 1));
            let w = w.min(rest.len());
            parts.push(part(ctx, &rest[..w])?);
            rest = &rest[w..];
        }
        if n > 0 {
            parts.push(part(ctx, rest)?);
        }
        return Ok(parts);
    }
    let mut rest = s;
    while parts.len() + 1 < limit {
        let Some(m) = memmem::find(rest, sep) else {
            break;
        };
        parts.push(part(ctx, &rest[..m])?);
        rest = &rest[m + sep.len()..];
    }
    parts.push(part(ctx, rest)?);
    Ok(parts)
}

fn numbered(ctx: &mut Ctx<'_>, parts: Vec<GoStr>) -> FResult {
    // A map entry and its key (`_N`) per part; the parts were charged when split.
    ctx.elements(parts.len())?;
    ctx.budget
        .memory(parts.len().saturating_mul(ELEMENT_BYTES))?;
    let map = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| (GoStr::from(format!("_{i}").as_str()), part))
        .collect();
    Ok(Value::StrMap(std::rc::Rc::new(map)))
}

pub(super) fn split(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let parts = split_n(ctx, arg_str(&args, 1), arg_str(&args, 0), -1)?;
    numbered(ctx, parts)
}

pub(super) fn splitn(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let parts = split_n(ctx, arg_str(&args, 2), arg_str(&args, 0), arg_int(&args, 1))?;
    numbered(ctx, parts)
}

pub(super) fn split_list(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let parts = split_n(ctx, arg_str(&args, 1), arg_str(&args, 0), -1)?;
    Ok(Value::str_list(parts))
}

pub(super) fn to_strings(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = strslice(ctx, arg(&args, 0))?;
    Ok(Value::str_list(items))
}

pub(super) fn join(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let sep = arg_str(&args, 0).to_vec();
    let items = strslice(ctx, arg(&args, 1))?;
    let mut out = ctx.out();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(&sep);
        }
        out.push(item.bytes());
    }
    ctx.finish(out)
}

pub(super) fn sort_alpha(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let value = arg(&args, 0);
    let mut items = if value.is_slice() {
        strslice(ctx, value)?
    } else {
        vec![strval(ctx, value)?]
    };
    // n·log n comparisons, each reading up to the shorter string.
    let log = usize::try_from(items.len().max(1).ilog2() + 1).unwrap_or(usize::MAX);
    let bytes = items
        .iter()
        .map(GoStr::len)
        .fold(0usize, usize::saturating_add);
    ctx.steps(items.len().saturating_mul(log))?;
    ctx.work(bytes.saturating_mul(log))?;
    items.sort();
    Ok(Value::str_list(items))
}
