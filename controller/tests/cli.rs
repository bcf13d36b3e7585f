//! The binary's flag handling: `--version`, `SEALED_SECRETS_*` variables and their precedence
//! (command line > environment > default), exit codes. No cluster is needed: a run that gets
//! past flag parsing stops at "cannot find a cluster configuration" (exit 1).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::{Command, Output};

fn controller(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().expect("temp home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealed-secrets-controller"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run controller")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_prints_upstream_format() {
    let out = controller(&["--version"], &[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // Upstream's suite: `^controller version: (v[0-9]+\.[0-9]+\.[0-9]+|[0-9a-f]{40})(\+dirty)?`.
    assert_eq!(
        text,
        format!("controller version: v{}\n", env!("CARGO_PKG_VERSION"))
    );
    // Like every flag, it can come from the environment.
    let out = controller(&[], &[("SEALED_SECRETS_VERSION", "true")]);
    assert!(out.status.success());
}

#[test]
fn environment_sets_flags() {
    let out = controller(&[], &[("SEALED_SECRETS_KEY_PREFIX", "BAD_PREFIX")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("BAD_PREFIX"), "{}", stderr(&out));
    let out = controller(&[], &[("SEALED_SECRETS_RATE_LIMIT", "0")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--rate-limit"), "{}", stderr(&out));
    // Booleans take Go's spellings from the environment too: `T` is one, `yes` is not.
    let out = controller(&[], &[("SEALED_SECRETS_METRICS_OMIT_SECRET_LABELS", "yes")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--metrics-omit-secret-labels"),
        "{}",
        stderr(&out)
    );
    let out = controller(&[], &[("SEALED_SECRETS_METRICS_OMIT_SECRET_LABELS", "T")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn command_line_beats_environment() {
    let out = controller(
        &["--key-prefix", "good-prefix"],
        &[("SEALED_SECRETS_KEY_PREFIX", "BAD_PREFIX")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot find a cluster configuration"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = controller(&["--no-such-flag"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = controller(&["--key-cutoff-time", "yesterday"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("key-cutoff-time"));
    let out = controller(&["--help"], &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--key-renew-period"));
}

#[test]
fn deprecated_rotate_period_is_announced() {
    let out = controller(&["--rotate-period", "1h"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("Flag --rotate-period has been deprecated, use --key-renew-period instead"),
        "{}",
        stderr(&out)
    );
}
