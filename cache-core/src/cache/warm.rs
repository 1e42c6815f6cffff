//! Proactive warmers (Cachex's `Cachex.Warmer`): a function that returns a batch of entries,
//! stored with [`Cache::insert_many`] at the cache's first use, then on an interval and on
//! demand, so the keys it knows are never a miss. The traits and the state are in `warmer.rs`,
//! where and when the runs happen in `warm_schedule.rs`; this file holds one run.
//!
//! A run that fails (an `Err`, a panic, or a store that could not be written) writes nothing:
//! the values already there stay, it counts in [`Stats::warm_failures`](crate::Stats), and an
//! `error` event carries the warmer's message. Runs of one cache never overlap: a run (in the
//! background or from [`Cache::warm`]) waits for the one in progress to finish.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::handle::Cache;
#[cfg(feature = "tokio")]
use super::warmer::CatchUnwind;
use super::warmer::{Flavour, WarmError, Warming, panic_message};
use crate::backend::Backend;
use crate::bounds::{CacheKey, CacheValue};
use crate::error::{BackendError, BackendErrorKind, CacheError};
use crate::stats::Count;
use crate::telemetry;

/// A warmer's answer with its panic folded in.
fn flattened<K, V>(
    answer: Result<Result<Vec<(K, V)>, WarmError>, String>,
) -> Result<Vec<(K, V)>, String> {
    answer.and_then(|entries| entries.map_err(|e| e.to_string()))
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// Runs the cache's warmer now, on this thread and in the current namespace (inside a test's
    /// sandbox, into that sandbox), after any run in progress; the number of entries stored.
    /// A failed run is a [`CacheError::Warm`] and keeps the values already there.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Cache;
    ///
    /// let rates: Cache<&'static str, f64> = Cache::builder("warm-doc")
    ///     .warmer(|| Ok::<_, String>([("eur", 1.0), ("usd", 1.08)]), Duration::from_secs(300))
    ///     .build()?;
    /// let _sb = memokit_core::sandbox();
    /// assert_eq!(rates.get(&"usd")?, None); // the first run wrote outside this sandbox
    /// assert_eq!(rates.warm()?, 2);
    /// assert_eq!(rates.get(&"usd")?, Some(1.08));
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn warm(&self) -> Result<usize, CacheError> {
        let warming = self.warming()?;
        match &warming.warmer.0 {
            Flavour::Blocking(warmer) => {
                let _run = warming.gate.enter();
                let answer = catch_unwind(AssertUnwindSafe(|| warmer.warm()))
                    .map_err(|payload| panic_message(payload.as_ref()));
                match flattened(answer) {
                    Ok(entries) => {
                        let n = entries.len();
                        let stored = self.insert_many(entries);
                        self.warmed(n, stored)
                    }
                    Err(message) => self.warm_failed(message),
                }
            }
            #[cfg(feature = "tokio")]
            Flavour::Async(_) => Err(CacheError::config(
                &self.inner.config.name,
                "warmer",
                "the warmer is async: run it with `warm_async().await`",
            )),
        }
    }

    /// Async form of [`warm`](Self::warm), for warmers of either flavour (a sync warmer runs on
    /// the calling task's thread).
    pub async fn warm_async(&self) -> Result<usize, CacheError> {
        let warming = self.warming()?;
        let _run = warming.gate.enter_async().await;
        let answer = match &warming.warmer.0 {
            Flavour::Blocking(warmer) => catch_unwind(AssertUnwindSafe(|| warmer.warm()))
                .map_err(|payload| panic_message(payload.as_ref())),
            #[cfg(feature = "tokio")]
            Flavour::Async(warmer) => CatchUnwind(Box::pin(warmer.warm())).await,
        };
        match flattened(answer) {
            Ok(entries) => {
                let n = entries.len();
                let stored = self.insert_many_async(entries).await;
                self.warmed(n, stored)
            }
            Err(message) => self.warm_failed(message),
        }
    }

    fn warming(&self) -> Result<&Warming<K, V>, CacheError> {
        self.inner.warming.as_ref().ok_or_else(|| {
            CacheError::config(
                &self.inner.config.name,
                "warmer",
                "this cache has no warmer: give it one with `Cache::builder(..).warmer(f, every)`",
            )
        })
    }

    /// Counts a run whose `n` entries were (or could not be) stored.
    fn warmed(&self, n: usize, stored: Result<(), CacheError>) -> Result<usize, CacheError> {
        let scope = self.scope()?;
        match stored {
            Ok(()) => {
                scope.counters.add(Count::Warm);
                Ok(n)
            }
            Err(e) => {
                scope.counters.add(Count::WarmFailure);
                Err(e)
            }
        }
    }

    /// Counts and reports a run whose warmer failed or panicked.
    fn warm_failed(&self, message: String) -> Result<usize, CacheError> {
        let scope = self.scope()?;
        scope.counters.add(Count::WarmFailure);
        let error = BackendError::new(
            B::KIND,
            BackendErrorKind::Other,
            format_args!("the warmer failed: {message}"),
        );
        telemetry::error(self.source(), &error);
        Err(CacheError::Warm {
            cache: self.inner.config.name.clone(),
            message: message.into(),
        })
    }
}
