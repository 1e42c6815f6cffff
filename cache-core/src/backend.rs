//! The storage contract every cache sits on.
//!
//! # Design
//!
//! The trait is shaped after ExResilience's cache behaviour (`get / put(key, value, ttl) /
//! invalidate / stats`) and has to fit two very different stores:
//!
//! * a local store (the in-memory backend) that cannot fail, must answer a hit without taking an
//!   exclusive lock or allocating, and holds typed values;
//! * a remote store (Redis) that can fail or time out, is naturally async, and holds bytes.
//!
//! So: methods return `Result<_, BackendError>` (the local store simply never returns `Err`);
//! lookups take any borrowed form `Q` of the key ([`Lookup`]) so a local hit never builds an owned
//! key, while a remote store calls [`ToKey`](crate::key::ToKey) and encodes; and every method has
//! an `async` twin whose default runs the sync one, which a local store keeps and a remote store
//! overrides with real I/O, so async callers never block a runtime thread on the network.
//!
//! Namespaces (test sandboxes) are not a parameter of every call: [`Backend::scoped`] makes a view
//! of the same store for one namespace (a fresh map in memory, a distinct key prefix in Redis), and
//! the [`Cache`](crate::Cache) keeps one view per live namespace. Dropping a sandbox clears its
//! view, which is all a backend must do for isolation.
//!
//! Write times travel with values ([`Found::written`]) so stale-while-revalidate works the same on
//! every backend, using memokit's [clock](crate::clock) rather than the backend's.

use std::future::Future;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::config::Config;
pub use crate::config::RemovalCause;
use crate::context::Namespace;
use crate::error::{BackendError, BackendErrorKind};
use crate::key::Lookup;

/// A value found in a backend, with the time it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<V> {
    /// The cached value.
    pub value: V,
    /// When it was written, on memokit's clock. Only a cache with a
    /// [`refresh`](crate::CacheBuilder::refresh) age reads it, so a backend may leave it at
    /// zero for a cache without one (the in-memory backend does, to spare writes a clock read).
    pub written: Timestamp,
}

/// What a backend knows about its own contents. Counters are totals since the backend was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendStats {
    /// Live entries (an estimate where the store cannot count cheaply).
    pub entries: u64,
    /// Total weight of live entries (equal to `entries` without a weigher).
    pub weight: u64,
    /// Entries evicted to respect the capacity.
    pub evicted: u64,
    /// Entries dropped because their TTL or TTI passed.
    pub expired: u64,
    /// Values overwritten by a newer insert for the same key.
    pub replaced: u64,
}

/// Storage for a [`Cache`](crate::Cache); see the [module docs](self) for the design.
///
/// Implement it to plug a store of your own into `#[cached(backend = MyBackend)]` or a cache
/// module; the in-memory backend ([`MemoryBackend`](crate::MemoryBackend)) is the reference
/// implementation. A backend never panics on bad data: a value that cannot be decoded is a miss
/// (`Ok(None)`) or a [`BackendErrorKind::Codec`] error.
pub trait Backend<K, V>: Sized + Send + Sync + 'static {
    /// Settings specific to this backend (a Redis URL, a timeout), given to [`Backend::open`].
    type Options: Clone + Default + Send + Sync + 'static;

    /// A short name for stats, events and errors, such as `"memory"`.
    const KIND: &'static str;

    /// Opens the backend of the cache described by `config`.
    fn open(config: &Config<K, V>, options: &Self::Options) -> Result<Self, BackendError>;

    /// A view of the same store holding only `namespace`'s entries, disjoint from every other
    /// namespace's. Clearing the view must clear nothing outside it.
    fn scoped(&self, namespace: Namespace) -> Result<Self, BackendError>;

    /// The live value under `key`. Expired values are never returned.
    fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Found<V>>, BackendError>;

    /// Stores `value` under `key`, replacing any previous value, expiring after `ttl` if given
    /// (the cache-wide TTL, if any, is already folded into `ttl` by the caller).
    fn insert(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), BackendError>;

    /// Removes `key`; whether it was present.
    fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError>;

    /// Removes every entry of this view.
    fn clear(&self) -> Result<(), BackendError>;

    /// What the backend knows about its contents. `entries` and `weight` count live entries
    /// only: none whose TTL or time to idle has passed on memokit's clock.
    fn stats(&self) -> BackendStats;

    /// Drops every entry of this view whose TTL or time to idle has passed, now; how many it
    /// dropped. A backend that cannot tell returns a
    /// [`BackendErrorKind::Unsupported`] error rather than a count it does not know.
    ///
    /// Per backend: the in-memory one drops them and returns the exact count (usually 0, since
    /// every operation already drops entries whose deadline has passed). Redis expires keys
    /// itself and does not tell clients which, so it returns the error, as does any backend
    /// that keeps this default.
    fn purge_expired(&self) -> Result<u64, BackendError> {
        Err(BackendError::new(
            Self::KIND,
            BackendErrorKind::Unsupported,
            format_args!(
                "the {} backend cannot purge expired entries on demand",
                Self::KIND
            ),
        ))
    }

    /// Async form of [`Backend::get`]; a remote backend overrides it with real async I/O.
    fn get_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<Found<V>>, BackendError>> + Send
    where
        V: Send,
    {
        std::future::ready(self.get(key))
    }

    /// Async form of [`Backend::insert`].
    fn insert_async(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send
    where
        K: Send,
        V: Send,
    {
        std::future::ready(self.insert(key, value, ttl))
    }

    /// Async form of [`Backend::remove`].
    fn remove_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        std::future::ready(self.remove(key))
    }

    /// Async form of [`Backend::clear`].
    fn clear_async(&self) -> impl Future<Output = Result<(), BackendError>> + Send {
        std::future::ready(self.clear())
    }

    /// Async form of [`Backend::purge_expired`].
    fn purge_expired_async(&self) -> impl Future<Output = Result<u64, BackendError>> + Send {
        std::future::ready(self.purge_expired())
    }
}
