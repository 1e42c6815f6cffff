//! [`Cache`], the typed handle every memoized function and cache module owns.
//!
//! | file | what it holds |
//! |---|---|
//! | `handle.rs` | the [`Cache`] type and its namespaces: one scope (backend view, flights, counters) per live namespace |
//! | `thread_scopes.rs` | each thread's memory of the sandbox scopes it used last, so a sandboxed hit takes no lock |
//! | `builder.rs` | [`CacheBuilder`]: the options, validated when the cache is built |
//! | `accounting.rs` | what each backend answer becomes: counters, events, errors naming the cache |
//! | `ops.rs` | get, insert, remove, clear, len, stats, expiry control, and their async twins |
//! | `atomic.rs` | update, the entry API, transactions and take |
//! | `batch.rs` | batches: get, insert and remove many, and the batched single-flight load |
//! | `json.rs` | JSON documents: `json_get`, `json_set`, `json_incr`, `json_delete`, `json_array_append` (feature `json`) |
//! | `local.rs` | [`Local`]: the API without `Result` of a cache whose backend cannot fail |
//! | `iter.rs` | walking the entries: iter, keys, remove_where |
//! | `policy.rs` | which results of a loader are cached ([`Cacheable`]) |
//! | `load.rs` | loads through the single flight, and the public loading operations |
//! | `distributed.rs` | single flight across processes: the protocol over a backend's leases |
//! | `stale.rs` | stale-while-revalidate |
//! | `refresh_pool.rs` | where sync reloads run |
//! | `warmer.rs` | proactive warmers: the [`Warmer`] traits and the state a warmed cache keeps |
//! | `warm.rs` | one run of a warmer: [`Cache::warm`] |
//! | `warm_schedule.rs` | where and when a warmer runs: its thread or task, its clock, its namespace |
//! | `registered.rs` | the cache as the registry sees it |
//! | `snapshot.rs` | save, restore and export (feature `snapshot`) |

mod accounting;
mod atomic;
mod batch;
mod builder;
mod distributed;
mod handle;
mod iter;
#[cfg(feature = "json")]
mod json;
mod load;
mod local;
mod ops;
mod policy;
mod refresh_pool;
mod registered;
#[cfg(feature = "snapshot")]
mod snapshot;
mod stale;
mod thread_scopes;
mod warm;
mod warm_schedule;
mod warmer;

pub use atomic::Entry;
pub use builder::CacheBuilder;
pub use distributed::DEFAULT_FLIGHT_LEASE;
pub use handle::Cache;
pub use iter::Iter;
pub use load::FlightMode;
pub(crate) use load::{NotRun, WhenCached};
pub use local::Local;
pub use policy::{Cacheable, Cached, Flagged, OkOnly, SomeOnly, Whole};
pub(crate) use registered::report_unbuilt;
pub(crate) use stale::Probed;
#[cfg(feature = "tokio")]
pub use warmer::AsyncWarmer;
pub use warmer::{Blocking, IntoWarmer, NonBlocking, WarmError, WarmFuture, Warmer, WarmerFn};
