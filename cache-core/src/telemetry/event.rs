//! The event model: what happened ([`EventKind`]) and where ([`Event`]), and the cache an emitter
//! speaks for ([`Source`]).

use std::time::Duration;

use super::names;
use crate::backend::RemovalCause;
use crate::context::Namespace;
use crate::error::BackendError;

/// Which cache an event belongs to (its name and backend kind), as every emitter is given it.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) cache: &'a str,
    pub(crate) backend: &'static str,
}

/// One thing that happened to one cache, as handed to every attached handler.
///
/// It borrows from the operation that emitted it, so a handler that keeps data copies what it
/// needs (the cache name is usually all).
///
/// ```
/// use memokit_core::telemetry::{Event, EventKind, GetResult, names};
/// fn describe(event: &Event<'_>) -> String {
///     match event.kind {
///         EventKind::Get(GetResult::Hit) => format!("{} hit", event.cache),
///         _ => format!("{} {}", event.cache, event.name()),
///     }
/// }
/// # let _ = describe;
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Event<'a> {
    /// The cache's name.
    pub cache: &'a str,
    /// The backend's kind, such as `"memory"` or `"redis"`.
    pub backend: &'static str,
    /// The namespace the operation ran in: a sandbox's, or [`Namespace::GLOBAL`] outside any.
    pub namespace: Namespace,
    /// What happened.
    pub kind: EventKind<'a>,
}

impl Event<'_> {
    /// The event's name, one of [`names::EVENTS`].
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The sandbox the operation ran in, if it ran in one.
    pub fn sandbox(&self) -> Option<Namespace> {
        (!self.namespace.is_global()).then_some(self.namespace)
    }
}

/// What happened; each variant documents its name.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum EventKind<'a> {
    /// [`names::GET`]: a lookup and its result.
    Get(GetResult),
    /// [`names::INSERT`]: a value was written (by an insert, or by a load storing its result).
    Insert,
    /// [`names::REMOVE`]: an explicit removal; whether something was there.
    Remove {
        /// Whether a value was removed.
        removed: bool,
    },
    /// [`names::CLEAR`]: every entry of the namespace was removed.
    Clear,
    /// [`names::LOAD_START`]: a loader is about to run (this caller leads the key's single
    /// flight; callers waiting on it emit nothing).
    LoadStart,
    /// [`names::LOAD`]: a loader finished.
    Load {
        /// Whether its result was cached.
        outcome: LoadOutcome,
        /// How long it ran.
        duration: Duration,
    },
    /// [`names::REFRESH`]: a refresh of a stale entry finished.
    Refresh {
        /// Whether its result was cached.
        outcome: LoadOutcome,
        /// How long it ran.
        duration: Duration,
    },
    /// [`names::EVICT`] or, when the cause is [`RemovalCause::Expired`], [`names::EXPIRE`]: the
    /// backend dropped an entry. Reported where the backend reports removals to its eviction
    /// listener, so it runs while the backend may hold a lock (see
    /// [`attach`](super::attach)).
    Removal {
        /// Why it left.
        cause: RemovalCause,
    },
    /// [`names::ERROR`]: the backend failed, or a memoized function's or cache module's cache
    /// could not be built (kind [`Config`](crate::BackendErrorKind::Config), once per cache);
    /// memoized functions ran their body anyway.
    Error {
        /// What the backend said.
        error: &'a BackendError,
    },
}

impl EventKind<'_> {
    /// The name of events of this kind.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Get(_) => names::GET,
            Self::Insert => names::INSERT,
            Self::Remove { .. } => names::REMOVE,
            Self::Clear => names::CLEAR,
            Self::LoadStart => names::LOAD_START,
            Self::Load { .. } => names::LOAD,
            Self::Refresh { .. } => names::REFRESH,
            Self::Removal {
                cause: RemovalCause::Expired,
            } => names::EXPIRE,
            Self::Removal { .. } => names::EVICT,
            Self::Error { .. } => names::ERROR,
        }
    }
}

/// The result of a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GetResult {
    /// A fresh value was found.
    Hit,
    /// Nothing was found.
    Miss,
    /// A value past the cache's [`refresh`](crate::CacheBuilder::refresh) age was found and
    /// returned (memoized functions and `get_or_refresh_with` reload it in the background).
    /// [`Stats::hits`](crate::Stats::hits) counts it as a hit.
    Stale,
}

impl GetResult {
    /// `"hit"`, `"miss"` or `"stale"`, as used in metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Stale => "stale",
        }
    }
}

/// How a loader's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoadOutcome {
    /// It returned a value that was cached.
    Ok,
    /// It returned a value the cache policy does not keep (an `Err`, a `None`).
    NotCached,
    /// It returned an `Err`, and the caller got the value kept past its TTL instead (a cache
    /// with a [`fallback`](crate::CacheBuilder::fallback) age).
    FellBack,
    /// It panicked; the panic went on to the caller.
    Panicked,
    /// Its future was dropped before it finished.
    Cancelled,
}

impl LoadOutcome {
    /// `"ok"`, `"not_cached"`, `"fallback"`, `"panicked"` or `"cancelled"`, as used in metric
    /// labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::NotCached => "not_cached",
            Self::FellBack => "fallback",
            Self::Panicked => "panicked",
            Self::Cancelled => "cancelled",
        }
    }
}
