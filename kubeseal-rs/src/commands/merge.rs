//! `--merge-into FILE`: seal the input Secret's items and merge them into an existing
//! SealedSecret file in place (SPEC §4.8). Unlike upstream: the target's own scope is used
//! unless `--scope` is given, the file keeps its format (JSON or YAML) unless `--format` is
//! given, untouched items keep their ciphertexts, and the file is replaced atomically.

use std::path::Path;

use sealed_secrets_core::manifest;
use sealed_secrets_core::seal;
use sealed_secrets_core::sealed_at::{self, SEALED_AT_ANNOTATION};

use crate::cli::Format;
use crate::error::CliError;
use crate::mode::Plan;
use crate::{input, output};

/// Runs the merge mode.
///
/// # Errors
/// Bad input or target, unusable certificate, or a write failure (the target is untouched).
pub fn run(plan: &Plan, target_path: &Path) -> Result<(), CliError> {
    let target_bytes = input::read_file(target_path)?;
    let target_display = target_path.display().to_string();
    let mut documents = manifest::read_documents(&target_bytes).map_err(|e| {
        crate::error::CommandError::MergeTarget {
            file: target_display.to_string(),
            error: e.to_string(),
        }
    })?;
    if documents.len() != 1 {
        return Err(crate::error::CommandError::MergeTargetCount {
            file: target_display.to_string(),
            count: documents.len(),
        }
        .into());
    }
    let mut target = documents.remove(0).into_sealed_secret().map_err(|e| {
        crate::error::CommandError::MergeTarget {
            file: target_display.to_string(),
            error: e.to_string(),
        }
    })?;
    let target_format = if target_bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        Format::Json
    } else {
        Format::Yaml
    };

    // The certificate before the input, as upstream: a wrong --cert fails without waiting
    // for stdin.
    let cert = super::sealing_cert(plan)?;
    let mut inputs = input::read_input_documents(plan.io.input.as_deref(), super::seal::TTY_HINT)?;
    if inputs.len() != 1 {
        return Err(crate::error::CommandError::MergeInputs(inputs.len()).into());
    }
    let input_doc = inputs.remove(0);
    let position = input_doc.position();
    let mut secret = input_doc.into_secret()?;

    // The items must open where the target lives: force its name, namespace and scope.
    let scope = plan.sealing.scope.unwrap_or_else(|| target.scope());
    secret.metadata.name.clone_from(&target.metadata.name);
    secret
        .metadata
        .namespace
        .clone_from(&target.metadata.namespace);
    let mut opts = super::seal::seal_options(plan);
    opts.scope = Some(scope);
    opts.name = Some(target.metadata.name.clone());
    opts.namespace_explicit = false;

    let object = if target.metadata.namespace.is_empty() {
        format!("SealedSecret {}", target.metadata.name)
    } else {
        format!(
            "SealedSecret {}/{}",
            target.metadata.namespace, target.metadata.name
        )
    };
    super::consistency::refuse_mismatch(
        "merge",
        &super::consistency::EditTarget {
            path: target_path,
            shown: &target_display,
            text: &target_bytes,
            object: &object,
            sealed: &target,
            config: plan.sealing.config.as_deref(),
        },
        &cert,
        &super::consistency::SealedFor {
            namespace: target.metadata.namespace.clone(),
            name: target.metadata.name.clone(),
            scope,
            fingerprint: Some(cert.fingerprint().to_string()),
        },
    )?;
    let update =
        seal::seal_secret(secret, cert.public_key(), &opts).map_err(|source| CliError::Seal {
            context: position.to_string(),
            source,
        })?;

    // The merged items' times (added if the target records none; others kept).
    let merged_items = update.spec.encrypted_data.clone().unwrap_or_default();
    if !merged_items.is_empty() {
        let existing = target.metadata.annotations.get(SEALED_AT_ANNOTATION);
        let stamped = sealed_at::updated(
            existing.map(String::as_str),
            merged_items.keys().map(String::as_str),
            super::now()?,
        )
        .map_err(|e| crate::error::CommandError::SealedAt {
            at: format!("{target_display}: {object}"),
            error: e.to_string(),
        })?;
        target
            .metadata
            .annotations
            .insert(SEALED_AT_ANNOTATION.to_owned(), stamped);
    }
    let encrypted = target
        .spec
        .encrypted_data
        .get_or_insert_with(Default::default);
    encrypted.extend(update.spec.encrypted_data.unwrap_or_default());
    let template = &mut target.spec.template;
    template
        .metadata
        .labels
        .extend(update.spec.template.metadata.labels);
    template
        .metadata
        .annotations
        .extend(update.spec.template.metadata.annotations);
    template.data.extend(update.spec.template.data);

    let format = if plan.io.format_explicit {
        plan.io.format
    } else {
        target_format
    };
    let rendered = output::render(&target, format)?;
    Ok(output::write_atomic(
        target_path,
        rendered.as_bytes(),
        false,
    )?)
}
