//! Runs `N` cache hits of one kind in a loop, for counting instructions per hit under callgrind
//! (`benches/callgrind.sh` runs it at two counts and divides the difference by the extra hits, so
//! start-up and warm-up cancel out).
//!
//! `hit_instructions get N` hits `Cache::get` on a warm memory cache of 1,000 `u64 -> u64`
//! entries; `hit_instructions get-ttl N` the same with a cache-wide TTL (an hour, so every lookup
//! hits); `hit_instructions macro N` hits a `#[memokit::cached]` function with the same keys;
//! `hit_instructions get-many N` makes the N hits as `get_many` batches of 100 keys;
//! `hit_instructions tiered-get N` (features `tiered` and `disk`) hits the first layer of a tiered
//! cache with the same keys and capacity (its second layer a disk file, so no server and no
//! listener thread: a first-layer hit runs the same code whatever the second layer).
//! With feature `disk`, `disk-get N` hits `Cache::get` on a disk-backend cache of the same
//! entries and `raw-redb-get N` reads the same keys from a plain redb table of `u64 -> u64` (one
//! read transaction per read, as raw redb's peer in the disk bench does); `disk-insert N` makes
//! N misses and inserts of new keys on a fast-mode disk cache (a write transaction each), as the
//! disk bench's `disk_miss_insert` does, and `raw-redb-insert N` the same on the plain table
//! (durability `None`).
//!
//! What observation costs, on the same `get` hits: `get-handler N` with one trivial telemetry
//! handler attached, `get-metrics N` (feature `telemetry`) with the `metrics` bridge installed
//! over a Prometheus recorder, and `get-sandbox N` inside a test sandbox.
//!
//! Writes: `insert-evict N` makes N inserts of new keys into a full `Cache` of 10,000 entries
//! (each evicts one), `backend-insert-evict N` the same into the in-memory backend alone, and
//! `quick-insert-evict N` into quick_cache, the peer to beat; `mixed N`, `backend-mixed N` and
//! `quick-mixed N` make N operations of bench 5's 90/10 mix (Zipf keys over ten times the
//! capacity) on each.

use std::hint::black_box;

use memokit::Cache;

const KEYS: u64 = 1_000;

#[memokit::cached(capacity = 10_000)]
fn square(x: u64) -> u64 {
    x.wrapping_mul(x)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: hit_instructions \
        get|get-ttl|get-handler|get-metrics|get-sandbox|macro|get-many|tiered-get|disk-get|raw-redb-get|\
        disk-insert|raw-redb-insert|\
        [backend-|quick-]insert-evict|[backend-|quick-]mixed N";
    let kind = args.next().expect(usage);
    let n: u64 = args.next().and_then(|n| n.parse().ok()).expect(usage);
    let mut sum = 0u64;
    match kind.as_str() {
        "get" | "get-ttl" | "get-handler" | "get-metrics" | "get-sandbox" => {
            let _sandbox = (kind == "get-sandbox").then(memokit::sandbox);
            if kind == "get-handler" {
                memokit::telemetry::attach("hit-instructions", |event| {
                    black_box(event.cache);
                })
                .expect("the only handler");
            }
            if kind == "get-metrics" {
                install_metrics();
            }
            let mut builder = Cache::builder("hit-instructions").capacity(10_000);
            if kind == "get-ttl" {
                builder = builder.ttl(std::time::Duration::from_secs(3_600));
            }
            let cache: Cache<u64, u64> = builder.build().expect("a valid cache");
            for k in 0..KEYS {
                cache.insert(k, k).expect("memory never fails");
            }
            sum = hits(&cache, n);
        }
        "get-many" => {
            let cache: Cache<u64, u64> = Cache::builder("hit-instructions")
                .capacity(10_000)
                .build()
                .expect("a valid cache");
            cache
                .insert_many((0..KEYS).map(|k| (k, k)))
                .expect("memory never fails");
            let batch: Vec<u64> = (0..100).map(|k| k * 7 % KEYS).collect();
            for _ in 0..n / 100 {
                let hits = cache
                    .get_many(black_box(&batch))
                    .expect("memory never fails");
                sum = sum.wrapping_add(hits.iter().flatten().sum::<u64>());
            }
        }
        "macro" => {
            for k in 0..KEYS {
                square(k);
            }
            for i in 0..n {
                sum = sum.wrapping_add(square(black_box(i % KEYS)));
            }
        }
        #[cfg(all(feature = "tiered", feature = "disk"))]
        "tiered-get" => {
            use memokit::{DiskBackend, DiskOptions, Tiered, TieredOptions};
            let path = temp_file("tiered");
            let cache: Cache<u64, u64, Tiered<u64, u64, DiskBackend>> =
                Cache::builder("hit-instructions")
                    .capacity(10_000)
                    .backend_options(TieredOptions::new(DiskOptions::new(&path)))
                    .build()
                    .expect("a valid cache");
            cache
                .insert_many((0..KEYS).map(|k| (k, k)))
                .expect("a writable temp folder");
            for k in 0..KEYS {
                cache.get(&k).expect("a readable file");
            }
            sum = hits(&cache, n);
            drop(cache);
            let _ = std::fs::remove_file(&path);
        }
        #[cfg(feature = "disk")]
        "disk-get" => {
            use memokit::{DiskBackend, DiskOptions};
            let path = temp_file("disk");
            let cache: Cache<u64, u64, DiskBackend> = Cache::builder("hit-instructions")
                .backend_options(DiskOptions::new(&path))
                .build()
                .expect("a valid cache");
            cache
                .insert_many((0..KEYS).map(|k| (k, k)))
                .expect("a writable temp folder");
            sum = hits(&cache, n);
            drop(cache);
            let _ = std::fs::remove_file(&path);
        }
        #[cfg(feature = "disk")]
        "raw-redb-get" => {
            use redb::{ReadableDatabase, TableDefinition};
            const TABLE: TableDefinition<u64, u64> = TableDefinition::new("entries");
            let path = temp_file("raw");
            let db = redb::Database::create(&path).expect("a writable temp folder");
            let txn = db.begin_write().expect("a write");
            {
                let mut table = txn.open_table(TABLE).expect("the table");
                for k in 0..KEYS {
                    table.insert(k, k).expect("an insert");
                }
            }
            txn.commit().expect("a commit");
            for i in 0..n {
                let txn = db.begin_read().expect("a read");
                let table = txn.open_table(TABLE).expect("the table");
                let hit = table.get(black_box(i % KEYS)).expect("a get");
                sum = sum.wrapping_add(hit.map_or(0, |v| v.value()));
            }
            drop(db);
            let _ = std::fs::remove_file(&path);
        }
        #[cfg(feature = "disk")]
        "disk-insert" => {
            use memokit::{DiskBackend, DiskOptions, Durability};
            let path = temp_file("disk-insert");
            let cache: Cache<u64, u64, DiskBackend> = Cache::builder("insert-instructions")
                .backend_options(DiskOptions::new(&path).durability(Durability::Fast))
                .build()
                .expect("a valid cache");
            for k in 0..n {
                if cache.get(black_box(&k)).expect("a read").is_none() {
                    cache.insert(k, k).expect("a writable temp folder");
                }
            }
            sum = cache.len();
            drop(cache);
            let _ = std::fs::remove_file(&path);
        }
        #[cfg(feature = "disk")]
        "raw-redb-insert" => {
            const TABLE: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("entries");
            let path = temp_file("raw-insert");
            let db = redb::Database::create(&path).expect("a writable temp folder");
            for k in 0..n {
                let read = redb::ReadableDatabase::begin_read(&db).expect("a read");
                if let Ok(table) = read.open_table(TABLE)
                    && table.get(black_box(k)).expect("a get").is_some()
                {
                    continue;
                }
                let mut txn = db.begin_write().expect("a write");
                txn.set_durability(redb::Durability::None)
                    .expect("a durability");
                txn.open_table(TABLE)
                    .expect("the table")
                    .insert(black_box(k), k)
                    .expect("an insert");
                txn.commit().expect("a commit");
                sum += 1;
            }
            drop(db);
            let _ = std::fs::remove_file(&path);
        }
        "insert-evict"
        | "backend-insert-evict"
        | "quick-insert-evict"
        | "mixed"
        | "backend-mixed"
        | "quick-mixed" => {
            use memokit_bench::peers;
            let (op, name) = match kind.split_once('-') {
                Some(("backend", op)) => (op, "memokit-backend"),
                Some(("quick", op)) => (op, "quick_cache"),
                _ => (kind.as_str(), "memokit"),
            };
            // A cache of 10k: full, so each new key evicts one.
            let (_, peer) = peers::all(10 * KEYS)
                .into_iter()
                .find(|(peer, _)| *peer == name)
                .expect("a peer of that name");
            if op == "mixed" {
                // Zipf(1.0) over 100k keys: every tenth operation an insert, the rest lookups.
                let keys = memokit_bench::zipf_keys(100 * KEYS, 1.0, 1 << 16, 3);
                peer.mixed(&keys);
                for block in 0..n as usize / 1024 {
                    let at = block * 1024 % keys.len();
                    sum += peer.mixed(black_box(&keys[at..at + 1024])) as u64;
                }
            } else {
                peer.insert_from(0, 20 * KEYS);
                peer.insert_from(20 * KEYS, black_box(n));
                sum = peer.get(20 * KEYS + n - 1).unwrap_or(0);
            }
        }
        _ => panic!("{usage}"),
    }
    println!("{}", black_box(sum));
}

/// `n` lookups of the keys `0..KEYS` in turn on `cache`, which holds them all; the values' sum.
fn hits<B: memokit::Backend<u64, u64>>(cache: &Cache<u64, u64, B>, n: u64) -> u64 {
    (0..n).fold(0, |sum, i| {
        let hit = cache
            .get(black_box(&(i % KEYS)))
            .expect("a hit, not an error");
        sum.wrapping_add(hit.unwrap_or(0))
    })
}

/// A file in the temp folder for this process's `kind` of disk cache.
#[cfg(feature = "disk")]
fn temp_file(kind: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("memokit-hits-{kind}-{}.redb", std::process::id()))
}

/// The `metrics` bridge over a Prometheus recorder, as a service exporting metrics runs it.
#[cfg(feature = "telemetry")]
fn install_metrics() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    metrics::set_global_recorder(recorder).expect("the only recorder");
    memokit::telemetry::metrics::install();
}

#[cfg(not(feature = "telemetry"))]
fn install_metrics() {
    panic!("get-metrics needs the bench crate's `telemetry` feature");
}
