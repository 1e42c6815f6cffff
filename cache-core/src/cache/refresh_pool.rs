//! Where stale-while-revalidate reloads run, so the caller that found a stale value never waits.
//!
//! # Async loaders
//!
//! A reload of an `async` loader is a future; it is spawned on the Tokio runtime the caller runs
//! in (feature `tokio`), exactly like a task the user spawned. Outside a Tokio runtime memokit has
//! no executor to hand it to, so the caller that found the value stale awaits the reload itself
//! (see [`Cache::get_or_refresh_with_async`](crate::Cache::get_or_refresh_with_async)).
//!
//! # Sync loaders
//!
//! A sync reload needs a thread. The choices were: the caller that finds the value stale reloads
//! it before returning (no thread at all, but that caller pays the full load latency, which is
//! what stale-while-revalidate exists to avoid); a thread per refresh (unbounded: a thousand stale
//! keys make a thousand threads); or a small shared pool. memokit uses the pool:
//!
//! * at most [`WORKERS`] threads, named `memokit-refresh`, started on demand by the first refresh
//!   and exiting after [`IDLE`] without work, so a program that never refreshes never has one
//!   (the one exception to "no hidden threads", and only for caches that ask for `refresh`);
//! * a bounded queue of [`QUEUE`] reloads; when it is full the refresh is dropped and counted as
//!   a refresh failure: the old value stays, and the next stale hit tries again;
//! * one reload per key at a time is guaranteed before the queue (the reload is the key's single
//!   flight), so the queue holds distinct keys;
//! * a panicking reload is caught on the worker, which lives on; the old value stays.
//!
//! Caffeine refreshes on an `Executor` (ForkJoinPool by default) for the same reasons; moka has no
//! refresh at all. The context of the thread that started a refresh (its
//! [sandbox](mod@crate::sandbox) and its [`ManualClock`](crate::clock::ManualClock)) is entered
//! while the reload runs, so the reload writes, calls other caches and emits events in the test's
//! sandbox, and sees the test's time.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::sandbox::Captured;

/// The most threads reloading sync loaders at once.
pub(crate) const WORKERS: usize = 2;

/// The most sync reloads waiting for a worker; more are dropped (the old value stays).
pub(crate) const QUEUE: usize = 1024;

/// How long an idle worker waits for more work before its thread ends.
pub(crate) const IDLE: Duration = Duration::from_secs(1);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<PoolState>,
    ready: Condvar,
}

struct PoolState {
    queue: VecDeque<Job>,
    workers: usize,
    idle: usize,
}

static POOL: Pool = Pool {
    state: Mutex::new(PoolState {
        queue: VecDeque::new(),
        workers: 0,
        idle: 0,
    }),
    ready: Condvar::new(),
};

/// Queues a sync reload; gives it back if the queue is full or no worker could be started.
pub(crate) fn submit(job: Job) -> Result<(), Job> {
    let context = Captured::current();
    let job: Job = Box::new(move || {
        let _context = context.enter();
        job();
    });
    let mut state = POOL.state.lock();
    if state.queue.len() >= QUEUE {
        return Err(job);
    }
    state.queue.push_back(job);
    if state.idle > 0 {
        POOL.ready.notify_one();
    } else if state.workers < WORKERS {
        let spawned = std::thread::Builder::new()
            .name("memokit-refresh".into())
            .spawn(work);
        match spawned {
            Ok(_) => state.workers += 1,
            Err(_) if state.workers == 0 => {
                // Nobody will ever run it: give it back rather than strand it.
                return Err(state.queue.pop_back().expect("the job was just queued"));
            }
            // The running workers will get to it.
            Err(_) => {}
        }
    }
    Ok(())
}

fn work() {
    let mut state = POOL.state.lock();
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            // The job's own guards have already ended its flight and counted the failure.
            let _ = catch_unwind(AssertUnwindSafe(job));
            state = POOL.state.lock();
            continue;
        }
        state.idle += 1;
        let timed_out = POOL.ready.wait_for(&mut state, IDLE).timed_out();
        state.idle -= 1;
        if timed_out && state.queue.is_empty() {
            state.workers -= 1;
            return;
        }
    }
}

/// Spawns an async reload on the current Tokio runtime; gives it back when there is none.
#[cfg(feature = "tokio")]
pub(crate) fn spawn<F>(task: F) -> Result<(), F>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            drop(runtime.spawn(crate::sandbox::InSandbox::in_current_sandbox(task)));
            Ok(())
        }
        Err(_) => Err(task),
    }
}

/// Without the `tokio` feature there is no runtime to spawn on.
#[cfg(not(feature = "tokio"))]
pub(crate) fn spawn<F>(task: F) -> Result<(), F> {
    Err(task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::mpsc;

    #[test]
    fn a_panicking_job_does_not_stop_the_pool() {
        let (tx, rx) = mpsc::channel();
        assert!(submit(Box::new(|| panic!("reload failed"))).is_ok());
        let job: Job = Box::new(move || tx.send(7).unwrap());
        assert!(submit(job).is_ok());
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(7));
    }

    #[test]
    fn jobs_run_with_the_submitters_manual_clock() {
        let clock = ManualClock::new();
        let _installed = clock.install();
        clock.advance(Duration::from_secs(3600));
        let expected = crate::clock::now();
        let (tx, rx) = mpsc::channel();
        assert!(submit(Box::new(move || tx.send(crate::clock::now()).unwrap())).is_ok());
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(expected));
    }

    #[test]
    fn jobs_run_in_the_submitters_sandbox() {
        let sb = crate::sandbox();
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move || tx.send(crate::context::namespace()).unwrap());
        assert!(submit(job).is_ok());
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(sb.namespace()));
    }
}
