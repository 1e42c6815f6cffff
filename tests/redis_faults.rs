//! The Redis backend when Redis goes away and comes back, and when two processes share a cache.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memokit::{BackendErrorKind, Cache, CacheError, RedisBackend, RedisOptions, cached};
use redis_server::RedisServer;

static FAULT_URL: OnceLock<String> = OnceLock::new();
static TRIPLES_RUN: AtomicU32 = AtomicU32::new(0);

fn fault_url() -> String {
    FAULT_URL.get().cloned().unwrap_or_default()
}

#[cached(backend = redis, url = fault_url())]
fn triple(x: u64) -> u64 {
    TRIPLES_RUN.fetch_add(1, Ordering::SeqCst);
    x * 3
}

fn runs() -> u32 {
    TRIPLES_RUN.load(Ordering::SeqCst)
}

/// A cache that retries Redis 10 ms after a failure, so recovery shows at once.
fn quick_retry(name: &str, server: &RedisServer) -> Cache<u64, u64, RedisBackend> {
    Cache::builder(name)
        .backend_options(
            RedisOptions::new()
                .url(server.url())
                .retry_interval(Duration::from_millis(10)),
        )
        .build()
        .unwrap()
}

/// Calls `triple(x)` until a call is a hit (the body does not run), for at most 10 s.
fn until_hit(x: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = runs();
        assert_eq!(triple(x), x * 3);
        if runs() == before {
            return;
        }
        assert!(Instant::now() < deadline, "hits never resumed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_redis_is_bypassed_and_hits_resume_after_restart() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    FAULT_URL.set(server.url()).unwrap();
    let direct: Cache<u64, u64, RedisBackend> = quick_retry("direct", &server);
    assert_eq!(triple(5), 15);
    assert_eq!(triple(5), 15);
    assert_eq!(runs(), 1);
    direct.insert(1, 1).unwrap();

    server.kill();

    // Memoized calls keep answering, through their body.
    for i in 0..3 {
        assert_eq!(triple(5), 15);
        assert_eq!(runs(), 2 + i);
    }
    assert_eq!(triple(6), 18);
    // A cache used directly reports the outage.
    match direct.get(&1) {
        Err(CacheError::Backend { source, .. }) => assert!(
            matches!(
                source.kind(),
                BackendErrorKind::Unavailable | BackendErrorKind::Timeout
            ),
            "{source}"
        ),
        other => panic!("expected a backend error, got {other:?}"),
    }

    server.restart();

    // The same handles recover without a restart of this process (the restarted server is empty).
    until_hit(5);
    let deadline = Instant::now() + Duration::from_secs(10);
    while direct.insert(1, 2).is_err() {
        assert!(
            Instant::now() < deadline,
            "the direct cache never recovered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(direct.get(&1).unwrap(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_callers_survive_a_restart() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u64, u64, RedisBackend> = quick_retry("async-restart", &server);
    cache.insert_async(1, 1).await.unwrap();
    server.kill();
    assert!(cache.get_async(&1).await.is_err());
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.insert_async(1, 2).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the multiplexed connection never reconnected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cache.get_async(&1).await.unwrap(), Some(2));
}

/// Set in the child process to the parent's server URL.
const CHILD_ENV: &str = "MEMOKIT_TEST_REDIS_CHILD";

/// The child reads this cache through the `MEMOKIT_REDIS_URL` its parent gave it.
#[cached(backend = redis, name = "shared::square")]
fn shared_square(x: u64) -> u64 {
    x * x
}

#[test]
fn two_processes_share_one_cache() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // The parent stored a deliberately wrong square for 7: seeing it proves the value came
        // from Redis, not from the body.
        assert_eq!(shared_square(7), 1_000);
        assert_eq!(shared_square(8), 64);
        return;
    }
    let Some(server) = RedisServer::start() else {
        return;
    };
    let shared: Cache<u64, u64, RedisBackend> = Cache::builder("shared::square")
        .backend_options(RedisOptions::new().url(server.url()))
        .build()
        .unwrap();
    shared.insert(7, 1_000).unwrap();

    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "two_processes_share_one_cache",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env(RedisOptions::URL_ENV, server.url())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"));
    // What the child wrote is here for the parent.
    assert_eq!(shared.get(&8).unwrap(), Some(64));
}

/// The kind of a cache error, for asserting on outages.
fn error_kind<T: std::fmt::Debug>(result: Result<T, CacheError>) -> BackendErrorKind {
    match result {
        Err(CacheError::Backend { source, .. }) => source.kind(),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

/// A "server" that accepts connections (the kernel's backlog does) and never answers: a
/// blackholed Redis, on loopback.
fn silent_server() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    (listener, url)
}

fn silent_cache(name: &str, url: &str) -> Cache<u8, u8, RedisBackend> {
    Cache::builder(name)
        .backend_options(
            RedisOptions::new()
                .url(url)
                .timeout(Duration::from_millis(100))
                .retry_interval(Duration::from_secs(3600)),
        )
        .build()
        .unwrap()
}

#[test]
fn a_silent_server_costs_one_timeout_then_is_skipped() {
    let (_listener, url) = silent_server();
    let cache = silent_cache("silent-sync", &url);
    assert_eq!(error_kind(cache.get(&1)), BackendErrorKind::Timeout);
    // The breaker is open now: calls fail at once instead of waiting out another timeout.
    assert_eq!(
        error_kind(cache.insert(1, 1)),
        BackendErrorKind::Unavailable
    );
}

#[tokio::test]
async fn a_silent_server_times_out_async_calls() {
    let (_listener, url) = silent_server();
    let cache = silent_cache("silent-async", &url);
    assert_eq!(
        error_kind(cache.get_async(&1).await),
        BackendErrorKind::Timeout
    );
    assert_eq!(
        error_kind(cache.get_async(&1).await),
        BackendErrorKind::Unavailable
    );
}

static SILENT_URL: OnceLock<String> = OnceLock::new();

fn silent_url() -> String {
    SILENT_URL.get().cloned().unwrap_or_default()
}

/// A deadline four times the default, so the first call shows which one applied.
#[cached(backend = redis, url = silent_url(), timeout = "1s")]
fn quadruple(x: u64) -> u64 {
    x * 4
}

#[test]
fn memoized_functions_fail_open_on_a_silent_server() {
    let (_listener, url) = silent_server();
    SILENT_URL.set(url).unwrap();
    let started = Instant::now();
    assert_eq!(quadruple(2), 8);
    // A lower bound only: the call cannot give up on Redis before its deadline, so a wait
    // shorter than `timeout` would mean the default 250 ms deadline was used instead.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "gave up after {:?}",
        started.elapsed()
    );
    for _ in 0..2 {
        assert_eq!(quadruple(2), 8);
    }
    assert!(QUADRUPLE_MEMO.stats().errors >= 1);
}

/// The deadline of the frozen-server tests: long enough that the slack below is small beside it.
const FROZEN_TIMEOUT: Duration = Duration::from_millis(400);

/// How much longer than its timeout a call may take on a frozen server: scheduling on a loaded
/// machine, never a second timeout (which a call waiting out two reads would take).
const SLACK: Duration = Duration::from_millis(250);

fn frozen_cache(name: &str, server: &RedisServer) -> Cache<u64, u64, RedisBackend> {
    Cache::builder(name)
        .backend_options(
            RedisOptions::new()
                .url(server.url())
                .timeout(FROZEN_TIMEOUT)
                .retry_interval(Duration::from_secs(3600)),
        )
        .build()
        .unwrap()
}

/// Runs `call` and checks that it gave up within one timeout (plus [`SLACK`]).
fn within_one_timeout<T>(what: &str, call: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = call();
    let took = started.elapsed();
    assert!(
        took <= FROZEN_TIMEOUT + SLACK,
        "{what} took {took:?} with a {FROZEN_TIMEOUT:?} timeout"
    );
    out
}

#[test]
fn a_frozen_server_costs_a_sync_call_one_timeout_connecting_included() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // One cache that has a pooled connection, one that never connected, one for a pipeline.
    let pooled = frozen_cache("frozen-pooled", &server);
    pooled.insert(1, 1).unwrap();
    let fresh = frozen_cache("frozen-fresh", &server);
    let piped = frozen_cache("frozen-pipeline", &server);
    piped.insert(1, 1).unwrap();
    let frozen = server.freeze();

    let kind = within_one_timeout("a sync get on a pooled connection", || {
        error_kind(pooled.get(&1))
    });
    assert_eq!(kind, BackendErrorKind::Timeout);
    let kind = within_one_timeout("a sync get on a fresh connection", || {
        error_kind(fresh.get(&1))
    });
    assert_eq!(kind, BackendErrorKind::Timeout);
    let backend = piped.backend().unwrap();
    let key = backend.redis_key(&1u64).unwrap();
    let reply = within_one_timeout("a pipeline of three commands", || {
        backend.query_pipeline::<(u64, u64, u64)>(
            memokit::redis::pipe()
                .exists(&key)
                .exists(&key)
                .exists(&key),
        )
    });
    assert_eq!(reply.unwrap_err().kind(), BackendErrorKind::Timeout);

    // Thawed, the same caches answer again (after their retry interval, so ask new ones).
    drop(frozen);
    let after = quick_retry("frozen-after", &server);
    after.insert(2, 2).unwrap();
    assert_eq!(after.get(&2).unwrap(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_costs_an_async_call_one_timeout_connecting_included() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let pooled = frozen_cache("frozen-async-pooled", &server);
    pooled.insert_async(1, 1).await.unwrap();
    let fresh = frozen_cache("frozen-async-fresh", &server);
    let _frozen = server.freeze();
    for (what, cache) in [("pooled", &pooled), ("fresh", &fresh)] {
        let started = Instant::now();
        let kind = error_kind(cache.get_async(&1).await);
        let took = started.elapsed();
        assert_eq!(kind, BackendErrorKind::Timeout, "{what}");
        assert!(
            took <= FROZEN_TIMEOUT + SLACK,
            "an async get on a {what} connection took {took:?} with a {FROZEN_TIMEOUT:?} timeout"
        );
    }
}

static FROZEN_URL: OnceLock<String> = OnceLock::new();

fn frozen_url() -> String {
    FROZEN_URL.get().cloned().unwrap_or_default()
}

#[cached(backend = redis, url = frozen_url(), timeout = "400ms")]
fn quintuple(x: u64) -> u64 {
    x * 5
}

#[cached(backend = redis, url = frozen_url(), timeout = "400ms")]
async fn sextuple(x: u64) -> u64 {
    x * 6
}

#[test]
fn memoized_functions_on_a_frozen_server_cost_one_timeout() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    FROZEN_URL.set(server.url()).unwrap();
    let _frozen = server.freeze();
    // The first call connects too: connecting and the lookup share the one deadline, and the
    // write of the result is skipped by the breaker.
    let v = within_one_timeout("a memoized sync call", || quintuple(3));
    assert_eq!(v, 15);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v = within_one_timeout("a memoized async call", || runtime.block_on(sextuple(3)));
    assert_eq!(v, 18);
    assert!(QUINTUPLE_MEMO.stats().errors >= 1);
    assert!(SEXTUPLE_MEMO.stats().errors >= 1);
}
