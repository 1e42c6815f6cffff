//! A cache as the [registry](crate::registry) sees it, whatever its types: its name, its stats
//! per namespace, clearing, and tearing a sandbox's namespace down; and a cache that could not be
//! built, reported.

use std::sync::Arc;

use super::handle::{Cache, Inner, Scope, ScopeRef};
use crate::backend::Backend;
use crate::bounds::{CacheKey, CacheValue};
use crate::context::{self, Namespace};
use crate::error::{BackendError, CacheError};
use crate::registry::{self, Registered};
use crate::stats::Stats;
use crate::telemetry::{self, Source};

/// Reports the cache of a memoized function or cache module that could not be built, whose
/// callers would otherwise never hear why (a memoized function runs its body instead): one
/// `error` event of kind `config` (a WARN through the `tracing` bridge, one
/// `errors_total{kind="config"}` through the `metrics` one) and a listing in
/// [`caches()`](crate::caches) with the error. Their owners call it once per cache.
pub(crate) fn report_unbuilt(backend: &'static str, error: &CacheError) {
    let setting = match error {
        CacheError::Config { setting, .. } => setting,
        CacheError::Backend { source, .. } => source.setting().unwrap_or("backend"),
        // Building a cache fails only as above; the rest happen to a built cache.
        _ => "backend",
    };
    let source = Source {
        cache: error.cache(),
        backend,
    };
    telemetry::error(source, &BackendError::config(backend, setting, error));
    registry::register_unbuilt(backend, error.clone());
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Registered for Inner<K, V, B> {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn backend_kind(&self) -> &'static str {
        B::KIND
    }

    fn stats_in(&self, ns: Namespace) -> Option<Stats> {
        let snapshot = |scope: &Scope<K, V, B>| scope.counters.snapshot(scope.backend.stats());
        if ns.is_global() {
            return Some(snapshot(&self.global));
        }
        self.sandboxes.read().get(&ns).map(|scope| snapshot(scope))
    }

    fn counts(&self) -> Stats {
        let counts = |scope: &Scope<K, V, B>| scope.counters.snapshot(Default::default());
        let mut total = counts(&self.global);
        total += *self.retired.lock();
        for scope in self.sandboxes.read().values() {
            total += counts(scope);
        }
        total
    }

    fn cheap_stats(&self) -> bool {
        B::CHEAP_STATS
    }

    fn clear(self: Arc<Self>) -> Result<(), CacheError> {
        // Clearing needs no strictness check: it cannot leak a value into a test.
        let cache = Cache { inner: self };
        let ns = context::namespace();
        let scope = if ns.is_global() {
            ScopeRef::Global(&cache.inner.global)
        } else {
            cache.sandbox_scope(ns)?
        };
        cache.cleared(&scope, scope.backend.clear())
    }

    fn drop_namespace(&self, ns: Namespace) -> Result<(), CacheError> {
        // Most caches never saw the namespace: a shared lock answers that without stalling the
        // other sandboxes. Otherwise out of the map first, so no new operation finds the scope;
        // then emptied, so its entries are freed even if a straggler still holds the `Arc`.
        if !self.sandboxes.read().contains_key(&ns) {
            return Ok(());
        }
        let Some(scope) = self.sandboxes.write().remove(&ns) else {
            return Ok(());
        };
        *self.retired.lock() += scope.counters.snapshot(Default::default());
        scope.backend.clear().map_err(|source| CacheError::Backend {
            cache: self.config.name.clone(),
            source,
        })
    }
}
