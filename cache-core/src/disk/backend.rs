//! [`DiskBackend`] and its [`Backend`] and [`Iterate`] implementations.

#[cfg(feature = "tokio")]
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "tiered")]
use crate::backend::Timed;
use crate::backend::{
    Backend, BackendStats, Compute, Computed, Cursor, Found, Iterate, Transaction, Ttl, Write,
};
use crate::clock::{self, Timestamp};
use crate::codec::{Envelope, TypeIdentity, encode_key};
use crate::config::Config;
use crate::context::Namespace;
use crate::error::BackendError;
use crate::key::Lookup;

use super::KIND;
use super::options::DiskOptions;
use super::store::{Removals, Store, Writer, hash_of, key_bytes, stored_key};

/// An entry ready to store: its stored key and its envelope.
type Sealed = (Vec<u8>, Vec<u8>);

/// Entries a [`scan`](Iterate::scan) step hands over (more when keys share a hash).
const SCAN_STEP: usize = 256;

/// A cache stored in a file on disk, surviving restarts; see the [module docs](super) for the
/// design. One type serves every key and value type that serde can encode.
///
/// ```
/// use memokit_core::{Cache, DiskBackend, DiskOptions};
///
/// let path = std::env::temp_dir().join(format!("memokit-doc-{}.redb", std::process::id()));
/// let users: Cache<u64, String, DiskBackend> = Cache::builder("users")
///     .backend_options(DiskOptions::new(&path))
///     .build()?;
/// users.insert(1, "ada".to_string())?;
/// drop(users);
/// let users: Cache<u64, String, DiskBackend> = Cache::builder("users")
///     .backend_options(DiskOptions::new(&path))
///     .build()?;
/// assert_eq!(users.get(&1)?.as_deref(), Some("ada"));
/// # drop(users);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), memokit_core::CacheError>(())
/// ```
#[derive(Clone)]
pub struct DiskBackend {
    pub(super) store: Arc<Store>,
    /// This view's namespace id (0: global).
    ns: u64,
    version: u32,
    counters: Arc<Counters>,
}

/// Removals since this view was opened.
#[derive(Default)]
struct Counters {
    evicted: AtomicU64,
    expired: AtomicU64,
    replaced: AtomicU64,
}

impl DiskBackend {
    /// The file this cache lives in.
    pub fn path(&self) -> &std::path::Path {
        &self.store.path
    }

    fn envelope(&self) -> &Envelope {
        &self.store.envelope
    }

    fn identity<K, V>(&self) -> TypeIdentity {
        TypeIdentity::of::<K, V>(self.version)
    }

    fn key<T: Serialize + ?Sized>(&self, key: &T) -> Result<Vec<u8>, BackendError> {
        stored_key(self.ns, |out| encode_key(key, out, KIND))
    }

    fn lookup<K: Serialize, Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
    ) -> Result<Vec<u8>, BackendError> {
        self.key(&key.to_key())
    }

    fn seal<K, V: Serialize>(
        &self,
        value: &V,
        now: Timestamp,
        deadline: Option<Timestamp>,
    ) -> Result<Vec<u8>, BackendError> {
        self.envelope()
            .seal(self.identity::<K, V>(), value, now, deadline)
    }

    fn unseal<K, V: DeserializeOwned>(
        &self,
        envelope: Option<Vec<u8>>,
        now: Timestamp,
    ) -> Result<Option<Found<V>>, BackendError> {
        match envelope {
            Some(bytes) => self.unseal_in::<K, V>(&bytes, now),
            None => Ok(None),
        }
    }

    fn unseal_in<K, V: DeserializeOwned>(
        &self,
        envelope: &[u8],
        now: Timestamp,
    ) -> Result<Option<Found<V>>, BackendError> {
        self.envelope()
            .unseal(self.identity::<K, V>(), envelope, now)
    }

    /// The live value under the stored key `key` at `now`: one read transaction, the envelope
    /// decoded where redb holds it.
    fn get_one<K, V: DeserializeOwned>(
        &self,
        key: &[u8],
        now: Timestamp,
    ) -> Result<Option<Found<V>>, BackendError> {
        self.store
            .read(|r| r.with(key, |e| self.unseal_in::<K, V>(e, now)))?
            .unwrap_or(Ok(None))
    }

    /// Runs `f` in one write transaction of this view at memokit's time now.
    fn write<K, V, R>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<R, BackendError>,
    ) -> Result<R, BackendError> {
        self.write_at::<K, V, R>(clock::now(), f)
    }

    /// Runs `f` in one write transaction of this view at `now`, counting what it removed on
    /// the way.
    fn write_at<K, V, R>(
        &self,
        now: Timestamp,
        f: impl FnOnce(&mut Writer<'_>) -> Result<R, BackendError>,
    ) -> Result<R, BackendError> {
        let (out, removals) = self.store.write(self.ns, now, self.identity::<K, V>(), f)?;
        let Removals {
            evicted,
            expired,
            replaced,
        } = removals;
        self.counters.evicted.fetch_add(evicted, Ordering::Relaxed);
        self.counters.expired.fetch_add(expired, Ordering::Relaxed);
        self.counters
            .replaced
            .fetch_add(replaced, Ordering::Relaxed);
        Ok(out)
    }

    fn stored_keys<K: Serialize, Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Vec<u8>>, BackendError> {
        keys.iter().map(|k| self.lookup(*k)).collect()
    }

    /// The live values under the stored keys `keys` at `now`, from one snapshot.
    fn get_stored<K, V: DeserializeOwned>(
        &self,
        keys: &[Vec<u8>],
        now: Timestamp,
    ) -> Result<Vec<Option<Found<V>>>, BackendError> {
        self.read_each(keys, |e| self.unseal_in::<K, V>(e, now))
    }

    /// What `read` makes of the envelope under each of the stored keys `keys` (`None` where there
    /// is none), in one read transaction.
    fn read_each<T>(
        &self,
        keys: &[Vec<u8>],
        read: impl Fn(&[u8]) -> Result<Option<T>, BackendError>,
    ) -> Result<Vec<Option<T>>, BackendError> {
        self.store.read(|r| {
            keys.iter()
                .map(|k| r.with(k, &read)?.unwrap_or(Ok(None)))
                .collect()
        })
    }

    /// The (stored key, envelope) pairs of `entries`, written at `now`.
    fn seal_all<K: Serialize, V: Serialize>(
        &self,
        entries: &[(K, V)],
        ttl: Option<Duration>,
        now: Timestamp,
    ) -> Result<Vec<Sealed>, BackendError> {
        entries
            .iter()
            .map(|(k, v)| self.seal_one::<K, V>(k, v, ttl, now))
            .collect()
    }

    /// The (stored key, envelope) pair of one entry written at `now`, expiring after `ttl`.
    fn seal_one<K: Serialize, V: Serialize>(
        &self,
        key: &K,
        value: &V,
        ttl: Option<Duration>,
        now: Timestamp,
    ) -> Result<Sealed, BackendError> {
        let deadline = ttl.map(|ttl| now.saturating_add(ttl));
        Ok((self.key(key)?, self.seal::<K, V>(value, now, deadline)?))
    }

    /// Stores sealed entries in one write transaction at `now`.
    fn put_sealed<K, V>(&self, sealed: &[Sealed], now: Timestamp) -> Result<(), BackendError> {
        self.write_at::<K, V, _>(now, |w| sealed.iter().try_for_each(|(k, e)| w.put(k, e)))
    }

    /// Removes the stored keys `keys` in one write transaction at `now`; how many were live.
    fn remove_stored<K, V>(&self, keys: &[Vec<u8>], now: Timestamp) -> Result<u64, BackendError> {
        self.write_at::<K, V, _>(now, |w| {
            let mut live = 0;
            for key in keys {
                if let Some(envelope) = w.delete(key)? {
                    live += u64::from(w.is_live(&envelope));
                }
            }
            Ok(live)
        })
    }

    /// Drops every entry of the view that is no longer live at `now`, in one write transaction.
    fn purge_at<K, V>(&self, now: Timestamp) -> Result<u64, BackendError> {
        self.write_at::<K, V, _>(now, |w| {
            let dead = w.select(|_, envelope| !w.is_live(envelope))?;
            for key in &dead {
                w.delete(key)?;
            }
            w.removals.expired += dead.len() as u64;
            Ok(dead.len() as u64)
        })
    }

    /// Removes the stored key `key` at `now` and returns its live value.
    fn take_at<K, V: DeserializeOwned>(
        &self,
        key: &[u8],
        now: Timestamp,
    ) -> Result<Option<V>, BackendError> {
        self.write_at::<K, V, _>(now, |w| match w.delete(key)? {
            Some(envelope) => Ok(self.unseal::<K, V>(Some(envelope), now)?.map(|f| f.value)),
            None => Ok(None),
        })
    }

    /// Whether the stored key `key` has a live value at `now`; reads only the header.
    fn contains_at<K, V>(&self, key: &[u8], now: Timestamp) -> Result<bool, BackendError> {
        let identity = self.identity::<K, V>();
        let live = self
            .store
            .read(|r| r.with(key, |e| self.envelope().is_live(identity, e, now)))?;
        Ok(live == Some(true))
    }

    /// How long the stored key `key` has left at `now`.
    fn ttl_at<K, V>(&self, key: &[u8], now: Timestamp) -> Result<Ttl, BackendError> {
        let identity = self.identity::<K, V>();
        let ttl = self
            .store
            .read(|r| r.with(key, |e| self.envelope().ttl(identity, e, now)))?;
        Ok(ttl.unwrap_or(Ttl::Missing))
    }

    /// The live values under the stored keys `keys` at `now`, each with the time it has left, in
    /// one read transaction: what a tiered first layer copies.
    #[cfg(feature = "tiered")]
    fn get_timed_stored<K, V: DeserializeOwned>(
        &self,
        keys: &[Vec<u8>],
        now: Timestamp,
    ) -> Result<Vec<Option<Timed<V>>>, BackendError> {
        let identity = self.identity::<K, V>();
        self.read_each(keys, |e| {
            let left = self.envelope().ttl(identity, e, now);
            Ok(self.unseal_in::<K, V>(e, now)?.map(|found| (found, left)))
        })
    }

    /// [`get_timed_stored`](Self::get_timed_stored) of `keys` at memokit's time now.
    #[cfg(feature = "tiered")]
    pub(crate) fn get_many_timed<K, V, Q>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Option<Timed<V>>>, BackendError>
    where
        K: Serialize,
        V: DeserializeOwned,
        Q: ?Sized + Lookup<K>,
    {
        self.get_timed_stored::<K, V>(&self.stored_keys(keys)?, clock::now())
    }

    /// Async form of [`get_many_timed`](Self::get_many_timed), on the blocking pool.
    #[cfg(all(feature = "tiered", feature = "tokio"))]
    pub(crate) fn get_many_timed_async<K, V, Q>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<Vec<Option<Timed<V>>>, BackendError>> + Send + use<K, V, Q>
    where
        K: Serialize + 'static,
        V: DeserializeOwned + Send + 'static,
        Q: ?Sized + Lookup<K>,
    {
        let keys = self.stored_keys(keys);
        let (this, now) = (self.clone(), clock::now());
        async move {
            let keys = keys?;
            offload(move || this.get_timed_stored::<K, V>(&keys, now)).await
        }
    }

    /// Gives the live value under the stored key `key` a deadline `ttl` after `now` (none with
    /// `None`), rewriting the stored header in one write transaction; whether it was live.
    fn expire_at<K, V>(
        &self,
        key: &[u8],
        ttl: Option<Duration>,
        now: Timestamp,
    ) -> Result<bool, BackendError> {
        self.write_at::<K, V, _>(now, |w| {
            if self.deadline_in::<K, V>(w, key)?.is_none() {
                return Ok(false);
            }
            let Some(mut envelope) = w.get(key)? else {
                return Ok(false);
            };
            Envelope::set_deadline(&mut envelope, ttl.map(|ttl| now.saturating_add(ttl)));
            w.rewrite(key, &envelope)?;
            Ok(true)
        })
    }

    /// The live value under `key` in a write transaction, or a codec error.
    fn live_in<K, V: DeserializeOwned>(
        &self,
        w: &Writer<'_>,
        key: &[u8],
    ) -> Result<Option<Found<V>>, BackendError> {
        self.unseal::<K, V>(w.get(key)?, w.now)
    }

    /// The deadline of the live value under `key` (`Some(None)`: none), or `None` if none is live.
    fn deadline_in<K, V>(
        &self,
        w: &Writer<'_>,
        key: &[u8],
    ) -> Result<Option<Option<Timestamp>>, BackendError> {
        Ok(w.get(key)?
            .and_then(|e| self.envelope().deadline(self.identity::<K, V>(), &e, w.now)))
    }
}

/// JSON documents in one write transaction, through [`compute`](Backend::compute).
#[cfg(feature = "json")]
impl<K> crate::backend::json::JsonBackend<K> for DiskBackend where
    K: crate::bounds::CacheKey + Serialize
{
}

impl<K, V> Backend<K, V> for DiskBackend
where
    K: Serialize + Eq + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Options = DiskOptions;

    const KIND: &'static str = KIND;

    fn open(config: &Config<K, V>, options: &DiskOptions) -> Result<Self, BackendError> {
        let unsupported = [
            (
                config.weigher().is_some(),
                "weigher",
                "the disk backend bounds entries by count: remove the weigher and keep `capacity`",
            ),
            (
                config.tti().is_some(),
                "tti",
                "a time to idle would make every read a disk write; use `ttl` with the disk backend",
            ),
        ];
        if let Some((_, setting, why)) = unsupported.iter().find(|(bad, ..)| *bad) {
            return Err(BackendError::config(
                KIND,
                setting,
                format_args!(
                    "not supported by the disk backend of cache `{}`: {why}",
                    config.name
                ),
            ));
        }
        let codec = crate::codec::codec_for::<V>(&options.codec);
        let ordered = config.capacity().is_some() || config.ttl().is_some();
        let store = Store::open(&config.name, options, config.capacity(), ordered, codec)?;
        Ok(Self {
            store: Arc::new(store),
            ns: Namespace::GLOBAL.id(),
            version: config.version(),
            counters: Arc::default(),
        })
    }

    fn scoped(&self, namespace: Namespace) -> Result<Self, BackendError> {
        Ok(Self {
            ns: namespace.id(),
            counters: Arc::default(),
            ..self.clone()
        })
    }

    fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Found<V>>, BackendError> {
        self.get_one::<K, V>(&self.lookup(key)?, clock::recent())
    }

    fn insert(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), BackendError> {
        self.insert_many(vec![(key, value)], ttl)
    }

    fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        Ok(<Self as Backend<K, V>>::remove_many(self, &[key])? > 0)
    }

    fn clear(&self) -> Result<(), BackendError> {
        self.write::<K, V, _>(|w| w.clear())
    }

    /// Reads the whole view (one read transaction) to count only live entries: a full pass,
    /// keep it off hot paths. `weight` equals `entries`. If the file fails, `entries` is 0.
    fn stats(&self) -> BackendStats {
        let now = clock::now();
        let identity = self.identity::<K, V>();
        let mut entries = 0;
        let counted = self.store.read(|r| {
            r.each(self.ns, 0, |_, envelope| {
                entries += u64::from(self.envelope().is_live(identity, envelope, now));
                true
            })
        });
        let entries = if counted.is_ok() { entries } else { 0 };
        BackendStats {
            entries,
            weight: entries,
            evicted: self.counters.evicted.load(Ordering::Relaxed),
            expired: self.counters.expired.load(Ordering::Relaxed),
            replaced: self.counters.replaced.load(Ordering::Relaxed),
        }
    }

    /// One write transaction that drops every entry of the view that is no longer live
    /// (expired, or unreadable by this cache's types); how many.
    fn purge_expired(&self) -> Result<u64, BackendError> {
        self.purge_at::<K, V>(clock::now())
    }

    /// One read transaction: a consistent snapshot, so a transaction is seen whole or not at all.
    fn get_many<Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Option<Found<V>>>, BackendError> {
        self.get_stored::<K, V>(&self.stored_keys(keys)?, clock::recent())
    }

    /// One write transaction, so one commit (one fsync in durable mode) for the batch.
    fn insert_many(&self, entries: Vec<(K, V)>, ttl: Option<Duration>) -> Result<(), BackendError> {
        let now = clock::now();
        self.put_sealed::<K, V>(&self.seal_all(&entries, ttl, now)?, now)
    }

    /// One write transaction, as [`insert_many`](Backend::insert_many).
    fn insert_each(&self, entries: Vec<(K, V, Option<Duration>)>) -> Result<(), BackendError> {
        let now = clock::now();
        let sealed = entries
            .iter()
            .map(|(k, v, ttl)| self.seal_one::<K, V>(k, v, *ttl, now))
            .collect::<Result<Vec<_>, _>>()?;
        self.put_sealed::<K, V>(&sealed, now)
    }

    /// One write transaction; counts only keys that had a live value.
    fn remove_many<Q: ?Sized + Lookup<K>>(&self, keys: &[&Q]) -> Result<u64, BackendError> {
        self.remove_stored::<K, V>(&self.stored_keys(keys)?, clock::now())
    }

    fn take<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<V>, BackendError> {
        self.take_at::<K, V>(&self.lookup(key)?, clock::now())
    }

    /// In one write transaction (redb has one writer at a time): `f` runs once.
    fn compute<F>(
        &self,
        key: K,
        ttl: Option<Duration>,
        mut f: F,
    ) -> Result<Computed<V>, BackendError>
    where
        F: FnMut(Option<&V>) -> Compute<V>,
    {
        let stored = self.key(&key)?;
        self.write::<K, V, _>(|w| {
            let now = w.now;
            let old = self.live_in::<K, V>(w, &stored)?.map(|f| f.value);
            let deadline = match self.deadline_in::<K, V>(w, &stored)? {
                Some(kept) => kept,
                None => ttl.map(|ttl| now.saturating_add(ttl)),
            };
            Ok(match (f(old.as_ref()), old) {
                (Compute::Put(new), old) => {
                    w.put(&stored, &self.seal::<K, V>(&new, now, deadline)?)?;
                    match old {
                        Some(_) => Computed::Updated(new),
                        None => Computed::Inserted(new),
                    }
                }
                (Compute::Remove, Some(old)) => {
                    w.delete(&stored)?;
                    Computed::Removed(old)
                }
                (Compute::Remove | Compute::Keep, None) => Computed::StillNone,
                (Compute::Keep, Some(old)) => Computed::Unchanged(old),
            })
        })
    }

    /// In one write transaction: the snapshot, `f` (once) and the commit, with no other
    /// writer in between and readers seeing all of the writes or none.
    fn transaction<R, F>(
        &self,
        keys: &[K],
        ttl: Option<Duration>,
        mut f: F,
    ) -> Result<R, BackendError>
    where
        F: FnMut(&mut Transaction<'_, K, V>) -> R,
    {
        let stored: Vec<Vec<u8>> = keys.iter().map(|k| self.key(k)).collect::<Result<_, _>>()?;
        self.write::<K, V, _>(|w| {
            let now = w.now;
            let values = stored
                .iter()
                .map(|k| Ok(self.live_in::<K, V>(w, k)?.map(|f| f.value)))
                .collect::<Result<Vec<_>, BackendError>>()?;
            let mut tx = Transaction::new(keys, values, ttl);
            let out = f(&mut tx);
            for (i, write) in tx.into_writes() {
                match write {
                    Write::Put(value, ttl) => {
                        let deadline = ttl.map(|ttl| now.saturating_add(ttl));
                        w.put(&stored[i], &self.seal::<K, V>(&value, now, deadline)?)?;
                    }
                    Write::Remove => {
                        w.delete(&stored[i])?;
                    }
                }
            }
            Ok(out)
        })
    }

    /// Reads only the header.
    fn contains_key<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        self.contains_at::<K, V>(&self.lookup(key)?, clock::recent())
    }

    fn ttl<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Ttl, BackendError> {
        self.ttl_at::<K, V>(&self.lookup(key)?, clock::now())
    }

    /// Rewrites the deadline in the stored header, in one write transaction.
    fn expire<Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        self.expire_at::<K, V>(&self.lookup(key)?, ttl, clock::now())
    }

    /// Whether the value is live: the disk backend has no time to idle (it rejects `tti`), so
    /// a read changes nothing.
    fn touch<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        <Self as Backend<K, V>>::contains_key(self, key)
    }

    /// Evicts the oldest writes first (the backend's FIFO), in one write transaction.
    fn prune(&self, max_entries: u64) -> Result<u64, BackendError> {
        self.write::<K, V, _>(|w| w.evict_to(max_entries))
    }

    // On Tokio's blocking pool inside a runtime (feature `tokio`), so a commit's fsync never
    // holds a runtime thread: the keys are encoded and the clock read (a sandbox's, which is
    // the calling thread's) before the work moves. `compute` and `transaction` take a caller's
    // closure, which is not `'static`, so they cannot move: they run in place, with the
    // runtime told the thread blocks (see `in_place`).
    #[cfg(feature = "tokio")]
    fn get_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<Found<V>>, BackendError>> + Send {
        self.offload_key(key, |this, key, now| this.get_one::<K, V>(&key, now))
    }

    #[cfg(feature = "tokio")]
    fn insert_async(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        <Self as Backend<K, V>>::insert_many_async(self, vec![(key, value)], ttl)
    }

    #[cfg(feature = "tokio")]
    fn remove_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        self.offload_key(key, |this, key, now| {
            Ok(this.remove_stored::<K, V>(&[key], now)? > 0)
        })
    }

    #[cfg(feature = "tokio")]
    fn clear_async(&self) -> impl Future<Output = Result<(), BackendError>> + Send {
        let (this, now) = (self.clone(), clock::now());
        offload(move || this.write_at::<K, V, _>(now, |w| w.clear()))
    }

    #[cfg(feature = "tokio")]
    fn get_many_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<Vec<Option<Found<V>>>, BackendError>> + Send {
        let keys = self.stored_keys(keys);
        let (this, now) = (self.clone(), clock::now());
        async move {
            let keys = keys?;
            offload(move || this.get_stored::<K, V>(&keys, now)).await
        }
    }

    #[cfg(feature = "tokio")]
    fn insert_many_async(
        &self,
        entries: Vec<(K, V)>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        let now = clock::now();
        let sealed = self.seal_all(&entries, ttl, now);
        let this = self.clone();
        async move {
            let sealed = sealed?;
            offload(move || this.put_sealed::<K, V>(&sealed, now)).await
        }
    }

    #[cfg(feature = "tokio")]
    fn remove_many_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<u64, BackendError>> + Send {
        let keys = self.stored_keys(keys);
        let (this, now) = (self.clone(), clock::now());
        async move {
            let keys = keys?;
            offload(move || this.remove_stored::<K, V>(&keys, now)).await
        }
    }

    #[cfg(feature = "tokio")]
    fn purge_expired_async(&self) -> impl Future<Output = Result<u64, BackendError>> + Send {
        let (this, now) = (self.clone(), clock::now());
        offload(move || this.purge_at::<K, V>(now))
    }

    #[cfg(feature = "tokio")]
    fn take_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<V>, BackendError>> + Send {
        self.offload_key(key, move |this, key, now| this.take_at::<K, V>(&key, now))
    }

    #[cfg(feature = "tokio")]
    fn contains_key_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        self.offload_key(key, move |this, key, now| {
            this.contains_at::<K, V>(&key, now)
        })
    }

    #[cfg(feature = "tokio")]
    fn ttl_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Ttl, BackendError>> + Send {
        self.offload_key(key, move |this, key, now| this.ttl_at::<K, V>(&key, now))
    }

    #[cfg(feature = "tokio")]
    fn expire_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        self.offload_key(key, move |this, key, now| {
            this.expire_at::<K, V>(&key, ttl, now)
        })
    }

    /// As `contains_key`: the disk backend has no time to idle.
    #[cfg(feature = "tokio")]
    fn touch_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        <Self as Backend<K, V>>::contains_key_async(self, key)
    }

    #[cfg(feature = "tokio")]
    fn compute_async<F>(
        &self,
        key: K,
        ttl: Option<Duration>,
        f: F,
    ) -> impl Future<Output = Result<Computed<V>, BackendError>> + Send
    where
        F: FnMut(Option<&V>) -> Compute<V> + Send,
    {
        std::future::ready(in_place(|| {
            <Self as Backend<K, V>>::compute(self, key, ttl, f)
        }))
    }

    #[cfg(feature = "tokio")]
    fn transaction_async<R, F>(
        &self,
        keys: &[K],
        ttl: Option<Duration>,
        f: F,
    ) -> impl Future<Output = Result<R, BackendError>> + Send
    where
        F: FnMut(&mut Transaction<'_, K, V>) -> R + Send,
        R: Send,
    {
        std::future::ready(in_place(|| {
            <Self as Backend<K, V>>::transaction(self, keys, ttl, f)
        }))
    }
}

#[cfg(feature = "tokio")]
impl DiskBackend {
    /// Runs `op` on this view with `key` encoded and the time now read here, on Tokio's
    /// blocking pool (see [`offload`]).
    fn offload_key<K: Serialize, Q: ?Sized + Lookup<K>, T: Send + 'static>(
        &self,
        key: &Q,
        op: impl FnOnce(Self, Vec<u8>, Timestamp) -> Result<T, BackendError> + Send + 'static,
    ) -> impl Future<Output = Result<T, BackendError>> + Send + 'static {
        let key = self.lookup(key);
        let (this, now) = (self.clone(), clock::now());
        async move {
            let key = key?;
            offload(move || op(this, key, now)).await
        }
    }
}

/// Runs `f` on this thread, telling a multi-thread Tokio runtime the thread blocks so it hands
/// the thread's other tasks to another worker (`block_in_place`). A current-thread runtime has
/// no other worker: there `f` simply runs, as outside a runtime.
#[cfg(feature = "tokio")]
fn in_place<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Runs `f` on Tokio's blocking pool inside a runtime, else on this thread (see
/// [`crate::blocking`]); a blocking task that failed is the backend's error.
#[cfg(feature = "tokio")]
async fn offload<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, BackendError> {
    crate::blocking::offload_backend(KIND, f).await
}

/// Steps by key range: the table is ordered by each key's fixed hash, and a step ends between
/// two hashes, so an entry written during the walk keeps its place and none is returned twice.
impl<K, V> Iterate<K, V> for DiskBackend
where
    K: Serialize + DeserializeOwned + Eq + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn scan(
        &self,
        cursor: Cursor,
        visit: &mut dyn FnMut(K, V),
    ) -> Result<Option<Cursor>, BackendError> {
        let now = clock::now();
        let identity = self.identity::<K, V>();
        let mut taken = 0;
        let mut last_hash = None;
        let mut next = None;
        self.store.read(|r| {
            r.each(self.ns, cursor.position(), |stored, envelope| {
                let hash = hash_of(stored);
                if taken >= SCAN_STEP && last_hash != Some(hash) {
                    next = Some(hash);
                    return false;
                }
                last_hash = Some(hash);
                taken += 1;
                let key = postcard::from_bytes::<K>(key_bytes(stored));
                let value = self.envelope().unseal::<V>(identity, envelope, now);
                if let (Ok(key), Ok(Some(found))) = (key, value) {
                    visit(key, found.value);
                }
                true
            })
        })?;
        Ok(next.map(|hash| Cursor::new(0, hash)))
    }

    /// One write transaction: entries that do not decode are left alone.
    fn remove_where<F: FnMut(&K, &V) -> bool>(&self, mut pred: F) -> Result<u64, BackendError> {
        let identity = self.identity::<K, V>();
        self.write::<K, V, _>(|w| {
            let now = w.now;
            let chosen = w.select(|stored, envelope| {
                let key = postcard::from_bytes::<K>(key_bytes(stored));
                let value = self.envelope().unseal::<V>(identity, envelope, now);
                matches!((key, value), (Ok(k), Ok(Some(found))) if pred(&k, &found.value))
            })?;
            for key in &chosen {
                w.delete(key)?;
            }
            Ok(chosen.len() as u64)
        })
    }
}

impl std::fmt::Debug for DiskBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskBackend")
            .field("path", &self.store.path)
            .field("namespace", &self.ns)
            .field("codec", &self.store.envelope.codec().name())
            .finish_non_exhaustive()
    }
}
