//! The bounds every cached key and value meet, named once so that generic code over caches
//! writes `K: CacheKey, V: CacheValue` instead of repeating the list.
//!
//! A cache is shared across threads (it usually lives in a `static`) and hands out copies of its
//! values, so keys must hash, compare and clone, values must clone, and both must be `Send + Sync
//! + 'static`. Both traits have blanket implementations: every type with the bounds has them.

use std::hash::Hash;

/// A type a [`Cache`](crate::Cache) can be keyed by: `Hash + Eq + Clone + Send + Sync + 'static`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be a cache key: a key must be `Hash + Eq + Clone + Send + Sync + 'static`",
    label = "not usable as a cache key",
    note = "a memoized function's key is its arguments, owned; a float is neither `Hash` nor `Eq`: key by its bits (`x.to_bits()`), an integer of fixed precision, or leave it out with `key = ...`"
)]
pub trait CacheKey: Hash + Eq + Clone + Send + Sync + 'static {}

// Not recommended: an error names `CacheKey` with the note above, not the bound it misses.
#[diagnostic::do_not_recommend]
impl<K: Hash + Eq + Clone + Send + Sync + 'static> CacheKey for K {}

/// A type a [`Cache`](crate::Cache) can hold: `Clone + Send + Sync + 'static`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be cached: a cached value must be `Clone + Send + Sync + 'static`",
    label = "not a cacheable value",
    note = "every hit returns a copy of the cached value: derive `Clone`, or cache an `Arc<{Self}>`"
)]
pub trait CacheValue: Clone + Send + Sync + 'static {}

#[diagnostic::do_not_recommend]
impl<V: Clone + Send + Sync + 'static> CacheValue for V {}
