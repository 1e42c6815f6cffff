//! Bench 1: hit latency on one thread, `u64 -> u64`, 100k entries, keys in random order.
//! A plain `hashbrown::HashMap` with no lock is the floor; the same map behind a
//! `parking_lot::RwLock` read lock shows, in the same run, what one conventional read lock adds
//! to it (the in-memory backend's `lock` module explains why that is most of the gap).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use memokit_bench::{Rng, peers};

const ENTRIES: u64 = 100_000;

fn hit_latency(c: &mut Criterion) {
    let mut rng = Rng::new(42);
    let keys: Vec<u64> = (0..1 << 16).map(|_| rng.next_u64() % ENTRIES).collect();
    let mut group = c.benchmark_group("hit_latency");

    let floor: hashbrown::HashMap<u64, u64> = (0..ENTRIES).map(|k| (k, k)).collect();
    let mut i = 0;
    group.bench_function("hashbrown (floor)", |b| {
        b.iter(|| {
            i = (i + 1) & (keys.len() - 1);
            black_box(floor.get(&keys[i]).copied())
        })
    });

    let locked = parking_lot::RwLock::new(floor.clone());
    group.bench_function("hashbrown + RwLock", |b| {
        b.iter(|| {
            i = (i + 1) & (keys.len() - 1);
            black_box(locked.read().get(&keys[i]).copied())
        })
    });

    // Twice the entries as capacity so every lookup is a hit for every peer.
    for (name, peer) in peers::all(2 * ENTRIES) {
        for k in 0..ENTRIES {
            peer.insert(k, k);
        }
        peer.settle();
        assert!(
            keys.iter().all(|&k| peer.get(k) == Some(k)),
            "{name} lost entries"
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & (keys.len() - 1);
                black_box(peer.get(keys[i]))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, hit_latency);
criterion_main!(benches);
