//! How go-yaml v2 writes one scalar: which style a string asks for, what its characters
//! allow, and the style that results; plus the text of numbers and of strings as go-yaml reads
//! them back from Go's JSON.

use std::borrow::Cow;

use super::super::go_number;
use super::super::resolve::{self, Resolved};

/// Where a node sits, as go-yaml's emitter tracks it.
#[derive(Clone, Copy, Default)]
pub(super) struct Context {
    /// The node is a mapping value (or a key written after `?`).
    pub mapping: bool,
    /// The node is a key written as `key:`.
    pub simple_key: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// What the characters of a string allow, as go-yaml's scalar analysis decides it.
pub(super) struct Analysis {
    pub multiline: bool,
    pub plain_allowed: bool,
    pub single_quoted_allowed: bool,
    pub block_allowed: bool,
}

/// go-yaml's printable set (with its unicode output on): what may appear unescaped.
pub(super) fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}')
        || (('\u{E000}'..='\u{FFFD}').contains(&c) && c != '\u{FEFF}')
}

pub(super) fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

pub(super) fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = value.chars().collect();
    let mut block_indicators = value.starts_with("---") || value.starts_with("...");
    let (mut line_breaks, mut special_characters) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let last = chars.len() - 1;
    for (index, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = chars.get(index + 1).is_none_or(|next| is_blank(*next));
        if index == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special_characters = true;
        }
        if c == ' ' {
            leading_space |= index == 0;
            trailing_space |= index == last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= index == 0;
            trailing_break |= index == last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank(c) || is_break(c) || c == '\0';
    }
    let mut analysis = Analysis {
        multiline: line_breaks,
        plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        analysis.plain_allowed = false;
    }
    if trailing_space {
        analysis.block_allowed = false;
    }
    if break_space {
        analysis.plain_allowed = false;
        analysis.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        analysis.plain_allowed = false;
        analysis.single_quoted_allowed = false;
        analysis.block_allowed = false;
    }
    if line_breaks || block_indicators {
        analysis.plain_allowed = false;
    }
    analysis
}

/// The style go-yaml's encoder asks for, before the emitter checks what the text allows.
pub(super) fn requested_style(text: &str) -> Style {
    if text.contains('\n') {
        Style::Literal
    } else if resolve::plain_reads_as_other_type(text) {
        Style::DoubleQuoted
    } else {
        Style::Plain
    }
}

pub(super) fn select_style(
    requested: Style,
    analysis: &Analysis,
    empty: bool,
    context: Context,
) -> Style {
    let mut style = requested;
    if context.simple_key && analysis.multiline {
        style = Style::DoubleQuoted;
    }
    if style == Style::Plain && (!analysis.plain_allowed || (empty && context.simple_key)) {
        style = Style::SingleQuoted;
    }
    if style == Style::SingleQuoted && !analysis.single_quoted_allowed {
        style = Style::DoubleQuoted;
    }
    if style == Style::Literal && (!analysis.block_allowed || context.simple_key) {
        style = Style::DoubleQuoted;
    }
    style
}

/// A string as go-yaml reads it back from Go's JSON, which `JSONToYAML` parses as YAML. Go's
/// JSON escapes every line break but U+0085 (NEL), which YAML's double-quoted scalars fold like
/// a newline: a run of spaces and NELs becomes one space, or `n-1` newlines for `n` NELs.
pub(super) fn as_read_back(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{85}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != ' ' && c != '\u{85}' {
            out.push(c);
            continue;
        }
        let (mut spaces, mut breaks) = (usize::from(c == ' '), usize::from(c != ' '));
        while let Some(&next) = chars.peek() {
            match next {
                ' ' => spaces += 1,
                '\u{85}' => breaks += 1,
                _ => break,
            }
            chars.next();
        }
        match breaks {
            0 => out.extend(std::iter::repeat_n(' ', spaces)),
            1 => out.push(' '),
            _ => out.extend(std::iter::repeat_n('\n', breaks - 1)),
        }
    }
    Cow::Owned(out)
}

/// Number text as go-yaml prints a number it read from Go's JSON.
pub(super) fn number_text(number: &serde_json::Number) -> String {
    if let Some(value) = number.as_i64() {
        return value.to_string();
    }
    if let Some(value) = number.as_u64() {
        return value.to_string();
    }
    let json_text = go_number::format_json(number.as_f64().unwrap_or_default());
    match resolve::resolve_plain(&json_text) {
        Resolved::Int(value) => value.to_string(),
        Resolved::Uint(value) => value.to_string(),
        Resolved::Float(value) => go_number::format_g(value, false),
        _ => json_text,
    }
}
