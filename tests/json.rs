//! JSON documents in memory and on disk: every operation and path form, bad input that leaves
//! the document as it was, and 8 threads x 1,000 concurrent increments that lose none. The same
//! checks run on Redis in `tests/redis_json.rs`.

#![cfg(feature = "json")]

use std::sync::Arc;

use memokit::{Cache, MemoryBackend};

mod json_support;
use json_support::Docs;

fn memory(name: &str) -> Docs<MemoryBackend<String, serde_json::Value>> {
    Cache::builder(name).build().unwrap()
}

#[test]
fn every_operation_and_path_form_in_memory() {
    let _sb = memokit::sandbox();
    json_support::every_operation_and_path_form(&memory("json-every"));
}

#[test]
fn bad_input_leaves_the_document_unchanged_in_memory() {
    let _sb = memokit::sandbox();
    json_support::bad_input_leaves_the_document_unchanged(&memory("json-bad"));
}

#[test]
fn concurrent_increments_are_exact_in_memory() {
    let sb = memokit::sandbox();
    json_support::concurrent_increments_are_exact(Arc::new(memory("json-incr")), &sb.handle());
}

#[cfg(feature = "disk")]
mod disk {
    use super::*;
    use memokit::{DiskBackend, DiskOptions};

    /// A cache on a fresh file, removed with the guard.
    fn disk(name: &str) -> (Docs<DiskBackend>, tempdir::Dir) {
        let dir = tempdir::Dir::new(name);
        let docs = Cache::builder(name)
            .backend_options(DiskOptions::new(dir.0.join("docs.redb")))
            .build()
            .unwrap();
        (docs, dir)
    }

    mod tempdir {
        use std::path::PathBuf;

        pub struct Dir(pub PathBuf);

        impl Dir {
            pub fn new(name: &str) -> Self {
                let path = std::env::temp_dir()
                    .join(format!("memokit-json-{}-{name}", std::process::id()));
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn every_operation_and_path_form_on_disk() {
        let _sb = memokit::sandbox();
        let (docs, _dir) = disk("json-disk-every");
        json_support::every_operation_and_path_form(&docs);
    }

    #[test]
    fn bad_input_leaves_the_document_unchanged_on_disk() {
        let _sb = memokit::sandbox();
        let (docs, _dir) = disk("json-disk-bad");
        json_support::bad_input_leaves_the_document_unchanged(&docs);
    }
}
