//! The in-memory backend: a sharded hash table of typed values.
//!
//! This first store favours being obviously right: each shard is a `hashbrown` table behind a
//! `parking_lot` read-write lock, hits take the read lock only, and a bounded cache evicts in
//! insertion order (FIFO). Expiry is lazy on read and swept from the front of the FIFO queue on
//! write, so there are no background threads.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hashbrown::{DefaultHashBuilder, HashTable};
use parking_lot::RwLock;

use crate::backend::{Backend, BackendStats, Found, RemovalCause};
use crate::clock::{self, Timestamp, duration_nanos};
use crate::config::{Config, EvictionListener, Weigher};
use crate::context::Namespace;
use crate::error::BackendError;
use crate::key::Lookup;

const NEVER: u64 = u64::MAX;
/// Entries per shard below which adding shards buys nothing.
const MIN_SHARD_CAPACITY: u64 = 64;
const MAX_SHARDS: usize = 64;

struct Slot<K, V> {
    key: K,
    value: V,
    hash: u64,
    weight: u64,
    written: Timestamp,
    /// Absolute expiry in nanoseconds, or `NEVER`.
    expires: u64,
    /// Last read, for time-to-idle; only maintained when the cache has a TTI.
    accessed: AtomicU64,
    seq: u64,
}

impl<K, V> Slot<K, V> {
    fn expired(&self, now: u64, tti: u64) -> bool {
        now >= self.expires
            || (tti != NEVER && now >= self.accessed.load(Ordering::Relaxed).saturating_add(tti))
    }
}

struct Shard<K, V> {
    table: HashTable<Slot<K, V>>,
    /// Insertion order as (hash, seq); entries replaced or removed since are skipped lazily.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
    weight: u64,
    evicted: u64,
    expired: u64,
    replaced: u64,
}

/// The default backend: typed values in process memory. See the [module docs](self).
pub struct MemoryBackend<K, V> {
    config: Config<K, V>,
    hasher: DefaultHashBuilder,
    shards: Box<[RwLock<Shard<K, V>>]>,
    /// Weight bound of one shard, or `u64::MAX`.
    shard_capacity: u64,
    tti: u64,
}

impl<K, V> MemoryBackend<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn with_config(config: Config<K, V>) -> Self {
        let wanted = std::thread::available_parallelism().map_or(4, |n| n.get() * 4);
        let shards = match config.capacity {
            Some(cap) => wanted.min(
                usize::try_from(cap / MIN_SHARD_CAPACITY)
                    .unwrap_or(MAX_SHARDS)
                    .max(1),
            ),
            None => wanted,
        }
        .next_power_of_two()
        .min(MAX_SHARDS);
        let shard_capacity = config
            .capacity
            .map_or(u64::MAX, |cap| cap.div_ceil(shards as u64));
        Self {
            tti: config.tti.map_or(NEVER, duration_nanos),
            shards: (0..shards)
                .map(|_| {
                    RwLock::new(Shard {
                        table: HashTable::new(),
                        order: VecDeque::new(),
                        next_seq: 0,
                        weight: 0,
                        evicted: 0,
                        expired: 0,
                        replaced: 0,
                    })
                })
                .collect(),
            shard_capacity,
            hasher: DefaultHashBuilder::default(),
            config,
        }
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard<K, V>> {
        // High bits pick the shard; hashbrown uses the low ones inside it.
        let index = (hash >> 32) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    fn weigh(weigher: Option<&Weigher<K, V>>, key: &K, value: &V) -> u64 {
        weigher.map_or(1, |w| w(key, value))
    }
}

impl<K, V> Shard<K, V> {
    fn remove_where(
        &mut self,
        hash: u64,
        mut pred: impl FnMut(&Slot<K, V>) -> bool,
    ) -> Option<Slot<K, V>> {
        let entry = self.table.find_entry(hash, |s| pred(s)).ok()?;
        let (slot, _) = entry.remove();
        self.weight -= slot.weight;
        Some(slot)
    }

    /// Pops the oldest live entry of the insertion order.
    fn pop_oldest(&mut self) -> Option<Slot<K, V>> {
        while let Some((hash, seq)) = self.order.pop_front() {
            if let Some(slot) = self.remove_where(hash, |s| s.seq == seq) {
                return Some(slot);
            }
        }
        None
    }

    /// Drops expired entries at the front of the insertion order; a bounded amount of work.
    fn sweep(&mut self, now: u64, tti: u64, listener: Option<&EvictionListener<K, V>>) {
        for _ in 0..4 {
            let Some(&(hash, seq)) = self.order.front() else {
                return;
            };
            match self.table.find(hash, |s| s.seq == seq) {
                Some(slot) if !slot.expired(now, tti) => return,
                Some(_) => {
                    if let Some(slot) = self.remove_where(hash, |s| s.seq == seq) {
                        notify(listener, &slot, RemovalCause::Expired);
                    }
                    self.expired += 1;
                }
                None => {}
            }
            self.order.pop_front();
        }
    }
}

fn notify<K, V>(listener: Option<&EvictionListener<K, V>>, slot: &Slot<K, V>, cause: RemovalCause) {
    if let Some(listener) = listener {
        listener(&slot.key, &slot.value, cause);
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

    fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Found<V>>, BackendError> {
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash).read();
        let Some(slot) = shard.table.find(hash, |s| key.equivalent(&s.key)) else {
            return Ok(None);
        };
        if slot.expires != NEVER || self.tti != NEVER {
            let now = clock::now().as_nanos();
            if slot.expired(now, self.tti) {
                return Ok(None);
            }
            if self.tti != NEVER {
                slot.accessed.store(now, Ordering::Relaxed);
            }
        }
        Ok(Some(Found {
            value: slot.value.clone(),
            written: slot.written,
        }))
    }

    fn insert(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), BackendError> {
        let hash = self.hasher.hash_one(&key);
        let weight = Self::weigh(self.config.weigher.as_ref(), &key, &value);
        let now = clock::now();
        let mut shard = self.shard(hash).write();
        let shard = &mut *shard;
        let listener = self.config.listener.as_ref();
        shard.sweep(now.as_nanos(), self.tti, listener);
        if let Some(old) = shard.remove_where(hash, |s| s.key == key) {
            shard.replaced += 1;
            notify(listener, &old, RemovalCause::Replaced);
        }
        if weight > self.shard_capacity {
            // It could never fit; storing it would only evict everything else.
            shard.evicted += 1;
            if let Some(listener) = listener {
                listener(&key, &value, RemovalCause::Size);
            }
            return Ok(());
        }
        while shard.weight + weight > self.shard_capacity {
            let Some(victim) = shard.pop_oldest() else {
                break;
            };
            shard.evicted += 1;
            notify(listener, &victim, RemovalCause::Size);
        }
        let seq = shard.next_seq;
        shard.next_seq += 1;
        shard.order.push_back((hash, seq));
        shard.weight += weight;
        shard.table.insert_unique(
            hash,
            Slot {
                key,
                value,
                hash,
                weight,
                written: now,
                expires: ttl.map_or(NEVER, |t| now.saturating_add(t).as_nanos()),
                accessed: AtomicU64::new(now.as_nanos()),
                seq,
            },
            |s| s.hash,
        );
        Ok(())
    }

    fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let hash = self.hasher.hash_one(key);
        let removed = self
            .shard(hash)
            .write()
            .remove_where(hash, |s| key.equivalent(&s.key));
        if let Some(slot) = &removed {
            notify(self.config.listener.as_ref(), slot, RemovalCause::Explicit);
        }
        Ok(removed.is_some())
    }

    fn clear(&self) -> Result<(), BackendError> {
        for shard in self.shards.iter() {
            let mut shard = shard.write();
            shard.table.clear();
            shard.order.clear();
            shard.weight = 0;
        }
        Ok(())
    }

    fn stats(&self) -> BackendStats {
        let mut stats = BackendStats::default();
        for shard in self.shards.iter() {
            let shard = shard.read();
            stats.entries += shard.table.len() as u64;
            stats.weight += shard.weight;
            stats.evicted += shard.evicted;
            stats.expired += shard.expired;
            stats.replaced += shard.replaced;
        }
        stats
    }
}
