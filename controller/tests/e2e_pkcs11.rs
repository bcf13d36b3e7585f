//! End-to-end: the PKCS#11 key provider (issue 19, ADR 0005, `docs/keys.md`) on a real
//! kube-apiserver, with a real soft token (kryoptic, `tests/pkcs11/install.sh`).
//!
//! Skipped unless `SSRS_E2E=1` and `SSRS_PKCS11=1`. One story:
//! - the controller starts with `--pkcs11-module` and no key Secret: it generates its key in
//!   the token and serves that key's certificate on `/v1/cert.pem`; no Secret of its namespace
//!   holds a private key;
//! - upstream's `kubeseal` and `kubeseal-rs` seal against that certificate; both Secrets
//!   appear with the right values (the RSA block opened in the token);
//! - `/v1/keys` shows the key as `pkcs11:<token>`; SIGUSR1 generates a second key, in the token
//!   too, which becomes the served one;
//! - a restart (PIN from the environment this time) loads both keys from the token and costs
//!   0 RSA operations (the digest key derived from the token's signature is the same);
//! - `kubeseal-rs keys list` shows both token keys (WHERE `pkcs11:<token>`, the newest marked),
//!   from the key listing the controller publishes in its certificate ConfigMap;
//! - `kubeseal-rs keys backup` finds no key Secret and says that token keys are not in it;
//! - a wrong PIN stops start-up with one line that does not contain the PIN;
//! - no plaintext in logs, events or statuses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "support/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use harness::{
    Cluster, Plaintexts, RSA_OPS, apply_crd, assert_no_leaks, cached_tool, cert_fingerprint,
    client, create_sealed, enabled, ensure_namespace, eventually, keys_listing, kubeseal_rs,
    metric, opted_in, scratch_dir, seal_with, secret_yaml, start_ours_env, upstream_bin, wait_cert,
    wait_key_dependents, wait_secret_value, wait_synced,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use sealed_secrets_controller::resource::SealedSecretObject;

const TOKEN_LABEL: &str = "ssrs-e2e";
const SO_PIN: &str = "ssrs-e2e-so-4410";
const USER_PIN: &str = "ssrs-e2e-user-8862";
const INIT_ENV: &str = "SSRS_PKCS11_E2E_INIT";

fn module_path() -> PathBuf {
    cached_tool("SSRS_PKCS11_MODULE", "kryoptic-1.5.4/libkryoptic_pkcs11.so")
}

/// Not a test on its own: run by [`init_token`] in a child process (a module is initialised
/// once per process, and `KRYOPTIC_CONF` must be set before that).
#[test]
fn init_token_in_child() {
    if std::env::var(INIT_ENV).as_deref() != Ok("1") {
        return;
    }
    let ctx = Pkcs11::new(module_path()).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = *ctx.get_all_slots().unwrap().first().expect("a slot");
    ctx.init_token(slot, &AuthPin::from(SO_PIN), TOKEN_LABEL)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    session
        .login(UserType::So, Some(&AuthPin::from(SO_PIN)))
        .unwrap();
    session.init_pin(&AuthPin::from(USER_PIN)).unwrap();
    session.logout().unwrap();
    drop(session);
    ctx.finalize().unwrap();
}

/// A fresh kryoptic token (SQLite store in `dir`); returns its `KRYOPTIC_CONF`.
fn init_token(dir: &Path) -> PathBuf {
    let conf = dir.join("kryoptic.conf");
    std::fs::write(
        &conf,
        format!(
            "[[slots]]\nslot = 1\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
            dir.join("token.sql").display()
        ),
    )
    .unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["init_token_in_child", "--exact", "--test-threads=1"])
        .env(INIT_ENV, "1")
        .env("KRYOPTIC_CONF", &conf)
        .env("SSRS_PKCS11_MODULE", module_path())
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "token initialisation failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    conf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story, told in order
async fn token_keys_on_a_real_api_server() {
    if !enabled() || !opted_in("SSRS_PKCS11") {
        eprintln!(
            "skipped: set SSRS_E2E=1 SSRS_PKCS11=1 (after bash tests/pkcs11/install.sh) to run"
        );
        return;
    }
    let module = module_path();
    assert!(
        module.is_file(),
        "{} is missing: run bash tests/pkcs11/install.sh (or set SSRS_PKCS11_MODULE)",
        module.display()
    );
    let cluster = Cluster::start("pkcs11-e2e");
    let client = client(&cluster).await;
    apply_crd(&cluster);
    let dir = scratch_dir("pkcs11-e2e");
    let log = dir.join("controller.log");
    let ns = format!("ssrs-pkcs11-{}", std::process::id());
    ensure_namespace(&client, &ns).await;
    let conf = init_token(&dir);
    let pin_file = dir.join("pin");
    std::fs::write(&pin_file, format!("{USER_PIN}\n")).unwrap();
    let module_arg = module.to_str().unwrap();
    let conf_env = conf.to_str().unwrap();
    let token_args = [
        "--pkcs11-module",
        module_arg,
        "--pkcs11-token-label",
        TOKEN_LABEL,
    ];
    let mut with_pin_file = token_args.to_vec();
    with_pin_file.extend(["--pkcs11-pin-file", pin_file.to_str().unwrap()]);
    let ss_api: Api<SealedSecretObject> = Api::namespaced(client.clone(), &ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let plaintexts = Plaintexts::default();

    // Start: no key anywhere, so one is generated in the token.
    let controller = start_ours_env(
        &cluster,
        &ns,
        &log,
        &with_pin_file,
        &[("KRYOPTIC_CONF", conf_env)],
    );
    let pem = wait_cert(&controller).await;
    let first_fp = cert_fingerprint(&pem);
    let rows = keys_listing(&controller).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["provider"], format!("pkcs11:{TOKEN_LABEL}"));
    assert_eq!(rows[0]["fingerprint"], first_fp.as_str());
    assert_eq!(rows[0]["latest"], true);
    assert!(
        rows[0]["name"]
            .as_str()
            .unwrap()
            .starts_with("sealed-secrets-key-"),
        "{rows:?}"
    );
    let no_private_keys = || async {
        let all = secrets.list(&ListParams::default()).await.unwrap().items;
        for s in &all {
            assert_ne!(
                s.type_.as_deref(),
                Some("kubernetes.io/tls"),
                "key Secret {:?} was created",
                s.metadata.name
            );
            let data = s.data.clone().unwrap_or_default();
            assert!(!data.contains_key("tls.key"), "{:?}", s.metadata.name);
        }
    };
    no_private_keys().await;

    // Both CLIs seal against the served certificate; both Secrets appear.
    let cert_file = dir.join("cert.pem");
    std::fs::write(&cert_file, &pem).unwrap();
    let mut sealed = Vec::new();
    for (tag, bin) in [
        ("upstream", upstream_bin("kubeseal")),
        ("ours", kubeseal_rs()),
    ] {
        let name = format!("from-{tag}");
        let value = plaintexts.value(&name);
        let object = seal_with(
            &bin,
            &cert_file,
            "strict",
            &secret_yaml(&ns, &name, &[("token", &value)]),
        );
        create_sealed(&ss_api, object).await;
        sealed.push((name, value));
    }
    for (name, value) in &sealed {
        wait_secret_value(&secrets, name, "token", value).await;
        wait_synced(&ss_api, name, "True").await;
    }
    let text = wait_key_dependents(&controller, &first_fp, 2.0).await;
    let ops = metric(&text, RSA_OPS).unwrap();
    eprintln!("first unseal of 2 objects: {ops} RSA operations in the token");
    assert!(ops >= 2.0, "{ops}");

    // Renewal (SIGUSR1) generates in the token too.
    controller.signal("USR1");
    let rows = eventually("a second token key", Duration::from_secs(60), || async {
        let rows = keys_listing(&controller).await;
        (rows.len() == 2).then_some(rows)
    })
    .await;
    for row in &rows {
        assert_eq!(row["provider"], format!("pkcs11:{TOKEN_LABEL}"), "{rows:?}");
    }
    let second_fp = rows.iter().find(|r| r["latest"] == true).unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second_fp, first_fp);
    assert_eq!(cert_fingerprint(&wait_cert(&controller).await), second_fp);
    no_private_keys().await;

    // Restart, the PIN from the environment: both keys from the token, no RSA work.
    assert!(controller.terminate());
    let controller = start_ours_env(
        &cluster,
        &ns,
        &log,
        &token_args,
        &[
            ("KRYOPTIC_CONF", conf_env),
            ("SEALED_SECRETS_PKCS11_PIN", USER_PIN),
        ],
    );
    assert_eq!(cert_fingerprint(&wait_cert(&controller).await), second_fp);
    assert_eq!(keys_listing(&controller).await.len(), 2);
    let text = wait_key_dependents(&controller, &first_fp, 2.0).await;
    assert_eq!(metric(&text, RSA_OPS), Some(0.0), "restart: all skipped");
    no_private_keys().await;

    // keys list: the token keys, from the listing the controller publishes in its ConfigMap.
    let listed = eventually(
        "keys list shows both token keys",
        Duration::from_secs(30),
        || {
            let out = Command::new(kubeseal_rs())
                .args([
                    "keys",
                    "list",
                    "--controller-namespace",
                    &ns,
                    "--kubeconfig",
                ])
                .arg(cluster.kubeconfig())
                .env_remove("KUBECONFIG")
                .output()
                .unwrap();
            let listed = String::from_utf8_lossy(&out.stdout).into_owned();
            let rows = listed
                .lines()
                .filter(|l| l.ends_with(&format!("pkcs11:{TOKEN_LABEL}")))
                .count();
            async move { (out.status.success() && rows == 2).then_some(listed) }
        },
    )
    .await;
    let newest = listed
        .lines()
        .find(|l| l.starts_with(second_fp.as_str()))
        .unwrap();
    assert!(newest.contains(" newest "), "{listed}");
    assert!(
        listed.lines().next().unwrap().ends_with("WHERE"),
        "{listed}"
    );

    // keys backup: token keys have no Secret, and it says so.
    let out = Command::new(kubeseal_rs())
        .args(["keys", "backup", "-w"])
        .arg(dir.join("backup.yaml"))
        .args(["--controller-namespace", &ns, "--kubeconfig"])
        .arg(cluster.kubeconfig())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("keys in a PKCS#11 token have no Secret"),
        "{stderr}"
    );
    assert!(!dir.join("backup.yaml").exists());
    assert!(controller.terminate());

    // A wrong PIN: start-up fails in one line, without the PIN.
    let wrong = "wrong-pin-e2e-3090";
    let out = Command::new(env!("CARGO_BIN_EXE_sealed-secrets-controller"))
        .args(token_args)
        .args([
            "--listen-addr",
            "127.0.0.1:0",
            "--listen-metrics-addr",
            "127.0.0.1:0",
        ])
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("POD_NAMESPACE", &ns)
        .env("KRYOPTIC_CONF", conf_env)
        .env("SEALED_SECRETS_PKCS11_PIN", wrong)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: PKCS#11 login failed: "),
        "{stderr}"
    );
    assert!(
        !stderr.contains(wrong) && !stderr.contains(USER_PIN),
        "{stderr}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        !logged.contains(USER_PIN),
        "the PIN is in the controller log"
    );

    assert_no_leaks(&client, &[&ns], &[&log], &plaintexts).await;
    harness::remove_scratch_dir(&dir);
}
