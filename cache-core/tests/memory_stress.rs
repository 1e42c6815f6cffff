//! The in-memory backend under concurrent load: threads insert (some with a TTL), read, remove
//! and count on an overlapping key space while the clock moves in steps between phases. Checked:
//! every value read belongs to its key and has not expired, the cache settles within its
//! capacity, the eviction listener heard exactly what the stats counted, and once every TTL has
//! passed only the entries without one are counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use memokit_core::clock::{self, ManualClock};
use memokit_core::{Cache, RemovalCause};

const THREADS: u64 = 4;
const PHASES: u64 = 6;
const OPS: u64 = 8_000;
const KEYS: u64 = 3_000;
const CAPACITY: u64 = 1_000;
const STEP: Duration = Duration::from_secs(1);

/// A value that says which key it was written under and when it must be gone (in clock nanos,
/// or `u64::MAX`).
type Value = (u64, u64);

#[test]
fn concurrent_load_keeps_the_invariants() {
    let causes: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let heard = causes.clone();
    let cache: Cache<u64, Value> = Cache::builder("stress")
        .capacity(CAPACITY)
        .eviction_listener(move |_, _, cause| {
            let i = match cause {
                RemovalCause::Size => 0,
                RemovalCause::Expired => 1,
                RemovalCause::Replaced => 2,
                _ => 3,
            };
            heard[i].fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let manual = ManualClock::new();
    for phase in 0..PHASES {
        // The clock stands still within a phase, so a value can carry its exact deadline.
        let now = manual.now().as_nanos();
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (cache, manual) = (&cache, &manual);
                s.spawn(move || {
                    let _clock = manual.install();
                    assert_eq!(clock::now().as_nanos(), now);
                    let mut x = (phase * THREADS + t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    for _ in 0..OPS {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let key = x % KEYS;
                        match (x >> 32) % 10 {
                            0..=2 => cache.insert(key, (key, u64::MAX)).unwrap(),
                            3 => {
                                let steps = (x >> 40) % 3 + 1;
                                let deadline = now + steps * STEP.as_nanos() as u64;
                                cache
                                    .insert_with_ttl(key, (key, deadline), STEP * steps as u32)
                                    .unwrap();
                            }
                            4 => {
                                cache.remove(&key).unwrap();
                            }
                            _ => {
                                if let Some((owner, deadline)) = cache.get(&key).unwrap() {
                                    assert_eq!(owner, key, "a value read under another key");
                                    assert!(now < deadline, "an expired value was returned");
                                }
                            }
                        }
                    }
                });
            }
        });
        manual.advance(STEP);
    }
    // Past every TTL given (at most three steps): only entries without one are left, and they
    // are all that is counted.
    manual.advance(3 * STEP);
    let _clock = manual.install();
    let stats = cache.stats();
    let mut live = 0;
    for key in 0..KEYS {
        if let Some((_, deadline)) = cache.get(&key).unwrap() {
            assert_eq!(deadline, u64::MAX, "an entry outlived its TTL");
            live += 1;
        }
    }
    assert_eq!(stats.entries, live, "entries counted against entries found");
    assert!(
        stats.entries <= CAPACITY,
        "{} entries settled over capacity {CAPACITY}",
        stats.entries
    );
    let heard: Vec<u64> = causes.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert_eq!(
        (heard[0], heard[1], heard[2]),
        (stats.evicted, stats.expired, stats.replaced),
        "listener (size, expired, replaced) against stats"
    );
    assert_eq!(heard[3], stats.removals, "explicit removals");
    assert!(stats.evicted > 0 && stats.expired > 0 && stats.replaced > 0);
}
