//! `cert`: what a certificate is, in the terms the rest of the CLI uses (the fingerprint in the
//! form `.sealed-secrets.toml` pins and `reseal --only-key` take).

use sealed_secrets_core::cert::Certificate;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cert_source::CertSourceError;
use crate::cli::CertInfoArgs;
use crate::error::CliError;
use crate::output;

/// Runs `cert`.
///
/// # Errors
/// The certificate cannot be fetched or parsed (an expired one is shown, not refused).
pub fn run(args: CertInfoArgs) -> Result<(), CliError> {
    let source = crate::mode::cert_args_source(&args.cert);
    let (bytes, origin) = super::cert_bytes_from(&source)?;
    let cert = Certificate::from_pem(&bytes)
        .map_err(|source| CertSourceError::Parse { origin, source })?;
    let text = describe(&cert, OffsetDateTime::now_utc());
    Ok(output::emit(None, text.as_bytes(), false)?)
}

/// The lines `cert` prints.
#[must_use]
pub fn describe(cert: &Certificate, now: OffsetDateTime) -> String {
    let time = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string());
    let subject = cert.subject();
    let subject = if subject.is_empty() {
        "(empty)".to_owned()
    } else {
        subject
    };
    let expired = if now > cert.not_after() {
        " (expired)"
    } else {
        ""
    };
    format!(
        "subject:     {subject}\nnot before:  {}\nnot after:   {}{expired}\nkey size:    {} bits\nfingerprint: {}\n",
        time(cert.not_before()),
        time(cert.not_after()),
        cert.public_key().size_bits(),
        cert.fingerprint()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sealed_secrets_core::cert::CertParams;
    use sealed_secrets_core::keys::PrivateKey;

    #[test]
    fn describes_subject_validity_size_and_fingerprint() {
        let key = PrivateKey::generate(2048).unwrap();
        let params = CertParams {
            common_name: "sealed-secret".to_owned(),
            not_before: OffsetDateTime::from_unix_timestamp(1_577_836_800).unwrap(),
            validity: time::Duration::days(1),
        };
        let cert = Certificate::self_signed(&key, &params).unwrap();
        let text = describe(
            &cert,
            OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap(),
        );
        assert_eq!(
            text,
            format!(
                "subject:     CN=sealed-secret\nnot before:  2020-01-01T00:00:00Z\nnot after:   2020-01-02T00:00:00Z (expired)\nkey size:    2048 bits\nfingerprint: {}\n",
                key.fingerprint()
            )
        );
    }
}
