//! Bench 4: a hit through the macro: `#[memokit::cached]` versus `cached`'s `#[cached]`, the
//! same function and capacity, 1,000 warm keys.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use memokit_bench::Rng;

const KEYS: u64 = 1_000;

#[memokit::cached(capacity = 10_000)]
fn square_memokit(x: u64) -> u64 {
    x.wrapping_mul(x)
}

#[cached::macros::cached(max_size = 10_000)]
fn square_cached(x: u64) -> u64 {
    x.wrapping_mul(x)
}

fn macro_hit(c: &mut Criterion) {
    let mut rng = Rng::new(3);
    let keys: Vec<u64> = (0..1 << 12).map(|_| rng.next_u64() % KEYS).collect();
    for k in 0..KEYS {
        square_memokit(k);
        square_cached(k);
    }
    let mut group = c.benchmark_group("macro_hit");
    let mut i = 0;
    group.bench_function("memokit #[cached]", |b| {
        b.iter(|| {
            i = (i + 1) & (keys.len() - 1);
            black_box(square_memokit(black_box(keys[i])))
        })
    });
    group.bench_function("cached #[cached]", |b| {
        b.iter(|| {
            i = (i + 1) & (keys.len() - 1);
            black_box(square_cached(black_box(keys[i])))
        })
    });
    group.finish();
}

criterion_group!(benches, macro_hit);
criterion_main!(benches);
