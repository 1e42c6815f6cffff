//! What only the inside of the backend can set up: a record corrupted in the file, a redb
//! database of another program.

use std::path::PathBuf;

use super::store::stored_key;
use super::*;
use crate::backend::Backend;
use crate::clock;
use crate::codec::TypeIdentity;
use crate::config::Config;
use crate::error::BackendErrorKind;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "memokit-unit-{}-{name}-{:?}.redb",
        std::process::id(),
        clock::system_now()
    ))
}

#[test]
fn a_corrupt_record_is_a_codec_error_never_a_value() {
    let path = temp("corrupt");
    let config = Config::<u64, u64>::new("disk-unit-corrupt".into());
    let backend = DiskBackend::open(&config, &DiskOptions::new(&path)).unwrap();
    let key = stored_key(0, |out| crate::codec::encode_key(&5u64, out, KIND)).unwrap();
    let identity = TypeIdentity::of::<u64, u64>(0);
    // Two live entries older than the bad one, so that the sweep of each write (which drops
    // the oldest entries that are not live) leaves it for the reads below.
    Backend::<u64, u64>::insert_many(&backend, vec![(1, 1), (2, 2)], None).unwrap();
    for garbage in [&b"mk"[..], b"\x00\x01\x02", &[b'm'; 64]] {
        backend
            .store
            .write(0, clock::now(), identity, |w| w.put(&key, garbage))
            .unwrap();
        let err = Backend::<u64, u64>::get(&backend, &5).unwrap_err();
        assert_eq!(err.kind(), BackendErrorKind::Codec, "{err}");
        assert!(!Backend::<u64, u64>::contains_key(&backend, &5).unwrap());
        assert_eq!(Backend::<u64, u64>::stats(&backend).entries, 2);
    }
    assert_eq!(Backend::<u64, u64>::purge_expired(&backend).unwrap(), 1);
    drop(backend);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_redb_database_of_another_program_is_refused_by_path() {
    let path = temp("other");
    let db = redb::Database::create(&path).unwrap();
    let txn = db.begin_write().unwrap();
    let table: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("theirs");
    txn.open_table(table).unwrap().insert(1, 2).unwrap();
    txn.commit().unwrap();
    drop(db);
    let config = Config::<u64, u64>::new("disk-unit-other".into());
    let err = DiskBackend::open(&config, &DiskOptions::new(&path)).unwrap_err();
    assert_eq!(err.setting(), Some("path"));
    assert!(err.message().contains("another program"), "{err}");
    assert!(err.message().contains(&*path.to_string_lossy()), "{err}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_file_of_layout_1_is_upgraded_and_its_counts_come_from_the_order_table() {
    let path = temp("layout-1");
    let mut config = Config::<u64, u64>::new("disk-unit-layout".into());
    config.capacity = Some(3);
    let backend = DiskBackend::open(&config, &DiskOptions::new(&path)).unwrap();
    Backend::<u64, u64>::insert_many(&backend, vec![(1, 1), (2, 2)], None).unwrap();
    drop(backend);
    // What layout 1 kept in the file, with a count that is wrong: it must not be trusted.
    let db = redb::Database::create(&path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("memokit.meta");
        let mut meta = txn.open_table(meta).unwrap();
        meta.insert("format", 1).unwrap();
        meta.insert("seq", 2).unwrap();
        let counts: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("memokit.counts");
        txn.open_table(counts).unwrap().insert(0, 100).unwrap();
    }
    txn.commit().unwrap();
    drop(db);

    let backend = DiskBackend::open(&config, &DiskOptions::new(&path)).unwrap();
    Backend::<u64, u64>::insert_many(&backend, vec![(3, 3), (4, 4)], None).unwrap();
    let get = |k| {
        Backend::<u64, u64>::get(&backend, &k)
            .unwrap()
            .map(|f| f.value)
    };
    assert_eq!(
        [get(1), get(2), get(3), get(4)],
        [None, Some(2), Some(3), Some(4)],
        "two entries counted, the oldest evicted at the third"
    );
    drop(backend);
    let tables = table_names(&path);
    assert!(!tables.iter().any(|t| t == "memokit.counts"), "{tables:?}");
    std::fs::remove_file(&path).unwrap();
}

/// The tables of the closed file at `path`.
fn table_names(path: &std::path::Path) -> Vec<String> {
    let db = redb::Database::open(path).unwrap();
    let read = redb::ReadableDatabase::begin_read(&db).unwrap();
    read.list_tables()
        .unwrap()
        .map(|t| redb::TableHandle::name(&t).to_string())
        .collect()
}

#[test]
fn only_a_cache_with_a_capacity_or_a_ttl_keeps_the_order_table() {
    let path = temp("order-table");
    for (config, ordered) in [
        (Config::<u64, u64>::new("disk-unit-order".into()), false),
        (
            Config {
                capacity: Some(10),
                ..Config::new("disk-unit-order".into())
            },
            true,
        ),
        (
            Config {
                ttl: Some(std::time::Duration::from_secs(60)),
                ..Config::new("disk-unit-order".into())
            },
            true,
        ),
        (Config::new("disk-unit-order".into()), false),
    ] {
        let backend = DiskBackend::open(&config, &DiskOptions::new(&path)).unwrap();
        Backend::<u64, u64>::insert_many(&backend, vec![(1, 1), (2, 2)], None).unwrap();
        drop(backend);
        let names = table_names(&path);
        assert_eq!(
            names.iter().any(|t| t == "memokit.order"),
            ordered,
            "{names:?} for capacity {:?}, ttl {:?}",
            config.capacity,
            config.ttl
        );
    }
    std::fs::remove_file(&path).unwrap();
}
