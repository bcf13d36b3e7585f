//! `--validate`: ask the controller, through the API server's service proxy, whether it can
//! unseal each input SealedSecret (SPEC §4.9). Prints nothing on success.

use sealed_secrets_core::manifest;

use crate::cluster::{Controller, Verdict};
use crate::error::CliError;
use crate::mode::Plan;

/// Runs the validate mode.
///
/// # Errors
/// Bad input, the controller cannot be reached, or it cannot unseal a SealedSecret
/// (`unable to decrypt sealed secret: <name>`, as upstream).
pub fn run(plan: &Plan) -> Result<(), CliError> {
    let sealed_secrets = super::read_sealed_secrets(plan)?;
    let cluster_err = |source| CliError::cluster("cannot validate sealed secret", source);
    let mut controller = Controller::connect(&plan.cluster).map_err(cluster_err)?;
    for sealed in &sealed_secrets {
        let body = manifest::to_json_compact(sealed)?;
        match controller.verify(body.as_bytes()).map_err(cluster_err)? {
            Verdict::Valid => {}
            Verdict::Invalid => {
                return Err(crate::error::CommandError::CannotDecrypt(
                    sealed.metadata.name.clone(),
                )
                .into());
            }
        }
    }
    Ok(())
}
