//! End-to-end: which SealedSecrets the controller watches, and how often it retries, on a real
//! kube-apiserver (the `tests/cluster` harness).
//!
//! Skipped unless `SSRS_E2E=1`. One harness, one controller started with
//! `--all-namespaces=false --additional-namespaces <extra>,<missing> --label-selector team=a
//! --max-unseal-retries 2` (SPEC §3.1, §3.3):
//! - a labelled SealedSecret in the controller's own namespace and one in the additional
//!   namespace are unsealed; an additional namespace that does not exist is skipped with a
//!   warning, not a crash;
//! - an unlabelled SealedSecret in a watched namespace, and a labelled one in a namespace that
//!   is not watched, are left alone (no Secret, no status) while the others converge;
//! - a SealedSecret whose target Secret belongs to someone else is retried with back-off and
//!   then left alone: `ErrUpdateFailed` events stop at 1 + `--max-unseal-retries`, and the
//!   unowned Secret is untouched.
//!
//! It also runs with `--metrics-omit-secret-labels` (upstream v0.39): `/metrics` then has no
//! `condition_info` series and names no SealedSecret; `unseal_errors_total` keeps its
//! `namespace` label, as upstream's. And `/healthz` and `/readyz` answer `ok` once it runs,
//! though one additional namespace does not exist.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{
    Cluster, apply_crd, client, create_sealed, enabled, ensure_namespace, eventually, http_get,
    remove_scratch_dir, scratch_dir, start_ours, wait_cert, wait_secret_value, wait_synced,
};
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::Api;
use kube::api::{ListParams, PostParams};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::seal::{SealOptions, seal_secret};
use sealed_secrets_core::secret_bytes::SecretBytes;
use sealed_secrets_core::types::{ObjectMeta, Secret as CoreSecret};

/// A strict-scope SealedSecret `namespace/name` with one item, labelled `team=<team>` if given.
fn sealed(
    pem: &str,
    namespace: &str,
    name: &str,
    value: &str,
    team: Option<&str>,
) -> serde_json::Value {
    let cert = Certificate::from_pem(pem.as_bytes()).expect("certificate");
    let secret = CoreSecret {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: namespace.into(),
            ..ObjectMeta::default()
        },
        data: [(
            "value".to_owned(),
            SecretBytes::from_slice(value.as_bytes()),
        )]
        .into(),
        ..CoreSecret::default()
    };
    let ss = seal_secret(secret, cert.public_key(), &SealOptions::default()).expect("seal");
    let mut json = serde_json::to_value(&ss).expect("json");
    if let Some(team) = team {
        json["metadata"]["labels"] = serde_json::json!({ "team": team });
    }
    json
}

async fn events_with_reason(api: &Api<Event>, name: &str, reason: &str) -> i32 {
    api.list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .expect("list events")
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.count.unwrap_or(1))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_scope_label_selector_and_bounded_retries() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let started = Instant::now();
    let cluster = Cluster::start("controller-scope");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    let dir = scratch_dir("controller-scope");
    let pid = std::process::id();
    let own = format!("ssrs-scope-own-{pid}");
    let extra = format!("ssrs-scope-extra-{pid}");
    let unwatched = format!("ssrs-scope-other-{pid}");
    let missing = format!("ssrs-scope-missing-{pid}");
    for ns in [&own, &extra, &unwatched] {
        ensure_namespace(&client, ns).await;
    }

    let additional = format!("{extra},{missing}");
    let controller = start_ours(
        &cluster,
        &own,
        &dir.join("controller.log"),
        // (The harness adds `--all-namespaces=false`.)
        &[
            "--additional-namespaces",
            &additional,
            "--label-selector",
            "team=a",
            "--max-unseal-retries",
            "2",
            "--metrics-omit-secret-labels",
        ],
    );
    let cert = wait_cert(&controller).await;

    let ss = |ns: &str| Api::<SealedSecretObject>::namespaced(client.clone(), ns);
    let secrets = |ns: &str| Api::<Secret>::namespaced(client.clone(), ns);

    // Watched: labelled, in the own and in the additional namespace.
    create_sealed(&ss(&own), sealed(&cert, &own, "in-own", "v-own", Some("a"))).await;
    create_sealed(
        &ss(&extra),
        sealed(&cert, &extra, "in-extra", "v-extra", Some("a")),
    )
    .await;
    // Not watched: no label, another team, another namespace.
    create_sealed(&ss(&own), sealed(&cert, &own, "unlabelled", "v-x", None)).await;
    create_sealed(
        &ss(&extra),
        sealed(&cert, &extra, "team-b", "v-y", Some("b")),
    )
    .await;
    create_sealed(
        &ss(&unwatched),
        sealed(&cert, &unwatched, "elsewhere", "v-z", Some("a")),
    )
    .await;

    wait_secret_value(&secrets(&own), "in-own", "value", "v-own").await;
    wait_secret_value(&secrets(&extra), "in-extra", "value", "v-extra").await;
    wait_synced(&ss(&own), "in-own", "True").await;
    wait_synced(&ss(&extra), "in-extra", "True").await;
    eprintln!("[{:>5.1?}] watched objects unsealed", started.elapsed());

    // A retry-bound case in the own namespace, so the not-watched objects get time too.
    let unowned: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "taken", "labels": {"team": "a"}},
        "stringData": {"value": "not ours"},
    }))
    .unwrap();
    let before = secrets(&own)
        .create(&PostParams::default(), &unowned)
        .await
        .expect("create unowned Secret");
    create_sealed(
        &ss(&own),
        sealed(&cert, &own, "taken", "v-taken", Some("a")),
    )
    .await;
    let (_, condition) = wait_synced(&ss(&own), "taken", "False").await;
    assert!(
        condition
            .message
            .contains("already exists and is not managed by SealedSecret"),
        "{}",
        condition.message
    );
    let events: Api<Event> = Api::namespaced(client.clone(), &own);
    // 1 + 2 retries, with back-off (5 ms, 10 ms, ...): well within a few seconds.
    eventually(
        "3 ErrUpdateFailed events",
        Duration::from_secs(30),
        || async {
            (events_with_reason(&events, "taken", "ErrUpdateFailed").await >= 3).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        events_with_reason(&events, "taken", "ErrUpdateFailed").await,
        3,
        "retries must stop after --max-unseal-retries"
    );
    let after = secrets(&own).get("taken").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(after.data.unwrap()["value"].0, b"not ours");

    // Long after the watched objects converged, the others have neither a Secret nor a status.
    for (ns, name) in [
        (&own, "unlabelled"),
        (&extra, "team-b"),
        (&unwatched, "elsewhere"),
    ] {
        assert!(
            secrets(ns).get_opt(name).await.unwrap().is_none(),
            "{ns}/{name} must not be unsealed"
        );
        let obj = ss(ns).get(name).await.unwrap();
        assert!(obj.status.is_none(), "{ns}/{name} must have no status");
    }
    let log = std::fs::read_to_string(dir.join("controller.log")).unwrap();
    assert!(log.contains(&missing), "the missing namespace is reported");

    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            http_get(controller.port, path).await,
            Some((200, "ok\n".to_owned())),
            "{path}"
        );
    }
    let (_, metrics) = http_get(controller.metrics_port, "/metrics")
        .await
        .expect("/metrics");
    assert!(!metrics.contains("condition_info"), "{metrics}");
    for name in ["in-own", "in-extra", "taken"] {
        assert!(!metrics.contains(&format!("name=\"{name}\"")), "{metrics}");
    }
    assert!(
        metrics.contains(&format!(
            "sealed_secrets_controller_unseal_errors_total{{namespace=\"{own}\",reason=\"unmanaged\"}} "
        )),
        "{metrics}"
    );
    assert!(
        controller.terminate(),
        "controller did not exit 0 on SIGTERM"
    );
    eprintln!("[{:>5.1?}] done", started.elapsed());
    remove_scratch_dir(&dir);
}
