//! The backend's earliest deadline: one atomic that every operation compares with the time, so
//! the first operation after any shard's deadline drops what has expired, and that a hit on a
//! cache where nothing can expire reads once (relaxed) and never compares with a clock.
//!
//! # The invariant
//!
//! Outside a write in progress, the value is at most every shard's earliest deadline. A reader
//! that finds an entry under its shard's read lock loads it after that lock: the write that
//! scheduled the entry lowered this value inside its critical section, which happens before
//! the reader's, so the reader sees that lowering or a later value, and (below) no later value
//! is above the entry's deadline while the entry is there. So a hit that loads "nothing can
//! expire" has found an entry without a deadline, and needs neither the time nor the entry's
//! own expiry fields.
//!
//! # Lowering and raising
//!
//! A write that makes its shard's earliest deadline earlier lowers the value, after storing the
//! shard's new deadline and before releasing the shard's lock. Dropping entries raises a
//! shard's deadline, and then the value is recomputed from all the shards' and raised. A raise
//! must not undo a lowering that it did not see, so the lowest bit of the value is a *dirty*
//! flag: every lowering sets it (even one that changes nothing else), and a raise is a
//! compare-and-swap from the value it cleared the flag in, made after reading the shards. If
//! any lowering came in between, the swap fails and the value stays as low as it was, which is
//! safe: the next operation finds it passed, drops nothing, and tries again. Only one thread
//! raises at a time (others leave it low), so no raise can reset the flag under another's
//! swap. Deadlines are kept even (the flag's bit cleared), so the value may be one nanosecond
//! early, never late.
//!
//! Every operation on the value and on the shards' deadlines is sequentially consistent: the
//! argument needs a raise's reads of the shards to follow, in that one order, the lowering it
//! clears the flag after.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use super::deadlines::NEVER;
use super::shim::{AtomicBool, AtomicU64};

/// The flag set by a lowering.
const DIRTY: u64 = 1;
/// The value when nothing can expire, flag aside.
const NONE: u64 = NEVER & !DIRTY;

pub(super) struct Soonest {
    value: AtomicU64,
    /// Whether a thread is raising the value.
    raising: AtomicBool,
}

impl Soonest {
    pub(super) fn new() -> Self {
        Self {
            value: AtomicU64::new(NONE),
            raising: AtomicBool::new(false),
        }
    }

    /// Whether some entry of the backend may expire. The hit path's one load.
    #[inline(always)]
    pub(super) fn may_expire(&self) -> bool {
        self.value.load(Relaxed) < NONE
    }

    /// No entry expires before this time; [`NEVER`] if none can expire.
    #[inline]
    pub(super) fn get(&self) -> u64 {
        match self.value.load(Relaxed) & !DIRTY {
            NONE => NEVER,
            t => t,
        }
    }

    /// Makes the value at most `deadline`: a shard's earliest deadline is now `deadline`. Called
    /// under that shard's write lock, after its deadline is stored.
    pub(super) fn lower(&self, deadline: u64) {
        let deadline = deadline & !DIRTY;
        let mut current = self.value.load(SeqCst);
        loop {
            let lowered = (current & !DIRTY).min(deadline) | DIRTY;
            match self
                .value
                .compare_exchange_weak(current, lowered, SeqCst, SeqCst)
            {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// Raises the value to `least()`, the least of the shards' earliest deadlines read now,
    /// unless a lowering comes in between or another thread is raising it (then it stays as it
    /// was, which is never too late).
    pub(super) fn raise(&self, least: impl FnOnce() -> u64) {
        if self.raising.swap(true, Acquire) {
            return;
        }
        let cleared = self.value.fetch_and(!DIRTY, SeqCst) & !DIRTY;
        let least = least() & !DIRTY;
        let _ = self
            .value
            .compare_exchange(cleared, least.min(NONE), SeqCst, SeqCst);
        self.raising.store(false, Release);
    }
}
