//! The fan-out step of a reconcile (ADR 0007, decisions in `crate::fan_out`): after a
//! SealedSecret's own Secret is current, its copies in the consenting namespaces it asks for are
//! made current, and copies in namespaces it no longer gets are removed.
//!
//! Work bound: one LIST of its copies (by label) per pass, at most one unseal (none when the
//! pass already unsealed, none when every copy's record proves it current: a restart costs no
//! RSA work), one write per copy that is not current.

use k8s_openapi::api::core::v1::Secret;

use super::records::{lookup_in, record_of};
use super::{Cluster, Context, drift, names, unseal_or_report, whole_object};
use crate::digest;
use crate::error::{api_error_text, is_conflict, is_not_found};
use crate::fan_out::{self, Condition, Report, Source};
use crate::key_registry::KeySet;
use crate::resource::SealedSecretObject;
use crate::target_secret;
use crate::value_errors;
use sealed_secrets_core::seal::ItemError;
use sealed_secrets_core::types::SealedSecret;

/// What the pass unsealed for the SealedSecret's own Secret, reused for its copies.
pub(super) struct Unsealed {
    /// The Secret as unsealed (in the source namespace, with its owner reference).
    pub desired: Secret,
    pub failures: Vec<ItemError>,
    pub keys_used: Option<Vec<String>>,
}

/// What the step did.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// `None`: leave the `FanOut` condition as it is; `Some(None)`: remove it.
    pub condition: Option<Option<Condition>>,
    /// It unsealed (the pass's report waits as any unseal's does).
    pub unsealed: bool,
    /// Something must be tried again (namespaces unknown, a write failed).
    pub retry: bool,
}

fn source_of(obj: &SealedSecretObject) -> (String, String, String) {
    let (namespace, name) = names(obj);
    (
        namespace,
        name,
        obj.metadata.uid.clone().unwrap_or_default(),
    )
}

/// Whether the SealedSecret needs the fan-out step at all: it asks, or it did before (its
/// status says so) and its copies may need removing. Any other object costs nothing here.
pub(super) fn concerns(obj: &SealedSecretObject) -> bool {
    fan_out::asks(&obj.metadata)
        || obj
            .status
            .as_ref()
            .is_some_and(|s| fan_out::had_fan_out(&s.conditions))
}

/// Runs the step for `obj` (whose own Secret was just reconciled); `unsealed` is what the pass
/// unsealed, if it did.
pub(super) async fn sync<C: Cluster>(
    obj: &SealedSecretObject,
    ctx: &Context<C>,
    keys: &std::sync::Arc<KeySet>,
    unsealed: Option<Unsealed>,
) -> Outcome {
    let (namespace, name, uid) = source_of(obj);
    let source = Source {
        namespace: &namespace,
        name: &name,
        uid: &uid,
    };
    let ss = obj.to_core();
    if !ctx.config.fan_out {
        // Nothing is listed, written or removed: the controller may lack the RBAC.
        return Outcome {
            condition: Some(fan_out::asks(&obj.metadata).then(|| Condition {
                ok: false,
                reason: fan_out::REASON_DISABLED,
                message: "the controller runs without --fan-out: no copy was made".to_owned(),
            })),
            unsealed: false,
            retry: false,
        };
    }
    let request = match fan_out::request(&obj.metadata, ss.scope()) {
        None => {
            // It asked before: its copies go.
            let retry = !remove_copies(ctx, &source, |_| true).await;
            return Outcome {
                condition: Some(None),
                unsealed: false,
                retry,
            };
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "fan-out refused");
            let retry = !remove_copies(ctx, &source, |_| true).await;
            return Outcome {
                condition: Some(Some(Condition {
                    ok: false,
                    reason: e.reason(),
                    message: e.to_string(),
                })),
                unsealed: false,
                retry,
            };
        }
        Some(Ok(request)) => request,
    };
    let Some(namespaces) = ctx.cluster.namespaces() else {
        return Outcome {
            condition: Some(Some(Condition {
                ok: false,
                reason: fan_out::REASON_NAMESPACES_UNAVAILABLE,
                message: "the controller cannot list namespaces (yet): no copy was changed"
                    .to_owned(),
            })),
            unsealed: false,
            retry: true,
        };
    };
    let targets = fan_out::targets(&request, &namespace, &namespaces);
    let existing = match ctx
        .cluster
        .list_secrets(&fan_out::copies_selector(&source))
        .await
    {
        Ok(existing) => existing,
        Err(e) => {
            tracing::warn!(error = %api_error_text(&e), "cannot list the fan-out copies");
            return failed_outcome();
        }
    };
    // Copies in namespaces no longer asked for, or no longer consenting.
    let stale = |copy: &Secret| {
        copy.metadata
            .namespace
            .as_deref()
            .is_none_or(|ns| !targets.wanted.contains(ns))
    };
    let mut retry = false;
    for copy in existing.iter().filter(|c| stale(c)) {
        retry |= !remove_copy(ctx, &source, copy).await;
    }

    let accept_v1 = ctx.config.accept_v1_data;
    let repair = drift::repair_enabled(obj);
    let mut report = Report {
        refused: targets.without_consent,
        missing: targets.missing,
        ..Report::default()
    };
    let mut pending: Vec<(&str, Option<&Secret>)> = Vec::new();
    for ns in &targets.wanted {
        let found = existing.iter().find(|s| {
            s.metadata.namespace.as_deref() == Some(ns.as_str())
                && s.metadata.name.as_deref() == Some(name.as_str())
        });
        match found {
            Some(copy) if !fan_out::is_copy_of(copy, &source) => report.refused += 1,
            Some(copy) if is_current(keys, &ss, accept_v1, repair, copy) => report.current += 1,
            Some(copy) => pending.push((ns.as_str(), Some(copy))),
            // Not listed as a copy: free, or a Secret of someone else's (left alone, and no
            // unseal spent on it in every pass).
            None => match ctx.cluster.get_secret(ns, &name).await {
                Ok(None) => pending.push((ns.as_str(), None)),
                Ok(Some(_)) => report.refused += 1,
                Err(e) => {
                    tracing::warn!(namespace = %ns, error = %api_error_text(&e), "cannot read the Secret a fan-out copy would replace");
                    report.failed += 1;
                    retry = true;
                }
            },
        }
    }
    if pending.is_empty() {
        return Outcome {
            condition: Some(Some(report.condition())),
            unsealed: false,
            retry,
        };
    }

    let (unsealed, did_unseal) = match unsealed {
        Some(unsealed) => (unsealed, false),
        None => {
            let found = digest::find(&ss, None);
            let recorded = digest::recorded_keys(found.as_ref());
            // The watch cache holds digests, not ciphertexts: open the object as stored.
            let whole = if ss.spec.ciphertexts_hashed {
                match whole_object(obj, ctx).await {
                    Ok(Some(whole)) => whole.to_core(),
                    Ok(None) => return failed_outcome(),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the SealedSecret for the fan-out copies");
                        return failed_outcome();
                    }
                }
            } else {
                ss.clone()
            };
            match unseal_or_report(obj, ctx, keys, &whole, recorded).await {
                Ok(outcome) => {
                    let mut desired = target_secret::to_k8s(&outcome.unsealed.secret);
                    desired.metadata.namespace = Some(namespace.clone());
                    (
                        Unsealed {
                            desired,
                            failures: outcome.unsealed.value_failures,
                            keys_used: outcome.keys_used,
                        },
                        true,
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot unseal for the fan-out copies");
                    let mut outcome = failed_outcome();
                    outcome.unsealed = true;
                    return outcome;
                }
            }
        }
    };
    for (ns, old) in pending {
        let mut copy = fan_out::copy_of(&unsealed.desired, ns, &source);
        value_errors::fill(&mut copy, old, &unsealed.failures);
        digest::clear(&mut copy);
        let record = if ctx.config.skip_unchanged {
            unsealed
                .keys_used
                .as_deref()
                .and_then(|used| record_of(keys, &ss, accept_v1, used, &copy))
        } else {
            None
        };
        fan_out::set_record(&mut copy, record);
        let written = match old {
            None => ctx.cluster.create_secret(ns, &copy).await,
            Some(old) => {
                copy.metadata
                    .resource_version
                    .clone_from(&old.metadata.resource_version);
                ctx.cluster.replace_secret(ns, &name, &copy).await
            }
        };
        match written {
            Ok(()) => {
                tracing::info!(namespace = ns, "fan-out copy written");
                report.current += 1;
            }
            // A Secret of that name that is not a copy (it did not show in the listing).
            Err(e) if old.is_none() && is_conflict(&e) => {
                tracing::info!(
                    namespace = ns,
                    "fan-out refused: a Secret of that name is not ours"
                );
                report.refused += 1;
            }
            Err(e) => {
                tracing::warn!(namespace = ns, error = %api_error_text(&e), "cannot write a fan-out copy");
                report.failed += 1;
                retry = true;
            }
        }
    }
    Outcome {
        condition: Some(Some(report.condition())),
        unsealed: did_unseal,
        retry,
    }
}

fn failed_outcome() -> Outcome {
    Outcome {
        condition: None,
        unsealed: false,
        retry: true,
    }
}

/// Whether `copy`'s record proves it what unsealing `ss` would write (or it drifted and the
/// SealedSecret opts out of drift repair).
fn is_current(
    keys: &KeySet,
    ss: &SealedSecret,
    accept_v1: bool,
    repair: bool,
    copy: &Secret,
) -> bool {
    let Some(record) = fan_out::record_of_copy(copy).and_then(digest::DigestRecord::parse) else {
        return false;
    };
    match digest::check(&record, ss, accept_v1, copy, lookup_in(keys)) {
        digest::Check::Current => true,
        digest::Check::Drifted => !repair,
        digest::Check::Changed => false,
    }
}

/// Deletes every copy of `source` for which `remove_if` holds; whether all went.
async fn remove_copies<C: Cluster>(
    ctx: &Context<C>,
    source: &Source<'_>,
    remove_if: impl Fn(&Secret) -> bool,
) -> bool {
    let copies = match ctx
        .cluster
        .list_secrets(&fan_out::copies_selector(source))
        .await
    {
        Ok(copies) => copies,
        Err(e) => {
            tracing::warn!(error = %api_error_text(&e), "cannot list the fan-out copies");
            return false;
        }
    };
    let mut all = true;
    for copy in copies.iter().filter(|c| remove_if(c)) {
        all &= remove_copy(ctx, source, copy).await;
    }
    all
}

/// Deletes `copy` if it is a copy of `source` (its uid); whether it is gone or was never ours.
async fn remove_copy<C: Cluster>(ctx: &Context<C>, source: &Source<'_>, copy: &Secret) -> bool {
    if !fan_out::is_copy_of(copy, source) {
        return true;
    }
    let ns = copy.metadata.namespace.as_deref().unwrap_or_default();
    match ctx.cluster.delete_secret(ns, source.name).await {
        Ok(()) => {
            tracing::info!(namespace = ns, "fan-out copy removed");
            true
        }
        Err(e) if is_not_found(&e) => true,
        Err(e) => {
            tracing::warn!(namespace = ns, error = %api_error_text(&e), "cannot remove a fan-out copy");
            false
        }
    }
}

/// A SealedSecret is gone: its copies go too.
pub(super) async fn deleted<C: Cluster>(obj: &SealedSecretObject, ctx: &Context<C>) {
    let (namespace, name, uid) = source_of(obj);
    if uid.is_empty() || !ctx.config.fan_out {
        return;
    }
    let source = Source {
        namespace: &namespace,
        name: &name,
        uid: &uid,
    };
    remove_copies(ctx, &source, |_| true).await;
}

/// Removes copies whose SealedSecret no longer exists (deleted while the controller was not
/// watching): every copy of a SealedSecret in `namespace` (or anywhere, `None`) that `exists`
/// does not know by namespace, name and uid.
pub(super) async fn sweep<C: Cluster>(
    ctx: &Context<C>,
    namespace: Option<&str>,
    exists: impl Fn(&str, &str, &str) -> bool,
) {
    let copies = match ctx
        .cluster
        .list_secrets(&fan_out::all_copies_selector(namespace))
        .await
    {
        Ok(copies) => copies,
        Err(e) => {
            tracing::debug!(error = %api_error_text(&e), "cannot list fan-out copies to sweep");
            return;
        }
    };
    for copy in &copies {
        let Some((ns, name)) = fan_out::source_of(&copy.metadata) else {
            continue;
        };
        let Some(uid) = copy
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(sealed_secrets_core::names::FAN_OUT_SOURCE_UID_ANNOTATION))
        else {
            continue;
        };
        if !exists(&ns, &name, uid) {
            let source = Source {
                namespace: &ns,
                name: &name,
                uid,
            };
            remove_copy(ctx, &source, copy).await;
        }
    }
}
