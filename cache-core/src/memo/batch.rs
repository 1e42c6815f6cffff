//! The call path of a batch-memoized function (`#[cached(batch)]`), DataLoader-style: the
//! function takes a list of ids and returns a map from id to value; each call looks every id up
//! and runs the body once, with only the ids nobody has cached or is loading.
//!
//! Everything is the cache's batched single flight
//! ([`Cache::try_get_or_insert_many_with`]): one batched lookup, then one flight per missing id,
//! so an id another call is loading is waited for rather than loaded twice, and the body's pairs
//! are stored under their own keys. The body may run more than once in one call: when an id this
//! call waited on comes back empty (the other call's body failed or left it out), this call loads
//! it itself, as a single-key follower retries (see the flight module). Ids the body leaves out are
//! absent from the answer and not cached; an `Err` from the body caches nothing and is this
//! call's answer.
//!
//! Like the single-key path it fails open: a cache that cannot be built or a backend that fails
//! leaves the function running its body on every id. A companion's directives apply to the whole
//! call: `uncached` runs the body on every id and stores nothing, `refresh` runs it on every id
//! and stores what it returns.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::hash::{BuildHasher, Hash};

use super::directive::{self, Directive};
use super::handle::Memo;
use crate::backend::Backend;
use crate::bounds::{CacheKey, CacheValue};
use crate::cache::Cache;
use crate::error::{CacheError, LoadError};

/// What a batch-memoized function returns: a map from id to value (a `HashMap` with any hasher,
/// or a `BTreeMap`), or a `Result` of one. An `Err` caches nothing.
#[diagnostic::on_unimplemented(
    message = "a `#[cached(batch)]` function over ids of type `{K}` can't return `{Self}`",
    label = "not a map keyed by `{K}`",
    note = "a batch function returns `HashMap<{K}, V>` or `Result<HashMap<{K}, V>, E>` (or a `BTreeMap`), keyed by the type of its ids"
)]
pub trait BatchResult<K>: Sized {
    /// The type cached under each id.
    type Value;
    /// The body's error; [`Infallible`] for a plain map.
    type Error;

    /// The map an answer is made of, filled as values are found and loaded.
    type Map: Extend<(K, Self::Value)>;

    /// The pairs the body returned, or its error.
    fn into_pairs(self) -> Result<impl IntoIterator<Item = (K, Self::Value)>, Self::Error>;

    /// An empty map, with room for `capacity` entries where the map has a capacity.
    fn map_with_capacity(capacity: usize) -> Self::Map;

    /// The answer made of the values found and loaded.
    fn from_found(found: Self::Map) -> Self;

    /// The answer when the body failed.
    fn from_error(error: Self::Error) -> Self;
}

/// The maps a batch answers with, and how an answer is made from the pairs found.
macro_rules! batch_maps {
    ($($map:ident<K, V $(, $hasher:ident)?> where K: $($bound:path),+ => $new:expr;)*) => {$(
        #[diagnostic::do_not_recommend]
        impl<K: $($bound+)+, V $(, $hasher: BuildHasher + Default)?> BatchResult<K>
            for $map<K, V $(, $hasher)?>
        {
            type Value = V;
            type Error = Infallible;
            type Map = Self;

            fn into_pairs(self) -> Result<impl IntoIterator<Item = (K, V)>, Infallible> {
                Ok(self)
            }

            fn map_with_capacity(capacity: usize) -> Self {
                $new(capacity)
            }

            fn from_found(found: Self) -> Self {
                found
            }

            fn from_error(error: Infallible) -> Self {
                match error {}
            }
        }

        #[diagnostic::do_not_recommend]
        impl<K: $($bound+)+, V $(, $hasher: BuildHasher + Default)?, E> BatchResult<K>
            for Result<$map<K, V $(, $hasher)?>, E>
        {
            type Value = V;
            type Error = E;
            type Map = $map<K, V $(, $hasher)?>;

            fn into_pairs(self) -> Result<impl IntoIterator<Item = (K, V)>, E> {
                self
            }

            fn map_with_capacity(capacity: usize) -> Self::Map {
                $new(capacity)
            }

            fn from_found(found: Self::Map) -> Self {
                Ok(found)
            }

            fn from_error(error: E) -> Self {
                Err(error)
            }
        }
    )*};
}

batch_maps! {
    HashMap<K, V, S> where K: Eq, Hash => |n| HashMap::with_capacity_and_hasher(n, S::default());
    BTreeMap<K, V> where K: Ord => |_| BTreeMap::new();
}

/// How a batch call goes, after the memo and the directives are consulted.
enum Route<'m, K, V, B: Backend<K, V>> {
    /// Through the cache's batched single flight.
    Flight(&'m Cache<K, V, B>),
    /// A companion's forced reload: the body on every id, its pairs stored.
    Reload(&'m Cache<K, V, B>),
    /// No usable cache, or `uncached`: the body on every id, nothing stored.
    Bypass,
}

fn route<K, V, B>(memo: &Memo<K, V, B>) -> Route<'_, K, V, B>
where
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
{
    let Ok(cache) = memo.cache() else {
        return Route::Bypass;
    };
    match directive::take(|| memo.target()) {
        None => Route::Flight(cache),
        Some(Directive::Refresh) => Route::Reload(cache),
        Some(Directive::Uncached) => Route::Bypass,
    }
}

/// The pairs of a body's result, collected, or its error.
fn collected<K: CacheKey, V, R: BatchResult<K, Value = V>>(
    result: R,
) -> Result<Vec<(K, V)>, R::Error> {
    result.into_pairs().map(|pairs| pairs.into_iter().collect())
}

/// The answer made of a forced reload's outcome.
fn answer<K, V, R: BatchResult<K, Value = V>>(loaded: Result<Vec<(K, V)>, R::Error>) -> R {
    match loaded {
        Ok(pairs) => {
            let mut found = R::map_with_capacity(pairs.len());
            found.extend(pairs);
            R::from_found(found)
        }
        Err(error) => R::from_error(error),
    }
}

/// The answer of the batched single flight; `None` when the cache failed (its error is already
/// counted and reported), to fail open. A body asking for an id its own call is loading panics
/// instead, as a single-key recursion does: running the body again would recurse forever.
fn answered<K, V, R: BatchResult<K, Value = V>>(
    loaded: Result<R::Map, LoadError<R::Error>>,
) -> Option<R> {
    match loaded {
        Ok(found) => Some(R::from_found(found)),
        Err(LoadError::Load(error)) => Some(R::from_error(error)),
        Err(LoadError::Cache(error @ CacheError::Recursion { .. })) => panic!("memokit: {error}"),
        Err(LoadError::Cache(_)) => None,
    }
}

/// A batch-memoized call: the values under `ids`, loading the missing ones with `body`.
pub fn batch<K, V, B, R>(memo: &Memo<K, V, B>, ids: &[K], body: &mut dyn FnMut(Vec<K>) -> R) -> R
where
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    R: BatchResult<K, Value = V>,
{
    let cache = match route(memo) {
        Route::Flight(cache) => cache,
        Route::Reload(cache) => {
            let loaded = collected(body(ids.to_vec()));
            if let Ok(pairs) = &loaded {
                // A failed store is already counted and reported; the answer stands.
                let _ = cache.insert_many(pairs.iter().cloned());
            }
            return answer(loaded);
        }
        Route::Bypass => return body(ids.to_vec()),
    };
    let loaded = cache.try_get_or_insert_many_into(
        ids.iter().cloned(),
        |missing| body(missing).into_pairs(),
        R::map_with_capacity,
    );
    answered(loaded).unwrap_or_else(|| body(ids.to_vec()))
}

/// Async form of [`batch`].
pub async fn batch_async<K, V, B, R, F>(
    memo: &Memo<K, V, B>,
    ids: &[K],
    mut body: impl FnMut(Vec<K>) -> F,
) -> R
where
    K: CacheKey,
    V: CacheValue,
    B: Backend<K, V>,
    R: BatchResult<K, Value = V>,
    F: Future<Output = R>,
{
    let cache = match route(memo) {
        Route::Flight(cache) => cache,
        Route::Reload(cache) => {
            let loaded = collected(body(ids.to_vec()).await);
            if let Ok(pairs) = &loaded {
                let _ = cache.insert_many_async(pairs.iter().cloned()).await;
            }
            return answer(loaded);
        }
        Route::Bypass => return body(ids.to_vec()).await,
    };
    let loaded = cache
        .try_get_or_insert_many_into_async(
            ids.iter().cloned(),
            |missing| {
                let loading = body(missing);
                async move { loading.await.into_pairs() }
            },
            R::map_with_capacity,
        )
        .await;
    match answered(loaded) {
        Some(answer) => answer,
        None => body(ids.to_vec()).await,
    }
}
