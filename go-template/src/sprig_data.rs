//! Sprig v3.3.0 functions on lists (`[]interface{}`) and dicts (`map[string]interface{}`).
//!
//! Dicts are shared and mutable, as in Go: `set` and `unset` change the dict they are given.
//! Where Go iterates a map in random order (`keys`, `values`), we use key order.
//!
//! Every function charges before it works: the elements it will create, the elements it
//! compares (deep comparisons charge per value visited), the keys it looks up.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::budget::{Budget, Exceeded};
use super::call::{Ctx, FResult, FuncError, arg, arg_str};
use super::sprig::{cast_int64, strval};
use super::value::{GoStr, Heap, MapId, Value, is_empty};

const NIL_DEREFERENCE: &str = "runtime error: invalid memory address or nil pointer dereference";

fn call_error<T>(message: impl Into<String>) -> Result<T, FuncError> {
    Err(FuncError::Call(message.into()))
}

/// The elements of a slice value, borrowed.
#[derive(Clone, Copy)]
enum Items<'a> {
    Values(&'a [Value]),
    Strs(&'a [GoStr]),
}

impl Items<'_> {
    fn len(self) -> usize {
        match self {
            Items::Values(v) => v.len(),
            Items::Strs(v) => v.len(),
        }
    }

    /// Element `i` as an `interface{}` value (a cheap, shared clone).
    fn get(self, i: usize) -> Option<Value> {
        match self {
            Items::Values(v) => v.get(i).cloned(),
            Items::Strs(v) => v.get(i).cloned().map(Value::Str),
        }
    }

    fn iter(self) -> impl Iterator<Item = Value> {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
}

/// The elements of a slice value, or Sprig's error for anything else: `what` names the
/// operation ("Cannot find first on type string").
fn items<'a>(value: &'a Value, what: &str) -> Result<Items<'a>, FuncError> {
    match value {
        Value::List(items) => Ok(Items::Values(items.as_deref().map_or(&[], Vec::as_slice))),
        Value::StrList(items) => Ok(Items::Strs(items)),
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
    // An entry per pair, and one for the map itself (even an empty one takes heap room).
    ctx.elements(args.len().div_ceil(2) + 1)?;
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let key = strval(ctx, arg(&args, i))?;
        let value = args.get(i + 1).cloned().unwrap_or_else(|| Value::text(""));
        map.insert(key, value);
        i += 2;
    }
    Ok(ctx.heap.alloc(map))
}

pub(super) fn get(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.work(arg_str(&args, 1).len())?;
    let found = ctx.heap.map_get(map_id(arg(&args, 0)), arg_str(&args, 1));
    Ok(found.unwrap_or_else(|| Value::text("")))
}

pub(super) fn set(ctx: &mut Ctx<'_>, mut args: Vec<Value>) -> FResult {
    let Some(id) = map_id(arg(&args, 0)) else {
        return call_error("assignment to entry in nil map");
    };
    ctx.elements(1)?;
    ctx.reserve(arg_str(&args, 1).len())?;
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
    ctx.work(arg_str(&args, 1).len())?;
    if let Some(map) = id.and_then(|id| ctx.heap.map_mut(id)) {
        map.remove(&GoStr::from_slice(arg_str(&args, 1)));
    }
    Ok(Value::Map(id))
}

pub(super) fn has_key(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.work(arg_str(&args, 1).len())?;
    let found = ctx.heap.map_get(map_id(arg(&args, 0)), arg_str(&args, 1));
    Ok(Value::Bool(found.is_some()))
}

pub(super) fn pluck(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let key = arg_str(&args, 0);
    let dicts = args.len().saturating_sub(1);
    ctx.steps(dicts)?;
    ctx.work(key.len().saturating_mul(dicts))?;
    ctx.elements(dicts)?;
    let mut out = Vec::new();
    for dict in args.iter().skip(1) {
        if let Some(v) = ctx.heap.map_get(map_id(dict), key) {
            out.push(v);
        }
    }
    Ok(Value::list(out))
}

/// The dict behind a value, borrowed (`None` for nil).
fn dict_of<'h>(heap: &'h Heap, value: &Value) -> Option<&'h BTreeMap<GoStr, Value>> {
    map_id(value).and_then(|id| heap.map(id))
}

pub(super) fn keys(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let total = args
        .iter()
        .map(|dict| ctx.heap.map_len(map_id(dict)))
        .fold(0usize, usize::saturating_add);
    ctx.steps(args.len())?;
    ctx.elements(total)?;
    let mut out = Vec::with_capacity(total);
    for dict in &args {
        if let Some(map) = dict_of(ctx.heap, dict) {
            out.extend(map.keys().cloned());
        }
    }
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
    // Every entry is compared with every listed key.
    let len = ctx.heap.map_len(map_id(arg(args, 0)));
    ctx.steps(len.saturating_mul(listed.len().max(1)))?;
    ctx.elements(len + 1)?;
    let map: BTreeMap<GoStr, Value> = dict_of(ctx.heap, arg(args, 0))
        .into_iter()
        .flatten()
        .filter(|(k, _)| listed.contains(&k.bytes()) == keep_listed)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(ctx.heap.alloc(map))
}

pub(super) fn pick(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    filtered(ctx, &args, true)
}

pub(super) fn omit(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    filtered(ctx, &args, false)
}

pub(super) fn values(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.elements(ctx.heap.map_len(map_id(arg(&args, 0))))?;
    let out: Vec<Value> = dict_of(ctx.heap, arg(&args, 0))
        .into_iter()
        .flat_map(|m| m.values().cloned())
        .collect();
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
        ctx.steps(1)?;
        ctx.work(key.len())?;
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

/// A new list of `extra` plus the elements of `list`, charged before it is made.
fn copied(ctx: &mut Ctx<'_>, list: Items<'_>, extra: usize) -> Result<Vec<Value>, FuncError> {
    let len = list.len().saturating_add(extra);
    ctx.elements(len)?;
    let mut out = Vec::with_capacity(len);
    out.extend(list.iter());
    Ok(out)
}

pub(super) fn push(ctx: &mut Ctx<'_>, mut args: Vec<Value>) -> FResult {
    let last = args.pop().unwrap_or(Value::Nil);
    let mut out = copied(ctx, items(arg(&args, 0), "Cannot push on type")?, 1)?;
    out.push(last);
    Ok(Value::list(out))
}

pub(super) fn prepend(ctx: &mut Ctx<'_>, mut args: Vec<Value>) -> FResult {
    let first = args.pop().unwrap_or(Value::Nil);
    let rest = items(arg(&args, 0), "Cannot prepend on type")?;
    ctx.elements(rest.len().saturating_add(1))?;
    let mut out = Vec::with_capacity(rest.len() + 1);
    out.push(first);
    out.extend(rest.iter());
    Ok(Value::list(out))
}

pub(super) fn first(_ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find first on type")?;
    Ok(items.get(0).unwrap_or(Value::Nil))
}

pub(super) fn last(_ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find last on type")?;
    Ok(items
        .len()
        .checked_sub(1)
        .and_then(|i| items.get(i))
        .unwrap_or(Value::Nil))
}

pub(super) fn rest(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find rest on type")?;
    if items.len() == 0 {
        return Ok(Value::List(None));
    }
    ctx.elements(items.len() - 1)?;
    Ok(Value::list(items.iter().skip(1).collect()))
}

pub(super) fn initial(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find initial on type")?;
    if items.len() == 0 {
        return Ok(Value::List(None));
    }
    ctx.elements(items.len() - 1)?;
    Ok(Value::list(items.iter().take(items.len() - 1).collect()))
}

pub(super) fn reverse(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut out = copied(ctx, items(arg(&args, 0), "Cannot find reverse on type")?, 0)?;
    out.reverse();
    Ok(Value::list(out))
}

pub(super) fn uniq(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find uniq on type")?;
    ctx.elements(items.len())?;
    let mut out: Vec<Value> = Vec::new();
    for item in items.iter() {
        let mut seen = false;
        for o in &out {
            if equal(ctx.heap, ctx.budget, o, &item, 0)? {
                seen = true;
                break;
            }
        }
        if !seen {
            out.push(item);
        }
    }
    Ok(Value::list(out))
}

pub(super) fn compact(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot compact on type")?;
    ctx.elements(items.len())?;
    let out = items.iter().filter(|v| !is_empty(v, ctx.heap)).collect();
    Ok(Value::list(out))
}

pub(super) fn without(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let items = items(arg(&args, 0), "Cannot find without on type")?;
    let omit = &args[1.min(args.len())..];
    ctx.elements(items.len())?;
    let mut out = Vec::new();
    for item in items.iter() {
        let mut omitted = false;
        for o in omit {
            if equal(ctx.heap, ctx.budget, o, &item, 0)? {
                omitted = true;
                break;
            }
        }
        if !omitted {
            out.push(item);
        }
    }
    Ok(Value::list(out))
}

pub(super) fn has(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let haystack = arg(&args, 1);
    if haystack.is_missing() {
        return Ok(Value::Bool(false));
    }
    let items = items(haystack, "Cannot find has on type")?;
    let needle = arg(&args, 0);
    for item in items.iter() {
        if equal(ctx.heap, ctx.budget, needle, &item, 0)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
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
            Value::List(_) | Value::StrList(_) => {
                let items = items(list, "")?;
                ctx.elements(items.len())?;
                out.extend(items.iter());
            }
            Value::NoValue | Value::Nil => return call_error(NIL_DEREFERENCE),
            other => {
                return call_error(format!("Cannot concat type {} as list", other.kind_name()));
            }
        }
    }
    if out.is_empty() {
        return Ok(Value::List(None));
    }
    Ok(Value::list(out))
}

pub(super) fn deep_equal(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Bool(equal(
        ctx.heap,
        ctx.budget,
        arg(&args, 0),
        arg(&args, 1),
        0,
    )?))
}

/// Go's `reflect.DeepEqual` on template values, charging a step per pair of values visited
/// and the work of every string comparison before it is made.
fn equal(
    heap: &Heap,
    budget: &mut Budget,
    a: &Value,
    b: &Value,
    depth: usize,
) -> Result<bool, Exceeded> {
    if depth > super::gofmt::MAX_PRINT_DEPTH {
        return Ok(false);
    }
    budget.charge(1)?;
    Ok(match (a, b) {
        (Value::NoValue | Value::Nil, Value::NoValue | Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => {
            budget.work(x.len().min(y.len()))?;
            x.bytes() == y.bytes()
        }
        (Value::List(x), Value::List(y)) => match (x, y) {
            (None, None) => true,
            (Some(x), Some(y)) => {
                if x.len() != y.len() {
                    return Ok(false);
                }
                for (p, q) in x.iter().zip(y.iter()) {
                    if !equal(heap, budget, p, q, depth + 1)? {
                        return Ok(false);
                    }
                }
                true
            }
            _ => false,
        },
        (Value::StrList(x), Value::StrList(y)) => {
            let bytes = x.iter().map(GoStr::len).fold(0usize, usize::saturating_add);
            budget.charge(u64::try_from(x.len()).unwrap_or(u64::MAX))?;
            budget.work(bytes)?;
            x == y
        }
        (Value::StrMap(x), Value::StrMap(y)) => {
            let bytes = x
                .iter()
                .map(|(k, v)| k.len().saturating_add(v.len()))
                .fold(0usize, usize::saturating_add);
            budget.charge(u64::try_from(x.len()).unwrap_or(u64::MAX))?;
            budget.work(bytes)?;
            x == y
        }
        (Value::Map(x), Value::Map(y)) => match (x, y) {
            (None, None) => true,
            (Some(p), Some(q)) if p == q => true,
            (Some(p), Some(q)) => {
                let (Some(x), Some(y)) = (heap.map(*p), heap.map(*q)) else {
                    return Ok(false);
                };
                if x.len() != y.len() {
                    return Ok(false);
                }
                for ((k1, v1), (k2, v2)) in x.iter().zip(y.iter()) {
                    budget.work(k1.len().min(k2.len()))?;
                    if k1 != k2 || !equal(heap, budget, v1, v2, depth + 1)? {
                        return Ok(false);
                    }
                }
                true
            }
            _ => false,
        },
        _ => false,
    })
}
