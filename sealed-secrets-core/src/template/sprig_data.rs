//! Sprig v3.3.0 functions on lists (`[]interface{}`) and dicts (`map[string]interface{}`).
//!
//! Dicts are shared and mutable, as in Go: `set` and `unset` change the dict they are given.
//! Where Go iterates a map in random order (`keys`, `values`), we use key order.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::funcs::{Ctx, FResult, FuncError, arg, arg_str};
use super::sprig::{cast_int64, strval};
use super::value::{GoStr, Heap, MapId, Value, is_empty};

const NIL_DEREFERENCE: &str = "runtime error: invalid memory address or nil pointer dereference";

fn call_error<T>(message: impl Into<String>) -> Result<T, FuncError> {
    Err(FuncError::Call(message.into()))
}

/// The elements of a slice value (as `interface{}` values), or Sprig's error for anything
/// else: `what` names the operation ("Cannot find first on type string").
fn items(value: &Value, what: &str) -> Result<Vec<Value>, FuncError> {
    match value {
        Value::List(items) => Ok(items.as_deref().cloned().unwrap_or_default()),
        Value::StrList(items) => Ok(items.iter().cloned().map(Value::Str).collect()),
        Value::NoValue | Value::Nil => call_error(NIL_DEREFERENCE),
        other => call_error(format!("{what} {}", other.kind_name())),
    }
}

fn map_id(value: &Value) -> Option<MapId> {
    match value {
        Value::Map(id) => *id,
        _ => None,
    }
}

pub(super) fn list(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.elements(args.len())?;
    Ok(Value::list(args))
}

pub(super) fn dict(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.elements(args.len())?;
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let key = GoStr::from_buf(strval(ctx, arg(&args, i))?);
        let value = args.get(i + 1).cloned().unwrap_or_else(|| Value::text(""));
        map.insert(key, value);
        i += 2;
    }
    Ok(ctx.heap.alloc(map))
}

pub(super) fn get(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let found = ctx.heap.map_get(map_id(arg(&args, 0)), arg_str(&args, 1));
    Ok(found.unwrap_or_else(|| Value::text("")))
}

pub(super) fn set(ctx: &mut Ctx<'_>, mut args: Vec<Value>) -> FResult {
    let Some(id) = map_id(arg(&args, 0)) else {
        return call_error("assignment to entry in nil map");
    };
    ctx.elements(1)?;
    let key = GoStr::from_slice(arg_str(&args, 1));
    let value = if args.len() > 2 {
        args.swap_remove(2)
    } else {
        Value::Nil
    };
    if let Some(map) = ctx.heap.map_mut(id) {
        map.insert(key, value);
    }
    Ok(Value::Map(Some(id)))
}

pub(super) fn unset(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let id = map_id(arg(&args, 0));
    if let Some(map) = id.and_then(|id| ctx.heap.map_mut(id)) {
        map.remove(&GoStr::from_slice(arg_str(&args, 1)));
    }
    Ok(Value::Map(id))
}

pub(super) fn has_key(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let found = ctx.heap.map_get(map_id(arg(&args, 0)), arg_str(&args, 1));
    Ok(Value::Bool(found.is_some()))
}

pub(super) fn pluck(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let key = arg_str(&args, 0);
    let mut out = Vec::new();
    for dict in args.iter().skip(1) {
        if let Some(v) = ctx.heap.map_get(map_id(dict), key) {
            out.push(v);
        }
    }
    ctx.elements(out.len())?;
    Ok(Value::list(out))
}

pub(super) fn keys(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut out = Vec::new();
    for dict in &args {
        out.extend(ctx.heap.entries(map_id(dict)).into_iter().map(|(k, _)| k));
    }
    ctx.elements(out.len())?;
    Ok(Value::str_list(out))
}

fn filtered(ctx: &mut Ctx<'_>, args: &[Value], keep_listed: bool) -> FResult {
    let listed: Vec<&[u8]> = args
        .iter()
        .skip(1)
        .map(|v| match v {
            Value::Str(s) => s.bytes(),
            _ => &[][..],
        })
        .collect();
    let map: BTreeMap<GoStr, Value> = ctx
        .heap
        .entries(map_id(arg(args, 0)))
        .into_iter()
        .filter(|(k, _)| listed.contains(&k.bytes()) == keep_listed)
        .collect();
    ctx.elements(map.len())?;
    Ok(ctx.heap.alloc(map))
}

pub(super) fn pick(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    filtered(ctx, &args, true)
}

pub(super) fn omit(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    filtered(ctx, &args, false)
}

pub(super) fn values(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let out: Vec<Value> = ctx
        .heap
        .entries(map_id(arg(&args, 0)))
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    ctx.elements(out.len())?;
    Ok(Value::list(out))
}

fn interface_conversion(value: &Value, want: &str) -> FuncError {
    let got = if value.is_missing() {
        "nil"
    } else {
        value.type_name()
    };
    FuncError::Call(format!(
        "interface conversion: interface {{}} is {got}, not {want}"
    ))
}

pub(super) fn dig(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    if args.len() < 3 {
        return call_error("dig needs at least three arguments");
    }
    let last = arg(&args, args.len() - 1);
    let mut dict = match last {
        Value::Map(id) => *id,
        other => return Err(interface_conversion(other, "map[string]interface {}")),
    };
    let default = arg(&args, args.len() - 2).clone();
    let mut path = Vec::new();
    for key in &args[..args.len() - 2] {
        match key {
            Value::Str(s) => path.push(s.clone()),
            other => return Err(interface_conversion(other, "string")),
        }
    }
    for (i, key) in path.iter().enumerate() {
        ctx.elements(1)?;
        let Some(step) = ctx.heap.map_get(dict, key.bytes()) else {
            return Ok(default);
        };
        if i + 1 == path.len() {
            return Ok(step);
        }
        dict = match &step {
            Value::Map(id) => *id,
            other => return Err(interface_conversion(other, "map[string]interface {}")),
        };
    }
    Ok(default)
}

pub(super) fn push(ctx: &mut Ctx<'_>, mut args: Vec<Value>) -> FResult {
    let mut out = items(arg(&args, 0), "Cannot push on type")?;
    ctx.elements(out.len() + 1)?;
    out.push(args.pop().unwrap_or(Value::Nil));
    Ok(Value::list(out))
}

pub(super) fn prepend(ctx: &mut Ctx<'_>, mut args: Vec<Value>) -> FResult {
    let rest = items(arg(&args, 0), "Cannot prepend on type")?;
    ctx.elements(rest.len() + 1)?;
    let mut out = vec![args.pop().unwrap_or(Value::Nil)];
    out.extend(rest);
    Ok(Value::list(out))
}

pub(super) fn first(_ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find first on type")?;
    Ok(items.into_iter().next().unwrap_or(Value::Nil))
}

pub(super) fn last(_ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find last on type")?;
    Ok(items.into_iter().next_back().unwrap_or(Value::Nil))
}

pub(super) fn rest(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find rest on type")?;
    if items.is_empty() {
        return Ok(Value::List(None));
    }
    ctx.elements(items.len())?;
    Ok(Value::list(items[1..].to_vec()))
}

pub(super) fn initial(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find initial on type")?;
    if items.is_empty() {
        return Ok(Value::List(None));
    }
    ctx.elements(items.len())?;
    Ok(Value::list(items[..items.len() - 1].to_vec()))
}

pub(super) fn reverse(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut items = items(arg(&args, 0), "Cannot find reverse on type")?;
    ctx.elements(items.len())?;
    items.reverse();
    Ok(Value::list(items))
}

pub(super) fn uniq(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find uniq on type")?;
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        ctx.elements(out.len() + 1)?;
        if !out.iter().any(|o| equal(ctx.heap, o, &item, 0)) {
            out.push(item);
        }
    }
    Ok(Value::list(out))
}

pub(super) fn compact(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot compact on type")?;
    ctx.elements(items.len())?;
    let out = items
        .into_iter()
        .filter(|v| !is_empty(v, ctx.heap))
        .collect();
    Ok(Value::list(out))
}

pub(super) fn without(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find without on type")?;
    let omit = &args[1.min(args.len())..];
    ctx.elements(items.len().saturating_mul(omit.len().max(1)))?;
    let out = items
        .into_iter()
        .filter(|item| !omit.iter().any(|o| equal(ctx.heap, o, item, 0)))
        .collect();
    Ok(Value::list(out))
}

pub(super) fn has(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let haystack = arg(&args, 1);
    if haystack.is_missing() {
        return Ok(Value::Bool(false));
    }
    let items = items(haystack, "Cannot find has on type")?;
    ctx.elements(items.len())?;
    let needle = arg(&args, 0);
    Ok(Value::Bool(
        items.iter().any(|item| equal(ctx.heap, needle, item, 0)),
    ))
}

/// Sprig's `slice` (it replaces Go's builtin of the same name).
pub(super) fn slice(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let list = arg(&args, 0);
    let len = match list {
        Value::List(items) => items.as_ref().map_or(0, |i| i.len()),
        Value::StrList(items) => items.len(),
        Value::NoValue | Value::Nil => return call_error(NIL_DEREFERENCE),
        other => {
            return call_error(format!(
                "list should be type of slice or array but {}",
                other.kind_name()
            ));
        }
    };
    if len == 0 {
        return Ok(Value::Nil);
    }
    let start = args.get(1).map_or(0, cast_int64);
    let end = args
        .get(2)
        .map_or(i64::try_from(len).unwrap_or(i64::MAX), cast_int64);
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return call_error("reflect.Value.Slice: slice index out of bounds");
    };
    if start > end || end > len {
        return call_error("reflect.Value.Slice: slice index out of bounds");
    }
    ctx.elements(end - start)?;
    Ok(match list {
        Value::StrList(items) => Value::StrList(Rc::new(items[start..end].to_vec())),
        Value::List(Some(items)) => Value::list(items[start..end].to_vec()),
        _ => Value::Nil,
    })
}

pub(super) fn concat(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut out = Vec::new();
    for list in &args {
        match list {
            Value::List(_) | Value::StrList(_) => out.extend(items(list, "")?),
            Value::NoValue | Value::Nil => return call_error(NIL_DEREFERENCE),
            other => {
                return call_error(format!("Cannot concat type {} as list", other.kind_name()));
            }
        }
        ctx.elements(out.len())?;
    }
    if out.is_empty() {
        return Ok(Value::List(None));
    }
    Ok(Value::list(out))
}

pub(super) fn deep_equal(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Bool(equal(
        ctx.heap,
        arg(&args, 0),
        arg(&args, 1),
        0,
    )))
}

/// Go's `reflect.DeepEqual` on template values.
fn equal(heap: &Heap, a: &Value, b: &Value, depth: usize) -> bool {
    if depth > super::gofmt::MAX_PRINT_DEPTH {
        return false;
    }
    match (a, b) {
        (Value::NoValue | Value::Nil, Value::NoValue | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x.bytes() == y.bytes(),
        (Value::List(x), Value::List(y)) => match (x, y) {
            (None, None) => true,
            (Some(x), Some(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y.iter())
                        .all(|(p, q)| equal(heap, p, q, depth + 1))
            }
            _ => false,
        },
        (Value::StrList(x), Value::StrList(y)) => x == y,
        (Value::StrMap(x), Value::StrMap(y)) => x == y,
        (Value::Map(x), Value::Map(y)) => match (x, y) {
            (None, None) => true,
            (Some(p), Some(q)) if p == q => true,
            (Some(_), Some(_)) => {
                let (x, y) = (heap.entries(*x), heap.entries(*y));
                x.len() == y.len()
                    && x.iter()
                        .zip(y.iter())
                        .all(|((k1, v1), (k2, v2))| k1 == k2 && equal(heap, v1, v2, depth + 1))
            }
            _ => false,
        },
        _ => false,
    }
}
