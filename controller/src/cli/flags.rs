//! The flags as declared to clap ([`Cli`]): upstream's names, defaults and `SEALED_SECRETS_*`
//! variables, with Go's spellings of booleans and durations. Checked into
//! [`Settings`](super::Settings) by `resolve` in `cli.rs`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::DEFAULT_KEY_PREFIX;
use crate::go_flags;

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
    disable_version_flag = true,
    // As Go's flag package: a flag given twice keeps its last value.
    args_override_self = true
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

    /// Do not update the sealed_secrets_controller_condition_info metric, so /metrics does not
    /// expose SealedSecret namespaces and names (for a metrics port users can reach).
    #[arg(long, env = "SEALED_SECRETS_METRICS_OMIT_SECRET_LABELS", default_value = "false",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub metrics_omit_secret_labels: bool,

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

    /// Start each watch with a streaming list (sendInitialEvents=true: the API server sends
    /// the current objects from its watch cache as watch events) instead of paged list calls
    /// (addition; needs the WatchList feature of the API server, on by default from Kubernetes
    /// 1.34; docs/performance.md).
    #[arg(long, env = "SEALED_SECRETS_WATCH_LIST", default_value = "false",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub watch_list: bool,

    /// Unseal a cluster-wide SealedSecret annotated sealed-secrets-rs/fan-out-namespaces or
    /// sealed-secrets-rs/fan-out-selector into the namespaces that consent (their Namespace
    /// annotated sealed-secrets-rs/fan-out-from) as well (addition; needs RBAC to list and watch
    /// namespaces and to delete Secrets; docs/fan-out.md).
    #[arg(long, env = "SEALED_SECRETS_FAN_OUT", default_value = "false",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub fan_out: bool,

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

    #[command(flatten)]
    pub pkcs11: super::Pkcs11Flags,

    #[command(flatten)]
    pub kms: super::KmsFlags,
}
