//! Which API server to talk to, and as whom: kube's kubeconfig files and structures
//! (`kube::config::Kubeconfig`), found the way client-go finds them (`--kubeconfig`, else
//! `$KUBECONFIG` as a path list, else `~/.kube/config`), with kubectl's override flags applied
//! to the selected cluster and user before kube builds its `Config` from them (`client.rs`).
//!
//! Rules kept from client-go (`tools/clientcmd`), because users' kubeconfigs depend on them:
//! - `--kubeconfig` must exist; missing files in `$KUBECONFIG` are skipped;
//! - clusters, contexts and users merge by name and the first file that names one wins; so does
//!   the first `current-context` (kube's `Kubeconfig::merge`); relative paths resolve against
//!   the file that holds them (kube's `Kubeconfig::read_from`);
//! - `--certificate-authority` or `--insecure-skip-tls-verify` replaces the whole trust setting,
//!   `--server` clears a `tls-server-name` unless one is given too, and a client certificate or
//!   key flag replaces both the file and the inline data;
//! - with no usable cluster in any file, the in-cluster configuration is used when the process
//!   runs in a pod (`KUBERNETES_SERVICE_HOST`/`_PORT` and a token file);
//! - credentials only ever go over TLS: with an `http://` server none is sent.
//!
//! Nothing here prints a credential: errors name files, contexts, clusters and users only.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{
    AuthInfo, Cluster, Context, ExecInteractiveMode, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};
use secrecy::{ExposeSecret as _, SecretString};

/// Where a pod finds its service-account credentials.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Why no connection could be configured. Names files and entries, never values.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("kubeconfig {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kubeconfig {path} is not a valid kubeconfig")]
    Parse { path: PathBuf },
    #[error("context {name:?} not found in kubeconfig {files}")]
    ContextNotFound { name: String, files: String },
    #[error("cluster {name:?} not found in kubeconfig {files}")]
    ClusterNotFound { name: String, files: String },
    #[error("user {name:?} not found in kubeconfig {files}")]
    UserNotFound { name: String, files: String },
    #[error("kubeconfig {files} sets no current-context; choose one with --context")]
    NoContext { files: String },
    #[error(
        "no cluster to connect to: no kubeconfig found (--kubeconfig, KUBECONFIG or ~/.kube/config) and not running in a pod"
    )]
    NoConfiguration,
    #[error("{origin}: {problem}")]
    Invalid { origin: String, problem: String },
}

/// kubectl's override flags (`--server`, `--token`, …), as given on the command line.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub server: Option<String>,
    pub certificate_authority: Option<PathBuf>,
    pub insecure_skip_tls_verify: bool,
    pub tls_server_name: Option<String>,
    pub proxy_url: Option<String>,
    pub client_certificate: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub token: Option<SecretString>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub impersonate: Option<String>,
    pub impersonate_uid: Option<String>,
    pub impersonate_groups: Vec<String>,
    pub request_timeout: Option<Duration>,
}

/// Every kubeconfig file read, each as kube parsed it, in precedence order.
#[derive(Debug, Default)]
pub struct Loaded {
    files: Vec<(PathBuf, Kubeconfig)>,
}

impl Loaded {
    fn files_text(&self) -> String {
        if self.files.is_empty() {
            return "(none)".to_owned();
        }
        self.files
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    fn context(&self, name: &str) -> Option<(Context, PathBuf)> {
        self.files.iter().find_map(|(path, k)| {
            k.contexts
                .iter()
                .find(|c| c.name == name)
                .map(|c| (c.context.clone().unwrap_or_default(), path.clone()))
        })
    }

    fn cluster(&self, name: &str) -> Option<Cluster> {
        self.files.iter().find_map(|(_, k)| {
            k.clusters
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.cluster.clone().unwrap_or_default())
        })
    }

    fn user(&self, name: &str) -> Option<AuthInfo> {
        self.files.iter().find_map(|(_, k)| {
            k.auth_infos
                .iter()
                .find(|u| u.name == name)
                .map(|u| u.auth_info.clone().unwrap_or_default())
        })
    }

    fn current_context(&self) -> Option<String> {
        self.files
            .iter()
            .find_map(|(_, k)| k.current_context.clone().filter(|c| !c.is_empty()))
    }

    fn is_empty(&self) -> bool {
        self.files
            .iter()
            .all(|(_, k)| k.clusters.is_empty() && k.contexts.is_empty() && k.auth_infos.is_empty())
    }

    /// The namespace of the selected context, if it sets one.
    fn context_namespace(&self, context_override: Option<&str>) -> Option<String> {
        let name = context_override
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .or_else(|| self.current_context())?;
        self.context(&name)
            .and_then(|(c, _)| c.namespace)
            .filter(|n| !n.is_empty())
    }
}

/// The namespace of the selected context for offline sealing (SPEC §4.5): `Some("default")`
/// when a kubeconfig exists but the context sets none; `None` without any kubeconfig (then
/// inputs must declare a namespace). A kubeconfig that cannot be read or parsed counts as
/// absent: sealing with `--cert` must not fail because of it.
#[must_use]
pub fn context_namespace(
    explicit: Option<&Path>,
    context_override: Option<&str>,
) -> Option<String> {
    let loaded = load(explicit, true).ok()?;
    if loaded.files.is_empty() {
        return None;
    }
    Some(
        loaded
            .context_namespace(context_override)
            .unwrap_or_else(|| "default".to_owned()),
    )
}

/// The candidate kubeconfig files in precedence order, and whether the list was explicit
/// (`--kubeconfig`: it must exist).
#[must_use]
pub fn candidate_files(explicit: Option<&Path>) -> (Vec<PathBuf>, bool) {
    if let Some(path) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        return (vec![path.to_path_buf()], true);
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let mut seen = Vec::new();
        for path in std::env::split_paths(&list) {
            if !path.as_os_str().is_empty() && !seen.contains(&path) {
                seen.push(path);
            }
        }
        return (seen, false);
    }
    let home = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".kube").join("config"))
        .into_iter()
        .collect();
    (home, false)
}

/// Reads the kubeconfig files with kube. A missing explicit file is an error; other missing
/// files are skipped. With `lenient`, unreadable or invalid files are skipped too (offline
/// sealing only wants the context's namespace and must not fail because of a kubeconfig).
///
/// # Errors
/// A file cannot be read or parsed (not in lenient mode).
pub fn load(explicit: Option<&Path>, lenient: bool) -> Result<Loaded, KubeconfigError> {
    let (files, must_exist) = candidate_files(explicit);
    let mut loaded = Loaded::default();
    for path in files {
        let config = match Kubeconfig::read_from(&path) {
            Ok(config) => config,
            Err(kube::config::KubeconfigError::ReadConfig(source, _)) => {
                if (source.kind() == std::io::ErrorKind::NotFound && !must_exist) || lenient {
                    continue;
                }
                return Err(KubeconfigError::Read { path, source });
            }
            // No detail: kube's parse error may quote the file, which holds credentials.
            Err(_) if lenient => continue,
            Err(_) => return Err(KubeconfigError::Parse { path }),
        };
        loaded.files.push((path, config));
    }
    Ok(loaded)
}

/// What the in-cluster fallback reads, injectable for tests.
#[derive(Clone, Debug, Default)]
pub struct InClusterEnv {
    pub host: Option<String>,
    pub port: Option<String>,
    pub dir: PathBuf,
}

impl InClusterEnv {
    #[must_use]
    pub fn from_process() -> Self {
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

    /// The in-cluster configuration (`rest.InClusterConfig`) as a cluster and a user.
    fn entries(&self) -> (Cluster, AuthInfo) {
        let host = self.host.clone().unwrap_or_default();
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        let ca = self.dir.join("ca.crt");
        let cluster = Cluster {
            server: Some(format!(
                "https://{host}:{}",
                self.port.clone().unwrap_or_default()
            )),
            // client-go carries on without the CA when ca.crt is missing (the system roots
            // then apply).
            certificate_authority: ca.is_file().then(|| ca.display().to_string()),
            ..Cluster::default()
        };
        let user = AuthInfo {
            token_file: Some(self.dir.join("token").display().to_string()),
            ..AuthInfo::default()
        };
        (cluster, user)
    }
}

/// The selected cluster and user, overrides applied, ready for kube's `Config`.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// One context, `current-context`, naming one cluster and one user.
    pub kubeconfig: Kubeconfig,
    /// The server URL, no trailing slash, for messages.
    pub server: String,
    /// Where this came from, for error messages: `context "x" (kubeconfig /path)`.
    pub origin: String,
    /// The credentials dropped because the server is plain `http://`, if any.
    pub dropped_credentials: bool,
    pub timeout: Option<Duration>,
}

fn has_cluster_overrides(o: &Overrides) -> bool {
    o.server.is_some()
        || o.certificate_authority.is_some()
        || o.insecure_skip_tls_verify
        || o.tls_server_name.is_some()
        || o.proxy_url.is_some()
}

fn set(value: &Option<String>) -> Option<String> {
    value.clone().filter(|s| !s.is_empty())
}

/// Selects the context, cluster and user (client-go's precedence rules) and applies the
/// override flags.
///
/// # Errors
/// A context/cluster/user that does not exist, conflicting settings, or no configuration.
#[allow(clippy::too_many_lines)] // one linear walk through client-go's precedence rules
pub fn resolve(
    loaded: &Loaded,
    overrides: &Overrides,
    in_cluster: &InClusterEnv,
) -> Result<Resolved, KubeconfigError> {
    let files = loaded.files_text();
    let context_name = set(&overrides.context).or_else(|| loaded.current_context());
    let context = match &context_name {
        Some(name) => match loaded.context(name) {
            Some(found) => Some(found),
            None => {
                return Err(KubeconfigError::ContextNotFound {
                    name: name.clone(),
                    files,
                });
            }
        },
        None => None,
    };
    let context_value = context.as_ref().map(|(c, _)| c.clone()).unwrap_or_default();
    let cluster_name = set(&overrides.cluster).unwrap_or_else(|| context_value.cluster.clone());
    let cluster_entry = loaded.cluster(&cluster_name);
    if set(&overrides.cluster).is_some() && cluster_entry.is_none() {
        return Err(KubeconfigError::ClusterNotFound {
            name: cluster_name,
            files,
        });
    }
    let user_name = set(&overrides.user)
        .or_else(|| context_value.user.clone())
        .unwrap_or_default();
    let user_entry = loaded.user(&user_name);
    if set(&overrides.user).is_some() && user_entry.is_none() {
        return Err(KubeconfigError::UserNotFound {
            name: user_name,
            files,
        });
    }

    // No cluster anywhere: the in-cluster configuration, when running in a pod.
    let cluster_empty = cluster_entry.as_ref().is_none_or(|c| {
        set(&c.server).is_none()
            && c.certificate_authority.is_none()
            && c.certificate_authority_data.is_none()
    }) && !has_cluster_overrides(overrides);
    let (mut cluster, mut user, origin) = if cluster_empty && in_cluster.possible() {
        let (cluster, user) = in_cluster.entries();
        (cluster, user, "in-cluster configuration".to_owned())
    } else {
        if cluster_empty {
            if loaded.is_empty() {
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
        let origin = match (&context_name, &context) {
            (Some(name), Some((_, file))) => {
                format!("context {name:?} (kubeconfig {})", file.display())
            }
            _ if loaded.files.is_empty() => "command-line flags".to_owned(),
            _ => format!("kubeconfig {files}"),
        };
        (
            cluster_entry.unwrap_or_default(),
            user_entry.unwrap_or_default(),
            origin,
        )
    };
    let invalid = |problem: String| KubeconfigError::Invalid {
        origin: origin.clone(),
        problem,
    };

    // The cluster, with the override flags applied.
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
    let server = normalize_server(
        &set(&cluster.server)
            .ok_or_else(|| invalid(format!("no server found for cluster {cluster_name:?}")))?,
    );
    cluster.server = Some(server.clone());
    cluster.tls_server_name = set(&cluster.tls_server_name);
    cluster.proxy_url = set(&cluster.proxy_url);
    cluster.certificate_authority = set(&cluster.certificate_authority);
    cluster.certificate_authority_data = set(&cluster.certificate_authority_data);
    if cluster.certificate_authority.is_some() && cluster.certificate_authority_data.is_some() {
        return Err(invalid(format!(
            "certificate-authority-data and certificate-authority are both specified for cluster {cluster_name:?}"
        )));
    }
    let insecure = cluster.insecure_skip_tls_verify.unwrap_or(false);
    if insecure
        && (cluster.certificate_authority.is_some() || cluster.certificate_authority_data.is_some())
    {
        return Err(invalid(format!(
            "cluster {cluster_name:?} sets both a certificate authority and insecure-skip-tls-verify"
        )));
    }

    // The user, with the override flags applied.
    if let Some(token) = &overrides.token {
        user.token = Some(token.clone());
    }
    if let Some(username) = &overrides.username {
        user.username = Some(username.clone());
    }
    if let Some(password) = &overrides.password {
        user.password = Some(password.clone());
    }
    if let Some(path) = &overrides.client_certificate {
        user.client_certificate = Some(path.display().to_string());
        user.client_certificate_data = None;
    }
    if let Some(path) = &overrides.client_key {
        user.client_key = Some(path.display().to_string());
        user.client_key_data = None;
    }
    if let Some(name) = &overrides.impersonate {
        user.impersonate = Some(name.clone());
    }
    if let Some(uid) = &overrides.impersonate_uid {
        user.impersonate_uid = Some(uid.clone());
    }
    if !overrides.impersonate_groups.is_empty() {
        user.impersonate_groups = Some(overrides.impersonate_groups.clone());
    }
    check_user(&mut user, &user_name).map_err(invalid)?;

    // As client-go: credentials only ever go over TLS.
    let dropped_credentials = !server.starts_with("https://") && drop_credentials(&mut user);
    if let Some(exec) = &mut user.exec
        && !std::io::stdin().is_terminal()
    {
        // Nobody can answer a prompt: the plugin must not wait for one.
        exec.interactive_mode = Some(ExecInteractiveMode::Never);
    }

    let kubeconfig = Kubeconfig {
        clusters: vec![NamedCluster {
            name: "cluster".to_owned(),
            cluster: Some(cluster),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: "user".to_owned(),
            auth_info: Some(user),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: "context".to_owned(),
            context: Some(Context {
                cluster: "cluster".to_owned(),
                user: Some("user".to_owned()),
                namespace: context_value.namespace,
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some("context".to_owned()),
        ..Kubeconfig::default()
    };
    Ok(Resolved {
        kubeconfig,
        server,
        origin,
        dropped_credentials,
        timeout: overrides.request_timeout,
    })
}

/// client-go's checks of a user entry, and what it sends: one way of authenticating (an exec
/// plugin only when nothing else identifies the user), impersonation only with a user name.
fn check_user(user: &mut AuthInfo, user_name: &str) -> Result<(), String> {
    let nonempty = |s: &Option<SecretString>| {
        s.as_ref()
            .filter(|t| !t.expose_secret().is_empty())
            .cloned()
    };
    user.token = nonempty(&user.token);
    user.password = nonempty(&user.password);
    user.client_key_data = nonempty(&user.client_key_data);
    user.username = set(&user.username);
    user.token_file = set(&user.token_file);
    user.client_certificate = set(&user.client_certificate);
    user.client_certificate_data = set(&user.client_certificate_data);
    user.client_key = set(&user.client_key);
    let token = user.token.is_some() || user.token_file.is_some();
    let basic = user.username.is_some() || user.password.is_some();
    if token && basic {
        return Err(format!(
            "more than one authentication method found for user {user_name:?}; found token and basicAuth, only one is allowed"
        ));
    }
    if basic {
        // kube sends basic auth only with both parts; client-go sends an empty one.
        user.username.get_or_insert_with(String::new);
        user.password
            .get_or_insert_with(|| SecretString::from(String::new()));
    }
    let cert = user.client_certificate.is_some() || user.client_certificate_data.is_some();
    if cert {
        if user.client_certificate.is_some() && user.client_certificate_data.is_some() {
            return Err(format!(
                "client-certificate-data and client-certificate are both specified for user {user_name:?}"
            ));
        }
        if user.client_key.is_some() && user.client_key_data.is_some() {
            return Err(format!(
                "client-key-data and client-key are both specified for user {user_name:?}"
            ));
        }
        if user.client_key.is_none() && user.client_key_data.is_none() {
            return Err(format!(
                "client-key-data or client-key must be specified for user {user_name:?} to use a client certificate"
            ));
        }
    }
    let identified = token || basic || cert;
    if identified {
        user.exec = None;
        user.auth_provider = None;
    }
    if let Some(provider) = &user.auth_provider {
        if user.exec.is_none() {
            return Err(format!(
                "user {user_name:?} uses auth-provider {:?}, which kubeseal-rs does not support; use an exec credential plugin (client.authentication.k8s.io)",
                provider.name
            ));
        }
        user.auth_provider = None;
    }
    user.impersonate = set(&user.impersonate);
    if user.impersonate.is_none() {
        user.impersonate_uid = None;
        user.impersonate_groups = None;
    }
    user.impersonate_uid = set(&user.impersonate_uid);
    Ok(())
}

/// Removes every credential of `user`; whether there was one.
fn drop_credentials(user: &mut AuthInfo) -> bool {
    let had = user.token.is_some()
        || user.token_file.is_some()
        || user.username.is_some()
        || user.password.is_some()
        || user.client_certificate.is_some()
        || user.client_certificate_data.is_some()
        || user.client_key.is_some()
        || user.client_key_data.is_some()
        || user.exec.is_some()
        || user.auth_provider.is_some();
    *user = AuthInfo {
        impersonate: user.impersonate.take(),
        impersonate_uid: user.impersonate_uid.take(),
        impersonate_groups: user.impersonate_groups.take(),
        ..AuthInfo::default()
    };
    had
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

#[cfg(test)]
mod tests;
