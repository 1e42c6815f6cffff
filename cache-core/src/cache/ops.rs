//! The plain operations of a [`Cache`]: read, write, remove, clear, purge, count, and their async
//! twins.
//! Each runs in the current namespace's scope and reports through [`accounting`](super::accounting).

use std::time::Duration;

use super::handle::Cache;
use crate::backend::{Backend, Ttl};
use crate::bounds::{CacheKey, CacheValue};
use crate::error::CacheError;
use crate::key::Lookup;
use crate::stats::Stats;

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// The value under `key`, if there is a live one.
    #[inline]
    pub fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<V>, CacheError> {
        self.with_scope(
            #[inline(always)]
            |scope| {
                let found = self.lookup_result(scope, scope.backend.get(key))?;
                Ok(found.map(|f| f.value))
            },
        )
    }

    /// Stores `value` under `key` with the cache-wide TTL, replacing any previous value.
    pub fn insert(&self, key: K, value: V) -> Result<(), CacheError> {
        self.insert_for(key, value, self.inner.config.ttl)
    }

    /// Stores `value` under `key`, expiring after `ttl` instead of the cache-wide TTL.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> Result<(), CacheError> {
        self.insert_for(key, value, Some(ttl))
    }

    fn insert_for(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), CacheError> {
        let scope = self.scope()?;
        self.stored(&scope, scope.backend.insert(key, value, ttl))
    }

    /// Removes `key`; whether a value was there.
    pub fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        self.removed(&scope, scope.backend.remove(key))
    }

    /// Removes every entry of the current namespace.
    pub fn clear(&self) -> Result<(), CacheError> {
        let scope = self.scope()?;
        self.cleared(&scope, scope.backend.clear())
    }

    /// Drops every entry of the current namespace whose TTL or time to idle has passed, now;
    /// how many it dropped (Cachex's `purge`). The eviction listener hears each as
    /// [`RemovalCause::Expired`](crate::RemovalCause::Expired).
    ///
    /// The in-memory backend needs no call: every operation on a cache drops the entries whose
    /// deadline has passed, so this returns 0 unless the cache has been idle since. It is for
    /// getting the memory of an idle cache back when you choose. A backend that expires
    /// entries itself and cannot say which (Redis) returns a
    /// [`BackendErrorKind::Unsupported`](crate::BackendErrorKind::Unsupported) error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Cache;
    ///
    /// let sb = memokit_core::sandbox();
    /// let cache: Cache<u8, u8> = Cache::builder("purge-doc").ttl(Duration::from_secs(5)).build()?;
    /// cache.insert(1, 1)?;
    /// cache.insert(2, 2)?;
    /// sb.advance(Duration::from_secs(5));
    /// assert_eq!(cache.purge_expired()?, 2);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn purge_expired(&self) -> Result<u64, CacheError> {
        let scope = self.scope()?;
        self.answered(&scope, scope.backend.purge_expired())
    }

    /// Whether `key` has a live value, without reading it: no hit or miss is counted, and
    /// neither time to idle nor the eviction policy sees a read (Cachex's `exists?`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Cache;
    ///
    /// let sb = memokit_core::sandbox();
    /// let sessions: Cache<u32, u32> =
    ///     Cache::builder("contains-doc").tti(Duration::from_secs(10)).build()?;
    /// sessions.insert(1, 1)?;
    /// sb.advance(Duration::from_secs(9));
    /// assert!(sessions.contains_key(&1)?); // not a read: the idle clock keeps running
    /// assert!(sessions.touch(&1)?); // a read: ten more seconds
    /// sb.advance(Duration::from_secs(9));
    /// assert!(sessions.contains_key(&1)?);
    /// assert_eq!(sessions.stats().hits, 0);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn contains_key<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        self.answered(&scope, scope.backend.contains_key(key))
    }

    /// How long `key`'s value has left, by its TTL or time to idle, whichever is nearer, on
    /// memokit's clock (Cachex's `ttl`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::{Cache, Ttl};
    ///
    /// let sb = memokit_core::sandbox();
    /// let tokens: Cache<u32, String> = Cache::builder("ttl-doc").build()?;
    /// tokens.insert_with_ttl(1, "a".into(), Duration::from_secs(60))?;
    /// sb.advance(Duration::from_secs(20));
    /// assert_eq!(tokens.ttl(&1)?, Ttl::In(Duration::from_secs(40)));
    /// assert!(tokens.expire(&1, Duration::from_secs(5))?);
    /// assert_eq!(tokens.ttl(&1)?, Ttl::In(Duration::from_secs(5)));
    /// assert!(tokens.persist(&1)?);
    /// assert_eq!(tokens.ttl(&1)?, Ttl::Never);
    /// assert_eq!(tokens.ttl(&2)?, Ttl::Missing);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn ttl<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Ttl, CacheError> {
        let scope = self.scope()?;
        self.answered(&scope, scope.backend.ttl(key))
    }

    /// Gives `key`'s value a new deadline, `ttl` from now (Cachex's `expire`); whether there was
    /// a live value.
    pub fn expire<Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        self.answered(&scope, scope.backend.expire(key, Some(ttl)))
    }

    /// Takes `key`'s deadline away, so it expires only by time to idle, if the cache has one
    /// (Cachex's `persist`); whether there was a live value.
    pub fn persist<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        self.answered(&scope, scope.backend.expire(key, None))
    }

    /// Counts as a read of `key` for time to idle, without reading the value (Cachex's
    /// `touch`); whether there was a live value. In a cache without a time to idle it only
    /// checks.
    pub fn touch<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        self.answered(&scope, scope.backend.touch(key))
    }

    /// Evicts, by the backend's eviction policy, until at most `max_entries` live entries
    /// remain; how many it evicted (Cachex's `prune`). Redis bounds its memory with its own
    /// `maxmemory` policy and returns an
    /// [`Unsupported`](crate::BackendErrorKind::Unsupported) error.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let pages: Cache<u32, u32> = Cache::builder("prune-doc").build()?;
    /// pages.insert_many((0..5_000).map(|k| (k, k)))?;
    /// let evicted = pages.prune(1_000)?;
    /// assert!(pages.len() <= 1_000);
    /// assert_eq!(evicted, 5_000 - pages.len());
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn prune(&self, max_entries: u64) -> Result<u64, CacheError> {
        let scope = self.scope()?;
        self.answered(&scope, scope.backend.prune(max_entries))
    }

    /// Live entries in the current namespace: an entry whose TTL or time to idle has passed on
    /// memokit's clock (a sandbox's clock in a sandbox) is not counted, in `len`, `is_empty`,
    /// [`stats`](Self::stats) or [`caches`](crate::caches), even before anything has dropped
    /// it. A backend that cannot count cheaply reports what it knows (Redis: 0, meaning unknown).
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Cache;
    ///
    /// let sb = memokit_core::sandbox();
    /// let cache: Cache<u8, u8> = Cache::builder("len-doc").build()?;
    /// cache.insert(1, 1)?;
    /// cache.insert_with_ttl(2, 2, Duration::from_secs(5))?;
    /// assert_eq!(cache.len(), 2);
    /// sb.advance(Duration::from_secs(5));
    /// assert_eq!(cache.len(), 1);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.stats().entries
    }

    /// Whether the current namespace holds no live entries (see [`len`](Self::len)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Activity and contents of the current namespace. If the namespace's backend view cannot be
    /// opened the counters are all zero.
    pub fn stats(&self) -> Stats {
        match self.scope() {
            Ok(scope) => scope.counters.snapshot(scope.backend.stats()),
            Err(_) => Stats::default(),
        }
    }

    /// Async form of [`get`](Self::get).
    pub async fn get_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<Option<V>, CacheError> {
        let scope = self.scope()?;
        let found = scope.backend.get_async(key).await;
        Ok(self.lookup_result(&scope, found)?.map(|f| f.value))
    }

    /// Async form of [`insert`](Self::insert).
    pub async fn insert_async(&self, key: K, value: V) -> Result<(), CacheError> {
        self.insert_for_async(key, value, self.inner.config.ttl)
            .await
    }

    /// Async form of [`insert_with_ttl`](Self::insert_with_ttl).
    pub async fn insert_with_ttl_async(
        &self,
        key: K,
        value: V,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        self.insert_for_async(key, value, Some(ttl)).await
    }

    async fn insert_for_async(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let scope = self.scope()?;
        let written = scope.backend.insert_async(key, value, ttl).await;
        self.stored(&scope, written)
    }

    /// Async form of [`remove`](Self::remove).
    pub async fn remove_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        let removed = scope.backend.remove_async(key).await;
        self.removed(&scope, removed)
    }

    /// Async form of [`clear`](Self::clear).
    pub async fn clear_async(&self) -> Result<(), CacheError> {
        let scope = self.scope()?;
        let cleared = scope.backend.clear_async().await;
        self.cleared(&scope, cleared)
    }

    /// Async form of [`purge_expired`](Self::purge_expired).
    pub async fn purge_expired_async(&self) -> Result<u64, CacheError> {
        let scope = self.scope()?;
        let purged = scope.backend.purge_expired_async().await;
        self.answered(&scope, purged)
    }

    /// Async form of [`contains_key`](Self::contains_key).
    pub async fn contains_key_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        let found = scope.backend.contains_key_async(key).await;
        self.answered(&scope, found)
    }

    /// Async form of [`ttl`](Self::ttl).
    pub async fn ttl_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<Ttl, CacheError> {
        let scope = self.scope()?;
        let left = scope.backend.ttl_async(key).await;
        self.answered(&scope, left)
    }

    /// Async form of [`expire`](Self::expire).
    pub async fn expire_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        let set = scope.backend.expire_async(key, Some(ttl)).await;
        self.answered(&scope, set)
    }

    /// Async form of [`persist`](Self::persist).
    pub async fn persist_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        let set = scope.backend.expire_async(key, None).await;
        self.answered(&scope, set)
    }

    /// Async form of [`touch`](Self::touch).
    pub async fn touch_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        let touched = scope.backend.touch_async(key).await;
        self.answered(&scope, touched)
    }
}
