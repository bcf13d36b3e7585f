//! Issue 15, "the CLI as a new user meets it": the exact text users read for empty values, a
//! Secret without a namespace on a machine without kubeconfig, `cert`, a certificate given as a
//! private key, an unknown environment, `check`'s count and objects pasted without `---`.
//! Each failure: its exit code, the whole stderr, nothing on stdout, no file written or changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const VALUE: &str = "Sup3r-Secret-Plaintext";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs in `dir` with no kubeconfig (no `$KUBECONFIG`, `$HOME` without `.kube`, not in a pod).
fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"))
        .args(args)
        .current_dir(dir)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("SEALED_SECRETS_CERT")
        .env("HOME", dir.join("home"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    for leak in [VALUE, "BEGIN"] {
        assert!(
            !run.stderr.contains(leak),
            "{args:?} leaked: {}",
            run.stderr
        );
    }
    run
}

/// A directory with a key pair (`key.yaml`, `cert.pem`) and a sealed file `sealed.yaml`.
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let out = run(
        path,
        &[
            "keygen",
            "--key-size",
            "2048",
            "-w",
            "key.yaml",
            "--cert-out",
            "cert.pem",
        ],
        b"",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let fingerprint = out
        .stdout
        .strip_prefix("fingerprint: ")
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap()
        .to_owned();
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\nstringData:\n  password: {VALUE}\n"
    );
    let out = run(
        path,
        &["--cert", "cert.pem", "-w", "sealed.yaml"],
        secret.as_bytes(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    (dir, fingerprint)
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    all.sort();
    all
}

/// Runs a command that must fail with `code` and exactly `stderr`, changing no file.
fn fails(dir: &Path, args: &[&str], stdin: &[u8], code: i32, stderr: &str) {
    let before = files(dir);
    let out = run(dir, args, stdin);
    assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
    assert_eq!(out.stderr, stderr, "{args:?}");
    assert_eq!(out.stdout, "", "{args:?}");
    assert_eq!(files(dir), before, "{args:?} changed a file");
}

#[test]
fn set_refuses_an_empty_value() {
    let (dir, _) = setup();
    let path = dir.path();
    std::fs::write(path.join("empty"), b"").unwrap();
    fails(
        path,
        &["set", "sealed.yaml", "token", "--cert", "cert.pem"],
        b"",
        1,
        "error: sealed.yaml: SealedSecret prod/app: refusing to set item \"token\" to an empty value (read from stdin); pass --allow-empty to store one\n",
    );
    fails(
        path,
        &[
            "set",
            "sealed.yaml",
            "token",
            "--cert",
            "cert.pem",
            "--from-file",
            "empty",
        ],
        b"",
        1,
        "error: sealed.yaml: SealedSecret prod/app: refusing to set item \"token\" to an empty value (read from empty); pass --allow-empty to store one\n",
    );
    let out = run(
        path,
        &[
            "set",
            "sealed.yaml",
            "token",
            "--cert",
            "cert.pem",
            "--allow-empty",
        ],
        b"",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The file was sealed without --record-fingerprint: set says so after the change.
    let (done, note) = out.stderr.split_once('\n').unwrap();
    assert_eq!(
        done,
        "sealed.yaml: SealedSecret prod/app: set item \"token\""
    );
    assert!(
        note.starts_with(
            "note: sealed.yaml: SealedSecret prod/app records no certificate (sealed-with)"
        ) && note.lines().count() == 1,
        "{note}"
    );
    let opened = run(
        path,
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            "key.yaml",
            "-f",
            "sealed.yaml",
            "-o",
            "yaml",
        ],
        b"",
    );
    assert!(opened.stdout.contains("token: \"\""), "{}", opened.stdout);
}

#[test]
fn a_secret_without_namespace_is_sealed_for_default_without_kubeconfig() {
    let (dir, _) = setup();
    let path = dir.path();
    // What `kubectl create secret generic app --from-literal=… --dry-run=client -o yaml` prints.
    let secret = format!(
        "apiVersion: v1\ndata:\n  password: {}\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: app\n",
        "U3VwM3ItU2VjcmV0LVBsYWludGV4dA=="
    );
    let out = run(
        path,
        &["--cert", "cert.pem", "-o", "yaml"],
        secret.as_bytes(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "note: the input declares no namespace and there is no -n or kubeconfig: sealing for namespace \"default\", as kubectl does\n"
    );
    assert!(
        out.stdout.contains("  namespace: default\n"),
        "{}",
        out.stdout
    );
    // With -n, or a namespace in the input: no note.
    let out = run(
        path,
        &["--cert", "cert.pem", "-n", "prod"],
        secret.as_bytes(),
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    // Cluster-wide needs no namespace: no note.
    let out = run(
        path,
        &["--cert", "cert.pem", "--scope", "cluster-wide"],
        secret.as_bytes(),
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    // With a kubeconfig, its context's namespace (here none: `default`), silently, as before.
    std::fs::create_dir_all(path.join("home/.kube")).unwrap();
    std::fs::write(
        path.join("home/.kube/config"),
        "apiVersion: v1\nkind: Config\ncontexts:\n- name: c\n  context: {cluster: x, namespace: team}\ncurrent-context: c\n",
    )
    .unwrap();
    let out = run(
        path,
        &["--cert", "cert.pem", "-o", "yaml"],
        secret.as_bytes(),
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert!(out.stdout.contains("  namespace: team\n"), "{}", out.stdout);
}

#[test]
fn cert_shows_what_pins_use() {
    let (dir, fingerprint) = setup();
    let path = dir.path();
    let out = run(path, &["cert", "cert.pem"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{}", out.stdout);
    assert_eq!(lines[0], "subject:     (empty)");
    assert!(lines[1].starts_with("not before:  20"), "{}", lines[1]);
    assert!(lines[2].starts_with("not after:   20"), "{}", lines[2]);
    assert_eq!(lines[3], "key size:    2048 bits");
    assert_eq!(lines[4], format!("fingerprint: {fingerprint}"));
    // The same form `--record-fingerprint` records (and `.sealed-secrets.toml` pins).
    let out = run(
        path,
        &["--cert", "cert.pem", "--record-fingerprint", "-o", "yaml"],
        b"apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: prod}\nstringData: {a: b}\n",
    );
    assert!(
        out.stdout
            .contains(&format!("sealed-secrets-rs/sealed-with: {fingerprint}\n")),
        "{}",
        out.stdout
    );
    // keygen without -w: the key Secret on stdout, the fingerprint on stderr.
    let out = run(path, &["keygen", "--key-size", "2048"], b"");
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("\nkind: Secret\n"));
    assert!(
        out.stderr.starts_with("fingerprint: SHA256:") && out.stderr.lines().count() == 1,
        "{}",
        out.stderr
    );
    // A file:// URL works like a path; nothing, or a path with --fetch, is a usage error.
    let url = format!("file://{}", path.join("cert.pem").display());
    let by_path = run(path, &["cert", "cert.pem"], b"").stdout;
    assert_eq!(run(path, &["cert", &url], b"").stdout, by_path);
    fails(
        path,
        &["cert"],
        b"",
        2,
        "error: cert: give a certificate file or URL, or --fetch for the controller's\n",
    );
    fails(
        path,
        &["cert", "--fetch"],
        b"",
        1,
        "error: cannot fetch certificate: no cluster to connect to: no kubeconfig found (--kubeconfig, KUBECONFIG or ~/.kube/config) and not running in a pod\n",
    );
}

#[test]
fn a_certificate_given_as_private_key_is_named() {
    let (dir, _) = setup();
    fails(
        dir.path(),
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            "cert.pem",
            "-f",
            "sealed.yaml",
        ],
        b"",
        1,
        "error: cert.pem: this is a certificate, not a private key; --recovery-private-key takes the controller's private keys (PEM keys, key Secret manifests or Lists of them, e.g. from kubeseal-rs keys backup)\n",
    );
}

#[test]
fn an_unknown_environment_lists_the_known_ones() {
    let (dir, _) = setup();
    let path = dir.path();
    std::fs::write(
        path.join(".sealed-secrets.toml"),
        "[environments.prod]\ncert = \"cert.pem\"\n[environments.staging]\ncert = \"cert.pem\"\n",
    )
    .unwrap();
    let config = path.join(".sealed-secrets.toml");
    let config = std::fs::canonicalize(config).unwrap();
    fails(
        path,
        &["-e", "prd", "-w", "out/{cluster}/{name}.yaml"],
        b"apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: prod}\nstringData: {a: b}\n",
        1,
        &format!(
            "error: {}: no environment \"prd\"; it defines prod, staging\n",
            config.display()
        ),
    );
    assert!(!path.join("out").exists());
}

#[test]
fn check_counts_in_the_singular() {
    let (dir, _) = setup();
    let out = run(dir.path(), &["check", "sealed.yaml"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "checked 1 file: no problems\n");
}

#[test]
fn objects_pasted_without_a_separator_are_reported() {
    let (dir, _) = setup();
    std::fs::write(
        dir.path().join("two.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: prod\nstringData:\n  a: b\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n  namespace: prod\nstringData:\n  a: c\n",
    )
    .unwrap();
    fails(
        dir.path(),
        &["--cert", "cert.pem", "-f", "two.yaml", "-w", "out.yaml"],
        b"",
        1,
        "error: two.yaml: document 1: invalid YAML at line 8 column 13: a second top-level apiVersion or kind: objects concatenated without a --- line between them?\n",
    );
}

/// Runs `command` on a terminal (util-linux `script`), typing `input`; `None` without `script`.
fn on_terminal(dir: &Path, command: &str, input: &[u8]) -> Option<(i32, String)> {
    let mut child = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .current_dir(dir)
        .env("HOME", dir.join("home"))
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    Some((
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
    ))
}

#[test]
fn the_prompt_asks_twice() {
    let (dir, _) = setup();
    let path = dir.path();
    let bin = env!("CARGO_BIN_EXE_kubeseal-rs");
    let before = std::fs::read(path.join("sealed.yaml")).unwrap();
    let set = format!("{bin} set sealed.yaml token --cert cert.pem");
    let Some((code, out)) = on_terminal(path, &set, b"first-try\nsecond-try\n") else {
        eprintln!("no script(1): skipped");
        return;
    };
    assert_eq!(code, 1, "{out}");
    assert!(
        out.ends_with(
            "value for token (input hidden): \nagain, to confirm: \nerror: the two values typed for \"token\" differ; nothing was written\n"
        ),
        "{out}"
    );
    assert_eq!(std::fs::read(path.join("sealed.yaml")).unwrap(), before);
    let (code, out) = on_terminal(path, &set, b"\n\n").unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.ends_with("error: sealed.yaml: SealedSecret prod/app: refusing to set item \"token\" to an empty value (read from the prompt); pass --allow-empty to store one\n"),
        "{out}"
    );
    assert_eq!(std::fs::read(path.join("sealed.yaml")).unwrap(), before);
    let (code, out) = on_terminal(path, &set, b"same-value\nsame-value\n").unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("set item \"token\"\n"), "{out}");
    let opened = run(
        path,
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            "key.yaml",
            "-f",
            "sealed.yaml",
            "-o",
            "yaml",
        ],
        b"",
    );
    assert!(
        opened.stdout.contains("token: c2FtZS12YWx1ZQ==\n"), // base64 of same-value
        "{}",
        opened.stdout
    );
}
