//! The emitters the cache calls: one short function per event, each a relaxed load and a return
//! when nothing listens, with the event built in a cold path otherwise.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::event::{Event, EventKind, GetResult, LoadOutcome, Source};
#[cfg(feature = "tracing")]
use super::handlers::load_span;
use super::handlers::{active, dispatch};
use crate::backend::RemovalCause;
use crate::config::Config;
use crate::context::{self, Namespace};
use crate::error::BackendError;

/// The event `source` emits.
#[inline(always)]
fn event<'a>(source: Source<'a>, namespace: Namespace, kind: EventKind<'a>) -> Event<'a> {
    Event {
        cache: source.cache,
        backend: source.backend,
        namespace,
        kind,
    }
}

/// Builds the event and hands it to the handlers; callers have checked [`active`].
#[cold]
#[inline(never)]
fn send(source: Source<'_>, namespace: Namespace, kind: EventKind<'_>) {
    dispatch(&event(source, namespace, kind));
}

/// Emits `kind` in the current thread's namespace, if anything listens.
#[inline(always)]
fn emit(source: Source<'_>, kind: EventKind<'_>) {
    if active() {
        send(source, context::namespace(), kind);
    }
}

/// A lookup found something (`hit`) or nothing; `stale` says whether what it found is past the
/// cache's refresh age, and is only asked when something listens (it may read the clock).
///
/// Inlined into the caller's own cold path (which has checked [`active`]), so an observed hit
/// makes one call to reach the handlers, not three.
#[inline(always)]
pub(crate) fn get(source: Source<'_>, hit: bool, stale: impl FnOnce() -> bool) {
    let result = match (hit, hit && stale()) {
        (false, _) => GetResult::Miss,
        (true, false) => GetResult::Hit,
        (true, true) => GetResult::Stale,
    };
    dispatch(&event(source, context::namespace(), EventKind::Get(result)));
}

/// A value was written.
#[inline]
pub(crate) fn insert(source: Source<'_>) {
    emit(source, EventKind::Insert);
}

/// A key was explicitly removed (or was not there).
#[inline]
pub(crate) fn remove(source: Source<'_>, removed: bool) {
    emit(source, EventKind::Remove { removed });
}

/// A namespace was cleared.
#[inline]
pub(crate) fn clear(source: Source<'_>) {
    emit(source, EventKind::Clear);
}

/// The backend failed.
#[inline]
pub(crate) fn error(source: Source<'_>, error: &BackendError) {
    emit(source, EventKind::Error { error });
}

/// The config a backend is opened with: the cache's own, with the user's eviction listener (if
/// any) wrapped so that every removal the backend reports is also an event. The user's listener
/// runs first and exactly as before.
pub(crate) fn observed<K: 'static, V: 'static>(
    config: &Config<K, V>,
    backend: &'static str,
) -> Config<K, V> {
    let mut observed = config.clone();
    let user = observed.listener.take();
    let cache = config.name.clone();
    observed.listener = Some(Arc::new(move |key: &K, value: &V, cause: RemovalCause| {
        if let Some(user) = &user {
            user(key, value, cause);
        }
        emit(
            Source {
                cache: &cache,
                backend,
            },
            EventKind::Removal { cause },
        );
    }));
    observed
}

/// Watches one run of a loader: emits [`EventKind::LoadStart`] when a load begins and
/// [`EventKind::Load`] (or [`EventKind::Refresh`] for a background refresh) when it ends, and
/// runs the body inside a `tracing` span while a handler that wants load spans (the `tracing`
/// bridge) is attached. If the watch is dropped before [`finish`](Self::finish), the body panicked
/// (or its future was cancelled), and that is the outcome reported.
pub(crate) struct LoadWatch<'a> {
    /// `None` when nothing listened as the load began, or once its end is reported.
    watching: Option<WatchedLoad<'a>>,
}

/// A load that began while something listened: what its end event needs.
struct WatchedLoad<'a> {
    source: Source<'a>,
    namespace: Namespace,
    start: Instant,
    refresh: bool,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl<'a> LoadWatch<'a> {
    /// Starts watching a load (or, with `refresh`, a background refresh) of one of `source`'s
    /// keys.
    #[inline]
    pub(crate) fn start(source: Source<'a>, refresh: bool) -> Self {
        if !active() {
            return Self { watching: None };
        }
        Self::begin(source, refresh)
    }

    #[cold]
    fn begin(source: Source<'a>, refresh: bool) -> Self {
        let namespace = context::namespace();
        if !refresh {
            send(source, namespace, EventKind::LoadStart);
        }
        Self {
            watching: Some(WatchedLoad {
                #[cfg(feature = "tracing")]
                span: load_span(source, namespace, refresh),
                source,
                namespace,
                start: Instant::now(),
                refresh,
            }),
        }
    }

    /// Runs the loader's body (inside the load's span, if there is one).
    #[inline]
    pub(crate) fn run<R>(&self, body: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        if let Some(load) = &self.watching {
            return load.span.in_scope(body);
        }
        body()
    }

    /// Async form of [`run`](Self::run): the span is entered on every poll of `body`.
    #[cfg(feature = "tracing")]
    pub(crate) fn run_async<F: Future>(&self, body: F) -> impl Future<Output = F::Output> {
        use tracing::Instrument;
        let span = match &self.watching {
            Some(load) => load.span.clone(),
            None => tracing::Span::none(),
        };
        body.instrument(span)
    }

    /// Async form of [`run`](Self::run).
    #[cfg(not(feature = "tracing"))]
    #[inline]
    pub(crate) fn run_async<F: Future>(&self, body: F) -> F {
        body
    }

    /// The body returned, with this outcome.
    #[inline]
    pub(crate) fn finish(&mut self, outcome: LoadOutcome) {
        if let Some(load) = self.watching.take() {
            load.end(outcome);
        }
    }
}

impl WatchedLoad<'_> {
    #[cold]
    fn end(self, outcome: LoadOutcome) {
        let duration: Duration = self.start.elapsed();
        #[cfg(feature = "tracing")]
        self.span.record("outcome", outcome.as_str());
        let kind = if self.refresh {
            EventKind::Refresh { outcome, duration }
        } else {
            EventKind::Load { outcome, duration }
        };
        send(self.source, self.namespace, kind);
    }
}

impl Drop for LoadWatch<'_> {
    fn drop(&mut self) {
        if let Some(load) = self.watching.take() {
            let outcome = if std::thread::panicking() {
                LoadOutcome::Panicked
            } else {
                LoadOutcome::Cancelled
            };
            load.end(outcome);
        }
    }
}
