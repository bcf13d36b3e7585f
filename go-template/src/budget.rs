//! The work, output and memory budget that all templates of one SealedSecret share.
//!
//! Everything a template does is paid for *before* it is done: one step per node, command,
//! pipeline, function call and loop iteration, plus the work inside a function (per element
//! compared or created, per 64 bytes read or written). Every string, list element and dict
//! entry a function or the executor creates is also charged to memory, in bytes. Memory is
//! credited back only for the element slots of a list the executor drops as the last owner
//! (the list a `range` iterated over), so the charge is an upper bound of what is live at any
//! moment. Steps, memory and output accumulate across [`Template::execute`] calls on the same
//! budget.
//!
//! [`Template::execute`]: super::Template::execute

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Memory charged for a string besides its bytes: the `Rc` box, the `Vec` header and the
/// allocator's rounding.
pub(super) const STRING_OVERHEAD: usize = 64;

/// Memory charged per list element or dict entry. A `Value` is 16 bytes; a list may hold
/// twice its length in capacity, and a `BTreeMap` entry (key, value, node share) stays under
/// 64 bytes.
pub(super) const ELEMENT_BYTES: usize = 64;

/// Bytes of work per step for functions that read or write strings.
pub(super) const BYTES_PER_STEP: usize = 64;

/// The clock and the cancel flag are looked at once per this many steps.
const CHECK_EVERY: u64 = 1024;

/// Bounds on rendering the templates of one SealedSecret. Exceeding one is an error, never a
/// partial output. The `max_source_bytes` and `max_output_bytes` bounds apply to each
/// template; the others to everything executed on one [`Budget`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest output of one template, and largest string any function may build.
    pub max_output_bytes: usize,
    /// Work budget of one [`Budget`]: one step per node, command, pipeline, function call
    /// and loop iteration, plus the work inside functions (per element created or compared,
    /// per 64 bytes read or written).
    pub max_steps: u64,
    /// Largest template source accepted.
    pub max_source_bytes: usize,
    /// Largest sum of the outputs of the templates executed on one [`Budget`].
    pub max_total_output_bytes: u64,
    /// Most templates executed on one [`Budget`].
    pub max_templates: usize,
    /// Bytes of intermediate values (strings, list elements, dict entries) one [`Budget`]
    /// may create, summed and never credited back: an upper bound of what is live.
    pub max_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_output_bytes: 1024 * 1024,
            max_steps: 1_000_000,
            max_source_bytes: 64 * 1024,
            max_total_output_bytes: 1024 * 1024,
            max_templates: 256,
            max_memory_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Which bound ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Exceeded {
    Steps,
    /// One value or one template's output is larger than `max_output_bytes`.
    Bytes,
    /// The outputs of all templates on the budget.
    TotalBytes,
    Memory,
    Templates,
    Deadline,
    Cancelled,
}

/// The budget of one SealedSecret's templates: create one per SealedSecret and pass it to
/// every [`Template::execute`](super::Template::execute) for it.
///
/// ```
/// use std::collections::BTreeMap;
/// use std::time::{Duration, Instant};
/// use go_template::{Budget, Limits, Template};
///
/// let limits = Limits::default();
/// let mut budget = Budget::new(&limits).with_deadline(Instant::now() + Duration::from_secs(5));
/// let a = Template::parse("a", "{{ repeat 3 \"x\" }}", &limits)?;
/// let b = Template::parse("b", "{{ until 3 }}", &limits)?;
/// let values: BTreeMap<String, String> = BTreeMap::new();
/// assert_eq!(a.execute(&values, &mut budget)?.expose(), b"xxx");
/// assert_eq!(b.execute(&values, &mut budget)?.expose(), b"[0 1 2]");
/// assert_eq!(budget.output_bytes_used(), 10);
/// # Ok::<(), go_template::TemplateError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Budget {
    limits: Limits,
    steps: u64,
    output: u64,
    memory: u64,
    templates: usize,
    deadline: Option<Instant>,
    cancel: Option<Arc<AtomicBool>>,
    /// Step count at which the deadline and the cancel flag are checked next.
    next_check: u64,
}

impl Budget {
    /// A fresh budget for the templates of one SealedSecret.
    #[must_use]
    pub fn new(limits: &Limits) -> Self {
        Self {
            limits: *limits,
            steps: 0,
            output: 0,
            memory: 0,
            templates: 0,
            deadline: None,
            cancel: None,
            next_check: 0,
        }
    }

    /// Fails execution once `deadline` has passed (checked every thousand steps or so, and
    /// before the first).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Fails execution once `cancel` is set (checked like the deadline).
    #[must_use]
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// The limits this budget enforces.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Steps charged so far; never more than [`Limits::max_steps`].
    #[must_use]
    pub fn steps_used(&self) -> u64 {
        self.steps
    }

    /// Bytes of output of the templates executed successfully so far; never more than
    /// [`Limits::max_total_output_bytes`].
    #[must_use]
    pub fn output_bytes_used(&self) -> u64 {
        self.output
    }

    /// Bytes of intermediate values charged so far; never more than
    /// [`Limits::max_memory_bytes`].
    #[must_use]
    pub fn memory_bytes_used(&self) -> u64 {
        self.memory
    }

    /// Charges `n` steps. A charge that does not fit is refused whole: the count never
    /// passes the limit, and the work it stood for is not done.
    pub(super) fn charge(&mut self, n: u64) -> Result<(), Exceeded> {
        let steps = self.steps.saturating_add(n);
        if steps > self.limits.max_steps {
            return Err(Exceeded::Steps);
        }
        self.steps = steps;
        if self.steps >= self.next_check {
            self.next_check = self.steps.saturating_add(CHECK_EVERY);
            self.check_clock()?;
        }
        Ok(())
    }

    fn check_clock(&self) -> Result<(), Exceeded> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(Exceeded::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Exceeded::Deadline);
        }
        Ok(())
    }

    /// Charges the work of reading or writing `n` bytes (one step per 64, rounded up).
    pub(super) fn work(&mut self, n: usize) -> Result<(), Exceeded> {
        self.charge(to_u64(n.div_ceil(BYTES_PER_STEP)))
    }

    /// Charges `n` bytes of memory, refused whole like [`Budget::charge`].
    pub(super) fn memory(&mut self, n: usize) -> Result<(), Exceeded> {
        let memory = self.memory.saturating_add(to_u64(n));
        if memory > self.limits.max_memory_bytes {
            return Err(Exceeded::Memory);
        }
        self.memory = memory;
        Ok(())
    }

    /// Credits back `n` bytes of memory that were charged and have been freed.
    pub(super) fn refund(&mut self, n: usize) {
        self.memory = self.memory.saturating_sub(to_u64(n));
    }

    /// Charges for creating a string of `n` bytes: refused past `max_output_bytes`, then
    /// its work and its memory.
    pub(super) fn string(&mut self, n: usize) -> Result<(), Exceeded> {
        if n > self.limits.max_output_bytes {
            return Err(Exceeded::Bytes);
        }
        self.work(n)?;
        self.memory(n.saturating_add(STRING_OVERHEAD))
    }

    /// Charges for creating `n` list elements or dict entries: a step and
    /// [`ELEMENT_BYTES`] each.
    pub(super) fn elements(&mut self, n: usize) -> Result<(), Exceeded> {
        self.charge(to_u64(n))?;
        self.memory(n.saturating_mul(ELEMENT_BYTES))
    }

    /// The largest string a function may still build, and which bound sets it: the value
    /// cap, the memory left, or the steps left (64 bytes each).
    pub(super) fn string_cap(&self) -> (usize, Exceeded) {
        let memory_left = self.limits.max_memory_bytes.saturating_sub(self.memory);
        let memory_left = to_usize(memory_left).saturating_sub(STRING_OVERHEAD);
        let steps_left = to_usize(self.limits.max_steps.saturating_sub(self.steps))
            .saturating_mul(BYTES_PER_STEP);
        let mut cap = (self.limits.max_output_bytes, Exceeded::Bytes);
        if memory_left < cap.0 {
            cap = (memory_left, Exceeded::Memory);
        }
        if steps_left < cap.0 {
            cap = (steps_left, Exceeded::Steps);
        }
        cap
    }

    /// Starts one template's execution: counts it against `max_templates`, and returns the
    /// output cap (the per-template cap or what is left of the total) with the bound it
    /// stands for.
    pub(super) fn start_template(&mut self) -> Result<(usize, Exceeded), Exceeded> {
        if self.templates >= self.limits.max_templates {
            return Err(Exceeded::Templates);
        }
        self.templates += 1;
        self.check_clock()?;
        let total_left = to_usize(
            self.limits
                .max_total_output_bytes
                .saturating_sub(self.output),
        );
        if total_left < self.limits.max_output_bytes {
            Ok((total_left, Exceeded::TotalBytes))
        } else {
            Ok((self.limits.max_output_bytes, Exceeded::Bytes))
        }
    }

    /// Records a template's output of `n` bytes (within the cap [`Budget::start_template`]
    /// gave).
    pub(super) fn finish_template(&mut self, n: usize) -> Result<(), Exceeded> {
        let output = self.output.saturating_add(to_u64(n));
        if output > self.limits.max_total_output_bytes {
            return Err(Exceeded::TotalBytes);
        }
        self.output = output;
        Ok(())
    }
}

pub(super) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits {
            max_steps: 100,
            max_memory_bytes: 1000,
            ..Limits::default()
        }
    }

    #[test]
    fn refused_charges_leave_the_count_alone() {
        let mut budget = Budget::new(&small());
        assert_eq!(budget.charge(60), Ok(()));
        assert_eq!(budget.charge(60), Err(Exceeded::Steps));
        assert_eq!(budget.steps_used(), 60);
        assert_eq!(budget.charge(40), Ok(()));
        assert_eq!(budget.charge(1), Err(Exceeded::Steps));
        assert_eq!(budget.memory(1000), Ok(()));
        assert_eq!(budget.memory(1), Err(Exceeded::Memory));
    }

    #[test]
    fn string_cap_names_the_bound_that_binds() {
        let mut budget = Budget::new(&small());
        assert_eq!(
            budget.string_cap(),
            (1000 - STRING_OVERHEAD, Exceeded::Memory)
        );
        budget.charge(99).unwrap();
        assert_eq!(budget.string_cap(), (64, Exceeded::Steps));
        let budget = Budget::new(&Limits::default());
        assert_eq!(budget.string_cap(), (1024 * 1024, Exceeded::Bytes));
    }

    #[test]
    fn deadline_in_the_past_stops_the_first_step() {
        let mut budget = Budget::new(&small()).with_deadline(Instant::now());
        assert_eq!(budget.charge(1), Err(Exceeded::Deadline));
        let cancel = Arc::new(AtomicBool::new(true));
        let mut budget = Budget::new(&small()).with_cancel(cancel);
        assert_eq!(budget.start_template(), Err(Exceeded::Cancelled));
    }
}
