//! What the macros expand to. Not public API: names and signatures change without notice.
//!
//! A memoized function becomes a static [`Memo`] and two calls: [`probe`] looks the key up by its
//! borrowed form (a hit allocates nothing), then on a miss the generated code builds the owned
//! key and hands it with the body to [`load`], which runs the body as the key's single flight.
//! Both fail open: a cache that cannot be built or a backend that fails leaves the function
//! running its body. The one thing that does not fail open is a body asking for its own key
//! (recursion on the same arguments): running the body again would recurse forever, so it panics
//! with a message naming the cache, which is named after the function.
//!
//! With `refresh`, [`probe`] answers [`Probe::Stale`] for a hit old enough to reload; the
//! generated code then hands [`refresh`] a reload closure built from the owned key, so the plain
//! hit path builds nothing. `sync = false` swaps [`load`] for [`load_unshared`]. [`reload`] is the
//! forced refresh of one key behind a memoized function's companion.

use std::future::Future;
use std::hash::Hash;

pub use std::sync::LazyLock;
pub use std::time::Duration;

pub use crate::backend::Backend;
use crate::backend::Found;
pub use crate::cache::{Cache, CacheBuilder};
use crate::cache::{ScopeRef, Unrun};
use crate::error::CacheError;
pub use crate::key::{KeyRef, ToKey};
use crate::load::{Kind, Mode};
pub use crate::memo::Memo;
pub use crate::memory::MemoryBackend;
pub use crate::outcome::{OkOnly, Outcome, SomeOnly, Whole};
#[cfg(feature = "redis")]
pub use crate::redis::{RedisBackend, RedisOptions};

/// What [`probe`] found.
pub enum Probe<R> {
    /// A cached result.
    Hit(R),
    /// A cached result older than the `refresh` age, with no reload of it running: return it
    /// and start one with [`refresh`] / [`refresh_async`].
    Stale(R),
    /// Nothing cached: load.
    Miss,
    /// The cache is unusable right now: run the body, skip the cache.
    Bypass,
}

impl<R> Probe<R> {
    fn from_lookup<P, K, V, B, Q>(
        cache: &Cache<K, V, B>,
        scope: &ScopeRef<'_, K, V, B>,
        key: &Q,
        found: Result<Option<Found<V>>, CacheError>,
    ) -> Self
    where
        R: Outcome<P, Value = V>,
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
        B: Backend<K, V>,
        Q: ?Sized + crate::key::Lookup<K>,
    {
        match found {
            Ok(Some(found)) => {
                if cache.is_stale(&found) && !scope.flights.is_loading(key) {
                    Self::Stale(R::from_cached(found.value))
                } else {
                    Self::Hit(R::from_cached(found.value))
                }
            }
            Ok(None) => Self::Miss,
            Err(_) => Self::Bypass,
        }
    }
}

/// Looks `key` up for a memoized function.
#[inline]
pub fn probe<P, R, K, V, B, Q>(memo: &Memo<K, V, B>, key: &Q) -> Probe<R>
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
    Q: ?Sized + crate::key::Lookup<K>,
{
    let Ok(cache) = memo.cache() else {
        return Probe::Bypass;
    };
    let Ok(scope) = cache.scope() else {
        return Probe::Bypass;
    };
    let found = cache.lookup_result(&scope, scope.backend.get(key));
    Probe::from_lookup(cache, &scope, key, found)
}

/// Async form of [`probe`].
pub async fn probe_async<P, R, K, V, B, Q>(memo: &Memo<K, V, B>, key: &Q) -> Probe<R>
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
    Q: ?Sized + crate::key::Lookup<K> + Sync,
{
    let Ok(cache) = memo.cache() else {
        return Probe::Bypass;
    };
    let Ok(scope) = cache.scope() else {
        return Probe::Bypass;
    };
    let found = scope.backend.get_async(key).await;
    let found = cache.lookup_result(&scope, found);
    Probe::from_lookup(cache, &scope, key, found)
}

/// The body back from a load that could not run it, to run uncached (fail-open); a same-key
/// recursion panics instead, since running the body again would recurse forever.
fn fail_open<F>(unrun: Unrun<F>) -> F {
    if let CacheError::Recursion { .. } = unrun.error {
        panic!("memokit: {}", unrun.error);
    }
    unrun.body
}

/// Where a call goes after its probe.
enum Route<'m, R, K, V, B: Backend<K, V>> {
    /// The probe hit: this is the result.
    Done(R),
    /// The cache is unusable: run the body uncached (fail-open).
    Uncached,
    /// Load through this cache's scope.
    Cached(&'m Cache<K, V, B>, ScopeRef<'m, K, V, B>),
}

fn route<R, K, V, B>(memo: &Memo<K, V, B>, probe: Probe<R>) -> Route<'_, R, K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    match (probe, memo.cache()) {
        (Probe::Hit(r) | Probe::Stale(r), _) => Route::Done(r),
        (Probe::Miss, Ok(cache)) => match cache.scope() {
            Ok(scope) => Route::Cached(cache, scope),
            Err(_) => Route::Uncached,
        },
        _ => Route::Uncached,
    }
}

/// Runs `body` for a memoized function after a [`probe`] that did not hit.
pub fn load<P, R, K, V, B>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: K,
    body: impl FnOnce() -> R,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    match route(memo, probe) {
        Route::Done(r) => r,
        Route::Uncached => body(),
        Route::Cached(cache, scope) => match cache.load::<P, R, _>(&scope, key, body) {
            Ok(r) => r,
            Err(unrun) => fail_open(unrun)(),
        },
    }
}

/// Async form of [`load`].
pub async fn load_async<P, R, K, V, B>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: K,
    body: impl Future<Output = R>,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    match route(memo, probe) {
        Route::Done(r) => r,
        Route::Uncached => body.await,
        Route::Cached(cache, scope) => match cache.load_async::<P, R, _>(&scope, key, body).await {
            Ok(r) => r,
            Err(unrun) => fail_open(unrun).await,
        },
    }
}

/// [`load`] without single flight (`#[cached(sync = false)]`): concurrent misses each run the
/// body; the last result stored wins.
pub fn load_unshared<P, R, K, V, B>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: K,
    body: impl FnOnce() -> R,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    match route(memo, probe) {
        Route::Done(r) => r,
        Route::Uncached => body(),
        Route::Cached(cache, scope) => cache.lead::<P, R>(&scope, None, key, Kind::Load, body),
    }
}

/// Async form of [`load_unshared`].
pub async fn load_unshared_async<P, R, K, V, B>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: K,
    body: impl Future<Output = R>,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    match route(memo, probe) {
        Route::Done(r) => r,
        Route::Uncached => body.await,
        Route::Cached(cache, scope) => {
            let load = cache.lead_async::<P, R>(&scope, None, key, Kind::Load, body);
            load.await
        }
    }
}

/// After [`Probe::Stale`]: starts one background reload of `key` with `reload` (the body, called
/// with the owned key) and returns at once. Nothing happens if the cache is unusable or a load of
/// the key is already running.
pub fn refresh<P, R, K, V, B>(
    memo: &Memo<K, V, B>,
    key: K,
    reload: impl FnOnce(K) -> R + Send + 'static,
) where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    if let Route::Cached(cache, scope) = route::<R, _, _, _>(memo, Probe::Miss) {
        cache.refresh_in_background::<P, R>(&scope, key, reload);
    }
}

/// Async form of [`refresh`]: spawns the reload on the Tokio runtime and returns `stale`; outside
/// a runtime this caller runs the reload and returns its result if it is cacheable.
pub async fn refresh_async<P, R, K, V, B, F>(
    memo: &Memo<K, V, B>,
    stale: R,
    key: K,
    reload: impl FnOnce(K) -> F + Send + 'static,
) -> R
where
    R: Outcome<P, Value = V> + Send + 'static,
    F: Future<Output = R> + Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    match route::<R, _, _, _>(memo, Probe::Miss) {
        Route::Cached(cache, scope) => {
            let refresh = cache.refresh_async::<P, R, F>(&scope, key, stale, reload);
            refresh.await
        }
        Route::Done(_) | Route::Uncached => stale,
    }
}

/// Forces a refresh of one key of a memoized function: runs `body` as the key's single flight
/// whatever is cached, stores its result if cacheable, and returns it. If a load of the key is
/// already running, waits for that one instead. Fails open like [`load`].
pub fn reload<P, R, K, V, B>(memo: &Memo<K, V, B>, key: K, body: impl FnOnce() -> R) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    match route(memo, Probe::Miss) {
        Route::Done(r) => r,
        Route::Uncached => body(),
        Route::Cached(cache, scope) => {
            match cache.load_in::<P, R, _>(&scope, key, Mode::Force, body) {
                Ok(r) => r,
                Err(unrun) => fail_open(unrun)(),
            }
        }
    }
}

/// Async form of [`reload`].
pub async fn reload_async<P, R, K, V, B>(
    memo: &Memo<K, V, B>,
    key: K,
    body: impl Future<Output = R>,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    match route(memo, Probe::Miss) {
        Route::Done(r) => r,
        Route::Uncached => body.await,
        Route::Cached(cache, scope) => {
            let load = cache.load_async_in::<P, R, _>(&scope, key, Mode::Force, body);
            match load.await {
                Ok(r) => r,
                Err(unrun) => fail_open(unrun).await,
            }
        }
    }
}
