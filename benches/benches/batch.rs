//! `#[cached(batch)]` against single memoized calls: 100 ids of which 90 are cached, the other
//! 10 loaded by the body. The single-call side pays one body run per missing id; the batch pays
//! one for all ten. The body costs nothing (the overhead alone), or a simulated round trip of
//! 20 µs per run (a database query) plus nothing per id.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const IDS: u64 = 100;
const CACHED: u64 = 90;

/// The simulated round trip of one body run, 0 for the overhead alone.
static ROUND_TRIP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn round_trip() {
    let nanos = ROUND_TRIP.load(std::sync::atomic::Ordering::Relaxed);
    let until = Instant::now() + Duration::from_nanos(nanos);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

#[memokit::cached(batch, capacity = 10_000)]
fn users_batch(ids: &[u64]) -> HashMap<u64, u64> {
    round_trip();
    ids.iter().map(|&id| (id, id * 3)).collect()
}

#[memokit::cached(capacity = 10_000)]
fn user_single(id: u64) -> u64 {
    round_trip();
    id * 3
}

fn batch(c: &mut Criterion) {
    let ids: Vec<u64> = (0..IDS).collect();
    let mut group = c.benchmark_group("batch");
    for (label, nanos) in [("free body", 0), ("20us body", 20_000)] {
        ROUND_TRIP.store(nanos, std::sync::atomic::Ordering::Relaxed);
        users_batch(&ids);
        for &id in &ids {
            user_single(id);
        }
        // Each iteration starts with the same 10 ids missing (the setup runs before every
        // iteration, outside the measured time).
        let forget_batch = || {
            for id in CACHED..IDS {
                USERS_BATCH_MEMO.invalidate(&id).unwrap();
            }
        };
        let forget_single = || {
            for id in CACHED..IDS {
                USER_SINGLE_MEMO.invalidate(&id).unwrap();
            }
        };
        group.bench_function(format!("memokit batch of 100, 90 cached, {label}"), |b| {
            b.iter_batched(
                forget_batch,
                |()| black_box(users_batch(black_box(&ids))),
                BatchSize::PerIteration,
            )
        });
        group.bench_function(
            format!("memokit 100 single calls, 90 cached, {label}"),
            |b| {
                b.iter_batched(
                    forget_single,
                    |()| {
                        for &id in &ids {
                            black_box(user_single(black_box(id)));
                        }
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
