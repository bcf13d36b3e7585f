//! The `tests/cluster` control plane, network namespaces, and talking to the API server
//! (kubectl as cluster-admin, a kube client).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::paths::{repo_root, run_script, script};

/// The harness directory; started here unless `SSRS_E2E_DIR` names a running one, and then
/// `down` and removed on drop (also when a test panics).
pub struct Cluster {
    pub dir: PathBuf,
    owned: bool,
}

impl Cluster {
    /// Starts a control plane in a fresh directory named after `tag` and this process.
    #[must_use]
    pub fn start(tag: &str) -> Self {
        if let Ok(dir) = std::env::var("SSRS_E2E_DIR") {
            return Self {
                dir: PathBuf::from(dir),
                owned: false,
            };
        }
        let dir = std::env::temp_dir().join(format!("ssrs-{tag}-cluster-{}", std::process::id()));
        // Owned from here: a failed `up` is torn down too.
        let cluster = Self { dir, owned: true };
        let status = Command::new(script("up"))
            .arg(&cluster.dir)
            .stdout(Stdio::null())
            .status()
            .expect("run tests/cluster/up");
        assert!(status.success(), "tests/cluster/up failed");
        cluster
    }

    /// Its cluster-admin kubeconfig.
    #[must_use]
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.owned {
            let _ = Command::new(script("down"))
                .arg(&self.dir)
                .stdout(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A network namespace from `tests/cluster/netns-up`, removed on drop (which also stops what
/// runs in it).
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace `name` with address `addr`, after removing one a killed run may
    /// have left behind.
    #[must_use]
    pub fn up(name: &str, addr: &str) -> Self {
        let _ = Command::new(script("netns-down"))
            .arg(name)
            .stderr(Stdio::null())
            .status();
        run_script("tests/cluster/netns-up", &[name, addr]);
        Self {
            name: name.to_owned(),
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(script("netns-down")).arg(&self.name).status();
    }
}

/// kubectl against the harness as cluster-admin, with `stdin`; asserts success and returns
/// stdout.
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

/// `kubectl apply` of a manifest.
pub fn kubectl_apply(cluster: &Cluster, manifest: &str) {
    kubectl(cluster, &["apply", "-f", "-"], manifest);
}

/// Applies the SealedSecret CRD of the checkout and waits until it is served.
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

/// A cluster-admin kube client.
pub async fn client(cluster: &Cluster) -> Client {
    let kc = Kubeconfig::read_from(cluster.kubeconfig()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

/// Creates the namespace `name` unless it exists.
pub async fn ensure_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name}
    }))
    .expect("namespace");
    let _ = api.create(&PostParams::default(), &ns).await;
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
            script("sa-kubeconfig").to_str().expect("utf-8 path"),
            cluster.dir.to_str().expect("utf-8 path"),
            namespace,
            sa,
            out.to_str().expect("utf-8 path"),
        ],
    );
}
