//! Fan-out (ADR 0007, docs/fan-out.md): a cluster-wide SealedSecret unsealed into other
//! namespaces too. This module holds the decisions, free of any cluster access: what a
//! SealedSecret asks for, which namespaces consent, what a copy looks like and which Secrets are
//! copies of which SealedSecret. The reconcile step that writes and removes copies is
//! `controller/fan_out.rs`.
//!
//! Safe by default: only a cluster-wide SealedSecret may ask (its items open in any namespace
//! anyway), and a namespace receives a copy only if the Namespace object itself names the source
//! namespace in [`FAN_OUT_FROM_ANNOTATION`]. A Secret that does not carry the source's uid is
//! never overwritten or deleted.

mod selector;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sealed_secrets_core::names::{
    FAN_OUT_DIGEST_ANNOTATION, FAN_OUT_FROM_ANNOTATION, FAN_OUT_NAMESPACES_ANNOTATION,
    FAN_OUT_SELECTOR_ANNOTATION, FAN_OUT_SOURCE_NAME_LABEL, FAN_OUT_SOURCE_NAMESPACE_LABEL,
    FAN_OUT_SOURCE_UID_ANNOTATION, MANAGED_ANNOTATION, PATCH_ANNOTATION,
};
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::types::SealedSecretCondition;
use time::OffsetDateTime;

pub use self::selector::{Selector, SelectorError};
use crate::status::format_time;

/// The status condition that reports fan-out.
pub const FAN_OUT_CONDITION: &str = "FanOut";
/// `FanOut=False`: the SealedSecret asks for fan-out but is not cluster-wide.
pub const REASON_NOT_CLUSTER_WIDE: &str = "ScopeNotClusterWide";
/// `FanOut=False`: the annotations do not parse.
pub const REASON_INVALID_REQUEST: &str = "InvalidRequest";
/// `FanOut=False`: the controller has no list of namespaces (yet, or not allowed to list them).
pub const REASON_NAMESPACES_UNAVAILABLE: &str = "NamespacesUnavailable";
/// `FanOut=False`: some copies could not be written (the API server refused or failed).
pub const REASON_WRITE_FAILED: &str = "WriteFailed";
/// `FanOut=False`: the controller runs without `--fan-out`.
pub const REASON_DISABLED: &str = "Disabled";
/// `FanOut=True`: every consenting namespace has a current copy.
pub const REASON_DONE: &str = "Unsealed";

/// The most namespaces one SealedSecret may name.
pub const MAX_NAMESPACES: usize = 1000;

/// What a SealedSecret asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub namespaces: BTreeSet<String>,
    pub selector: Option<Selector>,
}

/// Why a fan-out request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    NotClusterWide,
    /// The SealedSecret's name does not fit in a label value (63 characters).
    NameTooLong,
    Namespace(String),
    Selector(SelectorError),
}

impl RequestError {
    /// The `FanOut` condition's reason.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotClusterWide => REASON_NOT_CLUSTER_WIDE,
            Self::NameTooLong | Self::Namespace(_) | Self::Selector(_) => REASON_INVALID_REQUEST,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotClusterWide => f.write_str(
                "fan-out needs a cluster-wide SealedSecret (sealedsecrets.bitnami.com/cluster-wide: \"true\")",
            ),
            Self::NameTooLong => {
                f.write_str("fan-out needs a SealedSecret name of at most 63 characters")
            }
            Self::Namespace(why) => write!(f, "{FAN_OUT_NAMESPACES_ANNOTATION}: {why}"),
            Self::Selector(why) => write!(f, "{FAN_OUT_SELECTOR_ANNOTATION}: {why}"),
        }
    }
}

impl std::error::Error for RequestError {}

fn annotation<'m>(meta: &'m ObjectMeta, key: &str) -> Option<&'m str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// A DNS-1123 label, as namespace names are.
fn valid_namespace(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Whether the SealedSecret's annotations ask for fan-out at all.
#[must_use]
pub fn asks(meta: &ObjectMeta) -> bool {
    annotation(meta, FAN_OUT_NAMESPACES_ANNOTATION).is_some()
        || annotation(meta, FAN_OUT_SELECTOR_ANNOTATION).is_some()
}

/// What the SealedSecret with `meta` (outer metadata) and `scope` asks for; `None` when it
/// does not ask.
#[must_use]
pub fn request(meta: &ObjectMeta, scope: Scope) -> Option<Result<Request, RequestError>> {
    if !asks(meta) {
        return None;
    }
    Some(parse_request(meta, scope))
}

fn parse_request(meta: &ObjectMeta, scope: Scope) -> Result<Request, RequestError> {
    if scope != Scope::ClusterWide {
        return Err(RequestError::NotClusterWide);
    }
    // The copies name their source in a label.
    if meta.name.as_deref().is_some_and(|n| n.len() > 63) {
        return Err(RequestError::NameTooLong);
    }
    let mut namespaces = BTreeSet::new();
    for name in annotation(meta, FAN_OUT_NAMESPACES_ANNOTATION)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if !valid_namespace(name) {
            return Err(RequestError::Namespace(format!(
                "{name:?} is not a namespace name"
            )));
        }
        namespaces.insert(name.to_owned());
        if namespaces.len() > MAX_NAMESPACES {
            return Err(RequestError::Namespace(format!(
                "more than {MAX_NAMESPACES} namespaces"
            )));
        }
    }
    let selector = annotation(meta, FAN_OUT_SELECTOR_ANNOTATION)
        .map(Selector::parse)
        .transpose()
        .map_err(RequestError::Selector)?;
    Ok(Request {
        namespaces,
        selector,
    })
}

/// What the controller keeps of a Namespace: its name, labels and consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The value of [`FAN_OUT_FROM_ANNOTATION`].
    pub consent: Option<String>,
    /// Being deleted: no new copies.
    pub terminating: bool,
}

impl NamespaceInfo {
    #[must_use]
    pub fn of(ns: &Namespace) -> Self {
        Self {
            name: ns.metadata.name.clone().unwrap_or_default(),
            labels: ns.metadata.labels.clone().unwrap_or_default(),
            consent: annotation(&ns.metadata, FAN_OUT_FROM_ANNOTATION).map(str::to_owned),
            terminating: ns.metadata.deletion_timestamp.is_some(),
        }
    }

    /// Whether this namespace accepts copies from SealedSecrets in `source_namespace`.
    #[must_use]
    pub fn consents_to(&self, source_namespace: &str) -> bool {
        self.consent.as_deref().is_some_and(|list| {
            list.split(',')
                .map(str::trim)
                .any(|n| n == "*" || n == source_namespace)
        })
    }
}

/// Which namespaces get a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Asked for and consenting: each gets a copy.
    pub wanted: BTreeSet<String>,
    /// Asked for (by name or selector) but not consenting: nothing is written there.
    pub without_consent: usize,
    /// Named but not existing (or being deleted).
    pub missing: usize,
}

/// The namespaces `request` (of a SealedSecret in `source_namespace`) gets copies in, given
/// every namespace in the cluster. The source's own namespace is never a target.
#[must_use]
pub fn targets<'a>(
    request: &Request,
    source_namespace: &str,
    namespaces: impl IntoIterator<Item = &'a NamespaceInfo>,
) -> Targets {
    let mut out = Targets::default();
    let mut seen = BTreeSet::new();
    for ns in namespaces {
        if ns.name == source_namespace {
            continue;
        }
        let asked = request.namespaces.contains(&ns.name)
            || request
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(&ns.labels));
        if !asked {
            continue;
        }
        seen.insert(ns.name.as_str());
        if ns.terminating {
            out.missing += 1;
        } else if ns.consents_to(source_namespace) {
            out.wanted.insert(ns.name.clone());
        } else {
            out.without_consent += 1;
        }
    }
    out.missing += request
        .namespaces
        .iter()
        .filter(|n| n.as_str() != source_namespace && !seen.contains(n.as_str()))
        .count();
    out
}

/// The SealedSecret a copy belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
}

/// The label selector that lists the copies of `source` (any uid).
#[must_use]
pub fn copies_selector(source: &Source<'_>) -> String {
    format!(
        "{FAN_OUT_SOURCE_NAMESPACE_LABEL}={},{FAN_OUT_SOURCE_NAME_LABEL}={}",
        source.namespace, source.name
    )
}

/// The label selector that lists every copy of a SealedSecret in `namespace`, or of any
/// SealedSecret (`None`).
#[must_use]
pub fn all_copies_selector(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{FAN_OUT_SOURCE_NAMESPACE_LABEL}={ns}"),
        None => FAN_OUT_SOURCE_NAMESPACE_LABEL.to_owned(),
    }
}

/// The copy of `desired` (the Secret the SealedSecret unseals to in its own namespace) for
/// `namespace`: no owner references (they cannot cross namespaces), not `patch`/`managed`
/// (a copy is always a whole Secret of ours), and marked with its source.
#[must_use]
pub fn copy_of(desired: &Secret, namespace: &str, source: &Source<'_>) -> Secret {
    let mut copy = desired.clone();
    let meta = &mut copy.metadata;
    meta.namespace = Some(namespace.to_owned());
    meta.name = Some(source.name.to_owned());
    meta.owner_references = None;
    meta.resource_version = None;
    meta.uid = None;
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(
        FAN_OUT_SOURCE_NAMESPACE_LABEL.to_owned(),
        source.namespace.to_owned(),
    );
    labels.insert(FAN_OUT_SOURCE_NAME_LABEL.to_owned(), source.name.to_owned());
    let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    annotations.remove(PATCH_ANNOTATION);
    annotations.remove(MANAGED_ANNOTATION);
    annotations.remove(FAN_OUT_DIGEST_ANNOTATION);
    annotations.insert(
        FAN_OUT_SOURCE_UID_ANNOTATION.to_owned(),
        source.uid.to_owned(),
    );
    copy
}

/// Whether `secret` is a copy of `source` (its uid, not only its labels).
#[must_use]
pub fn is_copy_of(secret: &Secret, source: &Source<'_>) -> bool {
    let labels = secret.metadata.labels.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    !source.uid.is_empty()
        && label(FAN_OUT_SOURCE_NAMESPACE_LABEL) == Some(source.namespace)
        && label(FAN_OUT_SOURCE_NAME_LABEL) == Some(source.name)
        && annotation(&secret.metadata, FAN_OUT_SOURCE_UID_ANNOTATION) == Some(source.uid)
}

/// The SealedSecret (namespace, name) a Secret says it is a copy of (unverified: a trigger only).
#[must_use]
pub fn source_of(meta: &ObjectMeta) -> Option<(String, String)> {
    let labels = meta.labels.as_ref()?;
    Some((
        labels.get(FAN_OUT_SOURCE_NAMESPACE_LABEL)?.clone(),
        labels.get(FAN_OUT_SOURCE_NAME_LABEL)?.clone(),
    ))
}

/// The digest record a copy carries.
#[must_use]
pub fn record_of_copy(secret: &Secret) -> Option<&str> {
    annotation(&secret.metadata, FAN_OUT_DIGEST_ANNOTATION)
}

/// Stores `record` on `copy`.
pub fn set_record(copy: &mut Secret, record: Option<String>) {
    let annotations = copy.metadata.annotations.get_or_insert_with(BTreeMap::new);
    match record {
        Some(record) => {
            annotations.insert(FAN_OUT_DIGEST_ANNOTATION.to_owned(), record);
        }
        None => {
            annotations.remove(FAN_OUT_DIGEST_ANNOTATION);
        }
    }
}

/// What one fan-out pass did, for the `FanOut` condition (counts only: never which Secrets
/// exist in another namespace, never a value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Namespaces with a current copy (written now or already current).
    pub current: usize,
    /// Asked-for namespaces that do not consent, or hold a Secret of that name not ours.
    pub refused: usize,
    /// Named namespaces that do not exist.
    pub missing: usize,
    /// Copies the API server did not accept (retried).
    pub failed: usize,
}

/// The `FanOut` condition wanted: `None` removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub ok: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Report {
    #[must_use]
    pub fn condition(&self) -> Condition {
        let message = format!(
            "{} namespaces have a current copy, {} refused (no consent, or a Secret not ours), {} missing, {} failed",
            self.current, self.refused, self.missing, self.failed
        );
        Condition {
            ok: self.failed == 0,
            reason: if self.failed == 0 {
                REASON_DONE
            } else {
                REASON_WRITE_FAILED
            },
            message,
        }
    }
}

/// Sets the `FanOut` condition in `conditions` (or removes it); whether anything but its update
/// time changed.
pub fn apply_condition(
    conditions: &mut Vec<SealedSecretCondition>,
    wanted: Option<&Condition>,
    now: OffsetDateTime,
) -> bool {
    let at = conditions.iter().position(|c| c.type_ == FAN_OUT_CONDITION);
    let Some(wanted) = wanted else {
        return at.is_some_and(|i| {
            conditions.remove(i);
            true
        });
    };
    let stamp = format_time(now);
    let i = at.unwrap_or_else(|| {
        conditions.push(SealedSecretCondition {
            type_: FAN_OUT_CONDITION.to_owned(),
            ..SealedSecretCondition::default()
        });
        conditions.len() - 1
    });
    let c = &mut conditions[i];
    let status = if wanted.ok { "True" } else { "False" };
    let changed = c.status != status || c.message != wanted.message || c.reason != wanted.reason;
    if c.status != status {
        status.clone_into(&mut c.status);
        c.last_transition_time = Some(stamp.clone());
    }
    c.message.clone_from(&wanted.message);
    wanted.reason.clone_into(&mut c.reason);
    if changed {
        c.last_update_time = Some(stamp);
    }
    changed
}

/// Whether the status holds a `FanOut` condition (the object fanned out before: its copies
/// must be looked after even when it no longer asks).
#[must_use]
pub fn had_fan_out(conditions: &[SealedSecretCondition]) -> bool {
    conditions.iter().any(|c| c.type_ == FAN_OUT_CONDITION)
}

#[cfg(test)]
mod tests;
