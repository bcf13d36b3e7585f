//! Token objects beside the keys: every sealing key of a label prefix, and the key's
//! certificate as a `CKO_CERTIFICATE` with the key's `CKA_ID` (the PKCS#11 convention, so
//! tools such as `pkcs11-tool --list-objects` show the pair).

use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass};
use sealed_secrets_core::cert::Certificate;

use super::{Pkcs11Error, Token, TokenKey, token_error};

impl Token {
    /// Every RSA private key whose label is `prefix` or starts with `prefix-`, sorted by label.
    ///
    /// # Errors
    /// A token error, or a key that is unusable (see [`Token::find_key`]).
    pub fn find_keys(&self, prefix: &str) -> Result<Vec<TokenKey>, Pkcs11Error> {
        let labelled = {
            let session = self.sessions.get();
            let handles = session
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(KeyType::RSA),
                ])
                .map_err(token_error("C_FindObjects"))?;
            let mut labelled = Vec::new();
            for handle in handles {
                let attributes = session
                    .get_attributes(handle, &[AttributeType::Label])
                    .map_err(token_error("C_GetAttributeValue"))?;
                for attribute in attributes {
                    if let Attribute::Label(bytes) = attribute {
                        let label = String::from_utf8_lossy(&bytes).into_owned();
                        if label == prefix || label.starts_with(&format!("{prefix}-")) {
                            labelled.push((label, handle));
                        }
                    }
                }
            }
            labelled
        };
        let mut keys = labelled
            .into_iter()
            .map(|(label, handle)| self.key_from_handle(&label, handle))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by(|a, b| a.label.cmp(&b.label));
        Ok(keys)
    }

    /// The DER of the certificate object with `key`'s `CKA_ID`, or `None`.
    ///
    /// # Errors
    /// A token error.
    pub fn find_certificate(&self, key: &TokenKey) -> Result<Option<Vec<u8>>, Pkcs11Error> {
        let session = self.sessions.get();
        let handles = session
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Id(key.id.clone()),
            ])
            .map_err(token_error("C_FindObjects"))?;
        let Some(handle) = handles.first() else {
            return Ok(None);
        };
        let attributes = session
            .get_attributes(*handle, &[AttributeType::Value])
            .map_err(token_error("C_GetAttributeValue"))?;
        Ok(attributes.into_iter().find_map(|a| match a {
            Attribute::Value(der) => Some(der),
            _ => None,
        }))
    }

    /// Stores `cert` as a public token object with `key`'s label and `CKA_ID`.
    ///
    /// # Errors
    /// A token error.
    pub fn store_certificate(&self, key: &TokenKey, cert: &Certificate) -> Result<(), Pkcs11Error> {
        self.sessions
            .get()
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Label(key.label.as_bytes().to_vec()),
                Attribute::Id(key.id.clone()),
                Attribute::Subject(cert.subject_der()),
                Attribute::Value(cert.der().to_vec()),
            ])
            .map(|_| ())
            .map_err(token_error("C_CreateObject"))
    }
}
