//! Format-preserving edits of manifest files: change, add or remove one entry of one mapping
//! (`spec.encryptedData`, `metadata.annotations`) as a text edit, so that every other byte —
//! comments, blank lines, key order, quoting, the other items' ciphertexts — stays as it was.
//!
//! A file is first cut into [`Chunk`]s, one per document, whose texts concatenate back to the
//! file exactly. Each edit then works on one chunk's text. Only what our tools and `kubeseal`
//! write (and what people write by hand) is supported: block-style YAML mappings along the
//! path (the target mapping may also be an empty flow map `{}`), and any JSON. Anything else
//! is refused with [`EditError::Unsupported`] rather than guessed at; callers re-read the
//! result and compare it with what they meant to write.
//!
//! Values written are base64 ciphertexts and fingerprints, which need no YAML quoting; keys
//! are quoted when YAML 1.1 would read them as something other than a string.

mod json;
mod yaml;

/// How a file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Yaml,
}

/// One document of a file: its exact text (separators included) and syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub text: String,
    pub syntax: Syntax,
}

/// Why an edit could not be made. Messages name paths and keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("cannot find {path} in the document")]
    PathNotFound { path: String },
    #[error("{path} is written in a layout this edit does not support ({reason})")]
    Unsupported { path: String, reason: &'static str },
    #[error("invalid JSON document")]
    InvalidJson,
}

/// Cuts `text` into documents: YAML at `---` lines, a JSON stream at its top-level values.
/// The chunks' texts concatenate to `text`.
#[must_use]
pub fn split(text: &str) -> Vec<Chunk> {
    if text.trim_start().starts_with('{')
        && let Some(chunks) = json::split(text)
    {
        {
            return chunks
                .into_iter()
                .map(|text| Chunk {
                    text,
                    syntax: Syntax::Json,
                })
                .collect();
        }
    }
    yaml::split(text)
        .into_iter()
        .map(|text| Chunk {
            text,
            syntax: Syntax::Yaml,
        })
        .collect()
}

/// Joins chunks back into a file.
#[must_use]
pub fn join(chunks: &[Chunk]) -> String {
    chunks.iter().map(|c| c.text.as_str()).collect()
}

/// Sets `key` to the string `value` in the mapping at `path` of one document: replaces the
/// existing entry's value, or inserts a new entry (in sorted position when the mapping is
/// sorted, else last). A missing last mapping of the path is created in its parent.
///
/// `value` must be a string that needs no quoting in YAML (base64, fingerprints).
///
/// # Errors
/// The path is missing or written in an unsupported layout.
pub fn set_entry(
    chunk: &Chunk,
    path: &[&str],
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    match chunk.syntax {
        Syntax::Json => json::set_entry(&chunk.text, path, key, value),
        Syntax::Yaml => yaml::set_entry(&chunk.text, path, key, value),
    }
}

/// [`set_entry`] for any one-line string `value` (JSON text, say): in YAML it is written
/// single-quoted, so it reads back as the same string whatever characters it holds.
///
/// # Errors
/// The path is missing or written in an unsupported layout.
pub fn set_string_entry(
    chunk: &Chunk,
    path: &[&str],
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    match chunk.syntax {
        Syntax::Json => set_entry(chunk, path, key, value),
        Syntax::Yaml => set_entry(
            chunk,
            path,
            key,
            &format!("'{}'", value.replace('\'', "''")),
        ),
    }
}

/// Removes `key` from the mapping at `path`; `Ok(None)` when it is not there.
///
/// # Errors
/// The path is written in an unsupported layout.
pub fn remove_entry(chunk: &Chunk, path: &[&str], key: &str) -> Result<Option<String>, EditError> {
    match chunk.syntax {
        Syntax::Json => json::remove_entry(&chunk.text, path, key),
        Syntax::Yaml => yaml::remove_entry(&chunk.text, path, key),
    }
}

fn path_text(path: &[&str]) -> String {
    path.join(".")
}

/// Where a new key goes among `keys`: before the first greater key when they are sorted,
/// else at the end.
fn insert_position(keys: &[String], key: &str) -> usize {
    if keys.windows(2).all(|w| w[0] <= w[1]) {
        keys.iter()
            .position(|k| k.as_str() > key)
            .unwrap_or(keys.len())
    } else {
        keys.len()
    }
}

#[cfg(test)]
mod tests;
