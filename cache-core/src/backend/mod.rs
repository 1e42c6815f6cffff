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
//! Beyond those five, the trait has the operations users know from Cachex and moka: batches,
//! atomic updates ([`Backend::compute`], one primitive for every read-modify-write), multi-key
//! transactions, expiry control and counting, each with a default. Batches default to one call
//! per key, which is correct everywhere and which a remote store overrides to make one round
//! trip. Operations a store cannot do correctly by composition (an atomic update, a
//! transaction, a TTL query) default to a [`BackendErrorKind::Unsupported`] error naming the
//! backend and the operation, never a silent no-op or a racy imitation. Walking the entries
//! needs more of the key type on some stores (Redis must decode keys), so it is a separate
//! capability trait, [`Iterate`], and a cache over a backend without it has no `iter` method at
//! all. The [`ops`] module has the types and the reasoning behind `compute` and transactions.
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

#[cfg(feature = "json")]
pub mod json;
pub mod lease;
pub mod ops;
pub use ops::{Compute, Computed, Cursor, Transaction, Ttl, Write};

/// The error of an operation `backend` cannot do, naming both.
pub fn unsupported(backend: &'static str, operation: &str) -> BackendError {
    BackendError::new(
        backend,
        BackendErrorKind::Unsupported,
        format_args!("the {backend} backend does not support `{operation}`"),
    )
}

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

/// A value found with the time it has left: what a tiered first layer copies.
#[cfg(feature = "tiered")]
pub(crate) type Timed<V> = (Found<V>, Ttl);

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

    /// Whether [`stats`](Backend::stats) only reads counts the store keeps as it changes, as the
    /// in-memory backend does, rather than walking the entries or asking a server. The `metrics`
    /// bridge samples the size of such a cache at every tick and the others less often.
    const CHEAP_STATS: bool = false;

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
        Err(unsupported(Self::KIND, "purge_expired"))
    }

    /// The live values under `keys`, in the same order. The default asks for each key in turn;
    /// a remote store overrides it to make one round trip.
    fn get_many<Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Option<Found<V>>>, BackendError> {
        keys.iter().map(|k| self.get(*k)).collect()
    }

    /// Stores every entry, each expiring after `ttl` if given. The default inserts each in
    /// turn; a remote store overrides it to make one round trip.
    fn insert_many(&self, entries: Vec<(K, V)>, ttl: Option<Duration>) -> Result<(), BackendError> {
        entries
            .into_iter()
            .try_for_each(|(k, v)| self.insert(k, v, ttl))
    }

    /// Stores every entry, each expiring after its own TTL if it has one (a restored snapshot,
    /// whose entries have each their time left). The default inserts each in turn; a store whose
    /// writes are costly overrides it (the disk backend makes it one transaction).
    fn insert_each(&self, entries: Vec<(K, V, Option<Duration>)>) -> Result<(), BackendError> {
        entries
            .into_iter()
            .try_for_each(|(k, v, ttl)| self.insert(k, v, ttl))
    }

    /// Removes every key of `keys`; how many had a live value.
    fn remove_many<Q: ?Sized + Lookup<K>>(&self, keys: &[&Q]) -> Result<u64, BackendError> {
        keys.iter()
            .try_fold(0, |n, k| Ok(n + u64::from(self.remove(*k)?)))
    }

    /// Removes `key` and returns its live value, in one atomic step (Cachex's `take`).
    fn take<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<V>, BackendError> {
        let _ = key;
        Err(unsupported(Self::KIND, "take"))
    }

    /// Applies `f` to the live value under `key` (or `None`) and stores what it decides, with
    /// no other write to `key` in between; a new entry expires after `ttl` if given, an updated
    /// one keeps its deadline. `f` may run more than once on a backend that retries on conflict,
    /// and must not use this cache. See [`ops`] for the design.
    fn compute<F>(&self, key: K, ttl: Option<Duration>, f: F) -> Result<Computed<V>, BackendError>
    where
        F: FnMut(Option<&V>) -> Compute<V>,
    {
        let _ = (key, ttl, f);
        Err(unsupported(Self::KIND, "compute"))
    }

    /// Runs `f` over a snapshot of `keys` and commits the writes it stages, with no other
    /// writer of those keys in between and no reader seeing some of the writes without the
    /// others; staged puts without a TTL of their own expire after `ttl`. `f` may run more than
    /// once on a backend that retries on conflict, and must not use this cache.
    fn transaction<R, F>(&self, keys: &[K], ttl: Option<Duration>, f: F) -> Result<R, BackendError>
    where
        F: FnMut(&mut Transaction<'_, K, V>) -> R,
    {
        let _ = (keys, ttl, f);
        Err(unsupported(Self::KIND, "transaction"))
    }

    /// Whether `key` has a live value, without counting as a read: no time-to-idle refresh, no
    /// frequency bump. The default reads the value, which on a store with a time to idle counts
    /// as a read.
    fn contains_key<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        Ok(self.get(key)?.is_some())
    }

    /// How long `key`'s value has left.
    fn ttl<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Ttl, BackendError> {
        let _ = key;
        Err(unsupported(Self::KIND, "ttl"))
    }

    /// Gives `key`'s value a new deadline `ttl` from now (or none with `None`, Cachex's
    /// `persist`); whether there was a live value.
    fn expire<Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let _ = (key, ttl);
        Err(unsupported(Self::KIND, "expire"))
    }

    /// Counts as a read of `key` for time to idle without returning the value; whether there
    /// was a live value.
    fn touch<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let _ = key;
        Err(unsupported(Self::KIND, "touch"))
    }

    /// Evicts entries, by the backend's eviction policy, until at most `max_entries` remain;
    /// how many it evicted (Cachex's `prune`).
    fn prune(&self, max_entries: u64) -> Result<u64, BackendError> {
        let _ = max_entries;
        Err(unsupported(Self::KIND, "prune"))
    }

    /// Whether [`leases`](Self::leases) can return `Some`: a backend that overrides `leases`
    /// sets it too. `false` by default, and then the cache's code for single flight across
    /// processes is not compiled for this backend at all (the builder rejects the option, as it
    /// does when `leases` returns `None`).
    const LEASES: bool = false;

    /// The store's leases, for single flight across the processes sharing it
    /// ([`CacheBuilder::distributed_flight`](crate::CacheBuilder::distributed_flight)); `None`
    /// (the default) for a store only this process sees, and the builder then rejects that
    /// option.
    fn leases(&self) -> Option<&dyn lease::Leases<K>> {
        None
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

    /// Async form of [`Backend::get_many`].
    fn get_many_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<Vec<Option<Found<V>>>, BackendError>> + Send
    where
        V: Send,
    {
        std::future::ready(self.get_many(keys))
    }

    /// Async form of [`Backend::insert_many`].
    fn insert_many_async(
        &self,
        entries: Vec<(K, V)>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send
    where
        K: Send,
        V: Send,
    {
        std::future::ready(self.insert_many(entries, ttl))
    }

    /// Async form of [`Backend::remove_many`].
    fn remove_many_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<u64, BackendError>> + Send {
        std::future::ready(self.remove_many(keys))
    }

    /// Async form of [`Backend::take`].
    fn take_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<V>, BackendError>> + Send
    where
        V: Send,
    {
        std::future::ready(self.take(key))
    }

    /// Async form of [`Backend::compute`].
    fn compute_async<F>(
        &self,
        key: K,
        ttl: Option<Duration>,
        f: F,
    ) -> impl Future<Output = Result<Computed<V>, BackendError>> + Send
    where
        F: FnMut(Option<&V>) -> Compute<V> + Send,
        K: Send,
        V: Send,
    {
        std::future::ready(self.compute(key, ttl, f))
    }

    /// Async form of [`Backend::transaction`].
    fn transaction_async<R, F>(
        &self,
        keys: &[K],
        ttl: Option<Duration>,
        f: F,
    ) -> impl Future<Output = Result<R, BackendError>> + Send
    where
        F: FnMut(&mut Transaction<'_, K, V>) -> R + Send,
        R: Send,
        K: Sync,
        V: Send,
    {
        std::future::ready(self.transaction(keys, ttl, f))
    }

    /// Async form of [`Backend::contains_key`].
    fn contains_key_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        std::future::ready(self.contains_key(key))
    }

    /// Async form of [`Backend::ttl`].
    fn ttl_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Ttl, BackendError>> + Send {
        std::future::ready(self.ttl(key))
    }

    /// Async form of [`Backend::expire`].
    fn expire_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        std::future::ready(self.expire(key, ttl))
    }

    /// Async form of [`Backend::touch`].
    fn touch_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        std::future::ready(self.touch(key))
    }
}

/// A backend whose entries can be walked: [`Cache::iter`](crate::Cache::iter),
/// [`keys`](crate::Cache::keys) and [`remove_where`](crate::Cache::remove_where) exist for a
/// cache over one. A capability of its own because walking needs more of the key type on some
/// stores (Redis decodes keys from their bytes, so it needs `K: DeserializeOwned`).
///
/// A walk is weakly consistent: it returns every entry live for the whole walk exactly once,
/// never an expired entry and never an entry twice, and may or may not return one inserted or
/// removed while it runs. It never blocks writers for the whole walk.
pub trait Iterate<K, V>: Backend<K, V> {
    /// Hands `visit` the live entries of one step of a walk from `cursor` (start with
    /// [`Cursor::START`]); the cursor of the next step, or `None` when the walk is done.
    fn scan(
        &self,
        cursor: Cursor,
        visit: &mut dyn FnMut(K, V),
    ) -> Result<Option<Cursor>, BackendError>;

    /// Removes every live entry for which `pred` holds; how many it removed.
    fn remove_where<F: FnMut(&K, &V) -> bool>(&self, pred: F) -> Result<u64, BackendError>;
}

/// A backend none of whose operations can fail: it lives in this process and holds typed values,
/// so there is no network, no file and no codec between a call and its answer. A cache over one
/// has [`Cache::local`](crate::Cache::local), the API without `Result` (moka's `get ->
/// Option<V>`); a remote store (Redis) or a file (disk) must not implement it.
///
/// The promise covers every operation of [`Backend`] except those that answer
/// [`BackendErrorKind::Unsupported`] (which the local view does not call). A backend that breaks
/// it is not unsound: the local view reports the error as every cache operation does (an error
/// event, [`Stats::errors`](crate::Stats::errors)) and answers as for a miss.
pub trait InfallibleBackend<K, V>: Backend<K, V> {}
