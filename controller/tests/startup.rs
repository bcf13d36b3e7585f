//! Start-up order without a real API server: the binary runs against a scripted fake one that
//! serves the key Secret at once but holds back the `--additional-namespaces` checks and then
//! the watches' lists. While they wait, `/v1/cert.pem` and `/healthz` answer and `/readyz` says
//! 503; once every list has been answered, `/readyz` says `ok` (upstream v0.39, #2018: the
//! HTTP server must not wait for a long namespace list). The namespace checks run 16 at once,
//! as upstream's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use e2e::{eventually, free_port, http_get};
use sealed_secrets_core::cert::{CertParams, Certificate};
use sealed_secrets_core::keys::PrivateKey;
use tokio::sync::watch;

/// The controller's namespace (where its key lives).
const OWN: &str = "kube-ss";
/// How many `--additional-namespaces` (more than are checked at once).
const EXTRA: usize = 40;

/// A fake API server: answers the key discovery, holds namespace checks until `namespaces` is
/// opened and list calls until `lists` is, and never ends a watch.
struct Fake {
    key_list: serde_json::Value,
    namespaces: watch::Sender<bool>,
    lists: watch::Sender<bool>,
    checks_in_flight: AtomicUsize,
    most_checks_in_flight: AtomicUsize,
    lists_asked: AtomicUsize,
    unexpected: std::sync::Mutex<Vec<String>>,
}

fn json(code: StatusCode, body: &serde_json::Value) -> Response {
    (
        code,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "reason": "NotFound", "code": 404, "message": "not found"
        }),
    )
}

async fn opened(gate: &watch::Sender<bool>) {
    let mut rx = gate.subscribe();
    let _ = rx.wait_for(|open| *open).await;
}

async fn api(State(fake): State<Arc<Fake>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let watching = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let own_secrets = format!("/api/v1/namespaces/{OWN}/secrets");
    if path == format!("{own_secrets}/sealed-secrets-key") {
        return not_found();
    }
    if path == own_secrets && query.contains("labelSelector=sealedsecrets.bitnami.com") {
        return json(StatusCode::OK, &fake.key_list);
    }
    if let Some(name) = path.strip_prefix("/api/v1/namespaces/")
        && !name.contains('/')
    {
        let now = fake.checks_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        fake.most_checks_in_flight.fetch_max(now, Ordering::SeqCst);
        opened(&fake.namespaces).await;
        fake.checks_in_flight.fetch_sub(1, Ordering::SeqCst);
        return json(
            StatusCode::OK,
            &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        );
    }
    let kind = if path.starts_with("/apis/bitnami.com/v1alpha1/namespaces/")
        && path.ends_with("/sealedsecrets")
    {
        ("bitnami.com/v1alpha1", "SealedSecretList")
    } else if path.starts_with("/api/v1/namespaces/") && path.ends_with("/secrets") {
        ("v1", "SecretList")
    } else {
        fake.unexpected
            .lock()
            .unwrap()
            .push(format!("{path}?{query}"));
        return not_found();
    };
    if watching {
        // A watch that never sends anything (nothing changes).
        std::future::pending::<()>().await;
    }
    fake.lists_asked.fetch_add(1, Ordering::SeqCst);
    opened(&fake.lists).await;
    json(
        StatusCode::OK,
        &serde_json::json!({
            "apiVersion": kind.0, "kind": kind.1, "metadata": {"resourceVersion": "1"}, "items": []
        }),
    )
}

/// A key Secret list holding one 2048-bit key, and that key's certificate.
fn key_list() -> (serde_json::Value, Certificate) {
    let key = PrivateKey::generate(2048).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let cert = Certificate::self_signed(&key, &CertParams::controller_default(now)).unwrap();
    let secret = sealed_secrets_core::key_secret::new_key_secret(
        &key,
        &cert,
        "sealed-secrets-key",
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
    .unwrap();
    let mut secret = serde_json::to_value(&secret).unwrap();
    secret["metadata"]["name"] = "sealed-secrets-keyabcde".into();
    secret["metadata"]["namespace"] = OWN.into();
    secret["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z".into();
    let list = serde_json::json!({
        "apiVersion": "v1", "kind": "SecretList", "metadata": {"resourceVersion": "1"},
        "items": [secret]
    });
    (list, cert)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_serves_while_namespaces_are_checked_and_watches_list() {
    let (key_list, cert) = key_list();
    let fake = Arc::new(Fake {
        key_list,
        namespaces: watch::channel(false).0,
        lists: watch::channel(false).0,
        checks_in_flight: AtomicUsize::new(0),
        most_checks_in_flight: AtomicUsize::new(0),
        lists_asked: AtomicUsize::new(0),
        unexpected: std::sync::Mutex::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .fallback(api)
        .with_state(Arc::clone(&fake));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
             clusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{api_port}\n\
             users:\n- name: fake\n  user: {{}}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n"
        ),
    )
    .unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let namespaces: Vec<String> = (1..=EXTRA).map(|i| format!("team-{i:02}")).collect();
    let log_path = dir.path().join("controller.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sealed-secrets-controller"))
        .args([
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--listen-addr",
            &format!("127.0.0.1:{port}"),
            "--listen-metrics-addr",
            &format!("127.0.0.1:{metrics_port}"),
            "--additional-namespaces",
            &namespaces.join(","),
            "--cert-configmap=",
            "--key-renew-period=0",
            // Unthrottled, so the checks in flight show the concurrency, not the client limit.
            "--kubeclient-qps=-1",
        ])
        .env_clear()
        .env("HOME", dir.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("POD_NAMESPACE", OWN)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let controller = e2e::Process(child);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let get = |path: &'static str| async move { http_get(port, path).await };
    let ok = Some((200, "ok\n".to_owned()));
    let not_ready = Some((503, "not ready\n".to_owned()));
    let served_cert = Some((200, cert.to_pem()));

    // 1. The namespace checks hang, 16 at a time: the API answers, /readyz says not yet.
    eventually(
        "16 namespace checks in flight",
        Duration::from_secs(60),
        || std::future::ready((fake.checks_in_flight.load(Ordering::SeqCst) == 16).then_some(())),
    )
    .await;
    assert_eq!(get("/v1/cert.pem").await, served_cert, "{}", log());
    assert_eq!(get("/healthz").await, ok);
    assert_eq!(get("/readyz").await, not_ready);
    assert_eq!(fake.lists_asked.load(Ordering::SeqCst), 0);

    // 2. Every namespace exists; each controller's two lists hang.
    fake.namespaces.send_replace(true);
    let all_lists = 2 * (EXTRA + 1);
    eventually("every watch's list asked", Duration::from_secs(30), || {
        std::future::ready((fake.lists_asked.load(Ordering::SeqCst) >= all_lists).then_some(()))
    })
    .await;
    assert_eq!(fake.most_checks_in_flight.load(Ordering::SeqCst), 16);
    assert_eq!(get("/readyz").await, not_ready, "{}", log());
    assert_eq!(get("/v1/cert.pem").await, served_cert);
    assert_eq!(get("/healthz").await, ok);

    // 3. The lists are answered (empty): ready.
    fake.lists.send_replace(true);
    eventually("/readyz ok", Duration::from_secs(30), || async {
        (get("/readyz").await == ok).then_some(())
    })
    .await;
    assert_eq!(get("/healthz").await, ok);
    assert_eq!(get("/v1/cert.pem").await, served_cert);
    assert!(
        fake.unexpected.lock().unwrap().is_empty(),
        "unexpected API calls: {:?}\n{}",
        fake.unexpected.lock().unwrap(),
        log()
    );
    assert!(controller.terminate(), "{}", log());
}
