//! The [`Cache`] type and its namespaces: one [`Scope`] (backend view, flights, counters) for the
//! global namespace and one per live sandbox, found on every call.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::{Mutex, RwLock};

use super::thread_scopes;
use super::warmer::Warming;
use crate::backend::Backend;
use crate::bounds::{CacheKey, CacheValue};
use crate::config::Config;
use crate::context::{self, Namespace};
use crate::error::CacheError;
use crate::flight::Flights;
use crate::memory::MemoryBackend;
use crate::sandbox;
use crate::stats::{Counters, Stats};
use crate::telemetry;

/// A typed cache from `K` to `V` stored in backend `B` (in memory by default).
///
/// It is cheap to clone (clones share the cache) and is usually kept in a `static`. Every method
/// works in the current [namespace](crate::context::Namespace): code inside a test sandbox sees
/// only that sandbox's entries. Methods return `Result` because a remote backend can fail; the
/// in-memory backend never does.
///
/// Loads are single-flight: concurrent callers missing one key run one loader and share its
/// value; other keys never wait. If the loader fails, panics or is cancelled, nothing is cached
/// and a waiting caller runs its own loader instead; a loader that asks for its own key gets
/// [`CacheError::Recursion`] rather than waiting for itself. With a
/// [`refresh`](crate::CacheBuilder::refresh) age,
/// [`get_or_refresh_with`](Self::get_or_refresh_with) serves stale values while one reload runs
/// in the background.
///
/// ElixirCache's names map as follows: `put` is [`insert`](Self::insert), `delete` is
/// [`remove`](Self::remove), and `get_or_create` is [`get_or_insert_with`](Self::get_or_insert_with).
///
/// ```
/// use std::time::Duration;
/// use memokit_core::Cache;
///
/// let users: Cache<u64, String> = Cache::builder("users")
///     .ttl(Duration::from_secs(300))
///     .capacity(10_000)
///     .build()?;
/// users.insert(1, "ada".to_string())?;
/// assert_eq!(users.get(&1)?.as_deref(), Some("ada"));
/// let grace = users.get_or_insert_with(2, || "grace".to_string())?;
/// assert_eq!(grace, "grace");
/// assert!(users.remove(&1)?);
/// assert_eq!(users.len(), 1);
/// # Ok::<(), memokit_core::CacheError>(())
/// ```
pub struct Cache<K, V, B = MemoryBackend<K, V>> {
    pub(super) inner: Arc<Inner<K, V, B>>,
}

pub(super) struct Inner<K, V, B> {
    /// Names this cache to each thread's [`thread_scopes`].
    pub(super) id: u64,
    pub(super) config: Config<K, V>,
    pub(super) global: Scope<K, V, B>,
    pub(super) sandboxes: RwLock<Sandboxes<K, V, B>>,
    /// The activity of sandboxes torn down, kept so totals over namespaces only grow.
    pub(super) retired: Mutex<Stats>,
    /// With a [`fallback`](crate::CacheBuilder::fallback) age, a copy of each loaded value.
    pub(super) kept: Option<Box<dyn Keep<K, V>>>,
    /// The warmer and its runs' shared state; dropping it stops them.
    pub(super) warming: Option<Warming<K, V>>,
}

/// Where a [`fallback`](crate::CacheBuilder::fallback) cache keeps its loaded values: a memory
/// cache, behind a trait object so that `Inner` needs no bounds to hold one.
pub(super) trait Keep<K, V>: Send + Sync {
    /// Keeps a copy of `value` under `key`.
    fn keep(&self, key: &K, value: &V);
    /// The value kept under `key`, if any.
    fn kept(&self, key: &K) -> Option<V>;
}

/// The scopes of live sandbox namespaces; foldhash, not SipHash, since every call in a sandbox
/// looks its scope up here.
type Sandboxes<K, V, B> = HashMap<Namespace, Arc<Scope<K, V, B>>>;

/// One namespace of a cache: its backend view, its flights and its counters.
pub(crate) struct Scope<K, V, B> {
    pub(crate) backend: B,
    pub(crate) flights: Flights<K, V>,
    pub(crate) counters: Counters,
}

impl<K: CacheKey, V: CacheValue, B> Scope<K, V, B> {
    pub(super) fn new(backend: B) -> Self {
        Self {
            backend,
            flights: Flights::new(),
            counters: Counters::default(),
        }
    }
}

/// The scope of the current call: borrowed for the global namespace, shared for a sandbox's.
pub(crate) enum ScopeRef<'a, K, V, B> {
    Global(&'a Scope<K, V, B>),
    Sandbox(Arc<Scope<K, V, B>>),
}

impl<K, V, B> Deref for ScopeRef<'_, K, V, B> {
    type Target = Scope<K, V, B>;

    fn deref(&self) -> &Scope<K, V, B> {
        match self {
            Self::Global(s) => s,
            Self::Sandbox(s) => s,
        }
    }
}

impl<K, V, B: Backend<K, V>> ScopeRef<'_, K, V, B> {
    /// This scope held past the current call, for work that outlives it (a background refresh).
    pub(super) fn detach(&self, cache: &Cache<K, V, B>) -> OwnedScope<K, V, B> {
        OwnedScope {
            cache: cache.clone(),
            sandbox: match self {
                Self::Global(_) => None,
                Self::Sandbox(scope) => Some(scope.clone()),
            },
        }
    }
}

/// A scope that owns what keeps it alive: the cache for the global scope, the `Arc` for a
/// sandbox's.
pub(super) struct OwnedScope<K, V, B: Backend<K, V>> {
    cache: Cache<K, V, B>,
    sandbox: Option<Arc<Scope<K, V, B>>>,
}

impl<K, V, B: Backend<K, V>> Deref for OwnedScope<K, V, B> {
    type Target = Scope<K, V, B>;

    fn deref(&self) -> &Scope<K, V, B> {
        match &self.sandbox {
            Some(scope) => scope,
            None => &self.cache.inner.global,
        }
    }
}

/// What [`Cache::with_scope`] runs, as the cold path takes it.
type ScopeFn<'f, K, V, B, R> = dyn Fn(&Scope<K, V, B>) -> Result<R, CacheError> + 'f;

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The backend's kind, such as `"memory"`.
    pub fn backend_kind(&self) -> &'static str {
        B::KIND
    }

    /// The options the cache was built with.
    pub fn config(&self) -> &Config<K, V> {
        &self.inner.config
    }

    /// The backend of the current namespace, for backend-specific operations.
    pub fn backend(&self) -> Result<impl Deref<Target = B> + '_, CacheError> {
        struct View<'a, K, V, B>(ScopeRef<'a, K, V, B>);
        impl<K, V, B> Deref for View<'_, K, V, B> {
            type Target = B;
            fn deref(&self) -> &B {
                &self.0.backend
            }
        }
        self.scope().map(View)
    }

    /// The scope of the current namespace.
    #[inline]
    pub(super) fn scope(&self) -> Result<ScopeRef<'_, K, V, B>, CacheError> {
        let ns = context::namespace();
        if ns.is_global() {
            if self.inner.config.sandbox_required {
                sandbox::used_outside(&self.inner.config.name);
            }
            return Ok(ScopeRef::Global(&self.inner.global));
        }
        self.sandbox_scope(ns)
    }

    /// Runs `f` on the current namespace's scope. The hit paths use this rather than
    /// [`scope`](Self::scope): the global scope is passed by plain reference and a sandbox's by
    /// the pointer this thread remembers ([`thread_scopes::pin`]), so no [`ScopeRef`] (with its
    /// `Arc` to drop) is built, and `f` is called at one place for both, so it is inlined once and
    /// a sandboxed hit runs the global hit's code. `f` is `Fn` (the hit paths' closures only
    /// borrow), so a scope this thread does not remember falls back to the shared map with the
    /// same `f`.
    #[inline(always)]
    pub(super) fn with_scope<R>(
        &self,
        f: impl Fn(&Scope<K, V, B>) -> Result<R, CacheError>,
    ) -> Result<R, CacheError> {
        let ns = context::namespace();
        let pinned;
        let scope = if ns.is_global() && !self.inner.config.sandbox_required {
            &self.inner.global
        } else {
            match self.pinned_scope(ns) {
                Some(scope) => {
                    pinned = scope;
                    &*pinned
                }
                None => return self.with_shared_scope(&f),
            }
        };
        f(scope)
    }

    /// A sandbox's scope as this thread remembers it (none for the global namespace, which only a
    /// [strict](crate::CacheBuilder::sandbox_required) cache asks about).
    #[inline(always)]
    fn pinned_scope(&self, ns: Namespace) -> Option<thread_scopes::Pinned<Scope<K, V, B>>> {
        if ns.is_global() {
            return None;
        }
        thread_scopes::pin(self.inner.id, ns)
    }

    /// [`with_scope`](Self::with_scope) when this thread does not remember the scope: the shared
    /// map's (or the global one, for a strict cache outside a sandbox).
    #[cold]
    #[inline(never)]
    fn with_shared_scope<R>(&self, f: &ScopeFn<'_, K, V, B, R>) -> Result<R, CacheError> {
        f(&*self.scope()?)
    }

    /// The scope of a sandbox namespace, made on first use; kept out of line so the global
    /// namespace's hit path stays small.
    #[cold]
    #[inline(never)]
    pub(super) fn sandbox_scope(&self, ns: Namespace) -> Result<ScopeRef<'_, K, V, B>, CacheError> {
        if let Some(scope) = thread_scopes::get(self.inner.id, ns) {
            return Ok(ScopeRef::Sandbox(scope));
        }
        // Called with the map unlocked: remembering may drop another scope, and with it values
        // whose destructors could use this cache.
        let remember = |scope: Arc<Scope<K, V, B>>| {
            thread_scopes::remember(self.inner.id, ns, scope.clone());
            Ok(ScopeRef::Sandbox(scope))
        };
        let found = self.inner.sandboxes.read().get(&ns).cloned();
        if let Some(scope) = found {
            return remember(scope);
        }
        let mut sandboxes = self.inner.sandboxes.write();
        if let Some(scope) = sandboxes.get(&ns).cloned() {
            drop(sandboxes);
            return remember(scope);
        }
        let backend = self
            .inner
            .global
            .backend
            .scoped(ns)
            .map_err(|e| self.backend_error(&self.inner.global, e))?;
        let scope = Arc::new(Scope::new(backend));
        sandboxes.insert(ns, scope.clone());
        drop(sandboxes);
        remember(scope)
    }

    /// Names this cache in telemetry events.
    pub(super) fn source(&self) -> telemetry::Source<'_> {
        telemetry::Source {
            cache: &self.inner.config.name,
            backend: B::KIND,
        }
    }
}

impl<K, V, B: Backend<K, V>> Clone for Cache<K, V, B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K, V, B: Backend<K, V>> fmt::Debug for Cache<K, V, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.inner.config.name)
            .field("backend", &B::KIND)
            .finish_non_exhaustive()
    }
}
