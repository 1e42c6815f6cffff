//! The file: redb's database, its three tables, one owner per file, and the write and read
//! transactions every operation runs in (layout in the [module docs](super)).

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use parking_lot::{Mutex as StateLock, RwLock, RwLockReadGuard};

use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, Table, TableDefinition, TableHandle,
};

use crate::clock::Timestamp;
use crate::codec::{Codec, Envelope, HEADER_LEN, TypeIdentity};
use crate::error::{BackendError, BackendErrorKind};

use super::KIND;
use super::options::{DiskOptions, Durability};

/// Stored key (namespace, key hash, postcard key bytes) -> order number, then the envelope.
const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("memokit.entries");
/// (namespace, order number) -> stored key: the FIFO of writes, oldest first.
const ORDER: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("memokit.order");
/// Layout 1 kept each namespace's entry count here; dropped when a file is opened.
const COUNTS: TableDefinition<u64, u64> = TableDefinition::new("memokit.counts");
/// `format`, the layout version (layout 1 also kept `seq`, the next order number, here), and
/// [`UNORDERED`] when the file keeps no order table.
const META: TableDefinition<&str, u64> = TableDefinition::new("memokit.meta");
/// The key in `META` of a file without an order table, kept by a cache with neither a capacity
/// nor a TTL: there is no oldest entry to evict or sweep, so each write saves the order table's
/// B-tree path and its root (a third of a fast write). The order numbers stay in the values, so
/// a cache that needs the table rebuilds it in write order when it opens the file.
const UNORDERED: &str = "unordered";
/// The layout version written in `META`; a file of another is refused, not misread.
const FORMAT: u64 = 2;
/// The older layout this build upgrades on open: the same entries and order, plus the counts
/// and the next order number in the file.
const FORMAT_WITH_COUNTS: u64 = 1;
/// The order number in front of each stored value.
const SEQ_LEN: usize = 8;
/// Where the key bytes start in a stored key: after the namespace and the key hash.
const KEY_AT: usize = 16;
/// How many of the oldest entries each write looks at to drop them if they have expired.
const SWEEP: usize = 2;

/// Files open in this process: redb's file lock keeps other processes out, this keeps a second
/// cache of this process out with an error that says so.
static OPEN: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// This process's claim on a file, released when the store (and so redb's lock) is dropped.
struct Claim(PathBuf);

impl Drop for Claim {
    fn drop(&mut self) {
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|p| *p != self.0);
    }
}

/// One cache's file, shared by every view (namespace) of the cache.
pub(crate) struct Store {
    // Dropped before the claim, so the file is closed before another cache may open it. `None`
    // only while a reopen after an I/O failure has not succeeded yet.
    db: RwLock<Option<Open>>,
    /// An I/O error reached redb, which then refuses every operation until the file is closed
    /// and opened again: the next operation reopens it first (see [`Store::database`]).
    failed: AtomicBool,
    _claim: Claim,
    pub(crate) path: PathBuf,
    pub(crate) envelope: Envelope,
    durability: Durability,
    /// Write commits made, to make one in [`DiskOptions::FAST_SYNC_EVERY`] durable.
    commits: AtomicU64,
    capacity: Option<u64>,
    /// Whether the file keeps its order table (see [`UNORDERED`]).
    ordered: bool,
}

/// The open file and what the writers keep of it in memory.
struct Open {
    db: Database,
    /// The next order number and each namespace's entry count, as of the last commit: `None`
    /// until the first write transaction of this open reads them from the order table. Its lock
    /// is held for the whole of each write transaction, so the next writer reads what the last
    /// commit left (redb has one writer at a time anyway).
    writers: StateLock<Option<WriteState>>,
    /// Write transactions committed through this open, counted after each commit returns.
    generation: AtomicU64,
    /// The read snapshot the readers share while nothing has been committed since it was taken.
    snapshot: StateLock<Option<Arc<Snapshot>>>,
}

/// A read transaction's entries table, kept open across reads.
///
/// Beginning a read transaction and opening its table is most of a hit in redb (3,580 of the
/// 6,573 instructions of a disk hit before this, `disk/DESIGN.md`), and a snapshot only goes out
/// of date when a write commits. So readers share one, taken at a [generation](Open::generation),
/// until a commit moves the generation on. A writer bumps the generation after its commit
/// returns, before its caller sees the write done, and a reader uses a snapshot only if its
/// generation is the current one: a read that begins after a write returned therefore sees it,
/// as a fresh transaction would. The writer also drops the shared snapshot, so a stale one does
/// not stay open through a run of writes and keep redb from reusing the pages they free.
struct Snapshot {
    generation: u64,
    entries: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Open {
    fn new(db: Database) -> Self {
        Self {
            db,
            writers: StateLock::new(None),
            generation: AtomicU64::new(0),
            snapshot: StateLock::new(None),
        }
    }

    /// The current snapshot: the shared one if no write has committed since it was taken, else
    /// a new one, shared from then on if still current.
    fn snapshot(&self) -> Result<Arc<Snapshot>, redb::Error> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(shared) = &*self.snapshot.lock()
            && shared.generation == generation
        {
            return Ok(shared.clone());
        }
        // Taken after the generation was read, so it holds every commit counted in it.
        let fresh = Arc::new(Snapshot {
            generation,
            entries: self.db.begin_read()?.open_table(ENTRIES)?,
        });
        let mut shared = self.snapshot.lock();
        if self.generation.load(Ordering::Acquire) == generation {
            *shared = Some(fresh.clone());
        }
        Ok(fresh)
    }

    /// After a commit: snapshots taken before it are out of date.
    fn committed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
        self.snapshot.lock().take();
    }
}

/// See [`Open::writers`].
#[derive(Debug, Default)]
struct WriteState {
    seq: u64,
    counts: HashMap<u64, u64>,
}

impl WriteState {
    /// The state of the file, from its order table: one row per stored entry.
    fn from_order(
        order: &Table<'_, (u64, u64), &'static [u8]>,
    ) -> Result<Self, redb::StorageError> {
        let mut state = Self::default();
        for row in order.iter()? {
            let (ns, seq) = row?.0.value();
            state.count(ns, seq);
        }
        Ok(state)
    }

    /// The same from the entries of a file without an order table: each stored key starts with
    /// its namespace, each value with its order number.
    fn from_entries(
        entries: &Table<'_, &'static [u8], &'static [u8]>,
    ) -> Result<Self, redb::StorageError> {
        let mut state = Self::default();
        for row in entries.iter()? {
            let (key, value) = row?;
            state.count(namespace_of(key.value()), seq_in(value.value()));
        }
        Ok(state)
    }

    fn count(&mut self, ns: u64, seq: u64) {
        *self.counts.entry(ns).or_default() += 1;
        self.seq = self.seq.max(seq + 1);
    }
}

/// The stored key, in namespace `ns`, of the key bytes (a postcard key) that `encode` appends:
/// `ns` and a fixed hash of the key bytes, both big-endian so the table orders by them, then
/// the key bytes. One allocation: the key is encoded in place, the hash filled in after.
pub(crate) fn stored_key<E>(
    ns: u64,
    encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    let mut out = Vec::with_capacity(KEY_AT + 16);
    out.extend_from_slice(&ns.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    encode(&mut out)?;
    let hash = crate::codec::fingerprint(&out[KEY_AT..]);
    out[KEY_AT - 8..KEY_AT].copy_from_slice(&hash.to_be_bytes());
    Ok(out)
}

/// The namespace of a stored key.
fn namespace_of(stored: &[u8]) -> u64 {
    let mut ns = [0; 8];
    ns.copy_from_slice(&stored[..8]);
    u64::from_be_bytes(ns)
}

/// The key hash of a stored key.
pub(crate) fn hash_of(stored: &[u8]) -> u64 {
    let mut hash = [0; 8];
    hash.copy_from_slice(&stored[KEY_AT - 8..KEY_AT]);
    u64::from_be_bytes(hash)
}

/// The postcard key bytes of a stored key.
pub(crate) fn key_bytes(stored: &[u8]) -> &[u8] {
    &stored[KEY_AT..]
}

/// The stored keys of namespace `ns` from key hash `from` on.
fn namespace_range(ns: u64, from: u64) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let mut start = ns.to_be_bytes().to_vec();
    start.extend_from_slice(&from.to_be_bytes());
    let end = ns.checked_add(1).map_or(Bound::Unbounded, |next| {
        Bound::Excluded(next.to_be_bytes().to_vec())
    });
    (Bound::Included(start), end)
}

fn as_slices(range: &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (
        range.0.as_ref().map(Vec::as_slice),
        range.1.as_ref().map(Vec::as_slice),
    )
}

/// What a write transaction removed besides what it was asked to.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Removals {
    pub(crate) evicted: u64,
    pub(crate) expired: u64,
    pub(crate) replaced: u64,
}

impl Store {
    pub(crate) fn open(
        cache: &str,
        options: &DiskOptions,
        capacity: Option<u64>,
        ordered: bool,
        codec: Arc<dyn Codec>,
    ) -> Result<Self, BackendError> {
        let Some(path) = options.path.clone() else {
            return Err(BackendError::config(
                KIND,
                "path",
                format_args!(
                    "the disk backend of cache `{cache}` needs a file: set `path` (`#[cached(backend = disk, path = \"...\")]` or `DiskOptions::new(path)`)"
                ),
            ));
        };
        let shown = path.display().to_string();
        let bad = |why: &dyn std::fmt::Display| {
            BackendError::config(KIND, "path", format_args!("`{shown}`: {why}"))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| bad(&e))?;
        }
        let claim = claim(&path).map_err(|e| bad(&e))?;
        let db = open_database(&path).map_err(|e| match e {
                DatabaseError::DatabaseAlreadyOpen => bad(
                    &"the file is open in another process; one file holds one cache, opened by one process at a time",
                ),
                e => bad(&format_args!("not a memokit disk cache file: {e}")),
            })?;
        let store = Self {
            db: RwLock::new(Some(Open::new(db))),
            failed: AtomicBool::new(false),
            _claim: claim,
            path,
            envelope: Envelope::new(codec, KIND),
            durability: options.durability,
            commits: AtomicU64::new(0),
            capacity,
            ordered,
        };
        store.check_format().map_err(|e| bad(&e))?;
        Ok(store)
    }

    /// Refuses a redb file of another program or layout, writes the layout of a new one, and
    /// drops the entries of sandboxes, which belong to the process that last had the file.
    fn check_format(&self) -> Result<(), String> {
        let open = self.db.read();
        let db = &open.as_ref().ok_or("the file is not open")?.db;
        let read = db.begin_read().map_err(|e| e.to_string())?;
        let tables: Vec<String> = read
            .list_tables()
            .map_err(|e| e.to_string())?
            .map(|t| t.name().to_string())
            .collect();
        let format = if tables.is_empty() {
            None
        } else if tables.iter().any(|t| t == META.name()) {
            let meta = read.open_table(META).map_err(|e| e.to_string())?;
            let format = meta.get("format").map_err(|e| e.to_string())?;
            Some(format.map_or(0, |f| f.value()))
        } else {
            return Err(format!(
                "a redb database of another program (tables {tables:?}), not a memokit disk cache file"
            ));
        };
        drop(read);
        if let Some(format) = format.filter(|&f| f != FORMAT && f != FORMAT_WITH_COUNTS) {
            return Err(format!(
                "a memokit disk cache file of layout {format}; this build reads layouts {FORMAT_WITH_COUNTS} and {FORMAT}"
            ));
        }
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
            meta.insert("format", FORMAT).map_err(|e| e.to_string())?;
            meta.remove("seq").map_err(|e| e.to_string())?;
            let had_order = meta.get(UNORDERED).map_err(|e| e.to_string())?.is_none();
            txn.delete_table(COUNTS).map_err(|e| e.to_string())?;
            let first_sandbox = 1u64.to_be_bytes();
            let mut entries = txn.open_table(ENTRIES).map_err(|e| e.to_string())?;
            entries
                .retain_in::<&[u8], _>(first_sandbox.as_slice().., |_, _| false)
                .map_err(|e| e.to_string())?;
            if self.ordered {
                let mut order = txn.open_table(ORDER).map_err(|e| e.to_string())?;
                if had_order {
                    order
                        .retain_in((1, 0)..=(u64::MAX, u64::MAX), |_, _| false)
                        .map_err(|e| e.to_string())?;
                } else {
                    rebuild_order(&entries, &mut order).map_err(|e| e.to_string())?;
                }
                meta.remove(UNORDERED).map_err(|e| e.to_string())?;
            } else {
                drop(entries);
                txn.delete_table(ORDER).map_err(|e| e.to_string())?;
                meta.insert(UNORDERED, 1).map_err(|e| e.to_string())?;
            }
        }
        txn.commit().map_err(|e| e.to_string())
    }

    /// An error of the file, naming it. An I/O error (a full disk, a failing device) marks
    /// the file for a reopen by the next operation, since redb refuses all of them after one.
    pub(crate) fn error(&self, e: impl Into<redb::Error>) -> BackendError {
        let e = e.into();
        let path = self.path.display();
        match e {
            redb::Error::Io(_) | redb::Error::PreviousIo => {
                self.failed.store(true, Ordering::Release);
            }
            _ => {}
        }
        if let redb::Error::PreviousIo = e {
            // redb's own text asks the caller to reopen the file, which the next call does.
            return BackendError::new(
                KIND,
                BackendErrorKind::Other,
                format_args!(
                    "`{path}`: an earlier write to the file failed (a full disk?); the file is reopened at the next operation"
                ),
            );
        }
        BackendError::new(KIND, BackendErrorKind::Other, format_args!("`{path}`: {e}"))
    }

    /// The database, reopened first if an I/O error made redb refuse it.
    fn database(&self) -> Result<MappedOpen<'_>, BackendError> {
        if self.failed.load(Ordering::Acquire) {
            self.reopen()?;
        }
        // Recursive: a closure of `compute` or `transaction` may read the cache inside a write,
        // and must not wait behind a reopen queued meanwhile.
        RwLockReadGuard::try_map(self.db.read_recursive(), Option::as_ref)
            .map_err(|_| self.error(redb::Error::PreviousIo))
    }

    /// Closes the file and opens it again, what redb asks for after an I/O error: a full disk
    /// fails the write that hit it, and the reads and writes after it work again (the writes as
    /// soon as there is room). A fast-mode commit not yet durable is lost, as in a crash, so the
    /// writers' state is read from the file again.
    #[cold]
    fn reopen(&self) -> Result<(), BackendError> {
        let mut db = self.db.write();
        if !self.failed.load(Ordering::Acquire) {
            return Ok(()); // another thread did it meanwhile
        }
        // redb locks the file per open handle: the old one must be closed first.
        drop(db.take());
        *db = Some(Open::new(
            open_database(&self.path).map_err(|e| self.error(e))?,
        ));
        self.failed.store(false, Ordering::Release);
        Ok(())
    }

    fn next_durability(&self) -> redb::Durability {
        match self.durability {
            Durability::Durable => redb::Durability::Immediate,
            Durability::Fast => {
                let n = self.commits.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(DiskOptions::FAST_SYNC_EVERY) {
                    redb::Durability::Immediate
                } else {
                    redb::Durability::None
                }
            }
        }
    }

    /// Runs `f` in one write transaction over namespace `ns` and commits what it did, then
    /// drops what has expired among the oldest entries and evicts down to the capacity. An
    /// error from `f` commits nothing.
    pub(crate) fn write<R>(
        &self,
        ns: u64,
        now: Timestamp,
        identity: TypeIdentity,
        f: impl FnOnce(&mut Writer<'_>) -> Result<R, BackendError>,
    ) -> Result<(R, Removals), BackendError> {
        let open = self.database()?;
        let mut writers = open.writers.lock();
        let mut txn = open.db.begin_write().map_err(|e| self.error(e))?;
        txn.set_durability(self.next_durability())
            .map_err(|e| self.error(e))?;
        let (out, removals, seq, count) = {
            let open_table = |e: redb::TableError| self.error(e);
            let order = match self.ordered {
                true => Some(txn.open_table(ORDER).map_err(open_table)?),
                false => None,
            };
            let entries = txn.open_table(ENTRIES).map_err(open_table)?;
            if writers.is_none() {
                let state = match &order {
                    Some(order) => WriteState::from_order(order),
                    None => WriteState::from_entries(&entries),
                };
                *writers = Some(state.map_err(|e| self.error(e))?);
            }
            let state = writers.get_or_insert_default();
            let mut writer = Writer {
                store: self,
                entries,
                order,
                ns,
                now,
                identity,
                seq: state.seq,
                count: state.counts.get(&ns).copied().unwrap_or(0),
                removals: Removals::default(),
            };
            let out = f(&mut writer)?;
            writer.sweep()?;
            writer.evict_to(self.capacity.unwrap_or(u64::MAX))?;
            (out, writer.removals, writer.seq, writer.count)
        };
        txn.commit().map_err(|e| self.error(e))?;
        open.committed();
        // Only now: a transaction that failed left the file, and so this, as they were.
        let state = writers.get_or_insert_default();
        state.seq = seq;
        if count == 0 {
            state.counts.remove(&ns);
        } else {
            state.counts.insert(ns, count);
        }
        Ok((out, removals))
    }

    /// Runs `f` over one consistent snapshot of the file.
    pub(crate) fn read<R>(
        &self,
        f: impl FnOnce(&Reader) -> Result<R, BackendError>,
    ) -> Result<R, BackendError> {
        let open = self.database()?;
        let snapshot = open.snapshot().map_err(|e| self.error(e))?;
        f(&Reader {
            store: self,
            entries: &snapshot.entries,
        })
    }
}

impl Drop for Store {
    /// In fast mode, makes the writes since the last durable commit durable.
    fn drop(&mut self) {
        if self.durability == Durability::Fast
            && !self
                .commits
                .load(Ordering::Relaxed)
                .is_multiple_of(DiskOptions::FAST_SYNC_EVERY)
            && let Some(open) = self.db.get_mut()
            && let Ok(txn) = open.db.begin_write()
        {
            // Nothing to report to: the next open finds the last durable state either way.
            let _ = txn.commit();
        }
    }
}

/// The order number in front of a stored value (0 if the value is too short to hold one,
/// which only a damaged record is: its envelope is then too short to decode, a codec error).
fn seq_in(value: &[u8]) -> u64 {
    value
        .first_chunk::<SEQ_LEN>()
        .map_or(0, |seq| u64::from_le_bytes(*seq))
}

/// The envelope after the order number of a stored value (empty if too short).
fn envelope_in(value: &[u8]) -> &[u8] {
    value.get(SEQ_LEN..).unwrap_or_default()
}

/// A read lock on the open database.
type MappedOpen<'s> = parking_lot::MappedRwLockReadGuard<'s, Open>;

/// Opens (or creates) the redb file at `path`.
fn open_database(path: &Path) -> Result<Database, DatabaseError> {
    Database::builder()
        // A file altered behind redb's back is then an error here, never a panic later.
        .set_check_integrity_on_open(true)
        .create(path)
}

/// Claims `path` for this process, or says which cache of it holds it.
fn claim(path: &Path) -> Result<Claim, String> {
    let name = path.file_name().ok_or("the path names no file")?;
    let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => parent.canonicalize().map_err(|e| e.to_string())?,
        None => std::env::current_dir().map_err(|e| e.to_string())?,
    };
    let canonical = parent.join(name);
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    if open.contains(&canonical) {
        return Err(
            "the file is already open by another cache of this process; one file holds one cache: give each cache a `path` of its own"
                .into(),
        );
    }
    open.push(canonical.clone());
    Ok(Claim(canonical))
}

/// A read transaction's view of the entries.
pub(crate) struct Reader<'s> {
    store: &'s Store,
    entries: &'s redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl Reader<'_> {
    /// `f` of the envelope stored under `key`, read in place (no copy).
    pub(crate) fn with<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, BackendError> {
        Ok(self
            .entries
            .get(key)
            .map_err(|e| self.store.error(e))?
            .map(|v| f(envelope_in(v.value()))))
    }

    /// Hands `visit` (stored key, envelope) for namespace `ns` from key hash `from` on, until it
    /// returns `false`.
    pub(crate) fn each(
        &self,
        ns: u64,
        from: u64,
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), BackendError> {
        let range = namespace_range(ns, from);
        for item in self
            .entries
            .range::<&[u8]>(as_slices(&range))
            .map_err(|e| self.store.error(e))?
        {
            let (k, v) = item.map_err(|e| self.store.error(e))?;
            if !visit(k.value(), envelope_in(v.value())) {
                break;
            }
        }
        Ok(())
    }
}

/// Fills an empty order table from the order numbers of the entries, oldest write first.
fn rebuild_order(
    entries: &Table<'_, &'static [u8], &'static [u8]>,
    order: &mut Table<'_, (u64, u64), &'static [u8]>,
) -> Result<(), redb::StorageError> {
    for row in entries.iter()? {
        let (key, value) = row?;
        let key = key.value();
        order.insert((namespace_of(key), seq_in(value.value())), key)?;
    }
    Ok(())
}

/// A write transaction's view of one namespace, keeping the FIFO (if the file keeps one) and
/// the count in step.
pub(crate) struct Writer<'t> {
    store: &'t Store,
    entries: Table<'t, &'static [u8], &'static [u8]>,
    /// `None` in a file without an order table ([`UNORDERED`]).
    order: Option<Table<'t, (u64, u64), &'static [u8]>>,
    ns: u64,
    pub(crate) now: Timestamp,
    identity: TypeIdentity,
    seq: u64,
    count: u64,
    pub(crate) removals: Removals,
}

impl Writer<'_> {
    /// The order number and envelope stored under `key`.
    fn stored(&self, key: &[u8]) -> Result<Option<(u64, Vec<u8>)>, BackendError> {
        Ok(self
            .entries
            .get(key)
            .map_err(|e| self.store.error(e))?
            .map(|v| {
                let v = v.value();
                (seq_in(v), envelope_in(v).to_vec())
            }))
    }

    /// The envelope stored under `key`, live or not.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.stored(key)?.map(|(_, envelope)| envelope))
    }

    /// Stores `envelope` under `key` with order number `seq`; the order number it replaced.
    fn store_at(
        &mut self,
        key: &[u8],
        seq: u64,
        envelope: &[u8],
    ) -> Result<Option<u64>, BackendError> {
        let mut value = Vec::with_capacity(SEQ_LEN + envelope.len());
        value.extend_from_slice(&seq.to_le_bytes());
        value.extend_from_slice(envelope);
        Ok(self
            .entries
            .insert(key, value.as_slice())
            .map_err(|e| self.store.error(e))?
            .map(|old| seq_in(old.value())))
    }

    /// The order number stored under `key`, without copying its envelope.
    fn seq_of(&self, key: &[u8]) -> Result<Option<u64>, BackendError> {
        Ok(self
            .entries
            .get(key)
            .map_err(|e| self.store.error(e))?
            .map(|v| seq_in(v.value())))
    }

    /// Stores `envelope` under `key` as the newest write.
    ///
    /// The insert hands back the value it replaced, whose order number is the FIFO row to drop:
    /// no lookup before it (a B-tree walk, a twentieth of a fast write).
    pub(crate) fn put(&mut self, key: &[u8], envelope: &[u8]) -> Result<(), BackendError> {
        let seq = self.seq;
        self.seq += 1;
        let replaced = self.store_at(key, seq, envelope)?;
        match replaced {
            Some(_) => self.removals.replaced += 1,
            None => self.count += 1,
        }
        let Some(order) = &mut self.order else {
            return Ok(());
        };
        if let Some(old) = replaced {
            order
                .remove((self.ns, old))
                .map_err(|e| self.store.error(e))?;
        }
        order
            .insert((self.ns, seq), key)
            .map_err(|e| self.store.error(e))?;
        Ok(())
    }

    /// Rewrites the envelope under `key` in place: same place in the FIFO (not a new write).
    pub(crate) fn rewrite(&mut self, key: &[u8], envelope: &[u8]) -> Result<(), BackendError> {
        match self.seq_of(key)? {
            Some(seq) => self.store_at(key, seq, envelope).map(drop),
            None => self.put(key, envelope),
        }
    }

    /// Removes `key`; its envelope, if there was one.
    pub(crate) fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        let Some((seq, envelope)) = self.stored(key)? else {
            return Ok(None);
        };
        self.entries.remove(key).map_err(|e| self.store.error(e))?;
        if let Some(order) = &mut self.order {
            order
                .remove((self.ns, seq))
                .map_err(|e| self.store.error(e))?;
        }
        self.count -= 1;
        Ok(Some(envelope))
    }

    /// Whether `envelope` is live for this transaction's key and value types at its time.
    pub(crate) fn is_live(&self, envelope: &[u8]) -> bool {
        self.store.envelope.is_live(
            self.identity,
            &envelope[..envelope.len().min(HEADER_LEN)],
            self.now,
        )
    }

    /// The stored keys of the oldest `n` entries of the namespace, oldest first: from the order
    /// table, or without one (only [`prune`](crate::Backend::prune) asks then) from a pass over
    /// the namespace's entries sorted by their order numbers.
    fn oldest(&self, n: usize) -> Result<Vec<Vec<u8>>, BackendError> {
        let error = |e| self.store.error(e);
        let Some(order) = &self.order else {
            let range = namespace_range(self.ns, 0);
            let mut all = Vec::new();
            for item in self
                .entries
                .range::<&[u8]>(as_slices(&range))
                .map_err(error)?
            {
                let (key, value) = item.map_err(error)?;
                all.push((seq_in(value.value()), key.value().to_vec()));
            }
            all.sort_unstable();
            return Ok(all.into_iter().take(n).map(|(_, key)| key).collect());
        };
        order
            .range((self.ns, 0)..=(self.ns, u64::MAX))
            .map_err(error)?
            .take(n)
            .map(|item| item.map(|(_, key)| key.value().to_vec()).map_err(error))
            .collect()
    }

    /// Drops the oldest entries that are no longer live (with one TTL for the whole cache,
    /// the oldest write is the first to expire), so expired entries do not pile up. A file
    /// without an order table belongs to a cache without a TTL: its entries with a TTL of their
    /// own go when a read finds them expired, or by `purge_expired`.
    fn sweep(&mut self) -> Result<(), BackendError> {
        if self.order.is_none() {
            return Ok(());
        }
        for key in self.oldest(SWEEP)? {
            let live = self
                .entries
                .get(key.as_slice())
                .map_err(|e| self.store.error(e))?
                .map(|v| self.is_live(envelope_in(v.value())));
            if live == Some(false) {
                self.delete(&key)?;
                self.removals.expired += 1;
            }
        }
        Ok(())
    }

    /// Removes the oldest entries until at most `max` remain; how many it removed.
    pub(crate) fn evict_to(&mut self, max: u64) -> Result<u64, BackendError> {
        let mut removed = 0;
        let excess = self.count.saturating_sub(max);
        if excess == 0 {
            return Ok(0);
        }
        for key in self.oldest(usize::try_from(excess).unwrap_or(usize::MAX))? {
            if let Some(envelope) = self.delete(&key)? {
                if self.is_live(&envelope) {
                    self.removals.evicted += 1;
                } else {
                    self.removals.expired += 1;
                }
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes every entry of the namespace.
    pub(crate) fn clear(&mut self) -> Result<(), BackendError> {
        let range = namespace_range(self.ns, 0);
        self.entries
            .retain_in::<&[u8], _>(as_slices(&range), |_, _| false)
            .map_err(|e| self.store.error(e))?;
        if let Some(order) = &mut self.order {
            order
                .retain_in((self.ns, 0)..=(self.ns, u64::MAX), |_, _| false)
                .map_err(|e| self.store.error(e))?;
        }
        self.count = 0;
        Ok(())
    }

    /// The (stored key, envelope) pairs of the namespace for which `pred` holds.
    pub(crate) fn select(
        &self,
        mut pred: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<Vec<Vec<u8>>, BackendError> {
        let range = namespace_range(self.ns, 0);
        let mut out = Vec::new();
        for item in self
            .entries
            .range::<&[u8]>(as_slices(&range))
            .map_err(|e| self.store.error(e))?
        {
            let (k, v) = item.map_err(|e| self.store.error(e))?;
            if pred(k.value(), envelope_in(v.value())) {
                out.push(k.value().to_vec());
            }
        }
        Ok(out)
    }
}
