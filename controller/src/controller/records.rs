//! The keyed record of a pass (`status.unsealedDigest`, ADR 0004/0006): which stored or
//! remembered record to check, what it says of the current Secret, and the record to write.

use k8s_openapi::api::core::v1::Secret;
use sealed_secrets_core::types::SealedSecret;

use super::DriftState;
use crate::digest::{self, DigestInput};
use crate::key_registry::KeySet;

pub(super) fn lookup_in<'k>(
    keys: &'k KeySet,
) -> impl Fn(&str) -> Option<&'k digest::DigestKey> + 'k {
    |fp| keys.by_fingerprint(fp).and_then(|e| e.digest_key.as_ref())
}

/// The records to check, best first: the one this process last wrote to the status when the
/// stored one differs (the watch cache may not show that write yet), then the stored one.
pub(super) fn records_of(
    drift: &DriftState,
    object: &str,
    ss: &SealedSecret,
    secret: Option<&Secret>,
) -> Vec<digest::Found> {
    let stored = digest::find(ss, secret);
    let remembered = drift
        .remembered(object)
        .filter(|value| stored.as_ref().is_none_or(|s| s.value != *value))
        .and_then(|value| {
            Some(digest::Found {
                record: digest::DigestRecord::parse(&value)?,
                value,
                source: digest::Source::Memory,
            })
        });
    remembered.into_iter().chain(stored).collect()
}

/// What the best of `records` says of (`ss`, `secret`), and that record: the first that
/// proves the Secret current, else the first that shows a drift, else the first one.
pub(super) fn best_check(
    keys: &KeySet,
    records: Vec<digest::Found>,
    ss: &SealedSecret,
    accept_v1: bool,
    secret: &Secret,
) -> (digest::Check, Option<digest::Found>) {
    let mut best: (digest::Check, Option<digest::Found>) = (digest::Check::Changed, None);
    for found in records {
        let check = digest::check(&found.record, ss, accept_v1, secret, lookup_in(keys));
        match check {
            digest::Check::Current => return (check, Some(found)),
            digest::Check::Drifted if best.0 != digest::Check::Drifted => {
                best = (check, Some(found));
            }
            _ if best.1.is_none() => best.1 = Some(found),
            _ => {}
        }
    }
    best
}

pub(super) fn record_of(
    keys: &KeySet,
    ss: &SealedSecret,
    accept_v1: bool,
    keys_used: &[String],
    secret: &Secret,
) -> Option<String> {
    let signing = keys_used
        .first()
        .and_then(|fp| keys.by_fingerprint(fp))
        .or_else(|| keys.latest())?;
    let digest_key = signing.digest_key.as_ref()?;
    let input = DigestInput {
        sealed: ss,
        accept_v1_data: accept_v1,
        keys_used,
    };
    digest::record_value(digest_key, signing.fingerprint.as_str(), &input, secret)
}

/// What a pass does to the record in the status (`status.unsealedDigest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The stored one stands: nothing was learnt, or this process already wrote it.
    Keep,
    /// This one; `None`: no record (the optimisation is off, or a legacy `spec.data` object).
    Set(Option<String>),
}
