//! The price of single flight across processes (`flight = "distributed"`) on a cold key: a miss
//! loaded by `get_or_insert_with` on a Redis cache with a distributed flight against the same on
//! a plain Redis cache (this process's single flight only), one caller, a fresh key each
//! iteration, sync and async, on a local server the bench starts from PATH.
//!
//! The plain load is a miss, the leader's second look and the `SET` (three round trips); the
//! distributed one adds taking the lease and releasing it (two scripts), and, sync, the thread
//! that would renew the lease, started and stopped around the loader.
//!
//! `cargo bench -p memokit-bench --features redis --bench redis_flight`
//!
//! Medians from one run on the 2-core VM while other builds shared it, Redis on loopback
//! (December 2026): plain 183 µs sync and 269 µs async, distributed 722 µs sync and 685 µs async
//! (3.9x and 2.5x: two scripts, and sync the renewal thread, on a machine where a round trip
//! cost some 60 µs). A cold key's load usually costs far more than either.

#[path = "../../tests/support/redis.rs"]
mod redis_server;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use memokit::{Cache, RedisBackend, RedisOptions};
use redis_server::RedisServer;

fn redis_flight(c: &mut Criterion) {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = |name: &str, lease: Option<Duration>| {
        let builder = Cache::<u64, u64, RedisBackend>::builder(name)
            .backend_options(RedisOptions::new().url(server.url()));
        match lease {
            Some(lease) => builder.distributed_flight(lease),
            None => builder,
        }
        .build()
        .expect("a Redis cache")
    };
    let caches = [
        ("plain_single_flight", cache("bench::plain", None)),
        (
            "distributed_flight",
            cache("bench::distributed", Some(Duration::from_secs(10))),
        ),
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    for (_, cache) in &caches {
        cache.get(&u64::MAX).expect("Redis is up");
        rt.block_on(cache.get_async(&u64::MAX))
            .expect("a warm async connection");
    }

    let mut group = c.benchmark_group("redis_cold_key_load");
    for (name, cache) in &caches {
        let mut key = 0;
        group.bench_function(format!("{name}_sync"), |b| {
            b.iter(|| {
                key += 1;
                black_box(cache.get_or_insert_with(key, || key).expect("a load"))
            })
        });
        let mut key = 1 << 40;
        group.bench_function(format!("{name}_async"), |b| {
            b.iter(|| {
                key += 1;
                let load = cache.get_or_insert_with_async(key, async { key });
                black_box(rt.block_on(load).expect("a load"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, redis_flight);
criterion_main!(benches);
