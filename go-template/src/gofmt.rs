//! Go's `fmt` for template values: what `{{ .x }}`, `print`, `println` and `printf` write.
//!
//! Verbs: `%v %s %q %x %X %d %b %o %O %c %U %t %e %E %f %F %g %G %T %%`, flags `+ - # 0 space`,
//! width and precision (also `*` and explicit argument indexes `%[n]d`), and Go's error forms
//! (`%!d(string=…)`, `%!v(MISSING)`, `%!(EXTRA …)`). These forms can quote a value, but they go
//! to the output, like Go's; no error message ever carries them.

use zeroize::Zeroizing;

use super::gocompat::float::{Bits, format_float};
use super::strconv::{can_backquote, quote_into, quote_rune};
pub(crate) use super::strconv::{go_quote, is_print};
use super::value::{Heap, Value, push_rune, rune_count};

/// Nesting deeper than this (only reachable through a map that contains itself) is an error.
pub(crate) const MAX_PRINT_DEPTH: usize = 100;

/// Why a capped buffer stopped accepting bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    TooBig,
    TooDeep,
}

/// A zeroizing output buffer with a size cap. Writes past the cap are dropped and recorded,
/// so formatting code needs no error plumbing; callers check [`Out::finish`].
pub(crate) struct Out {
    buf: Zeroizing<Vec<u8>>,
    cap: usize,
    pub(crate) fault: Option<Fault>,
}

impl Out {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buf: Zeroizing::new(Vec::new()),
            cap,
            fault: None,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.fault.is_some() {
            return;
        }
        if self.buf.len().saturating_add(bytes.len()) > self.cap {
            self.fault = Some(Fault::TooBig);
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn push_byte(&mut self, b: u8) {
        self.push(&[b]);
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        self.push(s.as_bytes());
    }

    fn repeat(&mut self, b: u8, n: usize) {
        if self.fault.is_some() {
            return;
        }
        if self.buf.len().saturating_add(n) > self.cap {
            self.fault = Some(Fault::TooBig);
            return;
        }
        let len = self.buf.len();
        self.buf.resize(len + n, b);
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn finish(self) -> Result<Zeroizing<Vec<u8>>, Fault> {
        match self.fault {
            Some(fault) => Err(fault),
            None => Ok(self.buf),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fmt printer state.

#[derive(Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

const LOWER_DIGITS: &[u8; 17] = b"0123456789abcdefx";
const UPPER_DIGITS: &[u8; 17] = b"0123456789ABCDEFX";

struct Printer<'a> {
    out: &'a mut Out,
    heap: &'a Heap,
    f: Flags,
}

impl Printer<'_> {
    fn write_padding(&mut self, n: usize) {
        let pad = if self.f.zero && !self.f.minus {
            b'0'
        } else {
            b' '
        };
        self.out.repeat(pad, n);
    }

    fn pad(&mut self, bytes: &[u8]) {
        let Some(wid) = self.f.wid.filter(|&w| w > 0) else {
            self.out.push(bytes);
            return;
        };
        let width = wid.saturating_sub(rune_count(bytes));
        if self.f.minus {
            self.out.push(bytes);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.out.push(bytes);
        }
    }

    fn truncate<'b>(&self, bytes: &'b [u8]) -> &'b [u8] {
        if let Some(prec) = self.f.prec {
            let mut n = prec;
            for (i, _, _) in super::value::runes(bytes) {
                if n == 0 {
                    return &bytes[..i];
                }
                n -= 1;
            }
        }
        bytes
    }

    fn fmt_s(&mut self, bytes: &[u8]) {
        let bytes = self.truncate(bytes);
        self.pad(bytes);
    }

    fn fmt_q(&mut self, bytes: &[u8]) {
        let bytes = self.truncate(bytes);
        if self.f.sharp && can_backquote(bytes) {
            let mut quoted = Vec::with_capacity(bytes.len() + 2);
            quoted.push(b'`');
            quoted.extend_from_slice(bytes);
            quoted.push(b'`');
            self.pad(&quoted);
            return;
        }
        let mut quoted = Vec::with_capacity(bytes.len() + 2);
        quote_into(&mut quoted, bytes, b'"', self.f.plus);
        self.pad(&quoted);
    }

    fn fmt_sx(&mut self, bytes: &[u8], digits: &[u8; 17]) {
        let mut length = bytes.len();
        if let Some(prec) = self.f.prec {
            length = length.min(prec);
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(wid) = self.f.wid {
                self.write_padding(wid);
            }
            return;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        let mut buf = Zeroizing::new(Vec::with_capacity(width));
        if self.f.sharp {
            buf.push(b'0');
            buf.push(digits[16]);
        }
        for (i, &c) in bytes.iter().take(length).enumerate() {
            if self.f.space && i > 0 {
                buf.push(b' ');
                if self.f.sharp {
                    buf.push(b'0');
                    buf.push(digits[16]);
                }
            }
            buf.push(digits[usize::from(c >> 4)]);
            buf.push(digits[usize::from(c & 0xF)]);
        }
        self.out.push(&buf);
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_integer(&mut self, value: i64, base: u64, verb: char, digits: &[u8; 17]) {
        let negative = value < 0;
        let mut u = value.unsigned_abs();
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let old_zero = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = old_zero;
                return;
            }
        } else if self.f.zero
            && !self.f.minus
            && let Some(wid) = self.f.wid
        {
            prec = wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut buf: Vec<u8> = Vec::with_capacity(prec + 24);
        loop {
            let d = usize::try_from(u % base).unwrap_or(0);
            buf.push(digits[d]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while buf.len() < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => {
                    buf.push(digits[16]);
                    buf.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let old_zero = self.f.zero;
        self.f.zero = false;
        self.pad(&buf);
        self.f.zero = old_zero;
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut text = format!("U+{u:04X}");
        if let Some(prec) = self.f.prec.filter(|&p| p > 4) {
            text = format!("U+{u:0prec$X}");
        }
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(c)
        {
            text.push_str(&format!(" '{c}'"));
        }
        let old_zero = self.f.zero;
        self.f.zero = false;
        self.pad(text.as_bytes());
        self.f.zero = old_zero;
    }

    fn rune_of(value: i64) -> char {
        u32::try_from(value)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or(char::REPLACEMENT_CHARACTER)
    }

    fn int(&mut self, value: i64, verb: char, type_name: &str) {
        match verb {
            'v' | 'd' => self.fmt_integer(value, 10, verb, LOWER_DIGITS),
            'b' => self.fmt_integer(value, 2, verb, LOWER_DIGITS),
            'o' | 'O' => self.fmt_integer(value, 8, verb, LOWER_DIGITS),
            'x' => self.fmt_integer(value, 16, verb, LOWER_DIGITS),
            'X' => self.fmt_integer(value, 16, verb, UPPER_DIGITS),
            'c' => {
                let mut buf = Vec::new();
                push_rune(&mut buf, Self::rune_of(value));
                self.pad(&buf);
            }
            'q' => {
                let mut buf = Vec::new();
                quote_rune(&mut buf, Self::rune_of(value), self.f.plus);
                self.pad(&buf);
            }
            'U' => self.fmt_unicode(u64::from_ne_bytes(value.to_ne_bytes())),
            _ => self.bad_verb(verb, &Value::Int(value), type_name),
        }
    }

    fn float(&mut self, v: f64, verb: char) {
        let (fmt, prec) = match verb {
            'v' => (b'g', None),
            'g' | 'G' => (u8::try_from(verb).unwrap_or(b'g'), None),
            // Hexadecimal and binary float formats are not implemented; %g is the closest.
            'b' | 'x' | 'X' => (b'g', None),
            'e' | 'E' | 'f' => (u8::try_from(verb).unwrap_or(b'e'), Some(6)),
            'F' => (b'f', Some(6)),
            _ => {
                self.bad_verb(verb, &Value::Float(v), "float64");
                return;
            }
        };
        let prec = self.f.prec.or(prec);
        let mut num = format_float(v, fmt, prec, Bits::B64);
        if num.first() != Some(&b'-') && num.first() != Some(&b'+') {
            num.insert(0, b'+');
        }
        if self.f.space && num.first() == Some(&b'+') && !self.f.plus {
            num[0] = b' ';
        }
        if matches!(num.get(1), Some(b'I' | b'N')) {
            let old_zero = self.f.zero;
            self.f.zero = false;
            if num.get(1) == Some(&b'N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&num);
            self.f.zero = old_zero;
            return;
        }
        if self.f.sharp && fmt != b'b' {
            sharp_float(&mut num, fmt, prec);
        }
        if self.f.plus || num.first() != Some(&b'+') {
            if let Some(wid) = self.f.wid
                && self.f.zero
                && !self.f.minus
                && wid > num.len()
            {
                self.out.push_byte(num[0]);
                self.write_padding(wid - num.len());
                self.out.push(&num[1..]);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn string(&mut self, bytes: &[u8], verb: char) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(bytes),
            'v' | 's' => self.fmt_s(bytes),
            'x' => self.fmt_sx(bytes, LOWER_DIGITS),
            'X' => self.fmt_sx(bytes, UPPER_DIGITS),
            'q' => self.fmt_q(bytes),
            _ => self.bad_verb(verb, &Value::str(bytes.to_vec()), "string"),
        }
    }

    fn boolean(&mut self, b: bool, verb: char) {
        match verb {
            't' | 'v' => self.pad(if b { b"true" } else { b"false" }),
            _ => self.bad_verb(verb, &Value::Bool(b), "bool"),
        }
    }

    fn bad_verb(&mut self, verb: char, value: &Value, type_name: &str) {
        self.out.push_str("%!");
        let mut buf = Vec::new();
        push_rune(&mut buf, verb);
        self.out.push(&buf);
        self.out.push_byte(b'(');
        if value.is_missing() {
            self.out.push_str("<nil>");
        } else {
            self.out.push_str(type_name);
            self.out.push_byte(b'=');
            self.value(value, 'v', 0);
        }
        self.out.push_byte(b')');
    }

    /// Go's `printArg`: a top-level argument of a print function.
    fn arg(&mut self, value: &Value, verb: char) {
        match value {
            Value::NoValue | Value::Nil => match verb {
                'T' | 'v' => self.pad(b"<nil>"),
                _ => self.bad_verb(verb, value, ""),
            },
            _ if verb == 'T' => self.fmt_s(value.type_name().as_bytes()),
            Value::List(_) | Value::StrList(_) | Value::Map(_) | Value::StrMap(_)
                if verb == 'p' =>
            {
                // Go prints an address here; there is nothing stable to print.
                self.bad_verb(verb, value, value.type_name());
            }
            _ => self.value(value, verb, 0),
        }
    }

    /// Go's `printValue`.
    fn value(&mut self, value: &Value, verb: char, depth: usize) {
        if depth > MAX_PRINT_DEPTH {
            self.out.fault = Some(Fault::TooDeep);
            return;
        }
        match value {
            Value::NoValue => {
                if depth == 0 {
                    self.out.push_str("<invalid reflect.Value>");
                } else if verb == 'v' {
                    self.out.push_str("<nil>");
                } else {
                    self.bad_verb(verb, value, "");
                }
            }
            // A nil element of a list or map (an `interface{}` holding nil).
            Value::Nil => {
                if self.f.sharp_v {
                    self.out.push_str("interface {}(nil)");
                } else {
                    self.out.push_str("<nil>");
                }
            }
            Value::Bool(b) => self.boolean(*b, verb),
            Value::Int(n) => self.int(*n, verb, "int"),
            Value::Int64(n) => self.int(*n, verb, "int64"),
            Value::Float(v) => self.float(*v, verb),
            Value::Str(s) => self.string(s.bytes(), verb),
            Value::List(items) => {
                let items = items.as_deref().map(Vec::as_slice).unwrap_or(&[]);
                self.sequence(value, items.len(), depth, |p, i| {
                    if let Some(item) = items.get(i) {
                        p.value(item, verb, depth + 1);
                    }
                });
            }
            Value::StrList(items) => {
                self.sequence(value, items.len(), depth, |p, i| {
                    if let Some(item) = items.get(i) {
                        p.string(item.bytes(), verb);
                    }
                });
            }
            Value::Map(id) => {
                let entries = self.heap.entries(*id);
                self.mapping(value, entries.len(), |p, i| {
                    if let Some((k, v)) = entries.get(i) {
                        p.string(k.bytes(), verb);
                        p.out.push_byte(b':');
                        p.value(v, verb, depth + 1);
                    }
                });
            }
            Value::StrMap(map) => {
                let entries: Vec<_> = map.iter().collect();
                self.mapping(value, entries.len(), |p, i| {
                    if let Some((k, v)) = entries.get(i) {
                        p.string(k.bytes(), verb);
                        p.out.push_byte(b':');
                        p.string(v.bytes(), verb);
                    }
                });
            }
        }
    }

    fn sequence(
        &mut self,
        value: &Value,
        len: usize,
        _depth: usize,
        mut item: impl FnMut(&mut Self, usize),
    ) {
        if self.f.sharp_v {
            self.out.push_str(value.type_name());
            if matches!(value, Value::List(None)) {
                self.out.push_str("(nil)");
                return;
            }
            self.out.push_byte(b'{');
            for i in 0..len {
                if self.out.fault.is_some() {
                    return;
                }
                if i > 0 {
                    self.out.push_str(", ");
                }
                item(self, i);
            }
            self.out.push_byte(b'}');
        } else {
            self.out.push_byte(b'[');
            for i in 0..len {
                if self.out.fault.is_some() {
                    return;
                }
                if i > 0 {
                    self.out.push_byte(b' ');
                }
                item(self, i);
            }
            self.out.push_byte(b']');
        }
    }

    fn mapping(&mut self, value: &Value, len: usize, mut entry: impl FnMut(&mut Self, usize)) {
        if self.f.sharp_v {
            self.out.push_str(value.type_name());
            if matches!(value, Value::Map(None)) {
                self.out.push_str("(nil)");
                return;
            }
            self.out.push_byte(b'{');
        } else {
            self.out.push_str("map[");
        }
        for i in 0..len {
            // Nothing more is written once the buffer is full: stop walking.
            if self.out.fault.is_some() {
                return;
            }
            if i > 0 {
                if self.f.sharp_v {
                    self.out.push_str(", ");
                } else {
                    self.out.push_byte(b' ');
                }
            }
            entry(self, i);
        }
        self.out.push_byte(if self.f.sharp_v { b'}' } else { b']' });
    }
}

/// The `#` flag on floats: keep the decimal point and trailing zeros.
fn sharp_float(num: &mut Vec<u8>, fmt: u8, prec: Option<usize>) {
    let mut digits: i64 = match fmt {
        b'v' | b'g' | b'G' | b'x' => prec.map_or(6, |p| i64::try_from(p).unwrap_or(i64::MAX)),
        _ => 0,
    };
    let mut tail = Vec::new();
    let mut has_point = false;
    let mut saw_nonzero = false;
    let mut i = 1;
    while i < num.len() {
        match num[i] {
            b'.' => has_point = true,
            b'p' | b'P' | b'e' | b'E' => {
                tail.extend_from_slice(&num[i..]);
                num.truncate(i);
                break;
            }
            c => {
                if c != b'0' {
                    saw_nonzero = true;
                }
                if saw_nonzero {
                    digits -= 1;
                }
            }
        }
        i += 1;
    }
    if !has_point {
        if num.len() == 2 && num[1] == b'0' {
            digits -= 1;
        }
        num.push(b'.');
    }
    while digits > 0 {
        num.push(b'0');
        digits -= 1;
    }
    num.extend_from_slice(&tail);
}

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
fn too_large(n: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&n)
}

/// Go's `parsenum`: digits in `format[start..end]`; past a million it gives up (`end`).
fn parse_num(format: &[u8], start: usize, end: usize) -> (Option<usize>, usize) {
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
fn parse_arg_number(format: &[u8]) -> (i64, usize, bool) {
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
        let (verb, size) = super::value::decode_rune(&format[i..]).unwrap_or(('?', 1));
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
