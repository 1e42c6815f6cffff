//! [`Memo`], the cache behind one memoized function.

use std::fmt;
use std::hash::Hash;
use std::sync::LazyLock;

use crate::backend::Backend;
use crate::cache::Cache;
use crate::error::CacheError;
use crate::key::Lookup;
use crate::memory::MemoryBackend;
use crate::stats::Stats;

/// The lazily built cache of one `#[cached]` function, reachable through its companion constant.
///
/// For `fn fetch_user(..)` the macro generates `FETCH_USER: &Memo<..>` beside it (an associated
/// constant for methods). If the cache's configuration is invalid, the function still works (it
/// runs its body on every call) and [`Memo::cache`] says why.
///
/// ```
/// use memokit_core::{Cache, Memo};
///
/// static SQUARES: Memo<u64, u64> = Memo::new(|| Cache::builder("squares").build());
///
/// let cache = SQUARES.cache().unwrap();
/// cache.insert(4, 16).unwrap();
/// assert_eq!(cache.get(&4).unwrap(), Some(16));
/// assert_eq!(SQUARES.stats().hits, 1);
/// assert!(SQUARES.invalidate(&4));
/// assert!(SQUARES.is_empty());
/// ```
pub struct Memo<K, V, B: Backend<K, V> = MemoryBackend<K, V>> {
    cache: LazyLock<Result<Cache<K, V, B>, CacheError>>,
}

impl<K, V, B: Backend<K, V>> Memo<K, V, B> {
    /// A memo whose cache `init` builds on first use.
    pub const fn new(init: fn() -> Result<Cache<K, V, B>, CacheError>) -> Self {
        Self {
            cache: LazyLock::new(init),
        }
    }

    /// The cache, or the configuration error that keeps it from existing.
    pub fn cache(&self) -> Result<&Cache<K, V, B>, &CacheError> {
        self.cache.as_ref()
    }
}

impl<K, V, B> Memo<K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
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

    /// Forgets the result cached for `key` (the argument tuple, or the single argument); whether
    /// there was one. Backend errors count as "nothing removed".
    pub fn invalidate<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> bool {
        self.cache().is_ok_and(|c| c.remove(key).unwrap_or(false))
    }

    /// Forgets every cached result in the current namespace.
    pub fn clear(&self) -> Result<(), CacheError> {
        self.cache().map_err(Clone::clone)?.clear()
    }
}

impl<K, V, B: Backend<K, V>> fmt::Debug for Memo<K, V, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memo").field("cache", &*self.cache).finish()
    }
}
