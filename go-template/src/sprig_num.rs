//! Sprig v3.3.0 arithmetic (int64 helpers: anything is cast, overflow wraps as in Go) and
//! integer sequences (`until`, `untilStep`, `seq`), which charge per element before making any.

use super::call::{Ctx, FResult, arg, arg_int};
use super::sprig::{call_error, cast_int64, work_of_strings};
use super::value::Value;

pub(super) fn add(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Int64(
        args.iter()
            .fold(0i64, |acc, v| acc.wrapping_add(cast_int64(v))),
    ))
}

pub(super) fn add1(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Int64(cast_int64(arg(&args, 0)).wrapping_add(1)))
}

pub(super) fn sub(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    Ok(Value::Int64(
        cast_int64(arg(&args, 0)).wrapping_sub(cast_int64(arg(&args, 1))),
    ))
}

pub(super) fn mul(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    let first = cast_int64(arg(&args, 0));
    Ok(Value::Int64(
        args.iter()
            .skip(1)
            .fold(first, |acc, v| acc.wrapping_mul(cast_int64(v))),
    ))
}

pub(super) fn div(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    let (a, b) = (cast_int64(arg(&args, 0)), cast_int64(arg(&args, 1)));
    if b == 0 {
        return call_error("runtime error: integer divide by zero");
    }
    Ok(Value::Int64(a.wrapping_div(b)))
}

pub(super) fn modulo(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    let (a, b) = (cast_int64(arg(&args, 0)), cast_int64(arg(&args, 1)));
    if b == 0 {
        return call_error("runtime error: integer divide by zero");
    }
    Ok(Value::Int64(a.wrapping_rem(b)))
}

pub(super) fn max(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    let first = cast_int64(arg(&args, 0));
    Ok(Value::Int64(
        args.iter().skip(1).map(cast_int64).fold(first, i64::max),
    ))
}

pub(super) fn min(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    work_of_strings(ctx, &args)?;
    let first = cast_int64(arg(&args, 0));
    Ok(Value::Int64(
        args.iter().skip(1).map(cast_int64).fold(first, i64::min),
    ))
}

/// How many elements Sprig's `untilStep(start, stop, step)` makes.
fn until_step_count(start: i64, stop: i64, step: i64) -> usize {
    let count = if stop < start {
        if step >= 0 {
            0
        } else {
            (i128::from(start) - i128::from(stop) + i128::from(-step) - 1) / i128::from(-step)
        }
    } else if step <= 0 {
        0
    } else {
        (i128::from(stop) - i128::from(start) + i128::from(step) - 1) / i128::from(step)
    };
    usize::try_from(count).unwrap_or(usize::MAX)
}

/// Sprig's `untilStep` as a list, charging for every element before making any.
fn until_step_list(ctx: &mut Ctx<'_>, start: i64, stop: i64, step: i64) -> FResult {
    let count = until_step_count(start, stop, step);
    ctx.elements(count)?;
    let mut out = Vec::with_capacity(count);
    let mut i = start;
    for _ in 0..count {
        out.push(Value::Int(i));
        i = i.wrapping_add(step);
    }
    Ok(Value::list(out))
}

pub(super) fn until(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let count = arg_int(&args, 0);
    let step = if count < 0 { -1 } else { 1 };
    until_step_list(ctx, 0, count, step)
}

pub(super) fn until_step(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    until_step_list(ctx, arg_int(&args, 0), arg_int(&args, 1), arg_int(&args, 2))
}

pub(super) fn seq(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let p: Vec<i64> = args.iter().map(|v| v.as_int().unwrap_or(0)).collect();
    let (start, stop, step) = match p.as_slice() {
        [end] => {
            let inc = if *end < 1 { -1 } else { 1 };
            (1, end.wrapping_add(inc), inc)
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            (*start, end.wrapping_add(step), step)
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if *step > 0 {
                    return ctx.bytes(b"");
                }
            }
            (*start, end.wrapping_add(inc), *step)
        }
        _ => (0, 0, 0),
    };
    // A step per number, written straight into a capped buffer: no list is made.
    let count = until_step_count(start, stop, step);
    ctx.steps(count)?;
    let mut out = ctx.out();
    let mut i = start;
    for n in 0..count {
        if n > 0 {
            out.push_byte(b' ');
        }
        out.push_str(&i.to_string());
        if out.fault.is_some() {
            break;
        }
        i = i.wrapping_add(step);
    }
    ctx.finish(out)
}
