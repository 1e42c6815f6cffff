//! Every event and metric name memokit emits, defined once.
//!
//! The emitters ([`Event::name`](super::Event::name)), the `tracing` bridge (span and event
//! names) and the `metrics` bridge (metric keys and their descriptions) all use these constants,
//! and the tests assert that each bridge receives them, so a dashboard built from this list never
//! waits on a name nothing emits.
//!
//! ```
//! use memokit_core::telemetry::names;
//! assert_eq!(names::GET, "memokit.cache.get");
//! assert_eq!(names::REQUESTS, "memokit_cache_requests_total");
//! ```

/// A lookup; its result is `hit`, `miss` or `stale`.
pub const GET: &str = "memokit.cache.get";
/// A value was written, by an insert or by a load.
pub const INSERT: &str = "memokit.cache.insert";
/// An explicit removal of one key.
pub const REMOVE: &str = "memokit.cache.remove";
/// Every entry of one namespace was removed.
pub const CLEAR: &str = "memokit.cache.clear";
/// A loader (the memoized body) is about to run; the name of the `tracing` span around it too.
pub const LOAD_START: &str = "memokit.cache.load.start";
/// A loader finished (or panicked, or was cancelled), with its duration and outcome.
pub const LOAD: &str = "memokit.cache.load";
/// A background refresh of a stale entry finished, with its duration and outcome.
pub const REFRESH: &str = "memokit.cache.refresh";
/// An entry left the backend for a reason other than expiry: `size`, `replaced` or `explicit`.
pub const EVICT: &str = "memokit.cache.evict";
/// An entry left the backend because its TTL or TTI passed.
pub const EXPIRE: &str = "memokit.cache.expire";
/// The backend failed, or (once per cache) a memoized function's or cache module's cache could not
/// be built.
pub const ERROR: &str = "memokit.cache.error";

/// Every event name, in the order above.
pub const EVENTS: [&str; 10] = [
    GET, INSERT, REMOVE, CLEAR, LOAD_START, LOAD, REFRESH, EVICT, EXPIRE, ERROR,
];

/// Counter of lookups, labelled `cache` and `result` (`hit`, `miss`, `stale`).
pub const REQUESTS: &str = "memokit_cache_requests_total";
/// Counter of finished loads, labelled `cache` and `outcome` (`ok`, `not_cached`, `fallback`,
/// `panicked`, `cancelled`).
pub const LOADS: &str = "memokit_cache_loads_total";
/// Counter of finished refreshes, labelled `cache` and `outcome`.
pub const REFRESHES: &str = "memokit_cache_refreshes_total";
/// Counter of entries that left a backend, labelled `cache` and `cause` (`size`, `expired`,
/// `replaced`, `explicit`).
pub const EVICTIONS: &str = "memokit_cache_evictions_total";
/// Counter of backend errors, labelled `cache` and `kind` (`timeout`, `unavailable`, `codec`, ...).
pub const ERRORS: &str = "memokit_cache_errors_total";
/// Histogram of load durations in seconds, labelled `cache`.
pub const LOAD_DURATION: &str = "memokit_cache_load_duration_seconds";
/// Gauge of live entries, labelled `cache`.
pub const ENTRIES: &str = "memokit_cache_entries";
/// Gauge of the total weight of live entries, labelled `cache`.
pub const WEIGHT: &str = "memokit_cache_weight";

/// Every metric name, in the order above.
pub const METRICS: [&str; 8] = [
    REQUESTS,
    LOADS,
    REFRESHES,
    EVICTIONS,
    ERRORS,
    LOAD_DURATION,
    ENTRIES,
    WEIGHT,
];

/// The `tracing` target of every span and event memokit emits, for filters such as
/// `RUST_LOG=memokit=debug`.
pub const TRACING_TARGET: &str = "memokit";

/// Label of every metric: the cache's name.
pub const LABEL_CACHE: &str = "cache";
/// Label of [`REQUESTS`].
pub const LABEL_RESULT: &str = "result";
/// Label of [`LOADS`] and [`REFRESHES`].
pub const LABEL_OUTCOME: &str = "outcome";
/// Label of [`EVICTIONS`].
pub const LABEL_CAUSE: &str = "cause";
/// Label of [`ERRORS`].
pub const LABEL_KIND: &str = "kind";
