//! The runtime of [memokit](https://docs.rs/memokit): the [`Cache`] handle, the [`Backend`]
//! trait and the in-memory backend, single flight, the clock and the per-thread context.
//!
//! Most users depend on the `memokit` facade, which re-exports this crate beside the
//! `#[cached]` and `#[derive(Cache)]` macros; this crate is for those who build caches by hand
//! or write backends.
//!
//! # Layout
//!
//! The modules form one-way layers: each imports only from its own layer (without cycles) and
//! the layers below it, which `tests/layers.rs` checks.
//!
//! | layer | module | what it holds |
//! |---|---|---|
//! | primitives | `error` | [`CacheError`], [`BackendError`], [`LoadError`] |
//! | | `bounds` | [`CacheKey`] and [`CacheValue`], the bounds of every cached key and value |
//! | | `config` | a cache's options ([`Config`]), its eviction listener and [`RemovalCause`] |
//! | | [`key`] | borrowed lookups ([`key::KeyRef`], [`key::ToKey`]) and companion arguments ([`key::KeyArgs`]) |
//! | | [`clock`] | the coarse clock and the manual clock for tests |
//! | | [`context`] | the per-thread namespace the caches consult |
//! | storage contract | [`backend`] | the [`Backend`] trait and why it is shaped so |
//! | services | `stats` | striped counters and [`Stats`] |
//! | | `flight` | the single-flight table: one loader per key, waiters, recursion detection |
//! | | `registry` | every cache by name: [`caches`], [`clear_all`], sandbox teardown |
//! | | [`telemetry`] | events for every operation, handlers, `tracing` and `metrics` bridges |
//! | | `codec` | values as bytes for byte-storing backends and snapshot files: codecs, the envelope, type identity, the snapshot format (features `redis`, `disk`, `snapshot`) |
//! | | `blocking` | file work called from async code, moved to Tokio's blocking pool (features `disk`, `snapshot`, `redis-cluster`) |
//! | isolation | [`sandbox`](mod@sandbox) | test sandboxes: a namespace and a clock per test |
//! | backends | [`memory`] | the default in-memory backend |
//! | | `redis` | the Redis backend (feature `redis`) |
//! | | `disk` | the disk backend on `redb`: entries that survive restarts (feature `disk`) |
//! | | `tiered` | memory in front of Redis or disk, coherent through Redis's invalidations (feature `tiered`) |
//! | the handle | `cache` | [`Cache`] and [`CacheBuilder`]: operations, single-flight loads, stale-while-revalidate, snapshots (feature `snapshot`) |
//! | macro support | `memo` | [`Memo`], the cache of one memoized function, and the call path `#[cached]` expands to |
//! | | `module` | runtime [`Settings`] of cache modules (`#[derive(Cache)]`) |
//! | | `__private` | re-exports for generated code (hidden) |
//!
//! ```
//! use memokit_core::Cache;
//!
//! let squares: Cache<u64, u64> = Cache::builder("squares").capacity(1_000).build()?;
//! let v = squares.get_or_insert_with(12, || 12 * 12)?;
//! assert_eq!(v, 144);
//! assert_eq!(squares.get(&12)?, Some(144));
//! # Ok::<(), memokit_core::CacheError>(())
//! ```

#![warn(missing_docs)]

// Primitives.
mod bounds;
pub mod clock;
mod config;
pub mod context;
mod error;
pub mod key;
// The storage contract.
pub mod backend;
// Services.
#[cfg(any(
    all(feature = "tokio", any(feature = "disk", feature = "snapshot")),
    feature = "redis-cluster"
))]
mod blocking;
#[cfg(any(feature = "redis", feature = "disk", feature = "snapshot"))]
pub mod codec;
mod flight;
mod registry;
mod stats;
pub mod telemetry;
// Isolation.
pub mod sandbox;
// Backends.
#[cfg(feature = "disk")]
pub mod disk;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "tiered")]
pub mod tiered;
// The handle.
mod cache;
// Macro support.
#[doc(hidden)]
pub mod __private;
mod memo;
mod module;

#[cfg(feature = "json")]
pub use backend::json::{JsonBackend, JsonPath};
pub use backend::{
    Backend, BackendStats, Compute, Computed, Cursor, Found, InfallibleBackend, Iterate,
    RemovalCause, Transaction, Ttl,
};
pub use bounds::{CacheKey, CacheValue};
#[cfg(feature = "tokio")]
pub use cache::AsyncWarmer;
pub use cache::{
    Blocking, Cache, CacheBuilder, Cached, Entry, IntoWarmer, Iter, Local, NonBlocking, WarmError,
    WarmFuture, Warmer, WarmerFn,
};
pub use config::{Config, EvictionListener, Weigher};
pub use context::Namespace;
#[cfg(feature = "disk")]
pub use disk::{DiskBackend, DiskOptions, Durability};
#[cfg(feature = "json")]
pub use error::JsonProblem;
#[cfg(feature = "snapshot")]
pub use error::SnapshotErrorKind;
pub use error::{BackendError, BackendErrorKind, CacheError, LoadError};
pub use memo::{Companion, Memo};
pub use memory::{Counter, MemoryBackend};
pub use module::{ConfigError, Settings};
#[cfg(feature = "redis")]
pub use redis::{RedisBackend, RedisOptions};
pub use registry::{CacheInfo, caches, clear_all};
pub use sandbox::{Sandbox, SandboxHandle, sandbox};
pub use stats::Stats;
#[cfg(feature = "tiered")]
pub use tiered::{SecondLayer, Tiered, TieredOptions};
