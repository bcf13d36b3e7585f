//! What the controller's end-to-end test binaries share beyond the `e2e` crate's harness
//! (re-exported here): controller processes (ours, and upstream's run "in a pod") on free
//! loopback ports, upstream's RBAC, and waiting on SealedSecrets, Secrets and events.
//!
//! Every process is owned by a guard whose `Drop` stops it, so a failing assertion leaves
//! nothing running.

// Each test binary uses only part of this module.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub use e2e::{
    Cluster, Netns, Plaintexts, apply_crd, assert_json_lines, assert_no_leaks, client, enabled,
    ensure_namespace, eventually, free_port, http_get, kubectl, kubectl_apply, metric,
    remove_scratch_dir, repo_root, run_script, run_tool, sa_kubeconfig_in_netns, scratch_dir,
    upstream_bin,
};
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::Api;
use kube::api::{ListParams, PostParams};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::types::{SealedSecretCondition, SealedSecretStatus};

/// The key Secret label (SPEC §3.4).
pub const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key=active";

/// A controller process (ours or upstream's) and its two HTTP ports, killed on drop.
pub struct Process {
    process: e2e::Process,
    pub port: u16,
    pub metrics_port: u16,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Sends a signal by name (`kill -s`), e.g. `USR1`.
    pub fn signal(&self, name: &str) {
        self.process.signal(name);
    }

    /// SIGTERM and wait (bounded) for a clean exit; returns whether it exited 0.
    pub fn terminate(self) -> bool {
        self.process.terminate()
    }
}

fn log_file(log: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file")
}

/// Starts `cmd` with its HTTP servers on free loopback ports; stdout and stderr go to `log`.
fn spawn(mut cmd: Command, log: &Path, args: &[&str]) -> Process {
    let port = free_port();
    let metrics_port = free_port();
    let out = log_file(log);
    let err = out.try_clone().expect("log file");
    let child = cmd
        .args([
            "--key-size",
            "2048",
            // Only the controller's own namespace: the other controller of the run, and other
            // runs sharing a harness, have theirs.
            "--all-namespaces=false",
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
            "--listen-metrics-addr",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start controller");
    Process {
        process: e2e::Process(child),
        port,
        metrics_port,
    }
}

/// Our controller, out of cluster (`KUBECONFIG`), at its most verbose: `--log-level DEBUG` and
/// `RUST_LOG=debug` (kube's client included).
pub fn start_ours(cluster: &Cluster, key_namespace: &str, log: &Path, args: &[&str]) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealed-secrets-controller"));
    cmd.env("KUBECONFIG", cluster.kubeconfig())
        .env("POD_NAMESPACE", key_namespace)
        .env("RUST_LOG", "debug");
    let mut all = vec!["--log-level", "DEBUG"];
    all.extend_from_slice(args);
    spawn(cmd, log, &all)
}

/// [`start_ours`] with extra environment variables (a PKCS#11 module's configuration, a PIN).
pub fn start_ours_env(
    cluster: &Cluster,
    key_namespace: &str,
    log: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealed-secrets-controller"));
    cmd.env("KUBECONFIG", cluster.kubeconfig())
        .env("POD_NAMESPACE", key_namespace)
        .env("RUST_LOG", "debug")
        .envs(env.iter().copied());
    let mut all = vec!["--log-level", "DEBUG"];
    all.extend_from_slice(args);
    spawn(cmd, log, &all)
}

/// Our controller "in a pod" as ServiceAccount `namespace/sa` (in-cluster config only).
pub fn start_ours_in_cluster(
    cluster: &Cluster,
    namespace: &str,
    sa: &str,
    log: &Path,
    args: &[&str],
) -> Process {
    let mut cmd = Command::new(e2e::script("in-cluster-env"));
    cmd.arg(&cluster.dir)
        .args([namespace, sa, "--"])
        .arg(env!("CARGO_BIN_EXE_sealed-secrets-controller"))
        .env("RUST_LOG", "debug");
    let mut all = vec!["--log-level", "DEBUG"];
    all.extend_from_slice(args);
    spawn(cmd, log, &all)
}

/// The upstream v0.36.6 controller "in a pod" as ServiceAccount `namespace/sa`.
pub fn start_upstream(
    cluster: &Cluster,
    namespace: &str,
    sa: &str,
    log: &Path,
    args: &[&str],
) -> Process {
    let mut cmd = Command::new(e2e::script("in-cluster-env"));
    cmd.arg(&cluster.dir)
        .args([namespace, sa, "--"])
        .arg(upstream_bin("controller"));
    spawn(cmd, log, args)
}

/// Our CLI, from the same target directory as this test binary.
pub fn kubeseal_rs() -> PathBuf {
    e2e::workspace_bin("kubeseal-rs", "kubeseal-rs")
}

/// The rules of upstream's `secrets-unsealer` ClusterRole (SPEC §3.14, its `controller.jsonnet`).
pub const UPSTREAM_CLUSTER_RULES: &str = r#"- apiGroups: [bitnami.com]
  resources: [sealedsecrets]
  verbs: [get, list, watch]
- apiGroups: [bitnami.com]
  resources: [sealedsecrets/status]
  verbs: [update]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, create, update, delete, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get]
"#;

/// The permissions SPEC §3.14 derives from upstream (its `controller.jsonnet`): nothing more.
pub fn upstream_rbac(namespace: &str, sa: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: {sa}, namespace: {namespace}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {namespace}-secrets-unsealer}}
rules:
{UPSTREAM_CLUSTER_RULES}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {namespace}-secrets-unsealer}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {namespace}-secrets-unsealer}}
subjects:
- {{kind: ServiceAccount, name: {sa}, namespace: {namespace}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: sealed-secrets-key-admin, namespace: {namespace}}}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [create, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: sealed-secrets-key-admin, namespace: {namespace}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: sealed-secrets-key-admin}}
subjects:
- {{kind: ServiceAccount, name: {sa}, namespace: {namespace}}}
"#
    )
}

/// Waits until the process answers `/v1/cert.pem` with 200 (after its keys exist); returns it.
pub async fn wait_cert(process: &Process) -> String {
    eventually("/v1/cert.pem", Duration::from_secs(60), || async {
        http_get(process.port, "/v1/cert.pem")
            .await
            .filter(|(code, body)| *code == 200 && body.contains("BEGIN CERTIFICATE"))
            .map(|(_, body)| body)
    })
    .await
}

/// Creates a SealedSecret from its JSON.
pub async fn create_sealed(
    api: &Api<SealedSecretObject>,
    object: serde_json::Value,
) -> SealedSecretObject {
    let object: SealedSecretObject = serde_json::from_value(object).expect("SealedSecret JSON");
    api.create(&PostParams::default(), &object)
        .await
        .expect("create SealedSecret")
}

/// Waits for the `Synced` condition to have `status` ("True"/"False").
pub async fn wait_synced(
    api: &Api<SealedSecretObject>,
    name: &str,
    status: &str,
) -> (SealedSecretStatus, SealedSecretCondition) {
    eventually(
        &format!("{name}: Synced={status}"),
        Duration::from_secs(30),
        || async {
            let obj = api.get(name).await.ok()?;
            let st = obj.status?;
            let condition = st.conditions.iter().find(|c| c.type_ == "Synced")?.clone();
            (condition.status == status).then_some((st, condition))
        },
    )
    .await
}

/// Waits for a Secret whose `key` holds `value`; returns it.
pub async fn wait_secret_value(api: &Api<Secret>, name: &str, key: &str, value: &str) -> Secret {
    eventually(
        &format!("Secret {name} with {key}"),
        Duration::from_secs(30),
        || async {
            let secret = api.get_opt(name).await.ok()??;
            let data = secret.data.as_ref()?;
            (data.get(key)?.0 == value.as_bytes()).then_some(secret)
        },
    )
    .await
}

/// Waits for an event about `name` with `reason`; returns it.
pub async fn wait_event(api: &Api<Event>, name: &str, reason: &str) -> Event {
    eventually(
        &format!("{reason} event for {name}"),
        Duration::from_secs(30),
        || async {
            api.list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
                .await
                .ok()?
                .items
                .into_iter()
                .find(|e| e.reason.as_deref() == Some(reason))
        },
    )
    .await
}

/// A Secret manifest (YAML) for the CLIs.
pub fn secret_yaml(namespace: &str, name: &str, data: &[(&str, &str)]) -> String {
    let mut out = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\nstringData:\n"
    );
    for (k, v) in data {
        out.push_str(&format!("  {k}: {v}\n"));
    }
    out
}

/// Seals with a CLI (`bin --cert cert --scope scope`), returning the SealedSecret JSON.
pub fn seal_with(bin: &Path, cert: &Path, scope: &str, manifest: &str) -> serde_json::Value {
    let cert = cert.to_str().expect("utf-8 path");
    let out = run_tool(
        bin,
        &["--cert", cert, "--scope", scope, "-o", "json"],
        manifest.as_bytes(),
    );
    serde_json::from_slice(&out).expect("sealed JSON")
}

/// The RSA decryption counter (upstream's name).
pub const RSA_OPS: &str = "sealed_secrets_controller_rsa_decrypt_operations_total";
/// How many SealedSecrets each key opened last (ours).
pub const KEY_DEPENDENTS: &str = "sealed_secrets_rs_key_dependents";

/// Whether the environment variable `name` is `1` (a suite's opt-in, e.g. `SSRS_KMS`).
pub fn opted_in(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

/// A tool the project's install scripts put in the cache: `$var` if set, else
/// `~/.cache/sealed-secrets-rs/<relative>`.
pub fn cached_tool(var: &str, relative: &str) -> PathBuf {
    if let Ok(path) = std::env::var(var) {
        return PathBuf::from(path);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".to_owned());
    PathBuf::from(home)
        .join(".cache/sealed-secrets-rs")
        .join(relative)
}

/// `/v1/keys` as JSON rows.
pub async fn keys_listing(process: &Process) -> Vec<serde_json::Value> {
    let (code, body) = http_get(process.port, "/v1/keys").await.expect("/v1/keys");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body)
        .expect("JSON")
        .as_array()
        .expect("an array")
        .clone()
}

/// The fingerprint of a PEM certificate.
pub fn cert_fingerprint(pem: &str) -> String {
    sealed_secrets_core::cert::Certificate::from_pem(pem.as_bytes())
        .expect("a certificate")
        .fingerprint()
        .to_string()
}

/// Waits until the metrics say key `fp` opened `n` SealedSecrets; returns the metrics text.
pub async fn wait_key_dependents(process: &Process, fp: &str, n: f64) -> String {
    let port = process.metrics_port;
    let series = format!("{KEY_DEPENDENTS}{{fingerprint=\"{fp}\"}}");
    eventually("key dependents", Duration::from_secs(60), || async {
        let text = http_get(port, "/metrics").await?.1;
        (metric(&text, &series) == Some(n)).then_some(text)
    })
    .await
}
