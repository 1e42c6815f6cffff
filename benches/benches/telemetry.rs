//! What telemetry costs on the hit path: `Cache::get` of a present key with nothing attached, with
//! one trivial handler attached, and with the `metrics` bridge recording into a Prometheus
//! recorder. All three run in one process, in that order, over the same keys.
//!
//! `cargo bench -p memokit-bench --features telemetry --bench telemetry`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use memokit::Cache;
use memokit::telemetry::{self, EventKind, GetResult};
use metrics_exporter_prometheus::PrometheusBuilder;

const KEYS: u64 = 1_024;

fn hits(c: &mut Criterion) {
    let cache: Cache<u64, u64> = Cache::builder("bench-telemetry").build().unwrap();
    for k in 0..KEYS {
        cache.insert(k, k).unwrap();
    }
    let keys = memokit_bench::zipf_keys(KEYS, 1.0, 4_096, 42);
    let mut group = c.benchmark_group("telemetry_hit");
    let mut run = |label: &str| {
        let mut i = 0;
        group.bench_function(label, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                black_box(cache.get(black_box(&keys[i])).unwrap())
            })
        });
    };

    run("off");

    static HITS: AtomicU64 = AtomicU64::new(0);
    telemetry::attach("bench-count-hits", |event| {
        if let EventKind::Get(GetResult::Hit) = event.kind {
            HITS.fetch_add(1, Ordering::Relaxed);
        }
    })
    .unwrap();
    run("handler");
    telemetry::detach("bench-count-hits");
    assert!(HITS.load(Ordering::Relaxed) > 0, "the handler never ran");

    metrics::set_global_recorder(PrometheusBuilder::new().build_recorder()).unwrap();
    telemetry::metrics::install();
    run("metrics");
    telemetry::metrics::uninstall();

    group.finish();
}

criterion_group!(benches, hits);
criterion_main!(benches);
