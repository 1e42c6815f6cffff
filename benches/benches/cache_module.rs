//! What a cache module costs over the `Cache` handle it wraps: `Users::get` goes through a lazily
//! built static (one atomic load once built) and then the same `Cache::get`. Both replay the same
//! Zipf key stream over a warm cache, so every lookup is a hit.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memokit::Cache;

const KEYS: u64 = 10_000;
const OPS: usize = 4_096;

#[derive(memokit::Cache)]
#[cache(name = "bench-module", key = u64, value = u64, capacity = 100_000)]
struct Module;

fn hits(c: &mut Criterion) {
    let keys = memokit_bench::zipf_keys(KEYS, 1.0, OPS, 42);
    let handle: Cache<u64, u64> = Cache::builder("bench-handle")
        .capacity(100_000)
        .build()
        .unwrap();
    for k in 0..KEYS {
        handle.insert(k, k).unwrap();
        Module::insert(k, k).unwrap();
    }
    let mut group = c.benchmark_group("get_hit");
    group.throughput(Throughput::Elements(OPS as u64));
    group.bench_function("cache_handle", |b| {
        b.iter(|| {
            for k in &keys {
                black_box(handle.get(k).unwrap());
            }
        })
    });
    group.bench_function("cache_module", |b| {
        b.iter(|| {
            for k in &keys {
                black_box(Module::get(k).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, hits);
criterion_main!(benches);
