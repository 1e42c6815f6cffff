//! Batches (Cachex's `get_many`/`put_many`, ElixirCache's `hash_get_many`): many keys per call,
//! one round trip on a remote backend, and a batched load that runs the loader once for all the
//! keys nobody has, single-flighted per key.
//!
//! # The batched load
//!
//! [`Cache::get_or_insert_many_with`] looks every key up at once, then joins each missing key's
//! flight. The keys it leads are looked up once more (another caller may have stored them since)
//! and the rest go to the loader in one call; the keys another caller is loading are waited for,
//! but only after this caller's own loader has run and its flights have ended, so two batches
//! that overlap never wait on each other in a circle. A key whose flight ends without a value
//! (its loader failed, left it out or panicked) is led by this caller in a next round, so every
//! key is either answered or handed to this caller's loader; keys the loader leaves out are
//! absent from the answer and not cached.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::handle::{Cache, Scope};
use super::load::{Run, RunFor};
use crate::backend::{Backend, Found};
use crate::bounds::{CacheKey, CacheValue};
use crate::error::{BackendError, BackendErrorKind, CacheError, LoadError};
use crate::flight::{Flight, Join, Leader};
use crate::key::Lookup;
use crate::telemetry;

/// The keys of one round of a batched load, split by who loads them.
struct Claims<K, V> {
    led: Vec<(K, Leader<K, V>)>,
    followed: Vec<(K, Arc<Flight<V>>)>,
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// The live values under `keys`, in the same order (Cachex's `get_many`). One round trip on
    /// Redis; a consistent snapshot on the in-memory backend. Each key counts as a hit or a miss.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let users: Cache<u64, String> = Cache::builder("get-many-doc").build()?;
    /// users.insert_many([(1, "ada".to_string()), (2, "bob".to_string())])?;
    /// assert_eq!(
    ///     users.get_many(&[1, 3, 2])?,
    ///     [Some("ada".to_string()), None, Some("bob".to_string())]
    /// );
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn get_many<'q, Q: ?Sized + Lookup<K> + 'q>(
        &self,
        keys: impl IntoIterator<Item = &'q Q>,
    ) -> Result<Vec<Option<V>>, CacheError> {
        let keys: Vec<&Q> = keys.into_iter().collect();
        let scope = self.scope()?;
        match scope.backend.get_many(&keys) {
            // One value that no longer decodes is that key's miss, not the batch's failure.
            Err(e) if e.kind() == BackendErrorKind::Codec => {
                let each = keys.iter().map(|k| scope.backend.get(*k)).collect();
                Ok(self.counted_each(&scope, each))
            }
            found => self.counted_many(&scope, found),
        }
    }

    /// Async form of [`get_many`](Self::get_many).
    pub async fn get_many_async<'q, Q: ?Sized + Lookup<K> + Sync + 'q>(
        &self,
        keys: impl IntoIterator<Item = &'q Q>,
    ) -> Result<Vec<Option<V>>, CacheError> {
        let keys: Vec<&Q> = keys.into_iter().collect();
        let scope = self.scope()?;
        match scope.backend.get_many_async(&keys).await {
            Err(e) if e.kind() == BackendErrorKind::Codec => {
                let mut each = Vec::with_capacity(keys.len());
                for key in &keys {
                    each.push(scope.backend.get_async(*key).await);
                }
                Ok(self.counted_each(&scope, each))
            }
            found => self.counted_many(&scope, found),
        }
    }

    /// Stores every entry with the cache-wide TTL (Cachex's `put_many`): one round trip on
    /// Redis, each shard's lock taken once in memory.
    pub fn insert_many(&self, entries: impl IntoIterator<Item = (K, V)>) -> Result<(), CacheError> {
        self.insert_many_for(entries.into_iter().collect(), self.inner.config.ttl)
    }

    /// Stores every entry, each expiring after `ttl`.
    pub fn insert_many_with_ttl(
        &self,
        entries: impl IntoIterator<Item = (K, V)>,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.insert_many_for(entries.into_iter().collect(), Some(ttl))
    }

    fn insert_many_for(
        &self,
        entries: Vec<(K, V)>,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let scope = self.scope()?;
        let n = entries.len();
        let written = scope.backend.insert_many(entries, ttl);
        self.stored_many(&scope, n, written)
    }

    /// Async form of [`insert_many`](Self::insert_many).
    pub async fn insert_many_async(
        &self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), CacheError> {
        let entries: Vec<(K, V)> = entries.into_iter().collect();
        let scope = self.scope()?;
        let n = entries.len();
        let written = scope
            .backend
            .insert_many_async(entries, self.inner.config.ttl)
            .await;
        self.stored_many(&scope, n, written)
    }

    /// Removes every key of `keys`; how many had a live value.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let sessions: Cache<u32, String> = Cache::builder("remove-many-doc").build()?;
    /// sessions.insert_many([(1, "a".into()), (2, "b".into()), (3, "c".into())])?;
    /// assert_eq!(sessions.remove_many(&[1, 3, 9])?, 2);
    /// assert_eq!(sessions.len(), 1);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn remove_many<'q, Q: ?Sized + Lookup<K> + 'q>(
        &self,
        keys: impl IntoIterator<Item = &'q Q>,
    ) -> Result<u64, CacheError> {
        let keys: Vec<&Q> = keys.into_iter().collect();
        let scope = self.scope()?;
        let removed = scope.backend.remove_many(&keys);
        self.removed_many(&scope, removed)
    }

    /// Async form of [`remove_many`](Self::remove_many).
    pub async fn remove_many_async<'q, Q: ?Sized + Lookup<K> + Sync + 'q>(
        &self,
        keys: impl IntoIterator<Item = &'q Q>,
    ) -> Result<u64, CacheError> {
        let keys: Vec<&Q> = keys.into_iter().collect();
        let scope = self.scope()?;
        let removed = scope.backend.remove_many_async(&keys).await;
        self.removed_many(&scope, removed)
    }

    /// The values under `keys`, loading the ones nobody has with one call of `load`, which gets
    /// exactly the keys to load and returns the pairs it found. Keys another caller is loading
    /// are waited for, not loaded twice; keys `load` leaves out are absent from the answer and
    /// not cached. This caller's own loader runs (and its keys' flights end) before it waits on
    /// anyone else's, so overlapping batches never wait on each other in a circle; a key whose
    /// other loader failed goes to this caller's loader next.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use memokit_core::Cache;
    ///
    /// let users: Cache<u64, String> = Cache::builder("many-with-doc").build()?;
    /// users.insert(1, "ada".to_string())?;
    /// let found = users.get_or_insert_many_with([1, 2, 3], |missing| {
    ///     assert_eq!(missing, [2, 3]);
    ///     // One query for all the missing ids; id 3 does not exist.
    ///     missing.into_iter().filter(|&id| id == 2).map(|id| (id, format!("user {id}")))
    /// })?;
    /// assert_eq!(found.len(), 2);
    /// assert_eq!(found[&2], "user 2");
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn get_or_insert_many_with<R>(
        &self,
        keys: impl IntoIterator<Item = K>,
        mut load: impl FnMut(Vec<K>) -> R,
    ) -> Result<HashMap<K, V>, CacheError>
    where
        R: IntoIterator<Item = (K, V)>,
    {
        self.try_get_or_insert_many_with(keys, |missing| Ok::<_, CacheError>(load(missing)))
            .map_err(|e| match e {
                LoadError::Load(e) | LoadError::Cache(e) => e,
            })
    }

    /// [`get_or_insert_many_with`](Self::get_or_insert_many_with) with a loader that can fail:
    /// its error caches nothing and is returned; callers waiting on its keys load them
    /// themselves.
    pub fn try_get_or_insert_many_with<R, E>(
        &self,
        keys: impl IntoIterator<Item = K>,
        load: impl FnMut(Vec<K>) -> Result<R, E>,
    ) -> Result<HashMap<K, V>, LoadError<E>>
    where
        R: IntoIterator<Item = (K, V)>,
    {
        self.try_get_or_insert_many_into(keys, load, HashMap::with_capacity)
    }

    /// [`try_get_or_insert_many_with`](Self::try_get_or_insert_many_with) into the map `out`
    /// makes for the number of distinct keys: a batch-memoized function's own map type, filled
    /// once rather than built as a `HashMap` and copied.
    pub(crate) fn try_get_or_insert_many_into<M, R, E>(
        &self,
        keys: impl IntoIterator<Item = K>,
        mut load: impl FnMut(Vec<K>) -> Result<R, E>,
        out: impl FnOnce(usize) -> M,
    ) -> Result<M, LoadError<E>>
    where
        M: Extend<(K, V)>,
        R: IntoIterator<Item = (K, V)>,
    {
        let mut pending = distinct(keys);
        let scope = self.scope().map_err(LoadError::Cache)?;
        let refs: Vec<&K> = pending.iter().collect();
        let found = scope.backend.get_many(&refs);
        let found = self.counted_many(&scope, found);
        let mut out = out(pending.len());
        pending = take_found(pending, found.map_err(LoadError::Cache)?, &mut out);
        while !pending.is_empty() {
            let claims = self.claim(&scope, pending).map_err(LoadError::Cache)?;
            let refs: Vec<&K> = claims.led.iter().map(|(k, _)| k).collect();
            let rechecked = scope.backend.get_many(&refs);
            let led = self.rechecked(&scope, claims.led, rechecked, &mut out);
            if !led.is_empty() {
                let keys = led.iter().map(|(k, _)| k.clone()).collect();
                let run = Run::start(&scope.counters, RunFor::Caller, self.source());
                let loaded = {
                    // A same-key request from inside the loader is recursion, not a wait.
                    let _running: Vec<_> = led.iter().map(|(_, l)| l.running()).collect();
                    run.watch.run(|| load(keys))
                };
                let stored = self.store_loaded(run, led, loaded.map_err(LoadError::Load)?);
                let written = scope
                    .backend
                    .insert_many(stored.clone(), self.inner.config.ttl);
                let _ = self.stored_many(&scope, stored.len(), written);
                out.extend(stored);
            }
            let (keys, found) = claims
                .followed
                .into_iter()
                .map(|(key, flight)| (key, flight.wait()))
                .unzip();
            pending = take_found(keys, found, &mut out);
        }
        Ok(out)
    }

    /// Async form of [`get_or_insert_many_with`](Self::get_or_insert_many_with).
    pub async fn get_or_insert_many_with_async<R, Fut>(
        &self,
        keys: impl IntoIterator<Item = K>,
        mut load: impl FnMut(Vec<K>) -> Fut,
    ) -> Result<HashMap<K, V>, CacheError>
    where
        Fut: Future<Output = R>,
        R: IntoIterator<Item = (K, V)>,
    {
        let loaded = self
            .try_get_or_insert_many_with_async(keys, |missing| {
                let fut = load(missing);
                async move { Ok::<_, CacheError>(fut.await) }
            })
            .await;
        loaded.map_err(|e| match e {
            LoadError::Load(e) | LoadError::Cache(e) => e,
        })
    }

    /// Async form of [`try_get_or_insert_many_with`](Self::try_get_or_insert_many_with).
    pub async fn try_get_or_insert_many_with_async<R, E, Fut>(
        &self,
        keys: impl IntoIterator<Item = K>,
        load: impl FnMut(Vec<K>) -> Fut,
    ) -> Result<HashMap<K, V>, LoadError<E>>
    where
        Fut: Future<Output = Result<R, E>>,
        R: IntoIterator<Item = (K, V)>,
    {
        self.try_get_or_insert_many_into_async(keys, load, HashMap::with_capacity)
            .await
    }

    /// Async form of [`try_get_or_insert_many_into`](Self::try_get_or_insert_many_into).
    pub(crate) async fn try_get_or_insert_many_into_async<M, R, E, Fut>(
        &self,
        keys: impl IntoIterator<Item = K>,
        mut load: impl FnMut(Vec<K>) -> Fut,
        out: impl FnOnce(usize) -> M,
    ) -> Result<M, LoadError<E>>
    where
        M: Extend<(K, V)>,
        Fut: Future<Output = Result<R, E>>,
        R: IntoIterator<Item = (K, V)>,
    {
        let mut pending = distinct(keys);
        let scope = self.scope().map_err(LoadError::Cache)?;
        let refs: Vec<&K> = pending.iter().collect();
        let found = scope.backend.get_many_async(&refs).await;
        let found = self.counted_many(&scope, found);
        let mut out = out(pending.len());
        pending = take_found(pending, found.map_err(LoadError::Cache)?, &mut out);
        while !pending.is_empty() {
            let claims = self.claim(&scope, pending).map_err(LoadError::Cache)?;
            let refs: Vec<&K> = claims.led.iter().map(|(k, _)| k).collect();
            let rechecked = scope.backend.get_many_async(&refs).await;
            let led = self.rechecked(&scope, claims.led, rechecked, &mut out);
            if !led.is_empty() {
                let keys = led.iter().map(|(k, _)| k.clone()).collect();
                let run = Run::start(&scope.counters, RunFor::Caller, self.source());
                // A same-key request from inside the loader is recursion, not a wait.
                let loading = Leader::track_all(led.iter().map(|(_, l)| l), load(keys));
                let loaded = run.watch.run_async(loading).await;
                let stored = self.store_loaded(run, led, loaded.map_err(LoadError::Load)?);
                let written = scope
                    .backend
                    .insert_many_async(stored.clone(), self.inner.config.ttl)
                    .await;
                let _ = self.stored_many(&scope, stored.len(), written);
                out.extend(stored);
            }
            let (mut keys, mut found) = (Vec::new(), Vec::new());
            for (key, flight) in claims.followed {
                keys.push(key);
                found.push(flight.wait_async().await);
            }
            pending = take_found(keys, found, &mut out);
        }
        Ok(out)
    }

    /// Joins the flight of every key of `pending`.
    fn claim(&self, scope: &Scope<K, V, B>, pending: Vec<K>) -> Result<Claims<K, V>, CacheError> {
        let mut claims = Claims {
            led: Vec::new(),
            followed: Vec::new(),
        };
        for key in pending {
            match scope.flights.join(&key) {
                Join::Leader(leader) => claims.led.push((key, leader)),
                Join::Follower(flight) => claims.followed.push((key, flight)),
                Join::Recursion => {
                    return Err(CacheError::Recursion {
                        cache: self.config().name.clone(),
                    });
                }
            }
        }
        Ok(claims)
    }

    /// Ends the flights of the led keys found on the second look, into `out`; the led keys
    /// still to load. A failed second look loads them all.
    fn rechecked(
        &self,
        scope: &Scope<K, V, B>,
        led: Vec<(K, Leader<K, V>)>,
        found: Result<Vec<Option<Found<V>>>, BackendError>,
        out: &mut impl Extend<(K, V)>,
    ) -> Vec<(K, Leader<K, V>)> {
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                self.backend_error(scope, e);
                Vec::new()
            }
        };
        let mut found = found.into_iter();
        led.into_iter()
            .filter_map(|(key, leader)| match found.next().flatten() {
                Some(f) => {
                    leader.complete(Some(f.value.clone()));
                    out.extend([(key, f.value)]);
                    None
                }
                None => Some((key, leader)),
            })
            .collect()
    }

    /// Ends a batch loader's run and the flights it led, handing followers the values it
    /// returned for their keys; the led pairs to store (pairs for keys it did not lead are
    /// dropped: another caller owns them).
    fn store_loaded(
        &self,
        run: Run<'_>,
        led: Vec<(K, Leader<K, V>)>,
        loaded: impl IntoIterator<Item = (K, V)>,
    ) -> Vec<(K, V)> {
        let mut loaded: HashMap<K, V> = loaded.into_iter().collect();
        run.end(true);
        led.into_iter()
            .filter_map(|(key, leader)| {
                let value = loaded.remove(&key);
                leader.complete(value.clone());
                value.map(|v| (key, v))
            })
            .collect()
    }

    /// Counts each answer of a batched lookup as a hit or a miss.
    fn counted_many(
        &self,
        scope: &Scope<K, V, B>,
        found: Result<Vec<Option<Found<V>>>, BackendError>,
    ) -> Result<Vec<Option<V>>, CacheError> {
        let found = self.answered(scope, found)?;
        if self.inner.config.refresh().is_some() {
            for f in found.iter().flatten() {
                self.count_stale(scope, f.written);
            }
        }
        if telemetry::observes_lookups() {
            for f in &found {
                self.emit_get(f.as_ref().map(|f| f.written));
            }
        }
        let hits = found.iter().filter(|f| f.is_some()).count() as u64;
        scope.counters.lookups(hits, found.len() as u64 - hits);
        Ok(found.into_iter().map(|f| f.map(|f| f.value)).collect())
    }

    /// Counts each of one lookup per key; a key whose lookup failed is counted as an error
    /// and answered as a miss (its value no longer decodes, or the backend failed for it).
    fn counted_each(
        &self,
        scope: &Scope<K, V, B>,
        found: Vec<Result<Option<Found<V>>, BackendError>>,
    ) -> Vec<Option<V>> {
        found
            .into_iter()
            .map(|f| match self.lookup_result(scope, f) {
                Ok(found) => found.map(|f| f.value),
                Err(_) => None,
            })
            .collect()
    }
}

/// `keys` without repeats, in their first order. The set borrows the keys (no clone) and is
/// sized once, with hashbrown's hasher rather than SipHash: this runs on every batch, hit or not.
fn distinct<K: CacheKey>(keys: impl IntoIterator<Item = K>) -> Vec<K> {
    let keys: Vec<K> = keys.into_iter().collect();
    let first: Vec<bool> = {
        let mut seen = hashbrown::HashSet::with_capacity(keys.len());
        keys.iter().map(|k| seen.insert(k)).collect()
    };
    if first.iter().all(|&f| f) {
        return keys;
    }
    keys.into_iter()
        .zip(first)
        .filter_map(|(k, first)| first.then_some(k))
        .collect()
}

/// Moves the found values of `keys` into `out`; the keys not found.
fn take_found<K: CacheKey, V>(
    keys: Vec<K>,
    found: Vec<Option<V>>,
    out: &mut impl Extend<(K, V)>,
) -> Vec<K> {
    keys.into_iter()
        .zip(found)
        .filter_map(|(key, value)| match value {
            Some(v) => {
                out.extend([(key, v)]);
                None
            }
            None => Some(key),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::distinct;

    #[test]
    fn distinct_keeps_each_key_once_in_its_first_order() {
        let keys = ["b", "a", "b", "c", "a"].map(String::from);
        assert_eq!(distinct(keys), ["b", "a", "c"].map(String::from));
        assert_eq!(distinct([3u64, 1, 2]), [3, 1, 2]);
        assert!(distinct(Vec::<u64>::new()).is_empty());
    }
}
