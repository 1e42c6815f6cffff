//! Which results of a loader are cached.
//!
//! A memoized function returns some `R`; the cache stores a `V` derived from it. The policy type
//! `P` picks the rule, chosen by the macro from the return type and options: [`OkOnly`] caches the
//! `T` of `Result<T, E>::Ok` (errors pass through and are retried), [`SomeOnly`] caches the `T` of
//! `Option<T>::Some`, and [`Whole`] caches the whole value (`cache_err`, `cache_none`, and
//! functions returning anything else). Type aliases such as `io::Result<T>` work because the rule
//! is a trait on the real type.
//!
//! A memoized function may narrow its policy with [`Rules`] (`unless`, a per-entry TTL); the
//! runtime wraps its result in [`Judged`] so the cache's load path applies them without knowing
//! they exist.

use std::marker::PhantomData;
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
pub trait Outcome<P>: Sized {
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

/// The policy of a [`Judged`] result: `P`'s rule, narrowed by the function's own rules.
#[derive(Debug, Clone, Copy)]
pub struct ByRules<P>(P);

/// What a memoized function decides about storing one result, beyond its policy: whether to keep
/// it (`unless`) and for how long (a per-entry TTL computed from the value).
pub trait Rules<R, V> {
    /// Whether `result` may be stored.
    fn admit(&self, result: &R) -> bool;
    /// The TTL of `value`, or `None` for the cache-wide one.
    fn ttl(&self, value: &V) -> Option<Duration>;
}

/// No rules: every result the policy allows is stored with the cache-wide TTL.
#[derive(Debug, Clone, Copy)]
pub struct NoRules;

impl<R, V> Rules<R, V> for NoRules {
    fn admit(&self, _: &R) -> bool {
        true
    }

    fn ttl(&self, _: &V) -> Option<Duration> {
        None
    }
}

/// A per-entry TTL as a `ttl_from` closure may return it: a `Duration`, or an
/// `Option<Duration>` where `None` means the cache-wide TTL.
pub trait IntoTtl {
    /// The TTL, or `None` for the cache-wide one.
    fn into_ttl(self) -> Option<Duration>;
}

impl IntoTtl for Duration {
    fn into_ttl(self) -> Option<Duration> {
        Some(self)
    }
}

impl IntoTtl for Option<Duration> {
    fn into_ttl(self) -> Option<Duration> {
        self
    }
}

/// Rules from closures: `unless(&result)` rejects a result, `ttl_from(&value)` picks its TTL.
pub struct FnRules<U, T, D> {
    unless: U,
    ttl_from: T,
    ttl: PhantomData<fn() -> D>,
}

impl<U, T, D> FnRules<U, T, D> {
    /// Rules from an `unless` and a `ttl_from` closure (see [`no_unless`] and [`no_ttl`] for the
    /// absent ones). Taking the closures here fixes their argument types.
    pub fn new<R, V>(unless: U, ttl_from: T) -> Self
    where
        U: Fn(&R) -> bool,
        T: Fn(&V) -> D,
        D: IntoTtl,
    {
        Self {
            unless,
            ttl_from,
            ttl: PhantomData,
        }
    }
}

/// The `unless` of a function without one.
pub fn no_unless<R>(_: &R) -> bool {
    false
}

/// The `ttl_from` of a function without one: the cache-wide TTL.
pub fn no_ttl<V>(_: &V) -> Option<Duration> {
    None
}

impl<R, V, U, T, D> Rules<R, V> for FnRules<U, T, D>
where
    U: Fn(&R) -> bool,
    T: Fn(&V) -> D,
    D: IntoTtl,
{
    fn admit(&self, result: &R) -> bool {
        !(self.unless)(result)
    }

    fn ttl(&self, value: &V) -> Option<Duration> {
        (self.ttl_from)(value).into_ttl()
    }
}

/// A result with the decision its function's [`Rules`] made about it.
pub struct Judged<'r, R, X> {
    /// The result the caller gets.
    pub result: R,
    /// The rules, when this caller ran the body (a result handed over by another caller's load has
    /// been judged already).
    rules: Option<&'r X>,
}

impl<'r, R, X> Judged<'r, R, X> {
    /// `result` under `rules`.
    pub fn new(result: R, rules: &'r X) -> Self {
        Self {
            result,
            rules: Some(rules),
        }
    }
}

impl<P, R, X> Outcome<ByRules<P>> for Judged<'_, R, X>
where
    R: Outcome<P>,
    X: Rules<R, R::Value>,
{
    type Value = R::Value;

    fn cacheable(&self) -> Option<R::Value> {
        match self.rules {
            Some(rules) if !rules.admit(&self.result) => None,
            _ => self.result.cacheable(),
        }
    }

    fn from_cached(value: R::Value) -> Self {
        Self {
            result: R::from_cached(value),
            rules: None,
        }
    }

    fn ttl(&self, value: &R::Value) -> Option<Duration> {
        self.rules.and_then(|rules| rules.ttl(value))
    }
}

impl<T: Clone + Send + Sync + 'static> Outcome<Whole> for T {
    type Value = T;

    fn cacheable(&self) -> Option<T> {
        Some(self.clone())
    }

    fn from_cached(value: T) -> Self {
        value
    }
}

impl<T: Clone + Send + Sync + 'static, E> Outcome<OkOnly> for Result<T, E> {
    type Value = T;

    fn cacheable(&self) -> Option<T> {
        self.as_ref().ok().cloned()
    }

    fn from_cached(value: T) -> Self {
        Ok(value)
    }
}

impl<T: Clone + Send + Sync + 'static> Outcome<SomeOnly> for Option<T> {
    type Value = T;

    fn cacheable(&self) -> Option<T> {
        self.clone()
    }

    fn from_cached(value: T) -> Self {
        Some(value)
    }
}
