//! The entry points, Go's `Fprint`, `Sprint`, `Sprintln` and `Sprintf`, and how `Sprintf`
//! reads its format (flags, widths, precisions, argument indexes, verbs).

use super::*;

/// `fmt.Fprint(w, value)`: how an action prints its value (`<no value>` for a missing one).
pub(crate) fn print_value(out: &mut Out, heap: &Heap, value: &Value) {
    if matches!(value, Value::NoValue) {
        out.push_str("<no value>");
        return;
    }
    let mut p = Printer {
        out,
        heap,
        f: Flags::default(),
    };
    p.arg(value, 'v');
}

/// `fmt.Sprint(args...)`: spaces between operands when neither is a string.
pub(crate) fn sprint(out: &mut Out, heap: &Heap, args: &[Value]) {
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push_byte(b' ');
        }
        Printer {
            out: &mut *out,
            heap,
            f: Flags::default(),
        }
        .arg(arg, 'v');
        prev_string = is_string;
    }
}

/// `fmt.Sprintln(args...)`: always spaces, and a newline.
pub(crate) fn sprintln(out: &mut Out, heap: &Heap, args: &[Value]) {
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push_byte(b' ');
        }
        Printer {
            out: &mut *out,
            heap,
            f: Flags::default(),
        }
        .arg(arg, 'v');
    }
    out.push_byte(b'\n');
}

/// Go's `tooLarge`: widths and precisions past a million are refused.
pub(super) fn too_large(n: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&n)
}

/// Go's `parsenum`: digits in `format[start..end]`; past a million it gives up (`end`).
pub(super) fn parse_num(format: &[u8], start: usize, end: usize) -> (Option<usize>, usize) {
    if start >= end {
        return (None, end);
    }
    let mut num: i64 = 0;
    let mut is_num = false;
    let mut i = start;
    while i < end && format[i].is_ascii_digit() {
        if too_large(num) {
            return (None, end);
        }
        num = num * 10 + i64::from(format[i] - b'0');
        is_num = true;
        i += 1;
    }
    (
        if is_num {
            usize::try_from(num).ok()
        } else {
            None
        },
        i,
    )
}

/// Go's `parseArgNumber`: `[n]` at the start of `format` (1-based `n`). Returns the 0-based
/// index, the bytes consumed and whether the syntax was right.
pub(super) fn parse_arg_number(format: &[u8]) -> (i64, usize, bool) {
    if format.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..format.len() {
        if format[i] == b']' {
            let (width, next) = parse_num(format, 1, i);
            return match width {
                Some(width) if next == i => (i64::try_from(width).unwrap_or(0) - 1, i + 1, true),
                _ => (0, i + 1, false),
            };
        }
    }
    (0, 1, false)
}

/// `fmt.Sprintf(format, args...)`.
pub(crate) fn sprintf(out: &mut Out, heap: &Heap, format: &[u8], args: &[Value]) {
    let end = format.len();
    let mut arg_num: usize = 0;
    let mut reordered = false;
    let mut i = 0;
    let int_from_arg = |arg_num: usize| -> (Option<i64>, usize) {
        match args.get(arg_num) {
            Some(v) => {
                let n = v.as_int().filter(|n| !too_large(*n));
                (n, arg_num + 1)
            }
            None => (None, arg_num),
        }
    };
    while i < end {
        let mut good_arg_num = true;
        let last = i;
        while i < end && format[i] != b'%' {
            i += 1;
        }
        if i > last {
            out.push(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        let mut f = Flags::default();
        let mut after_index;
        // Flags, and the fast path for a plain verb.
        let mut simple = false;
        while i < end {
            match format[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = true,
                b'+' => f.plus = true,
                b'-' => f.minus = true,
                b' ' => f.space = true,
                c if c.is_ascii_lowercase() && arg_num < args.len() => {
                    if c == b'v' {
                        f.sharp_v = f.sharp;
                        f.sharp = false;
                        f.plus_v = f.plus;
                        f.plus = false;
                    }
                    let verb = char::from(c);
                    if let Some(arg) = args.get(arg_num) {
                        Printer {
                            out: &mut *out,
                            heap,
                            f,
                        }
                        .arg(arg, verb);
                    }
                    arg_num += 1;
                    i += 1;
                    simple = true;
                    break;
                }
                _ => break,
            }
            i += 1;
        }
        if simple {
            continue;
        }
        // Argument index, width, precision.
        let arg_index = |arg_num: usize, i: usize, good: &mut bool, reordered: &mut bool| {
            if format.get(i) != Some(&b'[') {
                return (arg_num, i, false);
            }
            *reordered = true;
            let (index, wid, ok) = parse_arg_number(&format[i..]);
            if ok && index >= 0 && usize::try_from(index).is_ok_and(|x| x < args.len()) {
                return (usize::try_from(index).unwrap_or(0), i + wid, true);
            }
            *good = false;
            (arg_num, i + wid, ok)
        };
        (arg_num, i, after_index) = arg_index(arg_num, i, &mut good_arg_num, &mut reordered);
        if format.get(i) == Some(&b'*') {
            i += 1;
            let (wid, next) = int_from_arg(arg_num);
            arg_num = next;
            match wid {
                Some(w) => {
                    f.wid = usize::try_from(w.unsigned_abs()).ok();
                    if w < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                }
                None => out.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (wid, next) = parse_num(format, i, end);
            f.wid = wid;
            i = next;
            if after_index && f.wid.is_some() {
                good_arg_num = false;
            }
        }
        if i + 1 < end && format[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) = arg_index(arg_num, i, &mut good_arg_num, &mut reordered);
            if format.get(i) == Some(&b'*') {
                i += 1;
                let (prec, next) = int_from_arg(arg_num);
                arg_num = next;
                match prec {
                    Some(p) if p >= 0 => f.prec = usize::try_from(p).ok(),
                    _ => {
                        f.prec = None;
                        out.push_str("%!(BADPREC)");
                    }
                }
                after_index = false;
            } else {
                let (prec, next) = parse_num(format, i, end);
                i = next;
                f.prec = Some(prec.unwrap_or(0));
            }
        }
        if !after_index {
            (arg_num, i, _) = arg_index(arg_num, i, &mut good_arg_num, &mut reordered);
        }
        if i >= end {
            out.push_str("%!(NOVERB)");
            break;
        }
        let (verb, size) = crate::value::decode_rune(&format[i..]).unwrap_or(('?', 1));
        i += size;
        let mut verb_buf = Vec::new();
        push_rune(&mut verb_buf, verb);
        if verb == '%' {
            out.push_byte(b'%');
        } else if !good_arg_num {
            out.push_str("%!");
            out.push(&verb_buf);
            out.push_str("(BADINDEX)");
        } else if arg_num >= args.len() {
            out.push_str("%!");
            out.push(&verb_buf);
            out.push_str("(MISSING)");
        } else {
            if verb == 'v' {
                f.sharp_v = f.sharp;
                f.sharp = false;
                f.plus_v = f.plus;
                f.plus = false;
            }
            if let Some(arg) = args.get(arg_num) {
                Printer {
                    out: &mut *out,
                    heap,
                    f,
                }
                .arg(arg, verb);
            }
            arg_num += 1;
        }
    }
    if !reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (n, arg) in args.iter().skip(arg_num).enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            if arg.is_missing() {
                out.push_str("<nil>");
            } else {
                out.push_str(arg.type_name());
                out.push_byte(b'=');
                Printer {
                    out: &mut *out,
                    heap,
                    f: Flags::default(),
                }
                .arg(arg, 'v');
            }
        }
        out.push_byte(b')');
    }
}

/// `fmt.Sprintf("%v", value)` as a byte vector (Sprig's `strval` for non-strings).
pub(crate) fn sprint_v(
    heap: &Heap,
    value: &Value,
    cap: usize,
) -> Result<Zeroizing<Vec<u8>>, Fault> {
    if let Value::Str(s) = value {
        if s.len() > cap {
            return Err(Fault::TooBig);
        }
        return Ok(Zeroizing::new(s.bytes().to_vec()));
    }
    let mut out = Out::new(cap);
    Printer {
        out: &mut out,
        heap,
        f: Flags::default(),
    }
    .arg(value, 'v');
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printf(format: &str, args: &[Value]) -> String {
        let heap = Heap::default();
        let mut out = Out::new(1 << 20);
        sprintf(&mut out, &heap, format.as_bytes(), args);
        String::from_utf8(out.finish().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn printf_like_go() {
        let s = Value::text;
        assert_eq!(
            printf("%s-%d-%v", &[s("a"), Value::Int(5), Value::Bool(true)]),
            "a-5-true"
        );
        assert_eq!(
            printf("%q %x %X", &[s("a\"b"), s("hi"), s("hi")]),
            r#""a\"b" 6869 6869"#
        );
        assert_eq!(
            printf(
                "%05d|%-4s|%4s|%+d",
                &[Value::Int(42), s("ab"), s("ab"), Value::Int(3)]
            ),
            "00042|ab  |  ab|+3"
        );
        assert_eq!(printf("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(printf("%s %s", &[s("x")]), "x %!s(MISSING)");
        assert_eq!(printf("%s", &[s("x"), Value::Int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(printf("100%%", &[]), "100%");
        assert_eq!(
            printf("%v %s", &[Value::Nil, Value::Nil]),
            "<nil> %!s(<nil>)"
        );
        assert_eq!(printf("%[2]s %[1]s", &[s("a"), s("b")]), "b a");
        assert_eq!(
            printf("%.2f %8.3f", &[Value::Float(1.23456), Value::Float(2.0)]),
            "1.23    2.000"
        );
        assert_eq!(
            printf(
                "%x %o %b %c %U",
                &[
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(5),
                    Value::Int(65),
                    Value::Int(65)
                ]
            ),
            "ff 10 101 A U+0041"
        );
        assert_eq!(printf("%#x %#q", &[s("hi"), s("hi")]), "0x6869 `hi`");
        assert_eq!(printf("%.1s", &[s("héllo")]), "h");
        assert_eq!(
            printf("%T %T", &[Value::list(vec![]), Value::Int64(1)]),
            "[]interface {} int64"
        );
        assert_eq!(
            printf(
                "%v",
                &[Value::list(vec![s("a"), Value::Nil, Value::Int(2)])]
            ),
            "[a <nil> 2]"
        );
        assert_eq!(
            printf("%d", &[Value::list(vec![Value::Int(1), s("b")])]),
            "[1 %!d(string=b)]"
        );
    }
}
