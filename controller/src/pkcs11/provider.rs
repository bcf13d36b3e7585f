//! The PKCS#11 key provider wired into the key registry (ADR 0005 §4–6): opens the token at
//! start-up, turns each token key into a [`KeyEntry`] after its self-test, generates new keys
//! (and their certificates) in the token.
//!
//! Calls here are blocking (token I/O): the key manager runs them on the blocking pool.

use std::fmt;
use std::sync::Arc;

use sealed_secrets_core::cert::{CertParams, Certificate};

use super::{DEFAULT_KEY_BITS, Module, PIN_ENV, Pin, Pkcs11Error, Token, TokenKey, token_error};
use crate::cli::Pkcs11Settings;
use crate::digest::{DERIVATION_LABEL, DigestKey};
use crate::key_registry::{KeyEntry, KeyProvider};

/// A logged-in token and the label prefix of its sealing keys.
pub struct TokenProvider {
    /// Kept loaded for as long as the token is used.
    module: Module,
    token: Token,
    token_label: String,
    key_prefix: String,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("token", &self.token_label)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// Loads the module, reads the PIN (file, else [`PIN_ENV`]) and logs in to the token.
    ///
    /// # Errors
    /// One-line [`Pkcs11Error`]s; none contains the PIN.
    pub fn open(settings: &Pkcs11Settings) -> Result<Self, Pkcs11Error> {
        let module = Module::load(&settings.module)?;
        let pin = match &settings.pin_file {
            Some(path) => Pin::from_file(path)?,
            None => Pin::from_env(PIN_ENV)?,
        };
        // One session per RSA-pool worker (the unsealer runs one RSA operation per CPU).
        let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let token = module.open_token_sessions(settings.token_label.as_deref(), &pin, workers)?;
        drop(pin);
        let token_label = match &settings.token_label {
            Some(label) => label.clone(),
            None => module
                .context()
                .get_token_info(token.slot())
                .map_err(token_error("C_GetTokenInfo"))?
                .label()
                .trim_end()
                .to_owned(),
        };
        Ok(Self {
            module,
            token,
            token_label,
            key_prefix: settings.key_label.clone(),
        })
    }

    /// Logs out and finalises the module (tests; the controller keeps its token for life).
    /// Keys still registered from it fail as unavailable afterwards.
    ///
    /// # Errors
    /// A token error.
    pub fn close(self) -> Result<(), Pkcs11Error> {
        drop(self.token);
        self.module.finalize()
    }

    /// `pkcs11:<token label>`.
    #[must_use]
    pub fn provider(&self) -> KeyProvider {
        KeyProvider::Pkcs11 {
            token: self.token_label.clone(),
        }
    }

    /// Every sealing key of the prefix, self-tested, with its certificate (made and stored in
    /// the token when a key has none, e.g. a key created with another tool).
    ///
    /// # Errors
    /// A key fails its self-test, its certificate does not match it, or a token call failed:
    /// start-up stops rather than unsealing with a key that cannot work.
    pub fn load(
        &self,
        common_name: &str,
        validity: time::Duration,
    ) -> Result<Vec<KeyEntry>, Pkcs11Error> {
        let mut entries = Vec::new();
        for key in self.token.find_keys(&self.key_prefix)? {
            let cert = match self.token.find_certificate(&key)? {
                Some(der) => Certificate::from_der(&der).map_err(|e| Pkcs11Error::Certificate {
                    reason: format!("token object {:?}: {e}", key.label()),
                })?,
                None => self.new_certificate(&key, common_name, validity)?,
            };
            entries.push(self.entry(key, cert)?);
        }
        Ok(entries)
    }

    /// Generates a key labelled `<prefix>-<5 random characters>` in the token, its
    /// certificate signed in the token and stored beside it.
    ///
    /// # Errors
    /// A token call failed, or the new key fails its self-test.
    pub fn generate(
        &self,
        bits: usize,
        common_name: &str,
        validity: time::Duration,
    ) -> Result<KeyEntry, Pkcs11Error> {
        let label = format!("{}-{}", self.key_prefix, random_suffix()?);
        let bits = u64::try_from(bits).unwrap_or(DEFAULT_KEY_BITS);
        let key = self.token.generate_key(&label, bits)?;
        let cert = self.new_certificate(&key, common_name, validity)?;
        self.entry(key, cert)
    }

    fn new_certificate(
        &self,
        key: &TokenKey,
        common_name: &str,
        validity: time::Duration,
    ) -> Result<Certificate, Pkcs11Error> {
        let cert = key.self_signed_certificate(&CertParams {
            common_name: common_name.to_owned(),
            not_before: time::OffsetDateTime::now_utc(),
            validity,
        })?;
        self.token.store_certificate(key, &cert)?;
        Ok(cert)
    }

    fn entry(&self, key: TokenKey, cert: Certificate) -> Result<KeyEntry, Pkcs11Error> {
        if cert.public_key() != key.public_key() {
            return Err(Pkcs11Error::Certificate {
                reason: format!(
                    "the certificate stored for {:?} is for another key",
                    key.label()
                ),
            });
        }
        key.self_test()?;
        let digest_key = DigestKey::from_signature(&key.sign_sha256(DERIVATION_LABEL)?);
        let label = key.label().to_owned();
        Ok(KeyEntry::held(
            Arc::new(key),
            self.provider(),
            cert,
            digest_key,
            label,
        ))
    }
}

/// Five characters of the API server's `generateName` alphabet (no vowels).
fn random_suffix() -> Result<String, Pkcs11Error> {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut bytes = [0u8; 5];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Pkcs11Error::Token {
        operation: "random label",
        reason: "no randomness".to_owned(),
    })?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}
