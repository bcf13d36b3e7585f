//! `--recovery-unseal`: decrypt a SealedSecret offline with backed-up private keys
//! (SPEC §4.11). The output holds plaintext: written with mode 0600 when it goes to a file.

use std::path::PathBuf;

use sealed_secrets_core::key_secret;
use sealed_secrets_core::keys::{Decrypter, PrivateKey};
use sealed_secrets_core::seal::{self, UnsealOptions};

use crate::error::CliError;
use crate::mode::Plan;
use crate::{input, output};

/// Reads every key of every key file.
///
/// # Errors
/// A key file is unreadable or holds no usable key.
pub fn load_keys(paths: &[PathBuf]) -> Result<Vec<PrivateKey>, CliError> {
    let mut keys = Vec::new();
    for path in paths {
        let bytes = input::read_file(path)?;
        let mut found = key_secret::private_keys_from_file(&bytes).map_err(|source| {
            // The public certificate is the file most often given by mistake: say so.
            if sealed_secrets_core::cert::Certificate::from_pem(&bytes).is_ok() {
                return crate::error::CommandError::CertificateNotKey(path.display().to_string())
                    .into();
            }
            CliError::KeyFile {
                path: path.display().to_string(),
                source,
            }
        })?;
        keys.append(&mut found);
    }
    // The same key backed up twice is tried once.
    keys.sort_by_key(PrivateKey::fingerprint);
    keys.dedup_by_key(|k| k.fingerprint());
    Ok(keys)
}

/// Runs the recovery mode.
///
/// # Errors
/// Bad input, unusable keys, or no key opens the SealedSecret.
pub fn run(plan: &Plan, key_paths: &[PathBuf]) -> Result<(), CliError> {
    let keys = load_keys(key_paths)?;
    let documents = input::read_input_documents(plan.io.input.as_deref(), super::seal::TTY_HINT)?;
    let mut out = String::new();
    if documents.is_empty() {
        return Err(crate::error::CommandError::NoSealedSecrets.into());
    }
    let key_refs: Vec<&dyn Decrypter> = keys.iter().map(|k| k as &dyn Decrypter).collect();
    for doc in documents {
        let position = doc.position();
        let sealed = doc.into_sealed_secret()?;
        let unsealed =
            seal::unseal(&sealed, &key_refs, &UnsealOptions::default()).map_err(|source| {
                let error = CliError::Unseal {
                    context: format!(
                        "{position} ({}/{})",
                        sealed.metadata.namespace, sealed.metadata.name
                    ),
                    source,
                };
                if key_refs.is_empty() {
                    // Upstream's text first (`no key could decrypt secret (ITEM)`), then why.
                    crate::error::CommandError::NoRecoveryKeys(crate::error::one_line(&error))
                        .into()
                } else {
                    error
                }
            })?;
        out.push_str(&output::render(&unsealed.secret, plan.io.format)?);
    }
    let out = zeroize::Zeroizing::new(out);
    Ok(output::emit(
        plan.io.output.as_deref(),
        out.as_bytes(),
        true,
    )?)
}
