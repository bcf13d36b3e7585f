//! End-to-end: KMS-wrapped key Secrets (issue 19 part 2, ADR 0008, `docs/keys.md`) on a real
//! kube-apiserver, against a real server of the AWS KMS API (local-kms, `tests/kms/install.sh`).
//!
//! Skipped unless `SSRS_E2E=1` and `SSRS_KMS=1`. One story:
//! - a controller without KMS writes a plain key Secret; upstream's `kubeseal` seals for it;
//! - restarted with `--kms-provider aws --kms-migrate-keys wrap`, the controller rewrites that
//!   Secret in place (same name, uid and creation time, so key order is kept): `tls.key` empty,
//!   the envelope in `tls.key.kms`; the SealedSecret stays synced with 0 RSA operations;
//! - SIGUSR1 writes the next key wrapped; `kubeseal-rs` seals for it; no Secret of the
//!   namespace holds a private key in the clear;
//! - `kubeseal-rs keys backup` keeps the keys wrapped; `keys restore` puts them into an empty
//!   namespace (still wrapped, never over a Secret holding another key), where a controller
//!   with the KMS opens them;
//! - a key Secret written while the KMS is down (made by that second controller, copied next to
//!   the first's keys) is seen by the first's key watch, retried, and registered once the KMS is
//!   back: what is sealed for it opens;
//! - `keys prune` refuses a wrapped key while a SealedSecret has no record of its key, and goes
//!   by the records otherwise;
//! - an envelope copied next to another key's certificate is refused by the KMS (bound to the
//!   key's fingerprint) and skipped; a restart with web-identity credentials (IRSA: a token
//!   file exchanged at a stand-in STS, no static key) unwraps both keys, 0 RSA work;
//! - without the KMS flags, or with the KMS down, start-up stops with one line and generates no key;
//! - `--kms-migrate-keys unwrap` turns them back into plain key Secrets that a controller
//!   without KMS (and upstream's) reads; both SealedSecrets stay synced;
//! - no plaintext in logs, events or statuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::{
    Cluster, KEY_LABEL, Plaintexts, RSA_OPS, apply_crd, assert_no_leaks, cached_tool,
    cert_fingerprint, client, create_sealed, enabled, ensure_namespace, eventually, free_port,
    keys_listing, kubeseal_rs, metric, opted_in, scratch_dir, seal_with, secret_yaml, start_ours,
    start_ours_env, upstream_bin, wait_cert, wait_key_dependents, wait_secret_value, wait_synced,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use sealed_secrets_controller::resource::SealedSecretObject;

const KEY_ID: &str = "bc436485-5092-42b8-92a3-0aa8b93536dc";
const ALIAS: &str = "alias/ssrs-e2e";
const ACCESS_KEY: &str = "AKIDSSRSE2E";
const SECRET_KEY: &str = "ssrs-e2e-aws-secret-access-key-5521";

fn local_kms() -> PathBuf {
    cached_tool(
        "SSRS_LOCAL_KMS",
        "local-kms-v0.0.0-20260228092603-2a5e92d09ab6/bin/local-kms",
    )
}

/// local-kms on a free loopback port, seeded with one AES key and its alias; killed on drop.
struct LocalKms {
    child: Child,
    port: u16,
}

impl Drop for LocalKms {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalKms {
    fn start(dir: &Path, port: u16) -> Self {
        let seed = dir.join("seed.yaml");
        std::fs::write(
            &seed,
            format!(
                "Keys:\n  Symmetric:\n    Aes:\n      - Metadata:\n          KeyId: {KEY_ID}\n        BackingKeys:\n          - 5cdaead27fe7da2de47945d73cd6d79e36494e73802f3cd3869f1d2cb0b5d7a9\nAliases:\n  - AliasName: {ALIAS}\n    TargetKeyId: {KEY_ID}\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join(format!("local-kms-{port}.log"))).unwrap();
        let child = Command::new(local_kms())
            .env("PORT", port.to_string())
            .env("KMS_REGION", "eu-west-2")
            .env("KMS_SEED_PATH", &seed)
            .env("KMS_DATA_PATH", dir.join("kms-data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start local-kms");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "local-kms did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }
}

async fn key_secrets(secrets: &Api<Secret>) -> Vec<Secret> {
    let mut all = secrets
        .list(&ListParams::default().labels(KEY_LABEL))
        .await
        .unwrap()
        .items;
    all.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    all
}

const WEB_IDENTITY_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.e2e-web-identity-token.sig";
const STS_SECRET_KEY: &str = "ssrs-e2e-sts-secret-3318";

/// An STS stand-in on a loopback port: answers every `AssumeRoleWithWebIdentity` with
/// credentials valid for an hour, and keeps the request bodies.
async fn fake_sts() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&bodies);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = std::sync::Arc::clone(&seen);
            tokio::spawn(async move {
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                let body = loop {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&raw).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= length {
                            break body.to_owned();
                        }
                    }
                };
                seen.lock().unwrap().push(body);
                let expires = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap();
                let xml = format!(
                    "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAE2E</AccessKeyId><SecretAccessKey>{STS_SECRET_KEY}</SecretAccessKey><SessionToken>e2e-session</SessionToken><Expiration>{expires}</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
                );
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{xml}",
                    xml.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, bodies)
}

/// Seals `ns/name` (one item, `token`: `value`, strict scope) with `bin` for the certificate
/// in `cert`, creates it through `apis` (of `ns`) and waits until its Secret holds the value.
async fn seal_and_open(
    bin: &Path,
    cert: &Path,
    (ss_api, secrets): (&Api<SealedSecretObject>, &Api<Secret>),
    ns: &str,
    name: &str,
    value: &str,
) {
    let object = seal_with(
        bin,
        cert,
        "strict",
        &secret_yaml(ns, name, &[("token", value)]),
    );
    create_sealed(ss_api, object).await;
    wait_secret_value(secrets, name, "token", value).await;
    wait_synced(ss_api, name, "True").await;
}

fn data(secret: &Secret) -> BTreeMap<String, ByteString> {
    secret.data.clone().unwrap_or_default()
}

fn is_wrapped(secret: &Secret) -> bool {
    let d = data(secret);
    d.contains_key("tls.key.kms") && d.get("tls.key").is_some_and(|k| k.0.is_empty())
}

/// No Secret of the namespace holds a PEM private key.
async fn no_private_key_in_the_clear(secrets: &Api<Secret>) {
    for s in secrets.list(&ListParams::default()).await.unwrap().items {
        for (item, value) in data(&s) {
            assert!(
                !String::from_utf8_lossy(&value.0).contains("PRIVATE KEY"),
                "Secret {:?} item {item} holds a private key in the clear",
                s.metadata.name
            );
        }
    }
}

/// Runs the controller to its exit (a start-up failure); returns (code, stderr).
fn start_fails(cluster: &Cluster, ns: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sealed-secrets-controller"))
        .args(args)
        .args([
            "--key-size",
            "2048",
            "--all-namespaces=false",
            "--listen-addr",
            "127.0.0.1:0",
            "--listen-metrics-addr",
            "127.0.0.1:0",
        ])
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("POD_NAMESPACE", ns)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story, told in order
async fn kms_wrapped_keys_on_a_real_api_server() {
    if !enabled() || !opted_in("SSRS_KMS") {
        eprintln!("skipped: set SSRS_E2E=1 SSRS_KMS=1 (after bash tests/kms/install.sh) to run");
        return;
    }
    assert!(
        local_kms().is_file(),
        "{} is missing: run bash tests/kms/install.sh (or set SSRS_LOCAL_KMS)",
        local_kms().display()
    );
    let cluster = Cluster::start("kms-e2e");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    let dir = scratch_dir("kms-e2e");
    let log = dir.join("controller.log");
    let ns = format!("ssrs-kms-{}", std::process::id());
    ensure_namespace(&client, &ns).await;
    let kms_port = free_port();
    let kms = LocalKms::start(&dir, kms_port);
    let endpoint = format!("http://127.0.0.1:{}", kms.port);
    let kms_args = [
        "--kms-provider",
        "aws",
        "--kms-key-id",
        ALIAS,
        "--kms-region",
        "eu-west-2",
        "--kms-endpoint",
        endpoint.as_str(),
    ];
    let aws_env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let ss_api: Api<SealedSecretObject> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let plaintexts = Plaintexts::default();

    // 1. No KMS: a plain key Secret, and upstream's kubeseal seals for it.
    let controller = start_ours(&cluster, &ns, &log, &[]);
    let pem = wait_cert(&controller).await;
    let first_fp = cert_fingerprint(&pem);
    let plain = key_secrets(&secrets).await;
    assert_eq!(plain.len(), 1);
    assert!(!is_wrapped(&plain[0]));
    let cert_file = dir.join("cert.pem");
    std::fs::write(&cert_file, &pem).unwrap();
    let before = plaintexts.value("before");
    seal_and_open(
        &upstream_bin("kubeseal"),
        &cert_file,
        (&ss_api, &secrets),
        &ns,
        "before",
        &before,
    )
    .await;
    wait_key_dependents(&controller, &first_fp, 1.0).await;
    assert!(controller.terminate());

    // 2. KMS, --kms-migrate-keys wrap: the same Secret, wrapped in place; no RSA work.
    let mut migrate_wrap = kms_args.to_vec();
    // --watch-for-secrets: key Secrets written later, by another controller or by hand, are
    // unwrapped from the watch (step 3b).
    migrate_wrap.extend(["--kms-migrate-keys", "wrap", "--watch-for-secrets"]);
    let controller = start_ours_env(&cluster, &ns, &log, &migrate_wrap, &aws_env);
    assert_eq!(cert_fingerprint(&wait_cert(&controller).await), first_fp);
    let wrapped = key_secrets(&secrets).await;
    assert_eq!(wrapped.len(), 1);
    assert!(is_wrapped(&wrapped[0]), "{:?}", data(&wrapped[0]).keys());
    assert_eq!(wrapped[0].metadata.uid, plain[0].metadata.uid);
    assert_eq!(
        wrapped[0].metadata.creation_timestamp,
        plain[0].metadata.creation_timestamp
    );
    assert_eq!(
        wrapped[0].metadata.annotations.as_ref().unwrap()["sealed-secrets-rs/kms-key-id"],
        ALIAS
    );
    assert_eq!(data(&wrapped[0])["tls.crt"], data(&plain[0])["tls.crt"]);
    let rows = keys_listing(&controller).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["provider"], format!("kms:{ALIAS}"));
    let text = wait_key_dependents(&controller, &first_fp, 1.0).await;
    assert_eq!(metric(&text, RSA_OPS), Some(0.0), "migration: all skipped");

    // 3. SIGUSR1: the next key is written wrapped; kubeseal-rs seals for it.
    controller.signal("USR1");
    let rows = eventually("a second key", Duration::from_secs(60), || async {
        let rows = keys_listing(&controller).await;
        (rows.len() == 2).then_some(rows)
    })
    .await;
    for row in &rows {
        assert_eq!(row["provider"], format!("kms:{ALIAS}"), "{rows:?}");
    }
    let pem = wait_cert(&controller).await;
    let second_fp = cert_fingerprint(&pem);
    assert_ne!(second_fp, first_fp);
    let all = key_secrets(&secrets).await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(is_wrapped));
    std::fs::write(&cert_file, &pem).unwrap();
    let after = plaintexts.value("after");
    seal_and_open(
        &kubeseal_rs(),
        &cert_file,
        (&ss_api, &secrets),
        &ns,
        "after",
        &after,
    )
    .await;
    no_private_key_in_the_clear(&secrets).await;

    // kubeseal-rs keys list shows where each key lives; keys backup keeps them wrapped.
    let keys_cli_in = |namespace: &str, args: &[&str]| {
        Command::new(kubeseal_rs())
            .arg("keys")
            .args(args)
            .args(["--controller-namespace", namespace, "--kubeconfig"])
            .arg(cluster.kubeconfig())
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    };
    let keys_cli = |args: &[&str]| keys_cli_in(&ns, args);
    let out = keys_cli(&["list"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{listed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listed.lines().next().unwrap().ends_with("WHERE"),
        "{listed}"
    );
    for fp in [&first_fp, &second_fp] {
        let row = listed.lines().find(|l| l.starts_with(fp.as_str())).unwrap();
        assert!(row.ends_with(&format!("kms:{ALIAS}")), "{listed}");
    }
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(second_fp.as_str()) && l.contains(" newest ")),
        "{listed}"
    );
    let backup = dir.join("backup.yaml");
    let out = keys_cli(&["backup", "-w", backup.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("2 of them are wrapped by a KMS key"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(&backup).unwrap();
    // "-----BEGIN RSA PRIVATE KEY", base64-encoded as backup data is.
    let pem_b64 = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVk";
    assert!(
        written.contains("tls.key.kms") && !written.contains(pem_b64),
        "{written}"
    );

    // 3a. Disaster recovery: keys restore puts the wrapped backup into an empty namespace, still
    // wrapped; a controller there with the KMS opens both keys. A second restore adds nothing,
    // and a file naming one of those Secrets with another key is refused, nothing written.
    let dr_ns = format!("{ns}-dr");
    ensure_namespace(&client, &dr_ns).await;
    let dr_secrets: Api<Secret> = Api::namespaced(client.clone(), &dr_ns);
    let restore =
        |namespace: &str, file: &Path| keys_cli_in(namespace, &["restore", file.to_str().unwrap()]);
    let out = restore(&dr_ns, &backup);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for fp in [&first_fp, &second_fp] {
        assert!(
            said.lines().any(
                |l| l.starts_with(&format!("added {dr_ns}/sealed-secrets-key"))
                    && l.ends_with(&format!("({fp})"))
            ),
            "{said}"
        );
    }
    let restored = key_secrets(&dr_secrets).await;
    assert_eq!(restored.len(), 2);
    assert!(restored.iter().all(is_wrapped));
    no_private_key_in_the_clear(&dr_secrets).await;
    let out = restore(&dr_ns, &backup);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}");
    assert_eq!(
        said.lines()
            .filter(|l| l.starts_with("skipped ") && l.ends_with("already present"))
            .count(),
        2,
        "{said}"
    );
    let other_key = dir.join("other-key.yaml");
    let keygen = Command::new(kubeseal_rs())
        .args(["keygen", "--key-size", "2048", "-n", &dr_ns, "-w"])
        .arg(&other_key)
        .output()
        .unwrap();
    assert!(
        keygen.status.success(),
        "{}",
        String::from_utf8_lossy(&keygen.stderr)
    );
    let taken = restored[0].metadata.name.clone().unwrap();
    let taken_fp = cert_fingerprint(&String::from_utf8_lossy(&data(&restored[0])["tls.crt"].0));
    let text = std::fs::read_to_string(&other_key).unwrap();
    assert!(
        text.contains("  generateName: sealed-secrets-key\n"),
        "keygen wrote no generateName"
    );
    std::fs::write(
        &other_key,
        text.replace(
            "  generateName: sealed-secrets-key\n",
            &format!("  name: {taken}\n"),
        ),
    )
    .unwrap();
    let out = restore(&dr_ns, &other_key);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: Secret {dr_ns}/{taken} exists and holds key {taken_fp} (wrapped by KMS key {ALIAS}), not key SHA256:"))
            && stderr.trim_end().ends_with("it is not overwritten: nothing was restored"),
        "{stderr}"
    );
    assert_eq!(key_secrets(&dr_secrets).await, restored);
    let dr_log = dir.join("controller-dr.log");
    let dr = start_ours_env(&cluster, &dr_ns, &dr_log, &kms_args, &aws_env);
    assert_eq!(cert_fingerprint(&wait_cert(&dr).await), second_fp);
    let rows = keys_listing(&dr).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().all(|r| r["provider"] == format!("kms:{ALIAS}")),
        "{rows:?}"
    );

    // 3b. Key change while the KMS is down: the DR controller makes a third key (wrapped);
    // with local-kms stopped, that key Secret is copied next to the running controller's keys.
    // Its watch cannot unwrap it, says so, asks again, and registers the key once the KMS is
    // back; what is sealed for that key then opens. Nothing is generated meanwhile.
    dr.signal("USR1");
    let third = eventually("a third key", Duration::from_secs(60), || async {
        let all = key_secrets(&dr_secrets).await;
        (all.len() == 3).then(|| {
            all.into_iter()
                .find(|s| !restored.iter().any(|r| r.metadata.uid == s.metadata.uid))
        })?
    })
    .await;
    assert!(is_wrapped(&third));
    let third_pem = String::from_utf8_lossy(&data(&third)["tls.crt"].0).into_owned();
    let third_fp = cert_fingerprint(&third_pem);
    assert!(dr.terminate());
    drop(kms);
    let copied = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("sealed-secrets-keycopied".to_owned()),
            labels: third.metadata.labels.clone(),
            annotations: third.metadata.annotations.clone(),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".to_owned()),
        data: third.data.clone(),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &copied)
        .await
        .unwrap();
    eventually(
        "the watch's retry notice",
        Duration::from_secs(30),
        || async {
            std::fs::read_to_string(&log)
                .ok()?
                .lines()
                .any(|l| {
                    l.contains("sealed-secrets-keycopied")
                        && l.contains("cannot unwrap the key Secret now; retrying")
                })
                .then_some(())
        },
    )
    .await;
    assert_eq!(keys_listing(&controller).await.len(), 2);
    let kms = LocalKms::start(&dir, kms_port);
    let rows = eventually(
        "the copied key registered",
        Duration::from_secs(60),
        || async {
            let rows = keys_listing(&controller).await;
            (rows.len() == 3).then_some(rows)
        },
    )
    .await;
    assert!(
        rows.iter().all(|r| r["provider"] == format!("kms:{ALIAS}")),
        "{rows:?}"
    );
    assert!(
        std::fs::read_to_string(&log).unwrap().lines().any(|l| {
            l.contains("sealed-secrets-keycopied")
                && l.contains("registered key from watch (after a retry)")
        }),
        "no registration after a retry"
    );
    std::fs::write(&cert_file, &third_pem).unwrap();
    let copied_value = plaintexts.value("copied");
    seal_and_open(
        &kubeseal_rs(),
        &cert_file,
        (&ss_api, &secrets),
        &ns,
        "copied",
        &copied_value,
    )
    .await;
    wait_key_dependents(&controller, &third_fp, 1.0).await;

    // 3c. keys prune and a wrapped key: kubeseal-rs cannot open a SealedSecret with it, so
    // while one in the cluster has no record of its key (here: in a namespace no controller
    // watches) the key is refused; with every SealedSecret recorded, the records decide.
    let apps_ns = format!("{ns}-apps");
    ensure_namespace(&client, &apps_ns).await;
    let apps_ss: Api<SealedSecretObject> = Api::namespaced(client.clone(), &apps_ns);
    let unrecorded_value = plaintexts.value("unrecorded");
    let object = seal_with(
        &kubeseal_rs(),
        &cert_file,
        "strict",
        &secret_yaml(&apps_ns, "unrecorded", &[("token", &unrecorded_value)]),
    );
    create_sealed(&apps_ss, object).await;
    let out = keys_cli(&["prune", &second_fp]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: key {second_fp} (Secret {ns}/"))
            && stderr.contains(&format!("is wrapped by a KMS key (kms:{ALIAS}): 1 SealedSecrets carry no current record of their key"))
            && stderr.trim_end().ends_with("nothing was deleted"),
        "{stderr}"
    );
    apps_ss
        .delete("unrecorded", &DeleteParams::default())
        .await
        .unwrap();
    let out = keys_cli(&["prune", &first_fp]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("key {first_fp} (Secret {ns}/"))
            && stderr.contains("is still used by 1 SealedSecrets"),
        "{stderr}"
    );
    assert_eq!(key_secrets(&secrets).await.len(), 3);
    ss_api
        .delete("copied", &DeleteParams::default())
        .await
        .unwrap();
    secrets
        .delete("sealed-secrets-keycopied", &DeleteParams::default())
        .await
        .unwrap();
    assert!(controller.terminate());

    // 4. A forged key Secret: the first key's certificate with the second key's envelope.
    let first = all
        .iter()
        .find(|s| cert_fingerprint(&String::from_utf8_lossy(&data(s)["tls.crt"].0)) == first_fp)
        .unwrap();
    let second = all
        .iter()
        .find(|s| s.metadata.uid != first.metadata.uid)
        .unwrap();
    let mut forged_data = data(first);
    forged_data.insert(
        "tls.key.kms".to_owned(),
        data(second)["tls.key.kms"].clone(),
    );
    let forged = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("sealed-secrets-keyforged".to_owned()),
            labels: first.metadata.labels.clone(),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(forged_data),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &forged)
        .await
        .unwrap();

    // 5. Restart, with web-identity credentials this time (IRSA: a token file, STS), no static
    // key: both keys unwrapped through the KMS, the forged one skipped, no RSA work.
    let token_file = dir.join("web-identity-token");
    std::fs::write(&token_file, format!("{WEB_IDENTITY_TOKEN}\n")).unwrap();
    let (sts_port, sts_bodies) = fake_sts().await;
    let sts_url = format!("http://127.0.0.1:{sts_port}");
    let irsa_env = [
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::111122223333:role/sealed-secrets",
        ),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ENDPOINT_URL_STS", sts_url.as_str()),
    ];
    let controller = start_ours_env(&cluster, &ns, &log, &kms_args, &irsa_env);
    assert_eq!(cert_fingerprint(&wait_cert(&controller).await), second_fp);
    let rows = keys_listing(&controller).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let text = wait_key_dependents(&controller, &first_fp, 1.0).await;
    wait_key_dependents(&controller, &second_fp, 1.0).await;
    assert_eq!(metric(&text, RSA_OPS), Some(0.0), "restart: all skipped");
    {
        let bodies = sts_bodies.lock().unwrap();
        // One exchange, cached for the KMS calls that follow.
        assert_eq!(bodies.len(), 1, "{bodies:?}");
        assert!(
            bodies[0].starts_with("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fsealed-secrets&")
                && bodies[0].ends_with(&format!("&WebIdentityToken={WEB_IDENTITY_TOKEN}")),
            "{bodies:?}"
        );
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged
            .lines()
            .any(|l| l.contains("sealed-secrets-keyforged") && l.contains("skipping key Secret")),
        "the forged key Secret was not skipped"
    );
    assert!(controller.terminate());
    secrets
        .delete("sealed-secrets-keyforged", &DeleteParams::default())
        .await
        .unwrap();

    // 6. Without the KMS flags: start-up stops, one line, no key generated.
    let (code, stderr) = start_fails(&cluster, &ns, &[], &[]);
    assert_eq!(code, 1, "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: key Secret \"sealed-secrets-key")
            && last.contains("is wrapped by KMS key \"alias/ssrs-e2e\" (aws-kms): start the controller with --kms-provider"),
        "{stderr}"
    );

    // 7. The KMS down: start-up stops, one line, no key generated.
    drop(kms);
    let (code, stderr) = start_fails(&cluster, &ns, &kms_args, &aws_env);
    assert_eq!(code, 1, "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: key Secret \"sealed-secrets-key")
            && last.contains("KMS Decrypt failed: cannot reach 127.0.0.1:"),
        "{stderr}"
    );
    assert_eq!(key_secrets(&secrets).await.len(), 2);
    let kms = LocalKms::start(&dir, kms_port);

    // 8. --kms-migrate-keys unwrap: plain key Secrets again, read by a controller without KMS.
    let mut migrate_unwrap = kms_args.to_vec();
    migrate_unwrap.extend(["--kms-migrate-keys", "unwrap"]);
    let controller = start_ours_env(&cluster, &ns, &log, &migrate_unwrap, &aws_env);
    wait_cert(&controller).await;
    let unwrapped = key_secrets(&secrets).await;
    assert_eq!(unwrapped.len(), 2);
    for s in &unwrapped {
        assert!(
            !data(s).contains_key("tls.key.kms"),
            "{:?}",
            s.metadata.name
        );
        assert!(String::from_utf8_lossy(&data(s)["tls.key"].0).contains("BEGIN RSA PRIVATE KEY"));
    }
    assert!(controller.terminate());
    drop(kms);
    let controller = start_ours(&cluster, &ns, &log, &[]);
    assert_eq!(cert_fingerprint(&wait_cert(&controller).await), second_fp);
    let rows = keys_listing(&controller).await;
    assert!(rows.iter().all(|r| r["provider"] == "secret"), "{rows:?}");
    let text = wait_key_dependents(&controller, &first_fp, 1.0).await;
    wait_key_dependents(&controller, &second_fp, 1.0).await;
    assert_eq!(metric(&text, RSA_OPS), Some(0.0));
    for (name, value) in [("before", &before), ("after", &after)] {
        wait_secret_value(&secrets, name, "token", value).await;
        wait_synced(&ss_api, name, "True").await;
    }
    assert!(controller.terminate());

    for file in [&log, &dr_log] {
        let logged = std::fs::read_to_string(file).unwrap();
        for (needle, what) in [
            (SECRET_KEY, "the AWS secret key"),
            (STS_SECRET_KEY, "the STS secret key"),
            (WEB_IDENTITY_TOKEN, "the web identity token"),
            ("PRIVATE KEY-----\n", "a private key"),
        ] {
            assert!(!logged.contains(needle), "{what} is in {}", file.display());
        }
    }
    assert_no_leaks(
        &client,
        &[&ns, &dr_ns, &apps_ns],
        &[&log, &dr_log],
        &plaintexts,
    )
    .await;
    harness::remove_scratch_dir(&dir);
}
