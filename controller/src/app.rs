//! Startup and shutdown (SPEC §3.2): metrics, client, keys, renewal and SIGUSR1, controllers,
//! HTTP servers, then wait for SIGTERM (or SIGINT) and shut down gracefully.

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use sealed_secrets_core::seal::UnsealOptions;
use tokio::sync::{mpsc, oneshot};

use crate::cert_configmap::CertPublisher;
use crate::cli::{Settings, WatchScope};
use crate::controller::{self, Readiness, ReconcileConfig, Shared, WatchOptions};
use crate::error::{api_error_text, is_not_found};
use crate::events::Recorder;
use crate::key_guard;
use crate::key_registry::{KeyManager, KeyManagerError, KeyParams, KeyRegistry};
use crate::kube_client::{self, ClientError};
use crate::leader::{self, LeaderElector, LeadershipLost, Timing};
use crate::metrics::{Metrics, MetricsError};
use crate::server::{self, ServerState};
use crate::unseal::Unsealer;

/// The version printed by `--version` and exported in `build_info`: `v0.1.0`, with the `v`
/// of upstream's release tags (`controller version: v0.40.0`); a build may stamp another
/// with `SEALED_SECRETS_VERSION` at compile time.
pub const VERSION: &str = match option_env!("SEALED_SECRETS_VERSION") {
    Some(v) => v,
    None => concat!("v", env!("CARGO_PKG_VERSION")),
};

/// How many reconciles run at once per namespace-controller (RSA work is further bounded by
/// the number of CPUs).
const CONCURRENCY: u16 = 32;

/// Why the controller stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Keys(#[from] KeyManagerError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot install the {0} signal handler: {1}")]
    Signal(&'static str, std::io::Error),
    #[error(transparent)]
    Leadership(#[from] LeadershipLost),
}

/// How many `--additional-namespaces` are checked at once (upstream v0.39 checks 16 at once,
/// where earlier versions checked one after the other).
const NAMESPACE_CHECKS: usize = 16;

/// The namespaces of `names` that exist, in order (`own` is not checked).
async fn existing_namespaces(client: &kube::Client, names: Vec<String>, own: &str) -> Vec<String> {
    let api: Api<Namespace> = Api::all(client.clone());
    futures::stream::iter(names)
        .map(|name| {
            let api = api.clone();
            async move {
                if name == own {
                    return Some(name);
                }
                match api.get(&name).await {
                    Ok(_) => Some(name),
                    Err(e) if is_not_found(&e) => {
                        tracing::warn!(namespace = %name, "namespace does not exist, not watching it");
                        None
                    }
                    Err(e) => {
                        tracing::error!(namespace = %name, error = %api_error_text(&e), "cannot check namespace, not watching it");
                        None
                    }
                }
            }
        })
        .buffered(NAMESPACE_CHECKS)
        .filter_map(std::future::ready)
        .collect()
        .await
}

/// Opens the PKCS#11 token (`--pkcs11-module`) on the blocking pool.
async fn open_token(
    settings: &crate::cli::Pkcs11Settings,
) -> Result<Arc<crate::pkcs11::provider::TokenProvider>, AppError> {
    let settings = settings.clone();
    let opened = tokio::task::spawn_blocking(move || {
        crate::pkcs11::provider::TokenProvider::open(&settings)
    })
    .await
    .map_err(|e| KeyManagerError::Token {
        message: e.to_string(),
    })?
    .map_err(|e| KeyManagerError::Token {
        message: e.to_string(),
    })?;
    tracing::info!(provider = %opened.provider(), "PKCS#11 token opened");
    Ok(Arc::new(opened))
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn termination() -> Result<&'static str, AppError> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| AppError::Signal("SIGTERM", e))?;
    tokio::select! {
        _ = term.recv() => Ok("SIGTERM"),
        r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT").map_err(|e| AppError::Signal("SIGINT", e)),
    }
}

/// Runs the controller until SIGTERM.
///
/// # Errors
/// A startup step failed (see [`AppError`]).
#[allow(clippy::too_many_lines)]
pub async fn run(settings: Settings) -> Result<(), AppError> {
    if settings.rotate_period_used {
        eprintln!("Flag --rotate-period has been deprecated, use --key-renew-period instead");
    }
    if let Some(bad) = &settings.key_order_priority_invalid {
        tracing::error!(value = %bad, "invalid --key-order-priority, using CertNotBefore");
    }
    tracing::info!(version = VERSION, "starting sealed-secrets controller");

    // 1. Metrics.
    let metrics =
        Metrics::new(VERSION)?.omitting_secret_labels(settings.metrics_omit_secret_labels);

    // 2. Client.
    let config = kube_client::load_config(settings.kubeconfig.as_deref()).await?;
    // The Lease has a client of its own, unthrottled (two calls every retry period): behind the
    // reconciles' client-side limit a renewal could wait past the renew deadline and a busy
    // leader would lose its lease to its own traffic.
    let lease_client = kube_client::build_client(config.clone(), -1.0, 0)?;
    let client =
        kube_client::build_client(config, settings.kubeclient_qps, settings.kubeclient_burst)?;
    let own_namespace = kube_client::own_namespace();
    tracing::info!(namespace = %own_namespace, "controller namespace (keys live here)");

    // 4–6. Keys.
    let registry = Arc::new(KeyRegistry::new());
    let token = match &settings.pkcs11 {
        Some(p11) => Some(open_token(p11).await?),
        None => None,
    };
    let manager = KeyManager::new(
        client.clone(),
        KeyParams {
            namespace: own_namespace.clone(),
            prefix: settings.key_prefix.clone(),
            bits: settings.key_size,
            ttl: settings.key_ttl,
            common_name: settings.my_cn.clone(),
            labels: settings.privatekey_labels.clone(),
            annotations: settings.privatekey_annotations.clone(),
            priority: settings.key_order_priority,
        },
        Arc::clone(&registry),
    );
    let manager = match token {
        Some(token) => manager.with_token(token),
        None => manager,
    };
    let manager = Arc::new(match &settings.kms {
        Some(kms) => {
            let wrapper =
                crate::kms::aws::AwsKms::from_settings(kms).map_err(|e| KeyManagerError::Kms {
                    message: e.to_string(),
                })?;
            tracing::info!(provider = crate::kms::aws::PROVIDER, key = %kms.key_id, "key Secrets are wrapped by a KMS key");
            manager.with_kms(Arc::new(wrapper), kms.migrate)
        }
        None => manager,
    });
    let loaded = manager.load().await? + manager.load_token().await?;
    tracing::info!(keys = loaded, "loaded sealing keys");
    let mut elector = settings.leader_elect.then(|| {
        LeaderElector::new(
            Api::namespaced(lease_client.clone(), &own_namespace),
            &settings.leader_elect_lease,
            leader::identity(),
            Timing::default(),
        )
    });
    // Followers learn the leader's new keys from the watch.
    if settings.watch_for_secrets || elector.is_some() {
        tokio::spawn(Arc::clone(&manager).watch_keys());
    }
    // Installed now: SIGUSR1's default action would kill a follower.
    let usr1 = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
        .map_err(|e| AppError::Signal("SIGUSR1", e))?;

    let unsealer = Unsealer::new(
        metrics.clone(),
        UnsealOptions {
            accept_v1_data: settings.accept_v1_data,
            template_time: Some(crate::controller::TEMPLATE_TIME),
            ..UnsealOptions::default()
        },
    );
    let readiness = Arc::new(Readiness::default());
    let shared = Arc::new(Shared {
        client: client.clone(),
        keys: Arc::clone(&registry),
        metrics: metrics.clone(),
        unsealer: unsealer.clone(),
        recorder: Arc::new(Recorder::new(client.clone())),
        config: ReconcileConfig {
            accept_v1_data: settings.accept_v1_data,
            update_status: settings.update_status,
            old_gc_behavior: settings.old_gc_behavior,
            skip_unchanged: settings.skip_unchanged,
            max_unseal_retries: settings.max_unseal_retries,
            fan_out: settings.fan_out,
        },
        readiness: Arc::clone(&readiness),
    });

    // 9. HTTP servers: once the keys exist, before any namespace is checked or watched (as
    // upstream v0.39), so the certificate and /healthz answer however long the watches take
    // to list; /readyz tells when they have. A follower serves from the start.
    let request_timeout = settings.read_timeout + settings.write_timeout;
    let (limiter, peer_limiter) =
        ServerState::limiters(settings.rate_limit, settings.rate_limit_burst);
    let state = Arc::new(ServerState {
        keys: Arc::clone(&registry),
        unsealer,
        metrics: metrics.clone(),
        limiter,
        peer_limiter,
        readiness: Arc::clone(&readiness),
        web_sealer: settings.web_sealer,
    });
    if elector.is_none() {
        key_guard::ensure_initial_key(&manager, &registry, &client, &settings, &own_namespace)
            .await?;
    } else {
        // A follower runs no watch: ready once its keys are loaded (it serves certificates and
        // verifies); on becoming the leader it is not ready until its watches have listed.
        readiness.bootstrapped();
    }
    let listener = server::bind(&settings.listen_addr)
        .await
        .map_err(|source| AppError::Listen {
            addr: settings.listen_addr.clone(),
            source,
        })?;
    let metrics_listener = server::bind(&settings.listen_metrics_addr)
        .await
        .map_err(|source| AppError::Listen {
            addr: settings.listen_metrics_addr.clone(),
            source,
        })?;
    tracing::info!(
        addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        metrics_addr = %metrics_listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        "HTTP servers listening"
    );
    let (http_stop_tx, http_stop_rx) = tokio::sync::watch::channel(false);
    let wait_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let main_server = tokio::spawn(server::serve(
        listener,
        server::router(state, request_timeout),
        wait_stop(http_stop_rx.clone()),
    ));
    let metrics_server = tokio::spawn(server::serve(
        metrics_listener,
        server::metrics_router(metrics, request_timeout),
        wait_stop(http_stop_rx),
    ));

    // Leadership (at once without --leader-elect): keys, renewal, controllers.
    let termination = termination();
    tokio::pin!(termination);
    let leading = async {
        if let Some(elector) = elector.as_mut() {
            elector.acquire().await;
            key_guard::ensure_initial_key(&manager, &registry, &client, &settings, &own_namespace)
                .await?;
        }
        Ok::<_, AppError>(
            start_leading(&settings, &manager, &shared, &client, &own_namespace, usr1).await,
        )
    };
    let started = tokio::select! {
        signal = &mut termination => Err(signal?),
        started = leading => Ok(started?),
    };
    let (stops, controllers, outcome) = match started {
        Err(signal) => (Vec::new(), Vec::new(), Ok(signal)),
        Ok((stops, controllers)) => {
            let outcome = match elector.as_mut() {
                Some(elector) => tokio::select! {
                    signal = &mut termination => Ok(signal?),
                    lost = elector.hold() => Err(lost),
                },
                None => Ok((&mut termination).await?),
            };
            (stops, controllers, outcome)
        }
    };

    // 10. Shut down: on a signal, or when leadership is lost (then exit non-zero to restart
    // as a follower).
    match &outcome {
        Ok(signal) => tracing::info!(signal, "shutting down"),
        Err(lost) => tracing::error!(error = %lost, "shutting down"),
    }
    let _ = http_stop_tx.send(true);
    for stop in stops {
        let _ = stop.send(());
    }
    let grace = Duration::from_secs(10);
    for (name, handle) in [("main", main_server), ("metrics", metrics_server)] {
        match tokio::time::timeout(grace, handle).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(server = name, error = %e, "HTTP server failed"),
            Ok(Err(e)) => tracing::error!(server = name, error = %e, "HTTP server task failed"),
            Err(_) => tracing::warn!(server = name, "HTTP server did not stop in time"),
        }
    }
    for handle in controllers {
        let _ = tokio::time::timeout(grace, handle).await;
    }
    match outcome {
        Ok(_) => {
            if let Some(elector) = elector.as_mut() {
                elector.release().await;
            }
            Ok(())
        }
        Err(lost) => Err(AppError::Leadership(lost)),
    }
}

/// What the leader runs: the renewal schedule and SIGUSR1, the certificate ConfigMap, and one
/// controller per watched namespace set. Returns the controllers' stop channels and tasks.
async fn start_leading(
    settings: &Settings,
    manager: &Arc<KeyManager>,
    shared: &Arc<Shared>,
    client: &kube::Client,
    own_namespace: &str,
    mut usr1: tokio::signal::unix::Signal,
) -> (Vec<oneshot::Sender<()>>, Vec<tokio::task::JoinHandle<()>>) {
    let (trigger_tx, trigger_rx) = mpsc::channel::<()>(4);
    tokio::spawn(Arc::clone(manager).run_renewal(settings.key_renew_period, trigger_rx));
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            tracing::info!("SIGUSR1 received, generating a new key");
            if trigger_tx.send(()).await.is_err() {
                return;
            }
        }
    });
    // Only the leader writes the ConfigMap; it follows the registry, so keys made here, by
    // SIGUSR1 or seen by the key watch all reach it.
    if let Some(name) = &settings.cert_configmap {
        let publisher = CertPublisher::new(client.clone(), own_namespace, name);
        tokio::spawn(publisher.run(Arc::clone(&shared.keys)));
    }

    shared.readiness.bootstrapping();
    let namespaces: Vec<Option<String>> = match settings.watch_scope(own_namespace) {
        WatchScope::All => vec![None],
        WatchScope::Namespaces(list) => existing_namespaces(client, list, own_namespace)
            .await
            .into_iter()
            .map(Some)
            .collect(),
    };
    let mut stops = Vec::new();
    let mut controllers = Vec::new();
    for namespace in namespaces {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        stops.push(stop_tx);
        let options = WatchOptions {
            namespace,
            label_selector: settings.label_selector.clone(),
            watch_secrets: !settings.skip_recreate,
            watch_list: settings.watch_list,
            concurrency: CONCURRENCY,
        };
        shared.readiness.add();
        let shared = Arc::clone(shared);
        controllers.push(tokio::spawn(async move {
            controller::run(&shared, options, stop_rx.map(|_| ())).await;
        }));
    }
    shared.readiness.bootstrapped();
    (stops, controllers)
}
