//! Sealing for several clusters in one run (`--cert a.pem --cert b.pem`, or `--environment`
//! names from the repository config): one SealedSecret per input Secret and cluster, written to
//! the paths the `-w` pattern gives. Placeholders: `{cluster}` (the environment name, or the
//! certificate's file name without extension), `{name}` and `{namespace}` (the Secret's; a
//! cluster-wide Secret without namespace gives `cluster-wide`). Documents that land on the same
//! path are written one after another. Each output records its certificate in the
//! `sealed-secrets-rs/sealed-with` annotation. Nothing is written unless everything sealed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::check::SEALED_WITH_ANNOTATION;
use sealed_secrets_core::manifest;
use sealed_secrets_core::seal;

use crate::cli::Format;
use crate::error::CliError;
use crate::mode::{CertSource, Plan, Target};
use crate::repo_config::{self, RepoConfig};
use crate::{cert_source, input, output, sealed_file};

fn target_cert(
    plan: &Plan,
    target: &Target,
    config: &mut Option<Option<RepoConfig>>,
) -> Result<Certificate, CliError> {
    match target {
        Target::Cert { location, .. } => {
            super::sealing_cert_from(&CertSource::Location(location.clone()), &plan.args)
        }
        Target::Environment(name) => {
            if config.is_none() {
                *config = Some(repo_config::load(plan.args.config.as_deref())?);
            }
            let Some(Some(config)) = config.as_ref() else {
                return Err(CliError::Other(format!(
                    "--environment {name}: no {} found (give --config)",
                    repo_config::FILE_NAME
                )));
            };
            let env = config.environment(name)?;
            let Some(path) = &env.cert else {
                return Err(CliError::Other(format!(
                    "{}: environment {name} has no cert to seal with",
                    sealed_file::display(&config.path)
                )));
            };
            let bytes = std::fs::read(path).map_err(|e| {
                CliError::Other(format!("environment {name}: {}: {e}", path.display()))
            })?;
            Ok(cert_source::parse_for_sealing(
                &bytes,
                &format!("of environment {name}"),
            )?)
        }
    }
}

/// Runs the multi-cluster seal.
///
/// # Errors
/// Bad input, an unusable certificate, or an output failure (then nothing was written).
pub fn run(plan: &Plan, targets: &[Target], pattern: &str) -> Result<(), CliError> {
    let bytes = input::read_input(plan.args.secret_file.as_deref(), super::seal::TTY_HINT)?;
    let documents = manifest::read_documents(&bytes)?;
    if documents.is_empty() {
        return Err(CliError::Other(
            "no secrets found. Ensure the input is valid and UTF-8 encoded".to_owned(),
        ));
    }
    let secrets = documents
        .into_iter()
        .map(|doc| {
            let position = doc.position();
            doc.into_secret().map(|s| (position, s))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut config = None;
    let certs = targets
        .iter()
        .map(|t| target_cert(plan, t, &mut config).map(|c| (t.cluster().to_owned(), c)))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = super::seal::seal_options(plan);

    let mut outputs: BTreeMap<PathBuf, (String, String)> = BTreeMap::new();
    for (cluster, cert) in &certs {
        for (position, secret) in &secrets {
            let mut sealed =
                seal::seal_secret(secret.clone(), cert.public_key(), &opts).map_err(|source| {
                    CliError::Seal {
                        context: position.to_string(),
                        source,
                    }
                })?;
            sealed.metadata.annotations.insert(
                SEALED_WITH_ANNOTATION.to_owned(),
                cert.fingerprint().to_string(),
            );
            let meta = &sealed.metadata;
            for part in [meta.name.as_str(), meta.namespace.as_str()] {
                if part.contains(['/', '\\']) || part == ".." {
                    return Err(CliError::Other(format!(
                        "{position}: name or namespace cannot be used in a file path"
                    )));
                }
            }
            let namespace = if meta.namespace.is_empty() {
                "cluster-wide"
            } else {
                meta.namespace.as_str()
            };
            let path = PathBuf::from(
                pattern
                    .replace("{cluster}", cluster)
                    .replace("{name}", &meta.name)
                    .replace("{namespace}", namespace),
            );
            let yaml = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
            let format = if yaml { Format::Yaml } else { plan.args.format };
            let (owner, text) = outputs
                .entry(path.clone())
                .or_insert_with(|| (cluster.clone(), String::new()));
            if owner != cluster {
                return Err(CliError::Other(format!(
                    "clusters {owner} and {cluster} would both write {}; put {{cluster}} in the -w pattern",
                    path.display()
                )));
            }
            text.push_str(&output::render(&sealed, format)?);
        }
    }
    for (path, (_, text)) in &outputs {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| output::OutputError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        output::write_atomic(path, text.as_bytes(), false)?;
        println!("{}", sealed_file::display(path));
    }
    Ok(())
}
