//! Fallback on error (`cached`'s `result_fallback`): past the TTL the body runs again, and if it
//! returns `Err` the value kept past the TTL (up to the fallback age) answers instead, counted as
//! a miss, a load failure and a fallback. On memory, Redis and disk alike, on the sandbox's clock.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use memokit::telemetry::{self, EventKind, LoadOutcome};
use memokit::{Backend, Cache, cached};

const TTL: Duration = Duration::from_secs(60);
const KEEP: Duration = Duration::from_secs(3600);

static UP: AtomicBool = AtomicBool::new(true);
static RUNS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = "1m", fallback = "1h")]
fn price(item: &str) -> Result<u32, String> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    if UP.load(Ordering::SeqCst) {
        Ok(item.len() as u32 * 100 + RUNS.load(Ordering::SeqCst))
    } else {
        Err(format!("{item}: upstream down"))
    }
}

/// `cached`'s `result_fallback` scenario: a value, then failures past the TTL, answered with
/// that value until the fallback age has passed too.
#[test]
fn a_memoized_err_past_the_ttl_answers_with_the_kept_value() {
    let sb = memokit::sandbox();
    UP.store(true, Ordering::SeqCst);
    assert_eq!(price("gold"), Ok(401));
    assert_eq!(price("gold"), Ok(401));
    sb.advance(TTL);
    UP.store(false, Ordering::SeqCst);
    assert_eq!(
        price("gold"),
        Ok(401),
        "the body failed: the kept value answers"
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    let stats = PRICE_MEMO.stats();
    assert_eq!(
        (
            stats.hits,
            stats.misses,
            stats.load_failures,
            stats.fallbacks
        ),
        (1, 2, 1, 1)
    );
    // Nothing was stored by the fallback: the next call runs the body again.
    assert_eq!(PRICE_MEMO.len(), 0);
    assert_eq!(price("gold"), Ok(401));
    assert_eq!(RUNS.load(Ordering::SeqCst), 3);
    // A key never loaded has nothing to fall back on.
    assert_eq!(price("iron"), Err("iron: upstream down".to_string()));
    // Past the TTL and the fallback age, the error comes through.
    sb.advance(KEEP);
    assert_eq!(price("gold"), Err("gold: upstream down".to_string()));
    // A success stores, and refreshes the kept copy.
    UP.store(true, Ordering::SeqCst);
    let fresh = price("gold").unwrap();
    sb.advance(TTL);
    UP.store(false, Ordering::SeqCst);
    assert_eq!(price("gold"), Ok(fresh));
}

static ASYNC_UP: AtomicBool = AtomicBool::new(true);

#[cached(ttl = "1m", fallback = "1h")]
async fn rate(pair: &str) -> memokit::Cached<Result<f64, std::io::Error>> {
    tokio::task::yield_now().await;
    memokit::Cached::new(if ASYNC_UP.load(Ordering::SeqCst) {
        Ok(pair.len() as f64 / 10.0)
    } else {
        Err(std::io::Error::other("rates down"))
    })
}

#[tokio::test]
async fn an_async_err_falls_back_and_says_it_came_from_the_cache() {
    let sb = memokit::sandbox();
    let first = rate("EURUSD").await;
    assert!(!first.was_cached());
    assert_eq!(first.as_ref().unwrap(), &0.6);
    sb.advance(TTL);
    ASYNC_UP.store(false, Ordering::SeqCst);
    let fallen_back = rate("EURUSD").await;
    assert!(fallen_back.was_cached());
    assert_eq!(fallen_back.into_inner().unwrap(), 0.6);
    assert_eq!(RATE_MEMO.stats().fallbacks, 1);
}

/// The load event's outcome says `fallback`, and the metric label with it.
#[test]
fn the_load_event_reports_the_fallback() {
    let sb = memokit::sandbox();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let namespace = sb.namespace();
    telemetry::attach("fallback-test", move |event| {
        if event.namespace == namespace
            && let EventKind::Load { outcome, .. } = event.kind
        {
            sink.lock().unwrap().push(outcome);
        }
    })
    .unwrap();
    let cache: Cache<u8, u8> = Cache::builder("fallback-events")
        .ttl(TTL)
        .fallback(KEEP)
        .build()
        .unwrap();
    cache.try_get_or_insert_with(1, || Ok::<_, ()>(7)).unwrap();
    sb.advance(TTL);
    assert_eq!(cache.try_get_or_insert_with(1, || Err(())).unwrap(), 7);
    assert_eq!(
        *seen.lock().unwrap(),
        [LoadOutcome::Ok, LoadOutcome::FellBack]
    );
    assert_eq!(LoadOutcome::FellBack.as_str(), "fallback");
    assert!(telemetry::detach("fallback-test"));
}

#[test]
fn a_fallback_needs_a_ttl_and_a_nonzero_age() {
    let no_ttl = Cache::<u8, u8>::builder("fallback-no-ttl")
        .fallback(KEEP)
        .build()
        .unwrap_err();
    assert_eq!(
        no_ttl.to_string(),
        "cache `fallback-no-ttl`: invalid `fallback`: keeps each value that long past its `ttl`: set a `ttl`"
    );
    let zero = Cache::<u8, u8>::builder("fallback-zero")
        .ttl(TTL)
        .fallback(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(zero.to_string().contains("`fallback`"), "{zero}");
}

/// The promise on a byte-storing backend: a value, a failure past the TTL answered with it,
/// and the error once the fallback age has passed; the cache itself holds nothing expired.
fn falls_back_on<B: Backend<String, u64>>(cache: &Cache<String, u64, B>) {
    let sb = memokit::sandbox();
    let key = || "quote".to_string();
    assert_eq!(
        cache
            .try_get_or_insert_with(key(), || Ok::<_, &str>(9))
            .unwrap(),
        9
    );
    sb.advance(TTL);
    assert_eq!(cache.len(), 0, "the entry itself expired at the TTL");
    assert_eq!(
        cache.try_get_or_insert_with(key(), || Err("down")).unwrap(),
        9
    );
    assert_eq!(cache.stats().fallbacks, 1);
    sb.advance(KEEP);
    assert!(cache.try_get_or_insert_with(key(), || Err("down")).is_err());
}

#[test]
fn memory_falls_back() {
    let cache: Cache<String, u64> = Cache::builder("fallback-memory")
        .ttl(TTL)
        .fallback(KEEP)
        .build()
        .unwrap();
    falls_back_on(&cache);
}

#[cfg(feature = "redis")]
#[path = "support/redis.rs"]
mod redis_server;

#[cfg(feature = "redis")]
#[test]
fn redis_falls_back() {
    let Some(server) = redis_server::RedisServer::start() else {
        return;
    };
    let cache: Cache<String, u64, memokit::RedisBackend> = Cache::builder("fallback-redis")
        .ttl(TTL)
        .fallback(KEEP)
        .backend_options(
            memokit::RedisOptions::new()
                .url(server.url())
                .timeout(Duration::from_secs(5)),
        )
        .build()
        .unwrap();
    falls_back_on(&cache);
}

#[cfg(feature = "disk")]
#[test]
fn disk_falls_back() {
    let path =
        std::env::temp_dir().join(format!("memokit-test-fallback-{}.redb", std::process::id()));
    let cache: Cache<String, u64, memokit::DiskBackend> = Cache::builder("fallback-disk")
        .ttl(TTL)
        .fallback(KEEP)
        .backend_options(memokit::DiskOptions::new(&path))
        .build()
        .unwrap();
    falls_back_on(&cache);
    drop(cache);
    std::fs::remove_file(&path).unwrap();
}
