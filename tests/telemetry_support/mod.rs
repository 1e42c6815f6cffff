//! Shared by the telemetry tests: a backend whose store is unreachable, and a memoized function
//! whose cache cannot be built.
// Each test binary uses what it needs of this module.
#![allow(dead_code)]

use std::time::Duration;

use memokit::key::Lookup;
use memokit::{Backend, BackendError, BackendErrorKind, BackendStats, Config, Found, Namespace};

/// Fails every operation with [`BackendErrorKind::Unavailable`].
pub struct Down;

/// What [`Down`] says.
pub const DOWN_MESSAGE: &str = "down backend unavailable: connection refused";

fn down() -> BackendError {
    BackendError::new("down", BackendErrorKind::Unavailable, "connection refused")
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> Backend<K, V> for Down {
    type Options = ();
    const KIND: &'static str = "down";

    fn open(_: &Config<K, V>, (): &()) -> Result<Self, BackendError> {
        Ok(Down)
    }
    fn scoped(&self, _: Namespace) -> Result<Self, BackendError> {
        Ok(Down)
    }
    fn get<Q: ?Sized + Lookup<K>>(&self, _: &Q) -> Result<Option<Found<V>>, BackendError> {
        Err(down())
    }
    fn insert(&self, _: K, _: V, _: Option<Duration>) -> Result<(), BackendError> {
        Err(down())
    }
    fn remove<Q: ?Sized + Lookup<K>>(&self, _: &Q) -> Result<bool, BackendError> {
        Err(down())
    }
    fn clear(&self) -> Result<(), BackendError> {
        Err(down())
    }
    fn stats(&self) -> BackendStats {
        BackendStats::default()
    }
}

/// A capacity computed at run time, so the compiler cannot reject it: zero, which the cache
/// rejects when it is built.
const fn no_room() -> u64 {
    0
}

/// A memoized function whose cache cannot be built (`capacity` is zero): it runs its body on every
/// call, and the cache `unbuildable` reports its error once.
#[memokit::cached(name = "unbuildable", capacity = no_room())]
pub fn unbuildable(x: u32) -> u32 {
    x * 2
}
