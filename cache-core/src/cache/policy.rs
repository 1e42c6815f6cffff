//! Which results of a loader are cached.
//!
//! A loader returns some `R`; the cache stores a `V` derived from it. The policy type `P` picks
//! the rule (for a memoized function, the macro chooses it from the return type and options):
//! [`OkOnly`] caches the `T` of `Result<T, E>::Ok` (errors pass through and are retried),
//! [`SomeOnly`] caches the `T` of `Option<T>::Some`, and [`Whole`] caches the whole value
//! (`cache_err`, `cache_none`, and functions returning anything else). Type aliases such as
//! `io::Result<T>` work because the rule is a trait on the real type.

use std::time::Duration;

/// Caches every result as it is.
#[derive(Debug, Clone, Copy)]
pub struct Whole;

/// Caches `Ok(T)` as `T`; `Err` is returned and not cached.
#[derive(Debug, Clone, Copy)]
pub struct OkOnly;

/// Caches `Some(T)` as `T`; `None` is returned and not cached.
#[derive(Debug, Clone, Copy)]
pub struct SomeOnly;

/// A loader's result under policy `P`: what to cache, and how to rebuild the result from it.
pub trait Cacheable<P>: Sized {
    /// The type stored in the cache.
    type Value: Clone + Send + Sync + 'static;

    /// A copy of the part to cache, or `None` if this result is not cached.
    fn cacheable(&self) -> Option<Self::Value>;

    /// The result a hit returns.
    fn from_cached(value: Self::Value) -> Self;

    /// How long `value`, just taken from this result by [`cacheable`](Self::cacheable), stays
    /// cached; `None` means the cache-wide TTL. Memoized functions with a per-entry TTL override it.
    fn ttl(&self, value: &Self::Value) -> Option<Duration> {
        let _ = value;
        None
    }
}

impl<T: Clone + Send + Sync + 'static> Cacheable<Whole> for T {
    type Value = T;

    fn cacheable(&self) -> Option<T> {
        Some(self.clone())
    }

    fn from_cached(value: T) -> Self {
        value
    }
}

impl<T: Clone + Send + Sync + 'static, E> Cacheable<OkOnly> for Result<T, E> {
    type Value = T;

    fn cacheable(&self) -> Option<T> {
        self.as_ref().ok().cloned()
    }

    fn from_cached(value: T) -> Self {
        Ok(value)
    }
}

impl<T: Clone + Send + Sync + 'static> Cacheable<SomeOnly> for Option<T> {
    type Value = T;

    fn cacheable(&self) -> Option<T> {
        self.clone()
    }

    fn from_cached(value: T) -> Self {
        Some(value)
    }
}
