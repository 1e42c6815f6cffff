//! Telemetry: an [`Event`] for every cache operation, delivered to handlers you [`attach`], with
//! bridges to the `tracing` and `metrics` crates.
//!
//! # Events
//!
//! Every event carries the cache's name, the backend's kind, the namespace (the sandbox's, or
//! [`Namespace::GLOBAL`](crate::Namespace::GLOBAL)) and, for loads, the duration. Names are the
//! constants in [`names`]:
//!
//! | event | emitted when |
//! |---|---|
//! | [`names::GET`] | a lookup returns: `hit`, `miss`, or `stale` ([`GetResult`]); includes a memoized function's probe |
//! | [`names::INSERT`] | a value is written, by `insert` or by a load storing its result |
//! | [`names::REMOVE`] | `remove` returns (`removed` says whether there was a value) |
//! | [`names::CLEAR`] | `clear` succeeds |
//! | [`names::LOAD_START`] | the leader of a key's single flight is about to run the body |
//! | [`names::LOAD`] | that body returned, panicked, or (async) was dropped: [`LoadOutcome`], duration; forced reloads (`refresh_with`) too |
//! | [`names::REFRESH`] | a background reload of a stale entry finished (on the thread that ran it): [`LoadOutcome`], duration |
//! | [`names::EVICT`] | the backend dropped an entry for size, replaced it, or removed it explicitly |
//! | [`names::EXPIRE`] | the backend dropped an entry whose TTL or TTI passed |
//! | [`names::ERROR`] | the backend failed ([`BackendError`](crate::BackendError) attached); or, once, a memoized function's or cache module's cache could not be built (kind [`Config`](crate::BackendErrorKind::Config)) |
//!
//! Evictions and expiries come through the backend's eviction listener
//! ([`Config::eviction_listener`](crate::Config::eviction_listener)): when a cache is built, a
//! listener you set with [`CacheBuilder::eviction_listener`](crate::CacheBuilder::eviction_listener)
//! is wrapped so it runs first, unchanged, and the event follows. A backend that reports no
//! removals (a remote store expiring keys on its own) emits no eviction events.
//!
//! # Cost
//!
//! One process-wide flag says whether anything is attached. With nothing attached, an operation
//! pays one relaxed atomic load for telemetry and builds no event. The bridges are handlers
//! too, so compiling the `tracing` or `metrics` feature in changes nothing until you call their
//! `install()`.
//!
//! # Design
//!
//! This follows Erlang's `:telemetry` (which ElixirCache and Nebulex emit through): handlers
//! attach by id, run synchronously in the emitting process, and a handler that fails is detached
//! rather than allowed to break the code that emitted. Synchronous dispatch keeps events ordered
//! and free of allocation and queues; the price is that a slow handler slows the cache, so
//! handlers should count or enqueue, not do I/O. The handler table is copy-on-write behind a
//! lock that dispatch holds only long enough to clone an `Arc`, so handlers may attach and detach
//! (including from inside a handler). Unlike `moka` and `quick_cache`, which expose only an
//! eviction listener and leave metrics to the user, every operation is covered, and the bridges
//! turn the same events into `tracing` spans and `metrics` series named from one list.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use memokit_core::Cache;
//! use memokit_core::telemetry::{self, names};
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! telemetry::attach("doc-telemetry", move |event| {
//!     if event.cache == "doc-telemetry" {
//!         log.lock().unwrap().push(event.name());
//!     }
//! })?;
//! let cache: Cache<u32, u32> = Cache::builder("doc-telemetry").build()?;
//! cache.get_or_insert_with(7, || 49)?;
//! cache.get(&7)?;
//! telemetry::detach("doc-telemetry");
//! assert_eq!(
//!     *seen.lock().unwrap(),
//!     [names::GET, names::LOAD_START, names::INSERT, names::LOAD, names::GET]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod emit;
mod event;
mod handlers;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod names;
#[cfg(feature = "tracing")]
pub mod tracing;

pub(crate) use emit::{LoadWatch, clear, error, get, insert, observed, remove};
pub(crate) use event::Source;
pub use event::{Event, EventKind, GetResult, LoadOutcome};
pub(crate) use handlers::observes_lookups;
pub use handlers::{AttachError, attach, detach, is_attached};
