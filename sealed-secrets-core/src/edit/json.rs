//! Text edits of JSON objects, from a small scanner that records where every member is.

use super::{EditError, insert_position, path_text};

/// A JSON value with byte offsets: objects keep their members, other values only their span.
#[derive(Debug)]
enum Node {
    Object {
        open: usize,
        close: usize,
        members: Vec<Member>,
    },
    Other {
        start: usize,
        end: usize,
    },
}

impl Node {
    fn span(&self) -> (usize, usize) {
        match self {
            Node::Object { open, close, .. } => (*open, *close + 1),
            Node::Other { start, end } => (*start, *end),
        }
    }
}

#[derive(Debug)]
struct Member {
    key: String,
    key_start: usize,
    key_end: usize,
    value: Node,
}

struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 128;

impl<'t> Scanner<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    fn skip_ws(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.bytes.get(self.pos) == Some(&byte)).then(|| self.pos += 1)
    }

    fn string(&mut self) -> Option<(String, usize, usize)> {
        self.skip_ws();
        let start = self.pos;
        if self.bytes.get(self.pos) != Some(&b'"') {
            return None;
        }
        self.pos += 1;
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    let raw = self.text.get(start..self.pos)?;
                    let value: String = serde_json::from_str(raw).ok()?;
                    return Some((value, start, self.pos));
                }
                _ => self.pos += 1,
            }
        }
        None
    }

    fn value(&mut self) -> Option<Node> {
        self.skip_ws();
        let start = self.pos;
        match self.bytes.get(self.pos)? {
            b'{' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                let mut members = Vec::new();
                self.skip_ws();
                if self.bytes.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        let (key, key_start, key_end) = self.string()?;
                        self.expect(b':')?;
                        let value = self.value()?;
                        members.push(Member {
                            key,
                            key_start,
                            key_end,
                            value,
                        });
                        self.skip_ws();
                        match self.bytes.get(self.pos)? {
                            b',' => self.pos += 1,
                            b'}' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Some(Node::Object {
                    open: start,
                    close: self.pos - 1,
                    members,
                })
            }
            b'[' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                self.pos += 1;
                self.skip_ws();
                if self.bytes.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.value()?;
                        self.skip_ws();
                        match self.bytes.get(self.pos)? {
                            b',' => self.pos += 1,
                            b']' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Some(Node::Other {
                    start,
                    end: self.pos,
                })
            }
            b'"' => {
                let (_, start, end) = self.string()?;
                Some(Node::Other { start, end })
            }
            _ => {
                while self
                    .bytes
                    .get(self.pos)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                {
                    self.pos += 1;
                }
                (self.pos > start).then_some(Node::Other {
                    start,
                    end: self.pos,
                })
            }
        }
    }
}

/// Cuts a stream of JSON values into one chunk per value (leading whitespace goes with the
/// value, trailing whitespace with the last one). `None` when it is not a JSON stream.
pub(super) fn split(text: &str) -> Option<Vec<String>> {
    let mut scanner = Scanner::new(text);
    let mut chunks = Vec::new();
    let mut from = 0;
    loop {
        scanner.skip_ws();
        if scanner.pos >= text.len() {
            break;
        }
        let node = scanner.value()?;
        let (_, end) = node.span();
        chunks.push(text[from..end].to_owned());
        from = end;
    }
    match chunks.last_mut() {
        Some(last) => last.push_str(&text[from..]),
        None => chunks.push(text.to_owned()),
    }
    Some(chunks)
}

fn root(text: &str) -> Result<Node, EditError> {
    let mut scanner = Scanner::new(text);
    scanner.value().ok_or(EditError::InvalidJson)
}

fn find<'n>(node: &'n Node, path: &[&str]) -> Result<Option<&'n Node>, EditError> {
    let mut current = node;
    for (depth, segment) in path.iter().enumerate() {
        let Node::Object { members, .. } = current else {
            return Err(EditError::Unsupported {
                path: path_text(&path[..depth]),
                reason: "not an object",
            });
        };
        match members.iter().find(|m| m.key == *segment) {
            Some(member) => current = &member.value,
            None => return Ok(None),
        }
    }
    match current {
        Node::Object { .. } => Ok(Some(current)),
        Node::Other { .. } => Err(EditError::Unsupported {
            path: path_text(path),
            reason: "not an object",
        }),
    }
}

/// The whitespace at the start of the line holding byte `at`.
fn line_indent(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

fn newline(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Inserts member `key` with the raw JSON `raw_value` into `object`.
fn insert_member(text: &str, object: &Node, key: &str, raw_value: &str, sorted: bool) -> String {
    let Node::Object {
        open,
        close,
        members,
    } = object
    else {
        return text.to_owned();
    };
    let nl = newline(text);
    let pretty = text[*open..=*close].contains('\n') || members.is_empty() && text.contains('\n');
    let Some(first) = members.first() else {
        let inner = if pretty {
            let indent = line_indent(text, *open);
            format!("{{{nl}{indent}  {}: {raw_value}{nl}{indent}}}", quote(key))
        } else {
            format!("{{{}:{raw_value}}}", quote(key))
        };
        return format!("{}{inner}{}", &text[..*open], &text[*close + 1..]);
    };
    let separator = &text[first.key_end..first.value.span().0];
    let keys: Vec<String> = members.iter().map(|m| m.key.clone()).collect();
    let pos = if sorted {
        insert_position(&keys, key)
    } else {
        keys.len()
    };
    let entry = format!("{}{separator}{raw_value}", quote(key));
    if let Some(next) = members.get(pos) {
        let ws_start = text[..next.key_start]
            .trim_end_matches([' ', '\t', '\n', '\r'])
            .len();
        let ws = &text[ws_start..next.key_start];
        format!(
            "{}{entry},{ws}{}",
            &text[..next.key_start],
            &text[next.key_start..]
        )
    } else {
        let last = members.last().unwrap_or(first);
        let ws_start = text[..last.key_start]
            .trim_end_matches([' ', '\t', '\n', '\r'])
            .len();
        let ws = &text[ws_start..last.key_start];
        let end = last.value.span().1;
        format!("{},{ws}{entry}{}", &text[..end], &text[end..])
    }
}

pub(super) fn set_entry(
    text: &str,
    path: &[&str],
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    let tree = root(text)?;
    if let Some(object) = find(&tree, path)? {
        let Node::Object { members, .. } = object else {
            return Err(EditError::InvalidJson);
        };
        if let Some(member) = members.iter().find(|m| m.key == key) {
            let (start, end) = member.value.span();
            return Ok(format!(
                "{}{}{}",
                &text[..start],
                quote(value),
                &text[end..]
            ));
        }
        return Ok(insert_member(text, object, key, &quote(value), true));
    }
    let (last, parent_path) = path.split_last().ok_or(EditError::PathNotFound {
        path: path_text(path),
    })?;
    let parent = find(&tree, parent_path)?.ok_or(EditError::PathNotFound {
        path: path_text(path),
    })?;
    let Node::Object { open, close, .. } = parent else {
        return Err(EditError::InvalidJson);
    };
    let raw = if text[*open..=*close].contains('\n') {
        let nl = newline(text);
        let indent = line_indent(text, *close);
        format!(
            "{{{nl}{indent}    {}: {}{nl}{indent}  }}",
            quote(key),
            quote(value)
        )
    } else {
        format!("{{{}:{}}}", quote(key), quote(value))
    };
    // A new mapping goes last, where Go's field order puts annotations after the name.
    Ok(insert_member(text, parent, last, &raw, false))
}

pub(super) fn remove_entry(
    text: &str,
    path: &[&str],
    key: &str,
) -> Result<Option<String>, EditError> {
    let tree = root(text)?;
    let Some(Node::Object {
        open,
        close,
        members,
    }) = find(&tree, path)?
    else {
        return Ok(None);
    };
    let Some(index) = members.iter().position(|m| m.key == key) else {
        return Ok(None);
    };
    let member = &members[index];
    let (from, to) = if let Some(next) = members.get(index + 1) {
        (member.key_start, next.key_start)
    } else if index > 0 {
        (members[index - 1].value.span().1, member.value.span().1)
    } else {
        (*open + 1, *close)
    };
    Ok(Some(format!("{}{}", &text[..from], &text[to..])))
}
