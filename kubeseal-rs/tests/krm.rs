//! `kubeseal-rs krm`, the KRM function (docs/gitops-workflow.md "Kustomize"):
//! - run by the real `kustomize build --enable-alpha-plugins --enable-exec` (installed by
//!   `tests/kustomize/install.sh`, pinned and cached) on `tests/kustomize/app`, its
//!   SealedSecret opens with `kubeseal-rs --recovery-unseal` and upstream `kubeseal
//!   --recovery-unseal` to exactly the files, env file and literals it was made from;
//! - paths that leave the kustomization directory (`..`, absolute, a symlink) fail the build
//!   with our one-line reason, and nothing is generated;
//! - directly on a ResourceList: the certificate from `.sealed-secrets.toml`, errors as KRM
//!   `results` with exit 1, values never in messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeseal-rs"))
}

fn repo_root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("..")
}

fn cache() -> Option<PathBuf> {
    std::env::var_os("SSRS_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sealed-secrets-rs"))
        })
}

/// The pinned kustomize: installed (or found cached) by `tests/kustomize/install.sh` when the
/// full test environment is there (`tests/run` sets `SSRS_UPSTREAM_BIN`), else used only if
/// already cached; `None` skips.
fn kustomize() -> Option<PathBuf> {
    let cached = cache()?.join("kustomize-v5.8.1/bin/kustomize");
    if cached.is_file() {
        return Some(cached);
    }
    if std::env::var_os("SSRS_UPSTREAM_BIN").is_none() {
        eprintln!("skipping: kustomize not installed (run tests/kustomize/install.sh)");
        return None;
    }
    let out = Command::new(repo_root().join("tests/kustomize/install.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/kustomize/install.sh");
    assert!(out.status.success(), "tests/kustomize/install.sh failed");
    Some(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
}

/// Upstream kubeseal v0.36.6, when installed.
fn upstream_kubeseal() -> Option<PathBuf> {
    let dir = std::env::var_os("SSRS_UPSTREAM_BIN")
        .map(PathBuf::from)
        .or_else(|| cache().map(|c| c.join("upstream-v0.36.6/bin")))?;
    let bin = dir.join("kubeseal");
    bin.is_file().then_some(bin)
}

fn run(bin: &Path, args: &[&str], dir: &Path, stdin: &[u8]) -> Output {
    // `kustomize` finds the function as `kubeseal-rs` on PATH, as a user's setup would.
    let path = format!(
        "{}:{}",
        ours().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A fresh key (key Secret `key.yaml`, certificate `cert.pem`) in `dir`.
fn keygen(dir: &Path) {
    ok(&run(
        &ours(),
        &[
            "keygen",
            "--key-size",
            "2048",
            "--cert-out",
            "cert.pem",
            "-w",
            "key.yaml",
        ],
        dir,
        b"",
    ));
}

/// `tests/kustomize/app` copied into a temporary directory (as `app/`), with a key.
fn app_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    std::fs::create_dir(&app).unwrap();
    for entry in std::fs::read_dir(repo_root().join("tests/kustomize/app")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), app.join(entry.file_name())).unwrap();
    }
    keygen(tmp.path());
    std::fs::copy(tmp.path().join("cert.pem"), app.join("cert.pem")).unwrap();
    (tmp, app)
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml).unwrap()
}

fn decoded(secret: &Value, key: &str) -> String {
    use base64::Engine as _;
    let text = secret["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {secret}"));
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    )
    .unwrap()
}

fn build(kustomize: &Path, app: &Path) -> Output {
    run(
        kustomize,
        &["build", "--enable-alpha-plugins", "--enable-exec", "."],
        app,
        b"",
    )
}

#[test]
fn kustomize_build_seals_what_recovery_unseal_opens() {
    let Some(kustomize) = kustomize() else { return };
    let (tmp, app) = app_copy();
    let out = ok(&build(&kustomize, &app));
    let docs = documents(&out);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Deployment", "SealedSecret"], "{out}");
    let sealed = &docs[1];
    assert_eq!(sealed["metadata"]["name"], "app-credentials");
    assert_eq!(sealed["metadata"]["namespace"], "demo");
    assert!(
        sealed["metadata"]["annotations"]["sealed-secrets-rs/sealed-with"]
            .as_str()
            .unwrap()
            .starts_with("SHA256:")
    );
    let items: Vec<&String> = sealed["spec"]["encryptedData"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        items,
        ["DB_PASSWORD", "DB_USER", "config.json", "mode", "tls.key"]
    );
    assert!(!out.contains("s3cr3t"), "plaintext in the build output");

    let input = serde_json::to_vec(sealed).unwrap();
    let mut openers = vec![ours()];
    openers.extend(upstream_kubeseal());
    for bin in &openers {
        let secret: Value = serde_json::from_str(&ok(&run(
            bin,
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                "key.yaml",
                "-o",
                "json",
            ],
            tmp.path(),
            &input,
        )))
        .unwrap();
        assert_eq!(
            secret["metadata"]["name"],
            "app-credentials",
            "{}",
            bin.display()
        );
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(decoded(&secret, "DB_USER"), "app");
        assert_eq!(decoded(&secret, "DB_PASSWORD"), "s3cr3t=with=equals");
        assert_eq!(decoded(&secret, "mode"), "production");
        assert_eq!(
            decoded(&secret, "tls.key"),
            "not a real key, a test value\n"
        );
        assert_eq!(
            decoded(&secret, "config.json"),
            "{\"endpoint\": \"https://db.example\", \"pool\": 4}\n"
        );
    }
    if openers.len() == 1 {
        eprintln!("upstream kubeseal not installed: opened with kubeseal-rs only");
    }
}

#[test]
fn kustomize_build_refuses_paths_outside_the_kustomization() {
    let Some(kustomize) = kustomize() else { return };
    let (tmp, app) = app_copy();
    std::fs::write(tmp.path().join("outside.txt"), "runner secret").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("outside.txt"), app.join("link.txt")).unwrap();
    let generator = std::fs::read_to_string(app.join("sealed-secret.yaml")).unwrap();
    for (path, reason) in [
        ("../outside.txt", "`..` is refused"),
        ("/etc/hostname", "absolute paths are refused"),
        (
            "link.txt",
            "a symlink leads outside the kustomization directory",
        ),
    ] {
        let changed = generator.replace("  - config.json\n", &format!("  - {path}\n"));
        std::fs::write(app.join("sealed-secret.yaml"), changed).unwrap();
        let out = build(&kustomize, &app);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{path}: built");
        assert!(stderr.contains(reason), "{path}: {stderr}");
        assert!(!stderr.contains("runner secret"));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("SealedSecret"));
    }
}

fn resource_list(config: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "config.kubernetes.io/v1",
        "kind": "ResourceList",
        "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}}],
        "functionConfig": config,
    }))
    .unwrap()
}

#[test]
fn certificate_from_the_repository_config_and_items_kept() {
    let repo = tempfile::tempdir().unwrap();
    keygen(repo.path());
    std::fs::write(
        repo.path().join(".sealed-secrets.toml"),
        "[environments.prod]\ncert = \"cert.pem\"\npaths = [\"clusters/prod\"]\n\n\
         [environments.staging]\ncert = \"cert.pem\"\npaths = [\"clusters/staging\"]\n",
    )
    .unwrap();
    let app = repo.path().join("clusters/prod/app");
    std::fs::create_dir_all(&app).unwrap();
    let config = json!({
        "apiVersion": "kubeseal-rs.sealed-secrets.io/v1alpha1",
        "kind": "SealedSecretGenerator",
        "metadata": {"name": "db"},
        "namespace": "prod",
        "scope": "namespace-wide",
        "literals": ["password=hunter2"],
    });
    // The environment whose paths cover the directory; then the same one by name.
    for config in [config.clone(), {
        let mut c = config.clone();
        c["environment"] = json!("prod");
        c
    }] {
        let out = ok(&run(&ours(), &["krm"], &app, &resource_list(&config)));
        let list = &documents(&out)[0];
        assert_eq!(list["kind"], "ResourceList");
        assert!(list.get("results").is_none());
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["metadata"]["name"], "kept");
        assert_eq!(items[1]["kind"], "SealedSecret");
        assert_eq!(
            items[1]["metadata"]["annotations"]["sealedsecrets.bitnami.com/namespace-wide"],
            "true"
        );
        let secret: Value = serde_json::from_str(&ok(&run(
            &ours(),
            &["--recovery-unseal", "--recovery-private-key", "key.yaml"],
            repo.path(),
            &serde_json::to_vec(&items[1]).unwrap(),
        )))
        .unwrap();
        assert_eq!(decoded(&secret, "password"), "hunter2");
    }
}

#[test]
fn errors_are_krm_results_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path());
    std::fs::write(dir.path().join("bad.env"), "GOOD=1\nHOME\n").unwrap();
    let base = json!({
        "apiVersion": "kubeseal-rs.sealed-secrets.io/v1alpha1",
        "kind": "SealedSecretGenerator",
        "metadata": {"name": "db"},
        "namespace": "demo",
        "cert": "cert.pem",
        "literals": ["a=b"],
    });
    let with = |field: &str, value: Value| {
        let mut c = base.clone();
        c[field] = value;
        c
    };
    for (config, reason) in [
        (
            with("envs", json!(["bad.env"])),
            "envs: bad.env line 2: no '='",
        ),
        (
            with("literals", json!(["bad key=hunter2"])),
            "not a valid Secret key",
        ),
        (with("files", json!(["../x"])), "`..` is refused"),
        (with("literal", json!(["a=b"])), "unknown field literal"),
        (
            with("cert", json!("missing.pem")),
            "path \"missing.pem\": cannot read it",
        ),
        (
            json!({"kind": "Other"}),
            "expected kubeseal-rs.sealed-secrets.io/v1alpha1/SealedSecretGenerator",
        ),
    ] {
        let out = run(&ours(), &["krm"], dir.path(), &resource_list(&config));
        assert_eq!(out.status.code(), Some(1), "{reason}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(reason),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("hunter2"));
        let list = &documents(&String::from_utf8(out.stdout).unwrap())[0];
        assert_eq!(list["results"][0]["severity"], "error");
        assert!(
            list["results"][0]["message"]
                .as_str()
                .unwrap()
                .contains(reason)
        );
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "nothing added");
    }
    // Not a ResourceList at all: nothing to answer with but the error.
    let out = run(
        &ours(),
        &["krm"],
        dir.path(),
        b"apiVersion: v1\nkind: Secret\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a config.kubernetes.io ResourceList")
    );
}
