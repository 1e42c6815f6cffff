//! The disk backend against `cached`'s redb store, raw redb and raw fjall (the LSM tree the
//! issue asked to weigh against redb) on the same work, `u64 -> u64`, 10k entries, files in the
//! system's temp folder:
//!
//! * `disk_hit`: a read of a present key;
//! * `disk_miss_insert`: a read of an absent key, then its insert (the work of a cache miss),
//!   durable (an fsync per write) and fast (no fsync), each peer in the matching mode (fjall
//!   durable: `persist(SyncAll)` after each insert; fast: its journal left to its own flushing);
//! * `disk_memoized_hit`: a `#[cached(backend = disk)]` function answering from the file, beside
//!   the hand-built cache's `get` it wraps.
//!
//! `cargo bench -p memokit-bench --features disk --bench disk`.

use std::hint::black_box;
use std::path::PathBuf;

use cached::ConcurrentCached;
use criterion::{Criterion, criterion_group, criterion_main};
use memokit::{Cache, DiskBackend, DiskOptions, Durability};
use memokit_bench::Rng;
use redb::{ReadableDatabase, TableDefinition};

const ENTRIES: u64 = 10_000;
const TABLE: TableDefinition<u64, u64> = TableDefinition::new("bench");

/// This run's own folder under the system's temp folder.
fn folder() -> PathBuf {
    std::env::temp_dir().join(format!("memokit-bench-disk-{}", std::process::id()))
}

fn temp(name: &str) -> PathBuf {
    let dir = folder();
    std::fs::create_dir_all(&dir).expect("a temp folder");
    dir.join(name)
}

fn ours(name: &str, durability: Durability) -> Cache<u64, u64, DiskBackend> {
    Cache::builder(name)
        .backend_options(DiskOptions::new(temp(&format!("{name}.redb"))).durability(durability))
        .build()
        .expect("a fresh file")
}

fn theirs(name: &str, durable: bool) -> cached::stores::RedbCache<u64, u64> {
    cached::stores::RedbCache::builder(name)
        .disk_dir(temp("cached"))
        .durable(durable)
        .build()
        .expect("a fresh file")
}

fn raw(name: &str) -> redb::Database {
    let db = redb::Database::create(temp(&format!("{name}.raw.redb"))).expect("a fresh file");
    let txn = db.begin_write().expect("a write");
    txn.open_table(TABLE).expect("the table");
    txn.commit().expect("a commit");
    db
}

fn raw_insert(db: &redb::Database, durability: redb::Durability, k: u64, v: u64) {
    let mut txn = db.begin_write().expect("a write");
    txn.set_durability(durability).expect("a durability");
    txn.open_table(TABLE)
        .expect("the table")
        .insert(k, v)
        .expect("an insert");
    txn.commit().expect("a commit");
}

/// A fjall database of one keyspace, in its own folder.
fn fjall(name: &str) -> (fjall::Database, fjall::Keyspace) {
    let db = fjall::Database::builder(temp(&format!("{name}.fjall")))
        .open()
        .expect("a fresh folder");
    let keyspace = db
        .keyspace("bench", fjall::KeyspaceCreateOptions::default)
        .expect("the keyspace");
    (db, keyspace)
}

fn fjall_get(keyspace: &fjall::Keyspace, k: u64) -> Option<u64> {
    let bytes = keyspace.get(k.to_be_bytes()).expect("a get")?;
    Some(u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")))
}

fn fjall_insert(db: &fjall::Database, keyspace: &fjall::Keyspace, durable: bool, k: u64, v: u64) {
    keyspace
        .insert(k.to_be_bytes(), v.to_le_bytes())
        .expect("an insert");
    if durable {
        db.persist(fjall::PersistMode::SyncAll).expect("a sync");
    }
}

fn raw_get(db: &redb::Database, k: u64) -> Option<u64> {
    let txn = db.begin_read().expect("a read");
    let table = txn.open_table(TABLE).expect("the table");
    table.get(k).expect("a get").map(|v| v.value())
}

fn disk_hit(c: &mut Criterion) {
    let ours = ours("bench-disk-hit", Durability::Fast);
    let theirs = theirs("bench-disk-hit", false);
    let raw = raw("bench-disk-hit");
    ours.insert_many((0..ENTRIES).map(|k| (k, k)))
        .expect("inserts");
    for k in 0..ENTRIES {
        theirs.cache_set(k, k).expect("inserts");
    }
    let mut txn = raw.begin_write().expect("a write");
    txn.set_durability(redb::Durability::None)
        .expect("a durability");
    {
        let mut table = txn.open_table(TABLE).expect("the table");
        for k in 0..ENTRIES {
            table.insert(k, k).expect("inserts");
        }
    }
    txn.commit().expect("a commit");
    let (fjall_db, fjall_ks) = fjall("bench-disk-hit");
    for k in 0..ENTRIES {
        fjall_insert(&fjall_db, &fjall_ks, false, k, k);
    }
    let mut group = c.benchmark_group("disk_hit");
    let mut rng = Rng::new(1);
    group.bench_function("memokit", |b| {
        b.iter(|| black_box(ours.get(&(rng.next_u64() % ENTRIES)).expect("a read")))
    });
    group.bench_function("cached_redb", |b| {
        b.iter(|| {
            black_box(
                theirs
                    .cache_get(&(rng.next_u64() % ENTRIES))
                    .expect("a read"),
            )
        })
    });
    group.bench_function("raw_redb", |b| {
        b.iter(|| black_box(raw_get(&raw, rng.next_u64() % ENTRIES)))
    });
    group.bench_function("raw_fjall", |b| {
        b.iter(|| black_box(fjall_get(&fjall_ks, rng.next_u64() % ENTRIES)))
    });
    group.finish();
}

fn disk_miss_insert(c: &mut Criterion) {
    let mut group = c.benchmark_group("disk_miss_insert");
    group.sample_size(20);
    for (mode, durability, durable, raw_durability) in [
        (
            "durable",
            Durability::Durable,
            true,
            redb::Durability::Immediate,
        ),
        ("fast", Durability::Fast, false, redb::Durability::None),
    ] {
        let ours = ours(&format!("bench-disk-miss-{mode}"), durability);
        let theirs = theirs(&format!("bench-disk-miss-{mode}"), durable);
        let raw = raw(&format!("bench-disk-miss-{mode}"));
        let (fjall_db, fjall_ks) = fjall(&format!("bench-disk-miss-{mode}"));
        let mut next = 0u64;
        group.bench_function(format!("memokit_{mode}"), |b| {
            b.iter(|| {
                next += 1;
                if ours.get(&next).expect("a read").is_none() {
                    ours.insert(next, next).expect("a write");
                }
            })
        });
        group.bench_function(format!("cached_redb_{mode}"), |b| {
            b.iter(|| {
                next += 1;
                if theirs.cache_get(&next).expect("a read").is_none() {
                    theirs.cache_set(next, next).expect("a write");
                }
            })
        });
        group.bench_function(format!("raw_redb_{mode}"), |b| {
            b.iter(|| {
                next += 1;
                if raw_get(&raw, next).is_none() {
                    raw_insert(&raw, raw_durability, next, next);
                }
            })
        });
        group.bench_function(format!("raw_fjall_{mode}"), |b| {
            b.iter(|| {
                next += 1;
                if fjall_get(&fjall_ks, next).is_none() {
                    fjall_insert(&fjall_db, &fjall_ks, durable, next, next);
                }
            })
        });
    }
    group.finish();
}

#[memokit::cached(backend = disk, path = "target/memokit-bench/disk-memoized.redb")]
fn memoized(x: u64) -> u64 {
    x.wrapping_mul(x)
}

fn disk_memoized_hit(c: &mut Criterion) {
    for k in 0..ENTRIES {
        memoized(k);
    }
    let by_hand = ours("bench-disk-memo-hand", Durability::Fast);
    by_hand
        .insert_many((0..ENTRIES).map(|k| (k, k.wrapping_mul(k))))
        .expect("inserts");
    let mut group = c.benchmark_group("disk_memoized_hit");
    let mut rng = Rng::new(2);
    group.bench_function("memokit_cached_fn", |b| {
        b.iter(|| black_box(memoized(rng.next_u64() % ENTRIES)))
    });
    group.bench_function("memokit_cache_get", |b| {
        b.iter(|| black_box(by_hand.get(&(rng.next_u64() % ENTRIES)).expect("a read")))
    });
    group.finish();
}

/// Removes this run's folder, and nothing else.
fn cleanup(_: &mut Criterion) {
    let _ = std::fs::remove_dir_all(folder());
}

criterion_group!(
    benches,
    disk_hit,
    disk_miss_insert,
    disk_memoized_hit,
    cleanup
);
criterion_main!(benches);
