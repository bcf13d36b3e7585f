//! Stage 1: the command line as declared (clap). Flag names, defaults and `SEALED_SECRETS_*`
//! environment variables follow upstream `kubeseal` (SPEC §4.1) so scripts keep working.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod connection;
pub mod keys;
mod values;

pub use connection::{ConnectionArgs, KlogArgs};
use values::{GoBoolParser, ScopeParser};

/// Seal Kubernetes Secrets into SealedSecrets that only the controller can open.
///
/// Without a subcommand, reads Secret manifests (JSON or YAML) from stdin or --secret-file and
/// writes SealedSecrets, exactly as upstream kubeseal does.
#[derive(Debug, Parser)]
#[command(name = "kubeseal-rs", version, about, long_about, max_term_width = 100)]
#[command(args_conflicts_with_subcommands = true)]
// As Go's flag parsing does, a flag given twice takes the last value (`--kubeconfig a
// --kubeconfig b` is b); flags that collect several values (`--cert`, `--from-file`, …) keep
// every one.
#[command(args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub seal: SealArgs,
}

/// What `--version` prints: upstream's `kubeseal version: vX.Y.Z` line, which scripts and
/// upstream's integration suite match, then the upstream release this build is compatible with.
#[must_use]
pub fn version_text() -> String {
    format!(
        "kubeseal version: v{}\nkubeseal-rs, compatible with kubeseal {}\n",
        env!("CARGO_PKG_VERSION"),
        sealed_secrets_core::UPSTREAM_COMPAT_VERSION
    )
}

/// Everything upstream kubeseal accepts.
#[derive(Debug, Args, Default)]
pub struct SealArgs {
    /// Certificate / public key to seal with: a file path, an http(s):// URL or a file:// URL.
    /// Without it, the certificate is fetched from the controller in the cluster. Repeat it
    /// to seal for several clusters at once (then -w is a pattern with {cluster}).
    #[arg(long, env = "SEALED_SECRETS_CERT", value_name = "FILE|URL")]
    pub cert: Vec<String>,

    /// Seal for this environment of the repository config (.sealed-secrets.toml), using its
    /// certificate; repeatable, like --cert.
    #[arg(long = "environment", short = 'e', value_name = "NAME")]
    pub environments: Vec<String>,

    /// The repository config (default: the nearest .sealed-secrets.toml upwards).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Record the sealing certificate's fingerprint in the SealedSecret's
    /// sealed-secrets-rs/sealed-with annotation (always on with several certificates).
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub record_fingerprint: bool,

    /// Namespace of the sealed-secrets controller (used when the certificate comes from the
    /// cluster, and for --validate and --re-encrypt).
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAMESPACE",
        default_value = "kube-system"
    )]
    pub controller_namespace: String,

    /// Name of the sealed-secrets controller's Service.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAME",
        default_value = "sealed-secrets-controller"
    )]
    pub controller_name: String,

    /// When the controller's Service is not found, also look for a labelled Service or
    /// certificate ConfigMap in every namespace, and trust what is found there (by default
    /// only --controller-namespace is searched, or other namespaces for a certificate whose
    /// fingerprint the repository config pins).
    #[arg(
        long,
        env = "SEALED_SECRETS_DISCOVER_ALL_NAMESPACES",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub discover_all_namespaces: bool,

    /// Output format for sealed secrets and recovered secrets.
    #[arg(
        short = 'o',
        long,
        env = "SEALED_SECRETS_FORMAT",
        default_value = "json",
        ignore_case = true
    )]
    pub format: Format,

    /// Write the result to this file instead of stdout, atomically and only on success.
    /// A .yaml/.yml extension selects YAML output.
    #[arg(
        short = 'w',
        long = "sealed-secret-file",
        env = "SEALED_SECRETS_SEALED_SECRET_FILE",
        value_name = "FILE"
    )]
    pub sealed_secret_file: Option<PathBuf>,

    /// Read the input manifest(s) from this file instead of stdin.
    #[arg(
        short = 'f',
        long = "secret-file",
        env = "SEALED_SECRETS_SECRET_FILE",
        value_name = "FILE"
    )]
    pub secret_file: Option<PathBuf>,

    /// Print the certificate (from --cert or the controller) and exit.
    #[arg(
        long,
        env = "SEALED_SECRETS_FETCH_CERT",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub fetch_cert: bool,

    /// Allow a Secret with neither data nor stringData.
    #[arg(
        long,
        env = "SEALED_SECRETS_ALLOW_EMPTY_DATA",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub allow_empty_data: bool,

    /// Check with the controller that the input SealedSecrets can be unsealed.
    #[arg(
        long,
        env = "SEALED_SECRETS_VALIDATE",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub validate: bool,

    /// Seal the input Secret and merge its items into this existing SealedSecret file, in place.
    #[arg(long, env = "SEALED_SECRETS_MERGE_INTO", value_name = "FILE")]
    pub merge_into: Option<PathBuf>,

    /// Encrypt a single value (from --from-file or stdin) and print the base64 ciphertext.
    #[arg(
        long,
        env = "SEALED_SECRETS_RAW",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub raw: bool,

    /// Name of the Secret (with --raw; otherwise overrides the input's name).
    #[arg(long, env = "SEALED_SECRETS_NAME")]
    pub name: Option<String>,

    /// With --raw: file holding the value to encrypt, as [key=]path (the key is ignored;
    /// comma-separated or repeated, as upstream, though --raw takes only one).
    #[arg(
        long,
        env = "SEALED_SECRETS_FROM_FILE",
        value_delimiter = ',',
        value_name = "[KEY=]PATH"
    )]
    pub from_file: Vec<String>,

    /// Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else the
    /// in-cluster service account).
    #[arg(long, env = "SEALED_SECRETS_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use.
    #[arg(long, env = "SEALED_SECRETS_CONTEXT")]
    pub context: Option<String>,

    /// Namespace of the Secret (default: the input's, else the kubeconfig context's).
    #[arg(short = 'n', long, env = "SEALED_SECRETS_NAMESPACE")]
    pub namespace: Option<String>,

    /// Sealing scope: strict (name and namespace), namespace-wide or cluster-wide.
    /// Given explicitly, it replaces the scope annotations of the input (also strict).
    #[arg(long, env = "SEALED_SECRETS_SCOPE", value_parser = ScopeParser)]
    pub scope: Option<sealed_secrets_core::scope::Scope>,

    /// Re-encrypt the input SealedSecrets with the controller's newest key.
    #[arg(
        long,
        env = "SEALED_SECRETS_RE_ENCRYPT",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub re_encrypt: bool,

    /// Deprecated upstream spelling of --re-encrypt.
    #[arg(
        long,
        hide = true,
        env = "SEALED_SECRETS_ROTATE",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub rotate: bool,

    /// Decrypt the input SealedSecret offline with private keys (disaster recovery).
    #[arg(
        long,
        env = "SEALED_SECRETS_RECOVERY_UNSEAL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub recovery_unseal: bool,

    /// Private key files for --recovery-unseal: PEM keys, key Secret manifests or Lists of them
    /// (comma-separated or repeated).
    #[arg(
        long,
        env = "SEALED_SECRETS_RECOVERY_PRIVATE_KEY",
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub recovery_private_key: Vec<PathBuf>,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub klog: KlogArgs,
}

/// A `SEALED_SECRETS_*` variable set to the empty string counts as unset. Upstream sets its
/// flag to `""`, which for its strings means unset (`--cert`, `--merge-into`, …), for its
/// booleans false and for its lists empty; clap would parse `""` (`--raw=`, refused, or a
/// `--merge-into` of `""`).
#[must_use]
pub fn empty_variables_unset(cmd: clap::Command) -> clap::Command {
    let cmd = cmd.mut_args(|arg| {
        let empty = arg
            .get_env()
            .and_then(std::env::var_os)
            .is_some_and(|value| value.is_empty());
        if empty { arg.env(None) } else { arg }
    });
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    names.into_iter().fold(cmd, |cmd, name| {
        cmd.mut_subcommand(name, empty_variables_unset)
    })
}

/// Upstream's list flags (`--from-file`, `--recovery-private-key`, `--as-group`) add the
/// command line's values to their `SEALED_SECRETS_*` variable's (pflag appends after the
/// variable's value was set), where clap lets the command line replace the variable: this puts
/// the variable's values first again. Empty variables count as unset, as clap's (and upstream
/// reads an empty list from them).
pub fn keep_env_lists(cli: &mut Cli, matches: &clap::ArgMatches) {
    fn from_env(matches: &clap::ArgMatches, id: &str, var: &str, split: bool) -> Vec<String> {
        if matches.value_source(id) != Some(clap::parser::ValueSource::CommandLine) {
            return Vec::new();
        }
        match std::env::var(var) {
            Ok(value) if value.is_empty() => Vec::new(),
            Ok(value) if split => value.split(',').map(str::to_owned).collect(),
            Ok(value) => vec![value],
            Err(_) => Vec::new(),
        }
    }
    if cli.command.is_some() {
        return;
    }
    let seal = &mut cli.seal;
    let env = from_env(matches, "from_file", "SEALED_SECRETS_FROM_FILE", true);
    seal.from_file.splice(0..0, env);
    let env = from_env(
        matches,
        "recovery_private_key",
        "SEALED_SECRETS_RECOVERY_PRIVATE_KEY",
        true,
    );
    seal.recovery_private_key
        .splice(0..0, env.into_iter().map(PathBuf::from));
    let env = from_env(
        matches,
        "impersonate_group",
        "SEALED_SECRETS_AS_GROUP",
        false,
    );
    seal.connection.impersonate_group.splice(0..0, env);
}

/// Output formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Json,
    Yaml,
}

/// Subcommands beyond upstream's flag interface.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a key pair and self-signed certificate like the controller does, written as a
    /// key Secret manifest (for bring-your-own-key and offline tests).
    Keygen(KeygenArgs),
    /// Print shell completions.
    Completions {
        /// Shell to generate completions for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or with --dir write one page per command there.
    Man {
        /// Write `kubeseal-rs.1` and one `kubeseal-rs-COMMAND.1` per command into this
        /// directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Check SealedSecret manifests offline for CI: parse, name/namespace/scope agree, items fit
    /// the pinned certificate's key, sealed with a pinned certificate, no plaintext Secrets.
    Check(CheckArgs),
    /// Set one item of a SealedSecret file in place, from a hidden prompt, stdin or a file;
    /// everything else in the file is kept byte for byte.
    Set(Box<SetArgs>),
    /// Remove one item of a SealedSecret file in place.
    Unset(UnsetArgs),
    /// Re-encrypt every SealedSecret under the paths for another certificate, offline, with
    /// the private keys that open them; files keep their layout and untouched items.
    Reseal(ResealArgs),
    /// The controller's sealing keys in the cluster: list, backup, restore, prune.
    Keys(Box<keys::KeysArgs>),
    /// Show a certificate: subject, validity, key size and the fingerprint that
    /// .sealed-secrets.toml pins and --only-key take.
    Cert(Box<CertInfoArgs>),
    /// Run as a Kustomize KRM function (exec): seal the Secret a SealedSecretGenerator
    /// describes (ResourceList on stdin and stdout; docs/gitops-workflow.md).
    Krm,
    /// Write the browser sealer as one self-contained HTML file with the certificate embedded
    /// (seals in the browser, offline; see docs/web.md).
    Web(Box<CertInfoArgs>),
}

/// Options of `cert`.
#[derive(Debug, Args)]
pub struct CertInfoArgs {
    /// The certificate: a file path, an http(s):// URL or a file:// URL.
    #[arg(value_name = "FILE|URL", conflicts_with = "fetch")]
    pub source: Option<String>,
    /// Fetch the certificate from the controller in the cluster.
    #[arg(long)]
    pub fetch: bool,
    #[command(flatten)]
    pub cert: CertArgs,
}

/// Where `set` gets its certificate: `--cert`, else `-e`, else the controller (like sealing).
#[derive(Debug, Args, Default)]
pub struct CertArgs {
    /// Certificate to seal with: a file path, an http(s):// URL or a file:// URL.
    /// Without it (and without -e), the certificate is fetched from the controller in the
    /// cluster.
    #[arg(long, env = "SEALED_SECRETS_CERT", value_name = "FILE|URL")]
    pub cert: Option<String>,
    /// Use this environment's certificate from the repository config (.sealed-secrets.toml).
    #[arg(
        long = "environment",
        short = 'e',
        value_name = "NAME",
        conflicts_with = "cert"
    )]
    pub environment: Option<String>,
    /// The repository config (default: the nearest .sealed-secrets.toml upwards).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Namespace of the sealed-secrets controller.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAMESPACE",
        default_value = "kube-system"
    )]
    pub controller_namespace: String,
    /// Name of the sealed-secrets controller's Service.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAME",
        default_value = "sealed-secrets-controller"
    )]
    pub controller_name: String,
    /// Search every namespace for the controller when its Service is not found (see the
    /// flag of the same name without a subcommand).
    #[arg(
        long,
        env = "SEALED_SECRETS_DISCOVER_ALL_NAMESPACES",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        hide_default_value = true,
        default_missing_value = "true",
        value_parser = GoBoolParser,
        value_name = "BOOL"
    )]
    pub discover_all_namespaces: bool,
    /// Path to the kubeconfig file.
    #[arg(long, env = "SEALED_SECRETS_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, env = "SEALED_SECRETS_CONTEXT")]
    pub context: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories to check (directories are walked; default: the config's
    /// directory, else the current one).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The repository config (default: the nearest .sealed-secrets.toml upwards).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Fail on items sealed longer ago than this (e.g. 90d, 2w, 12h), and on items with no
    /// recorded time (sealed-at), in every file; environments can set their own max-age.
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,
}

/// Options of `set`.
#[derive(Debug, Args)]
pub struct SetArgs {
    /// The SealedSecret file to change in place.
    pub file: PathBuf,
    /// The item to set.
    pub key: String,
    /// Read the value from this file (exact bytes) instead of the prompt or stdin.
    #[arg(long, value_name = "PATH")]
    pub from_file: Option<PathBuf>,
    /// Store an empty value (refused by default: an empty prompt, file or stdin is usually a
    /// mistake).
    #[arg(long)]
    pub allow_empty: bool,
    /// Which SealedSecret of a multi-document file (by metadata.name).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub cert: CertArgs,
}

/// Options of `unset`.
#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// The SealedSecret file to change in place.
    pub file: PathBuf,
    /// The item to remove.
    pub key: String,
    /// Which SealedSecret of a multi-document file (by metadata.name).
    #[arg(long)]
    pub name: Option<String>,
    /// Refuse unless the file belongs to this environment of the repository config (its
    /// paths cover the file, or the file records one of its certificates).
    #[arg(long = "environment", short = 'e', value_name = "NAME")]
    pub environment: Option<String>,
    /// The repository config (default: the nearest .sealed-secrets.toml upwards).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Options of `reseal`.
#[derive(Debug, Args)]
pub struct ResealArgs {
    /// Files or directories holding SealedSecrets (directories are walked).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The certificate to re-encrypt for (file path or file:// URL).
    #[arg(
        long,
        required_unless_present = "environment",
        conflicts_with = "environment",
        value_name = "FILE"
    )]
    pub cert: Option<String>,
    /// Re-encrypt for this environment's certificate from the repository config.
    #[arg(long = "environment", short = 'e', value_name = "NAME")]
    pub environment: Option<String>,
    /// The repository config (default: the nearest .sealed-secrets.toml upwards).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Private key files that open the current items: PEM keys, key Secret manifests or
    /// Lists of them (comma-separated or repeated).
    #[arg(
        long,
        required_unless_present = "record_only",
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub recovery_private_key: Vec<PathBuf>,
    /// Re-encrypt nothing: record the certificate's fingerprint (sealed-with) on every
    /// SealedSecret that records none, when its items have the certificate's key size and its
    /// scope checks out; no private key needed (for a repository sealed by upstream kubeseal).
    #[arg(long, conflicts_with_all = ["recovery_private_key", "only_key"])]
    pub record_only: bool,
    /// Only re-encrypt items that this key (fingerprint SHA256:…) opens.
    #[arg(long, value_name = "FINGERPRINT")]
    pub only_key: Option<String>,
    /// Report what would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Options of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// RSA key size in bits.
    #[arg(long, default_value_t = 4096)]
    pub key_size: usize,
    /// Certificate validity, e.g. 87600h (10 years) or 30d.
    #[arg(long, default_value = "87600h")]
    pub key_ttl: String,
    /// Common name for the certificate's subject and issuer (empty DN by default).
    #[arg(long, default_value = "")]
    pub my_cn: String,
    /// generateName prefix of the key Secret.
    #[arg(long, default_value = "sealed-secrets-key")]
    pub key_prefix: String,
    /// Namespace of the key Secret (the controller's namespace).
    #[arg(short = 'n', long, default_value = "kube-system")]
    pub namespace: String,
    /// Also write the certificate (PEM) to this file, for sealing with --cert.
    #[arg(long, value_name = "FILE")]
    pub cert_out: Option<PathBuf>,
    /// Back-date the certificate (RFC 3339), for tests of expiry handling.
    #[arg(long, hide = true, value_name = "TIME")]
    pub not_before: Option<String>,
    /// Write the key Secret to this file (mode 0600) instead of stdout.
    #[arg(short = 'w', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format of the key Secret.
    #[arg(short = 'o', long, default_value = "yaml", ignore_case = true)]
    pub format: Format,
}
