//! Sprig v3.3.0 defaults (`default`, `empty`, `coalesce`, `all`, `any`, `ternary`) and JSON
//! (`fromJson`, `toJson`, `toPrettyJson`, `toRawJson` and their `must` forms).

use super::call::{Ctx, FResult, FuncError, arg, arg_bool, arg_str};
use super::json::{self, EncodeError, Style};
use super::out::{Fault, Out};
use super::sprig::call_error;
use super::value::{Value, is_empty};

pub(super) fn default(ctx: &mut Ctx<'_>, mut args: Vec<Value>) -> FResult {
    if args.len() < 2 || is_empty(&args[1], ctx.heap) {
        return Ok(args.swap_remove(0));
    }
    Ok(args.swap_remove(1))
}

pub(super) fn empty(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Bool(is_empty(arg(&args, 0), ctx.heap)))
}

pub(super) fn coalesce(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(args
        .into_iter()
        .find(|v| !is_empty(v, ctx.heap))
        .unwrap_or(Value::Nil))
}

pub(super) fn all(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Bool(args.iter().all(|v| !is_empty(v, ctx.heap))))
}

pub(super) fn any(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Bool(args.iter().any(|v| !is_empty(v, ctx.heap))))
}

pub(super) fn ternary(_ctx: &mut Ctx<'_>, mut args: Vec<Value>) -> FResult {
    let pick = if arg_bool(&args, 2) { 0 } else { 1 };
    if pick < args.len() {
        return Ok(args.swap_remove(pick));
    }
    Ok(Value::Nil)
}

/// Decodes JSON, charging the input's bytes first, then every value as it is created (an
/// element, or a string). A refused charge ends decoding with that limit's error.
fn decode_json(ctx: &mut Ctx<'_>, input: &[u8]) -> Result<json::Decoded, FuncError> {
    ctx.work(input.len())?;
    let budget = &mut *ctx.budget;
    let mut refused = None;
    let mut charge = |strings: usize, bytes: usize| {
        let charged = if strings == 0 {
            budget.elements(1)
        } else {
            budget.string(bytes)
        };
        charged.map_err(|e| refused = Some(e)).is_ok()
    };
    let decoded = json::decode(input, ctx.heap, &mut charge);
    match refused {
        Some(exceeded) => Err(FuncError::Limit(exceeded)),
        None => Ok(decoded),
    }
}

pub(super) fn from_json(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let decoded = decode_json(ctx, arg_str(&args, 0))?;
    Ok(decoded.value)
}

pub(super) fn must_from_json(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let decoded = decode_json(ctx, arg_str(&args, 0))?;
    if decoded.failed {
        return call_error("input is not valid JSON");
    }
    Ok(decoded.value)
}

fn encode_json(
    ctx: &mut Ctx<'_>,
    value: &Value,
    style: Style,
) -> Result<Result<Out, String>, FuncError> {
    let mut out = ctx.out();
    match json::encode(value, ctx.heap, style, &mut out) {
        Ok(()) => Ok(Ok(out)),
        Err(EncodeError::Unsupported(message)) => Ok(Err(format!("json: {message}"))),
        Err(EncodeError::Limit(Fault::TooBig)) => Err(FuncError::Limit(ctx.budget.string_cap().1)),
        Err(EncodeError::Limit(Fault::TooDeep)) => Err(FuncError::Depth),
    }
}

const COMPACT: Style = Style {
    escape_html: true,
    indent: false,
};
const PRETTY: Style = Style {
    escape_html: true,
    indent: true,
};
const RAW: Style = Style {
    escape_html: false,
    indent: false,
};

pub(super) fn to_json(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    match encode_json(ctx, arg(&args, 0), COMPACT)? {
        Ok(out) => ctx.finish(out),
        Err(_) => ctx.bytes(b""),
    }
}

pub(super) fn must_to_json(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    match encode_json(ctx, arg(&args, 0), COMPACT)? {
        Ok(out) => ctx.finish(out),
        Err(message) => call_error(message),
    }
}

pub(super) fn to_pretty_json(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    match encode_json(ctx, arg(&args, 0), PRETTY)? {
        Ok(out) => ctx.finish(out),
        Err(_) => ctx.bytes(b""),
    }
}

pub(super) fn must_to_pretty_json(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    match encode_json(ctx, arg(&args, 0), PRETTY)? {
        Ok(out) => ctx.finish(out),
        Err(message) => call_error(message),
    }
}

pub(super) fn to_raw_json(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    match encode_json(ctx, arg(&args, 0), RAW)? {
        Ok(out) => ctx.finish(out),
        Err(message) => call_error(message),
    }
}
