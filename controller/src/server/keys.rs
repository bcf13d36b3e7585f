//! `GET /v1/keys` (addition, issue 19): the registered keys and where each lives, public
//! information only (fingerprint, provider, certificate dates), for operators and
//! `docs/keys.md`. The same rows are published in the certificate ConfigMap
//! (`cert_configmap.rs`), where `kubeseal-rs keys list` reads the keys that have no Secret.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sealed_secrets_core::public_cert::KeyListingRow;
use time::format_description::well_known::Rfc3339;

use super::ServerState;
use crate::key_registry::KeySet;

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn rows(keys: &KeySet) -> Vec<KeyListingRow> {
    let latest = keys.latest().map(|l| l.fingerprint.clone());
    keys.unseal_order()
        .iter()
        .map(|entry| KeyListingRow {
            fingerprint: entry.fingerprint.to_string(),
            provider: entry.provider.to_string(),
            name: entry.secret_name.clone(),
            not_before: rfc3339(entry.cert.not_before()),
            not_after: rfc3339(entry.cert.not_after()),
            latest: latest.as_ref() == Some(&entry.fingerprint),
        })
        .collect()
}

/// The listing as compact JSON, as published in the certificate ConfigMap
/// (`sealed_secrets_core::public_cert::KEYS_DATA_KEY`).
#[must_use]
pub fn keys_json(keys: &KeySet) -> String {
    serde_json::to_string(&rows(keys)).unwrap_or_else(|_| "[]".to_owned())
}

pub(super) async fn list(State(state): State<Arc<ServerState>>) -> Response {
    let rows = rows(&state.keys.snapshot());
    match serde_json::to_string_pretty(&rows) {
        Ok(mut body) => {
            body.push('\n');
            let mut resp = (StatusCode::OK, body).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
