//! The HTTP API (SPEC §3.10–§3.11) on `--listen-addr` and the metrics server on
//! `--listen-metrics-addr`.
//!
//! Paths are exact and any method is accepted, as Go's `ServeMux`. `/v1/*` requests are counted
//! in `http_requests_total` / `http_request_duration_seconds`; `/v1/verify` and `/v1/rotate` are
//! rate-limited (upstream v0.40). The server starts as soon as the keys are loaded, before any
//! watch has listed anything (upstream v0.39, #2018): `/healthz` (liveness) answers `ok` from
//! then on, as upstream's; `/readyz` answers 503 until every watch cache has synced (upstream's
//! only waits for its informers to be started). Differences from upstream (SPEC §7.18):
//! `/v1/rotate` keeps the template metadata (upstream overwrites it with the outer metadata)
//! and labels its JSON body `application/json`.
//!
//! Anyone who reaches the Service may call these with any ciphertext from git, so neither
//! endpoint runs a template (upstream v0.39/v0.40) and each gives one answer to every failure:
//! `/v1/verify` 409 with an empty body, `/v1/rotate` 500 with an empty body. The answer then
//! depends only on whether the items decrypt, never on a plaintext (docs/security.md).
//!
//! `/` serves the browser sealer (docs/web.md) unless `--web-sealer=false`: a static page that
//! fetches `/v1/cert.pem` and seals in the browser. It is not a `/v1/*` path, so it is neither
//! counted nor rate-limited; upstream answers 404 there.

mod api;
mod keys;

pub use api::decode_sealed_secret;
pub use keys::keys_json;

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use sealed_secrets_core::web::{CspMode, Page};
use tokio::net::TcpListener;

use crate::controller::Readiness;
use crate::key_registry::KeyRegistry;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::unseal::Unsealer;

/// Largest request body read: the API server's own limit on a request body (3 MiB), so any
/// SealedSecret it stores fits, in JSON or in YAML.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What the handlers share.
pub struct ServerState {
    pub keys: Arc<KeyRegistry>,
    pub unsealer: Unsealer,
    pub metrics: Metrics,
    /// Per client: the last `X-Forwarded-For` hop (the one the API server's proxy appends), or
    /// the peer address without that header.
    pub limiter: RateLimiter,
    /// Per peer address, [`PEER_LIMIT_FACTOR`] times looser: bounds what a client that reaches
    /// the Service directly gets by forging `X-Forwarded-For`.
    pub peer_limiter: RateLimiter,
    pub readiness: Arc<Readiness>,
    /// Serve the browser sealer at `/` (`--web-sealer`).
    pub web_sealer: bool,
}

/// How much looser the per-peer limit is than the per-client one.
pub const PEER_LIMIT_FACTOR: u32 = 8;

impl ServerState {
    /// The two limiters for `rate` per second with `burst`.
    #[must_use]
    pub fn limiters(rate: u32, burst: u32) -> (RateLimiter, RateLimiter) {
        (
            RateLimiter::new(rate, burst),
            RateLimiter::new(
                rate.saturating_mul(PEER_LIMIT_FACTOR),
                burst.saturating_add(1).saturating_mul(PEER_LIMIT_FACTOR),
            ),
        )
    }
}

fn text_response(status: StatusCode, body: &'static str) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp.headers_mut().insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn empty(status: StatusCode) -> Response {
    (status, Body::empty()).into_response()
}

/// Liveness: the process serves (its keys are loaded). Also what the chart's readiness probe
/// asks, as upstream's chart: the API this Service carries needs no watch cache.
async fn healthz() -> Response {
    text_response(StatusCode::OK, "ok\n")
}

/// Whether the controller is reconciling: every watch cache of every namespace-controller has
/// listed everything once (a follower has none). Upstream's texts.
async fn readyz(State(state): State<Arc<ServerState>>) -> Response {
    if state.readiness.is_ready() {
        text_response(StatusCode::OK, "ok\n")
    } else {
        text_response(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

async fn cert_pem(State(state): State<Arc<ServerState>>) -> Response {
    let keys = state.keys.snapshot();
    match keys.latest() {
        Some(entry) => {
            let mut resp = (StatusCode::OK, entry.cert.to_pem()).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-pem-file"),
            );
            resp
        }
        None => text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot get certificate\n",
        ),
    }
}

/// The browser sealer page, assembled once: it fetches the certificate itself.
static WEB_PAGE: LazyLock<Page> =
    LazyLock::new(|| sealed_secrets_core::web::page(None, CspMode::Served));

async fn web_page() -> Response {
    let mut resp = (StatusCode::OK, WEB_PAGE.html.as_str()).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(csp) = HeaderValue::from_str(&WEB_PAGE.csp_header) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn not_found() -> Response {
    text_response(StatusCode::NOT_FOUND, "404 page not found\n")
}

/// Counts `/v1/*` requests by path, method and code (upstream's `Instrument`).
async fn instrument(
    State(state): State<Arc<ServerState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .observe_http(&path, &method, response.status().as_u16(), start.elapsed());
    response
}

/// Requests that take longer than `limit` get a 503 (Go's server closes the connection).
async fn timeout(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => empty(StatusCode::SERVICE_UNAVAILABLE),
    }
}

/// The main router.
pub fn router(state: Arc<ServerState>, request_timeout: Duration) -> Router {
    let instrumented = middleware::from_fn_with_state(Arc::clone(&state), instrument);
    let mut router = Router::new();
    if state.web_sealer {
        router = router.route("/", any(web_page));
    }
    router
        .route("/healthz", any(healthz))
        .route("/readyz", any(readyz))
        .route("/v1/cert.pem", any(cert_pem).layer(instrumented.clone()))
        .route("/v1/keys", any(keys::list).layer(instrumented.clone()))
        .route(
            "/v1/verify",
            any(api::verify)
                .layer(middleware::from_fn_with_state(
                    Arc::clone(&state),
                    api::rate_limited,
                ))
                .layer(instrumented.clone()),
        )
        .route(
            "/v1/rotate",
            any(api::rotate)
                .layer(middleware::from_fn_with_state(
                    Arc::clone(&state),
                    api::rate_limited,
                ))
                .layer(instrumented),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(move |req, next| {
            timeout(request_timeout, req, next)
        }))
        .with_state(state)
}

/// The metrics router (`/metrics` only), answering as upstream's `promhttp.Handler()`:
/// content type and gzip negotiated from the request (see [`crate::metrics::exposition`]).
pub fn metrics_router(metrics: Metrics, request_timeout: Duration) -> Router {
    Router::new()
        .route(
            "/metrics",
            any(move |headers: axum::http::HeaderMap| {
                let metrics = metrics.clone();
                async move {
                    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
                    let exposition = crate::metrics::exposition::expose(
                        &metrics,
                        header(header::ACCEPT),
                        header(header::ACCEPT_ENCODING),
                    );
                    let mut resp = (StatusCode::OK, exposition.body).into_response();
                    if let Ok(v) = HeaderValue::from_str(&exposition.content_type) {
                        resp.headers_mut().insert(header::CONTENT_TYPE, v);
                    }
                    if let Some(encoding) = exposition.content_encoding {
                        resp.headers_mut()
                            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
                    }
                    resp
                }
            }),
        )
        .fallback(not_found)
        .layer(middleware::from_fn(move |req, next| {
            timeout(request_timeout, req, next)
        }))
}

/// Binds a Go-style listen address: `:8080` means every interface (IPv6 and IPv4 when
/// possible), anything else is resolved as given.
///
/// # Errors
/// Nothing could be bound.
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("invalid port in {addr:?}"),
            )
        })?;
        match TcpListener::bind(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port))).await {
            Ok(listener) => Ok(listener),
            Err(_) => {
                TcpListener::bind(SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port))).await
            }
        }
    } else {
        TcpListener::bind(addr).await
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, with the connection bounds of
/// [`crate::http_conn`].
///
/// # Errors
/// The server failed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::http_conn::serve(
        listener,
        router,
        crate::http_conn::ConnectionLimits::default(),
        shutdown,
    )
    .await
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::key_registry::KeyEntry;
    use axum::http::Request as HttpRequest;
    use sealed_secrets_core::cert::{CertParams, Certificate};
    use sealed_secrets_core::keys::PrivateKey;
    use sealed_secrets_core::seal::{SealOptions, UnsealOptions, seal_secret};
    use sealed_secrets_core::secret_bytes::SecretBytes;
    use sealed_secrets_core::types::{ObjectMeta, Secret};
    use tower::ServiceExt as _;

    pub(crate) fn key_entry() -> KeyEntry {
        let key = PrivateKey::generate(2048).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let cert = Certificate::self_signed(&key, &CertParams::controller_default(now)).unwrap();
        KeyEntry::new(key, cert, now, "k".into())
    }

    pub(crate) fn state(with_key: bool) -> Arc<ServerState> {
        let keys = Arc::new(KeyRegistry::new());
        if with_key {
            keys.register(key_entry());
        }
        let metrics = Metrics::new("test").unwrap();
        Arc::new(ServerState {
            keys,
            unsealer: Unsealer::new(metrics.clone(), UnsealOptions::default()),
            metrics,
            limiter: RateLimiter::new(2, 2),
            peer_limiter: RateLimiter::new(16, 24),
            readiness: Arc::new(Readiness::default()),
            web_sealer: true,
        })
    }

    pub(crate) fn sealed_json(state: &ServerState, name: &str) -> String {
        let snapshot = state.keys.snapshot();
        let public = snapshot.latest().unwrap().key.public_key().clone();
        let secret = Secret {
            kind: "Secret".into(),
            api_version: "v1".into(),
            metadata: ObjectMeta {
                name: name.into(),
                namespace: "ns".into(),
                ..ObjectMeta::default()
            },
            data: [("foo".to_owned(), SecretBytes::from_slice(b"bar"))].into(),
            ..Secret::default()
        };
        let ss = seal_secret(secret, &public, &SealOptions::default()).unwrap();
        serde_json::to_string(&ss).unwrap()
    }

    pub(crate) async fn call(
        router: &Router,
        method: &str,
        path: &str,
        body: String,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        send(router, method, path, body, "10.1.2.3").await
    }

    /// One request with `X-Forwarded-For: forwarded_for`: (status, headers, body).
    pub(crate) async fn send(
        router: &Router,
        method: &str,
        path: &str,
        body: String,
        forwarded_for: &str,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let request = HttpRequest::builder()
            .method(method)
            .uri(path)
            .header("X-Forwarded-For", forwarded_for)
            .body(Body::from(body))
            .unwrap();
        let (status, headers, bytes) = respond(router, request).await;
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// The router's answer to `request`: (status, headers, body).
    async fn respond(
        router: &Router,
        request: axum::http::Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let resp = router.clone().oneshot(request).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, bytes.to_vec())
    }

    #[tokio::test]
    async fn healthz_is_live_while_readyz_follows_the_caches() {
        let st = state(true);
        let router = router(Arc::clone(&st), Duration::from_secs(5));
        let get = |path: &'static str| {
            let router = router.clone();
            async move {
                let (code, headers, body) = call(&router, "GET", path, String::new()).await;
                assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
                (code, body)
            }
        };
        let ok = (StatusCode::OK, "ok\n".to_owned());
        let not_ready = (StatusCode::SERVICE_UNAVAILABLE, "not ready\n".to_owned());
        // Before any namespace-controller is registered, and while one lists.
        assert_eq!(get("/healthz").await, ok);
        assert_eq!(get("/readyz").await, not_ready);
        st.readiness.add();
        st.readiness.add();
        st.readiness.bootstrapped();
        assert_eq!(get("/readyz").await, not_ready);
        st.readiness.done();
        assert_eq!(get("/readyz").await, not_ready);
        assert_eq!(get("/healthz").await, ok);
        // The certificate is served all along.
        let (code, _, _) = call(&router, "GET", "/v1/cert.pem", String::new()).await;
        assert_eq!(code, StatusCode::OK);
        st.readiness.done();
        assert_eq!(get("/readyz").await, ok);
        // A follower that becomes the leader lists again.
        st.readiness.bootstrapping();
        assert_eq!(get("/readyz").await, not_ready);
        assert_eq!(get("/healthz").await, ok);
        // Neither is counted in the /v1 metrics.
        let text = String::from_utf8(st.metrics.encode().1).unwrap();
        assert!(!text.contains("z\""), "{text}");
    }

    #[tokio::test]
    async fn cert_pem_serves_latest_or_500() {
        let router = router(state(true), Duration::from_secs(5));
        let (code, headers, body) = call(&router, "GET", "/v1/cert.pem", String::new()).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/x-pem-file");
        assert!(body.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(body.ends_with("-----END CERTIFICATE-----\n"));
        // Any method is accepted.
        let (code, _, _) = call(&router, "POST", "/v1/cert.pem", String::new()).await;
        assert_eq!(code, StatusCode::OK);
        let router = super::router(state(false), Duration::from_secs(5));
        let (code, _, body) = call(&router, "GET", "/v1/cert.pem", String::new()).await;
        assert_eq!(
            (code, body.as_str()),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot get certificate\n"
            )
        );
    }

    #[tokio::test]
    async fn keys_lists_public_facts_with_the_provider() {
        let router = router(state(true), Duration::from_secs(5));
        let (code, headers, body) = call(&router, "GET", "/v1/keys", String::new()).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(rows[0]["provider"], "secret");
        assert_eq!(rows[0]["latest"], true);
        assert!(
            rows[0]["fingerprint"]
                .as_str()
                .unwrap()
                .starts_with("SHA256:")
        );
        assert!(!body.contains("PRIVATE"), "{body}");
    }

    #[tokio::test]
    async fn unknown_paths_are_404() {
        let router = router(state(false), Duration::from_secs(5));
        let (code, _, body) = call(&router, "GET", "/v1/nope", String::new()).await;
        assert_eq!(
            (code, body.as_str()),
            (StatusCode::NOT_FOUND, "404 page not found\n")
        );
        let metrics = metrics_router(Metrics::new("t").unwrap(), Duration::from_secs(5));
        let (code, _, body) = call(&metrics, "GET", "/metrics", String::new()).await;
        assert_eq!(code, StatusCode::OK);
        assert!(body.contains("sealed_secrets_controller_build_info"));
        let (code, _, _) = call(&metrics, "GET", "/", String::new()).await;
        assert_eq!(code, StatusCode::NOT_FOUND);
    }

    /// Scrapes `/metrics` with these request headers: status, headers, raw body.
    async fn scrape(
        router: &Router,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut request = HttpRequest::builder().method("GET").uri("/metrics");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        respond(router, request.body(Body::empty()).unwrap()).await
    }

    #[tokio::test]
    async fn metrics_gzip_round_trip() {
        use std::io::Read as _;
        let metrics = metrics_router(Metrics::new("t").unwrap(), Duration::from_secs(5));
        let (code, headers, plain) = scrape(&metrics, &[]).await;
        assert_eq!(code, StatusCode::OK);
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
        let (code, headers, zipped) =
            scrape(&metrics, &[("Accept-Encoding", "gzip, deflate")]).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        let mut text = String::new();
        flate2::read::GzDecoder::new(zipped.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        let plain = String::from_utf8(plain).unwrap();
        // The same exposition, but for the scrape counters that moved in between.
        let families = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| l.starts_with("# TYPE"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(families(&text), families(&plain));
        assert!(zipped.len() < text.len());
        let (_, headers, _) = scrape(&metrics, &[("Accept-Encoding", "gzip;q=0")]).await;
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
    }

    #[tokio::test]
    async fn metrics_content_type_is_promhttp_text() {
        let metrics = metrics_router(Metrics::new("t").unwrap(), Duration::from_secs(5));
        let (_, headers, _) = scrape(&metrics, &[]).await;
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
        );
        // What Prometheus 3 sends by default: text, with the escaping it asked for.
        let accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                      text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
                      text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        let (_, headers, body) = scrape(&metrics, &[("Accept", accept)]).await;
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8"
        );
        assert!(String::from_utf8(body).unwrap().contains("# TYPE "));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn metrics_have_go_process_families() {
        let metrics = metrics_router(Metrics::new("t").unwrap(), Duration::from_secs(5));
        let (_, _, body) = scrape(&metrics, &[]).await;
        let text = String::from_utf8(body).unwrap();
        let mut families = vec![
            "process_cpu_seconds_total counter",
            "process_open_fds gauge",
            "process_max_fds gauge",
            "process_virtual_memory_bytes gauge",
            "process_virtual_memory_max_bytes gauge",
            "process_resident_memory_bytes gauge",
            "process_start_time_seconds gauge",
            "promhttp_metric_handler_requests_total counter",
            "promhttp_metric_handler_requests_in_flight gauge",
        ];
        if std::path::Path::new("/proc/self/net/netstat").exists() {
            families.push("process_network_receive_bytes_total counter");
            families.push("process_network_transmit_bytes_total counter");
        }
        for family in families {
            let type_line = format!("# TYPE {family}");
            assert!(
                text.lines().any(|l| l == type_line),
                "no {type_line} in\n{text}"
            );
        }
        assert!(!text.contains("\ngo_"), "{text}");
    }

    #[tokio::test]
    async fn web_sealer_page_has_a_strict_policy_and_no_certificate() {
        let st = state(true);
        let router = router(Arc::clone(&st), Duration::from_secs(5));
        let (code, headers, body) = call(&router, "GET", "/", String::new()).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'sha256-"),
            "{csp}"
        );
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert!(csp.ends_with("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(body.starts_with("<!DOCTYPE html>"));
        // The page fetches the current certificate; none is baked in.
        assert!(!body.contains("BEGIN CERTIFICATE-----\n"));
        assert!(body.contains("'v1/cert.pem'"));
        // Not a /v1 path: not counted.
        let (_, metrics) = st.metrics.encode();
        let text = String::from_utf8(metrics).unwrap();
        assert!(!text.contains("path=\"/\""), "{text}");
        // Only `/` exactly.
        let (code, _, _) = call(&router, "GET", "/index.html", String::new()).await;
        assert_eq!(code, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn web_sealer_off_is_404_and_the_api_is_unchanged() {
        let st = Arc::new(ServerState {
            web_sealer: false,
            ..Arc::into_inner(state(true)).unwrap()
        });
        let router = router(st, Duration::from_secs(5));
        let (code, headers, body) = call(&router, "GET", "/", String::new()).await;
        assert_eq!(
            (code, body.as_str()),
            (StatusCode::NOT_FOUND, "404 page not found\n")
        );
        assert!(headers.get(header::CONTENT_SECURITY_POLICY).is_none());
        let (code, _, _) = call(&router, "GET", "/v1/cert.pem", String::new()).await;
        assert_eq!(code, StatusCode::OK);
    }
}
