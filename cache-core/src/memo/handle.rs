//! [`Memo`], the lazily built cache of one memoized function, and how its two statics find one
//! cache (see the [module docs](super)).

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{LazyLock, Mutex, OnceLock};

use crate::backend::Backend;
use crate::bounds::{CacheKey, CacheValue};
use crate::cache::Cache;
use crate::error::CacheError;
use crate::memory::MemoryBackend;

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

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Memo<K, V, B> {
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

    /// Identifies this memo's cache to [directives](super::directive); equal for memos that share
    /// the cache.
    pub(crate) fn target(&self) -> usize {
        std::ptr::from_ref(self.shared()).addr()
    }

    /// The cache, or the configuration error that keeps it from existing.
    pub fn cache(&self) -> Result<&Cache<K, V, B>, &CacheError> {
        self.shared().as_ref()
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
