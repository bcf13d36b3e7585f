//! Stage 3: running a checked mode. One module per mode.

pub mod keygen;
pub mod merge;
pub mod raw;
pub mod recover;
pub mod seal;

use sealed_secrets_core::cert::Certificate;

use crate::cert_source;
use crate::error::CliError;
use crate::mode::{CertSource, Plan};

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
    match &plan.cert {
        CertSource::Location(location) => Ok((cert_source::fetch(location)?, location.clone())),
        CertSource::Controller { namespace, name } => Err(CliError::NeedsCluster(format!(
            "fetching the certificate from controller {namespace}/{name}"
        ))),
    }
}
