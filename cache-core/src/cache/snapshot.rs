//! Save, restore and export (Cachex's `save/2`, `restore/2` and `export/1`), feature
//! `snapshot`: a cache's live entries written to one file and read back, by this process or the
//! next.
//!
//! # Design
//!
//! * **On the handle, over [`Iterate`].** A snapshot is a walk of the entries and a batch of
//!   inserts, both of which the handle already has for every backend that can walk, so it lives
//!   here rather than in each backend: the memory, disk and Redis backends all get it, a
//!   backend of a user's gets it by implementing [`Iterate`], and a snapshot taken from one
//!   backend restores into another (memory to disk, say). The file format is in
//!   `codec/snapshot.rs` beside the envelope it stores values in.
//! * **Time left.** The walk hands over keys and values; each entry's time left is then asked
//!   with [`Cache::ttl`] (one lookup per entry: a shard read in memory, a read transaction on
//!   disk, a round trip on Redis). It is stored as an absolute deadline on memokit's clock,
//!   which is anchored to the wall clock, and judged on restore against the restoring cache's
//!   clock (a sandbox's in a sandbox): an entry due while the program was down is skipped. A
//!   time to idle is saved as the deadline it gives at save time.
//! * **Types.** Values are sealed in the envelope with the cache's [`TypeIdentity`] (key type,
//!   value type and `version`), which the file's header repeats: a snapshot of another type is
//!   refused with [`SnapshotErrorKind::Mismatch`] before anything is read, never misread.
//! * **All or nothing.** `restore` reads and checks the whole file (magic, format version,
//!   checksum, type, every record) before the first insert, so a truncated, corrupt or foreign
//!   file changes nothing. The inserts are one [`Backend::insert_each`](crate::Backend::insert_each): one transaction on
//!   disk, infallible in memory; on Redis a failure part way leaves the entries inserted so far.
//! * **Atomic save.** The file is written beside its final path, fsynced, renamed over it and
//!   the folder fsynced: a crash or a full disk leaves the previous snapshot whole.
//! * **Async** (feature `tokio`). `save_async` and `restore_async` run the whole of `save` and
//!   `restore` on Tokio's blocking pool through the helper the disk backend's async forms use
//!   ([`crate::blocking`]), with the caller's sandbox and clock entered there. The walk is the
//!   backend's sync one even where the backend has async forms: a snapshot is file work (writes
//!   and fsyncs) from end to end, and a walk in memory is CPU work a worker should not do either.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::handle::Cache;
use crate::backend::{Iterate, Ttl};
use crate::bounds::{CacheKey, CacheValue};
use crate::clock;
use crate::codec::snapshot::{self, Failure, Writer};
use crate::codec::{Codec, Envelope, Postcard, TypeIdentity, decode_key, encode_key};
use crate::error::{BackendError, BackendErrorKind, CacheError, SnapshotErrorKind};
#[cfg(feature = "tokio")]
use crate::sandbox::Captured;

/// Names the snapshot in the envelope's own errors.
const SNAPSHOT: &str = "snapshot";

impl<K: CacheKey, V: CacheValue, B: Iterate<K, V>> Cache<K, V, B> {
    /// The live entries of the current namespace with their time left (`None`: no deadline),
    /// Cachex's `export`; weakly consistent, as [`iter`](Self::iter). An entry removed between
    /// the walk reaching it and its time left being read is left out.
    ///
    /// ```
    /// use std::time::Duration;
    /// use memokit_core::Cache;
    ///
    /// let tokens: Cache<u32, String> = Cache::builder("export-doc").build()?;
    /// tokens.insert(1, "forever".into())?;
    /// tokens.insert_with_ttl(2, "soon".into(), Duration::from_secs(60))?;
    /// let mut all = tokens.export().collect::<Result<Vec<_>, _>>()?;
    /// all.sort_by_key(|(k, ..)| *k);
    /// assert_eq!(all[0], (1, "forever".to_string(), None));
    /// assert!(all[1].2.is_some_and(|left| left <= Duration::from_secs(60)));
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn export(
        &self,
    ) -> impl Iterator<Item = Result<(K, V, Option<Duration>), CacheError>> + '_ {
        self.iter().filter_map(|entry| {
            let (key, value) = match entry {
                Ok(entry) => entry,
                Err(e) => return Some(Err(e)),
            };
            match self.ttl(&key) {
                Ok(Ttl::Missing) => None,
                Ok(Ttl::Never) => Some(Ok((key, value, None))),
                Ok(Ttl::In(left)) => Some(Ok((key, value, Some(left)))),
                Err(e) => Some(Err(e)),
            }
        })
    }
}

impl<K, V, B> Cache<K, V, B>
where
    K: CacheKey + Serialize + DeserializeOwned,
    V: CacheValue + Serialize + DeserializeOwned,
    B: Iterate<K, V>,
{
    /// Writes the live entries of the current namespace to the file at `path`, replacing it
    /// atomically (Cachex's `save`); how many entries it wrote. The folder is created if
    /// missing. On any failure, a full disk included, the previous file at `path` is left
    /// whole. The file is typed and checksummed: see [`restore`](Self::restore).
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// let path = std::env::temp_dir().join(format!("memokit-save-doc-{}.snapshot", std::process::id()));
    /// let users: Cache<u64, String> = Cache::builder("save-doc").build()?;
    /// users.insert_many([(1, "ada".to_string()), (2, "grace".to_string())])?;
    /// assert_eq!(users.save(&path)?, 2);
    ///
    /// // The next run of the program starts warm.
    /// let next: Cache<u64, String> = Cache::builder("save-doc-next").build()?;
    /// assert_eq!(next.restore(&path)?, 2);
    /// assert_eq!(next.get(&1)?.as_deref(), Some("ada"));
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), memokit_core::CacheError>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<u64, CacheError> {
        let path = path.as_ref();
        let envelope = envelope();
        let identity = self.identity();
        let now = clock::now();
        // A walk's failure is kept apart from the file's: it is the backend's error.
        let mut walk_failed = None;
        let written = snapshot::write_atomically(path, |out| {
            let mut writer = Writer::new(out, Postcard.id(), identity, now)?;
            let mut key_bytes = Vec::new();
            for entry in self.export() {
                let (key, value, left) = match entry {
                    Ok(entry) => entry,
                    Err(e) => {
                        walk_failed = Some(e);
                        return Err(io::Error::other("the walk of the cache failed"));
                    }
                };
                let deadline = left.map(|left| now.saturating_add(left));
                key_bytes.clear();
                let sealed = encode_key(&key, &mut key_bytes, SNAPSHOT)
                    .and_then(|()| envelope.seal(identity, &value, now, deadline))
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                writer.record(&key_bytes, &sealed)?;
            }
            writer.finish()
        });
        match (written, walk_failed) {
            (_, Some(e)) => Err(e),
            (Ok(count), None) => Ok(count),
            (Err(e), None) => Err(self.snapshot_error(path, io_failure(&e))),
        }
    }

    /// Loads the snapshot at `path` (written by [`save`](Self::save)) into the current
    /// namespace, Cachex's `restore`; how many entries it inserted. Entries whose deadline has
    /// passed on this cache's clock are skipped; the others keep their time left (capped by the
    /// cache's `ttl`, which also applies to entries saved without one), replace what the cache
    /// holds under their keys, and go through the backend's capacity and eviction like any
    /// insert. Entries the snapshot does not have are left alone.
    ///
    /// A missing, truncated, corrupt or foreign file, or one saved by a cache of another key
    /// type, value type or `version`, is a [`CacheError::Snapshot`] naming `path`, and the
    /// cache is left as it was: the whole file is checked before the first insert.
    pub fn restore(&self, path: impl AsRef<Path>) -> Result<u64, CacheError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| self.snapshot_error(path, io_failure(&e)))?;
        let entries = self
            .read_snapshot(&bytes)
            .map_err(|failure| self.snapshot_error(path, failure))?;
        let count = entries.len();
        let scope = self.scope()?;
        let written = scope.backend.insert_each(entries);
        self.stored_many(&scope, count, written)?;
        Ok(count as u64)
    }

    /// The live entries of a snapshot, each with the TTL to insert it with; the first bad byte
    /// fails the whole file.
    fn read_snapshot(&self, bytes: &[u8]) -> Result<Vec<(K, V, Option<Duration>)>, Failure> {
        let envelope = envelope();
        let identity = self.identity();
        let records = snapshot::parse(bytes, Postcard.id(), identity)?;
        let now = clock::now();
        let cap = self.inner.config.ttl;
        let mut entries = Vec::with_capacity(records.len());
        for (at, (key, value)) in records.into_iter().enumerate() {
            let corrupt = |why: String| (SnapshotErrorKind::Corrupt, format!("record {at}: {why}"));
            let key: K = decode_key(key).ok_or_else(|| {
                corrupt(format!("the key is not a {}", std::any::type_name::<K>()))
            })?;
            let Some(found) = envelope
                .unseal::<V>(identity, value, now)
                .map_err(|e| corrupt(e.message().to_owned()))?
            else {
                continue;
            };
            let left = match envelope.deadline(identity, value, now) {
                Some(Some(deadline)) => Some(deadline.duration_since(now)),
                _ => None,
            };
            let ttl = match (left, cap) {
                (Some(left), Some(cap)) => Some(left.min(cap)),
                (left, cap) => left.or(cap),
            };
            entries.push((key, found.value, ttl));
        }
        Ok(entries)
    }

    /// Restores the snapshot at `path` if there is one, for a cache module's first use: a
    /// missing file is no snapshot yet; any other failure is counted and reported as an
    /// `error` event (from the `"snapshot"` backend, naming the path) and the cache starts
    /// empty.
    pub(crate) fn restore_if_present(&self, path: &Path) {
        let failure = match self.restore(path) {
            Err(CacheError::Snapshot {
                kind: SnapshotErrorKind::Io(io::ErrorKind::NotFound),
                ..
            })
            | Ok(_) => return,
            Err(e @ CacheError::Snapshot { kind, .. }) => {
                let class = match kind {
                    SnapshotErrorKind::Io(_) => BackendErrorKind::Other,
                    _ => BackendErrorKind::Codec,
                };
                BackendError::new(SNAPSHOT, class, e)
            }
            // Already counted and reported by the operation that failed.
            Err(_) => return,
        };
        if let Ok(scope) = self.scope() {
            self.backend_error(&scope, failure);
        }
    }

    fn identity(&self) -> TypeIdentity {
        TypeIdentity::of::<K, V>(self.inner.config.version())
    }

    fn snapshot_error(&self, path: &Path, (kind, message): Failure) -> CacheError {
        CacheError::Snapshot {
            cache: self.inner.config.name.clone(),
            path: path.into(),
            kind,
            message: message.into(),
        }
    }
}

/// The async twins, on Tokio's blocking pool (feature `tokio`).
#[cfg(feature = "tokio")]
impl<K, V, B> Cache<K, V, B>
where
    K: CacheKey + Serialize + DeserializeOwned,
    V: CacheValue + Serialize + DeserializeOwned,
    B: Iterate<K, V>,
{
    /// Async form of [`save`](Self::save): the walk, the writes and the fsyncs run on Tokio's
    /// blocking pool, in the caller's sandbox and on its clock, so no runtime worker waits for
    /// the disk (outside a runtime, on this thread). A panic of the save (a value's `Serialize`)
    /// resumes in the caller, as with `save`.
    ///
    /// ```
    /// use memokit_core::Cache;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("memokit-save-async-doc-{}.snapshot", std::process::id()));
    /// let users: Cache<u64, String> = Cache::builder("save-async-doc").build()?;
    /// users.insert(1, "ada".to_string())?;
    /// assert_eq!(users.save_async(&path).await?, 1);
    /// let next: Cache<u64, String> = Cache::builder("save-async-doc-next").build()?;
    /// assert_eq!(next.restore_async(&path).await?, 1);
    /// assert_eq!(next.get(&1)?.as_deref(), Some("ada"));
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), memokit_core::CacheError>(())
    /// # }).unwrap();
    /// ```
    pub async fn save_async(&self, path: impl AsRef<Path>) -> Result<u64, CacheError> {
        self.offload(path.as_ref(), |cache, path| cache.save(path))
            .await
    }

    /// Async form of [`restore`](Self::restore): the read, the checks and the inserts run on
    /// Tokio's blocking pool, as [`save_async`](Self::save_async).
    pub async fn restore_async(&self, path: impl AsRef<Path>) -> Result<u64, CacheError> {
        self.offload(path.as_ref(), |cache, path| cache.restore(path))
            .await
    }

    /// Runs `op` on a clone of this handle, in this thread's context (sandbox and clock),
    /// through [`crate::blocking::offload`].
    async fn offload(
        &self,
        path: &Path,
        op: fn(&Self, &Path) -> Result<u64, CacheError>,
    ) -> Result<u64, CacheError> {
        let (cache, context, owned) = (self.clone(), Captured::current(), path.to_owned());
        let done = crate::blocking::offload(move || {
            let _in = context.enter();
            op(&cache, &owned)
        })
        .await;
        match done {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(self.snapshot_error(
                path,
                (
                    SnapshotErrorKind::Io(io::ErrorKind::Interrupted),
                    e.to_string(),
                ),
            )),
        }
    }
}

fn io_failure(e: &io::Error) -> Failure {
    (SnapshotErrorKind::Io(e.kind()), e.to_string())
}

/// The envelope of a snapshot's values: postcard, whatever the backend's codec, so a snapshot
/// moves between backends.
fn envelope() -> Envelope {
    Envelope::new(Arc::new(Postcard), SNAPSHOT)
}
