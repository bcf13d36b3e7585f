//! Execution of a parsed template, following Go's `text/template/exec.go`: the same
//! evaluation order, the same argument checks and conversions, the same error texts — except
//! that no error ever quotes a value (values are secrets), and that work, output and nesting
//! are bounded.

use super::ast::{Arg, Branch, Command, Node, Number, Pipe, Var};
use std::rc::Rc;

use super::ast::Trees;
use super::budget::{Budget, ELEMENT_BYTES, Exceeded};
use super::call::{ArgType, Ctx, Func, FuncError, Imp};
use super::funcs;
use super::gofmt::{MAX_PRINT_DEPTH, go_quote, print_value};
use super::out::{Fault, Out};
use super::value::{Heap, Value, is_true};

mod range;

mod function;

/// Deepest `{{template}}` recursion (Go allows 100000; our stack is smaller).
pub(super) const MAX_TEMPLATE_DEPTH: usize = 100;

/// Deepest nesting of `if`/`range`/`with`, pipelines and template calls at run time, all
/// counted together (recursive templates multiply the parser's per-template bound).
pub(super) const MAX_EXEC_DEPTH: usize = 400;

/// An execution failure, before it is formatted with the template's name.
pub(super) enum ExecError {
    /// Go's `template: NAME:LINE:COL: executing "NAME" at <CONTEXT>: MESSAGE`.
    At {
        /// The template being executed (a `define` name, or the main one).
        template: String,
        pos: usize,
        context: String,
        message: String,
    },
    /// Go's `template: NAME: MESSAGE` (no node).
    Plain(String),
    Unsupported(String),
    Limit(Exceeded),
    /// Nesting past the given limit (values, or execution).
    Depth(usize),
}

type EResult<T> = Result<T, ExecError>;

/// What a walked node asks its enclosing `range` to do.
#[derive(PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The node errors are reported at (Go's `state.node`).
#[derive(Clone, Copy)]
enum At<'t> {
    None,
    Arg(&'t Arg),
    Cmd(&'t Command),
    Pipe(&'t Pipe),
    Var(&'t Var),
    Template(usize, &'t Node),
}

pub(super) struct Exec<'t> {
    trees: &'t Trees,
    pub(super) heap: Heap,
    pub(super) budget: &'t mut Budget,
    /// The bound that caps `out`: one template's output, or what is left of the total.
    out_limit: Exceeded,
    vars: Vec<(String, Value)>,
    at: At<'t>,
    depth: usize,
    /// Current run-time nesting, against [`MAX_EXEC_DEPTH`].
    nesting: usize,
    /// Name of the template being executed, for error messages.
    current: String,
    pub(super) out: Out,
}

fn context_of(at: At<'_>) -> Option<(usize, String)> {
    match at {
        At::None => None,
        At::Arg(arg) => Some((arg.pos(), arg.to_source())),
        At::Cmd(cmd) => Some((cmd.pos, cmd.to_source())),
        At::Pipe(pipe) => Some((pipe.pos, pipe.to_source())),
        At::Var(var) => {
            let mut text = String::new();
            var.write_to(&mut text);
            Some((var.pos, text))
        }
        At::Template(pos, node) => Some((pos, node.to_source())),
    }
}

impl<'t> Exec<'t> {
    pub(super) fn new(
        trees: &'t Trees,
        budget: &'t mut Budget,
        max_output: usize,
        out_limit: Exceeded,
    ) -> Self {
        Self {
            trees,
            heap: Heap::default(),
            budget,
            out_limit,
            vars: Vec::new(),
            at: At::None,
            depth: 0,
            nesting: 0,
            current: String::new(),
            out: Out::new(max_output),
        }
    }

    fn error(&self, message: impl Into<String>) -> ExecError {
        match context_of(self.at) {
            Some((pos, context)) => ExecError::At {
                template: self.current.clone(),
                pos,
                context,
                message: message.into(),
            },
            None => ExecError::Plain(message.into()),
        }
    }

    fn step(&mut self) -> EResult<()> {
        self.budget.charge(1).map_err(ExecError::Limit)
    }

    fn write(&mut self, bytes: &[u8]) -> EResult<()> {
        self.out.push(bytes);
        self.out_fault()
    }

    /// The output buffer's fault, if any, as an error naming the bound that caps it.
    pub(super) fn out_fault(&self) -> EResult<()> {
        match self.out.fault {
            Some(Fault::TooBig) => Err(ExecError::Limit(self.out_limit)),
            Some(Fault::TooDeep) => Err(ExecError::Depth(MAX_PRINT_DEPTH)),
            None => Ok(()),
        }
    }

    /// Runs the template `name` with `dot` as `.` and `$`.
    pub(super) fn run(&mut self, name: &str, dot: Value) -> EResult<()> {
        let trees = self.trees;
        let Some(root) = trees.get(name) else {
            return Err(ExecError::Plain(format!(
                "{} is an incomplete or empty template",
                go_quote(name.as_bytes(), false)
            )));
        };
        self.vars = vec![("$".to_owned(), dot.clone())];
        self.current = name.to_owned();
        self.walk_list(&dot, root).map(|_| ())
    }

    fn walk_list(&mut self, dot: &Value, list: &'t [Node]) -> EResult<Flow> {
        for node in list {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &'t Node) -> EResult<Flow> {
        self.step()?;
        match node {
            Node::Text { text } => self.write(text.as_bytes())?,
            Node::Action { pipe } => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    print_value(&mut self.out, &self.heap, &value);
                    self.out_fault()?;
                }
                self.release(value);
            }
            Node::If(branch) => return self.walk_if_or_with(false, dot, branch),
            Node::With(branch) => return self.walk_if_or_with(true, dot, branch),
            Node::Range(branch) => return self.walk_range(dot, branch),
            Node::Template { pos, name, pipe } => {
                self.at = At::Template(*pos, node);
                self.walk_template(dot, name, pipe.as_ref())?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn enter(&mut self) -> EResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_EXEC_DEPTH {
            return Err(ExecError::Depth(MAX_EXEC_DEPTH));
        }
        Ok(())
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Value, branch: &'t Branch) -> EResult<Flow> {
        self.enter()?;
        let flow = self.walk_if_or_with_inner(with, dot, branch);
        self.nesting -= 1;
        flow
    }

    fn walk_if_or_with_inner(
        &mut self,
        with: bool,
        dot: &Value,
        branch: &'t Branch,
    ) -> EResult<Flow> {
        let mark = self.vars.len();
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let flow = if is_true(&value, &self.heap) {
            if with {
                self.walk_list(&value, &branch.list)?
            } else {
                self.walk_list(dot, &branch.list)?
            }
        } else if let Some(else_list) = &branch.else_list {
            self.walk_list(dot, else_list)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn set_var(&mut self, name: &str, value: Value) -> EResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.error(format!("undefined variable: {name}"))),
        }
    }

    fn set_top_var(&mut self, n: usize, value: Value) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = value;
        }
    }

    fn var_value(&self, name: &str) -> EResult<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, value)) => Ok(value.clone()),
            None => Err(self.error(format!("undefined variable: {name}"))),
        }
    }

    fn walk_template(&mut self, dot: &Value, name: &str, pipe: Option<&'t Pipe>) -> EResult<()> {
        let trees = self.trees;
        let Some(root) = trees.get(name) else {
            return Err(self.error(format!(
                "template {} not defined",
                go_quote(name.as_bytes(), false)
            )));
        };
        if self.depth >= MAX_TEMPLATE_DEPTH {
            return Err(self.error(format!(
                "exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"
            )));
        }
        let new_dot = match pipe {
            Some(pipe) => self.eval_pipeline(dot, pipe)?,
            None => Value::NoValue,
        };
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".to_owned(), new_dot.clone())]);
        let saved_at = self.at;
        let saved_name = std::mem::replace(&mut self.current, name.to_owned());
        self.enter()?;
        self.depth += 1;
        let result = self.walk_list(&new_dot, root);
        self.depth -= 1;
        self.nesting -= 1;
        self.vars = saved_vars;
        self.at = saved_at;
        self.current = saved_name;
        result.map(|_| ())
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'t Pipe) -> EResult<Value> {
        self.enter()?;
        let value = self.eval_pipeline_inner(dot, pipe);
        self.nesting -= 1;
        value
    }

    fn eval_pipeline_inner(&mut self, dot: &Value, pipe: &'t Pipe) -> EResult<Value> {
        self.at = At::Pipe(pipe);
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            self.step()?;
            let result = self.eval_command(dot, cmd, value.as_ref())?;
            // A nil interface{} result digs down to "no value", as in Go.
            value = Some(match result {
                Value::Nil => Value::NoValue,
                other => other,
            });
        }
        let value = value.unwrap_or(Value::NoValue);
        for var in &pipe.decl {
            let name = var.idents.first().cloned().unwrap_or_default();
            if pipe.is_assign {
                self.set_var(&name, value.clone())?;
            } else {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &'t [Arg], has_final: bool) -> EResult<()> {
        if args.len() > 1 || has_final {
            let name = args.first().map(Arg::to_source).unwrap_or_default();
            return Err(self.error(format!("can't give argument to non-function {name}")));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Value,
        cmd: &'t Command,
        fin: Option<&Value>,
    ) -> EResult<Value> {
        let Some(first) = cmd.args.first() else {
            return Ok(Value::NoValue);
        };
        let has_args = cmd.args.len() > 1 || fin.is_some();
        match first {
            Arg::Field { idents, .. } => {
                self.at = At::Arg(first);
                return self.eval_field_chain(
                    dot,
                    dot.clone(),
                    first,
                    idents,
                    has_args,
                    &cmd.args,
                    fin,
                );
            }
            Arg::Chain { node, fields, .. } => {
                return self.eval_chain(dot, first, node, fields, has_args, &cmd.args, fin);
            }
            Arg::Identifier { name, .. } => {
                self.at = At::Arg(first);
                return self.eval_function(dot, name, At::Cmd(cmd), &cmd.args, fin);
            }
            Arg::Pipe(pipe) => {
                self.not_a_function(&cmd.args, fin.is_some())?;
                return self.eval_pipeline(dot, pipe);
            }
            Arg::Variable(var) => return self.eval_variable(dot, var, has_args, &cmd.args, fin),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, fin.is_some())?;
        match first {
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.error("nil is not a command")),
            Arg::Number(n) => self.ideal_constant(first, n),
            Arg::String { text, .. } => self.string_literal(text),
            _ => Err(self.error(format!("can't evaluate command {}", first.to_source()))),
        }
    }

    /// A string literal's value: a copy of its text, charged like any new string.
    fn string_literal(&mut self, text: &[u8]) -> EResult<Value> {
        self.budget.string(text.len()).map_err(ExecError::Limit)?;
        Ok(Value::str(text.to_vec()))
    }

    /// Go's `idealConstant`: an untyped number becomes `float64` or `int`.
    fn ideal_constant(&mut self, node: &'t Arg, n: &Number) -> EResult<Value> {
        self.at = At::Arg(node);
        let text = n.text.as_str();
        let is_rune = text.starts_with('\'');
        let bytes = text.as_bytes();
        let is_hex_int = bytes.len() > 2
            && bytes[0] == b'0'
            && (bytes[1] == b'x' || bytes[1] == b'X')
            && !text.contains(['p', 'P']);
        if let Some(f) = n.float
            && !is_hex_int
            && !is_rune
            && text.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        if n.uint.is_some() {
            return Err(self.error(format!("{text} overflows int")));
        }
        Ok(Value::NoValue)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_chain(
        &mut self,
        dot: &Value,
        chain: &'t Arg,
        node: &'t Arg,
        fields: &'t [String],
        has_args: bool,
        args: &'t [Arg],
        fin: Option<&Value>,
    ) -> EResult<Value> {
        self.at = At::Arg(chain);
        if matches!(node, Arg::Nil { .. }) {
            return Err(self.error(format!(
                "indirection through explicit nil in {}",
                chain.to_source()
            )));
        }
        let receiver = self.eval_arg(dot, ArgType::Untyped, node)?;
        self.eval_field_chain(dot, receiver, chain, fields, has_args, args, fin)
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        var: &'t Var,
        has_args: bool,
        args: &'t [Arg],
        fin: Option<&Value>,
    ) -> EResult<Value> {
        self.at = At::Var(var);
        let name = var.idents.first().map_or("", String::as_str);
        let value = self.var_value(name)?;
        if var.idents.len() == 1 {
            self.not_a_function(args, fin.is_some())?;
            return Ok(value);
        }
        self.eval_field_chain_var(dot, value, var, &var.idents[1..], has_args)
    }

    fn eval_field_chain_var(
        &mut self,
        _dot: &Value,
        mut receiver: Value,
        var: &'t Var,
        idents: &'t [String],
        has_args: bool,
    ) -> EResult<Value> {
        // Go does not move the error position while walking the chain.
        let _ = var;
        let n = idents.len();
        for (i, ident) in idents.iter().enumerate() {
            receiver = self.eval_field(ident, has_args && i + 1 == n, receiver)?;
        }
        Ok(receiver)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field_chain(
        &mut self,
        _dot: &Value,
        mut receiver: Value,
        node: &'t Arg,
        idents: &'t [String],
        has_args: bool,
        _args: &'t [Arg],
        _fin: Option<&Value>,
    ) -> EResult<Value> {
        // Go does not move the error position while walking the chain: after a chain's
        // receiver was evaluated, errors point at the receiver's last node.
        let _ = node;
        let n = idents.len();
        for (i, ident) in idents.iter().enumerate() {
            receiver = self.eval_field(ident, has_args && i + 1 == n, receiver)?;
        }
        Ok(receiver)
    }

    /// Go's `evalField` on the receivers a template can hold: maps are indexed, anything
    /// else has no fields.
    fn eval_field(&mut self, field: &str, has_args: bool, receiver: Value) -> EResult<Value> {
        match receiver {
            Value::NoValue => Ok(Value::NoValue),
            Value::Nil => Err(self.error(format!("nil pointer evaluating interface {{}}.{field}"))),
            Value::Map(id) => {
                if has_args {
                    return Err(self.error(format!("{field} is not a method but has arguments")));
                }
                Ok(self
                    .heap
                    .map_get(id, field.as_bytes())
                    .unwrap_or(Value::NoValue))
            }
            Value::StrMap(map) => {
                if has_args {
                    return Err(self.error(format!("{field} is not a method but has arguments")));
                }
                Ok(map
                    .get(&super::value::GoStr::from(field))
                    .map_or(Value::NoValue, |v| Value::Str(v.clone())))
            }
            other => Err(self.error(format!(
                "can't evaluate field {field} in type {}",
                other.type_name()
            ))),
        }
    }
}

pub(super) fn fault_error(fault: Fault) -> ExecError {
    match fault {
        Fault::TooBig => ExecError::Limit(Exceeded::Bytes),
        Fault::TooDeep => ExecError::Depth(MAX_PRINT_DEPTH),
    }
}
