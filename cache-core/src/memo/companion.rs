//! The companion handle's operations: what a [`Memo`] does for its memoized function (invalidate
//! one call's entry, clear, purge expired entries, read stats, prime a value, call the function
//! uncached or as a forced refresh).

use std::future::Future;

use super::directive::{self, Directive};
use super::handle::Memo;
use crate::backend::Backend;
use crate::bounds::{CacheKey, CacheValue};
use crate::cache::Cache;
use crate::error::CacheError;
use crate::key::KeyArgs;
use crate::stats::Stats;

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Memo<K, V, B> {
    fn usable(&self) -> Result<&Cache<K, V, B>, CacheError> {
        self.cache().map_err(Clone::clone)
    }

    /// Activity of the cache in the current namespace (zeros if it could not be built).
    pub fn stats(&self) -> Stats {
        self.cache().map(Cache::stats).unwrap_or_default()
    }

    /// Live entries in the current namespace: results whose TTL or time to idle has passed are
    /// not counted (see [`Cache::len`]).
    pub fn len(&self) -> u64 {
        self.stats().entries
    }

    /// Whether the current namespace holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the result cached for one call; whether there was one. Pass references to the
    /// key's parts as the function receives them: `&id` for `fn f(id: u64)`, `name` for
    /// `fn f(name: &str)`, `(name, &page)` for `fn f(name: &str, page: u32)`, or `&key` for a
    /// function with a custom `key`.
    pub fn invalidate(&self, args: impl KeyArgs<K>) -> Result<bool, CacheError> {
        let cache = self.usable()?;
        args.with_lookup(|key| cache.remove(key))
    }

    /// Forgets every cached result in the current namespace.
    pub fn clear(&self) -> Result<(), CacheError> {
        self.usable()?.clear()
    }

    /// Drops every cached result of the current namespace whose TTL or time to idle has
    /// passed; how many (see [`Cache::purge_expired`]).
    pub fn purge_expired(&self) -> Result<u64, CacheError> {
        self.usable()?.purge_expired()
    }

    /// Stores `value` as the cached result of one call (arguments as for
    /// [`invalidate`](Self::invalidate)); `value` is what a hit returns, unwrapped: the `T` of a
    /// function returning `Result<T, E>` or `Option<T>`.
    pub fn prime(&self, args: impl KeyArgs<K>, value: V) -> Result<(), CacheError> {
        self.usable()?.insert(args.to_key(), value)
    }

    /// Runs `call`, in which the memoized function's next call skips the cache: no lookup and no
    /// store. Other memoized functions called meanwhile use their caches as usual.
    ///
    /// The function must be called on this thread inside `call` (for async functions, see
    /// [`uncached_async`](Self::uncached_async)); the `memokit` facade's `cached` docs show it.
    pub fn uncached<T>(&self, call: impl FnOnce() -> T) -> T {
        directive::run(self.target(), Directive::Uncached, call)
    }

    /// Runs `call`, in which the memoized function's next call skips the lookup, runs its body and
    /// stores the result (as a miss would): a forced reload of one key.
    pub fn refresh<T>(&self, call: impl FnOnce() -> T) -> T {
        directive::run(self.target(), Directive::Refresh, call)
    }

    /// Async form of [`uncached`](Self::uncached): `MEMO.uncached_async(fetch(42)).await`.
    pub fn uncached_async<F: Future>(&self, call: F) -> impl Future<Output = F::Output> {
        directive::run_async(self.target(), Directive::Uncached, call)
    }

    /// Async form of [`refresh`](Self::refresh): `MEMO.refresh_async(fetch(42)).await`.
    pub fn refresh_async<F: Future>(&self, call: F) -> impl Future<Output = F::Output> {
        directive::run_async(self.target(), Directive::Refresh, call)
    }
}
