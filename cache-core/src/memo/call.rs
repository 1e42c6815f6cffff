//! The call path a memoized function expands to: [`Memo::enter`] the cache, then [`finish_memoized`] the call
//! (async: [`Memo::enter_async`], [`finish_memoized_async`]). Names and signatures change without notice.
//!
//! [`Memo::enter`] looks the key up by its borrowed form (a hit allocates nothing) and, on a miss, builds
//! the owned key, so the generated code never handles it. The owned key has to exist before the
//! body closure is made, because the closure moves the arguments the lookup borrows: hence two
//! calls rather than one. [`finish_memoized`] returns a hit, or runs the body as the key's single flight (or
//! per caller, with `sync = false`). Both fail open: a cache that cannot be built or a backend that
//! fails leaves the function running its body. The one thing that does not fail open is a body
//! asking for its own key (recursion on the same arguments): running the body again would recurse
//! forever, so it panics with a message naming the cache, which is named after the function.
//!
//! Nothing here is generic over the body: [`finish_memoized`] takes it as `&mut dyn` [`Body`], so the call
//! path is compiled once per key, value and backend types rather than once per memoized function
//! (that was most of what a memoized function cost to compile; a miss pays for the body anyway). Async bodies stay generic: a `dyn Future` would have to be
//! `Send` to keep the function's future `Send`.
//!
//! With `refresh`, [`Memo::enter`] answers [`Entry::Stale`] for a hit old enough to reload; the
//! generated code hands it to [`refresh_stale`] with a reload closure built from the owned key, so
//! the plain hit path builds nothing.
//!
//! A function's `unless` and per-entry TTL travel as [`Rules`], applied by wrapping its result in
//! a [`RuledResult`]. A companion's forced refresh and uncached call reach [`Memo::enter`] as a
//! thread-local [directive](super::directive) and come out as [`Entry::Reload`] and
//! [`Entry::Bypass`].

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

/// Where a call stands after [`Memo::enter`].
pub enum Entry<'m, R, K, V, B> {
    /// A cached value.
    Hit(V),
    /// A cached value older than the `refresh` age, with no reload of it running, and its owned
    /// key: return the value and start one reload with [`refresh_stale`].
    Stale(&'m Cache<K, V, B>, V, K),
    /// The call's result, already known (an async refresh outside a runtime ran the reload).
    Done(R),
    /// A miss: run the body through this cache under the owned key.
    Load(&'m Cache<K, V, B>, K),
    /// A companion's forced reload: run the body through this cache under the owned key, even
    /// though a value may be cached.
    Reload(&'m Cache<K, V, B>, K),
    /// The cache is unusable right now, the `condition` is false, or the companion asked to skip
    /// the cache: run the body only.
    Bypass,
}

/// The lookup of a memoized call: associated functions of [`Memo`] rather than free ones, so
/// that a key or value type without the bounds is reported as "required by a bound in
/// `Memo::enter`", a public type, and the expansion calls them as `Memo::enter(&MEMO, ..)`.
impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Memo<K, V, B> {
    /// Looks `key` up for a memoized function; `None` (a false `condition`) skips the cache.
    #[doc(hidden)]
    #[inline(always)]
    pub fn enter<'m, R, Q>(memo: &'m Self, key: Option<&Q>) -> Entry<'m, R, K, V, B>
    where
        Q: ?Sized + Lookup<K>,
    {
        let (Ok(cache), Some(key)) = (memo.cache(), key) else {
            return Entry::Bypass;
        };
        if let Some(directive) = directive::take(|| memo.target()) {
            return directed(cache, key, directive);
        }
        entered(cache, key, cache.probe(key))
    }

    /// Async form of [`enter`](Self::enter).
    #[doc(hidden)]
    pub async fn enter_async<'m, R, Q>(memo: &'m Self, key: Option<&Q>) -> Entry<'m, R, K, V, B>
    where
        Q: ?Sized + Lookup<K> + Sync,
    {
        let (Ok(cache), Some(key)) = (memo.cache(), key) else {
            return Entry::Bypass;
        };
        if let Some(directive) = directive::take(|| memo.target()) {
            return directed(cache, key, directive);
        }
        let probed = cache.probe_async(key).await;
        entered(cache, key, probed)
    }
}

#[inline(always)]
fn entered<'m, R, K, V, B, Q>(
    cache: &'m Cache<K, V, B>,
    key: &Q,
    probed: Probed<V>,
) -> Entry<'m, R, K, V, B>
where
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    Q: ?Sized + Lookup<K>,
{
    match probed {
        Probed::Fresh(value) => Entry::Hit(value),
        Probed::Stale(value) => Entry::Stale(cache, value, key.to_key()),
        Probed::Missing => Entry::Load(cache, key.to_key()),
        Probed::Unavailable => Entry::Bypass,
    }
}

/// The entry a companion's directive replaces the lookup with.
fn directed<'m, R, K, V, B, Q>(
    cache: &'m Cache<K, V, B>,
    key: &Q,
    directive: Directive,
) -> Entry<'m, R, K, V, B>
where
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    Q: ?Sized + Lookup<K>,
{
    match directive {
        Directive::Uncached => Entry::Bypass,
        Directive::Refresh => Entry::Reload(cache, key.to_key()),
    }
}

/// A memoized function's body behind `&mut dyn` (the generated code passes `&mut Some(closure)`),
/// so that the call path is compiled once per types rather than once per function.
pub trait Body<R> {
    /// Runs the body; called at most once.
    fn run(&mut self) -> R;
}

impl<R, F: FnOnce() -> R> Body<R> for Option<F> {
    fn run(&mut self) -> R {
        match self.take() {
            Some(body) => body(),
            None => ran_twice(),
        }
    }
}

/// Out of [`Body::run`], which is compiled once per memoized function: its panic message would
/// be too.
#[cold]
#[inline(never)]
fn ran_twice() -> ! {
    unreachable!("memokit runs a memoized body at most once")
}

/// The body back from a load that could not run it, to run uncached (fail-open); a same-key
/// recursion panics instead, since running the body again would recurse forever.
fn fail_open<F>(not_run: NotRun<F>) -> F {
    if let CacheError::Recursion { .. } = not_run.error {
        panic!("memokit: {}", not_run.error);
    }
    not_run.loader
}

/// Ends a memoized call after [`Memo::enter`]: a hit's value, or `body`'s result, stored as the policy
/// `P` and the function's `rules` allow.
#[inline(always)]
pub fn finish_memoized<P, R, K, V, B, X>(
    entry: Entry<'_, R, K, V, B>,
    policy: P,
    rules: &X,
    flight: FlightMode,
    body: &mut dyn Body<R>,
) -> R
where
    R: Cacheable<P, Value = V>,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    X: Rules<R, V>,
{
    match entry {
        Entry::Hit(value) | Entry::Stale(_, value, _) => R::from_cached(value),
        Entry::Done(result) => result,
        entry => miss(entry, policy, rules, flight, body),
    }
}

/// [`finish_memoized`] after anything but a hit.
#[inline(never)]
fn miss<P, R, K, V, B, X>(
    entry: Entry<'_, R, K, V, B>,
    _: P,
    rules: &X,
    flight: FlightMode,
    body: &mut dyn Body<R>,
) -> R
where
    R: Cacheable<P, Value = V>,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    X: Rules<R, V>,
{
    let (cache, key, when_cached) = match entry {
        Entry::Load(cache, key) => (cache, key, WhenCached::Return),
        Entry::Reload(cache, key) => (cache, key, WhenCached::Reload),
        _ => return body.run(),
    };
    let ruled = || RuledResult::new(body.run(), rules);
    match cache.load_by::<ByRules<P>, _, _>(key, when_cached, flight, ruled) {
        Ok(ruled) => ruled.result,
        Err(not_run) => fail_open(not_run)().result,
    }
}

/// Async form of [`finish_memoized`].
pub async fn finish_memoized_async<P, R, K, V, B, X>(
    entry: Entry<'_, R, K, V, B>,
    _: P,
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
    let (cache, key, when_cached) = match entry {
        Entry::Hit(value) | Entry::Stale(_, value, _) => return R::from_cached(value),
        Entry::Done(result) => return result,
        Entry::Bypass => return body.await,
        Entry::Load(cache, key) => (cache, key, WhenCached::Return),
        Entry::Reload(cache, key) => (cache, key, WhenCached::Reload),
    };
    let ruled = async { RuledResult::new(body.await, rules) };
    let load = cache.load_by_async::<ByRules<P>, _, _>(key, when_cached, flight, ruled);
    match load.await {
        Ok(ruled) => ruled.result,
        Err(not_run) => fail_open(not_run).await.result,
    }
}

/// After [`Memo::enter`], for a function with `refresh`: a stale entry starts one
/// background reload of its key with `reload` (the body, called with the owned key) and becomes a
/// hit. Nothing starts if a load of the key is already running.
pub fn refresh_stale<'m, P, R, K, V, B>(
    entry: Entry<'m, R, K, V, B>,
    _: P,
    reload: impl FnOnce(K) -> R + Send + 'static,
) -> Entry<'m, R, K, V, B>
where
    R: Cacheable<P, Value = V>,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
{
    match entry {
        Entry::Stale(cache, value, key) => {
            cache.refresh_in_background::<P, R>(key, reload);
            Entry::Hit(value)
        }
        other => other,
    }
}

/// Async form of [`refresh_stale`]: spawns the reload on the Tokio runtime; outside a runtime this
/// caller runs the reload, and the entry becomes its result if that is cacheable.
pub async fn refresh_stale_async<'m, P, R, K, V, B, F>(
    entry: Entry<'m, R, K, V, B>,
    _: P,
    reload: impl FnOnce(K) -> F + Send + 'static,
) -> Entry<'m, R, K, V, B>
where
    R: Cacheable<P, Value = V> + Send + 'static,
    F: Future<Output = R> + Send + 'static,
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
{
    match entry {
        Entry::Stale(cache, value, key) => {
            let stale = R::from_cached(value);
            Entry::Done(cache.refresh_async::<P, R, F>(key, stale, reload).await)
        }
        other => other,
    }
}
