//! The binary's log lines as upstream's slog handlers write them (`--log-format text|json`),
//! read back with upstream's key names (`time`, `level`, `msg`) by the kind of parser a log
//! pipeline uses. No cluster is needed: a run that gets past flag parsing logs its start (INFO,
//! stdout) and "controller failed" (ERROR, stderr), then exits 1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::process::{Command, Output};

fn controller(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp home");
    Command::new(env!("CARGO_BIN_EXE_sealed-secrets-controller"))
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("run controller")
}

/// Log lines only: `main` also prints the cause as `error: …` on stderr.
fn log_lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.starts_with("error: "))
        .map(str::to_owned)
        .collect()
}

/// logfmt as slog's `TextHandler` writes it: `key=value`, values bare or double-quoted with
/// backslash escapes.
fn parse_logfmt(line: &str) -> BTreeMap<String, String> {
    let mut pairs = BTreeMap::new();
    let mut rest = line;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .unwrap_or_else(|| panic!("no '=' in {rest:?} of {line}"));
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => break i + 1,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => panic!("dangling escape in {line}"),
                    },
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated quote in {line}"),
                }
            };
            (value, &quoted[end..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        assert!(
            pairs.insert(key.to_owned(), value).is_none(),
            "duplicate {key} in {line}"
        );
        rest = after.trim_start_matches(' ');
    }
    pairs
}

#[test]
fn text_is_slog_logfmt_info_on_stdout_errors_on_stderr() {
    let out = controller(&[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = log_lines(&out.stdout);
    let stderr = log_lines(&out.stderr);
    assert!(!stdout.is_empty() && !stderr.is_empty(), "{out:?}");
    for line in stdout.iter().chain(&stderr) {
        assert!(line.starts_with("time="), "{line}");
        let keys: Vec<&str> = line
            .split(' ')
            .take(3)
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(keys, ["time", "level", "msg"], "{line}");
    }
    let start = parse_logfmt(&stdout[0]);
    assert_eq!(start["level"], "INFO");
    assert!(
        start["msg"].contains("sealed-secrets controller"),
        "{start:?}"
    );
    assert!(start.contains_key("version"), "{start:?}");
    let time = &start["time"];
    assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
    let failed = parse_logfmt(stderr.last().unwrap());
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(failed["msg"], "controller failed");
    assert!(
        failed["error"].contains("cannot find a cluster configuration"),
        "{failed:?}"
    );
    assert!(stdout.iter().all(|l| parse_logfmt(l)["level"] == "INFO"));
}

#[test]
fn json_is_slog_json() {
    let out = controller(&["--log-format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let parse = |line: &String| -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    };
    let stdout: Vec<_> = log_lines(&out.stdout).iter().map(parse).collect();
    let stderr: Vec<_> = log_lines(&out.stderr).iter().map(parse).collect();
    assert!(!stdout.is_empty() && !stderr.is_empty(), "{out:?}");
    for v in stdout.iter().chain(&stderr) {
        assert!(v["time"].is_string() && v["msg"].is_string(), "{v}");
        assert!(v.get("fields").is_none(), "{v}");
    }
    assert_eq!(stdout[0]["level"], "INFO");
    assert!(stdout[0]["version"].is_string(), "{}", stdout[0]);
    let failed = stderr.last().unwrap();
    assert_eq!(failed["level"], "ERROR");
    assert_eq!(failed["msg"], "controller failed");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("cannot find a cluster configuration"),
        "{failed}"
    );
}

#[test]
fn log_info_stdout_false_sends_everything_to_stderr() {
    let out = controller(&["--log-info-stdout=false"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{out:?}");
    let levels: Vec<String> = log_lines(&out.stderr)
        .iter()
        .map(|l| parse_logfmt(l)["level"].clone())
        .collect();
    assert_eq!(
        levels.first().map(String::as_str),
        Some("INFO"),
        "{levels:?}"
    );
    assert_eq!(
        levels.last().map(String::as_str),
        Some("ERROR"),
        "{levels:?}"
    );
}

#[test]
fn tracing_format_stays_available() {
    let out = controller(&["--log-format", "tracing"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = log_lines(&out.stdout);
    assert!(stdout[0].contains(" INFO "), "{stdout:?}");
    assert!(!stdout[0].starts_with("time="), "{stdout:?}");
}
