//! What the macros expand to: re-exports only, for `::memokit::__private::...` paths in generated
//! code. Not public API: names and signatures change without notice. The call path itself is
//! `memo/call.rs`.

#[doc(hidden)]
pub use std::collections::HashMap;
#[doc(hidden)]
pub use std::sync::LazyLock;
#[doc(hidden)]
pub use std::time::Duration;

#[doc(hidden)]
pub use crate::backend::{Backend, Transaction, Ttl};
#[doc(hidden)]
pub use crate::cache::{
    Cache, CacheBuilder, DEFAULT_FLIGHT_LEASE, Flagged, FlightMode, OkOnly, SomeOnly, Whole,
};
#[cfg(feature = "disk")]
#[doc(hidden)]
pub use crate::disk::{DiskBackend, DiskOptions};
#[doc(hidden)]
pub use crate::error::{CacheError, LoadError};
#[doc(hidden)]
pub use crate::key::{KeyRef, Lookup, Slice, ToKey};
#[doc(hidden)]
pub use crate::memo::{
    BatchResult, Body, Companion, FnRules, Memo, NoRules, Value, batch, batch_async,
    finish_memoized, finish_memoized_async, no_ttl, no_unless, refresh_stale, refresh_stale_async,
};
#[doc(hidden)]
pub use crate::memory::MemoryBackend;
#[cfg(feature = "snapshot")]
#[doc(hidden)]
pub use crate::module::restore_module;
#[doc(hidden)]
pub use crate::module::{Settings, build_module};
#[cfg(feature = "redis")]
#[doc(hidden)]
pub use crate::redis::{RedisBackend, RedisOptions};
#[doc(hidden)]
pub use crate::sandbox::{SandboxHandle, sandbox};
#[doc(hidden)]
pub use crate::stats::Stats;
#[cfg(feature = "tiered")]
#[doc(hidden)]
pub use crate::tiered::{Tiered, TieredOptions};
