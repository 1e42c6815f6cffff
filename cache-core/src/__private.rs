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
pub use crate::cache::{Cache, CacheBuilder, FlightMode, OkOnly, SomeOnly, Whole};
#[cfg(feature = "disk")]
#[doc(hidden)]
pub use crate::disk::{DiskBackend, DiskOptions};
#[doc(hidden)]
pub use crate::error::{CacheError, LoadError};
#[doc(hidden)]
pub use crate::key::{KeyRef, Lookup, ToKey};
#[doc(hidden)]
pub use crate::memo::{
    FnRules, Memo, NoRules, Probe, Value, load, load_async, no_ttl, no_unless, probe, probe_async,
    refresh, refresh_async,
};
#[doc(hidden)]
pub use crate::memory::MemoryBackend;
#[doc(hidden)]
pub use crate::module::{Settings, build_module};
#[cfg(feature = "redis")]
#[doc(hidden)]
pub use crate::redis::{RedisBackend, RedisOptions};
#[doc(hidden)]
pub use crate::sandbox::{SandboxHandle, sandbox};
#[doc(hidden)]
pub use crate::stats::Stats;
