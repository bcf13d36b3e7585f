//! Field values and their encodings: what a log line's fields are collected into, and how
//! slog writes them (logfmt with Go's quoting, JSON strings, RFC 3339 times).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};

/// One field value, kept typed so that JSON numbers and booleans stay unquoted.
#[derive(Debug)]
pub(super) enum Value {
    Str(String),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
}

impl Value {
    pub(super) fn push_logfmt(&self, out: &mut String) {
        match self {
            Value::Str(s) => push_logfmt_string(out, s),
            Value::I64(v) => {
                let _ = write!(out, "{v}");
            }
            Value::U64(v) => {
                let _ = write!(out, "{v}");
            }
            Value::I128(v) => {
                let _ = write!(out, "{v}");
            }
            Value::U128(v) => {
                let _ = write!(out, "{v}");
            }
            Value::F64(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Bool(v) => {
                let _ = write!(out, "{v}");
            }
        }
    }

    pub(super) fn push_json(&self, out: &mut String) {
        match self {
            Value::F64(v) if !v.is_finite() => push_json_string(out, &v.to_string()),
            Value::Str(s) => push_json_string(out, s),
            other => other.push_logfmt(out),
        }
    }
}

/// Collects an event's or a span's fields; `message` apart. The `log.*` fields that
/// `tracing-log` adds to events from the `log` crate are dropped (slog has no such keys).
#[derive(Default)]
pub(super) struct Collect {
    pub(super) message: Option<String>,
    pub(super) pairs: Vec<(&'static str, Value)>,
}

impl Collect {
    pub(super) fn push(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        if name == "message" {
            self.message = Some(match value {
                Value::Str(s) => s,
                other => {
                    let mut s = String::new();
                    other.push_logfmt(&mut s);
                    s
                }
            });
        } else {
            self.pairs.push((name, value));
        }
    }
}

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Str(value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` fields arrive here too, their Debug forwarding to Display.
        self.push(field, Value::Str(format!("{value:?}")));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // As slog's `"error", err`: the error's own text.
        self.push(field, Value::Str(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, Value::I128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, Value::U128(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
}

/// RFC 3339 in UTC: exactly three fractional digits for the text handler, nanoseconds with
/// trailing zeros trimmed (Go's `RFC3339Nano`) for the JSON handler.
pub(super) fn push_rfc3339(out: &mut String, t: time::OffsetDateTime, millis: bool) {
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if millis {
        let _ = write!(out, ".{:03}", t.millisecond());
    } else if t.nanosecond() != 0 {
        let nanos = format!("{:09}", t.nanosecond());
        let _ = write!(out, ".{}", nanos.trim_end_matches('0'));
    }
    out.push('Z');
}

/// A logfmt key or value as slog's `TextHandler` writes it: bare unless empty or holding a
/// space, `=`, `"`, a control character or other non-printable; then Go-quoted.
pub(super) fn push_logfmt_string(out: &mut String, s: &str) {
    let needs_quoting = s.is_empty()
        || s.chars().any(|c| {
            c == ' '
                || c == '='
                || c == '"'
                || c.is_control()
                || c.is_whitespace()
                || c == char::REPLACEMENT_CHARACTER
        });
    if !needs_quoting {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if !c.is_ascii() && (c.is_control() || c.is_whitespace()) => {
                if u32::from(c) < 0x1_0000 {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                } else {
                    let _ = write!(out, "\\U{:08x}", u32::from(c));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(super) fn push_json_string(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        // Serialising a &str cannot fail; keep the line valid anyway.
        Err(_) => out.push_str("\"\""),
    }
}
