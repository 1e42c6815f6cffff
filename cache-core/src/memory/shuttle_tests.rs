//! Model-checked interleavings of readers and writers on one shard, with `shuttle`'s lock and
//! atomics swapped in by [`shim`](super::shim). Run with
//! `RUSTFLAGS="--cfg shuttle" cargo test -p memokit-core --lib shuttle`.
//!
//! Readers change only atomics under the read lock (the access frequency and the idle time);
//! these tests check that no interleaving of that with writers' evictions, replacements and
//! removals returns a value under the wrong key or breaks the capacity and the accounting, and
//! that no interleaving of expiry (any operation may drop what has expired, readers included)
//! loses a deadline or leaves an expired entry counted.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use super::MemoryBackend;
use crate::backend::Backend;
use crate::config::Config;

fn backend(capacity: u64) -> Arc<MemoryBackend<u64, u64>> {
    let mut config = Config::new("shuttle".into());
    config.capacity = Some(capacity);
    config.tti = Some(Duration::from_secs(60));
    Arc::new(MemoryBackend::open(&config, &()).expect("opens"))
}

fn readers_and_writers() {
    let cache = backend(3);
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let cache = cache.clone();
            shuttle::thread::spawn(move || {
                for i in 0..6u64 {
                    let key = (t + i) % 5;
                    match (t + i) % 3 {
                        0 => cache.insert(key, key * 10 + t, None).expect("infallible"),
                        1 => {
                            if let Some(found) = cache.get(&key).expect("infallible") {
                                assert_eq!(found.value / 10, key, "value under a foreign key");
                            }
                        }
                        _ => {
                            cache.remove(&key).expect("infallible");
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panics");
    }
    let stats = cache.stats();
    assert!(stats.entries <= 3 && stats.weight == stats.entries);
}

/// Writers give entries no TTL, an hour, or none at all (expired on arrival, so the next
/// operation on any thread drops it); readers read. Afterwards every shard's deadlines are exact,
/// no expired entry is counted, and the listener heard each expiry the stats count.
fn expiry_under_concurrency() {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

    let expired = Arc::new(AtomicU64::new(0));
    let heard = expired.clone();
    // Unbounded, so the keys spread over several shards and a drain of one races with writes
    // to others.
    let mut config = Config::new("shuttle-expiry".into());
    config.listener = Some(Arc::new(move |_, _, cause| {
        if cause == crate::RemovalCause::Expired {
            heard.fetch_add(1, SeqCst);
        }
    }));
    let cache: Arc<MemoryBackend<u64, u64>> =
        Arc::new(MemoryBackend::open(&config, &()).expect("opens"));
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let cache = cache.clone();
            shuttle::thread::spawn(move || {
                for i in 0..5u64 {
                    let key = (t * 3 + i) % 6;
                    let ttl = match (t + i) % 3 {
                        0 => Some(Duration::ZERO),
                        1 => Some(Duration::from_secs(3_600)),
                        _ => None,
                    };
                    if t == 2 {
                        if let Some(found) = cache.get(&key).expect("infallible") {
                            assert_eq!(found.value % 10, key, "value under a foreign key");
                        }
                    } else {
                        cache.insert(key, key + 10 * i, ttl).expect("infallible");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panics");
    }
    let stats = cache.stats();
    cache.validate();
    let live = (0..6u64)
        .filter(|k| cache.get(k).expect("infallible").is_some())
        .count() as u64;
    assert_eq!(stats.entries, live, "counted entries that are not live");
    assert_eq!(expired.load(SeqCst), stats.expired, "expiries heard");
}

#[test]
fn shuttle_expiry_under_concurrency() {
    explore(expiry_under_concurrency);
}

/// Explores `scenario` under random scheduling and under PCT (which finds bugs needing a few
/// badly timed preemptions with known probability).
fn explore(scenario: fn()) {
    shuttle::check_random(scenario, 2_000);
    shuttle::check_pct(scenario, 2_000, 3);
}

#[test]
fn shuttle_readers_and_writers() {
    explore(readers_and_writers);
}

/// The shard lock alone: a writer keeps two halves equal, and no reader may see them differ
/// (a read overlapping a write). Nested reads of a second lock exercise the shared count.
fn lock_excludes_writers_from_readers() {
    use super::lock::RwLock;

    let locks = Arc::new((RwLock::new((0u64, 0u64)), RwLock::new(0u64)));
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let locks = locks.clone();
            shuttle::thread::spawn(move || {
                for i in 0..3u64 {
                    if (t + i) % 3 == 0 {
                        let mut pair = locks.0.write();
                        pair.0 += 1;
                        shuttle::thread::yield_now();
                        pair.1 += 1;
                    } else if t == 2 {
                        let outer = locks.1.read();
                        let pair = locks.0.read();
                        assert_eq!(pair.0, pair.1, "a nested read overlapped a write");
                        drop(outer);
                    } else {
                        let pair = locks.0.read();
                        shuttle::thread::yield_now();
                        assert_eq!(pair.0, pair.1, "a read overlapped a write");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panics");
    }
}

#[test]
fn shuttle_lock_excludes_writers_from_readers() {
    explore(lock_excludes_writers_from_readers);
}

/// Transactions over keys in different shards, declared in opposite orders (so a lock order
/// taken from the declaration would deadlock), move units between them while a reader takes
/// `get_many` snapshots and a plain writer updates a third key: no interleaving deadlocks, and
/// no snapshot sees a transfer half done.
fn transactions_and_snapshots() {
    let cache: Arc<MemoryBackend<u64, u64>> =
        Arc::new(MemoryBackend::open(&Config::new("shuttle-tx".into()), &()).expect("opens"));
    // Two keys in different shards (there are at least two: the cache is unbounded).
    let a = 0u64;
    let b = (1..1_000u64)
        .find(|&k| {
            let (ha, hb) = (cache.hasher.hash_one(a), cache.hasher.hash_one(k));
            cache.shard_index(ha) != cache.shard_index(hb)
        })
        .expect("keys in two shards");
    cache
        .insert_many(vec![(a, 10), (b, 10)], None)
        .expect("infallible");
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let cache = cache.clone();
            shuttle::thread::spawn(move || {
                for _ in 0..2 {
                    match t {
                        0 | 1 => {
                            let keys = if t == 0 { [a, b] } else { [b, a] };
                            cache
                                .transaction(&keys, None, |tx| {
                                    let (x, y) =
                                        (*tx.get(&keys[0]).unwrap(), *tx.get(&keys[1]).unwrap());
                                    tx.insert(&keys[0], x - 1);
                                    shuttle::thread::yield_now();
                                    tx.insert(&keys[1], y + 1);
                                })
                                .expect("infallible");
                        }
                        _ => {
                            let both = cache.get_many(&[&a, &b]).expect("infallible");
                            let (x, y) = (
                                both[0].as_ref().unwrap().value,
                                both[1].as_ref().unwrap().value,
                            );
                            assert_eq!(x + y, 20, "a snapshot saw a transfer half done");
                            cache
                                .compute(2_000, None, |v| {
                                    crate::backend::Compute::Put(v.map_or(1, |v| v + 1))
                                })
                                .expect("infallible");
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panics");
    }
    let both = cache.get_many(&[&a, &b]).expect("infallible");
    assert_eq!(
        both[0].as_ref().unwrap().value + both[1].as_ref().unwrap().value,
        20
    );
    cache.validate();
}

#[test]
fn shuttle_transactions_and_snapshots() {
    explore(transactions_and_snapshots);
}
