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

mod fields;

use std::fmt::{self, Write as _};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use self::fields::{Collect, Value, push_json_string, push_logfmt_string, push_rfc3339};
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

#[cfg(test)]
mod tests;
