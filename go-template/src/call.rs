//! How functions are called: Go parameter types, the function entry ([`Func`]), what a
//! function sees besides its arguments ([`Ctx`], which charges the budget), its errors and the
//! argument accessors. The table of functions is `funcs`; the functions are `builtins` and
//! `sprig*`.

use zeroize::Zeroizing;

use super::budget::{Budget, Exceeded, to_u64};
use super::out::{Fault, Out};
use super::value::{GoStr, Heap, Value};

/// A Go parameter type, as far as argument checking needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ArgType {
    /// No type (`evalArg(dot, nil, …)` for a chain's receiver).
    Untyped,
    /// `interface{}`.
    Any,
    /// `reflect.Value` (Go builtins).
    Reflect,
    Str,
    Int,
    Bool,
    /// `map[string]interface{}`.
    MapAny,
}

impl ArgType {
    pub(super) fn go_name(self) -> &'static str {
        match self {
            ArgType::Untyped => "<nil>",
            ArgType::Any => "interface {}",
            ArgType::Reflect => "reflect.Value",
            ArgType::Str => "string",
            ArgType::Int => "int",
            ArgType::Bool => "bool",
            ArgType::MapAny => "map[string]interface {}",
        }
    }
}

/// Why a function failed.
#[derive(Debug)]
pub(super) enum FuncError {
    /// Go's `error calling NAME: MESSAGE`. The message never contains a value.
    Call(String),
    Limit(Exceeded),
    Depth,
}

impl From<Exceeded> for FuncError {
    fn from(exceeded: Exceeded) -> Self {
        FuncError::Limit(exceeded)
    }
}

impl From<Fault> for FuncError {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::TooBig => FuncError::Limit(Exceeded::Bytes),
            Fault::TooDeep => FuncError::Depth,
        }
    }
}

pub(super) type FResult = Result<Value, FuncError>;
pub(super) type FnPtr = fn(&mut Ctx<'_>, Vec<Value>) -> FResult;

#[derive(Clone, Copy)]
pub(super) enum Imp {
    And,
    Or,
    Call,
    Fn(FnPtr),
    Unsupported,
}

pub(super) struct Func {
    pub(super) name: String,
    pub(super) params: &'static [ArgType],
    pub(super) variadic: Option<ArgType>,
    pub(super) imp: Imp,
}

/// What a function sees besides its arguments.
///
/// Functions charge before they work: [`Ctx::work`] for bytes they read, [`Ctx::steps`] for
/// comparisons, [`Ctx::elements`] for list elements and dict entries they create, and
/// [`Ctx::reserve`] for a string whose size they know in advance. A string built
/// incrementally goes into [`Ctx::out`], whose cap is what the budget can still pay for, and
/// is charged by [`Ctx::finish`].
pub(super) struct Ctx<'a> {
    pub(super) heap: &'a mut Heap,
    pub(super) budget: &'a mut Budget,
    /// For each argument, whether it was written as a string literal in the source.
    pub(super) literal: &'a [bool],
}

impl Ctx<'_> {
    /// A buffer for building a string result, capped at what the budget can pay for.
    pub(super) fn out(&self) -> Out {
        Out::new(self.budget.string_cap().0)
    }

    /// The largest string the budget can still pay for.
    pub(super) fn cap(&self) -> usize {
        self.budget.string_cap().0
    }

    /// Turns a finished buffer into a string value, charging for its size.
    pub(super) fn finish(&mut self, out: Out) -> FResult {
        match out.finish() {
            Ok(buf) => self.string(buf),
            Err(Fault::TooBig) => Err(FuncError::Limit(self.budget.string_cap().1)),
            Err(Fault::TooDeep) => Err(FuncError::Depth),
        }
    }

    /// A string value from a buffer that was not charged yet (it is, now).
    pub(super) fn string(&mut self, buf: Zeroizing<Vec<u8>>) -> FResult {
        self.budget.string(buf.len())?;
        Ok(Value::Str(GoStr::from_buf(buf)))
    }

    /// A string value copied from `bytes`, charged before the copy.
    pub(super) fn bytes(&mut self, bytes: &[u8]) -> FResult {
        self.budget.string(bytes.len())?;
        Ok(Value::Str(GoStr::from_slice(bytes)))
    }

    /// Charges for a string of `n` bytes about to be built (then wrap it with
    /// [`Ctx::charged`]).
    pub(super) fn reserve(&mut self, n: usize) -> Result<(), FuncError> {
        Ok(self.budget.string(n)?)
    }

    /// A string value whose size was charged with [`Ctx::reserve`].
    pub(super) fn charged(buf: Zeroizing<Vec<u8>>) -> Value {
        Value::Str(GoStr::from_buf(buf))
    }

    /// Charges the work of reading `n` bytes (one step per 64).
    pub(super) fn work(&mut self, n: usize) -> Result<(), FuncError> {
        Ok(self.budget.work(n)?)
    }

    /// Charges `n` steps (comparisons, lookups).
    pub(super) fn steps(&mut self, n: usize) -> Result<(), FuncError> {
        Ok(self.budget.charge(to_u64(n))?)
    }

    /// Charges for creating `n` list elements or map entries.
    pub(super) fn elements(&mut self, n: usize) -> Result<(), FuncError> {
        Ok(self.budget.elements(n)?)
    }
}

/// Argument accessors. Arguments were checked against the parameter types before the call,
/// so a mismatch here cannot happen; the fallbacks only keep the code free of panics.
pub(super) fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::NoValue)
}

pub(super) fn arg_str(args: &[Value], i: usize) -> &[u8] {
    match args.get(i) {
        Some(Value::Str(s)) => s.bytes(),
        _ => &[],
    }
}

pub(super) fn arg_int(args: &[Value], i: usize) -> i64 {
    args.get(i).and_then(Value::as_int).unwrap_or(0)
}

pub(super) fn arg_bool(args: &[Value], i: usize) -> bool {
    matches!(args.get(i), Some(Value::Bool(true)))
}
