//! Bench 2: read throughput on 2 threads (this machine's cores), Zipf-distributed keys, every
//! lookup a hit. A shared `hashbrown::HashMap` read without a lock is the floor.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memokit_bench::{on_threads, peers, zipf_keys};

const KEYS: u64 = 100_000;
const THREADS: usize = 2;

fn read_throughput(c: &mut Criterion) {
    let keys: Vec<Vec<u64>> = (0..THREADS)
        .map(|t| zipf_keys(KEYS, 1.0, 1 << 16, 7 + t as u64))
        .collect();
    let mut group = c.benchmark_group("read_throughput_2_threads");
    group.throughput(Throughput::Elements(THREADS as u64));

    let floor: hashbrown::HashMap<u64, u64> = (0..KEYS).map(|k| (k, k)).collect();
    group.bench_function("hashbrown (floor)", |b| {
        b.iter_custom(|iters| on_threads(iters, &keys, &|_, k| floor.contains_key(&k)))
    });
    for (name, peer) in peers::all(2 * KEYS) {
        for k in 0..KEYS {
            peer.insert(k, k);
        }
        peer.settle();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| on_threads(iters, &keys, &|_, k| peer.get(k).is_some()))
        });
    }
    group.finish();
}

criterion_group!(benches, read_throughput);
criterion_main!(benches);
