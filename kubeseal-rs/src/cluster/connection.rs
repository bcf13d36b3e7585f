//! Resolving the connection to the API server from the merged kubeconfig and kubectl's
//! override flags, with client-go's precedence rules (see `kubeconfig.rs` for the loading and
//! merging): which context, cluster and user; trust settings; credentials (token, tokenFile,
//! basic auth, client certificate, or an exec plugin when nothing else identifies the user);
//! and the in-cluster fallback when no kubeconfig names a server.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::exec::ExecConfig;
use super::kubeconfig::{
    KubeconfigError, Merged, Overrides, SERVICE_ACCOUNT_DIR, SecretString, load,
};

/// A client certificate and its key, PEM.
pub struct ClientIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientIdentity([redacted])")
    }
}

/// Impersonation headers (`--as`, `--as-uid`, `--as-group`).
#[derive(Clone, Debug, Default)]
pub struct Impersonation {
    pub user: String,
    pub uid: Option<String>,
    pub groups: Vec<String>,
}

/// An exec credential plugin to run, with what it may need to know.
#[derive(Clone, Debug)]
pub struct ExecPlugin {
    pub config: ExecConfig,
    pub user_name: String,
    /// `spec.cluster` for `provideClusterInfo`.
    pub cluster_info: serde_json::Value,
}

/// Everything needed to talk to one API server.
#[derive(Debug)]
pub struct Connection {
    /// Base URL, no trailing slash (it may carry a path prefix).
    pub server: String,
    /// Where this came from, for error messages: `context "x" (kubeconfig /path)`.
    pub origin: String,
    pub ca_pem: Option<Vec<u8>>,
    pub insecure: bool,
    pub tls_server_name: Option<String>,
    pub proxy_url: Option<String>,
    pub client_identity: Option<ClientIdentity>,
    pub token: Option<SecretString>,
    pub basic: Option<(String, SecretString)>,
    pub exec: Option<ExecPlugin>,
    pub impersonation: Option<Impersonation>,
    pub timeout: Option<Duration>,
}

/// Resolves the connection from the kubeconfig files and the override flags, falling back to
/// the in-cluster configuration as client-go does.
///
/// # Errors
/// Files that cannot be read, a context/cluster/user that does not exist, conflicting
/// settings, or no configuration at all.
pub fn connection(
    explicit: Option<&Path>,
    overrides: &Overrides,
) -> Result<Connection, KubeconfigError> {
    let merged = load(explicit, false)?;
    connection_from(&merged, overrides, &InClusterEnv::from_process())
}

/// What the in-cluster fallback reads, injectable for tests.
#[derive(Clone, Debug, Default)]
pub struct InClusterEnv {
    pub host: Option<String>,
    pub port: Option<String>,
    pub dir: PathBuf,
}

impl InClusterEnv {
    fn from_process() -> Self {
        Self {
            host: std::env::var("KUBERNETES_SERVICE_HOST").ok(),
            port: std::env::var("KUBERNETES_SERVICE_PORT").ok(),
            dir: PathBuf::from(SERVICE_ACCOUNT_DIR),
        }
    }

    fn possible(&self) -> bool {
        self.host.as_deref().is_some_and(|h| !h.is_empty())
            && self.port.as_deref().is_some_and(|p| !p.is_empty())
            && self.dir.join("token").is_file()
    }
}

fn has_cluster_overrides(o: &Overrides) -> bool {
    o.server.is_some()
        || o.certificate_authority.is_some()
        || o.insecure_skip_tls_verify
        || o.tls_server_name.is_some()
        || o.proxy_url.is_some()
}

/// [`connection`] on an already merged configuration.
///
/// # Errors
/// As for [`connection`].
#[allow(clippy::too_many_lines)] // one linear walk through client-go's precedence rules
pub fn connection_from(
    merged: &Merged,
    overrides: &Overrides,
    in_cluster: &InClusterEnv,
) -> Result<Connection, KubeconfigError> {
    let files = merged.files_text();
    let context_name = overrides
        .context
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| merged.current_context.clone());
    let context = match &context_name {
        Some(name) => match merged.contexts.get(name) {
            Some(c) => Some(c),
            None => {
                return Err(KubeconfigError::ContextNotFound {
                    name: name.clone(),
                    files,
                });
            }
        },
        None => None,
    };
    let context_value = context.map(|c| c.value.clone()).unwrap_or_default();

    let cluster_name = overrides
        .cluster
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| context_value.cluster.clone())
        .unwrap_or_default();
    let cluster_entry = merged.clusters.get(&cluster_name);
    if overrides.cluster.as_deref().is_some_and(|c| !c.is_empty()) && cluster_entry.is_none() {
        return Err(KubeconfigError::ClusterNotFound {
            name: cluster_name,
            files,
        });
    }
    let user_name = overrides
        .user
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| context_value.user.clone())
        .unwrap_or_default();
    let user_entry = merged.users.get(&user_name);
    if overrides.user.as_deref().is_some_and(|u| !u.is_empty()) && user_entry.is_none() {
        return Err(KubeconfigError::UserNotFound {
            name: user_name,
            files,
        });
    }

    // No cluster anywhere: the in-cluster configuration, when running in a pod.
    let cluster_empty = cluster_entry.is_none_or(|c| {
        c.value.server.as_deref().unwrap_or_default().is_empty()
            && c.value.certificate_authority.is_none()
            && c.value.certificate_authority_data.is_none()
    }) && !has_cluster_overrides(overrides);
    if cluster_empty {
        if in_cluster.possible() {
            return in_cluster_connection(in_cluster, overrides);
        }
        if merged.is_empty() {
            return Err(KubeconfigError::NoConfiguration);
        }
        if context_name.is_none() && cluster_name.is_empty() {
            return Err(KubeconfigError::NoContext { files });
        }
        if cluster_entry.is_none() {
            return Err(KubeconfigError::ClusterNotFound {
                name: cluster_name,
                files,
            });
        }
    }

    let origin = match (&context_name, context) {
        (Some(name), Some(c)) => format!("context {name:?} (kubeconfig {})", c.file.display()),
        _ if merged.files.is_empty() => "command-line flags".to_owned(),
        _ => format!("kubeconfig {files}"),
    };
    let invalid = |problem: String| KubeconfigError::Invalid {
        origin: origin.clone(),
        problem,
    };

    // The cluster, with the override flags applied.
    let mut cluster = cluster_entry.map(|c| c.value.clone()).unwrap_or_default();
    if let Some(server) = &overrides.server {
        cluster.server = Some(server.clone());
    }
    if overrides.server.is_some() || overrides.tls_server_name.is_some() {
        cluster
            .tls_server_name
            .clone_from(&overrides.tls_server_name);
    }
    if overrides.insecure_skip_tls_verify || overrides.certificate_authority.is_some() {
        cluster.insecure_skip_tls_verify = Some(overrides.insecure_skip_tls_verify);
        cluster.certificate_authority = overrides
            .certificate_authority
            .as_ref()
            .map(|p| p.display().to_string());
        cluster.certificate_authority_data = None;
    }
    if let Some(proxy) = &overrides.proxy_url {
        cluster.proxy_url = Some(proxy.clone());
    }
    let server = cluster.server.clone().unwrap_or_default();
    if server.is_empty() {
        return Err(invalid(format!(
            "no server found for cluster {cluster_name:?}"
        )));
    }
    let ca_file = cluster
        .certificate_authority
        .clone()
        .filter(|s| !s.is_empty());
    let ca_data = cluster
        .certificate_authority_data
        .clone()
        .filter(|s| !s.is_empty());
    if ca_file.is_some() && ca_data.is_some() {
        return Err(invalid(format!(
            "certificate-authority-data and certificate-authority are both specified for cluster {cluster_name:?}"
        )));
    }
    let insecure = cluster.insecure_skip_tls_verify.unwrap_or(false);
    if insecure && (ca_file.is_some() || ca_data.is_some()) {
        return Err(invalid(format!(
            "cluster {cluster_name:?} sets both a certificate authority and insecure-skip-tls-verify"
        )));
    }
    let ca_pem = match (ca_file, ca_data) {
        (Some(path), _) => Some(read_referenced(&origin, "certificate-authority", &path)?.to_vec()),
        (None, Some(data)) => Some(
            decode_base64(&data)
                .map_err(|()| invalid("certificate-authority-data is not base64".to_owned()))?
                .to_vec(),
        ),
        (None, None) => None,
    };

    // The user, with the override flags applied.
    let mut user = user_entry.map(|u| u.value.clone()).unwrap_or_default();
    if let Some(token) = &overrides.token {
        user.token = Some(token.clone());
    }
    if let Some(username) = &overrides.username {
        user.username = Some(username.clone());
    }
    if let Some(password) = &overrides.password {
        user.password = Some(password.clone());
    }
    if overrides.client_certificate.is_some() {
        user.client_certificate = overrides
            .client_certificate
            .as_ref()
            .map(|p| p.display().to_string());
        user.client_certificate_data = None;
    }
    if overrides.client_key.is_some() {
        user.client_key = overrides
            .client_key
            .as_ref()
            .map(|p| p.display().to_string());
        user.client_key_data = None;
    }
    if let Some(name) = &overrides.impersonate {
        user.impersonate = Some(name.clone());
    }
    if let Some(uid) = &overrides.impersonate_uid {
        user.as_uid = Some(uid.clone());
    }
    if !overrides.impersonate_groups.is_empty() {
        user.as_groups = Some(overrides.impersonate_groups.clone());
    }

    let token = match user.token.clone().filter(|t| !t.is_empty()) {
        Some(token) => Some(token),
        None => match user.token_file.as_deref().filter(|f| !f.is_empty()) {
            Some(path) => {
                let bytes = read_referenced(&origin, "tokenFile", path)?;
                let text = String::from_utf8_lossy(&bytes).trim().to_owned();
                Some(SecretString::new(text))
            }
            None => None,
        },
    };
    let username = user.username.clone().filter(|u| !u.is_empty());
    let password = user.password.clone().filter(|p| !p.is_empty());
    let basic = match (username, password) {
        (None, None) => None,
        (u, p) => Some((u.unwrap_or_default(), p.unwrap_or_default())),
    };
    if token.is_some() && basic.is_some() {
        return Err(invalid(format!(
            "more than one authentication method found for user {user_name:?}; found token and basicAuth, only one is allowed"
        )));
    }

    let cert_file = user.client_certificate.clone().filter(|s| !s.is_empty());
    let cert_data = user
        .client_certificate_data
        .clone()
        .filter(|s| !s.is_empty());
    let key_file = user.client_key.clone().filter(|s| !s.is_empty());
    let key_data = user.client_key_data.clone().filter(|s| !s.is_empty());
    let client_identity = if cert_file.is_some() || cert_data.is_some() {
        if cert_file.is_some() && cert_data.is_some() {
            return Err(invalid(format!(
                "client-certificate-data and client-certificate are both specified for user {user_name:?}"
            )));
        }
        if key_file.is_some() && key_data.is_some() {
            return Err(invalid(format!(
                "client-key-data and client-key are both specified for user {user_name:?}"
            )));
        }
        let cert_pem = match (cert_file, cert_data) {
            (Some(path), _) => read_referenced(&origin, "client-certificate", &path)?.to_vec(),
            (None, Some(data)) => decode_base64(&data)
                .map_err(|()| invalid("client-certificate-data is not base64".to_owned()))?
                .to_vec(),
            (None, None) => Vec::new(),
        };
        let key_pem = match (key_file, key_data) {
            (Some(path), _) => read_referenced(&origin, "client-key", &path)?,
            (None, Some(data)) => decode_base64(data.expose())
                .map_err(|()| invalid("client-key-data is not base64".to_owned()))?,
            (None, None) => {
                return Err(invalid(format!(
                    "client-key-data or client-key must be specified for user {user_name:?} to use a client certificate"
                )));
            }
        };
        Some(ClientIdentity { cert_pem, key_pem })
    } else {
        None
    };

    let identified = token.is_some() || basic.is_some() || client_identity.is_some();
    let exec = match (&user.exec, identified) {
        (Some(exec), false) => Some(ExecPlugin {
            config: exec.clone(),
            user_name: user_name.clone(),
            cluster_info: serde_json::json!({
                "server": server,
                "tls-server-name": cluster.tls_server_name.clone().unwrap_or_default(),
                "insecure-skip-tls-verify": insecure,
                "certificate-authority-data": ca_pem.as_ref().map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
                "proxy-url": cluster.proxy_url.clone().unwrap_or_default(),
            }),
        }),
        _ => None,
    };
    if let (Some(provider), false, None) = (&user.auth_provider, identified, &exec) {
        return Err(invalid(format!(
            "user {user_name:?} uses auth-provider {:?}, which kubeseal-rs does not support; use an exec credential plugin (client.authentication.k8s.io)",
            provider.name
        )));
    }
    let impersonation = user
        .impersonate
        .clone()
        .filter(|u| !u.is_empty())
        .map(|name| Impersonation {
            user: name,
            uid: user.as_uid.clone().filter(|u| !u.is_empty()),
            groups: user.as_groups.clone().unwrap_or_default(),
        });

    Ok(Connection {
        server: normalize_server(&server),
        origin,
        ca_pem,
        insecure,
        tls_server_name: cluster.tls_server_name.filter(|s| !s.is_empty()),
        proxy_url: cluster.proxy_url.filter(|s| !s.is_empty()),
        client_identity,
        token,
        basic,
        exec,
        impersonation,
        timeout: overrides.request_timeout,
    })
}

/// The in-cluster configuration (`rest.InClusterConfig`): the service host and port, the
/// service-account token and CA. `--token` and the trust flags still apply.
fn in_cluster_connection(
    env: &InClusterEnv,
    overrides: &Overrides,
) -> Result<Connection, KubeconfigError> {
    let origin = "in-cluster configuration".to_owned();
    let host = env.host.clone().unwrap_or_default();
    let port = env.port.clone().unwrap_or_default();
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    let token = match &overrides.token {
        Some(token) => token.clone(),
        None => {
            let bytes = read_referenced(
                &origin,
                "service-account token",
                &env.dir.join("token").display().to_string(),
            )?;
            SecretString::new(String::from_utf8_lossy(&bytes).trim().to_owned())
        }
    };
    let (ca_pem, insecure) = if overrides.insecure_skip_tls_verify {
        (None, true)
    } else {
        let path = overrides
            .certificate_authority
            .clone()
            .unwrap_or_else(|| env.dir.join("ca.crt"));
        // client-go carries on without the CA when ca.crt is missing; so do we (the system
        // roots then apply).
        (
            crate::input::read_file_io(&path, crate::input::MANIFEST_LIMIT)
                .ok()
                .map(|b| b.to_vec()),
            false,
        )
    };
    Ok(Connection {
        server: format!("https://{host}:{port}"),
        origin,
        ca_pem,
        insecure,
        tls_server_name: overrides.tls_server_name.clone(),
        proxy_url: overrides.proxy_url.clone(),
        client_identity: None,
        token: Some(token),
        basic: None,
        exec: None,
        impersonation: overrides.impersonate.clone().map(|user| Impersonation {
            user,
            uid: overrides.impersonate_uid.clone(),
            groups: overrides.impersonate_groups.clone(),
        }),
        timeout: overrides.request_timeout,
    })
}

/// `https://` when the server has no scheme (client-go's default), no trailing slash.
fn normalize_server(server: &str) -> String {
    let server = server.trim();
    let with_scheme = if server.contains("://") {
        server.to_owned()
    } else {
        format!("https://{server}")
    };
    with_scheme.trim_end_matches('/').to_owned()
}

fn read_referenced(
    origin: &str,
    what: &'static str,
    path: &str,
) -> Result<Zeroizing<Vec<u8>>, KubeconfigError> {
    crate::input::read_file_io(Path::new(path), crate::input::MANIFEST_LIMIT).map_err(|source| {
        KubeconfigError::ReadReferenced {
            origin: origin.to_owned(),
            what,
            path: PathBuf::from(path),
            source,
        }
    })
}

fn decode_base64(text: &str) -> Result<Zeroizing<Vec<u8>>, ()> {
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| ())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use super::*;
    use crate::cluster::kubeconfig::tests::{A, B, merged_from, write};

    fn no_pod() -> InClusterEnv {
        InClusterEnv::default()
    }

    #[test]
    fn connection_uses_context_cluster_and_user() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pki")).unwrap();
        write(&dir.path().join("pki"), "ca.crt", "CA");
        write(&dir.path().join("pki"), "alice.crt", "CERT");
        write(&dir.path().join("pki"), "alice.key", "KEY");
        let a = write(dir.path(), "a.yaml", A);
        let b = write(dir.path(), "b.yaml", B);
        let merged = merged_from(&[&a, &b]);
        let conn = connection_from(&merged, &Overrides::default(), &no_pod()).unwrap();
        assert_eq!(conn.server, "https://a.example:6443");
        assert_eq!(conn.ca_pem.as_deref(), Some(&b"CA"[..]));
        let id = conn.client_identity.as_ref().unwrap();
        assert_eq!(id.cert_pem, b"CERT");
        assert_eq!(&id.key_pem[..], b"KEY");
        assert!(conn.origin.contains("context \"a\""), "{}", conn.origin);

        // --context b: bob's token and impersonation; the cluster "shared" is still a's.
        let overrides = Overrides {
            context: Some("b".to_owned()),
            ..Overrides::default()
        };
        let conn = connection_from(&merged, &overrides, &no_pod()).unwrap();
        assert_eq!(conn.token.as_ref().unwrap().expose(), "bob-token");
        assert!(conn.client_identity.is_none());
        let imp = conn.impersonation.unwrap();
        assert_eq!(imp.user, "admin");
        assert_eq!(imp.groups, vec!["ops".to_owned()]);
        assert!(!format!("{:?}", conn.token).contains("bob-token"));
    }

    #[test]
    fn overrides_follow_client_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "k.yaml",
            r"
current-context: c
clusters:
- name: c
  cluster:
    server: https://c.example/
    tls-server-name: inner.example
    certificate-authority-data: Q0E=
contexts:
- name: c
  context: {cluster: c, user: u}
users:
- name: u
  user: {token: file-token}
",
        );
        let merged = merged_from(&[&path]);
        let conn = connection_from(&merged, &Overrides::default(), &no_pod()).unwrap();
        assert_eq!(conn.server, "https://c.example");
        assert_eq!(conn.tls_server_name.as_deref(), Some("inner.example"));
        assert_eq!(conn.ca_pem.as_deref(), Some(&b"CA"[..]));

        let overrides = Overrides {
            server: Some("other.example:443".to_owned()),
            insecure_skip_tls_verify: true,
            token: Some(SecretString::new("flag-token".to_owned())),
            ..Overrides::default()
        };
        let conn = connection_from(&merged, &overrides, &no_pod()).unwrap();
        assert_eq!(conn.server, "https://other.example:443");
        assert_eq!(
            conn.tls_server_name, None,
            "--server clears tls-server-name"
        );
        assert!(conn.insecure);
        assert_eq!(
            conn.ca_pem, None,
            "--insecure-skip-tls-verify clears the CA"
        );
        assert_eq!(conn.token.unwrap().expose(), "flag-token");
    }

    #[test]
    fn missing_names_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.yaml", A);
        let merged = merged_from(&[&a]);
        for (overrides, expected) in [
            (
                Overrides {
                    context: Some("nope".to_owned()),
                    ..Overrides::default()
                },
                "context \"nope\" not found in kubeconfig",
            ),
            (
                Overrides {
                    cluster: Some("nope".to_owned()),
                    ..Overrides::default()
                },
                "cluster \"nope\" not found",
            ),
            (
                Overrides {
                    user: Some("nope".to_owned()),
                    ..Overrides::default()
                },
                "user \"nope\" not found",
            ),
        ] {
            let err = connection_from(&merged, &overrides, &no_pod()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(expected), "{text}");
            assert!(text.contains(a.to_str().unwrap()), "{text}");
        }
    }

    #[test]
    fn no_configuration_and_in_cluster_fallback() {
        let empty = Merged::default();
        let err = connection_from(&empty, &Overrides::default(), &no_pod()).unwrap_err();
        assert!(matches!(err, KubeconfigError::NoConfiguration), "{err}");

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "token", "sa-token\n");
        write(dir.path(), "ca.crt", "CA");
        let pod = InClusterEnv {
            host: Some("10.96.0.1".to_owned()),
            port: Some("443".to_owned()),
            dir: dir.path().to_path_buf(),
        };
        let conn = connection_from(&empty, &Overrides::default(), &pod).unwrap();
        assert_eq!(conn.server, "https://10.96.0.1:443");
        assert_eq!(conn.token.unwrap().expose(), "sa-token");
        assert_eq!(conn.ca_pem.as_deref(), Some(&b"CA"[..]));

        let pod6 = InClusterEnv {
            host: Some("fd00::1".to_owned()),
            ..pod
        };
        let conn = connection_from(&empty, &Overrides::default(), &pod6).unwrap();
        assert_eq!(conn.server, "https://[fd00::1]:443");
    }

    #[test]
    fn conflicting_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "k.yaml",
            r"
current-context: c
clusters:
- name: c
  cluster: {server: https://c.example, insecure-skip-tls-verify: true, certificate-authority-data: Q0E=}
contexts:
- name: c
  context: {cluster: c, user: u}
users:
- name: u
  user: {token: t, username: x, password: y}
",
        );
        let merged = merged_from(&[&path]);
        let err = connection_from(&merged, &Overrides::default(), &no_pod()).unwrap_err();
        assert!(
            err.to_string().contains("insecure-skip-tls-verify"),
            "{err}"
        );
        // --certificate-authority replaces the trust settings; then the two auth methods clash.
        let overrides = Overrides {
            certificate_authority: Some(path.clone()),
            ..Overrides::default()
        };
        let err = connection_from(&merged, &overrides, &no_pod()).unwrap_err();
        assert!(
            err.to_string()
                .contains("more than one authentication method"),
            "{err}"
        );
    }
}
