//! Logging (`--log-level`, `--log-format`, `--log-info-stdout`, SPEC §3.1).
//!
//! The default formats are the ones upstream's `log/slog` handlers write, so that log pipelines
//! and alerts keyed on upstream's lines keep working:
//! - `text` (the default, and anything unknown, as upstream): slog's `TextHandler` logfmt,
//!   `time=2026-12-01T23:00:00.000Z level=INFO msg="…" key=value …`;
//! - `json`: slog's `JSONHandler`, `{"time":"…","level":"INFO","msg":"…","key":value,…}`.
//!
//! Fields of the enclosing spans (e.g. `sealed_secret`) come first, outermost span first, then
//! the event's own fields, all as plain top-level keys (slog has no spans). `tracing` and
//! `tracing-json` keep `tracing-subscriber`'s own formats (span names and nesting visible).
//!
//! With `--log-info-stdout` (the default) INFO and DEBUG go to stdout and WARN and ERROR to
//! stderr, as upstream; otherwise everything goes to stderr. `RUST_LOG`, when set, overrides the
//! level filter (for debugging kube internals).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::cli::LogFormat;

/// Installs the global subscriber. Calling it twice is harmless (the second call is ignored).
pub fn init(level: Level, format: LogFormat, info_to_stdout: bool) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| {
            // kube's own INFO chatter (watch restarts) is noise at our INFO level.
            let base = level.as_str().to_ascii_lowercase();
            EnvFilter::new(format!(
                "{base},kube_runtime=warn,kube_client=warn,hyper=warn,tower=warn,rustls=warn"
            ))
        });
    let result = if info_to_stdout {
        let writer = std::io::stderr
            .with_max_level(Level::WARN)
            .or_else(std::io::stdout);
        subscriber(format, filter, writer).try_init()
    } else {
        subscriber(format, filter, std::io::stderr).try_init()
    };
    // Already initialised (tests): keep the first subscriber.
    let _ = result;
}

/// The subscriber for `format`, writing through `writer` (tests pass a buffer).
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(
            builder
                .fmt_fields(Slog { json: false })
                .event_format(Slog { json: false })
                .finish(),
        ),
        LogFormat::Json => Box::new(
            builder
                .fmt_fields(Slog { json: true })
                .event_format(Slog { json: true })
                .finish(),
        ),
        LogFormat::Tracing => Box::new(builder.finish()),
        LogFormat::TracingJson => Box::new(builder.json().finish()),
    }
}

/// slog's handler output: logfmt (`json: false`) or one JSON object per line. The same type
/// formats span fields (kept pre-rendered in the span's extensions) and events, so a span's
/// fields are already in the event's syntax.
#[derive(Debug, Clone, Copy)]
pub struct Slog {
    json: bool,
}

impl<'w> FormatFields<'w> for Slog {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut collected = Collect::default();
        fields.record(&mut collected);
        // A span has no message; a `message` field of one is kept as a key.
        if let Some(message) = collected.message.take() {
            collected.pairs.insert(0, ("message", Value::Str(message)));
        }
        let mut out = String::new();
        self.pairs(&mut out, &collected.pairs);
        writer.write_str(&out)
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut more = String::new();
        self.format_fields(Writer::new(&mut more), fields)?;
        if !current.fields.is_empty() && !more.is_empty() {
            current.fields.push(if self.json { ',' } else { ' ' });
        }
        current.fields.push_str(&more);
        Ok(())
    }
}

impl<S, N> FormatEvent<S, N> for Slog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut collected = Collect::default();
        event.record(&mut collected);
        let message = collected.message.take().unwrap_or_default();
        let now = time::OffsetDateTime::now_utc();
        let level = level_name(*event.metadata().level());

        let mut line = String::with_capacity(256);
        if self.json {
            line.push_str("{\"time\":\"");
            push_rfc3339(&mut line, now, false);
            let _ = write!(line, "\",\"level\":\"{level}\",\"msg\":");
            push_json_string(&mut line, &message);
        } else {
            line.push_str("time=");
            push_rfc3339(&mut line, now, true);
            let _ = write!(line, " level={level} msg=");
            push_logfmt_string(&mut line, &message);
        }
        let separator = if self.json { ',' } else { ' ' };
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                // Only our own field formatter's output is in our syntax.
                if let Some(fields) = extensions.get::<FormattedFields<Slog>>()
                    && !fields.fields.is_empty()
                {
                    line.push(separator);
                    line.push_str(&fields.fields);
                }
            }
        }
        if !collected.pairs.is_empty() {
            line.push(separator);
            self.pairs(&mut line, &collected.pairs);
        }
        if self.json {
            line.push('}');
        }
        line.push('\n');
        writer.write_str(&line)
    }
}

impl Slog {
    /// `k=v k=v` or `"k":v,"k":v`.
    fn pairs(self, out: &mut String, pairs: &[(&'static str, Value)]) {
        for (i, (key, value)) in pairs.iter().enumerate() {
            if self.json {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, key);
                out.push(':');
                value.push_json(out);
            } else {
                if i > 0 {
                    out.push(' ');
                }
                push_logfmt_string(out, key);
                out.push('=');
                value.push_logfmt(out);
            }
        }
    }
}

/// slog's level names; tracing's TRACE, below slog's DEBUG, is written as slog writes a level
/// four below DEBUG.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "DEBUG-4",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// One field value, kept typed so that JSON numbers and booleans stay unquoted.
#[derive(Debug)]
enum Value {
    Str(String),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
}

impl Value {
    fn push_logfmt(&self, out: &mut String) {
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

    fn push_json(&self, out: &mut String) {
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
struct Collect {
    message: Option<String>,
    pairs: Vec<(&'static str, Value)>,
}

impl Collect {
    fn push(&mut self, field: &Field, value: Value) {
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
fn push_rfc3339(out: &mut String, t: time::OffsetDateTime, millis: bool) {
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
fn push_logfmt_string(out: &mut String, s: &str) {
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

fn push_json_string(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        // Serialising a &str cannot fail; keep the line valid anyway.
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A `MakeWriter` into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    #[derive(Debug)]
    struct Failure;
    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("no key could decrypt \"a\"")
        }
    }
    impl std::error::Error for Failure {}

    /// Logs the same few lines as the controller would, in `format`.
    fn capture(format: LogFormat) -> Vec<String> {
        let buffer = Buffer::default();
        let subscriber = subscriber(format, EnvFilter::new("trace"), buffer.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(version = "0.1.0", "Starting sealed-secrets controller");
            let span = tracing::info_span!("reconcile", sealed_secret = "ns/app");
            let _entered = span.enter();
            let inner = tracing::info_span!("unseal", items = 2_u64, empty = tracing::field::Empty);
            inner.record("empty", "later");
            let _inner = inner.enter();
            let error = Failure;
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                retry = true,
                ratio = 0.5,
                "cannot unseal = \"x\""
            );
            tracing::debug!(path = "/v1/verify", "ok");
            tracing::trace!("below debug");
        });
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// A logfmt parser as a log pipeline has one: `key=value`, values bare or Go-quoted.
    fn parse_logfmt(line: &str) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut chars = line.chars().peekable();
        loop {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            if chars.peek().is_none() {
                return pairs;
            }
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            let mut value = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some(c) => value.push(c),
                            None => panic!("dangling escape in {line}"),
                        },
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.peek().copied() {
                    if c == ' ' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
            assert!(!key.is_empty(), "empty key in {line}");
            pairs.push((key, value));
        }
    }

    fn is_text_time(t: &str) -> bool {
        // 2026-12-01T23:00:00.000Z
        t.len() == 24
            && t.ends_with('Z')
            && time::PrimitiveDateTime::parse(
                &t[..23],
                time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]"
                ),
            )
            .is_ok()
    }

    #[test]
    fn text_is_slog_logfmt() {
        let lines = capture(LogFormat::Text);
        assert_eq!(lines.len(), 4, "{lines:#?}");
        let parsed: Vec<Vec<(String, String)>> = lines.iter().map(|l| parse_logfmt(l)).collect();
        for (line, pairs) in lines.iter().zip(&parsed) {
            let keys: Vec<&str> = pairs.iter().take(3).map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["time", "level", "msg"], "{line}");
            assert!(is_text_time(&pairs[0].1), "{line}");
        }
        assert_eq!(
            lines[0].split_once(' ').unwrap().1,
            "level=INFO msg=\"Starting sealed-secrets controller\" version=0.1.0"
        );
        let warn: BTreeMap<_, _> = parsed[1].iter().cloned().collect();
        assert_eq!(warn["level"], "WARN");
        assert_eq!(warn["msg"], "cannot unseal = \"x\"");
        assert_eq!(warn["sealed_secret"], "ns/app");
        assert_eq!(warn["items"], "2");
        assert_eq!(warn["empty"], "later");
        assert_eq!(warn["error"], "no key could decrypt \"a\"");
        assert_eq!(warn["retry"], "true");
        assert_eq!(warn["ratio"], "0.5");
        // Span fields first, outermost first, then the event's.
        let order: Vec<&str> = parsed[1][3..].iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            order,
            ["sealed_secret", "items", "empty", "error", "retry", "ratio"]
        );
        assert!(
            lines[1].contains(r#"msg="cannot unseal = \"x\"""#),
            "{}",
            lines[1]
        );
        assert_eq!(parsed[2][1].1, "DEBUG");
        assert_eq!(parsed[2][2].1, "ok");
        assert_eq!(parsed[3][1].1, "DEBUG-4");
    }

    #[test]
    fn json_is_slog_json() {
        let lines = capture(LogFormat::Json);
        assert_eq!(lines.len(), 4, "{lines:#?}");
        let parsed: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        for (line, v) in lines.iter().zip(&parsed) {
            assert!(line.starts_with("{\"time\":\""), "{line}");
            let t = v["time"].as_str().unwrap();
            assert!(
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .is_ok(),
                "{line}"
            );
            assert!(
                v.get("fields").is_none() && v.get("span").is_none(),
                "{line}"
            );
        }
        assert_eq!(
            parsed[0],
            serde_json::json!({
                "time": parsed[0]["time"],
                "level": "INFO",
                "msg": "Starting sealed-secrets controller",
                "version": "0.1.0",
            })
        );
        assert_eq!(
            parsed[1],
            serde_json::json!({
                "time": parsed[1]["time"],
                "level": "WARN",
                "msg": "cannot unseal = \"x\"",
                "sealed_secret": "ns/app",
                "items": 2,
                "empty": "later",
                "error": "no key could decrypt \"a\"",
                "retry": true,
                "ratio": 0.5,
            })
        );
        assert_eq!(parsed[2]["level"], "DEBUG");
        assert_eq!(parsed[2]["path"], "/v1/verify");
        assert_eq!(parsed[3]["level"], "DEBUG-4");
    }

    #[test]
    fn tracing_formats_stay_available() {
        let lines = capture(LogFormat::Tracing);
        assert!(lines[1].contains(" WARN "), "{}", lines[1]);
        assert!(
            lines[1].contains("reconcile{sealed_secret=\"ns/app\"}"),
            "{}",
            lines[1]
        );
        let lines = capture(LogFormat::TracingJson);
        let v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(v["fields"]["message"], "cannot unseal = \"x\"");
        assert_eq!(v["spans"][0]["sealed_secret"], "ns/app");
    }

    #[test]
    fn logfmt_quoting_follows_slog() {
        let cases = [
            ("plain", "plain"),
            ("", "\"\""),
            ("a b", "\"a b\""),
            ("a=b", "\"a=b\""),
            ("back\\slash", "back\\slash"),
            ("new\nline", "\"new\\nline\""),
            ("bell\u{7}", "\"bell\\a\""),
            ("del\u{7f}", "\"del\\x7f\""),
            ("ünïcode", "ünïcode"),
            ("nbsp\u{a0}", "\"nbsp\\u00a0\""),
        ];
        for (input, want) in cases {
            let mut out = String::new();
            push_logfmt_string(&mut out, input);
            assert_eq!(out, want, "{input:?}");
        }
    }

    #[test]
    fn times_as_slog_writes_them() {
        let t = time::macros::datetime!(2026-12-01 23:00:00.120_000_000 UTC);
        let mut text = String::new();
        push_rfc3339(&mut text, t, true);
        assert_eq!(text, "2026-12-01T23:00:00.120Z");
        let mut json = String::new();
        push_rfc3339(&mut json, t, false);
        assert_eq!(json, "2026-12-01T23:00:00.12Z");
        let mut whole = String::new();
        push_rfc3339(
            &mut whole,
            time::macros::datetime!(2026-12-01 23:00:00 UTC),
            false,
        );
        assert_eq!(whole, "2026-12-01T23:00:00Z");
    }
}
