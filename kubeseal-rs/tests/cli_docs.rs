//! The generated documentation: `--help` explains every flag, shell completions and the man page
//! render and mention every long flag.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{args:?}: stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `--long` flags listed by `--help` (the first token of each option line).
fn long_flags(help: &str) -> Vec<String> {
    help.lines()
        .map(str::trim_start)
        .filter_map(|l| {
            let l = l.strip_prefix("-").map_or(l, |_| l);
            let at = l.find("--")?;
            (at <= 4).then(|| {
                l[at..]
                    .split([' ', '=', ',', '<', '['])
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
        })
        .filter(|f| f.len() > 2)
        .collect()
}

#[test]
fn help_explains_every_flag() {
    let help = run(&["--help"]);
    let flags = long_flags(&help);
    for must in [
        "--cert",
        "--scope",
        "--raw",
        "--merge-into",
        "--recovery-unseal",
        "--re-encrypt",
        "--validate",
        "--fetch-cert",
        "--format",
    ] {
        assert!(
            flags.iter().any(|f| f == must),
            "--help lacks {must}: {flags:?}"
        );
    }
    // Every option line is followed by an explanation: no flag stands alone at the end of a block.
    let lines: Vec<&str> = help.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with("--") || (t.starts_with('-') && t.get(2..4) == Some(", ")) {
            let same_line_text = t.contains("  ") && !t.ends_with(']');
            let next = lines.get(i + 1).map_or("", |l| l.trim());
            assert!(
                same_line_text || !next.is_empty(),
                "flag without explanation: {t}"
            );
        }
    }
}

#[test]
fn completions_and_man_page_cover_the_flags() {
    let flags = long_flags(&run(&["--help"]));
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = run(&["completions", shell]);
        for flag in &flags {
            let bare = flag.trim_start_matches('-');
            assert!(script.contains(bare), "{shell} completions lack {flag}");
        }
    }
    let man = run(&["man"]);
    assert!(man.contains(".TH kubeseal-rs 1"), "not a roff man page");
    for flag in &flags {
        assert!(
            man.contains(&flag.replace('-', "\\-")),
            "man page lacks {flag}"
        );
    }
}

#[test]
fn man_dir_writes_one_page_per_command_with_its_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"))
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for page in [
        "kubeseal-rs.1",
        "kubeseal-rs-check.1",
        "kubeseal-rs-set.1",
        "kubeseal-rs-unset.1",
        "kubeseal-rs-reseal.1",
        "kubeseal-rs-keygen.1",
        "kubeseal-rs-cert.1",
        "kubeseal-rs-keys-backup.1",
        "kubeseal-rs-keys-restore.1",
        "kubeseal-rs-keys-prune.1",
    ] {
        assert!(
            names.iter().any(|n| n == page),
            "{page} missing from {names:?}"
        );
    }
    // Each subcommand page lists that subcommand's own flags and has examples.
    let sub = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    for (page, args) in [
        ("kubeseal-rs-reseal.1", ["reseal", "--help"]),
        ("kubeseal-rs-keys-backup.1", ["keys", "backup"]),
    ] {
        let text = sub(page);
        assert!(text.contains(".SH EXAMPLES"), "{page}");
        let mut help_args: Vec<&str> = args.to_vec();
        if help_args.last() != Some(&"--help") {
            help_args.push("--help");
        }
        for flag in long_flags(&run(&help_args)) {
            assert!(
                text.contains(&flag.replace('-', "\\-")),
                "{page} lacks {flag}"
            );
        }
    }
    // Not a directory: one line, exit 1, nothing written.
    let file = dir.path().join("kubeseal-rs.1");
    let out = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"))
        .args(["man", "--dir"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {}: not a directory\n", file.display())
    );
}
