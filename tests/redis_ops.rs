//! The operations beyond get/insert/remove on Redis (issue 15): batches in one round trip,
//! `compute` and transactions as an optimistic compare-and-set, `take`, `contains_key`, `ttl`,
//! `expire`, `touch`, and walking the entries, on one server and on a three-primary cluster, on
//! memokit's clock (a sandbox's `advance` expires entries for all of them).

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use memokit::backend::{Backend, Compute, Computed, Cursor, Iterate, Ttl};
use memokit::redis::cmd;
#[cfg(feature = "redis-cluster")]
use memokit::redis::driver::cluster_routing::Slot;
use memokit::{BackendErrorKind, Cache, RedisBackend, RedisOptions};
use redis_server::RedisServer;

type Numbers = Cache<String, u64, RedisBackend>;

fn options(url: String, cluster: bool) -> RedisOptions {
    // Generous deadline: the test machine is shared and slow at times.
    RedisOptions::new()
        .url(url)
        .cluster(cluster)
        .timeout(Duration::from_secs(5))
}

fn numbers(server: &RedisServer, name: &str) -> Numbers {
    Cache::builder(name)
        .backend_options(options(server.url(), false))
        .build()
        .unwrap()
}

#[cfg(feature = "redis-cluster")]
fn cluster_numbers(nodes: &[RedisServer], name: &str) -> Numbers {
    Cache::builder(name)
        .backend_options(options(nodes[0].url(), true))
        .build()
        .unwrap()
}

/// The backend as a `String -> u64` store, so the trait's methods need no turbofish.
fn ops(backend: &RedisBackend) -> &impl Iterate<String, u64> {
    backend
}

fn key(i: usize) -> String {
    format!("k{i}")
}

fn pttl(backend: &RedisBackend, key: &str) -> i64 {
    backend
        .query(cmd("PTTL").arg(backend.redis_key(key).unwrap()))
        .unwrap()
}

#[test]
fn batches_read_write_and_count_live_removals_on_one_server() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-batches");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let entries: Vec<(String, u64)> = (0..100).map(|i| (key(i), i as u64)).collect();
    b.insert_many(entries, Some(Duration::from_secs(60)))
        .unwrap();
    let ttl = pttl(&backend, "k7");
    assert!(ttl > 0 && ttl <= 60_000, "PX from the ttl: {ttl}");
    assert!(matches!(b.ttl("k7").unwrap(), Ttl::In(d) if d <= Duration::from_secs(60)));

    let names: Vec<String> = (0..102).map(key).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let found = b.get_many(&refs).unwrap();
    assert_eq!(found.len(), 102);
    for (i, found) in found.iter().enumerate() {
        assert_eq!(
            found.as_ref().map(|f| f.value),
            (i < 100).then_some(i as u64)
        );
    }
    assert!(b.get_many::<str>(&[]).unwrap().is_empty());

    // A value of another type under one key is not a live entry of this cache.
    Backend::<String, String>::insert(&*backend, key(5), "text".into(), None).unwrap();
    assert_eq!(b.remove_many(&["k3", "k4", "k5", "nope"]).unwrap(), 2);
    assert_eq!(
        backend.count().unwrap(),
        97,
        "k5's foreign value is gone too"
    );
}

#[test]
fn get_many_of_100_keys_is_one_round_trip() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-round-trip");
    let entries: Vec<(String, u64)> = (0..100).map(|i| (key(i), i as u64)).collect();
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    b.insert_many(entries, None).unwrap();
    let names: Vec<String> = (0..100).map(key).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (mget, get) = (server.calls("mget"), server.calls("get"));
    let found = b.get_many(&refs).unwrap();
    assert!(found.iter().all(Option::is_some));
    assert_eq!(server.calls("mget") - mget, 1, "one MGET");
    assert_eq!(server.calls("get"), get, "no GET");
    assert_eq!(get, 0);
}

#[test]
#[cfg(feature = "redis-cluster")]
fn batches_group_keys_by_slot_on_a_three_primary_cluster() {
    let Some(nodes) = RedisServer::start_three_primaries() else {
        return;
    };
    let cache = cluster_numbers(&nodes, "ops-cluster");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let entries: Vec<(String, u64)> = (0..300).map(|i| (key(i), i as u64)).collect();
    b.insert_many(entries, None).unwrap();
    // Every primary holds some of them, and the walk finds them all.
    for node in &nodes {
        let keys = node.command("DBSIZE");
        assert_ne!(keys.trim(), ":0", "a primary holds none of the keys");
    }
    let names: Vec<String> = (0..310).map(key).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let found = b.get_many(&refs).unwrap();
    let values: Vec<Option<u64>> = found.into_iter().map(|f| f.map(|f| f.value)).collect();
    let expected: Vec<Option<u64>> = (0..310).map(|i| (i < 300).then_some(i as u64)).collect();
    assert_eq!(values, expected);
    let mut walked = BTreeMap::new();
    let mut cursor = Some(Cursor::START);
    while let Some(at) = cursor {
        cursor = b
            .scan(at, &mut |k, v| assert!(walked.insert(k, v).is_none()))
            .unwrap();
    }
    assert_eq!(walked.len(), 300);
    assert_eq!(walked["k42"], 42);
    assert_eq!(b.remove_many(&refs[..150]).unwrap(), 150);
    assert_eq!(b.remove_where(|_, v| v % 2 == 0).unwrap(), 75);
    assert_eq!(backend.count().unwrap(), 75);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(feature = "redis-cluster")]
async fn async_batches_on_a_three_primary_cluster() {
    let Some(nodes) = RedisServer::start_three_primaries() else {
        return;
    };
    let cache = cluster_numbers(&nodes, "ops-cluster-async");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let entries: Vec<(String, u64)> = (0..200).map(|i| (key(i), i as u64)).collect();
    b.insert_many_async(entries, None).await.unwrap();
    let names: Vec<String> = (0..200).map(key).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let found = b.get_many_async(&refs).await.unwrap();
    assert!(
        found
            .iter()
            .enumerate()
            .all(|(i, f)| f.as_ref().unwrap().value == i as u64)
    );
    assert_eq!(b.remove_many_async(&refs).await.unwrap(), 200);
    assert_eq!(backend.count_async().await.unwrap(), 0);
}

#[test]
#[cfg(feature = "redis-cluster")]
fn transactions_across_slots_on_a_cluster_are_unsupported_and_within_one_work() {
    let Some(nodes) = RedisServer::start_three_primaries() else {
        return;
    };
    let cache = cluster_numbers(&nodes, "ops-cluster-tx");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let slot = |k: &str| Slot::for_key(backend.redis_key(k).unwrap());
    let other = (1..).map(key).find(|k| slot(k) != slot("k0")).unwrap();
    let err = b
        .transaction(&["k0".to_string(), other.clone()], None, |_| ())
        .unwrap_err();
    assert_eq!(err.kind(), BackendErrorKind::Unsupported);
    assert!(err.message().contains("`transaction`"), "{err}");
    assert!(err.message().contains("hash slot"), "{err}");

    let twin = (1..).map(key).find(|k| slot(k) == slot("k0")).unwrap();
    let keys = ["k0".to_string(), twin.clone()];
    b.transaction(&keys, None, |tx| {
        tx.insert("k0", 1);
        tx.insert(twin.as_str(), 2);
    })
    .unwrap();
    let found = b.get_many(&["k0", twin.as_str()]).unwrap();
    assert_eq!(
        found.iter().map(|f| f.as_ref().unwrap().value).sum::<u64>(),
        3
    );
    let put = |_: Option<&u64>| Compute::Put(9);
    assert_eq!(
        b.compute(other.clone(), None, put).unwrap(),
        Computed::Inserted(9)
    );
}

#[test]
fn compute_inserts_updates_keeps_and_removes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-compute");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let ttl = Some(Duration::from_secs(60));
    let put = |v| move |_: Option<&u64>| Compute::Put(v);
    assert_eq!(
        b.compute("a".into(), ttl, put(1)).unwrap(),
        Computed::Inserted(1)
    );
    assert!(pttl(&backend, "a") > 0, "a new entry takes the ttl");
    backend
        .query::<()>(
            cmd("PEXPIRE")
                .arg(backend.redis_key("a").unwrap())
                .arg(500_000),
        )
        .unwrap();
    let bump = |v: Option<&u64>| Compute::Put(v.map_or(0, |v| v + 1));
    assert_eq!(
        b.compute("a".into(), None, bump).unwrap(),
        Computed::Updated(2)
    );
    assert!(
        pttl(&backend, "a") > 60_000,
        "an update keeps the key's expiry"
    );
    assert!(matches!(b.ttl("a").unwrap(), Ttl::In(d) if d <= Duration::from_secs(60)));
    let keep = |_: Option<&u64>| Compute::Keep;
    assert_eq!(
        b.compute("a".into(), None, keep).unwrap(),
        Computed::Unchanged(2)
    );
    let remove = |_: Option<&u64>| Compute::Remove;
    assert_eq!(
        b.compute("a".into(), None, remove).unwrap(),
        Computed::Removed(2)
    );
    assert_eq!(
        b.compute("a".into(), None, remove).unwrap(),
        Computed::StillNone
    );
    assert_eq!(
        b.compute("a".into(), None, keep).unwrap(),
        Computed::StillNone
    );
    assert!(!b.contains_key("a").unwrap());
}

/// 8 threads each add 1 to one key 10,000 times: every increment lands exactly once.
#[test]
fn concurrent_compute_increments_are_never_lost() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-increments");
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let backend = cache.backend().unwrap();
                for _ in 0..10_000 {
                    let add = |v: Option<&u64>| Compute::Put(v.map_or(1, |v| v + 1));
                    ops(&backend).compute("n".into(), None, add).unwrap();
                }
            });
        }
    });
    eprintln!("80,000 compute increments took {:?}", started.elapsed());
    assert_eq!(cache.get("n").unwrap(), Some(80_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_async_compute_increments_are_never_lost() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = Arc::new(numbers(&server, "ops-increments-async"));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move {
                for _ in 0..500 {
                    let backend = cache.backend().unwrap();
                    let add = |v: Option<&u64>| Compute::Put(v.map_or(1, |v| v + 1));
                    let done = ops(&backend).compute_async("n".into(), None, add);
                    done.await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(cache.get_async("n").await.unwrap(), Some(4_000));
}

/// Transfers between two keys keep their sum, and no reader ever sees one half of a transfer:
/// not an `MGET` (`get_many`), not a read-only transaction.
#[test]
fn a_transfer_is_never_seen_half_done() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-transfer");
    let keys = ["a".to_string(), "b".to_string()];
    {
        let backend = cache.backend().unwrap();
        ops(&backend)
            .insert_many(vec![(keys[0].clone(), 1_000), (keys[1].clone(), 0)], None)
            .unwrap();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..3u64)
            .map(|w| {
                let (cache, keys) = (&cache, &keys);
                s.spawn(move || {
                    let backend = cache.backend().unwrap();
                    for i in 0..300u64 {
                        let amount = (w * 7 + i) % 13;
                        ops(&backend)
                            .transaction(keys, None, |tx| {
                                let (a, b) = (*tx.get("a").unwrap(), *tx.get("b").unwrap());
                                let (from, to) = if i % 2 == 0 { ("a", "b") } else { ("b", "a") };
                                let (have, other) = if i % 2 == 0 { (a, b) } else { (b, a) };
                                let amount = amount.min(have);
                                tx.insert(from, have - amount);
                                tx.insert(to, other + amount);
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (cache, keys, done) = (&cache, &keys, &done);
                s.spawn(move || {
                    let backend = cache.backend().unwrap();
                    let b = ops(&backend);
                    let mut reads = 0;
                    while !done.load(Ordering::Relaxed) {
                        let sum: u64 = if r == 0 {
                            let found = b.get_many(&["a", "b"]).unwrap();
                            found.iter().map(|f| f.as_ref().unwrap().value).sum()
                        } else {
                            b.transaction(keys, None, |tx| {
                                tx.get("a").unwrap() + tx.get("b").unwrap()
                            })
                            .unwrap()
                        };
                        assert_eq!(sum, 1_000, "a reader saw half a transfer");
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        // Readers stop when the writers are done, even if one failed.
        let written: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
        done.store(true, Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
        assert!(written.into_iter().all(|w| w.is_ok()));
    });
    let backend = cache.backend().unwrap();
    let found = ops(&backend).get_many(&["a", "b"]).unwrap();
    assert_eq!(
        found.iter().map(|f| f.as_ref().unwrap().value).sum::<u64>(),
        1_000
    );
}

#[test]
fn an_aborted_or_undeclared_transaction_writes_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-abort");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let keys = ["x".to_string()];
    b.transaction(&keys, None, |tx| {
        tx.insert("x", 1);
        tx.abort();
    })
    .unwrap();
    assert!(!b.contains_key("x").unwrap());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.transaction(&keys, None, |tx| {
            tx.insert("x", 1);
            tx.insert("y", 2);
        })
    }));
    assert!(panicked.is_err());
    assert!(!b.contains_key("x").unwrap());
    assert_eq!(b.transaction(&[], None, |_| 5).unwrap(), 5);
}

/// `remove_where` judges the bytes it read: a value another writer put there after the read
/// stays.
#[test]
fn remove_where_never_removes_a_value_written_after_it_was_read() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-remove-where");
    let writer = numbers(&server, "ops-remove-where");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let entries: Vec<(String, u64)> = (0..1_200).map(|i| (key(i), i as u64)).collect();
    b.insert_many(entries, None).unwrap();
    // While the predicate judges a key, another handle overwrites every third key.
    let removed = b
        .remove_where(|k, _| {
            let i: usize = k[1..].parse().unwrap();
            if i.is_multiple_of(3) {
                writer.insert(k.clone(), 1_000_000 + i as u64).unwrap();
            }
            true
        })
        .unwrap();
    assert_eq!(removed, 800);
    assert_eq!(backend.count().unwrap(), 400);
    for i in (0..1_200).step_by(3) {
        assert_eq!(cache.get(&key(i)).unwrap(), Some(1_000_000 + i as u64));
    }
}

/// The same with a writer thread racing the walk: every value it writes survives, whether it
/// lands before its key is read (and is not picked) or after (and the delete finds new bytes).
#[test]
fn remove_where_during_concurrent_overwrites_spares_the_new_values() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-remove-race");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let entries: Vec<(String, u64)> = (0..3_000).map(|i| (key(i), 0)).collect();
    b.insert_many(entries, None).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in (0..3_000).step_by(3) {
                cache.insert(key(i), i as u64 + 1).unwrap();
            }
        });
        // Only old values (0) are picked.
        b.remove_where(|_, v| *v == 0).unwrap();
    });
    for i in 0..3_000usize {
        let expected = i.is_multiple_of(3).then_some(i as u64 + 1);
        assert_eq!(cache.get(&key(i)).unwrap(), expected, "key {i}");
    }
}

#[test]
fn take_contains_key_ttl_expire_and_touch() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-single");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    b.insert("t".into(), 7, Some(Duration::from_secs(30)))
        .unwrap();
    assert!(b.contains_key("t").unwrap());
    assert!(
        b.touch("t").unwrap(),
        "without a tti, touch says whether it is live"
    );
    assert!(b.expire("t", Some(Duration::from_secs(5))).unwrap());
    assert!(
        matches!(b.ttl("t").unwrap(), Ttl::In(d) if d <= Duration::from_secs(5) && d > Duration::from_secs(4))
    );
    let px = pttl(&backend, "t");
    assert!(px > 0 && px <= 5_000, "{px}");
    assert!(b.expire("t", None).unwrap());
    assert_eq!(b.ttl("t").unwrap(), Ttl::Never);
    assert_eq!(pttl(&backend, "t"), -1, "persisted in Redis too");
    assert_eq!(cache.get("t").unwrap(), Some(7), "the value is untouched");
    assert_eq!(b.take("t").unwrap(), Some(7));
    assert_eq!(b.take("t").unwrap(), None);
    assert_eq!(b.ttl("t").unwrap(), Ttl::Missing);
    assert!(!b.contains_key("t").unwrap());
    assert!(!b.expire("t", None).unwrap());
    assert!(!b.touch("t").unwrap());

    // A value of another type is no entry of this cache: `take` returns nothing, and drops it.
    Backend::<String, String>::insert(&*backend, "s".into(), "text".into(), None).unwrap();
    assert!(!b.contains_key("s").unwrap());
    assert_eq!(b.ttl("s").unwrap(), Ttl::Missing);
    assert!(!b.expire("s", Some(Duration::from_secs(1))).unwrap());
    assert_eq!(b.take("s").unwrap(), None);
    assert_eq!(backend.count().unwrap(), 0);
}

#[test]
fn a_sandbox_advance_expires_entries_for_every_operation() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-sandbox");
    let sandbox = memokit::sandbox();
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let entries = vec![("a".to_string(), 1), ("b".to_string(), 2)];
    b.insert_many(entries, Some(Duration::from_secs(10)))
        .unwrap();
    b.insert("c".into(), 3, Some(Duration::from_secs(10)))
        .unwrap();
    assert!(matches!(b.ttl("a").unwrap(), Ttl::In(d) if d <= Duration::from_secs(10)));
    sandbox.advance(Duration::from_secs(4));
    assert!(matches!(b.ttl("a").unwrap(), Ttl::In(d) if d <= Duration::from_secs(6)));
    assert!(b.contains_key("a").unwrap());
    sandbox.advance(Duration::from_secs(7));
    assert_eq!(b.ttl("a").unwrap(), Ttl::Missing);
    assert!(!b.contains_key("a").unwrap());
    assert!(!b.touch("a").unwrap());
    assert!(
        !b.expire("a", None).unwrap(),
        "an expired entry cannot be revived"
    );
    let found = b.get_many(&["a", "b", "c"]).unwrap();
    assert!(found.iter().all(Option::is_none));
    let mut walked = 0;
    assert_eq!(
        b.scan(Cursor::START, &mut |_, _| walked += 1).unwrap(),
        None
    );
    assert_eq!(walked, 0);
    assert_eq!(
        backend.count().unwrap(),
        3,
        "Redis still holds the dead bytes"
    );
    assert_eq!(b.take("c").unwrap(), None);
    assert_eq!(b.remove_many(&["a", "b"]).unwrap(), 0, "none was live");
    assert_eq!(backend.count().unwrap(), 0, "and the dead bytes are gone");
    // A compute on an expired value starts afresh, with the ttl.
    b.insert("d".into(), 4, Some(Duration::from_secs(1)))
        .unwrap();
    sandbox.advance(Duration::from_secs(2));
    let add = |v: Option<&u64>| Compute::Put(v.map_or(100, |v| v + 1));
    assert_eq!(
        b.compute("d".into(), None, add).unwrap(),
        Computed::Inserted(100)
    );
    assert_eq!(b.ttl("d").unwrap(), Ttl::Never);
}

#[test]
fn touch_and_persist_keep_a_time_to_idle_in_force() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Numbers = Cache::builder("ops-tti")
        .tti(Duration::from_secs(10))
        .backend_options(options(server.url(), false))
        .build()
        .unwrap();
    let sandbox = memokit::sandbox();
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    b.insert("i".into(), 1, None).unwrap();
    sandbox.advance(Duration::from_secs(6));
    assert!(b.contains_key("i").unwrap());
    assert!(b.touch("i").unwrap(), "touch counts as a read");
    sandbox.advance(Duration::from_secs(6));
    assert!(b.contains_key("i").unwrap(), "contains_key is no read");
    assert!(matches!(b.ttl("i").unwrap(), Ttl::In(d) if d <= Duration::from_secs(4)));
    assert!(b.expire("i", None).unwrap());
    assert!(
        matches!(b.ttl("i").unwrap(), Ttl::In(d) if d == Duration::from_secs(10)),
        "persist leaves the idle expiry: {:?}",
        b.ttl("i").unwrap()
    );
    let found = b.get_many(&["i"]).unwrap();
    assert_eq!(found[0].as_ref().map(|f| f.value), Some(1));
    sandbox.advance(Duration::from_secs(11));
    assert!(!b.touch("i").unwrap());
    assert_eq!(b.get_many(&["i"]).unwrap()[0], None);
}

#[test]
fn a_walk_visits_each_live_entry_once_and_decodes_its_key() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-walk");
    let other = numbers(&server, "ops-walk-other");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let entries: Vec<(String, u64)> = (0..1_234).map(|i| (key(i), i as u64)).collect();
    b.insert_many(entries, None).unwrap();
    Backend::<String, String>::insert(&*backend, "foreign".into(), "x".into(), None).unwrap();
    backend.hash_set("h", "f", &1u8).unwrap();
    other.insert("k1".into(), 99).unwrap();
    let (mut walked, mut steps) = (BTreeMap::new(), 0);
    let mut cursor = Some(Cursor::START);
    while let Some(at) = cursor {
        cursor = b
            .scan(at, &mut |k, v| assert!(walked.insert(k, v).is_none()))
            .unwrap();
        steps += 1;
    }
    assert!(steps > 1, "a walk goes in steps");
    assert_eq!(walked.len(), 1_234);
    assert!(walked.iter().all(|(k, v)| *k == key(*v as usize)));
    assert_eq!(b.remove_where(|k, _| k.ends_with('7')).unwrap(), 123);
    assert_eq!(cache.get("k7").unwrap(), None);
    assert_eq!(
        other.get("k1").unwrap(),
        Some(99),
        "another cache is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_forms_do_what_the_sync_ones_do() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-async");
    let backend = cache.backend().unwrap();
    let b = ops(&backend);
    let entries: Vec<(String, u64)> = (0..10).map(|i| (key(i), i as u64)).collect();
    b.insert_many_async(entries, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let found = b.get_many_async(&["k1", "k2", "zz"]).await.unwrap();
    let values: Vec<_> = found.into_iter().map(|f| f.map(|f| f.value)).collect();
    assert_eq!(values, [Some(1), Some(2), None]);
    assert!(b.contains_key_async("k1").await.unwrap());
    assert!(b.touch_async("k1").await.unwrap());
    assert!(matches!(b.ttl_async("k1").await.unwrap(), Ttl::In(_)));
    assert!(b.expire_async("k1", None).await.unwrap());
    assert_eq!(b.ttl_async("k1").await.unwrap(), Ttl::Never);
    assert_eq!(b.take_async("k1").await.unwrap(), Some(1));
    assert_eq!(b.remove_many_async(&["k1", "k2", "k3"]).await.unwrap(), 2);
    let add = |v: Option<&u64>| Compute::Put(v.map_or(0, |v| v + 10));
    let computed = b.compute_async("k4".into(), None, add).await.unwrap();
    assert_eq!(computed, Computed::Updated(14));
    let keys = ["k5".to_string(), "k6".to_string()];
    let sum = b
        .transaction_async(&keys, None, |tx| {
            let sum = tx.get("k5").unwrap() + tx.get("k6").unwrap();
            tx.remove("k5");
            tx.insert("k6", sum);
            sum
        })
        .await
        .unwrap();
    assert_eq!(sum, 11);
    assert_eq!(cache.get_async("k6").await.unwrap(), Some(11));
    assert!(!b.contains_key_async("k5").await.unwrap());
}

// The same guarantees through the `Cache` handle, as a user writes them.

/// `Cache::update` from 8 threads, 10,000 increments each: exactly 80,000.
#[test]
fn cache_updates_from_8_threads_sum_exactly() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-cache-increments");
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    cache
                        .update("n".into(), |n| Some(n.map_or(1, |n| n + 1)))
                        .unwrap();
                }
            });
        }
    });
    eprintln!(
        "80,000 Cache::update increments took {:?}",
        started.elapsed()
    );
    assert_eq!(cache.get("n").unwrap(), Some(80_000));
}

/// Transfers with `Cache::transaction`, read by `Cache::get_many` and by read-only transactions.
#[test]
fn cache_transfers_are_never_seen_half_done() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-cache-transfer");
    cache
        .insert_many([("a".to_string(), 500), ("b".to_string(), 500)])
        .unwrap();
    let keys = || ["a".to_string(), "b".to_string()];
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..2u64)
            .map(|w| {
                let cache = &cache;
                s.spawn(move || {
                    for i in 0..300u64 {
                        cache
                            .transaction(keys(), |tx| {
                                let a = tx.get("a").copied().unwrap_or(0);
                                let b = tx.get("b").copied().unwrap_or(0);
                                let moved = ((w + i) % 11).min(a);
                                tx.insert("a", a - moved + (i % 3).min(b));
                                tx.insert("b", b + moved - (i % 3).min(b));
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        let reader = s.spawn(|| {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let both = cache.get_many(["a", "b"]).unwrap();
                assert_eq!(
                    both.iter().flatten().sum::<u64>(),
                    1_000,
                    "get_many saw half"
                );
                let sum = cache
                    .transaction(keys(), |tx| tx.get("a").unwrap() + tx.get("b").unwrap())
                    .unwrap();
                assert_eq!(sum, 1_000, "a read-only transaction saw half");
                reads += 1;
            }
            reads
        });
        let written: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
        done.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        assert!(written.into_iter().all(|w| w.is_ok()));
    });
}

#[test]
fn cache_operations_follow_a_sandbox_clock() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Numbers = Cache::builder("ops-cache-sandbox")
        .ttl(Duration::from_secs(10))
        .backend_options(options(server.url(), false))
        .build()
        .unwrap();
    let sandbox = memokit::sandbox();
    cache
        .insert_many([("a".to_string(), 1), ("b".to_string(), 2)])
        .unwrap();
    assert_eq!(cache.get_many(["a", "b"]).unwrap(), [Some(1), Some(2)]);
    assert!(matches!(cache.ttl("a").unwrap(), Ttl::In(d) if d <= Duration::from_secs(10)));
    assert!(cache.expire("b", Duration::from_secs(30)).unwrap());
    sandbox.advance(Duration::from_secs(11));
    assert_eq!(cache.ttl("a").unwrap(), Ttl::Missing);
    assert!(!cache.contains_key("a").unwrap());
    assert_eq!(cache.take("a").unwrap(), None);
    assert_eq!(cache.get_many(["a", "b"]).unwrap(), [None, Some(2)]);
    assert!(cache.persist("b").unwrap());
    assert_eq!(cache.ttl("b").unwrap(), Ttl::Never);
    assert!(cache.touch("b").unwrap());
    assert_eq!(cache.take("b").unwrap(), Some(2));
    assert_eq!(
        cache
            .entry("c".to_string())
            .and_upsert_with(|n| n.map_or(7, |n| n + 1))
            .unwrap(),
        7
    );
    assert_eq!(cache.remove_many(["c", "zz"]).unwrap(), 1);
    let prune = cache.prune(0).unwrap_err();
    assert!(prune.to_string().contains("prune"), "{prune}");
}

#[test]
fn cache_walks_and_remove_where_on_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-cache-walk");
    let writer = numbers(&server, "ops-cache-walk");
    cache
        .insert_many((0..700).map(|i| (key(i), i as u64)))
        .unwrap();
    let mut keys: Vec<String> = cache.keys().map(Result::unwrap).collect();
    keys.sort();
    assert_eq!(keys.len(), 700);
    let sum: u64 = cache.iter().map(|e| e.unwrap().1).sum();
    assert_eq!(sum, (0..700).sum::<u64>());
    let removed = cache
        .remove_where(|k, v| {
            if v % 2 == 0 {
                writer.insert(k.clone(), v + 1_000).unwrap();
            }
            true
        })
        .unwrap();
    assert_eq!(removed, 350, "the overwritten half stays");
    assert_eq!(cache.get("k2").unwrap(), Some(1_002));
    assert_eq!(cache.get("k3").unwrap(), None);
}

#[test]
fn cache_get_many_is_one_mget() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-cache-mget");
    cache.insert_many((0..100).map(|i| (key(i), 1))).unwrap();
    let names: Vec<String> = (0..100).map(key).collect();
    let mget = server.calls("mget");
    let found = cache.get_many(names.iter().map(String::as_str)).unwrap();
    assert_eq!(found.iter().flatten().count(), 100);
    assert_eq!(server.calls("mget") - mget, 1);
    assert_eq!(server.calls("get"), 0);
}

#[test]
#[cfg(feature = "redis-cluster")]
fn cache_transactions_across_slots_are_unsupported() {
    let Some(nodes) = RedisServer::start_three_primaries() else {
        return;
    };
    let names: Vec<String> = (0..20).map(key).collect();
    let cache = cluster_numbers(&nodes, "ops-cache-cross-slot");
    let err = cache.transaction(names[..20].to_vec(), |_| ()).unwrap_err();
    let memokit::CacheError::Backend { source, .. } = &err else {
        panic!("a backend error: {err}");
    };
    assert_eq!(source.kind(), BackendErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("hash slot"), "{err}");
}

/// `take` is one `GETDEL`: of several threads taking the same keys, each value goes to one.
#[test]
fn concurrent_takes_hand_each_value_to_one_caller() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = numbers(&server, "ops-take-race");
    cache
        .insert_many((0..500).map(|i| (key(i), i as u64)))
        .unwrap();
    let taken: Vec<Vec<u64>> = std::thread::scope(|s| {
        let takers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..500)
                        .filter_map(|i| cache.take(&key(i)).unwrap())
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        takers.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = taken.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(all, (0..500).collect::<Vec<u64>>());
}
