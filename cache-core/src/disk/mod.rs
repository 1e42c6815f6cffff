//! The disk backend (feature `disk`): a cache in a file that survives restarts, DETS's role in
//! ElixirCache, on the embedded [redb](https://docs.rs/redb) store.
//!
//! ```
//! use memokit_core::{Cache, DiskBackend, DiskOptions};
//!
//! let path = std::env::temp_dir().join(format!("memokit-mod-doc-{}.redb", std::process::id()));
//! let users: Cache<u64, String, DiskBackend> = Cache::builder("users")
//!     .capacity(10_000)
//!     .backend_options(DiskOptions::new(&path))
//!     .build()?;
//! users.insert(1, "ada".to_string())?;
//! assert_eq!(users.get(&1)?.as_deref(), Some("ada"));
//! # drop(users);
//! # std::fs::remove_file(&path).unwrap();
//! # Ok::<(), memokit_core::CacheError>(())
//! ```
//!
//! With the macros: `#[cached(backend = disk, path = "target/caches/users.redb")]`.
//!
//! # Design
//!
//! * **Why redb.** Pure Rust (no C toolchain, no cmake), ACID with copy-on-write B-trees and
//!   checksummed pages, so a crash at any moment leaves the last committed state; MVCC readers
//!   that never block the single writer or each other, which is what a cache's read-mostly load
//!   wants; and one file per database. It is also what the `cached` crate's disk store uses.
//!   Measured against fjall (an LSM tree) on the same work, raw store against raw store: hits
//!   and durable writes within 10% of each other, fast (unsynced) writes seven times cheaper on
//!   fjall. That gap is in the mode that may lose writes anyway, and fjall runs background
//!   compaction threads, which this library does not start behind a user's back, and keeps a
//!   folder of files rather than one locked file; so redb stays. The figures and the reasoning
//!   are in `DESIGN.md` beside this file.
//! * **One file, one cache, one owner.** Each cache has its own file. redb locks it, so a second
//!   process opening it gets [`CacheError::Config`](crate::CacheError::Config) naming `path` and
//!   saying the file is open elsewhere, and a second cache of the same process gets the same
//!   error from the backend's own table of open files (never a hang or a panic). The file is
//!   closed when the cache and its sandbox views are dropped. A file that is not a redb
//!   database, a redb database of another program, or one of another layout is refused with an
//!   error naming the path; the open checks every page's checksum, so a file damaged behind
//!   redb's back is an error too (a cost proportional to the file's size, paid once per open).
//! * **Layout.** Three tables. `memokit.entries` maps the stored key (namespace id, 8 bytes
//!   big-endian; a fixed FNV-1a hash of the key bytes, 8 bytes; the key's postcard encoding) to
//!   an order number and the value in the [envelope](crate::codec) every byte-storing backend
//!   shares: type identity of K, V and the cache's `version`, write time and deadline on
//!   memokit's clock. `memokit.order` maps (namespace, order number) to the stored key: the FIFO
//!   of writes, kept only by a cache with a capacity or a TTL (the oldest write is what they
//!   evict and sweep), since a second table is a third of a write's cost. Without it the
//!   order numbers stay in the values, and a cache that needs the table rebuilds it in write
//!   order when it opens the file. `memokit.meta` holds the layout version, and whether the
//!   file keeps no order table. The hash orders the entries so that a
//!   walk can step by key range with a 64-bit cursor.
//! * **Counts in memory.** Each namespace's entry count and the next order number are not in
//!   the file: the first write transaction of an open reads them from the order table, or the
//!   entries without one (one row per entry, one pass), and each commit that succeeds updates them, under a lock held for
//!   the whole write transaction. Every table a commit touches is one more B-tree path copied
//!   and written (and one more entry of redb's table tree), so keeping them in tables cost two
//!   of the four paths each write wrote; the figures are in `DESIGN.md`. Layout 1 kept them in
//!   the file: such a file is upgraded when opened (layout 2), and a build of layout 1 then
//!   refuses it by its layout number rather than trust counts it did not keep.
//! * **Reads share a snapshot.** Beginning a read transaction and opening its table was more
//!   than half of a hit, and a snapshot only goes out of date when a write commits; so reads
//!   share one open read transaction until the next commit, and a read never uses one taken
//!   before a write that had returned (the `Snapshot` type in `store.rs` gives the argument).
//!   Each commit drops the shared one, so no stale snapshot keeps redb from reusing freed pages.
//! * **Values** that do not decode or were written for another key type, value type or
//!   `version` are a [`Codec`](crate::BackendErrorKind::Codec) error, which the cache turns into
//!   a miss and an error event; the next load overwrites them. Never a panic, never a wrong value.
//! * **Expiry** is the deadline in the envelope, an absolute time on memokit's
//!   [clock](crate::clock) (a sandbox's clock in a sandbox), so an entry expires across
//!   restarts, checked on every read (by the clock's coarse reading, as the memory backend's
//!   hits: never early, see [`clock`](crate::clock)). Each write transaction also drops the oldest two entries
//!   if they have expired (with one TTL for the cache, the oldest write expires first), so
//!   expired entries do not pile up; [`Cache::purge_expired`](crate::Cache::purge_expired) drops
//!   all of them. `tti` is rejected: a time to idle would turn every read into a disk write.
//! * **Capacity** counts entries per namespace, and eviction is FIFO by write time: the entry
//!   written longest ago goes first. The order table makes that one B-tree lookup per
//!   eviction, in the write transaction that went over; a frequency or recency policy
//!   (S3-FIFO, LRU) would need a write on every read to record it, which on disk costs more than
//!   the better hit ratio gains. `weigher` is rejected. The eviction listener is not called (it
//!   would need the key and value decoded on every eviction).
//! * **Counting** ([`Cache::len`](crate::Cache::len), `stats().entries`) reads the view's whole
//!   key range in one read transaction, counting live entries only: keep it off hot paths.
//! * **Sandboxes** are namespaces in the same file: a view's keys all start with its id, so no
//!   view reads or clears another's, and dropping the sandbox deletes its range. Sandbox ids are
//!   per process, so opening a file drops every sandbox's entries a crashed process left there.
//! * **Operations.** A read is one read transaction, a write one write transaction (redb has one
//!   writer at a time): batches (`get_many`, `insert_many`, `remove_many`) take one transaction
//!   each, `compute`, `take` and `transaction` run their read, closure and write in one write
//!   transaction, so they are atomic and their closure runs once, and a `get_many` reads one
//!   snapshot, so it sees a transaction whole or not at all.
//! * **Durability.** [`Durability::Durable`] (the default) commits every write call with an
//!   fsync: a write that returned survives a crash. [`Durability::Fast`] commits to memory and
//!   makes one commit in [`DiskOptions::FAST_SYNC_EVERY`] durable (and one when the cache is
//!   dropped): a crash loses the writes since, and redb's copy-on-write commit never leaves the
//!   file corrupt. The README's benchmark section has the cost of each.
//! * **A full disk** (or a failing device) fails the write that hit it with a backend error
//!   naming the file, as any write error: a memoized function runs its body (fail open), a
//!   cache module's caller gets the `Err`. After an I/O error redb refuses every operation
//!   until the file is closed and opened again, so the next operation does that first (one
//!   integrity check of the file): reads go on serving what was committed, and writes work
//!   again once there is room, without a restart. In fast mode the reopen loses the commits
//!   since the last durable one, as a crash would. The database sits behind a read-write lock
//!   for this; a read takes it shared, which on the hit path costs one uncontended atomic.
//! * **Async.** With feature `tokio`, no async form holds a multi-thread runtime's worker for
//!   a transaction (and its fsync). Those whose inputs can move (get, insert, remove, clear, the batches, take,
//!   `contains_key`, `ttl`, `expire`, `touch`, `purge_expired`) run on Tokio's blocking pool
//!   (the helper in `blocking.rs` that `save_async` and `restore_async` use too), with the keys
//!   encoded and the clock read (a sandbox's) before the work moves. `compute`
//!   and `transaction` run a caller's closure, which is not `'static` and so cannot move: on a
//!   multi-thread runtime they run in `block_in_place`, which hands the worker's other tasks to
//!   another thread for the transaction's length; a current-thread runtime has no other worker,
//!   so there they run in place, as outside a runtime.

mod backend;
mod options;
mod store;
#[cfg(test)]
mod tests;

/// The backend's kind name, in stats, events and errors.
const KIND: &str = "disk";

pub use self::backend::DiskBackend;
pub use self::options::{DiskOptions, Durability};
pub use crate::codec::{Codec, CodecError, Postcard, Visit};
