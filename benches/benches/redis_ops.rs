//! The operations beyond get/insert on Redis (a local server the bench starts from PATH, like the
//! tests), `u64 -> u64`, 10k entries:
//!
//! * `get_many`: one batch of 100 random keys (one `MGET`) against 100 `get`s of the same keys
//!   (100 round trips), sync and async;
//! * `update`: an atomic increment of one random key by `Cache::update` (a `MGET`, then one
//!   compare-and-set script) against the non-atomic `get` + `insert` it replaces (a `GET`, then
//!   a `SET`): the price of atomicity without contention.
//!
//! `cargo bench -p memokit-bench --features redis --bench redis_ops`
//!
//! Medians on the 2-core CI machine, Redis 7.0 on loopback (December 2026): 100 keys by
//! `get_many` 105 µs sync and 98 µs async, by 100 `get`s 1,130 µs and 1,292 µs; an increment by
//! `update` 27.8 µs sync and 48.7 µs async, by `get` + `insert` 21.9 µs.

#[path = "../../tests/support/redis.rs"]
mod redis_server;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use memokit::{Cache, RedisBackend, RedisOptions};
use memokit_bench::Rng;
use redis_server::RedisServer;

const ENTRIES: u64 = 10_000;
const BATCH: usize = 100;

fn redis_ops(c: &mut Criterion) {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u64, u64, RedisBackend> = Cache::builder("bench::ops")
        .backend_options(RedisOptions::new().url(server.url()))
        .build()
        .expect("a Redis cache");
    cache
        .insert_many((0..ENTRIES).map(|k| (k, k)))
        .expect("Redis is up");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(cache.get_async(&0))
        .expect("a warm async connection");
    let mut rng = Rng::new(7);
    let mut batch = || -> Vec<u64> { (0..BATCH).map(|_| rng.next_u64() % ENTRIES).collect() };

    let mut many = c.benchmark_group("redis_get_100");
    many.bench_function("get_many_sync", |b| {
        let keys = batch();
        b.iter(|| black_box(cache.get_many(&keys).expect("a batch")))
    });
    many.bench_function("100_gets_sync", |b| {
        let keys = batch();
        b.iter(|| {
            for k in &keys {
                black_box(cache.get(k).expect("a hit"));
            }
        })
    });
    many.bench_function("get_many_async", |b| {
        let keys = batch();
        b.iter(|| black_box(rt.block_on(cache.get_many_async(&keys)).expect("a batch")))
    });
    many.bench_function("100_gets_async", |b| {
        let keys = batch();
        b.iter(|| {
            rt.block_on(async {
                for k in &keys {
                    black_box(cache.get_async(k).await.expect("a hit"));
                }
            })
        })
    });
    many.finish();

    let mut update = c.benchmark_group("redis_increment");
    let mut rng = Rng::new(11);
    update.bench_function("update_sync", |b| {
        b.iter(|| {
            let k = rng.next_u64() % ENTRIES;
            black_box(
                cache
                    .update(k, |v| Some(v.map_or(0, |v| v + 1)))
                    .expect("an update"),
            )
        })
    });
    update.bench_function("get_then_insert_sync", |b| {
        b.iter(|| {
            let k = rng.next_u64() % ENTRIES;
            let v = cache.get(&k).expect("a read").map_or(0, |v| v + 1);
            cache.insert(k, v).expect("a write");
        })
    });
    update.bench_function("update_async", |b| {
        b.iter(|| {
            let k = rng.next_u64() % ENTRIES;
            let done = cache.update_async(k, |v| Some(v.map_or(0, |v| v + 1)));
            black_box(rt.block_on(done).expect("an update"))
        })
    });
    update.finish();
}

criterion_group!(benches, redis_ops);
criterion_main!(benches);
