//! What the macros expand to. Not public API: names and signatures change without notice.
//!
//! A memoized function becomes a static [`Memo`] and two calls: [`probe`] looks the key up by its
//! borrowed form (a hit allocates nothing), then on a miss the generated code builds the owned
//! key and hands it with the body to [`load`], which runs the body as the key's single flight.
//! Both fail open: a cache that cannot be built or a backend that fails leaves the function
//! running its body.

use std::future::Future;
use std::hash::Hash;

pub use std::sync::LazyLock;
pub use std::time::Duration;

pub use crate::backend::Backend;
use crate::backend::Found;
pub use crate::cache::{Cache, CacheBuilder};
use crate::error::CacheError;
pub use crate::key::{KeyRef, ToKey};
pub use crate::memo::Memo;
pub use crate::memory::MemoryBackend;
pub use crate::outcome::{OkOnly, Outcome, SomeOnly, Whole};

/// What [`probe`] found.
pub enum Probe<R> {
    /// A cached result.
    Hit(R),
    /// Nothing cached: load.
    Miss,
    /// The cache is unusable right now: run the body, skip the cache.
    Bypass,
}

impl<R> Probe<R> {
    fn from_lookup<P, V>(found: Result<Option<Found<V>>, CacheError>) -> Self
    where
        R: Outcome<P, Value = V>,
    {
        match found {
            Ok(Some(found)) => Self::Hit(R::from_cached(found.value)),
            Ok(None) => Self::Miss,
            Err(_) => Self::Bypass,
        }
    }
}

/// Looks `key` up for a memoized function.
#[inline]
pub fn probe<P, R, K, V, B, Q>(memo: &Memo<K, V, B>, key: &Q) -> Probe<R>
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
    Q: ?Sized + crate::key::Lookup<K>,
{
    let Ok(cache) = memo.cache() else {
        return Probe::Bypass;
    };
    let Ok(scope) = cache.scope() else {
        return Probe::Bypass;
    };
    Probe::from_lookup(cache.lookup_result(&scope, scope.backend.get(key)))
}

/// Async form of [`probe`].
pub async fn probe_async<P, R, K, V, B, Q>(memo: &Memo<K, V, B>, key: &Q) -> Probe<R>
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
    Q: ?Sized + crate::key::Lookup<K> + Sync,
{
    let Ok(cache) = memo.cache() else {
        return Probe::Bypass;
    };
    let Ok(scope) = cache.scope() else {
        return Probe::Bypass;
    };
    let found = scope.backend.get_async(key).await;
    Probe::from_lookup(cache.lookup_result(&scope, found))
}

/// Runs `body` for a memoized function after a [`probe`] that did not hit.
pub fn load<P, R, K, V, B>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: K,
    body: impl FnOnce() -> R,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    let cache = match (probe, memo.cache()) {
        (Probe::Hit(r), _) => return r,
        (Probe::Miss, Ok(cache)) => cache,
        _ => return body(),
    };
    let scope = match cache.scope() {
        Ok(scope) => scope,
        Err(_) => return body(),
    };
    match cache.load::<P, R, _>(&scope, key, body) {
        Ok(r) => r,
        Err(unrun) => (unrun.body)(),
    }
}

/// Async form of [`load`].
pub async fn load_async<P, R, K, V, B>(
    memo: &Memo<K, V, B>,
    probe: Probe<R>,
    key: K,
    body: impl Future<Output = R>,
) -> R
where
    R: Outcome<P, Value = V>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    let cache = match (probe, memo.cache()) {
        (Probe::Hit(r), _) => return r,
        (Probe::Miss, Ok(cache)) => cache,
        _ => return body.await,
    };
    let scope = match cache.scope() {
        Ok(scope) => scope,
        Err(_) => return body.await,
    };
    match cache.load_async::<P, R, _>(&scope, key, body).await {
        Ok(r) => r,
        Err(unrun) => unrun.body.await,
    }
}
