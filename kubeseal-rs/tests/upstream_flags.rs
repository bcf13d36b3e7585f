//! Upstream kubeseal's flag parsing, as scripts rely on it (issue 14, "Drop-in migration"):
//! every `SEALED_SECRETS_<FLAG>` variable, Go-style booleans (`--raw=false`), a repeated flag
//! taking its last value, klog's flags accepted, and `--from-file a,b` split on commas.
//! Everything runs offline, with certificates made by `keygen`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A scratch directory with a key pair (`key.yaml`, `cert.pem`) and inputs.
struct Repo {
    dir: tempfile::TempDir,
}

const SECRET: &str = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"ns"},"stringData":{"a":"hello"}}"#;
const SECRET_B: &str = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"ns"},"stringData":{"b":"world"}}"#;
const EMPTY_SECRET: &str =
    r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"ns"}}"#;

impl Repo {
    fn new() -> Self {
        let repo = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = repo.run(
            &[
                "keygen",
                "--key-size",
                "2048",
                "-w",
                "key.yaml",
                "--cert-out",
                "cert.pem",
            ],
            &[],
            b"",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        repo.write("value.txt", "v4lue");
        repo
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// Runs in the directory with exactly the `SEALED_SECRETS_*` variables given, and no
    /// cluster configuration reachable.
    fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SEALED_SECRETS_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(args)
            .envs(env.iter().copied())
            .current_dir(self.dir.path())
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("HOME", "/nonexistent")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin); // it may exit before reading everything
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// A SealedSecret (JSON) of [`SECRET`] in `name`.
    fn sealed(&self, name: &str) -> PathBuf {
        let out = self.run(&["--cert", "cert.pem", "-w", name], &[], SECRET.as_bytes());
        assert!(out.status.success(), "{}", stderr(&out));
        self.path(name)
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit code, stdout and stderr, for comparing two runs.
fn outcome(out: &Output) -> (Option<i32>, String, String) {
    (out.status.code(), stdout(out), stderr(out))
}

fn assert_usage_error(out: &Output, line: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    assert_eq!(stderr(out), format!("error: {line}\n"));
    assert!(out.stdout.is_empty());
}

/// Base64 ciphertext of one item, as `--raw` prints it.
fn is_raw_ciphertext(text: &str) -> bool {
    text.len() > 100
        && text
            .trim_end()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// One case of [`every_upstream_variable_takes_effect`]: a run with the variable set, checked,
/// and a run without it that must end differently.
struct EnvCase {
    var: &'static str,
    value: &'static str,
    args: &'static [&'static str],
    stdin: &'static str,
    check: fn(&Repo, &Output),
}

#[test]
fn every_upstream_variable_takes_effect() {
    let cases = [
        EnvCase {
            var: "SEALED_SECRETS_RAW",
            value: "true",
            args: &["--cert", "cert.pem", "-n", "ns", "--name", "s"],
            stdin: "v4lue",
            check: |_, out| {
                assert!(out.status.success(), "{}", stderr(out));
                assert!(is_raw_ciphertext(&stdout(out)), "{}", stdout(out));
            },
        },
        EnvCase {
            var: "SEALED_SECRETS_ALLOW_EMPTY_DATA",
            value: "1",
            args: &["--cert", "cert.pem"],
            stdin: EMPTY_SECRET,
            check: |_, out| {
                assert!(out.status.success(), "{}", stderr(out));
                assert!(stdout(out).contains("\"kind\": \"SealedSecret\""));
            },
        },
        EnvCase {
            var: "SEALED_SECRETS_FETCH_CERT",
            value: "t",
            args: &["--cert", "cert.pem"],
            stdin: "",
            check: |repo, out| {
                assert!(out.status.success(), "{}", stderr(out));
                assert_eq!(stdout(out), repo.read("cert.pem"));
            },
        },
        EnvCase {
            var: "SEALED_SECRETS_RECOVERY_UNSEAL",
            value: "TRUE",
            args: &["--recovery-private-key", "key.yaml", "-f", "sealed.json"],
            stdin: "",
            check: |_, out| {
                assert!(out.status.success(), "{}", stderr(out));
                assert!(
                    stdout(out).contains("\"kind\": \"Secret\""),
                    "{}",
                    stdout(out)
                );
                assert!(stdout(out).contains("aGVsbG8="), "the item, in base64");
            },
        },
        EnvCase {
            var: "SEALED_SECRETS_RECOVERY_PRIVATE_KEY",
            value: "key.yaml",
            args: &["--recovery-unseal", "-f", "sealed.json"],
            stdin: "",
            check: |_, out| {
                assert!(out.status.success(), "{}", stderr(out));
                assert!(stdout(out).contains("aGVsbG8="), "the item, in base64");
            },
        },
        EnvCase {
            var: "SEALED_SECRETS_MERGE_INTO",
            value: "merged.json",
            args: &["--cert", "cert.pem"],
            stdin: SECRET_B,
            check: |repo, out| {
                assert!(out.status.success(), "{}", stderr(out));
                assert_eq!(stdout(out), "", "merged in place");
                let merged = repo.read("merged.json");
                assert!(
                    merged.contains("\"a\":") && merged.contains("\"b\":"),
                    "{merged}"
                );
            },
        },
        EnvCase {
            var: "SEALED_SECRETS_FROM_FILE",
            value: "value.txt",
            args: &["--cert", "cert.pem"],
            stdin: SECRET,
            check: |_, out| assert_usage_error(out, "--from-file requires --raw"),
        },
        EnvCase {
            var: "SEALED_SECRETS_VALIDATE",
            value: "True",
            args: &["--cert", "cert.pem", "--fetch-cert"],
            stdin: "",
            check: |_, out| {
                assert_usage_error(out, "--fetch-cert and --validate cannot be used together");
            },
        },
        EnvCase {
            var: "SEALED_SECRETS_RE_ENCRYPT",
            value: "T",
            args: &["--cert", "cert.pem", "--fetch-cert"],
            stdin: "",
            check: |_, out| {
                assert_usage_error(out, "--fetch-cert and --re-encrypt cannot be used together");
            },
        },
        EnvCase {
            var: "SEALED_SECRETS_ROTATE",
            value: "true",
            args: &["--cert", "cert.pem", "--fetch-cert"],
            stdin: "",
            check: |_, out| {
                assert_usage_error(out, "--fetch-cert and --re-encrypt cannot be used together");
            },
        },
    ];
    let repo = Repo::new();
    repo.sealed("sealed.json");
    for case in cases {
        repo.sealed("merged.json"); // afresh: MERGE_INTO changes it
        let with = repo.run(case.args, &[(case.var, case.value)], case.stdin.as_bytes());
        (case.check)(&repo, &with);
        repo.sealed("merged.json");
        let without = repo.run(case.args, &[], case.stdin.as_bytes());
        assert_ne!(
            outcome(&with),
            outcome(&without),
            "{} had no effect",
            case.var
        );
    }
}

#[test]
fn boolean_variables_take_go_spellings_and_flags_win() {
    let repo = Repo::new();
    let args = ["--cert", "cert.pem", "-n", "ns", "--name", "s"];
    for value in ["1", "t", "T", "TRUE", "true", "True"] {
        let out = repo.run(&args, &[("SEALED_SECRETS_RAW", value)], b"v4lue");
        assert!(
            is_raw_ciphertext(&stdout(&out)),
            "{value}: {}",
            stderr(&out)
        );
    }
    let not_raw = outcome(&repo.run(&args, &[], b"v4lue"));
    assert_eq!(not_raw.0, Some(1), "v4lue is no manifest");
    for value in ["0", "f", "F", "FALSE", "false", "False"] {
        let out = repo.run(&args, &[("SEALED_SECRETS_RAW", value)], b"v4lue");
        assert_eq!(outcome(&out), not_raw, "{value}");
    }
    // The command line beats the environment, as upstream applies variables before parsing.
    let out = repo.run(
        &[&args[..], &["--raw=false"]].concat(),
        &[("SEALED_SECRETS_RAW", "true")],
        b"v4lue",
    );
    assert_eq!(outcome(&out), not_raw);
    let out = repo.run(&args, &[("SEALED_SECRETS_RAW", "yes")], b"v4lue");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(
            "error: invalid value 'yes' for '--raw[=<BOOL>]': expected 1, t, T, TRUE, true, True, 0, f, F, FALSE, false or False\n"
        ),
        "{}",
        stderr(&out)
    );
}

/// A fake API server that records the first request's head and answers 404.
fn recording_server() -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let _ = send.send(String::from_utf8_lossy(&request).into_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (port, receive)
}

#[test]
fn as_group_variable_impersonates() {
    let repo = Repo::new();
    let (port, requests) = recording_server();
    let server = format!("http://127.0.0.1:{port}");
    let out = repo.run(
        &["--fetch-cert", "--server", &server, "--token", "t"],
        &[
            ("SEALED_SECRETS_AS", "me"),
            ("SEALED_SECRETS_AS_GROUP", "admins"),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "the server answers 404");
    let request = requests.try_recv().expect("a request reached the server");
    let lower = request.to_ascii_lowercase();
    assert!(lower.contains("impersonate-group: admins\r\n"), "{request}");
    assert!(lower.contains("impersonate-user: me\r\n"), "{request}");
}

/// Upstream's boolean flags (and ours on the same command line) and how to see each one
/// on or off: on, each of these ends differently from off.
const BOOL_FLAGS: [(&str, &[&str], &str); 8] = [
    (
        "--raw",
        &["--fetch-cert"],
        "--raw and --fetch-cert cannot be used together",
    ),
    (
        "--validate",
        &["--fetch-cert"],
        "--fetch-cert and --validate cannot be used together",
    ),
    (
        "--re-encrypt",
        &["--fetch-cert"],
        "--fetch-cert and --re-encrypt cannot be used together",
    ),
    (
        "--rotate",
        &["--fetch-cert"],
        "--fetch-cert and --re-encrypt cannot be used together",
    ),
    (
        "--recovery-unseal",
        &["--fetch-cert"],
        "--recovery-unseal and --fetch-cert cannot be used together",
    ),
    (
        "--fetch-cert",
        &["--raw"],
        "--raw and --fetch-cert cannot be used together",
    ),
    (
        "--allow-empty-data",
        &["--raw"],
        "must provide the --namespace flag with --raw and --scope strict",
    ),
    (
        "--discover-all-namespaces",
        &["--raw"],
        "must provide the --namespace flag with --raw and --scope strict",
    ),
];

#[test]
fn boolean_flags_take_go_values() {
    let repo = Repo::new();
    for (flag, others, on_error) in BOOL_FLAGS {
        let base = [&["--cert", "cert.pem"][..], others].concat();
        let plain = outcome(&repo.run(&[&base[..], &[flag]].concat(), &[], b""));
        let off = outcome(&repo.run(&base, &[], b""));
        if !matches!(flag, "--allow-empty-data" | "--discover-all-namespaces") {
            assert_eq!(plain.2, format!("error: {on_error}\n"), "{flag}");
            assert_ne!(plain, off, "{flag}");
        }
        for value in ["1", "t", "T", "TRUE", "true", "True"] {
            let out = repo.run(
                &[&base[..], &[&format!("{flag}={value}")]].concat(),
                &[],
                b"",
            );
            assert_eq!(outcome(&out), plain, "{flag}={value}");
        }
        for value in ["0", "f", "F", "FALSE", "false", "False"] {
            let out = repo.run(
                &[&base[..], &[&format!("{flag}={value}")]].concat(),
                &[],
                b"",
            );
            assert_eq!(outcome(&out), off, "{flag}={value}");
        }
        let out = repo.run(&[&base[..], &[&format!("{flag}=yes")]].concat(), &[], b"");
        assert_eq!(out.status.code(), Some(2), "{flag}=yes");
        assert!(
            stderr(&out).contains("invalid value 'yes'"),
            "{}",
            stderr(&out)
        );
    }
    // The connection booleans and --record-fingerprint: accepted the same way.
    for flag in [
        "--insecure-skip-tls-verify",
        "--disable-compression",
        "--record-fingerprint",
    ] {
        for value in ["true", "F", "0", "True"] {
            let out = repo.run(
                &["--cert", "cert.pem", &format!("{flag}={value}")],
                &[],
                SECRET.as_bytes(),
            );
            assert!(out.status.success(), "{flag}={value}: {}", stderr(&out));
        }
    }
    // Last wins, as in Go: --raw=true then --raw=false is not raw.
    let out = repo.run(
        &[
            "--cert",
            "cert.pem",
            "--raw=true",
            "--raw=false",
            "--fetch-cert",
        ],
        &[],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), repo.read("cert.pem"));
}

#[test]
fn a_repeated_flag_takes_its_last_value() {
    let repo = Repo::new();
    let out = repo.run(
        &[
            "--cert", "cert.pem", "-o", "yaml", "--format", "json", "--name", "a", "--name", "b",
        ],
        &[],
        SECRET.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with('{'), "JSON, the last -o: {text}");
    assert!(text.contains("\"name\": \"b\""), "{text}");
    // The last --kubeconfig is the one read.
    let out = repo.run(
        &[
            "--fetch-cert",
            "--kubeconfig",
            "first.yaml",
            "--kubeconfig",
            "second.yaml",
        ],
        &[],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("second.yaml"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("first.yaml"), "{}", stderr(&out));
    // Flags that collect values keep them all: two --cert seal for two clusters.
    let out = repo.run(
        &["--cert", "cert.pem", "--cert", "cert.pem", "--fetch-cert"],
        &[],
        b"",
    );
    assert_usage_error(
        &out,
        "--fetch-cert takes one certificate; several --cert or --environment are for sealing only",
    );
}

#[test]
fn klog_flags_are_accepted_and_hidden() {
    let repo = Repo::new();
    let klog = [
        "-v",
        "3",
        "--v=2",
        "-v=4",
        "--logtostderr",
        "--logtostderr=false",
        "--alsologtostderr",
        "--alsologtostderr=true",
        "--vmodule",
        "seal*=2",
        "--log_dir",
        "/nonexistent",
        "--log_file=/nonexistent/log",
        "--log_file_max_size",
        "10",
        "--stderrthreshold",
        "INFO",
        "--alsologtostderrthreshold=WARNING",
        "--log_backtrace_at",
        "main.go:1",
        "--add_dir_header",
        "--skip_headers=true",
        "--one_output",
        "--skip_log_headers",
        "--legacy_stderr_threshold_behavior=false",
    ];
    let out = repo.run(
        &[&["--fetch-cert", "--cert", "cert.pem"][..], &klog].concat(),
        &[],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), repo.read("cert.pem"));
    assert_eq!(stderr(&out), "");
    // klog's level is an integer.
    let out = repo.run(&["--fetch-cert", "--cert", "cert.pem", "-v", "x"], &[], b"");
    assert_eq!(out.status.code(), Some(2));
    let help = stdout(&repo.run(&["--help"], &[], b""));
    for name in [
        "vmodule",
        "log_dir",
        "logtostderr",
        "stderrthreshold",
        "--v ",
    ] {
        assert!(!help.contains(name), "{name} shown in --help");
    }
}

#[test]
fn from_file_splits_on_commas() {
    let repo = Repo::new();
    let raw = ["--raw", "--cert", "cert.pem", "-n", "ns", "--name", "s"];
    for (args, env) in [
        (&["--from-file", "value.txt,value.txt"][..], &[][..]),
        (
            &[][..],
            &[("SEALED_SECRETS_FROM_FILE", "value.txt,value.txt")][..],
        ),
    ] {
        let out = repo.run(&[&raw[..], args].concat(), env, b"");
        assert_usage_error(
            &out,
            "must provide only one --from-file when encrypting a single item with --raw",
        );
    }
    let out = repo.run(
        &[&raw[..], &["--from-file", "k=value.txt"]].concat(),
        &[],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(is_raw_ciphertext(&stdout(&out)));
}

/// pflag appends a list flag's command-line values to its variable's: so do we.
#[test]
fn list_variables_and_flags_add_up() {
    let repo = Repo::new();
    repo.sealed("sealed.json");
    let out = repo.run(
        &["keygen", "--key-size", "2048", "-w", "other.yaml"],
        &[],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let unseal = [
        "--recovery-unseal",
        "--recovery-private-key",
        "other.yaml",
        "-f",
        "sealed.json",
    ];
    let out = repo.run(
        &unseal,
        &[("SEALED_SECRETS_RECOVERY_PRIVATE_KEY", "key.yaml")],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("aGVsbG8="));
    let out = repo.run(&unseal, &[], b"");
    assert_eq!(
        out.status.code(),
        Some(1),
        "other.yaml alone does not open it"
    );

    let out = repo.run(
        &[
            "--raw",
            "--cert",
            "cert.pem",
            "-n",
            "ns",
            "--name",
            "s",
            "--from-file",
            "value.txt",
        ],
        &[("SEALED_SECRETS_FROM_FILE", "value.txt")],
        b"",
    );
    assert_usage_error(
        &out,
        "must provide only one --from-file when encrypting a single item with --raw",
    );

    let (port, requests) = recording_server();
    let server = format!("http://127.0.0.1:{port}");
    let out = repo.run(
        &[
            "--fetch-cert",
            "--server",
            &server,
            "--as",
            "me",
            "--as-group",
            "flag,group",
        ],
        &[("SEALED_SECRETS_AS_GROUP", "env,group")],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "the server answers 404");
    let request = requests.try_recv().unwrap().to_ascii_lowercase();
    let env = request
        .find("impersonate-group: env,group\r\n")
        .expect(&request);
    let flag = request
        .find("impersonate-group: flag,group\r\n")
        .expect(&request);
    assert!(env < flag, "{request}");
}

/// An empty variable is unset, as upstream reads `""` for these flags.
#[test]
fn empty_variables_are_unset() {
    let repo = Repo::new();
    let args = ["--cert", "cert.pem"];
    let plain = outcome(&repo.run(&args, &[], SECRET.as_bytes()));
    assert_eq!(plain.0, Some(0), "{}", plain.2);
    for var in [
        "SEALED_SECRETS_RAW",
        "SEALED_SECRETS_FETCH_CERT",
        "SEALED_SECRETS_MERGE_INTO",
        "SEALED_SECRETS_FROM_FILE",
        "SEALED_SECRETS_RECOVERY_PRIVATE_KEY",
        "SEALED_SECRETS_SEALED_SECRET_FILE",
        "SEALED_SECRETS_SCOPE",
    ] {
        let out = repo.run(&args, &[(var, "")], SECRET.as_bytes());
        assert_eq!(out.status.code(), Some(0), "{var}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{var}");
        assert!(stdout(&out).contains("\"kind\": \"SealedSecret\""), "{var}");
    }
    // With an empty SEALED_SECRETS_CERT the certificate comes from the controller.
    let out = repo.run(
        &["--fetch-cert", "--server", "http://127.0.0.1:1"],
        &[("SEALED_SECRETS_CERT", "")],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !stderr(&out).contains("cannot read certificate"),
        "{}",
        stderr(&out)
    );
}
