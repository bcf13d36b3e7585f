//! End-to-end: the browser sealer our controller serves at `/` (docs/web.md), in a real
//! headless Chromium (`tests/web/seal.mjs`) against a controller on the `tests/cluster`
//! control plane. The page fetches `v1/cert.pem` from the controller and nothing else; the
//! SealedSecret it makes is unsealed by the controller into the Secret with the typed and the
//! uploaded value. With `--web-sealer=false`, `/` is a 404 again.
//!
//! Skipped unless `SSRS_E2E=1` and `SSRS_WEB=1` (after `bash tests/web/install.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;

use harness::{
    Cluster, apply_crd, client, create_sealed, enabled, ensure_namespace, http_get,
    remove_scratch_dir, repo_root, scratch_dir, start_ours, wait_cert, wait_secret_value,
    wait_synced,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::cert::Certificate;

fn browser_ready() -> bool {
    if !enabled() || std::env::var("SSRS_WEB").map_or(true, |v| v != "1") {
        eprintln!("skipped: set SSRS_E2E=1 and SSRS_WEB=1 (after bash tests/web/install.sh)");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_page_seals_what_the_controller_unseals() {
    if !browser_ready() {
        return;
    }
    let cluster = Cluster::start("controller-web");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    let dir = scratch_dir("controller-web");
    let namespace = format!("ssrs-web-{}", std::process::id());
    ensure_namespace(&client, &namespace).await;
    let controller = start_ours(&cluster, &namespace, &dir.join("controller.log"), &[]);
    let pem = wait_cert(&controller).await;
    let fingerprint = Certificate::from_pem(pem.as_bytes())
        .unwrap()
        .fingerprint()
        .to_string();
    let (code, page) = http_get(controller.port, "/").await.expect("GET /");
    assert_eq!(code, 200, "{page}");

    let upload = dir.join("upload.bin");
    let file_bytes = b"\x00uploaded \xfe bytes\n";
    std::fs::write(&upload, file_bytes).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let url = format!("http://127.0.0.1:{}/", controller.port);
    let password = "s3cret-from-the-browser";
    let config = serde_json::json!({
        "url": url,
        "offline": false,
        "namespace": namespace,
        "name": "web-sealed",
        "scope": "strict",
        "type": "Opaque",
        "items": [
            { "key": "password", "value": password },
            { "key": "upload.bin", "file": upload },
        ],
        "out": out,
    });
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let run = Command::new("node")
        .arg(repo_root().join("tests/web/seal.mjs"))
        .arg(&config_path)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "seal.mjs: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(summary["cert"]["fingerprint"], fingerprint.as_str());
    // The page, then the certificate, and nothing after: both plain GETs without a body.
    let requests: Vec<(String, String, u64)> = summary["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["url"].as_str().unwrap().to_owned(),
                r["body"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        requests,
        [
            ("GET".to_owned(), url.clone(), 0),
            ("GET".to_owned(), format!("{url}v1/cert.pem"), 0)
        ],
        "{summary}"
    );

    let sealed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sealed.json")).unwrap()).unwrap();
    let sealed_secrets = Api::<SealedSecretObject>::namespaced(client.clone(), &namespace);
    create_sealed(&sealed_secrets, sealed).await;
    let secrets = Api::<Secret>::namespaced(client.clone(), &namespace);
    let secret = wait_secret_value(&secrets, "web-sealed", "password", password).await;
    assert_eq!(secret.data.unwrap()["upload.bin"].0, file_bytes);
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    wait_synced(&sealed_secrets, "web-sealed", "True").await;

    // The controller's log holds neither value.
    let log = std::fs::read_to_string(dir.join("controller.log")).unwrap();
    assert!(!log.contains(password));
    drop(controller);

    // Turned off: `/` is upstream's 404, the certificate is served as before.
    let controller = start_ours(
        &cluster,
        &namespace,
        &dir.join("controller-off.log"),
        &["--web-sealer=false"],
    );
    assert_eq!(wait_cert(&controller).await, pem);
    let (code, body) = http_get(controller.port, "/").await.expect("GET /");
    assert_eq!((code, body.as_str()), (404, "404 page not found\n"));
    drop(controller);
    remove_scratch_dir(&dir);
}
