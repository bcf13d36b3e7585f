//! Sealing for several clusters in one run (`--cert a.pem --cert b.pem`, or `--environment`
//! names from the repository config): one SealedSecret per input Secret and cluster, written to
//! the paths the `-w` pattern gives. Placeholders: `{cluster}` (the environment name, or the
//! certificate's file name without extension), `{name}` and `{namespace}` (the Secret's; a
//! cluster-wide Secret without namespace gives `cluster-wide`). Documents that land on the same
//! path are written one after another. Each output records its certificate in the
//! `sealed-secrets-rs/sealed-with` annotation. Nothing is written unless everything sealed.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::check::SEALED_WITH_ANNOTATION;
use sealed_secrets_core::seal;

use crate::cli::Format;
use crate::error::{CliError, MultiSealError};
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
            super::sealing_cert_from(&CertSource::Location(location.clone()))
        }
        Target::Environment(name) => {
            if config.is_none() {
                *config = Some(repo_config::load(plan.sealing.config.as_deref())?);
            }
            let (bytes, origin) =
                environment_cert_bytes(config.as_ref().and_then(Option::as_ref), name)?;
            Ok(cert_source::parse_for_sealing(&bytes, &origin)?)
        }
    }
}

/// The certificate bytes of environment `name` of `config` (`None`: no repository config
/// found), and where they came from for messages.
///
/// # Errors
/// No config, no such environment, no certificate in it, or the file cannot be read.
pub fn environment_cert_bytes(
    config: Option<&RepoConfig>,
    name: &str,
) -> Result<(Vec<u8>, String), CliError> {
    let Some(config) = config else {
        return Err(MultiSealError::NoConfig(name.to_owned()).into());
    };
    let env = config.environment(name)?;
    let Some(path) = &env.cert else {
        return Err(MultiSealError::NoCert {
            config: sealed_file::display(&config.path),
            name: name.to_owned(),
        }
        .into());
    };
    let bytes = input::read_file_limited(path, input::CERT_LIMIT).map_err(|e| match e {
        input::InputError::File { source, .. } => CliError::from(MultiSealError::CertFile {
            name: name.to_owned(),
            path: path.display().to_string(),
            error: source.to_string(),
        }),
        other => CliError::Input(other),
    })?;
    Ok((bytes.to_vec(), format!("of environment {name}")))
}

/// Why a placeholder value cannot be part of a path: it could name another directory (`/`,
/// `\\`, `..`), a hidden file, or cut the path (NUL). Names come from input Secrets and
/// environment names from the repository config, both possibly from an untrusted change.
fn unsafe_value(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("is empty")
    } else if value.contains(['/', '\\']) {
        Some("contains a path separator")
    } else if value.contains('\0') {
        Some("contains NUL")
    } else if value.contains("..") {
        Some("contains ..")
    } else if value.starts_with('.') {
        Some("starts with .")
    } else {
        None
    }
}

/// The directory the pattern's fixed prefix (the text before its first placeholder) names:
/// `sealed/{cluster}/x.yaml` → `sealed`; `{cluster}.yaml` → `.`.
fn pattern_root(pattern: &str) -> PathBuf {
    let prefix = &pattern[..pattern.find('{').unwrap_or(pattern.len())];
    match prefix.rfind('/') {
        Some(0) => PathBuf::from("/"),
        Some(end) => PathBuf::from(&prefix[..end]),
        None => PathBuf::from("."),
    }
}

/// `path` with `.` and `..` resolved lexically (no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The output path for one document: `pattern` with its placeholders replaced. Refused when
/// a value is unsafe in a path, when the result leaves the directory of the pattern's fixed
/// prefix, or when a directory on the way there is a symbolic link (which could lead
/// anywhere; the files under the output directory may come from an untrusted change).
fn resolve_pattern(pattern: &str, values: &[(&str, &str)]) -> Result<PathBuf, String> {
    let mut resolved = pattern.to_owned();
    for (placeholder, value) in values {
        let marker = format!("{{{placeholder}}}");
        if !resolved.contains(&marker) {
            continue;
        }
        if let Some(reason) = unsafe_value(value) {
            return Err(format!(
                "the value of {marker} {reason}, so it cannot be part of a file path"
            ));
        }
        resolved = resolved.replace(&marker, value);
    }
    let path = PathBuf::from(&resolved);
    let root = normalize(&pattern_root(pattern));
    let normalized = normalize(&path);
    let inside = normalized
        .strip_prefix(&root)
        .is_ok_and(|rest| !rest.as_os_str().is_empty());
    if !inside {
        return Err(format!("{} is outside {}", path.display(), root.display()));
    }
    let mut dir = root.clone();
    let rest = normalized.strip_prefix(&root).unwrap_or(&normalized);
    let mut parts: Vec<Component<'_>> = rest.components().collect();
    parts.pop();
    for part in parts {
        dir.push(part);
        if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!(
                "{} is a symbolic link; refusing to write through it",
                dir.display()
            ));
        }
    }
    Ok(path)
}

/// Runs the multi-cluster seal.
///
/// # Errors
/// Bad input, an unusable certificate, or an output failure (then nothing was written).
pub fn run(plan: &Plan, targets: &[Target], pattern: &str) -> Result<(), CliError> {
    let documents = input::read_input_documents(plan.io.input.as_deref(), super::seal::TTY_HINT)?;
    if documents.is_empty() {
        return Err(MultiSealError::NoSecrets.into());
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
    let mut opts = super::seal::seal_options(plan);
    super::seal::assume_default_namespace(&mut opts, secrets.iter().map(|(_, s)| s));

    let now = super::now()?;
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
            sealed_secrets_core::sealed_at::record_all(&mut sealed, now);
            let meta = &sealed.metadata;
            let namespace = if meta.namespace.is_empty() {
                "cluster-wide"
            } else {
                meta.namespace.as_str()
            };
            let path = resolve_pattern(
                pattern,
                &[
                    ("cluster", cluster),
                    ("name", &meta.name),
                    ("namespace", namespace),
                ],
            )
            .map_err(|reason| MultiSealError::Pattern {
                position: position.to_string(),
                pattern: pattern.to_owned(),
                reason: reason.to_string(),
            })?;
            let yaml = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
            let format = if yaml {
                Format::Yaml
            } else {
                plan.io.format_flag
            };
            let (owner, text) = outputs
                .entry(path.clone())
                .or_insert_with(|| (cluster.clone(), String::new()));
            if owner != cluster {
                return Err(MultiSealError::SamePath {
                    owner: owner.to_string(),
                    cluster: cluster.to_string(),
                    path: path.display().to_string(),
                }
                .into());
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code
mod tests {
    use super::*;

    #[test]
    fn patterns_stay_in_their_directory() {
        let ok = resolve_pattern(
            "out/{cluster}/{namespace}-{name}.yaml",
            &[("cluster", "prod"), ("name", "db"), ("namespace", "apps")],
        );
        assert_eq!(ok.unwrap(), PathBuf::from("out/prod/apps-db.yaml"));
        for bad in ["..", "../x", "a/b", "a\\b", ".hidden", "x\0y", "", "a..b"] {
            let error = resolve_pattern("out/{cluster}.yaml", &[("cluster", bad)]).unwrap_err();
            assert!(
                error.starts_with("the value of {cluster} "),
                "{bad:?}: {error}"
            );
        }
        // The fixed parts are the user's own, but the result must still stay under the prefix.
        let error = resolve_pattern("out/{cluster}/../../x.yaml", &[("cluster", "p")]).unwrap_err();
        assert_eq!(error, "out/p/../../x.yaml is outside out");
        assert_eq!(pattern_root("{cluster}.yaml"), PathBuf::from("."));
        assert_eq!(pattern_root("/tmp/s/{name}"), PathBuf::from("/tmp/s"));
    }
}
