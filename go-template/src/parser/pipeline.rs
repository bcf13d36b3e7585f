//! Parsing inside an action: pipelines, commands, operands, terms and number literals, as
//! Go's `parse.Tree.pipeline` and what it calls.

use super::*;

impl Parser {
    pub(super) fn pipeline(&mut self, context: &str, end: Kind) -> PResult<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            let at_variable = self.idx;
            self.next();
            let next = self.peek_non_space();
            if next.kind == Kind::Assign || next.kind == Kind::Declare {
                pipe.is_assign = next.kind == Kind::Assign;
                self.next_non_space();
                pipe.decl.push(new_var(v.pos, &v.val));
                self.scope.vars.push(v.val);
            } else if next.kind == Kind::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(new_var(v.pos, &v.val));
                self.scope.vars.push(v.val);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().kind {
                        Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                        _ => {
                            return Err(
                                self.error("range can only initialize variables".to_owned())
                            );
                        }
                    }
                }
                return Err(self.error(format!("too many declarations in {context}")));
            } else {
                self.idx = at_variable;
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Complex
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    pub(super) fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.error(format!("missing value for {context}")));
        }
        for (i, cmd) in pipe.cmds.iter().enumerate().skip(1) {
            if cmd.args.first().is_some_and(Arg::is_constant) {
                return Err(self.error(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    pub(super) fn command(&mut self) -> PResult<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.next();
            match token.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error("empty command".to_owned()));
        }
        Ok(cmd)
    }

    pub(super) fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            let field = self.next().val;
            fields.push(field.get(1..).unwrap_or("").to_owned());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable(Var { mut idents, .. }) => {
                idents.extend(fields);
                Arg::Variable(Var { pos, idents })
            }
            node if node.is_constant() => {
                return Err(self.error(format!(
                    "unexpected . after term {}",
                    go_quote(node.to_source().as_bytes(), false)
                )));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                fields,
            },
        }))
    }

    pub(super) fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.kind {
            Kind::Identifier => {
                if !funcs::is_defined(&token.val) {
                    return Err(self.error(format!(
                        "function {} not defined",
                        go_quote(token.val.as_bytes(), false)
                    )));
                }
                Arg::Identifier {
                    pos,
                    name: token.val,
                }
            }
            Kind::Dot => Arg::Dot { pos },
            Kind::Nil => Arg::Nil { pos },
            Kind::Variable => {
                let var = new_var(pos, &token.val);
                let name = var.idents.first().cloned().unwrap_or_default();
                if !self.scope.vars.contains(&name) {
                    return Err(self.error(format!(
                        "undefined variable {}",
                        go_quote(name.as_bytes(), false)
                    )));
                }
                Arg::Variable(var)
            }
            Kind::Field => Arg::Field {
                pos,
                idents: token
                    .val
                    .get(1..)
                    .unwrap_or("")
                    .split('.')
                    .map(str::to_owned)
                    .collect(),
            },
            Kind::Bool => Arg::Bool {
                pos,
                value: token.val == "true",
            },
            Kind::CharConstant | Kind::Complex | Kind::Number => {
                Arg::Number(Box::new(self.number(&token)?))
            }
            Kind::LeftParen => {
                self.enter()?;
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen);
                self.nesting -= 1;
                Arg::Pipe(Box::new(pipe?))
            }
            Kind::String | Kind::RawString => {
                let text = go_unquote(&token.val)
                    .ok_or_else(|| self.error("invalid syntax".to_owned()))?;
                Arg::String {
                    pos,
                    quoted: token.val,
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    /// Go's `newNumber`: every interpretation of the literal that is valid.
    pub(super) fn number(&self, token: &Token) -> PResult<Number> {
        let text = token.val.clone();
        let mut number = Number {
            pos: token.pos,
            text: text.clone(),
            int: None,
            uint: None,
            float: None,
        };
        if token.kind == Kind::CharConstant {
            let rune = go_char_constant(&text).map_err(|malformed| {
                self.error(if malformed {
                    format!("malformed character constant: {text}")
                } else {
                    "invalid syntax".to_owned()
                })
            })?;
            number.int = Some(i64::from(rune));
            number.uint = Some(u64::from(rune));
            number.float = Some(f64::from(rune));
            return Ok(number);
        }
        if token.kind == Kind::Complex
            || (text.ends_with('i') && parse_float(&text[..text.len() - 1]).is_ok())
        {
            return Err(self.error(format!(
                "complex number {text} is not supported by sealed-secrets-rs"
            )));
        }
        number.uint = parse_uint_base0(&text).ok();
        if let Ok(i) = parse_int_base0(&text) {
            number.int = Some(i);
            if i == 0 {
                number.uint = Some(0);
            }
        }
        if let Some(i) = number.int {
            number.float = Some(i as f64);
        } else if let Some(u) = number.uint {
            number.float = Some(u as f64);
        } else {
            match parse_float(&text) {
                Ok(f) => {
                    if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                        return Err(self.error(format!(
                            "integer overflow: {}",
                            go_quote(text.as_bytes(), false)
                        )));
                    }
                    number.float = Some(f);
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    {
                        if (f as i64) as f64 == f {
                            number.int = Some(f as i64);
                        }
                        if (f as u64) as f64 == f {
                            number.uint = Some(f as u64);
                        }
                    }
                }
                Err(NumError::Syntax | NumError::Range) => {}
            }
        }
        if number.int.is_none() && number.uint.is_none() && number.float.is_none() {
            return Err(self.error(format!(
                "illegal number syntax: {}",
                go_quote(text.as_bytes(), false)
            )));
        }
        Ok(number)
    }
}

pub(super) fn new_var(pos: usize, text: &str) -> Var {
    Var {
        pos,
        idents: text.split('.').map(str::to_owned).collect(),
    }
}
