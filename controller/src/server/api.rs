//! The two endpoints that decrypt (SPEC §3.10): `/v1/verify` and `/v1/rotate`, and the rate
//! limits in front of them. Each gives one answer to every failure (see [`super`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sealed_secrets_core::types::SealedSecret;

use super::{MAX_BODY, ServerState, empty, text_response};
use crate::rate_limit::RateLimiter;
use crate::unseal::UnsealTaskError;

/// Decodes a request body as one SealedSecret (JSON or YAML, with `apiVersion` and `kind`).
/// `single_document` rejects YAML streams holding more than one document. Fuzzed as
/// `fuzz/fuzz_targets/http_body.rs`.
#[must_use]
pub fn decode_sealed_secret(body: &[u8], single_document: bool) -> Option<SealedSecret> {
    sealed_secrets_core::manifest::decode_sealed_secret_body(body, single_document)
}

async fn read_body(body: Body) -> Option<Bytes> {
    axum::body::to_bytes(body, MAX_BODY).await.ok()
}

pub(super) async fn verify(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let Some(ss) = read_body(request.into_body())
        .await
        .and_then(|body| decode_sealed_secret(&body, true))
    else {
        return empty(StatusCode::CONFLICT);
    };
    match state.unsealer.verify(state.keys.snapshot(), ss).await {
        Ok(()) => empty(StatusCode::OK),
        Err(e) => {
            if let UnsealTaskError::Task(e) = &e {
                tracing::error!(error = %e, "verify failed");
            }
            empty(StatusCode::CONFLICT)
        }
    }
}

pub(super) async fn rotate(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let Some(ss) = read_body(request.into_body())
        .await
        .and_then(|body| decode_sealed_secret(&body, false))
    else {
        return empty(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let mut resealed = match state.unsealer.reseal(state.keys.snapshot(), ss).await {
        Ok(resealed) => resealed,
        Err(e) => {
            if let UnsealTaskError::Task(e) = &e {
                tracing::warn!(error = %e, "rotate failed");
            }
            return empty(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    // Upstream's output has no kind/apiVersion (its decoder clears the type meta).
    resealed.kind.clear();
    resealed.api_version.clear();
    match sealed_secrets_core::manifest::to_json_compact(&resealed) {
        Ok(json) => {
            let mut resp = (StatusCode::OK, json).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the rotated SealedSecret");
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// GCRA limits on `/v1/verify` and `/v1/rotate` with throttled's headers: per client (the
/// last `X-Forwarded-For` hop, else the peer address) and, looser, per peer address.
pub(super) async fn rate_limited(
    State(state): State<Arc<ServerState>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let forwarded_for = request
        .headers()
        .get_all("X-Forwarded-For")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok());
    let path = request.uri().path();
    let client = RateLimiter::client(forwarded_for, peer);
    let decision = state
        .limiter
        .check(&RateLimiter::key(Some(client.as_str()), path));
    let peer_key = format!("peer {}", peer.map(|p| p.to_string()).unwrap_or_default());
    let limited = decision.limited
        || state
            .peer_limiter
            .check(&RateLimiter::key(Some(peer_key.as_str()), path))
            .limited;
    let mut response = if limited {
        text_response(StatusCode::TOO_MANY_REQUESTS, "limit exceeded\n")
    } else {
        next.run(request).await
    };
    for (name, value) in decision.headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::Router;
    use axum::http::{StatusCode, header};
    use sealed_secrets_core::seal::UnsealOptions;
    use sealed_secrets_core::types::SealedSecret;

    use super::decode_sealed_secret;
    use crate::key_registry::KeyEntry;
    use crate::server::router;
    use crate::server::tests::{call, key_entry, sealed_json, send, state};

    #[tokio::test]
    async fn verify_codes_and_rate_limit() {
        let st = state(true);
        let router = router(Arc::clone(&st), Duration::from_secs(5));
        let good = sealed_json(&st, "s");
        let (code, headers, body) = call(&router, "POST", "/v1/verify", good.clone()).await;
        assert_eq!((code, body.as_str()), (StatusCode::OK, ""));
        assert_eq!(headers["X-RateLimit-Limit"], "3");
        assert_eq!(headers["X-RateLimit-Remaining"], "2");
        // Renamed: the strict scope label no longer matches.
        let renamed = good.replace("\"name\":\"s\"", "\"name\":\"other\"");
        let (code, _, _) = call(&router, "POST", "/v1/verify", renamed).await;
        assert_eq!(code, StatusCode::CONFLICT);
        // Every failure is the same 409 (upstream: 500 for a body that does not decode).
        let (code, _, body) = call(&router, "POST", "/v1/verify", "{nope".into()).await;
        assert_eq!((code, body.as_str()), (StatusCode::CONFLICT, ""));
        // Burst exhausted (limit 3 per key).
        let (code, headers, body) = call(&router, "POST", "/v1/verify", good).await;
        assert_eq!(
            (code, body.as_str()),
            (StatusCode::TOO_MANY_REQUESTS, "limit exceeded\n")
        );
        assert!(headers.contains_key("Retry-After"));
        let (_, metrics) = st.metrics.encode();
        let text = String::from_utf8(metrics).unwrap();
        assert!(text.contains("sealed_secrets_controller_http_requests_total{code=\"429\",method=\"post\",path=\"/v1/verify\"} 1"), "{text}");
        assert!(text.contains("sealed_secrets_controller_http_requests_total{code=\"409\",method=\"post\",path=\"/v1/verify\"} 2"), "{text}");
    }

    #[tokio::test]
    async fn verify_rejects_multi_document_yaml_and_wrong_kind() {
        let st = state(true);
        let router = router(Arc::clone(&st), Duration::from_secs(5));
        let doc = "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: s\n  namespace: ns\nspec:\n  encryptedData: {}\n";
        assert!(decode_sealed_secret(doc.as_bytes(), true).is_some());
        let multi = format!("{doc}---\n{doc}");
        assert!(decode_sealed_secret(multi.as_bytes(), true).is_none());
        assert!(decode_sealed_secret(multi.as_bytes(), false).is_some());
        let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n";
        assert!(decode_sealed_secret(secret.as_bytes(), true).is_none());
        let untyped = "metadata:\n  name: s\nspec:\n  encryptedData: {}\n";
        assert!(decode_sealed_secret(untyped.as_bytes(), true).is_none());
        let (code, _, _) = call(&router, "POST", "/v1/verify", multi).await;
        assert_eq!(code, StatusCode::CONFLICT);
    }

    #[tokio::test]
    async fn rotate_reseals_for_the_latest_key() {
        let st = state(true);
        let router = router(Arc::clone(&st), Duration::from_secs(5));
        let input = sealed_json(&st, "s");
        // A newer key becomes the latest.
        let newer = key_entry();
        let newer_fp = newer.fingerprint.clone();
        st.keys.register(KeyEntry {
            order_time: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
            ..newer
        });
        let (code, headers, body) = call(&router, "POST", "/v1/rotate", input.clone()).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert!(!body.contains("\"kind\""), "{body}");
        assert!(!body.contains("apiVersion"), "{body}");
        assert_ne!(body, input);
        let mut out: SealedSecret = serde_json::from_str(&body).unwrap();
        out.kind = "SealedSecret".into();
        out.api_version = "bitnami.com/v1alpha1".into();
        let snapshot = st.keys.snapshot();
        let only_new = snapshot.by_fingerprint(newer_fp.as_str()).unwrap();
        let unsealed =
            sealed_secrets_core::seal::unseal(&out, &[&*only_new.key], &UnsealOptions::default())
                .unwrap();
        assert_eq!(unsealed.secret.data["foo"].expose(), b"bar");
        let (code, _, _) = call(&router, "POST", "/v1/rotate", "garbage".into()).await;
        assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
    }

    async fn call_from(
        router: &Router,
        path: &str,
        body: String,
        forwarded_for: &str,
    ) -> (StatusCode, String) {
        let (status, _, body) = send(router, "POST", path, body, forwarded_for).await;
        (status, body)
    }

    #[tokio::test]
    async fn verify_and_rotate_run_no_template_and_answer_every_guess_alike() {
        let st = state(true);
        let router = router(Arc::clone(&st), Duration::from_secs(5));
        let good = sealed_json(&st, "s");
        let mut answers = Vec::new();
        for (i, guess) in ["b", "x"].iter().enumerate() {
            let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
            v["spec"]["template"]["data"] = serde_json::json!({
                "t": format!("{{{{ if hasPrefix \"{guess}\" .foo }}}}{{{{ fail \"y\" }}}}{{{{ end }}}}"),
            });
            let body = v.to_string();
            let client = format!("10.9.0.{i}");
            let verify = call_from(&router, "/v1/verify", body.clone(), &client).await;
            let (code, rotated) = call_from(&router, "/v1/rotate", body, &client).await;
            let rotated: serde_json::Value = serde_json::from_str(&rotated).unwrap();
            // The template is carried through as it was, unrendered.
            assert_eq!(
                rotated["spec"]["template"]["data"],
                v["spec"]["template"]["data"]
            );
            answers.push((verify, code));
        }
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0].0.0, StatusCode::OK);
        assert_eq!(answers[0].1, StatusCode::OK);
    }

    #[tokio::test]
    async fn rotate_is_rate_limited_and_forged_hops_do_not_help() {
        let st = state(true);
        let router = router(Arc::clone(&st), Duration::from_secs(5));
        let good = sealed_json(&st, "s");
        let mut codes = Vec::new();
        for i in 0..6 {
            // A client writes whatever it likes first; the proxy appends the real hop.
            let forged = format!("198.51.100.{i}, 10.1.1.1");
            codes.push(
                call_from(&router, "/v1/rotate", good.clone(), &forged)
                    .await
                    .0,
            );
        }
        assert_eq!(
            codes.iter().filter(|c| **c == StatusCode::OK).count(),
            3,
            "{codes:?}"
        );
        assert_eq!(
            codes
                .iter()
                .filter(|c| **c == StatusCode::TOO_MANY_REQUESTS)
                .count(),
            3
        );
        // Another client has its own budget.
        let (code, _) = call_from(&router, "/v1/rotate", good, "10.1.1.2").await;
        assert_eq!(code, StatusCode::OK);
    }
}
