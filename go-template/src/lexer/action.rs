//! Lexing inside an action (`{{ … }}`): spaces, identifiers, fields and variables,
//! numbers, characters and quoted strings, as Go's `lexInsideAction` and the states it
//! switches to.

use super::*;

impl Lexer<'_> {
    pub(super) fn lex_inside_action(&mut self) -> Option<State> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return Some(State::RightDelim);
            }
            return self.error("unclosed left paren".to_owned());
        }
        let Some(c) = self.next() else {
            return self.error("unclosed action".to_owned());
        };
        match c {
            c if is_space(c) => {
                self.backup();
                Some(State::Space)
            }
            '=' => self.emit(Kind::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.error("expected :=".to_owned());
                }
                self.emit(Kind::Declare)
            }
            '|' => self.emit(Kind::Pipe),
            '"' => Some(State::Quote),
            '`' => Some(State::RawQuote),
            '$' => Some(State::Variable),
            '\'' => Some(State::Char),
            '.' if !matches!(self.rest().bytes().next(), None | Some(b'0'..=b'9')) => {
                Some(State::Field)
            }
            '.' | '+' | '-' | '0'..='9' => {
                self.backup();
                Some(State::Number)
            }
            c if is_alphanumeric(c) => {
                self.backup();
                Some(State::Identifier)
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(Kind::LeftParen)
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error("unexpected right paren".to_owned());
                }
                self.emit(Kind::RightParen)
            }
            c if c.is_ascii() && is_print(c) => self.emit(Kind::Char),
            c => self.error(format!("unrecognized character in action: {}", sharp_u(c))),
        }
    }

    pub(super) fn lex_space(&mut self) -> Option<State> {
        let mut spaces = 0;
        while matches!(self.peek(), Some(c) if is_space(c)) {
            self.next();
            spaces += 1;
        }
        let before = self.pos.saturating_sub(1);
        if has_right_trim_marker(self.rest_at(before))
            && self
                .rest_at(before + TRIM_MARKER_LEN)
                .starts_with(RIGHT_DELIM.as_bytes())
        {
            self.backup();
            if spaces == 1 {
                return Some(State::RightDelim);
            }
        }
        self.emit(Kind::Space)
    }

    pub(super) fn lex_identifier(&mut self) -> Option<State> {
        loop {
            match self.next() {
                Some(c) if is_alphanumeric(c) => {}
                c => {
                    self.backup();
                    let word = self.slice(self.start, self.pos).to_owned();
                    if !self.at_terminator() {
                        return self.bad_character(c);
                    }
                    let kind = match keyword(&word) {
                        Some(kind) => kind,
                        None if word == "true" || word == "false" => Kind::Bool,
                        None => Kind::Identifier,
                    };
                    return self.emit(kind);
                }
            }
        }
    }

    pub(super) fn bad_character(&mut self, c: Option<char>) -> Option<State> {
        let shown = c.map_or_else(|| "U+FFFFFFFFFFFFFFFF".to_owned(), sharp_u);
        self.error(format!("bad character {shown}"))
    }

    pub(super) fn lex_field_or_variable(&mut self, kind: Kind) -> Option<State> {
        if self.at_terminator() {
            return self.emit(if kind == Kind::Variable {
                Kind::Variable
            } else {
                Kind::Dot
            });
        }
        let last = loop {
            match self.next() {
                Some(c) if is_alphanumeric(c) => {}
                c => {
                    self.backup();
                    break c;
                }
            }
        };
        if !self.at_terminator() {
            return self.bad_character(last);
        }
        self.emit(kind)
    }

    pub(super) fn at_terminator(&mut self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            Some(_) => self.rest().starts_with(RIGHT_DELIM),
        }
    }

    pub(super) fn lex_char(&mut self) -> Option<State> {
        loop {
            match self.next() {
                Some('\\') => {
                    if matches!(self.next(), None | Some('\n')) {
                        return self.error("unterminated character constant".to_owned());
                    }
                }
                None | Some('\n') => {
                    return self.error("unterminated character constant".to_owned());
                }
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::CharConstant)
    }

    pub(super) fn lex_number(&mut self) -> Option<State> {
        if !self.scan_number() {
            let text = go_quote(self.slice(self.start, self.pos).as_bytes(), false);
            return self.error(format!("bad number syntax: {text}"));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.slice(self.start, self.pos).ends_with('i') {
                let text = go_quote(self.slice(self.start, self.pos).as_bytes(), false);
                return self.error(format!("bad number syntax: {text}"));
            }
            return self.emit(Kind::Complex);
        }
        self.emit(Kind::Number)
    }

    pub(super) fn scan_number(&mut self) -> bool {
        const DECIMAL: &str = "0123456789_";
        const HEX: &str = "0123456789abcdefABCDEF_";
        self.accept("+-");
        let mut digits = DECIMAL;
        if self.accept("0") {
            if self.accept("xX") {
                digits = HEX;
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits == DECIMAL && self.accept("eE") {
            self.accept("+-");
            self.accept_run(DECIMAL);
        }
        if digits == HEX && self.accept("pP") {
            self.accept("+-");
            self.accept_run(DECIMAL);
        }
        self.accept("i");
        if matches!(self.peek(), Some(c) if is_alphanumeric(c)) {
            self.next();
            return false;
        }
        true
    }

    pub(super) fn lex_quote(&mut self) -> Option<State> {
        loop {
            match self.next() {
                Some('\\') => {
                    if matches!(self.next(), None | Some('\n')) {
                        return self.error("unterminated quoted string".to_owned());
                    }
                }
                None | Some('\n') => return self.error("unterminated quoted string".to_owned()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::String)
    }

    pub(super) fn lex_raw_quote(&mut self) -> Option<State> {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".to_owned()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::RawString)
    }
}
