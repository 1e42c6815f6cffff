//! The ghost queue of S3-FIFO: fingerprints of keys recently evicted from the small queue.
//!
//! A key that comes back while its fingerprint is still here skips the small queue and goes
//! straight to the main one, which is what makes S3-FIFO scan-resistant without losing keys that
//! return after a gap a little longer than the small queue. Only a 32-bit fingerprint of the
//! hash is kept (no key, no value), in insertion order (a ring) plus a hash set for the
//! membership test: about 10 bytes per remembered key. A fingerprint collision only
//! misroutes one admission, never returns a wrong value.

use std::collections::VecDeque;

use hashbrown::HashTable;

pub(super) struct Ghost {
    order: VecDeque<u32>,
    members: HashTable<u32>,
    capacity: usize,
}

/// The fingerprint of a key hash: its high half (the shard index uses other bits, but every
/// bit of foldhash's output is well mixed, so this is fine for a hint).
fn fingerprint(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// Spreads a fingerprint back over 64 bits for the membership table, whose buckets use the low
/// bits and whose tags use the top seven.
fn spread(fp: u32) -> u64 {
    u64::from(fp).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Ghost {
    pub(super) fn new() -> Self {
        Self {
            order: VecDeque::new(),
            members: HashTable::new(),
            capacity: 0,
        }
    }

    /// How many fingerprints to keep; shrinking drops the oldest ones.
    pub(super) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.order.len() > capacity {
            self.pop_oldest();
        }
    }

    pub(super) fn len(&self) -> usize {
        self.members.len()
    }

    pub(super) fn contains(&self, hash: u64) -> bool {
        let fp = fingerprint(hash);
        self.members.find(spread(fp), |&m| m == fp).is_some()
    }

    /// Remembers `hash`, forgetting the oldest fingerprint if full.
    pub(super) fn add(&mut self, hash: u64) {
        if self.capacity == 0 || self.contains(hash) {
            return;
        }
        if self.order.len() >= self.capacity {
            self.pop_oldest();
        }
        let fp = fingerprint(hash);
        self.order.push_back(fp);
        self.members.insert_unique(spread(fp), fp, |&m| spread(m));
    }

    /// Forgets `hash` (its key is resident again); whether it was remembered.
    pub(super) fn remove(&mut self, hash: u64) -> bool {
        let fp = fingerprint(hash);
        // The ring keeps a stale copy until it reaches the front; `pop_oldest` tolerates that.
        match self.members.find_entry(spread(fp), |&m| m == fp) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    pub(super) fn clear(&mut self) {
        self.order.clear();
        self.members.clear();
    }

    fn pop_oldest(&mut self) {
        if let Some(fp) = self.order.pop_front()
            && let Ok(entry) = self.members.find_entry(spread(fp), |&m| m == fp)
        {
            entry.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ghost;

    #[test]
    fn remembers_the_most_recent_fingerprints_only() {
        let mut ghost = Ghost::new();
        ghost.set_capacity(2);
        let h = |i: u64| i << 32;
        ghost.add(h(1));
        ghost.add(h(2));
        ghost.add(h(3));
        assert!(!ghost.contains(h(1)));
        assert!(ghost.contains(h(2)) && ghost.contains(h(3)));
        assert!(ghost.remove(h(2)));
        assert!(!ghost.contains(h(2)) && !ghost.remove(h(2)));
        ghost.set_capacity(0);
        assert!(!ghost.contains(h(3)));
    }
}
