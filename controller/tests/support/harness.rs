//! What the end-to-end test binaries share: the `tests/cluster` control plane, controller
//! processes (ours, and upstream's run "in a pod"), plain HTTP on loopback, bounded polling,
//! kubectl and the CLIs, and the leak check over logs, events and statuses.
//!
//! Every process and the control plane are owned by guards whose `Drop` stops them, so a
//! failing assertion leaves nothing running.

// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::types::{SealedSecretCondition, SealedSecretStatus};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The key Secret label (SPEC §3.4).
pub const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key=active";

pub fn enabled() -> bool {
    std::env::var("SSRS_E2E").is_ok_and(|v| v == "1")
}

/// The checkout under test. Read at run time (`cargo test` sets it): the target directory is
/// shared between checkouts (`tests/run`), and a test binary another checkout built and cargo
/// found fresh would otherwise run that checkout's scripts.
pub fn repo_root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("..")
}

/// A per-run scratch directory for logs and files (kept after the run for inspection).
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssrs-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Removes a passed run's scratch directory, unless `SSRS_E2E_KEEP=1` (a failed run keeps it:
/// the logs are what one reads then).
pub fn remove_scratch_dir(dir: &Path) {
    if std::env::var("SSRS_E2E_KEEP").is_ok_and(|v| v == "1") {
        eprintln!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The harness directory; started here unless `SSRS_E2E_DIR` names a running one.
pub struct Cluster {
    pub dir: PathBuf,
    owned: bool,
}

impl Cluster {
    pub fn start(tag: &str) -> Self {
        if let Ok(dir) = std::env::var("SSRS_E2E_DIR") {
            return Self {
                dir: PathBuf::from(dir),
                owned: false,
            };
        }
        let dir = std::env::temp_dir().join(format!("ssrs-{tag}-cluster-{}", std::process::id()));
        let status = Command::new(repo_root().join("tests/cluster/up"))
            .arg(&dir)
            .stdout(Stdio::null())
            .status()
            .expect("run tests/cluster/up");
        assert!(status.success(), "tests/cluster/up failed");
        Self { dir, owned: true }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.owned {
            let _ = Command::new(repo_root().join("tests/cluster/down"))
                .arg(&self.dir)
                .stdout(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A controller process (ours or upstream's), killed on drop.
pub struct Process {
    child: Child,
    pub port: u16,
    pub metrics_port: u16,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by number (`kill -s`), e.g. `USR1`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// SIGTERM and wait (bounded) for a clean exit; returns whether it exited 0.
    pub fn terminate(mut self) -> bool {
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
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
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
        child,
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

/// Our controller "in a pod" as ServiceAccount `namespace/sa` (in-cluster config only).
pub fn start_ours_in_cluster(
    cluster: &Cluster,
    namespace: &str,
    sa: &str,
    log: &Path,
    args: &[&str],
) -> Process {
    let mut cmd = Command::new(repo_root().join("tests/cluster/in-cluster-env"));
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
    let mut cmd = Command::new(repo_root().join("tests/cluster/in-cluster-env"));
    cmd.arg(&cluster.dir)
        .args([namespace, sa, "--"])
        .arg(upstream_bin("controller"));
    spawn(cmd, log, args)
}

/// An upstream v0.36.6 binary (`kubeseal`, `controller`): from `SSRS_UPSTREAM_BIN`, else
/// installed (or found cached) by `tests/upstream/install.sh`.
pub fn upstream_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("SSRS_UPSTREAM_BIN").map_or_else(
        || {
            let out = Command::new("bash")
                .arg(repo_root().join("tests/upstream/install.sh"))
                .stderr(Stdio::inherit())
                .output()
                .expect("run tests/upstream/install.sh");
            assert!(out.status.success(), "tests/upstream/install.sh failed");
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        },
        PathBuf::from,
    );
    let bin = dir.join(name);
    assert!(
        bin.is_file(),
        "upstream {name} missing at {}",
        bin.display()
    );
    bin
}

/// Our CLI, from the same target directory as this test binary (`cargo test --workspace` and
/// `tests/run` build it; alone, run `cargo build -p kubeseal-rs` first).
pub fn kubeseal_rs() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("kubeseal-rs"))
        .expect("target dir");
    assert!(
        bin.is_file(),
        "{} missing: run `cargo build -p kubeseal-rs`",
        bin.display()
    );
    bin
}

/// Runs a CLI with `stdin`, asserting success; returns stdout.
pub fn run_tool(bin: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait tool");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// kubectl against the harness as cluster-admin; asserts success and returns stdout.
pub fn kubectl(cluster: &Cluster, args: &[&str], stdin: &str) -> String {
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
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write manifest");
    let out = child.wait_with_output().expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn kubectl_apply(cluster: &Cluster, manifest: &str) {
    kubectl(cluster, &["apply", "-f", "-"], manifest);
}

pub fn apply_crd(cluster: &Cluster) {
    let crd = std::fs::read_to_string(repo_root().join("crds/bitnami.com_sealedsecrets.yaml"))
        .expect("CRD file");
    kubectl_apply(cluster, &crd);
    kubectl(
        cluster,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=30s",
            "crd/sealedsecrets.bitnami.com",
        ],
        "",
    );
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

/// A plain HTTP/1.1 GET on loopback: (status, body).
pub async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Polls `f` every 200 ms until it yields a value; fails the test after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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

pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

pub async fn client(cluster: &Cluster) -> Client {
    let kc = Kubeconfig::read_from(cluster.kubeconfig()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

pub async fn ensure_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name}
    }))
    .expect("namespace");
    let _ = api.create(&PostParams::default(), &ns).await;
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

/// Every plaintext value of a run, so that the end of the run can prove none leaked.
#[derive(Default)]
pub struct Plaintexts(Mutex<Vec<String>>);

impl Plaintexts {
    /// A distinctive value (nothing else in a log could contain it by chance), remembered.
    pub fn value(&self, tag: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let value = format!("pt-{tag}-{nanos:08x}-Zq7");
        self.remember(&value);
        value
    }

    /// Remembers a value made elsewhere (template outputs).
    pub fn remember(&self, value: &str) {
        self.0.lock().expect("lock").push(value.to_owned());
    }

    /// The values and their standard base64 forms (how a Secret's data would appear in JSON).
    fn needles(&self) -> BTreeSet<String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.0
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|v| [v.clone(), b64.encode(v.as_bytes())])
            .collect()
    }
}

/// Fails if a plaintext value (or its base64), or any private key, appears in the log files,
/// in an Event in `namespaces`, or in the status of a SealedSecret in `namespaces`.
pub async fn assert_no_leaks(
    client: &Client,
    namespaces: &[&str],
    logs: &[&Path],
    plaintexts: &Plaintexts,
) {
    let needles = plaintexts.needles();
    assert!(!needles.is_empty());
    let mut haystacks: Vec<(String, String)> = Vec::new();
    for log in logs {
        let text = std::fs::read_to_string(log).expect("controller log");
        assert!(!text.is_empty(), "{} is empty", log.display());
        haystacks.push((log.display().to_string(), text));
    }
    for ns in namespaces {
        let events: Api<Event> = Api::namespaced(client.clone(), ns);
        for e in events.list(&ListParams::default()).await.expect("events") {
            let text = serde_json::to_string(&e).expect("event json");
            haystacks.push((format!("event {ns}/{:?}", e.metadata.name), text));
        }
        let sealed: Api<SealedSecretObject> = Api::namespaced(client.clone(), ns);
        for s in sealed.list(&ListParams::default()).await.expect("sealed") {
            let text = serde_json::to_string(&s.status).expect("status json");
            haystacks.push((format!("status of {ns}/{:?}", s.metadata.name), text));
        }
    }
    for (place, text) in &haystacks {
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "plaintext {needle:?} leaked into {place}"
            );
        }
        assert!(
            !text.contains("PRIVATE KEY"),
            "a private key leaked into {place}"
        );
    }
    eprintln!(
        "leak check: {} values, {} places clean",
        needles.len() / 2,
        haystacks.len()
    );
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

/// Fails unless every line of `log` is a JSON object as upstream's slog `JSONHandler` writes
/// it (`--log-format json`): `time`, `level` (DEBUG, INFO, WARN or ERROR) and `msg` at the top.
pub fn assert_json_lines(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).expect("json log");
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v.get("time").is_some_and(serde_json::Value::is_string),
            "no time: {line}"
        );
        assert!(
            v.get("level")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|l| ["DEBUG", "INFO", "WARN", "ERROR"].contains(&l)),
            "no slog level: {line}"
        );
        assert!(
            v.get("msg").is_some_and(serde_json::Value::is_string),
            "no msg: {line}"
        );
        n += 1;
    }
    assert!(n > 0, "{} is empty", log.display());
    n
}

/// Runs a repository script (`tests/cluster/…`), failing the test if it fails.
pub fn run_script(script: &str, args: &[&str]) {
    let status = Command::new(repo_root().join(script))
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("run script");
    assert!(status.success(), "{script} failed");
}

/// A network namespace from `tests/cluster/netns-up`, removed on drop.
pub struct Netns(pub &'static str);

impl Netns {
    pub fn up(name: &'static str, addr: &str) -> Self {
        let _ = Command::new(repo_root().join("tests/cluster/netns-down"))
            .arg(name)
            .stderr(Stdio::null())
            .status();
        run_script("tests/cluster/netns-up", &[name, addr]);
        Self(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("tests/cluster/netns-down"))
            .arg(self.0)
            .status();
    }
}

/// Writes a kubeconfig for ServiceAccount `namespace/sa` that works from inside the network
/// namespace `netns` (it points at the gateway address the namespace reaches).
pub fn sa_kubeconfig_in_netns(
    cluster: &Cluster,
    netns: &str,
    namespace: &str,
    sa: &str,
    out: &Path,
) {
    run_script(
        "tests/cluster/netns-exec",
        &[
            netns,
            "--",
            repo_root()
                .join("tests/cluster/sa-kubeconfig")
                .to_str()
                .expect("utf-8 path"),
            cluster.dir.to_str().expect("utf-8 path"),
            namespace,
            sa,
            out.to_str().expect("utf-8 path"),
        ],
    );
}
