//! The token's user PIN: from a file or an environment variable, held in a `secrecy` string,
//! never printed.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::Pkcs11Error;

/// The environment variable the PIN may come from (`Pin::from_env`).
pub const PIN_ENV: &str = "SEALED_SECRETS_PKCS11_PIN";

/// The largest PIN file read (a PIN is short; anything larger is a wrong path).
pub const MAX_PIN_FILE: u64 = 4096;

/// The user PIN of the token. `Debug` shows nothing of it.
pub struct Pin(AuthPin);

impl Pin {
    pub(super) fn auth(&self) -> &AuthPin {
        &self.0
    }

    /// A PIN from a string (tests, or a value already read by the caller).
    #[must_use]
    pub fn new(pin: String) -> Self {
        Self(AuthPin::from(pin))
    }

    /// Reads the PIN from a file (a mounted Secret): its content without one trailing line end.
    ///
    /// # Errors
    /// [`Pkcs11Error::PinFile`] when it cannot be read, is longer than [`MAX_PIN_FILE`] bytes,
    /// is not UTF-8 or is empty.
    pub fn from_file(path: &Path) -> Result<Self, Pkcs11Error> {
        let fail = |reason: &str| Pkcs11Error::PinFile {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let file = std::fs::File::open(path).map_err(|e| fail(&e.kind().to_string()))?;
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(MAX_PIN_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(&e.kind().to_string()))?;
        if bytes.len() as u64 > MAX_PIN_FILE {
            return Err(fail("longer than 4096 bytes"));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| fail("not UTF-8"))?;
        let text = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        if text.is_empty() {
            return Err(fail("empty"));
        }
        Ok(Self::new(text.to_owned()))
    }

    /// Reads the PIN from the environment variable `var` (e.g. [`PIN_ENV`]).
    ///
    /// # Errors
    /// [`Pkcs11Error::PinEnv`] when it is unset, not UTF-8 or empty.
    pub fn from_env(var: &str) -> Result<Self, Pkcs11Error> {
        match std::env::var(var) {
            Ok(pin) if !pin.is_empty() => Ok(Self::new(pin)),
            _ => Err(Pkcs11Error::PinEnv {
                var: var.to_owned(),
            }),
        }
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_sources() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        std::fs::write(&path, "1234\n").unwrap();
        let pin = Pin::from_file(&path).unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
        std::fs::write(&path, "\n").unwrap();
        let err = Pin::from_file(&path).unwrap_err().to_string();
        assert!(err.ends_with(": empty"), "{err}");
        let err = Pin::from_file(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains('\n'), "{err}");
        let err = Pin::from_env("SSRS_TEST_PKCS11_PIN_SURELY_UNSET").unwrap_err();
        assert!(matches!(err, Pkcs11Error::PinEnv { .. }));
    }

    #[test]
    fn oversized_pin_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        std::fs::write(&path, vec![b'1'; 5000]).unwrap();
        let err = Pin::from_file(&path).unwrap_err().to_string();
        assert!(err.ends_with(": longer than 4096 bytes"), "{err}");
        assert!(!err.contains("111"), "{err}");
    }
}
