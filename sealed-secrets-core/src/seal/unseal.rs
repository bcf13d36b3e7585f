//! Unsealing, verifying and re-encrypting SealedSecrets (SPEC §1.5, §1.6, §1.11, §1.12).
//!
//! What may depend on a plaintext is kept apart from what may not. Decryption succeeds or fails
//! whatever the plaintext is (OAEP and GCM check the key, the label and the ciphertext), and so
//! do the checks that only read the template sources and the value lengths (public: they follow
//! from the ciphertext lengths); those failures are [`UnsealError`]s. A template that fails while
//! it runs, or a value its Secret type would refuse, may fail *because of* a plaintext: that is
//! a [`Unsealed::value_failures`] entry from [`unseal_with`], so the controller can report it
//! only where Secret readers look (docs/security.md, docs/templates.md). [`verify`] and
//! [`reseal`] run no template at all.

use std::collections::BTreeMap;
use std::fmt;

use crate::crypto;
use crate::keys::{Decrypter, UnwrapError};
use crate::secret_bytes::SecretBytes;
use crate::template;
use crate::types::{
    OwnerReference, SEALED_SECRET_API_VERSION, SEALED_SECRET_KIND, SealedSecret, Secret, base64_std,
};

use super::SKIP_SET_OWNER_REFERENCES_ANNOTATION;

/// The Kubernetes API server refuses a Secret whose values add up to more than this
/// (`MaxSecretSize`); templates may only fill what the decrypted values leave.
pub const MAX_SECRET_DATA_BYTES: usize = 1024 * 1024;

/// Secret types whose API validation reads a value, as `(type, key)`: the key must hold a JSON
/// object (the controller's placeholder for such a key is `{}`).
pub const JSON_VALUED_KEYS: [(&str, &str); 2] = [
    ("kubernetes.io/dockercfg", ".dockercfg"),
    ("kubernetes.io/dockerconfigjson", ".dockerconfigjson"),
];

/// How to unseal.
#[derive(Clone, Debug, Default)]
pub struct UnsealOptions {
    /// Accept the deprecated whole-Secret `spec.data` (the controller's default is true,
    /// kubeseal's false).
    pub accept_v1_data: bool,
    /// Bounds for `spec.template.data` rendering.
    pub template_limits: template::Limits,
    /// How long all templates of one SealedSecret may run together; past it, the templates
    /// still running fail (as value failures). `None`: only the step budget bounds them.
    pub template_time: Option<std::time::Duration>,
}

/// An unsealed Secret and which key opened each item.
#[derive(Debug)]
pub struct Unsealed {
    /// `kind: Secret`, metadata from the template with name/namespace forced to the
    /// SealedSecret's, a controller ownerReference unless skipped, type, immutable, data.
    /// A value in [`Unsealed::value_failures`] has no entry in `data`.
    pub secret: Secret,
    /// For each decrypted item, the index (into the `keys` slice) of the key that opened it.
    pub key_index_by_item: BTreeMap<String, usize>,
    /// Values that could not be computed although every item decrypted: a template that
    /// failed while it ran (its failure may depend on the plaintext), or a value the Secret's
    /// type would reject. Only [`unseal_with`] returns them; [`unseal`] makes them errors.
    pub value_failures: Vec<ItemError>,
}

/// The work one unseal may do, and what it did.
///
/// Every RSA private-key operation is counted against a budget that grows with the number of
/// items and keys (a legitimate object costs about one operation per item plus one per key it
/// was sealed with); `pause` runs before each operation (the controller yields its CPU permit
/// there, so that an object with many items cannot hold a core for long) and `deadline` stops
/// the work, both as [`UnsealError::TooMuchWork`].
#[derive(Default)]
pub struct Work<'a> {
    /// Runs before each RSA private-key operation.
    pub pause: Option<&'a mut dyn FnMut()>,
    /// Past this instant the unseal stops (templates included).
    pub deadline: Option<std::time::Instant>,
    /// RSA private-key operations performed.
    pub rsa_operations: u64,
}

impl fmt::Debug for Work<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Work")
            .field("deadline", &self.deadline)
            .field("rsa_operations", &self.rsa_operations)
            .finish_non_exhaustive()
    }
}

/// The most RSA private-key operations one unseal of `items` items with `keys` keys may do:
/// each item opened by the first key tried costs one, a change of key costs at most `keys`
/// (keys that opened an item are tried first for the next one), so a SealedSecret sealed with
/// up to two keys always fits; items that no key opens use the rest up.
#[must_use]
pub fn rsa_budget(items: usize, keys: usize) -> u64 {
    let items = u64::try_from(items).unwrap_or(u64::MAX);
    let keys = u64::try_from(keys).unwrap_or(u64::MAX);
    items
        .saturating_mul(4)
        .saturating_add(keys.saturating_mul(2))
        .saturating_add(16)
}

impl Work<'_> {
    pub(super) fn expired(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| std::time::Instant::now() >= deadline)
    }
}

/// Decrypts `blob` trying `order` (indexes into `keys`) front to back, counting each RSA
/// operation against `budget`; the key that opened it moves to the front of `order`.
pub(super) fn open_blob(
    keys: &[&dyn Decrypter],
    order: &mut Vec<usize>,
    label: &[u8],
    blob: &[u8],
    work: &mut Work<'_>,
    budget: u64,
) -> Result<(SecretBytes, usize), Opening> {
    for position in 0..order.len() {
        let index = order[position];
        let key = keys[index];
        // A block of the wrong length is refused without any private-key operation.
        if !crypto::needs_rsa_operation(key, blob) {
            continue;
        }
        if work.rsa_operations >= budget || work.expired() {
            return Err(Opening::TooMuchWork);
        }
        if let Some(pause) = work.pause.as_mut() {
            pause();
        }
        work.rsa_operations += 1;
        match crypto::open_with_key(key, label, blob) {
            Ok(plaintext) => {
                order.remove(position);
                order.insert(0, index);
                return Ok((plaintext, index));
            }
            Err(UnwrapError::NotOpened) => {}
            // A key that could not be asked (a token away) says nothing about the item: stop,
            // so that the caller retries instead of declaring the item unopenable (ADR 0005 §2).
            Err(UnwrapError::Unavailable { reason }) => return Err(Opening::Unavailable(reason)),
        }
    }
    Err(Opening::NoKey)
}

pub(super) enum Opening {
    NoKey,
    TooMuchWork,
    Unavailable(String),
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
    /// The value is not what the Secret's type requires (a JSON object for the Docker types).
    InvalidForType(String),
}

impl fmt::Display for ItemErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemErrorKind::Base64(msg)
            | ItemErrorKind::Template(msg)
            | ItemErrorKind::InvalidForType(msg) => f.write_str(msg),
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
    /// The RSA budget ([`rsa_budget`]) or the deadline ran out.
    #[error("exceeds the work allowed for one SealedSecret ({items} items, {keys} keys)")]
    TooMuchWork { items: usize, keys: usize },
    /// More than [`MAX_SECRET_DATA_BYTES`] of decrypted values.
    #[error("decrypted values exceed the {limit}-byte limit of a Secret")]
    TooLarge { limit: usize },
    /// A key could not be used (a token away, a session lost): transient, not a verdict on
    /// the object ([`UnwrapError::Unavailable`]). The reason never holds key material.
    #[error("sealing key unavailable: {reason}")]
    KeyUnavailable { reason: String },
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
pub(super) fn base64_error_text(text: &str) -> String {
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

/// Decrypts every item and renders the templates, as upstream's `Unseal`; a value failure
/// (see [`Unsealed::value_failures`]) is an error here. For offline recovery, where whoever
/// runs it holds the keys.
///
/// # Errors
/// See [`UnsealError`]; nothing in it carries a plaintext.
pub fn unseal(
    ss: &SealedSecret,
    keys: &[&dyn Decrypter],
    opts: &UnsealOptions,
) -> Result<Unsealed, UnsealError> {
    let unsealed = unseal_with(ss, keys, opts, &mut Work::default())?;
    if unsealed.value_failures.is_empty() {
        Ok(unsealed)
    } else {
        Err(UnsealError::Items(unsealed.value_failures))
    }
}

/// Decrypts every item with `keys` (tried in the given order, a key that opened an item first
/// for the next) and renders the templates under one budget, within `work`.
///
/// # Errors
/// Only failures that do not depend on any plaintext, except [`UnsealError::V1Malformed`]
/// (whether a legacy `spec.data` blob holds a Secret): undecodable or undecryptable items,
/// template sources that do not parse or call an unsupported function, decrypted values over
/// [`MAX_SECRET_DATA_BYTES`], the work budget. Nothing in it carries a plaintext.
pub fn unseal_with(
    ss: &SealedSecret,
    keys: &[&dyn Decrypter],
    opts: &UnsealOptions,
    work: &mut Work<'_>,
) -> Result<Unsealed, UnsealError> {
    let label = ss.label();
    let (mut secret, key_index_by_item, value_failures) = if let Some(blob) = &ss.spec.data {
        let opened = open_v1(ss, keys, opts, &label, blob, work)?;
        let secret: Secret =
            serde_json::from_slice(opened.expose()).map_err(|_| UnsealError::V1Malformed)?;
        (secret, BTreeMap::new(), Vec::new())
    } else {
        let opened = open_items(ss, keys, &label, work)?;
        let (secret, failures) = render(ss, opened.data, opts, work)?;
        (secret, opened.key_index_by_item, failures)
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
        value_failures,
    })
}

/// Whether every item decrypts (`/v1/verify`, upstream v0.39+): no template runs, and a legacy
/// `spec.data` blob is only decrypted, not parsed, so the answer never depends on a plaintext.
///
/// # Errors
/// See [`UnsealError`].
pub fn verify(
    ss: &SealedSecret,
    keys: &[&dyn Decrypter],
    opts: &UnsealOptions,
    work: &mut Work<'_>,
) -> Result<(), UnsealError> {
    let label = ss.label();
    if let Some(blob) = &ss.spec.data {
        open_v1(ss, keys, opts, &label, blob, work).map(drop)
    } else {
        open_items(ss, keys, &label, work).map(drop)
    }
}

/// Decrypts a legacy whole-Secret `spec.data` blob.
pub(super) fn open_v1(
    ss: &SealedSecret,
    keys: &[&dyn Decrypter],
    opts: &UnsealOptions,
    label: &[u8],
    blob: &[u8],
    work: &mut Work<'_>,
) -> Result<SecretBytes, UnsealError> {
    if !opts.accept_v1_data {
        return Err(UnsealError::V1Disabled);
    }
    if ss
        .spec
        .encrypted_data
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        return Err(UnsealError::BothFields);
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let budget = rsa_budget(1, keys.len());
    match open_blob(keys, &mut order, label, blob, work, budget) {
        Ok((plaintext, _)) => Ok(plaintext),
        Err(Opening::NoKey) => Err(UnsealError::V1NoKey),
        Err(Opening::TooMuchWork) => Err(UnsealError::TooMuchWork {
            items: 1,
            keys: keys.len(),
        }),
        Err(Opening::Unavailable(reason)) => Err(UnsealError::KeyUnavailable { reason }),
    }
}

/// Decrypted `encryptedData` items and the key index per item.
struct OpenedItems {
    data: BTreeMap<String, SecretBytes>,
    key_index_by_item: BTreeMap<String, usize>,
}

fn open_items(
    ss: &SealedSecret,
    keys: &[&dyn Decrypter],
    label: &[u8],
    work: &mut Work<'_>,
) -> Result<OpenedItems, UnsealError> {
    let items = ss.spec.encrypted_data.iter().flatten().count();
    let budget = work
        .rsa_operations
        .saturating_add(rsa_budget(items, keys.len()));
    let mut order: Vec<usize> = (0..keys.len()).collect();
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
        match open_blob(keys, &mut order, label, &blob, work, budget) {
            Ok((plaintext, index)) => {
                key_index_by_item.insert(item.clone(), index);
                data.insert(item.clone(), plaintext);
            }
            Err(Opening::NoKey) => errors.push(ItemError {
                item: item.clone(),
                kind: ItemErrorKind::NoKey,
            }),
            Err(Opening::TooMuchWork) => {
                return Err(UnsealError::TooMuchWork {
                    items,
                    keys: keys.len(),
                });
            }
            Err(Opening::Unavailable(reason)) => {
                return Err(UnsealError::KeyUnavailable { reason });
            }
        }
    }
    if errors.is_empty() {
        Ok(OpenedItems {
            data,
            key_index_by_item,
        })
    } else {
        Err(UnsealError::Items(errors))
    }
}

/// Builds the Secret from the decrypted values and the templates. Returns the value failures
/// beside it; fails only on what the template sources and the value lengths alone decide.
fn render(
    ss: &SealedSecret,
    mut data: BTreeMap<String, SecretBytes>,
    opts: &UnsealOptions,
    work: &mut Work<'_>,
) -> Result<(Secret, Vec<ItemError>), UnsealError> {
    // As upstream v0.40: a `null` source omits that item from the Secret; a template named
    // like an item never replaces it (decrypted values take precedence); the templates see
    // the decrypted values and, for names no item has, the other sources as plain values.
    let sources = &ss.spec.template.data;
    let templates: BTreeMap<String, String> = sources
        .iter()
        .filter_map(|(item, source)| Some((item.clone(), source.clone()?)))
        .collect();
    let omitted = |item: &str| sources.get(item).is_some_and(Option::is_none);
    // Room the templates leave: the decrypted values kept (lengths are public).
    let kept: usize = data
        .iter()
        .filter(|(item, _)| !omitted(item))
        .map(|(_, value)| value.len())
        .sum();
    if kept > MAX_SECRET_DATA_BYTES {
        return Err(UnsealError::TooLarge {
            limit: MAX_SECRET_DATA_BYTES,
        });
    }
    let room = MAX_SECRET_DATA_BYTES - kept;
    let deadline = match (opts.template_time, work.deadline) {
        (Some(time), deadline) => {
            let own = std::time::Instant::now() + time;
            Some(deadline.map_or(own, |d| d.min(own)))
        }
        (None, deadline) => deadline,
    };
    let mut context: BTreeMap<String, SecretBytes> = data.clone();
    for (item, source) in &templates {
        context
            .entry(item.clone())
            .or_insert_with(|| SecretBytes::from(source.as_bytes().to_vec()));
    }
    let rendered = render_all(&templates, &context, &opts.template_limits, room, deadline)
        .map_err(|static_errors| {
            UnsealError::Items(
                static_errors
                    .into_iter()
                    .map(|(item, e)| ItemError {
                        item,
                        kind: ItemErrorKind::Template(e.to_string()),
                    })
                    .collect(),
            )
        })?;
    drop(context);
    let mut failures = Vec::new();
    // Templates see only the decrypted values and the sources, never another template's output.
    for (item, result) in rendered {
        match result {
            Ok(out) => {
                data.entry(item).or_insert(out);
            }
            Err(e) => {
                data.remove(&item);
                failures.push(ItemError {
                    item,
                    kind: ItemErrorKind::Template(e.to_string()),
                });
            }
        }
    }
    data.retain(|item, _| !omitted(item));
    let template = &ss.spec.template;
    for (secret_type, key) in JSON_VALUED_KEYS {
        if template.type_ == secret_type
            && data.get(key).is_some_and(|value| !is_json_object(value))
        {
            data.remove(key);
            failures.push(ItemError {
                item: key.to_owned(),
                kind: ItemErrorKind::InvalidForType(format!(
                    "type {secret_type} requires a JSON object"
                )),
            });
        }
    }
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
    Ok((secret, failures))
}

/// What the API server's Secret validation accepts for the Docker types (Go's
/// `json.Unmarshal` into a `map[string]interface{}`: an object, or `null`). Stricter than Go on
/// invalid UTF-8, which only ever refuses more.
fn is_json_object(value: &SecretBytes) -> bool {
    matches!(
        serde_json::from_slice::<serde_json::Value>(value.expose()),
        Ok(serde_json::Value::Object(_) | serde_json::Value::Null)
    )
}

/// Every template's result, rendered under one [`template::Budget`] whose total output is at
/// most `room` bytes; `Err` with the failures that the sources alone decide (size, syntax,
/// unsupported functions, too many templates), if any.
type Rendered = Vec<(String, Result<SecretBytes, template::TemplateError>)>;

fn render_all(
    templates: &BTreeMap<String, String>,
    data: &BTreeMap<String, SecretBytes>,
    limits: &template::Limits,
    room: usize,
    deadline: Option<std::time::Instant>,
) -> Result<Rendered, Vec<(String, template::TemplateError)>> {
    let mut limits = *limits;
    limits.max_total_output_bytes = limits
        .max_total_output_bytes
        .min(u64::try_from(room).unwrap_or(u64::MAX));
    if templates.len() > limits.max_templates {
        let (item, _) = templates.iter().nth(limits.max_templates).unzip();
        let name = item.cloned().unwrap_or_default();
        return Err(vec![(
            name.clone(),
            template::TemplateError::Limit {
                name,
                limit: u64::try_from(limits.max_templates).unwrap_or(u64::MAX),
                unit: "templates",
            },
        )]);
    }
    let mut parsed = Vec::new();
    let mut static_errors = Vec::new();
    for (item, source) in templates {
        match template::Template::parse(item, source, &limits) {
            Ok(t) => parsed.push((item, t)),
            Err(e) => static_errors.push((item.clone(), e)),
        }
    }
    if !static_errors.is_empty() {
        return Err(static_errors);
    }
    let mut budget = template::Budget::new(&limits);
    if let Some(deadline) = deadline {
        budget = budget.with_deadline(deadline);
    }
    Ok(parsed
        .into_iter()
        .map(|(item, t)| (item.clone(), t.execute(data, &mut budget)))
        .collect())
}
