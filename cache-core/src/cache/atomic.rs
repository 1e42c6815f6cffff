//! Atomic operations: read-modify-write of one key ([`Cache::update`], the [`Entry`] API, Cachex's
//! `get_and_update` and moka's `entry`), multi-key [transactions](Cache::transaction), and
//! [`take`](Cache::take). All go through [`Backend::compute`] and [`Backend::transaction`]; the
//! guarantee each backend gives is in their docs (in memory: the shard's write lock, the closure
//! runs once; on Redis: an optimistic compare-and-set, the closure may run again on conflict).

use std::future::Future;

use super::handle::{Cache, Scope};
use crate::backend::{Backend, Compute, Computed, Transaction};
use crate::bounds::{CacheKey, CacheValue};
use crate::error::{BackendError, CacheError};
use crate::key::Lookup;

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// Replaces the value under `key` with `f(current)`, atomically: `Some(v)` stores `v`, `None`
    /// removes the key; the value now stored. Concurrent updates of one key never lose one
    /// (Cachex's `get_and_update`). A new entry takes the cache-wide TTL; an updated one keeps
    /// its deadline. `f` may run more than once on Redis, and must not use this cache.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let hits: Cache<&'static str, u64> = Cache::builder("update-doc").build()?;
    /// hits.update("home", |n| Some(n.copied().unwrap_or(0) + 1))?;
    /// assert_eq!(hits.update("home", |n| Some(n.copied().unwrap_or(0) + 1))?, Some(2));
    /// assert_eq!(hits.update("home", |_| None)?, None); // removed
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn update(
        &self,
        key: K,
        mut f: impl FnMut(Option<&V>) -> Option<V>,
    ) -> Result<Option<V>, CacheError> {
        let computed = self.compute(key, move |v| put_or_remove(f(v)))?;
        Ok(computed.into_value())
    }

    /// Async form of [`update`](Self::update).
    pub async fn update_async(
        &self,
        key: K,
        mut f: impl FnMut(Option<&V>) -> Option<V> + Send,
    ) -> Result<Option<V>, CacheError> {
        let computed = self
            .compute_async(key, move |v| put_or_remove(f(v)))
            .await?;
        Ok(computed.into_value())
    }

    /// The entry API (moka's `entry`): an atomic operation on one key.
    ///
    /// ```
    /// use memokit_core::{Cache, Compute, Computed};
    ///
    /// let stock: Cache<String, u32> = Cache::builder("entry-doc").build()?;
    /// assert_eq!(stock.entry("apples".to_string()).or_insert(3)?, 3);
    /// assert_eq!(stock.entry("apples".to_string()).and_upsert_with(|n| n.map_or(1, |n| n + 1))?, 4);
    /// let sold = stock.entry("apples".to_string()).and_compute_with(|n| match n {
    ///     Some(&n) if n > 1 => Compute::Put(n - 1),
    ///     Some(_) => Compute::Remove,
    ///     None => Compute::Keep,
    /// })?;
    /// assert_eq!(sold, Computed::Updated(3));
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn entry(&self, key: K) -> Entry<'_, K, V, B> {
        Entry { cache: self, key }
    }

    /// Runs `f` over the `keys` as one transaction (Cachex's `transaction`): `f` sees their live
    /// values and stages writes through the [`Transaction`], and the writes are committed
    /// together, with no other writer of those keys in between and no
    /// [`get_many`](Self::get_many) seeing some of them without the others. If `f` panics or
    /// calls [`Transaction::abort`], nothing is written.
    ///
    /// The guarantee per backend: in memory the keys' shards are locked from the snapshot to the
    /// commit (pessimistic; `f` runs once, keep it short, and readers of those shards wait);
    /// on Redis the commit is a compare-and-set of every key in one script, and `f` runs again
    /// if another writer changed one of them first (optimistic; on Redis Cluster the keys must
    /// share a hash slot). `f` must not use this cache.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let accounts: Cache<&'static str, i64> = Cache::builder("transaction-doc").build()?;
    /// accounts.insert_many([("alice", 100), ("bob", 0)])?;
    /// accounts.transaction(["alice", "bob"], |tx| {
    ///     let (a, b) = (tx.get(&"alice").copied().unwrap_or(0), tx.get(&"bob").copied().unwrap_or(0));
    ///     tx.insert(&"alice", a - 30);
    ///     tx.insert(&"bob", b + 30);
    /// })?;
    /// assert_eq!(accounts.get_many(&["alice", "bob"])?, [Some(70), Some(30)]);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn transaction<R>(
        &self,
        keys: impl IntoIterator<Item = K>,
        f: impl FnMut(&mut Transaction<'_, K, V>) -> R,
    ) -> Result<R, CacheError> {
        let keys: Vec<K> = keys.into_iter().collect();
        let scope = self.scope()?;
        let done = scope.backend.transaction(&keys, self.inner.config.ttl, f);
        self.answered(&scope, done)
    }

    /// Async form of [`transaction`](Self::transaction).
    pub async fn transaction_async<R: Send>(
        &self,
        keys: impl IntoIterator<Item = K>,
        f: impl FnMut(&mut Transaction<'_, K, V>) -> R + Send,
    ) -> Result<R, CacheError> {
        let keys: Vec<K> = keys.into_iter().collect();
        let scope = self.scope()?;
        let done = scope
            .backend
            .transaction_async(&keys, self.inner.config.ttl, f)
            .await;
        self.answered(&scope, done)
    }

    /// Removes `key` and returns its live value, in one step (Cachex's `take`): of two callers
    /// taking one key at once, exactly one gets the value.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let jobs: Cache<u32, String> = Cache::builder("take-doc").build()?;
    /// jobs.insert(7, "resize image".into())?;
    /// assert_eq!(jobs.take(&7)?.as_deref(), Some("resize image"));
    /// assert_eq!(jobs.take(&7)?, None);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn take<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<V>, CacheError> {
        let scope = self.scope()?;
        let taken = scope.backend.take(key);
        self.taken(&scope, taken)
    }

    /// Async form of [`take`](Self::take).
    pub async fn take_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<Option<V>, CacheError> {
        let scope = self.scope()?;
        let taken = scope.backend.take_async(key).await;
        self.taken(&scope, taken)
    }

    fn taken(
        &self,
        scope: &Scope<K, V, B>,
        taken: Result<Option<V>, BackendError>,
    ) -> Result<Option<V>, CacheError> {
        let value = self.answered(scope, taken)?;
        self.removed(scope, Ok(value.is_some()))?;
        Ok(value)
    }

    fn compute(
        &self,
        key: K,
        f: impl FnMut(Option<&V>) -> Compute<V>,
    ) -> Result<Computed<V>, CacheError> {
        let scope = self.scope()?;
        let computed = scope.backend.compute(key, self.inner.config.ttl, f);
        self.computed(&scope, computed)
    }

    async fn compute_async(
        &self,
        key: K,
        f: impl FnMut(Option<&V>) -> Compute<V> + Send,
    ) -> Result<Computed<V>, CacheError> {
        let scope = self.scope()?;
        let computed = scope
            .backend
            .compute_async(key, self.inner.config.ttl, f)
            .await;
        self.computed(&scope, computed)
    }

    /// Counts what a compute did: a put as a write, a removal as a removal.
    fn computed(
        &self,
        scope: &Scope<K, V, B>,
        computed: Result<Computed<V>, BackendError>,
    ) -> Result<Computed<V>, CacheError> {
        let computed = self.answered(scope, computed)?;
        match &computed {
            Computed::Inserted(_) | Computed::Updated(_) => self.stored(scope, Ok(()))?,
            Computed::Removed(_) => {
                self.removed(scope, Ok(true))?;
            }
            Computed::Unchanged(_) | Computed::StillNone => {}
        }
        Ok(computed)
    }
}

fn put_or_remove<V>(value: Option<V>) -> Compute<V> {
    value.map_or(Compute::Remove, Compute::Put)
}

/// One key of a cache, for an atomic operation on it; see [`Cache::entry`].
#[must_use = "an entry does nothing until one of its methods is called"]
pub struct Entry<'c, K, V, B: Backend<K, V>> {
    cache: &'c Cache<K, V, B>,
    key: K,
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Entry<'_, K, V, B> {
    /// The live value, or `value` stored and returned if there is none.
    pub fn or_insert(self, value: V) -> Result<V, CacheError> {
        let computed = self.cache.compute(self.key, |v| match v {
            Some(_) => Compute::Keep,
            None => Compute::Put(value.clone()),
        })?;
        Ok(stored_value(computed))
    }

    /// The live value, or `init()` stored and returned if there is none. Concurrent callers
    /// for one key run `init` once (the single flight of
    /// [`get_or_insert_with`](Cache::get_or_insert_with)), and it runs with no lock held.
    pub fn or_insert_with(self, init: impl FnOnce() -> V) -> Result<V, CacheError> {
        self.cache.get_or_insert_with(self.key, init)
    }

    /// Async form of [`or_insert_with`](Self::or_insert_with).
    pub async fn or_insert_with_async(
        self,
        init: impl Future<Output = V>,
    ) -> Result<V, CacheError> {
        self.cache.get_or_insert_with_async(self.key, init).await
    }

    /// Applies `f` to the live value (or `None`) and does what it decides, atomically; what it
    /// did (moka's `and_compute_with`).
    pub fn and_compute_with(
        self,
        f: impl FnMut(Option<&V>) -> Compute<V>,
    ) -> Result<Computed<V>, CacheError> {
        self.cache.compute(self.key, f)
    }

    /// Async form of [`and_compute_with`](Self::and_compute_with).
    pub async fn and_compute_with_async(
        self,
        f: impl FnMut(Option<&V>) -> Compute<V> + Send,
    ) -> Result<Computed<V>, CacheError> {
        self.cache.compute_async(self.key, f).await
    }

    /// Stores `f(current)`, atomically, and returns it (moka's `and_upsert_with`).
    pub fn and_upsert_with(self, mut f: impl FnMut(Option<&V>) -> V) -> Result<V, CacheError> {
        let computed = self.cache.compute(self.key, |v| Compute::Put(f(v)))?;
        Ok(stored_value(computed))
    }

    /// Async form of [`and_upsert_with`](Self::and_upsert_with).
    pub async fn and_upsert_with_async(
        self,
        mut f: impl FnMut(Option<&V>) -> V + Send,
    ) -> Result<V, CacheError> {
        let computed = self
            .cache
            .compute_async(self.key, |v| Compute::Put(f(v)))
            .await?;
        Ok(stored_value(computed))
    }
}

/// The value a put-only compute left: it always leaves one.
fn stored_value<V>(computed: Computed<V>) -> V {
    match computed {
        Computed::Inserted(v) | Computed::Updated(v) | Computed::Unchanged(v) => v,
        Computed::Removed(_) | Computed::StillNone => {
            unreachable!("a compute that only puts or keeps a present value leaves a value")
        }
    }
}
