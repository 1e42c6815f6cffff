//! Which results of a loader are cached.
//!
//! A loader returns some `R`; the cache stores a `V` derived from it. The policy type `P` picks
//! the rule (for a memoized function, the macro chooses it from the return type and options):
//! [`OkOnly`] caches the `T` of `Result<T, E>::Ok` (errors pass through and are retried),
//! [`SomeOnly`] caches the `T` of `Option<T>::Some`, and [`Whole`] caches the whole value
//! (`cache_err`, `cache_none`, and functions returning anything else). Type aliases such as
//! `io::Result<T>` work because the rule is a trait on the real type. [`Flagged`] applies a rule
//! to the result inside a [`Cached`], which says whether it came from the cache.

use std::ops::{Deref, DerefMut};
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` can't be cached: a cached value must be `Clone + Send + Sync + 'static`",
    label = "not a cacheable result",
    note = "every hit returns a copy of the cached value (the `T` of `Result<T, E>` or `Option<T>`): derive `Clone`, or cache an `Arc<T>`"
)]
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

    /// Whether this result is a failure that a cache with a
    /// [`fallback`](crate::CacheBuilder::fallback) age answers with the value it kept: an `Err`
    /// the policy does not cache. A result left uncached by choice (a `None`, an `unless`) is not.
    fn failed(&self) -> bool {
        false
    }
}

#[diagnostic::do_not_recommend]
impl<T: Clone + Send + Sync + 'static> Cacheable<Whole> for T {
    type Value = T;

    fn cacheable(&self) -> Option<T> {
        Some(self.clone())
    }

    fn from_cached(value: T) -> Self {
        value
    }
}

#[diagnostic::do_not_recommend]
impl<T: Clone + Send + Sync + 'static, E> Cacheable<OkOnly> for Result<T, E> {
    type Value = T;

    fn cacheable(&self) -> Option<T> {
        self.as_ref().ok().cloned()
    }

    fn from_cached(value: T) -> Self {
        Ok(value)
    }

    fn failed(&self) -> bool {
        self.is_err()
    }
}

#[diagnostic::do_not_recommend]
impl<T: Clone + Send + Sync + 'static> Cacheable<SomeOnly> for Option<T> {
    type Value = T;

    fn cacheable(&self) -> Option<T> {
        self.clone()
    }

    fn from_cached(value: T) -> Self {
        Some(value)
    }
}

/// The policy of a [`Cached`] result: `P`'s rule for the result inside it.
#[derive(Debug, Clone, Copy)]
pub struct Flagged<P>(pub P);

/// A result that knows whether it came from the cache: the return type a memoized function
/// declares to ask (`cached`'s `with_cached_flag` and `Return<T>`). The body wraps its result
/// with [`Cached::new`] (or `.into()`); a call answered from the cache returns it with
/// [`was_cached`](Cached::was_cached) true. What is cached follows the result inside:
/// `Cached<Result<T, E>>` caches only `Ok`, `Cached<Option<T>>` only `Some`.
///
/// ```
/// use memokit_core::Cached;
///
/// // What a body returns: computed by this call.
/// let fresh: Cached<Result<u32, String>> = Cached::new(Ok(7));
/// assert!(!fresh.was_cached());
/// assert_eq!(*fresh, Ok(7)); // derefs to the `Result`
/// assert_eq!(fresh.into_inner(), Ok(7));
/// ```
///
/// The `memokit` facade's `cached` docs show it on a memoized function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached<T> {
    value: T,
    was_cached: bool,
}

impl<T> Cached<T> {
    /// A result the body just computed (not from the cache).
    pub fn new(value: T) -> Self {
        Self {
            value,
            was_cached: false,
        }
    }

    /// Whether this result came from the cache rather than from this call's body (a hit, or
    /// another caller's load this call waited for).
    pub fn was_cached(&self) -> bool {
        self.was_cached
    }

    /// The result itself.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> From<T> for Cached<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T> Deref for Cached<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Cached<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<P, R: Cacheable<P>> Cacheable<Flagged<P>> for Cached<R> {
    type Value = R::Value;

    fn cacheable(&self) -> Option<R::Value> {
        self.value.cacheable()
    }

    fn from_cached(value: R::Value) -> Self {
        Self {
            value: R::from_cached(value),
            was_cached: true,
        }
    }

    fn ttl(&self, value: &R::Value) -> Option<Duration> {
        self.value.ttl(value)
    }

    fn failed(&self) -> bool {
        self.value.failed()
    }
}
