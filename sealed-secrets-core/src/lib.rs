//! The Sealed Secrets format, shared by `kubeseal-rs` and `sealed-secrets-controller`.
//!
//! Everything here is pure: no async runtime, no Kubernetes client, no process or file IO.
//! The wire format follows upstream Bitnami Sealed Secrets v0.36.6 byte for byte
//! (see `docs/wire-format.md`).
//!
//! Module map:
//! - [`secret_bytes`]: plaintext containers that zeroize on drop and never print their contents.
//! - [`scope`]: sealing scopes and the OAEP label each one binds.
//! - [`keys`]: RSA public/private keys (aws-lc-rs), PEM parsing, SSH-style fingerprints.
//! - [`cert`]: X.509 certificates: parsing, expiry, self-signed generation like the controller.
//! - [`crypto`]: the hybrid RSA-OAEP + AES-256-GCM blob format.
//! - [`types`]: SealedSecret, Secret and ObjectMeta, serialized in upstream's field order.
//! - [`manifest`]: reading JSON/YAML document streams, writing upstream-identical JSON and YAML.
//! - [`template`]: `spec.template.data`, rendered by the `go-template` crate on [`SecretBytes`](secret_bytes::SecretBytes).
//! - [`seal`]: sealing a Secret into a SealedSecret and unsealing it back.
//! - [`key_secret`]: the `kubernetes.io/tls` key Secrets the controller stores its keys in.
//! - [`edit`]: format-preserving text edits of one mapping entry in a manifest file.
//! - [`check`]: offline consistency checks of SealedSecret manifests (the CI gate).
//! - [`digest`]: the controller's record of the keys that opened a SealedSecret (format only).
//! - [`names`]: every annotation and label name both programs read or write.
//! - [`public_cert`]: where the controller publishes its certificate for clients (addition).
//! - [`web`]: the browser sealer page, served by the controller and written by `kubeseal-rs web`.

/// The upstream Bitnami Sealed Secrets release both programs are compatible with (the pinned
/// peer of the interop tests); `kubeseal-rs --version` names it.
pub const UPSTREAM_COMPAT_VERSION: &str = "v0.40.0";

pub mod cert;
pub mod check;
pub mod crypto;
pub mod diagnose;
pub mod digest;
pub mod edit;
pub mod key_secret;
pub mod keys;
pub mod manifest;
pub mod names;
pub mod public_cert;
pub mod scope;
pub mod seal;
pub mod sealed_at;
pub mod secret_bytes;
pub mod template;
pub mod types;
pub mod web;
pub mod wrapped_key;
