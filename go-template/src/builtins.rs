//! Go's `text/template` builtin functions (`funcs.go`): `not len index print printf println
//! html js urlquery eq ne lt le gt ge`. `and`/`or` short-circuit and live in the executor.
//!
//! Error texts are Go's, minus the values Go sometimes quotes (an index, a compared value):
//! those may come from a secret.

use super::call::{Ctx, FResult, FuncError, arg, arg_str};
use super::gofmt::{sprint, sprintf, sprintln};
use super::sprig::work_of_strings;
use super::strconv::is_print;
use super::value::{GoStr, Value, decode_rune, go_len, is_true};

fn call_error<T>(message: impl Into<String>) -> Result<T, FuncError> {
    Err(FuncError::Call(message.into()))
}

pub(super) fn not(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Bool(!is_true(arg(&args, 0), ctx.heap)))
}

pub(super) fn len(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let item = arg(&args, 0);
    match item {
        Value::NoValue => call_error("reflect: call of reflect.Value.Type on zero Value"),
        Value::Nil => call_error("len of nil pointer"),
        _ => match go_len(item, ctx.heap) {
            Some(n) => Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX))),
            None => call_error(format!("len of type {}", item.type_name())),
        },
    }
}

/// Go's `indexArg` (without the offending number in the message).
fn index_arg(index: &Value, len: usize) -> Result<usize, FuncError> {
    let x = match index {
        Value::Int(n) | Value::Int64(n) => *n,
        Value::NoValue | Value::Nil => return call_error("cannot index slice/array with nil"),
        other => {
            return call_error(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    match usize::try_from(x) {
        Ok(x) if x <= len => Ok(x),
        _ => call_error("index out of range"),
    }
}

pub(super) fn index(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut item = arg(&args, 0).clone();
    if item.is_missing() {
        return call_error("index of untyped nil");
    }
    // A lookup per index; map keys are read to be compared.
    ctx.steps(args.len())?;
    work_of_strings(ctx, args.get(1..).unwrap_or(&[]))?;
    for index in args.iter().skip(1) {
        item = match &item {
            Value::Nil => return call_error("index of nil pointer"),
            Value::List(items) => {
                let items = items.as_deref().map(Vec::as_slice).unwrap_or(&[]);
                let x = index_arg(index, items.len())?;
                match items.get(x) {
                    Some(v) => v.clone(),
                    None => return call_error("reflect: slice index out of range"),
                }
            }
            Value::StrList(items) => {
                let x = index_arg(index, items.len())?;
                match items.get(x) {
                    Some(v) => Value::Str(v.clone()),
                    None => return call_error("reflect: slice index out of range"),
                }
            }
            Value::Str(s) => {
                let x = index_arg(index, s.len())?;
                match s.bytes().get(x) {
                    Some(b) => Value::Int(i64::from(*b)),
                    None => return call_error("reflect: string index out of range"),
                }
            }
            Value::Map(_) | Value::StrMap(_) => {
                let key = match index {
                    Value::Str(key) => key.clone(),
                    Value::NoValue | Value::Nil => {
                        return call_error("value is nil; should be of type string");
                    }
                    other => {
                        return call_error(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                match &item {
                    Value::Map(id) => ctx.heap.map_get(*id, key.bytes()).unwrap_or(Value::Nil),
                    Value::StrMap(map) => Value::Str(
                        map.get(&key)
                            .cloned()
                            .unwrap_or_else(|| GoStr::new(Vec::new())),
                    ),
                    _ => Value::NoValue,
                }
            }
            other => {
                return call_error(format!("can't index item of type {}", other.type_name()));
            }
        };
    }
    Ok(item)
}

// The printing functions write into a buffer capped at what the budget can pay for, and
// walk their arguments only as far as that buffer takes them; a step per argument and the
// format string's bytes are charged first.

pub(super) fn print(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.steps(args.len())?;
    let mut out = ctx.out();
    sprint(&mut out, ctx.heap, &args);
    ctx.finish(out)
}

pub(super) fn println(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.steps(args.len())?;
    let mut out = ctx.out();
    sprintln(&mut out, ctx.heap, &args);
    ctx.finish(out)
}

pub(super) fn printf(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let format = arg_str(&args, 0);
    ctx.steps(args.len())?;
    ctx.work(format.len())?;
    let mut out = ctx.out();
    sprintf(&mut out, ctx.heap, format, args.get(1..).unwrap_or(&[]));
    ctx.finish(out)
}

/// Go's `evalArgs` for `html`, `js` and `urlquery`: one string as is, anything else printed
/// with `fmt.Sprint` (missing values as `<no value>`).
fn eval_args(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<GoStr, FuncError> {
    ctx.steps(args.len())?;
    if let [Value::Str(s)] = args.as_slice() {
        ctx.work(s.len())?;
        return Ok(s.clone());
    }
    let args: Vec<Value> = args
        .into_iter()
        .map(|a| {
            if a.is_missing() {
                Value::text("<no value>")
            } else {
                a
            }
        })
        .collect();
    let mut out = ctx.out();
    sprint(&mut out, ctx.heap, &args);
    let Ok(text) = out.finish() else {
        return Err(FuncError::Limit(ctx.budget.string_cap().1));
    };
    // The text is read once more to be escaped.
    ctx.work(text.len())?;
    Ok(GoStr::from_buf(text))
}

pub(super) fn html(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let text = eval_args(ctx, args)?;
    let mut out = ctx.out();
    for &b in text.bytes() {
        match b {
            0 => out.push_str("\u{FFFD}"),
            b'"' => out.push_str("&#34;"),
            b'\'' => out.push_str("&#39;"),
            b'&' => out.push_str("&amp;"),
            b'<' => out.push_str("&lt;"),
            b'>' => out.push_str("&gt;"),
            _ => out.push_byte(b),
        }
    }
    ctx.finish(out)
}

pub(super) fn js(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let text = eval_args(ctx, args)?;
    let text = text.bytes();
    let mut out = ctx.out();
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'"' => out.push_str("\\\""),
            b'<' => out.push_str("\\u003C"),
            b'>' => out.push_str("\\u003E"),
            b'&' => out.push_str("\\u0026"),
            b'=' => out.push_str("\\u003D"),
            0..=0x1F => out.push_str(&format!("\\u00{c:02X}")),
            0x20..=0x7F => out.push_byte(c),
            _ => {
                let (r, size) = decode_rune(&text[i..]).unwrap_or((char::REPLACEMENT_CHARACTER, 1));
                if is_print(r) {
                    out.push(&text[i..i + size]);
                } else {
                    out.push_str(&format!("\\u{:04X}", u32::from(r)));
                }
                i += size;
                continue;
            }
        }
        i += 1;
    }
    ctx.finish(out)
}

pub(super) fn urlquery(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let text = eval_args(ctx, args)?;
    let mut out = ctx.out();
    for &b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push_byte(b),
            b' ' => out.push_byte(b'+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    ctx.finish(out)
}

/// Go's comparison kinds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::String,
        _ => Kind::Invalid,
    }
}

/// Whether a non-basic value is nil for Go's `isNil` (missing values count).
fn is_nil(v: &Value) -> bool {
    matches!(
        v,
        Value::NoValue | Value::Nil | Value::List(None) | Value::Map(None)
    )
}

fn eq_one(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 != k2 {
        if !a.is_missing() && !b.is_missing() {
            return call_error(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            ));
        }
        return Ok(false);
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x.bytes() == y.bytes(),
        _ if k1 == Kind::Int => a.as_int() == b.as_int(),
        _ => {
            let same_kind = a.kind_name() == b.kind_name();
            if !same_kind && !a.is_missing() && !b.is_missing() {
                return call_error(format!(
                    "non-comparable types {} and {}",
                    a.type_name(),
                    b.type_name()
                ));
            }
            if is_nil(a) || is_nil(b) {
                is_nil(a) == is_nil(b)
            } else {
                return call_error(format!("non-comparable type {}", b.type_name()));
            }
        }
    })
}

pub(super) fn eq(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    let first = arg(&args, 0);
    if args.len() < 2 {
        return call_error("missing argument for comparison");
    }
    for other in args.iter().skip(1) {
        if eq_one(first, other)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

pub(super) fn ne(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Bool(!eq_one(arg(&args, 0), arg(&args, 1))?))
}

fn less(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == Kind::Invalid || k2 == Kind::Invalid {
        return call_error("invalid type for comparison");
    }
    if k1 != k2 {
        return call_error(format!(
            "incompatible types for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        ));
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x.bytes() < y.bytes()),
        _ if k1 == Kind::Int => Ok(a.as_int() < b.as_int()),
        _ => call_error("invalid type for comparison"),
    }
}

pub(super) fn lt(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Bool(less(arg(&args, 0), arg(&args, 1))?))
}

fn less_or_equal(a: &Value, b: &Value) -> Result<bool, FuncError> {
    if less(a, b)? {
        return Ok(true);
    }
    eq_one(a, b)
}

pub(super) fn le(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Bool(less_or_equal(arg(&args, 0), arg(&args, 1))?))
}

pub(super) fn gt(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Bool(!less_or_equal(arg(&args, 0), arg(&args, 1))?))
}

pub(super) fn ge(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Bool(!less(arg(&args, 0), arg(&args, 1))?))
}
