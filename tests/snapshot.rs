//! Save, restore and export (feature `snapshot`): round trips with expiry across a clock moved
//! forward between save and restore, capacity, snapshots of another type refused, truncated,
//! corrupt, foreign and missing files reported with their path and the cache left as it was,
//! sandboxes, and snapshots moving between the memory and disk backends.
//!
//! Every test runs in a sandbox (its own namespace and clock) and writes under its own folder
//! in the system's temp folder, removed at the end.
#![cfg(feature = "snapshot")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use memokit::{Cache, CacheError, Iterate, SnapshotErrorKind, Ttl, sandbox};

/// A fresh folder for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "memokit-snapshot-{}-{name}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cache<V: memokit::CacheValue>(name: &str) -> Cache<u64, V> {
    Cache::builder(name).build().unwrap()
}

/// The kind and path of a snapshot error, and its text.
fn snapshot_error(err: CacheError) -> (SnapshotErrorKind, PathBuf, String) {
    let text = err.to_string();
    match err {
        CacheError::Snapshot { kind, path, .. } => (kind, path.to_path_buf(), text),
        other => panic!("not a snapshot error: {other}"),
    }
}

fn sorted<V: memokit::CacheValue + Ord, B: Iterate<u64, V>>(
    cache: &Cache<u64, V, B>,
) -> Vec<(u64, V)> {
    let mut all = cache.iter().collect::<Result<Vec<_>, _>>().unwrap();
    all.sort();
    all
}

/// Entry 1 without a deadline, 2 due in 10 seconds, 3 in 100.
fn three_deadlines(c: &Cache<u64, String>) {
    c.insert(1, "forever".into()).unwrap();
    c.insert_with_ttl(2, "short".into(), Duration::from_secs(10))
        .unwrap();
    c.insert_with_ttl(3, "long".into(), Duration::from_secs(100))
        .unwrap();
}

#[test]
fn a_round_trip_keeps_values_and_time_left_and_skips_what_expired_meanwhile() {
    let sb = sandbox();
    let dir = TempDir::new("expiry");
    let path = dir.file("users.snapshot");
    let users = cache::<String>("snapshot-expiry");
    three_deadlines(&users);
    assert_eq!(users.save(&path).unwrap(), 3);

    // The program is down for 50 seconds: entry 2 was due meanwhile.
    sb.advance(Duration::from_secs(50));
    let next = cache::<String>("snapshot-expiry-next");
    assert_eq!(next.restore(&path).unwrap(), 2);
    assert_eq!(
        sorted(&next),
        [(1, "forever".to_string()), (3, "long".to_string())]
    );
    assert_eq!(next.ttl(&1).unwrap(), Ttl::Never);
    assert_eq!(next.ttl(&3).unwrap(), Ttl::In(Duration::from_secs(50)));
    sb.advance(Duration::from_secs(50));
    assert_eq!(next.get(&3).unwrap(), None, "its deadline came with it");
    assert_eq!(next.get(&1).unwrap().as_deref(), Some("forever"));
}

#[test]
fn export_yields_live_entries_with_their_time_left() {
    let sb = sandbox();
    let tokens = cache::<String>("snapshot-export");
    tokens.insert(1, "a".into()).unwrap();
    tokens
        .insert_with_ttl(2, "b".into(), Duration::from_secs(30))
        .unwrap();
    tokens
        .insert_with_ttl(3, "c".into(), Duration::from_secs(5))
        .unwrap();
    sb.advance(Duration::from_secs(10));
    let mut all = tokens.export().collect::<Result<Vec<_>, _>>().unwrap();
    all.sort_by_key(|(k, ..)| *k);
    assert_eq!(
        all,
        [
            (1, "a".to_string(), None),
            (2, "b".to_string(), Some(Duration::from_secs(20)))
        ]
    );
}

#[test]
fn a_restore_honours_the_capacity_and_the_ttl_of_the_restoring_cache() {
    let _sb = sandbox();
    let dir = TempDir::new("capacity");
    let path = dir.file("big.snapshot");
    let big = cache::<u64>("snapshot-capacity-big");
    big.insert_many((0..1000).map(|k| (k, k * 2))).unwrap();
    assert_eq!(big.save(&path).unwrap(), 1000);

    let small: Cache<u64, u64> = Cache::builder("snapshot-capacity-small")
        .capacity(100)
        .ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    assert_eq!(small.restore(&path).unwrap(), 1000);
    let kept = sorted(&small);
    assert!(
        !kept.is_empty() && kept.len() <= 100,
        "{} entries",
        kept.len()
    );
    assert!(kept.iter().all(|&(k, v)| v == k * 2), "no value misread");
    // Saved without a TTL, restored under a cache with one: the cache's TTL applies.
    let (k, _) = kept[0];
    assert_eq!(small.ttl(&k).unwrap(), Ttl::In(Duration::from_secs(60)));
}

#[test]
fn a_restore_overwrites_the_keys_it_has_and_leaves_the_others() {
    let _sb = sandbox();
    let dir = TempDir::new("merge");
    let path = dir.file("merge.snapshot");
    let saved = cache::<String>("snapshot-merge-saved");
    saved
        .insert_many([(1, "from file".to_string()), (2, "also".to_string())])
        .unwrap();
    saved.save(&path).unwrap();
    let live = cache::<String>("snapshot-merge-live");
    live.insert_many([(1, "old".to_string()), (9, "mine".to_string())])
        .unwrap();
    live.restore(&path).unwrap();
    assert_eq!(
        sorted(&live),
        [
            (1, "from file".to_string()),
            (2, "also".to_string()),
            (9, "mine".to_string())
        ]
    );
}

#[test]
fn a_snapshot_of_another_type_or_version_is_refused_and_changes_nothing() {
    let _sb = sandbox();
    let dir = TempDir::new("mismatch");
    let path = dir.file("strings.snapshot");
    let strings = cache::<String>("snapshot-mismatch-strings");
    // `""` and `0u64` are the same postcard byte: only the type identity tells them apart.
    strings.insert(1, String::new()).unwrap();
    strings.save(&path).unwrap();

    let numbers = cache::<u64>("snapshot-mismatch-numbers");
    numbers.insert(7, 7).unwrap();
    let (kind, at, text) = snapshot_error(numbers.restore(&path).unwrap_err());
    assert_eq!(kind, SnapshotErrorKind::Mismatch);
    assert_eq!(at, path);
    assert!(text.contains("another key type"), "{text}");
    assert_eq!(sorted(&numbers), [(7, 7)]);

    let bumped: Cache<u64, String> = Cache::builder("snapshot-mismatch-version")
        .version(2)
        .build()
        .unwrap();
    let (kind, ..) = snapshot_error(bumped.restore(&path).unwrap_err());
    assert_eq!(kind, SnapshotErrorKind::Mismatch);
    assert!(bumped.is_empty());
}

#[test]
fn truncated_corrupt_foreign_and_missing_files_name_the_path_and_change_nothing() {
    let _sb = sandbox();
    let dir = TempDir::new("bad");
    let good = dir.file("good.snapshot");
    let source = cache::<String>("snapshot-bad-source");
    source
        .insert_many((0..50).map(|k| (k, format!("value {k}"))))
        .unwrap();
    source.save(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let path = dir.file(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x40;
    let cases: [(PathBuf, SnapshotErrorKind, &str); 5] = [
        (
            write("truncated.snapshot", &bytes[..bytes.len() * 2 / 3]),
            SnapshotErrorKind::Corrupt,
            "checksum",
        ),
        (
            write("flipped.snapshot", &flipped),
            SnapshotErrorKind::Corrupt,
            "checksum",
        ),
        (
            write("foreign.snapshot", b"SQLite format 3\0 and more"),
            SnapshotErrorKind::Foreign,
            "not a memokit snapshot",
        ),
        (
            write("empty.snapshot", b""),
            SnapshotErrorKind::Foreign,
            "not a memokit snapshot",
        ),
        (
            dir.file("missing.snapshot"),
            SnapshotErrorKind::Io(std::io::ErrorKind::NotFound),
            "",
        ),
    ];
    let target = cache::<String>("snapshot-bad-target");
    target.insert(1, "kept".into()).unwrap();
    for (path, kind, needle) in cases {
        let (got, at, text) = snapshot_error(target.restore(&path).unwrap_err());
        assert_eq!(got, kind, "{text}");
        assert_eq!(at, path);
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(needle), "{text}");
        assert_eq!(sorted(&target), [(1, "kept".to_string())], "{text}");
    }
    // The good file still restores.
    assert_eq!(target.restore(&good).unwrap(), 50);
}

#[test]
fn a_save_replaces_the_previous_snapshot_and_leaves_no_temporary_file() {
    let _sb = sandbox();
    let dir = TempDir::new("replace");
    let path = dir.file("nested/folder/cache.snapshot");
    let items = cache::<u64>("snapshot-replace");
    items.insert_many((0..10).map(|k| (k, k))).unwrap();
    assert_eq!(items.save(&path).unwrap(), 10);
    items.clear().unwrap();
    items.insert(99, 99).unwrap();
    assert_eq!(items.save(&path).unwrap(), 1);
    let files: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, ["cache.snapshot"]);
    let back = cache::<u64>("snapshot-replace-back");
    back.restore(&path).unwrap();
    assert_eq!(sorted(&back), [(99, 99)]);
}

#[test]
fn a_save_in_a_sandbox_holds_that_sandbox_only() {
    let dir = TempDir::new("sandboxes");
    let path = dir.file("one.snapshot");
    let shared = cache::<u64>("snapshot-sandboxes");
    {
        let _other = sandbox();
        shared.insert(1, 1).unwrap();
    }
    let _mine = sandbox();
    shared.insert(2, 2).unwrap();
    assert_eq!(shared.save(&path).unwrap(), 1);
    shared.clear().unwrap();
    shared.restore(&path).unwrap();
    assert_eq!(sorted(&shared), [(2, 2)]);
}

#[test]
fn a_save_into_a_folder_that_cannot_be_made_is_an_io_error_naming_the_path() {
    let _sb = sandbox();
    let dir = TempDir::new("unwritable");
    let blocker = dir.file("a-file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let path = blocker.join("cache.snapshot");
    let items = cache::<u64>("snapshot-unwritable");
    items.insert(1, 1).unwrap();
    let (kind, at, _) = snapshot_error(items.save(&path).unwrap_err());
    assert!(matches!(kind, SnapshotErrorKind::Io(_)), "{kind:?}");
    assert_eq!(at, path);
    assert_eq!(items.get(&1).unwrap(), Some(1), "the cache is untouched");
}

#[cfg(feature = "disk")]
mod disk {
    use super::*;
    use memokit::{DiskBackend, DiskOptions};

    fn disk_cache(name: &str, file: &Path) -> Cache<u64, String, DiskBackend> {
        Cache::builder(name)
            .capacity(100)
            .backend_options(DiskOptions::new(file))
            .build()
            .unwrap()
    }

    #[test]
    fn snapshots_move_between_memory_and_disk_with_their_deadlines() {
        let sb = sandbox();
        let dir = TempDir::new("disk");
        let memory = cache::<String>("snapshot-disk-memory");
        memory.insert(1, "forever".into()).unwrap();
        memory
            .insert_with_ttl(2, "soon".into(), Duration::from_secs(10))
            .unwrap();
        let from_memory = dir.file("from-memory.snapshot");
        memory.save(&from_memory).unwrap();

        let on_disk = disk_cache("snapshot-disk", &dir.file("cache.redb"));
        assert_eq!(on_disk.restore(&from_memory).unwrap(), 2);
        assert_eq!(on_disk.ttl(&2).unwrap(), Ttl::In(Duration::from_secs(10)));
        on_disk.insert(3, "disk only".into()).unwrap();
        let from_disk = dir.file("from-disk.snapshot");
        assert_eq!(on_disk.save(&from_disk).unwrap(), 3);

        sb.advance(Duration::from_secs(20));
        let back = cache::<String>("snapshot-disk-back");
        assert_eq!(back.restore(&from_disk).unwrap(), 2);
        assert_eq!(
            sorted(&back),
            [(1, "forever".to_string()), (3, "disk only".to_string())]
        );
    }

    #[test]
    fn a_restore_into_disk_honours_its_capacity_and_a_bad_file_changes_nothing() {
        let _sb = sandbox();
        let dir = TempDir::new("disk-capacity");
        let big = cache::<String>("snapshot-disk-big");
        big.insert_many((0..1000).map(|k| (k, k.to_string())))
            .unwrap();
        let path = dir.file("big.snapshot");
        big.save(&path).unwrap();
        let on_disk = disk_cache("snapshot-disk-capacity", &dir.file("cache.redb"));
        on_disk.restore(&path).unwrap();
        assert_eq!(on_disk.len(), 100);

        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 1);
        std::fs::write(&path, &bytes).unwrap();
        on_disk.clear().unwrap();
        on_disk.insert(5, "kept".into()).unwrap();
        let (kind, ..) = snapshot_error(on_disk.restore(&path).unwrap_err());
        assert_eq!(kind, SnapshotErrorKind::Corrupt);
        assert_eq!(sorted(&on_disk), [(5, "kept".to_string())]);
    }
}

/// The README's example, with a temp path.
#[test]
fn the_readme_example() -> Result<(), CacheError> {
    let _sb = sandbox();
    let dir = TempDir::new("readme");
    let path = dir.file("sessions.snapshot");
    for run in 0..2 {
        let sessions: Cache<u64, String> = Cache::builder(if run == 0 {
            "readme-sessions-first"
        } else {
            "readme-sessions-second"
        })
        .capacity(100_000)
        .build()?;
        // At start: pick up where the last run stopped; no file yet is the first run.
        match sessions.restore(&path) {
            Ok(restored) => println!("{restored} sessions back"),
            Err(CacheError::Snapshot {
                kind: SnapshotErrorKind::Io(std::io::ErrorKind::NotFound),
                ..
            }) => {}
            Err(e) => eprintln!("starting cold: {e}"),
        }
        assert_eq!(sessions.len(), run, "the second run starts warm");
        sessions.insert(7, "ada".into())?;
        // At shutdown, or on a timer: the file is replaced atomically.
        sessions.save(&path)?;
    }
    Ok(())
}

/// `save_async` and `restore_async` (feature `tokio`): the same round trip on both runtime
/// flavours, in the test's sandbox and on its clock though the work runs on the blocking pool,
/// and a save that waits for another task of the runtime without holding its only worker.
#[cfg(feature = "tokio")]
mod on_tokio {
    use std::sync::{Arc, Mutex, mpsc};

    use memokit::sandbox::InSandbox;
    use serde::{Deserialize, Serialize, Serializer};

    use super::*;

    /// Saves a cache of the sandbox (an entry of the global namespace stays out), moves the
    /// sandbox's clock past one deadline, and restores into an unbounded cache and a small one.
    async fn round_trip(name: &str) {
        let source = cache::<String>(&format!("{name}-source"));
        source.insert(1000, "global".into()).unwrap();
        let sb = sandbox();
        let dir = TempDir::new(name);
        let path = dir.file("async.snapshot");
        three_deadlines(&source);
        source
            .insert_many((10..510).map(|k| (k, k.to_string())))
            .unwrap();
        assert_eq!(
            source.save_async(&path).await.unwrap(),
            503,
            "the sandbox's"
        );

        // Down for 50 seconds on the sandbox's clock: entry 2 was due meanwhile.
        sb.advance(Duration::from_secs(50));
        let next = cache::<String>(&format!("{name}-next"));
        assert_eq!(next.restore_async(&path).await.unwrap(), 502);
        assert_eq!(next.get(&2).unwrap(), None);
        assert_eq!(next.get(&1).unwrap().as_deref(), Some("forever"));
        assert_eq!(next.ttl(&1).unwrap(), Ttl::Never);
        assert_eq!(next.ttl(&3).unwrap(), Ttl::In(Duration::from_secs(50)));
        assert_eq!(next.get(&1000).unwrap(), None);

        let small: Cache<u64, String> = Cache::builder(format!("{name}-small"))
            .capacity(100)
            .build()
            .unwrap();
        assert_eq!(small.restore_async(&path).await.unwrap(), 502);
        let kept = sorted(&small);
        assert!(
            !kept.is_empty() && kept.len() <= 100,
            "{} entries",
            kept.len()
        );
        assert!(
            kept.iter().all(|(k, v)| (*k == 1 && v == "forever")
                || (*k == 3 && v == "long")
                || *v == k.to_string()),
            "no value misread"
        );

        let missing = dir.file("missing.snapshot");
        let (kind, at, _) = snapshot_error(small.restore_async(&missing).await.unwrap_err());
        assert_eq!(kind, SnapshotErrorKind::Io(std::io::ErrorKind::NotFound));
        assert_eq!(at, missing);
        drop(sb);
        assert_eq!(source.len(), 1, "the global namespace kept its own");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_async_round_trip_on_a_current_thread_runtime() {
        round_trip("snapshot-async-current").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_async_round_trip_on_a_multi_thread_runtime() {
        round_trip("snapshot-async-multi").await;
    }

    /// What a [`Gated`] value's encoding waits on: a signal that it started, and the number to
    /// encode, which another task sends.
    type Gate = (tokio::sync::oneshot::Sender<()>, mpsc::Receiver<u64>);

    /// A value whose first encoding waits for a number from another task (30 s at most, then
    /// 0, so a held worker fails the test rather than hanging it).
    #[derive(Clone, Deserialize)]
    struct Gated {
        n: u64,
        #[serde(skip)]
        gate: Arc<Mutex<Option<Gate>>>,
    }

    impl Serialize for Gated {
        fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
            let gate = self.gate.lock().unwrap().take();
            let n = match gate {
                Some((started, numbers)) => {
                    started.send(()).unwrap();
                    numbers.recv_timeout(Duration::from_secs(30)).unwrap_or(0)
                }
                None => self.n,
            };
            out.serialize_u64(n)
        }
    }

    /// With one worker (on a current-thread runtime, the test's thread), the task that sends
    /// the number runs only if the save's task is not holding that worker.
    #[test]
    fn a_save_does_not_hold_the_only_worker() {
        let runtimes = [
            tokio::runtime::Builder::new_current_thread().build(),
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build(),
        ];
        for (i, runtime) in runtimes.into_iter().enumerate() {
            let runtime = runtime.unwrap();
            let _sb = sandbox();
            let dir = TempDir::new(&format!("gated-{i}"));
            let path = dir.file("gated.snapshot");
            let (started_tx, started_rx) = tokio::sync::oneshot::channel();
            let (numbers_tx, numbers_rx) = mpsc::channel();
            let gated: Cache<u64, Gated> = Cache::builder(format!("snapshot-async-gated-{i}"))
                .build()
                .unwrap();
            let value = Gated {
                n: 1,
                gate: Arc::new(Mutex::new(Some((started_tx, numbers_rx)))),
            };
            gated.insert(1, value).unwrap();
            // Both tasks run on the runtime's worker (the test's thread, on a current-thread
            // runtime), in the test's sandbox.
            runtime.block_on(async {
                let save = tokio::spawn(
                    {
                        let (gated, path) = (gated.clone(), path.clone());
                        async move { gated.save_async(&path).await }
                    }
                    .in_current_sandbox(),
                );
                // Sends only once the encoding waits, so the number cannot be there before.
                let sender = tokio::spawn(async move {
                    started_rx.await.unwrap();
                    numbers_tx.send(42).unwrap();
                });
                assert_eq!(save.await.unwrap().unwrap(), 1);
                sender.await.unwrap();
            });
            let back: Cache<u64, Gated> = Cache::builder(format!("snapshot-async-gated-{i}-back"))
                .build()
                .unwrap();
            assert_eq!(back.restore(&path).unwrap(), 1);
            assert_eq!(back.get(&1).unwrap().map(|g| g.n), Some(42));
        }
    }
}
