//! Kubeconfig: the file format, finding the files and merging them the way client-go's
//! loading rules do (`--kubeconfig`, else `$KUBECONFIG` as a path list, else `~/.kube/config`).
//! `connection.rs` turns the merged view plus kubectl's override flags into a connection (or
//! the in-cluster service account).
//!
//! Rules kept from client-go (`tools/clientcmd`), because users' kubeconfigs depend on them:
//! - `--kubeconfig` must exist; missing files in `$KUBECONFIG` are skipped;
//! - clusters, contexts and users merge by name and the first file that names one wins; so does
//!   the first non-empty `current-context`;
//! - relative paths (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`,
//!   and an `exec.command` containing a `/`) resolve against the directory of the file that
//!   holds them;
//! - `--certificate-authority` or `--insecure-skip-tls-verify` replaces the whole trust setting,
//!   `--server` clears a `tls-server-name` unless one is given too, and a client certificate or
//!   key flag replaces both the file and the inline data;
//! - with no usable cluster in any file, the in-cluster configuration is used when the process
//!   runs in a pod (`KUBERNETES_SERVICE_HOST`/`_PORT` and a token file).
//!
//! Nothing here prints a credential: errors name files, contexts, clusters and users only.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use zeroize::{Zeroize as _, Zeroizing};

use super::exec::ExecConfig;

/// Where a pod finds its service-account credentials.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A credential read from a kubeconfig: zeroized on drop, never shown by `Debug`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a credential.
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The credential itself; keep it out of messages.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why no connection could be configured. Names files and entries, never values.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("kubeconfig {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("kubeconfig {path} is not a valid kubeconfig{location}")]
    Parse { path: PathBuf, location: String },
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
    #[error("{origin}: cannot read {what} {path}: {source}")]
    ReadReferenced {
        origin: String,
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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

// ---------------------------------------------------------------------------------------------
// The file format (the subset that decides how to connect; unknown fields are ignored).

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct File {
    #[serde(default)]
    current_context: Option<String>,
    #[serde(default)]
    clusters: Option<Vec<NamedCluster>>,
    #[serde(default)]
    contexts: Option<Vec<NamedContext>>,
    #[serde(default)]
    users: Option<Vec<NamedUser>>,
}

#[derive(Debug, Deserialize)]
struct NamedCluster {
    name: String,
    #[serde(default)]
    cluster: Option<Cluster>,
}

#[derive(Debug, Deserialize)]
struct NamedContext {
    name: String,
    #[serde(default)]
    context: Option<Context>,
}

#[derive(Debug, Deserialize)]
struct NamedUser {
    name: String,
    #[serde(default)]
    user: Option<User>,
}

/// A `clusters[].cluster` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub tls_server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_tls_verify: Option<bool>,
    #[serde(default)]
    pub certificate_authority: Option<String>,
    #[serde(default)]
    pub certificate_authority_data: Option<String>,
    #[serde(default)]
    pub proxy_url: Option<String>,
}

/// A `contexts[].context` entry.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A `users[].user` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct User {
    #[serde(default)]
    pub client_certificate: Option<String>,
    #[serde(default)]
    pub client_certificate_data: Option<String>,
    #[serde(default)]
    pub client_key: Option<String>,
    #[serde(default)]
    pub client_key_data: Option<SecretString>,
    #[serde(default)]
    pub token: Option<SecretString>,
    #[serde(default, rename = "tokenFile")]
    pub token_file: Option<String>,
    #[serde(default, rename = "as")]
    pub impersonate: Option<String>,
    #[serde(default)]
    pub as_uid: Option<String>,
    #[serde(default)]
    pub as_groups: Option<Vec<String>>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    #[serde(default)]
    pub auth_provider: Option<AuthProvider>,
    #[serde(default)]
    pub exec: Option<ExecConfig>,
}

/// A legacy `auth-provider` entry; only its name is read (to say it is not supported).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuthProvider {
    #[serde(default)]
    pub name: String,
}

// ---------------------------------------------------------------------------------------------
// Loading and merging.

/// One entry and the file it came from.
#[derive(Clone, Debug)]
pub(super) struct Sourced<T> {
    pub(super) value: T,
    pub(super) file: PathBuf,
}

/// The merged view of every kubeconfig file, by name, first file wins.
#[derive(Debug, Default)]
pub struct Merged {
    pub(super) files: Vec<PathBuf>,
    pub(super) current_context: Option<String>,
    pub(super) clusters: BTreeMap<String, Sourced<Cluster>>,
    pub(super) contexts: BTreeMap<String, Sourced<Context>>,
    pub(super) users: BTreeMap<String, Sourced<User>>,
}

impl Merged {
    pub(super) fn files_text(&self) -> String {
        if self.files.is_empty() {
            return "(none)".to_owned();
        }
        self.files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    pub(super) fn is_empty(&self) -> bool {
        self.clusters.is_empty() && self.contexts.is_empty() && self.users.is_empty()
    }

    /// The namespace of the selected context, if it sets one.
    #[must_use]
    pub fn context_namespace(&self, context_override: Option<&str>) -> Option<String> {
        let name = context_override
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .or_else(|| self.current_context.clone())?;
        self.contexts
            .get(&name)
            .and_then(|c| c.value.namespace.clone())
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
    let merged = load(explicit, true).ok()?;
    if merged.files.is_empty() {
        return None;
    }
    Some(
        merged
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

/// Reads and merges the kubeconfig files. A missing explicit file is an error; other missing
/// files are skipped. With `lenient`, unreadable or invalid files are skipped too (offline
/// sealing only wants the context's namespace and must not fail because of a kubeconfig).
///
/// # Errors
/// A file cannot be read or parsed (not in lenient mode).
pub fn load(explicit: Option<&Path>, lenient: bool) -> Result<Merged, KubeconfigError> {
    let (files, must_exist) = candidate_files(explicit);
    let mut merged = Merged::default();
    for path in files {
        let read = crate::input::read_file_io(&path, crate::input::MANIFEST_LIMIT).and_then(|b| {
            String::from_utf8(b.to_vec()).map_err(|_| std::io::Error::other("not UTF-8 text"))
        });
        let text = match read {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => continue,
            Err(_) if lenient => continue,
            Err(source) => return Err(KubeconfigError::Read { path, source }),
        };
        let file = match parse(&text, &path) {
            Ok(file) => file,
            Err(_) if lenient => continue,
            Err(e) => return Err(e),
        };
        merge_file(&mut merged, file, &path);
        merged.files.push(path);
    }
    Ok(merged)
}

fn parse(text: &str, path: &Path) -> Result<File, KubeconfigError> {
    if text.trim().is_empty() {
        return Ok(File::default());
    }
    // No snippet: the error would quote the file, which holds credentials.
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options::<File>(text, options).map_err(|e| {
        let location = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        KubeconfigError::Parse {
            path: path.to_path_buf(),
            location,
        }
    })
}

fn merge_file(merged: &mut Merged, file: File, path: &Path) {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if merged.current_context.is_none() {
        merged.current_context = file.current_context.filter(|c| !c.is_empty());
    }
    for named in file.clusters.into_iter().flatten() {
        let mut cluster = named.cluster.unwrap_or_default();
        resolve(&mut cluster.certificate_authority, &dir);
        merged
            .clusters
            .entry(named.name)
            .or_insert_with(|| Sourced {
                value: cluster,
                file: path.to_path_buf(),
            });
    }
    for named in file.contexts.into_iter().flatten() {
        merged
            .contexts
            .entry(named.name)
            .or_insert_with(|| Sourced {
                value: named.context.unwrap_or_default(),
                file: path.to_path_buf(),
            });
    }
    for named in file.users.into_iter().flatten() {
        let mut user = named.user.unwrap_or_default();
        resolve(&mut user.client_certificate, &dir);
        resolve(&mut user.client_key, &dir);
        resolve(&mut user.token_file, &dir);
        if let Some(exec) = &mut user.exec {
            // A bare command name is looked up in PATH; one with a separator is a path.
            if exec.command.contains(std::path::MAIN_SEPARATOR) {
                let mut command = Some(std::mem::take(&mut exec.command));
                resolve(&mut command, &dir);
                exec.command = command.unwrap_or_default();
            }
        }
        merged.users.entry(named.name).or_insert_with(|| Sourced {
            value: user,
            file: path.to_path_buf(),
        });
    }
}

/// Makes a relative, non-empty path absolute against `dir`.
fn resolve(path: &mut Option<String>, dir: &Path) {
    if let Some(p) = path
        .as_mut()
        .filter(|p| !p.is_empty() && Path::new(p.as_str()).is_relative())
    {
        *p = dir.join(p.as_str()).display().to_string();
    }
}

/// Parses `--request-timeout` as client-go does: a bare integer is seconds, otherwise a Go
/// duration (`500ms`, `30s`, `2m`, `1h30m`); `0` means no timeout.
///
/// # Errors
/// Anything else.
pub fn parse_timeout(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    let invalid = || {
        format!(
            "invalid --request-timeout {text:?}: use an integer number of seconds or a number with a unit (e.g. 1s, 2m, 3h)"
        )
    };
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok((seconds > 0).then(|| Duration::from_secs(seconds)));
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        if number_len == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    if total <= 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(total)
        .map(Some)
        .map_err(|_| invalid())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
pub(crate) mod tests {
    use super::*;

    pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn merged_from(paths: &[&Path]) -> Merged {
        let mut merged = Merged::default();
        for path in paths {
            let text = std::fs::read_to_string(path).unwrap();
            merge_file(&mut merged, parse(&text, path).unwrap(), path);
            merged.files.push(path.to_path_buf());
        }
        merged
    }

    pub(crate) const A: &str = r"
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: shared
  cluster:
    server: https://a.example:6443
    certificate-authority: pki/ca.crt
- name: only-a
  cluster:
    server: https://only-a.example
contexts:
- name: a
  context: {cluster: shared, user: alice, namespace: team-a}
users:
- name: alice
  user:
    client-certificate: pki/alice.crt
    client-key: pki/alice.key
";

    pub(crate) const B: &str = r"
current-context: b
clusters:
- name: shared
  cluster:
    server: https://b.example:6443
contexts:
- name: b
  context: {cluster: shared, user: bob}
users:
- name: bob
  user:
    token: bob-token
    as: admin
    as-groups: [ops]
";

    #[test]
    fn first_file_wins_per_name_and_for_current_context() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.yaml", A);
        let b = write(dir.path(), "b.yaml", B);
        let merged = merged_from(&[&a, &b]);
        assert_eq!(merged.current_context.as_deref(), Some("a"));
        assert_eq!(
            merged.clusters["shared"].value.server.as_deref(),
            Some("https://a.example:6443")
        );
        assert!(merged.contexts.contains_key("b"));
        assert_eq!(merged.context_namespace(None).as_deref(), Some("team-a"));
        assert_eq!(merged.context_namespace(Some("b")), None);

        let reversed = merged_from(&[&b, &a]);
        assert_eq!(reversed.current_context.as_deref(), Some("b"));
        assert_eq!(
            reversed.clusters["shared"].value.server.as_deref(),
            Some("https://b.example:6443")
        );
    }

    #[test]
    fn relative_paths_resolve_against_their_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let a = write(&dir.path().join("sub"), "a.yaml", A);
        let merged = merged_from(&[&a]);
        let expected_ca = dir.path().join("sub/pki/ca.crt").display().to_string();
        assert_eq!(
            merged.clusters["shared"]
                .value
                .certificate_authority
                .as_deref(),
            Some(expected_ca.as_str())
        );
        let alice = &merged.users["alice"].value;
        assert_eq!(
            alice.client_key.as_deref(),
            Some(dir.path().join("sub/pki/alice.key").to_str().unwrap())
        );
    }

    #[test]
    fn exec_command_resolves_only_with_a_separator() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.yaml",
            r"
users:
- name: rel
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./bin/plugin}
- name: bare
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: plugin, args: [a], env: null}
",
        );
        let merged = merged_from(&[&path]);
        let rel = merged.users["rel"].value.exec.as_ref().unwrap();
        assert_eq!(
            Path::new(&rel.command),
            dir.path().join("./bin/plugin").as_path()
        );
        let bare = merged.users["bare"].value.exec.as_ref().unwrap();
        assert_eq!(bare.command, "plugin");
    }

    #[test]
    fn parse_errors_name_the_file_not_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "bad.yaml",
            "users:\n- name: u\n  user:\n    token: s3cr3t-token\n    as-groups: s3cr3t-token\n",
        );
        let err = load(Some(&path), false).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bad.yaml"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(load(Some(&path), true).unwrap().is_empty());
        let missing = dir.path().join("missing.yaml");
        let err = load(Some(&missing), false).unwrap_err();
        assert!(err.to_string().contains("missing.yaml"), "{err}");
    }

    #[test]
    fn request_timeouts() {
        assert_eq!(parse_timeout("0").unwrap(), None);
        assert_eq!(parse_timeout("").unwrap(), None);
        assert_eq!(parse_timeout("15").unwrap(), Some(Duration::from_secs(15)));
        assert_eq!(
            parse_timeout("1m30s").unwrap(),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_timeout("250ms").unwrap(),
            Some(Duration::from_millis(250))
        );
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("5d").is_err());
    }
}
