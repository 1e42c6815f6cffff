//! Single flight: concurrent misses on one key run the loader once.
//!
//! The first caller to miss a key becomes its *leader* and gets a [`Leader`] guard; later callers
//! for the same key become *followers* and wait on the shared [`Flight`], a parked thread or a
//! task parked on its waker, so an async follower never blocks a runtime thread. Different keys live in different entries and never wait on each other; the table is
//! sharded so that joining a flight does not contend across unrelated keys, and a key's entry
//! lives only while its load runs, so the table stays as small as the number of loads in progress.
//!
//! # When the leader has nothing to share
//!
//! The leader completes the flight with the value to hand out, or with `None` when it has nothing
//! cacheable (the loader returned `Err` or `None`, panicked, or its future was dropped). `None`
//! makes each follower *retry*: they race to join again, one becomes the next leader and runs its
//! own loader, the others wait for it. Dropping the guard without completing it counts as `None`,
//! which is what makes panics and cancelled futures safe: nothing stays locked (the locks here are
//! `parking_lot`'s, which do not poison) and nobody waits for a leader that is gone.
//!
//! Handing the leader's `Err` to its followers instead (moka's `try_get_with` shares it as
//! `Arc<E>`, Cachex forwards it) was the alternative. Retrying was chosen because:
//!
//! * memoized functions return the user's own `Result<T, E>`; sharing would demand `E: Clone`,
//!   which common errors (`std::io::Error`) are not, or change the return type;
//! * each caller gets the result of a real attempt, so one transient failure costs one caller, not
//!   every caller that happened to arrive during it;
//! * the key still has at most one load in flight at any moment, so a failing dependency sees its
//!   callers one at a time rather than as a stampede.
//!
//! The price: under a persistent failure, `n` waiters run `n` attempts one after another. A
//! loader that bounds its own latency (a timeout) bounds that queue too.
//!
//! # Recursion
//!
//! A loader that asks its own cache for the key it is loading would wait for itself forever.
//! While a leader's loader runs (sync) or is being polled (async), the flight's identity sits on a
//! thread-local stack ([`Running`]); joining a flight that is on the current thread's stack is
//! [`Join::Recursion`] instead of a wait. The check costs nothing on a hit and one short scan on a
//! follower's join. It catches every re-entry on the same thread or task, however deep; a loader
//! that hands the same key to *another* thread or task and waits for it is a cycle this cannot
//! see, as is a cycle across keys through two threads (A loads 1 and asks for 2 while B loads 2 and
//! asks for 1).

use std::cell::RefCell;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::{self, Thread};

use equivalent::Equivalent;
use hashbrown::{DefaultHashBuilder, HashTable};
use parking_lot::Mutex;

const SHARDS: usize = 16;

/// Someone waiting for a flight: a parked thread or a pending task.
enum Waiter {
    Thread(Thread),
    Task(Waker),
}

/// One in-progress load, shared by its leader and followers.
///
/// The result is published in a `OnceLock` before the waiters are woken, so a woken follower
/// reads it without taking any lock: after a load, hundreds of followers proceed in parallel
/// instead of handing a mutex to each other one by one (as a condition variable would make them).
pub(crate) struct Flight<V> {
    result: OnceLock<Option<V>>,
    waiters: Mutex<Vec<Waiter>>,
}

impl<V: Clone> Flight<V> {
    fn new() -> Self {
        Self {
            result: OnceLock::new(),
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// Blocks the thread until the leader finishes; `None` means "retry".
    pub(crate) fn wait(&self) -> Option<V> {
        if self.register(|| Waiter::Thread(thread::current())) {
            loop {
                if self.result.get().is_some() {
                    break;
                }
                // Spurious wake-ups (and unpark tokens left by others) just loop.
                thread::park();
            }
        }
        self.result.get().cloned().flatten()
    }

    /// Waits for the leader without blocking the thread; `None` means "retry".
    pub(crate) fn wait_async(self: Arc<Self>) -> impl Future<Output = Option<V>> {
        WaitFlight { flight: self }
    }

    /// Adds a waiter unless the result is already out; whether it was added. Checked under the
    /// lock that [`finish`](Self::finish) drains, after publishing, so no waiter is missed.
    fn register(&self, waiter: impl FnOnce() -> Waiter) -> bool {
        if self.result.get().is_some() {
            return false;
        }
        let mut waiters = self.waiters.lock();
        if self.result.get().is_some() {
            return false;
        }
        waiters.push(waiter());
        true
    }
}

impl<V> Flight<V> {
    fn finish(&self, value: Option<V>) {
        // Set once: `Leader::end` runs once per flight.
        let _ = self.result.set(value);
        let waiters = std::mem::take(&mut *self.waiters.lock());
        for waiter in waiters {
            match waiter {
                Waiter::Thread(thread) => thread.unpark(),
                Waiter::Task(waker) => waker.wake(),
            }
        }
    }

    fn id(self: &Arc<Self>) -> usize {
        // The address identifies the flight while anyone holds it, and a `Running` entry is
        // only alive while its leader holds the `Arc`.
        Arc::as_ptr(self) as *const () as usize
    }
}

struct WaitFlight<V> {
    flight: Arc<Flight<V>>,
}

impl<V: Clone> Future for WaitFlight<V> {
    type Output = Option<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let flight = &self.flight;
        if let Some(result) = flight.result.get() {
            return Poll::Ready(result.clone());
        }
        let mut waiters = flight.waiters.lock();
        if let Some(result) = flight.result.get() {
            return Poll::Ready(result.clone());
        }
        let known = waiters
            .iter()
            .any(|w| matches!(w, Waiter::Task(w) if w.will_wake(cx.waker())));
        if !known {
            waiters.push(Waiter::Task(cx.waker().clone()));
        }
        Poll::Pending
    }
}

/// One key's running flight in the table, with the key's hash kept so the table can grow.
struct KeyFlight<K, V> {
    hash: u64,
    key: K,
    flight: Arc<Flight<V>>,
}

type Shard<K, V> = Mutex<HashTable<KeyFlight<K, V>>>;

/// The flights of one namespace of one cache.
pub(crate) struct Flights<K, V> {
    hasher: DefaultHashBuilder,
    shards: Arc<[Shard<K, V>; SHARDS]>,
}

/// The outcome of [`Flights::join`].
pub(crate) enum Join<K, V> {
    /// Nobody is loading this key: the caller must load it and complete the guard.
    Leader(Leader<K, V>),
    /// Someone is: wait on the flight.
    Follower(Arc<Flight<V>>),
    /// This thread or task is the one loading it: waiting would never end.
    Recursion,
}

impl<K: Hash + Eq, V: Clone> Flights<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            hasher: DefaultHashBuilder::default(),
            shards: Arc::new(std::array::from_fn(|_| Mutex::new(HashTable::new()))),
        }
    }

    /// Leads the load of `key`, or follows the one in flight.
    pub(crate) fn join(&self, key: &K) -> Join<K, V>
    where
        K: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let mut shard = self.shards[hash as usize % SHARDS].lock();
        if let Some(entry) = shard.find(hash, |e| e.key == *key) {
            let flight = entry.flight.clone();
            drop(shard);
            return if Running::contains(flight.id()) {
                Join::Recursion
            } else {
                Join::Follower(flight)
            };
        }
        Join::Leader(self.lead(&mut shard, hash, key.clone()))
    }

    /// Leads the load of `key` if nobody is loading it; never waits.
    pub(crate) fn try_lead(&self, key: &K) -> Option<Leader<K, V>>
    where
        K: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let mut shard = self.shards[hash as usize % SHARDS].lock();
        if shard.find(hash, |e| e.key == *key).is_some() {
            return None;
        }
        Some(self.lead(&mut shard, hash, key.clone()))
    }

    /// Whether a load of the key `q` stands for is in flight; allocates nothing.
    pub(crate) fn is_loading<Q: ?Sized + Hash + Equivalent<K>>(&self, q: &Q) -> bool {
        let hash = self.hasher.hash_one(q);
        let shard = self.shards[hash as usize % SHARDS].lock();
        shard.find(hash, |e| q.equivalent(&e.key)).is_some()
    }

    fn lead(&self, shard: &mut HashTable<KeyFlight<K, V>>, hash: u64, key: K) -> Leader<K, V> {
        let flight = Arc::new(Flight::new());
        shard.insert_unique(
            hash,
            KeyFlight {
                hash,
                key,
                flight: flight.clone(),
            },
            |e| e.hash,
        );
        Leader {
            shards: self.shards.clone(),
            hash,
            flight,
            done: false,
        }
    }
}

/// The right and duty to load one key; see the [module docs](self).
///
/// It owns a handle on its table, so a leader can move to another thread or task (a background
/// refresh) and still end its flight there.
pub(crate) struct Leader<K, V> {
    shards: Arc<[Shard<K, V>; SHARDS]>,
    hash: u64,
    flight: Arc<Flight<V>>,
    done: bool,
}

impl<K, V> Leader<K, V> {
    /// Ends the flight, handing `value` to the followers (`None`: they retry).
    pub(crate) fn complete(mut self, value: Option<V>) {
        self.end(value);
    }

    /// Marks the current thread as running this flight's loader until the guard drops.
    pub(crate) fn running(&self) -> Running {
        Running::push(self.flight.id())
    }

    /// Wraps the loader's future so every poll runs marked as this flight's loader.
    pub(crate) fn track<F: Future>(&self, future: F) -> RunningLoader<F> {
        Self::track_all([self], future)
    }

    /// Wraps one loader's future for all of `leaders` (a batch), so every poll runs marked as
    /// the loader of each of their flights.
    pub(crate) fn track_all<'l, F: Future>(
        leaders: impl IntoIterator<Item = &'l Self>,
        future: F,
    ) -> RunningLoader<F>
    where
        Self: 'l,
    {
        RunningLoader {
            ids: leaders.into_iter().map(|l| l.flight.id()).collect(),
            future: Box::pin(future),
        }
    }

    fn end(&mut self, value: Option<V>) {
        self.done = true;
        let mut shard = self.shards[self.hash as usize % SHARDS].lock();
        if let Ok(entry) = shard.find_entry(self.hash, |e| Arc::ptr_eq(&e.flight, &self.flight)) {
            entry.remove();
        }
        drop(shard);
        self.flight.finish(value);
    }
}

impl<K, V> Drop for Leader<K, V> {
    fn drop(&mut self) {
        if !self.done {
            // Panic or cancellation: release the followers so one of them takes over.
            self.end(None);
        }
    }
}

thread_local! {
    /// The flights whose loaders are running on this thread, innermost last.
    static RUNNING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks a flight's loader as running on this thread; unmarks it on drop, panic or not.
#[must_use]
pub(crate) struct Running {
    id: usize,
}

impl Running {
    fn push(id: usize) -> Self {
        RUNNING.with_borrow_mut(|stack| stack.push(id));
        Self { id }
    }

    /// One guard per id.
    fn push_all(ids: &[usize]) -> Vec<Self> {
        ids.iter().map(|&id| Self::push(id)).collect()
    }

    fn contains(id: usize) -> bool {
        RUNNING.with_borrow(|stack| stack.contains(&id))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with_borrow_mut(|stack| {
            // Guards drop in reverse order of creation, so this is the last entry; the search
            // only guards against a guard leaked with `mem::forget`.
            if let Some(at) = stack.iter().rposition(|&id| id == self.id) {
                stack.remove(at);
            }
        });
    }
}

/// A loader future of one or more leaders, marked as running while it is polled; see
/// [`Leader::track`] and [`Leader::track_all`].
///
/// The future is boxed so the wrapper is `Unpin` and needs no unsafe pin projection; that
/// allocation and the ids' are noise beside a load.
pub(crate) struct RunningLoader<F> {
    ids: Vec<usize>,
    future: Pin<Box<F>>,
}

impl<F: Future> Future for RunningLoader<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _running = Running::push_all(&this.ids);
        this.future.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_join_follows_and_gets_the_value() {
        let flights = Flights::<u32, u32>::new();
        let Join::Leader(leader) = flights.join(&1) else {
            panic!("the first join leads");
        };
        let Join::Follower(flight) = flights.join(&1) else {
            panic!("the second join follows");
        };
        assert!(flights.is_loading(&1));
        assert!(flights.try_lead(&1).is_none());
        assert!(flights.try_lead(&2).is_some(), "other keys are independent");
        leader.complete(Some(7));
        assert_eq!(flight.wait(), Some(7));
        assert!(!flights.is_loading(&1));
    }

    #[test]
    fn a_dropped_leader_tells_followers_to_retry() {
        let flights = Flights::<u32, u32>::new();
        let Join::Leader(leader) = flights.join(&1) else {
            panic!("the first join leads");
        };
        let Join::Follower(flight) = flights.join(&1) else {
            panic!("the second join follows");
        };
        drop(leader);
        assert_eq!(flight.wait(), None);
        assert!(matches!(flights.join(&1), Join::Leader(_)));
    }

    #[test]
    fn joining_a_flight_this_thread_runs_is_recursion() {
        let flights = Flights::<u32, u32>::new();
        let Join::Leader(leader) = flights.join(&1) else {
            panic!("the first join leads");
        };
        {
            let _running = leader.running();
            assert!(matches!(flights.join(&1), Join::Recursion));
            assert!(matches!(flights.join(&2), Join::Leader(_)));
        }
        assert!(matches!(flights.join(&1), Join::Follower(_)));
    }
}
