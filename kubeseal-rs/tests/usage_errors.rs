//! Usage errors (exit 2) are shown whole, as clap renders them: what is missing, the usage line
//! and clap's suggestions. Failures (exit 1) stay on one line (tests/bad_input.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::{Command, Stdio};

/// Runs in an empty directory; returns (exit code, stdout, stderr) and checks nothing was written.
fn run(args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"))
        .args(args)
        .current_dir(dir.path())
        .env_remove("KUBECONFIG")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "{args:?} wrote a file"
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn usage_error(args: &[&str], expected: &str) {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 2, "{args:?}: {stderr}");
    assert_eq!(stdout, "", "{args:?}");
    assert_eq!(stderr, expected, "{args:?}");
}

#[test]
fn missing_arguments_are_listed() {
    usage_error(
        &["reseal"],
        "error: the following required arguments were not provided:
  --cert <FILE>
  --recovery-private-key <FILE>
  <PATH>...

Usage: kubeseal-rs reseal --cert <FILE> --recovery-private-key <FILE> <PATH>...

For more information, try '--help'.
",
    );
    usage_error(
        &["set"],
        "error: the following required arguments were not provided:
  <FILE>
  <KEY>

Usage: kubeseal-rs set <FILE> <KEY>

For more information, try '--help'.
",
    );
    usage_error(
        &["set", "a.yaml"],
        "error: the following required arguments were not provided:
  <KEY>

Usage: kubeseal-rs set <FILE> <KEY>

For more information, try '--help'.
",
    );
    usage_error(
        &["completions"],
        "error: the following required arguments were not provided:
  <SHELL>

Usage: kubeseal-rs completions <SHELL>

For more information, try '--help'.
",
    );
    usage_error(
        &["keys", "backup"],
        "error: the following required arguments were not provided:
  --output <FILE>

Usage: kubeseal-rs keys backup --output <FILE>

For more information, try '--help'.
",
    );
}

#[test]
fn suggestions_are_kept() {
    usage_error(
        &["sett"],
        "error: unrecognized subcommand 'sett'

  tip: a similar subcommand exists: 'set'

Usage: kubeseal-rs [OPTIONS]
       kubeseal-rs <COMMAND>

For more information, try '--help'.
",
    );
    usage_error(
        &["--cret", "c.pem"],
        "error: unexpected argument '--cret' found

  tip: a similar argument exists: '--cert'

Usage: kubeseal-rs --cert <FILE|URL>

For more information, try '--help'.
",
    );
}

#[test]
fn checked_usage_errors_stay_one_line() {
    // Conflicts found after parsing (mode::resolve) are one line, exit 2.
    usage_error(&["--from-file", "x"], "error: --from-file requires --raw\n");
}
