//! Tokenizer for Go `text/template` sources.
//!
//! It follows the state machine of Go's `text/template/parse` lexer (same tokens, same
//! positions, same line numbers, same error texts), because the parser's error messages
//! quote tokens and lines and must read the same as upstream's.

use super::gofmt::{go_quote, is_print};

mod action;

const LEFT_DELIM: &str = "{{";
const RIGHT_DELIM: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";
/// A trim marker plus the space before or after it.
const TRIM_MARKER_LEN: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Error,
    Bool,
    Char,
    CharConstant,
    Comment,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Kind {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            Kind::Block
                | Kind::Break
                | Kind::Continue
                | Kind::Dot
                | Kind::Define
                | Kind::Else
                | Kind::End
                | Kind::If
                | Kind::Nil
                | Kind::Range
                | Kind::Template
                | Kind::With
        )
    }
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub(super) kind: Kind,
    /// Byte offset of the token in the source.
    pub(super) pos: usize,
    /// The token's text; for `Error`, the message.
    pub(super) val: String,
    /// Line (1-based) where the token starts.
    pub(super) line: usize,
}

impl Token {
    /// How Go's parser names a token in "unexpected …" messages.
    pub(super) fn describe(&self) -> String {
        match self.kind {
            Kind::Eof => "EOF".to_owned(),
            Kind::Error => self.val.clone(),
            k if k.is_keyword() => format!("<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                format!("{}...", go_quote(head.as_bytes(), false))
            }
            _ => go_quote(self.val.as_bytes(), false),
        }
    }
}

fn keyword(word: &str) -> Option<Kind> {
    Some(match word {
        "block" => Kind::Block,
        "break" => Kind::Break,
        "continue" => Kind::Continue,
        "define" => Kind::Define,
        "else" => Kind::Else,
        "end" => Kind::End,
        "if" => Kind::If,
        "range" => Kind::Range,
        "nil" => Kind::Nil,
        "template" => Kind::Template,
        "with" => Kind::With,
        _ => return None,
    })
}

pub(super) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

pub(super) fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

fn has_left_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && s[0] == b'-' && is_space(char::from(s[1]))
}

fn has_right_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && is_space(char::from(s[0])) && s[1] == b'-'
}

fn count_newlines(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count()
}

/// Go's `%#U`: `U+0041 'A'` (the quoted form only for printable runes).
fn sharp_u(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{c}'", u32::from(c))
    } else {
        format!("U+{:04X}", u32::from(c))
    }
}

enum State {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    at_eof: bool,
    paren_depth: i64,
    line: usize,
    start_line: usize,
    inside_action: bool,
    tokens: Vec<Token>,
    done: bool,
}

/// Lexes the whole source. The last token is `Eof` or `Error`.
pub(super) fn lex(input: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        input,
        pos: 0,
        start: 0,
        at_eof: false,
        paren_depth: 0,
        line: 1,
        start_line: 1,
        inside_action: false,
        tokens: Vec::new(),
        done: false,
    };
    lexer.run();
    lexer.tokens
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn rest_at(&self, at: usize) -> &[u8] {
        self.input.as_bytes().get(at..).unwrap_or(&[])
    }

    fn next(&mut self) -> Option<char> {
        let Some(c) = self.rest().chars().next() else {
            self.at_eof = true;
            return None;
        };
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        self.rest().chars().next()
    }

    fn backup(&mut self) {
        if !self.at_eof && self.pos > 0 {
            let last = self
                .input
                .get(..self.pos)
                .and_then(|s| s.chars().next_back());
            if let Some(c) = last {
                self.pos -= c.len_utf8();
                if c == '\n' {
                    self.line -= 1;
                }
            }
        }
    }

    fn slice(&self, from: usize, to: usize) -> &str {
        self.input.get(from..to).unwrap_or("")
    }

    fn this_token(&mut self, kind: Kind) -> Token {
        let token = Token {
            kind,
            pos: self.start,
            val: self.slice(self.start, self.pos).to_owned(),
            line: self.start_line,
        };
        self.start = self.pos;
        self.start_line = self.line;
        token
    }

    fn emit(&mut self, kind: Kind) -> Option<State> {
        let token = self.this_token(kind);
        self.emit_token(token)
    }

    fn emit_token(&mut self, token: Token) -> Option<State> {
        if token.kind == Kind::Eof {
            self.done = true;
        }
        self.tokens.push(token);
        None
    }

    fn ignore(&mut self) {
        self.line += count_newlines(self.slice(self.start, self.pos));
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while matches!(self.next(), Some(c) if valid.contains(c)) {}
        self.backup();
    }

    fn error(&mut self, message: String) -> Option<State> {
        self.tokens.push(Token {
            kind: Kind::Error,
            pos: self.start,
            val: message,
            line: self.start_line,
        });
        self.done = true;
        None
    }

    fn run(&mut self) {
        while !self.done {
            let mut state = if self.inside_action {
                State::InsideAction
            } else {
                State::Text
            };
            while let Some(next) = self.step(state) {
                state = next;
            }
        }
    }

    fn step(&mut self, state: State) -> Option<State> {
        match state {
            State::Text => self.lex_text(),
            State::LeftDelim => self.lex_left_delim(),
            State::Comment => self.lex_comment(),
            State::RightDelim => self.lex_right_delim(),
            State::InsideAction => self.lex_inside_action(),
            State::Space => self.lex_space(),
            State::Identifier => self.lex_identifier(),
            State::Field => self.lex_field_or_variable(Kind::Field),
            State::Variable => {
                if self.at_terminator() {
                    return self.emit(Kind::Variable);
                }
                self.lex_field_or_variable(Kind::Variable)
            }
            State::Char => self.lex_char(),
            State::Number => self.lex_number(),
            State::Quote => self.lex_quote(),
            State::RawQuote => self.lex_raw_quote(),
        }
    }

    fn lex_text(&mut self) -> Option<State> {
        if let Some(x) = self.rest().find(LEFT_DELIM) {
            if x > 0 {
                self.pos += x;
                let delim_end = self.pos + LEFT_DELIM.len();
                let mut trim = 0;
                if has_left_trim_marker(self.rest_at(delim_end)) {
                    let text = self.slice(self.start, self.pos);
                    trim = text.len() - text.trim_end_matches(is_space).len();
                }
                self.pos -= trim;
                self.line += count_newlines(self.slice(self.start, self.pos));
                let token = self.this_token(Kind::Text);
                self.pos += trim;
                self.ignore();
                if !token.val.is_empty() {
                    return self.emit_token(token);
                }
            }
            return Some(State::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += count_newlines(self.slice(self.start, self.pos));
            return self.emit(Kind::Text);
        }
        self.emit(Kind::Eof)
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest_at(self.pos);
        if has_right_trim_marker(rest)
            && self
                .rest_at(self.pos + TRIM_MARKER_LEN)
                .starts_with(RIGHT_DELIM.as_bytes())
        {
            return (true, true);
        }
        (rest.starts_with(RIGHT_DELIM.as_bytes()), false)
    }

    fn left_trim_length(&self) -> usize {
        let rest = self.rest();
        rest.len() - rest.trim_start_matches(is_space).len()
    }

    fn lex_left_delim(&mut self) -> Option<State> {
        self.pos += LEFT_DELIM.len();
        let trim = has_left_trim_marker(self.rest_at(self.pos));
        let after_marker = if trim { TRIM_MARKER_LEN } else { 0 };
        if self
            .rest_at(self.pos + after_marker)
            .starts_with(LEFT_COMMENT.as_bytes())
        {
            self.pos += after_marker;
            self.ignore();
            return Some(State::Comment);
        }
        let token = self.this_token(Kind::LeftDelim);
        self.inside_action = true;
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        self.emit_token(token)
    }

    fn lex_comment(&mut self) -> Option<State> {
        self.pos += LEFT_COMMENT.len();
        let Some(x) = self.rest().find(RIGHT_COMMENT) else {
            return self.error("unclosed comment".to_owned());
        };
        self.pos += x + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".to_owned());
        }
        self.line += count_newlines(self.slice(self.start, self.pos));
        let _comment = self.this_token(Kind::Comment);
        if trim {
            self.pos += TRIM_MARKER_LEN;
        }
        self.pos += RIGHT_DELIM.len();
        if trim {
            self.pos += self.left_trim_length();
        }
        self.ignore();
        Some(State::Text)
    }

    fn lex_right_delim(&mut self) -> Option<State> {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += TRIM_MARKER_LEN;
            self.ignore();
        }
        self.pos += RIGHT_DELIM.len();
        let token = self.this_token(Kind::RightDelim);
        if trim {
            self.pos += self.left_trim_length();
            self.ignore();
        }
        self.inside_action = false;
        self.emit_token(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src).into_iter().map(|t| (t.kind, t.val)).collect()
    }

    #[test]
    fn text_and_action() {
        assert_eq!(
            kinds("a {{- .b | c 1 -}} d"),
            vec![
                (Kind::Text, "a".into()),
                (Kind::LeftDelim, "{{".into()),
                (Kind::Field, ".b".into()),
                (Kind::Space, " ".into()),
                (Kind::Pipe, "|".into()),
                (Kind::Space, " ".into()),
                (Kind::Identifier, "c".into()),
                (Kind::Space, " ".into()),
                (Kind::Number, "1".into()),
                (Kind::RightDelim, "}}".into()),
                (Kind::Text, "d".into()),
                (Kind::Eof, "".into()),
            ]
        );
    }

    #[test]
    fn comments_vanish() {
        assert_eq!(
            kinds("x {{- /* hi */ -}} y"),
            vec![
                (Kind::Text, "x".into()),
                (Kind::Text, "y".into()),
                (Kind::Eof, "".into())
            ]
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            kinds("{{ \"abc }}").last().map(|t| t.1.clone()).unwrap(),
            "unterminated quoted string"
        );
        assert_eq!(
            kinds("{{ 3x }}").last().map(|t| t.1.clone()).unwrap(),
            "bad number syntax: \"3x\""
        );
    }
}
