//! End-to-end: the install path (`charts/sealed-secrets-rs`) on a real kube-apiserver and
//! kube-controller-manager (the `tests/cluster` harness).
//!
//! Skipped unless `SSRS_E2E=1` (root, the built harness, and Helm from `tests/install/helm.sh`).
//! One control plane, in order:
//! 1. **upstream era**: upstream's objects (named as its `controller.yaml`: ServiceAccount,
//!    ClusterRole `secrets-unsealer`, Roles `sealed-secrets-key-admin` and
//!    `sealed-secrets-service-proxier`, Services, Deployment) and the CRD; the upstream v0.40.0
//!    controller runs "in a pod" with that ServiceAccount, makes its key and unseals a
//!    SealedSecret;
//! 2. **migration** as `docs/install.md` says: upstream's objects deleted except the CRD and the
//!    key Secrets; the chart rendered with default values (`helm template`), validated by the
//!    API server (`kubectl apply --dry-run=server`), then installed for real (`helm install`);
//! 3. **RBAC is sufficient**: our controller, out of cluster with a token of the chart's
//!    ServiceAccount (not admin) and the flags of the rendered Deployment, keeps upstream's key
//!    (no new key, same certificate), unseals (Secret, `Synced=True`, `Unsealed` events counted),
//!    recreates a deleted Secret, follows a spec edit, publishes and rotates the certificate, and
//!    nothing in its log is `forbidden`;
//! 4. **RBAC is minimal**: for every verb of every rule the chart gives the controller, the same
//!    run with that one verb removed either fails at a named step, or the verb is explained
//!    (see `EXPECTED`);
//! 5. **non-default values, plain manifests**: namespace-scoped mode (Roles, not a ClusterRole),
//!    an additional namespace, leader election with two replicas, NetworkPolicy, PDB, NodePort:
//!    rendered, dry-run, applied with `kubectl apply`, and the controller with that
//!    ServiceAccount unseals in its namespaces and cannot touch any other;
//! 6. **and back**: `helm uninstall` keeps the CRD and every key Secret; upstream's objects are
//!    applied again and the upstream controller opens what ours sealed, with our newest key.
//!
//! Set `SSRS_E2E_DIR` to reuse a running harness directory, `SSRS_E2E_KEEP=1` to keep logs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{
    Cluster, KEY_LABEL, Netns, Plaintexts, UPSTREAM_CLUSTER_RULES, client, create_sealed, enabled,
    ensure_namespace, free_port, http_get, kubectl, kubectl_apply, remove_scratch_dir, repo_root,
    run_script, scratch_dir, upstream_bin,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::seal::{SealOptions, seal_secret};
use sealed_secrets_core::secret_bytes::SecretBytes;
use sealed_secrets_core::types::{ObjectMeta, Secret as CoreSecret};

const CHART_NS: &str = "kube-system";
const CHART_NAME: &str = "sealed-secrets-controller";
const APP_NS: &str = "app";
const CERT_CONFIGMAP: &str = "sealed-secrets-cert";

/// What removing one verb from the chart's RBAC does. The key is `Kind/role name: resource verb`
/// with the role names of the default values.
enum Expect {
    /// The run fails at the step whose message contains this text.
    Breaks(&'static str),
    /// Depends on how a feature that is not in every build uses the API (said why).
    Either(&'static str),
}

const EXPECTED: &[(&str, Expect)] = &[
    (
        "ClusterRole/secrets-unsealer: sealedsecrets get",
        // The watch cache keeps no ciphertexts: a SealedSecret to open is read whole (and a
        // status write that hit a conflict is retried from a fresh read).
        Expect::Breaks("no Secret"),
    ),
    (
        "ClusterRole/secrets-unsealer: sealedsecrets list",
        Expect::Breaks("never ready"),
    ),
    (
        "ClusterRole/secrets-unsealer: sealedsecrets watch",
        Expect::Breaks("no Secret"),
    ),
    (
        "ClusterRole/secrets-unsealer: sealedsecrets/status update",
        Expect::Breaks("no Synced=True"),
    ),
    (
        "ClusterRole/secrets-unsealer: secrets get",
        Expect::Breaks("no Secret"),
    ),
    (
        "ClusterRole/secrets-unsealer: secrets list",
        Expect::Breaks("exited at startup"),
    ),
    (
        "ClusterRole/secrets-unsealer: secrets create",
        Expect::Breaks("no Secret"),
    ),
    (
        "ClusterRole/secrets-unsealer: secrets update",
        Expect::Breaks("not updated after a spec edit"),
    ),
    (
        "ClusterRole/secrets-unsealer: secrets watch",
        Expect::Breaks("not recreated"),
    ),
    (
        "ClusterRole/secrets-unsealer: events create",
        Expect::Breaks("no Unsealed event"),
    ),
    (
        "ClusterRole/secrets-unsealer: events patch",
        Expect::Breaks("not counted"),
    ),
    (
        "Role/sealed-secrets-controller-key-admin: configmaps get",
        Expect::Either(CERT_CM_WHY),
    ),
    (
        "Role/sealed-secrets-controller-key-admin: configmaps update",
        Expect::Either(CERT_CM_WHY),
    ),
    (
        "Role/sealed-secrets-controller-key-admin: configmaps create",
        Expect::Either(CERT_CM_WHY),
    ),
];

/// The certificate ConfigMap (`--cert-configmap`) is a feature landing separately; a build
/// without it uses none of these verbs (get, update, create). The run checks the ConfigMap only
/// when the binary has the flag.
const CERT_CM_WHY: &str = "certificate ConfigMap (--cert-configmap): the run checks it is \
    created and follows a rotation when the binary has the flag; a verb it does not use is \
    reported as unused";

// ---------------------------------------------------------------------------------------------
// Helm and kubectl

fn helm_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("SSRS_HELM") {
        return PathBuf::from(path);
    }
    let out = Command::new("bash")
        .arg(repo_root().join("tests/install/helm.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/install/helm.sh");
    assert!(out.status.success(), "tests/install/helm.sh failed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

struct Helm {
    bin: PathBuf,
    home: PathBuf,
}

impl Helm {
    fn new(dir: &Path) -> Self {
        let home = dir.join("helm-home");
        std::fs::create_dir_all(&home).unwrap();
        Self {
            bin: helm_bin(),
            home,
        }
    }

    fn run(&self, cluster: &Cluster, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .args(args)
            .env("KUBECONFIG", cluster.kubeconfig())
            .env("HELM_CACHE_HOME", self.home.join("cache"))
            .env("HELM_CONFIG_HOME", self.home.join("config"))
            .env("HELM_DATA_HOME", self.home.join("data"))
            .output()
            .expect("run helm");
        assert!(
            out.status.success(),
            "helm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn chart_dir() -> String {
    repo_root()
        .join("charts/sealed-secrets-rs")
        .to_string_lossy()
        .into_owned()
}

/// kubectl as cluster-admin that may fail: (success, stdout, stderr).
fn kubectl_try(cluster: &Cluster, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", cluster.kubeconfig())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The objects of a rendered manifest as the API server would store them (server dry-run), as
/// JSON: this both validates the manifest and parses it.
fn server_dry_run(cluster: &Cluster, manifest: &str) -> Vec<serde_json::Value> {
    let out = kubectl(
        cluster,
        &["apply", "--dry-run=server", "-o", "json", "-f", "-"],
        manifest,
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("kubectl JSON");
    match v.get("items") {
        Some(items) => items.as_array().unwrap().clone(),
        None => vec![v],
    }
}

fn find<'a>(objects: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in the rendered manifest"))
}

// ---------------------------------------------------------------------------------------------
// Our controller, out of cluster as the chart's ServiceAccount

struct Controller {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Controller {
    /// The flags of the rendered Deployment, with the HTTP servers moved to free loopback ports
    /// (several controllers share this machine) and 2048-bit keys (speed).
    fn start(kubeconfig: &Path, namespace: &str, chart_args: &[String], log: &Path) -> Self {
        Self::start_in(None, kubeconfig, namespace, chart_args, log)
    }

    /// As [`Self::start`]; with `netns`, inside that network namespace on its address, port 8080
    /// (as in the pod), so that a Service can point at it.
    fn start_in(
        netns: Option<(&str, &str)>,
        kubeconfig: &Path,
        namespace: &str,
        chart_args: &[String],
        log: &Path,
    ) -> Self {
        let (host, port, metrics_port) = match netns {
            Some((_, addr)) => (addr.to_owned(), 8080, 8081),
            None => ("127.0.0.1".to_owned(), free_port(), free_port()),
        };
        let mut args: Vec<String> = Vec::new();
        let mut it = chart_args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--listen-addr" => {
                    it.next();
                    args.extend(["--listen-addr".into(), format!("{host}:{port}")]);
                }
                "--listen-metrics-addr" => {
                    it.next();
                    args.extend([
                        "--listen-metrics-addr".into(),
                        format!("{host}:{metrics_port}"),
                    ]);
                }
                _ => args.push(a.clone()),
            }
        }
        args.extend(["--key-size".into(), "2048".into()]);
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let err = out.try_clone().unwrap();
        let bin = env!("CARGO_BIN_EXE_sealed-secrets-controller");
        let mut cmd = match netns {
            Some((name, _)) => {
                let mut c = Command::new(repo_root().join("tests/cluster/netns-exec"));
                c.args([name, "--", bin]);
                c
            }
            None => Command::new(bin),
        };
        let child = cmd
            .args(&args)
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAMESPACE", namespace)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start controller");
        Self {
            child,
            port,
            log: log.to_owned(),
        }
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {name}");
    }

    /// SIGTERM and a bounded wait; whether it exited 0.
    fn terminate(mut self) -> bool {
        if self.exited() {
            return false;
        }
        self.signal("TERM");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn last_error(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .rev()
            .find(|l| l.contains("ERROR") || l.contains("error"))
            .unwrap_or("")
            .chars()
            .take(300)
            .collect()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The upstream controller "in a pod" as `namespace/sa` (its only configuration mode).
fn start_upstream(cluster: &Cluster, namespace: &str, sa: &str, log: &Path) -> Controller {
    let port = free_port();
    let metrics_port = free_port();
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let err = out.try_clone().unwrap();
    let child = Command::new(repo_root().join("tests/cluster/in-cluster-env"))
        .arg(&cluster.dir)
        .args([namespace, sa, "--"])
        .arg(upstream_bin("controller"))
        .args([
            "--key-size".to_owned(),
            "2048".to_owned(),
            "--listen-addr".to_owned(),
            format!("127.0.0.1:{port}"),
            "--listen-metrics-addr".to_owned(),
            format!("127.0.0.1:{metrics_port}"),
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start upstream controller");
    Controller {
        child,
        port,
        log: log.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Polling without panics (a variant's failure is a result, not a test failure)

async fn poll<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn cert_of(controller: &mut Controller, timeout: Duration) -> Result<String, String> {
    let start = Instant::now();
    loop {
        if let Some((200, body)) = http_get(controller.port, "/v1/cert.pem").await
            && body.contains("BEGIN CERTIFICATE")
        {
            return Ok(body);
        }
        if controller.exited() {
            return Err(format!(
                "controller exited at startup: {}",
                controller.last_error()
            ));
        }
        if start.elapsed() > timeout {
            return Err("no certificate served".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn seal(pem: &str, namespace: &str, name: &str, key: &str, value: &str) -> serde_json::Value {
    let cert = Certificate::from_pem(pem.as_bytes()).expect("certificate");
    let secret = CoreSecret {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: namespace.into(),
            ..ObjectMeta::default()
        },
        data: [(key.to_owned(), SecretBytes::from_slice(value.as_bytes()))]
            .into_iter()
            .collect(),
        ..CoreSecret::default()
    };
    let ss = seal_secret(secret, cert.public_key(), &SealOptions::default()).expect("seal");
    serde_json::to_value(&ss).expect("json")
}

async fn secret_with(api: &Api<Secret>, name: &str, key: &str, value: &str) -> Option<Secret> {
    let s = api.get_opt(name).await.ok()??;
    (s.data.as_ref()?.get(key)?.0 == value.as_bytes()).then_some(s)
}

async fn synced(api: &Api<SealedSecretObject>, name: &str) -> bool {
    api.get(name)
        .await
        .ok()
        .and_then(|o| o.status)
        .is_some_and(|st| {
            st.conditions
                .iter()
                .any(|c| c.type_ == "Synced" && c.status == "True")
        })
}

async fn unsealed_count(api: &Api<Event>, name: &str) -> i32 {
    api.list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|e| e.reason.as_deref() == Some("Unsealed"))
                .map(|e| e.count.unwrap_or(1))
                .sum()
        })
        .unwrap_or(0)
}

async fn key_count(client: &Client, namespace: &str) -> usize {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default().labels(KEY_LABEL))
        .await
        .expect("list keys")
        .items
        .len()
}

async fn configmap_cert(client: &Client, namespace: &str) -> Option<String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    api.get_opt(CERT_CONFIGMAP)
        .await
        .ok()??
        .data?
        .values()
        .find(|v| v.contains("BEGIN CERTIFICATE"))
        .cloned()
}

/// What a run of our controller did; an error names the first step that failed.
struct Run {
    cert: String,
}

/// The unseal run: start, serve the certificate, become ready, unseal (Secret, `Synced=True`,
/// `Unsealed` event), recreate a deleted Secret, follow a spec edit (Secret updated, second
/// `Unsealed` counted), publish the certificate ConfigMap (when built in), rotate on SIGUSR1
/// (a new key, the ConfigMap follows). `wait` bounds each step.
#[allow(clippy::too_many_lines)]
async fn unseal_run(
    env: &Env,
    controller: &mut Controller,
    name: &str,
    wait: Duration,
) -> Result<Run, String> {
    let client = &env.client;
    let cert = cert_of(controller, wait.max(Duration::from_secs(20))).await?;
    let port = controller.port;
    poll(wait, || async {
        matches!(http_get(port, "/readyz").await, Some((200, _))).then_some(())
    })
    .await
    .ok_or("never ready (/readyz 503: a watch cache did not sync)")?;

    let ss: Api<SealedSecretObject> = Api::namespaced(client.clone(), APP_NS);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), APP_NS);
    let events: Api<Event> = Api::namespaced(client.clone(), APP_NS);
    let value = env.plaintexts.value(name);
    create_sealed(&ss, seal(&cert, APP_NS, name, "token", &value)).await;
    let first = poll(wait, || secret_with(&secrets, name, "token", &value))
        .await
        .ok_or("no Secret unsealed")?;
    poll(wait, || async { synced(&ss, name).await.then_some(()) })
        .await
        .ok_or("no Synced=True status")?;
    poll(wait, || async {
        (unsealed_count(&events, name).await >= 1).then_some(())
    })
    .await
    .ok_or("no Unsealed event")?;

    secrets
        .delete(name, &DeleteParams::default())
        .await
        .map_err(|e| format!("delete Secret: {e}"))?;
    poll(wait, || async {
        let s = secret_with(&secrets, name, "token", &value).await?;
        (s.metadata.uid != first.metadata.uid).then_some(())
    })
    .await
    .ok_or("deleted Secret not recreated")?;

    ss.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({
            "spec": {"template": {"metadata": {"labels": {"edited": "yes"}}}}
        })),
    )
    .await
    .map_err(|e| format!("patch SealedSecret: {e}"))?;
    poll(wait, || async {
        let s = secrets.get_opt(name).await.ok()??;
        (s.metadata.labels?.get("edited")? == "yes").then_some(())
    })
    .await
    .ok_or("Secret not updated after a spec edit")?;
    poll(wait, || async {
        (unsealed_count(&events, name).await >= 2).then_some(())
    })
    .await
    .ok_or("repeated Unsealed event not counted")?;

    if env.cert_configmap {
        poll(wait, || async {
            (configmap_cert(client, CHART_NS).await? == cert).then_some(())
        })
        .await
        .ok_or("certificate ConfigMap not published")?;
    }
    let keys_before = key_count(client, CHART_NS).await;
    controller.signal("USR1");
    let rotated_cert = poll(wait, || async {
        let (code, body) = http_get(port, "/v1/cert.pem").await?;
        (code == 200 && body.contains("CERTIFICATE") && body != cert).then_some(body)
    })
    .await
    .ok_or("no new key after SIGUSR1")?;
    if key_count(client, CHART_NS).await <= keys_before {
        return Err("no new key Secret after SIGUSR1".into());
    }
    if env.cert_configmap {
        poll(wait, || async {
            (configmap_cert(client, CHART_NS).await? == rotated_cert).then_some(())
        })
        .await
        .ok_or("certificate ConfigMap not updated after a rotation")?;
    }
    Ok(Run { cert })
}

/// Everything the stages share.
struct Env {
    cluster: Cluster,
    client: Client,
    dir: PathBuf,
    plaintexts: Plaintexts,
    /// The binary has `--cert-configmap` (the feature is built in).
    cert_configmap: bool,
}

fn binary_has_flag(flag: &str) -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_sealed-secrets-controller"))
        .arg("--help")
        .output()
        .expect("controller --help");
    String::from_utf8_lossy(&out.stdout).contains(flag)
}

fn deployment_args(objects: &[serde_json::Value], name: &str) -> Vec<String> {
    find(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Upstream's objects, as its release manifest (`controller.yaml`) names them

fn upstream_manifest() -> String {
    format!(
        r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: {CHART_NAME}, namespace: {CHART_NS}, labels: {{name: {CHART_NAME}}}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: secrets-unsealer, labels: {{name: secrets-unsealer}}}}
rules:
{UPSTREAM_CLUSTER_RULES}---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {CHART_NAME}, labels: {{name: {CHART_NAME}}}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secrets-unsealer}}
subjects:
- {{kind: ServiceAccount, name: {CHART_NAME}, namespace: {CHART_NS}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: sealed-secrets-key-admin, namespace: {CHART_NS}, labels: {{name: sealed-secrets-key-admin}}}}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [create, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: sealed-secrets-key-admin, namespace: {CHART_NS}, labels: {{name: sealed-secrets-key-admin}}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: sealed-secrets-key-admin}}
subjects:
- {{kind: ServiceAccount, name: {CHART_NAME}, namespace: {CHART_NS}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: sealed-secrets-service-proxier, namespace: {CHART_NS}, labels: {{name: sealed-secrets-service-proxier}}}}
rules:
- apiGroups: [""]
  resources: [services]
  resourceNames: [{CHART_NAME}]
  verbs: [get]
- apiGroups: [""]
  resources: [services/proxy]
  resourceNames: ["http:{CHART_NAME}:", {CHART_NAME}]
  verbs: [create, get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: sealed-secrets-service-proxier, namespace: {CHART_NS}, labels: {{name: sealed-secrets-service-proxier}}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: sealed-secrets-service-proxier}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated"}}
---
apiVersion: v1
kind: Service
metadata: {{name: {CHART_NAME}, namespace: {CHART_NS}, labels: {{name: {CHART_NAME}}}}}
spec:
  ports: [{{port: 8080, targetPort: 8080}}]
  selector: {{name: {CHART_NAME}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {CHART_NAME}-metrics, namespace: {CHART_NS}, labels: {{name: {CHART_NAME}}}}}
spec:
  ports: [{{port: 8081, targetPort: 8081}}]
  selector: {{name: {CHART_NAME}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {CHART_NAME}, namespace: {CHART_NS}, labels: {{name: {CHART_NAME}}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{name: {CHART_NAME}}}}}
  template:
    metadata: {{labels: {{name: {CHART_NAME}}}}}
    spec:
      serviceAccountName: {CHART_NAME}
      containers:
      - name: {CHART_NAME}
        image: docker.io/bitnami/sealed-secrets-controller:0.40.0
        command: [controller]
        ports: [{{containerPort: 8080, name: http}}]
"#
    )
}

/// `docs/install.md`, "Migrating from upstream": everything of upstream's but the CRD and the
/// key Secrets.
const UPSTREAM_DELETE: &[&[&str]] = &[
    &[
        "-n",
        CHART_NS,
        "delete",
        "deployment/sealed-secrets-controller",
        "service/sealed-secrets-controller",
        "service/sealed-secrets-controller-metrics",
        "serviceaccount/sealed-secrets-controller",
        "role/sealed-secrets-key-admin",
        "rolebinding/sealed-secrets-key-admin",
        "role/sealed-secrets-service-proxier",
        "rolebinding/sealed-secrets-service-proxier",
        "--ignore-not-found",
    ],
    &[
        "delete",
        "clusterrole/secrets-unsealer",
        "clusterrolebinding/sealed-secrets-controller",
        "--ignore-not-found",
    ],
];

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn install_path_on_a_real_api_server() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let started = Instant::now();
    let dir = scratch_dir("install");
    let helm = Helm::new(&dir);
    let cluster = Cluster::start("install");
    let client = client(&cluster).await;
    let env = Env {
        client,
        dir: dir.clone(),
        plaintexts: Plaintexts::default(),
        cert_configmap: binary_has_flag("--cert-configmap"),
        cluster,
    };
    eprintln!(
        "[{:>5.1?}] harness up; controller has --cert-configmap: {}",
        started.elapsed(),
        env.cert_configmap
    );
    ensure_namespace(&env.client, APP_NS).await;

    // 1. Upstream era.
    let crd =
        std::fs::read_to_string(repo_root().join("crds/bitnami.com_sealedsecrets.yaml")).unwrap();
    kubectl_apply(&env.cluster, &crd);
    kubectl(
        &env.cluster,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=30s",
            "crd/sealedsecrets.bitnami.com",
        ],
        "",
    );
    kubectl_apply(&env.cluster, &upstream_manifest());
    let upstream_log = dir.join("upstream-1.log");
    let mut upstream = start_upstream(&env.cluster, CHART_NS, CHART_NAME, &upstream_log);
    let upstream_cert = cert_of(&mut upstream, Duration::from_secs(60))
        .await
        .expect("upstream controller serves its certificate");
    let ss: Api<SealedSecretObject> = Api::namespaced(env.client.clone(), APP_NS);
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), APP_NS);
    let before = env.plaintexts.value("before");
    create_sealed(
        &ss,
        seal(&upstream_cert, APP_NS, "before", "token", &before),
    )
    .await;
    poll(Duration::from_secs(30), || {
        secret_with(&secrets, "before", "token", &before)
    })
    .await
    .expect("upstream unseals");
    assert!(upstream.terminate(), "upstream exits 0 on SIGTERM");
    assert_eq!(key_count(&env.client, CHART_NS).await, 1);
    eprintln!(
        "[{:>5.1?}] upstream era: key made, unsealed",
        started.elapsed()
    );

    // 2. Migration: upstream's objects go, the CRD and the keys stay; our chart goes in.
    for args in UPSTREAM_DELETE {
        kubectl(&env.cluster, args, "");
    }
    let chart = chart_dir();
    let rendered = helm.run(
        &env.cluster,
        &[
            "template",
            "sealed-secrets-rs",
            &chart,
            "--namespace",
            CHART_NS,
            "--include-crds",
        ],
    );
    std::fs::write(dir.join("default.yaml"), &rendered).unwrap();
    let objects = server_dry_run(&env.cluster, &rendered);
    check_default_objects(&objects, &rendered);
    helm.run(
        &env.cluster,
        &[
            "install",
            "sealed-secrets-rs",
            &chart,
            "--namespace",
            CHART_NS,
        ],
    );
    assert_eq!(
        key_count(&env.client, CHART_NS).await,
        1,
        "the install made no key"
    );
    eprintln!(
        "[{:>5.1?}] chart rendered, dry-run, installed ({} objects)",
        started.elapsed(),
        objects.len()
    );

    // 3. Sufficient: the chart's ServiceAccount, the chart's flags.
    let sa_kubeconfig = dir.join("sa.kubeconfig");
    run_script(
        "tests/cluster/sa-kubeconfig",
        &[
            env.cluster.dir.to_str().unwrap(),
            CHART_NS,
            CHART_NAME,
            sa_kubeconfig.to_str().unwrap(),
        ],
    );
    let args = deployment_args(&objects, CHART_NAME);
    let log = dir.join("ours-full.log");
    let mut ours = Controller::start(&sa_kubeconfig, CHART_NS, &args, &log);
    let run = unseal_run(&env, &mut ours, "full", Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("with the chart's RBAC: {e} (log {})", log.display()));
    assert_eq!(
        run.cert, upstream_cert,
        "our controller serves upstream's key"
    );
    poll(Duration::from_secs(30), || async {
        synced(&ss, "before").await.then_some(())
    })
    .await
    .expect("upstream's SealedSecret stays Synced under ours");
    assert!(ours.terminate(), "our controller exits 0 on SIGTERM");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.to_ascii_lowercase().contains("forbidden"),
        "RBAC denial in {}",
        log.display()
    );
    eprintln!(
        "[{:>5.1?}] sufficient: unsealed, recreated, updated, rotated as the chart's ServiceAccount",
        started.elapsed()
    );

    // kubeseal users through the service proxy, with the chart's defaults.
    let proxier = kubeseal_users(&env, &objects, &args).await;
    eprintln!(
        "[{:>5.1?}] kubeseal-rs and upstream kubeseal reach it without flags",
        started.elapsed()
    );

    // 4. Minimal: remove one verb at a time.
    rbac_is_minimal(&env, &objects, &sa_kubeconfig, &args, &proxier).await;
    eprintln!("[{:>5.1?}] minimal", started.elapsed());

    // 5. Non-default values as plain manifests, namespace-scoped.
    namespaced_plain_manifests(&env, &helm, &chart).await;
    eprintln!(
        "[{:>5.1?}] namespace-scoped install with non-default values",
        started.elapsed()
    );

    // 6. Back to upstream, with the keys ours made.
    let keys = key_count(&env.client, CHART_NS).await;
    helm.run(
        &env.cluster,
        &["uninstall", "sealed-secrets-rs", "--namespace", CHART_NS],
    );
    assert_eq!(
        key_count(&env.client, CHART_NS).await,
        keys,
        "helm uninstall keeps every key"
    );
    kubectl(
        &env.cluster,
        &["get", "crd", "sealedsecrets.bitnami.com"],
        "",
    );
    kubectl_apply(&env.cluster, &upstream_manifest());
    let mut upstream = start_upstream(
        &env.cluster,
        CHART_NS,
        CHART_NAME,
        &dir.join("upstream-2.log"),
    );
    let back_cert = cert_of(&mut upstream, Duration::from_secs(60))
        .await
        .expect("upstream serves again");
    // Ours made every key after upstream's first one (SIGUSR1 in the runs above) and upstream
    // adds none (checked below): it serves one of ours.
    assert_ne!(
        back_cert, upstream_cert,
        "upstream picks the newest key, made by ours"
    );
    let back = env.plaintexts.value("back");
    create_sealed(&ss, seal(&back_cert, APP_NS, "back", "token", &back)).await;
    poll(Duration::from_secs(30), || {
        secret_with(&secrets, "back", "token", &back)
    })
    .await
    .expect("upstream unseals with a key our controller made");
    poll(Duration::from_secs(30), || async {
        (synced(&ss, "before").await && synced(&ss, "full").await).then_some(())
    })
    .await
    .expect("what was sealed before stays Synced");
    assert!(upstream.terminate());
    assert_eq!(key_count(&env.client, CHART_NS).await, keys, "no key added");
    eprintln!(
        "[{:>5.1?}] back to upstream: same keys, nothing re-sealed",
        started.elapsed()
    );
    remove_scratch_dir(&dir);
}

/// Names and hardening of the default rendering (as the API server stored it in a dry run).
fn check_default_objects(objects: &[serde_json::Value], rendered: &str) {
    let deploy = find(objects, "Deployment", CHART_NAME);
    assert_eq!(deploy["metadata"]["namespace"], CHART_NS);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], CHART_NAME);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert!(sc["runAsUser"].as_i64().unwrap() > 0);
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert_eq!(c[probe]["httpGet"]["port"], "http", "{probe}");
    }
    let ports: Vec<_> = c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].clone(), p["containerPort"].clone()))
        .collect();
    assert!(ports.contains(&(serde_json::json!("http"), serde_json::json!(8080))));
    let svc = find(objects, "Service", CHART_NAME);
    assert_eq!(svc["metadata"]["namespace"], CHART_NS);
    assert_eq!(svc["spec"]["ports"][0]["port"], 8080);
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");
    find(objects, "Service", &format!("{CHART_NAME}-metrics"));
    find(objects, "ServiceAccount", CHART_NAME);
    find(
        objects,
        "CustomResourceDefinition",
        "sealedsecrets.bitnami.com",
    );
    // Every rule of the rendered RBAC carries its reason: a comment right above it.
    let lines: Vec<&str> = rendered.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("- apiGroups:") {
            let above = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap();
            assert!(
                above.trim_start().starts_with('#'),
                "rule without a reason at line {}: {line}",
                i + 1
            );
        }
    }
}

/// `Kind/name` of every role the chart binds to the controller's ServiceAccount, with its rules.
fn controller_roles(objects: &[serde_json::Value]) -> Vec<(String, String, Vec<PolicyRule>)> {
    let mut out = Vec::new();
    for binding in objects.iter().filter(|o| {
        (o["kind"] == "ClusterRoleBinding" || o["kind"] == "RoleBinding")
            && o["subjects"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["kind"] == "ServiceAccount"))
    }) {
        let kind = binding["roleRef"]["kind"].as_str().unwrap();
        let name = binding["roleRef"]["name"].as_str().unwrap();
        let role = find(objects, kind, name);
        let rules: Vec<PolicyRule> = serde_json::from_value(role["rules"].clone()).unwrap();
        let ns = role["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        out.push((format!("{kind}/{name}"), ns, rules));
    }
    out
}

async fn set_rules(client: &Client, role: &str, namespace: &str, rules: Vec<PolicyRule>) {
    let (kind, name) = role.split_once('/').unwrap();
    let patch = Patch::Merge(serde_json::json!({ "rules": rules }));
    let pp = PatchParams::default();
    if kind == "ClusterRole" {
        let api: Api<ClusterRole> = Api::all(client.clone());
        api.patch(name, &pp, &patch)
            .await
            .expect("patch ClusterRole");
    } else {
        let api: Api<Role> = Api::namespaced(client.clone(), namespace);
        api.patch(name, &pp, &patch).await.expect("patch Role");
    }
}

/// For every verb the chart grants the controller: remove it, run again, restore it.
async fn rbac_is_minimal(
    env: &Env,
    objects: &[serde_json::Value],
    kubeconfig: &Path,
    args: &[String],
    proxier: &str,
) {
    let expected: BTreeMap<&str, &Expect> = EXPECTED.iter().map(|(k, v)| (*k, v)).collect();
    let mut seen = Vec::new();
    let mut report = Vec::new();
    let ss: Api<SealedSecretObject> = Api::namespaced(env.client.clone(), APP_NS);
    let configmaps: Api<ConfigMap> = Api::namespaced(env.client.clone(), CHART_NS);
    let mut n = 0;
    for (role, namespace, rules) in controller_roles(objects) {
        for (ri, rule) in rules.iter().enumerate() {
            for verb in &rule.verbs {
                n += 1;
                let resource = rule.resources.clone().unwrap_or_default().join(",");
                let key = format!("{role}: {resource} {verb}");
                let expect = expected
                    .get(key.as_str())
                    .unwrap_or_else(|| panic!("no expectation for {key}: add it to EXPECTED"));
                seen.push(key.clone());
                let mut reduced = rules.clone();
                reduced[ri].verbs.retain(|v| v != verb);
                if reduced[ri].verbs.is_empty() {
                    reduced.remove(ri);
                }
                set_rules(&env.client, &role, &namespace, reduced).await;
                // A fresh start each time: the certificate ConfigMap must be made again.
                let _ = configmaps
                    .delete(CERT_CONFIGMAP, &DeleteParams::default())
                    .await;
                let name = format!("v{n}");
                let log = env.dir.join(format!("ours-{name}.log"));
                let mut controller = Controller::start(kubeconfig, CHART_NS, args, &log);
                let outcome = unseal_run(env, &mut controller, &name, Duration::from_secs(6)).await;
                drop(controller);
                set_rules(&env.client, &role, &namespace, rules.clone()).await;
                let _ = ss.delete(&name, &DeleteParams::default()).await;
                let line = match (expect, &outcome) {
                    (Expect::Breaks(what), Err(e)) => {
                        assert!(
                            e.contains(what),
                            "without {key}: expected a failure about {what:?}, got {e:?} (log {})",
                            log.display()
                        );
                        format!("breaks: {e}")
                    }
                    (Expect::Breaks(what), Ok(_)) => panic!(
                        "without {key} the run still passed (expected {what:?}): the rule is not needed"
                    ),
                    (Expect::Either(_), Err(e)) => format!("breaks: {e}"),
                    (Expect::Either(why), Ok(_)) => {
                        format!("unused by this build ({why})")
                    }
                };
                eprintln!("  without {key:<60} {line}");
                report.push(format!("{key}: {line}"));
            }
        }
    }
    for (key, _) in EXPECTED {
        assert!(
            seen.contains(&(*key).to_owned()),
            "EXPECTED names {key}, which the chart does not grant"
        );
    }
    report.push(proxier.to_owned());
    std::fs::write(
        env.dir.join("rbac-minimality.txt"),
        report.join("\n") + "\n",
    )
    .unwrap();
}

/// Non-default values, rendered and applied as plain manifests: namespace-scoped RBAC, an
/// additional namespace, leader election with two replicas, NetworkPolicy, PDB, NodePort.
async fn namespaced_plain_manifests(env: &Env, helm: &Helm, chart: &str) {
    const NS: &str = "ssrs-alt";
    const TEAM: &str = "team-a";
    const OTHER: &str = "team-b";
    for ns in [NS, TEAM, OTHER] {
        ensure_namespace(&env.client, ns).await;
    }
    let mut sets = vec![
        "fullnameOverride=ssrs-alt".to_owned(),
        format!("namespace={NS}"),
        "rbac.namespacedRoles=true".into(),
        "rbac.namespacedRolesName=ssrs-alt-unsealer".into(),
        format!("additionalNamespaces={{{TEAM}}}"),
        "serviceAccount.name=ssrs-alt-sa".into(),
        "leaderElect=true".into(),
        "replicas=2".into(),
        "networkPolicy.enabled=true".into(),
        "networkPolicy.egress.enabled=true".into(),
        "networkPolicy.egress.kubeapiCidr=127.0.0.1/32".into(),
        "networkPolicy.egress.kubeapiPort=6443".into(),
        "pdb.create=true".into(),
        "service.type=NodePort".into(),
        "logFormat=json".into(),
        "resources.limits.memory=128Mi".into(),
        "commonLabels.team=platform".into(),
    ];
    if env.cert_configmap {
        sets.push("certConfigMap.name=ssrs-alt-cert".into());
    }
    let mut args = vec![
        "template".to_owned(),
        "ssrs-alt".into(),
        chart.to_owned(),
        "--namespace".into(),
        NS.into(),
    ];
    for s in &sets {
        args.extend(["--set".into(), s.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let rendered = helm.run(&env.cluster, &args);
    std::fs::write(env.dir.join("namespaced.yaml"), &rendered).unwrap();
    let objects = server_dry_run(&env.cluster, &rendered);
    assert!(
        !objects
            .iter()
            .any(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == "ssrs-alt-unsealer"),
        "namespace-scoped mode has no unsealing ClusterRole"
    );
    for ns in [NS, TEAM] {
        assert!(
            objects.iter().any(|o| o["kind"] == "Role"
                && o["metadata"]["name"] == "ssrs-alt-unsealer"
                && o["metadata"]["namespace"] == ns),
            "a Role in {ns}"
        );
    }
    find(&objects, "NetworkPolicy", "ssrs-alt");
    find(&objects, "PodDisruptionBudget", "ssrs-alt");
    assert_eq!(
        find(&objects, "Deployment", "ssrs-alt")["spec"]["replicas"],
        2
    );
    kubectl(&env.cluster, &["apply", "-f", "-"], &rendered);

    let kubeconfig = env.dir.join("alt.kubeconfig");
    run_script(
        "tests/cluster/sa-kubeconfig",
        &[
            env.cluster.dir.to_str().unwrap(),
            NS,
            "ssrs-alt-sa",
            kubeconfig.to_str().unwrap(),
        ],
    );
    let deploy_args = deployment_args(&objects, "ssrs-alt");
    let log = env.dir.join("ours-alt.log");
    let mut controller = Controller::start(&kubeconfig, NS, &deploy_args, &log);
    let cert = cert_of(&mut controller, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("namespaced: {e} (log {})", log.display()));
    let value = env.plaintexts.value("team");
    for ns in [TEAM, OTHER] {
        let ss: Api<SealedSecretObject> = Api::namespaced(env.client.clone(), ns);
        create_sealed(&ss, seal(&cert, ns, "app", "token", &value)).await;
    }
    let team: Api<Secret> = Api::namespaced(env.client.clone(), TEAM);
    poll(Duration::from_secs(30), || {
        secret_with(&team, "app", "token", &value)
    })
    .await
    .unwrap_or_else(|| panic!("namespaced: no Secret in {TEAM} (log {})", log.display()));
    let team_ss: Api<SealedSecretObject> = Api::namespaced(env.client.clone(), TEAM);
    poll(Duration::from_secs(30), || async {
        synced(&team_ss, "app").await.then_some(())
    })
    .await
    .expect("namespaced: Synced=True");
    let leases: Api<Lease> = Api::namespaced(env.client.clone(), NS);
    leases
        .get("sealed-secrets-controller")
        .await
        .expect("leader election Lease in the controller namespace");
    let other: Api<Secret> = Api::namespaced(env.client.clone(), OTHER);
    assert!(
        other.get_opt("app").await.unwrap().is_none(),
        "a namespace outside the install is not touched"
    );
    assert!(controller.terminate(), "exit 0 on SIGTERM");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.to_ascii_lowercase().contains("forbidden"),
        "RBAC denial in {}",
        log.display()
    );
    // The ServiceAccount really has nothing outside its namespaces.
    let (allowed, _, _) = kubectl_try(
        &env.cluster,
        &[
            "auth",
            "can-i",
            "get",
            "secrets",
            "-n",
            OTHER,
            &format!("--as=system:serviceaccount:{NS}:ssrs-alt-sa"),
        ],
        "",
    );
    assert!(
        !allowed,
        "the namespaced ServiceAccount reads Secrets in {OTHER}"
    );
    kubectl(
        &env.cluster,
        &["delete", "-f", "-", "--wait=false"],
        &rendered,
    );
}

/// A CLI (`kubeseal-rs` or upstream `kubeseal`) with flags for neither the controller's name
/// nor its namespace, as `kubeconfig`'s user: (success, stdout, stderr).
fn kubeseal(bin: &Path, kubeconfig: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(bin)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("SEALED_SECRETS_CERT")
        .env_remove("SEALED_SECRETS_CONTROLLER_NAME")
        .env_remove("SEALED_SECRETS_CONTROLLER_NAMESPACE")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubeseal");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// kubeseal users: with the chart's defaults, `kubeseal-rs` and upstream `kubeseal` reach the
/// controller through the API server's service proxy with no `--controller-*` flag, as a user
/// who has nothing but the chart's service-proxier Role (via `system:authenticated`); each verb
/// of that Role is needed by one of fetch-cert (services get, services/proxy get) and validate
/// (services/proxy create).
async fn kubeseal_users(env: &Env, objects: &[serde_json::Value], args: &[String]) -> String {
    const NETNS: &str = "ssrs-install";
    const ADDR: &str = "10.200.51.2";
    let netns = Netns::up(NETNS, ADDR);
    let cluster_dir = env.cluster.dir.to_str().unwrap();
    let kubeconfig = env.dir.join("sa-netns.kubeconfig");
    harness::sa_kubeconfig_in_netns(&env.cluster, NETNS, CHART_NS, CHART_NAME, &kubeconfig);
    let log = env.dir.join("ours-netns.log");
    let controller = Controller::start_in(Some((NETNS, ADDR)), &kubeconfig, CHART_NS, args, &log);
    // The chart's Service selects the Deployment's pods, which never run here (no kubelet): point
    // it at the controller in the network namespace instead.
    kubectl(
        &env.cluster,
        &[
            "-n",
            CHART_NS,
            "patch",
            "service",
            CHART_NAME,
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/spec/selector"}]"#,
        ],
        "",
    );
    run_script(
        "tests/cluster/expose-service",
        &[cluster_dir, CHART_NS, CHART_NAME, ADDR, "8080", "http"],
    );
    let path =
        format!("/api/v1/namespaces/{CHART_NS}/services/http:{CHART_NAME}:http/proxy/v1/cert.pem");
    let cert = poll(Duration::from_secs(30), || async {
        let (ok, out, _) = kubectl_try(&env.cluster, &["get", "--raw", &path], "");
        (ok && out.contains("BEGIN CERTIFICATE")).then_some(out)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no certificate through the service proxy (log {})",
            log.display()
        )
    });

    // A user with no role of its own.
    ensure_namespace(&env.client, APP_NS).await;
    kubectl(
        &env.cluster,
        &["-n", APP_NS, "create", "serviceaccount", "user"],
        "",
    );
    let user = env.dir.join("user.kubeconfig");
    run_script(
        "tests/cluster/sa-kubeconfig",
        &[cluster_dir, APP_NS, "user", user.to_str().unwrap()],
    );
    let ours = harness::kubeseal_rs();
    let theirs = upstream_bin("kubeseal");
    let sealed = serde_json::to_string(&seal(&cert, APP_NS, "checked", "k", "v")).unwrap();
    let attempt = |bin: &Path| -> Result<(), String> {
        let (ok, out, err) = kubeseal(bin, &user, &["--fetch-cert"], "");
        if !ok || out != cert {
            return Err(format!("--fetch-cert: {}", err.trim()));
        }
        let (ok, _, err) = kubeseal(bin, &user, &["--validate"], &sealed);
        if !ok {
            return Err(format!("--validate: {}", err.trim()));
        }
        Ok(())
    };
    for bin in [&ours, &theirs] {
        attempt(bin.as_path()).unwrap_or_else(|e| panic!("{} as a plain user: {e}", bin.display()));
    }

    // Each verb of the service-proxier Role, removed in turn.
    let role = format!("{CHART_NAME}-service-proxier");
    let rules: Vec<PolicyRule> =
        serde_json::from_value(find(objects, "Role", &role)["rules"].clone()).unwrap();
    let mut report = Vec::new();
    for (ri, rule) in rules.iter().enumerate() {
        for verb in &rule.verbs {
            let resource = rule.resources.clone().unwrap_or_default().join(",");
            let mut reduced = rules.clone();
            reduced[ri].verbs.retain(|v| v != verb);
            if reduced[ri].verbs.is_empty() {
                reduced.remove(ri);
            }
            set_rules(&env.client, &format!("Role/{role}"), CHART_NS, reduced).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            // Upstream kubeseal is the reference client: it must break. Ours may find another
            // way (it is reported either way).
            for bin in [&theirs, &ours] {
                let name = bin.file_name().unwrap().to_string_lossy().into_owned();
                let line = match attempt(bin.as_path()) {
                    Err(e) => format!("breaks: {e}"),
                    Ok(()) if *bin == theirs => {
                        panic!("without {resource} {verb}, upstream kubeseal still works")
                    }
                    Ok(()) => "still works".to_owned(),
                };
                eprintln!("  without Role/{role}: {resource} {verb:<8} {name}: {line}");
                report.push(format!("Role/{role}: {resource} {verb}: {name} {line}"));
            }
            set_rules(
                &env.client,
                &format!("Role/{role}"),
                CHART_NS,
                rules.clone(),
            )
            .await;
        }
    }
    assert!(controller.terminate(), "exit 0 on SIGTERM");
    drop(netns);
    report.join("\n")
}
