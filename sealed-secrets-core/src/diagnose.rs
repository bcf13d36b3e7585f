//! Why no key opened an item: wrong namespace, wrong name, wrong scope, unknown key or corrupt
//! data (addition; upstream only says "no key could decrypt secret").
//!
//! A scope is an OAEP label, so a failed decryption alone cannot say which of these happened.
//! [`diagnose_item`] finds out with a small, bounded number of extra decryptions: it retries the
//! item with the labels the object *would* have had if it had been sealed for the name and
//! namespace its template records (kubeseal copies the input Secret's metadata there), or for
//! the other two scopes — at most four labels per registered key. Before any RSA work it checks
//! the blob's structure and compares its RSA block size with the keys'. The plaintext of a
//! successful retry is dropped (zeroized) at once; only the finding is returned.
//!
//! The finding only states what the SealedSecret's author can compute from public data (the
//! labels are its own names); OAEP is secure under chosen-ciphertext attack, so learning that a
//! ciphertext is valid under another label reveals nothing about any plaintext. `/v1/verify`
//! does not diagnose: its answer stays upstream's single 409.

use std::fmt;

use crate::check::SEALED_WITH_ANNOTATION;
use crate::crypto::{decrypt_with_key, opens_session_key, rsa_block_len};
use crate::keys::Decrypter;
use crate::scope::Scope;
use crate::types::{SealedSecret, base64_std};

/// What [`diagnose_item`] found. `reason()` is a CamelCase condition reason; `Display` is one
/// line for events, naming no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Diagnosis {
    /// Sealed for another namespace (the one in the template), and moved.
    WrongNamespace {
        sealed_for: String,
        placed_in: String,
    },
    /// Sealed for another name (the one in the template), and renamed.
    WrongName { sealed_for: String, named: String },
    /// Sealed with another scope than the object's annotations select.
    WrongScope { sealed_as: Scope, declared: Scope },
    /// The blob's RSA block does not fit any registered key, or the recorded sealing key is
    /// not registered.
    UnknownKey { detail: String },
    /// The blob is structurally broken, or the recorded key is registered yet nothing opens it.
    CorruptData { detail: String },
    /// None of the above could be told apart without more work.
    UnknownKeyOrCorruptData,
}

impl Diagnosis {
    /// A CamelCase reason for the `Synced` condition.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Diagnosis::WrongNamespace { .. } => "WrongNamespace",
            Diagnosis::WrongName { .. } => "WrongName",
            Diagnosis::WrongScope { .. } => "WrongScope",
            Diagnosis::UnknownKey { .. } => "UnknownKey",
            Diagnosis::CorruptData { .. } => "CorruptData",
            Diagnosis::UnknownKeyOrCorruptData => "UnknownKeyOrCorruptData",
        }
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Strict => "strict",
        Scope::NamespaceWide => "namespace-wide",
        Scope::ClusterWide => "cluster-wide",
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnosis::WrongNamespace {
                sealed_for,
                placed_in,
            } => write!(
                f,
                "sealed for namespace {sealed_for:?}, placed in {placed_in:?}"
            ),
            Diagnosis::WrongName { sealed_for, named } => {
                write!(f, "sealed for name {sealed_for:?}, named {named:?}")
            }
            Diagnosis::WrongScope {
                sealed_as,
                declared,
            } => write!(
                f,
                "sealed with scope {}, but the object's scope is {}",
                scope_name(*sealed_as),
                scope_name(*declared)
            ),
            Diagnosis::UnknownKey { detail } => write!(f, "unknown key: {detail}"),
            Diagnosis::CorruptData { detail } => write!(f, "corrupt data: {detail}"),
            Diagnosis::UnknownKeyOrCorruptData => {
                f.write_str("sealed for a key this controller does not have, or corrupted")
            }
        }
    }
}

fn opens(keys: &[&dyn Decrypter], label: &[u8], blob: &[u8], rsa_ops: &mut u64) -> bool {
    // The plaintext (if any) is a SecretBytes, zeroized when dropped here.
    keys.iter().any(|key| {
        *rsa_ops += 1;
        decrypt_with_key(key, label, blob).is_ok()
    })
}

/// Diagnoses why no key in `keys` opened item `item` of `ss`. `None` when the item is missing or
/// actually opens (nothing to diagnose). Adds the RSA decryptions it made to `rsa_ops`.
#[must_use]
pub fn diagnose_item(
    ss: &SealedSecret,
    item: &str,
    keys: &[&dyn Decrypter],
    rsa_ops: &mut u64,
) -> Option<Diagnosis> {
    let text = ss.spec.encrypted_data.as_ref()?.get(item)?;
    let Ok(blob) = base64_std::decode(text) else {
        return Some(Diagnosis::CorruptData {
            detail: "not base64".to_owned(),
        });
    };
    let Some(block) = rsa_block_len(&blob) else {
        return Some(Diagnosis::CorruptData {
            detail: "too short for a sealed value".to_owned(),
        });
    };
    // 2-byte length, RSA block, then at least the 16-byte AES-GCM tag.
    if blob.len() < 2 + block + 16 {
        return Some(Diagnosis::CorruptData {
            detail: "truncated".to_owned(),
        });
    }
    if !keys.iter().any(|k| k.public_key().size_bytes() == block) {
        return Some(Diagnosis::UnknownKey {
            detail: format!(
                "sealed for a {}-bit key; no such key is registered",
                block * 8
            ),
        });
    }

    let meta = &ss.metadata;
    let declared = meta.scope();
    let label = declared.label(&meta.namespace, &meta.name);
    if opens(keys, &label, &blob, rsa_ops) {
        return None;
    }
    if keys.iter().any(|key| {
        *rsa_ops += 1;
        opens_session_key(key, &label, &blob)
    }) {
        return Some(Diagnosis::CorruptData {
            detail: "the session key opens but the AES-GCM part is corrupted".to_owned(),
        });
    }
    let template = &ss.spec.template.metadata;
    if declared != Scope::ClusterWide
        && !template.namespace.is_empty()
        && template.namespace != meta.namespace
        && opens(
            keys,
            &declared.label(&template.namespace, &meta.name),
            &blob,
            rsa_ops,
        )
    {
        return Some(Diagnosis::WrongNamespace {
            sealed_for: template.namespace.clone(),
            placed_in: meta.namespace.clone(),
        });
    }
    if declared == Scope::Strict
        && !template.name.is_empty()
        && template.name != meta.name
        && opens(
            keys,
            &declared.label(&meta.namespace, &template.name),
            &blob,
            rsa_ops,
        )
    {
        return Some(Diagnosis::WrongName {
            sealed_for: template.name.clone(),
            named: meta.name.clone(),
        });
    }
    for other in [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide] {
        if other != declared
            && opens(
                keys,
                &other.label(&meta.namespace, &meta.name),
                &blob,
                rsa_ops,
            )
        {
            return Some(Diagnosis::WrongScope {
                sealed_as: other,
                declared,
            });
        }
    }
    // kubeseal-rs records the sealing certificate's fingerprint there (when asked).
    let recorded = meta.annotations.get(SEALED_WITH_ANNOTATION);
    Some(match recorded {
        Some(fp) if keys.iter().any(|k| k.fingerprint().to_string() == *fp) => {
            Diagnosis::CorruptData {
                detail: "the recorded sealing key is registered but does not open it".to_owned(),
            }
        }
        Some(fp) => Diagnosis::UnknownKey {
            detail: format!(
                "sealed for key {}, which is not registered",
                fp.chars().take(80).collect::<String>()
            ),
        },
        None => Diagnosis::UnknownKeyOrCorruptData,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hybrid_encrypt;
    use crate::keys::PrivateKey;
    use crate::types::SealedSecret;
    use std::sync::LazyLock;

    static KEY: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());
    static OTHER: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());

    /// An object named `name` in `ns` with `annotations`, whose template says `t_ns/t_name`,
    /// holding item `a` sealed with `key` under `label`.
    fn object(
        ns: &str,
        name: &str,
        t_ns: &str,
        t_name: &str,
        annotations: &[(&str, &str)],
        key: &PrivateKey,
        label: &[u8],
    ) -> SealedSecret {
        let blob = hybrid_encrypt(key.public_key(), label, b"value").unwrap();
        let mut ss = SealedSecret::default();
        ss.metadata.name = name.into();
        ss.metadata.namespace = ns.into();
        for (k, v) in annotations {
            ss.metadata.annotations.insert((*k).into(), (*v).into());
        }
        ss.spec.template.metadata.name = t_name.into();
        ss.spec.template.metadata.namespace = t_ns.into();
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, blob);
        ss.spec.encrypted_data = Some([("a".to_owned(), encoded)].into());
        ss
    }

    #[test]
    fn tells_each_cause_apart() {
        let keys: [&dyn Decrypter; 1] = [&*KEY];
        let moved = object("b", "app", "a", "app", &[], &KEY, b"a/app");
        assert_eq!(
            diagnose_item(&moved, "a", &keys, &mut 0)
                .unwrap()
                .to_string(),
            "sealed for namespace \"a\", placed in \"b\""
        );
        let renamed = object("a", "new", "a", "old", &[], &KEY, b"a/old");
        assert_eq!(
            diagnose_item(&renamed, "a", &keys, &mut 0)
                .unwrap()
                .reason(),
            "WrongName"
        );
        let scope = object("a", "app", "a", "app", &[], &KEY, b"");
        assert_eq!(
            diagnose_item(&scope, "a", &keys, &mut 0)
                .unwrap()
                .to_string(),
            "sealed with scope cluster-wide, but the object's scope is strict"
        );
        let other = object("a", "app", "a", "app", &[], &OTHER, b"a/app");
        assert_eq!(
            diagnose_item(&other, "a", &keys, &mut 0).unwrap(),
            Diagnosis::UnknownKeyOrCorruptData
        );
        let fp = OTHER.fingerprint().to_string();
        let recorded = object(
            "a",
            "app",
            "a",
            "app",
            &[(SEALED_WITH_ANNOTATION, &fp)],
            &OTHER,
            b"a/app",
        );
        assert_eq!(
            diagnose_item(&recorded, "a", &keys, &mut 0)
                .unwrap()
                .reason(),
            "UnknownKey"
        );
        let ok = object("a", "app", "a", "app", &[], &KEY, b"a/app");
        assert_eq!(diagnose_item(&ok, "a", &keys, &mut 0), None);
        let mut tampered = ok.clone();
        let items = tampered.spec.encrypted_data.as_mut().unwrap();
        let mut blob = base64_std::decode(&items["a"]).unwrap();
        *blob.last_mut().unwrap() ^= 1;
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, blob);
        items.insert("a".into(), encoded);
        assert_eq!(
            diagnose_item(&tampered, "a", &keys, &mut 0)
                .unwrap()
                .to_string(),
            "corrupt data: the session key opens but the AES-GCM part is corrupted"
        );
    }

    #[test]
    fn structure_is_checked_before_any_rsa_work() {
        let keys: [&dyn Decrypter; 1] = [&*KEY];
        let mut ss = object("a", "app", "a", "app", &[], &KEY, b"a/app");
        let items = ss.spec.encrypted_data.as_mut().unwrap();
        items.insert("bad".into(), "not*base64".into());
        items.insert("short".into(), "AAE=".into());
        items.insert("big".into(), {
            let mut blob = vec![0x02, 0x00];
            blob.extend(vec![0_u8; 512 + 32]);
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, blob)
        });
        assert_eq!(
            diagnose_item(&ss, "bad", &keys, &mut 0).unwrap().reason(),
            "CorruptData"
        );
        assert_eq!(
            diagnose_item(&ss, "short", &keys, &mut 0).unwrap().reason(),
            "CorruptData"
        );
        assert_eq!(
            diagnose_item(&ss, "big", &keys, &mut 0)
                .unwrap()
                .to_string(),
            "unknown key: sealed for a 4096-bit key; no such key is registered"
        );
        assert_eq!(diagnose_item(&ss, "missing", &keys, &mut 0), None);
    }
}
