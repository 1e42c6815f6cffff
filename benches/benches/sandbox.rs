//! What a sandbox costs on the hit path. Every cache reads the current namespace on every call:
//! outside a sandbox that must be one thread-local load; inside one, the thread's memory of the
//! scopes it used last finds the sandbox's scope (a read-locked map lookup only the first time). Measured on a hand-built cache and a memoized function, with and
//! without a TTL (a TTL hit also reads the clock: the real one, or the sandbox's manual one).

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use memokit::{Cache, cached, context};

const KEYS: u64 = 1_024;

/// The foundation's context, for comparison: namespace and clock in one `RefCell` thread-local,
/// whose destructor (the `Arc`) costs a registration check and whose borrow costs a flag check.
struct OldContext {
    namespace: u64,
    _clock: Option<Arc<memokit::clock::ManualClock>>,
}

thread_local! {
    static OLD_CONTEXT: RefCell<OldContext> = const {
        RefCell::new(OldContext { namespace: 0, _clock: None })
    };
}

#[cached]
fn memo_hit(key: u64) -> u64 {
    key * 2
}

fn cache(name: &str, ttl: Option<Duration>) -> Cache<u64, u64> {
    let builder = Cache::builder(name);
    let builder = match ttl {
        Some(ttl) => builder.ttl(ttl),
        None => builder,
    };
    builder.build().unwrap()
}

/// Fills `cache` (and the memo) in the current namespace, then times hits on them.
fn hits(c: &mut Criterion, place: &str) {
    let plain = cache(&format!("bench-plain-{place}"), None);
    let ttl = cache(
        &format!("bench-ttl-{place}"),
        Some(Duration::from_secs(3600)),
    );
    for k in 0..KEYS {
        plain.insert(k, k).unwrap();
        ttl.insert(k, k).unwrap();
        memo_hit(k);
    }
    let mut group = c.benchmark_group("hit");
    let mut k = 0;
    let mut next = move || {
        k = (k + 1) % KEYS;
        k
    };
    group.bench_function(BenchmarkId::new("cache_get", place), |b| {
        b.iter(|| plain.get(black_box(&next())).unwrap())
    });
    group.bench_function(BenchmarkId::new("cache_get_ttl", place), |b| {
        b.iter(|| ttl.get(black_box(&next())).unwrap())
    });
    group.bench_function(BenchmarkId::new("memoized_fn", place), |b| {
        b.iter(|| memo_hit(black_box(next())))
    });
    group.bench_function(BenchmarkId::new("namespace_read", place), |b| {
        b.iter(context::namespace)
    });
    group.bench_function(BenchmarkId::new("namespace_read_refcell", place), |b| {
        b.iter(|| OLD_CONTEXT.with_borrow(|c| c.namespace))
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    hits(c, "global");
    let _sb = memokit::sandbox();
    hits(c, "sandbox");
}

criterion_group!(benches, bench);
criterion_main!(benches);
