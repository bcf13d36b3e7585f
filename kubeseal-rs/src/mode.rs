//! Stage 2: the command line resolved into one checked mode. Conflicts are usage errors
//! (exit 2) found here, before any IO.

use std::path::PathBuf;

use crate::cli::{Cli, Command, Format, KeygenArgs, SealArgs};

/// A usage error: the flags do not make sense together.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Where the certificate comes from.
#[derive(Clone, Debug)]
pub enum CertSource {
    /// `--cert`: a path, `file://` or `http(s)://` URL.
    Location(String),
    /// The controller, through the API server's service proxy.
    Controller { namespace: String, name: String },
}

/// What to do.
#[derive(Debug)]
pub enum Mode {
    Seal,
    Raw { from_file: Option<PathBuf> },
    MergeInto(PathBuf),
    RecoveryUnseal { keys: Vec<PathBuf> },
    FetchCert,
    Validate,
    ReEncrypt,
    Keygen(KeygenArgs),
    Completions(clap_complete::Shell),
    Man,
}

/// A checked invocation.
#[derive(Debug)]
pub struct Plan {
    pub mode: Mode,
    pub args: SealArgs,
    pub cert: CertSource,
    /// Output format after applying the `-w` extension rule.
    pub format: Format,
    /// Whether `--format` was given (or set from the environment) rather than defaulted.
    pub format_explicit: bool,
}

/// Resolves the parsed command line into a plan.
///
/// # Errors
/// Conflicting or incomplete flags.
pub fn resolve(cli: Cli, format_explicit: bool) -> Result<Plan, UsageError> {
    let args = cli.seal;
    let mode = match cli.command {
        Some(Command::Keygen(k)) => Mode::Keygen(k),
        Some(Command::Completions { shell }) => Mode::Completions(shell),
        Some(Command::Man) => Mode::Man,
        None => seal_mode(&args)?,
    };
    let cert = match &args.cert {
        Some(location) => CertSource::Location(location.clone()),
        None => CertSource::Controller {
            namespace: args.controller_namespace.clone(),
            name: args.controller_name.clone(),
        },
    };
    let by_extension = args
        .sealed_secret_file
        .as_ref()
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    let format = if by_extension {
        Format::Yaml
    } else {
        args.format
    };
    Ok(Plan {
        mode,
        cert,
        format,
        format_explicit: format_explicit || by_extension,
        args,
    })
}

fn seal_mode(args: &SealArgs) -> Result<Mode, UsageError> {
    if !args.from_file.is_empty() && !args.raw {
        return Err(UsageError("--from-file requires --raw".to_owned()));
    }
    let modes = [
        ("--raw", args.raw),
        ("--merge-into", args.merge_into.is_some()),
        ("--recovery-unseal", args.recovery_unseal),
        ("--fetch-cert", args.fetch_cert),
        ("--validate", args.validate),
        ("--re-encrypt", args.re_encrypt),
    ];
    let chosen: Vec<&str> = modes
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    if chosen.len() > 1 {
        return Err(UsageError(format!(
            "{} cannot be used together",
            chosen.join(" and ")
        )));
    }
    Ok(if args.raw {
        if args.from_file.len() > 1 {
            return Err(UsageError(
                "must provide only one --from-file when encrypting a single item with --raw"
                    .to_owned(),
            ));
        }
        let from_file = args.from_file.first().map(|spec| {
            // `[key=]path`: the key is ignored, as upstream does.
            PathBuf::from(spec.split_once('=').map_or(spec.as_str(), |(_, p)| p))
        });
        Mode::Raw { from_file }
    } else if let Some(target) = &args.merge_into {
        if args.sealed_secret_file.is_some() {
            return Err(UsageError(
                "--merge-into rewrites FILE in place; it cannot be combined with --sealed-secret-file"
                    .to_owned(),
            ));
        }
        Mode::MergeInto(target.clone())
    } else if args.recovery_unseal {
        if args.recovery_private_key.is_empty() {
            return Err(UsageError(
                "--recovery-unseal needs at least one --recovery-private-key".to_owned(),
            ));
        }
        Mode::RecoveryUnseal {
            keys: args.recovery_private_key.clone(),
        }
    } else if args.fetch_cert {
        Mode::FetchCert
    } else if args.validate {
        Mode::Validate
    } else if args.re_encrypt {
        Mode::ReEncrypt
    } else {
        Mode::Seal
    })
}
