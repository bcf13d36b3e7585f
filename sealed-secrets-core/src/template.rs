//! `spec.template.data`: the [`go_template`] engine over the decrypted values (SPEC §1.12).
//!
//! Upstream renders each `spec.template.data` entry as a Go `text/template` source with the
//! Sprig v3.3.0 `GenericFuncMap` (minus `env`, `expandenv` and `getHostByName`), executed
//! against a `map[string]string` of the decrypted values; the output becomes the Secret's data
//! under the same key. The engine (and what it does differently from Go, deliberately) is the
//! `go-template` crate; this module runs it on [`SecretBytes`], in and out.
//!
//! ```
//! use std::collections::BTreeMap;
//! use sealed_secrets_core::secret_bytes::SecretBytes;
//! use sealed_secrets_core::template::{Limits, render};
//!
//! let mut values = BTreeMap::new();
//! values.insert("user".to_owned(), SecretBytes::from_slice(b"admin"));
//! let out = render("user", "{{ .user | quote }}", &values, &Limits::default())?;
//! assert_eq!(out.expose(), br#""admin""#);
//! # Ok::<(), sealed_secrets_core::template::TemplateError>(())
//! ```

use std::collections::BTreeMap;

pub use go_template::{Budget, Limits, TemplateError};

use crate::secret_bytes::SecretBytes;

/// A parsed template ([`go_template::Template`]) that executes on [`SecretBytes`].
#[derive(Debug)]
pub struct Template(go_template::Template);

impl Template {
    /// Parses `source`, the template called `name` (the item key).
    ///
    /// # Errors
    /// Every error that depends only on the source; see [`go_template::Template::parse`].
    pub fn parse(name: &str, source: &str, limits: &Limits) -> Result<Self, TemplateError> {
        go_template::Template::parse(name, source, limits).map(Self)
    }

    /// The template's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// Executes the template against `values` (the decrypted items), charging everything to
    /// `budget`.
    ///
    /// # Errors
    /// See [`go_template::Template::execute`]; no error text contains any of `values`.
    pub fn execute(
        &self,
        values: &BTreeMap<String, SecretBytes>,
        budget: &mut Budget,
    ) -> Result<SecretBytes, TemplateError> {
        let values = values.iter().map(|(k, v)| (k, v.expose()));
        let mut out = self.0.execute(values, budget)?.into_bytes();
        Ok(SecretBytes::new(std::mem::take(&mut *out)))
    }
}

/// Renders the template `source`, called `name` (the item key), against `values` with a
/// fresh [`Budget`]: [`Template::parse`] then [`Template::execute`].
///
/// # Errors
/// See [`TemplateError`]. No error text contains any of `values`.
pub fn render(
    name: &str,
    source: &str,
    values: &BTreeMap<String, SecretBytes>,
    limits: &Limits,
) -> Result<SecretBytes, TemplateError> {
    Template::parse(name, source, limits)?.execute(values, &mut Budget::new(limits))
}
