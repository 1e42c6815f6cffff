//! The in-memory backend: sharded, bounded by an adaptive S3-FIFO with a frequency filter,
//! expiring exactly at the first operation after a deadline, without background threads.
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
//! chunks (`index`) and a heap of deadlines (`deadlines`), behind a read-write lock whose
//! readers write only to a record of their own thread (`lock`); the backend's earliest
//! deadline (`soonest`) sits beside the shards. A hit takes the read lock, finds the entry by the borrowed key
//! ([`Lookup`]), checks expiry only if something in the cache can expire, bumps the entry's
//! access frequency with a relaxed load and store, and clones the value: one fence, no shared write,
//! no allocation. Everything else (insert, remove, eviction, expiry) takes the shard's
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
//! loser goes on probation, and the odd one is admitted anyway so that a working set that fits,
//! or one that has shifted, still moves in. How odd adapts, without a per-workload constant, to
//! what the main queue's evictions teach (between 1 in 64 and 1 in 4): each eviction raises
//! the chance, each evicted key that comes back lowers it twice as much, so a loop, whose
//! victims all return, keeps its residents, and a shifted working set, whose old keys never
//! return, gets in.
//!
//! # Expiry
//!
//! An entry stores its absolute expiry (cache-wide TTL or per-entry TTL, both given by the
//! caller of [`Backend::insert`]); with a cache-wide time-to-idle, a side array holds each
//! entry's last-read time, so caches without one pay nothing. Reads never return an expired
//! value.
//!
//! Counts are of live entries, and expiry is reported when it happens. Each shard keeps the
//! deadline of every entry that can expire in a binary heap (`deadlines`: lazy deletion by slot
//! generation, never later than the entry's real deadline), and the backend keeps the earliest
//! deadline of all shards in one atomic (`soonest`). Every operation (a hit or miss on any key,
//! a write, `len`, `stats`) compares the time with it, and the first one at or after it drops,
//! under the write locks of the shards concerned only, every entry whose deadline has passed:
//! the listener hears each as [`RemovalCause::Expired`](crate::RemovalCause::Expired) then,
//! and `stats` (so `len`, `is_empty` and [`caches`](crate::caches)) never counts one.
//! [`MemoryBackend::purge_expired`] does the same on demand. Time is memokit's
//! [clock](mod@crate::clock), so a sandbox's `advance` expires that sandbox's entries.
//!
//! A hit where nothing can expire loads that atomic once (relaxed) and reads no clock; it
//! then need not look at the entry's expiry at all, since the atomic is never above the
//! deadline of an entry a reader can find (the `soonest` module gives the argument). A hit in
//! a cache with deadlines reads the clock, as it did before, and compares. A heap rather than
//! a timer wheel because the drain must be exact (an entry stops counting the moment its
//! deadline passes): a wheel's bucket would have to be scanned at each drain; a heap's top is
//! the exact next deadline, and with a cache-wide TTL each push costs one comparison.
//! DESIGN.md has the measurements.
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
//! and sketch (DESIGN.md itemises them and compares the peers). An entry that can expire adds
//! its deadline: a 16-byte heap item (up to twice that with stale items) and a 4-byte
//! generation.

mod counter;
mod deadlines;
mod ghost;
mod index;
mod lock;
mod shard;
mod shim;
mod sketch;
mod soonest;

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::Duration;

use hashbrown::DefaultHashBuilder;

pub use counter::Counter;
use deadlines::NEVER;
use lock::RwLock;
use shard::{KeptTimes, Removals, Shard, WriteContext};
use shim::AtomicU64;
use soonest::Soonest;

use crate::backend::{
    Backend, BackendStats, Compute, Computed, Cursor, Found, InfallibleBackend, Iterate,
    Transaction, Ttl, Write,
};
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
    shards: Box<[Cell<K, V>]>,
    /// No entry of any shard expires before this time: at most the least of the shards'
    /// [`Cell::next`]. Every operation compares it with the time, so the first one after a
    /// deadline drops what has expired; a hit where nothing can expire pays one relaxed load
    /// for it and never reads the clock.
    soonest: Soonest,
    /// Time to idle in nanoseconds, or `NEVER`.
    tti: u64,
    /// Whether every write needs the time: the cache has a TTL or a time-to-idle (expiry), or a
    /// refresh age (which reads [`Found::written`]). Without one a write reads the clock only if
    /// its shard holds an entry with a per-entry TTL, which saves a clock read (tens of
    /// nanoseconds on some virtual machines) on most writes.
    clocked: bool,
}

/// A shard behind its lock, and its earliest deadline, readable without the lock.
struct Cell<K, V> {
    shard: RwLock<Shard<K, V>>,
    /// [`Shard::next_deadline`], as of the shard's last write; stored under the write lock.
    next: AtomicU64,
}

/// A set of shard indices (there are at most [`MAX_SHARDS`] = 64), walked in ascending order:
/// the order every operation over several shards locks them in, so two such operations never
/// deadlock.
#[derive(Clone, Copy)]
struct ShardSet(u64);

impl ShardSet {
    /// The shards, lowest first.
    fn iter(self) -> impl Iterator<Item = usize> {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            (rest != 0).then(|| {
                let i = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                i
            })
        })
    }

    /// Where `shard`, a member, comes in [`iter`](Self::iter).
    fn rank(self, shard: usize) -> usize {
        (self.0 & ((1u64 << shard) - 1)).count_ones() as usize
    }
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
                .map(|_| Cell {
                    shard: RwLock::new(Shard::new(capacity, kept)),
                    next: AtomicU64::new(NEVER),
                })
                .collect(),
            soonest: Soonest::new(),
            hasher: DefaultHashBuilder::default(),
            config,
        }
    }

    #[inline]
    fn cell(&self, hash: u64) -> &Cell<K, V> {
        &self.shards[self.shard_index(hash)]
    }

    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<Shard<K, V>> {
        &self.cell(hash).shard
    }

    /// The time for an operation that needs it (`needed`) or that may find a deadline passed,
    /// having first dropped every entry whose deadline has passed at that time. `None` when
    /// the operation does not need the time and nothing in the cache can expire.
    fn due(&self, needed: bool) -> Option<Timestamp> {
        self.due_by(needed, clock::now)
    }

    /// [`due`](Self::due) by the given reading of the clock.
    #[inline]
    fn due_by(&self, needed: bool, clock: fn() -> Timestamp) -> Option<Timestamp> {
        let soonest = self.soonest.get();
        if !needed && soonest == NEVER {
            return None;
        }
        let now = clock();
        if now.as_nanos() >= soonest {
            self.drain(now.as_nanos());
        }
        Some(now)
    }

    /// Drops every entry whose deadline is at or before `now` from every shard, and recomputes
    /// [`soonest`](Self::soonest); how many entries it dropped. Out of line: it runs once per
    /// passing deadline, not per operation.
    #[cold]
    #[inline(never)]
    fn drain(&self, now: u64) -> u64 {
        let ctx = self.write_context(now);
        let mut dropped = 0;
        for cell in self.shards.iter() {
            if cell.next.load(SeqCst) <= now {
                let mut shard = cell.shard.write();
                dropped += shard.expire(&ctx);
                cell.next.store(shard.next_deadline(), SeqCst);
            }
        }
        self.soonest.raise(|| {
            self.shards
                .iter()
                .map(|c| c.next.load(SeqCst))
                .min()
                .unwrap_or(NEVER)
        });
        dropped
    }

    /// Publishes `shard`'s earliest deadline after a write to it, under its write lock.
    fn publish(&self, cell: &Cell<K, V>, shard: &mut Shard<K, V>) {
        let next = shard.next_deadline();
        let old = cell.next.load(Relaxed);
        if next != old {
            cell.next.store(next, SeqCst);
            if next < old {
                self.soonest.lower(next);
            }
            // A later deadline leaves `soonest` early, which costs one needless `expire` that
            // then raises it.
        }
    }

    /// What a miss does for expiry: drops whatever has expired, if something can.
    #[inline]
    fn expire_if_due(&self) {
        if self.soonest.may_expire() {
            self.expire_if_due_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn expire_if_due_slow(&self) {
        self.due(false);
    }

    /// Drops every entry whose TTL or time to idle has passed, now; how many it dropped. The
    /// eviction listener hears each as [`RemovalCause::Expired`](crate::RemovalCause::Expired).
    ///
    /// Every operation on the cache already does this when a deadline has passed, so this is
    /// for a cache nobody touches, to free its expired values at a moment of your choosing
    /// (Cachex's `purge`); it returns 0 when an earlier operation has dropped them already.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Cache;
    ///
    /// let sb = memokit_core::sandbox();
    /// let tokens: Cache<u32, String> = Cache::builder("tokens").build()?;
    /// tokens.insert_with_ttl(1, "a".into(), Duration::from_secs(60))?;
    /// tokens.insert(2, "b".into())?;
    /// sb.advance(Duration::from_secs(60));
    /// assert_eq!(tokens.backend()?.purge_expired(), 1);
    /// assert_eq!(tokens.len(), 1);
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn purge_expired(&self) -> u64 {
        self.drain(clock::now().as_nanos())
    }

    /// Checks every shard's invariants and that no shard's earliest deadline is missed.
    #[cfg(test)]
    pub(crate) fn validate(&self) {
        let soonest = self.soonest.get();
        for cell in self.shards.iter() {
            let mut shard = cell.shard.write();
            shard.validate(self.tti);
            let next = cell.next.load(SeqCst);
            assert_eq!(next, shard.next_deadline(), "a shard's published deadline");
            assert!(
                soonest <= next,
                "the backend's soonest deadline is after a shard's"
            );
        }
    }

    /// The index of the shard of `hash`.
    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        // High bits pick the shard; hashbrown uses the low ones (and the top seven as tags)
        // inside it.
        (hash >> 32) as usize & (self.shards.len() - 1)
    }

    /// The set of shards holding `hashes`.
    fn shards_of(&self, hashes: &[u64]) -> ShardSet {
        ShardSet(
            hashes
                .iter()
                .fold(0, |set, &h| set | 1 << self.shard_index(h)),
        )
    }

    /// Runs `f` on the shard of `hash` under its write lock, at the time a write needs (see
    /// [`write_time`](Self::write_time)), then publishes the shard's next deadline.
    fn write_one<R>(
        &self,
        hash: u64,
        timed: bool,
        f: impl FnOnce(&mut Shard<K, V>, &WriteContext<'_, K, V>) -> R,
    ) -> R {
        let early = self.write_time(timed);
        let cell = self.cell(hash);
        let mut shard = cell.shard.write();
        let ctx = self.write_context(Self::write_time_in(early, &shard).as_nanos());
        let out = f(&mut shard, &ctx);
        self.publish(cell, &mut shard);
        out
    }

    /// The time a read judges expiry by, having dropped what has expired: 0, at which nothing
    /// has expired, when nothing in the cache can expire (then no clock is read).
    fn read_time(&self) -> u64 {
        self.due_by(false, self.read_clock())
            .map_or(0, Timestamp::as_nanos)
    }

    /// The clock a read takes its time from: the coarse reading ([`clock::recent`]: never
    /// ahead, so no entry expires early), unless a read records an idle time, which must not be
    /// early either and so takes the precise one.
    #[inline]
    fn read_clock(&self) -> fn() -> Timestamp {
        if self.tti == NEVER {
            clock::recent
        } else {
            clock::now
        }
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
    /// [`clocked`](Self::clocked), the write carries a TTL (`timed`) or some entry can expire
    /// (having then dropped the expired ones, see [`due`](Self::due)), else only if the shard
    /// holds an entry that can expire. Otherwise nothing in the write can use the time (no
    /// expiry to check, no idle time or refresh age to record), so it is left at zero and the
    /// entry's write time means nothing, which is fine since only a refresh age reads it.
    fn write_time(&self, timed: bool) -> Option<Timestamp> {
        self.due(self.clocked || timed)
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
        let now = self.due(true).unwrap_or_else(clock::now);
        let ctx = self.write_context(now.as_nanos());
        self.shards
            .iter()
            .map(|cell| {
                let mut shard = cell.shard.write();
                let removed = shard.remove_where(&mut pred, &ctx);
                self.publish(cell, &mut shard);
                removed
            })
            .sum()
    }
}

/// JSON documents under the shard's write lock, through [`compute`](Backend::compute).
#[cfg(feature = "json")]
impl<K: crate::bounds::CacheKey> crate::backend::json::JsonBackend<K>
    for MemoryBackend<K, serde_json::Value>
{
}

impl<K, V> Backend<K, V> for MemoryBackend<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    type Options = ();
    const KIND: &'static str = "memory";
    const CHEAP_STATS: bool = true;

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
            drop(shard);
            self.expire_if_due();
            return Ok(None);
        };
        // Where nothing can expire, this relaxed load is all that expiry costs a hit, and the
        // entry found has no deadline (the `soonest` module says why), so its expiry fields
        // need no look. The rare drain runs after the answer is taken, so that no other
        // answer joins the hit's.
        if self.soonest.may_expire() {
            let now = self.read_clock()().as_nanos();
            if shard.expired(index, entry, now, self.tti) {
                drop(shard);
                self.drain(now);
                return Ok(None);
            }
            shard.mark_read(index, now);
            if now >= self.soonest.get() {
                // Another entry's deadline has passed: answer, then drop what has expired.
                entry.touch();
                let found = Found {
                    value: entry.value.clone(),
                    written: Timestamp::from_nanos(shard.written(index)),
                };
                drop(shard);
                self.drain(now);
                return Ok(Some(found));
            }
        }
        entry.touch();
        Ok(Some(Found {
            value: entry.value.clone(),
            written: Timestamp::from_nanos(shard.written(index)),
        }))
    }

    fn insert(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), BackendError> {
        let hash = self.hasher.hash_one(&key);
        self.write_one(hash, ttl.is_some(), |shard, ctx| {
            let expires = Self::expiry(Timestamp::from_nanos(ctx.now), ttl);
            shard.insert(hash, key, value, expires, ctx);
        });
        Ok(())
    }

    fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let hash = self.hasher.hash_one(key);
        Ok(self.write_one(hash, false, |shard, ctx| shard.remove(hash, key, ctx)))
    }

    /// A consistent snapshot: the read locks of every shard concerned are held together, so a
    /// [`transaction`](Backend::transaction) is seen whole or not at all.
    fn get_many<Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Option<Found<V>>>, BackendError> {
        let now = self.read_time();
        // As in `get`: where nothing can expire, no entry found has a deadline to look at.
        let timed = self.soonest.may_expire();
        let hashes: Vec<u64> = keys.iter().map(|k| self.hasher.hash_one(k)).collect();
        let set = self.shards_of(&hashes);
        let guards: Vec<_> = set.iter().map(|i| self.shards[i].shard.read()).collect();
        Ok(keys
            .iter()
            .zip(&hashes)
            .map(|(key, &hash)| {
                let shard = &guards[set.rank(self.shard_index(hash))];
                let (index, entry) = shard.find(hash, *key)?;
                if timed {
                    if shard.expired(index, entry, now, self.tti) {
                        return None;
                    }
                    shard.mark_read(index, now);
                }
                entry.touch();
                Some(Found {
                    value: entry.value.clone(),
                    written: Timestamp::from_nanos(shard.written(index)),
                })
            })
            .collect())
    }

    /// Takes each shard's write lock once for all of its entries.
    fn insert_many(&self, entries: Vec<(K, V)>, ttl: Option<Duration>) -> Result<(), BackendError> {
        let early = self.write_time(ttl.is_some());
        let hashes: Vec<u64> = entries
            .iter()
            .map(|(k, _)| self.hasher.hash_one(k))
            .collect();
        let set = self.shards_of(&hashes);
        let mut entries: Vec<Option<(K, V)>> = entries.into_iter().map(Some).collect();
        for shard_index in set.iter() {
            let cell = &self.shards[shard_index];
            let mut shard = cell.shard.write();
            let now = Self::write_time_in(early, &shard);
            let ctx = self.write_context(now.as_nanos());
            for i in (0..entries.len()).filter(|&i| self.shard_index(hashes[i]) == shard_index) {
                if let Some((key, value)) = entries[i].take() {
                    shard.insert(hashes[i], key, value, Self::expiry(now, ttl), &ctx);
                }
            }
            self.publish(cell, &mut shard);
        }
        Ok(())
    }

    fn take<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<V>, BackendError> {
        let hash = self.hasher.hash_one(key);
        Ok(self.write_one(hash, false, |shard, ctx| shard.take(hash, key, ctx)))
    }

    /// Under the shard's write lock: `f` runs once, and must not use this cache.
    fn compute<F>(&self, key: K, ttl: Option<Duration>, f: F) -> Result<Computed<V>, BackendError>
    where
        F: FnMut(Option<&V>) -> Compute<V>,
    {
        let hash = self.hasher.hash_one(&key);
        Ok(self.write_one(hash, ttl.is_some(), |shard, ctx| {
            let expires = Self::expiry(Timestamp::from_nanos(ctx.now), ttl);
            shard.compute(hash, key, expires, ctx, f)
        }))
    }

    /// Pessimistic: the write locks of every shard holding one of `keys` are held, in
    /// ascending order, from the snapshot to the commit, so `f` runs once and no reader or
    /// writer of those shards gets in between. Keep `f` short; it must not use this cache.
    fn transaction<R, F>(
        &self,
        keys: &[K],
        ttl: Option<Duration>,
        mut f: F,
    ) -> Result<R, BackendError>
    where
        F: FnMut(&mut Transaction<'_, K, V>) -> R,
    {
        let now = self.due(true).unwrap_or_else(clock::now);
        let ctx = self.write_context(now.as_nanos());
        let hashes: Vec<u64> = keys.iter().map(|k| self.hasher.hash_one(k)).collect();
        let set = self.shards_of(&hashes);
        let mut guards: Vec<_> = set.iter().map(|i| self.shards[i].shard.write()).collect();
        let at = |i: usize| set.rank(self.shard_index(hashes[i]));
        let values = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let shard = &guards[at(i)];
                let (_, entry) = shard.live(hashes[i], key, ctx.now, ctx.tti)?;
                Some(entry.value.clone())
            })
            .collect();
        let mut tx = Transaction::new(keys, values, ttl);
        let out = f(&mut tx);
        for (i, write) in tx.into_writes() {
            let shard = &mut guards[at(i)];
            match write {
                Write::Put(value, ttl) => {
                    shard.insert(
                        hashes[i],
                        keys[i].clone(),
                        value,
                        Self::expiry(now, ttl),
                        &ctx,
                    );
                }
                Write::Remove => {
                    shard.remove(hashes[i], &keys[i], &ctx);
                }
            }
        }
        for (guard, i) in guards.iter_mut().zip(set.iter()) {
            self.publish(&self.shards[i], guard);
        }
        Ok(out)
    }

    /// Neither a read for time to idle nor for the eviction policy.
    fn contains_key<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let now = self.read_time();
        let hash = self.hasher.hash_one(key);
        Ok(self
            .shard(hash)
            .read()
            .live(hash, key, now, self.tti)
            .is_some())
    }

    fn ttl<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Ttl, BackendError> {
        let now = self.due(true).unwrap_or_else(clock::now).as_nanos();
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash).read();
        Ok(match shard.live(hash, key, now, self.tti) {
            None => Ttl::Missing,
            Some((index, entry)) => match shard.deadline(index, entry, self.tti) {
                NEVER => Ttl::Never,
                deadline => Ttl::In(Duration::from_nanos(deadline - now)),
            },
        })
    }

    fn expire<Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let hash = self.hasher.hash_one(key);
        Ok(self.write_one(hash, true, |shard, ctx| {
            let expires = Self::expiry(Timestamp::from_nanos(ctx.now), ttl);
            shard.set_expiry(hash, key, expires, ctx)
        }))
    }

    fn touch<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let now = self.read_time();
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash).read();
        Ok(shard
            .live(hash, key, now, self.tti)
            .map(|(index, _)| shard.mark_read(index, now))
            .is_some())
    }

    /// Each shard keeps its share of `max_entries`, in proportion to what it holds, and
    /// evicts by its S3-FIFO order; the listener hears each as
    /// [`RemovalCause::Size`](crate::RemovalCause::Size).
    fn prune(&self, max_entries: u64) -> Result<u64, BackendError> {
        let now = self.due(true).unwrap_or_else(clock::now);
        let ctx = self.write_context(now.as_nanos());
        let held = self.stats().entries;
        if held <= max_entries {
            return Ok(0);
        }
        Ok(self
            .shards
            .iter()
            .map(|cell| {
                let mut shard = cell.shard.write();
                let share =
                    (shard.len() as u128 * u128::from(max_entries) / u128::from(held)) as usize;
                let evicted = shard.evict_to(share, &ctx);
                self.publish(cell, &mut shard);
                evicted
            })
            .sum())
    }

    fn clear(&self) -> Result<(), BackendError> {
        // Entries already expired are reported as such, as any other operation would.
        let now = self.due(true).unwrap_or_else(clock::now);
        let ctx = self.write_context(now.as_nanos());
        for cell in self.shards.iter() {
            let mut shard = cell.shard.write();
            shard.clear(&ctx);
            self.publish(cell, &mut shard);
        }
        Ok(())
    }

    /// Exact: how many entries it dropped (see [`MemoryBackend::purge_expired`]).
    fn purge_expired(&self) -> Result<u64, BackendError> {
        Ok(MemoryBackend::purge_expired(self))
    }

    /// Counts only live entries: those whose deadline has passed are dropped first.
    fn stats(&self) -> BackendStats {
        self.due(false);
        let mut stats = BackendStats::default();
        for cell in self.shards.iter() {
            let shard = cell.shard.read();
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

/// Every operation answers from this process's memory: none returns an error.
impl<K, V> InfallibleBackend<K, V> for MemoryBackend<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
}

/// One step per shard, each a copy of that shard's live entries taken under its read lock:
/// a key always lives in one shard, so no entry is returned twice, and writers wait for one
/// shard's copy at most, never the whole walk.
impl<K, V> Iterate<K, V> for MemoryBackend<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn scan(
        &self,
        cursor: Cursor,
        visit: &mut dyn FnMut(K, V),
    ) -> Result<Option<Cursor>, BackendError> {
        let part = cursor.part() as usize;
        let Some(cell) = self.shards.get(part) else {
            return Ok(None);
        };
        let now = self.read_time();
        cell.shard.read().visit_live(now, self.tti, visit);
        let next = part + 1;
        Ok((next < self.shards.len()).then(|| Cursor::new(next as u32, 0)))
    }

    fn remove_where<F: FnMut(&K, &V) -> bool>(&self, pred: F) -> Result<u64, BackendError> {
        Ok(MemoryBackend::remove_where(self, pred))
    }
}

#[cfg(test)]
mod tests;

#[cfg(all(test, shuttle))]
mod shuttle_tests;
