//! End-to-end: certificate discovery that works behind private control planes, on a real
//! kube-apiserver (the `tests/cluster` harness), one control plane for every case.
//!
//! Skipped unless `SSRS_E2E=1` (root, the built harness, the upstream binaries from
//! `tests/upstream/install.sh`, and our controller built with
//! `cargo build -p sealed-secrets-controller`). Our controller runs "in a pod" in its own network
//! namespace with exactly the RBAC `docs/controller.md` documents, behind a Service named and
//! labelled as our Helm chart names it (`sealed-secrets`, `app.kubernetes.io/name:
//! sealed-secrets-rs`) in a namespace that is not kube-system. Then:
//! - the controller publishes its certificate in ConfigMap `sealed-secrets-cert` (label,
//!   fingerprint annotation, PEM byte-identical to `/v1/cert.pem`);
//! - `kubeseal-rs --fetch-cert` with the default names does not leave kube-system: the Service
//!   in another namespace is not found; with `--discover-all-namespaces` it is found by label
//!   (the metrics Service is ignored); sealing and `--validate` work the same way;
//! - a tenant plants a labelled Service and a labelled certificate ConfigMap in its own
//!   namespace: neither is used by default (fetching and sealing fail, nothing is written),
//!   nor when the controller's namespace is named;
//! - upstream `kubeseal` works unchanged against this controller;
//! - a Service without endpoints, and one whose address nothing listens on (the proxy answers
//!   503, as on a private control plane): `--fetch-cert` falls back to the ConfigMap, prints the
//!   same bytes, and sealing with that certificate gives a SealedSecret the controller opens;
//! - a user who may only `get` that one ConfigMap gets the certificate too;
//! - SIGUSR1 makes a new key and the ConfigMap follows it;
//! - a ConfigMap of that name without our label is left alone (a warning in the log), and then
//!   the fall-back fails with one line naming every step tried;
//! - a user who may read nothing gets one line naming every step and its 403, and no token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{
    Cluster, Netns, Process, enabled, kubectl, kubectl_apply, kubeseal_rs, ok, our_controller,
    repo_root, run, script, upstream_bin_dir,
};

const NETNS: &str = "certdisc";
const ADDR: &str = "10.200.41.2";
const SERVICE: &str = "sealed-secrets";
const CONFIGMAP: &str = "sealed-secrets-cert";

fn upstream_kubeseal() -> PathBuf {
    upstream_bin_dir().join("kubeseal")
}

/// Exit 1, nothing on stdout, one line on stderr; returns that line.
fn fails(out: &Output, what: &str) -> String {
    let stderr = support::fails(out, what);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
    stderr
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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

/// The RBAC `docs/controller.md` documents: upstream's, plus `configmaps` get, create, update,
/// patch in the controller namespace.
fn controller_rbac(ns: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: sealed-secrets-controller, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {ns}-unsealer}}
rules:
- apiGroups: [bitnami.com]
  resources: [sealedsecrets]
  verbs: [get, list, watch]
- apiGroups: [bitnami.com]
  resources: [sealedsecrets/status]
  verbs: [update]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, create, update, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {ns}-unsealer}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {ns}-unsealer}}
subjects:
- {{kind: ServiceAccount, name: sealed-secrets-controller, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: sealed-secrets-key-admin, namespace: {ns}}}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [create, list]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: sealed-secrets-key-admin, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: sealed-secrets-key-admin}}
subjects:
- {{kind: ServiceAccount, name: sealed-secrets-controller, namespace: {ns}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: cert-reader, namespace: {ns}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: nobody, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: cert-reader, namespace: {ns}}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [{CONFIGMAP}]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: cert-reader, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: cert-reader}}
subjects:
- {{kind: ServiceAccount, name: cert-reader, namespace: {ns}}}
"#
    )
}

/// The ConfigMap as JSON, if it exists.
fn configmap(cluster: &Cluster, ns: &str) -> Option<serde_json::Value> {
    let out = run(
        Path::new("kubectl"),
        &["get", "configmap", CONFIGMAP, "-n", ns, "-o", "json"],
        &cluster.kubeconfig(),
    );
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn published(cm: &serde_json::Value) -> (String, String) {
    (
        cm["data"]["cert.pem"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        cm["metadata"]["annotations"]["sealed-secrets-rs/cert-fingerprint"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Waits until the ConfigMap holds `pem`; returns the fingerprint it records.
fn wait_published(cluster: &Cluster, ns: &str, pem: &str) -> String {
    eventually(
        "the certificate in the ConfigMap",
        Duration::from_secs(30),
        || {
            let cm = configmap(cluster, ns)?;
            let (held, fp) = published(&cm);
            (held == pem).then_some((cm, fp))
        },
    )
    .1
}

fn served(cluster: &Cluster, ns: &str) -> String {
    kubectl(
        cluster,
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/{ns}/services/http:{SERVICE}:http/proxy/v1/cert.pem"),
        ],
    )
}

fn secret_manifest(ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: {ns}\nstringData:\n  password: certdisc-e2e-value\n"
    )
}

#[test]
#[allow(clippy::too_many_lines)] // one control plane, the cases in order
fn cert_discovery_and_configmap_fallback() {
    if !enabled() {
        eprintln!(
            "skipped: set SSRS_E2E=1 (needs root, the tests/cluster harness and upstream binaries)"
        );
        return;
    }
    let started = Instant::now();
    let upstream = upstream_kubeseal();
    let cluster = Cluster::start("certdisc-e2e");
    let kc = cluster.kubeconfig();
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
    let ns = format!("certdisc-{}", std::process::id());
    kubectl(&cluster, &["create", "namespace", &ns]);
    kubectl_apply(&cluster, &controller_rbac(&ns));

    let _netns = Netns::up(NETNS, ADDR);
    let log = cluster.dir.join("controller.log");
    let out = std::fs::File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let controller = Process(
        Command::new(script("in-cluster-env"))
            .args(["--netns", NETNS])
            .arg(&cluster.dir)
            .args([&ns, "sealed-secrets-controller", "--"])
            .arg(our_controller())
            .args([
                "--key-size",
                "2048",
                "--all-namespaces=false",
                "--listen-addr",
                &format!("{ADDR}:8080"),
                "--listen-metrics-addr",
                &format!("{ADDR}:8081"),
            ])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start controller"),
    );
    // As our chart makes them: the Service and its metrics Service, both labelled with the
    // chart name; only the metrics one is component=metrics.
    let status = Command::new(script("expose-service"))
        .arg(&cluster.dir)
        .args([&ns, SERVICE, ADDR, "8080", "http"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "expose-service");
    kubectl(
        &cluster,
        &[
            "label",
            "service",
            "-n",
            &ns,
            SERVICE,
            "app.kubernetes.io/name=sealed-secrets-rs",
        ],
    );
    kubectl_apply(
        &cluster,
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {SERVICE}-metrics\n  namespace: {ns}\n  labels:\n    app.kubernetes.io/name: sealed-secrets-rs\n    app.kubernetes.io/component: metrics\nspec:\n  ports:\n  - name: metrics\n    port: 8081\n"
        ),
    );
    let first = eventually(
        "the controller's certificate",
        Duration::from_secs(90),
        || {
            let out = run(
                Path::new("kubectl"),
                &[
                    "get",
                    "--raw",
                    &format!(
                        "/api/v1/namespaces/{ns}/services/http:{SERVICE}:http/proxy/v1/cert.pem"
                    ),
                ],
                &kc,
            );
            out.status
                .success()
                .then(|| String::from_utf8(out.stdout).unwrap())
        },
    );
    assert!(first.starts_with("-----BEGIN CERTIFICATE-----"));
    eprintln!("[{:>5.1?}] controller up", started.elapsed());

    // 1. The controller publishes the ConfigMap: labelled, fingerprint, the served bytes.
    let first_fp = wait_published(&cluster, &ns, &first);
    assert!(first_fp.starts_with("SHA256:"), "{first_fp}");
    let cm = configmap(&cluster, &ns).unwrap();
    assert_eq!(
        cm["metadata"]["labels"]["sealed-secrets-rs/public-cert"],
        "true"
    );

    // 2. With the default names discovery stays in kube-system, where there is nothing.
    let selector = "app.kubernetes.io/name in (sealed-secrets,sealed-secrets-rs),app.kubernetes.io/component!=metrics";
    let line = fails(
        &run(&kubeseal_rs(), &["--fetch-cert"], &kc),
        "default names, other namespace",
    );
    for part in [
        "error: cannot fetch certificate: cannot get sealed secret service kube-system/sealed-secrets-controller: ".to_owned(),
        format!("; services labelled {selector} in kube-system: none"),
        "; configmaps labelled sealed-secrets-rs/public-cert=true in kube-system: none".to_owned(),
        "(or --discover-all-namespaces to search every namespace)".to_owned(),
    ] {
        assert!(line.contains(&part), "missing {part:?} in {line}");
    }
    assert!(!line.contains("any namespace"), "{line}");
    assert!(!line.contains(&ns), "{line}");

    // With --discover-all-namespaces: found by label (kube-system/sealed-secrets-controller does
    // not exist); the metrics Service is not a candidate.
    let out = run(
        &kubeseal_rs(),
        &["--fetch-cert", "--discover-all-namespaces"],
        &kc,
    );
    assert_eq!(ok(&out, "--fetch-cert by label"), first);
    assert!(
        stderr(&out).contains(&format!(
            "service kube-system/sealed-secrets-controller not found; using {ns}/{SERVICE}"
        )),
        "{}",
        stderr(&out)
    );
    let work = cluster.dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let secret = work.join("secret.yaml");
    std::fs::write(&secret, secret_manifest(&ns)).unwrap();
    let sealed = work.join("sealed.yaml");
    ok(
        &run(
            &kubeseal_rs(),
            &[
                "--discover-all-namespaces",
                "-f",
                secret.to_str().unwrap(),
                "-w",
                sealed.to_str().unwrap(),
            ],
            &kc,
        ),
        "seal by label",
    );
    let out = run(
        &kubeseal_rs(),
        &[
            "--validate",
            "--discover-all-namespaces",
            "-f",
            sealed.to_str().unwrap(),
        ],
        &kc,
    );
    assert_eq!(ok(&out, "--validate by label"), "");
    // Without the flag, --validate does not send the SealedSecret to a controller found there.
    let line = fails(
        &run(
            &kubeseal_rs(),
            &["--validate", "-f", sealed.to_str().unwrap()],
            &kc,
        ),
        "--validate without the flag",
    );
    assert!(!line.contains(&ns), "{line}");
    eprintln!("[{:>5.1?}] published, found by label", started.elapsed());

    // 2b. A tenant plants a labelled Service and a labelled certificate ConfigMap holding its
    // own certificate in its namespace. Neither is used: not with the default names, not when
    // the controller's namespace is named.
    let tenant = format!("tenant-{}", std::process::id());
    kubectl(&cluster, &["create", "namespace", &tenant]);
    let tenant_key = work.join("tenant-key.yaml");
    let tenant_cert = work.join("tenant.pem");
    ok(
        &run(
            &kubeseal_rs(),
            &[
                "keygen",
                "--key-size",
                "2048",
                "-w",
                tenant_key.to_str().unwrap(),
                "--cert-out",
                tenant_cert.to_str().unwrap(),
            ],
            &kc,
        ),
        "tenant keygen",
    );
    let tenant_pem = std::fs::read_to_string(&tenant_cert).unwrap();
    let indented: String = tenant_pem.lines().map(|l| format!("    {l}\n")).collect();
    kubectl_apply(
        &cluster,
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {SERVICE}\n  namespace: {tenant}\n  labels:\n    app.kubernetes.io/name: sealed-secrets-rs\nspec:\n  ports:\n  - name: http\n    port: 8080\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {CONFIGMAP}\n  namespace: {tenant}\n  labels:\n    sealed-secrets-rs/public-cert: \"true\"\ndata:\n  cert.pem: |\n{indented}"
        ),
    );
    let line = fails(
        &run(&kubeseal_rs(), &["--fetch-cert"], &kc),
        "planted objects, default names",
    );
    assert!(
        !line.contains(&tenant),
        "the tenant's objects were looked at: {line}"
    );
    assert!(line.contains("in kube-system: none"), "{line}");
    let planted_out = work.join("planted.yaml");
    let line = fails(
        &run(
            &kubeseal_rs(),
            &[
                "-f",
                secret.to_str().unwrap(),
                "-w",
                planted_out.to_str().unwrap(),
            ],
            &kc,
        ),
        "sealing with planted objects",
    );
    assert!(
        line.starts_with("error: cannot fetch certificate: "),
        "{line}"
    );
    assert!(!planted_out.exists(), "an output was written");
    let out = run(
        &kubeseal_rs(),
        &["--fetch-cert", "--controller-namespace", &ns],
        &kc,
    );
    assert_eq!(ok(&out, "named namespace beside a planted one"), first);
    assert_ne!(first, tenant_pem);
    eprintln!("[{:>5.1?}] planted objects ignored", started.elapsed());

    // 3. Upstream kubeseal, unchanged, against this controller.
    let named = [
        "--controller-namespace",
        ns.as_str(),
        "--controller-name",
        SERVICE,
    ];
    let mut args = named.to_vec();
    args.push("--fetch-cert");
    assert_eq!(
        ok(&run(&upstream, &args, &kc), "upstream --fetch-cert"),
        first
    );
    let mut args = named.to_vec();
    args.extend(["--validate", "-f", sealed.to_str().unwrap()]);
    ok(&run(&upstream, &args, &kc), "upstream --validate");

    // 4. The proxy cannot reach the controller: a Service with no endpoints, and one whose
    // address nothing listens on. The certificate comes from the ConfigMap, byte for byte.
    kubectl_apply(
        &cluster,
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: private\n  namespace: {ns}\nspec:\n  ports:\n  - name: http\n    port: 8080\n"
        ),
    );
    let status = Command::new(script("expose-service"))
        .arg(&cluster.dir)
        .args([&ns, "nowhere", ADDR, "9999", "http"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "expose-service nowhere");
    for service in ["private", "nowhere"] {
        let out = run(
            &kubeseal_rs(),
            &[
                "--fetch-cert",
                "--controller-namespace",
                &ns,
                "--controller-name",
                service,
            ],
            &kc,
        );
        assert_eq!(ok(&out, &format!("{service}: fall-back")), first);
        assert!(
            stderr(&out).contains(&format!(
                "the service proxy cannot reach the controller; using the certificate it published in configmap {ns}/{CONFIGMAP}"
            )),
            "{service}: {}",
            stderr(&out)
        );
        // Upstream kubeseal has no fall-back.
        let out = run(
            &upstream,
            &[
                "--fetch-cert",
                "--controller-namespace",
                &ns,
                "--controller-name",
                service,
            ],
            &kc,
        );
        assert!(!out.status.success(), "upstream has no fall-back");
    }
    // Sealing through the fall-back seals for the controller's key.
    let sealed_private = work.join("sealed-private.yaml");
    ok(
        &run(
            &kubeseal_rs(),
            &[
                "--controller-namespace",
                &ns,
                "--controller-name",
                "private",
                "-f",
                secret.to_str().unwrap(),
                "-w",
                sealed_private.to_str().unwrap(),
            ],
            &kc,
        ),
        "seal through the fall-back",
    );
    let mut args = named.to_vec();
    args.extend(["--validate", "-f", sealed_private.to_str().unwrap()]);
    ok(&run(&kubeseal_rs(), &args, &kc), "the controller opens it");

    // 5. A user who may only get that ConfigMap (no Service, no proxy) gets the certificate.
    let reader_kc = work.join("reader.kubeconfig");
    let status = Command::new(script("sa-kubeconfig"))
        .arg(&cluster.dir)
        .args([&ns, "cert-reader", reader_kc.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "sa-kubeconfig");
    let out = run(
        &kubeseal_rs(),
        &["--fetch-cert", "--controller-namespace", &ns],
        &reader_kc,
    );
    assert_eq!(ok(&out, "ConfigMap reader"), first);
    assert!(
        stderr(&out).contains("no controller service found; using the certificate"),
        "{}",
        stderr(&out)
    );
    eprintln!("[{:>5.1?}] fall-back, upstream kubeseal", started.elapsed());

    // 6. A new key (SIGUSR1): the ConfigMap follows it.
    controller.signal("USR1");
    let second = eventually(
        "a new certificate after SIGUSR1",
        Duration::from_secs(30),
        || {
            let now = served(&cluster, &ns);
            (now != first).then_some(now)
        },
    );
    let second_fp = wait_published(&cluster, &ns, &second);
    assert_ne!(second_fp, first_fp);
    let out = run(
        &kubeseal_rs(),
        &[
            "--fetch-cert",
            "--controller-namespace",
            &ns,
            "--controller-name",
            "private",
        ],
        &kc,
    );
    assert_eq!(ok(&out, "fall-back after rotation"), second);
    eprintln!("[{:>5.1?}] rotation", started.elapsed());

    // 7. Someone else's ConfigMap of that name (no label) is left alone, with a warning.
    kubectl(&cluster, &["delete", "configmap", "-n", &ns, CONFIGMAP]);
    kubectl(
        &cluster,
        &[
            "create",
            "configmap",
            "-n",
            &ns,
            CONFIGMAP,
            "--from-literal=cert.pem=not-ours",
        ],
    );
    controller.signal("USR1");
    eventually("a third certificate", Duration::from_secs(30), || {
        let now = served(&cluster, &ns);
        (now != first && now != second).then_some(())
    });
    eventually("the not-ours warning", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("exists without the label").then_some(())
    });
    let cm = configmap(&cluster, &ns).unwrap();
    assert_eq!(cm["data"]["cert.pem"], "not-ours");
    assert!(
        cm["metadata"]["annotations"]
            .get("sealed-secrets-rs/cert-fingerprint")
            .is_none()
    );
    assert!(cm["metadata"].get("labels").is_none(), "{cm}");

    // 8. Now the fall-back has nothing: one line, every step and its answer.
    let line = fails(
        &run(
            &kubeseal_rs(),
            &[
                "--fetch-cert",
                "--controller-namespace",
                &ns,
                "--controller-name",
                "nowhere",
            ],
            &kc,
        ),
        "nothing to fall back to",
    );
    eprintln!("what the fall-back says when the ConfigMap is not ours:\n{line}");
    for part in [
        format!(
            "error: cannot fetch certificate: the controller service {ns}/nowhere is not reachable through the API server's service proxy: 503"
        ),
        format!(
            "; configmap {ns}/{CONFIGMAP}: not labelled sealed-secrets-rs/public-cert=true, not the controller's; "
        ),
        format!("; configmaps labelled sealed-secrets-rs/public-cert=true in {ns}: none"),
    ] {
        assert!(line.contains(&part), "missing {part:?} in {line}");
    }
    assert!(
        !line.contains("--controller-name"),
        "a Service was found: {line}"
    );

    // 9. A user who may read nothing: every step, each forbidden, and no credential printed.
    let nobody_kc = work.join("nobody.kubeconfig");
    let status = Command::new(script("sa-kubeconfig"))
        .arg(&cluster.dir)
        .args([&ns, "nobody", nobody_kc.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "sa-kubeconfig");
    let line = fails(
        &run(&kubeseal_rs(), &["--fetch-cert"], &nobody_kc),
        "nobody",
    );
    eprintln!("what a user without rights sees:\n{line}");
    for part in [
        "error: cannot fetch certificate: cannot get sealed secret service kube-system/sealed-secrets-controller: 403 Forbidden".to_owned(),
        format!("; services labelled {selector} in kube-system: 403 Forbidden"),
        format!("; configmap kube-system/{CONFIGMAP}: 403 Forbidden"),
        "; configmaps labelled sealed-secrets-rs/public-cert=true in kube-system: 403 Forbidden".to_owned(),
        "; use --controller-name and --controller-namespace to name the sealed secrets controller's Service".to_owned(),
    ] {
        assert!(line.contains(&part), "missing {part:?} in {line}");
    }
    assert!(!line.contains("any namespace"), "{line}");
    let kubeconfig_text = std::fs::read_to_string(&nobody_kc).unwrap();
    let token = kubeconfig_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap();
    assert!(!line.contains(token), "the token leaked");

    // The controller never logged a private key.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("PRIVATE KEY"));
    drop(controller);
    eprintln!(
        "[{:>5.1?}] all cert discovery cases passed",
        started.elapsed()
    );
}
