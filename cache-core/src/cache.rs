//! [`Cache`], the typed handle every memoized function and cache module owns.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::{Arc, Weak};
use std::time::Duration;

use hashbrown::HashMap;
use parking_lot::RwLock;

use crate::backend::{Backend, Found, RemovalCause};
use crate::clock::Timestamp;
use crate::config::{Config, EvictionListener, Weigher};
use crate::context::{self, Namespace};
use crate::error::{BackendError, BackendErrorKind, CacheError, LoadError};
use crate::flight::Flights;
use crate::key::Lookup;
use crate::memory::MemoryBackend;
use crate::outcome::{OkOnly, Whole};
use crate::recent_scopes;
use crate::registry::{self, Registered};
use crate::sandbox;
use crate::stats::{Count, Counters, Stats};
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
/// [`refresh`](CacheBuilder::refresh) age, [`get_or_refresh_with`](Self::get_or_refresh_with)
/// serves stale values while one reload runs in the background.
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
pub struct Cache<K, V, B: Backend<K, V> = MemoryBackend<K, V>> {
    inner: Arc<Inner<K, V, B>>,
}

struct Inner<K, V, B> {
    /// Names this cache to each thread's [`recent_scopes`].
    id: u64,
    config: Config<K, V>,
    global: Scope<K, V, B>,
    sandboxes: RwLock<Sandboxes<K, V, B>>,
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

impl<'a, K, V, B: Backend<K, V>> ScopeRef<'a, K, V, B> {
    /// This scope held past the current call, for work that outlives it (a background refresh).
    pub(crate) fn detach(&self, cache: &Cache<K, V, B>) -> OwnedScope<K, V, B> {
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
pub(crate) struct OwnedScope<K, V, B: Backend<K, V>> {
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

/// A loader that failed before it could run: the error, and the loader back so a fail-open
/// caller can still run it.
pub(crate) struct Unrun<F> {
    pub(crate) error: CacheError,
    pub(crate) body: F,
}

/// Builds a [`Cache`]; from [`Cache::builder`].
pub struct CacheBuilder<K, V, B: Backend<K, V> = MemoryBackend<K, V>> {
    config: Config<K, V>,
    options: B::Options,
}

impl<K, V, B: Backend<K, V>> CacheBuilder<K, V, B> {
    /// Every entry expires this long after it was written.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.config.ttl = Some(ttl);
        self
    }

    /// Every entry expires when it has not been read for this long.
    pub fn tti(mut self, tti: Duration) -> Self {
        self.config.tti = Some(tti);
        self
    }

    /// Holds at most this many entries (or this much weight, with a [`weigher`](Self::weigher)).
    pub fn capacity(mut self, capacity: u64) -> Self {
        self.config.capacity = Some(capacity);
        self
    }

    /// Stale-while-revalidate: a hit on an entry older than `age` returns it at once and starts
    /// one reload of that key in the background; see [`Cache::get_or_refresh_with`]. Must be
    /// shorter than the `ttl`, if there is one.
    pub fn refresh(mut self, age: Duration) -> Self {
        self.config.refresh = Some(age);
        self
    }

    /// Bounds the cache by total weight instead of entry count.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u64 + Send + Sync + 'static) -> Self {
        self.config.weigher = Some(Arc::new(weigher) as Weigher<K, V>);
        self
    }

    /// Calls `listener` for every entry that leaves the cache, with the cause; see
    /// [`EvictionListener`](crate::EvictionListener) for where it runs.
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(&K, &V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.config.listener = Some(Arc::new(listener) as EvictionListener<K, V>);
        self
    }

    /// With `enforce` true, using the cache outside a [sandbox](mod@crate::sandbox) panics with a
    /// message naming the cache and the fix. Pass `cfg!(test)` so that only your crate's own test
    /// build is strict (this is what `#[cached(sandbox = "required")]` does); a cache shared by
    /// parallel tests then cannot leak values between them unnoticed.
    ///
    /// ```should_panic
    /// use memokit_core::Cache;
    /// let strict: Cache<u8, u8> = Cache::builder("strict").require_sandbox(true).build().unwrap();
    /// {
    ///     let _sb = memokit_core::sandbox();
    ///     strict.insert(1, 1).unwrap(); // fine: inside a sandbox
    /// }
    /// strict.get(&1); // panics: "cache `strict` requires a test sandbox ..."
    /// ```
    pub fn require_sandbox(mut self, enforce: bool) -> Self {
        self.config.sandbox_required = enforce;
        self
    }

    /// Settings specific to the backend.
    pub fn backend_options(mut self, options: B::Options) -> Self {
        self.options = options;
        self
    }

    /// Validates the options and opens the backend. An invalid option is a
    /// [`CacheError::Config`] naming the cache and the option.
    ///
    /// ```
    /// use memokit_core::{Cache, CacheError};
    /// let err = Cache::<u8, u8>::builder("tiny").capacity(0).build().unwrap_err();
    /// assert!(matches!(err, CacheError::Config { setting: "capacity", .. }));
    /// assert_eq!(err.to_string(), "cache `tiny`: invalid `capacity`: must be at least 1");
    /// ```
    pub fn build(self) -> Result<Cache<K, V, B>, CacheError>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let config = self.config;
        let name = &config.name;
        if name.is_empty() {
            return Err(CacheError::config(name, "name", "must not be empty"));
        }
        for (setting, value) in [
            ("ttl", config.ttl),
            ("tti", config.tti),
            ("refresh", config.refresh),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(CacheError::config(
                    name,
                    setting,
                    "must be longer than zero",
                ));
            }
        }
        if let (Some(refresh), Some(ttl)) = (config.refresh, config.ttl)
            && refresh >= ttl
        {
            return Err(CacheError::config(
                name,
                "refresh",
                format!(
                    "must be shorter than the `ttl` ({ttl:?}), or entries expire before they are refreshed"
                ),
            ));
        }
        if config.capacity == Some(0) {
            return Err(CacheError::config(name, "capacity", "must be at least 1"));
        }
        if config.weigher.is_some() && config.capacity.is_none() {
            return Err(CacheError::config(
                name,
                "weigher",
                "a weigher needs a `capacity` to bound the total weight",
            ));
        }
        let observed = telemetry::observed(&config, B::KIND);
        let backend =
            B::open(&observed, &self.options).map_err(|source| match source.setting() {
                Some(setting) => CacheError::config(name, setting, source.message()),
                None => CacheError::Backend {
                    cache: name.clone(),
                    source,
                },
            })?;
        let inner = Arc::new(Inner {
            id: recent_scopes::next_cache_id(),
            global: Scope::new(backend),
            sandboxes: RwLock::new(HashMap::new()),
            config,
        });
        let weak: Weak<dyn Registered> = Arc::downgrade(&inner) as Weak<Inner<K, V, B>>;
        registry::register(weak);
        Ok(Cache { inner })
    }
}

impl<K: Hash + Eq + Clone, V: Clone, B> Scope<K, V, B> {
    fn new(backend: B) -> Self {
        Self {
            backend,
            flights: Flights::new(),
            counters: Counters::default(),
        }
    }
}

impl<K, V, B> Cache<K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
    /// Starts building a cache called `name`. Names identify caches in stats, events, errors and
    /// remote keys, so give each cache its own.
    pub fn builder(name: impl Into<Arc<str>>) -> CacheBuilder<K, V, B> {
        CacheBuilder {
            config: Config::new(name.into()),
            options: B::Options::default(),
        }
    }

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

    #[inline]
    pub(crate) fn scope(&self) -> Result<ScopeRef<'_, K, V, B>, CacheError> {
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
    /// [`scope`](Self::scope): the global scope is passed by plain reference, so no [`ScopeRef`]
    /// (with its `Arc` to drop) is built and the global hit compiles to a straight line.
    #[inline(always)]
    pub(crate) fn with_scope<R>(
        &self,
        f: impl FnOnce(&Scope<K, V, B>) -> Result<R, CacheError>,
    ) -> Result<R, CacheError> {
        let ns = context::namespace();
        if ns.is_global() && !self.inner.config.sandbox_required {
            return f(&self.inner.global);
        }
        self.with_other_scope(f)
    }

    /// [`with_scope`](Self::with_scope) in a sandbox (or in a strict cache outside one); out of
    /// line, so that `f` is inlined into the global path only. A sandbox's scope is borrowed
    /// from this thread's [`recent_scopes`] when it is there, which takes no lock and no `Arc`.
    #[inline(never)]
    fn with_other_scope<R>(
        &self,
        f: impl FnOnce(&Scope<K, V, B>) -> Result<R, CacheError>,
    ) -> Result<R, CacheError> {
        let ns = context::namespace();
        let f = match recent_scopes::with(self.inner.id, ns, f) {
            Ok(done) => return done,
            Err(f) => f,
        };
        f(&*self.scope()?)
    }

    /// The scope of a sandbox namespace, made on first use; kept out of line so the global
    /// namespace's hit path stays small.
    #[cold]
    #[inline(never)]
    fn sandbox_scope(&self, ns: Namespace) -> Result<ScopeRef<'_, K, V, B>, CacheError> {
        if let Some(scope) = recent_scopes::get(self.inner.id, ns) {
            return Ok(ScopeRef::Sandbox(scope));
        }
        // Called with the map unlocked: remembering may drop another scope, and with it values
        // whose destructors could use this cache.
        let remember = |scope: Arc<Scope<K, V, B>>| {
            recent_scopes::remember(self.inner.id, ns, scope.clone());
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
    pub(crate) fn source(&self) -> telemetry::Source<'_> {
        telemetry::Source {
            cache: &self.inner.config.name,
            backend: B::KIND,
        }
    }

    pub(crate) fn backend_error(&self, scope: &Scope<K, V, B>, source: BackendError) -> CacheError {
        scope.counters.add(Count::Error);
        telemetry::error(self.source(), &source);
        CacheError::Backend {
            cache: self.inner.config.name.clone(),
            source,
        }
    }

    /// Counts a lookup's result; the error, if any, names this cache.
    ///
    /// Inlined, with every failure and every event out of line, so that a hit with no telemetry
    /// handler attached is the backend's answer, one counter bump and one flag load, and the
    /// large error type never travels through the hit path.
    #[inline]
    pub(crate) fn lookup_result(
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
        scope.counters.lookup(written.is_some());
        if telemetry::active() {
            self.emit_get(written);
        }
    }

    #[cold]
    #[inline(never)]
    fn emit_get(&self, written: Option<Timestamp>) {
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
    pub(crate) fn undecodable_is_miss(
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

    /// The value under `key`, if there is a live one.
    #[inline]
    pub fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<V>, CacheError> {
        self.with_scope(|scope| {
            let found = self.lookup_result(scope, scope.backend.get(key))?;
            Ok(found.map(|f| f.value))
        })
    }

    /// Stores `value` under `key` with the cache-wide TTL, replacing any previous value.
    pub fn insert(&self, key: K, value: V) -> Result<(), CacheError> {
        self.insert_inner(key, value, self.inner.config.ttl)
    }

    /// Stores `value` under `key`, expiring after `ttl` instead of the cache-wide TTL.
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> Result<(), CacheError> {
        self.insert_inner(key, value, Some(ttl))
    }

    fn insert_inner(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), CacheError> {
        let scope = self.scope()?;
        self.store(&scope, scope.backend.insert(key, value, ttl))
    }

    pub(crate) fn store(
        &self,
        scope: &Scope<K, V, B>,
        written: Result<(), BackendError>,
    ) -> Result<(), CacheError> {
        match written {
            Ok(()) => {
                scope.counters.insert();
                telemetry::insert(self.source());
                Ok(())
            }
            Err(e) => Err(self.backend_error(scope, e)),
        }
    }

    /// Removes `key`; whether a value was there.
    pub fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        self.removed(&scope, scope.backend.remove(key))
    }

    fn removed(
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

    /// Removes every entry of the current namespace.
    pub fn clear(&self) -> Result<(), CacheError> {
        let scope = self.scope()?;
        self.cleared(&scope, scope.backend.clear())
    }

    fn cleared(
        &self,
        scope: &Scope<K, V, B>,
        cleared: Result<(), BackendError>,
    ) -> Result<(), CacheError> {
        cleared.map_err(|e| self.backend_error(scope, e))?;
        telemetry::clear(self.source());
        Ok(())
    }

    /// Live entries in the current namespace (as the backend counts them).
    pub fn len(&self) -> u64 {
        self.stats().entries
    }

    /// Whether the current namespace holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Activity and contents of the current namespace. If the namespace's backend view cannot be
    /// opened the counters are all zero.
    pub fn stats(&self) -> Stats {
        match self.scope() {
            Ok(scope) => scope.counters.snapshot(scope.backend.stats()),
            Err(_) => Stats::default(),
        }
    }

    /// The value under `key`, or the result of `init` stored under it. Concurrent callers for one
    /// key run `init` once; the others wait for its value.
    ///
    /// If storing the loaded value fails, the value is still returned (the failure is counted in
    /// [`Stats::errors`]); only a failed lookup before loading is an `Err`.
    pub fn get_or_insert_with(&self, key: K, init: impl FnOnce() -> V) -> Result<V, CacheError> {
        if let Some(v) = self.get(&key)? {
            return Ok(v);
        }
        let scope = self.scope()?;
        self.load::<Whole, V, _>(&scope, key, init)
            .map_err(|u| u.error)
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) for a fallible loader: an `Err` is
    /// returned to this caller and nothing is cached, so the next call tries again.
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        init: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, LoadError<E>> {
        if let Some(v) = self.get(&key)? {
            return Ok(v);
        }
        let scope = self.scope()?;
        match self.load::<OkOnly, Result<V, E>, _>(&scope, key, init) {
            Ok(r) => r.map_err(LoadError::Load),
            Err(u) => Err(LoadError::Cache(u.error)),
        }
    }

    /// Async form of [`get`](Self::get).
    pub async fn get_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<Option<V>, CacheError> {
        let scope = self.scope()?;
        let found = scope.backend.get_async(key).await;
        Ok(self.lookup_result(&scope, found)?.map(|f| f.value))
    }

    /// Async form of [`insert`](Self::insert).
    pub async fn insert_async(&self, key: K, value: V) -> Result<(), CacheError> {
        let scope = self.scope()?;
        let written = scope
            .backend
            .insert_async(key, value, self.inner.config.ttl)
            .await;
        self.store(&scope, written)
    }

    /// Async form of [`insert_with_ttl`](Self::insert_with_ttl).
    pub async fn insert_with_ttl_async(
        &self,
        key: K,
        value: V,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let scope = self.scope()?;
        let written = scope.backend.insert_async(key, value, Some(ttl)).await;
        self.store(&scope, written)
    }

    /// Async form of [`remove`](Self::remove).
    pub async fn remove_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> Result<bool, CacheError> {
        let scope = self.scope()?;
        let removed = scope.backend.remove_async(key).await;
        self.removed(&scope, removed)
    }

    /// Async form of [`clear`](Self::clear).
    pub async fn clear_async(&self) -> Result<(), CacheError> {
        let scope = self.scope()?;
        let cleared = scope.backend.clear_async().await;
        self.cleared(&scope, cleared)
    }

    /// Async form of [`get_or_insert_with`](Self::get_or_insert_with): concurrent tasks missing one
    /// key await a single `init`.
    pub async fn get_or_insert_with_async(
        &self,
        key: K,
        init: impl Future<Output = V>,
    ) -> Result<V, CacheError> {
        if let Some(v) = self.get_async(&key).await? {
            return Ok(v);
        }
        let scope = self.scope()?;
        self.load_async::<Whole, V, _>(&scope, key, init)
            .await
            .map_err(|u| u.error)
    }

    /// Async form of [`try_get_or_insert_with`](Self::try_get_or_insert_with).
    pub async fn try_get_or_insert_with_async<E>(
        &self,
        key: K,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, LoadError<E>> {
        if let Some(v) = self.get_async(&key).await? {
            return Ok(v);
        }
        let scope = self.scope()?;
        match self
            .load_async::<OkOnly, Result<V, E>, _>(&scope, key, init)
            .await
        {
            Ok(r) => r.map_err(LoadError::Load),
            Err(u) => Err(LoadError::Cache(u.error)),
        }
    }
}

impl<K, V, B> Registered for Inner<K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V>,
{
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
        scope.backend.clear().map_err(|source| CacheError::Backend {
            cache: self.config.name.clone(),
            source,
        })
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
