//! Save and restore of 100k entries (`u64 -> String` of 16 bytes) in memory, with their
//! floors in the same run:
//!
//! * `snapshot_save`: `Cache::save` (walk, time left per entry, envelope, checksum, fsync,
//!   rename) against writing the same number of bytes to a file with one fsync;
//! * `snapshot_restore`: `Cache::restore` (read, check, decode, insert) into an empty cache
//!   against `insert_many` of the same entries already decoded.
//!
//! Throughput is in entries. `cargo bench -p memokit-bench --features snapshot --bench snapshot`.

use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memokit::Cache;

const ENTRIES: u64 = 100_000;

fn folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("memokit-bench-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp folder");
    dir
}

fn entries() -> impl Iterator<Item = (u64, String)> {
    (0..ENTRIES).map(|k| (k, format!("value-{k:010}")))
}

fn filled(name: &str) -> Cache<u64, String> {
    let cache = Cache::builder(name).build().expect("a cache");
    cache.insert_many(entries()).expect("inserts");
    cache
}

fn snapshot_save(c: &mut Criterion) {
    let cache = filled("bench-snapshot-save");
    let path = folder().join("save.snapshot");
    let size = cache
        .save(&path)
        .map(|_| std::fs::metadata(&path).expect("the file").len());
    let bytes = vec![0u8; size.expect("a save") as usize];
    let mut group = c.benchmark_group("snapshot_save");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ENTRIES));
    group.bench_function("memokit_save", |b| {
        b.iter(|| black_box(cache.save(&path).expect("a save")))
    });
    let floor = folder().join("floor.bin");
    group.bench_function("write_and_fsync_floor", |b| {
        b.iter(|| {
            let mut file = std::fs::File::create(&floor).expect("a file");
            file.write_all(&bytes).expect("a write");
            file.sync_all().expect("a sync");
        })
    });
    group.finish();
}

fn snapshot_restore(c: &mut Criterion) {
    let path = folder().join("restore.snapshot");
    filled("bench-snapshot-source").save(&path).expect("a save");
    let decoded: Vec<(u64, String)> = entries().collect();
    let mut group = c.benchmark_group("snapshot_restore");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ENTRIES));
    group.bench_function("memokit_restore", |b| {
        b.iter_batched(
            || {
                Cache::<u64, String>::builder("bench-snapshot-restore")
                    .build()
                    .expect("a cache")
            },
            |cache| black_box(cache.restore(&path).expect("a restore")),
            criterion::BatchSize::PerIteration,
        )
    });
    group.bench_function("insert_many_floor", |b| {
        b.iter_batched(
            || {
                let cache = Cache::<u64, String>::builder("bench-snapshot-floor")
                    .build()
                    .expect("a cache");
                (cache, decoded.clone())
            },
            |(cache, entries)| cache.insert_many(entries).expect("inserts"),
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Removes this run's folder, and nothing else.
fn cleanup(_: &mut Criterion) {
    let _ = std::fs::remove_dir_all(folder());
}

criterion_group!(benches, snapshot_save, snapshot_restore, cleanup);
criterion_main!(benches);
