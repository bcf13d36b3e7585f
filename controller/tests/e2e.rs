//! End-to-end: the controller binary against a real kube-apiserver (tests/cluster harness).
//!
//! Skipped unless `SSRS_E2E=1` (it needs root, the built harness and ~20 s). What it shows:
//! - the controller starts out of cluster with `KUBECONFIG`, generates a key in `POD_NAMESPACE`
//!   and serves its certificate on `/v1/cert.pem`;
//! - a SealedSecret sealed for that certificate becomes a Secret with the controller
//!   ownerReference, `Synced=True`, `observedGeneration=1` and an `Unsealed` event from
//!   component `sealed-secrets`;
//! - after a restart the unchanged SealedSecret costs no RSA decryption;
//! - a SealedSecret for another key gets `ErrUnsealFailed` and `Synced=False`;
//! - deleting the Secret recreates it.
//!
//! Set `SSRS_E2E_DIR` to reuse a running harness directory instead of starting one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::cert::{CertParams, Certificate};
use sealed_secrets_core::keys::{PrivateKey, PublicKey};
use sealed_secrets_core::seal::{SealOptions, seal_secret};
use sealed_secrets_core::secret_bytes::SecretBytes;
use sealed_secrets_core::types::{ObjectMeta, Secret as CoreSecret};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn enabled() -> bool {
    std::env::var("SSRS_E2E").is_ok_and(|v| v == "1")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The harness directory; started here unless `SSRS_E2E_DIR` names a running one.
struct Cluster {
    dir: PathBuf,
    owned: bool,
}

impl Cluster {
    fn start() -> Self {
        if let Ok(dir) = std::env::var("SSRS_E2E_DIR") {
            return Self {
                dir: PathBuf::from(dir),
                owned: false,
            };
        }
        let dir = std::env::temp_dir().join(format!("ssrs-controller-e2e-{}", std::process::id()));
        let status = Command::new(repo_root().join("tests/cluster/up"))
            .arg(&dir)
            .status()
            .expect("run tests/cluster/up");
        assert!(status.success(), "tests/cluster/up failed");
        Self { dir, owned: true }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.owned {
            let _ = Command::new(repo_root().join("tests/cluster/down"))
                .arg(&self.dir)
                .status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

struct ControllerProcess {
    child: Child,
    port: u16,
    metrics_port: u16,
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start_controller(cluster: &Cluster, key_namespace: &str, log: &Path) -> ControllerProcess {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealed-secrets-controller"));
    cmd.env("KUBECONFIG", cluster.kubeconfig())
        .env("POD_NAMESPACE", key_namespace);
    spawn_controller(cmd, log)
}

/// Runs the controller "in a pod" as ServiceAccount `namespace/sa` (in-cluster config only).
fn start_controller_in_cluster(
    cluster: &Cluster,
    namespace: &str,
    sa: &str,
    log: &Path,
) -> ControllerProcess {
    let mut cmd = Command::new(repo_root().join("tests/cluster/in-cluster-env"));
    cmd.arg(&cluster.dir)
        .args([namespace, sa, "--"])
        .arg(env!("CARGO_BIN_EXE_sealed-secrets-controller"));
    spawn_controller(cmd, log)
}

fn spawn_controller(mut cmd: Command, log: &Path) -> ControllerProcess {
    let port = free_port();
    let metrics_port = free_port();
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let err = out.try_clone().expect("log file");
    let child = cmd
        .args([
            "--key-size",
            "2048",
            // Only this run's namespace: the harness may hold other runs' objects.
            "--all-namespaces=false",
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
            "--listen-metrics-addr",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start controller");
    ControllerProcess {
        child,
        port,
        metrics_port,
    }
}

/// A plain HTTP/1.1 GET on loopback: (status, body).
async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
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

async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
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

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn sealed_object(public: &PublicKey, namespace: &str, name: &str) -> SealedSecretObject {
    let secret = CoreSecret {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: namespace.into(),
            labels: [("mylabel".to_owned(), "myvalue".to_owned())].into(),
            ..ObjectMeta::default()
        },
        data: [("foo".to_owned(), SecretBytes::from_slice(b"bar"))].into(),
        ..CoreSecret::default()
    };
    let ss = seal_secret(secret, public, &SealOptions::default()).expect("seal");
    serde_json::from_value(serde_json::to_value(&ss).expect("json")).expect("object")
}

async fn client(cluster: &Cluster) -> Client {
    let kc = Kubeconfig::read_from(cluster.kubeconfig()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

async fn ensure_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name}
    }))
    .expect("namespace");
    let _ = api.create(&PostParams::default(), &ns).await;
}

fn kubectl_apply(cluster: &Cluster, manifest: &str) {
    let mut child = Command::new("kubectl")
        .args(["apply", "-f", "-"])
        .env("KUBECONFIG", cluster.kubeconfig())
        .stdin(Stdio::piped())
        .spawn()
        .expect("kubectl apply");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(manifest.as_bytes())
            .expect("write manifest");
    }
    assert!(
        child.wait().expect("kubectl").success(),
        "kubectl apply failed"
    );
}

fn apply_crd(cluster: &Cluster) {
    let crd = std::fs::read_to_string(repo_root().join("crds/bitnami.com_sealedsecrets.yaml"))
        .expect("CRD file");
    kubectl_apply(cluster, &crd);
    let _ = Command::new("kubectl")
        .args([
            "wait",
            "--for=condition=Established",
            "crd/sealedsecrets.bitnami.com",
        ])
        .env("KUBECONFIG", cluster.kubeconfig())
        .status();
}

/// The permissions SPEC §3.14 derives from upstream (its `controller.jsonnet`): nothing more.
fn upstream_rbac(namespace: &str, sa: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: {sa}, namespace: {namespace}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {namespace}-secrets-unsealer}}
rules:
- apiGroups: [bitnami.com]
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
---
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

/// One harness for every scenario (two harnesses at once would compete for ports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_on_a_real_api_server() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let cluster = Cluster::start();
    let client = client(&cluster).await;
    apply_crd(&cluster);
    unseals_out_of_cluster(&cluster, &client).await;
    runs_in_cluster_with_upstream_rbac(&cluster, &client).await;
}

async fn runs_in_cluster_with_upstream_rbac(cluster: &Cluster, client: &Client) {
    let ns = format!("ssrs-incluster-{}", std::process::id());
    ensure_namespace(client, &ns).await;
    kubectl_apply(cluster, &upstream_rbac(&ns, "sealed-secrets-controller"));
    let log = std::env::temp_dir().join(format!(
        "ssrs-controller-incluster-{}.log",
        std::process::id()
    ));
    eprintln!("controller log: {}", log.display());
    let controller = start_controller_in_cluster(cluster, &ns, "sealed-secrets-controller", &log);
    eventually("/healthz", Duration::from_secs(60), || async {
        http_get(controller.port, "/healthz")
            .await
            .filter(|(code, _)| *code == 200)
    })
    .await;
    let (_, pem) = http_get(controller.port, "/v1/cert.pem")
        .await
        .expect("cert");
    let cert = Certificate::from_pem(pem.as_bytes()).expect("certificate");
    let ss_api: Api<SealedSecretObject> = Api::namespaced(client.clone(), &ns);
    ss_api
        .create(
            &PostParams::default(),
            &sealed_object(cert.public_key(), &ns, "app"),
        )
        .await
        .expect("create SealedSecret");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret = eventually("the Secret", Duration::from_secs(30), || async {
        secrets.get_opt("app").await.ok().flatten()
    })
    .await;
    assert_eq!(secret.data.unwrap_or_default()["foo"].0, b"bar");
    eventually("Synced=True", Duration::from_secs(30), || async {
        let obj = ss_api.get("app").await.ok()?;
        (obj.status?.conditions.first()?.status == "True").then_some(())
    })
    .await;
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !log_text.contains("forbidden"),
        "RBAC denial in {}",
        log.display()
    );
    drop(controller);
}

async fn unseals_out_of_cluster(cluster: &Cluster, client: &Client) {
    let run = std::process::id();
    // Keys and SealedSecrets share the controller's namespace (watched alone).
    let ns = format!("ssrs-e2e-{run}");
    let key_ns = ns.clone();
    ensure_namespace(client, &ns).await;
    let log = std::env::temp_dir().join(format!("ssrs-controller-e2e-{run}.log"));
    eprintln!("controller log: {}", log.display());

    let controller = start_controller(cluster, &key_ns, &log);
    eventually("/healthz", Duration::from_secs(60), || async {
        http_get(controller.port, "/healthz")
            .await
            .filter(|(code, body)| *code == 200 && body == "ok\n")
    })
    .await;
    let (code, pem) = http_get(controller.port, "/v1/cert.pem")
        .await
        .expect("cert");
    assert_eq!(code, 200);
    let cert = Certificate::from_pem(pem.as_bytes()).expect("certificate");

    // The key Secret the controller generated.
    let key_secrets: Api<Secret> = Api::namespaced(client.clone(), &key_ns);
    let keys = key_secrets
        .list(&ListParams::default().labels("sealedsecrets.bitnami.com/sealed-secrets-key=active"))
        .await
        .expect("list keys");
    assert_eq!(keys.items.len(), 1);
    let key_secret = &keys.items[0];
    assert!(
        key_secret
            .metadata
            .name
            .as_deref()
            .unwrap_or_default()
            .starts_with("sealed-secrets-key")
    );
    assert_eq!(key_secret.type_.as_deref(), Some("kubernetes.io/tls"));

    // Seal, apply, wait for the Secret.
    let ss_api: Api<SealedSecretObject> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let created = ss_api
        .create(
            &PostParams::default(),
            &sealed_object(cert.public_key(), &ns, "mysecret"),
        )
        .await
        .expect("create SealedSecret");
    let secret = eventually("the Secret", Duration::from_secs(30), || async {
        secrets.get_opt("mysecret").await.ok().flatten()
    })
    .await;
    let data = secret.data.clone().unwrap_or_default();
    assert_eq!(data["foo"].0, b"bar");
    assert_eq!(
        secret.metadata.labels.as_ref().unwrap()["mylabel"],
        "myvalue"
    );
    let owner = &secret
        .metadata
        .owner_references
        .as_ref()
        .expect("ownerReferences")[0];
    assert_eq!(owner.kind, "SealedSecret");
    assert_eq!(owner.api_version, "bitnami.com/v1alpha1");
    assert_eq!(Some(&owner.uid), created.metadata.uid.as_ref());
    assert_eq!(owner.controller, Some(true));

    let status = eventually("Synced=True", Duration::from_secs(30), || async {
        let obj = ss_api.get("mysecret").await.ok()?;
        let status = obj.status?;
        (status.conditions.first()?.status == "True").then_some(status)
    })
    .await;
    assert_eq!(status.observed_generation, 1);
    let condition = &status.conditions[0];
    assert_eq!(condition.last_transition_time, condition.last_update_time);

    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let unsealed = eventually("Unsealed event", Duration::from_secs(30), || async {
        events
            .list(&ListParams::default().fields("involvedObject.name=mysecret"))
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("Unsealed"))
    })
    .await;
    assert_eq!(unsealed.type_.as_deref(), Some("Normal"));
    assert_eq!(
        unsealed.message.as_deref(),
        Some("SealedSecret unsealed successfully")
    );
    assert_eq!(
        unsealed.source.and_then(|s| s.component).as_deref(),
        Some("sealed-secrets")
    );

    // Restart: the unchanged SealedSecret is not decrypted again.
    drop(controller);
    let controller = start_controller(cluster, &key_ns, &log);
    let metrics = eventually(
        "a reconcile after restart",
        Duration::from_secs(60),
        || async {
            let (_, text) = http_get(controller.metrics_port, "/metrics").await?;
            (metric(&text, "sealed_secrets_controller_unseal_skipped_total")? >= 1.0)
                .then_some(text)
        },
    )
    .await;
    assert_eq!(
        metric(
            &metrics,
            "sealed_secrets_controller_rsa_decrypt_operations_total"
        ),
        Some(0.0),
        "{metrics}"
    );

    // Deleting the Secret recreates it.
    secrets
        .delete("mysecret", &DeleteParams::default())
        .await
        .expect("delete Secret");
    eventually("the recreated Secret", Duration::from_secs(30), || async {
        let s = secrets.get_opt("mysecret").await.ok().flatten()?;
        (s.metadata.uid != secret.metadata.uid).then_some(())
    })
    .await;

    // Sealed for another key: ErrUnsealFailed and Synced=False.
    let other = PrivateKey::generate(2048).expect("key");
    let other_cert = Certificate::self_signed(
        &other,
        &CertParams::controller_default(time::OffsetDateTime::now_utc()),
    )
    .expect("cert");
    ss_api
        .create(
            &PostParams::default(),
            &sealed_object(other_cert.public_key(), &ns, "wrongkey"),
        )
        .await
        .expect("create SealedSecret");
    let failed = eventually("Synced=False", Duration::from_secs(30), || async {
        let obj = ss_api.get("wrongkey").await.ok()?;
        let condition = obj.status?.conditions.into_iter().next()?;
        (condition.status == "False").then_some(condition)
    })
    .await;
    assert_eq!(failed.message, "no key could decrypt secret (foo)");
    eventually("ErrUnsealFailed event", Duration::from_secs(30), || async {
        events
            .list(&ListParams::default().fields("involvedObject.name=wrongkey"))
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("ErrUnsealFailed"))
    })
    .await;
    assert!(secrets.get_opt("wrongkey").await.expect("get").is_none());
    drop(controller);
}
