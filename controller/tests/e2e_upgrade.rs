//! End-to-end: `helm upgrade` in place from upstream's chart to `charts/sealed-secrets-rs`, and
//! `helm rollback` to upstream's, on a real kube-apiserver and kube-controller-manager (the
//! `tests/cluster` harness).
//!
//! Skipped unless `SSRS_E2E=1` (root, the built harness, Helm from `tests/install/helm.sh`, the
//! upstream peers from `tests/upstream/install.sh`). In order:
//! 1. **upstream's chart**: `helm install sealed-secrets <upstream chart> -n kube-system -f
//!    tests/install/values-upstream.yaml` (the chart of the upstream release under test, the
//!    version of `SSRS_UPSTREAM_BIN`'s controller, from its Go module source: v0.40.0 by
//!    default, and it passes with the v0.36.6 peers too; a non-default values file:
//!    fullnameOverride, keyrenewperiod, resources, extra labels and annotations). There is no kubelet: upstream's controller binary runs "in a
//!    pod" (`tests/cluster/in-cluster-env`, as the chart's ServiceAccount, with the flags of the
//!    installed Deployment) in a network namespace that the chart's Service points at. It makes
//!    its key; upstream `kubeseal` and `kubeseal-rs`, with no flags and as a user with no role
//!    of its own, fetch the certificate through the service proxy and seal; both SealedSecrets
//!    are Synced.
//! 2. **upgrade**: `helm upgrade` of the same release to our chart with the same values file
//!    succeeds; the Deployment, the Services and the key Secret are the same objects (uids), the
//!    Deployment's selector is unchanged; our controller, run the same way with the flags of the
//!    upgraded Deployment, serves the same certificate, which both CLIs still find with no flags;
//!    every SealedSecret stays Synced (a deleted Secret is recreated), none was re-sealed (its
//!    encryptedData unchanged), no key was added; a new SealedSecret is sealed and unsealed.
//! 3. **rollback**: `helm rollback` to revision 1 succeeds; upstream's controller again (its
//!    image back in the Deployment) opens everything, the one sealed under ours included.
//!
//! Set `SSRS_E2E_KEEP=1` to keep the logs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{
    Cluster, KEY_LABEL, Netns, Plaintexts, client, enabled, ensure_namespace, kubectl,
    remove_scratch_dir, repo_root, run_script, scratch_dir, secret_yaml, upstream_bin,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::DeleteParams;
use sealed_secrets_controller::resource::SealedSecretObject;

const NS: &str = "kube-system";
const NAME: &str = "sealed-secrets-controller";
const RELEASE: &str = "sealed-secrets";
const APP_NS: &str = "app";
const NETNS: &str = "ssrs-upgrade";
const ADDR: &str = "10.200.61.2";
const WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Helm, upstream's chart

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

/// The version of the upstream controller under test (`controller --version`), e.g. `v0.40.0`.
fn upstream_version() -> String {
    let out = Command::new(upstream_bin("controller"))
        .arg("--version")
        .output()
        .expect("upstream controller --version");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let v = text
        .split_whitespace()
        .last()
        .unwrap_or_else(|| panic!("no version in {text:?}"));
    format!("v{}", v.trim_start_matches('v'))
}

/// Upstream's chart at `version`, from the release's Go module source.
fn upstream_chart(version: &str) -> PathBuf {
    let module = format!("github.com/bitnami-labs/sealed-secrets@{version}");
    let out = Command::new("go")
        .args(["mod", "download", "-json", &module])
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("go mod download");
    let info: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("go mod download {module}: {e}"));
    let dir = PathBuf::from(info["Dir"].as_str().expect("Dir")).join("helm/sealed-secrets");
    assert!(
        dir.join("Chart.yaml").is_file(),
        "no chart in {}",
        dir.display()
    );
    dir
}

// ---------------------------------------------------------------------------------------------
// The controller "in a pod" behind the chart's Service

/// A controller run as the chart's ServiceAccount inside the network namespace; killed on drop.
struct Pod {
    child: Child,
    log: PathBuf,
}

impl Pod {
    /// `bin` with the container args of the installed Deployment (and 2048-bit keys, for speed).
    fn start(cluster: &Cluster, bin: &Path, args: &[String], log: &Path) -> Self {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(repo_root().join("tests/cluster/in-cluster-env"))
            .args(["--netns", NETNS])
            .arg(&cluster.dir)
            .args([NS, NAME, "--"])
            .arg(bin)
            .args(args)
            .args(["--key-size", "2048"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start controller");
        Self {
            child,
            log: log.to_owned(),
        }
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM and a bounded wait; whether it exited 0.
    fn terminate(mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status();
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

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// kubectl as cluster-admin that may fail: (success, stdout).
fn kubectl_try(cluster: &Cluster, args: &[&str]) -> (bool, String) {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", cluster.kubeconfig())
        .stdin(Stdio::null())
        .output()
        .expect("kubectl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn get_json(cluster: &Cluster, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["get", "-o", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&kubectl(cluster, &all, "")).expect("kubectl JSON")
}

fn deployment(cluster: &Cluster) -> serde_json::Value {
    get_json(cluster, &["-n", NS, "deployment", NAME])
}

fn container_args(deploy: &serde_json::Value) -> Vec<String> {
    deploy["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("container args")
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

fn uid(cluster: &Cluster, kind: &str, name: &str) -> String {
    get_json(cluster, &["-n", NS, kind, name])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The key Secrets: name → uid.
fn keys(cluster: &Cluster) -> BTreeMap<String, String> {
    get_json(cluster, &["-n", NS, "secrets", "-l", KEY_LABEL])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metadata"]["name"].as_str().unwrap().to_owned(),
                s["metadata"]["uid"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The chart's Service selects the Deployment's pods, which never run here (no kubelet): point
/// it at the network namespace instead. Done again after each Helm operation, which puts the
/// selector back.
fn expose(cluster: &Cluster) {
    let svc = get_json(cluster, &["-n", NS, "service", NAME]);
    if svc["spec"].get("selector").is_some() {
        kubectl(
            cluster,
            &[
                "-n",
                NS,
                "patch",
                "service",
                NAME,
                "--type=json",
                "-p",
                r#"[{"op":"remove","path":"/spec/selector"}]"#,
            ],
            "",
        );
    }
    run_script(
        "tests/cluster/expose-service",
        &[
            cluster.dir.to_str().unwrap(),
            NS,
            NAME,
            ADDR,
            "8080",
            "http",
        ],
    );
}

/// The certificate through the API server's service proxy, as kubeseal reaches it.
async fn cert_via_proxy(cluster: &Cluster, pod: &mut Pod) -> String {
    let path = format!("/api/v1/namespaces/{NS}/services/http:{NAME}:http/proxy/v1/cert.pem");
    let start = Instant::now();
    loop {
        let (ok, out) = kubectl_try(cluster, &["get", "--raw", &path]);
        if ok && out.contains("BEGIN CERTIFICATE") {
            return out;
        }
        assert!(
            !pod.exited(),
            "controller exited (log {})",
            pod.log.display()
        );
        assert!(
            start.elapsed() < WAIT,
            "no certificate through the service proxy (log {})",
            pod.log.display()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A CLI with no `--controller-*` flag and no `--cert`, as `kubeconfig`'s user:
/// (success, stdout, stderr).
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

/// Both CLIs find the certificate with no flags; each seals one Secret (returned as JSON).
fn clis_fetch_and_seal(
    user: &Path,
    cert: &str,
    plaintexts: &Plaintexts,
    tag: &str,
) -> Vec<(String, String, serde_json::Value)> {
    let mut sealed = Vec::new();
    for bin in [upstream_bin("kubeseal"), harness::kubeseal_rs()] {
        let who = bin.file_name().unwrap().to_string_lossy().into_owned();
        let (ok, out, err) = kubeseal(&bin, user, &["--fetch-cert"], "");
        assert!(ok, "{who} --fetch-cert with no flags: {}", err.trim());
        assert_eq!(
            out, cert,
            "{who} --fetch-cert: the controller's certificate"
        );
        let name = format!("{tag}-{who}");
        let value = plaintexts.value(&name);
        let (ok, out, err) = kubeseal(
            &bin,
            user,
            &["-o", "json"],
            &secret_yaml(APP_NS, &name, &[("token", &value)]),
        );
        assert!(ok, "{who} seals with no flags: {}", err.trim());
        sealed.push((
            name,
            value,
            serde_json::from_str(&out).expect("sealed JSON"),
        ));
    }
    sealed
}

async fn wait_unsealed(
    ss: &Api<SealedSecretObject>,
    secrets: &Api<Secret>,
    name: &str,
    value: &str,
    pod: &mut Pod,
) {
    let start = Instant::now();
    loop {
        let secret_ok = secrets
            .get_opt(name)
            .await
            .ok()
            .flatten()
            .and_then(|s| s.data)
            .and_then(|d| d.get("token").map(|v| v.0 == value.as_bytes()))
            .unwrap_or(false);
        let synced = ss.get_opt(name).await.ok().flatten().is_some_and(|o| {
            let generation = o.metadata.generation;
            o.status.is_some_and(|st| {
                Some(st.observed_generation) == generation
                    && st
                        .conditions
                        .iter()
                        .any(|c| c.type_ == "Synced" && c.status == "True")
            })
        });
        if secret_ok && synced {
            return;
        }
        assert!(
            !pod.exited(),
            "controller exited (log {})",
            pod.log.display()
        );
        assert!(
            start.elapsed() < WAIT,
            "{name}: not unsealed and Synced (log {})",
            pod.log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deletes the Secret of `name` and waits until the running controller has made it again.
async fn recreated(
    ss: &Api<SealedSecretObject>,
    secrets: &Api<Secret>,
    name: &str,
    value: &str,
    pod: &mut Pod,
) {
    let old = secrets.get(name).await.unwrap().metadata.uid;
    secrets
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        if let Ok(Some(s)) = secrets.get_opt(name).await
            && s.metadata.uid != old
        {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "{name}: deleted Secret not recreated (log {})",
            pod.log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_unsealed(ss, secrets, name, value, pod).await;
}

fn encrypted_data(ss: &serde_json::Value) -> serde_json::Value {
    ss["spec"]["encryptedData"].clone()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn helm_upgrade_from_upstreams_chart_in_place_and_back() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let started = Instant::now();
    let dir = scratch_dir("upgrade");
    let home = dir.join("helm-home");
    std::fs::create_dir_all(&home).unwrap();
    let helm = Helm {
        bin: helm_bin(),
        home,
    };
    let version = upstream_version();
    let their_chart = upstream_chart(&version);
    let their_chart = their_chart.to_str().unwrap();
    let our_chart = repo_root().join("charts/sealed-secrets-rs");
    let our_chart = our_chart.to_str().unwrap();
    let values = repo_root().join("tests/install/values-upstream.yaml");
    let values = values.to_str().unwrap();
    let cluster = Cluster::start("upgrade");
    let client = client(&cluster).await;
    ensure_namespace(&client, APP_NS).await;
    let _netns = Netns::up(NETNS, ADDR);
    let plaintexts = Plaintexts::default();
    let ss: Api<SealedSecretObject> = Api::namespaced(client.clone(), APP_NS);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), APP_NS);
    eprintln!(
        "[{:>5.1?}] harness up; upstream {version}, chart {their_chart}",
        started.elapsed()
    );

    // A kubeseal user with no role of its own (the service-proxier Role binds every
    // authenticated user).
    kubectl(
        &cluster,
        &["-n", APP_NS, "create", "serviceaccount", "user"],
        "",
    );
    let user = dir.join("user.kubeconfig");
    run_script(
        "tests/cluster/sa-kubeconfig",
        &[
            cluster.dir.to_str().unwrap(),
            APP_NS,
            "user",
            user.to_str().unwrap(),
        ],
    );

    // 1. Upstream's chart, upstream's controller.
    helm.run(
        &cluster,
        &["install", RELEASE, their_chart, "-n", NS, "-f", values],
    );
    let deploy_1 = deployment(&cluster);
    let selector = deploy_1["spec"]["selector"].clone();
    let deploy_uid = uid(&cluster, "deployment", NAME);
    let service_uid = uid(&cluster, "service", NAME);
    let metrics_uid = uid(&cluster, "service", &format!("{NAME}-metrics"));
    expose(&cluster);
    let mut upstream = Pod::start(
        &cluster,
        &upstream_bin("controller"),
        &container_args(&deploy_1),
        &dir.join("upstream-1.log"),
    );
    let cert = cert_via_proxy(&cluster, &mut upstream).await;
    let key_set = keys(&cluster);
    assert_eq!(key_set.len(), 1, "upstream made one key: {key_set:?}");
    let mut all = clis_fetch_and_seal(&user, &cert, &plaintexts, "before");
    for (name, value, object) in &all {
        harness::create_sealed(&ss, object.clone()).await;
        wait_unsealed(&ss, &secrets, name, value, &mut upstream).await;
    }
    let sealed_before: BTreeMap<String, serde_json::Value> = all
        .iter()
        .map(|(name, _, _)| {
            let o = get_json(&cluster, &["-n", APP_NS, "sealedsecret", name]);
            (name.clone(), encrypted_data(&o))
        })
        .collect();
    assert!(upstream.terminate(), "upstream exits 0 on SIGTERM");
    eprintln!(
        "[{:>5.1?}] upstream's chart installed; upstream's controller unsealed what both CLIs sealed with no flags",
        started.elapsed()
    );

    // 2. helm upgrade to our chart, same release, same values file.
    helm.run(
        &cluster,
        &["upgrade", RELEASE, our_chart, "-n", NS, "-f", values],
    );
    let deploy_2 = deployment(&cluster);
    assert_eq!(deploy_2["spec"]["selector"], selector, "selector unchanged");
    assert_eq!(
        uid(&cluster, "deployment", NAME),
        deploy_uid,
        "the same Deployment"
    );
    assert_eq!(
        uid(&cluster, "service", NAME),
        service_uid,
        "the same Service"
    );
    assert_eq!(
        uid(&cluster, "service", &format!("{NAME}-metrics")),
        metrics_uid,
        "the same metrics Service"
    );
    let image = deploy_2["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        image.contains("sealed-secrets-rs"),
        "our image after the upgrade: {image}"
    );
    assert_eq!(keys(&cluster), key_set, "the key Secret stays");
    expose(&cluster);
    let mut ours = Pod::start(
        &cluster,
        Path::new(env!("CARGO_BIN_EXE_sealed-secrets-controller")),
        &container_args(&deploy_2),
        &dir.join("ours.log"),
    );
    assert_eq!(
        cert_via_proxy(&cluster, &mut ours).await,
        cert,
        "our controller serves upstream's key"
    );
    for (name, value, _) in &all {
        wait_unsealed(&ss, &secrets, name, value, &mut ours).await;
    }
    let (name, value, _) = &all[0];
    recreated(&ss, &secrets, name, value, &mut ours).await;
    for (name, encrypted) in &sealed_before {
        let o = get_json(&cluster, &["-n", APP_NS, "sealedsecret", name]);
        assert_eq!(&encrypted_data(&o), encrypted, "{name} was not re-sealed");
    }
    let during = clis_fetch_and_seal(&user, &cert, &plaintexts, "during");
    for (name, value, object) in &during {
        harness::create_sealed(&ss, object.clone()).await;
        wait_unsealed(&ss, &secrets, name, value, &mut ours).await;
    }
    all.extend(during);
    assert_eq!(keys(&cluster), key_set, "no key added");
    assert!(ours.terminate(), "ours exits 0 on SIGTERM");
    let text = std::fs::read_to_string(dir.join("ours.log")).unwrap();
    assert!(
        !text.to_ascii_lowercase().contains("forbidden"),
        "RBAC denial in {}",
        dir.join("ours.log").display()
    );
    eprintln!(
        "[{:>5.1?}] upgraded in place: same objects and key, everything Synced, both CLIs with no flags",
        started.elapsed()
    );

    // 3. helm rollback to upstream's chart.
    helm.run(&cluster, &["rollback", RELEASE, "1", "-n", NS]);
    let deploy_3 = deployment(&cluster);
    assert_eq!(deploy_3["spec"]["selector"], selector, "selector unchanged");
    assert_eq!(
        uid(&cluster, "deployment", NAME),
        deploy_uid,
        "the same Deployment"
    );
    assert_eq!(
        deploy_3["spec"]["template"]["spec"]["containers"][0]["image"],
        deploy_1["spec"]["template"]["spec"]["containers"][0]["image"],
        "upstream's image again"
    );
    assert_eq!(container_args(&deploy_3), container_args(&deploy_1));
    expose(&cluster);
    let mut upstream = Pod::start(
        &cluster,
        &upstream_bin("controller"),
        &container_args(&deploy_3),
        &dir.join("upstream-2.log"),
    );
    assert_eq!(cert_via_proxy(&cluster, &mut upstream).await, cert);
    for (name, value, _) in &all {
        wait_unsealed(&ss, &secrets, name, value, &mut upstream).await;
    }
    let (name, value, _) = all.last().unwrap();
    recreated(&ss, &secrets, name, value, &mut upstream).await;
    assert_eq!(keys(&cluster), key_set, "the key Secret stays");
    let (ok, _, err) = kubeseal(&upstream_bin("kubeseal"), &user, &["--fetch-cert"], "");
    assert!(ok, "upstream kubeseal after the rollback: {}", err.trim());
    assert!(upstream.terminate(), "upstream exits 0 on SIGTERM");
    eprintln!(
        "[{:>5.1?}] rolled back: upstream's controller opens everything, ours' included",
        started.elapsed()
    );
    drop(cluster);
    remove_scratch_dir(&dir);
}
