//! `kubeseal-rs keys` on bad input, without a cluster: every case is refused with one exact
//! line on stderr, the right exit code (2 usage, 1 failure), nothing on stdout, and no file
//! changed. The input is checked before any connection is made (the kubeconfig given points
//! nowhere, so a test that reached the network would fail differently). The cases that need a
//! cluster (a key in use, an unknown fingerprint, an existing Secret with another key) are in
//! `controller/tests/e2e_keys.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeseal-rs"))
}

/// Runs `kubeseal-rs args…` with a kubeconfig that names an unreachable server.
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nusers:\n- name: u\n  user: {token: t}\ncurrent-context: x\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(args)
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("SEALED_SECRETS_CONTROLLER_NAMESPACE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A key Secret from `keygen`, as YAML.
fn key_secret(dir: &Path) -> String {
    let path = dir.join("key.yaml");
    let out = Command::new(bin())
        .args(["keygen", "--key-size", "2048", "-n", "ns", "-w"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::read_to_string(path).unwrap()
}

fn refused(dir: &Path, args: &[&str], code: i32, stderr: &str) {
    let (got_code, stdout, got_stderr) = run(dir, args);
    assert_eq!(
        (got_code, got_stderr.as_str()),
        (code, format!("error: {stderr}\n").as_str()),
        "{args:?}"
    );
    assert!(stdout.is_empty(), "{args:?}: stdout {stdout}");
}

#[test]
fn restore_refuses_bad_files_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = |name: &str, text: &str| {
        let path = d.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let missing = d.join("missing.yaml");
    let missing = missing.to_str().unwrap();
    refused(
        d,
        &["keys", "restore", missing],
        1,
        &format!("cannot read {missing}: No such file or directory (os error 2)"),
    );

    let key = key_secret(d);
    // A List with a ConfigMap among key Secrets: nothing of it is restored.
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n- {}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: c}}\n",
        key.trim_start_matches("---\n")
            .replace('\n', "\n  ")
            .trim_end()
    );
    let wrong_kind = file("wrong-kind.yaml", &list);
    refused(
        d,
        &["keys", "restore", &wrong_kind],
        1,
        &format!("{wrong_kind}: document 1, item 2 is a ConfigMap, expected a Secret"),
    );

    let opaque = file(
        "opaque.yaml",
        &key.replace("type: kubernetes.io/tls", "type: Opaque"),
    );
    refused(
        d,
        &["keys", "restore", &opaque],
        1,
        &format!(
            "{opaque}: document 1 (Secret \"sealed-secrets-key\") is not a key Secret: type \"Opaque\", expected \"kubernetes.io/tls\""
        ),
    );

    let unlabelled = file(
        "unlabelled.yaml",
        &key.replace(
            "sealedsecrets.bitnami.com/sealed-secrets-key: active",
            "app: x",
        ),
    );
    refused(
        d,
        &["keys", "restore", &unlabelled],
        1,
        &format!(
            "{unlabelled}: document 1 (Secret \"sealed-secrets-key\") is not a key Secret: no sealedsecrets.bitnami.com/sealed-secrets-key label"
        ),
    );

    // A wrapped key Secret (ADR 0008) whose envelope is not one: refused, the item named.
    let tls_key = key
        .lines()
        .find(|l| l.trim_start().starts_with("tls.key:"))
        .unwrap()
        .to_owned();
    let indent = &tls_key[..tls_key.len() - tls_key.trim_start().len()];
    let bad_envelope = file(
        "bad-envelope.yaml",
        &key.replace(
            &tls_key,
            &format!("{indent}tls.key: ''\n{indent}tls.key.kms: bm90IGFuIGVudmVsb3Bl"),
        ),
    );
    refused(
        d,
        &["keys", "restore", &bad_envelope],
        1,
        &format!(
            "{bad_envelope}: document 1 (Secret \"sealed-secrets-key\"): the tls.key.kms item is not a key envelope: syntax error at column 2"
        ),
    );

    let empty = file("empty.yaml", "---\n");
    refused(
        d,
        &["keys", "restore", &empty],
        1,
        &format!("{empty} holds no key Secret"),
    );
}

#[test]
fn backup_never_replaces_a_file_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let existing = d.join("backup.yaml");
    std::fs::write(&existing, "older backup\n").unwrap();
    let existing = existing.to_str().unwrap();
    refused(
        d,
        &["keys", "backup", "-w", existing],
        1,
        &format!("{existing} exists; use --force to replace it"),
    );
    assert_eq!(std::fs::read_to_string(existing).unwrap(), "older backup\n");
    // With --force it connects (and here fails to), leaving the file as it was.
    let (code, stdout, stderr) = run(d, &["keys", "backup", "-w", existing, "--force"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with("error: cannot reach the API server https://127.0.0.1:1"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(existing).unwrap(), "older backup\n");
}

#[test]
fn prune_needs_an_explicit_selection() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    refused(
        d,
        &["keys", "prune"],
        2,
        "keys prune needs the FINGERPRINT of each key to delete, or --older-than",
    );
    refused(
        d,
        &["keys", "prune", "SHA256:x", "--older-than", "30d"],
        2,
        "keys prune takes FINGERPRINTs or --older-than, not both",
    );
    refused(
        d,
        &["keys", "prune", "--older-than", "5y"],
        2,
        "invalid duration \"5y\": use units w, d, h, m or s, e.g. 87600h",
    );
    let (code, _, stderr) = run(d, &["keys", "backup"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error: the following required arguments were not provided"),
        "{stderr}"
    );
}
