//! A ghost queue of S3-FIFO: fingerprints of the keys most recently evicted from one queue.
//!
//! A key that comes back while its fingerprint is still here was evicted too early, which
//! steers its admission and the queues' sizes (the parent module's docs give the policy). Only a
//! fingerprint of the hash is kept, never a key or a value, so a collision only misroutes one
//! admission and never returns a wrong value.
//!
//! # Layout: 2.5 bytes per remembered key
//!
//! The ghosts remember about as many keys as the cache holds (the small queue's one and a half
//! times that), so their size per key weighs on the cache's as much as the slots' own
//! bookkeeping does. One `u16` cell per key, in a table sized a quarter over the window:
//!
//! - A cell holds a 12-bit fingerprint and the 4-bit *epoch* of its eviction (0 is an empty
//!   cell). Every `window / EPOCHS` additions start a new epoch, and a cell is remembered while
//!   its epoch is one of the last [`EPOCHS`]. So a key is forgotten between 7/8 and all of a
//!   window of evictions after its last one, without a queue to find the oldest: expiry is a
//!   comparison.
//! - Cells are grouped in buckets of 32 (one 64-byte cache line), chosen by the hash. A key's
//!   cell is in its bucket, so a lookup reads one line. A bucket that fills forgets its
//!   oldest cell early, which at this table size is rare.
//! - Each addition also clears the expired cells of one bucket, in turn, so no cell stays
//!   long enough for its 4-bit epoch to come round again and look recent: the whole table is
//!   swept within about two epochs, and a wrap takes sixteen.
//! - A new key mistaken for a remembered one (about once in 200 lookups) only goes to the
//!   frequency duel, which its low count nearly always loses.
//! - A count of the members added in each live epoch gives [`Ghost::len`] in eight additions.
//!
//! A key evicted, readmitted and evicted again takes one cell, dated by its last eviction: it
//! is remembered a whole window after that. (The first ghost, a ring beside a hash set, took
//! 14 bytes per key and forgot such a key early, which hid loops from the policy:
//! `cache-core/src/memory/DESIGN.md` tells that story and measures the fingerprint width.)

/// Cells per bucket: one 64-byte cache line of `u16`.
const BUCKET: usize = 32;
/// Bits of a cell that hold the epoch; the rest hold the fingerprint.
const EPOCH_BITS: u32 = 4;
const EPOCH_MASK: u16 = (1 << EPOCH_BITS) - 1;
/// Live epochs: the window is remembered in this many steps. Divides the 16 values an epoch
/// takes, so an epoch's slot in [`Ghost::live`] is the same after a wrap.
const EPOCHS: u16 = 8;
/// Table cells per remembered key, as a fraction: a quarter to spare keeps full buckets rare.
const CELLS_PER_KEY: (usize, usize) = (5, 4);

pub(super) struct Ghost {
    /// Buckets of cells, each `fingerprint << EPOCH_BITS | epoch`, or 0 if empty; allocated by
    /// the first addition.
    buckets: Vec<Bucket>,
    /// How many evictions a key is remembered for.
    window: usize,
    /// The current epoch, in [`EPOCH_BITS`] bits (wrapping: see [`Ghost::age`]).
    epoch: u16,
    /// Additions in the current epoch.
    ticks: usize,
    /// Members added in each live epoch, indexed by `epoch % EPOCHS`.
    live: [u32; EPOCHS as usize],
    /// The next bucket whose expired cells an addition clears.
    sweep: usize,
}

/// One cache line of cells. The `scan_` functions build bit masks over a whole bucket with a few
/// vector compares, so a lookup costs about as much as one tag match of the index.
type Bucket = [u16; BUCKET];

/// Where a cell is: bucket and cell index.
type At = (usize, usize);

/// The 12-bit fingerprint of a key hash, never 0. From the top bits: the shard uses bits
/// 32 and up to 38 and the bucket choice the low half, so the three are independent.
fn fingerprint(hash: u64) -> u16 {
    ((hash >> (64 - (16 - EPOCH_BITS))) as u16).max(1)
}

/// How many epochs before `epoch` the cell `cell` was added, modulo 16; [`EPOCHS`] or more
/// means forgotten. (The sweep clears a cell long before its epoch could come round again.) A
/// free function, so the bucket scans can call it while they borrow a bucket.
#[inline]
fn age(epoch: u16, cell: u16) -> u16 {
    epoch.wrapping_sub(cell) & EPOCH_MASK
}

/// The index in [`Ghost::live`] of the epoch in `cell`'s (or an epoch's own) low bits.
fn slot(cell: u16) -> usize {
    usize::from(cell & EPOCH_MASK) % usize::from(EPOCHS)
}

impl Ghost {
    pub(super) fn new() -> Self {
        Self {
            buckets: Vec::new(),
            window: 0,
            epoch: 0,
            ticks: 0,
            live: [0; EPOCHS as usize],
            sweep: 0,
        }
    }

    /// Remembers each key for `window` evictions. A table sized for a window more than twice
    /// larger or four times smaller is dropped (forgetting every key) and sized anew by the
    /// next addition; within those bounds the window changes in place.
    pub(super) fn set_capacity(&mut self, window: usize) {
        if window == self.window {
            return;
        }
        self.window = window;
        let buckets = self.buckets.len();
        let wanted = Self::buckets_for(window);
        if buckets != 0 && (wanted > 2 * buckets || wanted * 4 < buckets) {
            self.buckets = Vec::new();
            self.live = [0; EPOCHS as usize];
        }
    }

    fn buckets_for(window: usize) -> usize {
        let (per, of) = CELLS_PER_KEY;
        (window * per / of).div_ceil(BUCKET).max(1)
    }

    pub(super) fn len(&self) -> usize {
        self.live.iter().map(|&n| n as usize).sum()
    }

    /// The bucket `hash` belongs in.
    fn bucket(&self, hash: u64) -> usize {
        (((hash & 0xFFFF_FFFF) * self.buckets.len() as u64) >> 32) as usize
    }

    fn age(&self, cell: u16) -> u16 {
        age(self.epoch, cell)
    }

    fn is_live(&self, cell: u16) -> bool {
        cell != 0 && self.age(cell) < EPOCHS
    }

    /// Where `hash`'s live cell is, if it has one.
    fn find(&self, hash: u64) -> Option<At> {
        if self.buckets.is_empty() {
            return None;
        }
        let b = self.bucket(hash);
        let bucket = &self.buckets[b];
        let mut matches = scan_holding(bucket, fingerprint(hash));
        while matches != 0 {
            let i = matches.trailing_zeros() as usize;
            if self.is_live(bucket[i]) {
                return Some((b, i));
            }
            matches &= matches - 1;
        }
        None
    }

    #[cfg(test)]
    pub(super) fn contains(&self, hash: u64) -> bool {
        self.find(hash).is_some()
    }

    /// Forgets the live cell at `at`.
    fn forget(&mut self, (b, i): At) {
        let cell = std::mem::take(&mut self.buckets[b][i]);
        self.live[slot(cell)] -= 1;
    }

    /// Remembers `hash` as evicted now (again, if it already was).
    pub(super) fn add(&mut self, hash: u64) {
        if self.window == 0 {
            return;
        }
        if self.buckets.is_empty() {
            self.buckets = vec![[0; BUCKET]; Self::buckets_for(self.window)];
            self.sweep = 0;
        }
        self.tick();
        let (b, i) = match self.find(hash) {
            Some(at) => {
                self.forget(at);
                at
            }
            None => self.free_cell(self.bucket(hash)),
        };
        self.buckets[b][i] = fingerprint(hash) << EPOCH_BITS | self.epoch;
        self.live[slot(self.epoch)] += 1;
    }

    /// Counts one addition: starts a new epoch every `window / EPOCHS` of them, and clears the
    /// expired cells of the next bucket.
    fn tick(&mut self) {
        self.ticks += 1;
        if self.ticks >= (self.window / usize::from(EPOCHS)).max(1) {
            self.ticks = 0;
            self.epoch = (self.epoch + 1) & EPOCH_MASK;
            // The cells of the epoch that falls out of the window are forgotten all at once.
            self.live[slot(self.epoch)] = 0;
        }
        let bucket = &mut self.buckets[self.sweep];
        let mut expired = scan_expired(bucket, self.epoch);
        while expired != 0 {
            bucket[expired.trailing_zeros() as usize] = 0;
            expired &= expired - 1;
        }
        // A compare, not `%`: a division would be the slowest instruction of an eviction.
        self.sweep += 1;
        if self.sweep == self.buckets.len() {
            self.sweep = 0;
        }
    }

    /// A cell of bucket `b` to write: an empty or expired one, or else the oldest (forgotten).
    fn free_cell(&mut self, b: usize) -> At {
        let free = scan_free(&self.buckets[b], self.epoch);
        if free != 0 {
            return (b, free.trailing_zeros() as usize);
        }
        // The first of the oldest: cells of one epoch fill a bucket in order, so among equal
        // ages the lowest index is most likely the earliest.
        let oldest = (0..BUCKET)
            .max_by_key(|&i| (self.age(self.buckets[b][i]), std::cmp::Reverse(i)))
            .unwrap_or(0);
        self.forget((b, oldest));
        (b, oldest)
    }

    /// Forgets `hash` (its key is resident again); whether it was remembered.
    pub(super) fn remove(&mut self, hash: u64) -> bool {
        match self.find(hash) {
            Some(at) => {
                self.forget(at);
                true
            }
            None => false,
        }
    }

    pub(super) fn clear(&mut self) {
        self.buckets.fill([0; BUCKET]);
        self.live = [0; EPOCHS as usize];
    }
}

// The scans: bit masks over a bucket's cells (bit `i` for cell `i`), on x86-64 with SSE2
// compares of eight cells at a time. A first version wrote them as loops over the cells and left
// the vectorising to the compiler, which produced about a hundred instructions a scan (it
// assembled the mask bit by bit); an insert that evicts makes four to six scans.

/// The cells holding fingerprint `fp`, live or not.
#[inline]
fn scan_holding(bucket: &Bucket, fp: u16) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use std::arch::x86_64::{_mm_cmpeq_epi16, _mm_set1_epi16, _mm_srli_epi16};
        // SAFETY: these intrinsics only compute on values (no memory access), and their one
        // requirement, SSE2, is enabled at compile time (the `cfg` above; it is part of the
        // x86-64 baseline). Miri runs this module's tests.
        scan_mask(bucket, |cells| unsafe {
            _mm_cmpeq_epi16(
                _mm_srli_epi16::<{ EPOCH_BITS as i32 }>(cells),
                _mm_set1_epi16(fp as i16),
            )
        })
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    scan_holding_portable(bucket, fp)
}

/// The cells free to write at `epoch`: empty, or [expired](scan_expired).
#[inline]
fn scan_free(bucket: &Bucket, epoch: u16) -> u32 {
    scan_aged(bucket, epoch, true)
}

/// The cells that hold a key added [`EPOCHS`] or more epochs before `epoch`: forgotten, but
/// not yet cleared.
#[inline]
fn scan_expired(bucket: &Bucket, epoch: u16) -> u32 {
    scan_aged(bucket, epoch, false)
}

/// The cells [expired](scan_expired) at `epoch`, and the empty ones too if `empty`.
#[inline(always)]
fn scan_aged(bucket: &Bucket, epoch: u16, empty: bool) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        use std::arch::x86_64::{
            _mm_andnot_si128, _mm_cmpeq_epi16, _mm_or_si128, _mm_setzero_si128,
        };
        // SAFETY: as in `scan_holding`.
        scan_mask(bucket, |cells| unsafe {
            let zero = _mm_cmpeq_epi16(cells, _mm_setzero_si128());
            if empty {
                _mm_or_si128(zero, scan_old(cells, epoch))
            } else {
                _mm_andnot_si128(zero, scan_old(cells, epoch))
            }
        })
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    scan_aged_portable(bucket, epoch, empty)
}

/// All ones in the lanes of `cells` whose age at `epoch` is [`EPOCHS`] or more (empty cells
/// included: their age is computed like any other).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn scan_old(cells: std::arch::x86_64::__m128i, epoch: u16) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::{_mm_and_si128, _mm_cmpeq_epi16, _mm_set1_epi16, _mm_sub_epi16};
    // An age is `(epoch - cell) & EPOCH_MASK`, and `EPOCHS` is half its range, so an age of
    // `EPOCHS` or more is one with bit `EPOCHS` set.
    const _: () = assert!(EPOCHS.is_power_of_two() && EPOCHS * 2 == EPOCH_MASK + 1);
    let bit = EPOCHS as i16;
    // SAFETY: as in `scan_holding`.
    unsafe {
        let age = _mm_sub_epi16(_mm_set1_epi16(epoch as i16), cells);
        _mm_cmpeq_epi16(_mm_and_si128(age, _mm_set1_epi16(bit)), _mm_set1_epi16(bit))
    }
}

/// The mask of the lanes that `test` sets to all ones, over the bucket's four groups of eight
/// cells.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn scan_mask(
    bucket: &Bucket,
    test: impl Fn(std::arch::x86_64::__m128i) -> std::arch::x86_64::__m128i,
) -> u32 {
    use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_packs_epi16};
    let group = |g: usize| {
        let cells = bucket[8 * g..8 * g + 8].as_ptr().cast::<__m128i>();
        // SAFETY: `cells` points to 8 `u16` of the bucket (the slice above is checked), 16
        // bytes, which is what an unaligned load reads; SSE2 is enabled, as in `scan_holding`.
        test(unsafe { _mm_loadu_si128(cells) })
    };
    // SAFETY: as in `scan_holding`. A saturating pack of all-ones or zero lanes to bytes keeps
    // them all-ones or zero, one byte a cell, whose top bits the movemask gathers.
    let half =
        |g: usize| unsafe { _mm_movemask_epi8(_mm_packs_epi16(group(g), group(g + 1))) as u32 };
    const _: () = assert!(BUCKET == 32);
    half(0) | half(2) << 16
}

/// [`scan_holding`] without SIMD, for other targets (and checked against it by the tests).
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    expect(dead_code)
)]
fn scan_holding_portable(bucket: &Bucket, fp: u16) -> u32 {
    scan_portable(bucket, |cell| cell >> EPOCH_BITS == fp)
}

/// [`scan_aged`] without SIMD, for other targets (and checked against it by the tests).
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    expect(dead_code)
)]
fn scan_aged_portable(bucket: &Bucket, epoch: u16, empty: bool) -> u32 {
    scan_portable(bucket, |cell| {
        if cell == 0 {
            empty
        } else {
            age(epoch, cell) >= EPOCHS
        }
    })
}

fn scan_portable(bucket: &Bucket, test: impl Fn(u16) -> bool) -> u32 {
    bucket
        .iter()
        .enumerate()
        .fold(0, |mask, (i, &cell)| mask | u32::from(test(cell)) << i)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{
        BUCKET, EPOCH_BITS, EPOCHS, Ghost, scan_aged_portable, scan_expired, scan_free,
        scan_holding, scan_holding_portable,
    };

    proptest! {
        /// The SIMD scans mark exactly the cells the plain ones do. Cells are drawn from few
        /// fingerprints and every epoch, so matches, empty cells and each age all occur.
        #[test]
        fn scans_match_their_portable_forms(
            cells in prop::array::uniform32((0_u16..4, 0_u16..16)),
            fp in 0_u16..4,
            epoch in 0_u16..16,
        ) {
            let bucket: [u16; BUCKET] = cells.map(|(f, e)| f << EPOCH_BITS | e);
            prop_assert_eq!(scan_holding(&bucket, fp), scan_holding_portable(&bucket, fp));
            prop_assert_eq!(scan_free(&bucket, epoch), scan_aged_portable(&bucket, epoch, true));
            prop_assert_eq!(scan_expired(&bucket, epoch), scan_aged_portable(&bucket, epoch, false));
        }
    }

    /// A hash whose fingerprint is `i` (below 4096) and whose bucket is the first.
    fn h(i: u64) -> u64 {
        i << 52
    }

    /// A hash whose fingerprint is `i`, in a bucket drawn from `i`.
    fn spread(i: u64) -> u64 {
        h(i) | (i.wrapping_mul(0x9E37_79B9) & 0xFFFF_FFFF)
    }

    #[test]
    fn remembers_a_window_of_evictions_and_forgets_what_returns() {
        let mut ghost = Ghost::new();
        ghost.set_capacity(80);
        // 7/8 of a window: all remembered.
        for i in 1..=70 {
            ghost.add(spread(i));
        }
        assert_eq!(ghost.len(), 70);
        assert!((1..=70).all(|i| ghost.contains(spread(i))));
        assert!(ghost.remove(spread(5)));
        assert!(!ghost.contains(spread(5)) && !ghost.remove(spread(5)));
        assert_eq!(ghost.len(), 69);
        // Another window of evictions pushes every earlier key out.
        for i in 100..180 {
            ghost.add(spread(i));
        }
        assert!((1..=70).all(|i| !ghost.contains(spread(i))));
        assert!((70..=80).contains(&ghost.len()));
        ghost.clear();
        assert_eq!(ghost.len(), 0);
        assert!(!ghost.contains(spread(150)));
    }

    #[test]
    fn a_key_evicted_again_is_remembered_a_window_after_its_last_eviction() {
        let mut ghost = Ghost::new();
        ghost.set_capacity(16);
        ghost.add(spread(1));
        assert!(ghost.remove(spread(1)));
        for i in 2..10 {
            ghost.add(spread(i));
        }
        // Evicted again: remembered from now, not from its first eviction.
        ghost.add(spread(1));
        for i in 10..22 {
            ghost.add(spread(i));
        }
        assert!(
            ghost.contains(spread(1)),
            "forgotten before a window passed"
        );
        for i in 22..40 {
            ghost.add(spread(i));
        }
        assert!(
            !ghost.contains(spread(1)),
            "remembered after a window passed"
        );
    }

    #[test]
    fn a_full_bucket_forgets_its_oldest_cell() {
        let mut ghost = Ghost::new();
        ghost.set_capacity(1_000);
        // Same low half: all in one bucket, which holds 32.
        for i in 1..=33 {
            ghost.add(h(i));
        }
        assert!(!ghost.contains(h(1)));
        assert!((2..=33).all(|i| ghost.contains(h(i))));
        assert_eq!(ghost.len(), 32);
    }

    #[test]
    fn no_cell_outlives_its_epoch_counter_wrapping() {
        // A key alone in the last bucket, then 300 windows of additions to the first bucket
        // only: 2400 epochs, so the 4-bit epoch wraps 150 times while nothing overwrites the
        // key's cell. It must stay forgotten all along (the sweep clears it), and the count
        // must stay that of a window.
        let mut ghost = Ghost::new();
        ghost.set_capacity(64);
        let alone = h(7) | 0xFFFF_FFFF;
        ghost.add(alone);
        for n in 0..300 * 64_u64 {
            ghost.add(h(1_000 + n % 3_000));
            if n >= 64 {
                assert!(!ghost.contains(alone), "came back after {n} additions");
            }
        }
        assert!(ghost.len() <= 64);
    }

    proptest! {
        /// Against a model that remembers exactly the last `window` additions: every key the
        /// ghost reports was evicted within a window (no stale or invented members), and every
        /// key evicted within the last 7/8 of a window is reported (none lost early). The 48
        /// keys spread over the 3 buckets with at most 32 in one, so no bucket overflows.
        #[test]
        fn matches_a_window_of_recent_evictions(
            ops in proptest::collection::vec((0u64..48, any::<bool>()), 1..2_000),
        ) {
            let window = 64;
            let mut ghost = Ghost::new();
            ghost.set_capacity(window);
            // Additions so far, and the addition count of each key's last eviction.
            let mut adds = 0usize;
            let mut evicted: std::collections::HashMap<u64, usize> = Default::default();
            let hash = |k: u64| spread(k + 1);
            for (key, is_add) in ops {
                if is_add {
                    ghost.add(hash(key));
                    adds += 1;
                    evicted.insert(key, adds);
                } else {
                    let remembered = ghost.remove(hash(key));
                    let age = evicted.remove(&key).map(|at| adds - at);
                    if let Some(age) = age
                        && age < window * usize::from(EPOCHS - 1) / usize::from(EPOCHS)
                    {
                        prop_assert!(remembered, "key {} lost {} additions after", key, age);
                    }
                    if remembered {
                        prop_assert!(age.is_some_and(|a| a < window), "key {} invented", key);
                    }
                }
            }
        }
    }
}
