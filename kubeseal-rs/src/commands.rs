//! Stage 3: running a checked mode. One module per mode.

pub mod cert_info;
pub mod check;
pub mod consistency;
pub mod edit_item;
pub mod keygen;
pub mod keys;
pub mod krm;
pub mod merge;
pub mod multi_seal;
pub mod raw;
pub mod recover;
pub mod reencrypt;
pub mod reseal;
pub mod seal;
pub mod validate;
pub mod web;

use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::manifest;
use sealed_secrets_core::types::SealedSecret;

use crate::error::{CliError, CommandError};
use crate::mode::{CertSource, Plan};
use crate::{cert_source, cluster, input};

/// The time recorded in `sealed-at` and that `check --max-age` measures from: the clock, or
/// the hidden `SSRS_NOW` (RFC 3339), so tests are deterministic.
///
/// # Errors
/// `SSRS_NOW` is set but is not an RFC 3339 time.
pub fn now() -> Result<time::OffsetDateTime, CliError> {
    match std::env::var("SSRS_NOW") {
        Ok(text) => {
            time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                .map_err(|_| CommandError::BadNow(text).into())
        }
        Err(_) => Ok(time::OffsetDateTime::now_utc()),
    }
}

/// The certificate to seal with, from `--cert` or the controller.
///
/// # Errors
/// The certificate cannot be fetched or parsed, or is expired.
pub fn sealing_cert(plan: &Plan) -> Result<Certificate, CliError> {
    let (bytes, origin) = cert_bytes(plan)?;
    Ok(cert_source::parse_for_sealing(&bytes, &origin)?)
}

/// The raw certificate bytes and a description of where they came from.
///
/// # Errors
/// The certificate cannot be fetched.
pub fn cert_bytes(plan: &Plan) -> Result<(Vec<u8>, String), CliError> {
    cert_bytes_from(&plan.cert)
}

/// The certificate to seal with, from `source` (the connection settings in `args`).
///
/// # Errors
/// The certificate cannot be fetched or parsed, or is expired.
pub fn sealing_cert_from(source: &CertSource) -> Result<Certificate, CliError> {
    let (bytes, origin) = cert_bytes_from(source)?;
    Ok(cert_source::parse_for_sealing(&bytes, &origin)?)
}

pub(crate) fn cert_bytes_from(source: &CertSource) -> Result<(Vec<u8>, String), CliError> {
    match source {
        CertSource::Location(location) => Ok((cert_source::fetch(location)?, location.clone())),
        CertSource::Environment { name, config } => {
            let config = crate::repo_config::load(config.as_deref())?;
            multi_seal::environment_cert_bytes(config.as_ref(), name)
        }
        CertSource::Controller(access) => {
            let fetch = || cluster::Controller::connect(access)?.cert_pem();
            let bytes =
                fetch().map_err(|source| CliError::cluster("cannot fetch certificate", source))?;
            Ok((
                bytes,
                format!(
                    "from controller {}/{}",
                    access.controller_namespace, access.controller_name
                ),
            ))
        }
    }
}

/// The SealedSecrets of the input (stdin or `--secret-file`), all decoded before anything is
/// sent to the controller.
///
/// # Errors
/// Unreadable input, a document that is not a SealedSecret, or no document at all.
pub fn read_sealed_secrets(plan: &Plan) -> Result<Vec<SealedSecret>, CliError> {
    let documents = input::read_input_documents(plan.io.input.as_deref(), seal::TTY_HINT)?;
    if documents.is_empty() {
        return Err(CommandError::NoSealedSecrets.into());
    }
    Ok(documents
        .into_iter()
        .map(manifest::Document::into_sealed_secret)
        .collect::<Result<Vec<_>, _>>()?)
}
