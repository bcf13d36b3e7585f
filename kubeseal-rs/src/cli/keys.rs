//! The `keys` subcommands as declared (see `commands/keys.rs` for what they do and
//! `docs/keys.md` for the workflow).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{ConnectionArgs, Format};

/// `kubeseal-rs keys …`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysAction,
}

/// What to do with the controller's sealing keys.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// List the controller's keys: fingerprint, Secret, validity, state (newest, active, …),
    /// how many SealedSecrets in the cluster were last unsealed with each key, and where the
    /// private key lives (WHERE: `secret`, `kms:<key id>` for a KMS-wrapped key Secret, or
    /// `pkcs11:<token>` for a key in a token, from the controller's published listing).
    List(KeysListArgs),
    /// Write every key Secret of the controller's namespace (not only the newest) to a file,
    /// as a v1 List that `keys restore`, `kubectl apply -f` and
    /// `kubeseal --recovery-private-key` accept; mode 0600, written atomically.
    Backup(KeysBackupArgs),
    /// Create the key Secrets of a backup file that are missing from the controller's
    /// namespace; never overwrites a Secret, adds nothing that is not in the file.
    Restore(KeysRestoreArgs),
    /// Delete key Secrets that no SealedSecret depends on any more; refuses a key still in
    /// use and the newest key.
    Prune(KeysPruneArgs),
}

/// Where the keys are and how to reach the cluster.
#[derive(Debug, Args, Default)]
pub struct KeysCluster {
    /// Namespace of the sealed-secrets controller, where its key Secrets live.
    #[arg(
        long,
        env = "SEALED_SECRETS_CONTROLLER_NAMESPACE",
        default_value = "kube-system"
    )]
    pub controller_namespace: String,
    /// Path to the kubeconfig file.
    #[arg(long, env = "SEALED_SECRETS_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long, env = "SEALED_SECRETS_CONTEXT")]
    pub context: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// Options of `keys list`.
#[derive(Debug, Args)]
pub struct KeysListArgs {
    #[command(flatten)]
    pub cluster: KeysCluster,
}

/// Options of `keys backup`.
#[derive(Debug, Args)]
pub struct KeysBackupArgs {
    /// The backup file ("-" for stdout). It holds private keys: keep it safe.
    #[arg(short = 'w', long = "output", value_name = "FILE", required = true)]
    pub output: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Format of the backup file.
    #[arg(short = 'o', long, default_value = "yaml", ignore_case = true)]
    pub format: Format,
    #[command(flatten)]
    pub cluster: KeysCluster,
}

/// Options of `keys restore`.
#[derive(Debug, Args)]
pub struct KeysRestoreArgs {
    /// A backup written by `keys backup`, or any file of key Secrets (a List, a stream of
    /// documents, JSON or YAML).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Report what would be added, create nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cluster: KeysCluster,
}

/// Options of `keys prune`.
#[derive(Debug, Args)]
pub struct KeysPruneArgs {
    /// Fingerprints (SHA256:…, as `keys list` prints them) of the keys to delete.
    #[arg(value_name = "FINGERPRINT")]
    pub fingerprints: Vec<String>,
    /// Instead of fingerprints: every key whose certificate is older than this (e.g. 720h,
    /// 90d) and that nothing depends on; keys still in use are kept and reported.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Report what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cluster: KeysCluster,
}
