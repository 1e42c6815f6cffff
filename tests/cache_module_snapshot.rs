//! Cache modules with `restore = "file"` (feature `snapshot`): the snapshot is restored at first
//! use, into the global namespace even when that use is in a sandbox; `save()` writes it; a
//! missing file starts empty and quiet, a corrupt one starts empty with an `error` event.
//!
//! Each module has its own file under `target/memokit-test/`, written before the module's first
//! use (a `restore` path is a literal, so the files cannot live in a per-run temp folder).
#![cfg(feature = "snapshot")]

use std::path::Path;
use std::sync::{Arc, Mutex};

use memokit::telemetry::{self, EventKind};
use memokit::{Cache, sandbox};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct User {
    name: String,
}

fn user(name: &str) -> User {
    User { name: name.into() }
}

const WARM: &str = "target/memokit-test/module-warm.snapshot";
const CORRUPT: &str = "target/memokit-test/module-corrupt.snapshot";
const MISSING: &str = "target/memokit-test/module-missing.snapshot";

#[derive(memokit::Cache)]
#[cache(name = "snapshot-module-warm", key = u64, value = User, restore = "target/memokit-test/module-warm.snapshot")]
pub struct Warm;

#[derive(memokit::Cache)]
#[cache(name = "snapshot-module-corrupt", key = u64, value = User, restore = "target/memokit-test/module-corrupt.snapshot")]
pub struct Corrupt;

#[derive(memokit::Cache)]
#[cache(name = "snapshot-module-missing", key = u64, value = User, restore = "target/memokit-test/module-missing.snapshot")]
pub struct Missing;

/// The error events of cache `name`, as their text.
fn errors_of(name: &'static str) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    telemetry::attach(name, move |event| {
        if event.cache == name
            && let EventKind::Error { error } = event.kind
        {
            log.lock().unwrap().push(error.to_string());
        }
    })
    .unwrap();
    seen
}

#[test]
fn the_snapshot_is_restored_at_first_use_into_the_global_namespace_and_save_writes_it() {
    // What an earlier run of the program saved: a plain cache of the same types.
    let earlier: Cache<u64, User> = Cache::builder("snapshot-module-earlier").build().unwrap();
    earlier
        .insert_many([(1, user("ada")), (2, user("grace"))])
        .unwrap();
    earlier.save(WARM).unwrap();

    // The first use is in a sandbox; the snapshot still fills the global namespace.
    {
        let _sb = sandbox();
        assert_eq!(Warm::get(&1).unwrap(), None);
    }
    assert_eq!(Warm::get(&1).unwrap(), Some(user("ada")));
    assert_eq!(Warm::len(), 2);

    Warm::insert(3, user("alan")).unwrap();
    assert!(Warm::remove(&2).unwrap());
    assert_eq!(Warm::save().unwrap(), 2);
    let next: Cache<u64, User> = Cache::builder("snapshot-module-next").build().unwrap();
    assert_eq!(next.restore(WARM).unwrap(), 2);
    assert_eq!(next.get(&3).unwrap(), Some(user("alan")));
    assert_eq!(next.get(&2).unwrap(), None);
}

#[test]
fn a_corrupt_snapshot_starts_the_module_empty_with_an_error_event() {
    std::fs::create_dir_all(Path::new(CORRUPT).parent().unwrap()).unwrap();
    std::fs::write(CORRUPT, b"\x89MKSNAP\n but cut short").unwrap();
    let errors = errors_of(Corrupt::NAME);
    assert!(Corrupt::is_empty());
    let seen = errors.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("snapshot backend codec error"),
        "{}",
        seen[0]
    );
    assert!(seen[0].contains(CORRUPT), "{}", seen[0]);
    // The module works, and saving replaces the bad file with a good one.
    Corrupt::insert(1, user("ada")).unwrap();
    assert_eq!(Corrupt::save().unwrap(), 1);
    let check: Cache<u64, User> = Cache::builder("snapshot-module-check").build().unwrap();
    assert_eq!(check.restore(CORRUPT).unwrap(), 1);
    telemetry::detach(Corrupt::NAME);
}

#[test]
fn a_missing_snapshot_starts_the_module_empty_without_an_error() {
    let _ = std::fs::remove_file(MISSING);
    let errors = errors_of(Missing::NAME);
    assert!(Missing::is_empty());
    Missing::insert(1, user("ada")).unwrap();
    assert!(errors.lock().unwrap().is_empty());
    telemetry::detach(Missing::NAME);
    std::fs::remove_file(MISSING).ok();
}
