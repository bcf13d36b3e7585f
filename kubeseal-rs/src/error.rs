//! The CLI's error: one line on stderr, exit 1 (2 for usage errors).

use sealed_secrets_core::{key_secret, manifest, seal};

use crate::{cert_source, cluster, input, man, mode, output, repo_config, sealed_file};

mod commands;

pub use commands::{CommandError, KeygenError, KeysError, KrmError, MultiSealError, SetError};

/// Everything that can make kubeseal-rs fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Usage(#[from] mode::UsageError),
    #[error(transparent)]
    Input(#[from] input::InputError),
    #[error(transparent)]
    Output(#[from] output::OutputError),
    #[error(transparent)]
    Cert(#[from] cert_source::CertSourceError),
    #[error("{0}")]
    Manifest(#[from] manifest::ManifestError),
    #[error("{context}: {source}")]
    Seal {
        context: String,
        #[source]
        source: seal::SealError,
    },
    #[error("{context}: {source}")]
    Unseal {
        context: String,
        #[source]
        source: seal::UnsealError,
    },
    #[error("{path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: key_secret::KeySecretError,
    },
    #[error(transparent)]
    SealedFile(#[from] sealed_file::SealedFileError),
    #[error(transparent)]
    Set(#[from] SetError),
    #[error(transparent)]
    Keygen(#[from] KeygenError),
    #[error(transparent)]
    MultiSeal(#[from] MultiSealError),
    #[error(transparent)]
    Command(Box<CommandError>),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Krm(#[from] KrmError),
    /// clap could not turn the matched arguments into the typed command line.
    #[error("{0}")]
    Arguments(String),
    #[error(transparent)]
    RepoConfig(#[from] repo_config::RepoConfigError),
    #[error(transparent)]
    Man(#[from] man::ManError),
    /// Talking to the controller failed; `context` is upstream's prefix for the operation
    /// (`cannot fetch certificate`, `cannot validate sealed secret`, …).
    #[error("{context}: {source}")]
    Cluster {
        context: &'static str,
        #[source]
        source: Box<cluster::ClusterError>,
    },
}

impl From<CommandError> for CliError {
    fn from(e: CommandError) -> Self {
        CliError::Command(Box::new(e))
    }
}

impl CliError {
    /// A controller failure under upstream's prefix for the operation.
    #[must_use]
    pub fn cluster(context: &'static str, source: cluster::ClusterError) -> Self {
        CliError::Cluster {
            context,
            source: Box::new(source),
        }
    }
}

impl CliError {
    /// The process exit code: 2 for usage errors, 1 for everything else.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// The error and its causes on one line, `a: b: c`, skipping causes already in the text.
#[must_use]
pub fn one_line(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace(['\n', '\r'], "; ")
}
