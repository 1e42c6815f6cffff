//! The runtime of [memokit](https://docs.rs/memokit): the [`Cache`] handle, the [`Backend`]
//! trait and the in-memory backend, single flight, the clock and the per-thread context.
//!
//! Most users depend on the `memokit` facade, which re-exports this crate beside the
//! `#[cached]` and `#[derive(Cache)]` macros; this crate is for those who build caches by hand
//! or write backends.
//!
//! # Layout
//!
//! | module | what it holds |
//! |---|---|
//! | [`cache`](Cache) | the typed handle, its builder, loads and single flight (misses on one key run one loader; failures and cancellation hand over to a waiter; same-key recursion is an error), stale-while-revalidate |
//! | [`backend`] | the storage contract ([`Backend`]) and why it is shaped so |
//! | [`memory`] | the default in-memory backend, and why its policy is S3-FIFO |
//! | [`key`] | borrowed lookups ([`key::KeyRef`], [`key::ToKey`]) |
//! | [`module`](Settings) | runtime [`Settings`] of cache modules (`#[derive(Cache)]`) |
//! | [`clock`] | the coarse clock and the manual clock for tests |
//! | [`context`] | the per-thread namespace the caches consult |
//! | [`telemetry`] | events for every operation, handlers, `tracing` and `metrics` bridges |
//! | `redis` | the Redis backend (feature `redis`) |
//! | [`sandbox`](mod@sandbox) | test sandboxes: a namespace and a clock per test |
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

pub mod backend;
mod cache;
pub mod clock;
mod config;
pub mod context;
mod directive;
mod error;
mod flight;
pub mod key;
mod load;
mod memo;
pub mod memory;
mod module;
mod outcome;
mod recent_scopes;
#[cfg(feature = "redis")]
pub mod redis;
mod refresh;
mod registry;
pub mod sandbox;
mod stats;
pub mod telemetry;

#[doc(hidden)]
pub mod __private;

pub use backend::{Backend, BackendStats, Found, RemovalCause};
pub use cache::{Cache, CacheBuilder};
pub use config::{Config, EvictionListener, Weigher};
pub use context::Namespace;
pub use error::{BackendError, BackendErrorKind, CacheError, LoadError};
pub use memo::Memo;
pub use memory::{Counter, MemoryBackend};
pub use module::{ConfigError, Settings};
#[cfg(feature = "redis")]
pub use redis::{RedisBackend, RedisOptions};
pub use registry::{CacheInfo, caches, clear_all};
pub use sandbox::{Sandbox, SandboxHandle, sandbox};
pub use stats::Stats;
