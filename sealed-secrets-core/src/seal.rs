//! Sealing Secrets into SealedSecrets and unsealing them back (SPEC §1.3–§1.6, §1.12, §4.5).
//!
//! Both programs call these: `kubeseal-rs` to seal, recover and re-encrypt offline, the
//! controller to unseal, verify and rotate. Errors carry item names, never values.

use std::collections::BTreeMap;

use crate::crypto::{self, CryptoError};
use crate::keys::PublicKey;
use crate::scope::Scope;
use crate::types::{
    ObjectMeta, SEALED_SECRET_API_VERSION, SEALED_SECRET_KIND, SealedSecret, SealedSecretSpec,
    Secret, SecretTemplateSpec, base64_std,
};

pub use crate::names::{
    LAST_APPLIED_ANNOTATIONS, MANAGED_ANNOTATION, PATCH_ANNOTATION,
    SKIP_SET_OWNER_REFERENCES_ANNOTATION,
};

/// How to seal one input Secret.
#[derive(Clone, Debug, Default)]
pub struct SealOptions {
    /// `--scope`: rewrites the input's scope annotations. `None` keeps them as they are.
    pub scope: Option<Scope>,
    /// `--name`: overrides the input's name.
    pub name: Option<String>,
    /// Namespace for inputs that declare none (`-n`, else the kubeconfig context, else `default`).
    pub default_namespace: Option<String>,
    /// Whether `default_namespace` came from an explicit `-n`: a different namespace in the
    /// input is then an error rather than silently kept.
    pub namespace_explicit: bool,
    /// Accept a Secret with neither `data` nor `stringData`.
    pub allow_empty_data: bool,
}

/// Why a Secret could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "secret.data is empty in input Secret, assuming this is an error and aborting. To work with empty data, --allow-empty-data can be used"
    )]
    EmptyData,
    #[error("missing metadata.name in input Secret")]
    MissingName,
    #[error(
        "namespace mismatch: input secret is in namespace {input:?} but {flag:?} was specified"
    )]
    NamespaceMismatch { input: String, flag: String },
    #[error("secret must declare a namespace")]
    MissingNamespace,
    #[error("cannot encrypt item {item:?}: {source}")]
    Encrypt {
        item: String,
        #[source]
        source: CryptoError,
    },
}

/// Seals one value for `namespace`/`name` under `scope`: standard base64 of the blob.
///
/// # Errors
/// The RSA or AES step failed.
pub fn encrypt_item(
    key: &PublicKey,
    scope: Scope,
    namespace: &str,
    name: &str,
    plaintext: &[u8],
) -> Result<String, CryptoError> {
    let blob = crypto::hybrid_encrypt(key, &scope.label(namespace, name), plaintext)?;
    Ok(base64_std::encode(&blob))
}

/// Resolves name, scope and namespace of an input Secret as kubeseal does, without sealing.
///
/// # Errors
/// See [`SealError`].
pub fn prepare_secret(mut secret: Secret, opts: &SealOptions) -> Result<Secret, SealError> {
    if secret.data.is_empty() && secret.string_data.is_empty() && !opts.allow_empty_data {
        return Err(SealError::EmptyData);
    }
    if let Some(name) = &opts.name {
        secret.metadata.name.clone_from(name);
    }
    if secret.metadata.name.is_empty() {
        return Err(SealError::MissingName);
    }
    if let Some(scope) = opts.scope {
        scope.apply_to_annotations(&mut secret.metadata.annotations);
    }
    let scope = Scope::from_annotations(Some(&secret.metadata.annotations));
    if let (true, Some(flag)) = (scope != Scope::ClusterWide, &opts.default_namespace) {
        let input = &secret.metadata.namespace;
        if opts.namespace_explicit && !input.is_empty() && input != flag {
            return Err(SealError::NamespaceMismatch {
                input: input.clone(),
                flag: flag.clone(),
            });
        }
        if input.is_empty() {
            secret.metadata.namespace.clone_from(flag);
        }
    }
    secret.metadata.strip_server_fields();
    if scope != Scope::ClusterWide && secret.metadata.namespace.is_empty() {
        return Err(SealError::MissingNamespace);
    }
    Ok(secret)
}

/// Seals a Secret for the holder of `key` (SPEC §4.5).
///
/// # Errors
/// See [`SealError`].
pub fn seal_secret(
    secret: Secret,
    key: &PublicKey,
    opts: &SealOptions,
) -> Result<SealedSecret, SealError> {
    let secret = prepare_secret(secret, opts)?;
    let scope = Scope::from_annotations(Some(&secret.metadata.annotations));
    let namespace = secret.metadata.namespace.clone();
    let name = secret.metadata.name.clone();

    let mut encrypted = BTreeMap::new();
    // stringData is sealed after data, so it wins on a clash as upstream.
    for (item, value) in secret.data.iter().chain(secret.string_data.iter()) {
        let sealed =
            encrypt_item(key, scope, &namespace, &name, value.expose()).map_err(|source| {
                SealError::Encrypt {
                    item: item.clone(),
                    source,
                }
            })?;
        encrypted.insert(item.clone(), sealed);
    }

    let mut template_meta = secret.metadata.clone();
    for key in LAST_APPLIED_ANNOTATIONS {
        template_meta.annotations.remove(key);
    }
    template_meta.owner_references.clear();

    Ok(SealedSecret {
        kind: SEALED_SECRET_KIND.to_owned(),
        api_version: SEALED_SECRET_API_VERSION.to_owned(),
        metadata: outer_metadata(&name, &namespace, scope),
        spec: SealedSecretSpec {
            template: SecretTemplateSpec {
                metadata: template_meta,
                type_: secret.type_.clone(),
                immutable: secret.immutable,
                data: BTreeMap::new(),
            },
            data: None,
            encrypted_data: Some(encrypted),
            ciphertexts_hashed: false,
        },
        status: None,
    })
}

/// The outer metadata kubeseal writes: name, namespace and the scope annotation only.
#[must_use]
pub fn outer_metadata(name: &str, namespace: &str, scope: Scope) -> ObjectMeta {
    let mut meta = ObjectMeta {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        ..ObjectMeta::default()
    };
    if let Some(annotation) = scope.annotation() {
        meta.annotations
            .insert(annotation.to_owned(), "true".to_owned());
    }
    meta
}

mod reseal;
mod unseal;

pub use reseal::{ItemResealer, ResealItemError, Resealed, reseal};
pub use unseal::{
    ItemError, ItemErrorKind, JSON_VALUED_KEYS, MAX_SECRET_DATA_BYTES, UnsealError, UnsealOptions,
    Unsealed, Work, controller_owner_reference, rsa_budget, unseal, unseal_with, verify,
};
