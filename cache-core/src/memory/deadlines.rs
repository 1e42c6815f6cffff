//! A shard's deadlines: a binary min-heap of `(deadline, slot, generation)`, so the shard knows
//! its earliest deadline exactly and drops every entry whose deadline has passed in
//! `O(log n)` each, with no scan.
//!
//! Deletion is lazy. Each slot has a generation; scheduling a slot bumps it and pushes an item
//! carrying the new value, and cancelling (a removal, or a replacement without a TTL) bumps it
//! again, so an item counts only while its generation is still the slot's. An odd generation
//! means the slot has a live item. Items left behind are dropped when they reach the top, and
//! when they outnumber the live ones (plus some slack) the heap is rebuilt without them, so it
//! never holds more than about twice the timed entries.
//!
//! A deadline may be earlier than the entry's real one: an entry with a time to idle is
//! scheduled for its idle deadline as of its last write, and reads (which hold only the read
//! lock) push its real deadline later without touching the heap. When such an item comes due,
//! the shard finds the entry still live and schedules it again for its real deadline. An item
//! is therefore never later than its entry's deadline, which is all the backend relies on.
//!
//! `memory/DESIGN.md`, "Expiry and the clock", says why a heap rather than a timer wheel.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A deadline that never comes: the expiry of an entry without a TTL.
pub(super) const NEVER: u64 = u64::MAX;

/// Stale items tolerated beyond the live ones before the heap is rebuilt without them.
const SLACK: usize = 64;

/// One scheduled deadline: when, which slot, and the slot's generation when it was scheduled.
type Item = Reverse<(u64, u32, u32)>;

#[derive(Default)]
pub(super) struct Deadlines {
    heap: BinaryHeap<Item>,
    /// Each slot's generation, grown only as far as the highest slot ever scheduled, so a shard
    /// that never holds a timed entry allocates nothing here.
    generations: Vec<u32>,
    /// Slots with a live item.
    live: usize,
}

impl Deadlines {
    fn generation(&self, slot: u32) -> u32 {
        self.generations.get(slot as usize).copied().unwrap_or(0)
    }

    fn is_current(&self, &Reverse((_, slot, generation)): &Item) -> bool {
        generation == self.generation(slot)
    }

    /// Schedules `slot` for `deadline`, replacing any deadline it had.
    pub(super) fn schedule(&mut self, slot: u32, deadline: u64) {
        debug_assert_ne!(deadline, NEVER, "an untimed entry has no deadline");
        let index = slot as usize;
        if self.generations.len() <= index {
            self.generations.resize(index + 1, 0);
        }
        let generation = &mut self.generations[index];
        // Odd: a live item is replaced; even: the slot becomes scheduled.
        if *generation % 2 == 1 {
            *generation = generation.wrapping_add(2);
        } else {
            *generation = generation.wrapping_add(1);
            self.live += 1;
        }
        let generation = *generation;
        self.heap.push(Reverse((deadline, slot, generation)));
        self.compact();
    }

    /// Rebuilds the heap without its stale items once they outnumber the live ones by more
    /// than [`SLACK`]: at least `live + SLACK` changes pay for each rebuild.
    fn compact(&mut self) {
        if self.heap.len() > 2 * self.live + SLACK {
            let generations = &self.generations;
            self.heap
                .retain(|&Reverse((_, s, g))| g == generations[s as usize]);
        }
    }

    /// Forgets the deadline of `slot`, if it has one.
    pub(super) fn cancel(&mut self, slot: u32) {
        if let Some(generation) = self.generations.get_mut(slot as usize)
            && *generation % 2 == 1
        {
            *generation = generation.wrapping_add(1);
            self.live -= 1;
            self.compact();
        }
    }

    /// The next slot whose deadline is at or before `now`, taken off the heap (the slot is then
    /// unscheduled), or `None` if no deadline has passed.
    pub(super) fn pop_due(&mut self, now: u64) -> Option<u32> {
        let Reverse((deadline, slot, _)) = *self.top()?;
        if deadline > now {
            return None;
        }
        self.heap.pop();
        self.cancel(slot);
        Some(slot)
    }

    /// The earliest deadline, or [`NEVER`]. Drops stale items from the top on the way, which is
    /// why it takes `&mut self`.
    pub(super) fn next(&mut self) -> u64 {
        self.top()
            .map_or(NEVER, |&Reverse((deadline, ..))| deadline)
    }

    /// The top item once stale ones are popped.
    fn top(&mut self) -> Option<&Item> {
        while let Some(item) = self.heap.peek() {
            if self.is_current(item) {
                break;
            }
            self.heap.pop();
        }
        self.heap.peek()
    }

    /// Forgets every deadline.
    pub(super) fn clear(&mut self) {
        self.heap.clear();
        // Generations restart too: no item outlives this to be confused with a new one.
        self.generations.clear();
        self.live = 0;
    }

    /// The live deadline of every scheduled slot, for the invariant checks: `(slot, deadline)`
    /// once per live item. Panics if the heap's bookkeeping is inconsistent.
    #[cfg(test)]
    pub(super) fn live_items(&self) -> Vec<(u32, u64)> {
        let live: Vec<(u32, u64)> = self
            .heap
            .iter()
            .filter(|item| self.is_current(item))
            .map(|&Reverse((deadline, slot, _))| (slot, deadline))
            .collect();
        let odd = self.generations.iter().filter(|g| *g % 2 == 1).count();
        assert_eq!(live.len(), self.live, "live count against live items");
        assert_eq!(odd, self.live, "live count against odd generations");
        assert!(
            self.heap.len() <= 2 * self.live + SLACK,
            "{} items for {} live ones",
            self.heap.len(),
            self.live
        );
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_due_in_order_and_cancelled_ones_never() {
        let mut d = Deadlines::default();
        d.schedule(3, 30);
        d.schedule(1, 10);
        d.schedule(2, 20);
        d.cancel(1);
        d.schedule(3, 5); // rescheduled: the item at 30 is stale
        assert_eq!(d.next(), 5);
        assert_eq!(d.pop_due(25), Some(3));
        assert_eq!(d.pop_due(25), Some(2));
        assert_eq!(d.pop_due(25), None);
        assert_eq!(d.next(), NEVER);
        assert!(d.live_items().is_empty());
    }

    #[test]
    fn stale_items_do_not_pile_up() {
        let mut d = Deadlines::default();
        for round in 0..10_000u64 {
            d.schedule((round % 7) as u32, 1_000_000 - round);
        }
        assert_eq!(d.live_items().len(), 7);
        for slot in 0..7 {
            d.cancel(slot);
        }
        assert!(d.live_items().is_empty());
        assert!(d.heap.len() <= SLACK);
    }
}
