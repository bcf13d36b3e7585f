//! Sealing Secrets into SealedSecrets and unsealing them back (SPEC §1.3–§1.6, §1.12, §4.5).
//!
//! Both programs call these: `kubeseal-rs` to seal, recover and re-encrypt offline, the
//! controller to unseal, verify and rotate. Errors carry item names, never values.

use std::collections::BTreeMap;
use std::fmt;

use crate::crypto::{self, CryptoError};
use crate::keys::{PrivateKey, PublicKey};
use crate::scope::Scope;
use crate::secret_bytes::SecretBytes;
use crate::template;
use crate::types::{
    ObjectMeta, OwnerReference, SEALED_SECRET_API_VERSION, SEALED_SECRET_KIND, SealedSecret,
    SealedSecretSpec, Secret, SecretTemplateSpec, base64_std,
};

/// Template annotation: the unsealed Secret gets no ownerReference.
pub const SKIP_SET_OWNER_REFERENCES_ANNOTATION: &str =
    "sealedsecrets.bitnami.com/skip-set-owner-references";
/// Secret annotation: the controller may take over a Secret it does not own.
pub const MANAGED_ANNOTATION: &str = "sealedsecrets.bitnami.com/managed";
/// Secret annotation: merge into the existing Secret instead of replacing it.
pub const PATCH_ANNOTATION: &str = "sealedsecrets.bitnami.com/patch";
/// Annotations stripped from the template because they may carry the plaintext.
pub const LAST_APPLIED_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
];

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

/// How to unseal.
#[derive(Clone, Debug, Default)]
pub struct UnsealOptions {
    /// Accept the deprecated whole-Secret `spec.data` (the controller's default is true,
    /// kubeseal's false).
    pub accept_v1_data: bool,
    /// Bounds for `spec.template.data` rendering: all the templates of one SealedSecret
    /// share one [`template::Budget`] with these limits.
    pub template_limits: template::Limits,
}

/// An unsealed Secret and which key opened each item.
#[derive(Debug)]
pub struct Unsealed {
    /// `kind: Secret`, metadata from the template with name/namespace forced to the
    /// SealedSecret's, a controller ownerReference unless skipped, type, immutable, data.
    pub secret: Secret,
    /// For each decrypted item, the index (into the `keys` slice) of the key that opened it.
    pub key_index_by_item: BTreeMap<String, usize>,
}

/// What went wrong with one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemErrorKind {
    /// `encryptedData` value is not standard base64 (Go's message, with the offset).
    Base64(String),
    /// No key opened it: wrong key, wrong scope/name/namespace or corrupt data.
    NoKey,
    /// A `spec.template.data` entry failed to parse or execute.
    Template(String),
}

impl fmt::Display for ItemErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemErrorKind::Base64(msg) | ItemErrorKind::Template(msg) => f.write_str(msg),
            ItemErrorKind::NoKey => f.write_str("no key could decrypt secret"),
        }
    }
}

/// One failed item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemError {
    pub item: String,
    pub kind: ItemErrorKind,
}

/// Why a SealedSecret could not be unsealed. The text matches upstream: per-item errors
/// tagged with the item names, equal messages merged, distinct ones joined by newlines.
#[derive(Debug, thiserror::Error)]
pub enum UnsealError {
    #[error("using deprecated 'data' field, use 'encryptedData' or flip the feature flag")]
    V1Disabled,
    #[error(
        "cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"
    )]
    BothFields,
    #[error("{}", format_item_errors(.0))]
    Items(Vec<ItemError>),
    #[error("no key could decrypt secret")]
    V1NoKey,
    #[error("decrypted legacy 'data' is not a valid Secret")]
    V1Malformed,
}

impl UnsealError {
    /// The failed items, if the failure is per item.
    #[must_use]
    pub fn items(&self) -> &[ItemError] {
        match self {
            UnsealError::Items(items) => items,
            _ => &[],
        }
    }
}

fn format_item_errors(items: &[ItemError]) -> String {
    let mut by_message: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for e in items {
        by_message
            .entry(e.kind.to_string())
            .or_default()
            .push(&e.item);
    }
    by_message
        .into_iter()
        .map(|(msg, names)| format!("{msg} ({})", names.join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Go's `base64.StdEncoding` error text for an item.
fn base64_error_text(text: &str) -> String {
    let offset = match base64_std::decode(text) {
        Err(base64::DecodeError::InvalidByte(offset, _))
        | Err(base64::DecodeError::InvalidLastSymbol(offset, _)) => offset,
        _ => text.len() - text.len() % 4,
    };
    format!("illegal base64 data at input byte {offset}")
}

/// The ownerReference the controller puts on the Secrets it creates.
#[must_use]
pub fn controller_owner_reference(ss: &SealedSecret) -> OwnerReference {
    OwnerReference {
        api_version: SEALED_SECRET_API_VERSION.to_owned(),
        kind: SEALED_SECRET_KIND.to_owned(),
        name: ss.metadata.name.clone(),
        uid: ss.metadata.uid.clone(),
        controller: Some(true),
        block_owner_deletion: None,
    }
}

/// Decrypts every item with `keys` (tried in the given order) and renders the templates.
///
/// # Errors
/// See [`UnsealError`]; nothing in it carries a plaintext.
pub fn unseal(
    ss: &SealedSecret,
    keys: &[&PrivateKey],
    opts: &UnsealOptions,
) -> Result<Unsealed, UnsealError> {
    let scope = Scope::from_annotations(Some(&ss.metadata.annotations));
    let label = scope.label(&ss.metadata.namespace, &ss.metadata.name);
    let encrypted = ss.spec.encrypted_data.as_ref();

    let (mut secret, key_index_by_item) = if let Some(blob) = &ss.spec.data {
        if !opts.accept_v1_data {
            return Err(UnsealError::V1Disabled);
        }
        if encrypted.is_some_and(|e| !e.is_empty()) {
            return Err(UnsealError::BothFields);
        }
        let opened = crypto::hybrid_decrypt(keys.iter().copied(), &label, blob)
            .map_err(|_| UnsealError::V1NoKey)?;
        let secret: Secret = serde_json::from_slice(opened.plaintext.expose())
            .map_err(|_| UnsealError::V1Malformed)?;
        (secret, BTreeMap::new())
    } else {
        unseal_items(ss, keys, &label, opts)?
    };

    secret.kind = "Secret".to_owned();
    secret.api_version = "v1".to_owned();
    secret.metadata.name.clone_from(&ss.metadata.name);
    secret.metadata.namespace.clone_from(&ss.metadata.namespace);
    let skip_owner = ss
        .spec
        .template
        .metadata
        .annotation_is_true(SKIP_SET_OWNER_REFERENCES_ANNOTATION);
    secret.metadata.owner_references = if skip_owner {
        Vec::new()
    } else {
        vec![controller_owner_reference(ss)]
    };
    Ok(Unsealed {
        secret,
        key_index_by_item,
    })
}

/// Decrypted `encryptedData` items (before templates), the key index per item and the
/// per-item failures, including template failures.
struct OpenedItems {
    data: BTreeMap<String, SecretBytes>,
    rendered: BTreeMap<String, SecretBytes>,
    key_index_by_item: BTreeMap<String, usize>,
}

fn open_items(
    ss: &SealedSecret,
    keys: &[&PrivateKey],
    label: &[u8],
    opts: &UnsealOptions,
) -> Result<OpenedItems, UnsealError> {
    let mut errors = Vec::new();
    let mut data: BTreeMap<String, SecretBytes> = BTreeMap::new();
    let mut key_index_by_item = BTreeMap::new();
    for (item, text) in ss.spec.encrypted_data.iter().flatten() {
        let Ok(blob) = base64_std::decode(text) else {
            errors.push(ItemError {
                item: item.clone(),
                kind: ItemErrorKind::Base64(base64_error_text(text)),
            });
            continue;
        };
        match crypto::hybrid_decrypt(keys.iter().copied(), label, &blob) {
            Ok(opened) => {
                key_index_by_item.insert(item.clone(), opened.key_index);
                data.insert(item.clone(), opened.plaintext);
            }
            Err(_) => errors.push(ItemError {
                item: item.clone(),
                kind: ItemErrorKind::NoKey,
            }),
        }
    }
    // Templates see only the decrypted values, never another template's output. One budget
    // for all of them: a SealedSecret's templates together are bounded, not each one.
    let mut rendered = BTreeMap::new();
    let limits = &opts.template_limits;
    let mut budget = template::Budget::new(limits);
    for (item, source) in &ss.spec.template.data {
        let result = template::Template::parse(item, source, limits)
            .and_then(|parsed| parsed.execute(&data, &mut budget));
        match result {
            Ok(out) => {
                rendered.insert(item.clone(), out);
            }
            Err(e) => errors.push(ItemError {
                item: item.clone(),
                kind: ItemErrorKind::Template(e.to_string()),
            }),
        }
    }
    if errors.is_empty() {
        Ok(OpenedItems {
            data,
            rendered,
            key_index_by_item,
        })
    } else {
        Err(UnsealError::Items(errors))
    }
}

fn unseal_items(
    ss: &SealedSecret,
    keys: &[&PrivateKey],
    label: &[u8],
    opts: &UnsealOptions,
) -> Result<(Secret, BTreeMap<String, usize>), UnsealError> {
    let OpenedItems {
        mut data,
        rendered,
        key_index_by_item,
    } = open_items(ss, keys, label, opts)?;
    data.extend(rendered);
    let template = &ss.spec.template;
    let mut metadata = template.metadata.clone();
    metadata.strip_server_fields();
    let secret = Secret {
        kind: String::new(),
        api_version: String::new(),
        metadata,
        immutable: template.immutable,
        data,
        string_data: BTreeMap::new(),
        type_: template.type_.clone(),
    };
    Ok((secret, key_index_by_item))
}

/// Re-encrypts a SealedSecret for `new_key` (the `/v1/rotate` and `--re-encrypt` operation).
///
/// Unlike upstream, the template (metadata, type, immutable and `data` templates) is kept as
/// it is and only the ciphertexts change; a legacy `spec.data` object is converted to
/// `encryptedData`. Every item is decrypted once, and the templates must still render.
///
/// # Errors
/// Unsealing failed (see [`unseal`]), or encryption failed (reported as that item's error).
pub fn reseal(
    ss: &SealedSecret,
    keys: &[&PrivateKey],
    new_key: &PublicKey,
    opts: &UnsealOptions,
) -> Result<SealedSecret, UnsealError> {
    let scope = Scope::from_annotations(Some(&ss.metadata.annotations));
    let (namespace, name) = (&ss.metadata.namespace, &ss.metadata.name);
    let mut out = ss.clone();
    out.status = None;
    let plaintexts = if ss.spec.data.is_some() {
        let unsealed = unseal(ss, keys, opts)?;
        let mut template_meta = unsealed.secret.metadata.clone();
        template_meta.owner_references.clear();
        out.spec = SealedSecretSpec {
            template: SecretTemplateSpec {
                metadata: template_meta,
                type_: unsealed.secret.type_.clone(),
                immutable: unsealed.secret.immutable,
                data: BTreeMap::new(),
            },
            data: None,
            encrypted_data: None,
        };
        unsealed.secret.data
    } else {
        open_items(ss, keys, &scope.label(namespace, name), opts)?.data
    };
    let mut encrypted = BTreeMap::new();
    for (item, value) in &plaintexts {
        let sealed =
            encrypt_item(new_key, scope, namespace, name, value.expose()).map_err(|_| {
                UnsealError::Items(vec![ItemError {
                    item: item.clone(),
                    kind: ItemErrorKind::NoKey,
                }])
            })?;
        encrypted.insert(item.clone(), sealed);
    }
    out.spec.encrypted_data = Some(encrypted);
    // A recorded sealing certificate (see `check`) now names the new key.
    if let Some(recorded) = out
        .metadata
        .annotations
        .get_mut(crate::check::SEALED_WITH_ANNOTATION)
    {
        *recorded = new_key.fingerprint().to_string();
    }
    Ok(out)
}
