//! Stale-while-revalidate and forced refresh, driven by the manual clock.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use memokit::clock::ManualClock;
use memokit::{Cache, CacheError, cached};
use support::{DEADLINE, wait_until};

static RATE_RUNS: AtomicU32 = AtomicU32::new(0);

/// Each run returns a new rate: 1, 2, 3...
#[cached(refresh = "30s")]
fn rate(currency: &str) -> u32 {
    assert_eq!(currency, "eur");
    RATE_RUNS.fetch_add(1, Ordering::SeqCst) + 1
}

fn cached_rate() -> Option<u32> {
    RATE_MEMO.cache().unwrap().get("eur").unwrap()
}

#[test]
fn a_stale_hit_returns_the_old_value_and_reloads_in_the_background() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    assert_eq!(rate("eur"), 1);
    clock.advance(Duration::from_secs(29));
    assert_eq!(rate("eur"), 1, "fresh: a plain hit");
    assert_eq!(RATE_RUNS.load(Ordering::SeqCst), 1);

    clock.advance(Duration::from_secs(2));
    assert_eq!(rate("eur"), 1, "stale: the old value at once");
    wait_until("the background reload", || cached_rate() == Some(2));
    assert_eq!(rate("eur"), 2, "the reload stored a fresh value");
    let stats = RATE_MEMO.stats();
    assert_eq!((stats.loads, stats.refreshes), (1, 1));
    assert_eq!(RATE_RUNS.load(Ordering::SeqCst), 2);
}

static SLOW_RUNS: AtomicU32 = AtomicU32::new(0);
static SLOW_GATE: std::sync::Mutex<Option<mpsc::Receiver<()>>> = std::sync::Mutex::new(None);

/// The first run returns at once; later runs wait for the test to open the gate.
#[cached(refresh = "10s")]
fn slow(key: u8) -> u32 {
    let run = SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    if run > 0 {
        let gate = SLOW_GATE
            .lock()
            .unwrap()
            .take()
            .expect("one reload at a time");
        gate.recv_timeout(DEADLINE).unwrap();
    }
    u32::from(key) + run
}

#[test]
fn many_stale_hits_start_one_reload() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let (open, gate) = mpsc::channel();
    *SLOW_GATE.lock().unwrap() = Some(gate);
    assert_eq!(slow(5), 5);
    clock.advance(Duration::from_secs(11));
    for _ in 0..100 {
        assert_eq!(slow(5), 5, "stale hits never wait for the reload");
    }
    wait_until("the reload to start", || {
        SLOW_RUNS.load(Ordering::SeqCst) == 2
    });
    open.send(()).unwrap();
    wait_until("the reload to land", || {
        SLOW_MEMO.cache().unwrap().get(&5).unwrap() == Some(6)
    });
    assert_eq!(
        SLOW_RUNS.load(Ordering::SeqCst),
        2,
        "one reload for 100 stale hits"
    );
    assert_eq!(slow(5), 6);
}

static FLAKY_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached(refresh = "1m", ttl = "1h")]
fn flaky(key: u8) -> Result<u32, String> {
    match FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) {
        0 => Ok(u32::from(key)),
        1 => Err("upstream down".into()),
        _ => panic!("upstream exploded"),
    }
}

#[test]
fn a_failed_reload_keeps_the_old_value() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    assert_eq!(flaky(3), Ok(3));
    clock.advance(Duration::from_secs(61));
    assert_eq!(flaky(3), Ok(3));
    wait_until("the failed reload", || {
        FLAKY_MEMO.stats().refresh_failures == 1
    });
    // The old value stays, and is still stale: the next hit tries again (and panics, on the
    // worker, which survives it).
    assert_eq!(flaky(3), Ok(3));
    wait_until("the panicked reload", || {
        FLAKY_MEMO.stats().refresh_failures == 2
    });
    assert_eq!(flaky(3), Ok(3));
    assert_eq!(FLAKY_MEMO.stats().refreshes, 0);
}

#[test]
fn the_builder_rejects_a_refresh_that_could_never_fire() {
    let err = Cache::<u8, u8>::builder("refresh-after-ttl")
        .ttl(Duration::from_secs(60))
        .refresh(Duration::from_secs(60))
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        CacheError::Config {
            setting: "refresh",
            ..
        }
    ));
    let zero = Cache::<u8, u8>::builder("refresh-zero")
        .refresh(Duration::ZERO)
        .build();
    assert!(zero.is_err());
}

#[test]
fn cache_get_or_refresh_with_refreshes_in_the_background() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let cache: Cache<u8, String> = Cache::builder("refresh-cache-api")
        .refresh(Duration::from_secs(5))
        .build()
        .unwrap();
    assert_eq!(cache.get_or_refresh_with(1, || "a".into()).unwrap(), "a");
    assert_eq!(
        cache.get_or_refresh_with(1, || "unused".into()).unwrap(),
        "a"
    );
    clock.advance(Duration::from_secs(5));
    assert_eq!(cache.get_or_refresh_with(1, || "b".into()).unwrap(), "a");
    wait_until("the reload", || {
        cache.get(&1).unwrap().as_deref() == Some("b")
    });
    assert_eq!(cache.stats().refreshes, 1);
}

static FORCED_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached]
fn forced(key: u8) -> u32 {
    FORCED_RUNS.fetch_add(1, Ordering::SeqCst) + u32::from(key)
}

#[test]
fn a_forced_reload_runs_the_body_and_stores_its_result() {
    assert_eq!(forced(10), 10);
    assert_eq!(forced(10), 10);
    let reloaded = FORCED_MEMO.refresh(|| forced(10));
    assert_eq!(reloaded, 11, "the body ran although a value was cached");
    assert_eq!(forced(10), 11, "the reloaded value is what hits see");
    assert_eq!(FORCED_RUNS.load(Ordering::SeqCst), 2);

    let cache: Cache<u8, u8> = Cache::builder("refresh-forced").build().unwrap();
    cache.insert(1, 1).unwrap();
    assert_eq!(cache.refresh_with(1, || 2).unwrap(), 2);
    assert_eq!(cache.get(&1).unwrap(), Some(2));
}

#[cfg(feature = "tokio")]
mod with_tokio {
    use super::*;
    use support::wait_until_async;

    static ASYNC_RUNS: AtomicU32 = AtomicU32::new(0);

    #[cached(refresh = "30s")]
    async fn quote(symbol: String) -> u32 {
        assert_eq!(symbol, "ACME");
        ASYNC_RUNS.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn cached_quote() -> Option<u32> {
        QUOTE_MEMO.cache().unwrap().get("ACME").unwrap()
    }

    #[tokio::test]
    async fn an_async_stale_hit_spawns_the_reload_on_the_runtime() {
        let clock = ManualClock::new();
        let _installed = clock.install();
        assert_eq!(quote("ACME".into()).await, 1);
        clock.advance(Duration::from_secs(31));
        assert_eq!(
            quote("ACME".into()).await,
            1,
            "stale: the old value at once"
        );
        wait_until_async("the spawned reload", || cached_quote() == Some(2)).await;
        assert_eq!(quote("ACME".into()).await, 2);
        assert_eq!(QUOTE_MEMO.stats().refreshes, 1);
    }

    #[test]
    fn outside_a_runtime_the_stale_caller_reloads_itself() {
        let clock = ManualClock::new();
        let _installed = clock.install();
        let cache: Cache<u8, u8> = Cache::builder("refresh-no-runtime")
            .refresh(Duration::from_secs(1))
            .build()
            .unwrap();
        let get = |v: u8| {
            let cache = cache.clone();
            block_on_here(async move {
                cache
                    .get_or_refresh_with_async(1, async move { v })
                    .await
                    .unwrap()
            })
        };
        assert_eq!(get(1), 1);
        clock.advance(Duration::from_secs(2));
        assert_eq!(get(2), 2, "no runtime to spawn on: this caller reloaded");
    }

    /// Polls a future to completion on this thread, outside any Tokio runtime.
    fn block_on_here<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::yield_now();
        }
    }
}
