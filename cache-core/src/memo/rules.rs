//! A memoized function's own rules for storing a result, beyond its policy: `unless` (keep it
//! or not) and a per-entry TTL computed from the value.
//!
//! The runtime wraps the function's result in a [`RuledResult`], whose [`Cacheable`] policy
//! ([`ByRules`]) applies the rules, so the cache's load path stores by them without knowing they
//! exist.

use std::marker::PhantomData;
use std::time::Duration;

use crate::cache::Cacheable;

/// The policy of a [`RuledResult`] result: `P`'s rule, narrowed by the function's own rules.
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
pub struct RuledResult<'r, R, X> {
    /// The result the caller gets.
    pub result: R,
    /// The rules, when this caller ran the body (a result handed over by another caller's load has
    /// been judged already).
    rules: Option<&'r X>,
}

impl<'r, R, X> RuledResult<'r, R, X> {
    /// `result` under `rules`.
    pub fn new(result: R, rules: &'r X) -> Self {
        Self {
            result,
            rules: Some(rules),
        }
    }
}

impl<P, R, X> Cacheable<ByRules<P>> for RuledResult<'_, R, X>
where
    R: Cacheable<P>,
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

    fn failed(&self) -> bool {
        self.result.failed()
    }
}
