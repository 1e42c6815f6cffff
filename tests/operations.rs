//! The operations users know from Cachex and moka, on the in-memory backend, through `Cache`
//! and cache modules: batches, `update` and the entry API, transactions, `take`, expiry
//! control, `prune` and iteration, each under concurrency where it promises something there.
//! (`redis_ops.rs` runs the same promises against Redis.)

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use memokit::backend::unsupported;
use memokit::{
    Backend, BackendError, BackendErrorKind, BackendStats, Cache, CacheError, Compute, Computed,
    Config, Found, Namespace, RemovalCause, Ttl,
};

fn cache<K: memokit::CacheKey, V: memokit::CacheValue>(name: &str) -> Cache<K, V> {
    Cache::builder(name).build().unwrap()
}

#[test]
fn eight_threads_of_ten_thousand_updates_lose_none() {
    let hits: Cache<&'static str, u64> = cache("ops-update-race");
    let start = Barrier::new(8);
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                start.wait();
                for _ in 0..10_000 {
                    hits.update("k", |n| Some(n.copied().unwrap_or(0) + 1))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(hits.get(&"k").unwrap(), Some(80_000));
}

#[test]
fn the_entry_api_does_what_moka_s_does() {
    let stock: Cache<String, u32> = cache("ops-entry");
    let apples = || "apples".to_string();
    assert_eq!(stock.entry(apples()).or_insert(3).unwrap(), 3);
    assert_eq!(
        stock.entry(apples()).or_insert(9).unwrap(),
        3,
        "a live value stays"
    );
    assert_eq!(stock.entry("pears".into()).or_insert_with(|| 5).unwrap(), 5);
    assert_eq!(
        stock
            .entry(apples())
            .and_upsert_with(|n| n.map_or(1, |n| n + 1))
            .unwrap(),
        4
    );
    let take_one = |n: Option<&u32>| match n {
        Some(&n) if n > 1 => Compute::Put(n - 1),
        Some(_) => Compute::Remove,
        None => Compute::Keep,
    };
    assert_eq!(
        stock.entry(apples()).and_compute_with(take_one).unwrap(),
        Computed::Updated(3)
    );
    stock.insert(apples(), 1).unwrap();
    assert_eq!(
        stock.entry(apples()).and_compute_with(take_one).unwrap(),
        Computed::Removed(1)
    );
    assert_eq!(
        stock.entry(apples()).and_compute_with(take_one).unwrap(),
        Computed::StillNone
    );
    assert_eq!(
        stock
            .entry(apples())
            .and_compute_with(|_| Compute::Put(7))
            .unwrap(),
        Computed::Inserted(7)
    );
    assert_eq!(
        stock
            .entry(apples())
            .and_compute_with(|_| Compute::Keep)
            .unwrap(),
        Computed::Unchanged(7)
    );
}

#[test]
fn an_update_keeps_the_deadline_and_a_new_entry_takes_the_cache_ttl() {
    let sb = memokit::sandbox();
    let counts: Cache<u8, u32> = Cache::builder("ops-update-ttl")
        .ttl(Duration::from_secs(10))
        .build()
        .unwrap();
    counts.update(1, |_| Some(1)).unwrap();
    sb.advance(Duration::from_secs(6));
    counts.update(1, |n| n.map(|n| n + 1)).unwrap();
    assert_eq!(counts.ttl(&1).unwrap(), Ttl::In(Duration::from_secs(4)));
    sb.advance(Duration::from_secs(4));
    assert_eq!(
        counts.get(&1).unwrap(),
        None,
        "the update did not extend the TTL"
    );
}

#[test]
fn a_transaction_over_two_keys_is_never_seen_half_done() {
    let accounts: Cache<&'static str, i64> = cache("ops-transaction-race");
    accounts.insert_many([("a", 500), ("b", 500)]).unwrap();
    let done = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..3i64 {
            let (accounts, done) = (&accounts, &done);
            s.spawn(move || {
                for i in 0..2_000i64 {
                    let amount = (i * 7 + t) % 50 - 25;
                    accounts
                        .transaction(["a", "b"], |tx| {
                            let a = *tx.get(&"a").unwrap();
                            let b = *tx.get(&"b").unwrap();
                            tx.insert(&"a", a - amount);
                            tx.insert(&"b", b + amount);
                        })
                        .unwrap();
                }
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        for _ in 0..2 {
            let (accounts, done) = (&accounts, &done);
            s.spawn(move || {
                let mut seen = 0;
                while done.load(Ordering::SeqCst) < 3 || seen < 100 {
                    let both = accounts.get_many(&["a", "b"]).unwrap();
                    let (a, b) = (both[0].unwrap(), both[1].unwrap());
                    assert_eq!(a + b, 1000, "get_many saw a transfer half done: {a} + {b}");
                    let sum = accounts
                        .transaction(["b", "a"], |tx| {
                            tx.get(&"a").unwrap() + tx.get(&"b").unwrap()
                        })
                        .unwrap();
                    assert_eq!(sum, 1000, "a reading transaction saw a transfer half done");
                    seen += 1;
                }
            });
        }
    });
    let both = accounts.get_many(&["a", "b"]).unwrap();
    assert_eq!(both[0].unwrap() + both[1].unwrap(), 1000);
}

#[test]
fn an_aborted_or_panicking_transaction_writes_nothing() {
    let cache: Cache<u8, u8> = cache("ops-transaction-abort");
    cache.insert(1, 1).unwrap();
    cache
        .transaction([1, 2], |tx| {
            tx.insert(&1, 10);
            tx.insert(&2, 20);
            tx.abort();
        })
        .unwrap();
    assert_eq!(cache.get_many(&[1, 2]).unwrap(), [Some(1), None]);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cache.transaction([1, 2], |tx| {
            tx.remove(&1);
            tx.insert(&2, 20);
            panic!("half way");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(cache.get_many(&[1, 2]).unwrap(), [Some(1), None]);
    // The locks were released: the cache still works from every thread.
    thread::scope(|s| {
        s.spawn(|| cache.insert(2, 2).unwrap());
    });
    assert_eq!(cache.get(&2).unwrap(), Some(2));
}

#[test]
fn overlapping_concurrent_batches_load_each_key_once() {
    let users: Cache<u32, String> = cache("ops-batch-flight");
    let loads: Mutex<HashMap<u32, usize>> = Mutex::default();
    let start = Barrier::new(8);
    thread::scope(|s| {
        for t in 0..8u32 {
            let (users, loads, start) = (&users, &loads, &start);
            s.spawn(move || {
                let keys: Vec<u32> = (t * 5..t * 5 + 20).collect();
                start.wait();
                let found = users
                    .get_or_insert_many_with(keys.clone(), |missing| {
                        for k in &missing {
                            *loads.lock().unwrap().entry(*k).or_default() += 1;
                        }
                        thread::sleep(Duration::from_millis(20));
                        missing.into_iter().map(|k| (k, format!("user {k}")))
                    })
                    .unwrap();
                for k in keys {
                    assert_eq!(found[&k], format!("user {k}"));
                }
            });
        }
    });
    let loads = loads.into_inner().unwrap();
    assert_eq!(loads.len(), 55, "every key of 0..55 was loaded");
    assert!(
        loads.values().all(|&n| n == 1),
        "a key was loaded twice: {loads:?}"
    );
}

#[test]
fn a_batch_loader_sees_only_missing_keys_and_its_omissions_and_errors_cache_nothing() {
    let users: Cache<u32, String> = cache("ops-batch-load");
    users.insert(1, "one".into()).unwrap();
    let found = users
        .get_or_insert_many_with([1, 2, 3, 2], |missing| {
            assert_eq!(missing, [2, 3], "only the missing keys, once each");
            [(2, "two".to_string())]
        })
        .unwrap();
    assert_eq!(found.len(), 2);
    assert!(
        !users.contains_key(&3).unwrap(),
        "a key left out is not cached"
    );
    let failed =
        users.try_get_or_insert_many_with([3, 4], |_| Err::<Vec<(u32, String)>, _>("db down"));
    assert!(matches!(failed, Err(memokit::LoadError::Load("db down"))));
    assert_eq!(users.get_many(&[3, 4]).unwrap(), [None, None]);
    let stats = users.stats();
    assert_eq!(stats.loads, 1);
}

#[test]
fn batches_count_every_key_and_remove_many_counts_live_ones() {
    let sb = memokit::sandbox();
    let cache: Cache<u32, u32> = cache("ops-batches");
    cache.insert_many((0..10).map(|k| (k, k * 10))).unwrap();
    cache
        .insert_many_with_ttl([(10, 100)], Duration::from_secs(1))
        .unwrap();
    let got = cache.get_many(&[0, 5, 10, 99]).unwrap();
    assert_eq!(got, [Some(0), Some(50), Some(100), None]);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (3, 1));
    sb.advance(Duration::from_secs(1));
    assert_eq!(
        cache.remove_many(&[0, 1, 10, 99]).unwrap(),
        2,
        "10 had expired"
    );
    assert_eq!(cache.len(), 8);
}

#[test]
fn iteration_during_concurrent_inserts_returns_no_entry_twice_and_none_expired() {
    let sb = memokit::sandbox();
    let cache: Cache<u32, u32> = cache("ops-iter");
    for k in 0..5_000 {
        if k % 2 == 1 {
            cache.insert_with_ttl(k, k, Duration::from_secs(5)).unwrap();
        } else {
            cache.insert(k, k).unwrap();
        }
    }
    sb.advance(Duration::from_secs(5));
    let handle = sb.handle();
    let stop = std::sync::atomic::AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let _in = handle.enter();
            let mut k = 10_000;
            while !stop.load(Ordering::Relaxed) {
                cache.insert(k, k).unwrap();
                k += 1;
            }
        });
        for _ in 0..5 {
            let mut seen = HashSet::new();
            for entry in cache.iter() {
                let (k, v) = entry.unwrap();
                assert_eq!(k, v);
                assert!(seen.insert(k), "{k} came twice");
                assert!(k >= 10_000 || k % 2 == 0, "{k} had expired");
            }
            assert!(
                (0..5_000).step_by(2).all(|k| seen.contains(&k)),
                "a live entry was missed"
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    let keys: HashSet<u32> = cache.keys().map(Result::unwrap).collect();
    assert_eq!(keys.len() as u64, cache.len());
}

#[test]
fn remove_where_removes_matching_live_entries() {
    let cache: Cache<(u32, u32), ()> = cache("ops-remove-where");
    cache
        .insert_many((0..10).flat_map(|u| (0..3).map(move |s| ((u, s), ()))))
        .unwrap();
    assert_eq!(cache.remove_where(|&(user, _), _| user == 7).unwrap(), 3);
    assert_eq!(cache.len(), 27);
    assert!(!cache.contains_key(&(7, 0)).unwrap());
}

#[test]
fn expiry_control_reads_and_moves_deadlines_on_memokit_s_clock() {
    let sb = memokit::sandbox();
    let tokens: Cache<u32, &'static str> = cache("ops-expiry");
    tokens
        .insert_with_ttl(1, "a", Duration::from_secs(60))
        .unwrap();
    tokens.insert(2, "b").unwrap();
    assert_eq!(tokens.ttl(&1).unwrap(), Ttl::In(Duration::from_secs(60)));
    assert_eq!(tokens.ttl(&2).unwrap(), Ttl::Never);
    assert_eq!(tokens.ttl(&3).unwrap(), Ttl::Missing);
    assert!(tokens.expire(&2, Duration::from_secs(5)).unwrap());
    assert!(!tokens.expire(&3, Duration::from_secs(5)).unwrap());
    assert!(tokens.persist(&1).unwrap());
    sb.advance(Duration::from_secs(5));
    assert_eq!(
        tokens.ttl(&2).unwrap(),
        Ttl::Missing,
        "expire's deadline passed"
    );
    assert!(!tokens.contains_key(&2).unwrap());
    assert_eq!(tokens.ttl(&1).unwrap(), Ttl::Never);
    sb.advance(Duration::from_secs(3600));
    assert_eq!(
        tokens.get(&1).unwrap(),
        Some("a"),
        "a persisted entry stays"
    );
    assert_eq!(tokens.len(), 1);
}

#[test]
fn touch_refreshes_time_to_idle_and_contains_key_does_not() {
    let sb = memokit::sandbox();
    let sessions: Cache<u32, u32> = Cache::builder("ops-touch")
        .tti(Duration::from_secs(10))
        .build()
        .unwrap();
    sessions.insert_many([(1, 1), (2, 2)]).unwrap();
    sb.advance(Duration::from_secs(8));
    assert!(sessions.touch(&1).unwrap());
    assert!(sessions.contains_key(&2).unwrap());
    assert_eq!(sessions.ttl(&1).unwrap(), Ttl::In(Duration::from_secs(10)));
    assert_eq!(sessions.ttl(&2).unwrap(), Ttl::In(Duration::from_secs(2)));
    sb.advance(Duration::from_secs(2));
    assert!(sessions.contains_key(&1).unwrap());
    assert!(
        !sessions.contains_key(&2).unwrap(),
        "contains_key is not a read"
    );
    assert!(!sessions.touch(&2).unwrap());
    let stats = sessions.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (0, 0),
        "neither counts as a lookup"
    );
}

#[test]
fn take_returns_the_live_value_once() {
    let sb = memokit::sandbox();
    let removed = Arc::new(Mutex::new(Vec::new()));
    let sink = removed.clone();
    let jobs: Cache<u32, String> = Cache::builder("ops-take")
        .eviction_listener(move |&k, _, cause| sink.lock().unwrap().push((k, cause)))
        .build()
        .unwrap();
    jobs.insert(1, "job".into()).unwrap();
    jobs.insert_with_ttl(2, "old".into(), Duration::from_secs(1))
        .unwrap();
    assert_eq!(jobs.take(&1).unwrap().as_deref(), Some("job"));
    assert_eq!(jobs.take(&1).unwrap(), None);
    sb.advance(Duration::from_secs(1));
    assert_eq!(
        jobs.take(&2).unwrap(),
        None,
        "an expired value is not taken"
    );
    assert_eq!(
        *removed.lock().unwrap(),
        [(1, RemovalCause::Explicit), (2, RemovalCause::Expired)]
    );
}

#[test]
fn prune_trims_to_a_size_by_the_eviction_policy() {
    let cache: Cache<u32, u32> = cache("ops-prune");
    cache.insert_many((0..4_000).map(|k| (k, k))).unwrap();
    // Keys read often are kept by the policy over keys read once.
    for _ in 0..3 {
        cache.get_many(&(0..100).collect::<Vec<_>>()).unwrap();
    }
    let evicted = cache.prune(1_000).unwrap();
    assert_eq!(evicted, 4_000 - cache.len());
    assert!(cache.len() <= 1_000, "{} left", cache.len());
    assert!(
        cache.len() >= 900,
        "prune evicted far more than asked: {} left",
        cache.len()
    );
    assert_eq!(cache.prune(5_000).unwrap(), 0);
}

#[tokio::test]
async fn async_forms_agree_with_the_sync_ones() {
    let cache: Cache<u32, u32> = cache("ops-async");
    cache.insert_many_async([(1, 1), (2, 2)]).await.unwrap();
    assert_eq!(
        cache.get_many_async(&[1, 2, 3]).await.unwrap(),
        [Some(1), Some(2), None]
    );
    assert_eq!(
        cache.update_async(1, |n| n.map(|n| n + 1)).await.unwrap(),
        Some(2)
    );
    let found = cache
        .get_or_insert_many_with_async([2, 3], |missing| async move {
            missing
                .into_iter()
                .map(|k| (k, k * 100))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
    assert_eq!(found[&3], 300);
    assert_eq!(cache.take_async(&3).await.unwrap(), Some(300));
    assert!(cache.contains_key_async(&1).await.unwrap());
    assert!(
        cache
            .expire_async(&1, Duration::from_secs(9))
            .await
            .unwrap()
    );
    assert!(matches!(cache.ttl_async(&1).await.unwrap(), Ttl::In(_)));
    assert!(cache.persist_async(&1).await.unwrap());
    assert!(cache.touch_async(&1).await.unwrap());
    let sum = cache
        .transaction_async([1, 2], |tx| tx.get(&1).unwrap() + tx.get(&2).unwrap())
        .await
        .unwrap();
    assert_eq!(sum, 4);
    assert_eq!(cache.remove_many_async(&[1, 2]).await.unwrap(), 2);
}

#[derive(memokit::Cache)]
#[cache(key = u32, value = u64)]
struct Counters;

#[test]
fn cache_modules_have_the_operations_too() {
    let _sb = memokit::sandbox();
    Counters::insert_many([(1, 10), (2, 20)]).unwrap();
    assert_eq!(Counters::get_many(&[1, 2]).unwrap(), [Some(10), Some(20)]);
    assert_eq!(Counters::update(1, |n| n.map(|n| n + 1)).unwrap(), Some(11));
    Counters::transaction([1, 2], |tx| {
        let moved = *tx.get(&1).unwrap();
        tx.remove(&1);
        tx.insert(&2, 20 + moved);
    })
    .unwrap();
    assert_eq!(Counters::take(&2).unwrap(), Some(31));
    assert!(!Counters::contains_key(&1).unwrap());
    let found = Counters::get_or_insert_many_with([5], |m| m.into_iter().map(|k| (k, 5))).unwrap();
    assert_eq!(found[&5], 5);
    assert_eq!(Counters::ttl(&5).unwrap(), Ttl::Never);
    assert_eq!(Counters::remove_many(&[5]).unwrap(), 1);
    assert_eq!(Counters::prune(0).unwrap(), 0);
}

/// A backend with only the required methods: everything else takes the trait's defaults.
struct Minimal(Mutex<HashMap<u32, u32>>);

impl Backend<u32, u32> for Minimal {
    type Options = ();
    const KIND: &'static str = "minimal";

    fn open(_: &Config<u32, u32>, (): &()) -> Result<Self, BackendError> {
        Ok(Self(Mutex::default()))
    }

    fn scoped(&self, _: Namespace) -> Result<Self, BackendError> {
        Ok(Self(Mutex::default()))
    }

    fn get<Q: ?Sized + memokit::key::Lookup<u32>>(
        &self,
        key: &Q,
    ) -> Result<Option<Found<u32>>, BackendError> {
        let map = self.0.lock().unwrap();
        Ok(map
            .iter()
            .find(|(k, _)| key.equivalent(k))
            .map(|(_, &v)| Found {
                value: v,
                written: memokit::clock::Timestamp::from_nanos(0),
            }))
    }

    fn insert(&self, key: u32, value: u32, _: Option<Duration>) -> Result<(), BackendError> {
        self.0.lock().unwrap().insert(key, value);
        Ok(())
    }

    fn remove<Q: ?Sized + memokit::key::Lookup<u32>>(&self, key: &Q) -> Result<bool, BackendError> {
        let mut map = self.0.lock().unwrap();
        let found = map.keys().copied().find(|k| key.equivalent(k));
        Ok(found.is_some_and(|k| map.remove(&k).is_some()))
    }

    fn clear(&self) -> Result<(), BackendError> {
        self.0.lock().unwrap().clear();
        Ok(())
    }

    fn stats(&self) -> BackendStats {
        BackendStats::default()
    }
}

#[test]
fn a_backend_without_an_operation_says_so_naming_the_cache_backend_and_operation() {
    let cache: Cache<u32, u32, Minimal> = Cache::builder("ops-minimal").build().unwrap();
    // Batches work through the defaults.
    cache.insert_many([(1, 1), (2, 2)]).unwrap();
    assert_eq!(
        cache.get_many(&[1, 2, 3]).unwrap(),
        [Some(1), Some(2), None]
    );
    assert_eq!(cache.remove_many(&[1, 3]).unwrap(), 1);
    let unsupported_ops: [(&str, Result<(), CacheError>); 6] = [
        ("take", cache.take(&2).map(drop)),
        ("compute", cache.update(2, |_| None).map(drop)),
        ("transaction", cache.transaction([2], |_| ())),
        ("ttl", cache.ttl(&2).map(drop)),
        ("expire", cache.persist(&2).map(drop)),
        ("prune", cache.prune(0).map(drop)),
    ];
    for (op, result) in unsupported_ops {
        let err = result.expect_err(op);
        let CacheError::Backend { source, .. } = &err else {
            panic!("{op}: {err}");
        };
        assert_eq!(source.kind(), BackendErrorKind::Unsupported);
        let text = err.to_string();
        assert!(
            text.contains("ops-minimal") && text.contains("minimal backend") && text.contains(op),
            "{text}"
        );
    }
    assert_eq!(
        unsupported("minimal", "take").to_string(),
        "minimal backend unsupported: the minimal backend does not support `take`"
    );
}

#[test]
fn of_eight_threads_taking_each_key_exactly_one_gets_it() {
    let jobs: Cache<u32, u32> = cache("ops-take-race");
    jobs.insert_many((0..1_000).map(|k| (k, k))).unwrap();
    let taken = AtomicUsize::new(0);
    let start = Barrier::new(8);
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                start.wait();
                for k in 0..1_000 {
                    if jobs.take(&k).unwrap().is_some() {
                        taken.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(taken.into_inner(), 1_000);
    assert!(jobs.is_empty());
}
