//! Bash completion works after subcommands and for value lists: the generated script is sourced
//! in a real bash, its completion function (found through `complete -p kubeseal-rs`, so the
//! registration is tested too) is called with `COMP_WORDS`/`COMP_CWORD` set as bash sets them,
//! and `COMPREPLY` is compared. Skipped when there is no bash.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::Command;

const DRIVER: &str = r#"
source "$1"
fn=$(complete -p kubeseal-rs | sed -E 's/.*-F ([^ ]+).*/\1/')
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMPREPLY=()
"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;

/// The candidates bash offers for the command line `words` (the last one is being completed).
fn complete(words: &[&str]) -> Option<Vec<String>> {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("no bash: skipped");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("kubeseal-rs.bash");
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&script, &out.stdout).unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", DRIVER, "driver"])
        .arg(&script)
        .args(words)
        // An empty directory: a fall-back to file names would show as an empty list.
        .current_dir(&empty)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn subcommands_of_keys() {
    let Some(got) = complete(&["kubeseal-rs", "keys", ""]) else {
        return;
    };
    assert_eq!(
        got,
        ["-h", "--help", "list", "backup", "restore", "prune", "help"]
    );
}

#[test]
fn a_flag_of_reseal() {
    let Some(got) = complete(&["kubeseal-rs", "reseal", "--dr"]) else {
        return;
    };
    assert_eq!(got, ["--dry-run"]);
}

#[test]
fn the_values_of_scope() {
    let Some(got) = complete(&["kubeseal-rs", "--scope", ""]) else {
        return;
    };
    assert_eq!(got, ["strict", "namespace-wide", "cluster-wide"]);
}

#[test]
fn deeper_subcommands_and_other_value_lists() {
    let Some(got) = complete(&["kubeseal-rs", "keys", "backup", "--ou"]) else {
        return;
    };
    assert_eq!(got, ["--output"]);
    let got = complete(&["kubeseal-rs", "-o", ""]).unwrap();
    assert_eq!(got, ["json", "yaml"]);
    let got = complete(&["kubeseal-rs", "completions", "z"]).unwrap();
    assert_eq!(got, ["zsh"]);
    let got = complete(&["kubeseal-rs", "se"]).unwrap();
    assert_eq!(got, ["set"]);
}

#[test]
fn registered_for_the_binary_name_only() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let script = String::from_utf8(out.stdout).unwrap();
    let registrations: Vec<&str> = script
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("complete "))
        .collect();
    assert!(!registrations.is_empty());
    for line in registrations {
        assert!(line.ends_with(" kubeseal-rs"), "{line}");
    }
}
