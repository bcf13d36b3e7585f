//! End-to-end: the key lifecycle (`docs/keys.md`) on a real kube-apiserver with our controller
//! and `kubeseal-rs keys`, every assertion read back from the API server or the metrics.
//!
//! Skipped unless `SSRS_E2E=1` (root, the built harness; `cargo build -p kubeseal-rs` first).
//! One harness for every step:
//! - three key Secrets made by `kubeseal-rs keygen` (back-dated, A oldest) are loaded; 20
//!   SealedSecrets sealed for A unseal, each Secret's digest records A; with no record the first
//!   unseal tries every key (3 RSA operations per item);
//! - `keys list` and `sealed_secrets_rs_key_dependents` say A has 20 dependents, B and C none;
//! - a restart costs no RSA work; a spec change of all 20 costs one RSA operation per item,
//!   because the recorded key is tried first;
//! - `keys backup` writes all three keys (mode 0600, a v1 List that `kubectl apply
//!   --dry-run=server` and upstream `kubeseal --recovery-private-key` accept; `-w -` prints the
//!   same); the key Secrets are deleted and the controller restarted: it does not generate a
//!   replacement, it waits; `keys restore --dry-run` adds nothing; `keys restore` adds exactly
//!   the three keys, the controller resumes with the same newest
//!   certificate, every SealedSecret is still unsealed; a second restore adds nothing, and a
//!   file whose key Secret name is taken by another key restores nothing;
//! - `keys prune` refuses A (20 recorded dependents), the newest key C, an unknown fingerprint,
//!   and B while an unrecorded SealedSecret (its Secret is someone else's) opens with B; after
//!   that object is gone, `--dry-run` then a real prune remove B only;
//! - re-sealing one object for C and deleting another move the gauge (A 18, C 1);
//! - `keys prune --older-than` keeps A (in use) and C (newest) and says why; nothing is old
//!   enough for 30 days;
//! - no plaintext or private key in the controller logs, events or statuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use harness::{
    Cluster, KEY_LABEL, Plaintexts, Process, apply_crd, assert_no_leaks, client, create_sealed,
    enabled, ensure_namespace, eventually, http_get, kubectl, kubeseal_rs, metric, scratch_dir,
    start_ours, upstream_bin, wait_cert, wait_secret_value, wait_synced,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::seal::{SealOptions, seal_secret};
use sealed_secrets_core::secret_bytes::SecretBytes;
use sealed_secrets_core::types::{ObjectMeta, Secret as CoreSecret};

/// Where controllers before ADR 0004 kept the record.
const LEGACY_DIGEST: &str = "sealed-secrets-rs/unsealed-digest";
const OBJECTS: usize = 20;
const DEPENDENTS: &str = "sealed_secrets_rs_key_dependents";
const RSA_OPS: &str = "sealed_secrets_controller_rsa_decrypt_operations_total";

/// One key made by `kubeseal-rs keygen`.
struct Key {
    cert: String,
    fingerprint: String,
    file: PathBuf,
}

fn keygen(dir: &Path, ns: &str, tag: &str, days_ago: u32) -> Key {
    let not_before = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("-{days_ago} days"),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .unwrap();
    let not_before = String::from_utf8(not_before.stdout).unwrap();
    let file = dir.join(format!("key-{tag}.yaml"));
    let cert_file = dir.join(format!("cert-{tag}.pem"));
    let out = Command::new(kubeseal_rs())
        .args(["keygen", "--key-size", "2048", "-n", ns, "--not-before"])
        .arg(not_before.trim())
        .args(["--key-prefix", &format!("key-{tag}-"), "-w"])
        .arg(&file)
        .arg("--cert-out")
        .arg(&cert_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = std::fs::read_to_string(&cert_file).unwrap();
    let fingerprint = Certificate::from_pem(cert.as_bytes())
        .unwrap()
        .fingerprint()
        .to_string();
    Key {
        cert,
        fingerprint,
        file,
    }
}

/// `kubeseal-rs keys …` against the harness, keys in `ns`.
fn keys_cli(cluster: &Cluster, ns: &str, args: &[&str]) -> Output {
    Command::new(kubeseal_rs())
        .arg("keys")
        .args(args)
        .args(["--controller-namespace", ns, "--kubeconfig"])
        .arg(cluster.kubeconfig())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Exit 1, nothing on stdout, and exactly `error: {line}` on stderr.
fn refused(out: &Output, line: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {line}\n")
    );
}

fn seal(pem: &str, ns: &str, name: &str, value: &str) -> serde_json::Value {
    let cert = Certificate::from_pem(pem.as_bytes()).unwrap();
    let secret = CoreSecret {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: ns.into(),
            ..ObjectMeta::default()
        },
        data: [("foo".to_owned(), SecretBytes::from_slice(value.as_bytes()))].into(),
        ..CoreSecret::default()
    };
    serde_json::to_value(seal_secret(secret, cert.public_key(), &SealOptions::default()).unwrap())
        .unwrap()
}

/// (name, fingerprint) of every key Secret in `ns`, with their resourceVersions.
async fn key_set(client: &Client, ns: &str) -> (BTreeSet<String>, Vec<(String, String)>) {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let items = api
        .list(&ListParams::default().labels(KEY_LABEL))
        .await
        .unwrap()
        .items;
    let mut fps = BTreeSet::new();
    let mut versions = Vec::new();
    for s in items {
        let cert = &s.data.as_ref().unwrap()["tls.crt"].0;
        fps.insert(
            Certificate::from_pem(cert)
                .unwrap()
                .fingerprint()
                .to_string(),
        );
        versions.push((
            s.metadata.name.clone().unwrap(),
            s.metadata.resource_version.clone().unwrap(),
        ));
    }
    versions.sort();
    (fps, versions)
}

async fn metrics_text(process: &Process) -> String {
    http_get(process.metrics_port, "/metrics").await.unwrap().1
}

fn dependents(text: &str, fp: &str) -> Option<f64> {
    metric(text, &format!("{DEPENDENTS}{{fingerprint=\"{fp}\"}}"))
}

/// Waits for the gauge of each (key, count).
async fn wait_dependents(process: &Process, expected: &[(&Key, f64)]) -> String {
    eventually("key dependents", Duration::from_secs(60), || async {
        let text = http_get(process.metrics_port, "/metrics").await?.1;
        expected
            .iter()
            .all(|(k, n)| dependents(&text, &k.fingerprint) == Some(*n))
            .then_some(text)
    })
    .await
}

/// `keys list` rows: fingerprint → (state, dependents).
fn list_rows(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols[0].to_owned(), cols[4].to_owned(), cols[5].to_owned())
        })
        .collect()
}

fn name(i: usize) -> String {
    format!("s{i:02}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story, told in order
async fn key_lifecycle_on_a_real_api_server() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let started = Instant::now();
    let cluster = Cluster::start("keys-e2e");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    let dir = scratch_dir("keys-e2e");
    let log = dir.join("controller.log");
    let ns = format!("ssrs-keys-{}", std::process::id());
    ensure_namespace(&client, &ns).await;
    let ss_api: Api<SealedSecretObject> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let plaintexts = Plaintexts::default();

    // Three keys, A the oldest, C the newest.
    let a = keygen(&dir, &ns, "a", 3);
    let b = keygen(&dir, &ns, "b", 2);
    let c = keygen(&dir, &ns, "c", 1);
    for key in [&a, &b, &c] {
        kubectl(&cluster, &["create", "-f", key.file.to_str().unwrap()], "");
    }
    let controller = start_ours(&cluster, &ns, &log, &[]);
    assert_eq!(wait_cert(&controller).await, c.cert, "C is the newest key");
    let (fps, _) = key_set(&client, &ns).await;
    assert_eq!(fps.len(), 3, "no key was generated");

    // 20 SealedSecrets sealed for the oldest key.
    let mut values = Vec::new();
    for i in 0..OBJECTS {
        let value = plaintexts.value(&name(i));
        create_sealed(&ss_api, seal(&a.cert, &ns, &name(i), &value)).await;
        values.push(value);
    }
    for (i, value) in values.iter().enumerate() {
        let secret = wait_secret_value(&secrets, &name(i), "foo", value).await;
        // The record is in the SealedSecret's status (ADR 0004), the Secret carries nothing
        // of ours.
        assert!(
            !secret
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(LEGACY_DIGEST)),
            "{:?}",
            secret.metadata.annotations
        );
        wait_synced(&ss_api, &name(i), "True").await;
        let ss = ss_api.get(&name(i)).await.unwrap();
        let record = ss
            .status
            .as_ref()
            .and_then(|s| s.unsealed_digest.clone())
            .unwrap_or_default();
        assert_eq!(
            record.split(';').nth(2),
            Some(a.fingerprint.as_str()),
            "{record}"
        );
    }
    let text = wait_dependents(&controller, &[(&a, 20.0), (&b, 0.0), (&c, 0.0)]).await;
    let first_ops = metric(&text, RSA_OPS).unwrap();
    eprintln!("first unseal of {OBJECTS} objects, no record: {first_ops} RSA operations");
    assert!(
        first_ops >= 3.0 * 20.0,
        "every key tried, A last: {first_ops}"
    );

    // keys list: the same counts, from the records in the status.
    let listed = ok(&keys_cli(&cluster, &ns, &["list"]));
    eprintln!("{listed}");
    let rows = list_rows(&listed);
    let row = |k: &Key| rows.iter().find(|r| r.0 == k.fingerprint).cloned().unwrap();
    assert_eq!(row(&a).1, "active");
    assert_eq!(row(&a).2, "20");
    assert_eq!((row(&b).1.as_str(), row(&b).2.as_str()), ("active", "0"));
    assert_eq!((row(&c).1.as_str(), row(&c).2.as_str()), ("newest", "0"));

    // A restart costs nothing; a spec change of every object one RSA operation per item.
    assert!(controller.terminate());
    let controller = start_ours(&cluster, &ns, &log, &[]);
    wait_cert(&controller).await;
    let text = wait_dependents(&controller, &[(&a, 20.0)]).await;
    assert_eq!(metric(&text, RSA_OPS), Some(0.0), "restart: all skipped");
    for i in 0..OBJECTS {
        ss_api
            .patch(
                &name(i),
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({
                    "spec": {"template": {"metadata": {"labels": {"phase": "two"}}}}
                })),
            )
            .await
            .unwrap();
    }
    for i in 0..OBJECTS {
        eventually("relabelled Secret", Duration::from_secs(30), || async {
            let s = secrets.get(&name(i)).await.ok()?;
            (s.metadata.labels?.get("phase")? == "two").then_some(())
        })
        .await;
    }
    let text = metrics_text(&controller).await;
    let ops = metric(&text, RSA_OPS).unwrap();
    eprintln!("spec change of {OBJECTS} objects, recorded key first: {ops} RSA operations");
    assert!(
        (20.0..=22.0).contains(&ops),
        "about one RSA operation per item: {ops}"
    );
    for i in 0..OBJECTS {
        wait_synced(&ss_api, &name(i), "True").await;
    }

    // Backup: every key, mode 0600, accepted by kubectl and by upstream's recovery.
    let backup = dir.join("backup.yaml");
    let out = keys_cli(&cluster, &ns, &["backup", "-w", backup.to_str().unwrap()]);
    ok(&out);
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&backup).unwrap();
    assert!(text.contains("kind: List"));
    assert_eq!(text.matches("kind: Secret").count(), 3);
    // `-w -`: the same backup on stdout.
    assert_eq!(ok(&keys_cli(&cluster, &ns, &["backup", "-w", "-"])), text);
    let sealed_file = dir.join("s00.json");
    std::fs::write(
        &sealed_file,
        serde_json::to_vec(&seal(&a.cert, &ns, "s00", &values[0])).unwrap(),
    )
    .unwrap();
    let recovered = Command::new(upstream_bin("kubeseal"))
        .args(["--recovery-unseal", "--recovery-private-key"])
        .arg(&backup)
        .arg("-f")
        .arg(&sealed_file)
        .args(["-o", "json"])
        .output()
        .unwrap();
    let recovered: serde_json::Value = serde_json::from_slice(&recovered.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&recovered.stderr)));
    let b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        values[0].as_bytes(),
    );
    assert_eq!(recovered["data"]["foo"], b64.as_str());

    // Keys lost: the controller does not make a stranger, it waits for them.
    assert!(controller.terminate());
    kubectl(
        &cluster,
        &[
            "delete",
            "secret",
            "-n",
            &ns,
            "-l",
            "sealedsecrets.bitnami.com/sealed-secrets-key",
        ],
        "",
    );
    kubectl(
        &cluster,
        &["apply", "--dry-run=server", "-f", backup.to_str().unwrap()],
        "",
    );
    let controller = start_ours(&cluster, &ns, &log, &[]);
    eventually("the lost-keys message", Duration::from_secs(30), || async {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("no sealing key found in namespace")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        key_set(&client, &ns).await.0.is_empty(),
        "a key was generated"
    );
    assert!(http_get(controller.port, "/v1/cert.pem").await.is_none());

    // A dry run says what it would add and adds nothing.
    let out = ok(&keys_cli(
        &cluster,
        &ns,
        &["restore", "--dry-run", backup.to_str().unwrap()],
    ));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("would add ")).count(),
        3,
        "{out}"
    );
    assert!(
        key_set(&client, &ns).await.0.is_empty(),
        "dry run added keys"
    );

    // Restore: exactly the backup's keys; the controller resumes with the same newest key.
    let out = ok(&keys_cli(
        &cluster,
        &ns,
        &["restore", backup.to_str().unwrap()],
    ));
    eprintln!("{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("added ")).count(),
        3,
        "{out}"
    );
    assert_eq!(wait_cert(&controller).await, c.cert);
    let (fps, versions) = key_set(&client, &ns).await;
    assert_eq!(
        fps,
        [&a, &b, &c].iter().map(|k| k.fingerprint.clone()).collect(),
        "no stray key"
    );
    for (i, value) in values.iter().enumerate() {
        wait_secret_value(&secrets, &name(i), "foo", value).await;
        wait_synced(&ss_api, &name(i), "True").await;
    }
    wait_dependents(&controller, &[(&a, 20.0), (&b, 0.0), (&c, 0.0)]).await;
    // Again: nothing to add, nothing changed.
    let out = ok(&keys_cli(
        &cluster,
        &ns,
        &["restore", backup.to_str().unwrap()],
    ));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("skipped ")).count(),
        3,
        "{out}"
    );
    assert_eq!(key_set(&client, &ns).await.1, versions);
    // A key Secret name taken by another key: refused, nothing restored.
    let d = keygen(&dir, &ns, "d", 0);
    let a_name = versions
        .iter()
        .map(|(n, _)| n)
        .find(|n| n.starts_with("key-a-"))
        .unwrap()
        .clone();
    let clash = dir.join("clash.yaml");
    std::fs::write(
        &clash,
        std::fs::read_to_string(&d.file)
            .unwrap()
            .replace("generateName: key-d-", &format!("name: {a_name}")),
    )
    .unwrap();
    refused(
        &keys_cli(&cluster, &ns, &["restore", clash.to_str().unwrap()]),
        &format!(
            "Secret {ns}/{a_name} exists and holds key {}, not key {}; it is not overwritten: nothing was restored",
            a.fingerprint, d.fingerprint
        ),
    );
    assert_eq!(key_set(&client, &ns).await.1, versions);

    // Prune: refusals change nothing.
    let names: std::collections::BTreeMap<&str, String> = [("a", &a), ("b", &b), ("c", &c)]
        .into_iter()
        .map(|(tag, _)| {
            let prefix = format!("key-{tag}-");
            (
                tag,
                versions
                    .iter()
                    .map(|(n, _)| n)
                    .find(|n| n.starts_with(&prefix))
                    .unwrap()
                    .clone(),
            )
        })
        .collect();
    refused(
        &keys_cli(&cluster, &ns, &["prune", &a.fingerprint]),
        &format!(
            "key {} (Secret {ns}/{}) is still used by 20 SealedSecrets ({ns}/s00, {ns}/s01, {ns}/s02, …); re-encrypt them for another key first (kubeseal-rs --re-encrypt, or kubeseal-rs reseal): nothing was deleted",
            a.fingerprint, names["a"]
        ),
    );
    refused(
        &keys_cli(&cluster, &ns, &["prune", &c.fingerprint]),
        &format!(
            "key {} (Secret {ns}/{}) is the newest key, the one the controller seals with: nothing was deleted",
            c.fingerprint, names["c"]
        ),
    );
    refused(
        &keys_cli(&cluster, &ns, &["prune", "SHA256:unknown"]),
        &format!(
            "no key Secret in namespace \"{ns}\" has fingerprint SHA256:unknown (kubeseal-rs keys list shows them): nothing was deleted"
        ),
    );
    // An unrecorded dependent: sealed for B, its Secret belongs to someone else (Synced=False,
    // no record); prune finds it by opening it with B.
    let taken_value = plaintexts.value("taken");
    let taken: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "taken"}, "stringData": {"x": "y"}
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &taken)
        .await
        .unwrap();
    create_sealed(&ss_api, seal(&b.cert, &ns, "taken", &taken_value)).await;
    wait_synced(&ss_api, "taken", "False").await;
    refused(
        &keys_cli(&cluster, &ns, &["prune", &b.fingerprint]),
        &format!(
            "key {} (Secret {ns}/{}) is still used by 1 SealedSecrets ({ns}/taken); re-encrypt them for another key first (kubeseal-rs --re-encrypt, or kubeseal-rs reseal): nothing was deleted",
            b.fingerprint, names["b"]
        ),
    );
    assert_eq!(key_set(&client, &ns).await.1, versions);
    ss_api
        .delete("taken", &DeleteParams::default())
        .await
        .unwrap();
    eventually("taken gone", Duration::from_secs(30), || async {
        ss_api.get_opt("taken").await.ok()?.is_none().then_some(())
    })
    .await;
    let out = ok(&keys_cli(
        &cluster,
        &ns,
        &["prune", &b.fingerprint, "--dry-run"],
    ));
    assert_eq!(
        out,
        format!(
            "would delete key Secret {ns}/{} ({}): no SealedSecret depends on it\n",
            names["b"], b.fingerprint
        )
    );
    assert_eq!(key_set(&client, &ns).await.1, versions);
    let out = ok(&keys_cli(&cluster, &ns, &["prune", &b.fingerprint]));
    assert_eq!(
        out,
        format!(
            "deleted key Secret {ns}/{} ({})\n",
            names["b"], b.fingerprint
        )
    );
    assert_eq!(
        key_set(&client, &ns).await.0,
        [&a, &c].iter().map(|k| k.fingerprint.clone()).collect()
    );

    // Re-keyed and deleted objects move the gauge.
    let value = plaintexts.value("rekeyed");
    let mut object: SealedSecretObject =
        serde_json::from_value(seal(&c.cert, &ns, &name(0), &value)).unwrap();
    let current = ss_api.get(&name(0)).await.unwrap();
    object.metadata.resource_version = current.metadata.resource_version;
    ss_api
        .replace(&name(0), &PostParams::default(), &object)
        .await
        .unwrap();
    wait_secret_value(&secrets, &name(0), "foo", &value).await;
    ss_api
        .delete(&name(1), &DeleteParams::default())
        .await
        .unwrap();
    wait_dependents(&controller, &[(&a, 18.0), (&c, 1.0)]).await;
    // The gauge moves when the Secret is written; `keys list` counts a record only once the
    // status says Synced at the current generation, which the controller writes just after.
    let count = |rows: &[(String, String, String)], k: &Key| {
        rows.iter()
            .find(|r| r.0 == k.fingerprint)
            .map(|r| r.2.clone())
    };
    let listed = eventually("keys list shows 18 and 1", Duration::from_secs(30), || {
        let listed = ok(&keys_cli(&cluster, &ns, &["list"]));
        let rows = list_rows(&listed);
        let counts = (count(&rows, &a), count(&rows, &c));
        async move { (counts == (Some("18".to_owned()), Some("1".to_owned()))).then_some(listed) }
    })
    .await;
    eprintln!("{listed}");

    // Pruning by age keeps what is in use and the newest key, and says why; nothing goes.
    let versions = key_set(&client, &ns).await.1;
    let out = ok(&keys_cli(&cluster, &ns, &["prune", "--older-than", "12h"]));
    assert!(
        out.contains(&format!(
            "kept: key {} (Secret {ns}/{}) is still used by 18 SealedSecrets (",
            a.fingerprint, names["a"]
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "kept: key {} (Secret {ns}/{}) is the newest key, the one the controller seals with",
            c.fingerprint, names["c"]
        )),
        "{out}"
    );
    assert!(!out.contains("delete"), "{out}");
    assert_eq!(key_set(&client, &ns).await.1, versions);
    let out = ok(&keys_cli(&cluster, &ns, &["prune", "--older-than", "30d"]));
    assert_eq!(out, "no key is old enough to prune\n");

    assert!(controller.terminate());
    assert_no_leaks(&client, &[&ns], &[&log], &plaintexts).await;
    eprintln!("key lifecycle e2e passed in {:?}", started.elapsed());
    harness::remove_scratch_dir(&dir);
}
