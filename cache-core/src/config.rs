//! The options of one cache, shared by the cache and its backend.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Computes an entry's weight for a weight-bounded cache.
pub type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u64 + Send + Sync>;

/// The cache-wide options, validated by [`CacheBuilder::build`](crate::CacheBuilder::build) and
/// handed to [`Backend::open`](crate::Backend::open).
pub struct Config<K, V> {
    pub(crate) name: Arc<str>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) tti: Option<Duration>,
    pub(crate) capacity: Option<u64>,
    pub(crate) weigher: Option<Weigher<K, V>>,
}

impl<K, V> Config<K, V> {
    pub(crate) fn new(name: Arc<str>) -> Self {
        Self {
            name,
            ttl: None,
            tti: None,
            capacity: None,
            weigher: None,
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

    /// The weigher, if the cache is bounded by weight.
    pub fn weigher(&self) -> Option<&Weigher<K, V>> {
        self.weigher.as_ref()
    }
}

impl<K, V> Clone for Config<K, V> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            ttl: self.ttl,
            tti: self.tti,
            capacity: self.capacity,
            weigher: self.weigher.clone(),
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
            .field("weigher", &self.weigher.is_some())
            .finish()
    }
}
