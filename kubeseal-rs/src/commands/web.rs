//! `web`: the browser sealer as one static HTML file with the certificate embedded
//! (`sealed_secrets_core::web`), for sealing in a browser without the CLI and offline.

use sealed_secrets_core::web::{CspMode, page};

use crate::cli::CertInfoArgs;
use crate::error::CliError;
use crate::{cert_source, output};

/// Runs `web`: the certificate from the argument, `--cert`, or the controller (`--fetch` or
/// neither), checked as for sealing (an expired one is refused).
///
/// # Errors
/// The certificate cannot be fetched, parsed, or has expired; stdout cannot be written.
pub fn run(mut args: CertInfoArgs) -> Result<(), CliError> {
    if args.fetch {
        args.cert.cert = None;
    } else if let Some(source) = args.source.take() {
        args.cert.cert = Some(source);
    }
    let source = crate::mode::cert_args_source(&args.cert);
    let (bytes, origin) = super::cert_bytes_from(&source)?;
    let cert = cert_source::parse_for_sealing(&bytes, &origin)?;
    let page = page(Some(&cert), CspMode::Offline);
    Ok(output::emit(None, page.html.as_bytes(), false)?)
}
