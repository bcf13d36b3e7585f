//! How far discovery may look beyond `--controller-namespace`, and which certificates found
//! there are trusted (see the module docs of `cluster`).

use super::ClusterError;

/// Where discovery may look beyond `--controller-namespace`.
#[derive(Clone, Debug, Default)]
pub(super) struct Reach {
    /// `--discover-all-namespaces`: any namespace, trusted.
    pub(super) all_namespaces: bool,
    /// Fingerprints pinned in the repository config: other namespaces are searched, and what
    /// is found there is used only when its certificate is one of these.
    pub(super) pins: Vec<String>,
}

impl Reach {
    pub(super) fn beyond(&self) -> bool {
        self.all_namespaces || !self.pins.is_empty()
    }
}

/// Every fingerprint the repository config pins (any environment, and its certificate file).
/// A missing or unusable config pins nothing, which only narrows discovery.
pub(super) fn pinned_fingerprints(config: Option<&std::path::Path>) -> Vec<String> {
    let Ok(Some(config)) = crate::repo_config::load(config) else {
        return Vec::new();
    };
    let mut pins = Vec::new();
    for env in &config.environments {
        pins.extend(env.fingerprints.iter().cloned());
        if let Ok(Some(cert)) = env.load_cert() {
            pins.push(cert.fingerprint().to_string());
        }
    }
    pins
}

/// Refuses a certificate found in `found_namespace` outside `namespace` unless `reach` trusts
/// every namespace or pins its fingerprint. `from` names where it was found.
pub(super) fn admit_cert(
    reach: &Reach,
    namespace: &str,
    found_namespace: &str,
    from: &str,
    pem: &[u8],
) -> Result<(), ClusterError> {
    if found_namespace == namespace || reach.all_namespaces {
        return Ok(());
    }
    let fingerprint = sealed_secrets_core::cert::Certificate::from_pem(pem).map_or_else(
        |_| "(not a certificate)".to_owned(),
        |c| c.fingerprint().to_string(),
    );
    if reach.pins.contains(&fingerprint) {
        return Ok(());
    }
    Err(ClusterError::NotPinned {
        from: from.to_owned(),
        namespace: namespace.to_owned(),
        fingerprint,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use super::*;

    #[test]
    fn certificates_from_other_namespaces_need_a_pin_or_the_flag() {
        let pem = include_bytes!("../../../sealed-secrets-core/tests/data/rsa4096-cert.pem");
        let fingerprint = sealed_secrets_core::cert::Certificate::from_pem(pem)
            .unwrap()
            .fingerprint()
            .to_string();
        let strict = Reach::default();
        assert!(!strict.beyond());
        assert!(admit_cert(&strict, "kube-system", "kube-system", "configmap x", pem).is_ok());
        let refused = admit_cert(&strict, "kube-system", "tenant", "configmap tenant/c", pem)
            .unwrap_err()
            .to_string();
        assert_eq!(
            refused,
            format!(
                "the certificate found in configmap tenant/c is outside --controller-namespace kube-system and its fingerprint {fingerprint} is not pinned in the repository config; name the controller with --controller-namespace, or pass --discover-all-namespaces to trust it"
            )
        );
        let pinned = Reach {
            all_namespaces: false,
            pins: vec![fingerprint.clone()],
        };
        assert!(pinned.beyond());
        assert!(admit_cert(&pinned, "kube-system", "tenant", "configmap tenant/c", pem).is_ok());
        let other_pin = Reach {
            all_namespaces: false,
            pins: vec!["SHA256:other".to_owned()],
        };
        assert!(admit_cert(&other_pin, "kube-system", "tenant", "service tenant/s", pem).is_err());
        let all = Reach {
            all_namespaces: true,
            pins: Vec::new(),
        };
        assert!(admit_cert(&all, "kube-system", "tenant", "service tenant/s", pem).is_ok());
    }
}
