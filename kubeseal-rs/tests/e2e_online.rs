//! End-to-end: the online modes of kubeseal-rs against real controllers behind a real
//! kube-apiserver (the `tests/cluster` harness), reached through the API server's service proxy
//! exactly as upstream kubeseal reaches them.
//!
//! Skipped unless `SSRS_E2E=1` (it needs root, the built harness, the upstream binaries from
//! `tests/upstream/install.sh` and our controller built with
//! `cargo build -p sealed-secrets-controller`). For each of our controller and the upstream
//! v0.40.0 controller, each running "in a pod" inside its own network namespace:
//! - `--fetch-cert` prints the same PEM as `GET …/proxy/v1/cert.pem`;
//! - sealing without `--cert` seals for that certificate (checked by opening the result with
//!   `--recovery-unseal` and the controller's key Secret);
//! - `--validate` accepts a SealedSecret the controller can open and refuses, with upstream's
//!   text, one sealed for another key;
//! - `--re-encrypt` returns a SealedSecret with the same metadata that still opens, also in
//!   place with `-f FILE`;
//! - upstream `kubeseal` does the same against the same controller (so our HTTP API is
//!   upstream-compatible);
//! - a wrong controller name, and a Service nothing answers behind, give one clear line.
//!
//! Plus, once: the certificate is fetched with a kubeconfig whose user is an exec credential
//! plugin and whose CA path is relative, and in-cluster (service-account) configuration.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{
    Cluster, Netns, Process, enabled, fails, kubectl, kubectl_apply, kubeseal_rs, ok,
    our_controller, repo_root, run, script, upstream_bin_dir,
};

const SECRET_VALUE: &str = "e2e-online-value";

fn eventually<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// One controller under test, running in its own namespace and network namespace.
struct Controller {
    namespace: String,
    /// Name of the Service in front of it.
    service: String,
    /// The proxy path of its HTTP API, e.g. `/api/v1/namespaces/ns/services/http:svc:http/proxy`.
    proxy: String,
    log: PathBuf,
    _process: Process,
    _netns: Netns,
}

#[derive(Clone, Copy, Debug)]
enum Flavour {
    Ours,
    Upstream,
}

fn start_controller(
    cluster: &Cluster,
    flavour: Flavour,
    upstream_bin: &Path,
    netns_name: &str,
    addr: &str,
) -> Controller {
    let namespace = format!("{netns_name}-{}", std::process::id());
    let service = "sealed-secrets-controller".to_owned();
    kubectl_apply(
        cluster,
        &format!(
            r"apiVersion: v1
kind: Namespace
metadata: {{name: {namespace}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: sealed-secrets-controller, namespace: {namespace}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {namespace}-controller}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects:
- {{kind: ServiceAccount, name: sealed-secrets-controller, namespace: {namespace}}}
"
        ),
    );
    let netns = Netns::up(netns_name, addr);
    let log = cluster.dir.join(format!("{netns_name}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let mut cmd = Command::new(script("in-cluster-env"));
    cmd.args(["--netns", netns_name]).arg(&cluster.dir).args([
        &namespace,
        "sealed-secrets-controller",
        "--",
    ]);
    // Ours serves on the namespace's address; upstream listens on :8080.
    match flavour {
        // Without its certificate ConfigMap: the "wrong name" and "nothing listens" cases
        // below pin upstream's behaviour, which the ConfigMap fall-back would answer instead
        // (that is tested in e2e_cert_discovery.rs).
        Flavour::Ours => cmd.arg(our_controller()).args([
            "--cert-configmap=",
            "--key-size",
            "2048",
            "--all-namespaces=false",
            "--listen-addr",
            &format!("{addr}:8080"),
            "--listen-metrics-addr",
            &format!("{addr}:8081"),
        ]),
        Flavour::Upstream => cmd.arg(upstream_bin.join("controller")).args([
            "--key-size",
            "2048",
            "--all-namespaces=false",
        ]),
    };
    let process = Process(
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start controller"),
    );
    // The Helm chart names the port "http"; upstream's controller.yaml leaves it unnamed.
    // Both proxy path forms get exercised.
    let port_name = match flavour {
        Flavour::Ours => "http",
        Flavour::Upstream => "",
    };
    let mut expose = Command::new(script("expose-service"));
    expose
        .arg(&cluster.dir)
        .args([&namespace, &service, addr, "8080"]);
    if !port_name.is_empty() {
        expose.arg(port_name);
    }
    assert!(expose.status().unwrap().success(), "expose-service failed");
    let proxy = format!("/api/v1/namespaces/{namespace}/services/http:{service}:{port_name}/proxy");
    let controller = Controller {
        namespace,
        service,
        proxy,
        log,
        _process: process,
        _netns: netns,
    };
    eprintln!(
        "{flavour:?} controller in {}, log {}",
        controller.namespace,
        controller.log.display()
    );
    eventually(
        &format!("{flavour:?} controller's certificate"),
        Duration::from_secs(90),
        || {
            let out = run(
                Path::new("kubectl"),
                &["get", "--raw", &format!("{}/v1/cert.pem", controller.proxy)],
                &cluster.kubeconfig(),
            );
            out.status.success().then_some(())
        },
    );
    controller
}

fn secret_manifest(namespace: &str, name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n    app: e2e\ntype: Opaque\nstringData:\n  password: {SECRET_VALUE}\n"
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Opens `sealed` (a file) with the controller's key Secrets and returns the password.
fn open_sealed(cluster: &Cluster, ctrl: &Controller, work: &Path, sealed: &Path) -> String {
    let keys = work.join("keys.yaml");
    let list = kubectl(
        cluster,
        &[
            "get",
            "secret",
            "-n",
            &ctrl.namespace,
            "-l",
            "sealedsecrets.bitnami.com/sealed-secrets-key",
            "-o",
            "yaml",
        ],
    );
    std::fs::write(&keys, list).unwrap();
    let out = run(
        &kubeseal_rs(),
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            keys.to_str().unwrap(),
            "-f",
            sealed.to_str().unwrap(),
        ],
        &cluster.kubeconfig(),
    );
    let secret = json(&ok(&out, "recovery-unseal"));
    let b64 = secret["data"]["password"].as_str().unwrap();
    String::from_utf8(base64_decode(b64)).unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn controller_args(ctrl: &Controller) -> Vec<String> {
    vec![
        "--controller-name".to_owned(),
        ctrl.service.clone(),
        "--controller-namespace".to_owned(),
        ctrl.namespace.clone(),
    ]
}

fn with(base: &[String], more: &[&str]) -> Vec<String> {
    base.iter()
        .cloned()
        .chain(more.iter().map(|s| (*s).to_owned()))
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Every online operation with one client binary against one controller.
fn online_operations(
    cluster: &Cluster,
    ctrl: &Controller,
    client: &Path,
    label: &str,
    other_cert: &Path,
) {
    eprintln!("-- {label}");
    let work = cluster.dir.join(format!("work-{label}"));
    std::fs::create_dir_all(&work).unwrap();
    let kc = cluster.kubeconfig();
    let base = controller_args(ctrl);

    // --fetch-cert: the PEM the controller serves, unchanged.
    let served = kubectl(
        cluster,
        &["get", "--raw", &format!("{}/v1/cert.pem", ctrl.proxy)],
    );
    let fetched = ok(
        &run(client, &strs(&with(&base, &["--fetch-cert"])), &kc),
        &format!("{label}: --fetch-cert"),
    );
    assert_eq!(fetched, served, "{label}: --fetch-cert");
    assert!(fetched.starts_with("-----BEGIN CERTIFICATE-----"));

    // Sealing without --cert seals for that certificate.
    let secret = work.join("secret.yaml");
    std::fs::write(&secret, secret_manifest(&ctrl.namespace, "app")).unwrap();
    let sealed_text = ok(
        &run(
            client,
            &strs(&with(&base, &["-f", secret.to_str().unwrap()])),
            &kc,
        ),
        &format!("{label}: seal without --cert"),
    );
    let sealed = work.join("sealed.json");
    std::fs::write(&sealed, &sealed_text).unwrap();
    let sealed_json = json(&sealed_text);
    assert_eq!(sealed_json["kind"], "SealedSecret");
    assert_eq!(
        open_sealed(cluster, ctrl, &work, &sealed),
        SECRET_VALUE,
        "{label}: sealed without --cert must open with the controller's key"
    );

    // --validate: valid → exit 0 and no output.
    let out = run(
        client,
        &strs(&with(
            &base,
            &["--validate", "-f", sealed.to_str().unwrap()],
        )),
        &kc,
    );
    assert_eq!(ok(&out, &format!("{label}: --validate")), "");

    // --validate: sealed for another key → exit 1, upstream's text.
    let foreign_text = ok(
        &run(
            &kubeseal_rs(),
            &[
                "--cert",
                other_cert.to_str().unwrap(),
                "-f",
                secret.to_str().unwrap(),
            ],
            &kc,
        ),
        "seal for another key",
    );
    let foreign = work.join("foreign.json");
    std::fs::write(&foreign, foreign_text).unwrap();
    let stderr = fails(
        &run(
            client,
            &strs(&with(
                &base,
                &["--validate", "-f", foreign.to_str().unwrap()],
            )),
            &kc,
        ),
        &format!("{label}: --validate foreign"),
    );
    assert!(
        stderr.contains("unable to decrypt sealed secret"),
        "{label}: {stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{label}: {stderr}");

    // --re-encrypt: same metadata, still opens.
    let rotated_text = ok(
        &run(
            client,
            &strs(&with(
                &base,
                &[
                    "--re-encrypt",
                    "-f",
                    sealed.to_str().unwrap(),
                    "-w",
                    work.join("rotated.json").to_str().unwrap(),
                ],
            )),
            &kc,
        ),
        &format!("{label}: --re-encrypt"),
    );
    assert_eq!(rotated_text, "", "{label}: -w takes the output");
    let rotated_path = work.join("rotated.json");
    let rotated = json(&std::fs::read_to_string(&rotated_path).unwrap());
    assert_eq!(rotated["kind"], "SealedSecret");
    assert_eq!(rotated["apiVersion"], "bitnami.com/v1alpha1");
    assert_eq!(
        rotated["metadata"], sealed_json["metadata"],
        "{label}: --re-encrypt keeps the metadata"
    );
    assert_eq!(
        rotated["spec"]["template"]["metadata"]["name"],
        sealed_json["spec"]["template"]["metadata"]["name"]
    );
    assert_ne!(
        rotated["spec"]["encryptedData"]["password"],
        sealed_json["spec"]["encryptedData"]["password"],
        "{label}: re-encrypted items are new ciphertexts"
    );
    assert_eq!(
        open_sealed(cluster, ctrl, &work, &rotated_path),
        SECRET_VALUE,
        "{label}: the re-encrypted SealedSecret must still open"
    );

    // A wrong controller name: one line, naming the Service, exit 1.
    let stderr = fails(
        &run(
            client,
            &[
                "--fetch-cert",
                "--controller-name",
                "no-such-controller",
                "--controller-namespace",
                &ctrl.namespace,
            ],
            &kc,
        ),
        &format!("{label}: wrong controller name"),
    );
    assert!(
        stderr.contains("cannot get sealed secret service"),
        "{label}: {stderr}"
    );
    assert!(stderr.contains("no-such-controller"), "{label}: {stderr}");
}

/// Our client's own extras: one-line errors, in-place re-encrypt, YAML, env variables.
fn kubeseal_rs_extras(cluster: &Cluster, ctrl: &Controller, label: &str) {
    let work = cluster.dir.join(format!("work-{label}"));
    let kc = cluster.kubeconfig();
    let sealed = work.join("sealed.json");

    // Wrong name: exactly one line.
    let stderr = fails(
        &run(
            &kubeseal_rs(),
            &[
                "--fetch-cert",
                "--controller-name",
                "no-such-controller",
                "--controller-namespace",
                &ctrl.namespace,
            ],
            &kc,
        ),
        "wrong name",
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot fetch certificate: cannot get sealed secret service"),
        "{stderr}"
    );

    // The controller namespace and name from the environment.
    let out = Command::new(kubeseal_rs())
        .arg("--fetch-cert")
        .env("KUBECONFIG", &kc)
        .env("SEALED_SECRETS_CONTROLLER_NAMESPACE", &ctrl.namespace)
        .env("SEALED_SECRETS_CONTROLLER_NAME", &ctrl.service)
        .output()
        .unwrap();
    assert!(ok(&out, "env").starts_with("-----BEGIN CERTIFICATE-----"));

    // --re-encrypt -f FILE without -w rewrites FILE in place, YAML by its extension.
    let in_place = work.join("in-place.yaml");
    std::fs::copy(&sealed, &in_place).unwrap();
    let base = controller_args(ctrl);
    let out = run(
        &kubeseal_rs(),
        &strs(&with(
            &base,
            &["--re-encrypt", "-f", in_place.to_str().unwrap()],
        )),
        &kc,
    );
    assert_eq!(ok(&out, "in-place re-encrypt"), "");
    let text = std::fs::read_to_string(&in_place).unwrap();
    assert!(
        text.starts_with("---\napiVersion: bitnami.com/v1alpha1\n"),
        "{text}"
    );
    assert_eq!(open_sealed(cluster, ctrl, &work, &in_place), SECRET_VALUE);
}

/// A Service with an address nothing listens on: the proxy answers 503.
fn unreachable_controller(cluster: &Cluster, ctrl: &Controller, addr: &str) {
    let status = Command::new(script("expose-service"))
        .arg(&cluster.dir)
        .args([&ctrl.namespace, "dead-controller", addr, "9999", "http"])
        .status()
        .unwrap();
    assert!(status.success());
    let stderr = fails(
        &run(
            &kubeseal_rs(),
            &[
                "--fetch-cert",
                "--controller-name",
                "dead-controller",
                "--controller-namespace",
                &ctrl.namespace,
            ],
            &cluster.kubeconfig(),
        ),
        "dead controller",
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not reachable"), "{stderr}");
    assert!(stderr.contains("503"), "{stderr}");
}

/// A kubeconfig with an exec credential plugin and a relative CA path, and the in-cluster
/// configuration: both reach the controller.
fn other_credentials(cluster: &Cluster, ctrl: &Controller) {
    let dir = cluster.dir.join("exec-kubeconfig");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::copy(cluster.dir.join("pki/ca.crt"), dir.join("ca.crt")).unwrap();
    let token = ok(
        &run(
            &script("sa-token"),
            &[
                cluster.dir.to_str().unwrap(),
                &ctrl.namespace,
                "sealed-secrets-controller",
            ],
            &cluster.kubeconfig(),
        ),
        "sa-token",
    );
    std::fs::write(dir.join("token"), token.trim()).unwrap();
    let plugin = dir.join("bin/token-plugin");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\n[ \"$1\" = --audience ] || exit 7\nprintf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"}}}}' \"$(cat {})\"\n",
            dir.join("token").display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let env = std::fs::read_to_string(cluster.dir.join("cluster.env")).unwrap();
    let server = env
        .lines()
        .find_map(|l| l.strip_prefix("APISERVER_URL="))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let kubeconfig = dir.join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            r"apiVersion: v1
kind: Config
current-context: exec
clusters:
- name: harness
  cluster:
    server: {server}
    certificate-authority: ca.crt
contexts:
- name: exec
  context: {{cluster: harness, user: plugin}}
users:
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/token-plugin
      args: [--audience]
      interactiveMode: Never
"
        ),
    )
    .unwrap();
    let served = kubectl(
        cluster,
        &["get", "--raw", &format!("{}/v1/cert.pem", ctrl.proxy)],
    );
    let base = controller_args(ctrl);
    let out = Command::new(kubeseal_rs())
        .args(strs(&with(
            &base,
            &["--fetch-cert", "--kubeconfig", kubeconfig.to_str().unwrap()],
        )))
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(ok(&out, "exec plugin kubeconfig"), served);

    // In a "pod" (service-account token and CA mounted, no kubeconfig).
    let mut args = vec![
        cluster.dir.to_str().unwrap().to_owned(),
        ctrl.namespace.clone(),
        "sealed-secrets-controller".to_owned(),
        "--".to_owned(),
        kubeseal_rs().to_str().unwrap().to_owned(),
        "--fetch-cert".to_owned(),
    ];
    args.extend(base);
    let out = Command::new(script("in-cluster-env"))
        .args(&args)
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(ok(&out, "in-cluster"), served);
}

#[test]
fn online_modes_against_our_and_upstream_controllers() {
    if !enabled() {
        eprintln!(
            "skipped: set SSRS_E2E=1 (needs root, the tests/cluster harness and upstream binaries)"
        );
        return;
    }
    let upstream = upstream_bin_dir();
    let ours_bin = our_controller();
    eprintln!("our controller: {}", ours_bin.display());
    let cluster = Cluster::start("ksonl-e2e");
    kubectl(
        &cluster,
        &[
            "apply",
            "-f",
            repo_root()
                .join("crds/bitnami.com_sealedsecrets.yaml")
                .to_str()
                .unwrap(),
        ],
    );

    // A certificate the controllers do not hold a key for.
    let other_dir = cluster.dir.join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other_cert = other_dir.join("cert.pem");
    ok(
        &run(
            &kubeseal_rs(),
            &[
                "keygen",
                "--key-size",
                "2048",
                "-w",
                other_dir.join("key.yaml").to_str().unwrap(),
                "--cert-out",
                other_cert.to_str().unwrap(),
            ],
            &cluster.kubeconfig(),
        ),
        "keygen",
    );

    let ours = start_controller(
        &cluster,
        Flavour::Ours,
        &upstream,
        "ksonl-ours",
        "10.200.31.2",
    );
    let theirs = start_controller(
        &cluster,
        Flavour::Upstream,
        &upstream,
        "ksonl-up",
        "10.200.32.2",
    );
    let upstream_kubeseal = upstream.join("kubeseal");

    online_operations(
        &cluster,
        &ours,
        &kubeseal_rs(),
        "kubeseal-rs-vs-ours",
        &other_cert,
    );
    online_operations(
        &cluster,
        &theirs,
        &kubeseal_rs(),
        "kubeseal-rs-vs-upstream",
        &other_cert,
    );
    online_operations(
        &cluster,
        &ours,
        &upstream_kubeseal,
        "kubeseal-vs-ours",
        &other_cert,
    );
    online_operations(
        &cluster,
        &theirs,
        &upstream_kubeseal,
        "kubeseal-vs-upstream",
        &other_cert,
    );
    kubeseal_rs_extras(&cluster, &ours, "kubeseal-rs-vs-ours");
    kubeseal_rs_extras(&cluster, &theirs, "kubeseal-rs-vs-upstream");
    unreachable_controller(&cluster, &ours, "10.200.31.2");
    other_credentials(&cluster, &ours);
    // Our controller opened every value sealed above (verify, rotate, unseal): its log must not
    // show one, in clear or in base64.
    let log = std::fs::read_to_string(&ours.log).unwrap();
    assert!(!log.is_empty(), "our controller wrote no log");
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, SECRET_VALUE);
    for needle in [SECRET_VALUE, b64.trim_end_matches('=')] {
        assert!(
            !log.contains(needle),
            "our controller's log shows a plaintext"
        );
    }
    eprintln!("all online scenarios passed");
}
