//! Parse tree of a template, shaped like Go's `text/template/parse` nodes.
//!
//! Every node keeps its byte position in the source, and renders back to source text the way
//! Go's `Node.String()` does: execution errors quote the node they happened at
//! (`executing "t" at <.foo.bar>: …`). That text comes from the template source, never from
//! a value.

use std::collections::BTreeMap;

use super::gofmt::go_quote;

/// The templates defined by one source: the main one under its name, plus `define`/`block`s.
pub(super) type Trees = BTreeMap<String, Vec<Node>>;

pub(super) enum Node {
    Text {
        text: String,
    },
    Action {
        pipe: Pipe,
    },
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

pub(super) struct Branch {
    pub(super) pipe: Pipe,
    pub(super) list: Vec<Node>,
    pub(super) else_list: Option<Vec<Node>>,
}

pub(super) struct Pipe {
    pub(super) pos: usize,
    pub(super) is_assign: bool,
    pub(super) decl: Vec<Var>,
    pub(super) cmds: Vec<Command>,
}

/// `$x` or `$x.field.field`; `idents[0]` is the variable's name with its `$`.
#[derive(Clone)]
pub(super) struct Var {
    pub(super) pos: usize,
    pub(super) idents: Vec<String>,
}

pub(super) struct Command {
    pub(super) pos: usize,
    pub(super) args: Vec<Arg>,
}

/// A numeric constant with every interpretation Go's parser found valid.
pub(super) struct Number {
    pub(super) pos: usize,
    pub(super) text: String,
    pub(super) int: Option<i64>,
    pub(super) uint: Option<u64>,
    pub(super) float: Option<f64>,
}

pub(super) enum Arg {
    Identifier {
        pos: usize,
        name: String,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    Variable(Var),
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Bool {
        pos: usize,
        value: bool,
    },
    Number(Box<Number>),
    String {
        pos: usize,
        quoted: String,
        text: Vec<u8>,
    },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub(super) fn pos(&self) -> usize {
        match self {
            Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Field { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Bool { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Variable(var) => var.pos,
            Arg::Number(n) => n.pos,
            Arg::Pipe(pipe) => pipe.pos,
        }
    }

    pub(super) fn write_to(&self, out: &mut String) {
        match self {
            Arg::Identifier { name, .. } => out.push_str(name),
            Arg::Dot { .. } => out.push('.'),
            Arg::Nil { .. } => out.push_str("nil"),
            Arg::Field { idents, .. } => {
                for ident in idents {
                    out.push('.');
                    out.push_str(ident);
                }
            }
            Arg::Variable(var) => var.write_to(out),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(pipe) = node.as_ref() {
                    out.push('(');
                    pipe.write_to(out);
                    out.push(')');
                } else {
                    node.write_to(out);
                }
                for field in fields {
                    out.push('.');
                    out.push_str(field);
                }
            }
            Arg::Bool { value, .. } => out.push_str(if *value { "true" } else { "false" }),
            Arg::Number(n) => out.push_str(&n.text),
            Arg::String { quoted, .. } => out.push_str(quoted),
            Arg::Pipe(pipe) => pipe.write_to(out),
        }
    }

    pub(super) fn to_source(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }

    /// Whether Go's parser would reject this as a later pipeline stage.
    pub(super) fn is_constant(&self) -> bool {
        matches!(
            self,
            Arg::Bool { .. }
                | Arg::Dot { .. }
                | Arg::Nil { .. }
                | Arg::Number(_)
                | Arg::String { .. }
        )
    }
}

impl Var {
    pub(super) fn write_to(&self, out: &mut String) {
        out.push_str(&self.idents.join("."));
    }
}

impl Command {
    pub(super) fn write_to(&self, out: &mut String) {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            if let Arg::Pipe(pipe) = arg {
                out.push('(');
                pipe.write_to(out);
                out.push(')');
            } else {
                arg.write_to(out);
            }
        }
    }

    pub(super) fn to_source(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }
}

impl Pipe {
    pub(super) fn write_to(&self, out: &mut String) {
        if !self.decl.is_empty() {
            for (i, var) in self.decl.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                var.write_to(out);
            }
            out.push_str(if self.is_assign { " = " } else { " := " });
        }
        for (i, cmd) in self.cmds.iter().enumerate() {
            if i > 0 {
                out.push_str(" | ");
            }
            cmd.write_to(out);
        }
    }

    pub(super) fn to_source(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }
}

impl Node {
    pub(super) fn write_to(&self, out: &mut String) {
        match self {
            Node::Text { text } => out.push_str(text),
            Node::Action { pipe } => {
                out.push_str("{{");
                pipe.write_to(out);
                out.push_str("}}");
            }
            Node::If(b) => b.write_to("if", out),
            Node::Range(b) => b.write_to("range", out),
            Node::With(b) => b.write_to("with", out),
            Node::Template { name, pipe, .. } => {
                out.push_str("{{template ");
                out.push_str(&go_quote(name.as_bytes(), false));
                if let Some(pipe) = pipe {
                    out.push(' ');
                    pipe.write_to(out);
                }
                out.push_str("}}");
            }
            Node::Break => out.push_str("{{break}}"),
            Node::Continue => out.push_str("{{continue}}"),
        }
    }

    pub(super) fn to_source(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }
}

impl Branch {
    fn write_to(&self, keyword: &str, out: &mut String) {
        out.push_str("{{");
        out.push_str(keyword);
        out.push(' ');
        self.pipe.write_to(out);
        out.push_str("}}");
        for node in &self.list {
            node.write_to(out);
        }
        if let Some(else_list) = &self.else_list {
            out.push_str("{{else}}");
            for node in else_list {
                node.write_to(out);
            }
        }
        out.push_str("{{end}}");
    }
}

/// Go's `parse.IsEmptyTree`: only whitespace text (comments are already gone).
pub(super) fn is_empty_tree(list: &[Node]) -> bool {
    list.iter().all(|node| match node {
        Node::Text { text } => text.trim().is_empty(),
        _ => false,
    })
}

/// The unsupported function called first (by source position) anywhere in `trees`, `define`s
/// and branches that may never run included: calling one is an error that depends only on
/// the source, so it is reported when parsing.
pub(super) fn first_unsupported(trees: &Trees) -> Option<String> {
    let mut first = None;
    for list in trees.values() {
        unsupported_in_list(list, &mut first);
    }
    first.map(|(_, name): (usize, &str)| name.to_owned())
}

/// The earliest call found so far: position and function name.
type First<'t> = Option<(usize, &'t str)>;

fn is_unsupported(name: &str) -> bool {
    super::funcs::lookup(name).is_some_and(|f| matches!(f.imp, super::call::Imp::Unsupported))
}

fn unsupported_in_list<'t>(list: &'t [Node], first: &mut First<'t>) {
    for node in list {
        match node {
            Node::Action { pipe } => unsupported_in_pipe(pipe, first),
            Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
                unsupported_in_pipe(&branch.pipe, first);
                unsupported_in_list(&branch.list, first);
                if let Some(else_list) = &branch.else_list {
                    unsupported_in_list(else_list, first);
                }
            }
            Node::Template {
                pipe: Some(pipe), ..
            } => unsupported_in_pipe(pipe, first),
            Node::Text { .. }
            | Node::Template { pipe: None, .. }
            | Node::Break
            | Node::Continue => {}
        }
    }
}

fn unsupported_in_pipe<'t>(pipe: &'t Pipe, first: &mut First<'t>) {
    for cmd in &pipe.cmds {
        for arg in &cmd.args {
            unsupported_in_arg(arg, first);
        }
    }
}

fn unsupported_in_arg<'t>(arg: &'t Arg, first: &mut First<'t>) {
    match arg {
        Arg::Identifier { pos, name }
            if is_unsupported(name) && first.is_none_or(|(p, _)| *pos < p) =>
        {
            *first = Some((*pos, name));
        }
        Arg::Chain { node, .. } => unsupported_in_arg(node, first),
        Arg::Pipe(pipe) => unsupported_in_pipe(pipe, first),
        _ => {}
    }
}
