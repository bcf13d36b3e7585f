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

mod flags;
mod kms;
mod pkcs11;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use time::OffsetDateTime;

pub use self::flags::Cli;
pub use self::kms::{KmsFlags, KmsMigration, KmsProviderKind, KmsSettings};
pub use self::pkcs11::{Pkcs11Flags, Pkcs11Settings};
use crate::go_flags;

/// The default `--key-prefix`, also the exact name of a pre-0.9 legacy key Secret.
pub const DEFAULT_KEY_PREFIX: &str = "sealed-secrets-key";

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
    /// `--metrics-omit-secret-labels`: `condition_info` is never set (upstream v0.39).
    pub metrics_omit_secret_labels: bool,
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
    /// `--watch-list`: streaming lists to start the watches.
    pub watch_list: bool,
    /// `--fan-out`: copies of cluster-wide SealedSecrets in consenting namespaces.
    pub fan_out: bool,
    pub leader_elect: bool,
    pub leader_elect_lease: String,
    /// `--cert-configmap`: the ConfigMap to publish the certificate in; `None` when disabled.
    pub cert_configmap: Option<String>,
    /// `--web-sealer`: serve the browser sealer at `/`.
    pub web_sealer: bool,
    /// `--rotate-period` was used (a deprecation notice is printed).
    pub rotate_period_used: bool,
    /// `--pkcs11-*`: keys in a PKCS#11 token (`None` without `--pkcs11-module`).
    pub pkcs11: Option<Pkcs11Settings>,
    /// `--kms-*`: key Secrets wrapped by a KMS key (`None` without `--kms-provider`).
    pub kms: Option<KmsSettings>,
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
    #[error("{0}")]
    Pkcs11(String),
    #[error("{0}")]
    Kms(String),
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
    let pkcs11 = pkcs11::resolve(cli.pkcs11.clone())?;
    let kms = kms::resolve(cli.kms.clone())?;
    if pkcs11.is_some() && kms.is_some() {
        return Err(CliError::Kms(
            "--pkcs11-module and --kms-provider are two places for the same keys: choose one"
                .to_owned(),
        ));
    }
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
        metrics_omit_secret_labels: cli.metrics_omit_secret_labels,
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
        watch_list: cli.watch_list,
        fan_out: cli.fan_out,
        leader_elect: cli.leader_elect,
        leader_elect_lease: cli.leader_elect_lease,
        cert_configmap: Some(cli.cert_configmap).filter(|s| !s.is_empty()),
        web_sealer: cli.web_sealer,
        rotate_period_used,
        pkcs11,
        kms,
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
mod tests;
