//! End-to-end: our controller binary against a real kube-apiserver and kube-controller-manager
//! (the `tests/cluster` harness), every assertion read back from the API server.
//!
//! Skipped unless `SSRS_E2E=1` (it needs root and the built harness). One harness and, where
//! possible, one controller process for every scenario:
//! - a SealedSecret becomes a Secret with the controller ownerReference, `Synced=True`,
//!   `observedGeneration`, and an `Unsealed` event from component `sealed-secrets`; a spec edit
//!   moves `observedGeneration` to 2;
//! - `spec.template` (labels, annotations, type) and `spec.template.data` (`index`, `printf`,
//!   `b64enc`) shape the Secret;
//! - a Secret we do not own is left alone (`Synced=False`, upstream's message and
//!   `ErrUpdateFailed`), one annotated `managed` is adopted, one annotated `patch` is merged into
//!   without taking ownership, and `skip-set-owner-references` leaves the Secret unowned so it
//!   survives the SealedSecret;
//! - a restart (with `--log-format json`, every line parsed) costs no RSA work for unchanged
//!   objects, and `--key-cutoff-time` generates a key at start-up; SIGUSR1 generates another;
//!   `/v1/cert.pem` follows the newest key, older keys are kept and still open what was sealed
//!   for them;
//! - a flipped ciphertext byte gives `Synced=False` and `ErrUnsealFailed` and leaves the Secret
//!   as it was; a SealedSecret for an unknown key fails the same way; the condition's reason
//!   and the event say why (`CorruptData`, `UnknownKeyOrCorruptData`, `WrongNamespace` for a
//!   file moved to another namespace, `WrongName` for a renamed one);
//! - a Secret deleted out of band is recreated; deleting the SealedSecret lets the real garbage
//!   collector delete the Secret;
//! - a Secret edited out of band is put back (drift repair), another tool's annotation kept, with
//!   a `SecretRepaired` event; with `sealed-secrets-rs/drift-repair: "false"` the edit stays
//!   until the SealedSecret changes;
//! - `sealed_secrets_rs_sealed_values_older_than{age}` counts a SealedSecret whose
//!   `sealed-secrets-rs/sealed-at` record is older than that, and stops counting it when the
//!   record is renewed;
//! - in-cluster, as a ServiceAccount with exactly upstream's RBAC, nothing is forbidden;
//! - at the end, no plaintext value of the run (nor its base64, nor a private key) appears in
//!   the controller logs (`--log-level DEBUG`, `RUST_LOG=debug`), in any Event or in any status.
//!
//! Set `SSRS_E2E_DIR` to reuse a running harness directory instead of starting one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use harness::{
    Cluster, KEY_LABEL, Plaintexts, Process, apply_crd, assert_json_lines, assert_no_leaks, client,
    create_sealed, enabled, ensure_namespace, eventually, http_get, kubectl_apply, metric,
    scratch_dir, start_ours, start_ours_in_cluster, upstream_rbac, wait_cert, wait_event,
    wait_secret_value, wait_synced,
};
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use sealed_secrets_controller::resource::SealedSecretObject;
use sealed_secrets_core::cert::{CertParams, Certificate};
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::seal::{SealOptions, seal_secret};
use sealed_secrets_core::secret_bytes::SecretBytes;
use sealed_secrets_core::types::{ObjectMeta, Secret as CoreSecret};

const MANAGED: &str = "sealedsecrets.bitnami.com/managed";
const PATCH: &str = "sealedsecrets.bitnami.com/patch";
const SKIP_OWNER: &str = "sealedsecrets.bitnami.com/skip-set-owner-references";

/// A Secret to seal: `data` items, plus labels and annotations (they go into the template).
fn input(
    namespace: &str,
    name: &str,
    data: &[(&str, &str)],
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) -> CoreSecret {
    let map = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    CoreSecret {
        metadata: ObjectMeta {
            name: name.into(),
            namespace: namespace.into(),
            labels: map(labels),
            annotations: map(annotations),
            ..ObjectMeta::default()
        },
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), SecretBytes::from_slice(v.as_bytes())))
            .collect(),
        ..CoreSecret::default()
    }
}

/// Seals `secret` (strict scope) for the certificate `pem`; returns the SealedSecret JSON.
fn seal(pem: &str, secret: CoreSecret) -> serde_json::Value {
    let cert = Certificate::from_pem(pem.as_bytes()).expect("certificate");
    let ss = seal_secret(secret, cert.public_key(), &SealOptions::default()).expect("seal");
    serde_json::to_value(&ss).expect("json")
}

fn data_of(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

fn bytes_map(kv: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    kv.iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

/// A Secret created directly (not by the controller), with annotations and labels.
async fn existing_secret(
    api: &Api<Secret>,
    name: &str,
    data: &[(&str, &str)],
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) -> Secret {
    let obj: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": name,
            "labels": labels.iter().copied().collect::<BTreeMap<_, _>>(),
            "annotations": annotations.iter().copied().collect::<BTreeMap<_, _>>(),
        },
        "stringData": data.iter().copied().collect::<BTreeMap<_, _>>(),
    }))
    .expect("secret");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create Secret")
}

async fn key_secrets(client: &Client, namespace: &str) -> Vec<Secret> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    api.list(&ListParams::default().labels(KEY_LABEL))
        .await
        .expect("list keys")
        .items
}

/// Everything one scenario function needs.
struct Ctx {
    client: Client,
    ns: String,
    ss: Api<SealedSecretObject>,
    secrets: Api<Secret>,
    events: Api<Event>,
    plaintexts: Plaintexts,
}

/// One harness for every scenario (cheaper than one per test, and the harness is root-only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_on_a_real_api_server() {
    if !enabled() {
        eprintln!("skipped: set SSRS_E2E=1 (needs root and the tests/cluster harness)");
        return;
    }
    let started = Instant::now();
    let cluster = Cluster::start("controller-e2e");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    let dir = scratch_dir("controller-e2e");
    eprintln!(
        "logs in {} (removed when the run passes, unless SSRS_E2E_KEEP=1)",
        dir.display()
    );
    let text_log = dir.join("controller.log");
    let json_log = dir.join("controller-json.log");
    let incluster_log = dir.join("controller-incluster.log");

    // Keys and SealedSecrets share the controller's namespace (watched alone).
    let ns = format!("ssrs-e2e-{}", std::process::id());
    ensure_namespace(&client, &ns).await;
    let ctx = Ctx {
        client: client.clone(),
        ns: ns.clone(),
        ss: Api::namespaced(client.clone(), &ns),
        secrets: Api::namespaced(client.clone(), &ns),
        events: Api::namespaced(client.clone(), &ns),
        plaintexts: Plaintexts::default(),
    };

    let controller = start_ours(&cluster, &ns, &text_log, &[]);
    let first_cert = wait_cert(&controller).await;
    // /healthz (liveness) answers from the start, /readyz once the watch caches synced.
    assert_eq!(
        http_get(controller.port, "/healthz").await,
        Some((200, "ok\n".to_owned()))
    );
    eventually("/readyz", Duration::from_secs(30), || async {
        http_get(controller.port, "/readyz")
            .await
            .filter(|(code, body)| *code == 200 && body == "ok\n")
    })
    .await;
    let keys = key_secrets(&client, &ns).await;
    assert_eq!(keys.len(), 1);
    let first_key_name = keys[0].metadata.name.clone().unwrap();
    assert!(first_key_name.starts_with("sealed-secrets-key"));
    assert_eq!(keys[0].type_.as_deref(), Some("kubernetes.io/tls"));

    let (mysecret_value, mysecret) = unseal_status_events_owner(&ctx, &first_cert).await;
    template(&ctx, &first_cert).await;
    ownership(&ctx, &first_cert).await;
    start_garbage_collection(&ctx).await;
    eprintln!("[{:>5.1?}] unseal, template, ownership", started.elapsed());

    // Restart with JSON logs and a cutoff after the newest key: a key is generated at start-up,
    // and nothing unchanged is decrypted.
    drop(controller);
    let controller = restart_with_cutoff(&ctx, &cluster, &json_log, &first_cert).await;
    let second_cert = wait_cert(&controller).await;
    rotation(
        &ctx,
        &controller,
        &first_cert,
        &second_cert,
        &first_key_name,
    )
    .await;
    eprintln!("[{:>5.1?}] restart, rotation", started.elapsed());

    tampered(&ctx, &first_cert).await;
    wrong_key(&ctx).await;
    diagnosed(&ctx, &second_cert).await;
    eprintln!(
        "[{:>5.1?}] tampered, wrong key, diagnoses",
        started.elapsed()
    );
    recreate(&ctx, "mysecret", &mysecret, &mysecret_value).await;
    eprintln!("[{:>5.1?}] recreation", started.elapsed());
    drift_repair(&ctx, &controller, &second_cert, &mysecret_value).await;
    eprintln!("[{:>5.1?}] drift repair", started.elapsed());
    sealed_ages(&ctx, &controller, &second_cert).await;
    eprintln!("[{:>5.1?}] sealed-value ages", started.elapsed());
    let incluster_ns = format!("ssrs-incluster-{}", std::process::id());
    runs_in_cluster_with_upstream_rbac(&cluster, &ctx, &incluster_ns, &incluster_log).await;
    eprintln!("[{:>5.1?}] in-cluster, key renewal", started.elapsed());
    finish_garbage_collection(&ctx).await;
    eprintln!("[{:>5.1?}] garbage collection", started.elapsed());
    assert!(
        controller.terminate(),
        "controller did not exit 0 on SIGTERM"
    );
    let lines = assert_json_lines(&json_log);
    eprintln!("JSON log: {lines} lines parsed");

    assert_no_leaks(
        &client,
        &[&ns, &incluster_ns],
        &[&text_log, &json_log, &incluster_log],
        &ctx.plaintexts,
    )
    .await;
    eprintln!(
        "e2e wall time (harness included): {:.1?}",
        started.elapsed()
    );
    harness::remove_scratch_dir(&dir);
}

/// Scenario: Secret, ownerReference, `Synced=True` with `observedGeneration`, `Unsealed` event.
async fn unseal_status_events_owner(ctx: &Ctx, cert: &str) -> (String, Secret) {
    let value = ctx.plaintexts.value("mysecret");
    let created = create_sealed(
        &ctx.ss,
        seal(
            cert,
            input(
                &ctx.ns,
                "mysecret",
                &[("foo", &value)],
                &[("mylabel", "myvalue")],
                &[],
            ),
        ),
    )
    .await;
    let secret = wait_secret_value(&ctx.secrets, "mysecret", "foo", &value).await;
    assert_eq!(
        secret.metadata.labels.as_ref().unwrap()["mylabel"],
        "myvalue"
    );
    let owners = secret.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1, "{owners:?}");
    let owner = &owners[0];
    assert_eq!(owner.kind, "SealedSecret");
    assert_eq!(owner.api_version, "bitnami.com/v1alpha1");
    assert_eq!(owner.name, "mysecret");
    assert_eq!(Some(&owner.uid), created.metadata.uid.as_ref());
    assert_eq!(owner.controller, Some(true));
    assert_eq!(owner.block_owner_deletion, None);

    let (status, condition) = wait_synced(&ctx.ss, "mysecret", "True").await;
    assert_eq!(status.observed_generation, 1);
    assert_eq!(condition.message, "");
    assert_eq!(condition.last_transition_time, condition.last_update_time);

    let unsealed = wait_event(&ctx.events, "mysecret", "Unsealed").await;
    assert_eq!(unsealed.type_.as_deref(), Some("Normal"));
    assert_eq!(
        unsealed.message.as_deref(),
        Some("SealedSecret unsealed successfully")
    );
    assert_eq!(
        unsealed.source.and_then(|s| s.component).as_deref(),
        Some("sealed-secrets")
    );
    assert_eq!(
        unsealed.involved_object.kind.as_deref(),
        Some("SealedSecret")
    );
    (value, secret)
}

/// Scenario: `spec.template` metadata and type, and `spec.template.data` Go templates.
async fn template(ctx: &Ctx, cert: &str) {
    let user = ctx.plaintexts.value("tpl-user");
    let pass = ctx.plaintexts.value("tpl-pass");
    let mut object = seal(
        cert,
        input(
            &ctx.ns,
            "templated",
            &[("user", &user), ("pass", &pass)],
            &[("app", "web")],
            &[("example.com/note", "hello")],
        ),
    );
    object["spec"]["template"]["type"] = "kubernetes.io/basic-auth".into();
    object["spec"]["template"]["data"] = serde_json::json!({
        "username": r#"{{ index . "user" }}"#,
        "password": r#"{{ printf "%s!" .pass }}"#,
        "auth": r#"{{ printf "%s:%s" .user .pass | b64enc }}"#,
    });
    create_sealed(&ctx.ss, object).await;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let password = format!("{pass}!");
    ctx.plaintexts.remember(&auth);
    let secret = wait_secret_value(&ctx.secrets, "templated", "auth", &auth).await;
    assert_eq!(
        data_of(&secret),
        bytes_map(&[
            ("auth", &auth),
            ("pass", &pass),
            ("password", &password),
            ("user", &user),
            ("username", &user),
        ])
    );
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    assert_eq!(secret.metadata.labels.as_ref().unwrap()["app"], "web");
    assert_eq!(
        secret.metadata.annotations.as_ref().unwrap()["example.com/note"],
        "hello"
    );
    wait_synced(&ctx.ss, "templated", "True").await;

    // A spec edit (a template label): the Secret follows and observedGeneration becomes 2.
    ctx.ss
        .patch(
            "templated",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "spec": {"template": {"metadata": {"labels": {"app": "web2"}}}}
            })),
        )
        .await
        .expect("patch SealedSecret");
    eventually("template label update", Duration::from_secs(30), || async {
        let s = ctx.secrets.get("templated").await.ok()?;
        (s.metadata.labels?.get("app")? == "web2").then_some(())
    })
    .await;
    let (status, condition) =
        eventually("observedGeneration 2", Duration::from_secs(30), || async {
            let st = ctx.ss.get("templated").await.ok()?.status?;
            let c = st.conditions.first()?.clone();
            (st.observed_generation == 2 && c.status == "True").then_some((st, c))
        })
        .await;
    assert_eq!(status.observed_generation, 2);
    assert_ne!(condition.last_update_time, None);
}

/// Scenario: unmanaged Secrets are not overwritten; `managed` adopts; `patch` merges;
/// `skip-set-owner-references` leaves the Secret unowned.
async fn ownership(ctx: &Ctx, cert: &str) {
    // Not ours, no annotation: refused, untouched.
    let original = ctx.plaintexts.value("taken-original");
    let before = existing_secret(&ctx.secrets, "taken", &[("foo", &original)], &[], &[]).await;
    let sealed_value = ctx.plaintexts.value("taken-sealed");
    create_sealed(
        &ctx.ss,
        seal(
            cert,
            input(&ctx.ns, "taken", &[("foo", &sealed_value)], &[], &[]),
        ),
    )
    .await;
    let (_, condition) = wait_synced(&ctx.ss, "taken", "False").await;
    assert_eq!(
        condition.message,
        r#"failed update: Resource "taken" already exists and is not managed by SealedSecret"#
    );
    let event = wait_event(&ctx.events, "taken", "ErrUpdateFailed").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.message.as_deref(),
        Some(r#"Resource "taken" already exists and is not managed by SealedSecret"#)
    );

    // `managed: "true"`: adopted (data and annotations replaced, ownerReference set).
    let stale = ctx.plaintexts.value("adopt-stale");
    existing_secret(
        &ctx.secrets,
        "adopted",
        &[("old", &stale)],
        &[],
        &[(MANAGED, "true")],
    )
    .await;
    let adopted_value = ctx.plaintexts.value("adopt-sealed");
    let adopted_ss = create_sealed(
        &ctx.ss,
        seal(
            cert,
            input(&ctx.ns, "adopted", &[("foo", &adopted_value)], &[], &[]),
        ),
    )
    .await;
    let adopted = wait_secret_value(&ctx.secrets, "adopted", "foo", &adopted_value).await;
    assert_eq!(data_of(&adopted), bytes_map(&[("foo", &adopted_value)]));
    let owners = adopted
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!(Some(&owners[0].uid), adopted_ss.metadata.uid.as_ref());
    assert!(
        !adopted
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key(MANAGED),
        "normal mode replaces the annotations"
    );
    wait_synced(&ctx.ss, "adopted", "True").await;

    // `patch: "true"`: merged key by key, no ownership taken.
    let kept = ctx.plaintexts.value("patch-kept");
    let replaced = ctx.plaintexts.value("patch-replaced");
    existing_secret(
        &ctx.secrets,
        "patched",
        &[("keep", &kept), ("foo", &replaced)],
        &[("existing", "yes")],
        &[(PATCH, "true")],
    )
    .await;
    let patch_value = ctx.plaintexts.value("patch-sealed");
    create_sealed(
        &ctx.ss,
        seal(
            cert,
            input(
                &ctx.ns,
                "patched",
                &[("foo", &patch_value)],
                &[("mylabel", "x")],
                &[],
            ),
        ),
    )
    .await;
    let patched = wait_secret_value(&ctx.secrets, "patched", "foo", &patch_value).await;
    assert_eq!(
        data_of(&patched),
        bytes_map(&[("foo", &patch_value), ("keep", &kept)])
    );
    let labels = patched.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("existing").map(String::as_str), Some("yes"));
    assert_eq!(labels.get("mylabel").map(String::as_str), Some("x"));
    assert_eq!(
        patched.metadata.annotations.clone().unwrap_or_default()[PATCH],
        "true"
    );
    assert!(
        patched
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty(),
        "patch without managed takes no ownership"
    );
    wait_synced(&ctx.ss, "patched", "True").await;

    // skip-set-owner-references in the template: created without an owner, and Synced.
    let skip_value = ctx.plaintexts.value("skipowner");
    create_sealed(
        &ctx.ss,
        seal(
            cert,
            input(
                &ctx.ns,
                "skipowner",
                &[("foo", &skip_value)],
                &[],
                &[(SKIP_OWNER, "true")],
            ),
        ),
    )
    .await;
    let unowned = wait_secret_value(&ctx.secrets, "skipowner", "foo", &skip_value).await;
    assert!(
        unowned
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
    wait_synced(&ctx.ss, "skipowner", "True").await;

    // The refused Secret is still exactly what it was, after the controller's retries.
    let after = ctx.secrets.get("taken").await.expect("get taken");
    assert_eq!(data_of(&after), bytes_map(&[("foo", &original)]));
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert!(
        after
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );

    // Deleting its SealedSecret leaves the Secret we never owned alone (checked after the GC
    // scenario below), and keeps the restart below free of failing objects.
    ctx.ss
        .delete("taken", &DeleteParams::default())
        .await
        .expect("delete SealedSecret");
}

/// Restarts with `--log-format json`, `--watch-list` and a `--key-cutoff-time` a minute ahead:
/// a new key at start-up, and the unchanged SealedSecrets, listed by streaming lists, are
/// proven current by their digests (no RSA). Every scenario after it runs on streaming lists.
async fn restart_with_cutoff(
    ctx: &Ctx,
    cluster: &Cluster,
    json_log: &Path,
    first_cert: &str,
) -> Process {
    let cutoff = std::process::Command::new("date")
        .args(["-R", "-d", "+1 minute"])
        .output()
        .expect("date -R");
    let cutoff = String::from_utf8(cutoff.stdout).unwrap().trim().to_owned();
    let controller = start_ours(
        cluster,
        &ctx.ns,
        json_log,
        &[
            "--log-format",
            "json",
            "--watch-list",
            "--key-cutoff-time",
            &cutoff,
        ],
    );
    let cert = wait_cert(&controller).await;
    assert_ne!(cert, first_cert, "--key-cutoff-time generated no key");
    assert_eq!(key_secrets(&ctx.client, &ctx.ns).await.len(), 2);
    // mysecret, templated and patched are current.
    let metrics = eventually(
        "digest skips after restart",
        Duration::from_secs(30),
        || async {
            let (_, text) = http_get(controller.metrics_port, "/metrics").await?;
            (metric(&text, "sealed_secrets_controller_unseal_skipped_total")? >= 3.0)
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
    controller
}

/// Scenario: SIGUSR1 adds a key; `/v1/cert.pem` serves it; old keys stay and still open.
async fn rotation(
    ctx: &Ctx,
    controller: &Process,
    first_cert: &str,
    second_cert: &str,
    first_key_name: &str,
) {
    controller.signal("USR1");
    let third_cert = eventually(
        "a new certificate after SIGUSR1",
        Duration::from_secs(30),
        || async {
            let (code, body) = http_get(controller.port, "/v1/cert.pem").await?;
            (code == 200 && body != second_cert && body != first_cert).then_some(body)
        },
    )
    .await;
    let keys = key_secrets(&ctx.client, &ctx.ns).await;
    assert_eq!(keys.len(), 3, "every key Secret is kept");
    assert!(
        keys.iter()
            .any(|k| k.metadata.name.as_deref() == Some(first_key_name))
    );
    // Sealed for the first and the second (no longer newest) keys: both still open.
    for (name, cert) in [("oldkey1", first_cert), ("oldkey2", second_cert)] {
        let value = ctx.plaintexts.value(name);
        create_sealed(
            &ctx.ss,
            seal(cert, input(&ctx.ns, name, &[("foo", &value)], &[], &[])),
        )
        .await;
        wait_secret_value(&ctx.secrets, name, "foo", &value).await;
        wait_synced(&ctx.ss, name, "True").await;
    }
    // And the newest one.
    let value = ctx.plaintexts.value("newkey");
    create_sealed(
        &ctx.ss,
        seal(
            &third_cert,
            input(&ctx.ns, "newkey", &[("foo", &value)], &[], &[]),
        ),
    )
    .await;
    wait_secret_value(&ctx.secrets, "newkey", "foo", &value).await;
}

/// Scenario: one flipped ciphertext byte fails the unseal and leaves the Secret unchanged.
async fn tampered(ctx: &Ctx, cert: &str) {
    let value = ctx.plaintexts.value("tampered");
    create_sealed(
        &ctx.ss,
        seal(
            cert,
            input(&ctx.ns, "tampered", &[("foo", &value)], &[], &[]),
        ),
    )
    .await;
    let before = wait_secret_value(&ctx.secrets, "tampered", "foo", &value).await;
    wait_synced(&ctx.ss, "tampered", "True").await;

    let object = ctx.ss.get("tampered").await.expect("get");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut blob = b64
        .decode(&object.spec.encrypted_data.as_ref().expect("encryptedData")["foo"])
        .expect("base64");
    let last = blob.len() - 1;
    blob[last] ^= 0x01; // the GCM tag
    ctx.ss
        .patch(
            "tampered",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "spec": {"encryptedData": {"foo": b64.encode(&blob)}}
            })),
        )
        .await
        .expect("patch SealedSecret");
    let (status, condition) = wait_synced(&ctx.ss, "tampered", "False").await;
    assert_eq!(condition.message, "no key could decrypt secret (foo)");
    assert_eq!(status.observed_generation, 2);
    let event = wait_event(&ctx.events, "tampered", "ErrUnsealFailed").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.message.as_deref(),
        Some(
            "Failed to unseal: no key could decrypt secret (foo); diagnosis: foo: corrupt data: \
             the session key opens but the AES-GCM part is corrupted"
        )
    );
    assert_eq!(condition.reason, "CorruptData");
    let after = ctx.secrets.get("tampered").await.expect("get Secret");
    assert_eq!(data_of(&after), bytes_map(&[("foo", &value)]));
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
}

/// Scenario: sealed for a key the controller does not have.
async fn wrong_key(ctx: &Ctx) {
    let other = PrivateKey::generate(2048).expect("key");
    let other_cert = Certificate::self_signed(
        &other,
        &CertParams::controller_default(time::OffsetDateTime::now_utc()),
    )
    .expect("cert")
    .to_pem();
    let value = ctx.plaintexts.value("wrongkey");
    create_sealed(
        &ctx.ss,
        seal(
            &other_cert,
            input(&ctx.ns, "wrongkey", &[("foo", &value)], &[], &[]),
        ),
    )
    .await;
    let (_, condition) = wait_synced(&ctx.ss, "wrongkey", "False").await;
    assert_eq!(condition.message, "no key could decrypt secret (foo)");
    assert_eq!(condition.reason, "UnknownKeyOrCorruptData");
    wait_event(&ctx.events, "wrongkey", "ErrUnsealFailed").await;
    assert!(
        ctx.secrets
            .get_opt("wrongkey")
            .await
            .expect("get")
            .is_none()
    );
}

/// Scenario: a file sealed for another namespace, and one renamed after sealing, fail with the
/// reason in the condition and the event (upstream says only "no key could decrypt").
async fn diagnosed(ctx: &Ctx, cert: &str) {
    let value = ctx.plaintexts.value("diagnosed");
    let mut moved = seal(
        cert,
        input("elsewhere", "moved", &[("foo", &value)], &[], &[]),
    );
    moved["metadata"]["namespace"] = ctx.ns.clone().into();
    create_sealed(&ctx.ss, moved).await;
    let mut renamed = seal(
        cert,
        input(&ctx.ns, "old-name", &[("foo", &value)], &[], &[]),
    );
    renamed["metadata"]["name"] = "renamed".into();
    create_sealed(&ctx.ss, renamed).await;

    let (_, condition) = wait_synced(&ctx.ss, "moved", "False").await;
    assert_eq!(condition.message, "no key could decrypt secret (foo)");
    assert_eq!(condition.reason, "WrongNamespace");
    let event = wait_event(&ctx.events, "moved", "ErrUnsealFailed").await;
    assert_eq!(
        event.message.as_deref(),
        Some(
            format!(
                "Failed to unseal: no key could decrypt secret (foo); diagnosis: foo: sealed for \
                 namespace \"elsewhere\", placed in \"{}\"",
                ctx.ns
            )
            .as_str()
        )
    );
    let (_, condition) = wait_synced(&ctx.ss, "renamed", "False").await;
    assert_eq!(condition.reason, "WrongName");
    for name in ["moved", "renamed"] {
        assert!(ctx.secrets.get_opt(name).await.expect("get").is_none());
    }
}

/// Scenario: a Secret deleted out of band comes back.
async fn recreate(ctx: &Ctx, name: &str, old: &Secret, value: &str) {
    ctx.secrets
        .delete(name, &DeleteParams::default())
        .await
        .expect("delete Secret");
    let again = eventually("the recreated Secret", Duration::from_secs(30), || async {
        let s = ctx.secrets.get_opt(name).await.ok().flatten()?;
        (s.metadata.uid != old.metadata.uid).then_some(s)
    })
    .await;
    assert_eq!(data_of(&again), bytes_map(&[("foo", value)]));
    assert_eq!(again.metadata.owner_references.unwrap_or_default().len(), 1);
}

/// Edits one item of the Secret `name` through the API, as `kubectl edit` would, and adds an
/// annotation of another tool; returns the Secret as written.
async fn edit_secret(ctx: &Ctx, name: &str, value: &str) -> Secret {
    ctx.secrets
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "metadata": {"annotations": {"example.com/tool": "seen"}},
                "stringData": {"foo": value},
            })),
        )
        .await
        .expect("patch Secret")
}

/// Scenario: drift repair. `mysecret`'s value edited by hand comes back (the other tool's
/// annotation stays), with a `SecretRepaired` Warning that names the Secret only; an object
/// annotated `sealed-secrets-rs/drift-repair: "false"` keeps the edit until its spec changes.
/// The rotation-age gauges follow the `sealed-at` annotation `kubeseal-rs` writes.
async fn sealed_ages(ctx: &Ctx, controller: &Process, cert: &str) {
    const OLD: &str = "sealed_secrets_rs_sealed_values_older_than{age=\"90d\"}";
    let scrape = || async {
        let (_, text) = http_get(controller.metrics_port, "/metrics").await.unwrap();
        metric(&text, OLD)
    };
    let before = scrape().await.expect("the gauge exists from the start");
    let value = ctx.plaintexts.value("agedvalue");
    let mut object = seal(cert, input(&ctx.ns, "aged", &[("foo", &value)], &[], &[]));
    let hundred_days_ago = time::OffsetDateTime::now_utc() - time::Duration::days(100);
    let at = |t: time::OffsetDateTime| {
        serde_json::json!({"sealed-secrets-rs/sealed-at": format!(
            "{{\"foo\":\"{}\"}}",
            sealed_secrets_core::sealed_at::format_time(t)
        )})
    };
    object["metadata"]["annotations"] = at(hundred_days_ago);
    create_sealed(&ctx.ss, object).await;
    wait_synced(&ctx.ss, "aged", "True").await;
    eventually(
        "aged counted as older than 90d",
        Duration::from_secs(30),
        || async { (scrape().await? >= before + 1.0).then_some(()) },
    )
    .await;
    // Sealed again today (as `kubeseal-rs set` records it): no longer counted.
    ctx.ss
        .patch(
            "aged",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "metadata": {"annotations": at(time::OffsetDateTime::now_utc())}
            })),
        )
        .await
        .expect("patch SealedSecret");
    eventually(
        "aged no longer counted",
        Duration::from_secs(30),
        || async { (scrape().await? <= before).then_some(()) },
    )
    .await;
}

async fn drift_repair(ctx: &Ctx, controller: &Process, cert: &str, value: &str) {
    let edited = ctx.plaintexts.value("drift-edit");
    let before = edit_secret(ctx, "mysecret", &edited).await;
    let repaired = eventually("mysecret put back", Duration::from_secs(30), || async {
        let s = ctx.secrets.get("mysecret").await.ok()?;
        (s.metadata.resource_version != before.metadata.resource_version
            && data_of(&s) == bytes_map(&[("foo", value)]))
        .then_some(s)
    })
    .await;
    assert_eq!(
        repaired.metadata.annotations.unwrap_or_default()["example.com/tool"],
        "seen"
    );
    assert_eq!(
        repaired.metadata.uid, before.metadata.uid,
        "updated, not recreated"
    );
    let event = wait_event(&ctx.events, "mysecret", "SecretRepaired").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.message.as_deref(),
        Some("Secret \"mysecret\" was changed outside its SealedSecret and has been restored")
    );
    let (_, text) = http_get(controller.metrics_port, "/metrics").await.unwrap();
    assert!(
        metric(&text, "sealed_secrets_controller_secrets_repaired_total") >= Some(1.0),
        "{text}"
    );
    // The annotation alone changes nothing: no second repair.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = ctx.secrets.get("mysecret").await.expect("get");
    assert_eq!(
        again.metadata.resource_version,
        repaired.metadata.resource_version
    );

    // Opted out: the edit stays, until the SealedSecret changes.
    let kept = ctx.plaintexts.value("keepedit");
    let mut object = seal(
        cert,
        input(&ctx.ns, "keepedit", &[("foo", &kept)], &[], &[]),
    );
    object["metadata"]["annotations"] =
        serde_json::json!({"sealed-secrets-rs/drift-repair": "false"});
    create_sealed(&ctx.ss, object).await;
    wait_secret_value(&ctx.secrets, "keepedit", "foo", &kept).await;
    wait_synced(&ctx.ss, "keepedit", "True").await;
    let edited = ctx.plaintexts.value("keepedit-edit");
    let written = edit_secret(ctx, "keepedit", &edited).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let still = ctx.secrets.get("keepedit").await.expect("get");
    assert_eq!(data_of(&still), bytes_map(&[("foo", &edited)]));
    assert_eq!(
        still.metadata.resource_version,
        written.metadata.resource_version
    );
    ctx.ss
        .patch(
            "keepedit",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "spec": {"template": {"metadata": {"labels": {"edited": "yes"}}}}
            })),
        )
        .await
        .expect("patch SealedSecret");
    let updated = wait_secret_value(&ctx.secrets, "keepedit", "foo", &kept).await;
    assert_eq!(updated.metadata.labels.unwrap_or_default()["edited"], "yes");
    let events = ctx
        .events
        .list(&ListParams::default().fields("involvedObject.name=keepedit"))
        .await
        .expect("events");
    assert!(
        events
            .items
            .iter()
            .all(|e| e.reason.as_deref() != Some("SecretRepaired")),
        "an update, not a repair"
    );
}

/// Scenario: deleting SealedSecrets (the adopted one, now owning its Secret, and the one with
/// `skip-set-owner-references`); the garbage collector removes the owned Secret only ...
async fn start_garbage_collection(ctx: &Ctx) {
    for name in ["adopted", "skipowner"] {
        ctx.ss
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete SealedSecret");
    }
}

/// ... and, scenarios later (the garbage collector can take ~30 s to learn about a CRD that
/// appeared after it started), the owned Secret is gone and the others are still there.
async fn finish_garbage_collection(ctx: &Ctx) {
    eventually(
        "GC of the owned Secret",
        Duration::from_secs(45),
        || async {
            ctx.secrets
                .get_opt("adopted")
                .await
                .ok()
                .and_then(|s| s.is_none().then_some(()))
        },
    )
    .await;
    assert!(
        ctx.secrets
            .get_opt("skipowner")
            .await
            .expect("get")
            .is_some(),
        "a Secret without ownerReference survives its SealedSecret"
    );
    let taken = ctx
        .secrets
        .get("taken")
        .await
        .expect("the unmanaged Secret");
    assert!(
        taken
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
}

/// In-cluster, as a ServiceAccount with exactly upstream's RBAC, with `--key-renew-period 3s`:
/// a key at start-up, then automatic renewal.
async fn runs_in_cluster_with_upstream_rbac(cluster: &Cluster, ctx: &Ctx, ns: &str, log: &Path) {
    ensure_namespace(&ctx.client, ns).await;
    kubectl_apply(cluster, &upstream_rbac(ns, "sealed-secrets-controller"));
    let controller = start_ours_in_cluster(
        cluster,
        ns,
        "sealed-secrets-controller",
        log,
        &["--key-renew-period", "3s"],
    );
    let first = wait_cert(&controller).await;
    let cert = eventually("a renewed key", Duration::from_secs(30), || async {
        let (code, body) = http_get(controller.port, "/v1/cert.pem").await?;
        (code == 200 && body.contains("CERTIFICATE") && body != first).then_some(body)
    })
    .await;
    assert!(key_secrets(&ctx.client, ns).await.len() >= 2);
    let ss: Api<SealedSecretObject> = Api::namespaced(ctx.client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let value = ctx.plaintexts.value("incluster");
    create_sealed(
        &ss,
        seal(&cert, input(ns, "app", &[("foo", &value)], &[], &[])),
    )
    .await;
    wait_secret_value(&secrets, "app", "foo", &value).await;
    wait_synced(&ss, "app", "True").await;
    assert!(
        controller.terminate(),
        "controller did not exit 0 on SIGTERM"
    );
    let log_text = std::fs::read_to_string(log).unwrap_or_default();
    // Upstream's RBAC has no `configmaps`: publishing the certificate ConfigMap (an addition) is
    // denied, which must be a warning, not a failure; nothing else may be denied.
    assert!(
        log_text.contains("cannot publish the certificate in a ConfigMap"),
        "no ConfigMap warning in {}",
        log.display()
    );
    assert!(
        !log_text
            .lines()
            .filter(|l| !l.to_ascii_lowercase().contains("configmap"))
            .any(|l| l.to_ascii_lowercase().contains("forbidden")),
        "RBAC denial in {}",
        log.display()
    );
}
