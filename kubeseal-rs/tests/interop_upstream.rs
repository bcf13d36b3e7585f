//! Interop with the real upstream `kubeseal` v0.40.0 (installed by `tests/upstream/install.sh`):
//! what one side seals, the other opens, in every scope; `--merge-into` files are accepted both
//! ways; and for the same input both produce the same document layout (ciphertexts aside).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeseal-rs"))
}

/// The upstream kubeseal binary, or `None` (test skipped) outside CI when it is not installed.
fn upstream() -> Option<PathBuf> {
    let dir = std::env::var_os("SSRS_UPSTREAM_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/sealed-secrets-rs/upstream-v0.40.0/bin"))
        })?;
    let bin = dir.join("kubeseal");
    if bin.is_file() {
        Some(bin)
    } else {
        // tests/run sets SSRS_UPSTREAM_BIN after installing the peers: then a missing binary fails.
        assert!(
            std::env::var_os("SSRS_UPSTREAM_BIN").is_none(),
            "upstream kubeseal missing at {}",
            bin.display()
        );
        eprintln!("skipping: upstream kubeseal not installed (run tests/upstream/install.sh)");
        None
    }
}

fn run(bin: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().expect("wait")
}

fn ok(bin: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = run(bin, args, stdin);
    assert!(
        out.status.success(),
        "{} {:?} failed: {}",
        bin.display(),
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

struct Keys {
    _dir: tempfile::TempDir,
    key_secret: String,
    cert: String,
    dir: PathBuf,
}

/// A 2048-bit key made by our `keygen` (a key Secret manifest and its certificate).
fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let key_secret = dir.path().join("key.yaml");
    let cert = dir.path().join("cert.pem");
    ok(
        &ours(),
        &[
            "keygen",
            "--key-size",
            "2048",
            "-w",
            key_secret.to_str().unwrap(),
            "--cert-out",
            cert.to_str().unwrap(),
        ],
        b"",
    );
    Keys {
        key_secret: key_secret.to_str().unwrap().to_owned(),
        cert: cert.to_str().unwrap().to_owned(),
        dir: dir.path().to_path_buf(),
        _dir: dir,
    }
}

const SECRET: &str = r#"apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: prod
  labels:
    app.kubernetes.io/name: web
    tier: "1"
  annotations:
    note: keep me
type: Opaque
data:
  password: aHVudGVyMi1pbnRlcm9w
stringData:
  token: tok-Interop-7731
"#;

fn secret_in_scope(scope: &str) -> String {
    match scope {
        "strict" => SECRET.to_owned(),
        s => SECRET.replace(
            "    note: keep me",
            &format!("    note: keep me\n    sealedsecrets.bitnami.com/{s}: \"true\""),
        ),
    }
}

fn recovered_values(json: &[u8]) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(json).expect("recovered Secret is JSON");
    v["data"].clone()
}

const EXPECTED_DATA: &str =
    r#"{"password":"aHVudGVyMi1pbnRlcm9w","token":"dG9rLUludGVyb3AtNzczMQ=="}"#;

#[test]
fn ours_seals_upstream_opens_and_back_in_every_scope() {
    let Some(upstream) = upstream() else { return };
    let k = keys();
    let expected: serde_json::Value = serde_json::from_str(EXPECTED_DATA).unwrap();
    for scope in ["strict", "namespace-wide", "cluster-wide"] {
        let input = secret_in_scope(scope);
        for (sealer, opener) in [(ours(), upstream.clone()), (upstream.clone(), ours())] {
            let sealed = ok(
                &sealer,
                &["--cert", &k.cert, "-o", "yaml"],
                input.as_bytes(),
            );
            let opened = ok(
                &opener,
                &[
                    "--recovery-unseal",
                    "--recovery-private-key",
                    &k.key_secret,
                    "-o",
                    "json",
                ],
                &sealed,
            );
            assert_eq!(
                recovered_values(&opened),
                expected,
                "{scope}: sealed by {}, opened by {}",
                sealer.display(),
                opener.display()
            );
        }
    }
}

#[test]
fn raw_values_interoperate() {
    let Some(upstream) = upstream() else { return };
    let k = keys();
    for (scope, extra) in [
        ("strict", vec!["--name", "app", "--namespace", "prod"]),
        ("namespace-wide", vec!["--namespace", "prod"]),
        ("cluster-wide", vec![]),
    ] {
        for (sealer, opener) in [(ours(), upstream.clone()), (upstream.clone(), ours())] {
            let mut args = vec!["--cert", k.cert.as_str(), "--raw", "--scope", scope];
            args.extend(extra.iter().copied());
            let raw = ok(&sealer, &args, b"raw-Value-42");
            let raw = String::from_utf8(raw).unwrap();
            assert!(!raw.ends_with('\n'), "--raw prints no newline");
            assert!(
                raw.starts_with("AQ"),
                "2048-bit blob prefix, got {}",
                &raw[..4]
            );
            let mut annotations = String::new();
            if scope != "strict" {
                annotations =
                    format!("  annotations:\n    sealedsecrets.bitnami.com/{scope}: \"true\"\n");
            }
            let ss = format!(
                "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: app\n  namespace: prod\n{annotations}spec:\n  encryptedData:\n    v: {raw}\n  template:\n    metadata:\n      name: app\n      namespace: prod\n"
            );
            let opened = ok(
                &opener,
                &["--recovery-unseal", "--recovery-private-key", &k.key_secret],
                ss.as_bytes(),
            );
            assert_eq!(
                recovered_values(&opened)["v"],
                "cmF3LVZhbHVlLTQy",
                "{scope}"
            );
        }
    }
}

/// Replaces every encryptedData value by a placeholder so layouts can be compared.
fn mask_ciphertexts(text: &str) -> String {
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let looks_sealed = |s: &str| s.starts_with("AQ") || s.starts_with("Ag");
            if let Some((k, v)) = trimmed.split_once(": ") {
                let v_clean = v.trim_matches(|c| c == '"' || c == ',');
                if looks_sealed(v_clean) && v_clean.len() > 300 {
                    let indent = &line[..line.len() - trimmed.len()];
                    let comma = if v.ends_with(',') { "," } else { "" };
                    return format!("{indent}{k}: <sealed>{comma}");
                }
            }
            line.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn output_layout_matches_upstream_byte_for_byte() {
    let Some(upstream) = upstream() else { return };
    let k = keys();
    let inputs = [
        SECRET.to_owned(),
        secret_in_scope("cluster-wide"),
        secret_in_scope("namespace-wide"),
        // JSON input, a namespace from -n, immutable and a custom type.
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"j","labels":{"a_b":"1","aB":"2","key9":"x","key10":"y"}},"immutable":true,"type":"kubernetes.io/basic-auth","stringData":{"username":"u","password":"p"}}"#.to_owned(),
    ];
    for input in &inputs {
        for format in ["json", "yaml"] {
            let args = ["--cert", k.cert.as_str(), "-o", format, "-n", "prod"];
            let a = String::from_utf8(ok(&ours(), &args, input.as_bytes())).unwrap();
            let b = String::from_utf8(ok(&upstream, &args, input.as_bytes())).unwrap();
            assert_eq!(
                mask_ciphertexts(&a),
                mask_ciphertexts(&b),
                "format {format}, input {input}"
            );
            assert_eq!(a.ends_with('\n'), b.ends_with('\n'));
        }
    }
}

#[test]
fn merge_into_files_are_accepted_both_ways() {
    let Some(upstream) = upstream() else { return };
    let k = keys();
    for (first, second) in [(ours(), upstream.clone()), (upstream.clone(), ours())] {
        // `first` writes the file, `second` merges a new item and replaces one.
        let file = k.dir.join("merged.json");
        let sealed = ok(&first, &["--cert", &k.cert], SECRET.as_bytes());
        std::fs::write(&file, &sealed).unwrap();
        let before: serde_json::Value = serde_json::from_slice(&sealed).unwrap();
        let update = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\nstringData:\n  extra: added-Value-9\n  token: replaced-Token-3\n";
        ok(
            &second,
            &["--cert", &k.cert, "--merge-into", file.to_str().unwrap()],
            update.as_bytes(),
        );
        let merged = std::fs::read(&file).unwrap();
        let after: serde_json::Value = serde_json::from_slice(&merged).unwrap();
        assert_eq!(
            before["spec"]["encryptedData"]["password"], after["spec"]["encryptedData"]["password"],
            "untouched items keep their ciphertext"
        );
        for opener in [ours(), upstream.clone()] {
            let opened = ok(
                &opener,
                &["--recovery-unseal", "--recovery-private-key", &k.key_secret],
                &merged,
            );
            let data = recovered_values(&opened);
            assert_eq!(data["extra"], "YWRkZWQtVmFsdWUtOQ==");
            assert_eq!(data["token"], "cmVwbGFjZWQtVG9rZW4tMw==");
            assert_eq!(data["password"], "aHVudGVyMi1pbnRlcm9w");
        }
    }
}

#[test]
fn upstream_accepts_pkcs8_and_list_key_files_from_ours_and_vice_versa() {
    let Some(upstream) = upstream() else { return };
    let k = keys();
    // A List of key Secrets, as `kubectl get secret -l ... -o yaml` writes it.
    let key_yaml = std::fs::read_to_string(&k.key_secret).unwrap();
    let body = key_yaml.trim_start_matches("---\n");
    let indented: String = body
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("- {l}\n")
            } else {
                format!("  {l}\n")
            }
        })
        .collect();
    let list = format!("apiVersion: v1\nkind: List\nitems:\n{indented}");
    let list_path = k.dir.join("keys-list.yaml");
    std::fs::write(&list_path, list).unwrap();
    let sealed = ok(&ours(), &["--cert", &k.cert], SECRET.as_bytes());
    for opener in [ours(), upstream] {
        let opened = ok(
            &opener,
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                list_path.to_str().unwrap(),
            ],
            &sealed,
        );
        assert_eq!(
            recovered_values(&opened)["token"],
            "dG9rLUludGVyb3AtNzczMQ=="
        );
    }
}
