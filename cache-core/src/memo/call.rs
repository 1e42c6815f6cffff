//! The call path a memoized function expands to: [`probe`] the cache, then [`load`] on a miss (or
//! [`refresh`] a stale hit). Names and signatures change without notice.
//!
//! [`probe`] looks the key up by its borrowed form (a hit allocates nothing); on a miss the
//! generated code builds the owned key and hands it with the body to [`load`], which runs the body
//! as the key's single flight (or per caller, with `sync = false`). Both fail open: a cache that
//! cannot be built or a backend that fails leaves the function running its body. The one thing
//! that does not fail open is a body asking for its own key (recursion on the same arguments):
//! running the body again would recurse forever, so it panics with a message naming the cache,
//! which is named after the function.
//!
//! With `refresh`, [`probe`] answers [`Probe::Stale`] for a hit old enough to reload; the
//! generated code then hands [`refresh`] a reload closure built from the owned key, so the plain
//! hit path builds nothing.
//!
//! A function's `unless` and per-entry TTL travel as [`Rules`], applied by wrapping its result in
//! a [`RuledResult`]. A companion's forced refresh and uncached call reach [`probe`] as a
//! thread-local [directive](super::directive) and come out as [`Probe::Refresh`] (a forced
//! single-flight reload) and [`Probe::Bypass`].

use std::future::Future;

use super::directive::{self, Directive};
use super::handle::Memo;
use super::rules::{ByRules, RuledResult, Rules};
use crate::backend::Backend;
use crate::bounds::{CacheKey, CacheValue};
use crate::cache::{Cache, Cacheable, FlightMode, NotRun, Probed, WhenCached};
use crate::error::CacheError;
use crate::key::Lookup;

/// The type a function returning `R` caches under policy `P`.
pub type Value<R, P> = <R as Cacheable<P>>::Value;

/// What [`probe`] found.
pub enum Probe<R> {
    /// A cached result.
    Hit(R),
    /// A cached result older than the `refresh` age, with no reload of it running: return it
    /// and start one with [`refresh`] / [`refresh_async`].
    Stale(R),
    /// Nothing cached: load.
    Miss,
    /// The companion asked for a reload: run the body as the key's flight and store its result.
    Refresh,
    /// The cache is unusable right now, or the companion asked to skip it: run the body only.
    Bypass,
}

impl<R> Probe<R> {
    /// Whether [`load`] will need the owned key; building it is skipped otherwise.
    #[inline]
    pub fn wants_key(&self) -> bool {
        matches!(self, Self::Miss | Self::Refresh)
    }

    #[inline]
    fn from_probed<P>(probed: Probed<R::Value>) -> Self
    where
        R: Cacheable<P>,
    {
        match probed {
            Probed::Fresh(value) => Self::Hit(R::from_cached(value)),
            Probed::Stale(value) => Self::Stale(R::from_cached(value)),
            Probed::Missing => Self::Miss,
            Probed::Unavailable => Self::Bypass,
        }
    }
}

/// The probe a companion's directive replaces the lookup with, if one is aimed at this cache.
fn directed<R, K: CacheKey, V: CacheValue, B: Backend<K, V>>(
    memo: &Memo<K, V, B>,
) -> Option<Probe<R>> {
    directive::take(|| memo.target()).map(|d| match d {
        Directive::Uncached => Probe::Bypass,
        Directive::Refresh => Probe::Refresh,
    })
}

/// Looks `key` up for a memoized function.
#[inline]
pub fn probe<P, R, K, V, B, Q>(memo: &Memo<K, V, B>, key: &Q) -> Probe<R>
where
    R: Cacheable<P, Value = V>,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    Q: ?Sized + Lookup<K>,
{
    let Ok(cache) = memo.cache() else {
        return Probe::Bypass;
    };
    if let Some(directed) = directed(memo) {
        return directed;
    }
    Probe::from_probed(cache.probe(key))
}

/// Async form of [`probe`].
pub async fn probe_async<P, R, K, V, B, Q>(memo: &Memo<K, V, B>, key: &Q) -> Probe<R>
where
    R: Cacheable<P, Value = V>,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    Q: ?Sized + Lookup<K> + Sync,
{
    let Ok(cache) = memo.cache() else {
        return Probe::Bypass;
    };
    if let Some(directed) = directed(memo) {
        return directed;
    }
    Probe::from_probed(cache.probe_async(key).await)
}

/// The body back from a load that could not run it, to run uncached (fail-open); a same-key
/// recursion panics instead, since running the body again would recurse forever.
fn fail_open<F>(not_run: NotRun<F>) -> F {
    if let CacheError::Recursion { .. } = not_run.error {
        panic!("memokit: {}", not_run.error);
    }
    not_run.loader
}

/// Where a call goes after its probe.
enum Route<'m, R, K, V, B: Backend<K, V>> {
    /// The probe hit: this is the result.
    Done(R),
    /// The cache is unusable or was asked to be skipped: run the body uncached (fail-open).
    Uncached,
    /// Load `key` through this cache.
    Cached(&'m Cache<K, V, B>, K, WhenCached),
}

fn route<R, K: CacheKey, V: CacheValue, B: Backend<K, V>>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: Option<K>,
) -> Route<'_, R, K, V, B> {
    let when_cached = match probe {
        Probe::Hit(r) | Probe::Stale(r) => return Route::Done(r),
        Probe::Miss => WhenCached::Return,
        Probe::Refresh => WhenCached::Reload,
        Probe::Bypass => return Route::Uncached,
    };
    match (memo.cache(), key) {
        (Ok(cache), Some(key)) => Route::Cached(cache, key, when_cached),
        _ => Route::Uncached,
    }
}

/// Runs `body` for a memoized function after a [`probe`] that did not hit, as `flight` says,
/// storing its result as the policy `P` and the function's `rules` allow. `key` is the owned key,
/// built only when the probe [wants it](Probe::wants_key).
pub fn load<'r, P, R, K, V, B, X>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: Option<K>,
    rules: &'r X,
    flight: FlightMode,
    body: impl FnOnce() -> R,
) -> R
where
    R: Cacheable<P, Value = V>,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    X: Rules<R, V>,
{
    match route(memo, probe, key) {
        Route::Done(r) => r,
        Route::Uncached => body(),
        Route::Cached(cache, key, when_cached) => {
            // Boxed so that the load is compiled once per key and value types, not once per
            // memoized function: it is the largest piece of generic code a function pulls in,
            // and a miss pays for the body anyway. (Async bodies stay unboxed: a boxed future
            // would have to be `Send` to keep the function's future `Send`.)
            let ruled: Box<dyn FnOnce() -> RuledResult<'r, R, X> + '_> =
                Box::new(move || RuledResult::new(body(), rules));
            match cache.load_by::<ByRules<P>, _, _>(key, when_cached, flight, ruled) {
                Ok(ruled) => ruled.result,
                Err(not_run) => fail_open(not_run)().result,
            }
        }
    }
}

/// Async form of [`load`].
pub async fn load_async<P, R, K, V, B, X>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: Option<K>,
    rules: &X,
    flight: FlightMode,
    body: impl Future<Output = R>,
) -> R
where
    R: Cacheable<P, Value = V>,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    X: Rules<R, V>,
{
    match route(memo, probe, key) {
        Route::Done(r) => r,
        Route::Uncached => body.await,
        Route::Cached(cache, key, when_cached) => {
            let ruled = async { RuledResult::new(body.await, rules) };
            let load = cache.load_by_async::<ByRules<P>, _, _>(key, when_cached, flight, ruled);
            match load.await {
                Ok(ruled) => ruled.result,
                Err(not_run) => fail_open(not_run).await.result,
            }
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
    R: Cacheable<P, Value = V>,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
{
    if let Ok(cache) = memo.cache() {
        cache.refresh_in_background::<P, R>(key, reload);
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
    R: Cacheable<P, Value = V> + Send + 'static,
    F: Future<Output = R> + Send + 'static,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
{
    match memo.cache() {
        Ok(cache) => cache.refresh_async::<P, R, F>(key, stale, reload).await,
        Err(_) => stale,
    }
}
