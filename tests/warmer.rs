//! Proactive warmers: the first run at first use, the interval on the sandbox's clock, runs on
//! demand, failures that keep the old values (with an `error` event and stats), no overlapping
//! runs under a slow warmer, and the end of the runs when the cache or its sandbox goes away.
//! The clock is a sandbox's `ManualClock`, so no test sleeps to make time pass; waits for the
//! background thread poll the cache's state with a generous limit.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use memokit::telemetry::{self, EventKind, names};
use memokit::{Cache, CacheError};

const EVERY: Duration = Duration::from_secs(300);

/// Waits for `done` on the warmer's thread, for ten seconds at most (a limit, never a measure).
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let limit = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < limit, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A warmer that counts its runs and stores `("run", n)` and `("fixed", 7)`.
fn counting(runs: &Arc<AtomicUsize>) -> impl Fn() -> Result<Vec<(String, usize)>, String> + use<> {
    let runs = runs.clone();
    move || {
        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(vec![("run".into(), n), ("fixed".into(), 7)])
    }
}

/// A cache called `name` warmed by [`counting`]; with `wait`, built once the first run is in.
fn counted(name: &str, runs: &Arc<AtomicUsize>, wait: bool) -> Cache<String, usize> {
    let builder = Cache::builder(name).warmer(counting(runs), EVERY);
    let builder = if wait {
        builder.warm_wait(Duration::from_secs(10))
    } else {
        builder
    };
    builder.build().unwrap()
}

#[test]
fn the_first_use_can_wait_for_the_first_run() {
    let _sb = memokit::sandbox();
    let runs = Arc::new(AtomicUsize::new(0));
    let cache = counted("warm-first-use", &runs, true);
    assert_eq!(cache.get("fixed").unwrap(), Some(7));
    assert_eq!(cache.get("run").unwrap(), Some(1));
    let stats = cache.stats();
    assert_eq!((stats.warms, stats.warm_failures, stats.inserts), (1, 0, 2));
}

#[test]
fn without_a_wait_the_first_run_happens_in_the_background() {
    let _sb = memokit::sandbox();
    let runs = Arc::new(AtomicUsize::new(0));
    let cache = counted("warm-background", &runs, false);
    eventually("the first run", || cache.stats().warms == 1);
    assert_eq!(cache.get("run").unwrap(), Some(1));
}

#[test]
fn runs_again_when_the_sandbox_clock_passes_the_interval() {
    let sb = memokit::sandbox();
    let runs = Arc::new(AtomicUsize::new(0));
    let cache = counted("warm-interval", &runs, true);
    assert_eq!(cache.get("run").unwrap(), Some(1));
    // Woken by the advance, the warmer finds the interval not yet over and waits on.
    sb.advance(EVERY / 2);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    sb.advance(EVERY / 2);
    eventually("the second run", || cache.stats().warms == 2);
    assert_eq!(cache.get("run").unwrap(), Some(2));
    sb.advance(EVERY);
    eventually("the third run", || cache.stats().warms == 3);
    assert_eq!(cache.get("run").unwrap(), Some(3));
}

#[test]
fn warm_runs_on_demand_in_the_callers_sandbox() {
    let runs = Arc::new(AtomicUsize::new(0));
    let first = memokit::sandbox();
    let cache = counted("warm-on-demand", &runs, true);
    {
        let _other = memokit::sandbox();
        assert_eq!(
            cache.get("fixed").unwrap(),
            None,
            "the first run wrote elsewhere"
        );
        assert_eq!(cache.warm().unwrap(), 2);
        assert_eq!(cache.get("run").unwrap(), Some(2));
        assert_eq!(cache.stats().warms, 1);
    }
    assert_eq!(
        cache.get("run").unwrap(),
        Some(1),
        "the first sandbox kept its run"
    );
    drop(first);
}

#[test]
fn a_failing_or_panicking_run_keeps_the_values_and_reports_itself() {
    const NAME: &str = "warm-failure";
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();
    telemetry::attach(NAME, move |event| {
        if event.cache == NAME
            && let EventKind::Error { error } = event.kind
        {
            assert_eq!(event.name(), names::ERROR);
            seen.lock().unwrap().push(error.message().to_owned());
        }
    })
    .unwrap();
    let sb = memokit::sandbox();
    let mode = Arc::new(AtomicUsize::new(0));
    let warmer = {
        let mode = mode.clone();
        move || match mode.load(Ordering::SeqCst) {
            0 => Ok(vec![(1u32, "ada".to_string())]),
            1 => Err("the database is down".to_string()),
            _ => panic!("warmer bug"),
        }
    };
    let cache: Cache<u32, String> = Cache::builder(NAME)
        .warmer(warmer, EVERY)
        .warm_wait(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("ada"));

    mode.store(1, Ordering::SeqCst);
    let err = cache.warm().unwrap_err();
    assert!(matches!(err, CacheError::Warm { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cache `warm-failure`: the warmer failed: the database is down"
    );
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("ada"));

    mode.store(2, Ordering::SeqCst);
    let err = cache.warm().unwrap_err();
    assert!(err.to_string().contains("panicked: warmer bug"), "{err}");
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("ada"));

    // The background run fails the same way, and lives on.
    sb.advance(EVERY);
    eventually("a failed background run", || {
        cache.stats().warm_failures == 3
    });
    mode.store(0, Ordering::SeqCst);
    sb.advance(EVERY);
    eventually("a good run after the failures", || cache.stats().warms == 2);
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("ada"));
    assert!(telemetry::detach(NAME));
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0], "the warmer failed: the database is down");
    assert!(errors[1].contains("panicked: warmer bug"), "{errors:?}");
}

#[test]
fn runs_never_overlap_under_a_slow_warmer() {
    let sb = memokit::sandbox();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let runs = Arc::new(AtomicUsize::new(0));
    let warmer = {
        let (running, most, runs) = (running.clone(), most.clone(), runs.clone());
        move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(3));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, String>(vec![(0u8, runs.fetch_add(1, Ordering::SeqCst))])
        }
    };
    let cache: Cache<u8, usize> = Cache::builder("warm-no-overlap")
        .warmer(warmer, EVERY)
        .build()
        .unwrap();
    // The background's first run and its next (the clock moves on) race six on-demand runs.
    std::thread::scope(|s| {
        for _ in 0..6 {
            let handle = sb.handle();
            let cache = &cache;
            s.spawn(move || {
                let _in = handle.enter();
                cache.warm().unwrap();
            });
        }
        sb.advance(EVERY);
    });
    eventually("the background runs", || runs.load(Ordering::SeqCst) >= 7);
    assert_eq!(most.load(Ordering::SeqCst), 1);
}

#[test]
fn the_runs_stop_when_the_cache_is_dropped() {
    let sb = memokit::sandbox();
    let token = Arc::new(());
    let runs = Arc::new(AtomicUsize::new(0));
    let warmer = {
        let (token, runs) = (token.clone(), runs.clone());
        move || {
            let _held = &token;
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(vec![(1u8, 1u8)])
        }
    };
    let cache: Cache<u8, u8> = Cache::builder("warm-stop-on-drop")
        .warmer(warmer, EVERY)
        .warm_wait(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(Arc::strong_count(&token), 2);
    drop(cache);
    // Nothing holds the warmer any more, so nothing can run it again.
    assert_eq!(Arc::strong_count(&token), 1);
    sb.advance(EVERY);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn the_runs_stop_when_the_sandbox_of_the_first_use_ends() {
    let runs = Arc::new(AtomicUsize::new(0));
    let sb = memokit::sandbox();
    let clock = sb.clock().clone();
    let cache = counted("warm-stop-with-sandbox", &runs, true);
    drop(sb);
    clock.advance(EVERY);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "no run into an ended sandbox"
    );
    assert_eq!(cache.stats().warms, 0, "and none outside it");
}

#[test]
fn a_cache_without_a_warmer_says_so() {
    let cache: Cache<u8, u8> = Cache::builder("warm-none").build().unwrap();
    let err = cache.warm().unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::Config {
                setting: "warmer",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Cache::<u8, u8>::builder("warm-wait-alone")
        .warm_wait(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::Config {
                setting: "warm_wait",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Cache::<u8, u8>::builder("warm-zero")
        .warmer(|| Ok::<_, String>(Vec::new()), Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::Config {
                setting: "warm_every",
                ..
            }
        ),
        "{err:?}"
    );
}

async fn load_scores() -> Result<Vec<(String, u32)>, std::io::Error> {
    tokio::task::yield_now().await;
    Ok(vec![("ada".into(), 10), ("bob".into(), 7)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_warmer_runs_on_tokio() {
    let sb = memokit::sandbox();
    let cache: Cache<String, u32> = Cache::builder("warm-async")
        .warmer(load_scores, EVERY)
        .build()
        .unwrap();
    let limit = Instant::now() + Duration::from_secs(10);
    while cache.stats().warms < 1 {
        assert!(
            Instant::now() < limit,
            "timed out waiting for the first run"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(cache.get("ada").unwrap(), Some(10));
    sb.advance(EVERY);
    while cache.stats().warms < 2 {
        assert!(
            Instant::now() < limit,
            "timed out waiting for the second run"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(cache.warm_async().await.unwrap(), 2);
    assert!(matches!(
        cache.warm().unwrap_err(),
        CacheError::Config {
            setting: "warmer",
            ..
        }
    ));
}

#[test]
fn an_async_warmer_needs_a_runtime_at_first_use() {
    let err = Cache::<String, u32>::builder("warm-async-no-runtime")
        .warmer(load_scores, EVERY)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("runs on Tokio"), "{err}");
}

static FAIL_NAMES: AtomicBool = AtomicBool::new(false);

fn load_names() -> Result<Vec<(u32, String)>, String> {
    if FAIL_NAMES.load(Ordering::SeqCst) {
        return Err("names unavailable".into());
    }
    Ok(vec![(1, "ada".into()), (2, "grace".into())])
}

#[derive(memokit::Cache)]
#[cache(key = u32, value = String, warmer = load_names, warm_every = "5m", warm_wait = "10s")]
struct Names;

#[test]
fn a_cache_module_warms_at_first_use_and_on_demand() {
    let _sb = memokit::sandbox();
    assert_eq!(Names::get(&2).unwrap().as_deref(), Some("grace"));
    Names::remove(&1).unwrap();
    assert_eq!(Names::warm().unwrap(), 2);
    assert_eq!(Names::get(&1).unwrap().as_deref(), Some("ada"));
    assert_eq!(Names::stats().warms, 2);
}
