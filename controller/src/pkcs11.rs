//! Sealing keys held in a PKCS#11 token (issue 19; see `docs/keys.md` and
//! `docs/decisions/0005-key-providers.md`).
//!
//! The private key is generated inside the token as non-extractable and sensitive, and never
//! leaves it: the controller asks the token for the RSA-OAEP decryption of the session key
//! (`CKM_RSA_PKCS_OAEP`, SHA-256, MGF1-SHA-256, the scope label as `pSourceData`) and for the
//! `sha256WithRSAEncryption` signature of its self-signed certificate (`CKM_SHA256_RSA_PKCS`).
//! [`TokenKey`] is a [`Decrypter`]: the rest of the hybrid blob (length checks, AES-GCM) is the
//! core's, as for in-memory keys. The certificate is a `CKO_CERTIFICATE` object beside the key
//! (same `CKA_ID`), and [`provider`] registers the token's keys with the controller.
//!
//! The PIN is read from a file or an environment variable, held in a `secrecy` string and never
//! written to a log, an error or a `Debug` output.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use sealed_secrets_core::crypto::{self, SESSION_KEY_LEN};
use sealed_secrets_core::keys::{Decrypter, Fingerprint, PublicKey, UnwrapError};
use sealed_secrets_core::secret_bytes::SecretBytes;
use zeroize::Zeroizing;

mod cert;
mod der;
mod objects;
mod pin;
pub mod provider;
mod sessions;

use sessions::Sessions;

pub use der::{rsa_public_key_der, spki_der};
pub use pin::{PIN_ENV, Pin};

/// Modulus length of the keys this module generates (as the controller's `--key-size` default).
pub const DEFAULT_KEY_BITS: u64 = 4096;

/// A token operation failed. The message is one line; it never contains the PIN.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The PKCS#11 module could not be loaded or initialised.
    #[error("cannot load PKCS#11 module {}: {reason}", path.display())]
    Module {
        /// Path of the module.
        path: PathBuf,
        /// What the loader or `C_Initialize` said.
        reason: String,
    },
    /// No slot holds a token with that label (or no initialised token at all).
    #[error("no PKCS#11 token {}", describe_token(label.as_deref()))]
    NoToken {
        /// The token label asked for.
        label: Option<String>,
    },
    /// The PIN file could not be read, or is empty.
    #[error("cannot read the PKCS#11 PIN from {}: {reason}", path.display())]
    PinFile {
        /// Path of the PIN file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The PIN variable is unset or empty.
    #[error("the PKCS#11 PIN variable {var} is unset or empty")]
    PinEnv {
        /// Name of the variable.
        var: String,
    },
    /// `C_Login` refused the PIN (or the token is locked).
    #[error("PKCS#11 login failed: {reason}")]
    Login {
        /// The PKCS#11 return value (never the PIN).
        reason: String,
    },
    /// Several private keys carry the label: which one seals is ambiguous.
    #[error("{count} private keys in the token are labelled {label:?}")]
    Ambiguous {
        /// The key label.
        label: String,
        /// How many keys carry it.
        count: usize,
    },
    /// The key in the token is not what we can use (not RSA, no decrypt/sign, extractable…).
    #[error("token key {label:?} is unusable: {reason}")]
    UnusableKey {
        /// The key label.
        label: String,
        /// Why.
        reason: String,
    },
    /// The token cannot do what sealing needs with the key ([`TokenKey::self_test`]).
    #[error("token key {label:?} cannot unseal: {reason}")]
    Unsupported {
        /// The key label.
        label: String,
        /// What failed.
        reason: String,
    },
    /// A token call failed.
    #[error("PKCS#11 {operation} failed: {reason}")]
    Token {
        /// What we were doing.
        operation: &'static str,
        /// The PKCS#11 return value.
        reason: String,
    },
    /// The certificate could not be built or did not match the token key.
    #[error("certificate for the token key: {reason}")]
    Certificate {
        /// Why.
        reason: String,
    },
}

fn describe_token(label: Option<&str>) -> String {
    label.map_or_else(
        || "is initialised".to_owned(),
        |l| format!("labelled {l:?}"),
    )
}

/// One-line text for a cryptoki error: the function and the `CKR_*` name, not its paragraph.
fn ck_reason(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, function) => format!("{function}: {rv:?}"),
        other => other.to_string(),
    }
}

fn token_error(operation: &'static str) -> impl FnOnce(CkError) -> Pkcs11Error {
    move |e| Pkcs11Error::Token {
        operation,
        reason: ck_reason(&e),
    }
}

/// A loaded and initialised PKCS#11 module. One per process: a second `C_Initialize` of the
/// same module fails, and finalising one context would close the other's sessions.
pub struct Module {
    ctx: Pkcs11,
    path: PathBuf,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module").field("path", &self.path).finish()
    }
}

impl Module {
    /// Loads the module (`dlopen`) and calls `C_Initialize` with OS locking.
    ///
    /// # Errors
    /// [`Pkcs11Error::Module`].
    pub fn load(path: &Path) -> Result<Self, Pkcs11Error> {
        let fail = |e: CkError| Pkcs11Error::Module {
            path: path.to_owned(),
            reason: ck_reason(&e),
        };
        let ctx = Pkcs11::new(path).map_err(fail)?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(fail)?;
        Ok(Self {
            ctx,
            path: path.to_owned(),
        })
    }

    /// `C_Finalize`: the module may be loaded again in this process afterwards (tests). Open
    /// sessions are closed by the module.
    ///
    /// # Errors
    /// A token error.
    pub fn finalize(self) -> Result<(), Pkcs11Error> {
        self.ctx.finalize().map_err(token_error("C_Finalize"))
    }

    /// The cryptoki context (token and PIN initialisation in tests and tools).
    #[must_use]
    pub fn context(&self) -> &Pkcs11 {
        &self.ctx
    }

    /// The slot whose token has `token_label` (trailing blanks ignored, as PKCS#11 pads labels),
    /// or the first slot with an initialised token when `token_label` is `None`.
    ///
    /// # Errors
    /// [`Pkcs11Error::NoToken`] or a token error.
    pub fn find_slot(&self, token_label: Option<&str>) -> Result<Slot, Pkcs11Error> {
        let slots = self
            .ctx
            .get_slots_with_initialized_token()
            .map_err(token_error("C_GetSlotList"))?;
        for slot in slots {
            let info = self
                .ctx
                .get_token_info(slot)
                .map_err(token_error("C_GetTokenInfo"))?;
            match token_label {
                None => return Ok(slot),
                Some(label) if info.label().trim_end() == label => return Ok(slot),
                Some(_) => {}
            }
        }
        Err(Pkcs11Error::NoToken {
            label: token_label.map(str::to_owned),
        })
    }

    /// Opens a read-write session on the token and logs the user in.
    ///
    /// PKCS#11 login state belongs to the application, not the session: once a session of this
    /// process is logged in, `C_Login` answers `CKR_USER_ALREADY_LOGGED_IN` whatever the PIN,
    /// and that is taken as success. Open the token once per process (as the controller does)
    /// so the PIN is always checked.
    ///
    /// # Errors
    /// [`Pkcs11Error::NoToken`], [`Pkcs11Error::Login`] or a token error.
    pub fn open_token(&self, token_label: Option<&str>, pin: &Pin) -> Result<Token, Pkcs11Error> {
        self.open_token_sessions(token_label, pin, 1)
    }

    /// [`Module::open_token`] with `sessions` sessions (at least one), so that as many
    /// decryptions run at once (ADR 0005 §5): the first logs in, the others share its login.
    ///
    /// # Errors
    /// As [`Module::open_token`].
    pub fn open_token_sessions(
        &self,
        token_label: Option<&str>,
        pin: &Pin,
        sessions: usize,
    ) -> Result<Token, Pkcs11Error> {
        let slot = self.find_slot(token_label)?;
        let session = self
            .ctx
            .open_rw_session(slot)
            .map_err(token_error("C_OpenSession"))?;
        match session.login(UserType::User, Some(pin.auth())) {
            // Login state is per application, not per session: a second session is already in.
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => {
                return Err(Pkcs11Error::Login {
                    reason: ck_reason(&e),
                });
            }
        }
        let mut all = vec![session];
        for _ in 1..sessions.max(1) {
            all.push(
                self.ctx
                    .open_rw_session(slot)
                    .map_err(token_error("C_OpenSession"))?,
            );
        }
        Ok(Token {
            sessions: Arc::new(Sessions::new(all)),
            slot,
        })
    }
}

/// Logged-in sessions on one token: each call takes a free session ([`Sessions`]).
#[derive(Clone)]
pub struct Token {
    sessions: Arc<Sessions>,
    slot: Slot,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("slot", &self.slot.id())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Token {
    /// The slot the token is in.
    #[must_use]
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// Runs `f` on a session (tests and tools; it is held meanwhile).
    pub fn with_session<T>(&self, f: impl FnOnce(&Session) -> T) -> T {
        f(&self.sessions.get())
    }

    /// The RSA private key labelled `label`, or `None`.
    ///
    /// # Errors
    /// [`Pkcs11Error::Ambiguous`] when several carry the label, [`Pkcs11Error::UnusableKey`]
    /// when it cannot decrypt, sign or is extractable, or a token error.
    pub fn find_key(&self, label: &str) -> Result<Option<TokenKey>, Pkcs11Error> {
        let handles = self
            .sessions
            .get()
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::RSA),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(token_error("C_FindObjects"))?;
        match handles.as_slice() {
            [] => Ok(None),
            [handle] => self.key_from_handle(label, *handle).map(Some),
            many => Err(Pkcs11Error::Ambiguous {
                label: label.to_owned(),
                count: many.len(),
            }),
        }
    }

    /// Generates an RSA key pair of `bits` in the token: both halves are token objects with
    /// `CKA_LABEL` = `CKA_ID` = `label`; the private half is `CKA_SENSITIVE`, not
    /// `CKA_EXTRACTABLE`, private, and may only decrypt and sign.
    ///
    /// # Errors
    /// A token error (e.g. the mechanism or the size is not supported).
    pub fn generate_key(&self, label: &str, bits: u64) -> Result<TokenKey, Pkcs11Error> {
        let name = label.as_bytes().to_vec();
        let public = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Encrypt(true),
            Attribute::Verify(true),
            Attribute::Wrap(false),
            Attribute::ModulusBits(bits.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            Attribute::Label(name.clone()),
            Attribute::Id(name.clone()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Decrypt(true),
            Attribute::Sign(true),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Label(name.clone()),
            Attribute::Id(name),
        ];
        let (_, handle) = self
            .sessions
            .get()
            .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
            .map_err(token_error("C_GenerateKeyPair"))?;
        self.key_from_handle(label, handle)
    }

    /// [`Token::find_key`], or [`Token::generate_key`] when there is none.
    ///
    /// # Errors
    /// As those.
    pub fn find_or_generate_key(&self, label: &str, bits: u64) -> Result<TokenKey, Pkcs11Error> {
        match self.find_key(label)? {
            Some(key) => Ok(key),
            None => self.generate_key(label, bits),
        }
    }

    fn key_from_handle(&self, label: &str, handle: ObjectHandle) -> Result<TokenKey, Pkcs11Error> {
        let unusable = |reason: &str| Pkcs11Error::UnusableKey {
            label: label.to_owned(),
            reason: reason.to_owned(),
        };
        let attributes = self
            .sessions
            .get()
            .get_attributes(
                handle,
                &[
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                    AttributeType::Decrypt,
                    AttributeType::Sign,
                    AttributeType::Extractable,
                    AttributeType::Sensitive,
                    AttributeType::Id,
                ],
            )
            .map_err(token_error("C_GetAttributeValue"))?;
        let (mut modulus, mut exponent, mut id) = (None, None, Vec::new());
        let (mut decrypt, mut sign, mut extractable, mut sensitive) = (false, false, true, false);
        for attribute in attributes {
            match attribute {
                Attribute::Modulus(n) => modulus = Some(n),
                Attribute::PublicExponent(e) => exponent = Some(e),
                Attribute::Decrypt(b) => decrypt = b,
                Attribute::Sign(b) => sign = b,
                Attribute::Extractable(b) => extractable = b,
                Attribute::Sensitive(b) => sensitive = b,
                Attribute::Id(bytes) => id = bytes,
                _ => {}
            }
        }
        let (Some(modulus), Some(exponent)) = (modulus, exponent) else {
            return Err(unusable("its modulus or public exponent is not readable"));
        };
        if !decrypt {
            return Err(unusable("CKA_DECRYPT is false"));
        }
        if !sign {
            return Err(unusable("CKA_SIGN is false"));
        }
        if extractable || !sensitive {
            return Err(unusable("it is extractable or not sensitive"));
        }
        let pkcs1 = rsa_public_key_der(&modulus, &exponent);
        let public_key = PublicKey::from_spki_der(&spki_der(&pkcs1))
            .map_err(|e| unusable(&format!("public key: {e}")))?;
        Ok(TokenKey {
            sessions: Arc::clone(&self.sessions),
            handle,
            label: label.to_owned(),
            id,
            public_key,
            pkcs1_der: pkcs1,
        })
    }
}

/// Whether a failed `C_Decrypt` says the session or token is unusable (retry or reconnect) or
/// cannot do the mechanism at all, rather than "this block does not open". Tokens differ in
/// how they report an OAEP failure: the standard says `CKR_ENCRYPTED_DATA_INVALID`, kryoptic
/// 1.5 says `CKR_DEVICE_ERROR` (what OpenSSL's failure maps to), so everything but these counts
/// as "not opened". SoftHSM 2.6 answers `CKR_ARGUMENTS_BAD` to OAEP with SHA-256 whatever the
/// block: a token fault, not a verdict on the item.
fn is_token_fault(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::ArgumentsBad
            | RvError::MechanismInvalid
            | RvError::MechanismParamInvalid
            | RvError::KeyTypeInconsistent
            | RvError::KeyFunctionNotPermitted
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::UserNotLoggedIn
            | RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::CryptokiNotInitialized
            | RvError::KeyHandleInvalid
            | RvError::OperationActive
            | RvError::DeviceMemory
            | RvError::HostMemory
    )
}

/// An RSA private key in the token, with its public half read from it.
pub struct TokenKey {
    sessions: Arc<Sessions>,
    handle: ObjectHandle,
    label: String,
    /// `CKA_ID`, shared with the public key and the certificate objects.
    id: Vec<u8>,
    public_key: PublicKey,
    pkcs1_der: Vec<u8>,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("label", &self.label)
            .field("fingerprint", &self.public_key.fingerprint())
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// The key's `CKA_LABEL`.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The object handle of the private key (valid in every session of this process).
    #[must_use]
    pub fn handle(&self) -> ObjectHandle {
        self.handle
    }

    /// The public key (modulus and exponent read from the token).
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// SSH-style fingerprint of the public key (SPEC §1.10), as for in-memory keys.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.public_key.fingerprint()
    }

    /// RSA-OAEP (SHA-256, MGF1-SHA-256, `label` as the encoding parameter) decryption of an
    /// RSA block in the token. A block that is not exactly one modulus long is refused before
    /// any token call (as `crypto` does for in-memory keys).
    fn token_decrypt(
        &self,
        label: &[u8],
        rsa_block: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
        if rsa_block.len() != self.public_key.size_bytes() {
            return Err(UnwrapError::NotOpened);
        }
        let params = PkcsOaepParams::new(
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            PkcsOaepSource::data_specified(label),
        );
        let result =
            self.sessions
                .get()
                .decrypt(&Mechanism::RsaPkcsOaep(params), self.handle, rsa_block);
        match result {
            Ok(key) => Ok(Zeroizing::new(key)),
            Err(CkError::Pkcs11(rv, _)) if !is_token_fault(rv) => Err(UnwrapError::NotOpened),
            Err(e) => Err(UnwrapError::Unavailable {
                reason: ck_reason(&e),
            }),
        }
    }

    /// Unseals a hybrid blob (SPEC §1.1): the RSA block in the token, the rest in the core
    /// (`crypto::open_with_key`), as for every key.
    ///
    /// # Errors
    /// [`UnwrapError::NotOpened`] for anything wrong with the blob, the key or the label;
    /// [`UnwrapError::Unavailable`] when the token failed.
    pub fn decrypt_blob(&self, label: &[u8], blob: &[u8]) -> Result<SecretBytes, UnwrapError> {
        crypto::open_with_key(self, label, blob)
    }

    /// Checks that the token does what sealing needs with this key, before it is trusted with
    /// items: a random 32-byte value sealed here under a label opens in the token (OAEP with
    /// SHA-256, MGF1-SHA-256 and a label), and does not open under another label.
    ///
    /// # Errors
    /// [`Pkcs11Error::Unsupported`] (e.g. SoftHSM 2.6: `CKR_ARGUMENTS_BAD`).
    pub fn self_test(&self) -> Result<(), Pkcs11Error> {
        let unsupported = |reason: String| Pkcs11Error::Unsupported {
            label: self.label.clone(),
            reason,
        };
        let mut probe = Zeroizing::new([0u8; SESSION_KEY_LEN]);
        aws_lc_rs::rand::fill(probe.as_mut_slice())
            .map_err(|_| unsupported("random probe".to_owned()))?;
        let label = b"sealed-secrets-rs/pkcs11-self-test";
        let blob = crypto::hybrid_encrypt(&self.public_key, label, probe.as_slice())
            .map_err(|e| unsupported(e.to_string()))?;
        match self.decrypt_blob(label, &blob) {
            Ok(opened) if opened.expose() == probe.as_slice() => {}
            Ok(_) => {
                return Err(unsupported(
                    "RSA-OAEP round trip gave other bytes".to_owned(),
                ));
            }
            Err(UnwrapError::NotOpened) => {
                return Err(unsupported(
                    "RSA-OAEP (SHA-256, MGF1-SHA-256, label) did not open a block sealed for it"
                        .to_owned(),
                ));
            }
            Err(UnwrapError::Unavailable { reason }) => return Err(unsupported(reason)),
        }
        match self.decrypt_blob(b"another label", &blob) {
            Err(UnwrapError::NotOpened) => Ok(()),
            Ok(_) => Err(unsupported("the token ignores the OAEP label".to_owned())),
            Err(UnwrapError::Unavailable { reason }) => Err(unsupported(reason)),
        }
    }

    /// `sha256WithRSAEncryption` (PKCS#1 v1.5) signature of `msg`, made in the token.
    ///
    /// # Errors
    /// A token error.
    pub fn sign_sha256(&self, msg: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        self.sessions
            .get()
            .sign(&Mechanism::Sha256RsaPkcs, self.handle, msg)
            .map_err(token_error("C_Sign"))
    }
}

impl Decrypter for TokenKey {
    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn decrypt_session_key(
        &self,
        label: &[u8],
        rsa_block: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UnwrapError> {
        self.token_decrypt(label, rsa_block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_module_is_one_line() {
        let err = Module::load(Path::new("/nonexistent/libnothing.so"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot load PKCS#11 module /nonexistent/libnothing.so"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}
