//! memokit's clock: one coarse, monotonic time source for every TTL, swappable per thread.
//!
//! Time is a [`Timestamp`]: nanoseconds on a line anchored to the wall clock once, at first use,
//! and advanced by the monotonic clock from then on. It never goes backwards inside a process (NTP jumps do
//! not expire or resurrect entries), and it stays comparable across processes to within their
//! clock skew, which is what a shared backend such as Redis needs for a stored write time.
//!
//! # Two readings of one clock
//!
//! A read that only judges whether an entry has expired takes the clock's *recent* reading
//! ([`recent`]): on Linux the kernel's coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`, the time
//! of the last scheduler tick, read from the vDSO in about 5 ns), elsewhere the precise one.
//! Everything else (a write's time, hence every deadline; an idle time recorded by a hit; the
//! time left that [`ttl`](crate::Cache::ttl) reports) takes the precise reading ([`now`], the
//! monotonic clock, about 35 ns on the benchmark VM, where it was most of the cost of a hit on a
//! cache with a TTL).
//!
//! Both are the same kernel clock, and the coarse one is never ahead of the precise one, so a
//! deadline set by a precise write is never judged passed early: an entry expires at its TTL or
//! a few milliseconds later. The coarse clock moves in ticks (`clock_getres`, 1 to 4 ms on common
//! kernels) and lags by one or two of them: 4 ms ticks and at most 7.8 ms behind on the benchmark
//! VM. Idle times are stamped precisely, since an early stamp would be an early expiry. This is
//! the trade Redis makes with its cached time: TTLs are seconds or minutes, and a read that costs
//! a seventh as much is worth a few milliseconds of lateness.
//!
//! Tests replace it with a [`ManualClock`]: installed on the current thread (and, through
//! sandboxes, on the tasks and threads they propagate to), it stands still until advanced, so a
//! TTL test moves time instead of sleeping.
//!
//! ```
//! use std::time::Duration;
//! use memokit_core::clock::{self, ManualClock};
//!
//! let manual = ManualClock::new();
//! let _guard = manual.install();
//! let t0 = clock::now();
//! manual.advance(Duration::from_secs(600));
//! assert_eq!(clock::now().duration_since(t0), Duration::from_secs(600));
//! ```

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::task::Waker;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};

/// A point on memokit's clock, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The timestamp `nanos` nanoseconds after the Unix epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// `self + d`, saturating at the end of time.
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(duration_nanos(d)))
    }

    /// How long after `earlier` this is; zero if it is not later.
    pub fn duration_since(self, earlier: Self) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Where the monotonic clock stood (`monotonic`, nanoseconds) when the wall clock read `wall`.
struct Anchor {
    monotonic: u64,
    wall: u64,
}

static ANCHOR: LazyLock<Anchor> = LazyLock::new(|| Anchor {
    monotonic: monotonic(Precision::Precise),
    wall: SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, duration_nanos),
});

#[derive(Clone, Copy)]
enum Precision {
    Precise,
    Coarse,
}

/// The kernel's monotonic clock in nanoseconds, through libc's `clock_gettime`, which reads it
/// from the vDSO without a system call; the coarse reading lags by a tick or two. (Miri has no
/// coarse clock: under it, the portable reading below.)
#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
fn monotonic(precision: Precision) -> u64 {
    let clock = match precision {
        Precision::Precise => libc::CLOCK_MONOTONIC,
        Precision::Coarse => libc::CLOCK_MONOTONIC_COARSE,
    };
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a live, writable `timespec`, the only memory the call writes. Both clocks
    // exist on every Linux since 2.6.32, so the call cannot fail; if it did, `t` would stay zero,
    // which `system` saturates to the anchor's time, never to a time ahead.
    unsafe { libc::clock_gettime(clock, &mut t) };
    // Both fields are non-negative on a monotonic clock.
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

/// Elsewhere there is one reading: [`Instant`](std::time::Instant), in nanoseconds since its
/// first use.
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(miri))))]
fn monotonic(_: Precision) -> u64 {
    use std::time::Instant;
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    duration_nanos(START.elapsed())
}

fn system(precision: Precision) -> Timestamp {
    let anchor = &*ANCHOR;
    let since = monotonic(precision).saturating_sub(anchor.monotonic);
    Timestamp(anchor.wall.saturating_add(since))
}

/// The real clock, ignoring any manual clock installed on this thread.
pub fn system_now() -> Timestamp {
    system(Precision::Precise)
}

thread_local! {
    /// The manual clock installed on this thread. An `Arc` has a destructor, so this is a
    /// separate thread-local from the namespace's plain `Cell`; only operations on entries with a
    /// TTL read it, and they borrow the `Arc` rather than clone it, so a test clock shared by many
    /// threads is not a contended counter.
    static INSTALLED: RefCell<Option<Arc<ManualClock>>> = const { RefCell::new(None) };
}

/// The current time: the manual clock installed on this thread if there is one, else the real one.
pub fn now() -> Timestamp {
    installed_now().unwrap_or_else(system_now)
}

/// The current time for judging expiry: as [`now`], but the real clock's coarse reading, which
/// is cheaper, never ahead and a few milliseconds behind at most (see the module docs). A manual clock reads
/// the same either way.
pub fn recent() -> Timestamp {
    installed_now().unwrap_or_else(|| system(Precision::Coarse))
}

fn installed_now() -> Option<Timestamp> {
    INSTALLED.with_borrow(|c| c.as_ref().map(|clock| clock.now()))
}

/// The manual clock installed on this thread, if any, to carry it to other threads and tasks.
pub(crate) fn installed() -> Option<Arc<ManualClock>> {
    INSTALLED.with_borrow(Clone::clone)
}

/// Installs `clock` on this thread (none: the real clock), returning the one it replaces.
pub(crate) fn replace_installed(clock: Option<Arc<ManualClock>>) -> Option<Arc<ManualClock>> {
    INSTALLED.with_borrow_mut(|c| std::mem::replace(c, clock))
}

/// A clock that stands still until it is advanced. Share it with `Arc`; install it with
/// [`ManualClock::install`] or through a sandbox.
#[derive(Debug)]
pub struct ManualClock {
    nanos: AtomicU64,
    /// Who waits for this clock to reach a time (a cache's warmer): woken by every advance.
    watchers: Mutex<Vec<Weak<Wakeup>>>,
}

impl ManualClock {
    /// A manual clock reading the real time now, wrapped in an `Arc` so it can be installed.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            nanos: AtomicU64::new(system_now().0),
            watchers: Mutex::new(Vec::new()),
        })
    }

    /// Its current reading.
    pub fn now(&self) -> Timestamp {
        Timestamp(self.nanos.load(Ordering::Acquire))
    }

    /// Moves it forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.nanos.fetch_add(duration_nanos(d), Ordering::AcqRel);
        self.watchers
            .lock()
            .retain(|watcher| match watcher.upgrade() {
                Some(wakeup) => {
                    wakeup.notify();
                    true
                }
                None => false,
            });
    }

    /// Wakes `wakeup` on every [`advance`](Self::advance), for as long as it lives.
    pub(crate) fn watch(&self, wakeup: &Arc<Wakeup>) {
        self.watchers.lock().push(Arc::downgrade(wakeup));
    }

    /// Makes it the clock of the current thread until the guard drops (panic or not); the
    /// previous clock comes back then.
    ///
    /// This moves time for this thread only, not for the caches it touches: an entry in the
    /// global namespace is judged by the clock of whichever thread looks at it, so another test
    /// listing every cache ([`caches`](crate::caches)) on its own clock can expire, or keep, what
    /// this one wrote. When other tests run beside yours, use a [`sandbox`](crate::sandbox())
    /// instead, which gives the test its own namespace with its own clock.
    pub fn install(self: &Arc<Self>) -> ClockGuard {
        ClockGuard {
            previous: replace_installed(Some(self.clone())),
        }
    }
}

/// Something a thread or a task waits on until it is notified (or a real-time cap passes):
/// background work that waits for a time on memokit's clock re-checks the clock when woken, and
/// a [`ManualClock`] it [watches](ManualClock::watch) notifies it on every advance, so a test
/// that advances a sandbox's clock wakes it at once instead of sleeping.
#[derive(Debug, Default)]
pub(crate) struct Wakeup {
    /// Counts notifications, so a waiter that read it before checking its condition cannot miss
    /// one sent in between.
    generation: Mutex<u64>,
    ready: Condvar,
    wakers: Mutex<Vec<Waker>>,
}

impl Wakeup {
    /// Wakes every thread and task waiting.
    pub(crate) fn notify(&self) {
        *self.generation.lock() += 1;
        self.ready.notify_all();
        for waker in self.wakers.lock().drain(..) {
            waker.wake();
        }
    }

    /// The current generation, to pass to [`wait`](Self::wait) after checking a condition.
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    /// Blocks until a notification after generation `seen`, or for `cap` at most.
    pub(crate) fn wait(&self, seen: u64, cap: Duration) {
        let mut generation = self.generation.lock();
        if *generation == seen {
            self.ready.wait_for(&mut generation, cap);
        }
    }

    /// Whether a notification came after generation `seen`; if not, `waker` is woken by the next.
    pub(crate) fn poll_changed(&self, seen: u64, waker: &Waker) -> bool {
        let generation = self.generation.lock();
        if *generation != seen {
            return true;
        }
        let mut wakers = self.wakers.lock();
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
        false
    }
}

/// Restores the thread's previous clock when dropped. See [`ManualClock::install`].
#[must_use = "the clock is uninstalled when the guard drops"]
#[derive(Debug)]
pub struct ClockGuard {
    previous: Option<Arc<ManualClock>>,
}

impl Drop for ClockGuard {
    fn drop(&mut self) {
        replace_installed(self.previous.take());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ManualClock, now, recent};

    #[test]
    fn the_recent_reading_is_never_ahead_of_the_precise_one_and_keeps_up() {
        for _ in 0..100_000 {
            // Read before: never ahead (a deadline is never judged passed early).
            let coarse = recent();
            let precise = now();
            assert!(coarse <= precise, "{coarse:?} is ahead of {precise:?}");
        }
        // Read after: behind by a tick or two (milliseconds); a second is room for a descheduled
        // thread on a loaded machine, and still fails a clock that does not move.
        let start = now();
        std::thread::sleep(Duration::from_millis(20));
        let coarse = recent();
        assert!(coarse > start, "the coarse clock did not move in 20 ms");
        assert!(now().duration_since(coarse) < Duration::from_secs(1));
    }

    #[test]
    fn a_manual_clock_reads_the_same_both_ways() {
        let manual = ManualClock::new();
        let _guard = manual.install();
        manual.advance(Duration::from_nanos(1_234_567));
        assert_eq!(recent(), manual.now());
        assert_eq!(now(), manual.now());
    }
}
