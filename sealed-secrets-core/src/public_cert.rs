//! Names that let clients find the controller and its certificate without the API server's
//! service proxy (addition; upstream has none of this).
//!
//! The controller publishes its active certificate in a ConfigMap in its own namespace
//! (`--cert-configmap`, default [`DEFAULT_CONFIGMAP_NAME`]), labelled [`LABEL`]`=`[`LABEL_VALUE`],
//! with the PEM under [`DATA_KEY`] exactly as `/v1/cert.pem` serves it and the certificate's
//! fingerprint in [`FINGERPRINT_ANNOTATION`]. `kubeseal-rs` reads it when the proxy cannot reach
//! the controller (private control planes), and finds the controller's Service by
//! [`SERVICE_SELECTOR`] when the named one does not exist. Both programs use these constants,
//! so they cannot drift apart.

/// The ConfigMap's default name (`--cert-configmap`).
pub const DEFAULT_CONFIGMAP_NAME: &str = "sealed-secrets-cert";

/// The label that marks the ConfigMap as the controller's (a ConfigMap of the same name without
/// it is someone else's: the controller leaves it alone and clients ignore it), and its value.
pub use crate::names::{PUBLIC_CERT_LABEL as LABEL, PUBLIC_CERT_LABEL_VALUE as LABEL_VALUE};

/// The data key holding the certificate PEM.
pub const DATA_KEY: &str = "cert.pem";

/// The data key holding the controller's registered keys as JSON, as `GET /v1/keys` lists them
/// (fingerprint, provider, name, validity, latest: public facts), for `kubeseal-rs keys list`
/// to show keys that have no Secret (PKCS#11 tokens).
pub const KEYS_DATA_KEY: &str = "keys.json";

/// One row of the controller's key listing (`GET /v1/keys`, and [`KEYS_DATA_KEY`]): public
/// facts only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyListingRow {
    pub fingerprint: String,
    /// `secret`, `pkcs11:<token label>` or `kms:<key id>`.
    pub provider: String,
    /// The key Secret's name, or the token key's label.
    pub name: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// The key new SealedSecrets are sealed for (served on `/v1/cert.pem`).
    pub latest: bool,
}

/// The annotation recording which certificate the ConfigMap holds (`SHA256:…`).
pub use crate::names::CERT_FINGERPRINT_ANNOTATION as FINGERPRINT_ANNOTATION;

/// `LABEL=LABEL_VALUE`, as a label selector.
#[must_use]
pub fn configmap_selector() -> String {
    format!("{LABEL}={LABEL_VALUE}")
}

/// Services that front a sealed secrets controller (label selector).
pub use crate::names::CONTROLLER_SERVICE_SELECTOR as SERVICE_SELECTOR;

/// Whether a ConfigMap with this value of [`LABEL`] (if any) is the controller's.
#[must_use]
pub fn is_ours(label_value: Option<&str>) -> bool {
    label_value == Some(LABEL_VALUE)
}

/// Whether `name` can name a ConfigMap (a DNS-1123 subdomain: at most 253 lowercase letters,
/// digits, `-` and `.`, starting and ending with a letter or digit).
#[must_use]
pub fn valid_configmap_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    name.len() <= 253
        && edge(bytes.first())
        && edge(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_configmap_name(DEFAULT_CONFIGMAP_NAME));
        assert!(valid_configmap_name("a.b-c9"));
        for bad in ["", "-a", "a-", "A", "a_b", "a b", &"a".repeat(254)] {
            assert!(!valid_configmap_name(bad), "{bad:?}");
        }
        assert_eq!(configmap_selector(), "sealed-secrets-rs/public-cert=true");
        assert!(is_ours(Some("true")));
        assert!(!is_ours(Some("false")));
        assert!(!is_ours(None));
    }
}
