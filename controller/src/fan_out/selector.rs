//! Label selectors in the text form `kubectl -l` takes (`a=b,c!=d,e in (x,y),f notin (z),g,!h`),
//! parsed and matched here: kube's `Selector` has no parser.

use std::collections::BTreeMap;
use std::fmt;

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector. The empty selector matches nothing here (fan-out asks for
/// namespaces explicitly; "every namespace" is not a request we honour by accident).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector(Vec<Requirement>);

/// Why a selector text was refused (the text is the SealedSecret owner's, not a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError(String);

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SelectorError {}

/// The longest selector text accepted.
const MAX_LEN: usize = 4096;

fn valid_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
    });
    name_ok && prefix_ok
}

fn valid_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// Splits at commas outside parentheses.
fn split_requirements(text: &str) -> Result<Vec<&str>, SelectorError> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0u32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' if depth == 0 => depth = 1,
            '(' => return Err(SelectorError("nested parentheses".into())),
            ')' if depth == 1 => depth = 0,
            ')' => return Err(SelectorError("unbalanced parentheses".into())),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(SelectorError("unbalanced parentheses".into()));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn key(text: &str) -> Result<String, SelectorError> {
    let key = text.trim();
    if valid_key(key) {
        Ok(key.to_owned())
    } else {
        Err(SelectorError(format!("invalid label key {key:?}")))
    }
}

fn value(text: &str) -> Result<String, SelectorError> {
    let value = text.trim();
    if valid_value(value) {
        Ok(value.to_owned())
    } else {
        Err(SelectorError(format!("invalid label value {value:?}")))
    }
}

fn set(text: &str) -> Result<Vec<String>, SelectorError> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| SelectorError("a set must be written (a,b)".into()))?;
    inner.split(',').map(value).collect()
}

/// Finds ` in ` / ` notin ` as a whole word after the key.
fn set_operator(part: &str) -> Option<(&str, bool, &str)> {
    let mut words = part.trim_start().splitn(2, char::is_whitespace);
    let key = words.next()?;
    let rest = words.next()?.trim_start();
    if let Some(set) = rest.strip_prefix("notin") {
        return Some((key, false, set));
    }
    rest.strip_prefix("in").map(|set| (key, true, set))
}

fn requirement(part: &str) -> Result<Requirement, SelectorError> {
    let part = part.trim();
    if part.is_empty() {
        return Err(SelectorError("empty requirement".into()));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(key(k)?, value(v)?));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(key(k)?, value(v)?));
    }
    if let Some(k) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key(k)?));
    }
    if let Some((k, is_in, values)) = set_operator(part) {
        let values = set(values)?;
        return Ok(if is_in {
            Requirement::In(key(k)?, values)
        } else {
            Requirement::NotIn(key(k)?, values)
        });
    }
    Ok(Requirement::Exists(key(part)?))
}

impl Selector {
    /// Parses `text`.
    ///
    /// # Errors
    /// A one-line reason when `text` is not a label selector.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        if text.len() > MAX_LEN {
            return Err(SelectorError(format!("longer than {MAX_LEN} bytes")));
        }
        if text.trim().is_empty() {
            return Err(SelectorError("empty selector".into()));
        }
        split_requirements(text)?
            .into_iter()
            .map(requirement)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `labels` satisfy every requirement.
    #[must_use]
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn selectors_match_as_kubectl_does() {
        let l = labels(&[("team", "web"), ("env", "prod"), ("tier", "a")]);
        for (text, expected) in [
            ("team=web", true),
            ("team==web", true),
            ("team!=web", false),
            ("team=db", false),
            ("team!=db", true),
            ("env in (prod, staging)", true),
            ("env notin (prod)", false),
            ("missing notin (x)", true),
            ("team", true),
            ("!team", false),
            ("!missing", true),
            ("team=web,env in (prod),!missing,tier", true),
            ("team=web,env=dev", false),
            ("example.com/owner", false),
        ] {
            assert_eq!(
                Selector::parse(text).unwrap().matches(&l),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn bad_selectors_are_refused_with_a_reason() {
        for text in [
            "",
            " ",
            "a=b,",
            "env in prod",
            "env in (prod",
            "env in ((a))",
            "a=b)",
            "-a=b",
            "a=b c",
            "a=$(x)",
            &"k=v,".repeat(2000),
        ] {
            let err = Selector::parse(text).unwrap_err();
            assert!(!err.to_string().is_empty(), "{text:?}");
        }
    }
}
