//! The operations beyond get/insert, on the in-memory backend, `u64 -> u64`, 100k entries:
//!
//! * `get_many`: one batch of 100 random keys against 100 `get`s of the same keys, memokit's
//!   and moka's (moka has no batch read), with a plain `hashbrown` map as the floor;
//! * `update`: an atomic read-modify-write of one random key (an increment) by memokit's
//!   `update` and by moka's `entry().and_compute_with` on the same work, beside the non-atomic
//!   `get` + `insert` it replaces, and a `Mutex<hashbrown>` entry as the floor.
//!
//! `cargo bench -p memokit-bench --bench operations`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use memokit::Cache;
use memokit_bench::Rng;
use moka::ops::compute::Op;

const ENTRIES: u64 = 100_000;
const BATCH: usize = 100;

fn caches() -> (Cache<u64, u64>, moka::sync::Cache<u64, u64>) {
    let ours: Cache<u64, u64> = Cache::builder("bench-operations")
        .capacity(2 * ENTRIES)
        .build()
        .expect("a valid cache");
    let moka = moka::sync::Cache::new(2 * ENTRIES);
    for k in 0..ENTRIES {
        ours.insert(k, k).expect("memory never fails");
        moka.insert(k, k);
    }
    moka.run_pending_tasks();
    (ours, moka)
}

fn get_many(c: &mut Criterion) {
    let (ours, moka) = caches();
    let mut rng = Rng::new(7);
    let batches: Vec<Vec<u64>> = (0..256)
        .map(|_| (0..BATCH).map(|_| rng.next_u64() % ENTRIES).collect())
        .collect();
    let floor: hashbrown::HashMap<u64, u64> = (0..ENTRIES).map(|k| (k, k)).collect();
    let mut i = 0;
    let mut next = || {
        i = (i + 1) % batches.len();
        &batches[i]
    };
    let mut group = c.benchmark_group("get_many_100");
    group.bench_function("hashbrown 100 gets (floor)", |b| {
        b.iter(|| {
            next()
                .iter()
                .map(|k| floor.get(k).copied())
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("memokit get_many", |b| {
        b.iter(|| ours.get_many(next()).expect("memory never fails"))
    });
    group.bench_function("memokit 100 gets", |b| {
        b.iter(|| {
            next()
                .iter()
                .map(|k| ours.get(k).expect("memory never fails"))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("moka 100 gets", |b| {
        b.iter(|| next().iter().map(|k| moka.get(k)).collect::<Vec<_>>())
    });
    group.finish();
}

fn update(c: &mut Criterion) {
    let (ours, moka) = caches();
    let mut rng = Rng::new(9);
    let keys: Vec<u64> = (0..1 << 16).map(|_| rng.next_u64() % ENTRIES).collect();
    let floor = parking_lot::Mutex::new(
        (0..ENTRIES)
            .map(|k| (k, k))
            .collect::<hashbrown::HashMap<_, _>>(),
    );
    let mut i = 0;
    let mut next = || {
        i = (i + 1) & (keys.len() - 1);
        keys[i]
    };
    let mut group = c.benchmark_group("update");
    group.bench_function("Mutex<hashbrown> entry (floor)", |b| {
        b.iter(|| *floor.lock().entry(next()).or_insert(0) += 1)
    });
    group.bench_function("memokit update", |b| {
        b.iter(|| {
            ours.update(next(), |v| Some(v.map_or(0, |v| v + 1)))
                .expect("memory never fails")
        })
    });
    group.bench_function("memokit get + insert (not atomic)", |b| {
        b.iter(|| {
            let k = next();
            let v = ours.get(&k).expect("memory never fails");
            ours.insert(k, v.map_or(0, |v| v + 1))
                .expect("memory never fails");
        })
    });
    group.bench_function("moka entry().and_compute_with", |b| {
        b.iter(|| {
            black_box(
                moka.entry(next())
                    .and_compute_with(|e| Op::Put(e.map_or(0, |e| e.into_value() + 1))),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, get_many, update);
criterion_main!(benches);
