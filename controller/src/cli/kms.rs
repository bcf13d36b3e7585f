//! The KMS-wrapped key flags (issue 19 part 2, ADR 0008, `docs/keys.md`): declared here and
//! flattened into [`Cli`](super::Cli), checked into [`KmsSettings`].
//!
//! Credentials have no flag: the AWS provider reads `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` from the environment (a mounted Secret).

use clap::Args;

use super::CliError;

/// Raw flags as declared.
#[derive(Debug, Clone, Args)]
pub struct KmsFlags {
    /// Keep key Secrets wrapped by a key-encryption key in an external KMS: `aws` (the AWS KMS
    /// API). New keys are written wrapped; wrapped keys are unwrapped in memory at start.
    #[arg(long, env = "SEALED_SECRETS_KMS_PROVIDER", value_name = "PROVIDER")]
    pub kms_provider: Option<String>,

    /// The KMS key that wraps new keys: a key id, key ARN, alias name or alias ARN.
    #[arg(long, env = "SEALED_SECRETS_KMS_KEY_ID", value_name = "KEY")]
    pub kms_key_id: Option<String>,

    /// The KMS region (default: AWS_REGION, then AWS_DEFAULT_REGION).
    #[arg(long, env = "SEALED_SECRETS_KMS_REGION", value_name = "REGION")]
    pub kms_region: Option<String>,

    /// The KMS endpoint URL (default: AWS_ENDPOINT_URL_KMS, AWS_ENDPOINT_URL, then
    /// https://kms.<region>.amazonaws.com).
    #[arg(long, env = "SEALED_SECRETS_KMS_ENDPOINT", value_name = "URL")]
    pub kms_endpoint: Option<String>,

    /// At start, convert the existing key Secrets: `wrap` (plain to wrapped), `unwrap` (wrapped
    /// to plain, before going back to upstream or another KMS key), or `none`.
    #[arg(
        long,
        env = "SEALED_SECRETS_KMS_MIGRATE_KEYS",
        value_name = "none|wrap|unwrap",
        default_value = "none"
    )]
    pub kms_migrate_keys: String,
}

/// The KMS APIs spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsProviderKind {
    /// The AWS KMS JSON API (`TrentService`), SigV4-signed.
    Aws,
}

/// What `--kms-migrate-keys` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsMigration {
    None,
    Wrap,
    Unwrap,
}

/// Checked KMS settings: present only with `--kms-provider`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsSettings {
    pub provider: KmsProviderKind,
    pub key_id: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub migrate: KmsMigration,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// `None` without `--kms-provider`; the other flags alone are a usage error.
pub(super) fn resolve(flags: KmsFlags) -> Result<Option<KmsSettings>, CliError> {
    let migrate = match flags.kms_migrate_keys.as_str() {
        "" | "none" => KmsMigration::None,
        "wrap" => KmsMigration::Wrap,
        "unwrap" => KmsMigration::Unwrap,
        other => {
            return Err(CliError::Kms(format!(
                "--kms-migrate-keys must be none, wrap or unwrap, got {other:?}"
            )));
        }
    };
    let Some(provider) = non_empty(flags.kms_provider) else {
        if flags.kms_key_id.is_some() || migrate != KmsMigration::None {
            return Err(CliError::Kms(
                "--kms-key-id and --kms-migrate-keys need --kms-provider".to_owned(),
            ));
        }
        return Ok(None);
    };
    let provider = match provider.as_str() {
        "aws" | "aws-kms" => KmsProviderKind::Aws,
        other => {
            return Err(CliError::Kms(format!(
                "--kms-provider {other:?} is not supported (supported: aws)"
            )));
        }
    };
    let key_id = non_empty(flags.kms_key_id)
        .ok_or_else(|| CliError::Kms("--kms-provider needs --kms-key-id".to_owned()))?;
    if key_id.len() > 2048 || key_id.chars().any(char::is_control) {
        return Err(CliError::Kms(
            "--kms-key-id must be 1 to 2048 printable characters".to_owned(),
        ));
    }
    let endpoint = non_empty(flags.kms_endpoint);
    if let Some(url) = &endpoint
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(CliError::Kms(format!(
            "--kms-endpoint {url:?} must be an http:// or https:// URL"
        )));
    }
    Ok(Some(KmsSettings {
        provider,
        key_id,
        region: non_empty(flags.kms_region),
        endpoint,
        migrate,
    }))
}
