//! Single flight across processes
//! ([`CacheBuilder::distributed_flight`](crate::CacheBuilder::distributed_flight)): the
//! protocol over a backend's [leases](crate::backend::lease), run by the leader of this
//! process's own flight for a key, so a process asks the store once per key however many of its
//! callers missed it.
//!
//! 1. **Take** the key's lease (Redis: `SET <lease key> <token> NX PX <lease>`).
//! 2. **Won**: look at the value once more (the last holder may have stored it between this
//!    process's miss and its take); if it is there, release and return it. Otherwise the caller
//!    loads the key while [`Held`] renews the lease every `lease / 3` (compare-token, so a holder
//!    renews only its own: a thread beside a sync loader, a future polled with an async one),
//!    stores the value, then [releases](Held::release) the lease (compare-and-delete), which
//!    wakes the waiters (Redis: `PUBLISH` on the lease's channel).
//! 3. **Held by another process**: subscribe to the lease's releases, then look at the value
//!    (in that order, so a release between the two is not missed), and wait for a release or a
//!    pause, whichever comes first; then look again, and try to take the lease again. Pauses
//!    start at 5 ms and double up to 200 ms, never past the holder's lease: a wake-up that is
//!    lost (a store that cannot listen, a dropped subscription) costs a poll, not a stall, and a
//!    holder that died (its lease ran out unrenewed) is taken over within its lease.
//! 4. **Bounds**: a waiter waits at most the lease period plus one backend timeout in all, then
//!    loads the key itself ([`Turn::WaitedOut`]); a store that fails makes the caller fail open
//!    ([`Turn::Failed`]) as any lookup failure does.
//!
//! So the guarantee is at most one loader per lease period across processes, not exactly one:
//! a load that outlasts the lease while its holder cannot renew (a pause, a partition), or that
//! outlasts a waiter's bound, runs twice. Values cached here are recomputable by definition, so
//! a rare second load costs time, never correctness; a stall would.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::backend::lease::{Lease, Leases, Taken, Watch};
use crate::error::{BackendError, CacheError};

/// The lease period of `flight = "distributed"` when the attribute gives no `flight_lease`.
pub const DEFAULT_FLIGHT_LEASE: Duration = Duration::from_secs(10);

/// The first pause between looks while another process loads.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause between looks.
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// What this process's leader does after its turn at the key's lease.
pub(super) enum Turn<V> {
    /// Another process loaded the key: its value.
    Found(V),
    /// This process holds the lease: load and store the key, then release the guard.
    Lead(Held),
    /// The lease stayed taken for the whole bound: load the key without it.
    WaitedOut,
    /// The store failed: fail open, as after any failed lookup.
    Failed(CacheError),
}

/// The wait of one process's leader for another process's load: its bound and its pause.
struct Wait {
    deadline: Instant,
    pause: Duration,
}

impl Wait {
    /// A wait bounded by the lease period plus one backend operation.
    fn new(period: Duration, timeout: Duration) -> Self {
        Self {
            deadline: Instant::now() + period + timeout,
            pause: FIRST_PAUSE,
        }
    }

    /// What an attempt to take the lease leads to: `Ok(None)` when it was won, `Ok(Some(pause))`
    /// to wait that long before the next look (never past the holder's lease), or the turn's
    /// end: the bound is up, or the store failed.
    fn after<V>(
        &mut self,
        taken: Result<Taken, BackendError>,
        failed: impl Fn(BackendError) -> CacheError,
    ) -> Result<Option<Duration>, Turn<V>> {
        let left = match taken {
            Ok(Taken::Won) => return Ok(None),
            Ok(Taken::Held { left }) => left,
            Err(e) => return Err(Turn::Failed(failed(e))),
        };
        let remaining = self.deadline.checked_duration_since(Instant::now());
        let remaining = remaining.ok_or(Turn::WaitedOut)?;
        let pause = self
            .pause
            .min(left + Duration::from_millis(1))
            .min(remaining);
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        Ok(Some(pause))
    }
}

/// The turn a look at the value decides: the value, or the store's failure; `None` when the
/// value is not there yet.
fn settled<V>(looked: Result<Option<V>, CacheError>) -> Option<Turn<V>> {
    match looked {
        Ok(None) => None,
        Ok(Some(v)) => Some(Turn::Found(v)),
        Err(e) => Some(Turn::Failed(e)),
    }
}

/// This process's turn at `key`'s lease, for a loader that blocks; see the [module docs](self).
/// `look` reads the key's value; `failed` turns a lease error into the cache's error.
pub(super) fn turn<K, V>(
    leases: &dyn Leases<K>,
    key: &K,
    period: Duration,
    mut look: impl FnMut() -> Result<Option<V>, CacheError>,
    failed: impl Fn(BackendError) -> CacheError,
) -> Turn<V> {
    let lease = match leases.lease(key, period) {
        Ok(lease) => lease,
        Err(e) => return Turn::Failed(failed(e)),
    };
    let mut wait = Wait::new(period, leases.timeout());
    let mut watch: Option<Option<Box<dyn Watch>>> = None;
    loop {
        let pause = match wait.after(lease.take(), &failed) {
            Ok(Some(pause)) => pause,
            Ok(None) => {
                // The last holder may have stored the value since this process missed it.
                let Some(turn) = settled(look()) else {
                    return Turn::Lead(Held::new(lease, period));
                };
                // The release only wakes waiters early; if it fails, they see the value on
                // their next look or take the lease when it runs out.
                let _ = lease.release();
                return turn;
            }
            Err(turn) => return turn,
        };
        match &mut watch {
            // Listen before the next look, so a release in between is heard.
            None => watch = Some(lease.watch().ok()),
            Some(Some(listening)) => {
                if listening.wait(pause).is_err() {
                    watch = Some(None);
                }
            }
            Some(None) => thread::sleep(pause),
        }
        if let Some(turn) = settled(look()) {
            return turn;
        }
    }
}

/// Async form of [`turn`], for a loader that is a future.
#[cfg(any(feature = "tokio", feature = "redis"))]
pub(super) async fn turn_async<K, V, L>(
    leases: &dyn Leases<K>,
    key: &K,
    period: Duration,
    mut look: impl FnMut() -> L,
    failed: impl Fn(BackendError) -> CacheError,
) -> Turn<V>
where
    L: std::future::Future<Output = Result<Option<V>, CacheError>>,
{
    let lease = match leases.lease(key, period) {
        Ok(lease) => lease,
        Err(e) => return Turn::Failed(failed(e)),
    };
    let mut wait = Wait::new(period, leases.timeout());
    let mut watch: Option<Option<Box<dyn crate::backend::lease::WatchAsync>>> = None;
    loop {
        let pause = match wait.after(lease.take_async().await, &failed) {
            Ok(Some(pause)) => pause,
            Ok(None) => {
                let Some(turn) = settled(look().await) else {
                    return Turn::Lead(Held::unrenewed(lease));
                };
                let _ = lease.release_async().await;
                return turn;
            }
            Err(turn) => return turn,
        };
        match &mut watch {
            None => watch = Some(lease.watch_async().await.ok()),
            Some(Some(listening)) => {
                if listening.wait(pause).await.is_err() {
                    watch = Some(None);
                }
            }
            Some(None) => tokio::time::sleep(pause).await,
        }
        if let Some(turn) = settled(look().await) {
            return turn;
        }
    }
}

/// A lease this process holds while it loads the key: renewed until it is released or dropped.
///
/// A sync loader blocks its thread, so its lease is renewed from a thread of its own
/// (`memokit-lease`, alive only while the loader runs); an async loader's lease is renewed by a
/// future polled beside it ([`renew_while`](Self::renew_while)), with no task spawned. Dropping
/// an unreleased guard (a panicking loader) releases the lease; dropping an async one (a
/// cancelled future) cannot wait for the store, so its lease runs out by itself.
pub(super) struct Held {
    lease: Arc<dyn Lease>,
    renewer: Option<Renewer>,
    released: bool,
}

/// The thread renewing a sync loader's lease, and how to stop it.
struct Renewer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<()>,
}

impl Held {
    /// The lease of a sync loader, renewed every `period / 3` from a thread. If the thread
    /// cannot be had, the lease runs for one period unrenewed.
    fn new(lease: Arc<dyn Lease>, period: Duration) -> Self {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (renewed, signal) = (lease.clone(), stop.clone());
        let thread = thread::Builder::new()
            .name("memokit-lease".into())
            .spawn(move || renew_until_stopped(&*renewed, period / 3, &signal));
        Self {
            lease,
            renewer: thread.ok().map(|thread| Renewer { stop, thread }),
            released: false,
        }
    }

    /// The lease of an async loader: [`renew_while`](Self::renew_while) renews it.
    #[cfg(any(feature = "tokio", feature = "redis"))]
    fn unrenewed(lease: Arc<dyn Lease>) -> Self {
        Self {
            lease,
            renewer: None,
            released: false,
        }
    }

    /// Polls `load` to its end, renewing the lease every `period / 3` meanwhile.
    #[cfg(any(feature = "tokio", feature = "redis"))]
    pub(super) async fn renew_while<F: std::future::Future>(
        &self,
        period: Duration,
        load: F,
    ) -> F::Output {
        let lease = &self.lease;
        let renew = async {
            loop {
                tokio::time::sleep(period / 3).await;
                if let Ok(false) = lease.renew_async().await {
                    break;
                }
            }
            // Lost to another holder: nothing more to renew, the load goes on.
            std::future::pending::<()>().await;
        };
        let (mut load, mut renew) = (std::pin::pin!(load), std::pin::pin!(renew));
        std::future::poll_fn(|cx| {
            if let std::task::Poll::Ready(out) = load.as_mut().poll(cx) {
                return std::task::Poll::Ready(out);
            }
            let _ = renew.as_mut().poll(cx);
            std::task::Poll::Pending
        })
        .await
    }

    /// Stops renewing and gives the lease up, waking the other processes.
    pub(super) fn release(mut self) {
        self.stop_renewing();
        self.released = true;
        // A failed release only delays the waiters until the lease runs out.
        let _ = self.lease.release();
    }

    /// Async form of [`release`](Self::release).
    #[cfg(any(feature = "tokio", feature = "redis"))]
    pub(super) async fn release_async(mut self) {
        self.released = true;
        let _ = self.lease.release_async().await;
    }

    fn stop_renewing(&mut self) {
        if let Some(Renewer { stop, thread }) = self.renewer.take() {
            *stop.0.lock() = true;
            stop.1.notify_one();
            // At most one renewal in flight, bounded by the backend's timeout.
            let _ = thread.join();
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let sync = self.renewer.is_some();
        self.stop_renewing();
        if sync && !self.released {
            let _ = self.lease.release();
        }
    }
}

/// The renewing thread: renews `lease` every `every` until told to stop or the lease is lost.
fn renew_until_stopped(lease: &dyn Lease, every: Duration, stop: &(Mutex<bool>, Condvar)) {
    let (stopped, signal) = stop;
    let mut stopped = stopped.lock();
    while !*stopped {
        if signal.wait_for(&mut stopped, every).timed_out() && !*stopped {
            // A failed renewal is tried again next time: the lease may well still be ours.
            let renewed = MutexGuard::unlocked(&mut stopped, || lease.renew());
            if let Ok(false) = renewed {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BackendErrorKind;

    fn failed(e: BackendError) -> CacheError {
        CacheError::Backend {
            cache: "t".into(),
            source: e,
        }
    }

    fn pause(wait: &mut Wait, left: Duration) -> Duration {
        match wait.after::<()>(Ok(Taken::Held { left }), failed) {
            Ok(Some(pause)) => pause,
            _ => panic!("a held lease within the bound is waited for"),
        }
    }

    #[test]
    fn pauses_double_up_to_the_cap_and_never_outlast_the_holders_lease() {
        let mut wait = Wait::new(Duration::from_secs(60), Duration::ZERO);
        let long = Duration::from_secs(10);
        let pauses: Vec<_> = (0..8).map(|_| pause(&mut wait, long).as_millis()).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 200, 200]);
        assert_eq!(pause(&mut wait, Duration::ZERO), Duration::from_millis(1));
        assert!(matches!(wait.after::<()>(Ok(Taken::Won), failed), Ok(None)));
    }

    #[test]
    fn the_wait_ends_at_its_bound_and_at_the_first_failure() {
        let mut over = Wait::new(Duration::ZERO, Duration::ZERO);
        let held = Ok(Taken::Held {
            left: Duration::from_secs(1),
        });
        assert!(matches!(
            over.after::<()>(held, failed),
            Err(Turn::WaitedOut)
        ));
        let mut wait = Wait::new(Duration::from_secs(60), Duration::ZERO);
        let down = BackendError::new("redis", BackendErrorKind::Unavailable, "down");
        assert!(matches!(
            wait.after::<()>(Err(down), failed),
            Err(Turn::Failed(CacheError::Backend { .. }))
        ));
    }
}
