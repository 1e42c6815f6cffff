//! Leases: what a shared store offers for single flight across processes
//! ([`CacheBuilder::distributed_flight`](crate::CacheBuilder::distributed_flight)).
//!
//! A backend that many processes share (Redis) hands out one [`Lease`] per key: a token that at
//! most one process holds at a time, for a period it renews while it loads. These are the
//! store's primitives only; the protocol that uses them (who waits, how long, when to take over,
//! when to give up and run the loader anyway) lives in the cache, in one place for every store,
//! and its guarantees are in the docs of `distributed_flight`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::BackendError;

/// The future of an async lease operation.
pub type LeaseFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BackendError>> + Send + 'a>>;

/// What an attempt to take a lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The lease is this process's now: load the key, then [`Lease::release`] it.
    Won,
    /// Another holder has it, for at most `left` unless it renews.
    Held {
        /// The time left on the holder's lease.
        left: Duration,
    },
}

/// A store's leases, one per key of a view (namespace); see the [module docs](self).
pub trait Leases<K>: Send + Sync {
    /// The lease of `key` in this view, under a token of its own, held for `period` at a time.
    /// No I/O: nothing is taken until [`Lease::take`].
    fn lease(&self, key: &K, period: Duration) -> Result<Arc<dyn Lease>, BackendError>;

    /// How long one operation on the store may take: a waiter waits at most the lease period
    /// plus this before it loads the key itself.
    fn timeout(&self) -> Duration;
}

/// The lease of one key under one token; see the [module docs](self). Every operation
/// compares the token, so a process never renews or releases a lease someone else holds.
pub trait Lease: Send + Sync {
    /// Takes the lease if nobody holds it.
    fn take(&self) -> Result<Taken, BackendError>;

    /// Extends the lease by its period if this token still holds it; whether it did.
    fn renew(&self) -> Result<bool, BackendError>;

    /// Gives the lease up if this token holds it, and wakes the processes waiting for it.
    fn release(&self) -> Result<(), BackendError>;

    /// Starts listening for releases of this lease, to wait between attempts to take it.
    fn watch(&self) -> Result<Box<dyn Watch>, BackendError>;

    /// Async form of [`take`](Self::take).
    fn take_async(&self) -> LeaseFuture<'_, Taken>;

    /// Async form of [`renew`](Self::renew).
    fn renew_async(&self) -> LeaseFuture<'_, bool>;

    /// Async form of [`release`](Self::release).
    fn release_async(&self) -> LeaseFuture<'_, ()>;

    /// Async form of [`watch`](Self::watch).
    fn watch_async(&self) -> LeaseFuture<'_, Box<dyn WatchAsync>>;
}

/// Releases of one lease, heard by a waiter; from [`Lease::watch`].
pub trait Watch: Send {
    /// Waits at most `timeout` for a release; whether one was heard. A store that cannot
    /// listen just sleeps, and the waiter polls.
    fn wait(&mut self, timeout: Duration) -> Result<bool, BackendError>;
}

/// Async form of [`Watch`]; from [`Lease::watch_async`].
pub trait WatchAsync: Send {
    /// Waits at most `timeout` for a release; whether one was heard.
    fn wait(&mut self, timeout: Duration) -> LeaseFuture<'_, bool>;
}
