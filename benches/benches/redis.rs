//! The Redis backend against the plain `redis` crate on the same local server (started by the
//! bench from PATH, like the tests): the latency of one hit, sync and async, and the throughput of
//! 64 concurrent async callers. Both sides read the same Redis key and the same bytes, so the
//! difference is memokit's own work: key encoding, the envelope and codec, the deadline and the
//! connection bookkeeping.
//!
//! `cargo bench -p memokit-bench --features redis --bench redis`

#[path = "../../tests/support/redis.rs"]
mod redis_server;

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memokit::{Cache, RedisBackend, RedisOptions, cached};
use redis::AsyncCommands;
use redis_server::RedisServer;
use tokio::runtime::Runtime;

const CALLERS: usize = 64;
const CALLS_PER_CALLER: usize = 16;
const KEY: u64 = 42;

static URL: OnceLock<String> = OnceLock::new();

fn url() -> String {
    URL.get().cloned().unwrap_or_default()
}

/// A memoized function whose cache holds `KEY`, so every call in the bench is a hit.
#[cached(backend = redis, url = url(), name = "bench::profile")]
async fn profile(id: u64) -> String {
    format!("{id:0>100}")
}

fn value() -> String {
    format!("{KEY:0>100}")
}

/// The 64 callers run on two workers (the machine's cores); single calls run on a current-thread
/// runtime, so their latency is the round trip rather than a hop between threads.
fn runtimes() -> (Runtime, Runtime) {
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let local = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    (workers, local)
}

fn redis_benches(c: &mut Criterion) {
    let Some(server) = RedisServer::start() else {
        return;
    };
    URL.set(server.url()).expect("the bench runs once");
    let (workers, rt) = runtimes();
    let cache: Cache<u64, String, RedisBackend> = Cache::builder("bench::profile")
        .backend_options(RedisOptions::new().url(server.url()))
        .build()
        .expect("a Redis cache");
    cache.insert(KEY, value()).expect("Redis is up");
    let key = cache
        .backend()
        .expect("a backend")
        .redis_key(&KEY)
        .expect("a key");

    let client = redis::Client::open(server.url()).expect("a client");
    let mut plain_sync = client.get_connection().expect("a connection");
    let manager = |rt: &Runtime| {
        rt.block_on(redis::aio::ConnectionManager::new(client.clone()))
            .expect("a connection manager")
    };
    let (plain_async, plain_workers) = (manager(&rt), manager(&workers));
    // Warm memokit's connection on each runtime.
    for rt in [&rt, &workers] {
        rt.block_on(async {
            assert_eq!(profile(KEY).await, value());
            assert_eq!(cache.get_async(&KEY).await.ok().flatten(), Some(value()));
        });
    }

    let mut hit = c.benchmark_group("redis_hit");
    hit.bench_function("plain_redis_get_sync", |b| {
        b.iter(|| {
            let bytes: Vec<u8> = redis::cmd("GET")
                .arg(&key)
                .query(&mut plain_sync)
                .expect("GET");
            black_box(bytes)
        })
    });
    hit.bench_function("memokit_get_sync", |b| {
        b.iter(|| black_box(cache.get(&KEY).expect("a hit")))
    });
    hit.bench_function("plain_redis_get_async", |b| {
        b.iter(|| {
            let mut conn = plain_async.clone();
            let bytes: Vec<u8> = rt.block_on(conn.get(&key)).expect("GET");
            black_box(bytes)
        })
    });
    hit.bench_function("memokit_get_async", |b| {
        b.iter(|| black_box(rt.block_on(cache.get_async(&KEY)).expect("a hit")))
    });
    hit.bench_function("memoized_fn_async", |b| {
        b.iter(|| black_box(rt.block_on(profile(KEY))))
    });
    hit.finish();

    let mut load = c.benchmark_group("redis_64_callers");
    load.throughput(Throughput::Elements((CALLERS * CALLS_PER_CALLER) as u64));
    load.bench_function("plain_redis_get_async", |b| {
        b.iter_custom(|iters| {
            concurrent(&workers, iters, |_| {
                let mut conn = plain_workers.clone();
                let key = key.clone();
                async move {
                    let bytes: Vec<u8> = conn.get(&key).await.expect("GET");
                    black_box(bytes);
                }
            })
        })
    });
    load.bench_function("memokit_get_async", |b| {
        b.iter_custom(|iters| {
            concurrent(&workers, iters, |_| {
                let cache = cache.clone();
                async move {
                    black_box(cache.get_async(&KEY).await.expect("a hit"));
                }
            })
        })
    });
    load.bench_function("memoized_fn_async", |b| {
        b.iter_custom(|iters| {
            concurrent(&workers, iters, |_| async {
                black_box(profile(KEY).await);
            })
        })
    });
    load.finish();
    drop(server);
}

/// Runs `iters` rounds of `CALLERS` tasks, each awaiting `call` `CALLS_PER_CALLER` times.
fn concurrent<F, Fut>(rt: &Runtime, iters: u64, call: F) -> Duration
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    rt.block_on(async {
        for _ in 0..iters {
            let mut tasks = tokio::task::JoinSet::new();
            for caller in 0..CALLERS {
                let calls: Vec<Fut> = (0..CALLS_PER_CALLER).map(|_| call(caller)).collect();
                tasks.spawn(async move {
                    for c in calls {
                        c.await;
                    }
                });
            }
            tasks.join_all().await;
        }
    });
    start.elapsed()
}

criterion_group!(benches, redis_benches);
criterion_main!(benches);
