//! Go's `fmt` for template values: what `{{ .x }}`, `print`, `println` and `printf` write.
//!
//! Verbs: `%v %s %q %x %X %d %b %o %O %c %U %t %e %E %f %F %g %G %T %%`, flags `+ - # 0 space`,
//! width and precision (also `*` and explicit argument indexes `%[n]d`), and Go's error forms
//! (`%!d(string=…)`, `%!v(MISSING)`, `%!(EXTRA …)`). These forms can quote a value, but they go
//! to the output, like Go's; no error message ever carries them.

use zeroize::Zeroizing;

use super::gocompat::float::{Bits, format_float};
use super::out::{Fault, Out};
use super::strconv::{can_backquote, quote_into, quote_rune};
pub(crate) use super::strconv::{go_quote, is_print};
use super::value::{Heap, Value, push_rune, rune_count};

mod print;

pub(crate) use print::{print_value, sprint, sprint_v, sprintf, sprintln};

/// Nesting deeper than this (only reachable through a map that contains itself) is an error.
pub(crate) const MAX_PRINT_DEPTH: usize = 100;

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
