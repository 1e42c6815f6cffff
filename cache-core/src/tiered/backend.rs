//! [`Tiered`] and its [`Backend`] implementation: reads try the first layer, then the second
//! (filling the first); every write goes to the second layer, then drops its keys from the first.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{
    Backend, BackendStats, Compute, Computed, Cursor, Found, Iterate, Timed, Transaction, Ttl,
};
use crate::bounds::{CacheKey, CacheValue};
use crate::clock;
use crate::config::Config;
use crate::context::Namespace;
use crate::error::BackendError;
use crate::key::Lookup;
use crate::memory::MemoryBackend;
#[cfg(doc)]
use crate::redis::RedisBackend;

use super::coherence::{Coherence, Ticket};
use super::{KIND, TieredOptions};

pub(crate) mod sealed {
    /// Only memokit's backends can be a second layer: each must tell the first layer about
    /// writes it does not make itself.
    pub trait Sealed {}
}

/// A backend that can sit behind a [`Tiered`] first layer: [`RedisBackend`] and, with feature
/// `disk`, [`DiskBackend`](crate::DiskBackend). Sealed: each second layer needs its own way of
/// hearing about writes of other processes.
pub trait SecondLayer<K: CacheKey, V: CacheValue>: Backend<K, V> + sealed::Sealed {
    /// The live value under `key` and how long it has left, in one read.
    #[doc(hidden)]
    fn get_timed<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Timed<V>>, BackendError>;

    /// Async form of [`get_timed`](Self::get_timed).
    #[doc(hidden)]
    fn get_timed_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<Timed<V>>, BackendError>> + Send;

    /// [`get_timed`](Self::get_timed) of each of `keys`, in one batch, in the order of `keys`.
    #[doc(hidden)]
    fn get_many_timed<Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Option<Timed<V>>>, BackendError>;

    /// Async form of [`get_many_timed`](Self::get_many_timed).
    #[doc(hidden)]
    fn get_many_timed_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<Vec<Option<Timed<V>>>, BackendError>> + Send;

    /// What an invalidation names this view by (its namespace's key prefix, for Redis).
    #[doc(hidden)]
    fn view_tag(&self) -> Box<[u8]>;

    /// Starts telling `coherence` about writes to this layer that this process does not make,
    /// and when it cannot hear them, checking every `heartbeat`.
    #[doc(hidden)]
    fn listen(
        &self,
        coherence: &Arc<Coherence<K, V>>,
        heartbeat: Duration,
    ) -> Result<(), BackendError>;
}

/// An in-memory first layer in front of a second layer `B` (Redis by default); see the
/// [module docs](super) for the design and the consistency model.
///
/// ```no_run
/// use memokit_core::{Backend, Cache, RedisOptions, Tiered, TieredOptions};
///
/// let prices: Cache<String, u64, Tiered<String, u64>> = Cache::builder("prices")
///     .capacity(50_000)
///     .backend_options(TieredOptions::new(RedisOptions::new().url("redis://127.0.0.1:6379")))
///     .build()?;
/// prices.insert("tea".into(), 3)?;
/// assert_eq!(prices.get("tea")?, Some(3));
/// let tiered = prices.backend()?;
/// // This process's copy, if the read filled one (the write's own invalidation may drop it).
/// let copy = tiered.local().get("tea")?;
/// assert!(copy.is_none_or(|c| c.value == 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Tiered<K, V, B = crate::redis::RedisBackend> {
    local: Arc<MemoryBackend<K, V>>,
    remote: B,
    coherence: Arc<Coherence<K, V>>,
    /// The cache's refresh age: a copy leaves the first layer when its value turns stale.
    refresh: Option<Duration>,
}

impl<K: CacheKey, V: CacheValue, B: SecondLayer<K, V>> Tiered<K, V, B> {
    /// What the first layer has of `keys`, and the keys it lacks, for a batched read.
    fn local_first<'q, Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&'q Q],
    ) -> (Vec<Option<Found<V>>>, Vec<&'q Q>) {
        let found: Vec<Option<Found<V>>> = keys
            .iter()
            .map(|k| self.local.get(*k).ok().flatten())
            .collect();
        let missing = keys
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(k, _)| *k)
            .collect();
        (found, missing)
    }

    /// The first layer, this process's copies (its [`stats`](Backend::stats) are the first
    /// layer's own: entries copied, evicted, expired).
    pub fn local(&self) -> &MemoryBackend<K, V> {
        &self.local
    }

    /// The second layer, the source of truth, for its own operations (Redis hashes, pipelines).
    /// A write made through it directly is seen by the first layer only as other processes'
    /// writes are: through the second layer's invalidations.
    pub fn remote(&self) -> &B {
        &self.remote
    }

    /// Whether the first layer is filling: invalidations are being heard. While they are not
    /// (before the invalidation connection is up, or after it dropped) every read goes to the
    /// second layer.
    pub fn is_coherent(&self) -> bool {
        self.coherence.is_hearing()
    }

    /// Drops `key` from the first layer after a write of it.
    fn forget<Q: ?Sized + Lookup<K>>(&self, key: &Q) {
        self.coherence.changed(key);
        let _ = self.local.remove(key);
    }

    fn forget_keys<Q: ?Sized + Lookup<K>>(&self, keys: &[&Q]) {
        keys.iter().for_each(|k| self.forget(*k));
    }

    fn forget_all(&self) {
        self.coherence.changed_all();
        let _ = self.local.clear();
    }

    /// Copies what a read of the second layer found into the first, unless an invalidation of
    /// the key went by since `ticket` was taken.
    fn fill<Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
        ticket: Option<Ticket>,
        got: Option<Timed<V>>,
    ) -> Option<Found<V>> {
        let (found, left) = got?;
        let fresh = self.refresh.map(|age| {
            found
                .written
                .saturating_add(age)
                .duration_since(clock::now())
        });
        if let (Some(ticket), Some(ttl)) = (ticket, self.coherence.copy_ttl(left, fresh)) {
            let _ = self.local.insert(key.to_key(), found.value.clone(), ttl);
            if !self.coherence.holds(&ticket) {
                let _ = self.local.remove(key);
            }
        }
        Some(found)
    }

    /// Fills `found`'s gaps, the first-layer misses `missing`, with what one batched read of the
    /// second layer found for them (`read`), copying each into the first layer as
    /// [`fill`](Self::fill) does; `tickets` were taken for `missing` before that read.
    fn fill_many<Q: ?Sized + Lookup<K>>(
        &self,
        found: &mut [Option<Found<V>>],
        missing: &[&Q],
        tickets: Vec<Option<Ticket>>,
        read: Vec<Option<Timed<V>>>,
    ) {
        let mut filled = missing
            .iter()
            .zip(tickets)
            .zip(read)
            .map(|((key, ticket), got)| self.fill(*key, ticket, got));
        for gap in found.iter_mut().filter(|f| f.is_none()) {
            *gap = filled.next().flatten();
        }
    }

    /// The tickets of `keys`, taken before a read of the second layer that may fill them.
    fn tickets<Q: ?Sized + Lookup<K>>(&self, keys: &[&Q]) -> Vec<Option<Ticket>> {
        keys.iter().map(|k| self.coherence.ticket(*k)).collect()
    }

    /// A first-layer miss: read the second layer and fill the first. Out of line, so that the
    /// hit path is the memory backend's and nothing more.
    #[inline(never)]
    fn get_through<Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
    ) -> Result<Option<Found<V>>, BackendError> {
        let ticket = self.coherence.ticket(key);
        let got = self.remote.get_timed(key)?;
        Ok(self.fill(key, ticket, got))
    }

    /// Runs a write of `key` on the second layer, then drops `key` from the first (whether or
    /// not the write succeeded: a failed write may still have reached Redis).
    fn wrote<Q: ?Sized + Lookup<K>, T>(
        &self,
        key: &Q,
        done: Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        self.forget(key);
        done
    }
}

/// The first layer's settings: the cache's bounds, no eviction listener (an entry leaving the
/// first layer is still in the cache).
fn local_config<K, V>(config: &Config<K, V>) -> Config<K, V> {
    let mut local = config.clone();
    local.listener = None;
    local
}

/// The second layer's settings: everything, since it holds every entry, but the bounds, which
/// are the first layer's.
fn remote_config<K, V>(config: &Config<K, V>) -> Config<K, V> {
    let mut remote = config.clone();
    remote.capacity = None;
    remote.weigher = None;
    remote
}

impl<K, V, B> Backend<K, V> for Tiered<K, V, B>
where
    K: CacheKey,
    V: CacheValue,
    B: SecondLayer<K, V>,
{
    type Options = TieredOptions<B::Options>;

    const KIND: &'static str = KIND;

    fn open(config: &Config<K, V>, options: &Self::Options) -> Result<Self, BackendError> {
        let rejected = [
            (
                config.tti().is_some(),
                "tti",
                "a first-layer hit never reaches the second layer, so it cannot push its idle deadline back: use `ttl`",
            ),
            (
                options.heartbeat.is_zero(),
                "heartbeat",
                "must be longer than zero",
            ),
            (
                options.local_ttl.is_some_and(|t| t.is_zero()),
                "local_ttl",
                "must be longer than zero (a first layer that keeps nothing is the second layer alone)",
            ),
        ];
        if let Some((_, setting, why)) = rejected.iter().find(|(bad, ..)| *bad) {
            return Err(BackendError::config(
                KIND,
                setting,
                format_args!("not supported by the tiered backend: {why}"),
            ));
        }
        let local = Arc::new(MemoryBackend::open(&local_config(config), &())?);
        let remote = B::open(&remote_config(config), &options.second)?;
        let coherence = Arc::new(Coherence::new(options.local_ttl));
        coherence.register(remote.view_tag(), &local);
        remote.listen(&coherence, options.heartbeat)?;
        Ok(Self {
            local,
            remote,
            coherence,
            refresh: config.refresh(),
        })
    }

    fn scoped(&self, namespace: Namespace) -> Result<Self, BackendError> {
        let local = Arc::new(self.local.scoped(namespace)?);
        let remote = self.remote.scoped(namespace)?;
        self.coherence.register(remote.view_tag(), &local);
        Ok(Self {
            local,
            remote,
            coherence: self.coherence.clone(),
            refresh: self.refresh,
        })
    }

    #[inline(always)]
    fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Found<V>>, BackendError> {
        if let Ok(Some(found)) = self.local.get(key) {
            return Ok(Some(found));
        }
        self.get_through(key)
    }

    fn insert(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), BackendError> {
        let written = key.clone();
        let done = self.remote.insert(key, value, ttl);
        self.wrote(&written, done)
    }

    fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let done = self.remote.remove(key);
        self.wrote(key, done)
    }

    fn clear(&self) -> Result<(), BackendError> {
        let done = self.remote.clear();
        self.forget_all();
        done
    }

    /// The second layer's stats: it holds every entry. [`Tiered::local`] has the first layer's.
    fn stats(&self) -> BackendStats {
        self.remote.stats()
    }

    fn purge_expired(&self) -> Result<u64, BackendError> {
        self.local.purge_expired();
        self.remote.purge_expired()
    }

    fn get_many<Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Option<Found<V>>>, BackendError> {
        let (mut found, missing) = self.local_first(keys);
        if missing.is_empty() {
            return Ok(found);
        }
        let tickets = self.tickets(&missing);
        let read = self.remote.get_many_timed(&missing)?;
        self.fill_many(&mut found, &missing, tickets, read);
        Ok(found)
    }

    fn insert_many(&self, entries: Vec<(K, V)>, ttl: Option<Duration>) -> Result<(), BackendError> {
        let keys: Vec<K> = entries.iter().map(|(k, _)| k.clone()).collect();
        let done = self.remote.insert_many(entries, ttl);
        keys.iter().for_each(|k| self.forget(k));
        done
    }

    fn insert_each(&self, entries: Vec<(K, V, Option<Duration>)>) -> Result<(), BackendError> {
        let keys: Vec<K> = entries.iter().map(|(k, ..)| k.clone()).collect();
        let done = self.remote.insert_each(entries);
        keys.iter().for_each(|k| self.forget(k));
        done
    }

    fn remove_many<Q: ?Sized + Lookup<K>>(&self, keys: &[&Q]) -> Result<u64, BackendError> {
        let done = self.remote.remove_many(keys);
        self.forget_keys(keys);
        done
    }

    fn take<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<V>, BackendError> {
        let done = self.remote.take(key);
        self.wrote(key, done)
    }

    fn compute<F>(&self, key: K, ttl: Option<Duration>, f: F) -> Result<Computed<V>, BackendError>
    where
        F: FnMut(Option<&V>) -> Compute<V>,
    {
        let written = key.clone();
        let done = self.remote.compute(key, ttl, f);
        self.wrote(&written, done)
    }

    fn transaction<R, F>(&self, keys: &[K], ttl: Option<Duration>, f: F) -> Result<R, BackendError>
    where
        F: FnMut(&mut Transaction<'_, K, V>) -> R,
    {
        let done = self.remote.transaction(keys, ttl, f);
        keys.iter().for_each(|k| self.forget(k));
        done
    }

    fn contains_key<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        if self.local.contains_key(key)? {
            return Ok(true);
        }
        self.remote.contains_key(key)
    }

    fn ttl<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Ttl, BackendError> {
        self.remote.ttl(key)
    }

    fn expire<Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let done = self.remote.expire(key, ttl);
        self.wrote(key, done)
    }

    fn touch<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        self.remote.touch(key)
    }

    fn prune(&self, max_entries: u64) -> Result<u64, BackendError> {
        let done = self.remote.prune(max_entries);
        self.forget_all();
        done
    }

    // Each async form answers a first-layer hit, takes its tickets and clones its keys before
    // the future moves to another thread, with the caller's clock (a sandbox's).
    fn get_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<Found<V>>, BackendError>> + Send {
        let hit = self.local.get(key).ok().flatten();
        let ticket = hit.is_none().then(|| self.coherence.ticket(key)).flatten();
        async move {
            if hit.is_some() {
                return Ok(hit);
            }
            let got = self.remote.get_timed_async(key).await?;
            Ok(self.fill(key, ticket, got))
        }
    }

    fn insert_async(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        let written = key.clone();
        async move {
            let done = self.remote.insert_async(key, value, ttl).await;
            self.wrote(&written, done)
        }
    }

    async fn remove_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<bool, BackendError> {
        let done = self.remote.remove_async(key).await;
        self.wrote(key, done)
    }

    async fn clear_async(&self) -> Result<(), BackendError> {
        let done = self.remote.clear_async().await;
        self.forget_all();
        done
    }

    async fn purge_expired_async(&self) -> Result<u64, BackendError> {
        self.local.purge_expired();
        self.remote.purge_expired_async().await
    }

    fn get_many_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<Vec<Option<Found<V>>>, BackendError>> + Send {
        let (found, missing) = self.local_first(keys);
        async move {
            let mut found = found;
            if missing.is_empty() {
                return Ok(found);
            }
            let tickets = self.tickets(&missing);
            let read = self.remote.get_many_timed_async(&missing).await?;
            self.fill_many(&mut found, &missing, tickets, read);
            Ok(found)
        }
    }

    fn insert_many_async(
        &self,
        entries: Vec<(K, V)>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        let keys: Vec<K> = entries.iter().map(|(k, _)| k.clone()).collect();
        async move {
            let done = self.remote.insert_many_async(entries, ttl).await;
            keys.iter().for_each(|k| self.forget(k));
            done
        }
    }

    async fn remove_many_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> Result<u64, BackendError> {
        let done = self.remote.remove_many_async(keys).await;
        self.forget_keys(keys);
        done
    }

    async fn take_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<Option<V>, BackendError> {
        let done = self.remote.take_async(key).await;
        self.wrote(key, done)
    }

    fn compute_async<F>(
        &self,
        key: K,
        ttl: Option<Duration>,
        f: F,
    ) -> impl Future<Output = Result<Computed<V>, BackendError>> + Send
    where
        F: FnMut(Option<&V>) -> Compute<V> + Send,
    {
        let written = key.clone();
        async move {
            let done = self.remote.compute_async(key, ttl, f).await;
            self.wrote(&written, done)
        }
    }

    async fn transaction_async<R, F>(
        &self,
        keys: &[K],
        ttl: Option<Duration>,
        f: F,
    ) -> Result<R, BackendError>
    where
        F: FnMut(&mut Transaction<'_, K, V>) -> R + Send,
        R: Send,
    {
        let done = self.remote.transaction_async(keys, ttl, f).await;
        keys.iter().for_each(|k| self.forget(k));
        done
    }

    fn contains_key_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        let hit = self.local.contains_key(key).unwrap_or(false);
        async move {
            if hit {
                return Ok(true);
            }
            self.remote.contains_key_async(key).await
        }
    }

    fn ttl_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Ttl, BackendError>> + Send {
        self.remote.ttl_async(key)
    }

    async fn expire_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let done = self.remote.expire_async(key, ttl).await;
        self.wrote(key, done)
    }

    fn touch_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        self.remote.touch_async(key)
    }
}

impl<K, V, B> Iterate<K, V> for Tiered<K, V, B>
where
    K: CacheKey,
    V: CacheValue,
    B: SecondLayer<K, V> + Iterate<K, V>,
{
    /// Walks the second layer, which holds every entry.
    fn scan(
        &self,
        cursor: Cursor,
        visit: &mut dyn FnMut(K, V),
    ) -> Result<Option<Cursor>, BackendError> {
        self.remote.scan(cursor, visit)
    }

    fn remove_where<F: FnMut(&K, &V) -> bool>(&self, pred: F) -> Result<u64, BackendError> {
        let done = self.remote.remove_where(pred);
        self.forget_all();
        done
    }
}

impl<K: CacheKey, V: CacheValue, B: std::fmt::Debug> std::fmt::Debug for Tiered<K, V, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tiered")
            .field("remote", &self.remote)
            .field("coherent", &self.coherence.is_hearing())
            .finish_non_exhaustive()
    }
}
