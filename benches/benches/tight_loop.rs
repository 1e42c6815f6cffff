//! Bench 5: lookups and writes back to back, on one thread, the way a caller's loop over many keys
//! makes them. Benches 1 to 3 make one operation per iteration, between which criterion's own
//! bookkeeping runs; here each iteration is a block of [`BLOCK`] operations in one loop, so a
//! cache whose read path lets one lookup's cache misses overlap the next one's (no full fence, no
//! atomic read-modify-write, no load that depends on the previous lookup) shows it. Every peer's
//! loop is compiled with its own `get` and `insert` inlined ([`peers::Peer::sum`] and its siblings).
//! Times are per block; divide by [`BLOCK`] for one operation (criterion prints the rate too).
//!
//! - `tight_hit`: 100k `u64 -> u64` entries, 2M uniformly random keys, every lookup a hit,
//!   the values summed; a plain `hashbrown` map without a lock is the floor.
//! - `tight_mixed`: Zipf(1.0) keys over 1M, capacity 100k, every tenth operation an insert and
//!   the rest lookups.
//! - `insert_at_capacity`: distinct keys into a full cache of 100k, so every insert evicts.
//!
//! `cargo bench -p memokit-bench --bench tight_loop`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memokit_bench::peers;
use memokit_bench::{Rng, zipf_keys};

/// Operations per measured iteration.
const BLOCK: usize = 4_096;
/// Keys per stream: 2M, so the stream itself (16 MiB) is not cache-resident either.
const STREAM: usize = 1 << 21;
const ENTRIES: u64 = 100_000;

/// Successive blocks of `keys`, one per call, wrapping around.
fn blocks<'k>(keys: &'k [u64]) -> impl FnMut() -> &'k [u64] {
    let mut at = 0;
    move || {
        let block = &keys[at..at + BLOCK];
        at = (at + BLOCK) % keys.len();
        block
    }
}

fn tight_hit(c: &mut Criterion) {
    let mut rng = Rng::new(5);
    let keys: Vec<u64> = (0..STREAM).map(|_| rng.next_u64() % ENTRIES).collect();
    let mut group = c.benchmark_group("tight_hit");
    group.throughput(Throughput::Elements(BLOCK as u64));

    let floor: hashbrown::HashMap<u64, u64> = (0..ENTRIES).map(|k| (k, k)).collect();
    let mut next = blocks(&keys);
    group.bench_function("hashbrown (floor)", |b| {
        b.iter(|| {
            let block = next();
            black_box(
                block
                    .iter()
                    .map(|k| floor.get(k).copied().unwrap_or(0))
                    .sum::<u64>(),
            )
        })
    });

    // Twice the entries as capacity so every lookup is a hit for every peer.
    for (name, peer) in peers::all(2 * ENTRIES) {
        for k in 0..ENTRIES {
            peer.insert(k, k);
        }
        peer.settle();
        let expected: u64 = keys.iter().sum();
        assert_eq!(peer.sum(&keys), expected, "{name} lost entries");
        let mut next = blocks(&keys);
        group.bench_function(name, |b| b.iter(|| black_box(peer.sum(next()))));
    }
    group.finish();
}

fn tight_mixed(c: &mut Criterion) {
    const KEYS: u64 = 1_000_000;
    let keys = zipf_keys(KEYS, 1.0, STREAM, 13);
    let mut group = c.benchmark_group("tight_mixed");
    group.throughput(Throughput::Elements(BLOCK as u64));
    for (name, peer) in peers::all(ENTRIES) {
        // Fill to capacity with the workload itself.
        peer.mixed(&keys);
        peer.settle();
        let mut next = blocks(&keys);
        group.bench_function(name, |b| b.iter(|| black_box(peer.mixed(next()))));
    }
    group.finish();
}

fn insert_at_capacity(c: &mut Criterion) {
    let mut group = c.benchmark_group("insert_at_capacity");
    group.throughput(Throughput::Elements(BLOCK as u64));
    for (name, peer) in peers::all(ENTRIES) {
        peer.insert_from(0, 2 * ENTRIES);
        peer.settle();
        let mut start = 2 * ENTRIES;
        group.bench_function(name, |b| {
            b.iter(|| {
                peer.insert_from(start, BLOCK as u64);
                start += BLOCK as u64;
            })
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    tight_hit(c);
    tight_mixed(c);
    insert_at_capacity(c);
}

criterion_group!(benches, bench);
criterion_main!(benches);
