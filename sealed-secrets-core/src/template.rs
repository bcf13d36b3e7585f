//! Go `text/template` + Sprig subset for `spec.template.data` (SPEC §1.12).
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
//! - work, output size, source size and nesting are bounded ([`Limits`]);
//! - Sprig functions that are random, time-dependent or that we have not implemented fail with
//!   `function "X" is not supported by sealed-secrets-rs` when called.
//!
//! ```
//! use std::collections::BTreeMap;
//! use sealed_secrets_core::secret_bytes::SecretBytes;
//! use sealed_secrets_core::template::{Limits, render};
//!
//! let mut values = BTreeMap::new();
//! values.insert("user".to_owned(), SecretBytes::from_slice(b"admin"));
//! values.insert("password".to_owned(), SecretBytes::from_slice(b"p@ss\"word"));
//! let out = render(
//!     "config.json",
//!     r#"{"user": {{ .user | quote }}, "password": {{ toJson .password }}}"#,
//!     &values,
//!     &Limits::default(),
//! )?;
//! assert_eq!(out.expose(), br#"{"user": "admin", "password": "p@ss\"word"}"#);
//! # Ok::<(), sealed_secrets_core::template::TemplateError>(())
//! ```

mod ast;
mod builtins;
mod codec;
mod exec;
mod funcs;
mod gofmt;
mod goregex;
mod json;
mod lexer;
mod parser;
mod sprig;
mod sprig_data;
mod strconv;
mod value;

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::secret_bytes::SecretBytes;

use exec::{Exec, ExecError};
use funcs::Budget;
use value::{GoStr, Value};

/// Bounds on rendering one template. Exceeding one is an error, never a partial output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest output, and largest string any function may build.
    pub max_output_bytes: usize,
    /// Work budget: one step per node, command, function call and loop iteration, plus one
    /// per 64 bytes or per list element a function produces.
    pub max_steps: u64,
    /// Largest template source accepted.
    pub max_source_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_output_bytes: 1024 * 1024,
            max_steps: 1_000_000,
            max_source_bytes: 64 * 1024,
        }
    }
}

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
    /// A Sprig function that upstream has but we do not implement.
    #[error("template: {name}: function \"{function}\" is not supported by sealed-secrets-rs")]
    Unsupported { name: String, function: String },
    /// The step or output budget ran out (`unit` is `steps` or `bytes`).
    #[error("template: {name}: exceeds limit of {limit} {unit}")]
    Limit {
        name: String,
        limit: u64,
        unit: &'static str,
    },
    /// The source is larger than [`Limits::max_source_bytes`].
    #[error("template: {name}: source exceeds limit of {limit} bytes")]
    SourceTooLarge { name: String, limit: usize },
    /// Values nested deeper than printing and JSON support (only a dict containing itself
    /// gets there), or execution nested deeper than the stack allows (recursive templates).
    #[error("template: {name}: exceeds maximum nesting depth of {limit}")]
    TooDeep { name: String, limit: usize },
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

/// Renders the template `source`, called `name` (the item key), against `values` (the
/// decrypted items), like upstream's `text/template` + Sprig.
///
/// # Errors
/// See [`TemplateError`]. No error text contains any of `values`.
pub fn render(
    name: &str,
    source: &str,
    values: &BTreeMap<String, SecretBytes>,
    limits: &Limits,
) -> Result<SecretBytes, TemplateError> {
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
    let dot: BTreeMap<GoStr, GoStr> = values
        .iter()
        .map(|(k, v)| (GoStr::from(k.as_str()), GoStr::from_slice(v.expose())))
        .collect();
    let budget = Budget {
        steps: 0,
        max_steps: limits.max_steps,
        max_bytes: limits.max_output_bytes,
    };
    let mut exec = Exec::new(&trees, budget, limits.max_output_bytes);
    if let Err(e) = exec.run(name, Value::StrMap(Rc::new(dot))) {
        return Err(exec_error(e, name, source, limits));
    }
    let out = std::mem::replace(&mut exec.out, gofmt::Out::new(0));
    match out.finish() {
        Ok(mut buf) => Ok(SecretBytes::new(std::mem::take(&mut *buf))),
        Err(fault) => Err(exec_error(exec::fault_error(fault), name, source, limits)),
    }
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
        ExecError::Steps => TemplateError::Limit {
            name,
            limit: limits.max_steps,
            unit: "steps",
        },
        ExecError::Bytes => TemplateError::Limit {
            name,
            limit: u64::try_from(limits.max_output_bytes).unwrap_or(u64::MAX),
            unit: "bytes",
        },
        ExecError::Depth(limit) => TemplateError::TooDeep { name, limit },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str) -> Result<String, String> {
        let mut values = BTreeMap::new();
        values.insert("foo".to_owned(), SecretBytes::from_slice(b"bar"));
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
