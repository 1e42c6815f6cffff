//! Loading through the single flight: who runs a loader, where its result goes, and the one place
//! where every load and refresh starts and ends ([`Run`]).
//!
//! Three ways in, one way through:
//!
//! * a **load** after a miss joins the key's flight; its leader looks once more (another leader may
//!   have stored the key since this caller missed), runs the loader and stores what is cacheable;
//! * a **forced reload** ([`Cache::refresh_with`], [`WhenCached::Reload`]) joins the flight the
//!   same way but skips the second look, so the loader runs even though a value is cached;
//! * a **refresh** (stale-while-revalidate, [`stale`](super::stale)) never waits: it leads the
//!   key's flight only if nobody else is loading the key, and runs the loader in the background.
//!
//! All three end in [`Cache::lead`], so the counters (and the telemetry events built on them)
//! see every loader run exactly once, including the ones that panic or are cancelled.

use std::future::Future;
use std::time::Duration;

use super::distributed::{self, Turn};
use super::handle::{Cache, Keep, Scope, ScopeRef};
use super::policy::{Cacheable, OkOnly, Whole};
use crate::backend::lease::Leases;
use crate::backend::{Backend, Found};
use crate::bounds::{CacheKey, CacheValue};
use crate::error::{BackendError, CacheError, LoadError};
use crate::flight::{Join, Leader};
use crate::stats::{Count, Counters};
use crate::telemetry::{LoadOutcome, LoadWatch, Source};

/// Whom a loader run serves; decides which counters it moves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RunFor {
    /// A caller waiting for the value (a miss, or a forced reload).
    Caller,
    /// A background reload of a stale value; callers already have the old one.
    Refresh,
}

/// What the leader of a flight does if the key turns out to be cached when it starts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenCached {
    /// Return the cached value without running the loader (a miss: another leader may have
    /// stored the key since this caller looked).
    Return,
    /// Run the loader anyway (a forced reload).
    Reload,
}

/// Whether concurrent misses on one key share one run of the loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlightMode {
    /// One run per key at a time; the other callers wait for its value (the default).
    Single,
    /// Every caller runs the loader; the last value stored wins (`#[cached(sync = false)]`).
    PerCaller,
}

/// A namespace's scope and the loader to run in it.
type ScopedLoader<'a, K, V, B, F> = (ScopeRef<'a, K, V, B>, F);

/// A loader that could not be run: the error, and the loader back so a fail-open caller can
/// still run it.
pub(crate) struct NotRun<F> {
    pub(crate) error: CacheError,
    pub(crate) loader: F,
}

/// One run of a loader, from start to end: the single point where a load or refresh begins
/// ([`Run::start`]) and finishes ([`Run::end`], or dropping it unfinished when the loader panicked
/// or its future was cancelled). Telemetry attaches here.
pub(super) struct Run<'a> {
    counters: &'a Counters,
    run_for: RunFor,
    ended: bool,
    pub(super) watch: LoadWatch<'a>,
}

impl<'a> Run<'a> {
    pub(super) fn start(counters: &'a Counters, run_for: RunFor, source: Source<'a>) -> Self {
        Self {
            counters,
            run_for,
            ended: false,
            watch: LoadWatch::start(source, run_for == RunFor::Refresh),
        }
    }

    /// The loader returned; `cached` says whether its result was cacheable.
    pub(super) fn end(self, cached: bool) {
        let outcome = if cached {
            LoadOutcome::Ok
        } else {
            LoadOutcome::NotCached
        };
        self.end_with(outcome);
    }

    /// The loader returned, with this outcome.
    fn end_with(mut self, outcome: LoadOutcome) {
        self.ended = true;
        self.count(outcome == LoadOutcome::Ok);
        if outcome == LoadOutcome::FellBack {
            self.counters.add(Count::Fallback);
        }
        self.watch.finish(outcome);
    }

    fn count(&self, cached: bool) {
        self.counters.add(match (self.run_for, cached) {
            (RunFor::Caller, true) => Count::Load,
            (RunFor::Caller, false) => Count::LoadFailure,
            (RunFor::Refresh, true) => Count::Refresh,
            (RunFor::Refresh, false) => Count::RefreshFailure,
        });
    }
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        if !self.ended {
            // The loader panicked (`std::thread::panicking()`) or its future was dropped.
            self.count(false);
        }
    }
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// Runs `loader` for `key` in the current namespace, as `flight` says; the entry point of a
    /// memoized function's miss. If the namespace's scope cannot be had, the loader comes back
    /// unrun with the error.
    pub(crate) fn load_by<P, R, F>(
        &self,
        key: K,
        when_cached: WhenCached,
        flight: FlightMode,
        loader: F,
    ) -> Result<R, NotRun<F>>
    where
        R: Cacheable<P, Value = V>,
        F: FnOnce() -> R,
    {
        let (scope, loader) = self.scope_or_not_run(loader)?;
        match flight {
            FlightMode::Single => self.load(&scope, key, when_cached, loader),
            FlightMode::PerCaller => Ok(self.lead(&scope, None, key, RunFor::Caller, loader)),
        }
    }

    /// The current namespace's scope, with `loader` passed through; or the error with the
    /// loader back, unrun.
    fn scope_or_not_run<F>(&self, loader: F) -> Result<ScopedLoader<'_, K, V, B, F>, NotRun<F>> {
        match self.scope() {
            Ok(scope) => Ok((scope, loader)),
            Err(error) => Err(NotRun { error, loader }),
        }
    }

    /// Async form of [`load_by`](Self::load_by).
    pub(crate) async fn load_by_async<P, R, F>(
        &self,
        key: K,
        when_cached: WhenCached,
        flight: FlightMode,
        loader: F,
    ) -> Result<R, NotRun<F>>
    where
        R: Cacheable<P, Value = V>,
        F: Future<Output = R>,
    {
        let (scope, loader) = self.scope_or_not_run(loader)?;
        match flight {
            FlightMode::Single => self.load_async(&scope, key, when_cached, loader).await,
            FlightMode::PerCaller => Ok(self
                .lead_async(&scope, None, key, RunFor::Caller, loader)
                .await),
        }
    }

    /// Runs `loader` as the single flight for `key`, or waits for the one running.
    pub(super) fn load<P, R, F>(
        &self,
        scope: &Scope<K, V, B>,
        key: K,
        when_cached: WhenCached,
        loader: F,
    ) -> Result<R, NotRun<F>>
    where
        R: Cacheable<P, Value = V>,
        F: FnOnce() -> R,
    {
        loop {
            match scope.flights.join(&key) {
                Join::Leader(leader) => {
                    if B::LEASES
                        && when_cached == WhenCached::Return
                        && let Some((leases, period)) = self.leases(scope)
                    {
                        return self.lead_distributed(scope, leader, key, leases, period, loader);
                    }
                    if when_cached == WhenCached::Return {
                        match self.recheck(scope, scope.backend.get(&key)) {
                            Ok(Some(v)) => {
                                leader.complete(Some(v.clone()));
                                return Ok(R::from_cached(v));
                            }
                            Ok(None) => {}
                            Err(error) => return Err(NotRun { error, loader }),
                        }
                    }
                    return Ok(self.lead(scope, Some(leader), key, RunFor::Caller, loader));
                }
                Join::Follower(flight) => {
                    if let Some(v) = flight.wait() {
                        return Ok(R::from_cached(v));
                    }
                }
                Join::Recursion => {
                    let error = self.recursion();
                    return Err(NotRun { error, loader });
                }
            }
        }
    }

    /// Async form of [`load`](Self::load).
    pub(super) async fn load_async<P, R, F>(
        &self,
        scope: &Scope<K, V, B>,
        key: K,
        when_cached: WhenCached,
        loader: F,
    ) -> Result<R, NotRun<F>>
    where
        R: Cacheable<P, Value = V>,
        F: Future<Output = R>,
    {
        loop {
            match scope.flights.join(&key) {
                Join::Leader(leader) => {
                    #[cfg(any(feature = "tokio", feature = "redis"))]
                    if B::LEASES
                        && when_cached == WhenCached::Return
                        && let Some((leases, period)) = self.leases(scope)
                    {
                        let led =
                            self.lead_distributed_async(scope, leader, key, leases, period, loader);
                        return led.await;
                    }
                    if when_cached == WhenCached::Return {
                        let found = scope.backend.get_async(&key).await;
                        match self.recheck(scope, found) {
                            Ok(Some(v)) => {
                                leader.complete(Some(v.clone()));
                                return Ok(R::from_cached(v));
                            }
                            Ok(None) => {}
                            Err(error) => return Err(NotRun { error, loader }),
                        }
                    }
                    let led = self.lead_async(scope, Some(leader), key, RunFor::Caller, loader);
                    return Ok(led.await);
                }
                Join::Follower(flight) => {
                    if let Some(v) = flight.wait_async().await {
                        return Ok(R::from_cached(v));
                    }
                }
                Join::Recursion => {
                    let error = self.recursion();
                    return Err(NotRun { error, loader });
                }
            }
        }
    }

    /// [`load`](Self::load)'s leader with [single flight across
    /// processes](crate::CacheBuilder::distributed_flight): takes its turn at the key's lease,
    /// then returns what another process stored or leads the load. Out of line: a cache without
    /// leases never runs it, so its hit and miss paths carry none of it.
    #[cold]
    #[inline(never)]
    fn lead_distributed<P, R, F>(
        &self,
        scope: &Scope<K, V, B>,
        leader: Leader<K, V>,
        key: K,
        leases: &dyn Leases<K>,
        period: Duration,
        loader: F,
    ) -> Result<R, NotRun<F>>
    where
        R: Cacheable<P, Value = V>,
        F: FnOnce() -> R,
    {
        let look = || self.recheck(scope, scope.backend.get(&key));
        let failed = |e| self.backend_error(scope, e);
        match distributed::turn(leases, &key, period, look, failed) {
            Turn::Found(v) => {
                leader.complete(Some(v.clone()));
                Ok(R::from_cached(v))
            }
            Turn::Lead(held) => {
                let led = self.lead(scope, Some(leader), key, RunFor::Caller, loader);
                held.release();
                Ok(led)
            }
            Turn::WaitedOut => Ok(self.lead(scope, Some(leader), key, RunFor::Caller, loader)),
            Turn::Failed(error) => Err(NotRun { error, loader }),
        }
    }

    /// Async form of [`lead_distributed`](Self::lead_distributed). Its future is made here, out
    /// of line, and boxed, so that neither [`load_async`](Self::load_async)'s future (the state
    /// of every memoized async call) nor its poll's stack frame holds the lease protocol's state:
    /// they hold one pointer, and the box is made only when the cache has leases.
    #[cfg(any(feature = "tokio", feature = "redis"))]
    #[cold]
    #[inline(never)]
    fn lead_distributed_async<'a, P, R, F>(
        &'a self,
        scope: &'a Scope<K, V, B>,
        leader: Leader<K, V>,
        key: K,
        leases: &'a dyn Leases<K>,
        period: Duration,
        loader: F,
    ) -> std::pin::Pin<Box<impl Future<Output = Result<R, NotRun<F>>> + 'a>>
    where
        R: Cacheable<P, Value = V> + 'a,
        F: Future<Output = R> + 'a,
        P: 'a,
    {
        Box::pin(async move {
            let look = || async { self.recheck(scope, scope.backend.get_async(&key).await) };
            let failed = |e| self.backend_error(scope, e);
            match distributed::turn_async(leases, &key, period, look, failed).await {
                Turn::Found(v) => {
                    leader.complete(Some(v.clone()));
                    Ok(R::from_cached(v))
                }
                Turn::Lead(held) => {
                    let led = self.lead_async(scope, Some(leader), key, RunFor::Caller, loader);
                    let led = held.renew_while(period, led).await;
                    held.release_async().await;
                    Ok(led)
                }
                Turn::WaitedOut => Ok(self
                    .lead_async(scope, Some(leader), key, RunFor::Caller, loader)
                    .await),
                Turn::Failed(error) => Err(NotRun { error, loader }),
            }
        })
    }

    /// Runs `loader` (as `leader`'s loader when there is one), stores what is cacheable, and ends
    /// the flight. Without a leader this is a plain load with no single flight.
    pub(super) fn lead<P, R>(
        &self,
        scope: &Scope<K, V, B>,
        leader: Option<Leader<K, V>>,
        key: K,
        run_for: RunFor,
        loader: impl FnOnce() -> R,
    ) -> R
    where
        R: Cacheable<P, Value = V>,
    {
        let run = Run::start(&scope.counters, run_for, self.source());
        let result = {
            let _running = leader.as_ref().map(Leader::running);
            run.watch.run(loader)
        };
        let shared = result.cacheable();
        let (result, outcome) = match &shared {
            Some(v) => {
                self.keep(&key, v);
                let written = scope
                    .backend
                    .insert(key, v.clone(), self.entry_ttl(&result, v));
                // The caller has its value either way; a failed write is counted, not returned.
                let _ = self.stored(scope, written);
                (result, LoadOutcome::Ok)
            }
            None => self.fall_back(run_for, &key, result),
        };
        run.end_with(outcome);
        if let Some(leader) = leader {
            leader.complete(shared);
        }
        result
    }

    /// Async form of [`lead`](Self::lead); the loader's future is polled marked as the flight's
    /// loader, so a same-key request from inside it is caught as recursion.
    pub(super) async fn lead_async<P, R>(
        &self,
        scope: &Scope<K, V, B>,
        leader: Option<Leader<K, V>>,
        key: K,
        run_for: RunFor,
        loader: impl Future<Output = R>,
    ) -> R
    where
        R: Cacheable<P, Value = V>,
    {
        let run = Run::start(&scope.counters, run_for, self.source());
        let loader = run.watch.run_async(loader);
        let result = match &leader {
            Some(leader) => leader.track(loader).await,
            None => loader.await,
        };
        let shared = result.cacheable();
        let (result, outcome) = match &shared {
            Some(v) => {
                self.keep(&key, v);
                let ttl = self.entry_ttl(&result, v);
                let written = scope.backend.insert_async(key, v.clone(), ttl).await;
                let _ = self.stored(scope, written);
                (result, LoadOutcome::Ok)
            }
            None => self.fall_back(run_for, &key, result),
        };
        run.end_with(outcome);
        if let Some(leader) = leader {
            leader.complete(shared);
        }
        result
    }

    /// With [single flight across processes](crate::CacheBuilder::distributed_flight), the
    /// scope's leases and their period.
    ///
    /// Checked by callers behind [`Backend::LEASES`], a constant, so that the distributed
    /// leader is not compiled for a backend without leases: for the memory backend that was 3%
    /// of what a memoized function instantiates (`cargo llvm-lines`).
    fn leases<'s>(&self, scope: &'s Scope<K, V, B>) -> Option<(&'s dyn Leases<K>, Duration)> {
        let period = self.config().flight_lease?;
        Some((scope.backend.leases()?, period))
    }

    /// Keeps a copy of a loaded value, with a [`fallback`](crate::CacheBuilder::fallback) age.
    fn keep(&self, key: &K, value: &V) {
        if let Some(kept) = &self.inner.kept {
            kept.keep(key, value);
        }
    }

    /// A result the policy did not cache: a caller's failure is answered with the value kept
    /// for `key`, when the cache keeps one; anything else stays as it is.
    fn fall_back<P, R: Cacheable<P, Value = V>>(
        &self,
        run_for: RunFor,
        key: &K,
        result: R,
    ) -> (R, LoadOutcome) {
        if run_for == RunFor::Caller
            && result.failed()
            && let Some(kept) = &self.inner.kept
            && let Some(value) = kept.kept(key)
        {
            return (R::from_cached(value), LoadOutcome::FellBack);
        }
        (result, LoadOutcome::NotCached)
    }

    /// The TTL a loaded value is stored with: the result's own, else the cache-wide one.
    fn entry_ttl<P, R: Cacheable<P, Value = V>>(&self, result: &R, value: &V) -> Option<Duration> {
        result.ttl(value).or(self.config().ttl())
    }

    /// A leader's second look: another leader may have stored the key since this caller missed.
    fn recheck(
        &self,
        scope: &Scope<K, V, B>,
        found: Result<Option<Found<V>>, BackendError>,
    ) -> Result<Option<V>, CacheError> {
        match self.undecodable_is_miss(scope, found) {
            Ok(found) => Ok(found.map(|f| f.value)),
            Err(e) => Err(self.backend_error(scope, e)),
        }
    }

    fn recursion(&self) -> CacheError {
        CacheError::Recursion {
            cache: self.config().name.clone(),
        }
    }

    /// The value under `key`, or the result of `init` stored under it. Concurrent callers for one
    /// key run `init` once; the others wait for its value.
    ///
    /// If storing the loaded value fails, the value is still returned (the failure is counted in
    /// [`Stats::errors`](crate::Stats::errors)); only a failed lookup before loading is an `Err`.
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> Result<V, CacheError> {
        if let Some(v) = self.get(&key)? {
            return Ok(v);
        }
        let scope = self.scope()?;
        self.load::<Whole, V, _>(&scope, key, WhenCached::Return, init)
            .map_err(|n| n.error)
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) for a fallible loader: an `Err` is
    /// returned to this caller and nothing is cached, so the next call tries again.
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, LoadError<E>> {
        if let Some(v) = self.get(&key)? {
            return Ok(v);
        }
        let scope = self.scope()?;
        match self.load::<OkOnly, Result<V, E>, _>(&scope, key, WhenCached::Return, init) {
            Ok(r) => r.map_err(LoadError::Load),
            Err(n) => Err(LoadError::Cache(n.error)),
        }
    }

    /// Async form of [`get_or_insert_with`](Self::get_or_insert_with): concurrent tasks missing one
    /// key await a single `init`.
    pub async fn get_or_insert_with_async(
        &self,
        key: K,
        init: impl Future<Output = V>,
    ) -> Result<V, CacheError> {
        if let Some(v) = self.get_async(&key).await? {
            return Ok(v);
        }
        let scope = self.scope()?;
        self.load_async::<Whole, V, _>(&scope, key, WhenCached::Return, init)
            .await
            .map_err(|n| n.error)
    }

    /// Async form of [`try_get_or_insert_with`](Self::try_get_or_insert_with).
    pub async fn try_get_or_insert_with_async<E>(
        &self,
        key: K,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, LoadError<E>> {
        if let Some(v) = self.get_async(&key).await? {
            return Ok(v);
        }
        let scope = self.scope()?;
        let load =
            self.load_async::<OkOnly, Result<V, E>, _>(&scope, key, WhenCached::Return, init);
        match load.await {
            Ok(r) => r.map_err(LoadError::Load),
            Err(n) => Err(LoadError::Cache(n.error)),
        }
    }

    /// Runs `init` for `key` whatever is cached, stores its value and returns it: a forced
    /// refresh of one key. It is the key's single flight: callers missing the key meanwhile wait
    /// for it, and if a load of the key is already running this waits for that one instead of
    /// starting a second.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let prices: Cache<u32, u32> = Cache::builder("doc-force").build()?;
    /// prices.insert(1, 10)?;
    /// assert_eq!(prices.refresh_with(1, || 11)?, 11);
    /// assert_eq!(prices.get(&1)?, Some(11));
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn refresh_with(&self, key: K, init: impl FnOnce() -> V) -> Result<V, CacheError> {
        let scope = self.scope()?;
        self.load::<Whole, V, _>(&scope, key, WhenCached::Reload, init)
            .map_err(|n| n.error)
    }

    /// Async form of [`refresh_with`](Self::refresh_with).
    pub async fn refresh_with_async(
        &self,
        key: K,
        init: impl Future<Output = V>,
    ) -> Result<V, CacheError> {
        let scope = self.scope()?;
        self.load_async::<Whole, V, _>(&scope, key, WhenCached::Reload, init)
            .await
            .map_err(|n| n.error)
    }
}

impl<K: CacheKey, V: CacheValue> Keep<K, V> for Cache<K, V> {
    fn keep(&self, key: &K, value: &V) {
        // A failed copy only loses a fallback; the kept cache counts and reports it.
        let _ = self.insert(key.clone(), value.clone());
    }

    fn kept(&self, key: &K) -> Option<V> {
        self.get(key).ok().flatten()
    }
}
