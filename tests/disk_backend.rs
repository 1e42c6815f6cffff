//! The disk backend through `Cache`: entries and their deadlines survive a reopen, capacity,
//! sandboxes in one file, bad records and bad files, one owner per file, the atomic operations,
//! and a child process killed with SIGKILL in the middle of durable writes.
//!
//! Every test makes its own file under the system's temp folder and removes it at the end.
#![cfg(feature = "disk")]

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use memokit::clock::ManualClock;
use memokit::{Cache, CacheError, DiskBackend, DiskOptions, Durability, Ttl, sandbox};

/// A fresh path for one test, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "memokit-test-{}-{name}-{}.redb",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn open<
    K: memokit::CacheKey + serde::Serialize + serde::de::DeserializeOwned,
    V: memokit::CacheValue + serde::Serialize + serde::de::DeserializeOwned,
>(
    name: &str,
    file: &TempFile,
    durability: Durability,
) -> Result<Cache<K, V, DiskBackend>, CacheError> {
    Cache::builder(name)
        .backend_options(DiskOptions::new(&file.0).durability(durability))
        .build()
}

/// The setting a [`CacheError::Config`] is about.
fn setting(err: &CacheError) -> Option<&'static str> {
    match err {
        CacheError::Config { setting, .. } => Some(setting),
        _ => None,
    }
}

/// A [`CacheError::Config`] about `path` that names the file.
fn assert_names_the_path(err: &CacheError, file: &TempFile) {
    assert_eq!(setting(err), Some("path"), "{err}");
    assert!(
        err.to_string().contains(&*file.0.to_string_lossy()),
        "{err}"
    );
}

#[test]
fn entries_and_their_deadlines_survive_a_reopen() {
    let file = TempFile::new("reopen");
    let clock = ManualClock::new();
    let _on = clock.install();
    let users = open::<u64, String>("disk-reopen", &file, Durability::Durable).unwrap();
    users.insert(1, "ada".into()).unwrap();
    users
        .insert_with_ttl(2, "brief".into(), Duration::from_secs(60))
        .unwrap();
    users
        .insert_with_ttl(3, "longer".into(), Duration::from_secs(600))
        .unwrap();
    drop(users);

    clock.advance(Duration::from_secs(61));
    let users = open::<u64, String>("disk-reopen", &file, Durability::Durable).unwrap();
    assert_eq!(users.get(&1).unwrap().as_deref(), Some("ada"));
    assert_eq!(
        users.get(&2).unwrap(),
        None,
        "expired while the cache was closed"
    );
    assert_eq!(users.ttl(&3).unwrap(), Ttl::In(Duration::from_secs(539)));
    assert_eq!(users.ttl(&1).unwrap(), Ttl::Never);
    assert_eq!(users.len(), 2, "only live entries count");
    assert_eq!(users.purge_expired().unwrap(), 1);
    clock.advance(Duration::from_secs(600));
    drop(users);
    let users = open::<u64, String>("disk-reopen", &file, Durability::Durable).unwrap();
    assert_eq!(users.get(&3).unwrap(), None);
    assert!(users.expire(&1, Duration::from_secs(5)).unwrap());
    assert_eq!(users.ttl(&1).unwrap(), Ttl::In(Duration::from_secs(5)));
    assert!(users.persist(&1).unwrap());
    assert_eq!(users.ttl(&1).unwrap(), Ttl::Never);
}

#[test]
fn a_cache_wide_ttl_is_an_absolute_deadline_in_the_file() {
    let file = TempFile::new("ttl");
    let sb = sandbox();
    let build = || {
        Cache::<String, u32, DiskBackend>::builder("disk-ttl")
            .ttl(Duration::from_secs(10))
            .backend_options(DiskOptions::new(&file.0))
            .build()
            .unwrap()
    };
    let c = build();
    c.insert("a".into(), 1).unwrap();
    sb.advance(Duration::from_secs(9));
    assert_eq!(c.get("a").unwrap(), Some(1));
    sb.advance(Duration::from_secs(1));
    assert_eq!(c.get("a").unwrap(), None);
    assert!(!c.contains_key("a").unwrap());
}

#[test]
fn on_the_real_clock_an_entry_expires_at_its_ttl_never_before() {
    let file = TempFile::new("real-clock");
    let c = open::<u64, u64>("disk-real-clock", &file, Durability::Fast).unwrap();
    support::assert_never_expires_early(&c, Duration::from_millis(30), Duration::ZERO);
}

#[test]
fn capacity_evicts_the_oldest_writes_first() {
    let file = TempFile::new("capacity");
    let c: Cache<u32, u32, DiskBackend> = Cache::builder("disk-capacity")
        .capacity(3)
        .backend_options(DiskOptions::new(&file.0).durability(Durability::Fast))
        .build()
        .unwrap();
    for k in 0..5 {
        c.insert(k, k * 10).unwrap();
    }
    assert_eq!(c.len(), 3);
    assert_eq!(c.get(&0).unwrap(), None);
    assert_eq!(c.get(&1).unwrap(), None);
    assert_eq!(c.get(&4).unwrap(), Some(40));
    assert_eq!(c.stats().evicted, 2);
    c.insert(2, 21).unwrap();
    c.insert(5, 50).unwrap();
    assert_eq!(
        c.get(&3).unwrap(),
        None,
        "2 was rewritten, so 3 was the oldest"
    );
    assert_eq!(c.get(&2).unwrap(), Some(21));
    assert_eq!(c.prune(1).unwrap(), 2);
    assert_eq!(c.keys().collect::<Result<Vec<_>, _>>().unwrap(), vec![5]);
}

#[test]
fn a_file_without_an_order_table_keeps_the_write_order_for_a_cache_that_needs_it() {
    // Without a capacity or a TTL the file keeps no order table; the order numbers in the
    // values still give `prune`, and a later cache with a capacity, the oldest write.
    let file = TempFile::new("unordered");
    let bounded = |capacity| {
        Cache::<u32, u32, DiskBackend>::builder("disk-unordered")
            .capacity(capacity)
            .backend_options(DiskOptions::new(&file.0).durability(Durability::Fast))
            .build()
            .unwrap()
    };
    let plain = open::<u32, u32>("disk-unordered", &file, Durability::Fast).unwrap();
    for k in 0..5 {
        plain.insert(k, k).unwrap();
    }
    plain.insert(1, 11).unwrap(); // rewritten: now the newest
    assert!(plain.remove(&3).unwrap());
    assert_eq!(plain.len(), 4);
    assert_eq!(plain.prune(3).unwrap(), 1, "0 was the oldest");
    assert_eq!(plain.get(&0).unwrap(), None);
    drop(plain);

    let c = bounded(3);
    assert_eq!(c.len(), 3, "2, 4 and 1, in that write order");
    c.insert(5, 5).unwrap();
    assert_eq!(c.get(&2).unwrap(), None, "2 was the oldest write");
    c.insert(6, 6).unwrap();
    assert_eq!(c.get(&4).unwrap(), None, "then 4");
    assert_eq!(c.get(&1).unwrap(), Some(11));
    drop(c);

    let plain = open::<u32, u32>("disk-unordered", &file, Durability::Fast).unwrap();
    plain.insert(7, 7).unwrap();
    assert_eq!(plain.len(), 4);
    drop(plain);
    let c = bounded(3);
    c.insert(8, 8).unwrap(); // five entries over a capacity of three: the two oldest go
    let mut left = c.keys().collect::<Result<Vec<_>, _>>().unwrap();
    left.sort();
    assert_eq!(left, [6, 7, 8]);
}

#[test]
fn two_hundred_parallel_sandboxes_share_a_file_and_leave_nothing() {
    let file = TempFile::new("sandboxes");
    let c: Cache<u32, u64, DiskBackend> = Cache::builder("disk-sandboxes")
        .backend_options(DiskOptions::new(&file.0).durability(Durability::Fast))
        .build()
        .unwrap();
    c.insert(0, u64::MAX).unwrap();
    thread::scope(|s| {
        for worker in 0..8u64 {
            let c = &c;
            s.spawn(move || {
                for test in 0..25u64 {
                    let id = worker * 25 + test;
                    let _sb = sandbox();
                    assert_eq!(c.get(&0).unwrap(), None, "the global entry is not seen");
                    c.insert_many((0..4).map(|k| (k, id))).unwrap();
                    assert_eq!(c.len(), 4);
                    assert!(
                        (0..4).all(|k| c.get(&k).unwrap() == Some(id)),
                        "no other sandbox's value"
                    );
                }
            });
        }
    });
    assert_eq!(c.get(&0).unwrap(), Some(u64::MAX));
    assert_eq!(c.len(), 1, "every sandbox's entries are gone");
}

#[test]
fn a_value_of_another_type_is_a_miss_and_an_error() {
    let file = TempFile::new("identity");
    let strings = open::<u64, String>("disk-identity", &file, Durability::Durable).unwrap();
    strings.insert(7, String::new()).unwrap();
    drop(strings);
    let numbers = open::<u64, u64>("disk-identity", &file, Durability::Durable).unwrap();
    assert_eq!(numbers.get(&7).unwrap(), None);
    assert_eq!(numbers.stats().errors, 1);
    assert_eq!(numbers.len(), 0);
    numbers.insert(7, 3).unwrap();
    assert_eq!(
        numbers.get(&7).unwrap(),
        Some(3),
        "the next write replaces it"
    );
}

#[test]
fn a_foreign_file_is_a_config_error_naming_the_path() {
    let file = TempFile::new("foreign");
    std::fs::write(
        &file.0,
        b"this is not a database, and never was: ".repeat(200),
    )
    .unwrap();
    let err = open::<u64, u64>("disk-foreign", &file, Durability::Durable).unwrap_err();
    assert_names_the_path(&err, &file);
}

#[test]
fn a_missing_path_is_a_config_error() {
    let err = Cache::<u64, u64, DiskBackend>::builder("disk-no-path")
        .build()
        .unwrap_err();
    assert_eq!(setting(&err), Some("path"), "{err}");
    let err = Cache::<u64, u64, DiskBackend>::builder("disk-tti")
        .tti(Duration::from_secs(1))
        .backend_options(DiskOptions::new(&TempFile::new("tti").0))
        .build()
        .unwrap_err();
    assert_eq!(setting(&err), Some("tti"), "{err}");
    assert!(err.to_string().contains("disk-tti"), "{err}");
}

#[test]
fn a_second_opener_of_the_file_is_a_config_error_naming_the_path() {
    let file = TempFile::new("owner");
    let first = open::<u64, u64>("disk-owner", &file, Durability::Durable).unwrap();
    let err = open::<u64, u64>("disk-owner-2", &file, Durability::Durable).unwrap_err();
    assert_names_the_path(&err, &file);
    assert!(err.to_string().contains("already open"), "{err}");
    drop(first);
    open::<u64, u64>("disk-owner", &file, Durability::Durable)
        .expect("free once the first is gone");
}

#[test]
fn eight_threads_of_a_thousand_updates_lose_none() {
    let file = TempFile::new("update");
    let hits = open::<String, u64>("disk-update", &file, Durability::Fast).unwrap();
    let start = Barrier::new(8);
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                start.wait();
                for _ in 0..1_000 {
                    hits.update("k".to_string(), |n| Some(n.copied().unwrap_or(0) + 1))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(hits.get("k").unwrap(), Some(8_000));
    assert_eq!(hits.take("k").unwrap(), Some(8_000));
    assert_eq!(hits.get("k").unwrap(), None);
}

#[test]
fn a_read_that_begins_after_a_write_returned_sees_it() {
    // Readers share one open read snapshot until a write commits (`disk/store.rs`): racing a
    // writer, none may read an older value than the last write acknowledged before its read.
    let file = TempFile::new("fresh");
    let cache = open::<u64, u64>("disk-fresh", &file, Durability::Fast).unwrap();
    let acknowledged = std::sync::atomic::AtomicU64::new(0);
    let last = 2_000;
    thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let before = acknowledged.load(std::sync::atomic::Ordering::Acquire);
                    let seen = cache.get(&0).unwrap().unwrap_or(0);
                    assert!(seen >= before, "read {seen} after write {before} returned");
                    if before == last {
                        break;
                    }
                }
            });
        }
        for i in 1..=last {
            cache.insert(0, i).unwrap();
            acknowledged.store(i, std::sync::atomic::Ordering::Release);
        }
    });
    assert_eq!(cache.get(&0).unwrap(), Some(last));
}

#[test]
fn a_transfer_is_never_seen_half_done() {
    let file = TempFile::new("transfer");
    let accounts = open::<String, i64>("disk-transfer", &file, Durability::Fast).unwrap();
    let (a, b) = ("a".to_string(), "b".to_string());
    accounts
        .insert_many([(a.clone(), 1_000), (b.clone(), 1_000)])
        .unwrap();
    let keys = [a.clone(), b.clone()];
    thread::scope(|s| {
        s.spawn(|| {
            for i in 0..300 {
                let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
                accounts
                    .transaction(keys.clone(), |tx| {
                        let f = *tx.get(from).unwrap();
                        let t = *tx.get(to).unwrap();
                        tx.insert(from, f - 7);
                        tx.insert(to, t + 7);
                    })
                    .unwrap();
            }
        });
        s.spawn(|| {
            for _ in 0..300 {
                let seen = accounts.get_many([&a, &b]).unwrap();
                let total: i64 = seen.iter().map(|v| v.unwrap()).sum();
                assert_eq!(total, 2_000, "{seen:?}");
            }
        });
    });
    let removed = accounts.remove_where(|_, v| *v > 1_000).unwrap();
    assert!(removed <= 1);
    let mut walked = accounts.keys().collect::<Result<Vec<_>, _>>().unwrap();
    walked.sort();
    assert_eq!(walked.len() as u64, 2 - removed);
}

#[test]
fn a_walk_visits_every_entry_once_across_steps() {
    let file = TempFile::new("walk");
    let c = open::<u32, u32>("disk-walk", &file, Durability::Fast).unwrap();
    c.insert_many((0..1_000).map(|k| (k, k))).unwrap();
    let mut keys = c.keys().collect::<Result<Vec<_>, _>>().unwrap();
    keys.sort();
    assert_eq!(keys, (0..1_000).collect::<Vec<_>>());
    assert_eq!(c.remove_where(|k, _| k % 2 == 0).unwrap(), 500);
    assert_eq!(c.len(), 500);
    assert_eq!(c.remove_many([&1, &3, &4]).unwrap(), 2);
}

/// This test binary run again for its test `name` alone, with `var` set to `value`: the child
/// process of a test that kills it or limits it, which finds `var` and does the work.
fn child(name: &str, var: &str, value: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(var, value);
    command
}

/// The child of the crash test: durable writes of key i = i * 3, each acknowledged on stdout
/// once `insert` returned, until it is killed.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os("MEMOKIT_DISK_CRASH_CHILD") else {
        return;
    };
    let c: Cache<u64, u64, DiskBackend> = Cache::builder("disk-crash")
        .backend_options(DiskOptions::new(PathBuf::from(path)))
        .build()
        .unwrap();
    for i in 0.. {
        c.insert(i, i * 3).unwrap();
        println!("ack {i}");
    }
}

#[test]
fn a_write_acknowledged_before_sigkill_is_there_after_it() {
    let file = TempFile::new("crash");
    let mut child = child("crash_child", "MEMOKIT_DISK_CRASH_CHILD", &file.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // A moment that differs from run to run: between 20 and 120 acknowledged writes, then
    // up to 30 ms more.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let after = 20 + u64::from(nanos % 100);
    let mut acked = None;
    let mut lines = lines.map_while(Result::ok);
    for line in lines.by_ref() {
        if let Some(i) = line.strip_prefix("ack ") {
            let i: u64 = i.parse().unwrap();
            acked = Some(i);
            if i >= after {
                break;
            }
        }
    }
    let pause = Instant::now() + Duration::from_micros(u64::from(nanos % 30_000));
    while Instant::now() < pause {
        std::hint::spin_loop();
    }
    child.kill().unwrap(); // SIGKILL on Unix
    // Writes acknowledged between the pause and the kill count too.
    acked = lines
        .filter_map(|l| l.strip_prefix("ack ").and_then(|i| i.parse().ok()))
        .last()
        .or(acked);
    child.wait().unwrap();
    let acked = acked.expect("the child acknowledged writes");

    let c: Cache<u64, u64, DiskBackend> = Cache::builder("disk-crash")
        .backend_options(DiskOptions::new(&file.0))
        .build()
        .expect("the file opens after a crash");
    for i in 0..=acked {
        assert_eq!(
            c.get(&i).unwrap(),
            Some(i * 3),
            "acknowledged write {i} of {acked}"
        );
    }
    let stats = c.stats();
    assert_eq!(stats.errors, 0, "nothing corrupt");
    assert!(
        stats.entries == acked + 1 || stats.entries == acked + 2,
        "{stats:?}"
    );
}

static SQUARES_RUN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[memokit::cached(backend = disk, path = "target/memokit-tests/disk-macro-square.redb")]
fn square(x: u64) -> u64 {
    SQUARES_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    x * x
}

/// A cache module on disk.
#[derive(memokit::Cache)]
#[cache(key = u64, value = String, backend = disk, path = "target/memokit-tests/disk-module.redb")]
struct Names;

#[test]
fn the_macros_put_caches_on_disk() {
    let _sb = sandbox();
    assert_eq!(square(12), 144);
    assert_eq!(square(12), 144);
    assert_eq!(SQUARES_RUN.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(SQUARE_MEMO.cache().unwrap().backend_kind(), "disk");
    Names::insert(1, "ada".into()).unwrap();
    assert_eq!(Names::get(&1).unwrap().as_deref(), Some("ada"));
    assert_eq!(Names::cache().unwrap().backend_kind(), "disk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_operations_see_the_sandbox_and_its_clock() {
    let file = TempFile::new("async");
    let c = open::<u64, String>("disk-async", &file, Durability::Durable).unwrap();
    let sb = sandbox();
    c.insert_with_ttl_async(1, "one".into(), Duration::from_secs(5))
        .await
        .unwrap();
    c.insert_many_async([(2, "two".into()), (3, "three".into())])
        .await
        .unwrap();
    assert_eq!(c.get_async(&1).await.unwrap().as_deref(), Some("one"));
    sb.advance(Duration::from_secs(5));
    assert_eq!(c.get_async(&1).await.unwrap(), None, "the sandbox's clock");
    assert_eq!(c.remove_many_async([&2, &3]).await.unwrap(), 2);
    assert!(!c.remove_async(&3).await.unwrap());
    drop(sb);
    assert_eq!(c.get_many_async([&1, &2]).await.unwrap(), vec![None, None]);
    c.clear_async().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_async_operation_runs_off_the_runtime_and_on_the_sandbox_clock() {
    let file = TempFile::new("async-all");
    let c = open::<u64, String>("disk-async-all", &file, Durability::Durable).unwrap();
    let sb = sandbox();
    c.insert_with_ttl_async(1, "one".into(), Duration::from_secs(10))
        .await
        .unwrap();
    c.insert_async(2, "two".into()).await.unwrap();
    sb.advance(Duration::from_secs(4));
    // Each reads the sandbox's clock, though the work runs on Tokio's blocking pool.
    assert_eq!(
        c.ttl_async(&1).await.unwrap(),
        Ttl::In(Duration::from_secs(6))
    );
    assert_eq!(c.ttl_async(&2).await.unwrap(), Ttl::Never);
    assert!(c.contains_key_async(&1).await.unwrap());
    assert!(c.touch_async(&2).await.unwrap());
    assert!(c.expire_async(&2, Duration::from_secs(3)).await.unwrap());
    assert_eq!(
        c.ttl_async(&2).await.unwrap(),
        Ttl::In(Duration::from_secs(3))
    );
    assert!(c.persist_async(&2).await.unwrap());
    assert_eq!(
        c.update_async(1, |v| v.map(|v| format!("{v}!")))
            .await
            .unwrap()
            .as_deref(),
        Some("one!")
    );
    let moved = c
        .transaction_async([1, 3], |tx| {
            let v = tx.get(&1).cloned();
            tx.remove(&1);
            if let Some(v) = &v {
                tx.insert(&3, v.clone());
            }
            v
        })
        .await
        .unwrap();
    assert_eq!(moved.as_deref(), Some("one!"));
    assert_eq!(c.take_async(&3).await.unwrap().as_deref(), Some("one!"));
    assert_eq!(c.take_async(&3).await.unwrap(), None);
    c.insert_with_ttl_async(4, "four".into(), Duration::from_secs(1))
        .await
        .unwrap();
    sb.advance(Duration::from_secs(1));
    assert!(!c.contains_key_async(&4).await.unwrap());
    assert_eq!(c.purge_expired_async().await.unwrap(), 1);
    assert_eq!(c.len(), 1);
}

/// With one worker, a closure of `update_async` that waits for another task of the runtime
/// gets its message only if the worker's other tasks moved to another thread while the disk
/// transaction held it.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_atomic_update_does_not_hold_the_only_worker() {
    let file = TempFile::new("async-in-place");
    let c = open::<u64, u64>("disk-async-in-place", &file, Durability::Durable).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let mut started_tx = Some(started_tx);
    let updater = {
        let c = c.clone();
        tokio::spawn(async move {
            c.update_async(1, move |_| {
                if let Some(started) = started_tx.take() {
                    started.send(()).unwrap();
                }
                // A generous bound, so a held worker fails the test instead of hanging it.
                Some(rx.recv_timeout(Duration::from_secs(30)).unwrap_or(0))
            })
            .await
        })
    };
    // Sends only once the closure runs, so the message cannot be waiting for it beforehand.
    let sender = tokio::spawn(async move {
        started_rx.await.unwrap();
        tx.send(42).unwrap();
    });
    assert_eq!(updater.await.unwrap().unwrap(), Some(42));
    sender.await.unwrap();
    assert_eq!(c.get(&1).unwrap(), Some(42));
}

/// Caps every file this process writes at `bytes` (`RLIMIT_FSIZE`), with `SIGXFSZ` ignored, so
/// that a write past the cap fails with `EFBIG` as a write to a full disk fails with `ENOSPC`,
/// instead of killing the process.
#[cfg(unix)]
fn cap_file_size(bytes: u64) {
    // SAFETY: `signal` and `getrlimit`/`setrlimit` on this process, with a valid signal
    // number, a valid handler constant and a pointer to a live `rlimit`.
    unsafe {
        assert_ne!(libc::signal(libc::SIGXFSZ, libc::SIG_IGN), libc::SIG_ERR);
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = bytes;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// The child of the full-disk test: fills a disk cache in the file `MEMOKIT_DISK_FULL_CHILD`
/// past the cap on its size and checks what the cache does then, and what a snapshot's `save`
/// (beside it, extension `snapshot`) does.
#[cfg(unix)]
#[test]
fn full_disk_child() {
    let Some(dir) = std::env::var_os("MEMOKIT_DISK_FULL_CHILD") else {
        return;
    };
    let path = PathBuf::from(dir);
    let c: Cache<u64, String, DiskBackend> = Cache::builder("disk-full")
        .backend_options(DiskOptions::new(&path))
        .build()
        .unwrap();
    c.insert_many((0..100).map(|k| (k, k.to_string()))).unwrap();
    #[cfg(feature = "snapshot")]
    let snapshot = snapshot_before_the_cap(path.with_extension("snapshot"));
    cap_file_size(std::fs::metadata(&path).unwrap().len() + 256 * 1024);

    let big = "x".repeat(16 * 1024);
    let mut next = 100;
    let full = loop {
        match c.insert(next, big.clone()) {
            Ok(()) => next += 1,
            Err(e) => break e,
        }
        assert!(next < 10_000, "the cap never stopped a write");
    };
    let still_full = c.insert(next, big.clone()).unwrap_err();
    for err in [&full, &still_full] {
        let CacheError::Backend { cache, source } = err else {
            panic!("not a backend error: {err:?}");
        };
        assert_eq!(&**cache, "disk-full");
        assert!(source.message().contains(&*path.to_string_lossy()), "{err}");
        assert!(err.to_string().contains("File too large"), "{err}");
    }
    // Everything acknowledged before the disk filled is still served.
    for k in 0..100 {
        assert_eq!(c.get(&k).unwrap(), Some(k.to_string()), "entry {k}");
    }
    for k in 100..next {
        assert_eq!(c.get(&k).unwrap().as_ref(), Some(&big), "entry {k}");
    }
    assert_eq!(c.len(), next);
    assert_eq!(c.get(&next).unwrap(), None, "the failed write left nothing");

    #[cfg(feature = "snapshot")]
    snapshot.save_past_the_cap();

    // Room again: writes work again, without a restart.
    cap_file_size(libc::RLIM_INFINITY);
    c.insert(next, big.clone()).unwrap();
    assert_eq!(c.get(&next).unwrap().as_ref(), Some(&big));
    assert_eq!(c.len(), next + 1);
    println!("full-disk child done");
}

/// A memory cache whose snapshot was saved before the cap and is too big to save after it.
#[cfg(all(unix, feature = "snapshot"))]
struct Snapshot {
    cache: Cache<u64, String>,
    path: PathBuf,
}

#[cfg(all(unix, feature = "snapshot"))]
fn snapshot_before_the_cap(path: PathBuf) -> Snapshot {
    let cache: Cache<u64, String> = Cache::builder("disk-full-snapshot").build().unwrap();
    cache.insert(1, "old".into()).unwrap();
    assert_eq!(cache.save(&path).unwrap(), 1);
    cache
        .insert_many((2..200).map(|k| (k, "y".repeat(16 * 1024))))
        .unwrap();
    Snapshot { cache, path }
}

#[cfg(all(unix, feature = "snapshot"))]
impl Snapshot {
    /// The save fails naming the path, the previous snapshot stays whole, no temporary file is
    /// left, and the cache is untouched.
    fn save_past_the_cap(&self) {
        let err = self.cache.save(&self.path).unwrap_err();
        let text = err.to_string();
        let CacheError::Snapshot {
            cache, path, kind, ..
        } = err
        else {
            panic!("not a snapshot error: {text}");
        };
        assert_eq!(&*cache, "disk-full-snapshot");
        assert_eq!(&*path, self.path.as_path());
        assert_eq!(
            kind,
            memokit::SnapshotErrorKind::Io(std::io::ErrorKind::FileTooLarge),
            "{text}"
        );
        assert!(text.contains(&*self.path.to_string_lossy()), "{text}");
        let older: Cache<u64, String> = Cache::builder("disk-full-snapshot-older").build().unwrap();
        assert_eq!(older.restore(&self.path).unwrap(), 1, "the older snapshot");
        assert_eq!(older.get(&1).unwrap().as_deref(), Some("old"));
        // The temporary file is `.<name>.<pid>-<n>.tmp` beside the snapshot.
        let temporary = format!(".{}.", self.path.file_name().unwrap().to_string_lossy());
        let files = std::fs::read_dir(self.path.parent().unwrap())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.starts_with(&temporary) && name.ends_with(".tmp")
            })
            .count();
        assert_eq!(files, 0, "no temporary file left");
        assert_eq!(self.cache.len(), 199);
    }
}

#[cfg(unix)]
#[test]
fn a_full_disk_is_an_error_and_the_cache_keeps_serving_what_it_has() {
    let file = TempFile::new("full");
    let _snapshot = TempFile(file.0.with_extension("snapshot"));
    let out = child("full_disk_child", "MEMOKIT_DISK_FULL_CHILD", &file.0)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains("full-disk child done"),
        "{}\n{stdout}\n{stderr}",
        out.status
    );
}
