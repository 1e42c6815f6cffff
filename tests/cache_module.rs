//! Cache modules declared with `#[derive(memokit::Cache)]`: every generated function, every
//! option, configuration errors at first use, the registry, and use from sync and async code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, RwLock, RwLockReadGuard};
use std::time::Duration;

use memokit::clock::ManualClock;
use memokit::{Backend, CacheError, ConfigError, LoadError, MemoryBackend, Settings};

/// `clear_all` clears every cache in the namespace, so the test calling it runs alone; every
/// other test holds this lock shared.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(u64);

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    name: String,
}

fn user(name: &str) -> User {
    User { name: name.into() }
}

#[derive(memokit::Cache)]
#[cache(name = "users", key = UserId, value = User, ttl = "5m", capacity = 10_000)]
pub struct Users;

#[test]
fn insert_get_remove_clear_and_stats() {
    let _lock = shared();
    assert_eq!(Users::NAME, "users");
    Users::insert(UserId(1), user("ada")).unwrap();
    Users::insert(UserId(2), user("grace")).unwrap();
    assert_eq!(Users::get(&UserId(1)).unwrap(), Some(user("ada")));
    assert_eq!(Users::get(&UserId(3)).unwrap(), None);
    assert_eq!(Users::len(), 2);
    assert!(!Users::is_empty());
    let stats = Users::stats();
    assert_eq!((stats.hits, stats.misses, stats.inserts), (1, 1, 2));

    assert!(Users::remove(&UserId(1)).unwrap());
    assert!(!Users::remove(&UserId(1)).unwrap());
    assert_eq!(Users::get(&UserId(1)).unwrap(), None);
    Users::clear().unwrap();
    assert!(Users::is_empty());

    let cache = Users::cache().unwrap();
    assert_eq!(cache.name(), "users");
    assert_eq!(cache.config().ttl(), Some(Duration::from_secs(300)));
    assert_eq!(cache.config().capacity(), Some(10_000));
}

#[derive(memokit::Cache)]
#[cache(key = String, value = u32, ttl = "1m")]
struct Expiring;

#[test]
fn ttl_and_insert_with_ttl_expire_on_the_clock() {
    let _lock = shared();
    let clock = ManualClock::new();
    let _clock = clock.install();
    Expiring::insert("module".into(), 1).unwrap();
    Expiring::insert_with_ttl("short".into(), 2, Duration::from_secs(5)).unwrap();
    // Borrowed lookups: a `&str` finds a `String` key.
    assert_eq!(Expiring::get("short").unwrap(), Some(2));
    clock.advance(Duration::from_secs(6));
    assert_eq!(Expiring::get("short").unwrap(), None);
    assert_eq!(Expiring::get("module").unwrap(), Some(1));
    clock.advance(Duration::from_secs(60));
    assert_eq!(Expiring::get("module").unwrap(), None);
}

#[test]
fn default_name_is_the_module_path() {
    let _lock = shared();
    assert_eq!(Expiring::NAME, concat!(module_path!(), "::Expiring"));
}

#[derive(memokit::Cache)]
#[cache(name = "idle", key = u32, value = u32, tti = "10s")]
struct Idle;

#[test]
fn tti_expires_entries_not_read() {
    let _lock = shared();
    let clock = ManualClock::new();
    let _clock = clock.install();
    Idle::insert(1, 1).unwrap();
    Idle::insert(2, 2).unwrap();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(6));
        assert_eq!(Idle::get(&1).unwrap(), Some(1));
    }
    assert_eq!(Idle::get(&2).unwrap(), None);
}

#[derive(memokit::Cache)]
#[cache(name = "bounded", key = u32, value = u32, capacity = 100)]
struct Bounded;

#[test]
fn capacity_bounds_the_entries() {
    let _lock = shared();
    for i in 0..1_000 {
        Bounded::insert(i, i).unwrap();
    }
    assert!(Bounded::len() <= 100, "{} entries", Bounded::len());
    assert!(Bounded::stats().evicted >= 900);
}

#[derive(memokit::Cache)]
#[cache(name = "weighed", key = u32, value = String, capacity = 1_000, weigher = |_k, v| v.len() as u64)]
struct Weighed;

#[test]
fn weigher_bounds_the_total_weight() {
    let _lock = shared();
    for i in 0..100 {
        Weighed::insert(i, "x".repeat(100)).unwrap();
    }
    let stats = Weighed::stats();
    assert!(stats.weight <= 1_000, "weight {}", stats.weight);
    assert!(stats.entries <= 10, "{} entries", stats.entries);
    assert_eq!(Weighed::cache().unwrap().config().capacity(), Some(1_000));
}

#[derive(memokit::Cache)]
#[cache(name = "loaded", key = u32, value = u64)]
struct Loaded;

#[test]
fn get_or_insert_with_runs_one_loader_for_concurrent_misses() {
    let _lock = shared();
    let runs = AtomicUsize::new(0);
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                let v = Loaded::get_or_insert_with(7, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    49
                })
                .unwrap();
                assert_eq!(v, 49);
            });
        }
    });
    // Each thread either found the value or joined the single flight.
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(Loaded::get(&7).unwrap(), Some(49));
}

#[test]
fn try_get_or_insert_with_does_not_cache_errors() {
    let _lock = shared();
    let failed: Result<u64, LoadError<&str>> = Loaded::try_get_or_insert_with(1, || Err("db down"));
    assert!(matches!(failed, Err(LoadError::Load("db down"))));
    assert_eq!(Loaded::get(&1).unwrap(), None);
    let ok = Loaded::try_get_or_insert_with(1, || Ok::<_, &str>(10)).unwrap();
    assert_eq!(ok, 10);
    let cached = Loaded::try_get_or_insert_with(1, || Err("not called")).unwrap();
    assert_eq!(cached, 10);
}

#[derive(memokit::Cache)]
#[cache(name = "on-memory", key = u8, value = u8, backend = memory)]
struct OnMemory;

/// A backend given by type: the in-memory one named by path, as a user's own backend would be.
#[derive(memokit::Cache)]
#[cache(name = "by-type", key = u8, value = u8, backend = memokit::MemoryBackend<u8, u8>)]
struct ByType;

#[test]
fn backend_gives_the_namespace_backend() {
    let _lock = shared();
    OnMemory::insert(1, 2).unwrap();
    let backend = OnMemory::backend().unwrap();
    let found = backend.get(&1).unwrap().unwrap();
    assert_eq!(found.value, 2);
    assert_eq!(backend.stats().entries, 1);
    assert_eq!(OnMemory::cache().unwrap().backend_kind(), "memory");

    ByType::insert(3, 4).unwrap();
    let backend: &MemoryBackend<u8, u8> = &ByType::backend().unwrap();
    assert_eq!(backend.get(&3).unwrap().map(|f| f.value), Some(4));
}

mod reexported {
    pub use memokit as kit;
}

#[derive(memokit::Cache)]
#[cache(name = "crate-path", key = u8, value = u8, crate = reexported::kit)]
struct CratePath;

#[test]
fn crate_option_reaches_a_reexported_memokit() {
    let _lock = shared();
    CratePath::insert(1, 1).unwrap();
    assert_eq!(CratePath::get(&1).unwrap(), Some(1));
}

/// Configuration from the "environment": the TTL comes from a function at first use.
fn session_config(settings: &mut Settings<u64, String>) -> Result<(), ConfigError> {
    assert_eq!(
        settings.ttl,
        Some(Duration::from_secs(60)),
        "the attribute's ttl comes first"
    );
    settings.ttl = Some(Duration::from_secs(10));
    settings.capacity = Some(500);
    Ok(())
}

#[derive(memokit::Cache)]
#[cache(name = "sessions", key = u64, value = String, ttl = "60s", config = session_config)]
struct Sessions;

#[test]
fn config_adjusts_the_settings_once_at_first_use() {
    let _lock = shared();
    let config = Sessions::cache().unwrap().config();
    assert_eq!(config.ttl(), Some(Duration::from_secs(10)));
    assert_eq!(config.capacity(), Some(500));
    let clock = ManualClock::new();
    let _clock = clock.install();
    Sessions::insert(1, "s".into()).unwrap();
    clock.advance(Duration::from_secs(11));
    assert_eq!(Sessions::get(&1).unwrap(), None);
}

fn redis_url(settings: &mut Settings<u64, u64>) -> Result<(), ConfigError> {
    let _ = settings;
    let url = std::env::var("MEMOKIT_TEST_UNSET_URL")
        .map_err(|e| ConfigError::new("url", format!("MEMOKIT_TEST_UNSET_URL: {e}")))?;
    Err(ConfigError::new("url", format!("unexpected {url}")))
}

#[derive(memokit::Cache)]
#[cache(name = "missing-url", key = u64, value = u64, config = redis_url)]
struct MissingUrl;

fn expect_config_error(err: &CacheError, cache: &str, setting: &str) {
    match err {
        CacheError::Config {
            cache: c,
            setting: s,
            ..
        } => assert_eq!((&**c, *s), (cache, setting), "{err}"),
        other => panic!("expected a config error, got {other}"),
    }
}

#[test]
fn missing_configuration_is_an_error_on_every_call() {
    let _lock = shared();
    for _ in 0..2 {
        expect_config_error(&MissingUrl::get(&1).unwrap_err(), "missing-url", "url");
        expect_config_error(&MissingUrl::insert(1, 1).unwrap_err(), "missing-url", "url");
        expect_config_error(&MissingUrl::remove(&1).unwrap_err(), "missing-url", "url");
        expect_config_error(&MissingUrl::clear().unwrap_err(), "missing-url", "url");
        expect_config_error(&MissingUrl::cache().unwrap_err(), "missing-url", "url");
        assert!(MissingUrl::backend().is_err());
        let loaded = MissingUrl::get_or_insert_with(1, || 1);
        expect_config_error(&loaded.unwrap_err(), "missing-url", "url");
        match MissingUrl::try_get_or_insert_with(1, || Ok::<_, ()>(1)) {
            Err(LoadError::Cache(e)) => expect_config_error(&e, "missing-url", "url"),
            other => panic!("expected a cache error, got {other:?}"),
        }
    }
    assert_eq!(MissingUrl::stats(), memokit::Stats::default());
    let message = MissingUrl::get(&1).unwrap_err().to_string();
    assert!(
        message.starts_with("cache `missing-url`: invalid `url`: MEMOKIT_TEST_UNSET_URL:"),
        "{message}"
    );
}

fn zero_capacity(settings: &mut Settings<u64, u64>) -> Result<(), ConfigError> {
    settings.capacity = Some(0);
    Ok(())
}

#[derive(memokit::Cache)]
#[cache(name = "zero", key = u64, value = u64, capacity = 10, config = zero_capacity)]
struct Zero;

#[test]
fn invalid_settings_name_the_setting() {
    let _lock = shared();
    let err = Zero::insert(1, 1).unwrap_err();
    expect_config_error(&err, "zero", "capacity");
    assert_eq!(
        err.to_string(),
        "cache `zero`: invalid `capacity`: must be at least 1"
    );
}

fn panicking_config(_: &mut Settings<u64, u64>) -> Result<(), ConfigError> {
    panic!("no config file")
}

#[derive(memokit::Cache)]
#[cache(name = "panicky", key = u64, value = u64, config = panicking_config)]
struct Panicky;

#[test]
fn a_panicking_config_is_an_error_not_a_panic() {
    let _lock = shared();
    for _ in 0..2 {
        let err = Panicky::get(&1).unwrap_err();
        expect_config_error(&err, "panicky", "config");
        assert!(err.to_string().contains("no config file"), "{err}");
    }
}

#[memokit::cached(name = "registry-squares")]
fn square(x: u64) -> u64 {
    x * x
}

#[derive(memokit::Cache)]
#[cache(name = "registry-module", key = u64, value = u64)]
struct RegistryModule;

#[test]
fn registry_lists_modules_and_memoized_functions_and_clears_them_all() {
    let _lock = EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner());
    RegistryModule::insert(1, 1).unwrap();
    RegistryModule::insert(2, 2).unwrap();
    assert_eq!(square(3), 9);
    assert_eq!(square(3), 9);

    let caches = memokit::caches();
    let module = caches.iter().find(|c| c.name == "registry-module").unwrap();
    assert_eq!((module.backend, module.stats.entries), ("memory", 2));
    let function = caches
        .iter()
        .find(|c| c.name == "registry-squares")
        .unwrap();
    assert_eq!(function.backend, "memory");
    assert_eq!((function.stats.entries, function.stats.hits), (1, 1));
    assert_eq!((&module.error, &function.error), (&None, &None));
    // A module that failed to configure is listed with its error, and nothing else.
    let err = MissingUrl::get(&1).unwrap_err();
    let listed = memokit::caches();
    let missing = listed.iter().find(|c| c.name == "missing-url").unwrap();
    assert_eq!(
        (missing.error.as_ref(), missing.stats.entries),
        (Some(&err), 0)
    );

    memokit::clear_all().unwrap();
    assert!(RegistryModule::is_empty());
    assert!(SQUARE_MEMO.is_empty());
    let after = memokit::caches();
    assert!(after.iter().all(|c| c.stats.entries == 0), "{after:?}");
}

#[derive(memokit::Cache)]
#[cache(name = "async-users", key = UserId, value = User, ttl = "5m")]
struct AsyncUsers;

/// Runs an async test on a multi-threaded tokio runtime while holding the shared lock (a std
/// lock guard must not live across the test's await points).
fn run_async<F: std::future::Future<Output = ()>>(test: F) {
    let _lock = shared();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(test);
}

#[test]
fn async_functions_share_the_cache_with_sync_code() {
    run_async(async_and_sync());
}

async fn async_and_sync() {
    AsyncUsers::insert_async(UserId(1), user("ada"))
        .await
        .unwrap();
    AsyncUsers::insert_with_ttl_async(UserId(2), user("grace"), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        AsyncUsers::get_async(&UserId(1)).await.unwrap(),
        Some(user("ada"))
    );
    // Sync code on a blocking thread sees what async code wrote, and the other way round.
    let seen = tokio::task::spawn_blocking(|| {
        AsyncUsers::insert(UserId(3), user("linus")).unwrap();
        AsyncUsers::get(&UserId(2)).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(seen, Some(user("grace")));
    assert_eq!(
        AsyncUsers::get_async(&UserId(3)).await.unwrap(),
        Some(user("linus"))
    );

    assert!(AsyncUsers::remove_async(&UserId(3)).await.unwrap());
    let loaded = AsyncUsers::get_or_insert_with_async(UserId(4), async { user("barbara") })
        .await
        .unwrap();
    assert_eq!(loaded, user("barbara"));
    let failed =
        AsyncUsers::try_get_or_insert_with_async(UserId(5), async { Err::<User, _>("offline") })
            .await;
    assert!(matches!(failed, Err(LoadError::Load("offline"))));
    assert_eq!(AsyncUsers::get_async(&UserId(5)).await.unwrap(), None);
    let ok =
        AsyncUsers::try_get_or_insert_with_async(UserId(5), async { Ok::<_, ()>(user("ken")) })
            .await
            .unwrap();
    assert_eq!(ok, user("ken"));
    AsyncUsers::clear_async().await.unwrap();
    assert!(AsyncUsers::is_empty());
}

#[derive(memokit::Cache)]
#[cache(name = "async-flight", key = u32, value = u32)]
struct AsyncFlight;

#[test]
fn concurrent_async_misses_run_one_loader() {
    run_async(async_single_flight());
}

async fn async_single_flight() {
    let runs = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Notify::new());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let runs = runs.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                AsyncFlight::get_or_insert_with_async(1, async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    // Hold the flight open until every task has had the chance to join it.
                    gate.notified().await;
                    11
                })
                .await
                .unwrap()
            })
        })
        .collect();
    while AsyncFlight::stats().misses < 8 {
        tokio::task::yield_now().await;
    }
    tokio::task::yield_now().await;
    gate.notify_one();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 11);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[derive(memokit::Cache)]
#[cache(name = "observed-module", key = u32, value = u32)]
struct Observed;

#[test]
fn module_operations_emit_telemetry_under_the_module_name() {
    use memokit::telemetry::{self, EventKind, GetResult};
    use std::sync::Mutex;

    let _lock = shared();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    telemetry::attach("cache-module-test", move |event| {
        if event.cache == "observed-module" {
            let kind = match event.kind {
                EventKind::Get(GetResult::Hit) => "hit",
                EventKind::Get(GetResult::Miss) => "miss",
                EventKind::Insert => "insert",
                EventKind::Remove { removed: true } => "remove",
                _ => return,
            };
            sink.lock().unwrap().push((kind, event.backend));
        }
    })
    .unwrap();
    Observed::insert(1, 1).unwrap();
    Observed::get(&1).unwrap();
    Observed::get(&2).unwrap();
    Observed::remove(&1).unwrap();
    assert!(telemetry::detach("cache-module-test"));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("insert", "memory"),
            ("hit", "memory"),
            ("miss", "memory"),
            ("remove", "memory")
        ]
    );
}

#[derive(memokit::Cache)]
#[cache(name = "page-views", key = &'static str, value = u64)]
struct PageViews;

#[test]
fn backend_counters_and_remove_where_on_the_memory_backend() {
    let _lock = shared();
    let views = PageViews::backend().unwrap();
    assert_eq!(views.incr(&"/", 1).unwrap(), 1);
    assert_eq!(views.incr(&"/", 4).unwrap(), 5);
    assert_eq!(views.decr(&"/", 2).unwrap(), 3);
    assert!(
        views.decr(&"/about", 1).is_err(),
        "a u64 counter cannot go below zero"
    );
    assert_eq!(PageViews::get(&"/").unwrap(), Some(3));

    PageViews::insert("/a", 10).unwrap();
    PageViews::insert("/b", 20).unwrap();
    let removed = PageViews::backend().unwrap().remove_where(|_, v| *v >= 10);
    assert_eq!(removed, 2);
    assert_eq!(PageViews::get(&"/").unwrap(), Some(3));
    assert_eq!(PageViews::get(&"/a").unwrap(), None);
}
