//! Unit tests of the log formats: upstream's slog text and JSON lines.

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
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok(),
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
