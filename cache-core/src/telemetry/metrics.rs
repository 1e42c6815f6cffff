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
//! The gauges are sampled, not pushed: [`update_gauges`] reads the size of every cache (in the
//! global namespace, when called outside a sandbox) and sets them. Call it before each scrape or on a timer of your own; memokit
//! runs no thread of its own, and re-counting a cache on every write would tax the write path.
//!
//! ```
//! use memokit_core::telemetry;
//! telemetry::metrics::install();
//! assert!(telemetry::is_attached(telemetry::metrics::HANDLER_ID));
//! telemetry::metrics::update_gauges();
//! telemetry::metrics::uninstall();
//! ```

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

use super::event::{Event, EventKind};
use super::handlers::{attach, detach};
use super::names::{self, LABEL_CACHE, LABEL_CAUSE, LABEL_KIND, LABEL_OUTCOME, LABEL_RESULT};
use crate::registry;

/// The id the bridge's handler is attached under.
pub const HANDLER_ID: &str = "memokit.metrics";

/// Describes every metric to the installed recorder and starts recording (see the
/// [module docs](self)). Installing twice is harmless.
pub fn install() {
    describe();
    // Already attached is the only error, and it means installed.
    let _ = attach(HANDLER_ID, record);
}

/// Stops recording; whether the bridge was installed.
pub fn uninstall() -> bool {
    detach(HANDLER_ID)
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
        EventKind::Get(result) => {
            counter!(names::REQUESTS, LABEL_CACHE => cache(), LABEL_RESULT => result.as_str())
                .increment(1);
        }
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

/// Sets [`names::ENTRIES`] and [`names::WEIGHT`] of every cache built so far to its current size
/// in the current namespace, the global one outside a sandbox (caches sharing a name are summed,
/// as their counters are).
///
/// ```
/// use memokit_core::{Cache, telemetry};
/// let cache: Cache<u8, u8> = Cache::builder("doc-gauges").build().unwrap();
/// cache.insert(1, 1).unwrap();
/// telemetry::metrics::update_gauges(); // memokit_cache_entries{cache="doc-gauges"} = 1
/// ```
pub fn update_gauges() {
    let mut sizes: Vec<(String, u64, u64)> = Vec::new();
    for info in registry::caches() {
        // `caches()` is sorted by name, so namesakes are neighbours.
        match sizes.last_mut() {
            Some((name, entries, weight)) if *name == info.name => {
                *entries += info.stats.entries;
                *weight += info.stats.weight;
            }
            _ => sizes.push((info.name, info.stats.entries, info.stats.weight)),
        }
    }
    for (name, entries, weight) in sizes {
        gauge!(names::ENTRIES, LABEL_CACHE => name.clone()).set(entries as f64);
        gauge!(names::WEIGHT, LABEL_CACHE => name).set(weight as f64);
    }
}
