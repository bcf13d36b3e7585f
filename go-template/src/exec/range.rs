//! `{{range}}`, as Go's `walkRange`: over integers, lists and maps (in key order), with
//! `{{break}}` and `{{continue}}`, crediting back the element slots of what it iterated.

use super::*;

impl<'t> Exec<'t> {
    /// One `range` iteration; returns whether to stop (`{{break}}`).
    pub(super) fn range_iteration(
        &mut self,
        branch: &'t Branch,
        mark: usize,
        index: Value,
        elem: Value,
    ) -> EResult<bool> {
        self.step()?;
        let pipe = &branch.pipe;
        let decl = |i: usize| pipe.decl.get(i).and_then(|v| v.idents.first()).cloned();
        if !pipe.decl.is_empty() {
            if pipe.is_assign {
                let value = if pipe.decl.len() > 1 {
                    index.clone()
                } else {
                    elem.clone()
                };
                if let Some(name) = decl(0) {
                    self.set_var(&name, value)?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if pipe.decl.len() > 1 {
            if pipe.is_assign {
                if let Some(name) = decl(1) {
                    self.set_var(&name, elem.clone())?;
                }
            } else {
                self.set_top_var(2, index);
            }
        }
        let flow = self.walk_list(&elem, &branch.list)?;
        self.vars.truncate(mark);
        Ok(flow == Flow::Break)
    }

    pub(super) fn walk_range(&mut self, dot: &Value, branch: &'t Branch) -> EResult<Flow> {
        self.enter()?;
        let flow = self.walk_range_inner(dot, branch);
        self.nesting -= 1;
        flow
    }

    pub(super) fn walk_range_inner(&mut self, dot: &Value, branch: &'t Branch) -> EResult<Flow> {
        let outer = self.vars.len();
        let value = self.eval_pipeline(dot, &branch.pipe)?;
        let mark = self.vars.len();
        let ran = match &value {
            Value::Int(n) | Value::Int64(n) => {
                if branch.pipe.decl.len() > 1 {
                    return Err(self.error(format!(
                        "can't use a value of type {} to iterate over more than one variable",
                        value.type_name()
                    )));
                }
                let mut i = 0;
                while i < *n {
                    let elem = if matches!(value, Value::Int(_)) {
                        Value::Int(i)
                    } else {
                        Value::Int64(i)
                    };
                    if self.range_iteration(branch, mark, Value::NoValue, elem)? {
                        break;
                    }
                    i += 1;
                }
                *n > 0
            }
            Value::List(items) => {
                let items = items.clone().unwrap_or_default();
                for (i, item) in items.iter().enumerate() {
                    let index = Value::Int(i64::try_from(i).unwrap_or(i64::MAX));
                    if self.range_iteration(branch, mark, index, item.clone())? {
                        break;
                    }
                }
                !items.is_empty()
            }
            Value::StrList(items) => {
                for (i, item) in items.iter().enumerate() {
                    let index = Value::Int(i64::try_from(i).unwrap_or(i64::MAX));
                    if self.range_iteration(branch, mark, index, Value::Str(item.clone()))? {
                        break;
                    }
                }
                !items.is_empty()
            }
            Value::Map(id) => {
                // The entries are copied so that the body may change the map.
                let len = self.heap.map_len(*id);
                self.budget.elements(len).map_err(ExecError::Limit)?;
                let entries = self.heap.entries(*id);
                for (k, v) in &entries {
                    if self.range_iteration(branch, mark, Value::Str(k.clone()), v.clone())? {
                        break;
                    }
                }
                !entries.is_empty()
            }
            Value::StrMap(map) => {
                for (k, v) in map.iter() {
                    let (k, v) = (Value::Str(k.clone()), Value::Str(v.clone()));
                    if self.range_iteration(branch, mark, k, v)? {
                        break;
                    }
                }
                !map.is_empty()
            }
            Value::NoValue | Value::Nil => false,
            other => {
                return Err(self.error(format!(
                    "range can't iterate over a value of type {}",
                    other.type_name()
                )));
            }
        };
        if !ran && let Some(else_list) = &branch.else_list {
            self.walk_list(dot, else_list)?;
        }
        self.vars.truncate(outer);
        self.release(value);
        Ok(Flow::Normal)
    }

    /// Credits back the element slots of a list nothing refers to any more, as it is
    /// dropped: the list a `range` went over (`until 1000` in a loop) or an action printed.
    /// Every list was charged at least [`ELEMENT_BYTES`] per element when it was made, and
    /// only the slots are credited (not what they held), so the charge stays an upper bound
    /// of live memory.
    pub(super) fn release(&mut self, value: Value) {
        let len = match &value {
            Value::List(Some(items)) if Rc::strong_count(items) == 1 => items.len(),
            Value::StrList(items) if Rc::strong_count(items) == 1 => items.len(),
            _ => return,
        };
        drop(value);
        self.budget.refund(len.saturating_mul(ELEMENT_BYTES));
    }
}
