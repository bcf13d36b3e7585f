//! The PKCS#11 key provider's flags (addition, issue 19; `docs/keys.md`): declared here and
//! flattened into [`Cli`](super::Cli), checked into [`Pkcs11Settings`].
//!
//! The PIN has no flag (a command line is visible to every process of the node): it comes from
//! `--pkcs11-pin-file` or the `SEALED_SECRETS_PKCS11_PIN` variable.

use std::path::PathBuf;

use clap::Args;

use super::{CliError, DEFAULT_KEY_PREFIX};

/// Raw flags as declared.
#[derive(Debug, Clone, Args)]
pub struct Pkcs11Flags {
    /// Keep the sealing keys in a PKCS#11 token: path of the token's module (a .so). Keys are
    /// generated and renewed in the token and never leave it; no key Secret is written.
    #[arg(long, env = "SEALED_SECRETS_PKCS11_MODULE", value_name = "FILE")]
    pub pkcs11_module: Option<PathBuf>,

    /// Label of the token to use (default: the first initialised token).
    #[arg(long, env = "SEALED_SECRETS_PKCS11_TOKEN_LABEL")]
    pub pkcs11_token_label: Option<String>,

    /// Label prefix of the sealing keys in the token: keys labelled PREFIX or PREFIX-<suffix>
    /// are loaded, new ones are labelled PREFIX-<suffix> (like key Secret names).
    #[arg(long, env = "SEALED_SECRETS_PKCS11_KEY_LABEL", default_value = DEFAULT_KEY_PREFIX)]
    pub pkcs11_key_label: String,

    /// File holding the token's user PIN (a mounted Secret); without it the PIN is read from
    /// SEALED_SECRETS_PKCS11_PIN.
    #[arg(long, env = "SEALED_SECRETS_PKCS11_PIN_FILE", value_name = "FILE")]
    pub pkcs11_pin_file: Option<PathBuf>,
}

/// Checked PKCS#11 settings: present only with `--pkcs11-module`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Settings {
    pub module: PathBuf,
    pub token_label: Option<String>,
    pub key_label: String,
    pub pin_file: Option<PathBuf>,
}

/// `None` without `--pkcs11-module`; the other flags alone are a usage error.
pub(super) fn resolve(flags: Pkcs11Flags) -> Result<Option<Pkcs11Settings>, CliError> {
    let Some(module) = flags.pkcs11_module.filter(|m| !m.as_os_str().is_empty()) else {
        if flags.pkcs11_token_label.is_some() || flags.pkcs11_pin_file.is_some() {
            return Err(CliError::Pkcs11(
                "--pkcs11-token-label and --pkcs11-pin-file need --pkcs11-module".to_owned(),
            ));
        }
        return Ok(None);
    };
    if flags.pkcs11_key_label.is_empty() || flags.pkcs11_key_label.len() > 200 {
        return Err(CliError::Pkcs11(
            "--pkcs11-key-label must have 1 to 200 characters".to_owned(),
        ));
    }
    Ok(Some(Pkcs11Settings {
        module,
        token_label: flags.pkcs11_token_label.filter(|l| !l.is_empty()),
        key_label: flags.pkcs11_key_label,
        pin_file: flags.pkcs11_pin_file,
    }))
}
