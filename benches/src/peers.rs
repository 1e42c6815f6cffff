//! The caches under test behind one small trait, so every bench drives memokit and its peers
//! through identical loops.

use std::sync::Mutex;

use cached::Cached;
use memokit::Backend;
use memokit::Cache;

/// A concurrent `u64 -> u64` cache as the benches use it.
pub trait Peer: Send + Sync {
    /// The value under `key`, if cached.
    fn get(&self, key: u64) -> Option<u64>;
    /// Stores `value` under `key`.
    fn insert(&self, key: u64, value: u64);
    /// Finishes deferred work after a bulk fill (moka applies writes in batches), so the
    /// measured loop does not pay for the fill.
    fn settle(&self) {}

    /// The sum of the values found for `keys`, looked up back to back: the loop a caller writes
    /// over many keys, where each lookup's cache misses can overlap the next one's unless the
    /// read path serialises memory operations. The tight-loop benches call this and the
    /// two below rather than [`get`](Self::get) per key: a provided method is compiled for each
    /// peer with its own `get` inlined, so a loop pays one dynamic call, not one per key.
    fn sum(&self, keys: &[u64]) -> u64 {
        keys.iter().map(|&k| self.get(k).unwrap_or(0)).sum()
    }

    /// Back to back over `keys`: every tenth key inserted, the others looked up; how many
    /// lookups hit.
    fn mixed(&self, keys: &[u64]) -> usize {
        let mut hits = 0;
        for (i, &k) in keys.iter().enumerate() {
            if i % 10 == 0 {
                self.insert(k, k);
            } else {
                hits += usize::from(self.get(k).is_some());
            }
        }
        hits
    }

    /// Inserts the keys `start..start + n` back to back, each its own value.
    fn insert_from(&self, start: u64, n: u64) {
        for k in start..start + n {
            self.insert(k, k);
        }
    }
}

/// memokit through its public handle (counts hits and misses, like every user sees it).
pub struct Memokit(pub Cache<u64, u64>);

/// memokit's in-memory backend alone, to show what the handle's bookkeeping costs.
pub struct MemokitBackend(pub memokit::MemoryBackend<u64, u64>);

/// `moka::sync::Cache`.
pub struct Moka(pub moka::sync::Cache<u64, u64>);

/// `quick_cache::sync::Cache`.
pub struct QuickCache(pub quick_cache::sync::Cache<u64, u64>);

/// `cached`'s sized (LRU) store behind a mutex, which is what its `#[cached(max_size)]` does.
pub struct CachedLru(pub Mutex<cached::stores::LruCache<u64, u64>>);

/// `cached`'s concurrent sharded LRU store (what `#[concurrent_cached(max_size)]` uses).
pub struct CachedSharded(pub cached::stores::ShardedLruCache<u64, u64>);

impl Peer for Memokit {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key).ok().flatten()
    }
    fn insert(&self, key: u64, value: u64) {
        let _ = self.0.insert(key, value);
    }
}

impl Peer for MemokitBackend {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key).ok().flatten().map(|f| f.value)
    }
    fn insert(&self, key: u64, value: u64) {
        let _ = self.0.insert(key, value, None);
    }
}

impl Peer for Moka {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn settle(&self) {
        self.0.run_pending_tasks();
    }
}

impl Peer for QuickCache {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
}

impl Peer for CachedLru {
    fn get(&self, key: u64) -> Option<u64> {
        let mut store = self.0.lock().unwrap_or_else(|e| e.into_inner());
        store.cache_get(&key).copied()
    }
    fn insert(&self, key: u64, value: u64) {
        let mut store = self.0.lock().unwrap_or_else(|e| e.into_inner());
        store.cache_set(key, value);
    }
}

impl Peer for CachedSharded {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.set(key, value);
    }
}

/// Every concurrent peer, named, each bounded to `capacity` entries.
pub fn all(capacity: u64) -> Vec<(&'static str, Box<dyn Peer>)> {
    let backend_cache: Cache<u64, u64> = Cache::builder("bench-backend")
        .capacity(capacity)
        .build()
        .expect("a positive capacity is valid");
    let backend = memokit::MemoryBackend::open(backend_cache.config(), &())
        .expect("the in-memory backend always opens");
    vec![
        (
            "memokit",
            Box::new(Memokit(
                Cache::builder("bench")
                    .capacity(capacity)
                    .build()
                    .expect("a positive capacity is valid"),
            )) as Box<dyn Peer>,
        ),
        (
            // A cache-wide TTL too long to pass during a bench: what expiry costs a hit.
            "memokit-ttl",
            Box::new(Memokit(
                Cache::builder("bench-ttl")
                    .capacity(capacity)
                    .ttl(std::time::Duration::from_secs(3_600))
                    .build()
                    .expect("a positive capacity and TTL are valid"),
            )),
        ),
        ("memokit-backend", Box::new(MemokitBackend(backend))),
        ("moka", Box::new(Moka(moka::sync::Cache::new(capacity)))),
        (
            // The same TTL on moka, for what expiry costs there.
            "moka-ttl",
            Box::new(Moka(
                moka::sync::Cache::builder()
                    .max_capacity(capacity)
                    .time_to_live(std::time::Duration::from_secs(3_600))
                    .build(),
            )),
        ),
        (
            "quick_cache",
            Box::new(QuickCache(quick_cache::sync::Cache::new(capacity as usize))),
        ),
        (
            "cached-lru",
            Box::new(CachedLru(Mutex::new(cached::stores::LruCache::new(
                capacity as usize,
            )))),
        ),
        (
            "cached-sharded",
            Box::new(CachedSharded(cached::stores::ShardedLruCache::new(
                capacity as usize,
            ))),
        ),
    ]
}
