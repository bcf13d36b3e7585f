//! Parser for Go `text/template` sources, producing the tree in [`super::ast`].
//!
//! It follows Go's recursive-descent parser (`text/template/parse/parse.go`) so that the same
//! sources are accepted and rejected, with the same messages and line numbers. Unlike Go it
//! limits nesting (parentheses and control structures) to [`MAX_NESTING`], so that a hostile
//! template cannot exhaust the stack.

use super::ast::{Arg, Branch, Command, Node, Number, Pipe, Trees, Var, is_empty_tree};
use super::funcs;
use super::gofmt::go_quote;
use super::lexer::{Kind, Token, lex};
use super::strconv::{
    NumError, go_char_constant, go_unquote, parse_float, parse_int_base0, parse_uint_base0,
};

mod pipeline;

/// Deepest nesting of parentheses and `if`/`range`/`with`/`define` accepted.
pub(super) const MAX_NESTING: usize = 100;

/// A parse error: the line Go would report and the message.
#[derive(Debug)]
pub(super) struct ParseError {
    pub(super) line: usize,
    pub(super) message: String,
}

/// What `textOrAction` found: a node, or the end of a list.
enum Item {
    Node(Node),
    End,
    Else,
}

/// Per-tree parsing state (Go keeps it in each `Tree`; `define` bodies get a fresh one).
struct Scope {
    vars: Vec<String>,
    range_depth: usize,
}

struct Parser {
    name: String,
    tokens: Vec<Token>,
    /// Index of the next token to read.
    idx: usize,
    /// Highest index read so far: Go reports the line of the last token lexed.
    frontier: usize,
    scope: Scope,
    nesting: usize,
    action_line: usize,
    trees: Trees,
}

type PResult<T> = Result<T, ParseError>;

/// Parses `source`, the template called `name`.
pub(super) fn parse(name: &str, source: &str) -> PResult<Trees> {
    let mut parser = Parser {
        name: name.to_owned(),
        tokens: lex(source),
        idx: 0,
        frontier: 0,
        scope: Scope {
            vars: vec!["$".to_owned()],
            range_depth: 0,
        },
        nesting: 0,
        action_line: 0,
        trees: Trees::new(),
    };
    let root = parser.parse_root()?;
    parser.add(name.to_owned(), root)?;
    Ok(parser.trees)
}

impl Parser {
    fn token(&self, i: usize) -> Token {
        match self.tokens.get(i).or_else(|| self.tokens.last()) {
            Some(token) => token.clone(),
            None => Token {
                kind: Kind::Eof,
                pos: 0,
                val: String::new(),
                line: 1,
            },
        }
    }

    fn next(&mut self) -> Token {
        let token = self.token(self.idx);
        self.frontier = self.frontier.max(self.idx);
        if self.idx < self.tokens.len().saturating_sub(1) {
            self.idx += 1;
        } else {
            // Past the end Go's lexer keeps returning its last item; stay on it, but let a
            // backup() return to it.
            self.idx = self.tokens.len();
        }
        token
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn peek(&mut self) -> Token {
        let token = self.next();
        self.backup();
        token
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let token = self.next();
            if token.kind != Kind::Space {
                return token;
            }
        }
    }

    fn peek_non_space(&mut self) -> Token {
        let token = self.next_non_space();
        self.backup();
        token
    }

    fn error(&self, message: String) -> ParseError {
        ParseError {
            line: self.token(self.frontier).line,
            message,
        }
    }

    fn unexpected<T>(&self, token: &Token, context: &str) -> PResult<T> {
        if token.kind == Kind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra.replacen(" in action", "", 1);
                }
            }
            return Err(self.error(format!("{}{extra}", token.val)));
        }
        Err(self.error(format!("unexpected {} in {context}", token.describe())))
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Token> {
        let token = self.next_non_space();
        if token.kind != kind {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn enter(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.error("max expression depth exceeded".to_owned()));
        }
        Ok(())
    }

    /// Go's `Tree.add`: a later non-empty definition of a name is an error.
    fn add(&mut self, name: String, root: Vec<Node>) -> PResult<()> {
        match self.trees.get(&name) {
            Some(existing) if !is_empty_tree(existing) => {
                if !is_empty_tree(&root) {
                    return Err(self.error(format!(
                        "template: multiple definition of template {}",
                        go_quote(name.as_bytes(), false)
                    )));
                }
            }
            _ => {
                self.trees.insert(name, root);
            }
        }
        Ok(())
    }

    fn parse_root(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().kind != Kind::Eof {
            if self.peek().kind == Kind::LeftDelim {
                let delim = self.idx;
                self.next();
                if self.next_non_space().kind == Kind::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = delim;
            }
            match self.text_or_action()? {
                Item::Node(node) => root.push(node),
                Item::End => return Err(self.error("unexpected {{end}}".to_owned())),
                Item::Else => return Err(self.error("unexpected {{else}}".to_owned())),
            }
        }
        Ok(root)
    }

    /// Parses a `define` or `block` body with a fresh variable scope.
    fn sub_tree(&mut self, context: &str) -> PResult<Vec<Node>> {
        self.enter()?;
        let outer = std::mem::replace(
            &mut self.scope,
            Scope {
                vars: vec!["$".to_owned()],
                range_depth: 0,
            },
        );
        let (root, end) = self.item_list()?;
        self.scope = outer;
        self.nesting -= 1;
        if !matches!(end, Item::End) {
            return Err(self.error(format!("unexpected {{{{else}}}} in {context}")));
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let token = self.next_non_space();
        if token.kind != Kind::String && token.kind != Kind::RawString {
            return self.unexpected(&token, CONTEXT);
        }
        let name = self.unquote_name(&token)?;
        self.expect(Kind::RightDelim, CONTEXT)?;
        let root = self.sub_tree(CONTEXT)?;
        self.add(name, root)
    }

    fn unquote_name(&self, token: &Token) -> PResult<String> {
        let bytes =
            go_unquote(&token.val).ok_or_else(|| self.error("invalid syntax".to_owned()))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Item)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Item::Node(node) => list.push(node),
                end => return Ok((list, end)),
            }
        }
        Err(self.error("unexpected EOF".to_owned()))
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let token = self.next_non_space();
        match token.kind {
            Kind::Text => Ok(Item::Node(Node::Text { text: token.val })),
            Kind::LeftDelim => {
                self.action_line = token.line;
                let item = self.action();
                self.action_line = 0;
                item
            }
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let token = self.next_non_space();
        match token.kind {
            Kind::Block => return self.block_control().map(Item::Node),
            Kind::Break | Kind::Continue => {
                let is_break = token.kind == Kind::Break;
                let keyword = if is_break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let next = self.next_non_space();
                if next.kind != Kind::RightDelim {
                    return self.unexpected(&next, keyword);
                }
                if self.scope.range_depth == 0 {
                    return Err(self.error(format!("{keyword} outside {{{{range}}}}")));
                }
                return Ok(Item::Node(if is_break {
                    Node::Break
                } else {
                    Node::Continue
                }));
            }
            Kind::Else => {
                let peek = self.peek_non_space();
                if peek.kind != Kind::If && peek.kind != Kind::With {
                    self.expect(Kind::RightDelim, "else")?;
                }
                return Ok(Item::Else);
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Item::End);
            }
            Kind::If => return self.control("if").map(|b| Item::Node(Node::If(b))),
            Kind::Range => return self.control("range").map(|b| Item::Node(Node::Range(b))),
            Kind::With => return self.control("with").map(|b| Item::Node(Node::With(b))),
            Kind::Template => return self.template_control().map(Item::Node),
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", Kind::RightDelim)?;
        Ok(Item::Node(Node::Action { pipe }))
    }

    fn control(&mut self, context: &str) -> PResult<Branch> {
        self.enter()?;
        let vars = self.scope.vars.len();
        let result = self.control_inner(context);
        self.scope.vars.truncate(vars);
        self.nesting -= 1;
        result
    }

    fn control_inner(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.scope.range_depth += 1;
        }
        let listed = self.item_list();
        if context == "range" {
            self.scope.range_depth -= 1;
        }
        let (list, next) = listed?;
        let mut else_list = None;
        if let Item::Else = next {
            let peek = self.peek().kind;
            if context == "if" && peek == Kind::If {
                self.next();
                else_list = Some(vec![Node::If(self.control("if")?)]);
            } else if context == "with" && peek == Kind::With {
                self.next();
                else_list = Some(vec![Node::With(self.control("with")?)]);
            } else {
                let (list, next) = self.item_list()?;
                if !matches!(next, Item::End) {
                    return Err(self.error("expected end; found {{else}}".to_owned()));
                }
                else_list = Some(list);
            }
        }
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, token: &Token, context: &str) -> PResult<String> {
        match token.kind {
            Kind::String | Kind::RawString => self.unquote_name(token),
            _ => self.unexpected(token, context),
        }
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Kind::RightDelim)?;
        let root = self.sub_tree(CONTEXT)?;
        self.add(name.clone(), root)?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().kind != Kind::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, Kind::RightDelim)?);
        }
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        match parse("t", src) {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("{}: {}", e.line, e.message),
        }
    }

    #[test]
    fn parses_and_reports_like_go() {
        assert_eq!(
            err("{{ .a }} {{ if .b }}x{{ else if .c }}y{{ else }}z{{ end }}"),
            "ok"
        );
        assert_eq!(err("{{ if .a }}"), "1: unexpected EOF");
        assert_eq!(err("a\n{{ end }}"), "2: unexpected {{end}}");
        assert_eq!(err("{{ nope 1 }}"), "1: function \"nope\" not defined");
        assert_eq!(err("{{ $x }}"), "1: undefined variable \"$x\"");
        assert_eq!(
            err("{{ .a | 3 }}"),
            "1: non executable command in pipeline stage 2"
        );
        assert_eq!(err("{{ break }}"), "1: {{break}} outside {{range}}");
        assert_eq!(err("{{ \"abc\n}}"), "1: unterminated quoted string");
        assert_eq!(err("{{ ("), "1: unclosed action");
        assert_eq!(
            err("{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}"),
            "1: template: multiple definition of template \"a\""
        );
        assert_eq!(err(&"(".repeat(200)), "ok");
        assert!(
            err(&format!("{{{{ {} }}}}", "(".repeat(200)))
                .contains("max expression depth exceeded")
        );
    }
}
