//! Where a cache's warmer runs, and when.
//!
//! * **When.** Once when the cache is built (a cache module's static is built at its first use,
//!   so that is its first use), then `every` after each run ends, on memokit's clock: the
//!   [`ManualClock`](crate::clock::ManualClock) installed (or the sandbox entered) when the cache
//!   was built, else the real clock. A waiting warmer is woken by every advance of that manual
//!   clock, so a test moves the clock instead of sleeping; the wait has a real-time cap
//!   ([`CAP`]), after which it looks at the clock again.
//! * **Where.** A sync warmer runs on one thread of its own per warmed cache, named
//!   `memokit-warm:<cache>`: the second opt-in exception to "no hidden threads" after the refresh
//!   pool (`refresh_pool.rs`), and only for caches given a warmer. An async warmer is a task on
//!   the Tokio runtime current at the first use (feature `tokio`).
//! * **In which namespace.** The one current when the cache was built. It is held weakly: if it
//!   was a sandbox's, the warmer stops when that sandbox ends rather than write into a namespace
//!   that is gone, and it does not keep the sandbox alive. [`Cache::warm`] runs in the caller's
//!   namespace instead.
//! * **Until when.** The thread or task holds the cache weakly and stops when the cache is
//!   dropped (the last handle wakes it) or the process exits.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::handle::{Cache, Inner};
use super::warmer::{Flavour, Shared};
use crate::backend::Backend;
use crate::bounds::{CacheKey, CacheValue};
use crate::clock::{self, Timestamp};
use crate::error::CacheError;
use crate::sandbox::{Captured, WeakCaptured};

/// The longest a waiting warmer sleeps before it looks at its clock again.
pub(crate) const CAP: Duration = Duration::from_secs(1);

/// What the runner does next.
enum Step {
    Stop,
    Run(Captured),
    /// Wait for a notification after this generation, for this long at most.
    Wait(u64, Duration),
}

/// The background runner of one cache.
struct Runner<K, V, B> {
    cache: Weak<Inner<K, V, B>>,
    shared: Arc<Shared>,
    context: WeakCaptured,
    every: Duration,
    /// When the next run is due; `None`: now.
    due: Option<Timestamp>,
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Runner<K, V, B> {
    fn now(&self) -> Timestamp {
        self.context
            .clock()
            .map_or_else(clock::system_now, |manual| manual.now())
    }

    fn step(&self) -> Step {
        let seen = self.shared.wakeup.generation();
        if self.shared.stopped.load(Ordering::Acquire) {
            return Step::Stop;
        }
        let Some(context) = self.context.upgrade() else {
            return Step::Stop;
        };
        let now = self.now();
        match self.due {
            Some(due) if now < due => {
                let left = due.duration_since(now);
                let wait = if self.context.clock().is_some() {
                    CAP
                } else {
                    left.min(CAP)
                };
                Step::Wait(seen, wait)
            }
            _ => Step::Run(context),
        }
    }

    /// The cache, while it lives.
    fn cache(&self) -> Option<Cache<K, V, B>> {
        self.cache.upgrade().map(|inner| Cache { inner })
    }

    /// Counts a finished run and schedules the next.
    fn ran(&mut self) {
        self.due = Some(self.now().saturating_add(self.every));
        self.shared.runs.fetch_add(1, Ordering::AcqRel);
        self.shared.wakeup.notify();
    }

    fn run_blocking(mut self) {
        loop {
            match self.step() {
                Step::Stop => return,
                Step::Wait(seen, wait) => self.shared.wakeup.wait(seen, wait),
                Step::Run(context) => {
                    let Some(cache) = self.cache() else { return };
                    {
                        let _in = context.enter();
                        // Counted and reported by `warm`; the loop goes on.
                        let _ = cache.warm();
                    }
                    drop(cache);
                    self.ran();
                }
            }
        }
    }

    #[cfg(feature = "tokio")]
    async fn run_async(mut self) {
        loop {
            match self.step() {
                Step::Stop => return,
                Step::Wait(seen, wait) => {
                    let changed = super::warmer::Changed {
                        wakeup: &self.shared.wakeup,
                        seen,
                    };
                    // A timeout is only the cap: the clock is looked at either way.
                    let _ = tokio::time::timeout(wait, changed).await;
                }
                Step::Run(context) => {
                    let Some(cache) = self.cache() else { return };
                    let _ = context.wrap(cache.warm_async()).await;
                    drop(cache);
                    self.ran();
                }
            }
        }
    }
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// Starts the warmer's background runs, if the cache has a warmer; with `wait`, returns when
    /// the first run has finished or `wait` has passed, whichever comes first.
    pub(super) fn start_warming(&self, wait: Option<Duration>) -> Result<(), CacheError> {
        let Some(warming) = &self.inner.warming else {
            return Ok(());
        };
        let context = Captured::current().downgrade();
        if let Some(manual) = context.clock() {
            manual.watch(&warming.shared.wakeup);
        }
        let runner = Runner {
            cache: Arc::downgrade(&self.inner),
            shared: warming.shared.clone(),
            context,
            every: warming.every,
            due: None,
        };
        let name = &self.inner.config.name;
        match &warming.warmer.0 {
            Flavour::Blocking(_) => {
                std::thread::Builder::new()
                    .name(format!("memokit-warm:{name}"))
                    .spawn(move || runner.run_blocking())
                    .map_err(|e| {
                        CacheError::config(name, "warmer", format!("cannot start its thread: {e}"))
                    })?;
            }
            #[cfg(feature = "tokio")]
            Flavour::Async(_) => {
                let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
                    CacheError::config(
                        name,
                        "warmer",
                        "an async warmer runs on Tokio: use the cache first inside a Tokio runtime, or give it a sync warmer",
                    )
                })?;
                drop(runtime.spawn(runner.run_async()));
            }
        }
        if let Some(wait) = wait {
            warming.shared.wait_first_run(wait);
        }
        Ok(())
    }
}
