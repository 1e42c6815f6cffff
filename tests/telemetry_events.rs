//! Every documented telemetry event is emitted exactly when it should be, and handlers cannot break
//! a cache call. The handler table is global and tests run in parallel, so each test gives its
//! cache a unique name and its handler keeps only that cache's events.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use memokit::clock::ManualClock;
use memokit::telemetry::{self, Event, EventKind, names};
use memokit::{Cache, Namespace, RemovalCause};

mod telemetry_support;
use telemetry_support::{DOWN_MESSAGE, Down};

/// The events of one cache, each as `name` or `name:detail`.
struct Capture {
    id: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Capture {
    fn of(cache: &str) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let wanted = cache.to_owned();
        telemetry::attach(cache, move |event| {
            if event.cache == wanted {
                log.lock().unwrap().push(describe(event));
            }
        })
        .unwrap();
        Self {
            id: cache.to_owned(),
            seen,
        }
    }

    /// The events seen since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    /// The events seen since the last call, once one named `last` is among them: for events
    /// emitted on another thread (a background refresh). Gives up after a generous while.
    fn take_through(&self, last: &str) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self
            .seen
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.starts_with(last))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.take()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        telemetry::detach(&self.id);
    }
}

fn describe(event: &Event<'_>) -> String {
    assert_eq!(event.namespace, Namespace::GLOBAL);
    assert_eq!(event.sandbox(), None);
    let detail = match event.kind {
        EventKind::Get(result) => result.as_str().to_owned(),
        EventKind::Remove { removed } => removed.to_string(),
        EventKind::Load { outcome, .. } | EventKind::Refresh { outcome, .. } => {
            outcome.as_str().to_owned()
        }
        EventKind::Removal { cause } => cause.as_str().to_owned(),
        EventKind::Error { error } => format!("{}/{}", event.backend, error.kind().as_str()),
        _ => return event.name().to_owned(),
    };
    format!("{}:{detail}", event.name())
}

fn ev(name: &str, detail: &str) -> String {
    format!("{name}:{detail}")
}

/// The events of a lookup that misses and loads with `outcome` (`ok` stores the value).
fn miss_and_load(outcome: &str) -> Vec<String> {
    let mut events = vec![ev(names::GET, "miss"), names::LOAD_START.to_owned()];
    if outcome == "ok" {
        events.push(names::INSERT.to_owned());
    }
    events.push(ev(names::LOAD, outcome));
    events
}

#[test]
fn gets_inserts_removes_and_clears() {
    let capture = Capture::of("tel-ops");
    let cache: Cache<u32, u32> = Cache::builder("tel-ops").build().unwrap();
    assert_eq!(cache.get(&1).unwrap(), None);
    cache.insert(1, 10).unwrap();
    assert_eq!(cache.get(&1).unwrap(), Some(10));
    assert!(!cache.remove(&2).unwrap());
    cache.clear().unwrap();
    assert_eq!(
        capture.take(),
        [
            ev(names::GET, "miss"),
            names::INSERT.to_owned(),
            ev(names::GET, "hit"),
            ev(names::REMOVE, "false"),
            // `clear` reports each entry it drops to the listener (`RemovalCause::Explicit`).
            ev(names::EVICT, "explicit"),
            names::CLEAR.to_owned(),
        ]
    );
    cache.insert(3, 30).unwrap();
    capture.take();
    assert!(cache.remove(&3).unwrap());
    // The backend reports the explicit removal, then the cache reports the operation.
    assert_eq!(
        capture.take(),
        [ev(names::EVICT, "explicit"), ev(names::REMOVE, "true")]
    );
}

#[test]
fn a_load_is_bracketed_by_start_and_outcome() {
    let capture = Capture::of("tel-load");
    let cache: Cache<u32, u32> = Cache::builder("tel-load").build().unwrap();
    assert_eq!(cache.get_or_insert_with(1, || 10).unwrap(), 10);
    assert_eq!(capture.take(), miss_and_load("ok"));
    assert_eq!(cache.get_or_insert_with(1, || 99).unwrap(), 10);
    assert_eq!(capture.take(), [ev(names::GET, "hit")]);

    let failed = cache.try_get_or_insert_with(2, || Err::<u32, &str>("down"));
    assert!(failed.is_err());
    assert_eq!(capture.take(), miss_and_load("not_cached"));
    let stats = cache.stats();
    assert_eq!((stats.loads, stats.load_failures), (1, 1));
}

#[test]
fn a_load_reports_its_duration() {
    let durations = Arc::new(Mutex::new(Vec::new()));
    let log = durations.clone();
    telemetry::attach("tel-duration", move |event| {
        if let (EventKind::Load { duration, .. }, "tel-duration") = (event.kind, event.cache) {
            log.lock().unwrap().push(duration);
        }
    })
    .unwrap();
    let cache: Cache<u32, u32> = Cache::builder("tel-duration").build().unwrap();
    cache
        .get_or_insert_with(1, || {
            std::thread::sleep(Duration::from_millis(2));
            1
        })
        .unwrap();
    telemetry::detach("tel-duration");
    let durations = durations.lock().unwrap();
    assert_eq!(durations.len(), 1);
    assert!(durations[0] >= Duration::from_millis(2), "{durations:?}");
}

#[test]
fn a_panicking_body_is_a_panicked_load() {
    let capture = Capture::of("tel-panic-body");
    let cache: Cache<u32, u32> = Cache::builder("tel-panic-body").build().unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| {
        cache.get_or_insert_with(1, || panic!("body failed"))
    }));
    assert!(result.is_err());
    assert_eq!(capture.take(), miss_and_load("panicked"));
}

#[test]
fn a_dropped_async_load_is_cancelled() {
    let capture = Capture::of("tel-cancel");
    let cache: Cache<u32, u32> = Cache::builder("tel-cancel").build().unwrap();
    {
        let mut load = pin!(cache.get_or_insert_with_async(1, std::future::pending()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(load.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(capture.take(), miss_and_load("cancelled"));
}

#[tokio::test]
async fn async_operations_emit_the_same_events() {
    let capture = Capture::of("tel-async");
    let cache: Cache<u32, u32> = Cache::builder("tel-async").build().unwrap();
    let v = cache.get_or_insert_with_async(1, async { 10 }).await;
    assert_eq!(v.unwrap(), 10);
    assert!(cache.remove_async(&1).await.unwrap());
    cache.clear_async().await.unwrap();
    assert_eq!(
        capture.take(),
        [
            miss_and_load("ok"),
            vec![
                ev(names::EVICT, "explicit"),
                ev(names::REMOVE, "true"),
                names::CLEAR.to_owned(),
            ],
        ]
        .concat()
    );
}

#[memokit::cached(name = "tel-memo")]
fn double(x: u64) -> u64 {
    x * 2
}

#[test]
fn memoized_functions_emit_probes_and_loads() {
    let capture = Capture::of("tel-memo");
    assert_eq!(double(4), 8);
    assert_eq!(double(4), 8);
    assert_eq!(
        capture.take(),
        [miss_and_load("ok"), vec![ev(names::GET, "hit")]].concat()
    );
}

#[test]
fn evictions_carry_their_cause_beside_the_users_listener() {
    let capture = Capture::of("tel-evict");
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = heard.clone();
    let cache: Cache<u32, u32> = Cache::builder("tel-evict")
        .capacity(1)
        .eviction_listener(move |k, _, cause| log.lock().unwrap().push((*k, cause)))
        .build()
        .unwrap();
    cache.insert(1, 10).unwrap();
    cache.insert(2, 20).unwrap();
    cache.insert(2, 21).unwrap();
    let events = capture.take();
    let removals: Vec<_> = events
        .iter()
        .filter(|e| e.starts_with(names::EVICT))
        .collect();
    assert_eq!(
        removals,
        [&ev(names::EVICT, "size"), &ev(names::EVICT, "replaced")]
    );
    assert_eq!(
        *heard.lock().unwrap(),
        [(1, RemovalCause::Size), (2, RemovalCause::Replaced)]
    );
    assert!(cache.config().eviction_listener().is_some());
    assert_eq!(cache.stats().evicted, 1);
}

#[test]
fn expiry_is_its_own_event() {
    let clock = ManualClock::new();
    let _clock = clock.install();
    let capture = Capture::of("tel-expire");
    let cache: Cache<u32, u32> = Cache::builder("tel-expire")
        .capacity(1)
        .ttl(Duration::from_secs(1))
        .build()
        .unwrap();
    cache.insert(1, 10).unwrap();
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.get(&1).unwrap(), None);
    cache.insert(2, 20).unwrap();
    let expiries: Vec<_> = capture
        .take()
        .into_iter()
        .filter(|e| e.starts_with(names::EXPIRE) || e.starts_with(names::EVICT))
        .collect();
    assert_eq!(expiries, [ev(names::EXPIRE, "expired")]);
    assert_eq!(cache.stats().expired, 1);
}

#[test]
fn a_stale_hit_is_stale_and_its_reload_a_refresh() {
    let clock = ManualClock::new();
    let _clock = clock.install();
    let capture = Capture::of("tel-refresh");
    let cache: Cache<u32, u32> = Cache::builder("tel-refresh")
        .refresh(Duration::from_secs(30))
        .build()
        .unwrap();
    assert_eq!(cache.get_or_refresh_with(1, || 10).unwrap(), 10);
    assert_eq!(capture.take(), miss_and_load("ok"));
    assert_eq!(cache.get_or_refresh_with(1, || 11).unwrap(), 10);
    assert_eq!(capture.take(), [ev(names::GET, "hit")]);

    clock.advance(Duration::from_secs(31));
    assert_eq!(cache.get_or_refresh_with(1, || 12).unwrap(), 10);
    // The reload runs on a refresh worker: no load start, no caller waiting.
    assert_eq!(
        capture.take_through(names::REFRESH),
        [
            ev(names::GET, "stale"),
            ev(names::EVICT, "replaced"),
            names::INSERT.to_owned(),
            ev(names::REFRESH, "ok"),
        ]
    );
    assert_eq!(cache.get(&1).unwrap(), Some(12));
    assert_eq!(capture.take(), [ev(names::GET, "hit")]);

    clock.advance(Duration::from_secs(31));
    assert_eq!(
        cache
            .get_or_refresh_with(1, || panic!("reload failed"))
            .unwrap(),
        12
    );
    assert_eq!(
        capture.take_through(names::REFRESH),
        [ev(names::GET, "stale"), ev(names::REFRESH, "panicked")]
    );
    let stats = cache.stats();
    assert_eq!((stats.refreshes, stats.refresh_failures), (1, 1));
}

#[test]
fn backend_errors_are_events_and_nothing_else() {
    let capture = Capture::of("tel-down");
    let cache: Cache<u64, u64, Down> = Cache::builder("tel-down").build().unwrap();
    let err = cache.get(&1).unwrap_err();
    assert_eq!(err.to_string(), format!("cache `tel-down`: {DOWN_MESSAGE}"));
    assert!(cache.insert(1, 1).is_err());
    assert!(cache.clear().is_err());
    let error = ev(names::ERROR, "down/unavailable");
    assert_eq!(capture.take(), [error.clone(), error.clone(), error]);
    assert_eq!(cache.stats().errors, 3);
}

#[memokit::cached(name = "tel-down-memo", backend = Down)]
fn triple(x: u64) -> u64 {
    x * 3
}

#[test]
fn a_failing_backend_under_a_memoized_function_is_an_error_event() {
    let capture = Capture::of("tel-down-memo");
    assert_eq!(triple(2), 6);
    assert_eq!(capture.take(), [ev(names::ERROR, "down/unavailable")]);
}

#[test]
fn a_panicking_handler_is_detached_and_the_call_goes_on() {
    let survivor = Capture::of("tel-bad-handler");
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    telemetry::attach("tel-bad-handler-panics", move |event| {
        if event.cache == "tel-bad-handler" {
            counted.fetch_add(1, Ordering::Relaxed);
            panic!("handler bug");
        }
    })
    .unwrap();
    let cache: Cache<u32, u32> = Cache::builder("tel-bad-handler").build().unwrap();
    cache.insert(1, 10).unwrap();
    assert_eq!(cache.get(&1).unwrap(), Some(10));
    assert!(!telemetry::is_attached("tel-bad-handler-panics"));
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    // The other handler saw both operations, including the one whose handler panicked.
    assert_eq!(
        survivor.take(),
        [names::INSERT.to_owned(), ev(names::GET, "hit")]
    );
    // The id is free again.
    telemetry::attach("tel-bad-handler-panics", |_| {}).unwrap();
    telemetry::detach("tel-bad-handler-panics");
}

#[test]
fn events_a_handler_causes_are_not_delivered() {
    let inner: Cache<u32, u32> = Cache::builder("tel-reentry-inner").build().unwrap();
    let inner_events = Capture::of("tel-reentry-inner");
    let reader = inner.clone();
    telemetry::attach("tel-reentry", move |event| {
        if event.cache == "tel-reentry" {
            reader.get(&1).unwrap();
        }
    })
    .unwrap();
    let outer: Cache<u32, u32> = Cache::builder("tel-reentry").build().unwrap();
    outer.get(&1).unwrap();
    telemetry::detach("tel-reentry");
    assert_eq!(inner.stats().misses, 1);
    assert!(inner_events.take().is_empty());
}

#[test]
fn attaching_an_id_twice_is_an_error() {
    telemetry::attach("tel-twice", |_| {}).unwrap();
    let err = telemetry::attach("tel-twice", |_| {}).unwrap_err();
    assert_eq!(err.id(), "tel-twice");
    assert!(telemetry::detach("tel-twice"));
    assert!(!telemetry::detach("tel-twice"));
}

#[test]
fn every_event_name_is_distinct() {
    let mut all = names::EVENTS.to_vec();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), names::EVENTS.len());
}
