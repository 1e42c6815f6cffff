//! One shard of the in-memory backend: a hash index over a slab of slots, threaded on the two
//! S3-FIFO queues.
//!
//! Slots live in a `Vec` (the slab), each holding a [`Resident`] entry or nothing, and the
//! [index](super::index) holds only their `u32` indices, so growing moves 4-byte indices rather than whole entries, and the index costs
//! about 5 to 11 bytes per entry whatever `K` and `V` are (quick_cache indexes a slab the same
//! way). A slot holds only what a hit reads (key, value, expiry, access frequency, queue); each
//! slot's `prev`/`next` queue links and weight sit in a parallel array, so any slot unlinks in
//! O(1) for an explicit removal, a replacement or an expiry without widening the slots a hit
//! touches. Write times (for a refresh age) and last-read times (for a time to idle) are
//! parallel arrays too, kept only by caches that read them. The key's hash is not stored: it
//! is recomputed on the rare paths that need it (growing the index, removal), which keeps a
//! `u64 -> u64` slot at 32 bytes, half a cache line.
//!
//! Admission is steered by two ghosts (fingerprints of keys recently evicted from each queue,
//! in `ghost`) and a frequency sketch of recent use (`sketch`); the parent module's docs
//! give the policy, and `cache-core/src/memory/DESIGN.md` the measurements that chose each
//! constant below.
//!
//! Every entry that can expire (a TTL, or a cache-wide time to idle) has a deadline in the
//! shard's [deadlines](super::deadlines) heap, never later than its real one, so the shard can
//! drop exactly the entries whose deadline has passed ([`Shard::expire`]) and say when the next
//! one comes ([`Shard::next_deadline`]).
//!
//! Readers hold the shard's read lock and touch only atomics (the access frequency and, with a
//! time-to-idle, the last-read time); everything else changes under the write lock.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::Ordering::Relaxed;

use hashbrown::DefaultHashBuilder;

use super::deadlines::{Deadlines, NEVER};
use super::ghost::Ghost;
use super::index::Index;
use super::shim::{AtomicU8, AtomicU64};
use super::sketch::Sketch;
use crate::backend::{Compute, Computed, RemovalCause};
use crate::config::{EvictionListener, Weigher};
use crate::key::Equivalent;

const NIL: u32 = u32::MAX;
/// S3-FIFO's frequency saturates here: a main-queue entry survives at most this many passes
/// without a read.
const MAX_FREQ: u8 = 3;
/// The small (probation) queue's share of a shard's capacity, in percent: where it starts, and
/// the bounds its adaptation keeps it in (DESIGN.md beside this file compares fixed shares).
const SMALL_START_PERCENT: u64 = 5;
const SMALL_MIN_PERCENT: u64 = 1;
const SMALL_MAX_PERCENT: u64 = 30;
/// Reads an entry needs while on probation to be promoted to the main queue rather than evicted.
const PROMOTE_AFTER: u8 = 2;
/// Counters per sketch row for each entry the shard holds when it first fills: 4 in each of the
/// sketch's two rows, 4 bytes per entry in all (DESIGN.md compares the sizes tried).
const SKETCH_COUNTERS_PER_ENTRY: usize = 4;
/// How many evictions each ghost remembers, in percent of the entries the shard holds: the
/// small queue's ghost a window and a half, the main queue's one (DESIGN.md compares the sizes
/// tried).
const SMALL_GHOST_PERCENT: usize = 150;
const MAIN_GHOST_PERCENT: usize = 100;
/// The chance that a returning key which loses the frequency duel is admitted to the main queue
/// anyway, in 65,536ths: where it starts (1 in 16), its bounds (1 in 64 to 1 in 4), and its
/// steps. Each eviction from the main queue raises it by `PASS_UP`, each return of a key the
/// main queue evicted lowers it by `PASS_DOWN`: a shard whose victims come back (a loop over
/// more keys than fit) guards its residents harder, one whose victims stay gone (a working set
/// that moved on) lets newcomers in sooner. It settles where half the main queue's
/// evictions return (DESIGN.md beside this file has the variants measured).
const PASS_START: u64 = 4_096;
const PASS_MIN: u64 = 1_024;
const PASS_MAX: u64 = 16_384;
const PASS_UP: u64 = 16;
const PASS_DOWN: u64 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queue {
    Small,
    Main,
}

/// An entry resident in the shard, as a slab slot holds it: what a hit reads, and nothing else,
/// so that for small keys and values it stays within one cache line (32 bytes for
/// `u64 -> u64`). Bookkeeping only writers touch lives beside it in [`Links`].
pub(super) struct Resident<K, V> {
    pub(super) key: K,
    pub(super) value: V,
    /// Absolute expiry in nanoseconds, or [`NEVER`].
    pub(super) expires: u64,
    /// Reads since the entry last moved in its queue, saturating at [`MAX_FREQ`]. Written by
    /// readers under the read lock, so it is atomic; lost increments only blur a heuristic.
    freq: AtomicU8,
    queue: Queue,
}

/// A slot's place in its queue and its weight: read and written only under the write lock.
#[derive(Debug, Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
    /// The entry's weight, saturated at `u32::MAX`.
    weight: u32,
}

impl Links {
    const UNLINKED: Self = Self {
        prev: NIL,
        next: NIL,
        weight: 0,
    };
}

impl<K, V> Resident<K, V> {
    /// Records a read. A plain load and store, not a read-modify-write: two readers racing may
    /// count once, which the policy tolerates, and the hit path stays free of locked
    /// instructions.
    #[inline]
    pub(super) fn touch(&self) {
        let freq = self.freq.load(Relaxed);
        if freq < MAX_FREQ {
            self.freq.store(freq + 1, Relaxed);
        }
    }
}

/// A FIFO queue threaded through the slab.
struct List {
    head: u32,
    tail: u32,
    weight: u64,
}

impl List {
    const EMPTY: Self = Self {
        head: NIL,
        tail: NIL,
        weight: 0,
    };
}

/// What a shard needs from its backend for one write (an insert, a removal, a clear, and the
/// evictions and expiry drains they run): how to hash and weigh, whom to tell, and the time.
pub(super) struct WriteContext<'a, K, V> {
    pub(super) hasher: &'a DefaultHashBuilder,
    pub(super) weigher: Option<&'a Weigher<K, V>>,
    pub(super) listener: Option<&'a EvictionListener<K, V>>,
    /// Time to idle in nanoseconds, or [`NEVER`].
    pub(super) tti: u64,
    pub(super) now: u64,
}

impl<K, V> WriteContext<'_, K, V> {
    pub(super) fn weigh(&self, key: &K, value: &V) -> u64 {
        self.weigher.map_or(1, |w| w(key, value))
    }

    fn notify(&self, key: &K, value: &V, cause: RemovalCause) {
        if let Some(listener) = self.listener {
            listener(key, value, cause);
        }
    }
}

/// Counters kept under the shard's lock.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Removals {
    pub(super) evicted: u64,
    pub(super) expired: u64,
    pub(super) replaced: u64,
}

/// Which per-entry times a shard keeps, in arrays beside its slab, each only when something
/// reads it.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeptTimes {
    /// Last-read times, for a time to idle.
    pub(super) idle: bool,
    /// Write times, for a refresh age ([`Found::written`](crate::backend::Found::written)).
    pub(super) written: bool,
}

pub(super) struct Shard<K, V> {
    table: Index,
    slab: Vec<Option<Resident<K, V>>>,
    /// Each slab slot's queue links and weight, indexed like `slab`.
    links: Vec<Links>,
    free: Vec<u32>,
    /// Last read of each slab slot, in nanoseconds; kept only when the cache has a time to idle.
    idle: Vec<AtomicU64>,
    /// Write time of each slab slot, in nanoseconds; kept only when the cache has a refresh age.
    written: Vec<u64>,
    kept: KeptTimes,
    small: List,
    main: List,
    /// Keys recently evicted from the small queue; their return means it is too small.
    small_ghost: Ghost,
    /// Keys recently evicted from the main queue; their return means it is too small.
    main_ghost: Ghost,
    /// How often keys were used lately, to judge a key returning from a ghost against the main
    /// queue's next victim. Sized when the shard first evicts.
    sketch: Sketch,
    /// A Weyl sequence, the seed of the rare admission of a duel's loser.
    draws: u64,
    /// The chance, in 65,536ths, that a duel's loser is admitted anyway; adapted between
    /// [`PASS_MIN`] and [`PASS_MAX`].
    pass: u64,
    capacity: u64,
    /// The small queue's current target weight, adapted between its bounds.
    small_capacity: u64,
    /// Live entries that have an expiry time of their own.
    timed: usize,
    /// The deadline of every entry that can expire.
    deadlines: Deadlines,
    pub(super) removals: Removals,
}

/// `p` percent of `n`, rounded down.
fn percent(n: u64, p: u64) -> u64 {
    (u128::from(n) * u128::from(p) / 100) as u64
}

impl<K: Hash + Eq, V> Shard<K, V> {
    /// A shard holding at most `capacity` weight (`u64::MAX` for unbounded).
    pub(super) fn new(capacity: u64, kept: KeptTimes) -> Self {
        Self {
            table: Index::new(),
            slab: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            idle: Vec::new(),
            written: Vec::new(),
            kept,
            small: List::EMPTY,
            main: List::EMPTY,
            small_ghost: Ghost::new(),
            main_ghost: Ghost::new(),
            sketch: Sketch::new(),
            draws: 0,
            pass: PASS_START,
            capacity,
            small_capacity: percent(capacity, SMALL_START_PERCENT),
            timed: 0,
            deadlines: Deadlines::default(),
            removals: Removals::default(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether some entry here has its own expiry time.
    pub(super) fn has_timed(&self) -> bool {
        self.timed > 0
    }

    pub(super) fn weight(&self) -> u64 {
        self.small.weight + self.main.weight
    }

    /// The slot holding `key`, expired or not.
    #[inline]
    pub(super) fn find<Q: ?Sized + Equivalent<K>>(
        &self,
        hash: u64,
        key: &Q,
    ) -> Option<(u32, &Resident<K, V>)> {
        self.table.find(hash, |i| {
            self.slab
                .get(i as usize)?
                .as_ref()
                .filter(|s| key.equivalent(&s.key))
        })
    }

    /// Whether the slot at `index` has expired at `now`.
    #[inline]
    pub(super) fn expired(&self, index: u32, entry: &Resident<K, V>, now: u64, tti: u64) -> bool {
        now >= entry.expires
            || (tti != NEVER
                && self
                    .idle
                    .get(index as usize)
                    .is_some_and(|t| now >= t.load(Relaxed).saturating_add(tti)))
    }

    /// When the slot at `index` expires: the earlier of its expiry and its idle deadline, or
    /// [`NEVER`]. [`expired`](Self::expired) is `now >=` this.
    pub(super) fn deadline(&self, index: u32, entry: &Resident<K, V>, tti: u64) -> u64 {
        let idle = if tti == NEVER {
            NEVER
        } else {
            self.idle
                .get(index as usize)
                .map_or(NEVER, |t| t.load(Relaxed).saturating_add(tti))
        };
        entry.expires.min(idle)
    }

    /// Puts the slot at `index` in the deadlines heap for its current deadline, or takes it
    /// out if it has none.
    fn reschedule(&mut self, index: u32, tti: u64) {
        let deadline = self
            .entry(index)
            .map_or(NEVER, |entry| self.deadline(index, entry, tti));
        if deadline == NEVER {
            self.deadlines.cancel(index);
        } else {
            self.deadlines.schedule(index, deadline);
        }
    }

    /// The earliest deadline of an entry here, or [`NEVER`]; no entry expires before it.
    pub(super) fn next_deadline(&mut self) -> u64 {
        self.deadlines.next()
    }

    /// Drops every entry whose deadline is at or before `ctx.now`, reporting each as expired;
    /// how many it dropped. An entry whose idle deadline a read has pushed back is scheduled
    /// again for its new deadline instead.
    pub(super) fn expire(&mut self, ctx: &WriteContext<'_, K, V>) -> u64 {
        let mut dropped = 0;
        while let Some(index) = self.deadlines.pop_due(ctx.now) {
            let Some(entry) = self.entry(index) else {
                continue;
            };
            if self.expired(index, entry, ctx.now, ctx.tti) {
                self.remove_at(index, RemovalCause::Expired, ctx);
                dropped += 1;
            } else {
                self.reschedule(index, ctx.tti);
            }
        }
        dropped
    }

    /// When the slot at `index` was written, in nanoseconds; zero unless the shard keeps write
    /// times.
    #[inline]
    pub(super) fn written(&self, index: u32) -> u64 {
        self.written.get(index as usize).copied().unwrap_or(0)
    }

    /// Records a read at `now` for time-to-idle.
    #[inline]
    pub(super) fn mark_read(&self, index: u32, now: u64) {
        if let Some(t) = self.idle.get(index as usize) {
            t.store(now, Relaxed);
        }
    }

    fn entry(&self, index: u32) -> Option<&Resident<K, V>> {
        self.slab.get(index as usize)?.as_ref()
    }

    fn entry_mut(&mut self, index: u32) -> Option<&mut Resident<K, V>> {
        self.slab.get_mut(index as usize)?.as_mut()
    }

    fn list(&mut self, queue: Queue) -> &mut List {
        match queue {
            Queue::Small => &mut self.small,
            Queue::Main => &mut self.main,
        }
    }

    fn set_link(&mut self, index: u32, prev: Option<u32>, next: Option<u32>) {
        if let Some(links) = self.links.get_mut(index as usize) {
            if let Some(p) = prev {
                links.prev = p;
            }
            if let Some(n) = next {
                links.next = n;
            }
        }
    }

    fn push_back(&mut self, index: u32, queue: Queue) {
        let Some(entry) = self.entry_mut(index) else {
            return;
        };
        entry.queue = queue;
        let weight = u64::from(self.links[index as usize].weight);
        let list = self.list(queue);
        let tail = list.tail;
        list.tail = index;
        if tail == NIL {
            list.head = index;
        }
        list.weight += weight;
        self.set_link(index, Some(tail), Some(NIL));
        if tail != NIL {
            self.set_link(tail, None, Some(index));
        }
    }

    fn unlink(&mut self, index: u32) {
        let Some(entry) = self.entry(index) else {
            return;
        };
        let Links { prev, next, weight } = self.links[index as usize];
        let queue = entry.queue;
        let list = self.list(queue);
        list.weight -= u64::from(weight);
        if prev == NIL {
            list.head = next;
        }
        if next == NIL {
            list.tail = prev;
        }
        if prev != NIL {
            self.set_link(prev, None, Some(next));
        }
        if next != NIL {
            self.set_link(next, Some(prev), None);
        }
    }

    /// Takes the slot at `index` out of the queues, the index and the slab, reports it, and
    /// hands its value back.
    fn remove_at(
        &mut self,
        index: u32,
        cause: RemovalCause,
        ctx: &WriteContext<'_, K, V>,
    ) -> Option<V> {
        self.unlink(index);
        let entry = self.slab.get_mut(index as usize).and_then(Option::take)?;
        let hash = ctx.hasher.hash_one(&entry.key);
        self.table.remove(hash, index);
        self.free.push(index);
        self.deadlines.cancel(index);
        if entry.expires != NEVER {
            self.timed -= 1;
        }
        match cause {
            RemovalCause::Size => self.removals.evicted += 1,
            RemovalCause::Expired => self.removals.expired += 1,
            RemovalCause::Replaced => self.removals.replaced += 1,
            _ => {}
        }
        ctx.notify(&entry.key, &entry.value, cause);
        Some(entry.value)
    }

    /// Evicts one entry by the S3-FIFO rules; whether anything was evicted.
    fn evict_one(&mut self, ctx: &WriteContext<'_, K, V>) -> bool {
        if !self.sketch.is_sized() {
            // Sized by entries, not weight, and only now: a cache that never fills pays
            // nothing, and the entry count at the first eviction is what the shard holds.
            self.sketch
                .resize(self.table.len() * SKETCH_COUNTERS_PER_ENTRY);
        }
        loop {
            let from_small = self.small.head != NIL
                && (self.small.weight >= self.small_capacity || self.main.head == NIL);
            let index = if from_small {
                self.small.head
            } else {
                self.main.head
            };
            let Some(entry) = self.entry(index) else {
                return false;
            };
            if self.expired(index, entry, ctx.now, ctx.tti) {
                self.remove_at(index, RemovalCause::Expired, ctx);
                return true;
            }
            let freq = entry.freq.load(Relaxed);
            if from_small {
                if freq >= PROMOTE_AFTER {
                    // Read while on probation: it has earned a place in the main queue.
                    entry.freq.store(0, Relaxed);
                    self.unlink(index);
                    self.push_back(index, Queue::Main);
                } else {
                    let hash = ctx.hasher.hash_one(&entry.key);
                    self.small_ghost.add(hash);
                    self.remove_at(index, RemovalCause::Size, ctx);
                    return true;
                }
            } else if freq > 0 {
                entry.freq.store(freq - 1, Relaxed);
                // The read it spends counts in the sketch, which otherwise sees misses only: a
                // resident that keeps being read must not look rarer than keys that keep
                // missing, or a loop's newcomers would win every duel against it.
                let hash = ctx.hasher.hash_one(&entry.key);
                self.sketch.increment(hash);
                self.unlink(index);
                self.push_back(index, Queue::Main);
            } else {
                let hash = ctx.hasher.hash_one(&entry.key);
                self.main_ghost.add(hash);
                self.pass = (self.pass + PASS_UP).min(PASS_MAX);
                self.remove_at(index, RemovalCause::Size, ctx);
                return true;
            }
        }
    }

    /// Where a new key goes. A key neither ghost remembers goes on probation in the small
    /// queue. A key one of them remembers goes to the main queue if it has also been used more
    /// often lately than the main queue's next victim (TinyLFU's duel), and then adapts the
    /// small queue's target (ARC's rule: a key back from one ghost means that queue was too
    /// small; step by the ratio of the ghosts' sizes so the rarer signal weighs more). A loser
    /// goes on probation and adapts nothing.
    ///
    /// Ties: a key back from the main queue's ghost counts this miss before its duel, so it
    /// wins a tie (it held a place in the main queue once); a key back from the small queue's
    /// ghost counts it after, so a tie keeps the resident. In a loop every key misses once a
    /// pass, so a newcomer that counted its miss first would outcount, by that one miss, a
    /// victim whose miss this pass is still to come; it would win every duel, and the main
    /// queue would cycle through the loop without a hit (DESIGN.md measures both rules).
    fn admit(&mut self, hash: u64, weight: u64, ctx: &WriteContext<'_, K, V>) -> Queue {
        let small_too_small = if self.small_ghost.remove(hash) {
            true
        } else if self.main_ghost.remove(hash) {
            // The main queue let this key go too early: guard its residents harder.
            self.pass = self.pass.saturating_sub(PASS_DOWN).max(PASS_MIN);
            false
        } else {
            self.sketch.increment(hash);
            return Queue::Small;
        };
        let wins = if small_too_small {
            let wins = self.wins_duel(hash, ctx);
            self.sketch.increment(hash);
            wins
        } else {
            self.sketch.increment(hash);
            self.wins_duel(hash, ctx)
        };
        if !wins {
            return Queue::Small;
        }
        let (small, main) = (self.small_ghost.len(), self.main_ghost.len());
        self.small_capacity = if small_too_small {
            let step = (main / small.max(1)).max(1) as u64 * weight;
            (self.small_capacity.saturating_add(step))
                .min(percent(self.capacity, SMALL_MAX_PERCENT))
        } else {
            let step = (small / main.max(1)).max(1) as u64 * weight;
            (self.small_capacity.saturating_sub(step))
                .max(percent(self.capacity, SMALL_MIN_PERCENT))
        };
        Queue::Main
    }

    /// Whether the key hashed `hash` may displace the main queue's head: it was used more
    /// often lately than the head's key, or it drew the pass (a chance of `pass` in 65,536).
    ///
    /// A tie loses (see [`admit`](Self::admit) for when the newcomer's own miss is counted):
    /// in a loop over more keys than the cache holds, every key is used equally often, and
    /// keeping the residents is what lets some of the loop hit at all (FIFO or LRU
    /// would evict each key just before its return). The rare pass lets a working set that
    /// does fit (P3 at 100k) still move into the main queue, and keeps a victim whose count
    /// is inflated by collisions from locking a key out for good.
    fn wins_duel(&mut self, hash: u64, ctx: &WriteContext<'_, K, V>) -> bool {
        let Some(head) = self.entry(self.main.head) else {
            return true;
        };
        let victim = self.sketch.estimate(ctx.hasher.hash_one(&head.key));
        if self.sketch.estimate(hash) > victim {
            return true;
        }
        self.draws = self.draws.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let draw = (self.draws ^ hash).wrapping_mul(0xC2B2_AE3D_27D4_EB4F) >> 32;
        (draw & 0xFFFF) < self.pass
    }

    /// Evicts until `incoming` more weight fits. Inlined, so a write with room to spare pays one
    /// comparison rather than a call.
    #[inline]
    fn make_room(&mut self, incoming: u64, ctx: &WriteContext<'_, K, V>) {
        while self.weight().saturating_add(incoming) > self.capacity && self.evict_one(ctx) {}
    }

    /// Stores `value` under `key` (whose hash is `hash`), replacing any previous value.
    pub(super) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        expires: u64,
        ctx: &WriteContext<'_, K, V>,
    ) {
        let weight = ctx.weigh(&key, &value);
        if let Some((index, entry)) = self.find(hash, &key) {
            let cause = if self.expired(index, entry, ctx.now, ctx.tti) {
                RemovalCause::Expired
            } else {
                RemovalCause::Replaced
            };
            if weight > self.capacity {
                self.remove_at(index, cause, ctx);
            } else {
                self.replace_at(index, value, weight, expires, cause, ctx);
                self.make_room(0, ctx);
                return;
            }
        }
        if weight > self.capacity {
            // It could never fit; storing it would only evict everything else.
            self.removals.evicted += 1;
            ctx.notify(&key, &value, RemovalCause::Size);
            return;
        }
        let queue = self.admit(hash, weight, ctx);
        self.make_room(weight, ctx);
        let entry = Resident {
            key,
            value,
            expires,
            freq: AtomicU8::new(0),
            queue,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(entry);
                i
            }
            None => {
                self.slab.push(Some(entry));
                self.links.push(Links::UNLINKED);
                if self.kept.idle {
                    self.idle.push(AtomicU64::new(0));
                }
                if self.kept.written {
                    self.written.push(0);
                }
                (self.slab.len() - 1) as u32
            }
        };
        self.links[index as usize].weight = u32::try_from(weight).unwrap_or(u32::MAX);
        self.set_written(index, ctx.now);
        self.mark_read(index, ctx.now);
        if expires != NEVER {
            self.timed += 1;
        }
        self.reschedule(index, ctx.tti);
        let (slab, hasher) = (&self.slab, ctx.hasher);
        self.table.insert(hash, index, |i| {
            slab[i as usize]
                .as_ref()
                .map_or(0, |s| hasher.hash_one(&s.key))
        });
        self.push_back(index, queue);
        let held = self.table.len();
        self.small_ghost
            .set_capacity(held * SMALL_GHOST_PERCENT / 100);
        self.main_ghost
            .set_capacity(held * MAIN_GHOST_PERCENT / 100);
    }

    /// Overwrites the value of a resident slot in place, keeping its place in the queues.
    fn replace_at(
        &mut self,
        index: u32,
        value: V,
        weight: u64,
        expires: u64,
        cause: RemovalCause,
        ctx: &WriteContext<'_, K, V>,
    ) {
        let now = ctx.now;
        let Some(entry) = self.entry_mut(index) else {
            return;
        };
        let old = std::mem::replace(&mut entry.value, value);
        let was_timed = entry.expires != NEVER;
        entry.expires = expires;
        let queue = entry.queue;
        self.set_written(index, now);
        self.reweigh(index, queue, weight);
        self.timed = self.timed - usize::from(was_timed) + usize::from(expires != NEVER);
        self.mark_read(index, now);
        self.reschedule(index, ctx.tti);
        match cause {
            RemovalCause::Expired => self.removals.expired += 1,
            _ => self.removals.replaced += 1,
        }
        if let Some(entry) = self.entry(index) {
            ctx.notify(&entry.key, &old, cause);
        }
    }

    /// Records `now` as the write time of the slot at `index`, if the shard keeps write times.
    fn set_written(&mut self, index: u32, now: u64) {
        if let Some(t) = self.written.get_mut(index as usize) {
            *t = now;
        }
    }

    /// Sets the weight of the slot at `index`, which sits in `queue`, to `weight`.
    fn reweigh(&mut self, index: u32, queue: Queue, weight: u64) {
        let weight = u32::try_from(weight).unwrap_or(u32::MAX);
        let old = std::mem::replace(&mut self.links[index as usize].weight, weight);
        let list = self.list(queue);
        list.weight = list.weight - u64::from(old) + u64::from(weight);
    }

    /// Removes `key`; whether a live value was there (an expired one is dropped as expired).
    pub(super) fn remove<Q: ?Sized + Equivalent<K>>(
        &mut self,
        hash: u64,
        key: &Q,
        ctx: &WriteContext<'_, K, V>,
    ) -> bool {
        let Some((index, entry)) = self.find(hash, key) else {
            return false;
        };
        let expired = self.expired(index, entry, ctx.now, ctx.tti);
        let cause = if expired {
            RemovalCause::Expired
        } else {
            RemovalCause::Explicit
        };
        self.remove_at(index, cause, ctx);
        !expired
    }

    /// Removes every live entry for which `pred` holds, and every expired one; how many live
    /// entries `pred` removed.
    pub(super) fn remove_where(
        &mut self,
        mut pred: impl FnMut(&K, &V) -> bool,
        ctx: &WriteContext<'_, K, V>,
    ) -> u64 {
        let mut removed = 0;
        for index in 0..self.slab.len() as u32 {
            let Some(entry) = self.entry(index) else {
                continue;
            };
            if self.expired(index, entry, ctx.now, ctx.tti) {
                self.remove_at(index, RemovalCause::Expired, ctx);
            } else if pred(&entry.key, &entry.value) {
                self.remove_at(index, RemovalCause::Explicit, ctx);
                removed += 1;
            }
        }
        removed
    }

    /// The live value under `key` replaced by `f(current)`, or `f(None)` inserted with `expires`
    /// if there is none. The entry keeps its write time and expiry (this is an update, not a
    /// new write) but counts as read for time-to-idle.
    pub(super) fn update<Q, E>(
        &mut self,
        hash: u64,
        key: &Q,
        expires: u64,
        ctx: &WriteContext<'_, K, V>,
        f: impl FnOnce(Option<&V>) -> Result<V, E>,
    ) -> Result<V, E>
    where
        Q: ?Sized + Equivalent<K> + crate::key::ToKey<K>,
        V: Clone,
    {
        if let Some((index, entry)) = self.find(hash, key) {
            if self.expired(index, entry, ctx.now, ctx.tti) {
                self.remove_at(index, RemovalCause::Expired, ctx);
            } else {
                let value = f(Some(&entry.value))?;
                let weight = ctx.weigh(&entry.key, &value);
                let Some(entry) = self.entry_mut(index) else {
                    return Ok(value);
                };
                entry.value = value.clone();
                let queue = entry.queue;
                self.reweigh(index, queue, weight);
                self.mark_read(index, ctx.now);
                self.make_room(0, ctx);
                return Ok(value);
            }
        }
        let value = f(None)?;
        self.insert(hash, key.to_key(), value.clone(), expires, ctx);
        Ok(value)
    }

    /// The live entry under `key` at `now`, found without counting as a read.
    pub(super) fn live<Q: ?Sized + Equivalent<K>>(
        &self,
        hash: u64,
        key: &Q,
        now: u64,
        tti: u64,
    ) -> Option<(u32, &Resident<K, V>)> {
        self.find(hash, key)
            .filter(|&(index, entry)| !self.expired(index, entry, now, tti))
    }

    /// Removes `key` and hands back its live value (an expired one is dropped as expired).
    pub(super) fn take<Q: ?Sized + Equivalent<K>>(
        &mut self,
        hash: u64,
        key: &Q,
        ctx: &WriteContext<'_, K, V>,
    ) -> Option<V> {
        let (index, entry) = self.find(hash, key)?;
        if self.expired(index, entry, ctx.now, ctx.tti) {
            self.remove_at(index, RemovalCause::Expired, ctx);
            return None;
        }
        self.remove_at(index, RemovalCause::Explicit, ctx)
    }

    /// Applies `f` to the live value under `key` and carries out what it decides; see
    /// [`Backend::compute`](crate::Backend::compute). A new entry expires at `expires`; an updated
    /// one keeps its deadline and place in the queues, and the listener hears the old value
    /// as replaced.
    pub(super) fn compute(
        &mut self,
        hash: u64,
        key: K,
        expires: u64,
        ctx: &WriteContext<'_, K, V>,
        f: impl FnOnce(Option<&V>) -> Compute<V>,
    ) -> Computed<V>
    where
        V: Clone,
    {
        let mut found = self.find(hash, &key);
        if let Some((index, entry)) = found
            && self.expired(index, entry, ctx.now, ctx.tti)
        {
            self.remove_at(index, RemovalCause::Expired, ctx);
            found = None;
        }
        match (found, f(found.map(|(_, entry)| &entry.value))) {
            (Some((index, entry)), Compute::Put(value)) => {
                let (weight, kept) = (ctx.weigh(&entry.key, &value), entry.expires);
                self.replace_at(
                    index,
                    value.clone(),
                    weight,
                    kept,
                    RemovalCause::Replaced,
                    ctx,
                );
                self.make_room(0, ctx);
                Computed::Updated(value)
            }
            (Some((index, _)), Compute::Remove) => self
                .remove_at(index, RemovalCause::Explicit, ctx)
                .map_or(Computed::StillNone, Computed::Removed),
            (Some((_, entry)), Compute::Keep) => Computed::Unchanged(entry.value.clone()),
            (None, Compute::Put(value)) => {
                self.insert(hash, key, value.clone(), expires, ctx);
                Computed::Inserted(value)
            }
            (None, Compute::Remove | Compute::Keep) => Computed::StillNone,
        }
    }

    /// Gives the live entry under `key` the absolute expiry `expires` (or none, with
    /// [`NEVER`]); whether there was one.
    pub(super) fn set_expiry<Q: ?Sized + Equivalent<K>>(
        &mut self,
        hash: u64,
        key: &Q,
        expires: u64,
        ctx: &WriteContext<'_, K, V>,
    ) -> bool {
        let Some((index, entry)) = self.find(hash, key) else {
            return false;
        };
        if self.expired(index, entry, ctx.now, ctx.tti) {
            self.remove_at(index, RemovalCause::Expired, ctx);
            return false;
        }
        let Some(entry) = self.entry_mut(index) else {
            return false;
        };
        let was_timed = entry.expires != NEVER;
        entry.expires = expires;
        self.timed = self.timed - usize::from(was_timed) + usize::from(expires != NEVER);
        self.reschedule(index, ctx.tti);
        true
    }

    /// Evicts by the S3-FIFO rules until at most `most` entries remain; how many it evicted.
    pub(super) fn evict_to(&mut self, most: usize, ctx: &WriteContext<'_, K, V>) -> u64 {
        let mut evicted = 0;
        while self.len() > most && self.evict_one(ctx) {
            evicted += 1;
        }
        evicted
    }

    /// Hands `visit` a copy of every entry live at `now`.
    pub(super) fn visit_live(&self, now: u64, tti: u64, visit: &mut dyn FnMut(K, V))
    where
        K: Clone,
        V: Clone,
    {
        for (index, entry) in self.slab.iter().enumerate() {
            if let Some(entry) = entry
                && !self.expired(index as u32, entry, now, tti)
            {
                visit(entry.key.clone(), entry.value.clone());
            }
        }
    }

    /// Checks the shard's invariants, panicking with what is wrong: the index, the queues and
    /// the counts agree with the slab, and every entry that can expire is in the deadlines heap
    /// exactly once, never later than its real deadline (exactly at it without a time to idle),
    /// while no other slot is. `tti` is the cache's time to idle, or [`NEVER`].
    #[cfg(test)]
    pub(super) fn validate(&self, tti: u64) {
        let occupied: Vec<u32> = (0..self.slab.len() as u32)
            .filter(|&i| self.entry(i).is_some())
            .collect();
        assert_eq!(occupied.len(), self.table.len(), "index against slab");
        assert_eq!(
            occupied.len() + self.free.len(),
            self.slab.len(),
            "every empty slot is free"
        );
        let weight: u64 = occupied
            .iter()
            .map(|&i| u64::from(self.links[i as usize].weight))
            .sum();
        assert_eq!(weight, self.weight(), "queue weights against entries");
        let timed = occupied
            .iter()
            .filter(|&&i| self.entry(i).is_some_and(|e| e.expires != NEVER))
            .count();
        assert_eq!(timed, self.timed, "timed count");
        let mut scheduled = std::collections::HashMap::new();
        for (slot, deadline) in self.deadlines.live_items() {
            assert!(
                scheduled.insert(slot, deadline).is_none(),
                "slot {slot} is in the deadlines heap twice"
            );
        }
        for i in 0..self.slab.len() as u32 {
            let real = self.entry(i).map_or(NEVER, |e| self.deadline(i, e, tti));
            match (real, scheduled.get(&i)) {
                (NEVER, None) => {}
                (NEVER, Some(d)) => panic!("slot {i} cannot expire but is scheduled at {d}"),
                (_, None) => panic!("slot {i} expires at {real} but is not scheduled"),
                (_, Some(&d)) if tti == NEVER => assert_eq!(d, real, "slot {i}'s deadline"),
                (_, Some(&d)) => assert!(d <= real, "slot {i} scheduled after its deadline"),
            }
        }
    }

    /// Removes every entry, reporting each as an explicit removal.
    pub(super) fn clear(&mut self, ctx: &WriteContext<'_, K, V>) {
        let slab = std::mem::take(&mut self.slab);
        self.table.clear();
        self.links.clear();
        self.free.clear();
        self.idle.clear();
        self.written.clear();
        self.small_ghost.clear();
        self.main_ghost.clear();
        self.sketch.clear();
        self.small = List::EMPTY;
        self.main = List::EMPTY;
        self.timed = 0;
        self.deadlines.clear();
        for entry in slab.into_iter().flatten() {
            ctx.notify(&entry.key, &entry.value, RemovalCause::Explicit);
        }
    }
}
