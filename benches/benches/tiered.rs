//! The tiered backend beside its two layers, in the same run, on a local `redis-server` the bench
//! starts from PATH: a first-layer hit against a memory-backend hit (`u64 -> u64`, 10k entries,
//! keys in random order, the same capacity), a second-layer hit (a first-layer miss answered by
//! Redis) against a Redis-backend hit, and a write against a Redis-backend write and against the
//! write a pub/sub design would make (the same write, then a `PUBLISH` of the key).
//!
//! `cargo bench -p memokit-bench --features tiered --bench tiered`

#[path = "../../tests/support/redis.rs"]
mod redis_server;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use memokit::{Backend, Cache, RedisBackend, RedisOptions, Tiered, TieredOptions};
use memokit_bench::Rng;
use redis_server::RedisServer;

const ENTRIES: u64 = 10_000;
const KEY: u64 = 42;

fn tiered_benches(c: &mut Criterion) {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let redis_options = || RedisOptions::new().url(server.url());
    let memory: Cache<u64, u64> = Cache::builder("bench::memory")
        .capacity(2 * ENTRIES)
        .build()
        .expect("a memory cache");
    let tiered: Cache<u64, u64, Tiered<u64, u64>> = Cache::builder("bench::tiered")
        .capacity(2 * ENTRIES)
        .backend_options(TieredOptions::new(redis_options()))
        .build()
        .expect("a tiered cache");
    let redis: Cache<u64, u64, RedisBackend> = Cache::builder("bench::redis")
        .backend_options(redis_options())
        .build()
        .expect("a Redis cache");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tiered.backend().expect("a backend").is_coherent() {
        assert!(Instant::now() < deadline, "no invalidation connection");
        std::thread::sleep(Duration::from_millis(10));
    }
    let entries: Vec<(u64, u64)> = (0..ENTRIES).map(|k| (k, k)).collect();
    memory.insert_many(entries.clone()).expect("memory");
    tiered.insert_many(entries.clone()).expect("Redis is up");
    redis.insert_many(entries).expect("Redis is up");
    // The writes' own invalidations come back; fill the first layer once they have.
    std::thread::sleep(Duration::from_millis(200));
    for k in 0..ENTRIES {
        assert_eq!(tiered.get(&k).expect("a hit"), Some(k));
    }
    let local = tiered.backend().expect("a backend");
    assert!((0..ENTRIES).all(|k| local.local().get(&k).ok().flatten().is_some()));

    let mut rng = Rng::new(42);
    let keys: Vec<u64> = (0..1 << 16).map(|_| rng.next_u64() % ENTRIES).collect();
    let mut i = 0;
    let mut hit = c.benchmark_group("tiered_first_layer_hit");
    hit.bench_function("memory_backend_hit", |b| {
        b.iter(|| {
            i = (i + 1) & (keys.len() - 1);
            black_box(memory.get(&keys[i]).expect("memory"))
        })
    });
    hit.bench_function("tiered_first_layer_hit", |b| {
        b.iter(|| {
            i = (i + 1) & (keys.len() - 1);
            black_box(tiered.get(&keys[i]).expect("memory"))
        })
    });
    hit.finish();

    let mut remote = c.benchmark_group("tiered_second_layer_hit");
    remote.bench_function("redis_backend_hit", |b| {
        b.iter(|| black_box(redis.get(&KEY).expect("a hit")))
    });
    // Each read drops its own copy again (a memory remove, tens of nanoseconds beside the round
    // trip), so every read is a first-layer miss answered by Redis, with the fill it makes.
    remote.bench_function("tiered_second_layer_hit", |b| {
        b.iter(|| {
            let found = tiered.get(&KEY).expect("a hit");
            let _ = local.local().remove(&KEY);
            black_box(found)
        })
    });
    remote.finish();

    let client = redis::Client::open(server.url()).expect("a client");
    let mut publisher = client.get_connection().expect("a connection");
    let mut write = c.benchmark_group("tiered_write");
    write.bench_function("redis_backend_insert", |b| {
        b.iter(|| redis.insert(KEY, KEY).expect("a write"))
    });
    write.bench_function("tiered_insert", |b| {
        b.iter(|| tiered.insert(KEY, KEY).expect("a write"))
    });
    write.bench_function("redis_insert_then_publish", |b| {
        b.iter(|| {
            redis.insert(KEY, KEY).expect("a write");
            let heard: u64 = redis::cmd("PUBLISH")
                .arg("memokit:bench::redis")
                .arg(KEY)
                .query(&mut publisher)
                .expect("PUBLISH");
            black_box(heard)
        })
    });
    write.finish();
    drop(local);
    drop(server);
}

criterion_group! {
    name = benches;
    // One run on a shared machine: short enough to finish, long enough for stable medians.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = tiered_benches
}
criterion_main!(benches);
