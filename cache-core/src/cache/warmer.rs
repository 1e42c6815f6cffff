//! The warmer traits ([`Warmer`], [`AsyncWarmer`], [`IntoWarmer`]) and the state a warmed cache
//! keeps: its warmer, the gate that keeps runs from overlapping, and what it shares with its
//! background runner. What a run does is in `warm.rs`; where and when runs happen in
//! `warm_schedule.rs`.

use std::error::Error;
use std::future::Future;
#[cfg(feature = "tokio")]
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::clock::Wakeup;

/// The error a warmer returns: anything that converts into a boxed error (`String`, `&str`,
/// `std::io::Error`, ...).
pub type WarmError = Box<dyn Error + Send + Sync>;

/// A function that returns a batch of entries to store in a cache, run at the cache's first use
/// and then on an interval; see [`CacheBuilder::warmer`](crate::CacheBuilder::warmer).
///
/// Implemented by every `Fn() -> Result<I, E>` where `I` iterates over `(K, V)` and `E` converts
/// into a [`WarmError`]:
///
/// ```
/// use memokit_core::{Warmer, WarmError};
///
/// fn countries() -> Result<Vec<(String, String)>, std::io::Error> {
///     Ok(vec![("fr".into(), "France".into()), ("jp".into(), "Japan".into())])
/// }
/// let entries = Warmer::warm(&countries).unwrap();
/// assert_eq!(entries.len(), 2);
/// ```
pub trait Warmer<K, V>: Send + Sync + 'static {
    /// The entries to store; an `Err` keeps the values already there.
    fn warm(&self) -> Result<Vec<(K, V)>, WarmError>;
}

impl<K, V, F, I, E> Warmer<K, V> for F
where
    F: Fn() -> Result<I, E> + Send + Sync + 'static,
    I: IntoIterator<Item = (K, V)>,
    E: Into<WarmError>,
{
    fn warm(&self) -> Result<Vec<(K, V)>, WarmError> {
        self()
            .map(|entries| entries.into_iter().collect())
            .map_err(Into::into)
    }
}

/// The future of an [`AsyncWarmer`].
pub type WarmFuture<'a, K, V> =
    Pin<Box<dyn Future<Output = Result<Vec<(K, V)>, WarmError>> + Send + 'a>>;

/// The async flavour of [`Warmer`], run on the Tokio runtime current at the cache's first use
/// (feature `tokio`). Implemented by every `Fn() -> impl Future<Output = Result<I, E>>`, such as
/// an `async fn`.
#[cfg(feature = "tokio")]
pub trait AsyncWarmer<K, V>: Send + Sync + 'static {
    /// The entries to store; an `Err` keeps the values already there.
    fn warm(&self) -> WarmFuture<'_, K, V>;
}

#[cfg(feature = "tokio")]
impl<K, V, F, Fut, I, E> AsyncWarmer<K, V> for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<I, E>> + Send + 'static,
    I: IntoIterator<Item = (K, V)>,
    E: Into<WarmError>,
{
    fn warm(&self) -> WarmFuture<'_, K, V> {
        let running = self();
        Box::pin(async move {
            running
                .await
                .map(|entries| entries.into_iter().collect())
                .map_err(Into::into)
        })
    }
}

/// A warmer of either flavour, as a cache keeps it; made by [`IntoWarmer`].
pub struct WarmerFn<K, V>(pub(super) Flavour<K, V>);

pub(super) enum Flavour<K, V> {
    Blocking(Arc<dyn Warmer<K, V>>),
    #[cfg(feature = "tokio")]
    Async(Arc<dyn AsyncWarmer<K, V>>),
}

/// What [`CacheBuilder::warmer`](crate::CacheBuilder::warmer) accepts: a [`Warmer`] or an
/// [`AsyncWarmer`]. `M` ([`Blocking`] or [`NonBlocking`]) tells the two apart, so one method
/// takes both; it is inferred, never written.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a warmer of `({K}, {V})` entries",
    label = "expected a function returning `Result<impl IntoIterator<Item = ({K}, {V})>, E>`",
    note = "a warmer is a sync `Fn() -> Result<I, E>` or (with feature `tokio`) an `async fn` returning that, where `I` iterates over the cache's `(key, value)` pairs and `E` converts into `Box<dyn Error + Send + Sync>`"
)]
pub trait IntoWarmer<K, V, M> {
    /// The warmer, as the cache keeps it.
    fn into_warmer(self) -> WarmerFn<K, V>;
}

/// Marks a [`Warmer`] for [`IntoWarmer`]: run on a thread of its own.
#[derive(Debug)]
pub enum Blocking {}

/// Marks an [`AsyncWarmer`] for [`IntoWarmer`]: run as a Tokio task.
#[derive(Debug)]
pub enum NonBlocking {}

/// A warmer already converted (as [`Settings::warmer`](crate::Settings::warmer) holds it).
impl<K, V> IntoWarmer<K, V, WarmerFn<K, V>> for WarmerFn<K, V> {
    fn into_warmer(self) -> WarmerFn<K, V> {
        self
    }
}

impl<K, V, W: Warmer<K, V>> IntoWarmer<K, V, Blocking> for W {
    fn into_warmer(self) -> WarmerFn<K, V> {
        WarmerFn(Flavour::Blocking(Arc::new(self)))
    }
}

#[cfg(feature = "tokio")]
impl<K, V, W: AsyncWarmer<K, V>> IntoWarmer<K, V, NonBlocking> for W {
    fn into_warmer(self) -> WarmerFn<K, V> {
        WarmerFn(Flavour::Async(Arc::new(self)))
    }
}

/// One run at a time, for threads and tasks alike.
#[derive(Default)]
pub(super) struct Gate {
    busy: AtomicBool,
    released: Wakeup,
}

/// How long a waiter sleeps before looking again, in case a release was missed.
const RECHECK: Duration = Duration::from_millis(50);

impl Gate {
    fn try_enter(&self) -> Option<GateGuard<'_>> {
        self.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
            .then(|| GateGuard(self))
    }

    pub(super) fn enter(&self) -> GateGuard<'_> {
        loop {
            let seen = self.released.generation();
            if let Some(guard) = self.try_enter() {
                return guard;
            }
            self.released.wait(seen, RECHECK);
        }
    }

    pub(super) async fn enter_async(&self) -> GateGuard<'_> {
        loop {
            let seen = self.released.generation();
            if let Some(guard) = self.try_enter() {
                return guard;
            }
            Changed {
                wakeup: &self.released,
                seen,
            }
            .await;
        }
    }
}

pub(super) struct GateGuard<'a>(&'a Gate);

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
        self.0.released.notify();
    }
}

/// Resolves at the first notification of `wakeup` after generation `seen`.
pub(super) struct Changed<'a> {
    pub(super) wakeup: &'a Wakeup,
    pub(super) seen: u64,
}

impl Future for Changed<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.wakeup.poll_changed(self.seen, cx.waker()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A future's output, or the message of its panic.
#[cfg(feature = "tokio")]
pub(super) struct CatchUnwind<F>(pub(super) Pin<Box<F>>);

#[cfg(feature = "tokio")]
impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let reason = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    format!("panicked: {reason}")
}

/// A cache's warmer and the state its runs share; kept in the cache, so dropping the cache
/// drops it and stops the background runs.
pub(crate) struct Warming<K, V> {
    pub(super) warmer: WarmerFn<K, V>,
    pub(super) gate: Gate,
    pub(super) every: Duration,
    pub(super) shared: Arc<Shared>,
}

/// What the cache and its background runner share.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) stopped: AtomicBool,
    /// Background runs finished, for the first use that waits for the first.
    pub(super) runs: AtomicU64,
    pub(super) wakeup: Arc<Wakeup>,
}

impl<K, V> Warming<K, V> {
    pub(super) fn new(warmer: WarmerFn<K, V>, every: Duration) -> Self {
        Self {
            warmer,
            gate: Gate::default(),
            every,
            shared: Arc::default(),
        }
    }
}

impl<K, V> Drop for Warming<K, V> {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.wakeup.notify();
    }
}

impl Shared {
    pub(super) fn wait_first_run(&self, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            let seen = self.wakeup.generation();
            if self.runs.load(Ordering::Acquire) > 0 {
                return;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            self.wakeup.wait(seen, left);
        }
    }
}
