//! The per-thread context every cache consults: the namespace (sandbox) and the clock.
//!
//! Both live in one thread-local so the hit path pays a single thread-local access. Namespace 0
//! is the shared, process-wide one; sandboxes allocate the others.

use std::cell::RefCell;
use std::sync::Arc;

use crate::clock::ManualClock;

/// Identifies one namespace of every cache. `Namespace::GLOBAL` is where code outside any
/// sandbox reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(pub(crate) u64);

impl Namespace {
    /// The namespace shared by all code that runs outside a sandbox.
    pub const GLOBAL: Self = Self(0);

    /// Its numeric id; 0 for [`Namespace::GLOBAL`].
    pub const fn id(self) -> u64 {
        self.0
    }

    /// Whether this is [`Namespace::GLOBAL`].
    pub const fn is_global(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_global() {
            f.write_str("global")
        } else {
            write!(f, "sb{}", self.0)
        }
    }
}

struct Context {
    namespace: u64,
    clock: Option<Arc<ManualClock>>,
}

thread_local! {
    static CONTEXT: RefCell<Context> = const {
        RefCell::new(Context { namespace: 0, clock: None })
    };
}

/// The namespace the current thread works in.
#[inline]
pub fn namespace() -> Namespace {
    Namespace(CONTEXT.with_borrow(|c| c.namespace))
}

pub(crate) fn clock() -> Option<Arc<ManualClock>> {
    CONTEXT.with_borrow(|c| c.clock.clone())
}

pub(crate) fn replace_clock(clock: Option<Arc<ManualClock>>) -> Option<Arc<ManualClock>> {
    CONTEXT.with_borrow_mut(|c| std::mem::replace(&mut c.clock, clock))
}
