//! The bounds every cached key and value meet, named once so that generic code over caches
//! writes `K: CacheKey, V: CacheValue` instead of repeating the list.
//!
//! A cache is shared across threads (it usually lives in a `static`) and hands out copies of its
//! values, so keys must hash, compare and clone, values must clone, and both must be `Send + Sync
//! + 'static`. Both traits have blanket implementations: every type with the bounds has them.

use std::hash::Hash;

/// A type a [`Cache`](crate::Cache) can be keyed by: `Hash + Eq + Clone + Send + Sync + 'static`.
pub trait CacheKey: Hash + Eq + Clone + Send + Sync + 'static {}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> CacheKey for K {}

/// A type a [`Cache`](crate::Cache) can hold: `Clone + Send + Sync + 'static`.
pub trait CacheValue: Clone + Send + Sync + 'static {}

impl<V: Clone + Send + Sync + 'static> CacheValue for V {}
