//! Helpers shared by the single-flight, refresh and sandbox tests.
#![allow(dead_code, reason = "each test file uses a subset of these helpers")]

use std::time::{Duration, Instant};

pub mod counted;

/// Long enough for any healthy run on a loaded CI machine; a regression (a deadlock, a lost
/// wake-up) fails after it instead of hanging the suite.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Spins (yielding the thread) until `done` holds; panics with `what` after [`DEADLINE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting for {what}");
        std::thread::yield_now();
    }
}

/// Async form of [`wait_until`]: yields the task instead of the thread.
pub async fn wait_until_async(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "gave up waiting for {what}");
        tokio::task::yield_now().await;
    }
}

/// Runs `f` on its own thread and returns its result or its panic, or panics after [`DEADLINE`]:
/// a test of something that could deadlock must fail, not hang.
pub fn within_deadline<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    rx.recv_timeout(DEADLINE)
        .expect("deadlocked: no result before the deadline")
}

/// The message of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// On the real clock, writes each of a few keys with `ttl` and reads it until it is gone,
/// asserting that this took at least `ttl` from before the write, less `resolution`, and that
/// it did go. Reads judge expiry by the clock's coarse reading and writes set deadlines by the
/// precise one, so memokit's own judgement never lets an entry go early: `resolution` is zero
/// but for a store that also expires keys by a clock of its own.
pub fn assert_never_expires_early<B: memokit::Backend<u64, u64>>(
    cache: &memokit::Cache<u64, u64, B>,
    ttl: Duration,
    resolution: Duration,
) {
    for key in 0..3 {
        let written = memokit::clock::now();
        cache.insert_with_ttl(key, key, ttl).unwrap();
        while cache.get(&key).unwrap().is_some() {
            std::hint::spin_loop();
        }
        let gone = memokit::clock::now().duration_since(written);
        assert!(
            gone + resolution >= ttl,
            "entry {key} expired after {gone:?}, before its TTL"
        );
        assert!(gone < DEADLINE, "entry {key} lived {gone:?}");
    }
}
