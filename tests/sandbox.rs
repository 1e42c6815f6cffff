//! Test sandboxes: nesting, panics, propagation to threads and tasks, strict caches, time travel
//! and per-sandbox stats. The tests of this file run in parallel with each other, which is part
//! of what they check.

mod support;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use memokit::sandbox::{self, InSandbox, SandboxHandle};
use memokit::telemetry::names;
use memokit::{Cache, Namespace, cached, clock, context, sandboxed};
use support::counted::{Counted, Live};
use support::wait_until;
#[cfg(feature = "tokio")]
use support::wait_until_async;

/// Bodies run by [`double`], over every test of this file and every namespace.
static DOUBLE_RUNS: AtomicU64 = AtomicU64::new(0);

#[cached(ttl = "10m")]
fn double(x: u64) -> u64 {
    DOUBLE_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 2
}

static NUMBERS: LazyLock<Cache<&'static str, u64>> =
    LazyLock::new(|| Cache::builder("sandbox::numbers").build().unwrap());

#[cached(sandbox = "required")]
fn strict_square(x: u64) -> u64 {
    x * x
}

#[test]
fn nested_sandboxes_are_isolated_and_restore_the_outer_one() {
    let outer = memokit::sandbox();
    NUMBERS.insert("k", 1).unwrap();
    let outer_time = clock::now();
    {
        let inner = memokit::sandbox();
        assert_ne!(inner.namespace(), outer.namespace());
        assert_eq!(context::namespace(), inner.namespace());
        assert_eq!(NUMBERS.get(&"k").unwrap(), None);
        NUMBERS.insert("k", 2).unwrap();
        let inner_start = clock::now();
        inner.advance(Duration::from_secs(3600));
        assert_eq!(
            clock::now().duration_since(inner_start),
            Duration::from_secs(3600)
        );
    }
    assert_eq!(context::namespace(), outer.namespace());
    assert_eq!(
        sandbox::current().map(|h| h.namespace()),
        Some(outer.namespace())
    );
    assert_eq!(
        clock::now(),
        outer_time,
        "the outer sandbox's clock is back"
    );
    assert_eq!(NUMBERS.get(&"k").unwrap(), Some(1));
    drop(outer);
    assert_eq!(context::namespace(), Namespace::GLOBAL);
    assert!(sandbox::current().is_none());
}

#[test]
fn dropping_the_guard_frees_the_entries_of_every_cache() {
    let live = Live::default();
    let prebuilt: Cache<u64, Counted> = Cache::builder("sandbox::prebuilt").build().unwrap();
    prebuilt.insert(0, live.value(0)).unwrap(); // global: survives every sandbox
    let sb = memokit::sandbox();
    // Built inside the sandbox: it registers on build, so teardown finds it too.
    let built_inside: Cache<u64, Counted> = Cache::builder("sandbox::inside").build().unwrap();
    for i in 1..=10 {
        prebuilt.insert(i, live.value(i)).unwrap();
        built_inside.insert(i, live.value(i)).unwrap();
    }
    assert_eq!(live.count(), 21);
    drop(sb);
    assert_eq!(live.count(), 1, "only the global entry is left");
    assert_eq!(prebuilt.get(&0).unwrap().map(|c| c.n), Some(0));
    assert_eq!(built_inside.len(), 0);
}

/// Writes an entry, reports its sandbox, and panics.
#[sandboxed]
fn write_then_panic(live: &Live, seen: &Cell<Namespace>, cache: &Cache<u64, Counted>) {
    seen.set(context::namespace());
    cache.insert(1, live.value(1)).unwrap();
    panic!("boom");
}

#[test]
fn a_panic_inside_a_sandboxed_function_restores_the_context_and_frees_its_data() {
    let live = Live::default();
    let cache: Cache<u64, Counted> = Cache::builder("sandbox::panics").build().unwrap();
    let seen = Cell::new(Namespace::GLOBAL);
    let outer = memokit::sandbox();
    let result = catch_unwind(AssertUnwindSafe(|| write_then_panic(&live, &seen, &cache)));
    assert!(result.is_err());
    assert!(!seen.get().is_global() && seen.get() != outer.namespace());
    assert_eq!(context::namespace(), outer.namespace());
    assert_eq!(live.count(), 0, "the panicking sandbox's entry was freed");
}

#[test]
#[should_panic(expected = "inside a sandbox")]
#[sandboxed]
fn should_panic_composes_with_sandboxed() {
    assert!(!context::namespace().is_global());
    panic!("inside a sandbox");
}

#[test]
fn a_handle_keeps_the_data_until_the_last_holder_lets_go() {
    let live = Live::default();
    let cache: Cache<u64, Counted> = Cache::builder("sandbox::straggler").build().unwrap();
    let sb = memokit::sandbox();
    cache.insert(1, live.value(1)).unwrap();
    let handle = sb.handle();
    drop(sb);
    assert_eq!(live.count(), 1, "a handle still refers to the sandbox");
    {
        let _in = handle.enter();
        assert_eq!(cache.get(&1).unwrap().map(|c| c.n), Some(1));
    }
    drop(handle);
    assert_eq!(live.count(), 0);
}

#[test]
fn threads_join_the_sandbox_only_through_the_helpers() {
    let sb = memokit::sandbox();
    let ns = sb.namespace();
    let plain = std::thread::spawn(context::namespace).join().unwrap();
    assert_eq!(plain, Namespace::GLOBAL, "a plain thread starts outside");

    let spawned = sandbox::spawn(|| {
        NUMBERS.insert("from-thread", 7).unwrap();
        context::namespace()
    });
    assert_eq!(spawned.join().unwrap(), ns);
    assert_eq!(NUMBERS.get(&"from-thread").unwrap(), Some(7));

    let handle = sb.handle();
    let entered = std::thread::spawn(move || {
        let _in = handle.enter();
        NUMBERS.get(&"from-thread").unwrap()
    });
    assert_eq!(entered.join().unwrap(), Some(7));
    assert_eq!(sb.spawn(context::namespace).join().unwrap(), ns);
}

#[test]
fn threads_share_the_sandbox_clock() {
    let sb = memokit::sandbox();
    let before = clock::now();
    sb.advance(Duration::from_secs(5));
    let seen = sandbox::spawn(clock::now).join().unwrap();
    assert_eq!(seen.duration_since(before), Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_join_the_sandbox_through_the_future_adapters() {
    let sb = SandboxHandle::new();
    let ns = sb.namespace();
    let wrapped = tokio::spawn(sb.wrap(async {
        assert_eq!(double(21), 42);
        tokio::task::yield_now().await;
        context::namespace()
    }));
    assert_eq!(wrapped.await.unwrap(), ns);
    let _in = sb.enter();
    let current = tokio::spawn(async { context::namespace() }.in_current_sandbox());
    assert_eq!(current.await.unwrap(), ns);
    let plain = tokio::spawn(async { context::namespace() });
    assert_eq!(
        plain.await.unwrap(),
        Namespace::GLOBAL,
        "workers start outside"
    );
    assert_eq!(
        DOUBLE_MEMO.len(),
        1,
        "the wrapped task cached into the sandbox"
    );
}

#[sandboxed]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxed_above_a_multi_thread_test_follows_the_body_across_polls() {
    let ns = context::namespace();
    assert!(!ns.is_global());
    NUMBERS.insert("async", 1).unwrap();
    for _ in 0..20 {
        // Yielding lets the runtime resume the body wherever it likes.
        tokio::task::yield_now().await;
        assert_eq!(context::namespace(), ns);
        assert_eq!(NUMBERS.get(&"async").unwrap(), Some(1));
    }
    let task = tokio::spawn(async { NUMBERS.get(&"async").unwrap() }.in_current_sandbox());
    assert_eq!(task.await.unwrap(), Some(1));
}

#[tokio::test]
#[sandboxed]
async fn sandboxed_below_a_current_thread_test() {
    assert!(!context::namespace().is_global());
    assert_eq!(NUMBERS.get(&"async").unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
#[sandboxed]
async fn sandboxed_below_a_multi_thread_test() {
    let ns = context::namespace();
    assert!(!ns.is_global());
    tokio::task::yield_now().await;
    assert_eq!(context::namespace(), ns);
}

#[sandboxed]
#[tokio::test]
async fn sandboxed_async_test_can_return_a_result() -> Result<(), memokit::CacheError> {
    NUMBERS.insert("result", 3)?;
    assert_eq!(NUMBERS.get(&"result")?, Some(3));
    Ok(())
}

#[sandboxed]
#[test]
fn sandboxed_above_test() {
    assert!(!context::namespace().is_global());
}

#[test]
#[should_panic(expected = "requires a test sandbox")]
fn a_strict_memoized_function_panics_outside_a_sandbox() {
    strict_square(3);
}

#[test]
fn the_strict_panic_names_the_cache_and_the_fix() {
    let panic = catch_unwind(|| strict_square(4)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("cache `sandbox::strict_square`"),
        "{message}"
    );
    assert!(
        message.contains("let _sb = memokit::sandbox();"),
        "{message}"
    );
    assert!(message.contains("#[memokit::sandboxed]"), "{message}");
}

#[test]
#[sandboxed]
fn a_strict_memoized_function_works_inside_a_sandbox() {
    assert_eq!(strict_square(5), 25);
    assert_eq!(STRICT_SQUARE_MEMO.stats().loads, 1);
}

#[test]
fn a_strict_hand_built_cache_panics_outside_only() {
    let strict: Cache<u8, u8> = Cache::builder("sandbox::strict-built")
        .require_sandbox(true)
        .build()
        .unwrap();
    assert!(strict.config().sandbox_required());
    {
        let _sb = memokit::sandbox();
        strict.insert(1, 1).unwrap();
        assert_eq!(strict.get(&1).unwrap(), Some(1));
    }
    // Listing and clearing every cache stays possible outside a sandbox.
    assert!(
        memokit::caches()
            .iter()
            .any(|c| c.name == "sandbox::strict-built")
    );
    let outside = catch_unwind(AssertUnwindSafe(|| strict.get(&1)));
    assert!(outside.is_err());
    let lenient: Cache<u8, u8> = Cache::builder("sandbox::lenient")
        .require_sandbox(false)
        .build()
        .unwrap();
    lenient.insert(1, 1).unwrap();
}

#[test]
fn time_travel_expires_ttls_without_sleeping() {
    let sb = memokit::sandbox();
    let cache: Cache<u8, u8> = Cache::builder("sandbox::ttl")
        .ttl(Duration::from_secs(600))
        .build()
        .unwrap();
    cache.insert(1, 1).unwrap();
    sb.advance(Duration::from_secs(599));
    assert_eq!(cache.get(&1).unwrap(), Some(1));
    sb.advance(Duration::from_secs(1));
    assert_eq!(cache.get(&1).unwrap(), None);
}

#[test]
fn time_travel_expires_idle_entries() {
    let sb = memokit::sandbox();
    let cache: Cache<u8, u8> = Cache::builder("sandbox::tti")
        .tti(Duration::from_secs(60))
        .build()
        .unwrap();
    cache.insert(1, 1).unwrap();
    for _ in 0..5 {
        sb.advance(Duration::from_secs(59));
        assert_eq!(cache.get(&1).unwrap(), Some(1), "each read keeps it alive");
    }
    sb.advance(Duration::from_secs(60));
    assert_eq!(cache.get(&1).unwrap(), None);
}

#[test]
#[sandboxed]
fn time_travel_reloads_a_memoized_function() {
    let sb = sandbox::current().unwrap();
    assert_eq!(double(50), 100);
    assert_eq!(double(50), 100);
    assert_eq!(DOUBLE_MEMO.stats().loads, 1);
    sb.advance(Duration::from_secs(601));
    assert_eq!(double(50), 100);
    assert_eq!(
        DOUBLE_MEMO.stats().loads,
        2,
        "the TTL passed: the body ran again"
    );
}

#[test]
fn sandbox_stats_report_what_this_sandbox_did_over_every_cache() {
    let other = memokit::sandbox();
    NUMBERS.insert("other", 1).unwrap();
    let sb = memokit::sandbox();
    let before = sb.stats();
    assert_eq!(
        before,
        memokit::Stats::default(),
        "a fresh sandbox did nothing"
    );
    NUMBERS.insert("a", 1).unwrap();
    assert_eq!(NUMBERS.get(&"a").unwrap(), Some(1));
    assert_eq!(NUMBERS.get(&"b").unwrap(), None);
    assert_eq!(double(7), 14);
    let stats = sb.stats();
    assert_eq!(stats.inserts, 2, "one insert, one load: {stats:?}");
    assert_eq!(stats.loads, 1);
    assert_eq!(stats.hits, 1);
    assert_eq!(
        stats.misses, 2,
        "`b` and the first call of `double`: {stats:?}"
    );
    assert_eq!(stats.entries, 2);
    drop(sb);
    assert_eq!(other.stats().inserts, 1);
    assert_eq!(other.stats().entries, 1);
}

#[test]
fn namespaces_are_distinct_and_never_global() {
    let handles: Vec<_> = (0..100).map(|_| SandboxHandle::new()).collect();
    let mut ids: Vec<_> = handles.iter().map(|h| h.namespace()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    assert!(ids.iter().all(|ns| !ns.is_global()));
    assert!(ids[0].to_string().starts_with("sb"));
}

#[test]
fn a_cancelled_wrapped_future_releases_its_sandbox() {
    let live = Live::default();
    let cache: Cache<u64, Counted> = Cache::builder("sandbox::cancelled").build().unwrap();
    let handle = SandboxHandle::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut future = Box::pin(handle.wrap(async {
        cache.insert(1, live.value(1)).unwrap();
        rx.await.ok();
    }));
    drop(handle);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        // One poll runs the insert, then the future waits on the channel.
        assert!(poll_once(future.as_mut()).await.is_pending());
    });
    assert_eq!(
        live.count(),
        1,
        "the pending future keeps its sandbox alive"
    );
    drop(future);
    drop(tx);
    assert_eq!(
        live.count(),
        0,
        "cancelling the future tore the sandbox down"
    );
}

/// Polls `future` once and reports the result, without waiting for it.
async fn poll_once<F: std::future::Future + ?Sized>(
    future: std::pin::Pin<&mut F>,
) -> std::task::Poll<F::Output> {
    let mut future = Some(future);
    std::future::poll_fn(move |cx| std::task::Poll::Ready(future.take().unwrap().poll(cx))).await
}

#[test]
fn a_future_adapted_outside_any_sandbox_stays_outside() {
    let outside = async { context::namespace() }.in_current_sandbox();
    let sb = memokit::sandbox();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(outside), Namespace::GLOBAL);
    assert_eq!(
        context::namespace(),
        sb.namespace(),
        "and the thread is back in its sandbox"
    );
}

static STAMP_RUNS: AtomicU64 = AtomicU64::new(0);

/// Which run produced the value, and in which namespace it ran.
#[cached(refresh = "30s")]
fn stamp(_key: u8) -> (u64, Namespace) {
    (
        STAMP_RUNS.fetch_add(1, Ordering::SeqCst) + 1,
        context::namespace(),
    )
}

#[test]
#[sandboxed]
fn time_travel_drives_refresh_and_the_reload_runs_in_the_sandbox() {
    let sb = sandbox::current().unwrap();
    let first = stamp(1);
    assert_eq!(first.1, sb.namespace());
    sb.advance(Duration::from_secs(29));
    assert_eq!(stamp(1), first, "fresh: a plain hit");
    sb.advance(Duration::from_secs(2));
    assert_eq!(stamp(1), first, "stale: the old value at once");
    let cache = STAMP_MEMO.cache().unwrap();
    wait_until("the background reload", || {
        cache.get(&1).unwrap() != Some(first)
    });
    let fresh = stamp(1);
    assert_eq!(
        fresh,
        (first.0 + 1, sb.namespace()),
        "the reload ran in the sandbox"
    );
    assert_eq!(sb.stats().refreshes, 1);
}

#[cfg(feature = "tokio")]
static ASYNC_STAMP_RUNS: AtomicU64 = AtomicU64::new(0);

#[cfg(feature = "tokio")]
#[cached(refresh = "30s")]
async fn async_stamp(_key: u8) -> (u64, Namespace) {
    tokio::task::yield_now().await;
    (
        ASYNC_STAMP_RUNS.fetch_add(1, Ordering::SeqCst) + 1,
        context::namespace(),
    )
}

/// Async reloads are spawned on the runtime with the `tokio` feature only.
#[cfg(feature = "tokio")]
#[sandboxed]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_drives_an_async_refresh_spawned_on_a_worker() {
    let sb = sandbox::current().unwrap();
    let first = async_stamp(1).await;
    assert_eq!(first.1, sb.namespace());
    sb.advance(Duration::from_secs(31));
    assert_eq!(async_stamp(1).await, first, "stale: the old value at once");
    let cache = ASYNC_STAMP_MEMO.cache().unwrap();
    wait_until_async("the background reload", || {
        cache.get(&1).unwrap() != Some(first)
    })
    .await;
    assert_eq!(async_stamp(1).await, (first.0 + 1, sb.namespace()));
}

#[test]
fn telemetry_events_carry_the_sandbox_id() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    memokit::telemetry::attach("sandbox::events", move |event| {
        if event.cache == "sandbox::events" {
            log.lock().unwrap().push((event.name(), event.sandbox()));
        }
    })
    .unwrap();
    let cache: Cache<u8, u8> = Cache::builder("sandbox::events").build().unwrap();
    cache.insert(1, 1).unwrap();
    let sb = memokit::sandbox();
    cache.insert(1, 2).unwrap();
    sandbox::spawn({
        let cache = cache.clone();
        move || cache.get(&1).unwrap()
    })
    .join()
    .unwrap();
    drop(sb);
    assert!(memokit::telemetry::detach("sandbox::events"));
    let seen = seen.lock().unwrap();
    let names: Vec<_> = seen.iter().map(|(name, _)| *name).collect();
    let (insert, get, evict) = (names::INSERT, names::GET, names::EVICT);
    assert_eq!(names, [insert, insert, get, evict], "{seen:?}");
    assert_eq!(seen[0].1, None, "outside any sandbox");
    let sandbox = seen[1].1;
    assert!(sandbox.is_some());
    assert!(
        seen[1..].iter().all(|(_, s)| *s == sandbox),
        "the insert, the get on the spawned thread and the teardown's removal: {seen:?}"
    );
}

#[derive(memokit::Cache)]
#[cache(name = "sandbox::strict-module", key = u32, value = u32, sandbox = "required")]
struct StrictModule;

#[test]
fn a_strict_cache_module_panics_outside_a_sandbox_only() {
    {
        let _sb = memokit::sandbox();
        StrictModule::insert(1, 10).unwrap();
        assert_eq!(StrictModule::get(&1).unwrap(), Some(10));
    }
    let panic = catch_unwind(|| StrictModule::get(&1)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("cache `sandbox::strict-module`"),
        "{message}"
    );
}
