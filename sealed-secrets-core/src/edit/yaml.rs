//! Text edits of block-style YAML mappings, line by line.

use super::{EditError, insert_position, path_text};

/// One line: byte offsets of its start, its end (before `\r\n`/`\n`) and the next line.
#[derive(Clone, Copy, Debug)]
struct Line {
    start: usize,
    end: usize,
    next: usize,
}

fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let (end, next) = match text[start..].find('\n') {
            Some(i) => (start + i, start + i + 1),
            None => (text.len(), text.len()),
        };
        let end = if text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        out.push(Line { start, end, next });
        start = next;
    }
    out
}

fn is_marker(line: &str) -> bool {
    line == "---"
        || line.starts_with("--- ")
        || line.starts_with("---\t")
        || line == "..."
        || line.starts_with('%')
}

/// Cuts a YAML stream before each `---` line (the first chunk also holds what precedes it).
pub(super) fn split(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut from = 0;
    for line in lines(text) {
        let body = &text[line.start..line.end];
        let has_content = text[from..line.start].lines().any(is_content);
        if has_content && (body == "---" || body.starts_with("--- ")) {
            chunks.push(text[from..line.start].to_owned());
            from = line.start;
        }
    }
    if from < text.len() || chunks.is_empty() {
        chunks.push(text[from..].to_owned());
    }
    chunks
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// A line that carries YAML content (not blank, not a comment, not a document marker).
fn is_content(line: &str) -> bool {
    let trimmed = line.trim_start_matches(' ');
    !(trimmed.is_empty() || trimmed.starts_with('#') || is_marker(line))
}

/// An entry `key: …` of a block mapping, with the lines its value spans.
#[derive(Debug)]
struct Entry {
    key: String,
    indent: usize,
    /// Index of the key line.
    line: usize,
    /// One past the last content line of the value.
    end_line: usize,
    /// Byte offset just after the `:` on the key line.
    after_colon: usize,
}

/// Parses `key:` at the start of `rest`: the key and the offset just after the colon.
fn parse_key(rest: &str) -> Option<(String, usize)> {
    if let Some(body) = rest.strip_prefix('"') {
        let mut key = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    let (_, escaped) = chars.next()?;
                    key.push(match escaped {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                }
                '"' => return colon_after(rest, 1 + i + 1).map(|at| (key, at)),
                other => key.push(other),
            }
        }
        None
    } else if let Some(body) = rest.strip_prefix('\'') {
        let mut key = String::new();
        let mut i = 0;
        let bytes = body.as_bytes();
        while i < bytes.len() {
            if bytes[i] == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    key.push('\'');
                    i += 2;
                    continue;
                }
                return colon_after(rest, 1 + i + 1).map(|at| (key, at));
            }
            let c = body[i..].chars().next()?;
            key.push(c);
            i += c.len_utf8();
        }
        None
    } else {
        if rest.starts_with(['?', '[', '{', '&', '*', '!', '|', '>'])
            || rest.starts_with("- ")
            || rest == "-"
        {
            return None;
        }
        let bytes = rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b':'
                && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t')
            {
                return Some((rest[..i].trim_end().to_owned(), i + 1));
            }
            if bytes[i] == b'#' && i > 0 && bytes[i - 1] == b' ' {
                return None;
            }
            i += 1;
        }
        None
    }
}

fn colon_after(rest: &str, mut at: usize) -> Option<usize> {
    let bytes = rest.as_bytes();
    while at < bytes.len() && (bytes[at] == b' ' || bytes[at] == b'\t') {
        at += 1;
    }
    (bytes.get(at) == Some(&b':')).then_some(at + 1)
}

/// The entries of the block mapping in lines `[from, to)` whose parent sits at `parent_indent`
/// (`None` for the document root).
fn entries(
    text: &str,
    ls: &[Line],
    from: usize,
    to: usize,
    parent_indent: Option<usize>,
    path: &[&str],
) -> Result<Vec<Entry>, EditError> {
    let unsupported = |reason| EditError::Unsupported {
        path: path_text(path),
        reason,
    };
    let mut out: Vec<Entry> = Vec::new();
    let mut child_indent = None;
    for (index, line) in ls.iter().enumerate().take(to).skip(from) {
        let body = &text[line.start..line.end];
        if !is_content(body) {
            continue;
        }
        let indent = indent_of(body);
        if parent_indent.is_some_and(|p| indent <= p) {
            return Err(unsupported("unexpected indentation"));
        }
        let child = *child_indent.get_or_insert(indent);
        if indent > child {
            if let Some(last) = out.last_mut() {
                last.end_line = index + 1;
                continue;
            }
            return Err(unsupported("unexpected indentation"));
        }
        if indent < child {
            return Err(unsupported("unexpected indentation"));
        }
        let (key, after) =
            parse_key(&body[indent..]).ok_or_else(|| unsupported("not a block mapping"))?;
        out.push(Entry {
            key,
            indent,
            line: index,
            end_line: index + 1,
            after_colon: line.start + indent + after,
        });
    }
    Ok(out)
}

/// What follows `key:` on its line, without a trailing comment.
fn inline_value<'t>(text: &'t str, ls: &[Line], entry: &Entry) -> &'t str {
    let rest = &text[entry.after_colon..ls[entry.line].end];
    let cut = rest.find(" #").unwrap_or(rest.len());
    rest[..cut].trim()
}

/// Where the mapping at a path is.
enum Found {
    /// A block mapping: its entries, lines `[from, to)` and the indent of its parent key.
    Block {
        entries: Vec<Entry>,
        parent: Option<Entry>,
    },
    /// `key: {}` on the parent's line.
    EmptyFlow { parent: Entry },
}

fn find(text: &str, ls: &[Line], path: &[&str]) -> Result<Option<Found>, EditError> {
    let mut current = entries(text, ls, 0, ls.len(), None, &[])?;
    let mut parent: Option<Entry> = None;
    for (depth, segment) in path.iter().enumerate() {
        let Some(entry) = current.into_iter().find(|e| e.key == *segment) else {
            return Ok(None);
        };
        let value = inline_value(text, ls, &entry);
        let here = &path[..=depth];
        if value == "{}" {
            if depth + 1 == path.len() {
                return Ok(Some(Found::EmptyFlow { parent: entry }));
            }
            return Ok(None);
        }
        if !value.is_empty() {
            return Err(EditError::Unsupported {
                path: path_text(here),
                reason: "not a block mapping",
            });
        }
        current = entries(
            text,
            ls,
            entry.line + 1,
            entry.end_line,
            Some(entry.indent),
            here,
        )?;
        parent = Some(entry);
    }
    Ok(Some(Found::Block {
        entries: current,
        parent,
    }))
}

fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

/// A key as YAML 1.1 reads back as the same string.
fn yaml_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && !key.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '.' | '+'))
        && !matches!(
            key.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "null"
        );
    if plain {
        key.to_owned()
    } else {
        serde_json::to_string(key).unwrap_or_else(|_| format!("\"{key}\""))
    }
}

/// Inserts `insert` at byte `at`, adding a line break first when `at` is the end of a file
/// that does not end with one.
fn insert_lines(text: &str, at: usize, insert: &str) -> String {
    let mut out = String::with_capacity(text.len() + insert.len() + 2);
    out.push_str(&text[..at]);
    if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
        out.push_str(newline(text));
    }
    out.push_str(insert);
    out.push_str(&text[at..]);
    out
}

/// Byte offset where a new entry goes among `entries` (after `after_line` when empty).
fn insertion_offset(ls: &[Line], entries: &[Entry], key: &str, after_line: Option<usize>) -> usize {
    let keys: Vec<String> = entries.iter().map(|e| e.key.clone()).collect();
    let pos = insert_position(&keys, key);
    if let Some(entry) = entries.get(pos) {
        ls[entry.line].start
    } else if let Some(last) = entries.last() {
        ls[last.end_line - 1].next
    } else {
        after_line.map_or(0, |l| ls[l].next)
    }
}

pub(super) fn set_entry(
    text: &str,
    path: &[&str],
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    let ls = lines(text);
    let nl = newline(text);
    match find(text, &ls, path)? {
        Some(Found::Block { entries, parent }) => {
            if let Some(entry) = entries.iter().find(|e| e.key == key) {
                let last = ls[entry.end_line - 1];
                let tail_start = if entry.end_line == entry.line + 1 {
                    // Keep a comment after a one-line value.
                    let rest = &text[entry.after_colon..last.end];
                    rest.find(" #").map_or(last.end, |cut| {
                        entry.after_colon + rest[..cut].trim_end().len()
                    })
                } else {
                    last.end
                };
                return Ok(format!(
                    "{} {value}{}",
                    &text[..entry.after_colon],
                    &text[tail_start..]
                ));
            }
            let indent = match (entries.first(), &parent) {
                (Some(first), _) => first.indent,
                (None, Some(p)) => p.indent + 2,
                (None, None) => 0,
            };
            let at = insertion_offset(&ls, &entries, key, parent.as_ref().map(|p| p.end_line - 1));
            let line = format!("{}{}: {value}{nl}", " ".repeat(indent), yaml_key(key));
            Ok(insert_lines(text, at, &line))
        }
        Some(Found::EmptyFlow { parent }) => {
            let line_end = ls[parent.line].end;
            let rest = &text[parent.after_colon..line_end];
            let brace = rest.find("{}").map_or(line_end, |i| parent.after_colon + i);
            let mut out = String::with_capacity(text.len() + value.len() + 64);
            out.push_str(text[..brace].trim_end_matches(' '));
            out.push_str(&text[brace + 2..ls[parent.line].next]);
            if ls[parent.line].next == text.len() && !text.ends_with('\n') {
                out.push_str(nl);
            }
            out.push_str(&format!(
                "{}{}: {value}{nl}",
                " ".repeat(parent.indent + 2),
                yaml_key(key)
            ));
            out.push_str(&text[ls[parent.line].next..]);
            Ok(out)
        }
        None => {
            // Create the last mapping of the path in its parent.
            let Some((last, parent_path)) = path.split_last() else {
                return Err(EditError::PathNotFound {
                    path: path_text(path),
                });
            };
            let Some(Found::Block { entries, parent }) = find(text, &ls, parent_path)? else {
                return Err(EditError::PathNotFound {
                    path: path_text(path),
                });
            };
            let indent = match (entries.first(), &parent) {
                (Some(first), _) => first.indent,
                (None, Some(p)) => p.indent + 2,
                (None, None) => 0,
            };
            let at = insertion_offset(&ls, &entries, last, parent.as_ref().map(|p| p.end_line - 1));
            let lines = format!(
                "{pad}{}:{nl}{pad}  {}: {value}{nl}",
                yaml_key(last),
                yaml_key(key),
                pad = " ".repeat(indent)
            );
            Ok(insert_lines(text, at, &lines))
        }
    }
}

pub(super) fn remove_entry(
    text: &str,
    path: &[&str],
    key: &str,
) -> Result<Option<String>, EditError> {
    let ls = lines(text);
    let Some(Found::Block { entries, parent }) = find(text, &ls, path)? else {
        return Ok(None);
    };
    let Some(entry) = entries.iter().find(|e| e.key == key) else {
        return Ok(None);
    };
    let from = ls[entry.line].start;
    let to = ls[entry.end_line - 1].next;
    if entries.len() > 1 {
        return Ok(Some(format!("{}{}", &text[..from], &text[to..])));
    }
    // The last entry: leave an empty map (`{}`), not a null.
    let Some(parent) = parent else {
        return Ok(Some(format!("{}{}", &text[..from], &text[to..])));
    };
    let key_line = ls[parent.line];
    let rest = &text[parent.after_colon..key_line.end];
    let comment = rest
        .find(" #")
        .map_or(key_line.end, |i| parent.after_colon + i);
    Ok(Some(format!(
        "{} {{}}{}{}",
        text[..comment].trim_end_matches(' '),
        &text[comment..from],
        &text[to..]
    )))
}
