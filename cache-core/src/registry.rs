//! Every cache in the program, by name: listing them with their stats, clearing them all, and
//! tearing down a sandbox namespace in each.
//!
//! A cache registers itself when it is built (for a memoized function or a cache module, on first
//! use). The registry holds weak references, so a cache dropped by its owner disappears from it.
//! A memoized function's or cache module's cache that could not be built is listed too, with its
//! error, since its callers never see that error (a memoized function runs its body instead).

use std::sync::{Arc, Mutex, Weak};

use crate::context::{self, Namespace};
use crate::error::CacheError;
use crate::stats::Stats;

/// A cache seen through the registry, whatever its key, value and backend types.
pub(crate) trait Registered: Send + Sync {
    fn name(&self) -> &str;
    fn backend_kind(&self) -> &'static str;
    /// Stats of namespace `ns`, or `None` if the cache has never been used in it. Never creates
    /// a scope and never panics for a cache that requires a sandbox.
    fn stats_in(&self, ns: Namespace) -> Option<Stats>;
    /// The activity counts summed over every namespace the cache has had, sandboxes torn down
    /// included (so each only grows); the backend is not asked, so the sizes are 0.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn counts(&self) -> Stats;
    /// Whether [`stats_in`](Self::stats_in) is cheap ([`Backend::CHEAP_STATS`](crate::Backend::CHEAP_STATS)).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn cheap_stats(&self) -> bool;
    /// Clears the current namespace.
    fn clear(self: Arc<Self>) -> Result<(), CacheError>;
    /// Forgets sandbox namespace `ns`: its scope leaves the cache and its backend view is cleared.
    fn drop_namespace(&self, ns: Namespace) -> Result<(), CacheError>;
}

static REGISTRY: Mutex<Vec<Weak<dyn Registered>>> = Mutex::new(Vec::new());

/// Caches that could not be built, with their backend's kind; they live as long as the program.
static UNBUILT: Mutex<Vec<(&'static str, CacheError)>> = Mutex::new(Vec::new());

/// Lists a cache that could not be built; `backend` is the kind it would have had.
pub(crate) fn register_unbuilt(backend: &'static str, error: CacheError) {
    UNBUILT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((backend, error));
}

pub(crate) fn register(cache: Weak<dyn Registered>) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    registry.retain(|c| c.strong_count() > 0);
    registry.push(cache);
}

/// Calls `f` on every live cache, outside the registry's lock (so `f` may build caches).
pub(crate) fn for_each(mut f: impl FnMut(Arc<dyn Registered>)) {
    let live: Vec<_> = REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for cache in live {
        f(cache);
    }
}

/// One cache as [`caches`] lists it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CacheInfo {
    /// The cache's name.
    pub name: String,
    /// Its backend's kind (`"memory"`, `"redis"`, ...).
    pub backend: &'static str,
    /// Its stats in the current namespace (zero for a cache that could not be built).
    pub stats: Stats,
    /// Why the cache could not be built, for a memoized function or cache module whose
    /// configuration failed: the function runs its body on every call and the module returns
    /// this error. `None` for a working cache.
    pub error: Option<CacheError>,
}

/// Every cache built so far in this program (memoized functions and cache modules that have been
/// used, and caches built by hand), with its stats in the current namespace, sorted by name; and
/// every memoized function or cache module whose cache could not be built, with its
/// [`error`](CacheInfo::error).
///
/// ```
/// use memokit_core::{Cache, caches};
/// let cache: Cache<u8, u8> = Cache::builder("doc-registry").build().unwrap();
/// cache.insert(1, 1).unwrap();
/// let info = caches().into_iter().find(|c| c.name == "doc-registry").unwrap();
/// assert_eq!((info.backend, info.stats.entries, info.error), ("memory", 1, None));
/// ```
pub fn caches() -> Vec<CacheInfo> {
    let mut list = Vec::new();
    for_each(|c| {
        list.push(CacheInfo {
            name: c.name().to_owned(),
            backend: c.backend_kind(),
            stats: c.stats_in(context::namespace()).unwrap_or_default(),
            error: None,
        });
    });
    let unbuilt = UNBUILT.lock().unwrap_or_else(|e| e.into_inner());
    list.extend(unbuilt.iter().map(|(backend, error)| CacheInfo {
        name: error.cache().to_owned(),
        backend,
        stats: Stats::default(),
        error: Some(error.clone()),
    }));
    drop(unbuilt);
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list
}

/// Clears every cache in the current namespace. Every cache is attempted; the first error (if
/// any) is returned.
pub fn clear_all() -> Result<(), CacheError> {
    let mut first = Ok(());
    for_each(|c| {
        if let Err(e) = c.clear()
            && first.is_ok()
        {
            first = Err(e);
        }
    });
    first
}

/// The sum of every cache's stats in namespace `ns` (caches never used there add nothing).
pub(crate) fn stats_in(ns: Namespace) -> Stats {
    let mut total = Stats::default();
    for_each(|c| total += c.stats_in(ns).unwrap_or_default());
    total
}

/// Drops namespace `ns` from every cache; every cache is attempted, the failures are returned.
pub(crate) fn drop_namespace(ns: Namespace) -> Vec<CacheError> {
    let mut errors = Vec::new();
    for_each(|c| errors.extend(c.drop_namespace(ns).err()));
    errors
}
