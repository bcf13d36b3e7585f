//! `spec.template.data` sources against arbitrary values, several templates sharing one
//! `Budget` under small limits: never panics, and the budget holds.
//!
//! Input: `SOURCE_1 \x01 SOURCE_2 … \x00 VALUE_a \x00 VALUE_b …` (the values are named `a`,
//! `b`, …). Invariants checked after every execution:
//! - steps: `budget.steps_used() <= max_steps`, exactly. A charge that does not fit is
//!   refused whole and the work it stands for is not done, so there is no overshoot to allow
//!   for: the granularity of a function's pre-charge shows only as work *not* done;
//! - output: each output is at most `max_output_bytes`, and `output_bytes_used()` is the sum
//!   of the successful outputs and at most `max_total_output_bytes`;
//! - memory: `memory_bytes_used() <= max_memory_bytes`, and the heap allocated during one
//!   `execute` (counted by the global allocator below, above what was live before it) peaks
//!   under [`peak_bound`]: twice the memory charge (buffers grow by doubling), twice the
//!   output caps, twice the values (copied into the dot), plus a fixed allowance for the
//!   executor's own bookkeeping.
//!
//! Work that is not charged shows as a slow input (libFuzzer's `-timeout`).
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use sealed_secrets_core::secret_bytes::SecretBytes;
use sealed_secrets_core::template::{Budget, Limits, Template};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: a pointer this allocator returned, with its layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const LIMITS: Limits = Limits {
    max_output_bytes: 16 * 1024,
    max_steps: 20_000,
    max_source_bytes: 4 * 1024,
    max_total_output_bytes: 32 * 1024,
    max_templates: 8,
    max_memory_bytes: 256 * 1024,
};

/// The most the heap may grow during one `execute` with values of `values_len` bytes.
fn peak_bound(values_len: usize) -> usize {
    let memory = LIMITS.max_memory_bytes as usize;
    let output = LIMITS.max_output_bytes;
    2 * memory + 2 * output + 2 * values_len + 256 * 1024
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let Some(sources) = parts.next() else { return };
    let Ok(sources) = std::str::from_utf8(sources) else { return };
    let mut values = BTreeMap::new();
    let mut values_len = 0;
    for (i, value) in parts.take(26).enumerate() {
        let name = char::from(b'a' + u8::try_from(i).unwrap_or(0)).to_string();
        values_len += name.len() + value.len();
        values.insert(name, SecretBytes::from_slice(value));
    }
    let mut budget = Budget::new(&LIMITS);
    let mut total = 0u64;
    for (i, source) in sources.split('\x01').take(12).enumerate() {
        let name = format!("t{i}");
        let template = match Template::parse(&name, source, &LIMITS) {
            Ok(template) => template,
            Err(error) => {
                assert!(error.is_static(), "{error}");
                let _ = error.to_string();
                continue;
            }
        };
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let result = template.execute(&values, &mut budget);
        let peak = PEAK.load(Ordering::Relaxed) - base;
        assert!(
            peak <= peak_bound(values_len),
            "execute allocated {peak} bytes at once, bound {}",
            peak_bound(values_len)
        );
        match result {
            Ok(out) => {
                assert!(out.expose().len() <= LIMITS.max_output_bytes);
                total += out.expose().len() as u64;
            }
            Err(error) => {
                assert!(!error.is_static(), "{error}");
                let _ = error.to_string();
            }
        }
        assert!(budget.steps_used() <= LIMITS.max_steps);
        assert!(budget.memory_bytes_used() <= LIMITS.max_memory_bytes);
        assert_eq!(budget.output_bytes_used(), total);
        assert!(total <= LIMITS.max_total_output_bytes);
    }
});
