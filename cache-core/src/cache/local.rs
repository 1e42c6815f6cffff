//! [`Local`]: the operations of a cache whose backend cannot fail, without `Result`.
//!
//! # Design
//!
//! [`Cache`] serves every backend, so its operations return `Result`: Redis can time out, a disk
//! can be full. A cache in memory cannot fail, and `?` or `.unwrap()` after every `get` there is
//! noise that hides the calls that can. moka answers `get -> Option<V>`; so does [`Local`], the
//! view [`Cache::local`] gives of a cache over an [`InfallibleBackend`] (the in-memory one).
//!
//! The choices, and why this one:
//!
//! * **Inherent methods on `Cache<K, V, MemoryBackend>`**: impossible under the same names, since
//!   the generic ones already exist on every `Cache`, and Rust has no specialization.
//! * **An extension trait**: inherent methods win over trait methods, so it would need other
//!   names (`get_value`, `put`), two spellings of each operation, and the ElixirCache names
//!   (`put`, `delete`) already map to the fallible ones in the docs.
//! * **A backend-chosen return type** (`B::Answer<Option<V>>`): the same names everywhere, but
//!   every [`Backend`] implementation, and every generic function over caches, would carry the
//!   extra associated type.
//! * **A view**, `cache.local().get(&key)`: the same names as moka and as the fallible API, one
//!   word where `?` was, and only where the type says the backend cannot fail: `local()` does not
//!   exist on a Redis cache, so nobody swallows a network error by accident. The view derefs to
//!   the cache, so everything else (`len`, `stats`, `iter`, `update`) is still there.
//!
//! An error that an [`InfallibleBackend`] returns anyway (a broken promise of a user's backend)
//! is reported as every cache error is (an error event, [`Stats::errors`](crate::Stats::errors))
//! and answers as a miss would: `None`, `false`, nothing stored. `get_or_insert_with` has no value
//! to answer with then, and panics with the error; it also panics when its loader asks the cache
//! for the key it is loading, as a memoized function that calls itself with the same arguments
//! does (waiting for itself would never end): that is the one error the in-memory backend can
//! give.

use std::future::Future;
use std::ops::Deref;
use std::time::Duration;

use super::handle::Cache;
use crate::backend::InfallibleBackend;
use crate::bounds::{CacheKey, CacheValue};
use crate::error::CacheError;
use crate::key::Lookup;

#[cfg(doc)]
use crate::backend::Backend;

/// The API without `Result` of a cache whose backend cannot fail, from [`Cache::local`]: `get`
/// answers `Option<V>`, `insert` nothing, `remove` a `bool`. It derefs to the [`Cache`] for the
/// rest.
///
/// ```
/// use memokit_core::Cache;
///
/// let prices: Cache<u32, u64> = Cache::builder("doc-local-prices").capacity(1_000).build()?;
/// let local = prices.local();
/// local.insert(1, 250);
/// assert_eq!(local.get(&1), Some(250));
/// assert_eq!(local.get_or_insert_with(2, || 90), 90);
/// assert!(local.remove(&1));
/// assert_eq!(local.len(), 1);
/// # Ok::<(), memokit_core::CacheError>(())
/// ```
pub struct Local<'c, K, V, B: InfallibleBackend<K, V>> {
    cache: &'c Cache<K, V, B>,
}

impl<K: CacheKey, V: CacheValue, B: InfallibleBackend<K, V>> Cache<K, V, B> {
    /// This cache's operations without `Result`: its backend cannot fail (see [`Local`]).
    pub fn local(&self) -> Local<'_, K, V, B> {
        Local { cache: self }
    }
}

/// The answer of an operation that cannot fail; an error a backend returned anyway has been
/// reported by the cache, and reads as `miss`.
fn or_miss<T>(result: Result<T, CacheError>, miss: T) -> T {
    match result {
        Ok(answer) => answer,
        Err(_) => miss,
    }
}

impl<K: CacheKey, V: CacheValue, B: InfallibleBackend<K, V>> Local<'_, K, V, B> {
    /// The value under `key`, if there is a live one.
    #[inline]
    pub fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Option<V> {
        or_miss(self.cache.get(key), None)
    }

    /// Stores `value` under `key` with the cache-wide TTL, replacing any previous value.
    pub fn insert(&self, key: K, value: V) {
        or_miss(self.cache.insert(key, value), ());
    }

    /// Stores `value` under `key`, expiring after `ttl` instead of the cache-wide TTL.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) {
        or_miss(self.cache.insert_with_ttl(key, value, ttl), ());
    }

    /// Removes `key`; whether a value was there.
    pub fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> bool {
        or_miss(self.cache.remove(key), false)
    }

    /// Removes `key` and returns its value, if there was a live one.
    pub fn take<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Option<V> {
        or_miss(self.cache.take(key), None)
    }

    /// Whether a live value is under `key`, without counting as a read.
    pub fn contains_key<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> bool {
        or_miss(self.cache.contains_key(key), false)
    }

    /// Removes every entry of the current namespace.
    pub fn clear(&self) {
        or_miss(self.cache.clear(), ());
    }

    /// The value under `key`, or the result of `init` stored under it; concurrent callers for
    /// one key run `init` once.
    ///
    /// # Panics
    ///
    /// If `init` asks this cache for `key` itself, which would wait for itself forever.
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> V {
        match self.cache.get_or_insert_with(key, init) {
            Ok(value) => value,
            Err(error) => panic!("memokit: {error}"),
        }
    }

    /// Async form of [`get_or_insert_with`](Self::get_or_insert_with): concurrent tasks missing
    /// one key await a single `init`.
    pub async fn get_or_insert_with_async(&self, key: K, init: impl Future<Output = V>) -> V {
        match self.cache.get_or_insert_with_async(key, init).await {
            Ok(value) => value,
            Err(error) => panic!("memokit: {error}"),
        }
    }
}

impl<K, V, B: InfallibleBackend<K, V>> Deref for Local<'_, K, V, B> {
    type Target = Cache<K, V, B>;

    fn deref(&self) -> &Cache<K, V, B> {
        self.cache
    }
}

impl<K, V, B: InfallibleBackend<K, V>> Clone for Local<'_, K, V, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V, B: InfallibleBackend<K, V>> Copy for Local<'_, K, V, B> {}
