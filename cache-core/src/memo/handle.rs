//! [`Memo`], the lazily built cache of one memoized function, and [`Companion`], which reaches it
//! by id (see the [module docs](super)).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::{LazyLock, Mutex, MutexGuard, OnceLock};

use crate::backend::Backend;
use crate::bounds::{CacheKey, CacheValue};
use crate::cache::{Cache, report_unbuilt};
use crate::error::CacheError;
use crate::memory::MemoryBackend;

type Built<K, V, B> = Result<Cache<K, V, B>, CacheError>;

/// The lazily built cache of one `#[cached]` function, and what its *companion handle* does.
///
/// For `fn fetch_user(..)` the macro declares one `static` `Memo` inside the function and the
/// constant `FETCH_USER_MEMO:` [`Companion`] beside it (an associated constant for functions in an
/// `impl` block), with the function's visibility; the companion dereferences to the memo. It
/// invalidates one key, clears, reads stats, primes values, and runs the function uncached or as a
/// forced refresh. If the cache's configuration is invalid, the function still works (it runs its
/// body on every call), [`Memo::cache`] says why, and so do one `error` event (of kind `config`)
/// and the cache's entry in [`caches()`](crate::caches).
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
pub struct Memo<K: 'static, V: 'static, B: 'static = MemoryBackend<K, V>> {
    id: &'static str,
    init: Init<K, V, B>,
    shared: OnceLock<&'static Built<K, V, B>>,
}

/// How a memo's cache is built on first use.
enum Init<K, V, B> {
    /// `Cache::builder(<the id up to its first '@'>).build()`: a function without options needs
    /// no code of its own.
    Site,
    /// `Cache::builder(name).build()`.
    Named(&'static str),
    /// A builder chain of the memo's own.
    With(fn() -> Built<K, V, B>),
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Init<K, V, B> {
    fn build(&self, id: &'static str) -> Built<K, V, B> {
        match self {
            Self::Site => Cache::builder(id.split_once('@').map_or(id, |(name, _)| name)).build(),
            Self::Named(name) => Cache::builder(*name).build(),
            Self::With(init) => init(),
        }
    }
}

impl<K, V, B> Clone for Init<K, V, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V, B> Copy for Init<K, V, B> {}

impl<K: 'static, V: 'static, B: 'static> Memo<K, V, B> {
    /// A memo whose cache `init` builds on first use. Memos created with the same `id` (and the
    /// same types) share one cache; give every other memo an id of its own.
    pub const fn new(id: &'static str, init: fn() -> Built<K, V, B>) -> Self {
        Self::with(id, Init::With(init))
    }

    /// A memo whose cache is named by its id up to the first `@` (`"app::users@12:4"` builds
    /// `Cache::builder("app::users").build()`), on first use; ids as for [`new`](Self::new). This
    /// is what `#[cached]` declares for a function without options.
    pub const fn at(id: &'static str) -> Self {
        Self::with(id, Init::Site)
    }

    /// A memo whose cache is `Cache::builder(name).build()`, built on first use; ids as for
    /// [`new`](Self::new).
    pub const fn named(id: &'static str, name: &'static str) -> Self {
        Self::with(id, Init::Named(name))
    }

    const fn with(id: &'static str, init: Init<K, V, B>) -> Self {
        Self {
            id,
            init,
            shared: OnceLock::new(),
        }
    }
}

/// The companion handle of a `#[cached]` function, `FETCH_USER_MEMO` for `fn fetch_user`: a
/// constant that reaches the function's [`Memo`] (and dereferences to it) without declaring a
/// second one.
///
/// The function's body holds the one `static` [`Memo`]; the companion holds only the id and how to
/// build the cache, so whichever of the two is used first builds the cache and the other finds it
/// by id. Every call through the companion looks the memo up by id under a lock: companion
/// operations are off the hot path.
///
/// ```
/// use memokit_core::{Companion, Memo};
///
/// static SQUARES: Memo<u64, u64> = Memo::named("doc::companion", "squares");
/// const SQUARES_MEMO: Companion<u64, u64> = Companion::named("doc::companion", "squares");
///
/// SQUARES_MEMO.prime(&4, 16)?;
/// assert_eq!(SQUARES.cache().unwrap().get(&4)?, Some(16));
/// # Ok::<(), memokit_core::CacheError>(())
/// ```
pub struct Companion<K: 'static, V: 'static, B = MemoryBackend<K, V>> {
    id: &'static str,
    init: Init<K, V, B>,
}

impl<K: 'static, V: 'static, B> Companion<K, V, B> {
    /// The companion of the memos created with `id` and `init` (see [`Memo::new`]).
    pub const fn new(id: &'static str, init: fn() -> Built<K, V, B>) -> Self {
        Self {
            id,
            init: Init::With(init),
        }
    }

    /// The companion of the memos created with [`Memo::at`]`(id)`.
    pub const fn at(id: &'static str) -> Self {
        Self {
            id,
            init: Init::Site,
        }
    }

    /// The companion of the memos created with [`Memo::named`]`(id, name)`.
    pub const fn named(id: &'static str, name: &'static str) -> Self {
        Self {
            id,
            init: Init::Named(name),
        }
    }
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Deref for Companion<K, V, B> {
    type Target = Memo<K, V, B>;

    fn deref(&self) -> &Memo<K, V, B> {
        /// A memo per companion id and types, made at its first use.
        static MEMOS: Registry<(&'static str, TypeId)> = LazyLock::new(Default::default);
        let mut memos = lock(&MEMOS);
        let slot = memos
            .entry((self.id, TypeId::of::<Memo<K, V, B>>()))
            .or_insert_with(|| Box::leak(Box::new(Memo::with(self.id, self.init))));
        slot.downcast_ref()
            .expect("the memo under a companion's id and types has those types")
    }
}

impl<K, V, B> Clone for Companion<K, V, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V, B> Copy for Companion<K, V, B> {}

impl<K, V, B: Backend<K, V>> fmt::Debug for Companion<K, V, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Companion").field("id", &self.id).finish()
    }
}

/// Published caches by id. Values are `&'static Built<K, V, B>` behind `dyn Any`.
static LINKS: Registry<&'static str> = LazyLock::new(Default::default);

/// Leaked values of any type by id, behind a lock.
type Registry<Id> = LazyLock<Mutex<HashMap<Id, &'static (dyn Any + Send + Sync)>>>;

/// A registry's map; a panic elsewhere while it was held leaves nothing half-written in it.
fn lock<Id>(
    registry: &'static Registry<Id>,
) -> MutexGuard<'static, HashMap<Id, &'static (dyn Any + Send + Sync)>> {
    registry.lock().unwrap_or_else(|e| e.into_inner())
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Memo<K, V, B> {
    fn shared(&self) -> &'static Built<K, V, B> {
        self.shared.get_or_init(|| self.link())
    }

    /// Finds the cache published under this memo's id, or builds and publishes it.
    fn link(&self) -> &'static Built<K, V, B> {
        if let Some(found) = lock(&LINKS).get(self.id) {
            return match found.downcast_ref() {
                Some(built) => built,
                None => keep(self.init.build(self.id)),
            };
        }
        // Built outside the lock: building may touch other memos (a weigher, a backend).
        let built = self.init.build(self.id);
        let mut links = lock(&LINKS);
        if let Some(found) = links.get(self.id) {
            // Another thread published first; use its cache so there is only one.
            if let Some(theirs) = found.downcast_ref() {
                return theirs;
            }
            return keep(built);
        }
        let ours = keep(built);
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

/// Keeps a memo's cache for the rest of the program. One that could not be built is reported here,
/// where it is kept (a cache built by a thread that lost the race to publish is dropped unseen).
fn keep<K: CacheKey, V: CacheValue, B: Backend<K, V>>(
    built: Built<K, V, B>,
) -> &'static Built<K, V, B> {
    if let Err(error) = &built {
        report_unbuilt(B::KIND, error);
    }
    Box::leak(Box::new(built))
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
