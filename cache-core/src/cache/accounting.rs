//! What every backend answer becomes: counted in the scope's stats, reported as a telemetry
//! event, and, when it is an error, turned into a [`CacheError`] naming the cache.
//!
//! The lookup path is written for the hit: inlined, with every failure and every event out of
//! line, so a hit with no telemetry handler attached is the backend's answer, one counter bump and
//! one flag load, and the large error type never travels through it.

use super::handle::{Cache, Scope};
use crate::backend::{Backend, Found};
use crate::bounds::{CacheKey, CacheValue};
use crate::clock::Timestamp;
use crate::error::{BackendError, BackendErrorKind, CacheError};
use crate::stats::Count;
use crate::telemetry;

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// Counts a backend failure and reports it; the error returned names this cache.
    pub(super) fn backend_error(&self, scope: &Scope<K, V, B>, source: BackendError) -> CacheError {
        scope.counters.add(Count::Error);
        telemetry::error(self.source(), &source);
        CacheError::Backend {
            cache: self.inner.config.name.clone(),
            source,
        }
    }

    /// A backend's answer, its error counted and turned into one naming this cache.
    pub(super) fn answered<T>(
        &self,
        scope: &Scope<K, V, B>,
        answer: Result<T, BackendError>,
    ) -> Result<T, CacheError> {
        answer.map_err(|e| self.backend_error(scope, e))
    }

    /// Counts a lookup's result; the error, if any, names this cache.
    #[inline]
    pub(super) fn lookup_result(
        &self,
        scope: &Scope<K, V, B>,
        found: Result<Option<Found<V>>, BackendError>,
    ) -> Result<Option<Found<V>>, CacheError> {
        match found {
            Ok(found) => {
                self.count_lookup(scope, found.as_ref().map(|f| f.written));
                Ok(found)
            }
            Err(e) => self.lookup_failed(scope, e),
        }
    }

    /// Counts a lookup that found a value `written` at that time, or nothing.
    #[inline]
    fn count_lookup(&self, scope: &Scope<K, V, B>, written: Option<Timestamp>) {
        if self.inner.config.refresh().is_some()
            && let Some(written) = written
        {
            self.count_stale(scope, written);
        }
        scope.counters.lookup(written.is_some());
        if telemetry::observes_lookups() {
            self.emit_get(written);
        }
    }

    /// Counts a hit on a value `written` then as stale if it is past the refresh age.
    #[inline(never)]
    pub(super) fn count_stale(&self, scope: &Scope<K, V, B>, written: Timestamp) {
        if self.is_stale(written) {
            scope.counters.add(Count::Stale);
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn emit_get(&self, written: Option<Timestamp>) {
        telemetry::get(self.source(), written.is_some(), || {
            written.is_some_and(|w| self.is_stale(w))
        });
    }

    #[cold]
    #[inline(never)]
    fn lookup_failed(
        &self,
        scope: &Scope<K, V, B>,
        error: BackendError,
    ) -> Result<Option<Found<V>>, CacheError> {
        match self.undecodable_is_miss(scope, Err(error)) {
            Ok(none) => {
                self.count_lookup(scope, None);
                Ok(none)
            }
            Err(e) => Err(self.backend_error(scope, e)),
        }
    }

    /// A stored value that cannot be decoded (corrupt, or written by an older type or codec) is
    /// counted as an error and then treated as a miss, so the next load overwrites it instead of
    /// every call bypassing the cache.
    pub(super) fn undecodable_is_miss(
        &self,
        scope: &Scope<K, V, B>,
        found: Result<Option<Found<V>>, BackendError>,
    ) -> Result<Option<Found<V>>, BackendError> {
        match found {
            Err(e) if e.kind() == BackendErrorKind::Codec => {
                self.backend_error(scope, e);
                Ok(None)
            }
            other => other,
        }
    }

    /// Counts and reports a write.
    pub(super) fn stored(
        &self,
        scope: &Scope<K, V, B>,
        written: Result<(), BackendError>,
    ) -> Result<(), CacheError> {
        self.stored_many(scope, 1, written)
    }

    /// Counts and reports a write of `n` entries.
    pub(super) fn stored_many(
        &self,
        scope: &Scope<K, V, B>,
        n: usize,
        written: Result<(), BackendError>,
    ) -> Result<(), CacheError> {
        match written {
            Ok(()) => {
                scope.counters.inserts(n as u64);
                for _ in 0..n {
                    telemetry::insert(self.source());
                }
                Ok(())
            }
            Err(e) => Err(self.backend_error(scope, e)),
        }
    }

    /// Counts and reports a removal; whether there was an entry.
    pub(super) fn removed(
        &self,
        scope: &Scope<K, V, B>,
        removed: Result<bool, BackendError>,
    ) -> Result<bool, CacheError> {
        match removed {
            Ok(removed) => {
                telemetry::remove(self.source(), removed);
                if removed {
                    scope.counters.add(Count::Removal);
                }
                Ok(removed)
            }
            Err(e) => Err(self.backend_error(scope, e)),
        }
    }

    /// Counts and reports the removal of `n` entries by one operation; `n`.
    pub(super) fn removed_many(
        &self,
        scope: &Scope<K, V, B>,
        removed: Result<u64, BackendError>,
    ) -> Result<u64, CacheError> {
        let n = removed.map_err(|e| self.backend_error(scope, e))?;
        for _ in 0..n {
            telemetry::remove(self.source(), true);
            scope.counters.add(Count::Removal);
        }
        Ok(n)
    }

    /// Reports a clear.
    pub(super) fn cleared(
        &self,
        scope: &Scope<K, V, B>,
        cleared: Result<(), BackendError>,
    ) -> Result<(), CacheError> {
        cleared.map_err(|e| self.backend_error(scope, e))?;
        telemetry::clear(self.source());
        Ok(())
    }
}
