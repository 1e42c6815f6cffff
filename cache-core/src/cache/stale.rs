//! Stale-while-revalidate: a hit older than the cache's `refresh` age is returned at once, and one
//! reload of its key runs in the background.
//!
//! The reload *is* the key's single flight: it leads the flight only if nobody else is loading the
//! key, so a miss on the same key meanwhile waits for it instead of loading twice, and many stale
//! hits start one reload. Sync reloads run on memokit's refresh workers
//! ([`refresh_pool`](super::refresh_pool)); async ones are spawned on the Tokio runtime.

use std::future::Future;

use super::handle::{Cache, Scope, ScopeRef};
use super::load::{RunFor, WhenCached};
use super::policy::{Cacheable, Whole};
use super::refresh_pool;
use crate::backend::{Backend, Found};
use crate::bounds::{CacheKey, CacheValue};
use crate::clock::{self, Timestamp};
use crate::error::CacheError;
use crate::key::Lookup;
use crate::stats::Count;

/// What a lookup for a memoized call found ([`Cache::probe`]).
pub(crate) enum Probed<V> {
    /// A value younger than the `refresh` age, or one whose reload is already running.
    Fresh(V),
    /// A value older than the `refresh` age, with no reload of it running: return it and start one.
    Stale(V),
    /// Nothing under the key.
    Missing,
    /// The backend failed, or the namespace could not be had; already counted and reported.
    Unavailable,
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// Whether a value `written` then is old enough to refresh; always `false` without a
    /// `refresh` age, and then without reading the clock.
    #[inline]
    pub(super) fn is_stale(&self, written: Timestamp) -> bool {
        self.config()
            .refresh()
            .is_some_and(|age| clock::now().duration_since(written) >= age)
    }

    /// Looks `key` up for a memoized call: the value and whether it is due for a reload, with
    /// every failure already reported, so the caller only decides where the call goes.
    #[inline]
    pub(crate) fn probe<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Probed<V> {
        self.with_scope(
            #[inline(always)]
            |scope| {
                let found = self.lookup_result(scope, scope.backend.get(key));
                Ok(self.probed(scope, key, found))
            },
        )
        .unwrap_or(Probed::Unavailable)
    }

    /// Async form of [`probe`](Self::probe).
    pub(crate) async fn probe_async<Q: ?Sized + Lookup<K> + Sync>(&self, key: &Q) -> Probed<V> {
        let Ok(scope) = self.scope() else {
            return Probed::Unavailable;
        };
        let found = scope.backend.get_async(key).await;
        let found = self.lookup_result(&scope, found);
        self.probed(&scope, key, found)
    }

    #[inline]
    fn probed<Q: ?Sized + Lookup<K>>(
        &self,
        scope: &Scope<K, V, B>,
        key: &Q,
        found: Result<Option<Found<V>>, CacheError>,
    ) -> Probed<V> {
        match found {
            Ok(Some(found)) if self.due_for_reload(scope, key, found.written) => {
                Probed::Stale(found.value)
            }
            Ok(Some(found)) => Probed::Fresh(found.value),
            Ok(None) => Probed::Missing,
            Err(_) => Probed::Unavailable,
        }
    }

    /// Whether a value written then under `key` is stale with no reload of it running.
    #[inline]
    fn due_for_reload<Q: ?Sized + Lookup<K>>(
        &self,
        scope: &Scope<K, V, B>,
        key: &Q,
        written: Timestamp,
    ) -> bool {
        self.is_stale(written) && !scope.flights.is_loading(key)
    }

    /// Starts one background reload of `key` in the current namespace with `reload`, unless a
    /// load of it is in flight or the namespace cannot be had. Returns at once.
    pub(crate) fn refresh_in_background<P, R>(
        &self,
        key: K,
        reload: impl FnOnce(K) -> R + Send + 'static,
    ) where
        R: Cacheable<P, Value = V>,
    {
        if let Ok(scope) = self.scope() {
            self.refresh_in(&scope, key, reload);
        }
    }

    /// [`refresh_in_background`](Self::refresh_in_background) in `scope`.
    fn refresh_in<P, R>(
        &self,
        scope: &ScopeRef<'_, K, V, B>,
        key: K,
        reload: impl FnOnce(K) -> R + Send + 'static,
    ) where
        R: Cacheable<P, Value = V>,
    {
        let Some(leader) = scope.flights.try_lead(&key) else {
            return;
        };
        let cache = self.clone();
        let owned = scope.detach(self);
        let job = move || {
            let arg = key.clone();
            cache.lead(&owned, Some(leader), key, RunFor::Refresh, || reload(arg));
        };
        if refresh_pool::submit(Box::new(job)).is_err() {
            // Dropping the job dropped its leader: the flight ended and the old value stays.
            scope.counters.add(Count::RefreshFailure);
        }
    }

    /// Async form of [`refresh_in_background`](Self::refresh_in_background): the reload is
    /// spawned on the Tokio runtime and `stale` returned. Outside one (or without the `tokio`
    /// feature) there is no executor to hand it to, so this caller runs it and gets the fresh
    /// result if it is cacheable; `stale` otherwise, and whenever no reload could start.
    pub(crate) async fn refresh_async<P, R, F>(
        &self,
        key: K,
        stale: R,
        reload: impl FnOnce(K) -> F + Send + 'static,
    ) -> R
    where
        R: Cacheable<P, Value = V> + Send + 'static,
        F: Future<Output = R> + Send + 'static,
    {
        match self.scope() {
            Ok(scope) => self.refresh_async_in(&scope, key, stale, reload).await,
            Err(_) => stale,
        }
    }

    /// [`refresh_async`](Self::refresh_async) in `scope`.
    async fn refresh_async_in<P, R, F>(
        &self,
        scope: &ScopeRef<'_, K, V, B>,
        key: K,
        stale: R,
        reload: impl FnOnce(K) -> F + Send + 'static,
    ) -> R
    where
        R: Cacheable<P, Value = V> + Send + 'static,
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
                .lead_async(&owned, Some(leader), key, RunFor::Refresh, loader)
                .await
        };
        match refresh_pool::spawn(task) {
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
            if self.due_for_reload(&scope, &key, found.written) {
                self.refresh_in::<Whole, V>(&scope, key, move |_| init());
            }
            return Ok(found.value);
        }
        self.load::<Whole, V, _>(&scope, key, WhenCached::Return, init)
            .map_err(|n| n.error)
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
            if self.due_for_reload(&scope, &key, found.written) {
                let refresh =
                    self.refresh_async_in::<Whole, V, _>(&scope, key, found.value, |_| init);
                return Ok(refresh.await);
            }
            return Ok(found.value);
        }
        self.load_async::<Whole, V, _>(&scope, key, WhenCached::Return, init)
            .await
            .map_err(|n| n.error)
    }
}
