//! The `metrics` bridge (feature `metrics`): counters, a histogram and gauges per cache.
//!
//! [`install`] describes every metric once and attaches a built-in handler under [`HANDLER_ID`];
//! until then memokit records nothing and the hit path stays one relaxed load. Install your
//! recorder (an exporter such as `metrics-exporter-prometheus`) first, so the descriptions reach
//! it. Every metric is labelled `cache` with the cache's name:
//!
//! | metric | kind | more labels |
//! |---|---|---|
//! | [`names::REQUESTS`] | counter | `result`: `hit`, `miss`, `stale` |
//! | [`names::LOADS`] | counter | `outcome`: `ok`, `not_cached`, `panicked`, `cancelled` |
//! | [`names::REFRESHES`] | counter | `outcome` |
//! | [`names::EVICTIONS`] | counter | `cause`: `size`, `expired`, `replaced`, `explicit` |
//! | [`names::ERRORS`] | counter | `kind`: `timeout`, `unavailable`, `codec`, `config`, `protocol`, `other` |
//! | [`names::LOAD_DURATION`] | histogram (seconds) | |
//! | [`names::ENTRIES`] | gauge | |
//! | [`names::WEIGHT`] | gauge | |
//!
//! The counters agree with [`Cache::stats`](crate::Cache::stats) (summed over namespaces):
//! `requests{result="hit"}` plus `requests{result="stale"}` is `hits`, `requests{result="miss"}`
//! is `misses`, `loads{outcome="ok"}` is `loads` (the other outcomes sum to `load_failures`),
//! `refreshes{outcome="ok"}` is `refreshes`,
//! `evictions{cause="size"}` is `evicted`, `evictions{cause="expired"}` is `expired`, the sum of
//! `errors` is `errors`.
//!
//! # Sampled lookups and gauges
//!
//! Lookups are not pushed one by one: a counter update in the recorder on every hit costs a
//! shared atomic (and a registry lookup, unless the handle is kept) on the hottest path there is,
//! while every cache already counts its lookups in per-thread stripes for
//! [`stats`](crate::Cache::stats). So the bridge receives no lookup events at all, and a sampler
//! thread that [`install`] starts (named `memokit-metrics`, the one thread memokit starts, and
//! only here) publishes those counts as absolute values: every second the `requests` counters
//! and the gauges of in-memory caches, whose size is kept as counts; every minute the gauges of
//! caches whose size needs a walk over their keys (Redis, disk). [`set_intervals`] changes both;
//! [`publish`] does one round now, into the current recorder (a thread-local one in tests).
//! A hit with the bridge installed therefore costs what it costs with nothing attached, and a
//! scrape sees counts at most one tick old. Loads, refreshes, evictions and errors are pushed as
//! they happen, off the hit path. The gauges report the global namespace.
//!
//! ```
//! use memokit_core::telemetry;
//! telemetry::metrics::install();
//! assert!(telemetry::is_attached(telemetry::metrics::HANDLER_ID));
//! telemetry::metrics::publish();
//! telemetry::metrics::uninstall();
//! ```

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

use super::event::{Event, EventKind, GetResult};
use super::handlers::{attach_without_lookups, detach};
use super::names::{self, LABEL_CACHE, LABEL_CAUSE, LABEL_KIND, LABEL_OUTCOME, LABEL_RESULT};
use crate::context;
use crate::registry;
use crate::stats::Stats;

/// The id the bridge's handler is attached under.
pub const HANDLER_ID: &str = "memokit.metrics";

/// Describes every metric to the installed recorder, starts recording, and starts the sampler
/// that publishes the lookup counters and the gauges (see the [module docs](self)). Installing
/// twice is harmless.
pub fn install() {
    describe();
    // Already attached is the only error, and it means installed.
    let _ = attach_without_lookups(HANDLER_ID, record);
    Sampler::start();
}

/// Stops recording and stops the sampler (after one last [`publish`]); whether the bridge was
/// installed.
pub fn uninstall() -> bool {
    Sampler::stop();
    detach(HANDLER_ID)
}

/// Sets how often the sampler publishes: lookup counters and the gauges of caches whose size is
/// kept as counts (in memory) every `every` (1 s unless set), and the gauges of caches whose size
/// needs a walk over their keys (Redis, disk) every `walked_every` (60 s unless set). Takes
/// effect at the sampler's next tick.
pub fn set_intervals(every: Duration, walked_every: Duration) {
    let mut intervals = INTERVALS.lock().unwrap_or_else(|e| e.into_inner());
    *intervals = (every.max(Duration::from_millis(1)), walked_every);
}

static INTERVALS: Mutex<(Duration, Duration)> =
    Mutex::new((Duration::from_secs(1), Duration::from_secs(60)));

/// The sampler thread, while the bridge is installed.
static SAMPLER: Mutex<Option<Sampler>> = Mutex::new(None);

/// A thread that calls [`publish`] at every tick until told to stop.
///
/// It is the one thread memokit starts, and only with the `metrics` bridge installed: a counter
/// pushed to the recorder on every lookup costs the recorder's own update (a shared atomic, and a
/// registry lookup unless the handle is kept) on every hit, 16 times a plain hit when measured,
/// while the caches already count lookups in per-thread stripes. Publishing those counts as
/// absolute values at a tick keeps the hit path as it is with nothing attached, and a scrape sees
/// counts at most one tick old.
struct Sampler {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<()>,
}

impl Sampler {
    fn start() {
        let mut sampler = SAMPLER.lock().unwrap_or_else(|e| e.into_inner());
        if sampler.is_some() {
            return;
        }
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("memokit-metrics".into())
            .spawn(move || Self::run(&signal));
        // A thread that cannot be spawned leaves publishing to explicit `publish` calls.
        if let Ok(thread) = spawned {
            *sampler = Some(Self { stop, thread });
        }
    }

    fn run(stop: &(Mutex<bool>, Condvar)) {
        let mut walked_at: Option<Instant> = None;
        loop {
            let (every, walked_every) = *INTERVALS.lock().unwrap_or_else(|e| e.into_inner());
            let walk = walked_at.is_none_or(|at| at.elapsed() >= walked_every);
            if walk {
                walked_at = Some(Instant::now());
            }
            sample(walk);
            let (stopped, wake) = stop;
            let stopped = stopped.lock().unwrap_or_else(|e| e.into_inner());
            let (stopped, _) = wake
                .wait_timeout_while(stopped, every, |stopped| !*stopped)
                .unwrap_or_else(|e| e.into_inner());
            if *stopped {
                return;
            }
        }
    }

    fn stop() {
        let Some(sampler) = SAMPLER.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let (stopped, wake) = &*sampler.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        let _ = sampler.thread.join();
        publish();
    }
}

fn describe() {
    describe_counter!(
        names::REQUESTS,
        Unit::Count,
        "Cache lookups, by result (hit, miss, stale)"
    );
    describe_counter!(
        names::LOADS,
        Unit::Count,
        "Loader runs, by outcome (ok, not_cached, panicked, cancelled)"
    );
    describe_counter!(
        names::REFRESHES,
        Unit::Count,
        "Refreshes of stale entries, by outcome"
    );
    describe_counter!(
        names::EVICTIONS,
        Unit::Count,
        "Entries that left the cache, by cause (size, expired, replaced, explicit)"
    );
    describe_counter!(names::ERRORS, Unit::Count, "Backend errors, by kind");
    describe_histogram!(names::LOAD_DURATION, Unit::Seconds, "How long loaders ran");
    describe_gauge!(names::ENTRIES, Unit::Count, "Live entries");
    describe_gauge!(names::WEIGHT, "Total weight of live entries");
}

fn record(event: &Event<'_>) {
    let cache = || event.cache.to_owned();
    match event.kind {
        // Lookups are counted by the caches themselves and published by the sampler.
        EventKind::Get(_) => {}
        EventKind::Load { outcome, duration } => {
            histogram!(names::LOAD_DURATION, LABEL_CACHE => cache()).record(duration);
            counter!(names::LOADS, LABEL_CACHE => cache(), LABEL_OUTCOME => outcome.as_str())
                .increment(1);
        }
        EventKind::Refresh { outcome, .. } => {
            counter!(names::REFRESHES, LABEL_CACHE => cache(), LABEL_OUTCOME => outcome.as_str())
                .increment(1);
        }
        EventKind::Removal { cause } => {
            counter!(names::EVICTIONS, LABEL_CACHE => cache(), LABEL_CAUSE => cause.as_str())
                .increment(1);
        }
        EventKind::Error { error } => {
            counter!(names::ERRORS, LABEL_CACHE => cache(), LABEL_KIND => error.kind().as_str())
                .increment(1);
        }
        EventKind::Insert | EventKind::Remove { .. } | EventKind::Clear | EventKind::LoadStart => {}
    }
}

/// Publishes every cache's lookup counters ([`names::REQUESTS`], summed over namespaces) and its
/// gauges ([`names::ENTRIES`], [`names::WEIGHT`]: its size in the current namespace, the global
/// one outside a sandbox) to the current recorder now. Caches sharing a name are summed, as their
/// other counters are. The sampler calls this at every tick; call it yourself to publish to a
/// thread-local recorder, or right before a scrape.
///
/// ```
/// use memokit_core::{Cache, telemetry};
/// let cache: Cache<u8, u8> = Cache::builder("doc-gauges").build().unwrap();
/// cache.insert(1, 1).unwrap();
/// telemetry::metrics::publish(); // memokit_cache_entries{cache="doc-gauges"} = 1
/// ```
pub fn publish() {
    sample(true);
}

/// What one cache name publishes.
struct Sample {
    name: String,
    counts: Stats,
    /// Entries and weight, when the size was read.
    size: Option<(u64, u64)>,
}

/// Publishes the counters of every cache, and the gauges of those whose size is cheap to read or,
/// with `walk`, of all.
fn sample(walk: bool) {
    let ns = context::namespace();
    let mut samples: Vec<Sample> = Vec::new();
    registry::for_each(|cache| {
        let counts = cache.counts();
        let size = (walk || cache.cheap_stats())
            .then(|| cache.stats_in(ns))
            .flatten()
            .map(|s| (s.entries, s.weight));
        match samples.iter_mut().find(|s| s.name == cache.name()) {
            Some(same) => {
                same.counts += counts;
                same.size = match (same.size, size) {
                    (Some((e, w)), Some((e2, w2))) => Some((e + e2, w + w2)),
                    (one, other) => one.or(other),
                };
            }
            None => samples.push(Sample {
                name: cache.name().to_owned(),
                counts,
                size,
            }),
        }
    });
    for Sample { name, counts, size } in samples {
        let requests = |result: GetResult| counter!(names::REQUESTS, LABEL_CACHE => name.clone(), LABEL_RESULT => result.as_str());
        // A result that never happened gets no series, as when counting per event.
        let fresh = counts.hits - counts.stale;
        for (result, count) in [
            (GetResult::Hit, fresh),
            (GetResult::Stale, counts.stale),
            (GetResult::Miss, counts.misses),
        ] {
            if count > 0 {
                requests(result).absolute(count);
            }
        }
        if let Some((entries, weight)) = size {
            gauge!(names::ENTRIES, LABEL_CACHE => name.clone()).set(entries as f64);
            gauge!(names::WEIGHT, LABEL_CACHE => name).set(weight as f64);
        }
    }
}
