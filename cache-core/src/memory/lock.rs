//! The shard lock: a read-write lock whose readers write only to a record of their own thread.
//!
//! A read lock that counts its readers in the lock word (`parking_lot`'s, `std`'s) costs two
//! atomic read-modify-writes per hit, and under several readers that word's cache line moves
//! between cores on every hit; on the benchmark machine that alone costs more than the lookup it
//! guards. This lock pays one fence per read, on a cache line no other core writes. The
//! measurements, the history (a first version whose writers took a mutex) and the full
//! memory-ordering argument are in `cache-core/src/memory/DESIGN.md`, "The shard lock".
//!
//! # How it works
//!
//! Each thread owns a [`Record`] (taken from a global list on its first read, given back when
//! it exits). A reader stores the lock's address in its record, fences, and checks the lock's
//! `writing` flag; a writer sets `writing` with a sequentially consistent compare-and-swap
//! (which also excludes other writers) and waits until no record holds the lock's address.
//! Releasing a read or a write is a release store. A thread with no record to use (a nested
//! read, or a thread whose thread-locals are being torn down) counts itself in the lock's
//! `shared` count instead.
//!
//! Why a reader and a writer never both get in: this is the store-buffering (Dekker) pattern.
//! The reader's fence and the writer's swap and loads are sequentially consistent, so they fall
//! in one total order. If the swap comes first, the reader's load after its fence sees
//! `writing` and it backs off until the writer is done. If the fence comes first, the writer's
//! loads after its swap see the announcement and it waits until the announcement is withdrawn,
//! whose release store its load then acquires. The list's links are set and read sequentially
//! consistently for the same reason, so a writer cannot walk past a record appended just before
//! its reader announced. (DESIGN.md states this in full, with one case the language's memory
//! model does not cover: a writer that reads the record's next announcement, of another lock,
//! in place of the withdrawal.)
//!
//! Waiters never park: they spin, yield, then nap in steps doubling up to about a millisecond,
//! which only matters when a writer runs slow user code (an eviction listener or weigher) under
//! the lock. The price of cheap reads is on the write side: a writer reads every live thread's
//! record, one cache line each, which is a few nanoseconds with the handful of threads a
//! process usually reads a cache from.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr;

use super::shim::{AtomicBool, AtomicPtr, AtomicUsize, fence, nap, thread_local, yield_now};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

/// One thread's announcement of the lock it is reading: the lock's address, or 0. Two cache
/// lines wide so that adjacent-line prefetching does not couple neighbouring threads.
#[repr(align(128))]
struct Record {
    reading: AtomicUsize,
    /// Whether a live thread owns this record.
    taken: AtomicBool,
}

/// The list of records. It only grows, to the most threads that have been reading at once; a
/// record is reused by a later thread once its owner exits.
///
/// The link to the next node is an atomic pointer set once by a sequentially consistent
/// compare-and-swap and read with sequentially consistent loads, not a `OnceLock` (whose
/// acquire load is outside the total order of sequentially consistent operations): a writer's
/// walk must not miss a node that a reader appended just before announcing a read in it. With
/// both sides in that order, the argument of the module docs covers the link too (a reader's
/// append precedes its fence, which precedes the writer's swap, which precedes the writer's
/// load of the link; DESIGN.md gives it in full). Miri found the gap: with the `OnceLock`, a
/// writer could walk past a record being added and enter while that record's reader was inside.
struct Node {
    record: Record,
    /// The next node, or null. Once set it never changes; the node it points to is owned by
    /// this one and freed with it.
    next: AtomicPtr<Node>,
}

impl Node {
    const fn new() -> Self {
        Self {
            record: Record {
                reading: AtomicUsize::new(0),
                taken: AtomicBool::new(false),
            },
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }

    fn next(&self) -> Option<&Node> {
        // SAFETY: a non-null link comes from `Box::into_raw` in `next_or_append`, is never
        // changed or freed while `self` lives (only `drop` frees it), and the sequentially
        // consistent load synchronizes with the swap that published it.
        unsafe { self.next.load(SeqCst).as_ref() }
    }

    /// The next node, appending a new one if there is none.
    fn next_or_append(&self) -> &Node {
        if let Some(next) = self.next() {
            return next;
        }
        let new = Box::into_raw(Box::new(Node::new()));
        match self
            .next
            .compare_exchange(ptr::null_mut(), new, SeqCst, SeqCst)
        {
            // SAFETY: `new` is now the link, owned by `self` as `next` documents.
            Ok(_) => unsafe { &*new },
            Err(existing) => {
                // SAFETY: `new` lost the race, so nothing else refers to it; `existing` is a
                // link another thread published, as in `next`.
                unsafe {
                    drop(Box::from_raw(new));
                    &*existing
                }
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let next = *self.next.get_mut();
        if !next.is_null() {
            // SAFETY: the link came from `Box::into_raw` and is owned by this node alone.
            drop(unsafe { Box::from_raw(next) });
        }
    }
}

#[cfg(not(shuttle))]
static RECORDS: Node = Node::new();

// Under shuttle a static must be created anew for each explored execution.
#[cfg(shuttle)]
shuttle::lazy_static! {
    static ref RECORDS: Node = Node::new();
}

/// The first record of the list (under shuttle, through the lazy static's `Deref`).
fn first() -> &'static Node {
    &RECORDS
}

/// Every record of the list starting at `first`, taken or not.
fn records(first: &Node) -> impl Iterator<Item = &Record> {
    std::iter::successors(Some(first), |node| node.next()).map(|node| &node.record)
}

/// A free record of the list starting at `first`, now taken by the calling thread; the list
/// grows by one if none is free.
fn take_record(first: &Node) -> &Record {
    let mut node = first;
    loop {
        if node
            .record
            .taken
            .compare_exchange(false, true, Acquire, Relaxed)
            .is_ok()
        {
            return &node.record;
        }
        node = node.next_or_append();
    }
}

/// The calling thread's hold on its record, given back when the thread exits.
struct Owned(&'static Record);

impl Drop for Owned {
    fn drop(&mut self) {
        self.0.taken.store(false, Release);
    }
}

thread_local! {
    static RECORD: Owned = Owned(take_record(first()));
}

/// The calling thread's record if it is free to announce a read: not while it announces
/// another (a nested read), and not while the thread's locals are being destroyed.
#[inline]
fn own_record() -> Option<&'static Record> {
    RECORD
        .try_with(|owned| owned.0)
        .ok()
        .filter(|record| record.reading.load(Relaxed) == 0)
}

/// How many times a waiter spins before it yields, and yields before it naps.
const SPINS: u32 = 64;
const YIELDS: u32 = 16;

/// One round of waiting for a lock holder: spin briefly (a write or a read is a short critical
/// section), then yield, then nap in steps doubling up to about a millisecond (a writer may be
/// running a slow eviction listener or weigher), so a waiter never burns a core for long.
fn backoff(round: &mut u32) {
    if *round < SPINS {
        std::hint::spin_loop();
    } else if *round < SPINS + YIELDS {
        yield_now();
    } else {
        nap(std::time::Duration::from_micros(
            1 << (*round - SPINS - YIELDS).min(10),
        ));
    }
    *round = round.saturating_add(1);
}

pub(crate) struct RwLock<T> {
    /// Set while a writer holds the lock or waits for readers to leave; writers take it with a
    /// compare-and-swap, which also serves as their side of the fence pairing with readers.
    writing: AtomicBool,
    /// Readers that announced themselves here rather than in a record of their own.
    shared: AtomicUsize,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&T` to any number of threads at once only while no `&mut T`
// exists, and `&mut T` to one thread at a time, the same contract as `std::sync::RwLock`,
// whose `Send` and `Sync` bounds these are.
unsafe impl<T: Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            writing: AtomicBool::new(false),
            shared: AtomicUsize::new(0),
            value: UnsafeCell::new(value),
        }
    }

    /// What a record holds while reading this lock: its address, which is never 0.
    fn id(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    #[inline]
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        let record = own_record();
        loop {
            // Announce the read, then look for a writer: see the module docs for why the
            // fence makes this exclusive with `write`.
            match record {
                Some(record) => record.reading.store(self.id(), Relaxed),
                None => {
                    self.shared.fetch_add(1, Relaxed);
                }
            }
            fence(SeqCst);
            if !self.writing.load(Acquire) {
                return ReadGuard {
                    lock: self,
                    record,
                    _not_send: PhantomData,
                };
            }
            self.unannounce(record);
            self.wait_for_writer();
        }
    }

    /// Waits until the writer now in is done.
    #[cold]
    fn wait_for_writer(&self) {
        let mut round = 0;
        while self.writing.load(Relaxed) {
            backoff(&mut round);
        }
    }

    fn unannounce(&self, record: Option<&Record>) {
        match record {
            Some(record) => record.reading.store(0, Release),
            None => {
                self.shared.fetch_sub(1, Release);
            }
        }
    }

    #[inline]
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        // Test, then test-and-set: waiting writers read the flag rather than hammer it.
        let mut round = 0;
        while self.writing.load(Relaxed)
            || self
                .writing
                .compare_exchange_weak(false, true, SeqCst, Relaxed)
                .is_err()
        {
            backoff(&mut round);
        }
        // Sequentially consistent loads after the sequentially consistent swap: with the
        // readers' fence, this is the store-buffering pattern the module docs describe.
        let id = self.id();
        for record in records(first()) {
            let mut round = 0;
            while record.reading.load(SeqCst) == id {
                backoff(&mut round);
            }
        }
        let mut round = 0;
        while self.shared.load(SeqCst) != 0 {
            backoff(&mut round);
        }
        WriteGuard { lock: self }
    }
}

pub(crate) struct ReadGuard<'a, T> {
    lock: &'a RwLock<T>,
    record: Option<&'static Record>,
    /// Like the standard library's guards, a read guard stays on its thread.
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this read is announced and no writer was in when it was (`read`); a writer
        // arriving since waits for the announcement to be withdrawn, in `drop`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unannounce(self.record);
    }
}

pub(crate) struct WriteGuard<'a, T> {
    lock: &'a RwLock<T>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this writer set `writing`, which excludes other writers, and every reader
        // has left (`write`).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only reference through the
        // guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.writing.store(false, Release);
    }
}

#[cfg(all(test, not(shuttle)))]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Two halves a writer keeps equal; a reader seeing them differ saw a write in progress
    /// (and Miri reports the data race itself).
    #[test]
    fn readers_never_see_a_write_in_progress() {
        let lock = Arc::new(RwLock::new((0u64, 0u64)));
        let rounds = if cfg!(miri) { 20 } else { 20_000 };
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for i in 0..rounds {
                        if (t + i) % 4 == 0 {
                            let mut pair = lock.write();
                            pair.0 += 1;
                            pair.1 += 1;
                        } else {
                            let pair = lock.read();
                            assert_eq!(pair.0, pair.1, "a read overlapped a write");
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("no thread panics");
        }
        assert_eq!(lock.read().0, rounds as u64);
    }

    /// A thread reading two locks at once announces the inner read in the shared count, and
    /// a writer of either still waits for it.
    #[test]
    fn nested_reads_use_the_shared_count() {
        let (a, b) = (RwLock::new(1), RwLock::new(2));
        let outer = a.read();
        let inner = b.read();
        assert!(outer.record.is_some() && inner.record.is_none());
        assert_eq!(b.shared.load(Relaxed), 1);
        assert_eq!(*outer + *inner, 3);
        drop(inner);
        assert_eq!(b.shared.load(Relaxed), 0);
        drop(outer);
        *a.write() += 1;
        *b.write() += 1;
        assert_eq!(*a.read() + *b.read(), 5);
    }

    /// A record given back is the next one taken, so the list only grows to the most
    /// threads holding records at once.
    #[test]
    fn given_back_records_are_reused() {
        let first = Node::new();
        let taken: Vec<*const Record> = (0..3).map(|_| take_record(&first) as *const _).collect();
        assert_eq!(records(&first).count(), 3);
        // What `Owned` does when its thread exits.
        let second = records(&first).nth(1).expect("three records");
        second.taken.store(false, Release);
        assert_eq!(take_record(&first) as *const _, taken[1]);
        assert_eq!(records(&first).count(), 3);
        assert_ne!(take_record(&first) as *const _, taken[2]);
        assert_eq!(records(&first).count(), 4);
    }
}
