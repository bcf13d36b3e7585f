//! End-to-end: the SealedSecret statuses GitOps health checks read (docs/gitops-health.md),
//! recorded from our controller on a real kube-apiserver (the `tests/cluster` harness).
//!
//! Skipped unless `SSRS_E2E=1`. One controller unseals or fails five SealedSecrets, then is
//! stopped so that two more stay in states it has not seen:
//! - `synced` (Synced=True), `wrong-namespace` (False, reason `WrongNamespace`),
//!   `unknown-key` (False, sealed for a key the controller does not have), `not-managed`
//!   (False, the Secret belongs to someone else), each recorded once `Stalled` (the
//!   controller stopped retrying);
//! - `generation-ahead` (synced, then its spec changed: generation 2, observedGeneration 1) and
//!   `pending` (created while no controller runs: no status).
//!
//! Each object, as `kubectl get -o json` shows it, is reduced to what health checks read
//! (times and ciphertexts replaced by constants, server-set metadata dropped) and compared
//! with `tests/health/fixtures/<name>.json`; `SSRS_RECORD_FIXTURES=1` rewrites those files
//! instead. A second test runs `tests/health/run` on the fixtures: deploy/argocd/health.lua
//! under gopher-lua as Argo CD runs it, and kstatus as Flux computes it. Another records
//! `upstream-synced` and `upstream-unknown-key` from upstream v0.36.6's controller. A last builds
//! `tests/kustomize/app` with the real kustomize and `kubeseal-rs krm` for the controller's
//! certificate, applies it, and checks the Secret the controller makes of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

/// The control plane of `tests/cluster` runs one at a time per test binary (fixed ports):
/// the tests that start one take this first.
static CLUSTER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

use harness::{
    Cluster, apply_crd, client, create_sealed, enabled, ensure_namespace, kubectl, kubectl_apply,
    remove_scratch_dir, repo_root, scratch_dir, start_ours, wait_cert, wait_secret_value,
    wait_synced,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::keys::{PrivateKey, PublicKey};
use sealed_secrets_core::seal::{SealOptions, seal_secret};
use sealed_secrets_core::secret_bytes::SecretBytes;
use sealed_secrets_core::types::{ObjectMeta, Secret as CoreSecret};
use serde_json::{Value, json};

/// The namespace every fixture lives in (each run has its own control plane).
const NAMESPACE: &str = "health";
/// What recorded times are replaced with.
const TIME: &str = "2026-01-01T00:00:00Z";
/// What recorded ciphertexts are replaced with.
const CIPHERTEXT: &str = "<ciphertext>";
/// What the digest record (`status.unsealedDigest`, keyed by a fresh key each run) becomes.
const DIGEST_RECORD: &str = "<digest record>";

/// A strict-scope SealedSecret for `namespace/name` with one item `value`.
fn sealed(key: &PublicKey, namespace: &str, name: &str) -> Value {
    let secret = CoreSecret {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: namespace.into(),
            ..ObjectMeta::default()
        },
        data: [(
            "value".to_owned(),
            SecretBytes::from_slice(b"health-fixture"),
        )]
        .into(),
        ..CoreSecret::default()
    };
    serde_json::to_value(seal_secret(secret, key, &SealOptions::default()).expect("seal"))
        .expect("json")
}

/// The object reduced to what a health check reads, stable from run to run.
fn reduce(mut object: Value) -> Value {
    let metadata = &object["metadata"];
    let mut kept = json!({
        "name": metadata["name"],
        "namespace": metadata["namespace"],
        "generation": metadata["generation"],
    });
    for field in ["labels", "annotations"] {
        if let Some(value) = metadata.get(field) {
            kept[field] = value.clone();
        }
    }
    object["metadata"] = kept;
    // `get_mut`, not `[]`: indexing a missing field would add it (an empty status).
    if let Some(items) = object
        .pointer_mut("/spec/encryptedData")
        .and_then(Value::as_object_mut)
    {
        for value in items.values_mut() {
            *value = json!(CIPHERTEXT);
        }
    }
    if let Some(record) = object.pointer_mut("/status/unsealedDigest") {
        *record = json!(DIGEST_RECORD);
    }
    if let Some(conditions) = object
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        for condition in conditions {
            for field in ["lastTransitionTime", "lastUpdateTime"] {
                if condition.get(field).is_some() {
                    condition[field] = json!(TIME);
                }
            }
        }
    }
    object
}

fn fixture_path(name: &str) -> PathBuf {
    repo_root().join(format!("tests/health/fixtures/{name}.json"))
}

/// Compares each SealedSecret `name` (reduced) with `tests/health/fixtures/<name>.json`, or
/// with `SSRS_RECORD_FIXTURES=1` rewrites the fixtures.
fn compare_with_fixtures(cluster: &Cluster, names: &[&str]) {
    let record = std::env::var("SSRS_RECORD_FIXTURES").is_ok_and(|v| v == "1");
    let mut differ = Vec::new();
    for &name in names {
        let text = kubectl(
            cluster,
            &["-n", NAMESPACE, "get", "sealedsecret", name, "-o", "json"],
            "",
        );
        let object = reduce(serde_json::from_str(&text).expect("kubectl JSON"));
        let mut pretty = serde_json::to_string_pretty(&object).expect("json");
        pretty.push('\n');
        let path = fixture_path(name);
        if record {
            std::fs::write(&path, &pretty).expect("write fixture");
            eprintln!("recorded {}", path.display());
        } else {
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != pretty {
                eprintln!("{name}: recorded now:\n{pretty}");
                differ.push(name);
            }
        }
    }
    assert!(
        differ.is_empty(),
        "the controller's status no longer matches tests/health/fixtures for {differ:?} \
         (check deploy/argocd/health.lua, then rerun with SSRS_RECORD_FIXTURES=1)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_for_health_checks_match_the_fixtures() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let started = Instant::now();
    let _one_cluster = CLUSTER.lock().await;
    let cluster = Cluster::start("controller-health");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    ensure_namespace(&client, NAMESPACE).await;
    let dir = scratch_dir("controller-health");
    let api = Api::<SealedSecretObject>::namespaced(client.clone(), NAMESPACE);

    let controller = start_ours(&cluster, NAMESPACE, &dir.join("controller.log"), &[]);
    let pem = wait_cert(&controller).await;
    let cert = Certificate::from_pem(pem.as_bytes()).expect("certificate");
    let ours = cert.public_key();
    let stranger = PrivateKey::generate(2048).expect("another key");

    // A Secret nobody lets the controller manage.
    kubectl_apply(
        &cluster,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: not-managed\n  namespace: {NAMESPACE}\nstringData:\n  value: theirs\n"
        ),
    );
    let mut moved = sealed(ours, "elsewhere", "wrong-namespace");
    moved["metadata"]["namespace"] = json!(NAMESPACE);
    for (object, synced) in [
        (sealed(ours, NAMESPACE, "synced"), "True"),
        (sealed(ours, NAMESPACE, "generation-ahead"), "True"),
        (moved, "False"),
        (
            sealed(stranger.public_key(), NAMESPACE, "unknown-key"),
            "False",
        ),
        (sealed(ours, NAMESPACE, "not-managed"), "False"),
    ] {
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        create_sealed(&api, object).await;
        wait_synced(&api, &name, synced).await;
        if synced == "False" {
            // The final state: `Stalled` once the controller stops retrying (`not-managed` is
            // `Reconciling` while its retries last).
            harness::eventually(
                &format!("{name}: Stalled=True"),
                std::time::Duration::from_secs(30),
                || async {
                    let st = api.get(&name).await.ok()?.status?;
                    st.conditions
                        .iter()
                        .any(|c| c.type_ == "Stalled" && c.status == "True")
                        .then_some(())
                },
            )
            .await;
        }
    }
    assert!(controller.terminate(), "controller did not exit cleanly");

    // With no controller running: a spec change it has not seen, and a new object.
    let extra = sealed(ours, NAMESPACE, "generation-ahead");
    let patch =
        json!({"spec": {"encryptedData": {"other": extra["spec"]["encryptedData"]["value"]}}});
    kubectl(
        &cluster,
        &[
            "-n",
            NAMESPACE,
            "patch",
            "sealedsecret",
            "generation-ahead",
            "--type",
            "merge",
            "-p",
            &patch.to_string(),
        ],
        "",
    );
    // As a GitOps tool applies it: no status at all (kube-rs would send an empty one).
    kubectl(
        &cluster,
        &["create", "-f", "-"],
        &sealed(ours, NAMESPACE, "pending").to_string(),
    );

    compare_with_fixtures(
        &cluster,
        &[
            "synced",
            "wrong-namespace",
            "unknown-key",
            "not-managed",
            "generation-ahead",
            "pending",
        ],
    );
    remove_scratch_dir(&dir);
    eprintln!("health statuses recorded in {:?}", started.elapsed());
}

/// Upstream v0.36.6's controller ("in a pod", all namespaces) writes the same shapes without
/// a reason: `upstream-synced` and `upstream-unknown-key` in the fixtures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_statuses_match_the_fixtures() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let _one_cluster = CLUSTER.lock().await;
    let cluster = Cluster::start("controller-health-upstream");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    ensure_namespace(&client, NAMESPACE).await;
    kubectl_apply(
        &cluster,
        &harness::upstream_rbac(NAMESPACE, "sealed-secrets"),
    );
    let dir = scratch_dir("controller-health-upstream");
    let upstream = harness::start_upstream(
        &cluster,
        NAMESPACE,
        "sealed-secrets",
        &dir.join("upstream.log"),
        &[],
    );
    let pem = wait_cert(&upstream).await;
    let cert = Certificate::from_pem(pem.as_bytes()).expect("certificate");
    let stranger = PrivateKey::generate(2048).expect("another key");
    let api = Api::<SealedSecretObject>::namespaced(client.clone(), NAMESPACE);
    for (object, synced) in [
        (
            sealed(cert.public_key(), NAMESPACE, "upstream-synced"),
            "True",
        ),
        (
            sealed(stranger.public_key(), NAMESPACE, "upstream-unknown-key"),
            "False",
        ),
    ] {
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        kubectl(&cluster, &["create", "-f", "-"], &object.to_string());
        wait_synced(&api, &name, synced).await;
    }
    compare_with_fixtures(&cluster, &["upstream-synced", "upstream-unknown-key"]);
    drop(upstream);
    remove_scratch_dir(&dir);
}

/// The pinned kustomize (`tests/kustomize/install.sh`: cached, else built).
fn kustomize() -> PathBuf {
    let out = Command::new(repo_root().join("tests/kustomize/install.sh"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run tests/kustomize/install.sh");
    assert!(out.status.success(), "tests/kustomize/install.sh failed");
    PathBuf::from(String::from_utf8(out.stdout).expect("utf-8").trim())
}

/// `kustomize build` with `kubeseal-rs krm` as generator (`tests/kustomize/app`, sealed with
/// the controller's certificate), applied: the controller unseals it into the Secret the
/// generator's files, env file and literals describe, and its status is the `synced` shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kustomize_generated_sealed_secret_unseals() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let kustomize = kustomize();
    let _one_cluster = CLUSTER.lock().await;
    let cluster = Cluster::start("controller-krm");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    ensure_namespace(&client, "demo").await;
    let dir = scratch_dir("controller-krm");
    let controller = start_ours(&cluster, "demo", &dir.join("controller.log"), &[]);
    let pem = wait_cert(&controller).await;

    let app = dir.join("app");
    std::fs::create_dir_all(&app).expect("app dir");
    for entry in std::fs::read_dir(repo_root().join("tests/kustomize/app")).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), app.join(entry.file_name())).expect("copy");
    }
    std::fs::write(app.join("cert.pem"), &pem).expect("cert");
    let cli_dir = harness::kubeseal_rs()
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        cli_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(&kustomize)
        .args(["build", "--enable-alpha-plugins", "--enable-exec", "."])
        .current_dir(&app)
        .env("PATH", path)
        .output()
        .expect("kustomize");
    assert!(
        out.status.success(),
        "kustomize build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    kubectl_apply(&cluster, &String::from_utf8(out.stdout).expect("utf-8"));

    let api = Api::<SealedSecretObject>::namespaced(client.clone(), "demo");
    let (status, _) = wait_synced(&api, "app-credentials", "True").await;
    assert_eq!(status.observed_generation, 1);
    let secrets = Api::<Secret>::namespaced(client.clone(), "demo");
    let secret = wait_secret_value(
        &secrets,
        "app-credentials",
        "DB_PASSWORD",
        "s3cr3t=with=equals",
    )
    .await;
    let data = secret.data.expect("data");
    let value = |key: &str| String::from_utf8(data[key].0.clone()).expect("utf-8");
    assert_eq!(value("DB_USER"), "app");
    assert_eq!(value("mode"), "production");
    assert_eq!(value("tls.key"), "not a real key, a test value\n");
    assert_eq!(
        value("config.json"),
        "{\"endpoint\": \"https://db.example\", \"pool\": 4}\n"
    );
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    drop(controller);
    remove_scratch_dir(&dir);
}

/// Argo CD's and Flux's view of the fixtures (`tests/health/run`: Go, modules through the
/// proxy, cached). Runs with the end-to-end suites, which need Go anyway.
#[test]
fn argo_cd_and_flux_health_of_the_fixtures() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (runs tests/health/run, which needs Go)");
        return;
    }
    let out = Command::new(repo_root().join("tests/health/run"))
        .output()
        .expect("run tests/health/run");
    assert!(
        out.status.success(),
        "tests/health/run failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
