//! Go `text/template` + Sprig subset for `spec.template.data` (SPEC §1.12), and the
//! Go-compatible text it shares with the manifests ([`gocompat`]).
//!
//! Upstream renders each `spec.template.data` entry as a Go `text/template` source with the
//! Sprig v3.3.0 `GenericFuncMap` (minus `env`, `expandenv` and `getHostByName`), executed
//! against a `map[string]string` of the decrypted values; the output becomes the Secret's data
//! under the same key. [`render`] does the same for the subset described in
//! `docs/templates.md`, with the same output bytes and, where practical, the same error texts.
//!
//! Differences that are deliberate:
//! - errors never quote a value (Go sometimes does, e.g. `range can't iterate over <value>`):
//!   they end up in events and status;
//! - work, memory, output size, source size and nesting are bounded ([`Limits`]), across all
//!   the templates of one SealedSecret ([`Budget`]), and execution can have a deadline;
//! - Sprig functions that are random, time-dependent or that we have not implemented are
//!   rejected when the template is parsed (`function "X" is not supported by
//!   sealed-secrets-rs`), even in a branch that would not run.
//!
//! [`Template::parse`] raises every error that depends only on the source (which is public);
//! [`Template::execute`] raises the others, which may depend on the values
//! ([`TemplateError::is_static`] tells them apart).
//!
//! ```
//! use std::collections::BTreeMap;
//! use go_template::{Limits, render};
//!
//! let mut values = BTreeMap::new();
//! values.insert("user", &b"admin"[..]);
//! values.insert("password", &b"p@ss\"word"[..]);
//! let out = render(
//!     "config.json",
//!     r#"{"user": {{ .user | quote }}, "password": {{ toJson .password }}}"#,
//!     &values,
//!     &Limits::default(),
//! )?;
//! assert_eq!(out.expose(), br#"{"user": "admin", "password": "p@ss\"word"}"#);
//! # Ok::<(), go_template::TemplateError>(())
//! ```

mod ast;
mod budget;
mod builtins;
mod call;
mod codec;
mod exec;
mod funcs;
pub mod gocompat;
mod gofmt;
mod goregex;
mod json;
mod lexer;
mod out;
mod parser;
mod sprig;
mod sprig_codec;
mod sprig_data;
mod sprig_json;
mod sprig_num;
mod sprig_path;
mod sprig_regex;
mod sprig_split;
mod strconv;
mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use zeroize::Zeroizing;

use budget::Exceeded;
pub use budget::{Budget, Limits};
use exec::{Exec, ExecError};
use value::{GoStr, Value};

/// Why a template could not be rendered. The text is one line, shaped like Go's; it names the
/// template and a position in its source, never a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The source does not parse (Go: `template: NAME:LINE: MESSAGE`).
    #[error("template: {name}:{line}: {message}")]
    Parse {
        name: String,
        line: usize,
        message: String,
    },
    /// Execution failed at a node (Go: `template: NAME:LINE:COL: executing "TEMPLATE" at
    /// <NODE>: MESSAGE`; TEMPLATE is NAME or the `define` being run). `node` is template
    /// source text.
    #[error("template: {name}:{line}:{column}: executing {quoted_name} at <{node}>: {message}")]
    Exec {
        name: String,
        quoted_name: String,
        line: usize,
        column: usize,
        node: String,
        message: String,
    },
    /// Execution failed outside any node (Go: `template: NAME: MESSAGE`).
    #[error("template: {name}: {message}")]
    Failed { name: String, message: String },
    /// A Sprig function that upstream has but we do not implement, called anywhere in the
    /// source.
    #[error("template: {name}: function \"{function}\" is not supported by sealed-secrets-rs")]
    Unsupported { name: String, function: String },
    /// A bound of [`Limits`] ran out. `unit` is `steps` ([`Limits::max_steps`]), `bytes`
    /// ([`Limits::max_output_bytes`]), `output bytes in total`
    /// ([`Limits::max_total_output_bytes`]), `bytes of memory` ([`Limits::max_memory_bytes`])
    /// or `templates` ([`Limits::max_templates`]).
    #[error("template: {name}: exceeds limit of {limit} {unit}")]
    Limit {
        name: String,
        limit: u64,
        unit: &'static str,
    },
    /// The budget's deadline passed ([`Budget::with_deadline`]).
    #[error("template: {name}: deadline exceeded")]
    Deadline { name: String },
    /// The budget's cancel flag was set ([`Budget::with_cancel`]).
    #[error("template: {name}: cancelled")]
    Cancelled { name: String },
    /// The source is larger than [`Limits::max_source_bytes`].
    #[error("template: {name}: source exceeds limit of {limit} bytes")]
    SourceTooLarge { name: String, limit: usize },
    /// Values nested deeper than printing and JSON support (only a dict containing itself
    /// gets there), or execution nested deeper than the stack allows (recursive templates).
    #[error("template: {name}: exceeds maximum nesting depth of {limit}")]
    TooDeep { name: String, limit: usize },
}

impl TemplateError {
    /// Whether the error depends only on the template source (too large, does not parse,
    /// calls an unsupported function): [`Template::parse`] raises those. Errors raised during
    /// execution may depend on the values and are not static, limits included.
    #[must_use]
    pub fn is_static(&self) -> bool {
        matches!(
            self,
            TemplateError::Parse { .. }
                | TemplateError::SourceTooLarge { .. }
                | TemplateError::Unsupported { .. }
        )
    }
}

/// Line (1-based) and byte column (0-based) of `pos`, as Go's `ErrorContext` computes them.
fn location(source: &str, pos: usize) -> (usize, usize) {
    let before = source.as_bytes().get(..pos).unwrap_or(source.as_bytes());
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = match before.iter().rposition(|&b| b == b'\n') {
        Some(newline) => before.len() - (newline + 1),
        None => before.len(),
    };
    (line, column)
}

/// What a template rendered: wiped when dropped, `[redacted]` in `Debug`, never `Display`
/// (it is made of the values).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Output(Zeroizing<Vec<u8>>);

impl Output {
    /// The rendered bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rendered bytes, still wiped when dropped.
    #[must_use]
    pub fn into_bytes(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A parsed template: the main one and the `define`d ones of one source.
pub struct Template {
    name: String,
    source: String,
    trees: ast::Trees,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Parses `source`, the template called `name` (the item key).
    ///
    /// # Errors
    /// Every error that depends only on the source: [`TemplateError::SourceTooLarge`],
    /// [`TemplateError::Parse`], and [`TemplateError::Unsupported`] for a call to an
    /// unsupported function anywhere, even in a branch or a `define` that would not run.
    pub fn parse(name: &str, source: &str, limits: &Limits) -> Result<Self, TemplateError> {
        if source.len() > limits.max_source_bytes {
            return Err(TemplateError::SourceTooLarge {
                name: name.to_owned(),
                limit: limits.max_source_bytes,
            });
        }
        let trees = parser::parse(name, source).map_err(|e| TemplateError::Parse {
            name: name.to_owned(),
            line: e.line,
            message: e.message,
        })?;
        if let Some(function) = ast::first_unsupported(&trees) {
            return Err(TemplateError::Unsupported {
                name: name.to_owned(),
                function,
            });
        }
        Ok(Self {
            name: name.to_owned(),
            source: source.to_owned(),
            trees,
        })
    }

    /// The template's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Executes the template against `values` (the decrypted items), like upstream's
    /// `text/template` + Sprig, charging everything to `budget`.
    ///
    /// # Errors
    /// See [`TemplateError`]; never a static one. No error text contains any of `values`.
    pub fn execute<K, V>(
        &self,
        values: impl IntoIterator<Item = (K, V)>,
        budget: &mut Budget,
    ) -> Result<Output, TemplateError>
    where
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let limits = *budget.limits();
        let fail = |e: ExecError| exec_error(e, &self.name, &self.source, &limits);
        let (out_cap, out_limit) = budget
            .start_template()
            .map_err(|e| fail(ExecError::Limit(e)))?;
        // The values are input, bounded by the size of the SealedSecret: they are not
        // charged, so that many templates over the same values do not run out of memory.
        let dot: BTreeMap<GoStr, GoStr> = values
            .into_iter()
            .map(|(k, v)| (GoStr::from(k.as_ref()), GoStr::from_slice(v.as_ref())))
            .collect();
        let mut exec = Exec::new(&self.trees, budget, out_cap, out_limit);
        exec.run(&self.name, Value::StrMap(Rc::new(dot)))
            .and_then(|()| exec.out_fault())
            .map_err(fail)?;
        let out = std::mem::replace(&mut exec.out, out::Out::new(0));
        drop(exec);
        let mut buf = out.finish().map_err(|f| fail(exec::fault_error(f)))?;
        budget
            .finish_template(buf.len())
            .map_err(|e| fail(ExecError::Limit(e)))?;
        Ok(Output(Zeroizing::new(std::mem::take(&mut *buf))))
    }
}

/// Renders the template `source`, called `name` (the item key), against `values` (the
/// decrypted items), like upstream's `text/template` + Sprig: [`Template::parse`] then
/// [`Template::execute`] with a fresh [`Budget`].
///
/// # Errors
/// See [`TemplateError`]. No error text contains any of `values`.
pub fn render<K, V>(
    name: &str,
    source: &str,
    values: impl IntoIterator<Item = (K, V)>,
    limits: &Limits,
) -> Result<Output, TemplateError>
where
    K: AsRef<str>,
    V: AsRef<[u8]>,
{
    Template::parse(name, source, limits)?.execute(values, &mut Budget::new(limits))
}

fn exec_error(e: ExecError, name: &str, source: &str, limits: &Limits) -> TemplateError {
    let name = name.to_owned();
    match e {
        ExecError::At {
            template,
            pos,
            context,
            message,
        } => {
            let (line, column) = location(source, pos);
            TemplateError::Exec {
                quoted_name: gofmt::go_quote(template.as_bytes(), false),
                name,
                line,
                column,
                node: context,
                message,
            }
        }
        ExecError::Plain(message) => TemplateError::Failed { name, message },
        ExecError::Unsupported(function) => TemplateError::Unsupported { name, function },
        ExecError::Limit(exceeded) => limit_error(exceeded, name, limits),
        ExecError::Depth(limit) => TemplateError::TooDeep { name, limit },
    }
}

fn limit_error(exceeded: Exceeded, name: String, limits: &Limits) -> TemplateError {
    let size = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let (limit, unit) = match exceeded {
        Exceeded::Steps => (limits.max_steps, "steps"),
        Exceeded::Bytes => (size(limits.max_output_bytes), "bytes"),
        Exceeded::TotalBytes => (limits.max_total_output_bytes, "output bytes in total"),
        Exceeded::Memory => (limits.max_memory_bytes, "bytes of memory"),
        Exceeded::Templates => (size(limits.max_templates), "templates"),
        Exceeded::Deadline => return TemplateError::Deadline { name },
        Exceeded::Cancelled => return TemplateError::Cancelled { name },
    };
    TemplateError::Limit { name, limit, unit }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str) -> Result<String, String> {
        let mut values = BTreeMap::new();
        values.insert("foo", "bar");
        render("t", source, &values, &Limits::default())
            .map(|out| String::from_utf8_lossy(out.expose()).into_owned())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn renders_the_spec_example() {
        assert_eq!(run(r#"{{ index . "foo" }}"#).as_deref(), Ok("bar"));
        assert_eq!(run("{{ .missing }}").as_deref(), Ok("<no value>"));
    }

    #[test]
    fn locations_like_go() {
        assert_eq!(location("ab\ncd", 4), (2, 1));
        assert_eq!(location("abcd", 2), (1, 2));
    }

    #[test]
    fn errors_are_one_line() {
        assert_eq!(
            run("{{ .foo.bar }}").unwrap_err(),
            "template: t:1:7: executing \"t\" at <.foo.bar>: can't evaluate field bar in type string"
        );
        assert_eq!(
            run("{{ randAlphaNum 5 }}").unwrap_err(),
            "template: t: function \"randAlphaNum\" is not supported by sealed-secrets-rs"
        );
    }
}
