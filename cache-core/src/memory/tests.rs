//! Behaviour of the in-memory backend that the model test does not pin down: the listener's
//! causes, weights, the shard layout, counters at the edges of their range, and expiry checked
//! against the shards' invariants after every operation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{MemoryBackend, NEVER, shard_count};
use crate::backend::{Backend, Compute, RemovalCause, Ttl};
use crate::clock::ManualClock;
use crate::config::Config;
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
fn writes_drop_expired_entries_without_reads() {
    let clock = ManualClock::new();
    let _guard = clock.install();
    let (cache, heard) = listening(
        Cache::builder("sweep")
            .ttl(Duration::from_secs(5))
            .capacity(1_000),
    );
    for k in 0..100 {
        cache.insert(k, k).unwrap();
    }
    clock.advance(Duration::from_secs(5));
    // Unrelated writes alone clear the expired entries: the first of them, all at once.
    cache.insert(100, 100).unwrap();
    assert_eq!(heard.lock().unwrap().len(), 100);
    for k in 101..200 {
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

/// A backend opened directly, to reach its invariant checks, with a listener counting expiries.
fn timed_backend(
    ttl: Option<u64>,
    tti: Option<u64>,
    capacity: Option<u64>,
) -> (MemoryBackend<u64, u64>, Heard) {
    let heard: Heard = Arc::default();
    let sink = heard.clone();
    let mut config = Config::new("expiry-model".into());
    config.ttl = ttl.map(Duration::from_secs);
    config.tti = tti.map(Duration::from_secs);
    config.capacity = capacity;
    config.listener = Some(Arc::new(move |&k, &v, cause| {
        sink.lock().unwrap().push((k, v, cause));
    }));
    (MemoryBackend::open(&config, &()).unwrap(), heard)
}

#[test]
fn a_cache_without_expiry_never_schedules_a_deadline() {
    // So its hits never read the clock: `soonest` stays at NEVER.
    let (backend, _) = timed_backend(None, None, None);
    for k in 0..1_000 {
        backend.insert(k, k, None).unwrap();
        backend.get(&k).unwrap();
    }
    backend.backend_stats_and_validate();
    assert_eq!(backend.soonest.get(), NEVER);
    backend.insert(1, 1, Some(Duration::from_secs(1))).unwrap();
    assert_ne!(backend.soonest.get(), NEVER);
    assert!(backend.remove(&1).unwrap());
    // Raised again by the next operation that finds the deadline gone.
    let clock = ManualClock::new();
    let _guard = clock.install();
    clock.advance(Duration::from_secs(2));
    backend.get(&2).unwrap();
    assert_eq!(backend.soonest.get(), NEVER);
}

#[test]
fn a_get_that_finds_its_entry_expired_reports_it_at_once() {
    let clock = ManualClock::new();
    let _guard = clock.install();
    let (backend, heard) = timed_backend(None, None, None);
    backend.insert(7, 70, Some(Duration::from_secs(3))).unwrap();
    clock.advance(Duration::from_secs(3));
    assert!(backend.get(&7).unwrap().is_none());
    assert_eq!(heard.lock().unwrap()[..], [(7, 70, RemovalCause::Expired)]);
    backend.backend_stats_and_validate();
}

impl MemoryBackend<u64, u64> {
    /// `stats()` (which drops what has expired) and then the invariant checks.
    fn backend_stats_and_validate(&self) -> crate::BackendStats {
        let stats = self.stats();
        self.validate();
        stats
    }
}

/// What the model remembers of a key: its value, its expiry and its last read, in seconds.
#[derive(Clone, Copy)]
struct Modelled {
    expires: u64,
    read: u64,
}

/// Random operations (xorshift, `seed`) on a backend with `ttl`, `tti` and `capacity`, with the
/// invariants checked after each. Unbounded, the live count must equal a model's after every
/// operation, and the listener must have heard each expiry by then; bounded, the count can
/// only be lower (eviction).
fn random_operations(seed: u64, ttl: Option<u64>, tti: Option<u64>, capacity: Option<u64>) {
    let clock = ManualClock::new();
    let _guard = clock.install();
    let (backend, heard) = timed_backend(ttl, tti, capacity);
    let mut model: HashMap<u64, Modelled> = HashMap::new();
    let mut now = 0u64;
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let live = |m: &Modelled, now: u64| now < m.expires && tti.is_none_or(|t| now < m.read + t);
    for _ in 0..600 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = x % 40;
        let secs = (x >> 20) % 6 + 1;
        match (x >> 8) % 18 {
            0..=2 => {
                backend
                    .insert(key, key, ttl.map(Duration::from_secs))
                    .unwrap();
                let expires = ttl.map_or(NEVER, |t| now + t);
                model.insert(key, Modelled { expires, read: now });
            }
            3 | 4 => {
                let d = Duration::from_secs(secs);
                backend.insert(key, key, Some(d)).unwrap();
                model.insert(
                    key,
                    Modelled {
                        expires: now + secs,
                        read: now,
                    },
                );
            }
            5..=7 => {
                let got = backend.get(&key).unwrap().is_some();
                let want = model.get(&key).is_some_and(|m| live(m, now));
                assert!(got == want || (capacity.is_some() && !got), "get({key})");
                if let Some(m) = model.get_mut(&key).filter(|_| got) {
                    m.read = now;
                }
            }
            8 => {
                backend.remove(&key).unwrap();
                model.remove(&key);
            }
            9 => {
                clock.advance(Duration::from_secs(secs));
                now += secs;
            }
            10 => {
                backend.purge_expired();
            }
            12 => {
                backend
                    .compute(key, ttl.map(Duration::from_secs), |v| {
                        Compute::Put(v.map_or(key, |v| v + 1))
                    })
                    .unwrap();
                match model.get_mut(&key).filter(|m| live(m, now)) {
                    Some(m) => m.read = now,
                    None => {
                        let expires = ttl.map_or(NEVER, |t| now + t);
                        model.insert(key, Modelled { expires, read: now });
                    }
                }
            }
            13 | 14 => {
                let ttl = ((x >> 8) % 18 == 13).then(|| Duration::from_secs(secs));
                let was = Backend::expire(&backend, &key, ttl).unwrap();
                let m = model.get_mut(&key).filter(|m| live(m, now));
                assert!(
                    was == m.is_some() || (capacity.is_some() && !was),
                    "expire({key})"
                );
                if let Some(m) = m.filter(|_| was) {
                    m.expires = ttl.map_or(NEVER, |_| now + secs);
                }
            }
            15 => {
                let got = backend.take(&key).unwrap().is_some();
                let want = model.remove(&key).is_some_and(|m| live(&m, now));
                assert!(got == want || (capacity.is_some() && !got), "take({key})");
            }
            16 => {
                let keys = [key, key + 1];
                backend
                    .transaction(&keys, ttl.map(Duration::from_secs), |tx| {
                        tx.insert(&key, key);
                        tx.remove(&(key + 1));
                    })
                    .unwrap();
                let expires = ttl.map_or(NEVER, |t| now + t);
                model.insert(key, Modelled { expires, read: now });
                model.remove(&(key + 1));
            }
            17 => {
                let got = backend.ttl(&key).unwrap();
                let want = match model.get(&key).filter(|m| live(m, now)) {
                    None => Ttl::Missing,
                    Some(m) => match m.expires.min(tti.map_or(NEVER, |t| m.read + t)) {
                        NEVER => Ttl::Never,
                        at => Ttl::In(Duration::from_secs(at - now)),
                    },
                };
                assert!(
                    got == want || (capacity.is_some() && got == Ttl::Missing),
                    "ttl({key}): {got:?} against {want:?}"
                );
            }
            _ => {
                backend.incr(&key, 1).unwrap();
                match model.get_mut(&key).filter(|m| live(m, now)) {
                    Some(m) => m.read = now,
                    None => {
                        let expires = ttl.map_or(NEVER, |t| now + t);
                        model.insert(key, Modelled { expires, read: now });
                    }
                }
            }
        }
        model.retain(|_, m| live(m, now));
        let stats = backend.backend_stats_and_validate();
        let want = model.len() as u64;
        if capacity.is_none() {
            assert_eq!(stats.entries, want, "live entries at {now}s");
            assert_eq!(stats.weight, want);
            let expired = heard
                .lock()
                .unwrap()
                .iter()
                .filter(|h| h.2 == RemovalCause::Expired)
                .count() as u64;
            assert_eq!(expired, stats.expired, "expiries heard");
        } else {
            assert!(stats.entries <= want, "more entries than the model holds");
        }
    }
}

#[test]
fn random_operations_keep_the_deadlines_exact() {
    for seed in 0..12 {
        random_operations(seed, None, None, None);
        random_operations(seed, Some(4), None, None);
        random_operations(seed, None, Some(3), None);
        random_operations(seed, Some(9), Some(3), None);
        random_operations(seed, None, Some(3), Some(6));
        random_operations(seed, Some(5), None, Some(2_000));
    }
}

#[test]
fn a_shard_set_walks_its_members_in_order_and_ranks_them() {
    let set = super::ShardSet(1 << 0 | 1 << 5 | 1 << 63);
    assert_eq!(set.iter().collect::<Vec<_>>(), [0, 5, 63]);
    assert_eq!((set.rank(0), set.rank(5), set.rank(63)), (0, 1, 2));
    assert_eq!(super::ShardSet(0).iter().count(), 0);
}

#[test]
fn on_the_real_clock_a_hit_renews_an_idle_time_precisely() {
    // A hit renews an idle time with the precise clock (the coarse reads of a TTL are checked
    // in `tests/expiry.rs`): a coarse stamp, milliseconds early, would let the entry go before
    // `tti` had passed since that hit.
    let ttl = Duration::from_millis(30);
    let idle: Cache<u64, u64> = Cache::builder("real-clock-tti").tti(ttl).build().unwrap();
    idle.insert(0, 0).unwrap();
    for _ in 0..5 {
        let read = crate::clock::now();
        assert_eq!(idle.get(&0).unwrap(), Some(0));
        // `ttl` judges by the precise clock, so it cannot hide an early stamp.
        while idle.ttl(&0).unwrap() != Ttl::Missing {
            std::hint::spin_loop();
        }
        let gone = crate::clock::now().duration_since(read);
        assert!(
            gone >= ttl,
            "the idle entry went {gone:?} after a hit, before its TTI"
        );
        idle.insert(0, 0).unwrap();
    }
}
