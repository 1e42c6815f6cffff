//! The in-memory backend: sharded, bounded by an adaptive S3-FIFO with a frequency filter,
//! expiring lazily, without background threads.
//!
//! The design document beside this file, `cache-core/src/memory/DESIGN.md`, gives the reasons
//! for each choice below: the candidates, the measurements (hit ratios on the ARC traces, bytes
//! per entry, nanoseconds per hit), the tuning history and the lock's full correctness argument.
//!
//! # Layout
//!
//! The key's hash picks one of a power-of-two number of shards (about four per core, but never
//! so many that a shard holds fewer than 512 entries, since each shard evicts on its own). A
//! shard (the `shard` module) is a slab of entries found through a hash index of one-cache-line
//! chunks (`index`), behind a read-write lock whose readers write only to a record of their own
//! thread (`lock`). A hit takes the read lock, finds the entry by the borrowed key
//! ([`Lookup`]), checks expiry only if the entry or the cache has one, bumps the entry's access
//! frequency with a relaxed load and store, and clones the value: one fence, no shared write,
//! no allocation. Everything else (insert, remove, eviction, expiry sweeps) takes the shard's
//! write lock and runs on the caller's thread; there are no background threads and no deferred
//! write buffers.
//!
//! # Eviction
//!
//! Each shard runs S3-FIFO. A new key goes on probation in a small queue and moves to the main
//! queue if it is read twice there; the main queue gives an entry one more pass per read (up to
//! three) before evicting it. Two ghosts (`ghost`) remember the keys recently evicted from each
//! queue. A key that comes back while a ghost remembers it was evicted too early: it goes to the
//! main queue and adapts the small queue's share of the shard (ARC's rule, between 1% and 30%),
//! but only if it wins a duel first (TinyLFU's): it must have been used more often lately than
//! the main queue's next victim, by a count-min sketch (`sketch`) of misses and of the reads the
//! main queue spends. So a loop or a scan over more keys than fit cannot flush the residents. A
//! loser goes on probation, and one in sixteen is admitted anyway so that a working set that
//! fits still moves in.
//!
//! # Expiry
//!
//! An entry stores its absolute expiry (cache-wide TTL or per-entry TTL, both given by the
//! caller of [`Backend::insert`]); with a cache-wide time-to-idle, a side array holds each
//! entry's last-read time, so caches without one pay nothing. Reads never return an expired
//! value; they do not remove it either (they only hold the read lock). Removal happens on the
//! write side: each write examines the next two slab slots and drops the expired ones, so an
//! idle cache is cleaned by the traffic of a busy one within `len / 2` writes, and eviction
//! drops expired entries it meets before live ones. The listener hears each as
//! [`RemovalCause::Expired`](crate::RemovalCause::Expired).
//!
//! Reading the clock costs more than a whole hit, so a write reads it only when something in
//! the cache can use it: a cache-wide TTL, time-to-idle or refresh age, a per-entry TTL on this
//! write, or an entry with its own TTL already in the shard (then under the write lock, so the
//! check is exact). A plain write to a cache with none of these records no write time;
//! [`Found::written`] is then zero, which nothing reads, since only a refresh age looks at it.
//!
//! # Memory
//!
//! For `u64 -> u64`, about 41 bytes per entry beyond the key and value once a million keys are
//! in, 46 at capacity after churn: slot, queue links, index, and once a shard evicts, its ghosts
//! and sketch (DESIGN.md itemises them and compares the peers).

mod counter;
mod ghost;
mod index;
mod lock;
mod shard;
mod shim;
mod sketch;

use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use hashbrown::DefaultHashBuilder;

pub use counter::Counter;
use lock::RwLock;
use shard::{KeptTimes, NEVER, Removals, Shard, WriteContext};

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

/// The default backend: typed values in process memory. See the [module docs](self) for its
/// design, and the repository's `cache-core/src/memory/DESIGN.md` for the measurements behind it.
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
    /// Whether every write needs the time: the cache has a TTL or a time-to-idle (expiry), or a
    /// refresh age (which reads [`Found::written`]). Without one a write reads the clock only if
    /// its shard holds an entry with a per-entry TTL, which saves a clock read (tens of
    /// nanoseconds on some virtual machines) on most writes.
    clocked: bool,
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
        let kept = KeptTimes {
            idle: config.tti.is_some(),
            written: config.refresh.is_some(),
        };
        Self {
            tti: config.tti.map_or(NEVER, duration_nanos),
            clocked: config.ttl.is_some() || config.tti.is_some() || config.refresh.is_some(),
            shards: (0..shards)
                .map(|_| RwLock::new(Shard::new(capacity, kept)))
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

    fn write_context(&self, now: u64) -> WriteContext<'_, K, V> {
        WriteContext {
            hasher: &self.hasher,
            weigher: self.config.weigher.as_ref(),
            listener: self.config.listener.as_ref(),
            tti: self.tti,
            now,
        }
    }

    /// The time a write to `shard` needs, read before the lock when the cache is
    /// [`clocked`](Self::clocked) or the write carries a TTL (`timed`), else only if the shard
    /// holds an entry that can expire. Otherwise nothing in the write can use the time (no
    /// expiry to check, no idle time or refresh age to record), so it is left at zero and the
    /// entry's write time means nothing, which is fine since only a refresh age reads it.
    fn write_time(&self, timed: bool) -> Option<Timestamp> {
        (self.clocked || timed).then(clock::now)
    }

    /// Completes [`write_time`](Self::write_time) under the shard's write lock.
    fn write_time_in(early: Option<Timestamp>, shard: &Shard<K, V>) -> Timestamp {
        early.unwrap_or_else(|| {
            if shard.has_timed() {
                clock::now()
            } else {
                Timestamp::from_nanos(0)
            }
        })
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
        let ctx = self.write_context(clock::now().as_nanos());
        self.shards
            .iter()
            .map(|shard| shard.write().remove_where(&mut pred, &ctx))
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

    // Always inlined: as a call, its 40-byte `Result` comes back through memory and the
    // call's setup costs a third of a hit (callgrind, bench 1: 127 -> 91 instructions).
    #[inline(always)]
    fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Found<V>>, BackendError> {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash).read();
        let Some((index, entry)) = shard.find(hash, key) else {
            return Ok(None);
        };
        if entry.expires != NEVER || self.tti != NEVER {
            let now = clock::now().as_nanos();
            if shard.expired(index, entry, now, self.tti) {
                return Ok(None);
            }
            shard.mark_read(index, now);
        }
        entry.touch();
        Ok(Some(Found {
            value: entry.value.clone(),
            written: Timestamp::from_nanos(shard.written(index)),
        }))
    }

    fn insert(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), BackendError> {
        let hash = self.hasher.hash_one(&key);
        let early = self.write_time(ttl.is_some());
        let mut shard = self.shard(hash).write();
        let now = Self::write_time_in(early, &shard);
        let ctx = self.write_context(now.as_nanos());
        shard.insert(hash, key, value, Self::expiry(now, ttl), &ctx);
        Ok(())
    }

    fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let hash = self.hasher.hash_one(key);
        let early = self.write_time(false);
        let mut shard = self.shard(hash).write();
        let ctx = self.write_context(Self::write_time_in(early, &shard).as_nanos());
        Ok(shard.remove(hash, key, &ctx))
    }

    fn clear(&self) -> Result<(), BackendError> {
        let ctx = self.write_context(clock::now().as_nanos());
        for shard in self.shards.iter() {
            shard.write().clear(&ctx);
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

#[cfg(test)]
mod tests;

#[cfg(all(test, shuttle))]
mod shuttle_tests;
