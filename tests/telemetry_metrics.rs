//! The `metrics` bridge: every documented metric is described and recorded under the documented
//! name and labels, and the counters agree with `stats()`. A small recorder is installed for the
//! test's thread only (`with_local_recorder`), so other tests cannot disturb it.
#![cfg(feature = "metrics")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use memokit::Cache;
use memokit::clock::ManualClock;
use memokit::telemetry::{self, names};
use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

mod telemetry_support;
use telemetry_support::{DOWN_MESSAGE, Down, unbuildable};

#[derive(Default)]
struct Samples(Mutex<Vec<f64>>);

impl HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

/// Every metric by `name{label=value,...}` (labels sorted).
#[derive(Default)]
struct Registry {
    described: Mutex<BTreeMap<String, Option<Unit>>>,
    counters: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    gauges: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<BTreeMap<String, Arc<Samples>>>,
}

fn render(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Registry {
    fn describe(&self, key: KeyName, unit: Option<Unit>) {
        let name = key.as_str().to_owned();
        self.described.lock().unwrap().insert(name, unit);
    }

    fn counter(&self, key: &str) -> u64 {
        let counters = self.counters.lock().unwrap();
        counters.get(key).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    fn gauge(&self, key: &str) -> f64 {
        let gauges = self.gauges.lock().unwrap();
        f64::from_bits(gauges[key].load(Ordering::Relaxed))
    }

    fn samples(&self, key: &str) -> usize {
        self.histograms.lock().unwrap()[key].0.lock().unwrap().len()
    }

    /// Every metric name recorded for `cache`.
    fn names_for(&self, cache: &str) -> BTreeSet<String> {
        let label = format!("cache={cache}");
        let mut all: Vec<String> = self.counters.lock().unwrap().keys().cloned().collect();
        all.extend(self.gauges.lock().unwrap().keys().cloned());
        all.extend(self.histograms.lock().unwrap().keys().cloned());
        all.into_iter()
            .filter(|k| k.contains(&label))
            .map(|k| k[..k.find('{').unwrap()].to_owned())
            .collect()
    }
}

impl Recorder for Registry {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut counters = self.counters.lock().unwrap();
        Counter::from_arc(counters.entry(render(key)).or_default().clone())
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let mut gauges = self.gauges.lock().unwrap();
        Gauge::from_arc(gauges.entry(render(key)).or_default().clone())
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut histograms = self.histograms.lock().unwrap();
        Histogram::from_arc(histograms.entry(render(key)).or_default().clone())
    }
}

#[test]
fn every_metric_is_described_recorded_and_agrees_with_stats() {
    let registry = Registry::default();
    let cache: Cache<u32, u32> = Cache::builder("met-a").capacity(1).build().unwrap();
    let down: Cache<u32, u32, Down> = Cache::builder("met-down").build().unwrap();
    let clock = ManualClock::new();
    let _clock = clock.install();
    let rates: Cache<u32, u32> = Cache::builder("met-stale")
        .refresh(Duration::from_secs(30))
        .build()
        .unwrap();
    metrics::with_local_recorder(&registry, || {
        telemetry::metrics::install();
        cache.get(&1).unwrap();
        cache.get_or_insert_with(1, || 10).unwrap();
        cache.get(&1).unwrap();
        cache.get(&1).unwrap();
        let failed = cache.try_get_or_insert_with(2, || Err::<u32, ()>(()));
        assert!(failed.is_err());
        // Capacity 1: this evicts key 1.
        cache.insert(3, 30).unwrap();
        let err = down.get(&1).unwrap_err();
        assert!(err.to_string().ends_with(DOWN_MESSAGE));
        rates.get_or_refresh_with(1, || 1).unwrap();
        rates.get(&1).unwrap();
        clock.advance(Duration::from_secs(31));
        rates.get(&1).unwrap();
        telemetry::metrics::publish();
    });

    let units = registry.described.lock().unwrap();
    let described: BTreeSet<&str> = units.keys().map(String::as_str).collect();
    assert_eq!(described, BTreeSet::from(names::METRICS));
    assert_eq!(units[names::LOAD_DURATION], Some(Unit::Seconds));
    assert_eq!(units[names::REQUESTS], Some(Unit::Count));
    drop(units);

    let stats = cache.stats();
    let requests = |result: &str| {
        registry.counter(&format!(
            "{}{{cache=met-a,result={result}}}",
            names::REQUESTS
        ))
    };
    assert_eq!(
        (requests("hit"), requests("miss")),
        (stats.hits, stats.misses)
    );
    assert_eq!((stats.hits, stats.misses), (2, 3));
    let loads = |outcome: &str| {
        registry.counter(&format!(
            "{}{{cache=met-a,outcome={outcome}}}",
            names::LOADS
        ))
    };
    assert_eq!(
        (loads("ok"), loads("not_cached")),
        (stats.loads, stats.load_failures)
    );
    assert_eq!((stats.loads, stats.load_failures), (1, 1));
    let duration = format!("{}{{cache=met-a}}", names::LOAD_DURATION);
    assert_eq!(registry.samples(&duration), 2);
    let size = format!("{}{{cache=met-a,cause=size}}", names::EVICTIONS);
    assert_eq!(registry.counter(&size), stats.evicted);
    assert_eq!(stats.evicted, 1);
    let entries = format!("{}{{cache=met-a}}", names::ENTRIES);
    assert_eq!(registry.gauge(&entries), stats.entries as f64);
    let weight = format!("{}{{cache=met-a}}", names::WEIGHT);
    assert_eq!(registry.gauge(&weight), stats.weight as f64);
    assert_eq!(stats.entries, 1);

    let errors = format!("{}{{cache=met-down,kind=unavailable}}", names::ERRORS);
    assert_eq!(registry.counter(&errors), down.stats().errors);
    assert_eq!(down.stats().errors, 1);

    // A stale hit is a hit in `stats()`, and its own result in the metric.
    let rates_requests = |result: &str| {
        registry.counter(&format!(
            "{}{{cache=met-stale,result={result}}}",
            names::REQUESTS
        ))
    };
    let stale = (rates_requests("hit"), rates_requests("stale"));
    assert_eq!(stale, (1, 1));
    assert_eq!(stale.0 + stale.1, rates.stats().hits);

    let recorded = registry.names_for("met-a");
    let expected: BTreeSet<String> = [
        names::REQUESTS,
        names::LOADS,
        names::LOAD_DURATION,
        names::EVICTIONS,
        names::ENTRIES,
        names::WEIGHT,
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(recorded, expected);
}

#[test]
fn a_memoized_function_whose_cache_cannot_be_built_counts_one_config_error() {
    let registry = Registry::default();
    metrics::with_local_recorder(&registry, || {
        telemetry::metrics::install();
        assert_eq!(unbuildable(1) + unbuildable(1), 4);
    });
    let errors = format!("{}{{cache=unbuildable,kind=config}}", names::ERRORS);
    assert_eq!(registry.counter(&errors), 1);
}

#[test]
fn published_lookup_counts_keep_what_torn_down_sandboxes_counted() {
    let registry = Registry::default();
    let cache: Cache<u32, u32> = Cache::builder("met-sandboxed").build().unwrap();
    let hits = || {
        registry.counter(&format!(
            "{}{{cache=met-sandboxed,result=hit}}",
            names::REQUESTS
        ))
    };
    metrics::with_local_recorder(&registry, || {
        telemetry::metrics::install();
        cache.insert(1, 1).unwrap();
        cache.get(&1).unwrap();
        {
            let _sb = memokit::sandbox();
            cache.insert(1, 2).unwrap();
            cache.get(&1).unwrap();
            cache.get(&1).unwrap();
            telemetry::metrics::publish();
        }
        assert_eq!(hits(), 3, "the global hit and the sandbox's two");
        // The sandbox is gone; its counts stay in the total, which only grows.
        cache.get(&1).unwrap();
        telemetry::metrics::publish();
    });
    assert_eq!(hits(), 4);
}
