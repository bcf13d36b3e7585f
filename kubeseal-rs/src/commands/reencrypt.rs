//! `--re-encrypt`: have the controller re-encrypt each input SealedSecret with its newest key
//! (`/v1/rotate` through the API server's service proxy, SPEC §4.10) and print the results.
//! The objects in the cluster are not changed. With `-f FILE` and no `-w`, FILE is rewritten
//! in place, as upstream does; nothing is written unless every document was re-encrypted.

use std::path::Path;

use sealed_secrets_core::manifest;
use sealed_secrets_core::types::{SEALED_SECRET_API_VERSION, SEALED_SECRET_KIND, SealedSecret};

use crate::cli::Format;
use crate::cluster::{ClusterError, Controller};
use crate::error::CliError;
use crate::mode::Plan;
use crate::output;

/// Runs the re-encrypt mode.
///
/// # Errors
/// Bad input, the controller cannot be reached or refuses, or the output cannot be written.
pub fn run(plan: &Plan) -> Result<(), CliError> {
    let sealed_secrets = super::read_sealed_secrets(plan)?;
    let cluster_err = |source: ClusterError| CliError::cluster("cannot re-encrypt secret", source);
    let (target, format) = destination(plan);
    let mut controller = Controller::connect(&plan.cluster).map_err(cluster_err)?;
    let mut out = String::new();
    for sealed in &sealed_secrets {
        let body = manifest::to_json_compact(sealed)?;
        let Some(answer) = controller.rotate(body.as_bytes()).map_err(cluster_err)? else {
            return Err(
                crate::error::CommandError::RotateRefused(sealed.metadata.name.clone()).into(),
            );
        };
        let mut rotated: SealedSecret = serde_json::from_slice(&answer).map_err(|e| {
            CliError::from(crate::error::CommandError::RotateAnswer {
                name: sealed.metadata.name.clone(),
                error: e.to_string(),
            })
        })?;
        // The controller answers without kind/apiVersion; server fields are dropped.
        SEALED_SECRET_KIND.clone_into(&mut rotated.kind);
        SEALED_SECRET_API_VERSION.clone_into(&mut rotated.api_version);
        rotated.metadata.creation_timestamp = None;
        rotated.metadata.deletion_timestamp = None;
        rotated.metadata.generation = 0;
        out.push_str(&output::render(&rotated, format)?);
    }
    Ok(output::emit(target, out.as_bytes(), false)?)
}

/// `-w`, else the input file itself (in place), else stdout; a `.yaml`/`.yml` target selects
/// YAML as `-w` does.
fn destination(plan: &Plan) -> (Option<&Path>, Format) {
    if let Some(path) = plan.io.output.as_deref() {
        return (Some(path), plan.io.format);
    }
    match plan.io.input.as_deref() {
        Some(path) => {
            let yaml = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
            (Some(path), if yaml { Format::Yaml } else { plan.io.format })
        }
        None => (None, plan.io.format),
    }
}
