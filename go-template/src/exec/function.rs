//! Calling a function, as Go's `evalFunction` and `evalCall`: looking it up, evaluating
//! and checking each argument against its parameter type, then running it on the budget.

use super::*;

impl<'t> Exec<'t> {
    pub(super) fn eval_function(
        &mut self,
        dot: &Value,
        name: &str,
        call_at: At<'t>,
        args: &'t [Arg],
        fin: Option<&Value>,
    ) -> EResult<Value> {
        let Some(func) = funcs::lookup(name) else {
            return Err(self.error(format!(
                "{} is not a defined function",
                go_quote(name.as_bytes(), false)
            )));
        };
        self.eval_call(dot, &func, name, call_at, args, fin)
    }

    pub(super) fn eval_call(
        &mut self,
        dot: &Value,
        func: &Func,
        name: &str,
        call_at: At<'t>,
        args: &'t [Arg],
        fin: Option<&Value>,
    ) -> EResult<Value> {
        let args = args.get(1..).unwrap_or(&[]);
        let num_in = args.len() + usize::from(fin.is_some());
        let fixed = func.params.len();
        if func.variadic.is_some() {
            if num_in < fixed {
                return Err(self.error(format!(
                    "wrong number of args for {name}: want at least {fixed} got {}",
                    args.len()
                )));
            }
        } else if num_in != fixed {
            return Err(self.error(format!(
                "wrong number of args for {name}: want {fixed} got {num_in}"
            )));
        }
        self.step()?;
        if let Imp::And | Imp::Or = func.imp {
            let want = matches!(func.imp, Imp::Or);
            let mut value = Value::NoValue;
            for arg in args {
                value = self.eval_arg(dot, ArgType::Reflect, arg)?;
                if is_true(&value, &self.heap) == want {
                    return Ok(value);
                }
            }
            if let Some(fin) = fin {
                value = self.validate_type(fin.clone(), ArgType::Reflect)?;
            }
            return Ok(value);
        }
        let mut argv = Vec::with_capacity(num_in);
        let mut literal = Vec::with_capacity(num_in);
        for (i, arg) in args.iter().enumerate() {
            let typ = match func.params.get(i) {
                Some(t) => *t,
                None => func.variadic.unwrap_or(ArgType::Any),
            };
            argv.push(self.eval_arg(dot, typ, arg)?);
            literal.push(matches!(arg, Arg::String { .. }));
        }
        if let Some(fin) = fin {
            let typ = match func.variadic {
                Some(v) if num_in > fixed => v,
                _ => func.params.get(num_in - 1).copied().unwrap_or(ArgType::Any),
            };
            argv.push(self.validate_type(fin.clone(), typ)?);
            literal.push(false);
        }
        let imp = match func.imp {
            Imp::Fn(imp) => imp,
            Imp::Unsupported => return Err(ExecError::Unsupported(func.name.clone())),
            _ => {
                // `call` needs a function value, and templates here have none.
                self.at = call_at;
                let callee = match args.first() {
                    Some(arg) => arg.to_source(),
                    None => "pipeline value".to_owned(),
                };
                let typ = argv.first().map_or("<nil>", Value::type_name);
                return Err(self.error(format!(
                    "error calling call: non-function {callee} of type {typ}"
                )));
            }
        };
        let mut ctx = Ctx {
            heap: &mut self.heap,
            budget: &mut *self.budget,
            literal: &literal,
        };
        match imp(&mut ctx, argv) {
            Ok(value) => Ok(value),
            Err(FuncError::Call(message)) => {
                self.at = call_at;
                Err(self.error(format!("error calling {name}: {message}")))
            }
            Err(FuncError::Limit(exceeded)) => Err(ExecError::Limit(exceeded)),
            Err(FuncError::Depth) => Err(ExecError::Depth(MAX_PRINT_DEPTH)),
        }
    }

    /// Go's `validateType` for the parameter types our functions have.
    pub(super) fn validate_type(&self, value: Value, typ: ArgType) -> EResult<Value> {
        match (value, typ) {
            (Value::NoValue, ArgType::Untyped | ArgType::Reflect) => Ok(Value::NoValue),
            (Value::NoValue, ArgType::Any) => Ok(Value::Nil),
            (Value::NoValue, ArgType::MapAny) => Ok(Value::Map(None)),
            (Value::NoValue, typ) => {
                Err(self.error(format!("invalid value; expected {}", typ.go_name())))
            }
            (v, ArgType::Untyped | ArgType::Any | ArgType::Reflect) => Ok(v),
            (v @ Value::Str(_), ArgType::Str)
            | (v @ Value::Int(_), ArgType::Int)
            | (v @ Value::Bool(_), ArgType::Bool)
            | (v @ Value::Map(_), ArgType::MapAny) => Ok(v),
            (Value::Nil, typ) => Err(self.error(format!(
                "wrong type for value; expected {}; got interface {{}}",
                typ.go_name()
            ))),
            (v, typ) => Err(self.error(format!(
                "wrong type for value; expected {}; got {}",
                typ.go_name(),
                v.type_name()
            ))),
        }
    }

    pub(super) fn eval_arg(&mut self, dot: &Value, typ: ArgType, arg: &'t Arg) -> EResult<Value> {
        self.at = At::Arg(arg);
        let value = match arg {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match typ {
                    ArgType::Any | ArgType::Untyped => Ok(Value::Nil),
                    ArgType::Reflect => Ok(Value::NoValue),
                    ArgType::MapAny => Ok(Value::Map(None)),
                    _ => Err(self.error(format!("cannot assign nil to {}", typ.go_name()))),
                };
            }
            Arg::Field { idents, .. } => {
                self.eval_field_chain(dot, dot.clone(), arg, idents, false, &[], None)?
            }
            Arg::Variable(var) => self.eval_variable(dot, var, false, &[], None)?,
            Arg::Pipe(pipe) => self.eval_pipeline(dot, pipe)?,
            Arg::Identifier { name, .. } => {
                self.eval_function(dot, name, At::Arg(arg), &[], None)?
            }
            Arg::Chain { node, fields, .. } => {
                self.eval_chain(dot, arg, node, fields, false, &[], None)?
            }
            Arg::Bool { value, .. } => {
                return match typ {
                    ArgType::Bool | ArgType::Any | ArgType::Reflect | ArgType::Untyped => {
                        Ok(Value::Bool(*value))
                    }
                    _ => Err(self.literal_mismatch(typ, arg)),
                };
            }
            Arg::Number(n) => {
                return match typ {
                    ArgType::Int => match n.int {
                        Some(i) => Ok(Value::Int(i)),
                        None => Err(self.error(format!("expected integer; found {}", n.text))),
                    },
                    ArgType::Any | ArgType::Reflect | ArgType::Untyped => {
                        self.ideal_constant(arg, n)
                    }
                    _ => Err(self.literal_mismatch(typ, arg)),
                };
            }
            Arg::String { text, .. } => {
                return match typ {
                    ArgType::Str | ArgType::Any | ArgType::Reflect | ArgType::Untyped => {
                        self.string_literal(text)
                    }
                    _ => Err(self.literal_mismatch(typ, arg)),
                };
            }
        };
        self.validate_type(value, typ)
    }

    pub(super) fn literal_mismatch(&self, typ: ArgType, arg: &Arg) -> ExecError {
        let found = arg.to_source();
        match typ {
            ArgType::Bool => self.error(format!("expected bool; found {found}")),
            ArgType::Int => self.error(format!("expected integer; found {found}")),
            ArgType::Str => self.error(format!("expected string; found {found}")),
            _ => self.error(format!(
                "can't handle {found} for arg of type {}",
                typ.go_name()
            )),
        }
    }
}
