//! Bench 3: 90% reads / 10% writes on Zipf keys, 2 threads, the cache full (capacity 10k over
//! 100k keys), so writes evict. There is no lock-free floor for writes.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memokit_bench::{on_threads, peers, zipf_keys};

const KEYS: u64 = 100_000;
const CAPACITY: u64 = 10_000;
const THREADS: usize = 2;

fn mixed(c: &mut Criterion) {
    let keys: Vec<Vec<u64>> = (0..THREADS)
        .map(|t| zipf_keys(KEYS, 1.0, 1 << 16, 11 + t as u64))
        .collect();
    let mut group = c.benchmark_group("mixed_90_10_2_threads");
    group.throughput(Throughput::Elements(THREADS as u64));
    for (name, peer) in peers::all(CAPACITY) {
        // Fill to capacity with the workload itself.
        for &k in keys.iter().flatten() {
            peer.insert(k, k);
        }
        peer.settle();
        let op = |i: usize, k: u64| {
            if i.is_multiple_of(10) {
                peer.insert(k, k);
                false
            } else {
                peer.get(k).is_some()
            }
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| on_threads(iters, &keys, &op))
        });
    }
    group.finish();
}

criterion_group!(benches, mixed);
criterion_main!(benches);
