//! [`Cache`], the typed handle every memoized function and cache module owns.
//!
//! | file | what it holds |
//! |---|---|
//! | `handle.rs` | the [`Cache`] type and its namespaces: one scope (backend view, flights, counters) per live namespace |
//! | `thread_scopes.rs` | each thread's memory of the sandbox scopes it used last, so a sandboxed hit takes no lock |
//! | `builder.rs` | [`CacheBuilder`]: the options, validated when the cache is built |
//! | `accounting.rs` | what each backend answer becomes: counters, events, errors naming the cache |
//! | `ops.rs` | get, insert, remove, clear, len, stats, and their async twins |
//! | `policy.rs` | which results of a loader are cached ([`Cacheable`]) |
//! | `load.rs` | loads through the single flight, and the public loading operations |
//! | `stale.rs` | stale-while-revalidate |
//! | `refresh_pool.rs` | where sync reloads run |
//! | `registered.rs` | the cache as the registry sees it |

mod accounting;
mod builder;
mod handle;
mod load;
mod ops;
mod policy;
mod refresh_pool;
mod registered;
mod stale;
mod thread_scopes;

pub use builder::CacheBuilder;
pub use handle::Cache;
pub use load::FlightMode;
pub(crate) use load::{NotRun, WhenCached};
pub use policy::{Cacheable, Cached, Flagged, OkOnly, SomeOnly, Whole};
pub(crate) use stale::Probed;
