//! End-to-end: three replicas with `--leader-elect` on a real API server (the `tests/cluster`
//! harness). Skipped unless `SSRS_E2E=1`. What it shows:
//! - started at the same moment, exactly one replica becomes leader and exactly one key Secret
//!   is generated; every replica serves that certificate (followers learn it from the watch);
//! - SealedSecrets are unsealed, and the Secret is not rewritten over and over (no flapping);
//! - the leader stopped with SIGTERM hands over at once (it releases the Lease); the leader
//!   killed with SIGKILL is replaced after the Lease expires; after each, new SealedSecrets
//!   unseal and there is still exactly one key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::path::PathBuf;
use std::time::Duration;

use harness::{
    Cluster, KEY_LABEL, Process, apply_crd, client, create_sealed, enabled, ensure_namespace,
    eventually, kubeseal_rs, scratch_dir, seal_with, secret_yaml, start_ours, wait_cert,
    wait_secret_value, wait_synced,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use sealed_secrets_controller::resource::SealedSecretObject;

const NS: &str = "ssrs-replicas";

fn became_leader(log: &PathBuf) -> bool {
    std::fs::read_to_string(log).is_ok_and(|text| text.contains("became leader"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_elect_one_leader_and_hand_over() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let cluster = Cluster::start("replicas");
    apply_crd(&cluster);
    let client = client(&cluster).await;
    ensure_namespace(&client, NS).await;
    let dir = scratch_dir("replicas");
    let logs: Vec<PathBuf> = (0..3)
        .map(|i| dir.join(format!("replica-{i}.log")))
        .collect();
    let mut replicas: Vec<Option<Process>> = logs
        .iter()
        .map(|log| Some(start_ours(&cluster, NS, log, &["--leader-elect"])))
        .collect();

    // One leader, one key, the same certificate everywhere.
    let mut certs = Vec::new();
    for replica in replicas.iter().flatten() {
        certs.push(wait_cert(replica).await);
    }
    assert!(
        certs.iter().all(|c| *c == certs[0]),
        "replicas serve different certificates"
    );
    let keys: Api<Secret> = Api::namespaced(client.clone(), NS);
    let count_keys = || async {
        keys.list(&ListParams::default().labels(KEY_LABEL))
            .await
            .unwrap()
            .items
            .len()
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count_keys().await, 1, "exactly one key for three replicas");
    let leaders: Vec<usize> = (0..3).filter(|i| became_leader(&logs[*i])).collect();
    assert_eq!(leaders.len(), 1, "exactly one leader: {leaders:?}");
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let lease = leases.get("sealed-secrets-controller").await.unwrap();
    assert!(lease.spec.unwrap().holder_identity.is_some());

    let cert = dir.join("cert.pem");
    std::fs::write(&cert, &certs[0]).unwrap();
    let sealed: Api<SealedSecretObject> = Api::namespaced(client.clone(), NS);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NS);
    let mut round = 0;
    let mut unseal_one = || {
        round += 1;
        let name = format!("app-{round}");
        let value = format!("Replica-Value-{round}");
        let object = seal_with(
            &kubeseal_rs(),
            &cert,
            "strict",
            &secret_yaml(NS, &name, &[("token", &value)]),
        );
        (name, value, object)
    };

    let (name, value, object) = unseal_one();
    create_sealed(&sealed, object).await;
    wait_synced(&sealed, &name, "True").await;
    let first = wait_secret_value(&secrets, &name, "token", &value).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = secrets.get(&name).await.unwrap();
    assert_eq!(
        first.metadata.resource_version, later.metadata.resource_version,
        "the Secret keeps being rewritten"
    );

    // SIGTERM: the leader releases the Lease and a follower takes over at once.
    let leader = leaders[0];
    assert!(
        replicas[leader].take().unwrap().terminate(),
        "leader did not exit cleanly"
    );
    let second = eventually(
        "a new leader after SIGTERM",
        Duration::from_secs(20),
        || async { (0..3).find(|i| *i != leader && became_leader(&logs[*i])) },
    )
    .await;
    let (name, value, object) = unseal_one();
    create_sealed(&sealed, object).await;
    wait_secret_value(&secrets, &name, "token", &value).await;

    // SIGKILL: no release; the last replica takes over once the Lease expires (15 s).
    let victim = replicas[second].take().unwrap();
    victim.signal("KILL");
    drop(victim);
    let third = (0..3).find(|i| *i != leader && *i != second).unwrap();
    eventually(
        "a new leader after SIGKILL",
        Duration::from_secs(40),
        || async { became_leader(&logs[third]).then_some(()) },
    )
    .await;
    let (name, value, object) = unseal_one();
    create_sealed(&sealed, object).await;
    wait_secret_value(&secrets, &name, "token", &value).await;
    assert_eq!(
        count_keys().await,
        1,
        "a new leader generated a duplicate key"
    );
    harness::remove_scratch_dir(&dir);
}
