//! A shard's hash index: from a key's hash to the slab slots that may hold the key, in chunks
//! of one cache line.
//!
//! # Why not `hashbrown`
//!
//! hashbrown keeps its control bytes and its buckets in two separate arrays, so a lookup
//! through a `HashTable<u32>` of slab indices (the shard's first index, and quick_cache's)
//! touches two cache lines of the table before the one in the slab: three dependent misses per
//! hit in a cache larger than L2, where a map with its values inline pays two
//! (`cache-core/src/memory/DESIGN.md` has the cachegrind counts).
//!
//! This index puts the tags and the slab indices they stand for in the same 64-byte chunk:
//! 12 one-byte tags, an overflow count and 12 `u32` indices, the layout of Folly's F14 maps
//! (whose chunks hold 14 entries, their 4-byte items leaving room for a few more control
//! bytes). A lookup reads one chunk (usually the key's home chunk), matches the tag against
//! all 12 at once (one SSE2 compare on x86-64), and goes straight to the slab.
//!
//! # Deletion without tombstones
//!
//! Each chunk counts the entries that wanted to live in it or in an earlier chunk of their
//! probe sequence but live further along (F14's "outbound overflow"). A lookup that misses in a
//! chunk whose count is zero stops there, so a removed entry just clears its tag and decrements
//! the counts along its probe path: no tombstones pile up, and a churning cache (every insert
//! at capacity evicts) never needs a cleanup rehash. A count that reaches 255 stays there,
//! which only makes lookups probe one chunk further than needed.
//!
//! # Load
//!
//! The index grows (doubling, rehashing from the slab's keys) beyond 10 of 12 entries per chunk
//! on average. The tag is the hash's top seven bits with the high bit set, so an empty slot
//! (tag 0) never matches and a wrong slot matches one time in 128 (the caller then compares
//! the key and moves on).

/// Entries per chunk: 12 tags (12 bytes), an overflow count (1, padded to 4) and 12 slab
/// indices (48) make 64 bytes.
const SLOTS: usize = 12;
/// The tag of an empty slot. Occupied slots' tags always have their high bit set.
const EMPTY: u8 = 0;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Chunk {
    tags: [u8; SLOTS],
    /// Entries whose probe sequence passed through this chunk but which live beyond it,
    /// saturating at `u8::MAX`.
    overflow: u8,
    indices: [u32; SLOTS],
}

impl Chunk {
    const EMPTY: Self = Self {
        tags: [EMPTY; SLOTS],
        overflow: 0,
        indices: [0; SLOTS],
    };

    /// One bit per tag equal to `tag`: bit `j` for slot `j`. On x86-64, one SSE2 compare of
    /// the 12 tags and a mask extraction (`pcmpeqb`, `pmovmskb`), as hashbrown does.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[inline]
    fn matches(&self, tag: u8) -> u32 {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_movemask_epi8, _mm_set_epi64x, _mm_set1_epi8};

        let (low, high) = self.tags.split_at(8);
        let low = u64::from_le_bytes(low.try_into().unwrap_or_default());
        let high = u32::from_le_bytes(high.try_into().unwrap_or_default());
        // SAFETY: these intrinsics only compute on values (no memory access), and their one
        // requirement, SSE2, is enabled at compile time (the `cfg` above; it is part of the
        // x86-64 baseline). Miri runs this module's tests.
        let equal = unsafe {
            let group = _mm_set_epi64x(i64::from(high), low as i64);
            _mm_movemask_epi8(_mm_cmpeq_epi8(group, _mm_set1_epi8(tag as i8)))
        };
        // The four bytes above the tags are zero, and so is `EMPTY`: the mask drops them.
        equal as u32 & ((1 << SLOTS) - 1)
    }

    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    #[inline]
    fn matches(&self, tag: u8) -> u32 {
        self.matches_portable(tag)
    }

    /// [`matches`](Self::matches) without SIMD, for other targets (and checked against the
    /// SIMD form by the tests).
    #[cfg_attr(
        all(target_arch = "x86_64", target_feature = "sse2", not(test)),
        expect(dead_code)
    )]
    fn matches_portable(&self, tag: u8) -> u32 {
        self.tags
            .iter()
            .enumerate()
            .fold(0, |mask, (slot, &t)| mask | (u32::from(t == tag) << slot))
    }
}

/// The slots set in a [`Chunk::matches`] mask, lowest first.
#[inline]
fn slots(mut mask: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if mask == 0 {
            return None;
        }
        let slot = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        Some(slot)
    })
}

/// The tag stored for `hash`: its top seven bits (the chunk is picked by the low ones and the
/// shard by bits from 32 up), with the high bit set so it is never [`EMPTY`].
#[inline]
fn tag(hash: u64) -> u8 {
    0x80 | (hash >> 57) as u8
}

/// The chunks a lookup for `hash` visits, in order: triangular probing, which visits every
/// chunk of a power-of-two table once.
#[inline]
fn probe(hash: u64, chunks: usize) -> impl Iterator<Item = usize> {
    let mask = chunks - 1;
    let mut at = hash as usize & mask;
    (0..chunks).map(move |step| {
        let here = at;
        at = (at + step + 1) & mask;
        here
    })
}

pub(super) struct Index {
    /// A power-of-two number of chunks.
    chunks: Box<[Chunk]>,
    len: usize,
}

impl Index {
    pub(super) fn new() -> Self {
        Self {
            chunks: Box::new([Chunk::EMPTY]),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The first `Some` that `found` returns for an index stored under `hash`, with that index.
    #[inline]
    pub(super) fn find<T>(
        &self,
        hash: u64,
        mut found: impl FnMut(u32) -> Option<T>,
    ) -> Option<(u32, T)> {
        let tag = tag(hash);
        for at in probe(hash, self.chunks.len()) {
            let chunk = &self.chunks[at];
            for slot in slots(chunk.matches(tag)) {
                let index = chunk.indices[slot];
                if let Some(t) = found(index) {
                    return Some((index, t));
                }
            }
            if chunk.overflow == 0 {
                return None;
            }
        }
        None
    }

    /// Adds `index` under `hash`. `rehash` gives the hash of an index already present, for
    /// growing.
    pub(super) fn insert(&mut self, hash: u64, index: u32, rehash: impl Fn(u32) -> u64) {
        if self.len >= self.chunks.len() * SLOTS * 5 / 6 {
            self.grow(rehash);
        }
        self.place(hash, index);
        self.len += 1;
    }

    /// Stores `index` in the first free slot of its probe sequence. The load bound leaves a
    /// free slot in some chunk, and the probe visits them all.
    fn place(&mut self, hash: u64, index: u32) {
        for at in probe(hash, self.chunks.len()) {
            let chunk = &mut self.chunks[at];
            if let Some(slot) = slots(chunk.matches(EMPTY)).next() {
                chunk.tags[slot] = tag(hash);
                chunk.indices[slot] = index;
                return;
            }
            chunk.overflow = chunk.overflow.saturating_add(1);
        }
        unreachable!("the index grows before it fills");
    }

    fn grow(&mut self, rehash: impl Fn(u32) -> u64) {
        let bigger = vec![Chunk::EMPTY; self.chunks.len() * 2].into_boxed_slice();
        let old = std::mem::replace(&mut self.chunks, bigger);
        for chunk in old.iter() {
            for (&tag, &index) in chunk.tags.iter().zip(&chunk.indices) {
                if tag != EMPTY {
                    self.place(rehash(index), index);
                }
            }
        }
    }

    /// Removes `index`, stored under `hash`; whether it was there.
    pub(super) fn remove(&mut self, hash: u64, index: u32) -> bool {
        let tag = tag(hash);
        for (step, at) in probe(hash, self.chunks.len()).enumerate() {
            let chunk = &mut self.chunks[at];
            if let Some(slot) = slots(chunk.matches(tag)).find(|&slot| chunk.indices[slot] == index)
            {
                chunk.tags[slot] = EMPTY;
                self.len -= 1;
                // It overflowed every chunk its probe passed before this one.
                for passed in probe(hash, self.chunks.len()).take(step) {
                    let count = &mut self.chunks[passed].overflow;
                    if *count != u8::MAX {
                        *count -= 1;
                    }
                }
                return true;
            }
            if chunk.overflow == 0 {
                return false;
            }
        }
        false
    }

    /// Removes every index, keeping the memory.
    pub(super) fn clear(&mut self) {
        self.chunks.fill(Chunk::EMPTY);
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_chunk_is_one_cache_line() {
        assert_eq!(size_of::<Chunk>(), 64);
        assert_eq!(align_of::<Chunk>(), 64);
    }

    #[test]
    fn matches_marks_exactly_the_equal_tags() {
        let mut chunk = Chunk::EMPTY;
        chunk.tags = [
            0x80, 0x81, 0x80, 0, 0xff, 0x80, 0x7f, 0x01, 0x80, 0, 0, 0x80,
        ];
        let found: Vec<usize> = slots(chunk.matches(0x80)).collect();
        assert_eq!(found, [0, 2, 5, 8, 11]);
        let empty: Vec<usize> = slots(chunk.matches(EMPTY)).collect();
        assert_eq!(empty, [3, 9, 10]);
        assert_eq!(slots(chunk.matches(0xfe)).count(), 0);
        for tag in 0..=u8::MAX {
            assert_eq!(chunk.matches(tag), chunk.matches_portable(tag), "{tag:#x}");
        }
    }

    /// Every key hashed to the same value: the index must still tell them apart, overflow
    /// through many chunks, and find each again after others are removed.
    #[test]
    fn colliding_hashes_overflow_and_come_back() {
        let mut index = Index::new();
        let hash = 0xdead_beef_u64 << 32;
        for i in 0..100 {
            index.insert(hash, i, |_| hash);
        }
        for i in (0..100).step_by(2) {
            assert!(index.remove(hash, i));
        }
        for i in 0..100 {
            assert_eq!(
                index.find(hash, |x| (x == i).then_some(())).is_some(),
                i % 2 == 1,
                "{i}"
            );
        }
        assert_eq!(index.len(), 50);
        assert!(!index.remove(hash, 0));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => any::<u16>().prop_map(|k| Op::Insert(k % 512)),
            6 => any::<u16>().prop_map(|k| Op::Remove(k % 512)),
            1 => Just(Op::Clear),
        ]
    }

    /// A deliberately poor hash (few distinct values, so chunks overflow) of a test key.
    fn hash(key: u32) -> u64 {
        u64::from(key % 37).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(key % 3)
    }

    proptest! {
        /// The index against a `HashMap` model: every key present is found, no absent key is,
        /// and the length agrees, across growth, removal and clearing.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec(op(), 1..600)) {
            let mut index = Index::new();
            let mut model: HashMap<u32, ()> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k) => {
                        let k = u32::from(k);
                        if model.insert(k, ()).is_none() {
                            index.insert(hash(k), k, hash);
                        }
                    }
                    Op::Remove(k) => {
                        let k = u32::from(k);
                        prop_assert_eq!(index.remove(hash(k), k), model.remove(&k).is_some());
                    }
                    Op::Clear => {
                        index.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(index.len(), model.len());
            }
            for k in 0..512 {
                prop_assert_eq!(index.find(hash(k), |x| (x == k).then_some(())).is_some(), model.contains_key(&k));
            }
        }
    }
}
