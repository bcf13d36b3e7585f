//! The cluster connection flags (kubectl's) and klog's accepted-but-ignored flags, declared
//! once and flattened into every command that may talk to a cluster.

use std::path::PathBuf;

use clap::Args;

use super::values::GoBoolParser;

/// klog's flags, which upstream kubeseal registers (Go's `klog.InitFlags`): accepted so that
/// scripts keep working, hidden from --help, and without effect (kubeseal-rs has no leveled
/// logging). They are not read from `SEALED_SECRETS_*` variables, as upstream's are not.
#[derive(Debug, Args, Default)]
#[allow(dead_code)] // accepted, never read
pub struct KlogArgs {
    /// klog's verbosity level (an integer, as klog's).
    #[arg(short = 'v', long = "v", hide = true, value_name = "LEVEL")]
    pub v: Option<i32>,
    #[arg(long = "vmodule", hide = true)]
    pub vmodule: Option<String>,
    #[arg(long = "log_dir", hide = true)]
    pub log_dir: Option<String>,
    #[arg(long = "log_file", hide = true)]
    pub log_file: Option<String>,
    #[arg(long = "log_file_max_size", hide = true)]
    pub log_file_max_size: Option<u64>,
    #[arg(long = "stderrthreshold", hide = true)]
    pub stderrthreshold: Option<String>,
    #[arg(long = "alsologtostderrthreshold", hide = true)]
    pub alsologtostderrthreshold: Option<String>,
    #[arg(long = "log_backtrace_at", hide = true)]
    pub log_backtrace_at: Option<String>,
    #[arg(long = "logtostderr", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = GoBoolParser)]
    pub logtostderr: Option<bool>,
    #[arg(long = "alsologtostderr", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = GoBoolParser)]
    pub alsologtostderr: Option<bool>,
    #[arg(long = "legacy_stderr_threshold_behavior", hide = true, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_parser = GoBoolParser)]
    pub legacy_stderr_threshold_behavior: Option<bool>,
    #[arg(long = "add_dir_header", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = GoBoolParser)]
    pub add_dir_header: Option<bool>,
    #[arg(long = "skip_headers", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = GoBoolParser)]
    pub skip_headers: Option<bool>,
    #[arg(long = "one_output", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = GoBoolParser)]
    pub one_output: Option<bool>,
    #[arg(long = "skip_log_headers", hide = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = GoBoolParser)]
    pub skip_log_headers: Option<bool>,
}

/// kubectl's connection flags (client-go overrides), used only when kubeseal-rs talks to the
/// controller: --fetch-cert, --validate, --re-encrypt, and sealing without --cert.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Cluster connection (kubectl flags)")]
pub struct ConnectionArgs {
    /// Kubeconfig cluster to use (instead of the context's).
    #[arg(long, env = "SEALED_SECRETS_CLUSTER")]
    pub cluster: Option<String>,

    /// Kubeconfig user to use (instead of the context's).
    #[arg(long, env = "SEALED_SECRETS_USER")]
    pub user: Option<String>,

    /// Address and port of the Kubernetes API server.
    #[arg(short = 's', long, env = "SEALED_SECRETS_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// Server name for TLS certificate validation (instead of the server's host name).
    #[arg(long, env = "SEALED_SECRETS_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,

    /// Do not check the API server's certificate (insecure).
    #[arg(
        long,
        env = "SEALED_SECRETS_INSECURE_SKIP_TLS_VERIFY",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub insecure_skip_tls_verify: bool,

    /// Path to a certificate file for the certificate authority.
    #[arg(
        long,
        env = "SEALED_SECRETS_CERTIFICATE_AUTHORITY",
        value_name = "FILE"
    )]
    pub certificate_authority: Option<PathBuf>,

    /// Path to a client certificate file for TLS.
    #[arg(long, env = "SEALED_SECRETS_CLIENT_CERTIFICATE", value_name = "FILE")]
    pub client_certificate: Option<PathBuf>,

    /// Path to a client key file for TLS.
    #[arg(long, env = "SEALED_SECRETS_CLIENT_KEY", value_name = "FILE")]
    pub client_key: Option<PathBuf>,

    /// Bearer token for authentication to the API server.
    #[arg(long, env = "SEALED_SECRETS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Username for basic authentication to the API server.
    #[arg(long, env = "SEALED_SECRETS_USERNAME")]
    pub username: Option<String>,

    /// Password for basic authentication to the API server.
    #[arg(long, env = "SEALED_SECRETS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// Username to impersonate for the operation.
    #[arg(long = "as", env = "SEALED_SECRETS_AS", value_name = "USER")]
    pub impersonate: Option<String>,

    /// UID to impersonate for the operation.
    #[arg(long = "as-uid", env = "SEALED_SECRETS_AS_UID", value_name = "UID")]
    pub impersonate_uid: Option<String>,

    /// Group to impersonate for the operation (repeatable).
    #[arg(
        long = "as-group",
        env = "SEALED_SECRETS_AS_GROUP",
        value_name = "GROUP"
    )]
    pub impersonate_group: Vec<String>,

    /// Proxy to use for requests to the API server (http:// or https://).
    #[arg(long, env = "SEALED_SECRETS_PROXY_URL", value_name = "URL")]
    pub proxy_url: Option<String>,

    /// Accepted for compatibility; responses are never compressed.
    #[arg(
        long,
        env = "SEALED_SECRETS_DISABLE_COMPRESSION",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub disable_compression: bool,

    /// How long to wait for each request to the API server (e.g. 30s, 1m; 0 = no limit).
    #[arg(
        long,
        env = "SEALED_SECRETS_REQUEST_TIMEOUT",
        default_value = "0",
        value_parser = crate::cluster::parse_request_timeout,
        value_name = "DURATION"
    )]
    pub request_timeout: crate::cluster::RequestTimeout,
}
