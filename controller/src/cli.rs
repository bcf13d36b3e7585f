//! Command-line flags, with upstream's names, defaults and `SEALED_SECRETS_*` environment
//! variables (SPEC §3.1), resolved into a checked [`Settings`] before any IO.
//!
//! Precedence is command line > environment > default, as upstream's `flagenv`. Booleans take
//! Go's spellings (`--update-status=false`, `SEALED_SECRETS_UPDATE_STATUS=0`); a bare `--flag`
//! means true. Durations take Go's syntax (`720h`, `2m`, `1h30m`).
//!
//! Differences from upstream, all additive: `--kubeconfig` (upstream runs in-cluster only) and
//! `--skip-unchanged` (keyed digests, see `digest.rs`). An invalid environment value is a
//! startup error here, where upstream silently ignores it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use time::OffsetDateTime;

use crate::go_flags;

/// The default `--key-prefix`, also the exact name of a pre-0.9 legacy key Secret.
pub const DEFAULT_KEY_PREFIX: &str = "sealed-secrets-key";

fn go_bool(text: &str) -> Result<bool, String> {
    go_flags::parse_bool(text)
}

fn go_duration(text: &str) -> Result<Duration, String> {
    go_flags::parse_duration(text)
}

/// Raw flags as declared. See [`Settings`] for the checked form.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "sealed-secrets-controller",
    about = "Unseals SealedSecrets into Secrets (drop-in successor to the Bitnami Sealed Secrets controller)",
    disable_version_flag = true
)]
#[allow(clippy::struct_excessive_bools)] // mirrors upstream's flag set one to one
pub struct Cli {
    /// Prefix used to name keys (generateName), and the exact name of a legacy key Secret.
    #[arg(long, env = "SEALED_SECRETS_KEY_PREFIX", default_value = DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,

    /// Size of encryption key (RSA bits).
    #[arg(long, env = "SEALED_SECRETS_KEY_SIZE", default_value_t = 4096)]
    pub key_size: usize,

    /// Duration that certificate is valid for.
    #[arg(long, env = "SEALED_SECRETS_KEY_TTL", default_value = "87600h", value_parser = go_duration)]
    pub key_ttl: Duration,

    /// Common name to be used as issuer/subject DN in generated certificate.
    #[arg(long, env = "SEALED_SECRETS_MY_CN", default_value = "")]
    pub my_cn: String,

    /// New key generation period (automatic rotation disabled if 0).
    #[arg(long, env = "SEALED_SECRETS_KEY_RENEW_PERIOD", default_value = "720h", value_parser = go_duration)]
    pub key_renew_period: Duration,

    /// Deprecated: use --key-renew-period.
    #[arg(long, env = "SEALED_SECRETS_ROTATE_PERIOD", value_parser = go_duration, hide = true)]
    pub rotate_period: Option<Duration>,

    /// Which timestamp orders keys: CertNotBefore or SecretCreationTimestamp.
    #[arg(
        long,
        env = "SEALED_SECRETS_KEY_ORDER_PRIORITY",
        default_value = "CertNotBefore"
    )]
    pub key_order_priority: String,

    /// Accept deprecated V1 data field.
    #[arg(long, env = "SEALED_SECRETS_ACCEPT_DEPRECATED_V1_DATA", default_value = "true",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub accept_deprecated_v1_data: bool,

    /// Create a new key if the newest one is older than this time (RFC1123 with numeric zone, as `date -R`).
    #[arg(long, env = "SEALED_SECRETS_KEY_CUTOFF_TIME", default_value = "")]
    pub key_cutoff_time: String,

    /// Scan all namespaces or only the current namespace.
    #[arg(long, env = "SEALED_SECRETS_ALL_NAMESPACES", default_value = "true",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub all_namespaces: bool,

    /// Comma-separated list of additional namespaces to be watched.
    #[arg(long, env = "SEALED_SECRETS_ADDITIONAL_NAMESPACES", default_value = "")]
    pub additional_namespaces: String,

    /// Label selector applied to SealedSecrets and to the Secrets watched for recreation.
    #[arg(long, env = "SEALED_SECRETS_LABEL_SELECTOR", default_value = "")]
    pub label_selector: String,

    /// Number of allowed sustained request per second for verify endpoint.
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT", default_value_t = 2)]
    pub rate_limit: u32,

    /// Number of requests allowed to exceed the rate limit per second for verify endpoint.
    #[arg(long, env = "SEALED_SECRETS_RATE_LIMIT_BURST", default_value_t = 2)]
    pub rate_limit_burst: u32,

    /// Comma-separated k=v annotations for newly generated key Secrets.
    #[arg(
        long,
        env = "SEALED_SECRETS_PRIVATEKEY_ANNOTATIONS",
        default_value = ""
    )]
    pub privatekey_annotations: String,

    /// Comma-separated k=v labels for newly generated key Secrets.
    #[arg(long, env = "SEALED_SECRETS_PRIVATEKEY_LABELS", default_value = "")]
    pub privatekey_labels: String,

    /// Delete the Secret of the same name when a SealedSecret is deleted, whoever owns it.
    #[arg(long, env = "SEALED_SECRETS_OLD_GC_BEHAVIOR", default_value = "false",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub old_gc_behavior: bool,

    /// Update the status subresource of SealedSecrets.
    #[arg(long, env = "SEALED_SECRETS_UPDATE_STATUS", default_value = "true",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub update_status: bool,

    /// Watch key Secrets and register keys added while running.
    #[arg(long, env = "SEALED_SECRETS_WATCH_FOR_SECRETS", default_value = "false",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub watch_for_secrets: bool,

    /// Do not watch Secrets, so deleted Secrets are not recreated.
    #[arg(long, env = "SEALED_SECRETS_SKIP_RECREATE", default_value = "false",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub skip_recreate: bool,

    /// Log INFO and DEBUG to stdout (WARN and ERROR go to stderr); false sends everything to stderr.
    #[arg(long, env = "SEALED_SECRETS_LOG_INFO_STDOUT", default_value = "true",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub log_info_stdout: bool,

    /// Log level: DEBUG, INFO, WARN or ERROR (anything else means INFO).
    #[arg(long, env = "SEALED_SECRETS_LOG_LEVEL", default_value = "INFO")]
    pub log_level: String,

    /// Log format: text (upstream's slog logfmt: time=… level=… msg=…), json (upstream's slog
    /// JSON: time, level, msg and the fields at the top level), tracing or tracing-json
    /// (tracing-subscriber's own formats, with span names); anything else means text, as upstream.
    #[arg(long, env = "SEALED_SECRETS_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// Retries per SealedSecret after a transient failure.
    #[arg(long, env = "SEALED_SECRETS_MAX_UNSEAL_RETRIES", default_value_t = 5)]
    pub max_unseal_retries: u32,

    /// Kubernetes client queries per second (negative disables client-side throttling).
    #[arg(
        long,
        env = "SEALED_SECRETS_KUBECLIENT_QPS",
        default_value_t = 5.0,
        allow_hyphen_values = true
    )]
    pub kubeclient_qps: f32,

    /// Kubernetes client burst.
    #[arg(long, env = "SEALED_SECRETS_KUBECLIENT_BURST", default_value_t = 10)]
    pub kubeclient_burst: u32,

    /// HTTP listen address.
    #[arg(long, env = "SEALED_SECRETS_LISTEN_ADDR", default_value = ":8080")]
    pub listen_addr: String,

    /// HTTP metrics listen address.
    #[arg(
        long,
        env = "SEALED_SECRETS_LISTEN_METRICS_ADDR",
        default_value = ":8081"
    )]
    pub listen_metrics_addr: String,

    /// HTTP read timeout (both servers).
    #[arg(long, env = "SEALED_SECRETS_READ_TIMEOUT", default_value = "2m", value_parser = go_duration)]
    pub read_timeout: Duration,

    /// HTTP write timeout (both servers).
    #[arg(long, env = "SEALED_SECRETS_WRITE_TIMEOUT", default_value = "2m", value_parser = go_duration)]
    pub write_timeout: Duration,

    /// Print the version and exit.
    #[arg(long, env = "SEALED_SECRETS_VERSION", default_value = "false",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub version: bool,

    /// Path to a kubeconfig file (addition: upstream runs in-cluster only). Without it, KUBECONFIG
    /// is used when set, then the in-cluster configuration, then ~/.kube/config.
    #[arg(long, env = "SEALED_SECRETS_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Record a keyed digest on the Secrets this controller writes and skip decryption when a
    /// SealedSecret and its Secret are unchanged (addition).
    #[arg(long, env = "SEALED_SECRETS_SKIP_UNCHANGED", default_value = "true",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub skip_unchanged: bool,

    /// Run several replicas safely: only the holder of a coordination.k8s.io Lease in the
    /// controller's namespace generates keys and unseals; every replica serves the HTTP API
    /// (addition; needs RBAC on leases).
    #[arg(long, env = "SEALED_SECRETS_LEADER_ELECT", default_value = "false",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub leader_elect: bool,

    /// Name of the Lease used by --leader-elect (addition).
    #[arg(
        long,
        env = "SEALED_SECRETS_LEADER_ELECT_LEASE",
        default_value = "sealed-secrets-controller"
    )]
    pub leader_elect_lease: String,

    /// Publish the active certificate in this ConfigMap in the controller's namespace, labelled
    /// sealed-secrets-rs/public-cert=true, for clients that cannot use the service proxy; empty
    /// disables (addition; needs RBAC on configmaps).
    #[arg(
        long,
        env = "SEALED_SECRETS_CERT_CONFIGMAP",
        default_value = sealed_secrets_core::public_cert::DEFAULT_CONFIGMAP_NAME
    )]
    pub cert_configmap: String,

    /// Serve the browser sealer at / : a page that fetches /v1/cert.pem and seals in the
    /// browser, the plaintext never leaving it (addition; docs/web.md).
    #[arg(long, env = "SEALED_SECRETS_WEB_SEALER", default_value = "true",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub web_sealer: bool,
}

/// How keys are ordered to pick the latest one (`--key-order-priority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrderPriority {
    CertNotBefore,
    SecretCreationTimestamp,
}

/// Which namespaces to watch (SPEC §3.1 `--all-namespaces`, `--additional-namespaces`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchScope {
    /// Every namespace.
    All,
    /// The controller's own namespace plus these (deduplicated, own first).
    Namespaces(Vec<String>),
}

/// Log output format (see [`crate::telemetry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// slog's `TextHandler` logfmt, upstream's default.
    Text,
    /// slog's `JSONHandler` objects.
    Json,
    /// tracing-subscriber's full text format.
    Tracing,
    /// tracing-subscriber's JSON format (`fields`, `span`, `spans`).
    TracingJson,
}

/// Checked settings, derived from [`Cli`] without IO.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)]
pub struct Settings {
    pub key_prefix: String,
    pub key_size: usize,
    pub key_ttl: Duration,
    pub my_cn: String,
    pub key_renew_period: Duration,
    pub key_order_priority: KeyOrderPriority,
    /// Set when `--key-order-priority` was not understood (logged once logging is up).
    pub key_order_priority_invalid: Option<String>,
    pub accept_v1_data: bool,
    pub key_cutoff_time: Option<OffsetDateTime>,
    pub all_namespaces: bool,
    pub additional_namespaces: Vec<String>,
    pub label_selector: Option<String>,
    pub rate_limit: u32,
    pub rate_limit_burst: u32,
    pub privatekey_annotations: BTreeMap<String, String>,
    pub privatekey_labels: BTreeMap<String, String>,
    pub old_gc_behavior: bool,
    pub update_status: bool,
    pub watch_for_secrets: bool,
    pub skip_recreate: bool,
    pub log_info_stdout: bool,
    pub log_level: tracing::Level,
    pub log_format: LogFormat,
    pub max_unseal_retries: u32,
    pub kubeclient_qps: f32,
    pub kubeclient_burst: u32,
    pub listen_addr: String,
    pub listen_metrics_addr: String,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub kubeconfig: Option<PathBuf>,
    pub skip_unchanged: bool,
    pub leader_elect: bool,
    pub leader_elect_lease: String,
    /// `--cert-configmap`: the ConfigMap to publish the certificate in; `None` when disabled.
    pub cert_configmap: Option<String>,
    /// `--web-sealer`: serve the browser sealer at `/`.
    pub web_sealer: bool,
    /// `--rotate-period` was used (a deprecation notice is printed).
    pub rotate_period_used: bool,
}

/// What `main` should do.
#[derive(Debug)]
pub enum Mode {
    /// `--version`: print `controller version: <v>` and exit 0.
    Version,
    /// Run the controller.
    Run(Box<Settings>),
}

/// Why the flags cannot be used (a usage error, exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Clap(#[from] clap::Error),
    #[error(
        "invalid --key-prefix {0:?}: only lowercase letters, digits and '-' are allowed, at most 245 characters"
    )]
    KeyPrefix(String),
    #[error("invalid --key-cutoff-time: {0}")]
    CutoffTime(String),
    #[error("{0}")]
    KeyValue(String),
    #[error("--rate-limit must be at least 1")]
    RateLimit,
    #[error("--key-size must be 2048, 3072, 4096 or 8192, got {0}")]
    KeySize(usize),
    #[error(
        "invalid --cert-configmap {0:?}: a ConfigMap name has lowercase letters, digits, '-' and '.', at most 253 characters"
    )]
    CertConfigMap(String),
}

/// Parses `args` (with the program name first) and the environment into a [`Mode`].
///
/// # Errors
/// See [`CliError`].
pub fn parse<I, T>(args: I) -> Result<Mode, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = Cli::command().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    if cli.version {
        return Ok(Mode::Version);
    }
    resolve(cli, &matches).map(|s| Mode::Run(Box::new(s)))
}

/// Whether `--key-prefix` is acceptable (SPEC §3.1).
#[must_use]
pub fn valid_key_prefix(prefix: &str) -> bool {
    prefix.len() <= 245
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn source(matches: &ArgMatches, id: &str) -> Option<ValueSource> {
    matches.value_source(id)
}

/// `--rotate-period` is an alias bound to the same variable as `--key-renew-period`: a value
/// given on the command line beats the environment, and between the two environment variables
/// the deprecated one is applied last (upstream visits flags in name order).
fn renew_period(cli: &Cli, matches: &ArgMatches) -> (Duration, bool) {
    let renew_src = source(matches, "key_renew_period");
    let rotate_src = source(matches, "rotate_period");
    match (cli.rotate_period, rotate_src) {
        (Some(rotate), Some(ValueSource::CommandLine))
            if renew_src != Some(ValueSource::CommandLine) =>
        {
            (rotate, true)
        }
        (Some(rotate), Some(ValueSource::EnvVariable))
            if renew_src != Some(ValueSource::CommandLine) =>
        {
            (rotate, true)
        }
        _ => (cli.key_renew_period, false),
    }
}

fn resolve(cli: Cli, matches: &ArgMatches) -> Result<Settings, CliError> {
    if !valid_key_prefix(&cli.key_prefix) {
        return Err(CliError::KeyPrefix(cli.key_prefix));
    }
    if ![2048, 3072, 4096, 8192].contains(&cli.key_size) {
        return Err(CliError::KeySize(cli.key_size));
    }
    if cli.rate_limit == 0 {
        return Err(CliError::RateLimit);
    }
    if !cli.cert_configmap.is_empty()
        && !sealed_secrets_core::public_cert::valid_configmap_name(&cli.cert_configmap)
    {
        return Err(CliError::CertConfigMap(cli.cert_configmap));
    }
    let key_cutoff_time = if cli.key_cutoff_time.is_empty() {
        None
    } else {
        Some(go_flags::parse_rfc1123z(&cli.key_cutoff_time).map_err(CliError::CutoffTime)?)
    };
    let (key_order_priority, key_order_priority_invalid) = match cli.key_order_priority.as_str() {
        "CertNotBefore" => (KeyOrderPriority::CertNotBefore, None),
        "SecretCreationTimestamp" => (KeyOrderPriority::SecretCreationTimestamp, None),
        other => (KeyOrderPriority::CertNotBefore, Some(other.to_owned())),
    };
    let log_level = match cli.log_level.to_ascii_uppercase().as_str() {
        "DEBUG" => tracing::Level::DEBUG,
        "WARN" | "WARNING" => tracing::Level::WARN,
        "ERROR" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    // Upstream compares with "json" exactly and takes anything else as text.
    let log_format = match cli.log_format.as_str() {
        "json" => LogFormat::Json,
        "tracing" => LogFormat::Tracing,
        "tracing-json" => LogFormat::TracingJson,
        _ => LogFormat::Text,
    };
    let privatekey_labels =
        go_flags::parse_key_value_list("privatekey-labels", &cli.privatekey_labels)
            .map_err(CliError::KeyValue)?;
    let privatekey_annotations =
        go_flags::parse_key_value_list("privatekey-annotations", &cli.privatekey_annotations)
            .map_err(CliError::KeyValue)?;
    let mut additional_namespaces: Vec<String> = Vec::new();
    for ns in cli.additional_namespaces.split(',').map(str::trim) {
        if !ns.is_empty() && !additional_namespaces.iter().any(|n| n == ns) {
            additional_namespaces.push(ns.to_owned());
        }
    }
    let (key_renew_period, rotate_period_used) = renew_period(&cli, matches);
    Ok(Settings {
        key_prefix: cli.key_prefix,
        key_size: cli.key_size,
        key_ttl: cli.key_ttl,
        my_cn: cli.my_cn,
        key_renew_period,
        key_order_priority,
        key_order_priority_invalid,
        accept_v1_data: cli.accept_deprecated_v1_data,
        key_cutoff_time,
        all_namespaces: cli.all_namespaces,
        additional_namespaces,
        label_selector: Some(cli.label_selector).filter(|s| !s.is_empty()),
        rate_limit: cli.rate_limit,
        rate_limit_burst: cli.rate_limit_burst,
        privatekey_annotations,
        privatekey_labels,
        old_gc_behavior: cli.old_gc_behavior,
        update_status: cli.update_status,
        watch_for_secrets: cli.watch_for_secrets,
        skip_recreate: cli.skip_recreate,
        log_info_stdout: cli.log_info_stdout,
        log_level,
        log_format,
        max_unseal_retries: cli.max_unseal_retries,
        kubeclient_qps: cli.kubeclient_qps,
        kubeclient_burst: cli.kubeclient_burst,
        listen_addr: cli.listen_addr,
        listen_metrics_addr: cli.listen_metrics_addr,
        read_timeout: cli.read_timeout,
        write_timeout: cli.write_timeout,
        kubeconfig: cli.kubeconfig,
        skip_unchanged: cli.skip_unchanged,
        leader_elect: cli.leader_elect,
        leader_elect_lease: cli.leader_elect_lease,
        cert_configmap: Some(cli.cert_configmap).filter(|s| !s.is_empty()),
        web_sealer: cli.web_sealer,
        rotate_period_used,
    })
}

impl Settings {
    /// The namespaces to watch, given the controller's own namespace (SPEC §3.1).
    #[must_use]
    pub fn watch_scope(&self, own_namespace: &str) -> WatchScope {
        if !self.additional_namespaces.is_empty() {
            let mut list = vec![own_namespace.to_owned()];
            for ns in &self.additional_namespaces {
                if !list.contains(ns) {
                    list.push(ns.clone());
                }
            }
            WatchScope::Namespaces(list)
        } else if self.all_namespaces {
            WatchScope::All
        } else {
            WatchScope::Namespaces(vec![own_namespace.to_owned()])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Settings {
        let mut full = vec!["sealed-secrets-controller"];
        full.extend_from_slice(args);
        match parse(full).unwrap() {
            Mode::Run(s) => *s,
            Mode::Version => panic!("unexpected version mode"),
        }
    }

    #[test]
    fn defaults_match_upstream() {
        let s = run(&[]);
        assert_eq!(s.key_prefix, "sealed-secrets-key");
        assert_eq!(s.key_size, 4096);
        assert_eq!(s.key_ttl, Duration::from_secs(87600 * 3600));
        assert_eq!(s.my_cn, "");
        assert_eq!(s.key_renew_period, Duration::from_secs(720 * 3600));
        assert_eq!(s.key_order_priority, KeyOrderPriority::CertNotBefore);
        assert!(s.accept_v1_data);
        assert!(s.key_cutoff_time.is_none());
        assert!(s.all_namespaces);
        assert!(s.additional_namespaces.is_empty());
        assert!(s.label_selector.is_none());
        assert_eq!((s.rate_limit, s.rate_limit_burst), (2, 2));
        assert!(!s.old_gc_behavior);
        assert!(s.update_status);
        assert!(!s.watch_for_secrets);
        assert!(!s.skip_recreate);
        assert!(s.log_info_stdout);
        assert_eq!(s.log_level, tracing::Level::INFO);
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.max_unseal_retries, 5);
        assert!((s.kubeclient_qps - 5.0).abs() < f32::EPSILON);
        assert_eq!(s.kubeclient_burst, 10);
        assert_eq!(s.listen_addr, ":8080");
        assert_eq!(s.listen_metrics_addr, ":8081");
        assert_eq!(s.read_timeout, Duration::from_secs(120));
        assert_eq!(s.write_timeout, Duration::from_secs(120));
        assert!(s.skip_unchanged);
        assert!(!s.rotate_period_used);
        assert_eq!(s.cert_configmap.as_deref(), Some("sealed-secrets-cert"));
    }

    #[test]
    fn cert_configmap_name_or_disabled() {
        assert_eq!(
            run(&["--cert-configmap", "pub.cert"])
                .cert_configmap
                .as_deref(),
            Some("pub.cert")
        );
        assert_eq!(run(&["--cert-configmap="]).cert_configmap, None);
        assert_eq!(run(&["--cert-configmap", ""]).cert_configmap, None);
        assert!(matches!(
            parse(["c", "--cert-configmap", "Not_A_Name"]),
            Err(CliError::CertConfigMap(_))
        ));
    }

    #[test]
    fn go_style_booleans() {
        let s = run(&[
            "--update-status=false",
            "--old-gc-behavior",
            "--all-namespaces=0",
        ]);
        assert!(!s.update_status);
        assert!(s.old_gc_behavior);
        assert!(!s.all_namespaces);
        // A bare bool flag does not swallow the next argument.
        let s = run(&["--skip-recreate", "--key-prefix", "abc"]);
        assert!(s.skip_recreate);
        assert_eq!(s.key_prefix, "abc");
    }

    #[test]
    fn version_flag() {
        assert!(matches!(parse(["c", "--version"]).unwrap(), Mode::Version));
        assert!(matches!(
            parse(["c", "--version=true"]).unwrap(),
            Mode::Version
        ));
        assert!(matches!(
            parse(["c", "--version=false"]).unwrap(),
            Mode::Run(_)
        ));
    }

    #[test]
    fn environment_and_precedence() {
        // clap reads the environment through `Arg::env`; exercise it with a command whose env
        // names are rewritten to unique ones so the test does not depend on the process env.
        let cmd = Cli::command().mut_arg("key_prefix", |a| a.env("SSRS_TEST_UNSET_KEY_PREFIX"));
        let m = cmd
            .clone()
            .try_get_matches_from(["c", "--key-prefix", "cli"])
            .unwrap();
        assert_eq!(m.get_one::<String>("key_prefix").unwrap(), "cli");
        assert_eq!(m.value_source("key_prefix"), Some(ValueSource::CommandLine));
        let m = cmd.try_get_matches_from(["c"]).unwrap();
        assert_eq!(
            m.value_source("key_prefix"),
            Some(ValueSource::DefaultValue)
        );
        // Every flag carries its SEALED_SECRETS_* variable.
        for arg in Cli::command().get_arguments() {
            let long = arg.get_long().unwrap_or_default();
            if long == "help" || long.is_empty() {
                continue;
            }
            let expected = format!(
                "SEALED_SECRETS_{}",
                long.to_ascii_uppercase().replace('-', "_")
            );
            assert_eq!(
                arg.get_env().and_then(|e| e.to_str()),
                Some(expected.as_str()),
                "flag --{long}"
            );
        }
    }

    #[test]
    fn key_prefix_is_checked() {
        assert!(valid_key_prefix("sealed-secrets-key"));
        assert!(!valid_key_prefix("Sealed"));
        assert!(!valid_key_prefix("a_b"));
        assert!(!valid_key_prefix(&"a".repeat(246)));
        assert!(matches!(
            parse(["c", "--key-prefix", "BAD"]),
            Err(CliError::KeyPrefix(_))
        ));
    }

    #[test]
    fn cutoff_and_lists() {
        let s = run(&[
            "--key-cutoff-time",
            "Mon, 02 Jan 2006 15:04:05 -0700",
            "--privatekey-labels",
            "a=b,c=d",
            "--additional-namespaces",
            "x,y,x,,z",
        ]);
        assert_eq!(s.key_cutoff_time.unwrap().unix_timestamp(), 1_136_239_445);
        assert_eq!(s.privatekey_labels.len(), 2);
        assert_eq!(s.additional_namespaces, vec!["x", "y", "z"]);
        assert!(matches!(
            parse(["c", "--key-cutoff-time", "yesterday"]),
            Err(CliError::CutoffTime(_))
        ));
        assert!(matches!(
            parse(["c", "--privatekey-annotations", "oops"]),
            Err(CliError::KeyValue(_))
        ));
    }

    #[test]
    fn watch_scope_rules() {
        let s = run(&[]);
        assert_eq!(s.watch_scope("kube-system"), WatchScope::All);
        let s = run(&["--all-namespaces=false"]);
        assert_eq!(
            s.watch_scope("kube-system"),
            WatchScope::Namespaces(vec!["kube-system".into()])
        );
        let s = run(&["--additional-namespaces", "a,kube-system,b"]);
        assert_eq!(
            s.watch_scope("kube-system"),
            WatchScope::Namespaces(vec!["kube-system".into(), "a".into(), "b".into()])
        );
    }

    #[test]
    fn rotate_period_alias() {
        let s = run(&["--rotate-period", "1h"]);
        assert_eq!(s.key_renew_period, Duration::from_secs(3600));
        assert!(s.rotate_period_used);
        let s = run(&["--rotate-period", "1h", "--key-renew-period", "2h"]);
        assert_eq!(s.key_renew_period, Duration::from_secs(7200));
        let s = run(&["--key-renew-period", "0"]);
        assert_eq!(s.key_renew_period, Duration::ZERO);
    }

    #[test]
    fn invalid_values() {
        let s = run(&[
            "--key-order-priority",
            "bogus",
            "--log-level",
            "chatty",
            "--log-format",
            "json",
        ]);
        assert_eq!(s.key_order_priority, KeyOrderPriority::CertNotBefore);
        assert_eq!(s.key_order_priority_invalid.as_deref(), Some("bogus"));
        assert_eq!(s.log_level, tracing::Level::INFO);
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(matches!(
            parse(["c", "--rate-limit", "0"]),
            Err(CliError::RateLimit)
        ));
        assert!(parse(["c", "--key-ttl", "10d"]).is_err());
    }

    #[test]
    fn log_formats() {
        for (value, want) in [
            ("text", LogFormat::Text),
            ("json", LogFormat::Json),
            ("tracing", LogFormat::Tracing),
            ("tracing-json", LogFormat::TracingJson),
            // Upstream: anything but "json" is text, "JSON" included.
            ("JSON", LogFormat::Text),
            ("logfmt", LogFormat::Text),
        ] {
            assert_eq!(run(&["--log-format", value]).log_format, want, "{value}");
        }
    }
}
