//! The Redis backend on a real Redis Cluster: three primaries and three replicas of this test's
//! own (`redis-cli --cluster create`), on loopback ports. One cluster per test, so each scenario
//! starts and stops its own nodes.
//!
//! * keys spread over the slots and every primary; `clear()` and a sandbox's teardown reach every
//!   primary, walking each with `SCAN` (never `KEYS`);
//! * batches are grouped by slot: one command per slot group, exact across primaries;
//! * calls succeed, with exact values, while `redis-cli --cluster reshard` moves slots that hold
//!   the keys being read and written: single-key calls and batches, sync and async;
//! * a primary killed with SIGKILL: memoized calls fail open (their body runs) until its replica
//!   is promoted, and hits resume afterwards.

#![cfg(feature = "redis-cluster")]

#[path = "support/redis.rs"]
mod redis_server;

use std::collections::HashSet;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memokit::redis::driver::cluster_routing::Slot;
use memokit::{Cache, RedisBackend, RedisOptions, cached};
use redis_server::{Cluster, RedisServer};

type Lists = Cache<String, Vec<u32>, RedisBackend>;

/// Generous: the test machine is shared, and a cluster adds hops.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long nodes wait for a silent peer before they take it as failed: long enough that a
/// loaded machine does not fail a healthy node over, except in the failover test.
const CALM: Duration = Duration::from_secs(15);
/// A bound on any wait for the cluster to settle; a regression fails after it.
const DEADLINE: Duration = Duration::from_secs(30);

fn lists(cluster: &Cluster, name: &str) -> Lists {
    Cache::builder(name)
        .backend_options(RedisOptions::new().url(cluster.seeds()).timeout(TIMEOUT))
        .build()
        .unwrap()
}

fn key(i: u32) -> String {
    format!("k{i}")
}

/// The `SCAN` pattern of one cache's keys in one namespace (`global`, or `sb` for sandboxes).
fn pattern(cache: &str, namespace: &str) -> String {
    format!("memokit:{}:{cache}:{namespace}*", cache.len())
}

fn slot(backend: &RedisBackend, key: &str) -> Slot {
    Slot::for_key(backend.redis_key(key).unwrap())
}

/// How many keys matching `pattern` each primary holds.
fn per_master(cluster: &Cluster, pattern: &str) -> Vec<usize> {
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3, "three primaries");
    masters.iter().map(|m| m.scan(pattern).len()).collect()
}

fn calls(nodes: &[&RedisServer], command: &str) -> u64 {
    nodes.iter().map(|n| n.calls(command)).sum()
}

#[test]
fn keys_spread_over_every_master_and_clear_and_teardown_reach_them_all() {
    let Some(cluster) = Cluster::start(3, 1, CALM) else {
        return;
    };
    let cache = lists(&cluster, "spread");
    let other = lists(&cluster, "spread-other");
    for i in 0..600 {
        cache.insert(key(i), vec![i]).unwrap();
    }
    other.insert(key(1), vec![1]).unwrap();
    let backend = cache.backend().unwrap();
    let slots: HashSet<Slot> = (0..600).map(|i| slot(&backend, &key(i))).collect();
    // 600 keys over 16384 slots: about 589 distinct slots expected, no hash tag pins them.
    assert!(slots.len() > 550, "600 keys in only {} slots", slots.len());
    let global = pattern("spread", "global");
    let spread = per_master(&cluster, &global);
    assert_eq!(spread.iter().sum::<usize>(), 600, "{spread:?}");
    assert!(spread.iter().all(|&n| n > 100), "every primary: {spread:?}");
    backend.hash_set("h", "f", &3u8).unwrap();
    assert_eq!(backend.hash_get::<_, u8>("h", "f").unwrap(), Some(3));
    assert_eq!(cache.len(), 600, "len counts entries on every primary");

    {
        let _sb = memokit::sandbox();
        for i in 0..300 {
            cache.insert(key(i), vec![i + 1]).unwrap();
        }
        assert_eq!(cache.get("k3").unwrap(), Some(vec![4]));
        let sandboxed = per_master(&cluster, &pattern("spread", "sb"));
        assert!(sandboxed.iter().all(|&n| n > 0), "{sandboxed:?}");
    }
    let left = per_master(&cluster, &pattern("spread", "sb"));
    assert_eq!(
        left,
        [0, 0, 0],
        "the sandbox's teardown reached every primary"
    );
    assert_eq!(
        cache.get("k3").unwrap(),
        Some(vec![3]),
        "global entries stay"
    );

    let masters = cluster.masters();
    let (scans, keys) = (calls(&masters, "scan"), calls(&masters, "keys"));
    let per_node_scans: Vec<u64> = masters.iter().map(|m| m.calls("scan")).collect();
    cache.clear().unwrap();
    for (master, before) in masters.iter().zip(per_node_scans) {
        assert!(master.calls("scan") > before, "clear walked every primary");
    }
    assert!(calls(&masters, "scan") > scans);
    assert_eq!(calls(&masters, "keys"), keys, "never KEYS");
    assert_eq!(keys, 0);
    assert_eq!(per_master(&cluster, &pattern("spread", "")), [0, 0, 0]);
    assert_eq!(
        other.get("k1").unwrap(),
        Some(vec![1]),
        "another cache is untouched"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for i in 0..60 {
            cache.insert_async(key(i), vec![i]).await.unwrap();
        }
        assert_eq!(cache.get_async("k7").await.unwrap(), Some(vec![7]));
        assert_eq!(backend.count_async().await.unwrap(), 60);
        cache.clear_async().await.unwrap();
        assert_eq!(backend.count_async().await.unwrap(), 0);
    });
    assert_eq!(per_master(&cluster, &pattern("spread", "")), [0, 0, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_grouped_by_slot_and_exact_across_masters() {
    let Some(cluster) = Cluster::start(3, 1, CALM) else {
        return;
    };
    let cache = lists(&cluster, "batches");
    let backend = cache.backend().unwrap();
    let names: Vec<String> = (0..400).map(key).collect();
    let expected = |i: u32, present: bool| present.then(|| vec![i, i * 2]);
    cache
        .insert_many((0..300).map(|i| (key(i), vec![i, i * 2])))
        .unwrap();
    let spread = per_master(&cluster, &pattern("batches", "global"));
    assert!(
        spread.iter().all(|&n| n > 0),
        "one batch, every primary: {spread:?}"
    );
    let groups = names
        .iter()
        .map(|k| slot(&backend, k))
        .collect::<HashSet<_>>()
        .len();

    // On a cluster a group's MGET runs inside a one-line script: one EVAL per slot group.
    let masters = cluster.masters();
    let evals = calls(&masters, "eval");
    let found = cache.get_many(names.iter().map(String::as_str)).unwrap();
    assert_eq!(calls(&masters, "eval") - evals, groups as u64);
    let want: Vec<_> = (0..400).map(|i| expected(i, i < 300)).collect();
    assert_eq!(found, want);

    cache
        .insert_many_async((300..400).map(|i| (key(i), vec![i, i * 2])))
        .await
        .unwrap();
    let evals = calls(&masters, "eval");
    let found = cache
        .get_many_async(names.iter().map(String::as_str))
        .await
        .unwrap();
    assert_eq!(calls(&masters, "eval") - evals, groups as u64);
    let want: Vec<_> = (0..400).map(|i| expected(i, true)).collect();
    assert_eq!(found, want);
    let removed = cache
        .remove_many(names[..200].iter().map(String::as_str))
        .unwrap();
    assert_eq!(removed, 200);
    assert_eq!(backend.count_async().await.unwrap(), 200);
}

#[test]
fn calls_stay_exact_while_slots_migrate() {
    let Some(cluster) = Cluster::start(3, 1, CALM) else {
        return;
    };
    let cache = lists(&cluster, "reshard");
    let backend = cache.backend().unwrap();
    let masters = cluster.masters();
    let from = masters
        .iter()
        .find(|m| m.slot_ranges().iter().any(|&(first, _)| first == 0))
        .expect("a primary owns slot 0");
    let to = masters
        .iter()
        .find(|m| m.port() != from.port())
        .expect("another primary");
    // `redis-cli --cluster reshard` moves the source's lowest slots first: 0..MOVED here.
    const MOVED: u16 = 600;
    let migrating: HashSet<Slot> = (0..MOVED).filter_map(Slot::new).collect();
    let moving: Vec<String> = (0..)
        .map(key)
        .filter(|k| migrating.contains(&slot(&backend, k)))
        .take(80)
        .collect();
    for (i, k) in (0..).zip(&moving) {
        cache.insert(k.clone(), vec![0, i]).unwrap();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let done = AtomicBool::new(false);
    let mut rounds = 0u32;
    let mut failures = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            cluster.reshard(from, to, MOVED);
            done.store(true, Ordering::SeqCst);
        });
        while !done.load(Ordering::SeqCst) || rounds < 2 {
            rounds += 1;
            for (i, k) in (0..).zip(&moving) {
                let value = vec![rounds, i];
                let got = if rounds.is_multiple_of(2) {
                    cache
                        .insert(k.clone(), value.clone())
                        .and_then(|()| cache.get(k))
                } else {
                    runtime.block_on(async {
                        cache.insert_async(k.clone(), value.clone()).await?;
                        cache.get_async(k).await
                    })
                };
                match got {
                    Ok(Some(got)) if got == value => {}
                    other => failures.push(format!("round {rounds}, {k}: {other:?}")),
                }
            }
            // Batches alternate the other way round, so each round has sync and async calls.
            let keys = moving.iter().map(String::as_str);
            let all = if rounds.is_multiple_of(2) {
                runtime.block_on(cache.get_many_async(keys))
            } else {
                cache.get_many(keys)
            };
            let want: Vec<_> = (0..moving.len() as u32)
                .map(|i| Some(vec![rounds, i]))
                .collect();
            match all {
                Ok(all) if all == want => {}
                other => failures.push(format!("round {rounds}, get_many: {other:?}")),
            }
        }
    });
    assert!(
        failures.is_empty(),
        "{} failures: {failures:#?}",
        failures.len()
    );
    assert!(
        to.slot_ranges().iter().any(|&(first, _)| first == 0),
        "slot 0 moved"
    );
    let moved = to.scan(&pattern("reshard", "global")).len();
    assert_eq!(moved, moving.len(), "every key moved with its slot");
}

static FAILOVER_SEEDS: OnceLock<String> = OnceLock::new();
static TENFOLD_RUNS: AtomicU64 = AtomicU64::new(0);

fn failover_seeds() -> String {
    FAILOVER_SEEDS.get().cloned().unwrap_or_default()
}

#[cached(backend = redis, url = failover_seeds(), timeout = "1s", ttl = "10m")]
fn tenfold(x: u64) -> u64 {
    TENFOLD_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 10
}

#[cached(backend = redis, url = failover_seeds(), timeout = "1s", ttl = "10m")]
async fn tenfold_async(x: u64) -> u64 {
    TENFOLD_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 10
}

/// One call of `tenfold` and one of `tenfold_async` for each of 0..100, each checked; how many
/// ran their body.
fn pass(runtime: &tokio::runtime::Runtime) -> u64 {
    let runs = TENFOLD_RUNS.load(Ordering::SeqCst);
    for x in 0..100 {
        assert_eq!(tenfold(x), x * 10);
        assert_eq!(runtime.block_on(tenfold_async(x)), x * 10);
    }
    TENFOLD_RUNS.load(Ordering::SeqCst) - runs
}

#[test]
fn a_killed_master_fails_open_until_its_replica_takes_over_then_hits_resume() {
    let Some(mut cluster) = Cluster::start(3, 1, Duration::from_millis(1000)) else {
        return;
    };
    FAILOVER_SEEDS.set(cluster.seeds()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pass = || pass(&runtime);
    assert_eq!(pass(), 200, "cold: every call loads");
    assert_eq!(pass(), 0, "warm: every call hits");

    let victim = cluster.masters()[0].port();
    let victim = cluster
        .nodes
        .iter()
        .position(|n| n.port() == victim)
        .unwrap();
    let heir = cluster.replica_of(&cluster.nodes[victim]);
    let keys = |n: &RedisServer| n.command("DBSIZE");
    let start = Instant::now();
    while keys(&cluster.nodes[heir]) != keys(&cluster.nodes[victim]) {
        assert!(start.elapsed() < DEADLINE, "the replica never caught up");
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster.nodes[victim].kill();

    // Until the replica is promoted, calls for the dead primary's slots fail open.
    let errors = || {
        let (sync, async_) = (TENFOLD_MEMO.stats(), TENFOLD_ASYNC_MEMO.stats());
        (sync.errors, async_.errors)
    };
    let before = errors();
    let start = Instant::now();
    let mut outage_runs = 0;
    while !cluster.nodes[heir]
        .command("INFO replication")
        .contains("role:master")
    {
        assert!(start.elapsed() < DEADLINE, "the replica was never promoted");
        outage_runs += pass();
    }
    cluster.wait_until_ready(0);
    assert!(outage_runs > 0, "the outage was seen");
    let after = errors();
    assert!(after.0 > before.0 && after.1 > before.1, "and reported");

    // Then the promoted replica serves the entries it had copied: hits resume.
    let start = Instant::now();
    while pass() > 0 {
        assert!(start.elapsed() < DEADLINE, "hits never resumed");
    }
    assert_eq!(pass(), 0);
}
