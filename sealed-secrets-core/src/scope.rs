//! Sealing scopes and the OAEP label each one binds a ciphertext to (SPEC §1.3).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub use crate::names::{CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION};

/// Where a sealed value may be unsealed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Bound to namespace and name (label `ns/name`).
    #[default]
    Strict,
    /// Bound to the namespace only (label `ns`).
    NamespaceWide,
    /// Not bound (empty label).
    ClusterWide,
}

impl Scope {
    /// All scopes, weakest binding last.
    pub const ALL: [Scope; 3] = [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide];

    /// The scope an object's annotations select. Cluster-wide wins over namespace-wide; values
    /// are compared case-sensitively against `"true"`, as upstream does.
    #[must_use]
    pub fn from_annotations(annotations: Option<&BTreeMap<String, String>>) -> Self {
        let is_true = |key: &str| {
            annotations
                .and_then(|a| a.get(key))
                .is_some_and(|v| v == "true")
        };
        if is_true(CLUSTER_WIDE_ANNOTATION) {
            Scope::ClusterWide
        } else if is_true(NAMESPACE_WIDE_ANNOTATION) {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    /// The OAEP label for an object in `namespace` named `name` under this scope.
    #[must_use]
    pub fn label(self, namespace: &str, name: &str) -> Vec<u8> {
        match self {
            Scope::Strict => format!("{namespace}/{name}").into_bytes(),
            Scope::NamespaceWide => namespace.as_bytes().to_vec(),
            Scope::ClusterWide => Vec::new(),
        }
    }

    /// The annotation that selects this scope, if any (strict has none).
    #[must_use]
    pub fn annotation(self) -> Option<&'static str> {
        match self {
            Scope::Strict => None,
            Scope::NamespaceWide => Some(NAMESPACE_WIDE_ANNOTATION),
            Scope::ClusterWide => Some(CLUSTER_WIDE_ANNOTATION),
        }
    }

    /// Rewrites the scope annotations in `annotations` so that they select this scope:
    /// both are removed, then this scope's one (if any) is set to `"true"`.
    pub fn apply_to_annotations(self, annotations: &mut BTreeMap<String, String>) {
        annotations.remove(CLUSTER_WIDE_ANNOTATION);
        annotations.remove(NAMESPACE_WIDE_ANNOTATION);
        if let Some(key) = self.annotation() {
            annotations.insert(key.to_owned(), "true".to_owned());
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for an unknown scope name; its text is upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: strict, namespace-wide, cluster-wide")]
pub struct UnknownScope;

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "strict" => Ok(Scope::Strict),
            "namespace-wide" => Ok(Scope::NamespaceWide),
            "cluster-wide" => Ok(Scope::ClusterWide),
            _ => Err(UnknownScope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn labels_match_upstream() {
        assert_eq!(Scope::Strict.label("myns", "myname"), b"myns/myname");
        assert_eq!(Scope::Strict.label("myns", ""), b"myns/");
        assert_eq!(Scope::NamespaceWide.label("myns", "myname"), b"myns");
        assert!(Scope::ClusterWide.label("myns", "myname").is_empty());
    }

    #[test]
    fn annotations_select_scope() {
        assert_eq!(Scope::from_annotations(None), Scope::Strict);
        let both = ann(&[
            (CLUSTER_WIDE_ANNOTATION, "true"),
            (NAMESPACE_WIDE_ANNOTATION, "true"),
        ]);
        assert_eq!(Scope::from_annotations(Some(&both)), Scope::ClusterWide);
        let ns = ann(&[(NAMESPACE_WIDE_ANNOTATION, "true")]);
        assert_eq!(Scope::from_annotations(Some(&ns)), Scope::NamespaceWide);
        let upper = ann(&[(CLUSTER_WIDE_ANNOTATION, "TRUE")]);
        assert_eq!(Scope::from_annotations(Some(&upper)), Scope::Strict);
    }

    #[test]
    fn parse_names() {
        assert_eq!("".parse::<Scope>(), Ok(Scope::Strict));
        assert_eq!("cluster-wide".parse::<Scope>(), Ok(Scope::ClusterWide));
        assert_eq!(
            "global".parse::<Scope>().map_err(|e| e.to_string()),
            Err("must be one of: strict, namespace-wide, cluster-wide".to_owned())
        );
    }

    #[test]
    fn apply_rewrites_annotations() {
        let mut a = ann(&[(CLUSTER_WIDE_ANNOTATION, "true"), ("x", "y")]);
        Scope::NamespaceWide.apply_to_annotations(&mut a);
        assert_eq!(a, ann(&[(NAMESPACE_WIDE_ANNOTATION, "true"), ("x", "y")]));
    }
}
