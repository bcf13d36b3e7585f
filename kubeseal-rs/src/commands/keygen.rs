//! `keygen`: a key pair and self-signed certificate made exactly as the controller makes
//! them (RSA-4096, 10-year validity, empty DN), written as a key Secret manifest.

use std::collections::BTreeMap;

use sealed_secrets_core::cert::{CertParams, Certificate};
use sealed_secrets_core::key_secret;
use sealed_secrets_core::keys::PrivateKey;

use crate::cli::KeygenArgs;
use crate::error::{CliError, KeygenError};
use crate::output;

/// Parses a Go-style duration (`87600h`, `1h30m`, `90s`) plus `d` (24h) and `w` (7d) units.
///
/// # Errors
/// Not a positive duration.
pub fn parse_duration(text: &str) -> Result<time::Duration, String> {
    let bad = || format!("invalid duration {text:?}: use units w, d, h, m or s, e.g. 87600h");
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            'w' => 604_800,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || total <= 0 {
        return Err(bad());
    }
    Ok(time::Duration::seconds(total))
}

/// Runs `keygen`.
///
/// # Errors
/// Bad parameters, key generation or a write failure.
pub fn run(args: &KeygenArgs) -> Result<(), CliError> {
    let validity = parse_duration(&args.key_ttl).map_err(KeygenError::KeyTtl)?;
    if !matches!(args.key_size, 2048 | 3072 | 4096 | 8192) {
        return Err(KeygenError::KeySize(args.key_size).into());
    }
    let key =
        PrivateKey::generate(args.key_size).map_err(|e| KeygenError::Generate(e.to_string()))?;
    let params = CertParams {
        common_name: args.my_cn.clone(),
        not_before: match &args.not_before {
            Some(text) => {
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| KeygenError::NotBefore(text.clone()))?
            }
            None => time::OffsetDateTime::now_utc(),
        },
        validity,
    };
    let cert = Certificate::self_signed(&key, &params)
        .map_err(|e| KeygenError::Certificate(e.to_string()))?;
    let mut secret = key_secret::new_key_secret(
        &key,
        &cert,
        &args.key_prefix,
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
    .map_err(|source| CliError::KeyFile {
        path: "generated key".to_owned(),
        source,
    })?;
    secret.metadata.namespace.clone_from(&args.namespace);
    let rendered = zeroize::Zeroizing::new(output::render(&secret, args.format)?);
    if let Some(path) = &args.cert_out {
        output::write_atomic(path, cert.to_pem().as_bytes(), false)?;
    }
    output::emit(args.output.as_deref(), rendered.as_bytes(), true)?;
    // The fingerprint to pin in .sealed-secrets.toml: on stdout when the key Secret went to a
    // file, else on stderr so that stdout stays the manifest.
    let line = format!("fingerprint: {}", cert.fingerprint());
    if args.output.is_some() {
        println!("{line}");
    } else {
        eprintln!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("87600h").unwrap().whole_hours(), 87_600);
        assert_eq!(parse_duration("1h30m").unwrap().whole_minutes(), 90);
        assert_eq!(parse_duration("30d").unwrap().whole_days(), 30);
        assert_eq!(parse_duration("2w").unwrap().whole_days(), 14);
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
