//! Every malformed input gets one line on stderr naming the problem, exit 1 (2 for usage; clap's
//! own usage errors are shown whole),
//! no panic, no secret value in the message, and no output file written or truncated.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SECRET_VALUE: &str = "Sup3r-Secret-Plaintext";

struct Env {
    dir: tempfile::TempDir,
    cert: String,
    key: String,
    other_key: String,
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeseal-rs"))
}

fn keygen(dir: &Path, name: &str, extra: &[&str]) -> (String, String) {
    let key = dir.join(format!("{name}.yaml"));
    let cert = dir.join(format!("{name}.pem"));
    let mut args = vec![
        "keygen",
        "--key-size",
        "2048",
        "-w",
        key.to_str().unwrap(),
        "--cert-out",
        cert.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = Command::new(bin()).args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        key.to_str().unwrap().to_owned(),
        cert.to_str().unwrap().to_owned(),
    )
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = keygen(dir.path(), "main", &[]);
    let (other_key, _) = keygen(dir.path(), "other", &[]);
    Env {
        dir,
        cert,
        key,
        other_key,
    }
}

fn secret(extra_meta: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\n{extra_meta}data:\n{data}"
    )
}

fn good_secret() -> String {
    // base64 of SECRET_VALUE
    secret("", "  password: U3VwM3ItU2VjcmV0LVBsYWludGV4dA==\n")
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    stdin: String,
    code: i32,
    stderr: &'static str,
}

fn run_case(case: &Case, out_file: &Path) {
    std::fs::write(out_file, "previous content\n").unwrap();
    let mut child = Command::new(bin())
        .args(&case.args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(case.stdin.as_bytes()); // may exit before reading
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(case.code),
        "{}: stderr {stderr}",
        case.name
    );
    assert!(
        stderr.contains(case.stderr),
        "{}: expected {:?} in {stderr:?}",
        case.name,
        case.stderr
    );
    // Failures are one line; clap's usage errors (exit 2) are shown whole, as clap renders
    // them (tests/usage_errors.rs), and end with its pointer to --help.
    let clap_usage = case.code == 2 && stderr.ends_with("For more information, try '--help'.\n");
    assert!(
        clap_usage || stderr.trim_end().lines().count() == 1,
        "{}: one line, got {stderr:?}",
        case.name
    );
    assert!(!stderr.contains("panicked"), "{}: {stderr}", case.name);
    for leak in [SECRET_VALUE, "U3VwM3ItU2VjcmV0LVBsYWludGV4dA", "BEGIN"] {
        assert!(
            !stderr.contains(leak),
            "{}: leaked {leak:?} in {stderr}",
            case.name
        );
    }
    assert!(
        out.stdout.is_empty(),
        "{}: stdout must stay empty",
        case.name
    );
    assert_eq!(
        std::fs::read_to_string(out_file).unwrap(),
        "previous content\n",
        "{}: output file must be untouched",
        case.name
    );
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

#[test]
fn bad_inputs_fail_cleanly() {
    let e = env();
    let out = e.dir.path().join("out.json");
    let out_s = out.to_str().unwrap().to_owned();
    let w = |mut v: Vec<String>| {
        v.push("-w".to_owned());
        v.push(out_s.clone());
        v
    };
    let cert_args = || s(&["--cert", &e.cert]);
    let ec_cert = e.dir.path().join("ec.pem");
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/",
            "-days",
            "1",
        ])
        .arg("-keyout")
        .arg(e.dir.path().join("ec.key"))
        .arg("-out")
        .arg(&ec_cert)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let garbage_cert = e.dir.path().join("garbage.pem");
    std::fs::write(
        &garbage_cert,
        format!(
            "-----BEGIN CERTIFICATE-----\nnot a cert {SECRET_VALUE}\n-----END CERTIFICATE-----\n"
        ),
    )
    .unwrap();
    let expired = keygen(
        e.dir.path(),
        "expired",
        &["--key-ttl", "1h", "--not-before", "2020-01-01T00:00:00Z"],
    )
    .1;

    let sealed = {
        let o = Command::new(bin())
            .args(["--cert", &e.cert])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(good_secret().as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(o.status.success());
        String::from_utf8(o.stdout).unwrap()
    };
    let v: serde_json::Value = serde_json::from_str(&sealed).unwrap();
    let blob = v["spec"]["encryptedData"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let truncated = sealed.replace(&blob, &blob[..200]);
    let mut flipped_blob = blob.clone().into_bytes();
    flipped_blob[300] = if flipped_blob[300] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let corrupted = sealed.replace(&blob, std::str::from_utf8(&flipped_blob).unwrap());
    let bad_b64 = sealed.replace(&blob, "not*base64");
    let moved = sealed.replace("\"namespace\": \"prod\"", "\"namespace\": \"staging\"");

    let mut cases = vec![
        Case {
            name: "invalid yaml",
            args: w(cert_args()),
            stdin: format!("kind: Secret\nmetadata: [\n  {SECRET_VALUE}"),
            code: 1,
            stderr: "document 1",
        },
        Case {
            name: "invalid json",
            args: w(cert_args()),
            stdin: format!("{{\"kind\": \"Secret\", \"data\": {{\"a\": \"{SECRET_VALUE}\"}}"),
            code: 1,
            stderr: "document 1",
        },
        Case {
            name: "non-secret kind",
            args: w(cert_args()),
            stdin: format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: {SECRET_VALUE}\n"
            ),
            code: 1,
            stderr: "ConfigMap",
        },
        Case {
            name: "sealed secret given as input",
            args: w(cert_args()),
            stdin: sealed.clone(),
            code: 1,
            stderr: "SealedSecret",
        },
        Case {
            name: "missing name",
            args: w(cert_args()),
            stdin: format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  namespace: prod\nstringData:\n  a: {SECRET_VALUE}\n"
            ),
            code: 1,
            stderr: "missing metadata.name in input Secret",
        },
        Case {
            // Without -n and kubeconfig it is sealed for `default` (tests/new_user.rs).
            name: "missing namespace with an empty -n",
            args: w([cert_args(), s(&["-n", ""])].concat()),
            stdin: format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  a: {SECRET_VALUE}\n"
            ),
            code: 1,
            stderr: "secret must declare a namespace",
        },
        Case {
            name: "namespace mismatch",
            args: w([cert_args(), s(&["-n", "other"])].concat()),
            stdin: good_secret(),
            code: 1,
            stderr: "namespace mismatch: input secret is in namespace \"prod\" but \"other\" was specified",
        },
        Case {
            name: "invalid base64 in data",
            args: w(cert_args()),
            stdin: secret("", &format!("  password: {SECRET_VALUE}!!\n")),
            code: 1,
            stderr: "data[\"password\"] must be standard base64",
        },
        Case {
            name: "empty data",
            args: w(cert_args()),
            stdin: secret("", "  {}\n").replace("data:\n  {}", "data: {}"),
            code: 1,
            stderr: "secret.data is empty in input Secret",
        },
        Case {
            name: "empty input",
            args: w(cert_args()),
            stdin: String::new(),
            code: 1,
            stderr: "no secrets found",
        },
        Case {
            name: "missing cert file",
            args: w(s(&["--cert", "/nonexistent/cert.pem"])),
            stdin: good_secret(),
            code: 1,
            stderr: "/nonexistent/cert.pem",
        },
        Case {
            name: "malformed cert",
            args: w(s(&["--cert", garbage_cert.to_str().unwrap()])),
            stdin: good_secret(),
            code: 1,
            stderr: "certificate",
        },
        Case {
            name: "not a cert at all",
            args: w(s(&["--cert", &e.key])),
            stdin: good_secret(),
            code: 1,
            stderr: "data does not contain any valid RSA or ECDSA certificates",
        },
        Case {
            name: "expired cert",
            args: w(s(&["--cert", &expired])),
            stdin: good_secret(),
            code: 1,
            stderr: "failed to encrypt using an expired certificate on January 1, 2020",
        },
        Case {
            name: "key fits no ciphertext",
            args: w(s(&[
                "--recovery-unseal",
                "--recovery-private-key",
                &e.other_key,
            ])),
            stdin: sealed.clone(),
            code: 1,
            stderr: "no key could decrypt secret (password)",
        },
        Case {
            name: "truncated ciphertext",
            args: w(s(&["--recovery-unseal", "--recovery-private-key", &e.key])),
            stdin: truncated,
            code: 1,
            stderr: "no key could decrypt secret (password)",
        },
        Case {
            name: "corrupted ciphertext",
            args: w(s(&["--recovery-unseal", "--recovery-private-key", &e.key])),
            stdin: corrupted,
            code: 1,
            stderr: "no key could decrypt secret (password)",
        },
        Case {
            name: "garbage base64 ciphertext",
            args: w(s(&["--recovery-unseal", "--recovery-private-key", &e.key])),
            stdin: bad_b64,
            code: 1,
            stderr: "illegal base64 data at input byte 3 (password)",
        },
        Case {
            name: "moved to another namespace",
            args: w(s(&["--recovery-unseal", "--recovery-private-key", &e.key])),
            stdin: moved,
            code: 1,
            stderr: "no key could decrypt secret (password)",
        },
        Case {
            name: "secret where sealed secret expected",
            args: w(s(&["--recovery-unseal", "--recovery-private-key", &e.key])),
            stdin: good_secret(),
            code: 1,
            stderr: "expected a SealedSecret",
        },
        Case {
            name: "key file is not a key",
            args: w(s(&["--recovery-unseal", "--recovery-private-key", &e.cert])),
            stdin: sealed.clone(),
            code: 1,
            stderr: "main.pem",
        },
        Case {
            name: "missing key file",
            args: w(s(&[
                "--recovery-unseal",
                "--recovery-private-key",
                "/nonexistent/key.pem",
            ])),
            stdin: sealed.clone(),
            code: 1,
            stderr: "/nonexistent/key.pem",
        },
        Case {
            name: "from-file without raw",
            args: w(s(&["--from-file", "x"])),
            stdin: String::new(),
            code: 2,
            stderr: "--from-file requires --raw",
        },
        Case {
            name: "unknown scope",
            args: w(s(&["--scope", "global"])),
            stdin: String::new(),
            code: 2,
            stderr: "must be one of: strict, namespace-wide, cluster-wide",
        },
        Case {
            name: "unknown format",
            args: w(s(&["-o", "xml"])),
            stdin: String::new(),
            code: 2,
            stderr: "xml",
        },
        Case {
            name: "raw strict without name",
            args: w([cert_args(), s(&["--raw", "-n", "prod"])].concat()),
            stdin: SECRET_VALUE.to_owned(),
            code: 2,
            stderr: "must provide the --name flag with --raw and --scope strict",
        },
        Case {
            name: "raw without namespace",
            args: w([cert_args(), s(&["--raw", "--name", "x"])].concat()),
            stdin: SECRET_VALUE.to_owned(),
            code: 2,
            stderr: "must provide the --namespace flag with --raw and --scope strict",
        },
        Case {
            name: "no cluster configured",
            args: w(s(&["--validate"])),
            stdin: sealed.clone(),
            code: 1,
            stderr: "cannot validate sealed secret: no cluster to connect to",
        },
    ];
    if ok {
        cases.push(Case {
            name: "non-RSA cert",
            args: w(s(&["--cert", ec_cert.to_str().unwrap()])),
            stdin: good_secret(),
            code: 1,
            stderr: "expected RSA public key",
        });
    }
    // Run every case, then report all failures together.
    let failed: Vec<&str> = cases
        .iter()
        .filter(|case| std::panic::catch_unwind(|| run_case(case, &out)).is_err())
        .map(|case| case.name)
        .collect();
    assert!(failed.is_empty(), "failing cases: {failed:?}");
}

#[test]
fn failed_merge_leaves_target_untouched() {
    let e = env();
    let target = e.dir.path().join("target.json");
    let original = "{\"kind\": \"SealedSecret\", \"apiVersion\": \"bitnami.com/v1alpha1\", \"metadata\": {\"name\": \"app\", \"namespace\": \"prod\"}, \"spec\": {\"encryptedData\": {\"a\": \"AgA\"}}}\n";
    std::fs::write(&target, original).unwrap();
    let out = Command::new(bin())
        .args([
            "--cert",
            "/nonexistent.pem",
            "--merge-into",
            target.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            // It may fail on the certificate and exit before reading its input: a write
            // into the closed pipe is then EPIPE, not a test failure.
            let _ = c.stdin.take().unwrap().write_all(good_secret().as_bytes());
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), original);
}
