//! Loading through the single flight: who runs a loader, where its result goes, and the one place
//! where every load and refresh starts and ends ([`Run`]).
//!
//! Three ways in, one way through:
//!
//! * a **load** after a miss joins the key's flight; its leader looks once more (another leader may
//!   have stored the key since this caller missed), runs the loader and stores what is cacheable;
//! * a **forced reload** ([`Cache::refresh_with`], [`Mode::Force`]) joins the flight the same way but skips the
//!   second look, so the loader runs even though a value is cached;
//! * a **refresh** (stale-while-revalidate) never waits: a hit older than the `refresh` age tries
//!   to lead the key's flight and, if nobody else is loading it, hands the leader guard and a
//!   loader to the background ([`crate::refresh`]), then returns the cached value. Because the
//!   refresh *is* the key's flight, a miss on the same key meanwhile waits for it instead of
//!   loading twice, and many stale hits start one reload.
//!
//! All three end in [`Cache::lead`], so the counters (and the telemetry events built on them)
//! see every loader run exactly once, including the ones that panic or are cancelled.

use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use crate::backend::{Backend, Found};
use crate::cache::{Cache, Scope, ScopeRef, Unrun};
use crate::clock::{self, Timestamp};
use crate::error::CacheError;
use crate::flight::{Join, Leader};
use crate::outcome::{Outcome, Whole};
use crate::refresh;
use crate::stats::{Count, Counters};
use crate::telemetry::{LoadWatch, Source};

/// What a loader run is for; decides which counters it moves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A caller needs the value (a miss, or a forced reload).
    Load,
    /// A background reload of a stale value; callers already have the old one.
    Refresh,
}

/// Whether the leader looks at the backend once more before running the loader.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Load only if still missing (a miss).
    Fresh,
    /// Load whatever is cached (a forced refresh).
    Force,
}

/// One run of a loader, from start to end: the single point where a load or refresh begins
/// ([`Run::start`]) and finishes ([`Run::end`], or dropping it unfinished when the loader panicked
/// or its future was cancelled). Telemetry attaches here.
struct Run<'a> {
    counters: &'a Counters,
    kind: Kind,
    ended: bool,
    watch: LoadWatch<'a>,
}

impl<'a> Run<'a> {
    fn start(counters: &'a Counters, kind: Kind, source: Source<'a>) -> Self {
        Self {
            counters,
            kind,
            ended: false,
            watch: LoadWatch::start(source, kind == Kind::Refresh),
        }
    }

    /// The loader returned; `cached` says whether its result was cacheable.
    fn end(mut self, cached: bool) {
        self.ended = true;
        self.count(cached);
        self.watch.finish(cached);
    }

    fn count(&self, cached: bool) {
        self.counters.add(match (self.kind, cached) {
            (Kind::Load, true) => Count::Load,
            (Kind::Load, false) => Count::LoadFailure,
            (Kind::Refresh, true) => Count::Refresh,
            (Kind::Refresh, false) => Count::RefreshFailure,
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

impl<K, V, B> Cache<K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    /// Runs `body` as the single flight for `key`, or waits for the one running.
    pub(crate) fn load<P, R, F>(
        &self,
        scope: &Scope<K, V, B>,
        key: K,
        body: F,
    ) -> Result<R, Unrun<F>>
    where
        R: Outcome<P, Value = V>,
        F: FnOnce() -> R,
    {
        self.load_in(scope, key, Mode::Fresh, body)
    }

    /// Runs `body` as the single flight for `key`, or waits for the one running; with
    /// [`Mode::Force`] the leader runs it even if a value is cached.
    pub(crate) fn load_in<P, R, F>(
        &self,
        scope: &Scope<K, V, B>,
        key: K,
        mode: Mode,
        body: F,
    ) -> Result<R, Unrun<F>>
    where
        R: Outcome<P, Value = V>,
        F: FnOnce() -> R,
    {
        loop {
            match scope.flights.join(&key) {
                Join::Leader(leader) => {
                    if mode == Mode::Fresh {
                        match self.recheck(scope, scope.backend.get(&key)) {
                            Ok(Some(v)) => {
                                leader.complete(Some(v.clone()));
                                return Ok(R::from_cached(v));
                            }
                            Ok(None) => {}
                            Err(error) => return Err(Unrun { error, body }),
                        }
                    }
                    return Ok(self.lead(scope, Some(leader), key, Kind::Load, body));
                }
                Join::Follower(flight) => {
                    if let Some(v) = flight.wait() {
                        return Ok(R::from_cached(v));
                    }
                }
                Join::Recursion => {
                    return Err(Unrun {
                        error: self.recursion(),
                        body,
                    });
                }
            }
        }
    }

    /// Async form of [`load`](Self::load).
    pub(crate) async fn load_async<P, R, F>(
        &self,
        scope: &Scope<K, V, B>,
        key: K,
        body: F,
    ) -> Result<R, Unrun<F>>
    where
        R: Outcome<P, Value = V>,
        F: Future<Output = R>,
    {
        self.load_async_in(scope, key, Mode::Fresh, body).await
    }

    /// Async form of [`load_in`](Self::load_in).
    pub(crate) async fn load_async_in<P, R, F>(
        &self,
        scope: &Scope<K, V, B>,
        key: K,
        mode: Mode,
        body: F,
    ) -> Result<R, Unrun<F>>
    where
        R: Outcome<P, Value = V>,
        F: Future<Output = R>,
    {
        loop {
            match scope.flights.join(&key) {
                Join::Leader(leader) => {
                    if mode == Mode::Fresh {
                        let found = scope.backend.get_async(&key).await;
                        match self.recheck(scope, found) {
                            Ok(Some(v)) => {
                                leader.complete(Some(v.clone()));
                                return Ok(R::from_cached(v));
                            }
                            Ok(None) => {}
                            Err(error) => return Err(Unrun { error, body }),
                        }
                    }
                    return Ok(self
                        .lead_async(scope, Some(leader), key, Kind::Load, body)
                        .await);
                }
                Join::Follower(flight) => {
                    if let Some(v) = flight.wait_async().await {
                        return Ok(R::from_cached(v));
                    }
                }
                Join::Recursion => {
                    return Err(Unrun {
                        error: self.recursion(),
                        body,
                    });
                }
            }
        }
    }

    /// Runs `body` (as `leader`'s loader when there is one), stores what is cacheable, and ends
    /// the flight. Without a leader this is a plain load with no single flight (`sync = false`).
    pub(crate) fn lead<P, R>(
        &self,
        scope: &Scope<K, V, B>,
        leader: Option<Leader<K, V>>,
        key: K,
        kind: Kind,
        body: impl FnOnce() -> R,
    ) -> R
    where
        R: Outcome<P, Value = V>,
    {
        let run = Run::start(&scope.counters, kind, self.source());
        let result = {
            let _running = leader.as_ref().map(Leader::running);
            run.watch.run(body)
        };
        let shared = result.cacheable();
        if let Some(v) = &shared {
            let written = scope
                .backend
                .insert(key, v.clone(), self.entry_ttl(&result, v));
            // The caller has its value either way; a failed write is counted, not returned.
            let _ = self.store(scope, written);
        }
        run.end(shared.is_some());
        if let Some(leader) = leader {
            leader.complete(shared);
        }
        result
    }

    /// Async form of [`lead`](Self::lead); the loader's future is polled marked as the flight's
    /// loader, so a same-key request from inside it is caught as recursion.
    pub(crate) async fn lead_async<P, R>(
        &self,
        scope: &Scope<K, V, B>,
        leader: Option<Leader<K, V>>,
        key: K,
        kind: Kind,
        body: impl Future<Output = R>,
    ) -> R
    where
        R: Outcome<P, Value = V>,
    {
        let run = Run::start(&scope.counters, kind, self.source());
        let body = run.watch.run_async(body);
        let result = match &leader {
            Some(leader) => leader.track(body).await,
            None => body.await,
        };
        let shared = result.cacheable();
        if let Some(v) = &shared {
            let ttl = self.entry_ttl(&result, v);
            let written = scope.backend.insert_async(key, v.clone(), ttl).await;
            let _ = self.store(scope, written);
        }
        run.end(shared.is_some());
        if let Some(leader) = leader {
            leader.complete(shared);
        }
        result
    }

    /// The TTL a loaded value is stored with: the result's own, else the cache-wide one.
    fn entry_ttl<P, R: Outcome<P, Value = V>>(&self, result: &R, value: &V) -> Option<Duration> {
        result.ttl(value).or(self.config().ttl())
    }

    /// A leader's second look: another leader may have stored the key since this caller missed.
    fn recheck(
        &self,
        scope: &Scope<K, V, B>,
        found: Result<Option<Found<V>>, crate::error::BackendError>,
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

    /// Whether a value `written` then is old enough to refresh; always `false` without a
    /// `refresh` age, and then without reading the clock.
    #[inline]
    pub(crate) fn is_stale(&self, written: Timestamp) -> bool {
        self.config()
            .refresh()
            .is_some_and(|age| clock::now().duration_since(written) >= age)
    }

    /// Starts one background reload of `key` with `reload`, unless a load of it is in flight.
    /// Returns at once; the reload runs on memokit's refresh workers ([`crate::refresh`]).
    pub(crate) fn refresh_in_background<P, R>(
        &self,
        scope: &ScopeRef<'_, K, V, B>,
        key: K,
        reload: impl FnOnce(K) -> R + Send + 'static,
    ) where
        R: Outcome<P, Value = V>,
    {
        let Some(leader) = scope.flights.try_lead(&key) else {
            return;
        };
        let cache = self.clone();
        let owned = scope.detach(self);
        let job = move || {
            let arg = key.clone();
            cache.lead(&owned, Some(leader), key, Kind::Refresh, || reload(arg));
        };
        if refresh::submit(Box::new(job)).is_err() {
            // Dropping the job dropped its leader: the flight ended and the old value stays.
            scope.counters.add(Count::RefreshFailure);
        }
    }

    /// Async form of [`refresh_in_background`](Self::refresh_in_background): the reload is
    /// spawned on the Tokio runtime. Outside one (or without the `tokio` feature) there is no
    /// executor to hand it to, so this caller runs it and gets the fresh result if it is
    /// cacheable; `stale` otherwise.
    pub(crate) async fn refresh_async<P, R, F>(
        &self,
        scope: &ScopeRef<'_, K, V, B>,
        key: K,
        stale: R,
        reload: impl FnOnce(K) -> F + Send + 'static,
    ) -> R
    where
        R: Outcome<P, Value = V> + Send + 'static,
        F: Future<Output = R> + Send + 'static,
    {
        let Some(leader) = scope.flights.try_lead(&key) else {
            return stale;
        };
        let cache = self.clone();
        let owned = scope.detach(self);
        let task = async move {
            let loader = reload(key.clone());
            cache
                .lead_async(&owned, Some(leader), key, Kind::Refresh, loader)
                .await
        };
        match refresh::spawn(task) {
            Ok(()) => stale,
            Err(task) => {
                let fresh = task.await;
                if fresh.cacheable().is_some() {
                    fresh
                } else {
                    stale
                }
            }
        }
    }

    /// The value under `key`, or the result of `init` stored under it; like
    /// [`get_or_insert_with`](Self::get_or_insert_with), plus stale-while-revalidate.
    ///
    /// With a [`refresh`](crate::CacheBuilder::refresh) age configured, a hit older than it returns
    /// the cached value at once and hands `init` to a background worker that reloads the key (one
    /// reload per key at a time; misses on the key meanwhile wait for it). That is why `init` must
    /// be `Send + 'static`. If the reload fails or panics the old value stays and
    /// [`Stats::refresh_failures`](crate::Stats::refresh_failures) counts it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Cache;
    /// use memokit_core::clock::ManualClock;
    ///
    /// let clock = ManualClock::new();
    /// let _installed = clock.install();
    /// let rates: Cache<&'static str, u32> = Cache::builder("doc-rates")
    ///     .refresh(Duration::from_secs(30))
    ///     .build()?;
    /// assert_eq!(rates.get_or_refresh_with("eur", || 100)?, 100);
    /// clock.advance(Duration::from_secs(31));
    /// // Stale: the old value now, a reload in the background.
    /// assert_eq!(rates.get_or_refresh_with("eur", || 101)?, 100);
    /// # while rates.stats().refreshes == 0 { std::thread::yield_now(); }
    /// # assert_eq!(rates.get(&"eur")?, Some(101));
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn get_or_refresh_with(
        &self,
        key: K,
        init: impl FnOnce() -> V + Send + 'static,
    ) -> Result<V, CacheError> {
        let scope = self.scope()?;
        if let Some(found) = self.lookup_result(&scope, scope.backend.get(&key))? {
            if self.is_stale(found.written) && !scope.flights.is_loading(&key) {
                self.refresh_in_background::<Whole, V>(&scope, key, move |_| init());
            }
            return Ok(found.value);
        }
        self.load::<Whole, V, _>(&scope, key, init)
            .map_err(|u| u.error)
    }

    /// Async form of [`get_or_refresh_with`](Self::get_or_refresh_with): the reload is spawned on
    /// the Tokio runtime (feature `tokio`). Outside a Tokio runtime the caller that finds the
    /// value stale reloads it itself and returns the fresh value.
    pub async fn get_or_refresh_with_async(
        &self,
        key: K,
        init: impl Future<Output = V> + Send + 'static,
    ) -> Result<V, CacheError> {
        let scope = self.scope()?;
        let found = scope.backend.get_async(&key).await;
        if let Some(found) = self.lookup_result(&scope, found)? {
            if self.is_stale(found.written) && !scope.flights.is_loading(&key) {
                let refreshed =
                    self.refresh_async::<Whole, V, _>(&scope, key, found.value, |_| init);
                return Ok(refreshed.await);
            }
            return Ok(found.value);
        }
        self.load_async::<Whole, V, _>(&scope, key, init)
            .await
            .map_err(|u| u.error)
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
        self.load_in::<Whole, V, _>(&scope, key, Mode::Force, init)
            .map_err(|u| u.error)
    }

    /// Async form of [`refresh_with`](Self::refresh_with).
    pub async fn refresh_with_async(
        &self,
        key: K,
        init: impl Future<Output = V>,
    ) -> Result<V, CacheError> {
        let scope = self.scope()?;
        self.load_async_in::<Whole, V, _>(&scope, key, Mode::Force, init)
            .await
            .map_err(|u| u.error)
    }
}
