//! End-to-end: faults, hostile input and floods on a real control plane (the `tests/cluster`
//! harness), every assertion read back from the API server. Skipped unless `SSRS_E2E=1`.
//!
//! One harness for every scenario; each scenario prints how long the controller took to
//! converge (`[faults] …` lines). `SSRS_FAULTS=name,name` runs only the named scenarios
//! (`apiserver`, `etcd`, `sigkill`, `watch410`, `conflicts`, `rolling`, `runbook`, `hostile`,
//! `flood`, `errors`); the leak check at the end always runs.
//!
//! Faults, on 500 SealedSecrets in one namespace, each sealed strict with its own value (so every
//! object costs one RSA-2048 decryption; nothing shares a ciphertext), the controller's client
//! unthrottled (`--kubeclient-qps 200`; at the default 5 qps, 500 objects take minutes):
//! - `apiserver`: kube-apiserver SIGKILLed and restarted once a fifth of them are unsealed;
//! - `etcd`: every value changed, etcd SIGKILLed and restarted a fifth of the way through;
//! - `sigkill`: every value changed again, the controller SIGKILLed a fifth of the way through
//!   and started again;
//! - `watch410`: the controller frozen (SIGSTOP) while values change, target Secrets are deleted
//!   and SealedSecrets are added, etcd compacted and kube-apiserver restarted: on SIGCONT its
//!   watches resume from a compacted resourceVersion, the API server answers 410 Gone, the
//!   controller relists and converges;
//! - `conflicts`: writers hammer the target Secrets (annotations) while their SealedSecrets
//!   change: the controller's writes hit 409 Conflict, are redone on a fresh read, converge;
//!
//! after each: every Secret holds the right value and every SealedSecret is `Synced=True`,
//! Secrets the controller does not own (one named like a SealedSecret) keep their
//! resourceVersion, the one key Secret is still there and no other was generated.
//! - `rolling`: two `--leader-elect` replicas overlap as in a rolling update; the old one stops,
//!   the new one leads: one key, and no target Secret is written again (resourceVersions equal).
//! - `runbook`: docs/operations.md's key loss runbook, command for command: back up the key
//!   Secrets with kubectl, delete the namespace, recreate it, restore, start the controller,
//!   re-apply the SealedSecrets from "git": all unseal, with the old key and no new one.
//! - `hostile`: a 1 MiB value (unseals) and one byte more (the API server's own "Too long"),
//!   2000 items, item names that are not Secret keys, wrong scope, another cluster's key, RSA
//!   blocks of the wrong length, garbage base64: `Synced=False` with a clear message for each
//!   bad one, good objects beside them untouched, a new one unsealed at once, the controller's
//!   peak RSS bounded.
//! - `flood`: 2000 concurrent POSTs to `/v1/verify` and `/v1/rotate` on loopback: the verify rate
//!   limit holds (429s counted), a SealedSecret applied during the flood is unsealed promptly,
//!   RSS stays bounded.
//! - `errors`: wrong key, wrong namespace, wrong name and corrupt data are indistinguishable to a
//!   caller of `/v1/verify` and `/v1/rotate` (status, headers, body) and in the condition
//!   message; only the condition's reason (a deliberate diagnosis) tells them apart.
//! - at the end: no plaintext (all carry one prefix; it and its base64 are searched), no private
//!   key and no panic in any controller log, Event, status or `/metrics` output of the run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::StreamExt as _;
use harness::{
    Cluster, KEY_LABEL, Plaintexts, Process, apply_crd, assert_no_leaks, client, enabled,
    ensure_namespace, eventually, http_get, kubectl, metric, repo_root, scratch_dir, start_ours,
    wait_cert, wait_synced,
};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::cert::{CertParams, Certificate};
use sealed_secrets_core::keys::{PrivateKey, PublicKey};
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::seal::encrypt_item;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Every plaintext of this run starts with this (18 bytes, so the base64 of every value starts
/// with the base64 of the prefix: two needles find them all in gigabytes of logs).
const PREFIX: &str = "faults-plaintext-Q";
/// How many SealedSecrets the fault scenarios reconcile.
const COUNT: usize = 500;
/// The fault is injected once this many RSA decryptions are done ("mid-reconcile").
const FAULT_AT: f64 = 100.0;
/// The item every generated SealedSecret holds.
const ITEM: &str = "value";
/// Bound on the controller's peak RSS (VmHWM) after the hostile objects and the flood.
const RSS_BOUND_KIB: u64 = 256 * 1024;
/// The client settings of the fault scenarios (see the module doc).
const UNTHROTTLED: [&str; 4] = ["--kubeclient-qps", "200", "--kubeclient-burst", "400"];

fn selected(name: &str) -> bool {
    std::env::var("SSRS_FAULTS").map_or(true, |v| v.split(',').any(|s| s.trim() == name))
}

fn value(tag: &str) -> String {
    format!("{PREFIX}-{tag}")
}

/// Seals `value` for `namespace`/`name` (strict) as one `encryptedData` item.
fn seal_value(key: &PublicKey, namespace: &str, name: &str, value: &[u8]) -> String {
    encrypt_item(key, Scope::Strict, namespace, name, value).expect("seal")
}

/// A SealedSecret's JSON with these `encryptedData` items and annotations.
fn sealed_json(
    namespace: &str,
    name: &str,
    items: &BTreeMap<String, String>,
    annotations: &[(&str, &str)],
) -> serde_json::Value {
    let annotations: BTreeMap<&str, &str> = annotations.iter().copied().collect();
    serde_json::json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {
            "template": {"metadata": {"name": name, "namespace": namespace}},
            "encryptedData": items,
        },
    })
}

fn one_item(blob: String) -> BTreeMap<String, String> {
    [(ITEM.to_owned(), blob)].into()
}

fn public_key(cert_pem: &str) -> PublicKey {
    Certificate::from_pem(cert_pem.as_bytes())
        .expect("certificate")
        .public_key()
        .clone()
}

async fn create_json(api: &Api<SealedSecretObject>, object: serde_json::Value) {
    let object: SealedSecretObject = serde_json::from_value(object).expect("SealedSecret JSON");
    api.create(&PostParams::default(), &object)
        .await
        .expect("create SealedSecret");
}

/// Creates the named SealedSecrets (`create`), or changes their item, each sealing its value
/// from `values`; 16 requests at a time.
async fn write_many(
    api: &Api<SealedSecretObject>,
    key: &PublicKey,
    namespace: &str,
    names: &[String],
    values: &BTreeMap<String, String>,
    create: bool,
) {
    futures::stream::iter(names.iter())
        .map(|name| {
            let blob = seal_value(key, namespace, name, values[name].as_bytes());
            async move {
                if create {
                    create_json(api, sealed_json(namespace, name, &one_item(blob), &[])).await;
                } else {
                    api.patch(
                        name,
                        &PatchParams::default(),
                        &Patch::Merge(serde_json::json!({"spec": {"encryptedData": {ITEM: blob}}})),
                    )
                    .await
                    .expect("patch SealedSecret");
                }
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
}

/// Polls until every named Secret holds its value and every SealedSecret is `Synced=True` for
/// its current generation; returns how many are still wrong when it gives up (0 = converged).
async fn converge(
    client: &Client,
    namespace: &str,
    expected: &BTreeMap<String, String>,
    timeout: Duration,
) -> usize {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let sealed: Api<SealedSecretObject> = Api::namespaced(client.clone(), namespace);
    let start = Instant::now();
    loop {
        let wrong = wrong_count(&secrets, &sealed, expected).await;
        if wrong == 0 || start.elapsed() > timeout {
            return wrong;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wrong_count(
    secrets: &Api<Secret>,
    sealed: &Api<SealedSecretObject>,
    expected: &BTreeMap<String, String>,
) -> usize {
    let Ok(secret_list) = secrets.list(&ListParams::default()).await else {
        return expected.len();
    };
    let Ok(sealed_list) = sealed.list(&ListParams::default()).await else {
        return expected.len();
    };
    let have: BTreeMap<String, Vec<u8>> = secret_list
        .items
        .into_iter()
        .filter_map(|s| {
            let value = s.data?.get(ITEM)?.0.clone();
            Some((s.metadata.name?, value))
        })
        .collect();
    let synced: BTreeSet<String> = sealed_list
        .items
        .into_iter()
        .filter(|ss| {
            ss.status.as_ref().is_some_and(|st| {
                Some(st.observed_generation) == ss.metadata.generation
                    && st
                        .conditions
                        .iter()
                        .any(|c| c.type_ == "Synced" && c.status == "True")
            })
        })
        .filter_map(|ss| ss.metadata.name)
        .collect();
    expected
        .iter()
        .filter(|(name, value)| {
            have.get(*name).map(Vec::as_slice) != Some(value.as_bytes()) || !synced.contains(*name)
        })
        .count()
}

async fn key_names(client: &Client, namespace: &str) -> Vec<String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut names: Vec<String> = api
        .list(&ListParams::default().labels(KEY_LABEL))
        .await
        .expect("list keys")
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect();
    names.sort();
    names
}

/// resourceVersions of the named Secrets.
async fn versions(api: &Api<Secret>, names: &[String]) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for name in names {
        let rv = api
            .get_opt(name)
            .await
            .expect("get Secret")
            .and_then(|s| s.metadata.resource_version);
        out.insert(name.clone(), rv);
    }
    out
}

async fn metric_of(process: &Process, name: &str) -> Option<f64> {
    let (_, text) = http_get(process.metrics_port, "/metrics").await?;
    metric(&text, name)
}

const RSA_OPS: &str = "sealed_secrets_controller_rsa_decrypt_operations_total";

/// Waits until the controller has done `at_least` RSA decryptions.
async fn wait_rsa_ops(process: &Process, at_least: f64) {
    eventually(
        &format!("{at_least} RSA decryptions"),
        Duration::from_secs(120),
        || async { (metric_of(process, RSA_OPS).await? >= at_least).then_some(()) },
    )
    .await;
}

/// `tests/cluster/restart DIR COMPONENT --kill`.
fn restart_component(cluster: &Cluster, component: &str) {
    let status = Command::new(repo_root().join("tests/cluster/restart"))
        .arg(&cluster.dir)
        .args([component, "--kill"])
        .status()
        .expect("tests/cluster/restart");
    assert!(status.success(), "restarting {component} failed");
}

fn cluster_env(cluster: &Cluster, key: &str) -> String {
    let text = std::fs::read_to_string(cluster.dir.join("cluster.env")).expect("cluster.env");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .expect("key in cluster.env")
        .to_owned()
}

/// Compacts etcd up to its current revision (its gRPC gateway on loopback); returns it.
fn compact_etcd(cluster: &Cluster) -> u64 {
    let base = format!("http://127.0.0.1:{}", cluster_env(cluster, "ETCD_PORT"));
    let curl = |path: &str, body: &str| -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-fsS", "-X", "POST", &format!("{base}{path}"), "-d", body])
            .output()
            .expect("curl");
        assert!(out.status.success(), "etcd {path}: {:?}", out);
        serde_json::from_slice(&out.stdout).expect("etcd JSON")
    };
    let revision: u64 = curl("/v3/kv/range", r#"{"key":"AA=="}"#)["header"]["revision"]
        .as_str()
        .expect("revision")
        .parse()
        .expect("revision number");
    curl(
        "/v3/kv/compaction",
        &format!(r#"{{"revision":"{revision}","physical":true}}"#),
    );
    revision
}

/// (VmRSS, VmHWM) of a process, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("status field")
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// One HTTP/1.1 POST on loopback: (status, lower-cased headers, body).
async fn http_post(
    port: u16,
    path: &str,
    body: &[u8],
    forwarded_for: &str,
) -> Option<(u16, BTreeMap<String, String>, Vec<u8>)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nX-Forwarded-For: {forwarded_for}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some((status, headers, raw[split + 4..].to_vec()))
}

/// What every scenario shares.
struct Run {
    cluster: Cluster,
    client: Client,
    dir: PathBuf,
    logs: Vec<PathBuf>,
    namespaces: Vec<String>,
    started: Instant,
}

impl Run {
    fn log(&mut self, name: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.log"));
        self.logs.push(path.clone());
        path
    }

    async fn namespace(&mut self, name: &str) -> String {
        let ns = format!("{name}-{}", std::process::id());
        ensure_namespace(&self.client, &ns).await;
        self.namespaces.push(ns.clone());
        ns
    }

    fn report(&self, what: &str) {
        eprintln!("[faults {:>6.1?}] {what}", self.started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_hostile_input_and_floods() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let started = Instant::now();
    let cluster = Cluster::start("faults");
    apply_crd(&cluster);
    let client = client(&cluster).await;
    let dir = scratch_dir("faults");
    eprintln!(
        "logs in {} (removed when the run passes, unless SSRS_E2E_KEEP=1)",
        dir.display()
    );
    let mut run = Run {
        cluster,
        client,
        dir,
        logs: Vec::new(),
        namespaces: Vec::new(),
        started,
    };
    let plaintexts = Plaintexts::default();
    plaintexts.remember(PREFIX);

    if ["apiserver", "etcd", "sigkill", "watch410", "conflicts"]
        .iter()
        .any(|s| selected(s))
    {
        control_plane_faults(&mut run).await;
    }
    if selected("rolling") {
        rolling_update(&mut run).await;
    }
    if selected("runbook") {
        key_loss_runbook(&mut run).await;
    }
    if ["hostile", "flood", "errors"].iter().any(|s| selected(s)) {
        hostile(&mut run).await;
    }

    // Metrics output is a place a value could leak into (labels): keep the last scrape of each.
    let namespaces: Vec<&str> = run.namespaces.iter().map(String::as_str).collect();
    let logs: Vec<&Path> = run.logs.iter().map(PathBuf::as_path).collect();
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(!text.contains("panicked"), "a panic in {}", log.display());
    }
    assert_no_leaks(&run.client, &namespaces, &logs, &plaintexts).await;
    run.report("done");
    harness::remove_scratch_dir(&run.dir);
}

/// Keeps the last `/metrics` output of `process` as a file the leak check reads.
async fn keep_metrics(run: &mut Run, process: &Process, name: &str) {
    let (_, text) = http_get(process.metrics_port, "/metrics")
        .await
        .expect("/metrics");
    let path = run.log(&format!("{name}-metrics"));
    std::fs::write(&path, text).expect("write metrics");
}

/// Secrets the controller must never touch; returns their resourceVersions.
async fn unmanaged_secrets(secrets: &Api<Secret>) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for name in ["unmanaged-1", "unmanaged-2", "taken"] {
        let obj: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "stringData": {ITEM: value(&format!("unmanaged-{name}"))},
        }))
        .unwrap();
        let created = secrets
            .create(&PostParams::default(), &obj)
            .await
            .expect("create unmanaged Secret");
        out.insert(name.to_owned(), created.metadata.resource_version);
    }
    out
}

struct FaultCtx {
    ns: String,
    key: PublicKey,
    names: Vec<String>,
    expected: BTreeMap<String, String>,
    sealed: Api<SealedSecretObject>,
    secrets: Api<Secret>,
    untouched: BTreeMap<String, Option<String>>,
    keys: Vec<String>,
}

impl FaultCtx {
    fn next_values(&mut self, generation: &str, names: &[String]) {
        for name in names {
            self.expected
                .insert(name.clone(), value(&format!("{generation}-{name}")));
        }
    }

    /// Convergence, the untouched Secrets and the key set, after scenario `what` whose fault
    /// came at `fault`.
    async fn check(&self, run: &Run, what: &str, began: Instant, fault: Instant) {
        let wrong = converge(
            &run.client,
            &self.ns,
            &self.expected,
            Duration::from_secs(180),
        )
        .await;
        assert_eq!(wrong, 0, "{what}: {wrong} SealedSecrets did not converge");
        run.report(&format!(
            "{what}: {} SealedSecrets converged {:.1?} after the fault, {:.1?} after the change",
            self.expected.len(),
            fault.elapsed(),
            began.elapsed()
        ));
        assert_eq!(
            versions(
                &self.secrets,
                &self.untouched.keys().cloned().collect::<Vec<_>>()
            )
            .await,
            self.untouched,
            "{what}: a Secret the controller does not own was written"
        );
        assert_eq!(
            key_names(&run.client, &self.ns).await,
            self.keys,
            "{what}: a key Secret was lost or another generated"
        );
        // A request that failed while the API server was down is reported in the status too
        // (and retried): wait for the refusal itself, not just any Synced=False.
        eventually(
            "taken: Synced=False, not managed by SealedSecret",
            Duration::from_secs(60),
            || async {
                let st = self.sealed.get("taken").await.ok()?.status?;
                let c = st.conditions.iter().find(|c| c.type_ == "Synced")?;
                (c.status == "False" && c.message.contains("not managed by SealedSecret"))
                    .then_some(())
            },
        )
        .await;
    }
}

/// The five control-plane and controller faults on 500 SealedSecrets (see the module doc).
#[allow(clippy::too_many_lines)]
async fn control_plane_faults(run: &mut Run) {
    let ns = run.namespace("ssrs-faults").await;
    let sealed: Api<SealedSecretObject> = Api::namespaced(run.client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(run.client.clone(), &ns);
    let untouched = unmanaged_secrets(&secrets).await;

    // A key first, then the SealedSecrets, then a controller that finds them all at start-up.
    let log = run.log("faults-keygen");
    let first = start_ours(&run.cluster, &ns, &log, &UNTHROTTLED);
    let cert = wait_cert(&first).await;
    assert!(first.terminate());
    let keys = key_names(&run.client, &ns).await;
    assert_eq!(keys.len(), 1);
    let names: Vec<String> = (0..COUNT).map(|i| format!("app-{i:03}")).collect();
    let mut ctx = FaultCtx {
        ns: ns.clone(),
        key: public_key(&cert),
        names: names.clone(),
        expected: BTreeMap::new(),
        sealed,
        secrets,
        untouched,
        keys,
    };
    ctx.next_values("gen1", &names);
    let t = Instant::now();
    write_many(&ctx.sealed, &ctx.key, &ns, &names, &ctx.expected, true).await;
    let blob = seal_value(&ctx.key, &ns, "taken", value("taken").as_bytes());
    create_json(&ctx.sealed, sealed_json(&ns, "taken", &one_item(blob), &[])).await;
    run.report(&format!(
        "created {COUNT} SealedSecrets in {:.1?}",
        t.elapsed()
    ));

    let log = run.log("faults-1");
    let mut controller = start_ours(&run.cluster, &ns, &log, &UNTHROTTLED);
    let began = Instant::now();
    if selected("apiserver") {
        wait_rsa_ops(&controller, FAULT_AT).await;
        let fault = Instant::now();
        restart_component(&run.cluster, "kube-apiserver");
        ctx.check(run, "kube-apiserver SIGKILLed mid-reconcile", began, fault)
            .await;
    } else {
        ctx.check(run, "initial reconcile", began, began).await;
    }

    if selected("etcd") {
        assert!(controller.terminate());
        ctx.next_values("gen2", &names);
        write_many(&ctx.sealed, &ctx.key, &ns, &names, &ctx.expected, false).await;
        let log = run.log("faults-2");
        controller = start_ours(&run.cluster, &ns, &log, &UNTHROTTLED);
        let began = Instant::now();
        wait_rsa_ops(&controller, FAULT_AT).await;
        let fault = Instant::now();
        restart_component(&run.cluster, "etcd");
        ctx.check(run, "etcd SIGKILLed mid-reconcile", began, fault)
            .await;
    }

    if selected("sigkill") {
        assert!(controller.terminate());
        ctx.next_values("gen3", &names);
        write_many(&ctx.sealed, &ctx.key, &ns, &names, &ctx.expected, false).await;
        let log = run.log("faults-3");
        let victim = start_ours(&run.cluster, &ns, &log, &UNTHROTTLED);
        let began = Instant::now();
        wait_rsa_ops(&victim, FAULT_AT).await;
        let fault = Instant::now();
        victim.signal("KILL");
        drop(victim);
        let log = run.log("faults-4");
        controller = start_ours(&run.cluster, &ns, &log, &UNTHROTTLED);
        ctx.check(run, "controller SIGKILLed mid-reconcile", began, fault)
            .await;
    }

    if selected("watch410") {
        watch_expiry(run, &mut ctx, &controller).await;
    }
    if selected("conflicts") {
        conflicts(run, &mut ctx).await;
    }
    keep_metrics(run, &controller, "faults").await;
    assert!(controller.terminate(), "controller did not exit 0");
}

/// The controller frozen while things change, etcd compacted and the API server restarted: its
/// watches come back with a compacted resourceVersion and get 410 Gone.
async fn watch_expiry(run: &mut Run, ctx: &mut FaultCtx, controller: &Process) {
    let log = run.logs.last().expect("controller log").clone();
    let gone_before = count_in(&log, "code: 410");
    controller.signal("STOP");
    let began = Instant::now();
    let changed: Vec<String> = ctx.names[..50].to_vec();
    ctx.next_values("gen4", &changed);
    write_many(
        &ctx.sealed,
        &ctx.key,
        &ctx.ns,
        &changed,
        &ctx.expected,
        false,
    )
    .await;
    // Target Secrets deleted out of band (the relist must notice: no Delete event arrives).
    for name in &ctx.names[50..70] {
        ctx.secrets
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete Secret");
    }
    let added: Vec<String> = (0..10).map(|i| format!("late-{i}")).collect();
    ctx.next_values("gen4", &added);
    write_many(&ctx.sealed, &ctx.key, &ctx.ns, &added, &ctx.expected, true).await;
    let revision = compact_etcd(&run.cluster);
    restart_component(&run.cluster, "kube-apiserver");
    let fault = Instant::now();
    controller.signal("CONT");
    ctx.check(
        run,
        &format!("watch expiry (etcd compacted at revision {revision}, 410 Gone, relist)"),
        began,
        fault,
    )
    .await;
    let gone = count_in(&log, "code: 410") - gone_before;
    assert!(gone > 0, "the controller's watches never got 410 Gone");
    eprintln!("[faults] watch expiry: {gone} watch(es) answered 410 Gone, relisted");
    ctx.names.extend(added);
}

fn count_in(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches(needle)
        .count()
}

/// Concurrent writers on the target Secrets while their SealedSecrets change.
async fn conflicts(run: &mut Run, ctx: &mut FaultCtx) {
    let log = run.logs.last().expect("controller log").clone();
    let marker = "conflict writing the Secret";
    let before = count_in(&log, marker);
    let targets: Vec<String> = ctx.names[100..120].to_vec();
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..4 {
        let secrets = ctx.secrets.clone();
        let targets = targets.clone();
        let stop = Arc::clone(&stop);
        let writes = Arc::clone(&writes);
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let name = &targets[usize::try_from(n).unwrap() % targets.len()];
                let patch = serde_json::json!({
                    "metadata": {"annotations": {format!("example.com/writer-{w}"): n.to_string()}}
                });
                if secrets
                    .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                    .is_ok()
                {
                    writes.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let began = Instant::now();
    for round in 0..3 {
        ctx.next_values(&format!("gen5-{round}"), &targets);
        write_many(
            &ctx.sealed,
            &ctx.key,
            &ctx.ns,
            &targets,
            &ctx.expected,
            false,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let fault = Instant::now();
    let wrong = converge(&run.client, &ctx.ns, &ctx.expected, Duration::from_secs(60)).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("writer");
    }
    assert_eq!(wrong, 0, "conflicts: {wrong} did not converge");
    ctx.check(
        run,
        &format!(
            "concurrent writer ({} annotation writes)",
            writes.load(Ordering::SeqCst)
        ),
        began,
        fault,
    )
    .await;
    let retried = count_in(&log, marker) - before;
    eprintln!("[faults] conflicts: {retried} Secret writes hit 409 and were redone");
    assert!(
        retried > 0,
        "no write conflict happened: the scenario proves nothing"
    );
}

/// Two `--leader-elect` replicas overlapping as in a rolling update.
async fn rolling_update(run: &mut Run) {
    let ns = run.namespace("ssrs-rolling").await;
    let sealed: Api<SealedSecretObject> = Api::namespaced(run.client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(run.client.clone(), &ns);
    let old_log = run.log("rolling-old");
    let old = start_ours(&run.cluster, &ns, &old_log, &["--leader-elect"]);
    let cert = wait_cert(&old).await;
    let key = public_key(&cert);
    let names: Vec<String> = (0..50).map(|i| format!("app-{i:02}")).collect();
    let mut expected: BTreeMap<String, String> = names
        .iter()
        .map(|n| (n.clone(), value(&format!("rolling-{n}"))))
        .collect();
    write_many(&sealed, &key, &ns, &names, &expected, true).await;
    assert_eq!(
        converge(&run.client, &ns, &expected, Duration::from_secs(60)).await,
        0
    );
    let keys = key_names(&run.client, &ns).await;
    assert_eq!(keys.len(), 1);
    let before = versions(&secrets, &names).await;

    // The new replica starts while the old one still leads; then the old one goes.
    let new_log = run.log("rolling-new");
    let new = start_ours(&run.cluster, &ns, &new_log, &["--leader-elect"]);
    assert_eq!(
        wait_cert(&new).await,
        cert,
        "the new replica serves another certificate"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        versions(&secrets, &names).await,
        before,
        "writes during the overlap"
    );
    let handover = Instant::now();
    assert!(old.terminate(), "the old replica did not exit 0");
    eventually("the new replica leads", Duration::from_secs(30), || async {
        std::fs::read_to_string(&new_log)
            .is_ok_and(|t| t.contains("became leader"))
            .then_some(())
    })
    .await;
    let late = "late".to_owned();
    expected.insert(late.clone(), value("rolling-late"));
    write_many(
        &sealed,
        &key,
        &ns,
        std::slice::from_ref(&late),
        &expected,
        true,
    )
    .await;
    assert_eq!(
        converge(&run.client, &ns, &expected, Duration::from_secs(60)).await,
        0
    );
    run.report(&format!(
        "rolling update: the new replica led and unsealed a new object {:.1?} after the old one got SIGTERM",
        handover.elapsed()
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        versions(&secrets, &names).await,
        before,
        "a target Secret was written again after the hand-over (flapping)"
    );
    assert_eq!(key_names(&run.client, &ns).await, keys, "a duplicate key");
    // The new leader proved the 50 current by their digests: one RSA decryption, the new one.
    assert_eq!(metric_of(&new, RSA_OPS).await, Some(1.0));
    keep_metrics(run, &new, "rolling").await;
    assert!(new.terminate());
}

/// docs/operations.md "Key loss runbook", command for command.
async fn key_loss_runbook(run: &mut Run) {
    let ns = run.namespace("ssrs-runbook").await;
    let log = run.log("runbook-before");
    let controller = start_ours(&run.cluster, &ns, &log, &[]);
    let cert = wait_cert(&controller).await;
    let key = public_key(&cert);
    let names: Vec<String> = (0..20).map(|i| format!("app-{i:02}")).collect();
    let expected: BTreeMap<String, String> = names
        .iter()
        .map(|n| (n.clone(), value(&format!("runbook-{n}"))))
        .collect();
    // "git": the SealedSecret manifests, kept as files.
    let git = run.dir.join("runbook-sealed.json");
    let items: Vec<serde_json::Value> = names
        .iter()
        .map(|n| {
            let blob = seal_value(&key, &ns, n, expected[n].as_bytes());
            sealed_json(&ns, n, &one_item(blob), &[])
        })
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(&git, serde_json::to_vec_pretty(&list).unwrap()).unwrap();
    kubectl(&run.cluster, &["apply", "-f", git.to_str().unwrap()], "");
    assert_eq!(
        converge(&run.client, &ns, &expected, Duration::from_secs(60)).await,
        0
    );
    let keys = key_names(&run.client, &ns).await;
    assert_eq!(keys.len(), 1);

    // 1. Back up (docs/operations.md §1).
    let backup = kubectl(
        &run.cluster,
        &[
            "get",
            "secret",
            "-n",
            &ns,
            "-l",
            "sealedsecrets.bitnami.com/sealed-secrets-key",
            "-o",
            "yaml",
        ],
        "",
    );
    let backup_file = run.dir.join("keys-backup.yaml");
    std::fs::write(&backup_file, &backup).unwrap();
    assert!(controller.terminate());

    // 2. The loss: the namespace goes, with keys, SealedSecrets and Secrets.
    let t = Instant::now();
    kubectl(
        &run.cluster,
        &["delete", "namespace", &ns, "--wait=true", "--timeout=120s"],
        "",
    );
    let namespaces: Api<Namespace> = Api::all(run.client.clone());
    eventually("namespace gone", Duration::from_secs(120), || async {
        namespaces.get_opt(&ns).await.ok()?.is_none().then_some(())
    })
    .await;
    run.report(&format!(
        "runbook: namespace deleted in {:.1?}",
        t.elapsed()
    ));

    // 3. Restore (§3): recreate the namespace, apply the backup, start the controller.
    let t = Instant::now();
    kubectl(&run.cluster, &["create", "namespace", &ns], "");
    kubectl(
        &run.cluster,
        &["apply", "-f", backup_file.to_str().unwrap()],
        "",
    );
    assert_eq!(key_names(&run.client, &ns).await, keys, "restored keys");
    let log = run.log("runbook-after");
    let controller = start_ours(&run.cluster, &ns, &log, &[]);
    assert_eq!(wait_cert(&controller).await, cert, "not the backed-up key");
    kubectl(&run.cluster, &["apply", "-f", git.to_str().unwrap()], "");
    assert_eq!(
        converge(&run.client, &ns, &expected, Duration::from_secs(60)).await,
        0,
        "SealedSecrets did not unseal after the restore"
    );
    assert_eq!(
        key_names(&run.client, &ns).await,
        keys,
        "a new key was generated"
    );
    run.report(&format!(
        "runbook: keys restored, {} SealedSecrets unsealed {:.1?} after the restore",
        names.len(),
        t.elapsed()
    ));
    keep_metrics(run, &controller, "runbook").await;
    assert!(controller.terminate());
}

/// Hostile SealedSecrets, the request flood and the indistinguishable errors, on one controller.
#[allow(clippy::too_many_lines)]
async fn hostile(run: &mut Run) {
    let ns = run.namespace("ssrs-hostile").await;
    let sealed: Api<SealedSecretObject> = Api::namespaced(run.client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(run.client.clone(), &ns);
    let log = run.log("hostile");
    let controller = start_ours(&run.cluster, &ns, &log, &[]);
    let cert = wait_cert(&controller).await;
    let key = public_key(&cert);
    let good: Vec<String> = (0..5).map(|i| format!("good-{i}")).collect();
    let mut expected: BTreeMap<String, String> = good
        .iter()
        .map(|n| (n.clone(), value(&format!("hostile-{n}"))))
        .collect();
    write_many(&sealed, &key, &ns, &good, &expected, true).await;
    assert_eq!(
        converge(&run.client, &ns, &expected, Duration::from_secs(60)).await,
        0
    );
    let good_versions = versions(&secrets, &good).await;
    let (rss0, _) = rss_kib(controller.pid());

    if selected("hostile") {
        hostile_objects(run, &ns, &key, &sealed, &secrets).await;
        let (rss, hwm) = rss_kib(controller.pid());
        run.report(&format!(
            "hostile objects: controller RSS {} MiB (was {} MiB), peak {} MiB",
            rss / 1024,
            rss0 / 1024,
            hwm / 1024
        ));
        assert!(hwm < RSS_BOUND_KIB, "peak RSS {hwm} KiB");
    }
    if selected("flood") {
        flood(run, &ns, &key, &sealed, &controller, &mut expected).await;
    }
    if selected("errors") {
        indistinguishable(run, &ns, &key, &sealed, &controller).await;
    }
    // Nothing of the above touched the good objects.
    assert_eq!(versions(&secrets, &good).await, good_versions);
    let good_only: BTreeMap<String, String> = expected
        .iter()
        .filter(|(k, _)| good.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        converge(&run.client, &ns, &good_only, Duration::from_secs(10)).await,
        0
    );
    keep_metrics(run, &controller, "hostile").await;
    assert!(controller.terminate(), "controller did not exit 0");
}

/// Each hostile SealedSecret and the condition it must end with.
async fn hostile_objects(
    run: &Run,
    ns: &str,
    key: &PublicKey,
    sealed: &Api<SealedSecretObject>,
    secrets: &Api<Secret>,
) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let t = Instant::now();
    // 1 MiB exactly: the largest value a Secret may hold; it unseals.
    let mib = 1024 * 1024;
    let big = format!("{PREFIX}{}", "x".repeat(mib - PREFIX.len()));
    let blob = seal_value(key, ns, "huge-ok", big.as_bytes());
    create_json(sealed, sealed_json(ns, "huge-ok", &one_item(blob), &[])).await;
    // One byte more: the API server refuses the Secret, and says so.
    let bigger = format!("{big}y");
    let blob = seal_value(key, ns, "huge-too-big", bigger.as_bytes());
    create_json(
        sealed,
        sealed_json(ns, "huge-too-big", &one_item(blob), &[]),
    )
    .await;
    // 2000 items (each its own RSA block).
    let many: BTreeMap<String, String> = (0..2000)
        .map(|i| {
            let name = format!("k{i:04}");
            let v = value(&format!("many-{i}"));
            (name, seal_value(key, ns, "many-items", v.as_bytes()))
        })
        .collect();
    create_json(sealed, sealed_json(ns, "many-items", &many, &[])).await;
    // Item names that cannot be Secret keys.
    let bad_names: BTreeMap<String, String> = [
        "with/slash".to_owned(),
        "with space".to_owned(),
        "ctl\u{1}char".to_owned(),
        "l".repeat(300),
    ]
    .into_iter()
    .map(|n| {
        let blob = seal_value(key, ns, "bad-names", value("badname").as_bytes());
        (n, blob)
    })
    .collect();
    create_json(sealed, sealed_json(ns, "bad-names", &bad_names, &[])).await;
    // Sealed namespace-wide, placed as strict (no annotation).
    let blob = encrypt_item(
        key,
        Scope::NamespaceWide,
        ns,
        "wrong-scope",
        value("scope").as_bytes(),
    )
    .unwrap();
    create_json(sealed, sealed_json(ns, "wrong-scope", &one_item(blob), &[])).await;
    // Another cluster's key.
    let other = PrivateKey::generate(2048).expect("key");
    let other_cert = Certificate::self_signed(
        &other,
        &CertParams::controller_default(time::OffsetDateTime::now_utc()),
    )
    .expect("cert");
    let blob = seal_value(
        other_cert.public_key(),
        ns,
        "other-cluster",
        value("other").as_bytes(),
    );
    create_json(
        sealed,
        sealed_json(ns, "other-cluster", &one_item(blob), &[]),
    )
    .await;
    // RSA blocks of the wrong length: the length prefix says 512 (a 2048-bit key's is 256),
    // and a blob cut inside its RSA block.
    let good_blob = b64
        .decode(seal_value(key, ns, "rsa-length", value("len").as_bytes()))
        .unwrap();
    let mut long = good_blob.clone();
    long[0..2].copy_from_slice(&512u16.to_be_bytes());
    let short = good_blob[..100].to_vec();
    let items: BTreeMap<String, String> = [
        ("claims-512".to_owned(), b64.encode(&long)),
        ("truncated".to_owned(), b64.encode(&short)),
        ("empty".to_owned(), String::new()),
    ]
    .into();
    create_json(sealed, sealed_json(ns, "rsa-length", &items, &[])).await;
    // Garbage base64.
    let items: BTreeMap<String, String> = [(ITEM.to_owned(), "!!not*base64@@".to_owned())].into();
    create_json(sealed, sealed_json(ns, "garbage-base64", &items, &[])).await;
    // 2000 items whose RSA blocks are 1 byte long: refused before any private-key operation.
    let tiny: BTreeMap<String, String> = (0..2000)
        .map(|i| (format!("t{i:04}"), b64.encode([0u8, 1, 7, 1, 2, 3])))
        .collect();
    create_json(sealed, sealed_json(ns, "tiny-rsa-blocks", &tiny, &[])).await;
    // Templates that ask for unbounded work: an empty string repeated 10^12 times, and 300
    // templates of a million bytes each (11 KB of input). Their failure is a value failure:
    // the SealedSecret reports success, the Secret says what failed (docs/templates.md).
    let with_templates = |name: &str, templates: BTreeMap<String, String>| {
        let mut object = sealed_json(ns, name, &BTreeMap::new(), &[]);
        object["spec"]["template"]["data"] = serde_json::json!(templates);
        object
    };
    create_json(
        sealed,
        with_templates(
            "empty-repeat",
            [(
                "x".to_owned(),
                r#"{{ repeat 1000000000000 "" }}"#.to_owned(),
            )]
            .into(),
        ),
    )
    .await;
    // 250 of them (the most one SealedSecret may have is 256): the shared budget stops them.
    let huge_total: BTreeMap<String, String> = (0..250)
        .map(|i| (format!("t{i:03}"), r#"{{ repeat 1000000 "a" }}"#.to_owned()))
        .collect();
    create_json(sealed, with_templates("huge-total", huge_total)).await;
    // 300: refused from the sources alone, before anything runs.
    let too_many: BTreeMap<String, String> = (0..300)
        .map(|i| (format!("t{i:03}"), r#"{{ repeat 1000000 "a" }}"#.to_owned()))
        .collect();
    create_json(sealed, with_templates("too-many-templates", too_many)).await;

    // What each ends with.
    let (_, c) = wait_synced(sealed, "huge-ok", "True").await;
    assert_eq!(c.message, "");
    let secret = secrets.get("huge-ok").await.unwrap();
    assert_eq!(secret.data.unwrap()[ITEM].0.len(), mib);
    let (_, c) = wait_synced(sealed, "many-items", "True").await;
    assert_eq!(c.message, "");
    assert_eq!(
        secrets.get("many-items").await.unwrap().data.unwrap().len(),
        2000
    );
    for name in ["empty-repeat", "huge-total"] {
        let (_, c) = wait_synced(sealed, name, "True").await;
        assert_eq!(c.message, "", "{name}");
        let secret = secrets.get(name).await.unwrap();
        let failed = secret
            .metadata
            .annotations
            .unwrap_or_default()
            .remove("sealed-secrets-rs/value-errors")
            .unwrap_or_default();
        assert!(failed.contains("exceeds limit"), "{name}: {failed}");
        let total: usize = secret
            .data
            .unwrap_or_default()
            .values()
            .map(|v| v.0.len())
            .sum();
        assert!(total <= mib, "{name}: {total} bytes");
        eprintln!(
            "[faults] hostile {name}: Synced=True; the Secret holds {total} bytes and records {} failed values",
            failed.matches("exceeds").count()
        );
    }
    let cases: [(&str, &str, Option<&str>); 9] = [
        ("too-many-templates", "exceeds limit of 256 templates", None),
        (
            "huge-too-big",
            "decrypted values exceed the 1048576-byte limit of a Secret",
            None,
        ),
        (
            "tiny-rsa-blocks",
            "no key could decrypt secret (t0000, t0001",
            None,
        ),
        ("bad-names", "a valid config key must consist of", None),
        (
            "wrong-scope",
            "no key could decrypt secret (value)",
            Some("WrongScope"),
        ),
        (
            "other-cluster",
            "no key could decrypt secret (value)",
            Some("UnknownKeyOrCorruptData"),
        ),
        (
            "rsa-length",
            "no key could decrypt secret (claims-512, empty, truncated)",
            None,
        ),
        (
            "garbage-base64",
            "illegal base64 data at input byte 0",
            None,
        ),
        ("bad-names", "with/slash", None),
    ];
    for (name, message, reason) in cases {
        let (_, c) = wait_synced(sealed, name, "False").await;
        assert!(
            c.message.contains(message),
            "{name}: {:?} does not say {message:?}",
            c.message
        );
        if let Some(reason) = reason {
            assert_eq!(c.reason, reason, "{name}");
        }
        eprintln!(
            "[faults] hostile {name}: Synced=False, reason {:?}, message {:?}",
            c.reason,
            c.message.chars().take(160).collect::<String>()
        );
        if name != "huge-too-big" && name != "bad-names" {
            assert!(secrets.get_opt(name).await.unwrap().is_none(), "{name}");
        }
    }
    // The controller still unseals at once.
    let t_new = Instant::now();
    let v = value("after-hostile");
    let blob = seal_value(key, ns, "after-hostile", v.as_bytes());
    create_json(
        sealed,
        sealed_json(ns, "after-hostile", &one_item(blob), &[]),
    )
    .await;
    let expected: BTreeMap<String, String> = [("after-hostile".to_owned(), v)].into();
    assert_eq!(
        converge(&run.client, ns, &expected, Duration::from_secs(30)).await,
        0
    );
    run.report(&format!(
        "hostile: all cases settled in {:.1?}; a new SealedSecret then unsealed in {:.1?}",
        t.elapsed(),
        t_new.elapsed()
    ));
}

/// 2000 concurrent POSTs (half `/v1/verify`, half `/v1/rotate`), and a SealedSecret applied
/// in the middle of them.
async fn flood(
    run: &Run,
    ns: &str,
    key: &PublicKey,
    sealed: &Api<SealedSecretObject>,
    controller: &Process,
    expected: &mut BTreeMap<String, String>,
) {
    let blob = seal_value(key, ns, "flood-body", value("flood-body").as_bytes());
    let body = serde_json::to_vec(&sealed_json(ns, "flood-body", &one_item(blob), &[])).unwrap();
    let body = Arc::new(body);
    let port = controller.port;
    let codes: Arc<std::sync::Mutex<BTreeMap<(String, u16), usize>>> = Arc::default();
    let requests = 2000;
    let t = Instant::now();
    let sampler_stop = Arc::new(AtomicBool::new(false));
    let pid = controller.pid();
    let sampler = {
        let stop = Arc::clone(&sampler_stop);
        tokio::spawn(async move {
            let mut peak = 0;
            while !stop.load(Ordering::SeqCst) {
                peak = peak.max(rss_kib(pid).0);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        })
    };
    let flood = {
        let codes = Arc::clone(&codes);
        tokio::spawn(async move {
            futures::stream::iter(0..requests)
                .map(|i| {
                    let body = Arc::clone(&body);
                    let codes = Arc::clone(&codes);
                    async move {
                        let path = if i % 2 == 0 {
                            "/v1/verify"
                        } else {
                            "/v1/rotate"
                        };
                        let code = http_post(port, path, &body, "203.0.113.7")
                            .await
                            .map_or(0, |(code, _, _)| code);
                        *codes
                            .lock()
                            .unwrap()
                            .entry((path.to_owned(), code))
                            .or_default() += 1;
                    }
                })
                .buffer_unordered(64)
                .collect::<Vec<()>>()
                .await;
        })
    };
    // Mid-flood: a new SealedSecret must still be unsealed promptly.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let name = "during-flood".to_owned();
    expected.insert(name.clone(), value("during-flood"));
    let during: BTreeMap<String, String> = [(name.clone(), expected[&name].clone())].into();
    let t_new = Instant::now();
    write_many(sealed, key, ns, std::slice::from_ref(&name), &during, true).await;
    assert_eq!(
        converge(&run.client, ns, &during, Duration::from_secs(30)).await,
        0
    );
    let unseal_time = t_new.elapsed();
    let flood_running = !flood.is_finished();
    flood.await.expect("flood");
    let flood_time = t.elapsed();
    sampler_stop.store(true, Ordering::SeqCst);
    let peak = sampler.await.expect("sampler");
    let codes = codes.lock().unwrap().clone();
    let count = |path: &str, code: u16| {
        codes
            .get(&(path.to_owned(), code))
            .copied()
            .unwrap_or_default()
    };
    run.report(&format!(
        "flood: {requests} requests in {flood_time:.1?} ({codes:?}); a SealedSecret applied \
         mid-flood unsealed in {unseal_time:.1?} (flood still running then: {flood_running}); \
         peak RSS during the flood {} MiB",
        peak / 1024
    ));
    // The verify limit (2/s, burst 2: 3 at once, then 2 per second) held.
    let verify_ok = count("/v1/verify", 200);
    let allowed = 3 + 2 * usize::try_from(flood_time.as_secs() + 1).unwrap();
    assert!(
        verify_ok <= allowed,
        "{verify_ok} verifies passed the rate limit (at most {allowed})"
    );
    assert!(count("/v1/verify", 429) >= 1000 - allowed);
    // Rotate is rate-limited too (upstream v0.40), on its own key.
    let rotate_ok = count("/v1/rotate", 200);
    assert!(
        rotate_ok <= allowed,
        "{rotate_ok} rotates passed the rate limit (at most {allowed})"
    );
    assert!(count("/v1/rotate", 429) >= 1000 - allowed, "{codes:?}");
    assert!(unseal_time < Duration::from_secs(15));
    let (_, hwm) = rss_kib(controller.pid());
    assert!(hwm < RSS_BOUND_KIB, "peak RSS {hwm} KiB");
}

/// Wrong key, wrong namespace, wrong name and corrupt data look the same to a caller.
async fn indistinguishable(
    run: &Run,
    ns: &str,
    key: &PublicKey,
    sealed: &Api<SealedSecretObject>,
    controller: &Process,
) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let v = value("errors");
    let other = PrivateKey::generate(2048).expect("key");
    let name = "err";
    let mut corrupt = b64.decode(seal_value(key, ns, name, v.as_bytes())).unwrap();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    let mut rsa_corrupt = b64.decode(seal_value(key, ns, name, v.as_bytes())).unwrap();
    rsa_corrupt[10] ^= 1;
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong key",
            seal_value(other.public_key(), ns, name, v.as_bytes()),
        ),
        (
            "wrong namespace",
            seal_value(key, "elsewhere", name, v.as_bytes()),
        ),
        (
            "wrong name",
            seal_value(key, ns, "other-name", v.as_bytes()),
        ),
        ("corrupt AES-GCM", b64.encode(&corrupt)),
        ("corrupt RSA block", b64.encode(&rsa_corrupt)),
    ];
    let mut answers = Vec::new();
    for (i, (case, blob)) in cases.iter().enumerate() {
        let body =
            serde_json::to_vec(&sealed_json(ns, name, &one_item(blob.clone()), &[])).unwrap();
        let mut per_path = Vec::new();
        for path in ["/v1/verify", "/v1/rotate"] {
            // A client address of its own per request: the rate limit is not what is compared.
            let (code, mut headers, body) =
                http_post(controller.port, path, &body, &format!("198.51.100.{i}"))
                    .await
                    .expect("answer");
            headers.remove("date");
            per_path.push((path, code, headers, body));
        }
        answers.push((*case, per_path));
    }
    for (case, per_path) in &answers[1..] {
        assert_eq!(
            per_path, &answers[0].1,
            "{case} answers differently from {}",
            answers[0].0
        );
    }
    let (_, first) = &answers[0];
    eprintln!(
        "[faults] errors: {} cases, one answer: verify {} {:?}, rotate {} {:?}",
        answers.len(),
        first[0].1,
        String::from_utf8_lossy(&first[0].3),
        first[1].1,
        String::from_utf8_lossy(&first[1].3)
    );
    assert_eq!(first[0].1, 409);
    assert_eq!(first[1].1, 500);

    // As objects: one message for all; the reason is the deliberate diagnosis.
    let mut reasons = Vec::new();
    for (i, (case, blob)) in cases.iter().enumerate() {
        let object_name = format!("err-{i}");
        // Sealed for "err": each object is placed under another name, so the strict label is
        // checked; re-seal the name-bound cases for the object's own name where the case is
        // not about the name.
        let blob = match *case {
            "wrong key" => seal_value(other.public_key(), ns, &object_name, v.as_bytes()),
            "wrong namespace" => seal_value(key, "elsewhere", &object_name, v.as_bytes()),
            "wrong name" => blob.clone(),
            _ => {
                let mut raw = b64
                    .decode(seal_value(key, ns, &object_name, v.as_bytes()))
                    .unwrap();
                if *case == "corrupt AES-GCM" {
                    let last = raw.len() - 1;
                    raw[last] ^= 1;
                } else {
                    raw[10] ^= 1;
                }
                b64.encode(&raw)
            }
        };
        create_json(sealed, sealed_json(ns, &object_name, &one_item(blob), &[])).await;
        let (_, c) = wait_synced(sealed, &object_name, "False").await;
        assert_eq!(c.message, "no key could decrypt secret (value)", "{case}");
        reasons.push(format!("{case}: {}", c.reason));
    }
    run.report(&format!(
        "errors: the same 409/500 and condition message for all; reasons {reasons:?}"
    ));
}
