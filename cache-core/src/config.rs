//! The options of one cache, shared by the cache and its backend, and the [`RemovalCause`] its
//! eviction listener hears.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Why an entry left a backend, as reported to an eviction listener and in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// Evicted to respect the capacity.
    Size,
    /// Its TTL or TTI passed (heard from the in-memory backend at the first operation after
    /// the deadline).
    Expired,
    /// Removed by `remove`, `clear` or invalidation.
    Explicit,
    /// Overwritten by a newer value for the same key.
    Replaced,
}

impl RemovalCause {
    /// The cause as a lowercase word (`"size"`, `"expired"`, `"explicit"`, `"replaced"`), as used
    /// in metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Size => "size",
            Self::Expired => "expired",
            Self::Explicit => "explicit",
            Self::Replaced => "replaced",
        }
    }
}

/// Computes an entry's weight for a weight-bounded cache.
pub type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u64 + Send + Sync>;

/// Called by a backend when an entry leaves it, with the cause. It runs on the thread that caused
/// the removal, possibly while the backend holds an internal lock: keep it short and never call
/// back into the same cache from it. In memory, an expiry is heard at the first operation on the
/// cache after the deadline, whichever key it touches, and a read may be that operation.
pub type EvictionListener<K, V> = Arc<dyn Fn(&K, &V, RemovalCause) + Send + Sync>;

/// The cache-wide options, validated by [`CacheBuilder::build`](crate::CacheBuilder::build) and
/// handed to [`Backend::open`](crate::Backend::open).
pub struct Config<K, V> {
    pub(crate) name: Arc<str>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) tti: Option<Duration>,
    pub(crate) capacity: Option<u64>,
    pub(crate) refresh: Option<Duration>,
    pub(crate) fallback: Option<Duration>,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) listener: Option<EvictionListener<K, V>>,
    pub(crate) sandbox_required: bool,
    pub(crate) version: u32,
    /// With single flight across processes, the lease period.
    pub(crate) flight_lease: Option<Duration>,
}

impl<K, V> Config<K, V> {
    pub(crate) fn new(name: Arc<str>) -> Self {
        Self {
            name,
            ttl: None,
            tti: None,
            capacity: None,
            refresh: None,
            fallback: None,
            weigher: None,
            listener: None,
            sandbox_required: false,
            version: 0,
            flight_lease: None,
        }
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Time to live of every entry, counted from its write.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }

    /// Time to idle: an entry not read for this long expires.
    pub fn tti(&self) -> Option<Duration> {
        self.tti
    }

    /// The bound on entries, or on total weight when there is a weigher.
    pub fn capacity(&self) -> Option<u64> {
        self.capacity
    }

    /// Age after which a hit starts a background reload (stale-while-revalidate).
    pub fn refresh(&self) -> Option<Duration> {
        self.refresh
    }

    /// How long past its TTL a loaded value is kept to answer a failed reload with; see
    /// [`CacheBuilder::fallback`](crate::CacheBuilder::fallback).
    pub fn fallback(&self) -> Option<Duration> {
        self.fallback
    }

    /// The weigher, if the cache is bounded by weight.
    pub fn weigher(&self) -> Option<&Weigher<K, V>> {
        self.weigher.as_ref()
    }

    /// The eviction listener, if any; a backend calls it for every entry that leaves.
    pub fn eviction_listener(&self) -> Option<&EvictionListener<K, V>> {
        self.listener.as_ref()
    }

    /// Whether using the cache outside a [sandbox](mod@crate::sandbox) panics; see
    /// [`CacheBuilder::require_sandbox`](crate::CacheBuilder::require_sandbox).
    pub fn sandbox_required(&self) -> bool {
        self.sandbox_required
    }

    /// The schema version of the cached values; see
    /// [`CacheBuilder::version`](crate::CacheBuilder::version). A backend that stores bytes
    /// writes it beside each value and treats a value of another version as a miss.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// With single flight across processes, its lease period; see
    /// [`CacheBuilder::distributed_flight`](crate::CacheBuilder::distributed_flight).
    pub fn distributed_flight(&self) -> Option<Duration> {
        self.flight_lease
    }
}

impl<K, V> Clone for Config<K, V> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            ttl: self.ttl,
            tti: self.tti,
            capacity: self.capacity,
            refresh: self.refresh,
            fallback: self.fallback,
            weigher: self.weigher.clone(),
            listener: self.listener.clone(),
            sandbox_required: self.sandbox_required,
            version: self.version,
            flight_lease: self.flight_lease,
        }
    }
}

impl<K, V> fmt::Debug for Config<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .field("tti", &self.tti)
            .field("capacity", &self.capacity)
            .field("refresh", &self.refresh)
            .field("fallback", &self.fallback)
            .field("weigher", &self.weigher.is_some())
            .field("eviction_listener", &self.listener.is_some())
            .field("sandbox_required", &self.sandbox_required)
            .field("version", &self.version)
            .field("flight_lease", &self.flight_lease)
            .finish()
    }
}
