//! N concurrent callers on one cold key (N = 1, 16, 256): the time until every caller has its
//! value, memokit's `Cache::get_or_insert_with` beside moka's `get_with` in the same run, and how
//! many times the loader ran (printed and asserted: once per cold key).
//!
//! A persistent pool of N threads is released by a barrier onto a fresh key each iteration, so
//! the measurement is the stampede itself, not thread creation. The loader sleeps 100 µs, standing
//! for the I/O a cache is there to save.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const LOAD: Duration = Duration::from_micros(100);

type Call = Arc<dyn Fn(u64) -> u64 + Send + Sync>;

/// N threads that each call `call(key)` once per round, on the round's key.
struct Stampede {
    start: Arc<Barrier>,
    end: Arc<Barrier>,
    key: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Stampede {
    fn new(callers: usize, call: Call) -> Self {
        let start = Arc::new(Barrier::new(callers + 1));
        let end = Arc::new(Barrier::new(callers + 1));
        let key = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..callers)
            .map(|_| {
                let (start, end, key, stop, call) = (
                    start.clone(),
                    end.clone(),
                    key.clone(),
                    stop.clone(),
                    call.clone(),
                );
                thread::spawn(move || {
                    loop {
                        start.wait();
                        if stop.load(Ordering::Acquire) {
                            return;
                        }
                        black_box(call(key.load(Ordering::Acquire)));
                        end.wait();
                    }
                })
            })
            .collect();
        Self {
            start,
            end,
            key,
            stop,
            threads,
        }
    }

    /// One round on a key nobody has loaded: the time until every caller returned.
    fn round(&self, key: u64) -> Duration {
        self.key.store(key, Ordering::Release);
        let began = Instant::now();
        self.start.wait();
        self.end.wait();
        began.elapsed()
    }
}

impl Drop for Stampede {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.start.wait();
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
    }
}

fn slow_load(key: u64, runs: &AtomicU64) -> u64 {
    runs.fetch_add(1, Ordering::Relaxed);
    thread::sleep(LOAD);
    key * 2
}

/// Benches `peer` under a stampede of `callers`, then reports and checks its loader runs.
fn stampede(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    peer: &str,
    callers: usize,
    make: impl FnOnce(Arc<AtomicU64>) -> Call,
) {
    let runs = Arc::new(AtomicU64::new(0));
    let pool = Stampede::new(callers, make(runs.clone()));
    let mut cold_keys = 0;
    group.bench_function(BenchmarkId::new(peer, callers), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    cold_keys += 1;
                    pool.round(cold_keys)
                })
                .sum()
        })
    });
    drop(pool);
    let runs = runs.load(Ordering::Relaxed);
    println!("{peer}/{callers}: {runs} loader runs for {cold_keys} cold keys");
    assert_eq!(
        runs, cold_keys,
        "{peer} ran the loader more than once per key"
    );
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_flight");
    for callers in [1usize, 16, 256] {
        stampede(&mut group, "memokit", callers, |runs| {
            let cache: memokit::Cache<u64, u64> = memokit::Cache::builder("bench-single-flight")
                .build()
                .unwrap();
            Arc::new(move |key| {
                cache
                    .get_or_insert_with(key, || slow_load(key, &runs))
                    .unwrap()
            })
        });
        stampede(&mut group, "moka", callers, |runs| {
            let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(u64::MAX);
            Arc::new(move |key| cache.get_with(key, || slow_load(key, &runs)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
