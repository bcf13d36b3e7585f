//! Errors of one reconcile, and how each is retried (SPEC §3.3 outcome rules).
//!
//! `Display` is the text that goes into the `Synced` condition message, so it follows upstream:
//! the unseal error as the core crate words it, the API server's own message for API failures,
//! `failed update: Resource "<name>" already exists and is not managed by SealedSecret` for the
//! ownership gate. No variant ever carries plaintext or key material.

use sealed_secrets_core::seal::UnsealError;

use crate::target_secret::unmanaged_message;
use crate::unseal::UnsealTaskError;

/// Why a reconcile failed.
///
/// Each variant keeps the error it comes from as its [`source`](std::error::Error::source);
/// `Display` renders the text that reaches the status, the logs and (for most) the event, which
/// is pinned by tests: see `docs/security.md` before changing one.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// No registered key opened the SealedSecret, or a template failed; with the condition
    /// reason a diagnosis found (empty, as upstream, when there is none).
    #[error("{source}")]
    Unseal {
        #[source]
        source: UnsealError,
        reason: &'static str,
    },
    /// A Secret read, create or update failed; the text is the API server's message.
    #[error("{}", api_error_text(.source))]
    SecretApi {
        #[source]
        source: kube::Error,
    },
    /// A Secret read, create or update failed because the API server could not be reached or
    /// was overloaded (see [`is_transient`]); the text is the client's or server's message.
    #[error("{}", api_error_text(.source))]
    Unavailable {
        #[source]
        source: kube::Error,
    },
    /// The Secret is immutable and its data would change; the text is the API server's message.
    #[error("{}", api_error_text(.source))]
    Immutable {
        #[source]
        source: kube::Error,
    },
    /// The Secret `name` exists and the controller may not write over it.
    #[error("failed update: {}", unmanaged_message(.name))]
    Unmanaged { name: String },
    /// A sealing key could not be used (a PKCS#11 token away, a session lost): says nothing
    /// about the object, so no `Synced` verdict is written and it is retried (ADR 0005 §2).
    #[error("{source}")]
    KeyUnavailable {
        #[source]
        source: UnsealError,
    },
    /// A blocking task failed (a bug, never a user error).
    #[error("internal error: {source}")]
    Internal {
        #[source]
        source: UnsealTaskError,
    },
}

impl ReconcileError {
    /// The `Synced` condition's reason for this error (addition; upstream leaves it empty).
    #[must_use]
    pub fn condition_reason(&self) -> &'static str {
        match self {
            ReconcileError::Unseal { reason, .. } => reason,
            _ => "",
        }
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryPolicy {
    /// Requeue with back-off, up to `--max-unseal-retries` times.
    Backoff,
    /// Wait for a change (of the SealedSecret, or of the key set for unseal failures).
    AwaitChange,
    /// Requeue with back-off capped at a minute, never giving up: the failure says nothing about
    /// the object, and no change event may come to wake it up after the API server is back.
    UntilAvailable,
}

impl ReconcileError {
    /// Upstream gives up at once on immutable errors and retries the rest. Retrying an unseal
    /// failure repeats the same RSA work for the same answer, so we wait for a change instead:
    /// a spec change, or a key registered at runtime (which re-queues every SealedSecret).
    #[must_use]
    pub fn retry_policy(&self) -> RetryPolicy {
        match self {
            ReconcileError::Immutable { .. } | ReconcileError::Unseal { .. } => {
                RetryPolicy::AwaitChange
            }
            ReconcileError::Unavailable { .. } | ReconcileError::KeyUnavailable { .. } => {
                RetryPolicy::UntilAvailable
            }
            ReconcileError::SecretApi { .. }
            | ReconcileError::Unmanaged { .. }
            | ReconcileError::Internal { .. } => RetryPolicy::Backoff,
        }
    }
}

/// The message a Go client would print for an API error: the Status message when the server
/// sent one, else the transport error.
#[must_use]
pub fn api_error_text(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// Whether `err` is a 404 from the API server.
#[must_use]
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}

/// Whether `err` is a 409 conflict from the API server.
#[must_use]
pub fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

/// Whether `err` says nothing about the request itself: the API server could not be reached (a
/// connection refused or reset, a timeout, a failed token refresh) or answered 429 or 5xx.
#[must_use]
pub fn is_transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_)
        | kube::Error::Service(_)
        | kube::Error::ReadEvents(_)
        | kube::Error::Auth(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_policies() {
        let e = ReconcileError::Unmanaged { name: "s".into() };
        assert_eq!(
            e.to_string(),
            "failed update: Resource \"s\" already exists and is not managed by SealedSecret"
        );
        assert_eq!(e.retry_policy(), RetryPolicy::Backoff);
        assert_eq!(
            ReconcileError::Unseal {
                source: UnsealError::V1NoKey,
                reason: "",
            }
            .retry_policy(),
            RetryPolicy::AwaitChange
        );
        assert_eq!(
            ReconcileError::Immutable {
                source: kube::Error::Service("x".into())
            }
            .retry_policy(),
            RetryPolicy::AwaitChange
        );
        let api = kube::Error::Api(Box::new(
            kube::core::Status::failure("boom", "Conflict").with_code(409),
        ));
        assert_eq!(api_error_text(&api), "boom");
        assert!(is_conflict(&api));
        assert!(!is_not_found(&api));
        assert!(!is_transient(&api));
        assert_eq!(
            ReconcileError::Unavailable {
                source: kube::Error::Service("client error (Connect)".into())
            }
            .retry_policy(),
            RetryPolicy::UntilAvailable
        );
        let token_away = ReconcileError::KeyUnavailable {
            source: UnsealError::KeyUnavailable {
                reason: "C_Decrypt: DeviceRemoved".into(),
            },
        };
        assert_eq!(token_away.retry_policy(), RetryPolicy::UntilAvailable);
        assert_eq!(
            token_away.to_string(),
            "sealing key unavailable: C_Decrypt: DeviceRemoved"
        );
    }

    #[test]
    fn texts_are_the_sources_and_the_sources_are_kept() {
        use std::error::Error as _;
        let api = || {
            kube::Error::Api(Box::new(
                kube::core::Status::failure("the server says no", "Forbidden").with_code(403),
            ))
        };
        for e in [
            ReconcileError::SecretApi { source: api() },
            ReconcileError::Unavailable { source: api() },
            ReconcileError::Immutable { source: api() },
        ] {
            assert_eq!(e.to_string(), "the server says no");
            assert!(e.source().is_some());
            assert_eq!(e.condition_reason(), "");
        }
        let e = ReconcileError::Unavailable {
            source: kube::Error::Service("client error (Connect)".into()),
        };
        assert_eq!(e.to_string(), "ServiceError: client error (Connect)");
        let e = ReconcileError::Unseal {
            source: UnsealError::V1NoKey,
            reason: "WrongKey",
        };
        assert_eq!(
            (e.to_string().as_str(), e.condition_reason()),
            ("no key could decrypt secret", "WrongKey")
        );
        assert!(e.source().is_some());
        let e = ReconcileError::Internal {
            source: UnsealTaskError::Task("panicked".into()),
        };
        assert_eq!(
            e.to_string(),
            "internal error: the unseal task failed: panicked"
        );
    }

    #[test]
    fn transient_errors() {
        let status = |code| {
            kube::Error::Api(Box::new(
                kube::core::Status::failure("x", "x").with_code(code),
            ))
        };
        for code in [429, 500, 502, 503, 504] {
            assert!(is_transient(&status(code)), "{code}");
        }
        for code in [400, 403, 404, 409, 410, 422] {
            assert!(!is_transient(&status(code)), "{code}");
        }
        assert!(is_transient(&kube::Error::Service(
            "connect refused".into()
        )));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(is_transient(&kube::Error::ReadEvents(io)));
        assert!(!is_transient(&kube::Error::TlsRequired));
    }
}
