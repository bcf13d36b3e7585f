//! The commands of `docs/cli.md` and `docs/gitops-workflow.md` that run offline are run from
//! the docs themselves, so a page cannot drift from the binary.
//!
//! Every `sh` and `console` block of those pages carries a marker comment on the line before
//! its fence:
//!
//! - `<!-- doc-test -->`: run. An `sh` block runs as one bash script (`set -euo pipefail`) that
//!   must succeed. In a `console` block every `$ ` line (with `\` continuations) is a command
//!   whose stdout and stderr, together, must be the lines below it: `…` matches any text within
//!   a line, a line `...` any number of lines, and timestamps and `SHA256:` fingerprints match
//!   any timestamp or fingerprint. A command whose output shows an `error:` line must fail, any
//!   other must succeed. Options: `stdin=TEXT` (what the commands read; default nothing),
//!   `env=NAME=VALUE` (repeatable).
//! - `<!-- doc-test: file=PATH -->`: the block's text is written to PATH (e.g. the page's
//!   `.sealed-secrets.toml`), and the next blocks use it.
//! - `<!-- doc-test: skip REASON -->`: not run (it needs a cluster, Kustomize, a CI system).
//! - `<!-- doc-test: run` … `-->` (no fence): a setup script the reader does not see rendered,
//!   for what the page takes for granted (key pairs, an existing sealed file).
//!
//! A page runs top to bottom in one fresh directory (`repo`, the working directory), with `HOME`
//! set to a sibling directory, no kubeconfig and no `SEALED_SECRETS_*` variables, and
//! `kubeseal-rs` (this build) first on `PATH`. `kubectl` is used offline only
//! (`create … --dry-run=client`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a marker asks for.
#[derive(Debug, Clone)]
enum Marker {
    Run {
        stdin: String,
        env: Vec<(String, String)>,
    },
    File(String),
    Skip,
    Setup(String),
}

#[derive(Debug)]
struct Step {
    /// 1-based line of the fence (or of the setup comment) in the page.
    line: usize,
    lang: String,
    marker: Marker,
    body: String,
}

fn parse_marker(line: usize, text: &str) -> Marker {
    let opts = text.trim();
    if opts.is_empty() {
        return Marker::Run {
            stdin: String::new(),
            env: Vec::new(),
        };
    }
    if let Some(path) = opts.strip_prefix("file=") {
        return Marker::File(path.trim().to_owned());
    }
    if opts.starts_with("skip ") {
        return Marker::Skip;
    }
    let mut stdin = String::new();
    let mut env = Vec::new();
    for opt in opts.split_whitespace() {
        if let Some(s) = opt.strip_prefix("stdin=") {
            s.clone_into(&mut stdin);
        } else if let Some(kv) = opt.strip_prefix("env=") {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("line {line}: env={kv}"));
            env.push((k.to_owned(), v.to_owned()));
        } else {
            panic!("line {line}: unknown doc-test option {opt:?} (a skip needs a reason)");
        }
    }
    Marker::Run { stdin, env }
}

/// The page's steps, in order; panics naming every `sh`/`console` block without a marker.
fn steps(page: &str, text: &str) -> Vec<Step> {
    let lines: Vec<&str> = text.lines().collect();
    let mut steps = Vec::new();
    let mut unmarked = Vec::new();
    let mut pending: Option<Marker> = None;
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim();
        if let Some(rest) = trimmed.strip_prefix("<!-- doc-test") {
            let rest = rest.strip_prefix(':').unwrap_or(rest);
            if let Some(opts) = rest.strip_suffix("-->") {
                pending = Some(parse_marker(i + 1, opts));
                i += 1;
                continue;
            }
            assert_eq!(
                rest.trim(),
                "run",
                "{page}:{}: unclosed doc-test marker",
                i + 1
            );
            let start = i + 1;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && lines[i].trim() != "-->" {
                body.push_str(lines[i]);
                body.push('\n');
                i += 1;
            }
            assert!(i < lines.len(), "{page}:{start}: setup without -->");
            steps.push(Step {
                line: start,
                lang: "sh".into(),
                marker: Marker::Setup(body.clone()),
                body,
            });
            i += 1;
            continue;
        }
        if let Some(lang) = trimmed.strip_prefix("```") {
            let indent = lines[i].len() - lines[i].trim_start().len();
            let start = i + 1;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && lines[i].trim() != "```" {
                let l = lines[i];
                body.push_str(
                    l.get(indent.min(l.len() - l.trim_start().len())..)
                        .unwrap_or(""),
                );
                body.push('\n');
                i += 1;
            }
            assert!(i < lines.len(), "{page}:{start}: unclosed fence");
            i += 1;
            match pending.take() {
                Some(marker) => steps.push(Step {
                    line: start,
                    lang: lang.to_owned(),
                    marker,
                    body,
                }),
                None if lang == "sh" || lang == "console" => unmarked.push(start),
                None => {}
            }
            continue;
        }
        if !trimmed.is_empty() {
            pending = None;
        }
        i += 1;
    }
    assert!(
        unmarked.is_empty(),
        "{page}: sh/console blocks without a doc-test marker (run or skip with a reason) at lines {unmarked:?}"
    );
    steps
}

/// Timestamps and fingerprints, which differ from run to run, replaced by placeholders.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // SHA256:<43 base64 characters>
        if text[i..].starts_with("SHA256:") {
            let tail = &b[i + 7..];
            let n = tail
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'+' || **c == b'/')
                .count();
            if n == 43 {
                out.push_str("SHA256:[fingerprint]");
                i += 7 + 43;
                continue;
            }
        }
        // 2026-12-01T23:39:24Z
        if b.len() >= i + 20 && is_timestamp(&b[i..i + 20]) {
            out.push_str("[timestamp]");
            i += 20;
            continue;
        }
        let ch = text[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn is_timestamp(s: &[u8]) -> bool {
    let shape = b"dddd-dd-ddTdd:dd:ddZ";
    s.iter().zip(shape).all(|(c, p)| {
        if *p == b'd' {
            c.is_ascii_digit()
        } else {
            c == p
        }
    })
}

/// `…` in `pattern` matches any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split('…');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Expected lines against actual ones; a `...` line matches any number of lines.
fn lines_match(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"...", rest)) => (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..])),
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(a, tail)| line_matches(first, a) && lines_match(rest, tail)),
    }
}

struct Page {
    name: &'static str,
    repo: PathBuf,
    home: PathBuf,
    path: String,
    _dir: tempfile::TempDir,
}

impl Page {
    fn new(name: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let bin = Path::new(env!("CARGO_BIN_EXE_kubeseal-rs"))
            .parent()
            .unwrap();
        let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap()
        .into_string()
        .unwrap();
        Self {
            name,
            repo,
            home,
            path,
            _dir: dir,
        }
    }

    /// Runs `script` in bash with stderr merged into stdout; (exit code, output).
    fn bash(&self, script: &str, stdin: &str, env: &[(String, String)]) -> (Option<i32>, String) {
        use std::io::Write as _;
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("set -euo pipefail\nexec 2>&1\n{script}"))
            .current_dir(&self.repo)
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        // A command that does not read its stdin may exit before it is written.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn run(&self, step: &Step) {
        let at = format!("{}:{}", self.name, step.line);
        match &step.marker {
            Marker::Skip => {}
            Marker::File(path) => {
                let target = self.repo.join(path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).unwrap();
                }
                std::fs::write(target, &step.body).unwrap();
            }
            Marker::Setup(script) => {
                let (code, out) = self.bash(script, "", &[]);
                assert_eq!(code, Some(0), "{at}: setup failed:\n{out}");
            }
            Marker::Run { stdin, env } => match step.lang.as_str() {
                "sh" => {
                    let (code, out) = self.bash(&step.body, stdin, env);
                    assert_eq!(code, Some(0), "{at}: the block failed:\n{out}");
                }
                "console" => {
                    for (command, expected) in console_commands(&step.body) {
                        let (code, out) = self.bash(&command, stdin, env);
                        let actual = normalize(&out);
                        let actual: Vec<&str> = actual.lines().map(str::trim_end).collect();
                        let expected = normalize(&expected);
                        let expected: Vec<&str> = expected.lines().map(str::trim_end).collect();
                        assert!(
                            lines_match(&expected, &actual),
                            "{at}: `{command}` printed\n{}\nthe page says\n{}",
                            actual.join("\n"),
                            expected.join("\n")
                        );
                        let fails = expected.iter().any(|l| l.starts_with("error:"));
                        assert_eq!(
                            code != Some(0),
                            fails,
                            "{at}: `{command}` exited with {code:?}"
                        );
                    }
                }
                other => panic!("{at}: cannot run a {other:?} block"),
            },
        }
    }
}

/// A console block's commands and the output shown under each.
fn console_commands(body: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut continued = false;
    for line in body.lines() {
        if continued {
            let (command, _) = out.last_mut().unwrap();
            command.push('\n');
            command.push_str(line);
            continued = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            out.push((command.to_owned(), String::new()));
            continued = command.ends_with('\\');
        } else {
            let (_, expected) = out
                .last_mut()
                .expect("output before the first `$ ` command");
            expected.push_str(line);
            expected.push('\n');
        }
    }
    out
}

fn run_page(name: &'static str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
    let text = std::fs::read_to_string(&file).unwrap();
    let page = Page::new(name);
    let steps = steps(name, &text);
    assert!(
        steps.iter().any(|s| matches!(s.marker, Marker::Run { .. })),
        "{name}: nothing to run"
    );
    for step in &steps {
        page.run(step);
    }
}

#[test]
fn cli_page_commands_run_as_written() {
    run_page("docs/cli.md");
}

#[test]
fn gitops_workflow_page_commands_run_as_written() {
    run_page("docs/gitops-workflow.md");
}

#[test]
fn the_matcher_itself() {
    assert!(line_matches("a … c", "a bbb c"));
    assert!(line_matches("…", ""));
    assert!(!line_matches("a … c", "a bbb d"));
    assert!(line_matches("x", "x"));
    assert!(!line_matches("x", "xy"));
    assert!(lines_match(&["a", "...", "z"], &["a", "b", "c", "z"]));
    assert!(lines_match(&["a", "...", "z"], &["a", "z"]));
    assert!(!lines_match(&["a", "z"], &["a", "b", "z"]));
    assert_eq!(
        normalize(
            "not after: 2036-11-28T23:39:24Z, SHA256:cCCAn7x4VkAPmW/oXaSFoPez5h+aLCtKw+RLXRYCVz8."
        ),
        "not after: [timestamp], SHA256:[fingerprint]."
    );
    assert_eq!(
        console_commands("$ a \\\n  | b\nout\n$ c\n"),
        [
            ("a \\\n  | b".to_owned(), "out\n".to_owned()),
            ("c".to_owned(), String::new())
        ]
    );
}
