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
