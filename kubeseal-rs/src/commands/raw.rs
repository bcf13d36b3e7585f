//! `--raw`: encrypt one value and print its base64 ciphertext with no newline (SPEC §4.7).

use std::path::Path;

use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::seal;

use crate::error::CliError;
use crate::mode::{Plan, UsageError};
use crate::{input, output};

/// Runs the raw mode.
///
/// # Errors
/// Missing name/namespace for the scope, unreadable value, unusable certificate.
pub fn run(plan: &Plan, from_file: Option<&Path>) -> Result<(), CliError> {
    let scope = plan.sealing.scope.unwrap_or_default();
    let opts = super::seal::seal_options(plan);
    let namespace = if scope == Scope::ClusterWide {
        String::new()
    } else {
        opts.default_namespace.clone().unwrap_or_default()
    };
    let name = plan.sealing.name.clone().unwrap_or_default();
    if scope != Scope::ClusterWide && namespace.is_empty() {
        return Err(UsageError(format!(
            "must provide the --namespace flag with --raw and --scope {scope}"
        ))
        .into());
    }
    if scope == Scope::Strict && name.is_empty() {
        return Err(UsageError(
            "must provide the --name flag with --raw and --scope strict".to_owned(),
        )
        .into());
    }
    // The certificate before the value, as upstream: a wrong --cert fails without waiting
    // for stdin.
    let cert = super::sealing_cert(plan)?;
    let value = match from_file {
        Some(path) => input::read_file(path)?,
        None => input::read_input(
            None,
            "(tty detected: reading the value to encrypt from stdin)",
        )?,
    };
    let sealed = seal::encrypt_item(cert.public_key(), scope, &namespace, &name, &value)
        .map_err(|e| crate::error::CommandError::EncryptValue(e.to_string()))?;
    Ok(output::emit(
        plan.io.output.as_deref(),
        sealed.as_bytes(),
        false,
    )?)
}
