//! The [`SEALED_AT_ANNOTATION`] record: when each item of a SealedSecret was sealed.
//!
//! The value is a compact JSON object, item name → RFC 3339 UTC time in whole seconds, keys
//! sorted: `{"password":"2026-12-02T17:00:00Z","user":"2026-11-01T09:00:00Z"}`. One annotation
//! per object (not one per item) keeps `metadata.annotations` to one line however many items
//! there are. Upstream's tools ignore it.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use crate::names::SEALED_AT_ANNOTATION;

/// Item name → the time it was sealed.
pub type SealedAt = BTreeMap<String, OffsetDateTime>;

/// Why the annotation cannot be read. Never quotes the annotation's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("annotation {SEALED_AT_ANNOTATION} is not a JSON object of item names to RFC 3339 times")]
pub struct InvalidSealedAt;

/// `at` as it is recorded: UTC, whole seconds.
#[must_use]
pub fn stamp(at: OffsetDateTime) -> OffsetDateTime {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.replace_nanosecond(0).unwrap_or(utc)
}

/// `at` as text: `2026-12-02T17:00:00Z`.
#[must_use]
pub fn format_time(at: OffsetDateTime) -> String {
    stamp(at).format(&Rfc3339).unwrap_or_default()
}

/// Reads the annotation's value.
///
/// # Errors
/// Not a JSON object of strings that are RFC 3339 times.
pub fn parse(text: &str) -> Result<SealedAt, InvalidSealedAt> {
    let map: BTreeMap<String, String> = serde_json::from_str(text).map_err(|_| InvalidSealedAt)?;
    map.into_iter()
        .map(|(item, at)| {
            OffsetDateTime::parse(&at, &Rfc3339)
                .map(|t| (item, t))
                .map_err(|_| InvalidSealedAt)
        })
        .collect()
}

/// The annotation's value for `record` (compact JSON, keys sorted); `None` when it is empty
/// (then the annotation is removed, not written as `{}`).
#[must_use]
pub fn format(record: &SealedAt) -> Option<String> {
    if record.is_empty() {
        return None;
    }
    let map: BTreeMap<&str, String> = record
        .iter()
        .map(|(item, at)| (item.as_str(), format_time(*at)))
        .collect();
    serde_json::to_string(&map).ok()
}

/// The value after `items` were sealed at `at`: the other items' entries kept, these set.
///
/// # Errors
/// The existing value cannot be read (rather than silently dropping the other items' times).
pub fn updated<'i>(
    existing: Option<&str>,
    items: impl IntoIterator<Item = &'i str>,
    at: OffsetDateTime,
) -> Result<String, InvalidSealedAt> {
    let mut record = existing.map(parse).transpose()?.unwrap_or_default();
    for item in items {
        record.insert(item.to_owned(), stamp(at));
    }
    format(&record).ok_or(InvalidSealedAt)
}

/// The value after `item` was removed: `Ok(None)` when nothing is left (remove the
/// annotation).
///
/// # Errors
/// The existing value cannot be read.
pub fn without(existing: &str, item: &str) -> Result<Option<String>, InvalidSealedAt> {
    let mut record = parse(existing)?;
    record.remove(item);
    Ok(format(&record))
}

/// Records `at` for every item of a freshly sealed object, in its outer annotations.
pub fn record_all(sealed: &mut crate::types::SealedSecret, at: OffsetDateTime) {
    let record: SealedAt = sealed
        .spec
        .encrypted_data
        .iter()
        .flatten()
        .map(|(item, _)| (item.clone(), stamp(at)))
        .collect();
    if let Some(value) = format(&record) {
        sealed
            .metadata
            .annotations
            .insert(SEALED_AT_ANNOTATION.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trips_compact_sorted_whole_seconds_utc() {
        let mut record = SealedAt::new();
        record.insert("user".to_owned(), datetime!(2026-11-01 10:00:00.75 +1));
        record.insert("password".to_owned(), datetime!(2026-12-02 17:00:00 UTC));
        let text = format(&record).unwrap();
        assert_eq!(
            text,
            r#"{"password":"2026-12-02T17:00:00Z","user":"2026-11-01T09:00:00Z"}"#
        );
        let back = parse(&text).unwrap();
        assert_eq!(back["user"], datetime!(2026-11-01 09:00:00 UTC));
        assert_eq!(format(&back).unwrap(), text);
        assert_eq!(format(&SealedAt::new()), None);
    }

    #[test]
    fn updates_keep_other_items_and_bad_values_are_refused() {
        let at = datetime!(2027-01-01 00:00:00 UTC);
        let text = r#"{"password":"2026-12-02T17:00:00Z","user":"2026-11-01T09:00:00Z"}"#;
        assert_eq!(
            updated(Some(text), ["user"], at).unwrap(),
            r#"{"password":"2026-12-02T17:00:00Z","user":"2027-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            updated(None, ["a"], at).unwrap(),
            r#"{"a":"2027-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            without(text, "user").unwrap().unwrap(),
            r#"{"password":"2026-12-02T17:00:00Z"}"#
        );
        assert_eq!(without(r#"{"a":"2027-01-01T00:00:00Z"}"#, "a"), Ok(None));
        for bad in ["", "[]", "{\"a\":1}", "{\"a\":\"yesterday\"}", "hunter2"] {
            assert_eq!(parse(bad), Err(InvalidSealedAt), "{bad}");
        }
        assert!(!InvalidSealedAt.to_string().contains("hunter2"));
    }
}
