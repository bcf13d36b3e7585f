//! Sprig v3.3.0 type inspection (`typeOf`, `kindIs`, …) and paths (Go's `path` package;
//! `filepath` on Linux behaves the same).

use super::call::{Ctx, FResult, arg, arg_str};
use super::value::Value;

// ---------------------------------------------------------------------------------------------
// Types.

pub(super) fn type_of(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.bytes(arg(&args, 0).type_name().as_bytes())
}

pub(super) fn type_is(_ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Bool(
        arg_str(&args, 0) == arg(&args, 1).type_name().as_bytes(),
    ))
}

pub(super) fn type_is_like(_ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let target = arg_str(&args, 0);
    let t = arg(&args, 1).type_name().as_bytes();
    Ok(Value::Bool(
        target == t || (t.first() == Some(&b'*') && &t[1..] == target),
    ))
}

pub(super) fn kind_of(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.bytes(arg(&args, 0).kind_name().as_bytes())
}

pub(super) fn kind_is(_ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Bool(
        arg_str(&args, 0) == arg(&args, 1).kind_name().as_bytes(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Paths (Go's `path` package; `filepath` on Linux behaves the same).

/// Go's `path.Clean`.
fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let n = path.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        let at = |i: usize| path.get(i).copied();
        // An empty element or a `.` element: skip it.
        if path[r] == b'/' || (path[r] == b'.' && (r + 1 == n || at(r + 1) == Some(b'/'))) {
            r += 1;
        } else if path[r] == b'.'
            && at(r + 1) == Some(b'.')
            && (r + 2 == n || at(r + 2) == Some(b'/'))
        {
            r += 2;
            if out.len() > dotdot {
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && path[r] != b'/' {
                out.push(path[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return b".".to_vec();
    }
    out
}

pub(super) fn path_clean(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    ctx.work(arg_str(&args, 0).len())?;
    let out = clean(arg_str(&args, 0));
    ctx.bytes(&out)
}

pub(super) fn path_base(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let mut path = arg_str(&args, 0);
    ctx.work(path.len())?;
    if path.is_empty() {
        return ctx.bytes(b".");
    }
    while path.last() == Some(&b'/') {
        path = &path[..path.len() - 1];
    }
    if path.is_empty() {
        return ctx.bytes(b"/");
    }
    if let Some(i) = path.iter().rposition(|&b| b == b'/') {
        path = &path[i + 1..];
    }
    ctx.bytes(path)
}

pub(super) fn path_dir(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let path = arg_str(&args, 0);
    ctx.work(path.len())?;
    let dir = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[..=i],
        None => &[][..],
    };
    let out = clean(dir);
    ctx.bytes(&out)
}

pub(super) fn path_ext(ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    let path = arg_str(&args, 0);
    ctx.work(path.len())?;
    for i in (0..path.len()).rev() {
        match path[i] {
            b'/' => break,
            b'.' => return ctx.bytes(&path[i..]),
            _ => {}
        }
    }
    ctx.bytes(b"")
}

pub(super) fn path_is_abs(_ctx: &mut Ctx<'_>, args: Vec<Value>) -> FResult {
    Ok(Value::Bool(arg_str(&args, 0).first() == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_like_go() {
        for (input, want) in [
            ("", "."),
            ("a/b/../c", "a/c"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("a/../..", ".."),
            ("//a//b/./", "/a/b"),
            ("a/b/..", "a"),
            ("/a/..", "/"),
        ] {
            assert_eq!(
                String::from_utf8(clean(input.as_bytes())).unwrap(),
                want,
                "{input}"
            );
        }
    }
}
