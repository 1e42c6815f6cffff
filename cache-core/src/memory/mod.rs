//! The in-memory backend: sharded, bounded by S3-FIFO, expiring lazily, without background
//! threads.
//!
//! POLICY_DOCS

mod counter;
mod ghost;
mod shard;
mod shim;

use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use hashbrown::DefaultHashBuilder;

pub use counter::Counter;
use shard::{Env, NEVER, Removals, Shard};
use shim::RwLock;

use crate::backend::{Backend, BackendStats, Found};
use crate::clock::{self, Timestamp, duration_nanos};
use crate::config::Config;
use crate::context::Namespace;
use crate::error::BackendError;
use crate::key::Lookup;

/// Entries per shard below which adding shards costs more hit ratio than it buys concurrency.
const MIN_SHARD_ENTRIES: u64 = 512;
/// Weight per shard below which a weight-bounded cache stops adding shards, so that one heavy
/// entry still fits in its shard.
const MIN_SHARD_WEIGHT: u64 = 1 << 20;
const MAX_SHARDS: usize = 64;

/// The default backend: typed values in process memory. See the [module docs](self).
///
/// Beyond the [`Backend`] operations it offers counters ([`incr`](Self::incr),
/// [`decr`](Self::decr)) and removal by predicate ([`remove_where`](Self::remove_where)), reached
/// through [`Cache::backend`](crate::Cache::backend):
///
/// ```
/// use memokit_core::Cache;
///
/// let hits: Cache<String, u64> = Cache::builder("page-hits").build()?;
/// let backend = hits.backend()?;
/// assert_eq!(backend.incr("/home", 1)?, 1);
/// assert_eq!(backend.incr("/home", 2)?, 3);
/// assert_eq!(backend.remove_where(|path, _| path.starts_with("/home")), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryBackend<K, V> {
    config: Config<K, V>,
    hasher: DefaultHashBuilder,
    shards: Box<[RwLock<Shard<K, V>>]>,
    /// Time to idle in nanoseconds, or `NEVER`.
    tti: u64,
}

/// How many shards a cache bounded as `config` says gets: about four per core, but few enough
/// that each shard keeps a useful share of the capacity (a shard evicts on its own, so a tiny
/// shard evicts entries that the whole cache would have kept).
fn shard_count<K, V>(config: &Config<K, V>) -> usize {
    let wanted = std::thread::available_parallelism().map_or(4, |n| n.get() * 4);
    let most = match config.capacity {
        Some(cap) => {
            let per = if config.weigher.is_some() {
                MIN_SHARD_WEIGHT
            } else {
                MIN_SHARD_ENTRIES
            };
            usize::try_from(cap / per).unwrap_or(MAX_SHARDS)
        }
        None => MAX_SHARDS,
    };
    let n = wanted.min(most).clamp(1, MAX_SHARDS);
    // A power of two, rounded down, so the shard index is a mask.
    1 << n.ilog2()
}

impl<K, V> MemoryBackend<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn with_config(config: Config<K, V>) -> Self {
        let shards = shard_count(&config);
        let capacity = config.capacity.map_or(u64::MAX, |c| c / shards as u64);
        Self {
            tti: config.tti.map_or(NEVER, duration_nanos),
            shards: (0..shards)
                .map(|_| RwLock::new(Shard::new(capacity, config.tti.is_some())))
                .collect(),
            hasher: DefaultHashBuilder::default(),
            config,
        }
    }

    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<Shard<K, V>> {
        // High bits pick the shard; hashbrown uses the low ones (and the top seven as tags)
        // inside it.
        let index = (hash >> 32) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    fn env(&self, now: u64) -> Env<'_, K, V> {
        Env {
            hasher: &self.hasher,
            weigher: self.config.weigher.as_ref(),
            listener: self.config.listener.as_ref(),
            tti: self.tti,
            now,
        }
    }

    fn expiry(now: Timestamp, ttl: Option<Duration>) -> u64 {
        ttl.map_or(NEVER, |t| now.saturating_add(t).as_nanos())
    }

    /// Removes every entry for which `pred` returns `true`; how many it removed. The eviction
    /// listener hears each as [`RemovalCause::Explicit`](crate::RemovalCause::Explicit).
    /// Expired entries met on the way are dropped too (and not counted).
    ///
    /// Each shard is locked for writing while it is scanned, so `pred` must not call back into
    /// this cache.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let sessions: Cache<(u32, u64), String> = Cache::builder("sessions").build()?;
    /// sessions.insert((7, 1), "a".into())?;
    /// sessions.insert((7, 2), "b".into())?;
    /// sessions.insert((8, 1), "c".into())?;
    /// // Log user 7 out everywhere.
    /// assert_eq!(sessions.backend()?.remove_where(|&(user, _), _| user == 7), 2);
    /// assert_eq!(sessions.len(), 1);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn remove_where(&self, mut pred: impl FnMut(&K, &V) -> bool) -> u64 {
        let env = self.env(clock::now().as_nanos());
        self.shards
            .iter()
            .map(|shard| shard.write().remove_where(&mut pred, &env))
            .sum()
    }
}

impl<K, V> Backend<K, V> for MemoryBackend<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    type Options = ();
    const KIND: &'static str = "memory";

    fn open(config: &Config<K, V>, (): &()) -> Result<Self, BackendError> {
        Ok(Self::with_config(config.clone()))
    }

    fn scoped(&self, _namespace: Namespace) -> Result<Self, BackendError> {
        Ok(Self::with_config(self.config.clone()))
    }

    #[inline]
    fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Found<V>>, BackendError> {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash).read();
        let Some((index, slot)) = shard.find(hash, key) else {
            return Ok(None);
        };
        if slot.expires != NEVER || self.tti != NEVER {
            let now = clock::now().as_nanos();
            if shard.expired(index, slot, now, self.tti) {
                return Ok(None);
            }
            shard.mark_read(index, now);
        }
        slot.touch();
        Ok(Some(Found {
            value: slot.value.clone(),
            written: Timestamp::from_nanos(slot.written),
        }))
    }

    fn insert(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), BackendError> {
        let hash = self.hasher.hash_one(&key);
        let now = clock::now();
        let env = self.env(now.as_nanos());
        self.shard(hash)
            .write()
            .insert(hash, key, value, Self::expiry(now, ttl), &env);
        Ok(())
    }

    fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let hash = self.hasher.hash_one(key);
        let env = self.env(clock::now().as_nanos());
        Ok(self.shard(hash).write().remove(hash, key, &env))
    }

    fn clear(&self) -> Result<(), BackendError> {
        let env = self.env(clock::now().as_nanos());
        for shard in self.shards.iter() {
            shard.write().clear(&env);
        }
        Ok(())
    }

    fn stats(&self) -> BackendStats {
        let mut stats = BackendStats::default();
        for shard in self.shards.iter() {
            let shard = shard.read();
            let Removals {
                evicted,
                expired,
                replaced,
            } = shard.removals;
            stats.entries += shard.len() as u64;
            stats.weight += shard.weight();
            stats.evicted += evicted;
            stats.expired += expired;
            stats.replaced += replaced;
        }
        stats
    }
}
