//! End-to-end: fan-out (ADR 0007, docs/fan-out.md) on a real kube-apiserver (the
//! `tests/cluster` harness), the controller "in a pod" with upstream's RBAC plus what the chart
//! adds for `fanOut.enabled` (namespaces list and watch).
//!
//! Skipped unless `SSRS_E2E=1`. A cluster-wide SealedSecret sealed by upstream's `kubeseal` asks
//! for namespaces `b`, `c`, `d` and one that does not exist, and for those labelled `team=x`:
//! - `b` consents (its Namespace names the source namespace): it gets a copy;
//! - `c` does not consent, `e` is selected by label but does not consent yet: nothing there;
//! - `d` consents but holds a Secret of that name that is not a copy: left untouched;
//! - `e` consents later: the Namespace watch gives it its copy; a namespace created with the
//!   label and consent gets one too, and leaves the count when deleted;
//! - a deleted copy is put back; `b` withdrawing consent removes its copy;
//! - a restart unseals nothing (0 RSA operations), the copies keep their resourceVersion;
//! - a strict SealedSecret asking for fan-out is refused (`FanOut=False`, `ScopeNotClusterWide`)
//!   while its own Secret is unsealed;
//! - a deleted SealedSecret's copies go, also when it was deleted while no controller ran (the
//!   sweep after the start-up list);
//! - the `FanOut` condition counts, names no namespace, and no plaintext leaks into logs,
//!   events or statuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::{
    Cluster, Plaintexts, Process, apply_crd, assert_no_leaks, client, create_sealed, enabled,
    ensure_namespace, eventually, http_get, kubectl_apply, kubeseal_rs, metric, remove_scratch_dir,
    scratch_dir, seal_with, secret_yaml, start_ours_in_cluster, upstream_bin, upstream_rbac,
    wait_cert, wait_secret_value, wait_synced,
};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::types::SealedSecretCondition;
use serde_json::json;

const RSA_OPS: &str = "sealed_secrets_controller_rsa_decrypt_operations_total";
const REQUESTS: &str = "sealed_secrets_controller_unseal_requests_total";
const SA: &str = "sealed-secrets-controller";
const WAIT: Duration = Duration::from_secs(60);

/// What `fanOut.enabled` adds to upstream's rules (the chart's `ssrs.unsealerRules`; upstream
/// already grants `delete` on Secrets).
fn fan_out_rbac(namespace: &str) -> String {
    format!(
        r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {namespace}-fan-out}}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {namespace}-fan-out}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {namespace}-fan-out}}
subjects:
- {{kind: ServiceAccount, name: {SA}, namespace: {namespace}}}
"#
    )
}

fn start(cluster: &Cluster, ns: &str, log: &Path) -> Process {
    start_ours_in_cluster(
        cluster,
        ns,
        SA,
        log,
        &["--all-namespaces=true", "--fan-out"],
    )
}

async fn set_namespace(
    client: &Client,
    name: &str,
    labels: serde_json::Value,
    consent: Option<&str>,
) {
    let api: Api<Namespace> = Api::all(client.clone());
    let patch = json!({"metadata": {
        "labels": labels,
        "annotations": {"sealed-secrets-rs/fan-out-from": consent},
    }});
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .expect("patch namespace");
}

/// Waits for the `FanOut` condition to have `status` and a message starting with `message`.
async fn wait_fan_out(
    api: &Api<SealedSecretObject>,
    name: &str,
    status: &str,
    message: &str,
) -> SealedSecretCondition {
    eventually(
        &format!("{name}: FanOut={status} {message:?}"),
        WAIT,
        || async {
            let obj = api.get(name).await.ok()?;
            let c = obj
                .status?
                .conditions
                .into_iter()
                .find(|c| c.type_ == "FanOut")?;
            (c.status == status && c.message.starts_with(message)).then_some(c)
        },
    )
    .await
}

async fn wait_gone(api: &Api<Secret>, name: &str, what: &str) {
    eventually(what, WAIT, || async {
        api.get_opt(name).await.ok()?.is_none().then_some(())
    })
    .await;
}

async fn metrics_text(process: &Process) -> String {
    http_get(process.metrics_port, "/metrics")
        .await
        .expect("/metrics")
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_to_consenting_namespaces() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let started = Instant::now();
    let cluster = Cluster::start("controller-fanout");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    let dir = scratch_dir("controller-fanout");
    let pid = std::process::id();
    let ns = |tag: &str| format!("ssrs-fan-{tag}-{pid}");
    let (src, b, c, d, e) = (ns("src"), ns("b"), ns("c"), ns("d"), ns("e"));
    let missing = ns("missing");
    for n in [&src, &b, &c, &d, &e] {
        ensure_namespace(&client, n).await;
    }
    set_namespace(&client, &b, json!({}), Some(&src)).await;
    set_namespace(&client, &c, json!({}), None).await;
    set_namespace(&client, &d, json!({}), Some("*")).await;
    set_namespace(&client, &e, json!({"team": "x"}), None).await;
    let secrets = |n: &str| Api::<Secret>::namespaced(client.clone(), n);
    let sealed = Api::<SealedSecretObject>::namespaced(client.clone(), &src);

    // d already has a Secret "db", not ours.
    let foreign: Secret = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "stringData": {"value": "someone else's"},
    }))
    .unwrap();
    let foreign = secrets(&d)
        .create(&PostParams::default(), &foreign)
        .await
        .expect("foreign Secret");

    kubectl_apply(&cluster, &upstream_rbac(&src, SA));
    kubectl_apply(&cluster, &fan_out_rbac(&src));
    let log1 = dir.join("controller-1.log");
    let controller = start(&cluster, &src, &log1);
    let cert_pem = wait_cert(&controller).await;
    let cert = dir.join("cert.pem");
    std::fs::write(&cert, &cert_pem).unwrap();

    // Sealed by upstream's kubeseal, cluster-wide, with the fan-out annotations added.
    let plaintexts = Plaintexts::default();
    let value = plaintexts.value("fan-out");
    let mut object = seal_with(
        &upstream_bin("kubeseal"),
        &cert,
        "cluster-wide",
        &secret_yaml(&src, "db", &[("value", &value)]),
    );
    let asked = format!("{b},{c},{d},{missing}");
    let annotations = object["metadata"]["annotations"].as_object_mut().unwrap();
    annotations.insert("sealed-secrets-rs/fan-out-namespaces".into(), json!(asked));
    annotations.insert("sealed-secrets-rs/fan-out-selector".into(), json!("team=x"));
    create_sealed(&sealed, object).await;

    wait_secret_value(&secrets(&src), "db", "value", &value).await;
    let copy_b = wait_secret_value(&secrets(&b), "db", "value", &value).await;
    assert!(copy_b.metadata.owner_references.is_none());
    let labels = copy_b.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["sealed-secrets-rs/fan-out-source-namespace"], src);
    assert_eq!(labels["sealed-secrets-rs/fan-out-source-name"], "db");
    // b current; c (no consent), d (not ours), e (no consent yet) refused; one missing.
    let condition = wait_fan_out(
        &sealed,
        "db",
        "True",
        "1 namespaces have a current copy, 3 refused",
    )
    .await;
    assert!(
        condition.message.contains("1 missing, 0 failed"),
        "{condition:?}"
    );
    for n in [&b, &c, &d, &e, &missing] {
        assert!(
            !condition.message.contains(n.as_str()),
            "names a namespace: {condition:?}"
        );
    }
    wait_synced(&sealed, "db", "True").await;
    assert!(secrets(&c).get_opt("db").await.unwrap().is_none());
    assert!(secrets(&e).get_opt("db").await.unwrap().is_none());
    let after = secrets(&d).get("db").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        foreign.metadata.resource_version
    );
    assert_eq!(after.data.unwrap()["value"].0, b"someone else's");
    eprintln!(
        "[{:>5.1?}] copies in consenting namespaces only",
        started.elapsed()
    );

    // e consents: the Namespace watch brings its copy.
    set_namespace(&client, &e, json!({"team": "x"}), Some(&src)).await;
    wait_secret_value(&secrets(&e), "db", "value", &value).await;
    wait_fan_out(
        &sealed,
        "db",
        "True",
        "2 namespaces have a current copy, 2 refused",
    )
    .await;

    // A namespace that comes with the right label and consent gets its copy; when it goes, the
    // count follows.
    let f = ns("f");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let new_ns: Namespace = serde_json::from_value(json!({"metadata": {
        "name": f,
        "labels": {"team": "x"},
        "annotations": {"sealed-secrets-rs/fan-out-from": src},
    }}))
    .unwrap();
    namespaces
        .create(&PostParams::default(), &new_ns)
        .await
        .expect("create namespace");
    wait_secret_value(&secrets(&f), "db", "value", &value).await;
    wait_fan_out(
        &sealed,
        "db",
        "True",
        "3 namespaces have a current copy, 2 refused",
    )
    .await;
    namespaces
        .delete(&f, &DeleteParams::default())
        .await
        .expect("delete namespace");
    wait_fan_out(
        &sealed,
        "db",
        "True",
        "2 namespaces have a current copy, 2 refused",
    )
    .await;

    // A deleted copy is put back.
    secrets(&b)
        .delete("db", &DeleteParams::default())
        .await
        .unwrap();
    let back = eventually("the copy in b put back", WAIT, || async {
        let s = secrets(&b).get_opt("db").await.ok()??;
        (s.metadata.uid != copy_b.metadata.uid).then_some(s)
    })
    .await;
    assert_eq!(back.data.unwrap()["value"].0, value.as_bytes());

    // b withdraws its consent: its copy goes.
    set_namespace(&client, &b, json!({}), None).await;
    wait_gone(&secrets(&b), "db", "the copy in b removed").await;
    wait_fan_out(
        &sealed,
        "db",
        "True",
        "1 namespaces have a current copy, 3 refused",
    )
    .await;
    eprintln!("[{:>5.1?}] consent given and withdrawn", started.elapsed());

    // A strict SealedSecret cannot fan out; its own Secret is still unsealed.
    let strict_value = plaintexts.value("strict");
    let mut strict = seal_with(
        &kubeseal_rs(),
        &cert,
        "strict",
        &secret_yaml(&src, "strict", &[("value", &strict_value)]),
    );
    strict["metadata"]["annotations"] = json!({"sealed-secrets-rs/fan-out-namespaces": e});
    create_sealed(&sealed, strict).await;
    wait_secret_value(&secrets(&src), "strict", "value", &strict_value).await;
    let refused = eventually("strict: FanOut=False", WAIT, || async {
        let obj = sealed.get("strict").await.ok()?;
        obj.status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "FanOut" && c.status == "False")
    })
    .await;
    assert_eq!(refused.reason, "ScopeNotClusterWide");
    wait_synced(&sealed, "strict", "True").await;
    assert!(secrets(&e).get_opt("strict").await.unwrap().is_none());

    // A second source for e, deleted below while no controller runs.
    let orphan_value = plaintexts.value("orphan");
    let mut orphan = seal_with(
        &kubeseal_rs(),
        &cert,
        "cluster-wide",
        &secret_yaml(&src, "orphan", &[("value", &orphan_value)]),
    );
    orphan["metadata"]["annotations"]["sealed-secrets-rs/fan-out-namespaces"] = json!(e);
    create_sealed(&sealed, orphan).await;
    wait_secret_value(&secrets(&e), "orphan", "value", &orphan_value).await;
    wait_fan_out(
        &sealed,
        "orphan",
        "True",
        "1 namespaces have a current copy",
    )
    .await;
    let copy_e = secrets(&e).get("db").await.unwrap();

    // Restart: nothing unsealed, no copy rewritten; the orphan's copy is swept.
    assert!(
        controller.terminate(),
        "controller did not exit 0 on SIGTERM"
    );
    sealed
        .delete("orphan", &DeleteParams::default())
        .await
        .unwrap();
    let log2 = dir.join("controller-2.log");
    let controller = start(&cluster, &src, &log2);
    wait_cert(&controller).await;
    wait_gone(&secrets(&e), "orphan", "the orphaned copy swept").await;
    let text = eventually(
        "every SealedSecret reconciled after the restart",
        WAIT,
        || async {
            let text = metrics_text(&controller).await;
            (metric(&text, REQUESTS)? >= 2.0).then_some(text)
        },
    )
    .await;
    // The reports of a pass come no sooner than REPORT_DELAY: let any unseal show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = {
        let later = metrics_text(&controller).await;
        if later.is_empty() { text } else { later }
    };
    assert_eq!(
        metric(&text, RSA_OPS),
        Some(0.0),
        "restart: no RSA operation"
    );
    let still = secrets(&e).get("db").await.unwrap();
    assert_eq!(
        still.metadata.resource_version,
        copy_e.metadata.resource_version
    );
    eprintln!("[{:>5.1?}] restart: 0 RSA, orphan swept", started.elapsed());

    // The source deleted: its copies go.
    sealed.delete("db", &DeleteParams::default()).await.unwrap();
    wait_gone(&secrets(&e), "db", "the copy in e removed with its source").await;
    let untouched = secrets(&d).get("db").await.unwrap();
    assert_eq!(
        untouched.metadata.resource_version,
        foreign.metadata.resource_version
    );

    assert_no_leaks(
        &client,
        &[&src, &b, &c, &d, &e],
        &[&log1, &log2],
        &plaintexts,
    )
    .await;
    assert!(
        controller.terminate(),
        "controller did not exit 0 on SIGTERM"
    );
    eprintln!("[{:>5.1?}] done", started.elapsed());
    remove_scratch_dir(&dir);
}
