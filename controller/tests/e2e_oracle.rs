//! The controller is not a plaintext oracle (docs/security.md), on a real API server, as an
//! attacker would try it: a ServiceAccount that may create and update SealedSecrets, read their
//! status and events and reach the controller's Service, but not read Secrets.
//!
//! - Status and events: pairs of SealedSecrets whose templates branch on a true and on a false
//!   guess about a value they cannot read (with `fail`, and with functions that fail on their
//!   input: `mustFromJson`, `index`, a regex, the step budget, the Secret size, the JSON a Docker
//!   config Secret must hold) look the same to that user, apart from names, uids and times.
//! - `/v1/verify` and `/v1/rotate` through the service proxy give the same answers to both
//!   guesses, and the rate limit holds against a forged `X-Forwarded-For`.
//! - No plaintext, nor any 4-character piece of it, is in what that user can read, nor in the
//!   controller's log or metrics.
//!
//! `SSRS_E2E=1 cargo test -p sealed-secrets-controller --test e2e_oracle -- --nocapture`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{
    Cluster, Netns, Plaintexts, apply_crd, assert_no_leaks, client, ensure_namespace, eventually,
    kubectl_apply, repo_root, run_script, scratch_dir, upstream_rbac,
};
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::keys::PublicKey;
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::seal::encrypt_item;

const NETNS: &str = "ssrs-oracle";
const ADDR: &str = "10.200.53.2";
const SERVICE: &str = "sealed-secrets-controller";

/// The value the attacker wants. Its first character is what the probes guess; the rest is
/// drawn from characters that nothing else in a log or an object holds, so that finding any
/// 4-character piece of it anywhere is a leak, not a coincidence.
fn victim_value() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let rare = ['~', '^', '|', '`'];
    let mut out = String::from("p");
    let mut n = nanos;
    for _ in 0..20 {
        out.push(rare[(n % 4) as usize]);
        n = n / 4 + 7;
    }
    out
}

/// A probe: a template (and Secret type) given a true and a false guess about the value.
struct Probe {
    name: &'static str,
    secret_type: &'static str,
    key: &'static str,
    /// `{}` stands for the guessed first character.
    template: &'static str,
}

const PROBES: &[Probe] = &[
    Probe {
        name: "fail",
        secret_type: "",
        key: "x",
        template: r#"{{ if eq (substr 0 1 .password) "{}" }}{{ fail "guessed" }}{{ end }}ok"#,
    },
    Probe {
        name: "fail-value",
        secret_type: "",
        key: "x",
        template: r#"{{ if hasPrefix "{}" .password }}{{ fail .password }}{{ end }}ok"#,
    },
    Probe {
        name: "json",
        secret_type: "",
        key: "x",
        template: r#"{{ if hasPrefix "{}" .password }}{{ mustFromJson "{" }}{{ end }}ok"#,
    },
    Probe {
        name: "index",
        secret_type: "",
        key: "x",
        template: r#"{{ index (list 1) (ternary 5 0 (hasPrefix "{}" .password)) }}"#,
    },
    Probe {
        name: "regex",
        secret_type: "",
        key: "x",
        template: r#"{{ mustRegexMatch (ternary "(" "a" (hasPrefix "{}" .password)) "a" }}"#,
    },
    Probe {
        name: "steps",
        secret_type: "",
        key: "x",
        template: r#"{{ if hasPrefix "{}" .password }}{{ range until 10000000 }}{{ end }}{{ end }}ok"#,
    },
    Probe {
        name: "size",
        secret_type: "",
        key: "x",
        template: r#"{{ if hasPrefix "{}" .password }}{{ repeat 700000 "ab" }}{{ end }}ok"#,
    },
    Probe {
        name: "docker-json",
        secret_type: "kubernetes.io/dockerconfigjson",
        key: ".dockerconfigjson",
        template: r#"{{ if hasPrefix "{}" .password }}not json{{ else }}{"auths":{}}{{ end }}"#,
    },
];

fn probe_object(ns: &str, name: &str, blob: &str, probe: &Probe, guess: char) -> serde_json::Value {
    let template = probe.template.replace("{}", &guess.to_string());
    let mut spec_template = serde_json::json!({
        "metadata": {
            "name": name,
            "namespace": ns,
            "annotations": {"sealedsecrets.bitnami.com/namespace-wide": "true"},
        },
        "data": {probe.key: template},
    });
    if !probe.secret_type.is_empty() {
        spec_template["type"] = probe.secret_type.into();
    }
    serde_json::json!({
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {
            "name": name,
            "namespace": ns,
            "annotations": {"sealedsecrets.bitnami.com/namespace-wide": "true"},
        },
        "spec": {"encryptedData": {"password": blob}, "template": spec_template},
    })
}

/// What the attacker reads of an object, without what differs between any two objects (name,
/// uid, resource version, times) and without the probe's own template text.
fn readable(obj: &SealedSecretObject, events: &[Event]) -> serde_json::Value {
    let status = obj.status.as_ref().map(|s| {
        let conditions: Vec<serde_json::Value> = s
            .conditions
            .iter()
            .map(|c| {
                serde_json::json!({
                    "type": c.type_, "status": c.status, "reason": c.reason, "message": c.message,
                })
            })
            .collect();
        serde_json::json!({
            "observedGeneration": s.observed_generation,
            "conditions": conditions,
        })
    });
    let mut events: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            serde_json::json!({
                "type": e.type_, "reason": e.reason, "message": e.message, "count": e.count,
                "source": e.source.as_ref().and_then(|s| s.component.clone()),
            })
        })
        .collect();
    events.sort_by_key(|e| e.to_string());
    serde_json::json!({
        "generation": obj.metadata.generation,
        "finalizers": obj.metadata.finalizers,
        "status": status,
        "events": events,
    })
}

/// A client as `kubeconfig`'s user that shows every answer as it is: kube's default retry of
/// 429/503/504 would hide the rate limit.
async fn client_for(kubeconfig: &Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    config.default_retry = false;
    Client::try_from(config).expect("client")
}

/// The attacker's Role: SealedSecrets, their status and events, the controller's Service and
/// its proxy; no Secrets.
fn attacker_rbac(ns: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ServiceAccount
metadata: {{name: editor, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: sealedsecret-editor, namespace: {ns}}}
rules:
- apiGroups: [bitnami.com]
  resources: [sealedsecrets, sealedsecrets/status]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [services]
  verbs: [get]
- apiGroups: [""]
  resources: [services/proxy]
  verbs: [get, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: sealedsecret-editor, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: sealedsecret-editor}}
subjects:
- {{kind: ServiceAccount, name: editor, namespace: {ns}}}
"#
    )
}

/// POST through the API server's service proxy as `client`: (status, content type, body).
async fn proxy_post(
    client: &Client,
    ns: &str,
    path: &str,
    body: Vec<u8>,
    forwarded_for: Option<&str>,
) -> (u16, String, Vec<u8>) {
    let uri = format!("/api/v1/namespaces/{ns}/services/http:{SERVICE}:http/proxy{path}");
    let mut request = axum::http::Request::post(uri).header("Content-Type", "application/json");
    if let Some(value) = forwarded_for {
        request = request.header("X-Forwarded-For", value);
    }
    let response = client
        .send(
            request
                .body(kube::client::Body::from(body))
                .expect("request"),
        )
        .await
        .expect("service proxy answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .expect("body")
        .to_vec();
    (status, content_type, body)
}

/// A rotated object without what is random (ciphertexts) or the probe's own (its name and the
/// template it carries unrendered).
fn rotated_shape(body: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(body).expect("rotate JSON");
    for item in v["spec"]["encryptedData"]
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        *item = "<ciphertext>".into();
    }
    for pointer in [
        "/metadata/name",
        "/spec/template/metadata/name",
        "/spec/template/data",
    ] {
        if let Some(x) = v.pointer_mut(pointer) {
            *x = "<probe>".into();
        }
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_controller_is_not_a_plaintext_oracle() {
    if !harness::enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let started = Instant::now();
    let cluster = Cluster::start("oracle");
    apply_crd(&cluster);
    let admin = client(&cluster).await;
    let dir = scratch_dir("oracle");
    let ns = format!("oracle-{}", std::process::id());
    ensure_namespace(&admin, &ns).await;
    let cluster_dir = cluster.dir.to_str().expect("utf-8");

    // The controller "in a pod": its ServiceAccount with upstream's RBAC, in a network
    // namespace so that the service proxy can reach it.
    kubectl_apply(&cluster, &upstream_rbac(&ns, "controller"));
    let netns = Netns::up(NETNS, ADDR);
    let controller_kubeconfig = dir.join("controller.kubeconfig");
    harness::sa_kubeconfig_in_netns(&cluster, NETNS, &ns, "controller", &controller_kubeconfig);
    let log = dir.join("controller.log");
    let out = std::fs::File::create(&log).expect("log");
    let mut controller = Command::new(repo_root().join("tests/cluster/netns-exec"))
        .args([NETNS, "--", env!("CARGO_BIN_EXE_sealed-secrets-controller")])
        .args([
            "--key-size",
            "2048",
            "--all-namespaces=false",
            "--log-level",
            "DEBUG",
            "--listen-addr",
            &format!("{ADDR}:8080"),
            "--listen-metrics-addr",
            &format!("{ADDR}:8081"),
        ])
        .env("KUBECONFIG", &controller_kubeconfig)
        .env("POD_NAMESPACE", &ns)
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("start the controller");
    run_script(
        "tests/cluster/expose-service",
        &[cluster_dir, &ns, SERVICE, ADDR, "8080", "http"],
    );
    let cert_path =
        format!("/api/v1/namespaces/{ns}/services/http:{SERVICE}:http/proxy/v1/cert.pem");
    let cert = eventually(
        "the certificate through the service proxy",
        Duration::from_secs(60),
        || async {
            let request = axum::http::Request::get(&cert_path).body(Vec::new()).ok()?;
            let text = admin.request_text(request).await.ok()?;
            text.contains("BEGIN CERTIFICATE").then_some(text)
        },
    )
    .await;
    let key: PublicKey = Certificate::from_pem(cert.as_bytes())
        .expect("certificate")
        .public_key()
        .clone();

    // The attacker.
    kubectl_apply(&cluster, &attacker_rbac(&ns));
    let attacker_kubeconfig = dir.join("attacker.kubeconfig");
    run_script(
        "tests/cluster/sa-kubeconfig",
        &[
            cluster_dir,
            &ns,
            "editor",
            attacker_kubeconfig.to_str().expect("utf-8"),
        ],
    );
    let attacker = client_for(&attacker_kubeconfig).await;
    let secrets: Api<Secret> = Api::namespaced(attacker.clone(), &ns);
    assert!(
        secrets.list(&ListParams::default()).await.is_err(),
        "the attacker must not be able to read Secrets"
    );

    // The victim's value, sealed namespace-wide as many are (so that its ciphertext, public in
    // git, can be placed in any SealedSecret of the namespace).
    let plaintexts = Plaintexts::default();
    let value = victim_value();
    plaintexts.remember(&value);
    let blob =
        encrypt_item(&key, Scope::NamespaceWide, &ns, "victim", value.as_bytes()).expect("seal");
    let right = value.chars().next().expect("non-empty");
    let wrong = 'x';

    // 1. Status and events.
    let sealed: Api<SealedSecretObject> = Api::namespaced(attacker.clone(), &ns);
    let events: Api<Event> = Api::namespaced(attacker.clone(), &ns);
    let mut timings = Vec::new();
    for probe in PROBES {
        let mut seen = Vec::new();
        for (guess, tag) in [(right, "t"), (wrong, "f")] {
            let name = format!("probe-{}-{tag}", probe.name);
            let object: SealedSecretObject =
                serde_json::from_value(probe_object(&ns, &name, &blob, probe, guess))
                    .expect("object");
            let t = Instant::now();
            sealed
                .create(&PostParams::default(), &object)
                .await
                .expect("the attacker may create SealedSecrets");
            let obj = eventually(
                &format!("{name}: status"),
                Duration::from_secs(60),
                || async {
                    let obj = sealed.get(&name).await.ok()?;
                    let st = obj.status.as_ref()?;
                    (Some(st.observed_generation) == obj.metadata.generation
                        && st.conditions.iter().any(|c| c.type_ == "Synced"))
                    .then_some(obj)
                },
            )
            .await;
            let took = t.elapsed();
            // Events are written right after the status; let them land.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let evs = events
                .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
                .await
                .expect("events")
                .items;
            seen.push((readable(&obj, &evs), took));
        }
        let (true_guess, t_true) = &seen[0];
        let (false_guess, t_false) = &seen[1];
        assert_eq!(
            true_guess, false_guess,
            "probe {}: a true and a false guess look different",
            probe.name
        );
        assert_eq!(
            true_guess["status"]["conditions"][0]["status"], "True",
            "probe {}: {true_guess}",
            probe.name
        );
        timings.push(format!("{} {t_true:.2?}/{t_false:.2?}", probe.name));
    }
    eprintln!(
        "[oracle {:>5.1?}] status and events: {} probes, true and false guesses identical (status seen after, true/false: {})",
        started.elapsed(),
        PROBES.len(),
        timings.join(", ")
    );

    // 2. /v1/verify and /v1/rotate through the service proxy: the same answers.
    for probe in PROBES {
        let mut answers = Vec::new();
        for guess in [right, wrong] {
            let object = probe_object(&ns, &format!("http-{}", probe.name), &blob, probe, guess);
            let body = serde_json::to_vec(&object).expect("json");
            // Paced under the default limit (2/s, burst 2) so that 429s are not compared.
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let verify = proxy_post(&attacker, &ns, "/v1/verify", body.clone(), None).await;
            let rotate = proxy_post(&attacker, &ns, "/v1/rotate", body, None).await;
            assert_eq!(verify.0, 200, "verify {}", probe.name);
            assert_eq!(rotate.0, 200, "rotate {}", probe.name);
            answers.push((verify, (rotate.0, rotate.1, rotated_shape(&rotate.2))));
        }
        assert_eq!(answers[0], answers[1], "probe {} over HTTP", probe.name);
    }
    // Every failure gives one answer: a body that does not decode, an object of another kind,
    // one whose item no key opens (its scope annotation removed, so the label differs).
    let garbage = b"{not json".to_vec();
    let mut wrong_key = probe_object(&ns, "http-nokey", &blob, &PROBES[0], wrong);
    wrong_key["metadata"]["annotations"] = serde_json::json!({});
    let mut wrong_kind = wrong_key.clone();
    wrong_kind["kind"] = "Secret".into();
    let mut failures = Vec::new();
    for body in [
        garbage,
        serde_json::to_vec(&wrong_kind).expect("json"),
        serde_json::to_vec(&wrong_key).expect("json"),
    ] {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        failures.push((
            proxy_post(&attacker, &ns, "/v1/verify", body.clone(), None).await,
            proxy_post(&attacker, &ns, "/v1/rotate", body, None).await,
        ));
    }
    for f in &failures {
        assert_eq!(f, &failures[0]);
    }
    assert_eq!((failures[0].0.0, failures[0].1.0), (409, 500));
    eprintln!(
        "[oracle {:>5.1?}] verify/rotate: {} probes answered alike; every failure is {} / {}",
        started.elapsed(),
        PROBES.len(),
        failures[0].0.0,
        failures[0].1.0
    );

    // 3. The limit holds when the client forges X-Forwarded-For (the proxy appends the real
    // address, and that is what the limit counts).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let body = serde_json::to_vec(&probe_object(&ns, "http-fail", &blob, &PROBES[0], wrong))
        .expect("json");
    let t = Instant::now();
    let mut codes: BTreeMap<u16, usize> = BTreeMap::new();
    // All at once: each answer takes longer through the proxy than the limit's interval.
    let forged: Vec<String> = (0..20).map(|i| format!("203.0.113.{i}")).collect();
    let answers = futures::future::join_all(
        forged
            .iter()
            .map(|f| proxy_post(&attacker, &ns, "/v1/verify", body.clone(), Some(f))),
    )
    .await;
    for (code, _, _) in answers {
        *codes.entry(code).or_default() += 1;
    }
    let elapsed = t.elapsed();
    let allowed = 3 + 2 * usize::try_from(elapsed.as_secs() + 1).expect("small");
    eprintln!(
        "[oracle {:>5.1?}] 20 verifies with forged X-Forwarded-For in {elapsed:.1?}: {codes:?} (at most {allowed} may pass)",
        started.elapsed()
    );
    assert!(
        codes.get(&200).copied().unwrap_or_default() <= allowed,
        "{codes:?}"
    );
    assert!(
        codes.get(&429).copied().unwrap_or_default() >= 1,
        "{codes:?}"
    );

    // 4. No plaintext, nor any 4-character piece of it, anywhere the attacker or a log reader
    // looks: status, events, the controller's log and metrics.
    let metrics_log = dir.join("metrics.txt");
    let scrape = Command::new(repo_root().join("tests/cluster/netns-exec"))
        .args([
            NETNS,
            "--",
            "curl",
            "-s",
            &format!("http://{ADDR}:8081/metrics"),
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    std::fs::write(&metrics_log, &scrape).expect("metrics file");
    let mut places: Vec<(String, String)> = vec![
        (
            "controller log".into(),
            std::fs::read_to_string(&log).unwrap_or_default(),
        ),
        ("metrics".into(), scrape),
    ];
    for obj in sealed.list(&ListParams::default()).await.expect("list") {
        places.push((
            format!("status of {:?}", obj.metadata.name),
            serde_json::to_string(&obj.status).expect("json"),
        ));
    }
    for e in events.list(&ListParams::default()).await.expect("events") {
        places.push((
            format!("event {:?}", e.metadata.name),
            serde_json::to_string(&e).expect("json"),
        ));
    }
    let chars: Vec<char> = value.chars().collect();
    let pieces: Vec<String> = chars.windows(4).map(|w| w.iter().collect()).collect();
    for (place, text) in &places {
        for piece in &pieces {
            assert!(
                !text.contains(piece.as_str()),
                "a piece of the plaintext ({piece:?}) is in {place}"
            );
        }
    }
    assert_no_leaks(
        &admin,
        &[&ns],
        &[log.as_path(), metrics_log.as_path()],
        &plaintexts,
    )
    .await;

    // The Secret readers' side: the failure is recorded on the Secret, with the value kept out.
    let admin_secrets: Api<Secret> = Api::namespaced(admin.clone(), &ns);
    let failed = admin_secrets.get("probe-fail-t").await.expect("secret");
    let note = failed
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("sealed-secrets-rs/value-errors"))
        .cloned()
        .unwrap_or_default();
    assert!(note.contains("\"x\""), "{note}");
    let passed = admin_secrets.get("probe-fail-f").await.expect("secret");
    assert_eq!(passed.data.expect("data")["x"].0, b"ok");
    eprintln!(
        "[oracle {:>5.1?}] {} places checked for {} pieces of the plaintext; the Secret of a failed template says {note}",
        started.elapsed(),
        places.len(),
        pieces.len()
    );

    let _ = Command::new("kill")
        .arg(controller.id().to_string())
        .status();
    let _ = controller.wait();
    drop(netns);
    harness::remove_scratch_dir(&dir);
}
