//! Single flight: concurrent misses on one key run the loader once.
//!
//! The first caller to miss a key becomes its *leader* and gets a [`Leader`] guard; later callers
//! for the same key become *followers* and wait on the shared [`Flight`], a thread parked on a
//! condition variable or a task parked on its waker, so an async follower never blocks a runtime
//! thread. Different keys live in different entries and never wait on each other; the table is
//! sharded so that joining a flight does not contend across unrelated keys.
//!
//! The leader completes the flight with the value to hand out, or with `None` when it has nothing
//! to share (the loader failed, panicked, or its future was dropped). `None` makes each follower
//! retry: one of them becomes the next leader. Dropping the guard without completing it counts as
//! `None`, which is what makes panics and cancelled futures safe.

use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use hashbrown::{DefaultHashBuilder, HashTable};
use parking_lot::{Condvar, Mutex};

const SHARDS: usize = 16;

enum State<V> {
    Running(Vec<Waker>),
    Done(Option<V>),
}

/// One in-progress load, shared by its leader and followers.
pub(crate) struct Flight<V> {
    state: Mutex<State<V>>,
    done: Condvar,
}

impl<V: Clone> Flight<V> {
    /// Blocks the thread until the leader finishes; `None` means "retry".
    pub(crate) fn wait(&self) -> Option<V> {
        let mut state = self.state.lock();
        loop {
            match &*state {
                State::Done(v) => return v.clone(),
                State::Running(_) => self.done.wait(&mut state),
            }
        }
    }

    /// Waits for the leader without blocking the thread; `None` means "retry".
    pub(crate) fn wait_async(self: Arc<Self>) -> impl Future<Output = Option<V>> {
        WaitFlight { flight: self }
    }
}

impl<V> Flight<V> {
    fn finish(&self, value: Option<V>) {
        let wakers = match std::mem::replace(&mut *self.state.lock(), State::Done(value)) {
            State::Running(wakers) => wakers,
            State::Done(_) => Vec::new(),
        };
        self.done.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }
}

struct WaitFlight<V> {
    flight: Arc<Flight<V>>,
}

impl<V: Clone> Future for WaitFlight<V> {
    type Output = Option<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.flight.state.lock();
        match &mut *state {
            State::Done(v) => Poll::Ready(v.clone()),
            State::Running(wakers) => {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

struct Entry<K, V> {
    hash: u64,
    key: K,
    flight: Arc<Flight<V>>,
}

/// The flights of one namespace of one cache.
pub(crate) struct Flights<K, V> {
    hasher: DefaultHashBuilder,
    shards: [Mutex<HashTable<Entry<K, V>>>; SHARDS],
}

/// The outcome of [`Flights::join`].
pub(crate) enum Join<'a, K, V> {
    /// Nobody is loading this key: the caller must load it and complete the guard.
    Leader(Leader<'a, K, V>),
    /// Someone is: wait on the flight.
    Follower(Arc<Flight<V>>),
}

impl<K: Hash + Eq, V: Clone> Flights<K, V> {
    pub(crate) fn new() -> Self {
        Self {
            hasher: DefaultHashBuilder::default(),
            shards: std::array::from_fn(|_| Mutex::new(HashTable::new())),
        }
    }

    pub(crate) fn join(&self, key: &K) -> Join<'_, K, V>
    where
        K: Clone,
    {
        let hash = self.hasher.hash_one(key);
        let mut shard = self.shards[hash as usize % SHARDS].lock();
        if let Some(entry) = shard.find(hash, |e| e.key == *key) {
            return Join::Follower(entry.flight.clone());
        }
        let flight = Arc::new(Flight {
            state: Mutex::new(State::Running(Vec::new())),
            done: Condvar::new(),
        });
        shard.insert_unique(
            hash,
            Entry {
                hash,
                key: key.clone(),
                flight: flight.clone(),
            },
            |e| e.hash,
        );
        Join::Leader(Leader {
            flights: self,
            hash,
            flight,
            done: false,
        })
    }
}

/// The right and duty to load one key; see the [module docs](self).
pub(crate) struct Leader<'a, K, V> {
    flights: &'a Flights<K, V>,
    hash: u64,
    flight: Arc<Flight<V>>,
    done: bool,
}

impl<K, V> Leader<'_, K, V> {
    /// Ends the flight, handing `value` to the followers (`None`: they retry).
    pub(crate) fn complete(mut self, value: Option<V>) {
        self.end(value);
    }

    fn end(&mut self, value: Option<V>) {
        self.done = true;
        let mut shard = self.flights.shards[self.hash as usize % SHARDS].lock();
        if let Ok(entry) = shard.find_entry(self.hash, |e| Arc::ptr_eq(&e.flight, &self.flight)) {
            entry.remove();
        }
        drop(shard);
        self.flight.finish(value);
    }
}

impl<K, V> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        if !self.done {
            // Panic or cancellation: release the followers so one of them takes over.
            self.end(None);
        }
    }
}
