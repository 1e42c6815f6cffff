//! Hit, miss and load counters, striped so concurrent readers do not share a cache line, with a
//! stripe leased to each thread so that counting a lookup takes no locked instruction.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::backend::BackendStats;

/// A snapshot of one cache's activity (in the current namespace) and contents.
///
/// ```
/// use memokit_core::Cache;
/// let cache: Cache<u32, u32> = Cache::builder("doc-stats").build().unwrap();
/// cache.insert(1, 10).unwrap();
/// assert_eq!(cache.get(&1).unwrap(), Some(10));
/// assert_eq!(cache.get(&2).unwrap(), None);
/// let stats = cache.stats();
/// assert_eq!((stats.hits, stats.misses, stats.entries), (1, 1, 1));
/// assert_eq!(stats.hit_ratio(), 0.5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Lookups that found a live value.
    pub hits: u64,
    /// Of the hits, those whose value was past the cache's
    /// [`refresh`](crate::CacheBuilder::refresh) age (always 0 without one).
    pub stale: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Values written, by an insert or a load.
    pub inserts: u64,
    /// Explicit removals that removed something.
    pub removals: u64,
    /// Loader (function body) runs that produced a cacheable value.
    pub loads: u64,
    /// Loader runs whose result was not cached (an `Err`, a `None`, or a panic).
    pub load_failures: u64,
    /// Loader runs that returned an `Err` and were answered with the value kept past its TTL
    /// (a cache with a [`fallback`](crate::CacheBuilder::fallback) age); each is a load failure
    /// too.
    pub fallbacks: u64,
    /// Background reloads (stale-while-revalidate) that stored a fresh value.
    pub refreshes: u64,
    /// Background reloads that failed (`Err`, `None`, a panic, or no room to run them); the old
    /// value stayed.
    pub refresh_failures: u64,
    /// Backend errors seen by this cache.
    pub errors: u64,
    /// Runs of the cache's [warmer](crate::CacheBuilder::warmer) whose entries were stored.
    pub warms: u64,
    /// Runs of the warmer that failed (an `Err`, a panic, or a store that could not be written);
    /// the values already there stayed.
    pub warm_failures: u64,
    /// Live entries, as the backend counts them.
    pub entries: u64,
    /// Total weight of live entries.
    pub weight: u64,
    /// Entries evicted for capacity.
    pub evicted: u64,
    /// Entries that expired.
    pub expired: u64,
    /// Values overwritten by a newer insert for the same key.
    pub replaced: u64,
}

impl Stats {
    /// `hits / (hits + misses)`, or 0 before the first lookup.
    pub fn hit_ratio(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

/// Adds counts field by field, as when totalling one test's activity over every cache.
///
/// ```
/// use memokit_core::{Cache, Stats};
/// let a: Cache<u8, u8> = Cache::builder("doc-sum-a").build()?;
/// let b: Cache<u8, u8> = Cache::builder("doc-sum-b").build()?;
/// a.insert(1, 1)?;
/// b.insert(1, 1)?;
/// b.insert(2, 2)?;
/// let total: Stats = [a.stats(), b.stats()].into_iter().sum();
/// assert_eq!((total.inserts, total.entries), (3, 3));
/// # Ok::<(), memokit_core::CacheError>(())
/// ```
impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Self) {
        let Self {
            hits,
            stale,
            misses,
            inserts,
            removals,
            loads,
            load_failures,
            fallbacks,
            refreshes,
            refresh_failures,
            errors,
            warms,
            warm_failures,
            entries,
            weight,
            evicted,
            expired,
            replaced,
        } = other;
        self.hits += hits;
        self.stale += stale;
        self.misses += misses;
        self.inserts += inserts;
        self.removals += removals;
        self.loads += loads;
        self.load_failures += load_failures;
        self.fallbacks += fallbacks;
        self.refreshes += refreshes;
        self.refresh_failures += refresh_failures;
        self.errors += errors;
        self.warms += warms;
        self.warm_failures += warm_failures;
        self.entries += entries;
        self.weight += weight;
        self.evicted += evicted;
        self.expired += expired;
        self.replaced += replaced;
    }
}

impl std::iter::Sum for Stats {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |mut total, s| {
            total += s;
            total
        })
    }
}

/// Stripes leased one per thread; threads beyond this many share one more stripe.
const STRIPES: usize = 16;
/// The stripe of threads that hold no lease.
const SHARED: usize = STRIPES;
/// [`STRIPE`]'s value before the thread's first count: any index at or above [`SHARED`] sends
/// a count down the slow path, which leases a stripe.
const UNASSIGNED: usize = usize::MAX;

#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    hits: AtomicU64,
    misses: AtomicU64,
    /// Striped like lookups because writers are many too: one shared counter bounced between
    /// the cores of a mixed workload on every insert.
    inserts: AtomicU64,
}

/// Stripe indices given back by exited threads.
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// The next never-leased stripe index.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A thread's exclusive claim on one stripe of every cache's counters, given back when the
/// thread exits.
///
/// Only the lease holder writes its stripe, so a lookup is counted with a relaxed load and
/// store instead of a locked read-modify-write (on x86 the locked add costs about as much as
/// the rest of a small cache hit). Counts stay exact: the next holder of an index receives it
/// through `FREE`'s mutex, which orders the previous holder's last store before its first load.
struct Lease(usize);

impl Lease {
    fn acquire() -> Self {
        let reused = FREE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Self(reused.unwrap_or_else(|| {
            let fresh = NEXT.fetch_add(1, Ordering::Relaxed);
            if fresh < STRIPES {
                fresh
            } else {
                // Keep `NEXT` from wrapping however many threads come and go.
                NEXT.store(STRIPES, Ordering::Relaxed);
                SHARED
            }
        }))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Counts made from here on (by later thread-local destructors) go to the shared stripe:
        // the index may be leased to another thread as soon as it is back in `FREE`.
        STRIPE.set(SHARED);
        if self.0 != SHARED {
            FREE.lock().unwrap_or_else(|e| e.into_inner()).push(self.0);
        }
    }
}

thread_local! {
    /// The lease itself, kept only for its destructor.
    static LEASE: Lease = Lease::acquire();
    /// A copy of the lease's index, which is what a count reads. `const`-initialized and free
    /// of a destructor, so reading it is one load with no first-use check and it stays readable
    /// while the thread exits; [`UNASSIGNED`] until the first count leases a stripe.
    static STRIPE: Cell<usize> = const { Cell::new(UNASSIGNED) };
}

/// Leases this thread's stripe on its first count; [`SHARED`] once the thread is exiting.
#[cold]
#[inline(never)]
fn assign_stripe() -> usize {
    let index = LEASE.try_with(|l| l.0).unwrap_or(SHARED);
    STRIPE.set(index);
    index
}

/// The counters of one namespace of one cache.
#[derive(Default)]
pub(crate) struct Counters {
    stripes: [Stripe; STRIPES + 1],
    /// Not striped: only caches with a refresh age count it, on stale hits alone.
    stale: AtomicU64,
    removals: AtomicU64,
    loads: AtomicU64,
    load_failures: AtomicU64,
    fallbacks: AtomicU64,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
    errors: AtomicU64,
    warms: AtomicU64,
    warm_failures: AtomicU64,
}

#[derive(Clone, Copy)]
pub(crate) enum Count {
    Stale,
    Removal,
    Load,
    LoadFailure,
    Fallback,
    Refresh,
    RefreshFailure,
    Error,
    Warm,
    WarmFailure,
}

impl Counters {
    #[inline]
    pub(crate) fn lookup(&self, hit: bool) {
        self.bump(|stripe| if hit { &stripe.hits } else { &stripe.misses });
    }

    /// Counts `n` writes.
    #[inline]
    pub(crate) fn inserts(&self, n: u64) {
        self.bump_by(|stripe| &stripe.inserts, n);
    }

    /// Counts `hits` hits and `misses` misses of one batched lookup.
    pub(crate) fn lookups(&self, hits: u64, misses: u64) {
        self.bump_by(|stripe| &stripe.hits, hits);
        self.bump_by(|stripe| &stripe.misses, misses);
    }

    /// Adds one to the `pick`ed counter of the calling thread's stripe.
    #[inline]
    fn bump(&self, pick: impl FnOnce(&Stripe) -> &AtomicU64) {
        self.bump_by(pick, 1);
    }

    /// Adds `n` to the `pick`ed counter of the calling thread's stripe.
    #[inline]
    fn bump_by(&self, pick: impl FnOnce(&Stripe) -> &AtomicU64, n: u64) {
        let index = STRIPE.get();
        if index < SHARED {
            // This thread alone writes this stripe (see `Lease`).
            let counter = pick(&self.stripes[index]);
            counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        } else {
            self.bump_shared(index, pick, n);
        }
    }

    /// [`bump`](Self::bump) for a thread with no stripe of its own (yet): the first count
    /// leases one, and a thread left without one counts on the shared stripe.
    #[cold]
    #[inline(never)]
    fn bump_shared(&self, index: usize, pick: impl FnOnce(&Stripe) -> &AtomicU64, n: u64) {
        if index == UNASSIGNED && assign_stripe() != SHARED {
            return self.bump_by(pick, n);
        }
        pick(&self.stripes[SHARED]).fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn add(&self, count: Count) {
        let counter = match count {
            Count::Stale => &self.stale,
            Count::Removal => &self.removals,
            Count::Load => &self.loads,
            Count::LoadFailure => &self.load_failures,
            Count::Fallback => &self.fallbacks,
            Count::Refresh => &self.refreshes,
            Count::RefreshFailure => &self.refresh_failures,
            Count::Error => &self.errors,
            Count::Warm => &self.warms,
            Count::WarmFailure => &self.warm_failures,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, backend: BackendStats) -> Stats {
        let sum = |f: fn(&Stripe) -> &AtomicU64| {
            self.stripes
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum()
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            hits: sum(|s| &s.hits),
            stale: get(&self.stale),
            misses: sum(|s| &s.misses),
            inserts: sum(|s| &s.inserts),
            removals: get(&self.removals),
            loads: get(&self.loads),
            load_failures: get(&self.load_failures),
            fallbacks: get(&self.fallbacks),
            refreshes: get(&self.refreshes),
            refresh_failures: get(&self.refresh_failures),
            errors: get(&self.errors),
            warms: get(&self.warms),
            warm_failures: get(&self.warm_failures),
            entries: backend.entries,
            weight: backend.weight,
            evicted: backend.evicted,
            expired: backend.expired,
            replaced: backend.replaced,
        }
    }
}

#[cfg(test)]
mod lease_tests {
    use super::{Counters, STRIPES};
    use crate::backend::BackendStats;

    #[test]
    fn leased_stripes_count_exactly_across_threads_that_come_and_go() {
        let counters = Counters::default();
        // More threads than stripes, so some share the overflow stripe; two waves, so the
        // second reuses the leases the first gave back.
        let threads = STRIPES as u64 + 4;
        for _wave in 0..2 {
            std::thread::scope(|s| {
                for t in 0..threads {
                    let counters = &counters;
                    s.spawn(move || {
                        for i in 0..100_000 {
                            counters.lookup((i + t) % 2 == 0);
                        }
                    });
                }
            });
        }
        let stats = counters.snapshot(BackendStats::default());
        assert_eq!(stats.hits + stats.misses, 2 * threads * 100_000);
        assert_eq!(stats.hits, threads * 100_000);
    }
}

#[cfg(test)]
mod teardown_tests {
    use std::sync::LazyLock;
    use std::sync::atomic::Ordering;

    use super::{Counters, SHARED};
    use crate::backend::BackendStats;

    static COUNTERS: LazyLock<Counters> = LazyLock::new(Counters::default);

    /// Counts a hit when its thread exits, like a cache read from another thread-local's
    /// destructor.
    struct HitOnExit;

    impl Drop for HitOnExit {
        fn drop(&mut self) {
            COUNTERS.lookup(true);
        }
    }

    thread_local! {
        static HIT_ON_EXIT: HitOnExit = const { HitOnExit };
    }

    #[test]
    fn a_count_after_the_lease_is_given_back_goes_to_the_shared_stripe() {
        std::thread::spawn(|| {
            // Registered first, so destroyed after the lease that the next line takes: by then
            // the stripe may belong to another thread, and only the shared one is safe.
            HIT_ON_EXIT.with(|_| {});
            COUNTERS.lookup(true);
        })
        .join()
        .unwrap();
        assert_eq!(COUNTERS.snapshot(BackendStats::default()).hits, 2);
        assert!(COUNTERS.stripes[SHARED].hits.load(Ordering::Relaxed) >= 1);
    }
}
