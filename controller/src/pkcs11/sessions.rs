//! The logged-in sessions of one token (ADR 0005 §5). A PKCS#11 session runs one operation at
//! a time, so a single session would serialise every RSA-pool worker on the token; the token
//! opens one session per worker instead, and a call takes a free one.
//!
//! Login state belongs to the application, not the session: the first session logs in, the
//! others share it without the PIN. Object handles are valid in every session of the
//! application, so a key found in one session is used in any.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use cryptoki::session::Session;

/// A fixed set of sessions of one token.
pub(super) struct Sessions {
    all: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl Sessions {
    /// `sessions` must not be empty.
    pub(super) fn new(sessions: Vec<Session>) -> Self {
        debug_assert!(!sessions.is_empty());
        Self {
            all: sessions.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// How many sessions there are.
    pub(super) fn len(&self) -> usize {
        self.all.len()
    }

    /// A session no other call is using, or (all busy) the next one in turn, once it is free.
    /// A panic while a session was held leaves it as usable as before.
    pub(super) fn get(&self) -> MutexGuard<'_, Session> {
        let n = self.all.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            match self.all[(start + i) % n].try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.all[start]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
