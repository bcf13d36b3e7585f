//! Before `set` or `--merge-into` adds items to a SealedSecret file: the file must pass
//! `check`'s rules, and the command must seal for exactly what the file's items are sealed for.
//!
//! A file from a pull request may have been tampered with: its outer metadata moved to another
//! namespace, its scope annotation changed, or its items sealed for another cluster. Sealing a
//! new item "for the file" would then seal for whatever the file declares; `check` would refuse
//! such a file, so these commands refuse to edit it, before anything is written.

use std::path::Path;

use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::check::{self, SEALED_WITH_ANNOTATION};
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::types::{SealedSecret, base64_std};

use crate::error::CliError;
use crate::repo_config;

/// What items are (or would be) sealed for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedFor {
    pub namespace: String,
    pub name: String,
    pub scope: Scope,
    /// `SHA256:…`, or `None` when the file does not record it.
    pub fingerprint: Option<String>,
}

impl std::fmt::Display for SealedFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |s: &str| {
            if s.is_empty() {
                "(none)".to_owned()
            } else {
                s.to_owned()
            }
        };
        write!(
            f,
            "namespace {}, name {}, scope {}, certificate {}",
            shown(&self.namespace),
            shown(&self.name),
            self.scope,
            self.fingerprint.as_deref().unwrap_or("(not recorded)")
        )
    }
}

impl SealedFor {
    /// What the file's existing items are sealed for: the template's name, namespace and scope
    /// (what the controller decrypts against), and the recorded certificate.
    #[must_use]
    pub fn existing(sealed: &SealedSecret) -> Self {
        let outer = &sealed.metadata;
        let template = &sealed.spec.template.metadata;
        let pick = |t: &str, o: &str| {
            if t.is_empty() {
                o.to_owned()
            } else {
                t.to_owned()
            }
        };
        let fingerprint = outer
            .annotations
            .get(SEALED_WITH_ANNOTATION)
            .map(|fp| sealed_secrets_core::check::printable_fingerprint(fp).to_owned());
        Self {
            namespace: pick(&template.namespace, &outer.namespace),
            name: pick(&template.name, &outer.name),
            scope: template.scope(),
            fingerprint,
        }
    }

    /// Whether items sealed for `self` and for `other` open under the same conditions.
    fn agrees_with(&self, other: &Self) -> bool {
        let place = match self.scope {
            Scope::Strict => self.namespace == other.namespace && self.name == other.name,
            Scope::NamespaceWide => self.namespace == other.namespace,
            Scope::ClusterWide => true,
        };
        let cert = match (&self.fingerprint, &other.fingerprint) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        place && self.scope == other.scope && cert
    }
}

/// Why a new item sealed with `cert` cannot join the existing ones, if it cannot: another
/// key size than theirs (another cluster's key).
fn key_size_problem(sealed: &SealedSecret, cert: &Certificate) -> Option<String> {
    let size = cert.public_key().size_bytes();
    sealed
        .spec
        .encrypted_data
        .iter()
        .flatten()
        .find_map(|(item, text)| {
            let block = base64_std::decode(text)
                .ok()
                .and_then(|blob| sealed_secrets_core::crypto::rsa_block_len(&blob))?;
            (block != size).then(|| {
                format!(
                    "item {item:?} is sealed for a {}-bit key, the certificate has a {}-bit key",
                    block * 8,
                    size * 8
                )
            })
        })
}

/// The file a command is about to add items to.
#[derive(Clone, Copy, Debug)]
pub struct EditTarget<'a> {
    pub path: &'a Path,
    /// The path as shown in messages.
    pub shown: &'a str,
    /// The whole file, as read.
    pub text: &'a [u8],
    /// `SealedSecret ns/name`, for messages.
    pub object: &'a str,
    pub sealed: &'a SealedSecret,
    /// `--config`, else the nearest repository config is used for pins.
    pub config: Option<&'a Path>,
}

/// Refuses the edit when `check` finds a problem in the target file, when the certificate is
/// not one the repository config pins for the file, or when `would` (what `command` would seal
/// the new items for) differs from what the file's items are sealed for. The error names
/// both, on one line.
///
/// # Errors
/// The refusal.
pub fn refuse_mismatch(
    command: &str,
    target: &EditTarget<'_>,
    cert: &Certificate,
    would: &SealedFor,
) -> Result<(), CliError> {
    let EditTarget {
        path,
        shown,
        text,
        object,
        sealed,
        config,
    } = *target;
    let existing = SealedFor::existing(sealed);
    let config = repo_config::load(config).ok().flatten();
    let pins = config
        .as_ref()
        .and_then(|c| super::check::file_pins(c, path));
    let fingerprint = cert.fingerprint().to_string();
    let reason = if let Some(problem) = check::check_file(shown, text, pins.as_ref()).first() {
        Some(format!("check: {problem}"))
    } else if let Some(pins) = pins
        .as_ref()
        .filter(|p| !p.fingerprints.is_empty() && !p.fingerprints.contains(&fingerprint))
    {
        Some(format!(
            "the certificate is not pinned for {}",
            pins.environments.join(", ")
        ))
    } else if !existing.agrees_with(would) {
        Some(String::new())
    } else {
        key_size_problem(sealed, cert)
    };
    let Some(reason) = reason else {
        return Ok(());
    };
    let because = if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    };
    Err(crate::error::CommandError::Inconsistent {
        file: shown.to_string(),
        object: object.to_string(),
        command: command.to_string(),
        existing: existing.to_string(),
        would: would.to_string(),
        because,
    }
    .into())
}

/// `unset -e NAME`: refuses unless the file belongs to environment `name` — when the config's
/// paths cover the file they name it, and when the file records its certificate it is one of
/// the environment's. A file that says neither cannot be told apart and is accepted.
///
/// # Errors
/// No or an unusable repository config, an unknown environment, or the refusal.
pub fn refuse_other_environment(
    file: &crate::sealed_file::SealedFile,
    object: &crate::sealed_file::Object,
    name: &str,
    config: Option<&Path>,
) -> Result<(), CliError> {
    let Some(config) = repo_config::load(config)? else {
        return Err(crate::error::MultiSealError::NoConfig(name.to_owned()).into());
    };
    let env = config.environment(name)?;
    let mut fingerprints = env.fingerprints.clone();
    if let Some(cert) = env.load_cert()? {
        fingerprints.push(cert.fingerprint().to_string());
    }
    let covering: Vec<&str> = config
        .environments_for(&file.path)
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let recorded = SealedFor::existing(&object.sealed).fingerprint;
    let reason = if !covering.is_empty() && !covering.contains(&name) {
        Some(format!("its path belongs to {}", covering.join(", ")))
    } else {
        recorded
            .filter(|fp| !fingerprints.contains(fp))
            .map(|fp| format!("it is sealed with {fp}, not a certificate of {name}"))
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(crate::error::CommandError::OtherEnvironment {
            at: format!("{}: {}", file.shown, object.describe()),
            environment: name.to_owned(),
            reason,
        }
        .into()),
    }
}
