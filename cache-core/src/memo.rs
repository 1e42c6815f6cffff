//! [`Memo`], the cache behind one memoized function, and the companion handle users hold.
//!
//! # Design: one cache, two statics, linked by id
//!
//! `#[cached]` has to give the function body and the companion handle the same cache, from code
//! that cannot name each other reliably: a body in a free function reaches a sibling constant as
//! `NAME`, a body in an `impl` block needs `Self::NAME`, and an attribute cannot tell the two apart
//! (a receiver-less associated function looks exactly like a free function), nor add an item to a
//! trait impl at all. So the body keeps its own `static` inside the function, which works
//! everywhere, and the companion constant keeps another; both carry the same id, made by the
//! macro from the module path, the function name and its source position, and
//! the first of the two to be used builds the cache and publishes it under that id, where the
//! other finds it. The lookup happens once per static (a [`OnceLock`] caches it), so the hit path
//! pays one atomic load, as a `LazyLock` would.
//!
//! Memos whose ids match but whose key, value or backend types differ (which the macro never
//! produces) do not share: each builds its own cache instead of failing.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{LazyLock, Mutex, OnceLock};

use crate::backend::Backend;
use crate::cache::Cache;
use crate::directive::{self, Directive};
use crate::error::CacheError;
use crate::key::KeyArgs;
use crate::memory::MemoryBackend;
use crate::stats::Stats;

type Built<K, V, B> = Result<Cache<K, V, B>, CacheError>;

/// The lazily built cache of one `#[cached]` function: its *companion handle*.
///
/// For `fn fetch_user(..)` the macro generates the constant `FETCH_USER_MEMO: &Memo<..>` beside it
/// (an associated constant for functions in an `impl` block), with the function's visibility. It
/// invalidates one key, clears, reads stats, primes values, and runs the function uncached or as a
/// forced refresh. If the cache's configuration is invalid, the function still works (it runs its
/// body on every call) and [`Memo::cache`] says why.
///
/// A `Memo` can also be declared by hand around any cache:
///
/// ```
/// use memokit_core::{Cache, Memo};
///
/// static SQUARES: Memo<u64, u64> = Memo::new("doc::squares", || Cache::builder("squares").build());
///
/// SQUARES.prime(&4, 16)?;
/// assert_eq!(SQUARES.cache().unwrap().get(&4)?, Some(16));
/// assert_eq!(SQUARES.stats().hits, 1);
/// assert!(SQUARES.invalidate(&4)?);
/// assert!(SQUARES.is_empty());
/// # Ok::<(), memokit_core::CacheError>(())
/// ```
pub struct Memo<K: 'static, V: 'static, B: Backend<K, V> = MemoryBackend<K, V>> {
    id: &'static str,
    init: fn() -> Built<K, V, B>,
    shared: OnceLock<&'static Built<K, V, B>>,
}

impl<K: 'static, V: 'static, B: Backend<K, V>> Memo<K, V, B> {
    /// A memo whose cache `init` builds on first use. Memos created with the same `id` (and the
    /// same types) share one cache; give every other memo an id of its own.
    pub const fn new(id: &'static str, init: fn() -> Built<K, V, B>) -> Self {
        Self {
            id,
            init,
            shared: OnceLock::new(),
        }
    }
}

/// Published caches by id. Values are `&'static Built<K, V, B>` behind `dyn Any`.
static LINKS: LazyLock<Mutex<HashMap<&'static str, &'static (dyn Any + Send + Sync)>>> =
    LazyLock::new(Default::default);

impl<K, V, B> Memo<K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    fn shared(&self) -> &'static Built<K, V, B> {
        self.shared.get_or_init(|| self.link())
    }

    /// Finds the cache published under this memo's id, or builds and publishes it.
    fn link(&self) -> &'static Built<K, V, B> {
        let lock = || LINKS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = lock().get(self.id) {
            return match found.downcast_ref() {
                Some(built) => built,
                None => Box::leak(Box::new((self.init)())),
            };
        }
        // Built outside the lock: building may touch other memos (a weigher, a backend).
        let built = (self.init)();
        let mut links = lock();
        if let Some(found) = links.get(self.id) {
            // Another thread published first; use its cache so there is only one.
            if let Some(theirs) = found.downcast_ref() {
                return theirs;
            }
            return Box::leak(Box::new(built));
        }
        let ours: &'static Built<K, V, B> = Box::leak(Box::new(built));
        links.insert(self.id, ours);
        ours
    }

    /// Identifies this memo's cache to [`directive`]s; equal for memos that share the cache.
    pub(crate) fn target(&self) -> usize {
        std::ptr::from_ref(self.shared()).addr()
    }

    /// The cache, or the configuration error that keeps it from existing.
    pub fn cache(&self) -> Result<&Cache<K, V, B>, &CacheError> {
        self.shared().as_ref()
    }

    fn usable(&self) -> Result<&Cache<K, V, B>, CacheError> {
        self.cache().map_err(Clone::clone)
    }

    /// Activity of the cache in the current namespace (zeros if it could not be built).
    pub fn stats(&self) -> Stats {
        self.cache().map(Cache::stats).unwrap_or_default()
    }

    /// Live entries in the current namespace.
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
        args.remove_from(self.usable()?)
    }

    /// Forgets every cached result in the current namespace.
    pub fn clear(&self) -> Result<(), CacheError> {
        self.usable()?.clear()
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

impl<K: 'static, V: 'static, B: Backend<K, V>> fmt::Debug for Memo<K, V, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memo")
            .field("id", &self.id)
            .field("cache", &self.shared.get())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build() -> Built<u32, u32, MemoryBackend<u32, u32>> {
        Cache::builder("memo-tests::linked").build()
    }

    static FIRST: Memo<u32, u32> = Memo::new("memo-tests::linked", build);
    static SECOND: Memo<u32, u32> = Memo::new("memo-tests::linked", build);
    static OTHER_TYPES: Memo<u32, String> = Memo::new("memo-tests::linked", || {
        Cache::builder("memo-tests::other").build()
    });

    #[test]
    fn memos_with_one_id_share_a_cache_and_other_types_do_not() {
        FIRST.prime(&1, 10).unwrap();
        assert_eq!(SECOND.cache().unwrap().get(&1).unwrap(), Some(10));
        assert_eq!(FIRST.target(), SECOND.target());
        assert_eq!(OTHER_TYPES.len(), 0);
        assert_eq!(OTHER_TYPES.cache().unwrap().name(), "memo-tests::other");
    }
}
