//! Stage 2: the command line resolved into one checked mode. Conflicts are usage errors
//! (exit 2) found here, before any IO.

use std::path::PathBuf;

use crate::cli::keys::{KeysAction, KeysArgs};
use crate::cli::{
    CertArgs, CheckArgs, Cli, Command, ConnectionArgs, Format, KeygenArgs, ResealArgs, SealArgs,
    SetArgs, UnsetArgs,
};
use crate::cluster::{self, kubeconfig::Overrides};

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
    Controller(Box<cluster::Access>),
    /// One `-e NAME`: the environment's certificate in the repository config (`--config`, else
    /// the nearest `.sealed-secrets.toml`).
    Environment {
        name: String,
        config: Option<PathBuf>,
    },
}

/// What to do.
#[derive(Debug)]
pub enum Mode {
    Seal,
    Raw {
        from_file: Option<PathBuf>,
    },
    MergeInto(PathBuf),
    RecoveryUnseal {
        keys: Vec<PathBuf>,
    },
    FetchCert,
    Validate,
    ReEncrypt,
    /// Seal for several clusters: one output per target, paths from the `-w` pattern.
    SealMulti {
        targets: Vec<Target>,
        pattern: String,
    },
    Keygen(KeygenArgs),
    Completions(clap_complete::Shell),
    /// `cert`: show a certificate.
    CertInfo(Box<crate::cli::CertInfoArgs>),
    /// `web`: write the browser sealer page.
    Web(Box<crate::cli::CertInfoArgs>),
    /// `man`, with the directory to write every page into (else the top page on stdout).
    Man(Option<std::path::PathBuf>),
    Check(CheckArgs),
    Set(Box<SetArgs>),
    Unset(UnsetArgs),
    Reseal(ResealArgs),
    Keys(Box<KeysArgs>),
    /// `krm`: the Kustomize KRM function.
    Krm,
}

/// One cluster to seal for in [`Mode::SealMulti`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `--cert LOCATION`; `{cluster}` is the file name without its extension.
    Cert { cluster: String, location: String },
    /// `--environment NAME` from the repository config.
    Environment(String),
}

impl Target {
    /// The `{cluster}` value.
    #[must_use]
    pub fn cluster(&self) -> &str {
        match self {
            Target::Cert { cluster, .. } => cluster,
            Target::Environment(name) => name,
        }
    }
}

/// The placeholders a `-w` pattern may hold with several certificates.
pub const PLACEHOLDERS: [&str; 3] = ["{cluster}", "{name}", "{namespace}"];

/// A checked invocation.
#[derive(Debug)]
pub struct Plan {
    pub mode: Mode,
    /// What sealing reads from the command line (scope, name, namespace, …).
    pub sealing: Sealing,
    /// Where the input comes from and the output goes.
    pub io: Io,
    pub cert: CertSource,
    /// How to reach the controller (online modes; nothing is read before they connect).
    pub cluster: cluster::Access,
    /// Said on stderr before the mode runs (flags that have no effect in this mode).
    pub warnings: Vec<&'static str>,
}

/// What the modes that seal take from the command line.
#[derive(Clone, Debug, Default)]
pub struct Sealing {
    /// `--scope`: replaces the input's scope annotations.
    pub scope: Option<sealed_secrets_core::scope::Scope>,
    /// `--name`: the Secret's name (`--raw`), else overrides the input's.
    pub name: Option<String>,
    /// `-n`: the Secret's namespace.
    pub namespace: Option<String>,
    /// `--allow-empty-data`.
    pub allow_empty_data: bool,
    /// Record the certificate's fingerprint in the `sealed-with` annotation.
    pub record_fingerprint: bool,
    /// `--config`: the repository config (else the nearest one).
    pub config: Option<PathBuf>,
}

/// Input and output of the modes that read manifests.
#[derive(Clone, Debug)]
pub struct Io {
    /// `-f`: the input file, else stdin.
    pub input: Option<PathBuf>,
    /// `-w`: the output file (or, sealing for several clusters, its pattern), else stdout.
    pub output: Option<PathBuf>,
    /// The output format after applying the `-w` extension rule.
    pub format: Format,
    /// `-o` as given (or defaulted), before the extension rule.
    pub format_flag: Format,
    /// Whether `--format` was given (or set from the environment) rather than defaulted.
    pub format_explicit: bool,
}

/// Resolves the parsed command line into a plan.
///
/// # Errors
/// Conflicting or incomplete flags.
pub fn resolve(cli: Cli, format_explicit: bool) -> Result<Plan, UsageError> {
    let mut args = cli.seal;
    // Upstream's deprecated --rotate (and SEALED_SECRETS_ROTATE) sets --re-encrypt.
    args.re_encrypt |= args.rotate;
    let mode = match cli.command {
        Some(Command::Keygen(k)) => Mode::Keygen(k),
        Some(Command::Completions { shell }) => Mode::Completions(shell),
        Some(Command::Man { dir }) => Mode::Man(dir),
        Some(Command::Check(c)) => Mode::Check(c),
        Some(Command::Set(c)) => {
            check_item_name(&c.key)?;
            Mode::Set(c)
        }
        Some(Command::Unset(c)) => Mode::Unset(c),
        Some(Command::Reseal(c)) => Mode::Reseal(c),
        Some(Command::Keys(k)) => keys_mode(k)?,
        Some(Command::Krm) => Mode::Krm,
        Some(Command::Cert(mut c)) => {
            if c.fetch {
                c.cert.cert = None;
            } else if let Some(source) = c.source.take() {
                c.cert.cert = Some(source);
            } else if c.cert.cert.is_none() {
                return Err(UsageError(
                    "cert: give a certificate file or URL, or --fetch for the controller's"
                        .to_owned(),
                ));
            }
            Mode::CertInfo(c)
        }
        Some(Command::Web(c)) => Mode::Web(c),
        None => seal_mode(&args)?,
    };
    let cluster = access(&args);
    let cert = match (args.cert.last(), args.environments.first()) {
        (Some(location), _) => CertSource::Location(location.clone()),
        (None, Some(name)) => {
            // Sealed for an environment: the file names its certificate, as with several
            // (what `check` expects where the config requires it).
            args.record_fingerprint = true;
            CertSource::Environment {
                name: name.clone(),
                config: args.config.clone(),
            }
        }
        (None, None) => CertSource::Controller(Box::new(cluster.clone())),
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
    let mut warnings = Vec::new();
    if !args.recovery_private_key.is_empty() && !matches!(mode, Mode::RecoveryUnseal { .. }) {
        warnings.push("--recovery-private-key is ignored without --recovery-unseal");
    }
    Ok(Plan {
        mode,
        cert,
        cluster,
        warnings,
        io: Io {
            input: args.secret_file,
            output: args.sealed_secret_file,
            format,
            format_flag: args.format,
            format_explicit: format_explicit || by_extension,
        },
        sealing: Sealing {
            scope: args.scope,
            name: args.name,
            namespace: args.namespace,
            allow_empty_data: args.allow_empty_data,
            record_fingerprint: args.record_fingerprint,
            config: args.config,
        },
    })
}

/// kubectl's override flags, taken from the command line.
#[must_use]
pub fn overrides(context: Option<&str>, c: &ConnectionArgs) -> Overrides {
    Overrides {
        context: context.map(str::to_owned),
        cluster: c.cluster.clone(),
        user: c.user.clone(),
        server: c.server.clone(),
        certificate_authority: c.certificate_authority.clone(),
        insecure_skip_tls_verify: c.insecure_skip_tls_verify,
        tls_server_name: c.tls_server_name.clone(),
        proxy_url: c.proxy_url.clone(),
        client_certificate: c.client_certificate.clone(),
        client_key: c.client_key.clone(),
        token: c.token.clone().map(secrecy::SecretString::from),
        username: c.username.clone(),
        password: c.password.clone().map(secrecy::SecretString::from),
        impersonate: c.impersonate.clone(),
        impersonate_uid: c.impersonate_uid.clone(),
        impersonate_groups: c.impersonate_group.clone(),
        request_timeout: c.request_timeout.0,
    }
}

/// How to reach the controller, from the flags of sealing.
#[must_use]
pub fn access(args: &SealArgs) -> cluster::Access {
    cluster::Access {
        kubeconfig: args.kubeconfig.clone(),
        overrides: overrides(args.context.as_deref(), &args.connection),
        controller_namespace: args.controller_namespace.clone(),
        controller_name: args.controller_name.clone(),
        discover_all_namespaces: args.discover_all_namespaces,
        config: args.config.clone(),
    }
}

/// Where a subcommand (`set`, `cert`) gets its certificate: `-e`, else `--cert`, else the
/// controller.
#[must_use]
pub fn cert_args_source(args: &CertArgs) -> CertSource {
    if let Some(name) = &args.environment {
        return CertSource::Environment {
            name: name.clone(),
            config: args.config.clone(),
        };
    }
    match &args.cert {
        Some(location) => CertSource::Location(location.clone()),
        None => CertSource::Controller(Box::new(cluster::Access {
            kubeconfig: args.kubeconfig.clone(),
            overrides: overrides(args.context.as_deref(), &args.connection),
            controller_namespace: args.controller_namespace.clone(),
            controller_name: args.controller_name.clone(),
            discover_all_namespaces: args.discover_all_namespaces,
            config: None,
        })),
    }
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
    // One `-e NAME` is one certificate, as one --cert: seal, --raw, --merge-into and
    // --fetch-cert use it. Several certificates, or an environment with a -w pattern (a
    // placeholder in it), seal once per cluster.
    let pattern_given = args.sealed_secret_file.as_ref().is_some_and(|p| {
        let p = p.to_string_lossy();
        PLACEHOLDERS
            .iter()
            .any(|placeholder| p.contains(placeholder))
    });
    let multi = args.cert.len() + args.environments.len() > 1
        || (!args.environments.is_empty() && pattern_given);
    if multi {
        if let Some((flag, _)) = modes.iter().find(|(_, on)| *on) {
            return Err(UsageError(format!(
                "{flag} takes one certificate; several --cert or --environment are for sealing only"
            )));
        }
        return multi_seal_mode(args);
    }
    if !args.environments.is_empty() {
        let controller_modes = [
            ("--recovery-unseal", args.recovery_unseal),
            ("--validate", args.validate),
            ("--re-encrypt", args.re_encrypt),
        ];
        if let Some((flag, _)) = controller_modes.iter().find(|(_, on)| *on) {
            return Err(UsageError(format!(
                "{flag} uses no certificate; --environment selects one for sealing"
            )));
        }
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
        // Without --recovery-private-key, upstream still reads the input and fails with `no
        // key could decrypt secret (ITEM)`; so do we (commands/recover.rs adds the hint).
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

fn multi_seal_mode(args: &SealArgs) -> Result<Mode, UsageError> {
    let mut targets: Vec<Target> = args
        .cert
        .iter()
        .map(|location| Target::Cert {
            cluster: cluster_name(location),
            location: location.clone(),
        })
        .collect();
    targets.extend(args.environments.iter().cloned().map(Target::Environment));
    let mut seen = std::collections::BTreeSet::new();
    for target in &targets {
        if target.cluster().is_empty() || !seen.insert(target.cluster()) {
            return Err(UsageError(format!(
                "two certificates give the same {{cluster}} name {:?}; name the files apart",
                target.cluster()
            )));
        }
    }
    let Some(pattern) = args.sealed_secret_file.as_ref() else {
        return Err(UsageError(
            "sealing for several clusters needs -w with a path pattern, e.g. -w 'sealed/{cluster}/{name}.yaml'"
                .to_owned(),
        ));
    };
    let pattern = pattern.to_string_lossy().into_owned();
    if targets.len() > 1 && !pattern.contains("{cluster}") {
        return Err(UsageError(
            "the -w pattern must contain {cluster} when sealing for several clusters".to_owned(),
        ));
    }
    let mut rest = pattern.clone();
    for placeholder in PLACEHOLDERS {
        rest = rest.replace(placeholder, "");
    }
    if rest.contains('{') || rest.contains('}') {
        return Err(UsageError(format!(
            "unknown placeholder in -w {pattern:?}; use {}",
            PLACEHOLDERS.join(", ")
        )));
    }
    Ok(Mode::SealMulti { targets, pattern })
}

/// `{cluster}` for a `--cert`: the last path segment without its extension.
fn cluster_name(location: &str) -> String {
    let path = location.split(['?', '#']).next().unwrap_or(location);
    let file = path.rsplit('/').next().unwrap_or(path);
    file.rsplit_once('.')
        .map_or(file, |(stem, _)| stem)
        .to_owned()
}

/// `keys prune` needs an explicit selection: fingerprints or `--older-than`, not both.
fn keys_mode(args: Box<KeysArgs>) -> Result<Mode, UsageError> {
    if let KeysAction::Prune(prune) = &args.action {
        match (prune.fingerprints.is_empty(), prune.older_than.is_some()) {
            (true, false) => {
                return Err(UsageError(
                    "keys prune needs the FINGERPRINT of each key to delete, or --older-than"
                        .to_owned(),
                ));
            }
            (false, true) => {
                return Err(UsageError(
                    "keys prune takes FINGERPRINTs or --older-than, not both".to_owned(),
                ));
            }
            _ => {}
        }
    }
    Ok(Mode::Keys(args))
}

/// Kubernetes Secret keys: `[-._a-zA-Z0-9]+`.
fn check_item_name(key: &str) -> Result<(), UsageError> {
    if !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Ok(())
    } else {
        Err(UsageError(format!(
            "invalid item name {key:?}: a Secret key consists of alphanumerics, '-', '_' or '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_come_from_file_names() {
        assert_eq!(cluster_name("certs/prod.pem"), "prod");
        assert_eq!(cluster_name("https://x/y/staging.crt?a=b"), "staging");
        assert!(check_item_name("tls.crt").is_ok());
        assert!(check_item_name("a/b").is_err());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod cli_tests {
    use std::time::Duration;

    use clap::Parser as _;
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn kubectl_flags_become_overrides() {
        let cli = Cli::try_parse_from([
            "kubeseal-rs",
            "--context",
            "prod",
            "--cluster",
            "c",
            "--user",
            "u",
            "-s",
            "https://api.example:6443",
            "--insecure-skip-tls-verify=true",
            "--token",
            "t0ken",
            "--as",
            "admin",
            "--as-group",
            "a",
            "--as-group",
            "b",
            "--request-timeout",
            "2m",
        ])
        .unwrap();
        let o = overrides(cli.seal.context.as_deref(), &cli.seal.connection);
        assert_eq!(o.context.as_deref(), Some("prod"));
        assert_eq!(o.cluster.as_deref(), Some("c"));
        assert_eq!(o.user.as_deref(), Some("u"));
        assert_eq!(o.server.as_deref(), Some("https://api.example:6443"));
        assert!(o.insecure_skip_tls_verify);
        assert_eq!(o.token.unwrap().expose_secret(), "t0ken");
        assert_eq!(o.impersonate.as_deref(), Some("admin"));
        assert_eq!(o.impersonate_groups, ["a", "b"]);
        assert_eq!(o.request_timeout, Some(Duration::from_secs(120)));

        let cli = Cli::try_parse_from(["kubeseal-rs", "--insecure-skip-tls-verify"]).unwrap();
        assert!(
            overrides(cli.seal.context.as_deref(), &cli.seal.connection).insecure_skip_tls_verify
        );
        let cli = Cli::try_parse_from(["kubeseal-rs", "--insecure-skip-tls-verify=false"]).unwrap();
        assert!(
            !overrides(cli.seal.context.as_deref(), &cli.seal.connection).insecure_skip_tls_verify
        );
        assert_eq!(
            overrides(cli.seal.context.as_deref(), &cli.seal.connection).request_timeout,
            None
        );
        assert!(Cli::try_parse_from(["kubeseal-rs", "--request-timeout", "soon"]).is_err());
    }
}
