//! [`CacheBuilder`]: a cache's options, validated when it is built.

use std::sync::{Arc, Weak};
use std::time::Duration;

use hashbrown::HashMap;
use parking_lot::{Mutex, RwLock};

use super::handle::{Cache, Inner, Scope};
use super::thread_scopes;
use super::warmer::Warming;
use super::warmer::{IntoWarmer, WarmerFn};
use crate::backend::{Backend, RemovalCause};
use crate::bounds::{CacheKey, CacheValue};
use crate::config::{Config, EvictionListener, Weigher};
use crate::error::CacheError;
use crate::memory::MemoryBackend;
use crate::registry::{self, Registered};
use crate::stats::Stats;
use crate::telemetry;

/// Builds a [`Cache`]; from [`Cache::builder`].
pub struct CacheBuilder<K, V, B: Backend<K, V> = MemoryBackend<K, V>> {
    config: Config<K, V>,
    options: B::Options,
    warmer: Option<Warmer<K, V, B>>,
    warm_wait: Option<Duration>,
}

/// A warmer, its interval, and what starts its runs once the cache is built. The start is a
/// function pointer taken where a warmer is given ([`CacheBuilder::warmer`]), so the background
/// runner (a thread or a task, its loop, its reports) is compiled only into programs that give
/// a cache a warmer: for a memoized function, whose cache never has one, it was an eighth of
/// the code instantiated per key and value type (`cargo llvm-lines`, 44.6k -> 39.0k lines).
struct Warmer<K, V, B> {
    warmer: WarmerFn<K, V>,
    every: Duration,
    start: StartWarming<K, V, B>,
}

/// Starts a built cache's warmer, waiting for its first run for the given time at most.
type StartWarming<K, V, B> = fn(&Cache<K, V, B>, Option<Duration>) -> Result<(), CacheError>;

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

    /// Falls back on error (`cached`'s `result_fallback`): each value a load stores is also kept
    /// for `age` past the `ttl`, and a later load of its key that fails (an `Err` the policy
    /// does not cache) answers with the kept value instead of the error. The load counts as a
    /// failure and a [fallback](crate::Stats::fallbacks), and its event's outcome is
    /// [`FellBack`](crate::telemetry::LoadOutcome::FellBack). Needs a `ttl`.
    ///
    /// The kept values live in a memory cache of their own in this process, named
    /// `<name>.fallback` and listed by [`caches`](crate::caches) beside this one, with the same
    /// capacity and sandboxes: every promise of this cache (its TTL, its capacity, its count of
    /// live entries) holds as it would without a fallback, on every backend. The price is a
    /// second copy of each loaded value, and of its key.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Cache;
    ///
    /// let sb = memokit_core::sandbox();
    /// let prices: Cache<&str, u32> = Cache::builder("fallback-doc")
    ///     .ttl(Duration::from_secs(60))
    ///     .fallback(Duration::from_secs(3600))
    ///     .build()?;
    /// let fetch = |ok: bool| move || if ok { Ok(42) } else { Err("upstream down") };
    /// assert_eq!(prices.try_get_or_insert_with("gold", fetch(true)).unwrap(), 42);
    /// sb.advance(Duration::from_secs(61)); // the entry expired; the kept copy has not
    /// assert_eq!(prices.get(&"gold")?, None);
    /// assert_eq!(prices.try_get_or_insert_with("gold", fetch(false)).unwrap(), 42);
    /// assert_eq!(prices.stats().fallbacks, 1);
    /// sb.advance(Duration::from_secs(3600)); // past the fallback age too
    /// assert!(prices.try_get_or_insert_with("gold", fetch(false)).is_err());
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn fallback(mut self, age: Duration) -> Self {
        self.config.fallback = Some(age);
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

    /// The schema version of the values. A backend that stores bytes (Redis) writes it beside
    /// each value, with the identity of the key and value types, and reads a value written under
    /// another version as a miss that the next load overwrites. Bump it when the value type keeps
    /// its name but its serialized form changes (a field added, a meaning changed), so that
    /// values written by the previous deploy are not decoded as the new type. Defaults to 0.
    pub fn version(mut self, version: u32) -> Self {
        self.config.version = version;
        self
    }

    /// A proactive warmer (Cachex's `Cachex.Warmer`): `warmer` returns a batch of entries, stored
    /// with [`insert_many`](Cache::insert_many) when the cache is built, then `every` after each
    /// run, and whenever [`Cache::warm`] asks. A sync warmer (`Fn() -> Result<I, E>`, see
    /// [`Warmer`](crate::Warmer)) runs on a thread of its own named `memokit-warm:<name>`; an
    /// async one ([`AsyncWarmer`](crate::AsyncWarmer), feature `tokio`) on the Tokio runtime
    /// current when the cache is built. A failed or panicking run keeps the values already
    /// there, counts in [`Stats::warm_failures`](crate::Stats) and emits an `error` event; runs
    /// never overlap; the runs stop when the cache is dropped. Timing, namespaces and threads
    /// are explained in the `warm_schedule` module docs: in short, the warmer writes into the
    /// namespace current at build time and its interval follows memokit's clock there, so a
    /// test advances its sandbox's clock instead of sleeping.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Cache;
    ///
    /// let rates: Cache<String, f64> = Cache::builder("warmer-doc")
    ///     .warmer(
    ///         || Ok::<_, std::io::Error>([("usd".to_string(), 1.08), ("gbp".to_string(), 0.86)]),
    ///         Duration::from_secs(300),
    ///     )
    ///     .warm_wait(Duration::from_secs(5)) // `build` returns once the first run is stored
    ///     .build()?;
    /// assert_eq!(rates.get("gbp")?, Some(0.86));
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn warmer<M>(mut self, warmer: impl IntoWarmer<K, V, M>, every: Duration) -> Self
    where
        K: CacheKey,
        V: CacheValue,
    {
        self.warmer = Some(Warmer {
            warmer: warmer.into_warmer(),
            every,
            start: Cache::start_warming,
        });
        self
    }

    /// Makes [`build`](Self::build) (for a cache module, its first use) wait until the warmer's
    /// first run has finished, for `deadline` at most; without it, the first run happens in the
    /// background and the first calls may miss. With an async warmer the wait blocks the thread,
    /// so the runtime needs another worker thread to run the warmer on (a current-thread runtime
    /// waits out the whole deadline).
    pub fn warm_wait(mut self, deadline: Duration) -> Self {
        self.warm_wait = Some(deadline);
        self
    }

    /// Single flight across processes: concurrent misses on one key in *every* process sharing
    /// the store run the loader about once, not once per process. Off by default; needs a
    /// backend with [leases](crate::backend::lease) (Redis), or [`build`](Self::build) fails
    /// with a [`CacheError::Config`] naming `flight`. `#[cached(flight = "distributed")]` and
    /// the cache modules' `#[cache(flight = "distributed")]` set it, with `flight_lease`.
    ///
    /// On a miss, after this process's own single flight has chosen its leader, that leader
    /// takes the key's lease in the store (`SET NX PX lease`) and runs the loader while a
    /// renewal every `lease / 3` keeps the lease, then stores the value and releases the lease,
    /// which wakes the other processes' leaders; they read the value instead of loading it.
    /// Lease keys live beside the cache's keys, in the same namespace (a test sandbox has its
    /// own).
    ///
    /// The guarantee is **at most one loader per lease period, not exactly once**:
    ///
    /// * a holder that dies (`SIGKILL`) stops renewing, and another process takes over when the
    ///   lease runs out, within `lease`;
    /// * a waiter waits at most `lease` plus one backend timeout, then runs the loader itself:
    ///   a loader that outlasts the lease can run twice; choose a lease longer than a slow load;
    /// * when the store is unreachable, or a holder loses its lease (a pause longer than the
    ///   lease), callers fail open and run the loader: the flight never turns an outage into a
    ///   stall;
    /// * forced reloads ([`Cache::refresh_with`]), background refreshes, batches and
    ///   `sync = false` functions keep to the flight of their own process.
    ///
    /// A cold key costs the leader two more round trips (take and release) and each waiting
    /// process a subscription; a hit costs nothing more. A sync loader's lease is renewed from a
    /// thread (`memokit-lease`) that lives only while that loader runs; an async loader's by a
    /// future polled beside it, with no task spawned.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::{Cache, CacheError};
    ///
    /// // The memory backend is one process's own: there is nothing to share a flight with.
    /// let err = Cache::<u8, u8>::builder("local")
    ///     .distributed_flight(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, CacheError::Config { setting: "flight", .. }));
    /// ```
    pub fn distributed_flight(mut self, lease: Duration) -> Self {
        self.config.flight_lease = Some(lease);
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
        K: CacheKey,
        V: CacheValue,
    {
        let config = self.config;
        let name = &config.name;
        Settings {
            ttl: config.ttl,
            tti: config.tti,
            refresh: config.refresh,
            fallback: config.fallback,
            flight_lease: config.flight_lease,
            capacity: config.capacity,
            weighed: config.weigher.is_some(),
            warm_every: self.warmer.as_ref().map(|w| w.every),
            warm_wait: self.warm_wait.is_some(),
        }
        .check(name)?;
        let kept = match (config.fallback, config.ttl) {
            (Some(age), Some(ttl)) => Some(Box::new(kept_values(&config, ttl + age)?) as Box<_>),
            _ => None,
        };
        let observed = telemetry::observed(&config, B::KIND);
        let backend =
            B::open(&observed, &self.options).map_err(|source| match source.setting() {
                Some(setting) => CacheError::config(name, setting, source.message()),
                None => CacheError::Backend {
                    cache: name.clone(),
                    source,
                },
            })?;
        if config.flight_lease.is_some() {
            check_leases(name, &backend)?;
        }
        let (warming, start) = match self.warmer {
            Some(Warmer {
                warmer,
                every,
                start,
            }) => (Some(Warming::new(warmer, every)), Some(start)),
            None => (None, None),
        };
        let inner = Arc::new(Inner {
            id: thread_scopes::next_cache_id(),
            global: Scope::new(backend),
            sandboxes: RwLock::new(HashMap::new()),
            retired: Mutex::new(Stats::default()),
            config,
            kept,
            warming,
        });
        let weak: Weak<dyn Registered> = Arc::downgrade(&inner) as Weak<Inner<K, V, B>>;
        registry::register(weak);
        let cache = Cache { inner };
        if let Some(start) = start {
            start(&cache, self.warm_wait)?;
        }
        Ok(cache)
    }
}

/// The options [`build`](CacheBuilder::build) checks that do not depend on the key, value and
/// backend types, checked out of its generic body so that the checks are compiled once, not for
/// every cache's types.
struct Settings {
    ttl: Option<Duration>,
    tti: Option<Duration>,
    refresh: Option<Duration>,
    fallback: Option<Duration>,
    flight_lease: Option<Duration>,
    capacity: Option<u64>,
    weighed: bool,
    warm_every: Option<Duration>,
    warm_wait: bool,
}

impl Settings {
    fn check(&self, name: &Arc<str>) -> Result<(), CacheError> {
        match self.warm_every {
            Some(every) if every.is_zero() => {
                return Err(CacheError::config(
                    name,
                    "warm_every",
                    "must be longer than zero",
                ));
            }
            None if self.warm_wait => {
                return Err(CacheError::config(
                    name,
                    "warm_wait",
                    "waits for the warmer's first run: give the cache a `warmer` too",
                ));
            }
            _ => {}
        }
        if name.is_empty() {
            return Err(CacheError::config(name, "name", "must not be empty"));
        }
        for (setting, value) in [
            ("ttl", self.ttl),
            ("tti", self.tti),
            ("refresh", self.refresh),
            ("fallback", self.fallback),
            ("flight_lease", self.flight_lease),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(CacheError::config(
                    name,
                    setting,
                    "must be longer than zero",
                ));
            }
        }
        if let (Some(refresh), Some(ttl)) = (self.refresh, self.ttl)
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
        if self.fallback.is_some() && self.ttl.is_none() {
            return Err(CacheError::config(
                name,
                "fallback",
                "keeps each value that long past its `ttl`: set a `ttl`",
            ));
        }
        if self.capacity == Some(0) {
            return Err(CacheError::config(name, "capacity", "must be at least 1"));
        }
        if self.weighed && self.capacity.is_none() {
            return Err(CacheError::config(
                name,
                "weigher",
                "a weigher needs a `capacity` to bound the total weight",
            ));
        }
        Ok(())
    }
}

/// A [`distributed_flight`](CacheBuilder::distributed_flight) needs leases from the backend, and
/// timers for its async waits.
fn check_leases<K, V, B: Backend<K, V>>(name: &Arc<str>, backend: &B) -> Result<(), CacheError> {
    if !B::LEASES || backend.leases().is_none() {
        return Err(CacheError::config(
            name,
            "flight",
            format_args!(
                "single flight across processes needs a backend the processes share, with leases (`backend = redis`); the {} backend has none",
                B::KIND
            ),
        ));
    }
    if cfg!(not(any(feature = "tokio", feature = "redis"))) {
        return Err(CacheError::config(
            name,
            "flight",
            "single flight across processes needs memokit's `tokio` or `redis` feature for its timers",
        ));
    }
    Ok(())
}

/// The memory cache that keeps a [`fallback`](CacheBuilder::fallback) cache's loaded values for
/// `keep` after each write: same capacity, weigher and sandbox rule, its own name.
fn kept_values<K: CacheKey, V: CacheValue>(
    config: &Config<K, V>,
    keep: Duration,
) -> Result<Cache<K, V>, CacheError> {
    let mut kept = Cache::builder(format!("{}.fallback", config.name))
        .ttl(keep)
        .require_sandbox(config.sandbox_required);
    kept.config.capacity = config.capacity;
    kept.config.weigher = config.weigher.clone();
    kept.build()
}

impl<K: CacheKey, V: CacheValue, B: Backend<K, V>> Cache<K, V, B> {
    /// Starts building a cache called `name`. Names identify caches in stats, events, errors and
    /// remote keys, so give each cache its own.
    pub fn builder(name: impl Into<Arc<str>>) -> CacheBuilder<K, V, B> {
        CacheBuilder {
            config: Config::new(name.into()),
            options: B::Options::default(),
            warmer: None,
            warm_wait: None,
        }
    }
}
