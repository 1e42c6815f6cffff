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
//! hit path builds nothing. `sync = false` swaps [`load`] for [`load_unshared`].
//!
//! A function's `unless` and per-entry TTL travel as [`Rules`], applied by wrapping its result in
//! [`Judged`]. A companion's forced refresh and uncached call reach [`probe`] as a
//! thread-local directive and come out as [`Probe::Refresh`] (a forced single-flight
//! reload) and [`Probe::Bypass`].

use std::future::Future;
use std::hash::Hash;

pub use std::sync::LazyLock;
pub use std::time::Duration;

pub use crate::backend::Backend;
use crate::backend::Found;
pub use crate::cache::{Cache, CacheBuilder};
use crate::cache::{Scope, ScopeRef, Unrun};
use crate::directive::{self, Directive};
pub use crate::error::{CacheError, LoadError};
pub use crate::key::{KeyRef, Lookup, ToKey};
use crate::load::{Kind, Mode};
pub use crate::memo::Memo;
pub use crate::memory::MemoryBackend;
pub use crate::module::{Settings, build_module};
pub use crate::outcome::{
    ByRules, FnRules, Judged, NoRules, OkOnly, Outcome, Rules, SomeOnly, Whole, no_ttl, no_unless,
};
pub use crate::sandbox::{SandboxHandle, sandbox};
pub use crate::stats::Stats;

/// The type a function returning `R` caches under policy `P`.
pub type Value<R, P> = <R as Outcome<P>>::Value;
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
    fn from_lookup<P, K, V, B, Q>(
        cache: &Cache<K, V, B>,
        scope: &Scope<K, V, B>,
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
                if cache.is_stale(found.written) && !scope.flights.is_loading(key) {
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

/// The probe a companion's directive replaces the lookup with, if one is aimed at this cache.
fn directed<R, K, V, B>(memo: &Memo<K, V, B>) -> Option<Probe<R>>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    directive::take(|| memo.target()).map(|d| match d {
        Directive::Uncached => Probe::Bypass,
        Directive::Refresh => Probe::Refresh,
    })
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
    if let Some(directed) = directed(memo) {
        return directed;
    }
    cache
        .with_scope(|scope| {
            let found = cache.lookup_result(scope, scope.backend.get(key));
            Ok(Probe::from_lookup(cache, scope, key, found))
        })
        .unwrap_or(Probe::Bypass)
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
    if let Some(directed) = directed(memo) {
        return directed;
    }
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
    /// The cache is unusable or was asked to be skipped: run the body uncached (fail-open).
    Uncached,
    /// Load `key` through this cache's scope, in this mode.
    Cached(&'m Cache<K, V, B>, ScopeRef<'m, K, V, B>, K, Mode),
}

fn route<R, K, V, B>(memo: &Memo<K, V, B>, probe: Probe<R>, key: Option<K>) -> Route<'_, R, K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    let mode = match probe {
        Probe::Hit(r) | Probe::Stale(r) => return Route::Done(r),
        Probe::Miss => Mode::Fresh,
        Probe::Refresh => Mode::Force,
        Probe::Bypass => return Route::Uncached,
    };
    match (memo.cache(), key) {
        (Ok(cache), Some(key)) => match cache.scope() {
            Ok(scope) => Route::Cached(cache, scope, key, mode),
            Err(_) => Route::Uncached,
        },
        _ => Route::Uncached,
    }
}

/// Runs `body` for a memoized function after a [`probe`] that did not hit, storing its result as
/// the policy `P` and the function's `rules` allow. `key` is the owned key, built only when the
/// probe [wants it](Probe::wants_key).
pub fn load<'r, P, R, K, V, B, X>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: Option<K>,
    rules: &'r X,
    body: impl FnOnce() -> R,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
    X: Rules<R, V>,
{
    match route(memo, probe, key) {
        Route::Done(r) => r,
        Route::Uncached => body(),
        Route::Cached(cache, scope, key, mode) => {
            // Boxed so that the single-flight load is compiled once per key and value types, not
            // once per memoized function: it is the largest piece of generic code a function
            // pulls in, and a miss pays for the body anyway. (Async bodies stay unboxed: a boxed
            // future would have to be `Send` to keep the function's future `Send`.)
            let judged: Box<dyn FnOnce() -> Judged<'r, R, X> + '_> =
                Box::new(move || Judged::new(body(), rules));
            match cache.load_in::<ByRules<P>, _, _>(&scope, key, mode, judged) {
                Ok(judged) => judged.result,
                Err(unrun) => fail_open(unrun)().result,
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
    body: impl Future<Output = R>,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
    X: Rules<R, V>,
{
    match route(memo, probe, key) {
        Route::Done(r) => r,
        Route::Uncached => body.await,
        Route::Cached(cache, scope, key, mode) => {
            let judged = async { Judged::new(body.await, rules) };
            let load = cache.load_async_in::<ByRules<P>, _, _>(&scope, key, mode, judged);
            match load.await {
                Ok(judged) => judged.result,
                Err(unrun) => fail_open(unrun).await.result,
            }
        }
    }
}

/// [`load`] without single flight (`#[cached(sync = false)]`): concurrent misses each run the
/// body; the last result stored wins.
pub fn load_unshared<P, R, K, V, B, X>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: Option<K>,
    rules: &X,
    body: impl FnOnce() -> R,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
    X: Rules<R, V>,
{
    match route(memo, probe, key) {
        Route::Done(r) => r,
        Route::Uncached => body(),
        Route::Cached(cache, scope, key, _) => {
            let judged = || Judged::new(body(), rules);
            cache
                .lead::<ByRules<P>, _>(&scope, None, key, Kind::Load, judged)
                .result
        }
    }
}

/// Async form of [`load_unshared`].
pub async fn load_unshared_async<P, R, K, V, B, X>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: Option<K>,
    rules: &X,
    body: impl Future<Output = R>,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
    X: Rules<R, V>,
{
    match route(memo, probe, key) {
        Route::Done(r) => r,
        Route::Uncached => body.await,
        Route::Cached(cache, scope, key, _) => {
            let judged = async { Judged::new(body.await, rules) };
            let load = cache.lead_async::<ByRules<P>, _>(&scope, None, key, Kind::Load, judged);
            load.await.result
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
    if let Route::Cached(cache, scope, key, _) = route::<R, _, _, _>(memo, Probe::Miss, Some(key)) {
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
    match route::<R, _, _, _>(memo, Probe::Miss, Some(key)) {
        Route::Cached(cache, scope, key, _) => {
            let refresh = cache.refresh_async::<P, R, F>(&scope, key, stale, reload);
            refresh.await
        }
        Route::Done(_) | Route::Uncached => stale,
    }
}
