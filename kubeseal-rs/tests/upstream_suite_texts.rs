//! The texts and inputs of upstream's integration suite (`integration/kubeseal_test.go` of
//! v0.40.0), pinned offline: the suite itself runs in `controller/tests/upstream_suite.rs`
//! (`SSRS_E2E=1`). Each test quotes the suite's expectation it stands for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The path the suite gives for a file that cannot exist.
const MISSING: &str = "/?this/file/cannot/possibly/exist/right?";

/// Runs kubeseal-rs with `stdin` (`None`: no stdin at all, as the suite's nil reader).
fn kubeseal(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("SEALED_SECRETS_CERT")
        .env("HOME", "/nonexistent")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        // A command that fails before it reads its input (the point of some of these tests)
        // may exit first: the pipe is then closed, which is not the test's failure.
        match child.stdin.take().unwrap().write_all(bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// `kubeseal --version`: `^kubeseal version: (v[0-9]+\.[0-9]+\.[0-9]+|[0-9a-f]{40})(\+dirty)?`,
/// then the upstream release we are compatible with (issue 15.12).
#[test]
fn version_matches_upstream_format() {
    let out = kubeseal(&["--version"], None);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        format!(
            "kubeseal version: v{}\nkubeseal-rs, compatible with kubeseal v0.40.0\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(text(&out.stderr), "");
    // -V is the same flag.
    assert_eq!(kubeseal(&["-V"], None).stdout, out.stdout);
}

/// `kubeseal --cert <missing>`: `^error:.*no such file or directory` on stderr, whether stdin
/// is empty or holds a Secret: the certificate is opened first, as upstream does.
#[test]
fn missing_cert_file_is_reported_first_in_go_words() {
    let expected =
        format!("error: cannot read certificate: open {MISSING}: no such file or directory\n");
    let secret = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns\ndata:\n  foo: YmFy\n";
    for stdin in [None, Some(&b""[..]), Some(&secret[..])] {
        let out = kubeseal(&["--cert", MISSING], stdin);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(text(&out.stderr), expected);
        assert_eq!(text(&out.stdout), "");
    }
    // --raw and --merge-into open it before the value too.
    let out = kubeseal(
        &["--cert", MISSING, "--raw", "-n", "ns", "--name", "s"],
        Some(b"bar"),
    );
    assert_eq!(text(&out.stderr), expected);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("sealed.yaml");
    std::fs::write(
        &target,
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: s\n  namespace: ns\nspec:\n  encryptedData: {}\n",
    )
    .unwrap();
    let out = kubeseal(
        &["--cert", MISSING, "--merge-into", target.to_str().unwrap()],
        None,
    );
    assert_eq!(text(&out.stderr), expected);
}

/// A key pair from `kubeseal-rs keygen`: (key Secret as JSON, certificate path).
fn keygen(dir: &Path) -> (serde_json::Value, String) {
    let cert = dir.join("cert.pem");
    let out = kubeseal(
        &[
            "keygen",
            "--key-size",
            "2048",
            "-o",
            "json",
            "--cert-out",
            cert.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        cert.to_str().unwrap().to_owned(),
    )
}

/// The suite's SealedSecret: `default/testSecret` with `foo: bar`.
fn sealed_test_secret(cert: &str) -> Vec<u8> {
    let out = kubeseal(
        &["--cert", cert],
        Some(br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"testSecret","namespace":"default"},"data":{"foo":"YmFy"}}"#),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    out.stdout
}

/// `kubeseal --recovery-unseal --kubeconfig <missing>` without `--recovery-private-key`: the
/// input is read and `^error:.*key could decrypt secret (.*)` is the failure (exit 1, not a
/// usage error), with the missing flag named after upstream's text.
#[test]
fn recovery_without_keys_fails_like_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert) = keygen(dir.path());
    let sealed = sealed_test_secret(&cert);
    let out = kubeseal(
        &["--recovery-unseal", "--kubeconfig", MISSING],
        Some(&sealed),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("no key could decrypt secret (foo); no --recovery-private-key was given"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(text(&out.stdout), "");
}

/// `--recovery-private-key` naming what the suite writes: `json.Marshal` of the key
/// `SecretList`, with no `kind` nor `apiVersion` on the list or its items.
#[test]
fn recovery_reads_a_kindless_secret_list() {
    let dir = tempfile::tempdir().unwrap();
    let (mut key_secret, cert) = keygen(dir.path());
    let sealed = sealed_test_secret(&cert);
    let object = key_secret.as_object_mut().unwrap();
    object.remove("kind");
    object.remove("apiVersion");
    let list = serde_json::json!({ "metadata": { "resourceVersion": "1" }, "items": [key_secret] });
    let keys = dir.path().join("key");
    std::fs::write(&keys, serde_json::to_vec(&list).unwrap()).unwrap();
    let out = kubeseal(
        &[
            "--recovery-unseal",
            "--kubeconfig",
            MISSING,
            "--recovery-private-key",
            keys.to_str().unwrap(),
        ],
        Some(&sealed),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(secret["data"]["foo"], "YmFy");
}
