//! The browser sealer written by `kubeseal-rs web` (docs/web.md), in a real headless Chromium
//! driven by `tests/web/seal.mjs`: what it seals opens with `kubeseal-rs --recovery-unseal` and
//! upstream's `kubeseal --recovery-unseal`, the page makes no request at all, and it shows the
//! fingerprint `kubeseal-rs cert` prints. Needs `SSRS_WEB=1` and `bash tests/web/install.sh`;
//! skipped otherwise. With `SSRS_WEB_SCREENSHOT=PATH` the first run also saves a screenshot.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;

fn repo_root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("..")
}

fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeseal-rs"))
}

/// Whether the browser tests run: `SSRS_WEB=1` and chromium plus playwright-core installed.
fn browser_ready() -> bool {
    if std::env::var("SSRS_WEB").map_or(true, |v| v != "1") {
        eprintln!(
            "skipping: set SSRS_WEB=1 (after bash tests/web/install.sh) to run the browser tests"
        );
        return false;
    }
    let playwright = repo_root().join("tests/web/node_modules/playwright-core/package.json");
    if Path::new("/usr/bin/chromium").is_file() && playwright.is_file() {
        return true;
    }
    let message = "SSRS_WEB=1 but the browser is not installed: run bash tests/web/install.sh";
    // In CI a missing browser is a failure, not a quiet skip.
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{message}"
    );
    eprintln!("skipping: {message}");
    false
}

fn upstream_kubeseal() -> PathBuf {
    let dir = std::env::var_os("SSRS_UPSTREAM_BIN").map_or_else(
        || {
            PathBuf::from(std::env::var("HOME").unwrap())
                .join(".cache/sealed-secrets-rs/upstream-v0.36.6/bin")
        },
        PathBuf::from,
    );
    let bin = dir.join("kubeseal");
    assert!(
        bin.is_file(),
        "upstream kubeseal missing at {}",
        bin.display()
    );
    bin
}

fn run(bin: &Path, args: &[&str], stdin: Option<&Path>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_clear().env("HOME", "/nonexistent");
    if let Some(path) = stdin {
        cmd.stdin(std::fs::File::open(path).unwrap());
    } else {
        cmd.stdin(Stdio::null());
    }
    cmd.output().unwrap()
}

fn ok(bin: &Path, args: &[&str], stdin: Option<&Path>) -> Vec<u8> {
    let out = run(bin, args, stdin);
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A key (as a key Secret) and its certificate, made by `kubeseal-rs keygen`.
fn keygen(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("key.yaml");
    let cert = dir.join("cert.pem");
    ok(
        &ours(),
        &[
            "keygen",
            "-w",
            key.to_str().unwrap(),
            "--cert-out",
            cert.to_str().unwrap(),
        ],
        None,
    );
    (key, cert)
}

/// Fills and seals the page at `url` with `seal.mjs`; returns its JSON summary.
fn seal_in_browser(config: &serde_json::Value, dir: &Path) -> serde_json::Value {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let out = Command::new("node")
        .arg(repo_root().join("tests/web/seal.mjs"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "seal.mjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn recovered_data(json: &[u8]) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    v["data"].clone()
}

#[test]
fn offline_page_seals_what_both_kubeseals_open_in_every_scope() {
    if !browser_ready() {
        return;
    }
    let upstream = upstream_kubeseal();
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = keygen(dir.path());
    let html = dir.path().join("sealer.html");
    std::fs::write(
        &html,
        ok(&ours(), &["web", "--cert", cert.to_str().unwrap()], None),
    )
    .unwrap();
    let shown = String::from_utf8(ok(&ours(), &["cert", cert.to_str().unwrap()], None)).unwrap();
    let fingerprint = shown
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint: "))
        .unwrap()
        .to_owned();
    let upload = dir.path().join("upload.bin");
    let file_bytes = b"\x00\x01binary \xff file\n";
    std::fs::write(&upload, file_bytes).unwrap();
    let url = format!("file://{}", html.display());
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut screenshot = std::env::var("SSRS_WEB_SCREENSHOT").ok();

    for (scope, name, namespace) in [
        ("strict", "web-strict", "team-a"),
        ("namespace-wide", "web-ns", "team-b"),
        ("cluster-wide", "web-cluster", "team-c"),
    ] {
        let out = dir.path().join(scope);
        std::fs::create_dir(&out).unwrap();
        let password = format!("hunter2-{scope}-Ünïcode");
        let config = serde_json::json!({
            "url": url,
            "offline": true,
            "namespace": namespace,
            "name": name,
            "scope": scope,
            "type": "Opaque",
            "items": [
                { "key": "password", "value": password },
                { "key": "blob.bin", "file": upload },
            ],
            "out": out,
            "screenshot": screenshot.take(),
        });
        let summary = seal_in_browser(&config, dir.path());
        assert_eq!(summary["cert"]["fingerprint"], fingerprint.as_str());
        assert_eq!(summary["cert"]["source"], "embedded in this page");
        assert!(
            shown.contains(&format!(
                "not after:   {}",
                summary["cert"]["notAfter"].as_str().unwrap()
            )),
            "{shown} vs {summary}"
        );
        // The document itself, and nothing else.
        assert_eq!(
            summary["requests"].as_array().unwrap().len(),
            1,
            "{summary}"
        );

        let yaml = out.join("sealed.yaml");
        let json = out.join("sealed.json");
        let text = std::fs::read_to_string(&yaml).unwrap();
        assert!(text.starts_with("---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"));
        assert!(!text.contains("hunter2"));
        let sealed: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        let annotations = &sealed["metadata"]["annotations"];
        match scope {
            "strict" => assert!(annotations.is_null()),
            _ => assert_eq!(
                annotations[format!("sealedsecrets.bitnami.com/{scope}")],
                "true"
            ),
        }
        let key = key.to_str().unwrap();
        for (opener, input) in [
            (&ours(), &yaml),
            (&ours(), &json),
            (&upstream, &yaml),
            (&upstream, &json),
        ] {
            let opened = ok(
                opener,
                &[
                    "--recovery-unseal",
                    "--recovery-private-key",
                    key,
                    "-o",
                    "json",
                ],
                Some(input),
            );
            let data = recovered_data(&opened);
            assert_eq!(
                data["password"],
                b64(password.as_bytes()),
                "{scope} {}",
                opener.display()
            );
            assert_eq!(
                data["blob.bin"],
                b64(file_bytes),
                "{scope} {}",
                opener.display()
            );
            let secret: serde_json::Value = serde_json::from_slice(&opened).unwrap();
            assert_eq!(secret["type"], "Opaque");
            assert_eq!(secret["metadata"]["name"], name);
        }
    }
}

#[test]
fn offline_page_refuses_bad_forms_with_a_message() {
    if !browser_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, cert) = keygen(dir.path());
    let html = dir.path().join("sealer.html");
    std::fs::write(&html, ok(&ours(), &["web", cert.to_str().unwrap()], None)).unwrap();
    let item = |key: &str| serde_json::json!({ "key": key, "value": "some-value" });
    for (name, items, expected) in [
        ("ok-name", vec![item("bad key!")], "item key \"bad key!\""),
        ("ok-name", vec![item("k"), item("k")], "appears twice"),
        ("Not_A_Name", vec![item("k")], "name: lower-case letters"),
    ] {
        let config = serde_json::json!({
            "url": format!("file://{}", html.display()),
            "offline": true,
            "namespace": "default",
            "name": name,
            "scope": "strict",
            "type": "Opaque",
            "items": items,
            "out": dir.path(),
            "expectError": true,
        });
        let summary = seal_in_browser(&config, dir.path());
        let error = summary["error"].as_str().unwrap();
        assert!(error.starts_with("Cannot seal: "), "{error}");
        assert!(error.contains(expected), "{error}");
        assert_eq!(summary["requests"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn web_refuses_what_is_not_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.pem");
    std::fs::write(&bogus, "not a certificate\n").unwrap();
    let out = run(&ours(), &["web", "--cert", bogus.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
}

#[test]
fn web_page_embeds_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert) = keygen(dir.path());
    let html = String::from_utf8(ok(&ours(), &["web", cert.to_str().unwrap()], None)).unwrap();
    let pem = std::fs::read_to_string(&cert).unwrap();
    assert!(html.contains(&pem));
    assert!(html.contains("connect-src 'none'"));
    assert!(html.starts_with("<!DOCTYPE html>"));
}
