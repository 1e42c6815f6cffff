//! The per-thread namespace every cache consults (the other half of a thread's context, its
//! manual clock, lives with the [clock](crate::clock)).
//!
//! Namespace 0 is the shared, process-wide one; [sandboxes](mod@crate::sandbox) allocate the others.
//!
//! # Design
//!
//! Every cache operation reads the namespace, so it lives alone in a `const`-initialized
//! `Cell<u64>`: a type without a destructor needs no lazy-registration check, and reading it is a
//! single load from thread-local storage.
//!
//! The context is per *thread*: nothing here follows a closure to another thread or a future to
//! another worker. [`sandbox`](mod@crate::sandbox) provides the helpers that carry it there.

use std::cell::Cell;

/// Identifies one namespace of every cache. `Namespace::GLOBAL` is where code outside any
/// sandbox reads and writes.
///
/// ```
/// use memokit_core::{Namespace, context};
/// assert_eq!(context::namespace(), Namespace::GLOBAL);
/// let sb = memokit_core::sandbox();
/// assert_eq!(context::namespace(), sb.namespace());
/// assert!(!sb.namespace().is_global());
/// ```
///
/// It reads `global` for the global namespace and `sb<id>` for a sandbox's, in `Display` and
/// `Debug` alike, and so in telemetry events, tracing fields and errors: one name everywhere.
///
/// ```
/// use memokit_core::Namespace;
/// assert_eq!(Namespace::GLOBAL.to_string(), "global");
/// assert_eq!(format!("{:?}", Namespace::GLOBAL), "global");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

thread_local! {
    static NAMESPACE: Cell<u64> = const { Cell::new(0) };
}

/// The namespace the current thread works in: the innermost [sandbox](mod@crate::sandbox) entered on
/// this thread, or [`Namespace::GLOBAL`]. Telemetry reads it to tag events with the sandbox id.
#[inline]
pub fn namespace() -> Namespace {
    Namespace(NAMESPACE.get())
}

pub(crate) fn replace_namespace(namespace: Namespace) -> Namespace {
    Namespace(NAMESPACE.replace(namespace.0))
}
