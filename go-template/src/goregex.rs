//! Go (RE2) regular expressions on the `regex` crate, which is also linear-time.
//!
//! The syntaxes are nearly the same; the differences that change matches are handled here:
//! Go's `\d \w \s \b` are ASCII-only (the crate's are Unicode), Go's `\s` excludes `\v`,
//! Go understands octal escapes and `\Q…\E`. Patterns are matched against bytes, as Go's
//! strings are.

use regex::bytes::{Regex, RegexBuilder};

/// Compiled-program size limit; a pattern needing more is reported as invalid.
const SIZE_LIMIT: usize = 8 << 20;

fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match next {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str("[\\t\\n\\f\\r ]"),
                    'S' => out.push_str("[^\\t\\n\\f\\r ]"),
                    'b' if !in_class => out.push_str("(?-u:\\b)"),
                    'B' if !in_class => out.push_str("(?-u:\\B)"),
                    'Q' => {
                        let mut literal = String::new();
                        while let Some(q) = chars.next() {
                            if q == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            literal.push(q);
                        }
                        if in_class {
                            for q in literal.chars() {
                                if q.is_ascii_punctuation() {
                                    out.push('\\');
                                }
                                out.push(q);
                            }
                        } else {
                            out.push_str(&regex::escape(&literal));
                        }
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` (or `^]`) right after the opening bracket is a literal.
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // POSIX class `[:alpha:]`: copy through its closing `:]`.
                out.push('[');
                for q in chars.by_ref() {
                    out.push(q);
                    if q == ']' {
                        break;
                    }
                }
            }
            '[' => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' | '-' if in_class && chars.peek() == Some(&c) => {
                // The crate reads `&&`, `~~` and `--` in classes as set operations; Go does not.
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Compiles a Go regular expression; `None` if Go or the crate rejects it.
pub(super) fn compile(pattern: &[u8]) -> Option<Regex> {
    let pattern = std::str::from_utf8(pattern).ok()?;
    RegexBuilder::new(&translate(pattern))
        .octal(true)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
        .ok()
}

/// Go's `regexp.QuoteMeta`.
pub(super) fn quote_meta(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 2);
    for &b in s {
        if br"\.+*?()|[]{}^$".contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_classes_like_go() {
        let re = compile(br"^\d+$").unwrap();
        assert!(re.is_match(b"123"));
        assert!(!re.is_match("١٢٣".as_bytes()));
        let re = compile(br"[\w.]+").unwrap();
        assert_eq!(
            re.find(b"  a_b.c!").map(|m| m.as_bytes()),
            Some(&b"a_b.c"[..])
        );
        let re = compile(br"\s").unwrap();
        assert!(!re.is_match(b"\x0b"));
        let re = compile(br"\Qa.b\E").unwrap();
        assert!(re.is_match(b"a.b") && !re.is_match(b"axb"));
        assert!(compile(b"(").is_none());
        assert_eq!(quote_meta(b"a.b*"), br"a\.b\*");
    }
}
