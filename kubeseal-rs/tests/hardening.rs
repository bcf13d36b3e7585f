//! Findings of the security review of the CLI (it reads files from untrusted pull requests):
//! alias expansion and every input are budgeted in bytes, `-w` patterns cannot leave their
//! directory, `--cert https://…` follows no redirect to another scheme and reads a bounded
//! body, `set` and `--merge-into` refuse a file `check` would refuse, and `check` fails on any
//! document that does not parse.
//!
//! Every case asserts the exact error line, the exit code, and that no output file was written
//! or changed (bytes and modification time compared before and after). Cert discovery limited
//! to `--controller-namespace` is proven on a real API server in `e2e_cert_discovery.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::SystemTime;

const MANIFEST_LIMIT: u64 = 16 * 1024 * 1024;
const CERT_LIMIT: u64 = 1024 * 1024;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeseal-rs"))
}

/// A scratch directory with a key pair `main` and another `other`, and a Secret.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        let repo = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        for name in ["main", "other"] {
            let out = repo.run(
                &[
                    "keygen",
                    "--key-size",
                    "2048",
                    "-w",
                    &format!("{name}.yaml"),
                    "--cert-out",
                    &format!("{name}.pem"),
                ],
                b"",
            );
            assert!(out.status.success(), "{}", stderr(&out));
        }
        repo.write(
            "secret.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\nstringData:\n  password: hardening-test-value\n",
        );
        repo
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs in the directory, with no cluster configuration reachable.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(bin())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("SEALED_SECRETS_CERT")
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

    /// A SealedSecret file sealed for prod/app with `main`, recording the certificate.
    fn sealed(&self, name: &str) -> PathBuf {
        let out = self.run(
            &[
                "--cert",
                "main.pem",
                "--record-fingerprint",
                "-f",
                "secret.yaml",
                "-w",
                name,
            ],
            b"",
        );
        assert!(out.status.success(), "{}", stderr(&out));
        self.path(name)
    }

    /// Fails with exactly `line` (plus a newline) on stderr, exit `code`, nothing on stdout,
    /// and leaves every file in `untouched` as it was.
    fn fails(&self, args: &[&str], stdin: &[u8], code: i32, line: &str, untouched: &[&Path]) {
        let before: Vec<_> = untouched.iter().map(|p| snapshot(p)).collect();
        let out = self.run(args, stdin);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
        assert_eq!(text, format!("{line}\n"), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: stdout must stay empty");
        assert!(!text.contains("panicked"));
        for (path, was) in untouched.iter().zip(before) {
            assert_eq!(snapshot(path), was, "{args:?}: {} changed", path.display());
        }
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(
                !name.to_string_lossy().starts_with(".kubeseal-rs-"),
                "{args:?}: a temporary file was left behind"
            );
        }
    }
}

/// The bytes and modification time of a file (`None` when it does not exist).
fn snapshot(path: &Path) -> Option<(Vec<u8>, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((std::fs::read(path).unwrap(), meta.modified().unwrap()))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn recorded_fingerprint(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("sealed-secrets-rs/sealed-with: "))
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

fn fingerprint_of(repo: &Repo, cert: &str) -> String {
    let sealed = repo.path(&format!("fp-{cert}.yaml"));
    let out = repo.run(
        &[
            "--cert",
            cert,
            "--record-fingerprint",
            "-f",
            "secret.yaml",
            "-w",
            sealed.to_str().unwrap(),
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    recorded_fingerprint(&sealed)
}

/// 300 aliases of a 3.35 KB list: 4.6 KB of text that expanded to 1 MB under the old node
/// budget (51 nodes an alias).
fn alias_bomb() -> String {
    let items = ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; 50].join(", ");
    let refs = ["*a"; 300].join(", ");
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\n  labels:\n    x: &a [{items}]\nstringData:\n  password: v\nbomb: [{refs}]\n"
    )
}

#[test]
fn alias_expansion_is_budgeted_in_bytes() {
    let repo = Repo::new();
    let bomb = repo.write("bomb.yaml", &alias_bomb());
    let out = repo.write("out.json", "previous\n");
    // 8 x 4.6 KB of input allows 11 copies of the 3.35 KB list: the 12th alias is refused.
    let column = "bomb: [".len() + "*a, ".len() * 11 + 1;
    repo.fails(
        &["--cert", "main.pem", "-f", "bomb.yaml", "-w", "out.json"],
        b"",
        1,
        &format!(
            "error: bomb.yaml: document 1: invalid YAML at line 10 column {column}: aliases expand to too much data"
        ),
        &[&out, &bomb],
    );
    // From stdin the error starts with the document.
    repo.fails(
        &["--cert", "main.pem", "-w", "out.json"],
        alias_bomb().as_bytes(),
        1,
        &format!(
            "error: document 1: invalid YAML at line 10 column {column}: aliases expand to too much data"
        ),
        &[&out],
    );
    // check reports it as a problem of the file.
    let result = repo.run(&["check", "bomb.yaml"], b"");
    assert_eq!(result.status.code(), Some(1));
    assert_eq!(
        stderr(&result),
        format!(
            "bomb.yaml: document 1: invalid YAML at line 10 column {column}: aliases expand to too much data\nerror: 1 problem found in 1 file checked\n"
        )
    );
}

#[test]
fn every_input_has_a_byte_budget() {
    let repo = Repo::new();
    let out = repo.write("out.json", "previous\n");
    let sealed = repo.sealed("sealed.yaml");
    let manifest = format!("larger than {MANIFEST_LIMIT} bytes");
    let cert = format!("larger than {CERT_LIMIT} bytes");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--cert", "main.pem", "-f", "/dev/zero", "-w", "out.json"],
            format!("error: /dev/zero: {manifest}"),
        ),
        (
            vec!["--cert", "/dev/zero", "-f", "secret.yaml", "-w", "out.json"],
            format!("error: /dev/zero: {cert}"),
        ),
        (
            vec![
                "--cert",
                "file:///dev/zero",
                "-f",
                "secret.yaml",
                "-w",
                "out.json",
            ],
            format!("error: /dev/zero: {cert}"),
        ),
        (
            vec![
                "--recovery-unseal",
                "--recovery-private-key",
                "/dev/zero",
                "-f",
                "sealed.yaml",
                "-w",
                "out.json",
            ],
            format!("error: /dev/zero: {manifest}"),
        ),
        (
            vec![
                "--raw",
                "--cert",
                "main.pem",
                "--name",
                "app",
                "-n",
                "prod",
                "--from-file",
                "/dev/zero",
                "-w",
                "out.json",
            ],
            format!("error: /dev/zero: {manifest}"),
        ),
        (
            vec![
                "--cert",
                "main.pem",
                "-f",
                "secret.yaml",
                "--merge-into",
                "/dev/zero",
            ],
            format!("error: /dev/zero: {manifest}"),
        ),
        (
            vec![
                "set",
                "sealed.yaml",
                "extra",
                "--cert",
                "main.pem",
                "--from-file",
                "/dev/zero",
            ],
            format!("error: /dev/zero: {manifest}"),
        ),
        (
            vec!["set", "/dev/zero", "extra", "--cert", "main.pem"],
            format!("error: /dev/zero: {manifest}"),
        ),
        (
            vec!["check", "/dev/zero"],
            format!("error: /dev/zero: {manifest}"),
        ),
        (
            vec!["check", "--config", "/dev/zero", "sealed.yaml"],
            format!("error: /dev/zero: larger than {CERT_LIMIT} bytes"),
        ),
        (
            vec![
                "reseal",
                "/dev/zero",
                "--cert",
                "main.pem",
                "--recovery-private-key",
                "main.yaml",
            ],
            format!("error: /dev/zero: {manifest}"),
        ),
    ];
    for (args, line) in &cases {
        repo.fails(args, b"", 1, line, &[&out, &sealed]);
    }
    // Stdin: one byte over the limit.
    let big = vec![b'#'; usize::try_from(MANIFEST_LIMIT).unwrap() + 1];
    repo.fails(
        &["--cert", "main.pem", "-w", "out.json"],
        &big,
        1,
        &format!("error: stdin: {manifest}"),
        &[&out],
    );
    repo.fails(
        &["set", "sealed.yaml", "extra", "--cert", "main.pem"],
        &big,
        1,
        &format!("error: stdin: {manifest}"),
        &[&sealed],
    );
    // A repository config whose environment certificate is /dev/zero.
    repo.write(
        "zero.toml",
        "[environments.prod]\ncert = \"/dev/zero\"\npaths = [\"**\"]\n",
    );
    repo.fails(
        &[
            "-e",
            "prod",
            "--config",
            "zero.toml",
            "-f",
            "secret.yaml",
            "-w",
            "out/{cluster}.yaml",
        ],
        b"",
        1,
        &format!("error: /dev/zero: {cert}"),
        &[&out, &repo.path("out/prod.yaml")],
    );
    let result = repo.run(&["check", "--config", "zero.toml", "sealed.yaml"], b"");
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).starts_with(&format!("zero.toml: /dev/zero: {cert}\n")),
        "{}",
        stderr(&result)
    );
}

#[test]
fn set_and_merge_refuse_a_file_check_would_refuse() {
    let repo = Repo::new();
    let sealed = repo.sealed("sealed.yaml");
    let main_fp = recorded_fingerprint(&sealed);
    let other_fp = fingerprint_of(&repo, "other.pem");
    let value = repo.write("value.txt", "new-value");

    // Moved to another namespace: the items are sealed for prod, the file says dev.
    let moved =
        std::fs::read_to_string(&sealed)
            .unwrap()
            .replacen("namespace: prod", "namespace: dev", 1);
    let tampered = repo.write("tampered.yaml", &moved);
    repo.fails(
        &["set", "tampered.yaml", "extra", "--cert", "main.pem", "--from-file", "value.txt"],
        b"",
        1,
        &format!(
            "error: tampered.yaml: SealedSecret dev/app: refusing to set: the file is sealed for namespace prod, name app, scope strict, certificate {main_fp}; set would seal for namespace dev, name app, scope strict, certificate {main_fp} (check: tampered.yaml: SealedSecret dev/app: sealed for namespace prod, placed in dev); nothing was written"
        ),
        &[&tampered, &value],
    );
    repo.fails(
        &["--cert", "main.pem", "-f", "secret.yaml", "--merge-into", "tampered.yaml"],
        b"",
        1,
        &format!(
            "error: tampered.yaml: SealedSecret dev/app: refusing to merge: the file is sealed for namespace prod, name app, scope strict, certificate {main_fp}; merge would seal for namespace dev, name app, scope strict, certificate {main_fp} (check: tampered.yaml: SealedSecret dev/app: sealed for namespace prod, placed in dev); nothing was written"
        ),
        &[&tampered],
    );

    // The scope annotation changed on the outer metadata only.
    let widened = std::fs::read_to_string(&sealed).unwrap().replacen(
        "  annotations:\n",
        "  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"true\"\n",
        1,
    );
    let widened_path = repo.write("widened.yaml", &widened);
    repo.fails(
        &["set", "widened.yaml", "extra", "--cert", "main.pem", "--from-file", "value.txt"],
        b"",
        1,
        &format!(
            "error: widened.yaml: SealedSecret prod/app: refusing to set: the file is sealed for namespace prod, name app, scope strict, certificate {main_fp}; set would seal for namespace prod, name app, scope cluster-wide, certificate {main_fp} (check: widened.yaml: SealedSecret prod/app: sealed for scope strict, annotated cluster-wide); nothing was written"
        ),
        &[&widened_path],
    );

    // Another cluster's certificate, for a clean file.
    repo.fails(
        &["set", "sealed.yaml", "extra", "--cert", "other.pem", "--from-file", "value.txt"],
        b"",
        1,
        &format!(
            "error: sealed.yaml: SealedSecret prod/app: refusing to set: the file is sealed for namespace prod, name app, scope strict, certificate {main_fp}; set would seal for namespace prod, name app, scope strict, certificate {other_fp}; nothing was written"
        ),
        &[&sealed],
    );
    repo.fails(
        &["--cert", "other.pem", "-f", "secret.yaml", "--merge-into", "sealed.yaml"],
        b"",
        1,
        &format!(
            "error: sealed.yaml: SealedSecret prod/app: refusing to merge: the file is sealed for namespace prod, name app, scope strict, certificate {main_fp}; merge would seal for namespace prod, name app, scope strict, certificate {other_fp}; nothing was written"
        ),
        &[&sealed],
    );
    // --scope other than the file's.
    repo.fails(
        &["--cert", "main.pem", "-f", "secret.yaml", "--merge-into", "sealed.yaml", "--scope", "namespace-wide"],
        b"",
        1,
        &format!(
            "error: sealed.yaml: SealedSecret prod/app: refusing to merge: the file is sealed for namespace prod, name app, scope strict, certificate {main_fp}; merge would seal for namespace prod, name app, scope namespace-wide, certificate {main_fp}; nothing was written"
        ),
        &[&sealed],
    );
    // A certificate the repository config does not pin for the file.
    repo.write(
        ".sealed-secrets.toml",
        &format!("[environments.prod]\nfingerprints = [\"{other_fp}\"]\npaths = [\"pinned\"]\n"),
    );
    let pinned = repo.path("pinned/sealed.yaml");
    std::fs::create_dir_all(pinned.parent().unwrap()).unwrap();
    std::fs::copy(&sealed, &pinned).unwrap();
    repo.fails(
        &["set", "pinned/sealed.yaml", "extra", "--cert", "main.pem", "--from-file", "value.txt"],
        b"",
        1,
        &format!(
            "error: pinned/sealed.yaml: SealedSecret prod/app: refusing to set: the file is sealed for namespace prod, name app, scope strict, certificate {main_fp}; set would seal for namespace prod, name app, scope strict, certificate {main_fp} (check: pinned/sealed.yaml: SealedSecret prod/app: sealed with {main_fp}, which is not a certificate pinned for prod); nothing was written"
        ),
        &[&pinned],
    );
    std::fs::remove_file(repo.path(".sealed-secrets.toml")).unwrap();

    // A consistent file is still edited.
    let out = repo.run(
        &[
            "set",
            "sealed.yaml",
            "extra",
            "--cert",
            "main.pem",
            "--from-file",
            "value.txt",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = repo.run(
        &[
            "--cert",
            "main.pem",
            "-f",
            "secret.yaml",
            "--merge-into",
            "sealed.yaml",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn write_patterns_cannot_leave_their_directory() {
    let repo = Repo::new();
    repo.write(
        "envs.toml",
        "[environments.\"../escape\"]\ncert = \"main.pem\"\n\n[environments.\".hidden\"]\ncert = \"main.pem\"\n\n[environments.prod]\ncert = \"main.pem\"\n",
    );
    let escape = repo.path("escape/app.yaml");
    let pattern = "out/{cluster}/{name}.yaml";
    repo.fails(
        &["-e", "../escape", "--config", "envs.toml", "-f", "secret.yaml", "-w", pattern],
        b"",
        1,
        &format!(
            "error: document 1: -w \"{pattern}\": the value of {{cluster}} contains a path separator, so it cannot be part of a file path"
        ),
        &[&escape],
    );
    repo.fails(
        &["-e", ".hidden", "--config", "envs.toml", "-f", "secret.yaml", "-w", pattern],
        b"",
        1,
        &format!(
            "error: document 1: -w \"{pattern}\": the value of {{cluster}} starts with ., so it cannot be part of a file path"
        ),
        &[&repo.path("out/.hidden/app.yaml")],
    );
    // A Secret whose name climbs out.
    repo.write(
        "dots.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"..\"\n  namespace: prod\nstringData:\n  a: b\n",
    );
    repo.fails(
        &["-e", "prod", "--config", "envs.toml", "-f", "dots.yaml", "-w", pattern],
        b"",
        1,
        &format!(
            "error: document 1: -w \"{pattern}\": the value of {{name}} contains .., so it cannot be part of a file path"
        ),
        &[&repo.path("out/prod/...yaml")],
    );
    // Fixed parts after a placeholder that climb out of the prefix's directory.
    let climbing = "out/{cluster}/../../escape.yaml";
    repo.fails(
        &[
            "-e",
            "prod",
            "--config",
            "envs.toml",
            "-f",
            "secret.yaml",
            "-w",
            climbing,
        ],
        b"",
        1,
        &format!("error: document 1: -w \"{climbing}\": out/prod/../../escape.yaml is outside out"),
        &[&repo.path("escape.yaml")],
    );
    // A directory planted as a symbolic link under the output directory.
    std::fs::create_dir_all(repo.path("out")).unwrap();
    std::fs::create_dir_all(repo.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink(repo.path("elsewhere"), repo.path("out/prod")).unwrap();
    repo.fails(
        &["-e", "prod", "--config", "envs.toml", "-f", "secret.yaml", "-w", pattern],
        b"",
        1,
        &format!(
            "error: document 1: -w \"{pattern}\": out/prod is a symbolic link; refusing to write through it"
        ),
        &[&repo.path("elsewhere/app.yaml")],
    );
    assert_eq!(
        std::fs::read_dir(repo.path("elsewhere")).unwrap().count(),
        0
    );
    std::fs::remove_file(repo.path("out/prod")).unwrap();
    // The ordinary case still works.
    let out = repo.run(
        &[
            "-e",
            "prod",
            "--config",
            "envs.toml",
            "-f",
            "secret.yaml",
            "-w",
            pattern,
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(repo.path("out/prod/app.yaml").is_file());
}

/// A tiny HTTP server on 127.0.0.1: `/redirect-https` answers 302 to an https:// URL,
/// `/redirect-same` 302 to `/cert.pem`, `/cert.pem` the certificate, `/big.pem` 2 MiB.
fn serve(cert: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let request = String::from_utf8_lossy(&request);
            let path = request.split(' ').nth(1).unwrap_or("").to_owned();
            let big = vec![b'A'; 2 * 1024 * 1024];
            let (status, location, body): (&str, String, &[u8]) = match path.as_str() {
                "/redirect-https" => (
                    "302 Found",
                    format!("Location: https://127.0.0.1:{port}/cert.pem\r\n"),
                    b"",
                ),
                "/redirect-same" => ("302 Found", "Location: /cert.pem\r\n".to_owned(), b""),
                "/cert.pem" => ("200 OK", String::new(), &cert),
                "/big.pem" => ("200 OK", String::new(), &big),
                _ => ("404 Not Found", String::new(), b""),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{location}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(body);
        }
    });
    port
}

#[test]
fn cert_urls_do_not_change_scheme_and_are_bounded() {
    let repo = Repo::new();
    let out = repo.write("out.json", "previous\n");
    let port = serve(std::fs::read(repo.path("main.pem")).unwrap());
    let base = format!("http://127.0.0.1:{port}");
    repo.fails(
        &["--cert", &format!("{base}/redirect-https"), "-f", "secret.yaml", "-w", "out.json"],
        b"",
        1,
        &format!(
            "error: cannot fetch \"{base}/redirect-https\": redirected to https://127.0.0.1:{port}/cert.pem, another scheme than http; refused"
        ),
        &[&out],
    );
    repo.fails(
        &[
            "--cert",
            &format!("{base}/big.pem"),
            "-f",
            "secret.yaml",
            "-w",
            "out.json",
        ],
        b"",
        1,
        &format!("error: {base}/big.pem: larger than {CERT_LIMIT} bytes"),
        &[&out],
    );
    // A redirect within the scheme is followed.
    let result = repo.run(
        &[
            "--cert",
            &format!("{base}/redirect-same"),
            "-f",
            "secret.yaml",
        ],
        b"",
    );
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(String::from_utf8_lossy(&result.stdout).contains("\"SealedSecret\""));
}

#[test]
fn check_fails_on_a_broken_document_after_a_secret() {
    let repo = Repo::new();
    let file = repo.write(
        "x.yaml",
        "apiVersion: v1\nkind: 'Secret'\nmetadata:\n  name: s\nstringData:\n  a: hardening-test-value\n---\nb: [unclosed\n",
    );
    let before = snapshot(&file);
    let out = repo.run(&["check", "x.yaml"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("x.yaml: document 2: invalid YAML at line "),
        "{text}"
    );
    assert_eq!(lines[1], "error: 1 problem found in 1 file checked");
    assert!(!text.contains("hardening-test-value"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("no problems"));
    assert_eq!(snapshot(&file), before);
}

/// A server that accepts and never answers: the fetch gives up on its own (the read timeout,
/// 30 s) with a one-line error, and nothing is written.
#[test]
fn a_cert_url_that_never_answers_times_out() {
    let repo = Repo::new();
    let out = repo.write("out.json", "previous\n");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let url = format!("http://127.0.0.1:{port}/cert.pem");
    repo.fails(
        &["--cert", &url, "-f", "secret.yaml", "-w", "out.json"],
        b"",
        1,
        &format!("error: cannot fetch \"{url}\": timed out"),
        &[&out],
    );
}
