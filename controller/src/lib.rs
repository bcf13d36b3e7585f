//! The sealed-secrets-rs controller: unseals `bitnami.com/v1alpha1` SealedSecrets into Secrets,
//! a drop-in successor to the Bitnami Sealed Secrets controller (see `docs/controller.md`).
//!
//! Module map:
//! - [`cli`]: upstream's flags and `SEALED_SECRETS_*` variables, checked into [`cli::Settings`].
//! - [`app`]: startup and shutdown.
//! - [`controller`]: the reconciler and its error policy; its cluster operations
//!   ([`controller::Cluster`]) and the watches in submodules. [`error`]: why a reconcile failed.
//! - [`target_secret`]: ownership gate and merge rules for the produced Secret.
//! - [`value_errors`]: values that could not be computed, recorded only on the Secret.
//! - [`status`]: the `Synced` condition.
//! - [`digest`]: keyed digests that let unchanged objects skip decryption.
//! - [`key_registry`]: sealing keys held for unsealing; its key manager: discovery,
//!   generation, renewal.
//! - [`cert_configmap`]: the active certificate published in a ConfigMap (addition).
//! - [`key_guard`]: no silent replacement of lost keys at start-up (addition).
//! - [`unseal`]: RSA work off the async runtime.
//! - [`server`], [`rate_limit`], [`http_conn`]: the HTTP API and its connection bounds.
//! - [`metrics`], [`events`], [`telemetry`]: observability.
//! - [`resource`], [`crd`]: the SealedSecret kube type and its CRD.
//! - [`kube_client`]: cluster configuration and client-side throttling.

pub mod app;
pub mod cert_configmap;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod digest;
pub mod error;
pub mod events;
pub mod fan_out;
pub mod go_flags;
pub mod http_conn;
pub mod key_guard;
pub mod key_registry;
pub mod kms;
pub mod kube_client;
pub mod leader;
pub mod metrics;
pub mod pkcs11;
pub mod rate_limit;
pub mod resource;
pub mod server;
pub mod status;
pub mod target_secret;
pub mod telemetry;
pub mod unseal;
pub mod value_errors;
