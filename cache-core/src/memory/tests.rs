//! Behaviour of the in-memory backend that the model test does not pin down: the listener's
//! causes, weights, the shard layout and counters at the edges of their range.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{MemoryBackend, shard_count};
use crate::backend::{Backend, RemovalCause};
use crate::clock::ManualClock;
use crate::{Cache, CacheBuilder};

type Heard = Arc<Mutex<Vec<(u64, u64, RemovalCause)>>>;

fn listening(builder: CacheBuilder<u64, u64>) -> (Cache<u64, u64>, Heard) {
    let heard: Heard = Arc::default();
    let sink = heard.clone();
    let cache = builder
        .eviction_listener(move |&k, &v, cause| sink.lock().unwrap().push((k, v, cause)))
        .build()
        .unwrap();
    (cache, heard)
}

#[test]
fn plain_writes_still_expire_entries_with_their_own_ttl() {
    // Without a cache-wide TTL a write reads the clock only if its shard holds an entry with
    // its own TTL; that entry, once expired, must then go as expired, not evicted for size.
    let clock = ManualClock::new();
    let _guard = clock.install();
    let (cache, heard) = listening(Cache::builder("timed-in-untimed").capacity(2));
    cache
        .insert_with_ttl(1, 10, Duration::from_secs(1))
        .unwrap();
    cache.insert(2, 20).unwrap();
    clock.advance(Duration::from_secs(1));
    cache.insert(3, 30).unwrap();
    assert_eq!(heard.lock().unwrap()[..], [(1, 10, RemovalCause::Expired)]);
    assert_eq!(
        (cache.get(&2).unwrap(), cache.get(&3).unwrap()),
        (Some(20), Some(30))
    );
}

#[test]
fn the_listener_hears_every_cause() {
    let clock = ManualClock::new();
    let _guard = clock.install();
    let (cache, heard) = listening(Cache::builder("causes").capacity(2));
    cache.insert(1, 10).unwrap();
    cache.insert(1, 11).unwrap();
    cache.insert(2, 20).unwrap();
    cache.insert(3, 30).unwrap(); // over capacity: one of 1 and 2 goes
    assert!(cache.remove(&3).unwrap());
    cache
        .insert_with_ttl(4, 40, Duration::from_secs(1))
        .unwrap();
    clock.advance(Duration::from_secs(1));
    assert_eq!(cache.get(&4).unwrap(), None);
    assert!(!cache.remove(&4).unwrap(), "an expired entry is not there");
    cache.insert(5, 50).unwrap();
    cache.clear().unwrap();
    let heard = heard.lock().unwrap();
    let causes: Vec<RemovalCause> = heard.iter().map(|h| h.2).collect();
    use RemovalCause::*;
    assert_eq!(causes[..3], [Replaced, Size, Explicit]);
    assert_eq!(
        heard[0],
        (1, 10, Replaced),
        "the listener gets the old value"
    );
    assert_eq!(heard[3], (4, 40, Expired));
    assert_eq!(
        causes[4..],
        [Explicit, Explicit],
        "clear reports what it drops"
    );
    let stats = cache.stats();
    assert_eq!((stats.replaced, stats.evicted, stats.expired), (1, 1, 1));
}

#[test]
fn writes_sweep_expired_entries_without_reads() {
    let clock = ManualClock::new();
    let _guard = clock.install();
    // One shard (see `shard_count`), so the writes below all sweep the same slab.
    let (cache, heard) = listening(
        Cache::builder("sweep")
            .ttl(Duration::from_secs(5))
            .capacity(1_000),
    );
    for k in 0..100 {
        cache.insert(k, k).unwrap();
    }
    clock.advance(Duration::from_secs(5));
    // Unrelated writes alone clear the expired entries, a few per write.
    for k in 100..200 {
        cache.insert(k, k).unwrap();
    }
    let stats = cache.stats();
    assert_eq!(stats.expired, 100);
    assert_eq!(stats.entries, 100);
    assert!(
        heard
            .lock()
            .unwrap()
            .iter()
            .all(|h| h.2 == RemovalCause::Expired)
    );
}

#[test]
fn time_to_idle_is_renewed_by_reads() {
    let clock = ManualClock::new();
    let _guard = clock.install();
    let cache: Cache<u64, u64> = Cache::builder("tti")
        .tti(Duration::from_secs(10))
        .build()
        .unwrap();
    cache.insert(1, 1).unwrap();
    cache.insert(2, 2).unwrap();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(6));
        assert_eq!(cache.get(&1).unwrap(), Some(1));
    }
    assert_eq!(cache.get(&2).unwrap(), None, "idle for 18s");
}

#[test]
fn a_weigher_bounds_total_weight() {
    let cache: Cache<u64, Vec<u8>> = Cache::builder("weights")
        .capacity(100)
        .weigher(|_, v: &Vec<u8>| v.len() as u64)
        .build()
        .unwrap();
    for k in 0..50 {
        cache.insert(k, vec![0; 7]).unwrap();
    }
    let stats = cache.stats();
    assert!(stats.weight <= 100 && stats.weight == stats.entries * 7);
    cache.insert(99, vec![0; 101]).unwrap();
    assert_eq!(
        cache.get(&99).unwrap(),
        None,
        "heavier than the whole cache"
    );
    // Growing a value in place still respects the bound.
    cache.insert(1000, vec![0; 90]).unwrap();
    assert!(cache.stats().weight <= 100);
}

#[test]
fn shards_keep_a_useful_share_of_the_capacity() {
    let config = |cap| {
        Cache::<u64, u64>::builder("shards")
            .capacity(cap)
            .build()
            .unwrap()
            .config()
            .clone()
    };
    assert_eq!(shard_count(&config(250)), 1);
    assert_eq!(shard_count(&config(1_500)), 2);
    let many = shard_count(&config(1 << 30));
    assert!(many.is_power_of_two() && many <= super::MAX_SHARDS);
}

#[test]
fn counters_check_their_range() {
    let cache: Cache<String, i64> = Cache::builder("counters").build().unwrap();
    let backend = cache.backend().unwrap();
    assert_eq!(
        backend.decr("a", i64::MIN).unwrap_err().kind(),
        crate::BackendErrorKind::Other
    );
    assert_eq!(backend.get("a").unwrap().map(|f| f.value), Some(i64::MAX));
    assert_eq!(backend.incr("b", i64::MIN).unwrap(), i64::MIN);
    let err = backend.decr("b", 1).unwrap_err();
    assert!(
        err.to_string().contains("would leave the range of i64"),
        "{err}"
    );
    assert_eq!(
        backend.incr("b", 0).unwrap(),
        i64::MIN,
        "unchanged by the failed decr"
    );
}

#[test]
fn scoped_views_are_disjoint() {
    let cache: Cache<u64, u64> = Cache::builder("scoped").build().unwrap();
    let global = cache.backend().unwrap();
    let other = MemoryBackend::scoped(&*global, crate::Namespace(7)).unwrap();
    global.insert(1, 1, None).unwrap();
    assert!(other.get(&1).unwrap().is_none());
    other.clear().unwrap();
    assert!(global.get(&1).unwrap().is_some());
}

/// The hit ratio of read-through over the second half of `cycles` passes of keys `0..keys`
/// in a cache of `capacity` (the first half settles the cache).
fn loop_hit_ratio(capacity: u64, keys: u64, cycles: u64) -> f64 {
    let cache: Cache<u64, u64> = Cache::builder("loop").capacity(capacity).build().unwrap();
    let mut hits = 0_u32;
    for cycle in 0..cycles {
        for key in 0..keys {
            if cache.get(&key).unwrap().is_some() {
                hits += u32::from(cycle >= cycles / 2);
            } else {
                cache.insert(key, key).unwrap();
            }
        }
    }
    f64::from(hits) / ((cycles - cycles / 2) * keys) as f64
}

#[test]
fn a_loop_over_more_keys_than_fit_keeps_hitting() {
    // Read-through over a cycle longer than the capacity: FIFO or LRU evict every key just
    // before it comes back and never hit. This backend keeps a stable part of the cycle
    // resident. Each cache has its own hasher seed, and the policy's outcome once depended on
    // it (one seed in 30 lost every hit at 1.5x), so several caches run per loop length. Over
    // 300 seeds, the worst settled ratio measured was 0.65 at 1.2x, 0.58 at 1.5x and 0.43 at
    // 2x (the optimum: 0.83, 0.67, 0.50), and 0.61 at 1.5x over 8 shards (40 seeds).
    for (capacity, keys) in [(500, 600), (500, 750), (500, 1_000), (5_000, 7_500)] {
        for _ in 0..6 {
            let ratio = loop_hit_ratio(capacity, keys, 30);
            assert!(
                ratio > 0.3,
                "hit ratio {ratio:.3} on a loop of {keys} keys through a cache of {capacity}"
            );
        }
    }
}
