//! Prints the SealedSecret CRD (`crds/bitnami.com_sealedsecrets.yaml`) to stdout, or writes it
//! to the path given as the only argument.

use std::process::ExitCode;

fn main() -> ExitCode {
    let yaml = match sealed_secrets_controller::crd::crd_yaml() {
        Ok(yaml) => yaml,
        Err(e) => {
            eprintln!("crdgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    match std::env::args_os().nth(1) {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, yaml) {
                eprintln!("crdgen: cannot write {}: {e}", path.to_string_lossy());
                return ExitCode::FAILURE;
            }
        }
        None => print!("{yaml}"),
    }
    ExitCode::SUCCESS
}
