//! memokit: memoization and caching for Rust.
//!
//! `#[cached]` rewrites a function to consult a cache first; the runtime underneath is a typed
//! [`Cache`] handle over a pluggable [`Backend`] (in memory by default).
//!
//! ```
//! use memokit::cached;
//!
//! #[cached(ttl = "10m", capacity = 10_000)]
//! fn word_count(text: &str) -> usize {
//!     text.split_whitespace().count()
//! }
//!
//! assert_eq!(word_count("to be or not to be"), 6); // runs the body
//! assert_eq!(word_count("to be or not to be"), 6); // a hit: no allocation, no body
//! assert_eq!(WORD_COUNT.stats().hits, 1);          // the function's companion handle
//! ```
//!
//! # What gets cached
//!
//! * The key is the function's arguments, owned (`&str` is keyed as `String`, `&[T]` as
//!   `Vec<T>`); a hit looks the key up by its borrowed form and allocates nothing.
//! * A function returning `Result<T, E>` caches only `Ok(T)`; `Option<T>` only `Some(T)`. Errors
//!   and `None` reach the caller and the next call tries again. `cache_err` / `cache_none` opt
//!   back in.
//! * Concurrent misses on one key run the body once; the other callers wait for its value.
//! * A cache that cannot work (bad configuration, a failing backend) never breaks the function:
//!   the body runs and its result is returned.
//!
//! # Stampedes, failures and refresh
//!
//! Single flight is on by default (`sync = false` turns it off per function): a thousand callers
//! missing one key run the body once, and different keys never wait on each other. If the body
//! returns an uncached `Err`/`None`, panics, or its future is dropped, that reaches its own caller
//! only and one waiting caller runs the body next. A body that calls itself with the *same*
//! arguments panics with a message naming the function instead of deadlocking; recursion over
//! different arguments (a memoized `fib`) just works.
//!
//! `refresh = "30s"` is stale-while-revalidate: after that age a hit returns the cached value at
//! once and starts one reload of that key in the background (async functions: a task on the Tokio
//! runtime, feature `tokio`; sync functions: a small bounded pool of `memokit-refresh` threads).
//! A failed reload keeps the old value and counts in [`Stats::refresh_failures`].
//!
//! ```
//! use std::time::Duration;
//! use memokit::{cached, clock::ManualClock};
//!
//! #[cached(refresh = "30s", ttl = "1h")]
//! fn exchange_rate(currency: &str) -> u32 {
//!     # let _ = currency;
//!     42 // a slow lookup
//! }
//!
//! let clock = ManualClock::new();
//! let _installed = clock.install();
//! assert_eq!(exchange_rate("eur"), 42);
//! clock.advance(Duration::from_secs(31));
//! assert_eq!(exchange_rate("eur"), 42); // stale: served at once, reloaded in the background
//! ```
//!
//! # Caches by hand
//!
//! ```
//! use std::time::Duration;
//! use memokit::Cache;
//!
//! let sessions: Cache<String, u64> = Cache::builder("sessions")
//!     .ttl(Duration::from_secs(30 * 60))
//!     .capacity(100_000)
//!     .build()?;
//! sessions.insert("token-1".to_string(), 42)?;
//! assert_eq!(sessions.get("token-1")?, Some(42));
//! # Ok::<(), memokit::CacheError>(())
//! ```
//!
//! # Time in tests
//!
//! Every TTL reads memokit's [`clock`]. A [`clock::ManualClock`] installed on the test's thread
//! stands still until advanced, so TTL tests move time instead of sleeping.
//!
//! # Telemetry
//!
//! Every operation can emit a [`telemetry::Event`] (cache, backend, namespace, outcome,
//! duration) to handlers attached with [`telemetry::attach`]; with none attached, the cost is
//! one relaxed atomic load. The `tracing` and `metrics` features add bridges, switched on with
//! `memokit::telemetry::tracing::install()` and `memokit::telemetry::metrics::install()`; event
//! and metric names are the constants in [`telemetry::names`].
//!
//! # Crate layout
//!
//! `memokit` re-exports the runtime ([`memokit_core`]) and the macros (`memokit-macros`); depend
//! on this crate only.

#![warn(missing_docs)]

pub use memokit_core::*;

#[doc(inline)]
pub use memokit_macros::cached;
