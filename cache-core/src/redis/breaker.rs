//! Skipping a Redis that just failed, so an outage costs callers at most one timeout each and
//! usually none.
//!
//! After a connection failure or a timeout the breaker opens for the retry interval: operations
//! fail at once with [`Unavailable`](BackendErrorKind::Unavailable). When the interval has passed,
//! the first caller to claim it probes Redis (the others keep failing fast for another interval);
//! a success closes the breaker. Errors Redis itself answers (a wrong type, a bad command) say
//! nothing about reachability and leave it alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::{self, duration_nanos};
use crate::error::{BackendError, BackendErrorKind};

use super::KIND;

/// 0 when closed, else the real-clock nanosecond until which operations are skipped.
#[derive(Debug)]
pub(crate) struct Breaker {
    open_until: AtomicU64,
    interval: u64,
}

impl Breaker {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            open_until: AtomicU64::new(0),
            interval: duration_nanos(interval),
        }
    }

    /// `Ok` if an operation may go to Redis now.
    pub(crate) fn admit(&self) -> Result<(), BackendError> {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return Ok(());
        }
        let now = clock::system_now().as_nanos();
        if now >= until {
            let next = now.saturating_add(self.interval);
            if self
                .open_until
                .compare_exchange(until, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(());
            }
        }
        Err(BackendError::new(
            KIND,
            BackendErrorKind::Unavailable,
            "skipped: Redis failed recently and is retried after the retry interval",
        ))
    }

    /// Records how an admitted operation ended.
    pub(crate) fn record<T>(&self, result: &Result<T, BackendError>) {
        match result {
            Err(e)
                if matches!(
                    e.kind(),
                    BackendErrorKind::Unavailable | BackendErrorKind::Timeout
                ) =>
            {
                let until = clock::system_now().as_nanos().saturating_add(self.interval);
                self.open_until.store(until.max(1), Ordering::Release);
            }
            // Only a recovery writes, so the shared word stays read-only on the hot path.
            _ => {
                if self.open_until.load(Ordering::Relaxed) != 0 {
                    self.open_until.store(0, Ordering::Release);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> Result<(), BackendError> {
        Err(BackendError::new(
            KIND,
            BackendErrorKind::Unavailable,
            "refused",
        ))
    }

    #[test]
    fn a_failure_opens_it_until_a_probe_succeeds() {
        let breaker = Breaker::new(Duration::ZERO);
        breaker.admit().unwrap();
        breaker.record(&unavailable());
        // With a zero interval the next caller may probe at once, and only one caller per interval.
        breaker.admit().unwrap();
        breaker.record(&Ok(()));
        breaker.admit().unwrap();
        breaker.admit().unwrap();
    }

    #[test]
    fn while_open_operations_fail_fast() {
        let breaker = Breaker::new(Duration::from_secs(3600));
        breaker.record(&unavailable());
        let err = breaker.admit().unwrap_err();
        assert_eq!(err.kind(), BackendErrorKind::Unavailable);
    }

    #[test]
    fn errors_from_redis_itself_leave_it_closed() {
        let breaker = Breaker::new(Duration::from_secs(3600));
        breaker.record::<()>(&Err(BackendError::new(
            KIND,
            BackendErrorKind::Protocol,
            "WRONGTYPE",
        )));
        breaker.admit().unwrap();
    }
}
