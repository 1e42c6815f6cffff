//! [`RedisBackend`] and its [`Backend`] implementation.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::{Cmd, FromRedisValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::lease::Leases;
use crate::backend::{Backend, BackendStats, Compute, Computed, Found, Transaction, Ttl};
use crate::clock::{self, Timestamp};
use crate::codec::{Envelope, HEAD_LEN, TypeIdentity};
use crate::config::Config;
use crate::context::Namespace;
use crate::error::BackendError;
use crate::key::Lookup;

use super::KIND;
use super::clear::{Walk, Walker, header_of};
use super::connection::Connector;
use super::idle::{self, Reply};
use super::keys::KeySpace;
use super::options::RedisOptions;

/// A cache stored in Redis or Redis Cluster; see the [module docs](super) for the design.
///
/// One type serves every key and value type that serde can encode. Build it through a
/// [`Cache`](crate::Cache) with [`RedisOptions`], or write `#[cached(backend = redis)]`.
/// Redis-specific operations (hashes, pipelines, raw commands) are its inherent methods, reached
/// with [`Cache::backend`](crate::Cache::backend).
///
/// ```no_run
/// use memokit_core::{Cache, RedisBackend, RedisOptions};
///
/// let sessions: Cache<String, Vec<u8>, RedisBackend> = Cache::builder("sessions")
///     .backend_options(RedisOptions::new().url("redis://127.0.0.1:6379/1"))
///     .build()?;
/// sessions.insert("abc".into(), vec![1, 2, 3])?;
/// let backend = sessions.backend()?;
/// backend.hash_set("profile:7", "name", &"ada")?;
/// assert_eq!(backend.hash_get::<_, String>("profile:7", "name")?.as_deref(), Some("ada"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    pub(crate) store: Arc<Store>,
    /// This view's keys: the store's prefix and cache name, and the view's namespace.
    pub(crate) space: KeySpace,
}

/// One cache's store in Redis, which every view (one per namespace) of the cache shares: how to
/// reach the server, how values are encoded, where the cache's keys live, and its time to idle.
pub(crate) struct Store {
    pub(crate) connector: Connector,
    pub(crate) envelope: Envelope,
    pub(crate) prefix: Arc<str>,
    pub(crate) cache: Arc<str>,
    /// Time to idle: reads push expiry back by this much.
    tti: Option<Duration>,
    /// The schema version, part of every value's [`TypeIdentity`].
    pub(crate) version: u32,
}

/// `PX` takes whole milliseconds; a shorter positive TTL rounds up rather than to "expire now".
pub(crate) fn px(ttl: Duration) -> u64 {
    let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    if Duration::from_millis(millis) < ttl {
        millis.saturating_add(1)
    } else {
        millis
    }
    .max(1)
}

impl RedisBackend {
    /// Runs `cmd` on a pooled blocking connection.
    pub(crate) fn run<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, BackendError> {
        self.store
            .connector
            .run_sync(|conn| cmd.query(conn.as_dyn()))
    }

    /// Runs `cmd` on this runtime's multiplexed connection.
    pub(crate) async fn run_async<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, BackendError> {
        self.store
            .connector
            .run_async(|mut conn| async move { cmd.query_async(&mut conn).await })
            .await
    }

    pub(crate) fn envelope(&self) -> &Envelope {
        &self.store.envelope
    }

    /// The identity written with (and checked on) a value of type `V` under a key of type `K`.
    pub(crate) fn identity<K: ?Sized, V: ?Sized>(&self) -> TypeIdentity {
        TypeIdentity::of::<K, V>(self.store.version)
    }

    /// The time to idle, and the same in Redis's milliseconds.
    pub(crate) fn tti(&self) -> Option<(Duration, u64)> {
        self.store.tti.map(|tti| (tti, px(tti)))
    }

    /// `GET`, or with a time to idle, the [`idle`] script that also pushes the deadline and
    /// Redis's expiry back, unless the value has expired at `now`.
    pub(crate) fn read<K, V>(&self, key: &[u8], now: Timestamp) -> Cmd {
        match self.tti() {
            Some(tti) => idle::read(key, self.head::<K, V>(), now, tti, Reply::Value),
            None => {
                let mut cmd = redis::cmd("GET");
                cmd.arg(key);
                cmd
            }
        }
    }

    /// The first bytes of every `K -> V` value, for scripts that check a value on the server.
    pub(crate) fn head<K, V>(&self) -> [u8; HEAD_LEN] {
        self.envelope().head(self.identity::<K, V>())
    }

    /// The stored form of a `K -> V` value written at `now` that expires after `ttl` (or the
    /// time to idle), and that expiry in Redis's milliseconds.
    pub(crate) fn sealed<K, V: Serialize>(
        &self,
        value: &V,
        ttl: Option<Duration>,
        now: Timestamp,
    ) -> Result<(Vec<u8>, Option<u64>), BackendError> {
        let ttl = ttl.or(self.store.tti);
        let deadline = ttl.map(|ttl| now.saturating_add(ttl));
        let bytes = self
            .envelope()
            .seal(self.identity::<K, V>(), value, now, deadline)?;
        Ok((bytes, ttl.map(px)))
    }

    /// `SET` with the value's deadline on memokit's clock in the envelope, and Redis's own expiry
    /// (`PX`) as the storage bound.
    pub(crate) fn write<K: Serialize, V: Serialize>(
        &self,
        key: &K,
        value: &V,
        ttl: Option<Duration>,
    ) -> Result<Cmd, BackendError> {
        let (bytes, px) = self.sealed::<K, V>(value, ttl, clock::now())?;
        Ok(set(&self.space.key(key)?, bytes, px))
    }

    /// The Redis keys of `keys`.
    pub(crate) fn keys<K, Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Vec<u8>>, BackendError>
    where
        K: Serialize,
    {
        keys.iter().map(|k| self.space.key(&k.to_key())).collect()
    }

    /// The Redis key of `key`.
    fn key<K: Serialize, Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Vec<u8>, BackendError> {
        self.space.key(&key.to_key())
    }

    /// The read of `key`'s envelope header, for `contains_key` and `ttl`.
    fn header_cmd<K: Serialize, Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
    ) -> Result<Cmd, BackendError> {
        self.key(key).map(|key| header_of(&key))
    }

    /// Runs the command `cmd` builds and makes a result of its reply with `then`.
    fn one<R: FromRedisValue, T>(
        &self,
        cmd: Result<Cmd, BackendError>,
        then: impl FnOnce(R) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        then(self.run(&cmd?)?)
    }

    /// Async form of [`one`](Self::one).
    async fn one_async<R: FromRedisValue, T>(
        &self,
        cmd: Result<Cmd, BackendError>,
        then: impl FnOnce(R) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        then(self.run_async(&cmd?).await?)
    }

    /// What a read of a `K -> V` entry found at `now`: an expired value is a miss.
    pub(crate) fn found<K, V: DeserializeOwned>(
        &self,
        bytes: Option<Vec<u8>>,
        now: Timestamp,
    ) -> Result<Option<Found<V>>, BackendError> {
        let identity = self.identity::<K, V>();
        Ok(match bytes {
            Some(bytes) => self.envelope().unseal(identity, &bytes, now)?,
            None => None,
        })
    }

    /// Live `K -> V` entries of this view at `now`.
    pub(crate) fn live<K, V>(&self, now: Timestamp) -> Walk {
        Walk::Live {
            envelope: self.envelope().clone(),
            identity: self.identity::<K, V>(),
            now,
        }
    }
}

/// `SET` of a stored value, with Redis's expiry in milliseconds if it has one.
pub(crate) fn set(key: &[u8], bytes: Vec<u8>, px: Option<u64>) -> Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(bytes);
    if let Some(px) = px {
        cmd.arg("PX").arg(px);
    }
    cmd
}

fn unlink(key: &[u8]) -> Cmd {
    let mut cmd = redis::cmd("UNLINK");
    cmd.arg(key);
    cmd
}

impl<K, V> Backend<K, V> for RedisBackend
where
    K: Serialize + Eq + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Options = RedisOptions;

    const KIND: &'static str = KIND;
    const LEASES: bool = true;

    fn open(config: &Config<K, V>, options: &RedisOptions) -> Result<Self, BackendError> {
        let unsupported = [
            (
                config.capacity().is_some(),
                "capacity",
                "Redis bounds memory with its own `maxmemory` policy; remove `capacity` or use the memory backend",
            ),
            (
                config.weigher().is_some(),
                "weigher",
                "Redis bounds memory with its own `maxmemory` policy; remove the weigher",
            ),
            (
                config.tti().is_some() && config.ttl().is_some(),
                "tti",
                "Redis keeps one expiry per key: give either `ttl` or `tti`, not both",
            ),
        ];
        if let Some((_, setting, why)) = unsupported.iter().find(|(bad, ..)| *bad) {
            return Err(BackendError::config(
                KIND,
                setting,
                format_args!("not supported by the redis backend: {why}"),
            ));
        }
        let topology = options.topology()?;
        let store = Store {
            connector: Connector::new(topology, options)?,
            envelope: Envelope::new(crate::codec::codec_for::<V>(&options.codec), KIND),
            prefix: options.prefix.clone(),
            cache: config.name.clone(),
            tti: config.tti(),
            version: config.version(),
        };
        let space = KeySpace::new(&store.prefix, &store.cache, Namespace::GLOBAL);
        Ok(Self {
            store: Arc::new(store),
            space,
        })
    }

    fn scoped(&self, namespace: Namespace) -> Result<Self, BackendError> {
        Ok(Self {
            store: self.store.clone(),
            space: KeySpace::new(&self.store.prefix, &self.store.cache, namespace),
        })
    }

    fn leases(&self) -> Option<&dyn Leases<K>> {
        Some(self)
    }

    fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Found<V>>, BackendError> {
        let key = self.space.key(&key.to_key())?;
        let now = clock::now();
        self.found::<K, V>(self.run(&self.read::<K, V>(&key, now))?, now)
    }

    fn insert(&self, key: K, value: V, ttl: Option<Duration>) -> Result<(), BackendError> {
        self.run(&self.write(&key, &value, ttl)?)
    }

    fn remove<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let key = self.space.key(&key.to_key())?;
        Ok(self.run::<u64>(&unlink(&key))? > 0)
    }

    fn clear(&self) -> Result<(), BackendError> {
        Walker::new(&self.space, Walk::Unlink)
            .run_sync(&self.store.connector)
            .map(drop)
    }

    /// Counts the view's live entries: a `SCAN` of the view's own keys (never `KEYS` or
    /// `DBSIZE`), reading the 28-byte header of each to skip values past their deadline on
    /// memokit's clock and values of another type (see the [module docs](super) for the cost).
    /// If Redis fails, `entries` is 0. The other counters are 0: Redis does not report them.
    fn stats(&self) -> BackendStats {
        let now = clock::now();
        let entries = Walker::new(&self.space, self.live::<K, V>(now))
            .run_sync(&self.store.connector)
            .unwrap_or(0);
        BackendStats {
            entries,
            weight: entries,
            ..BackendStats::default()
        }
    }

    fn get_many<Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Option<Found<V>>>, BackendError> {
        self.read_many::<K, V, Q, _>(keys, |bytes, now| self.found::<K, V>(bytes, now))
    }

    fn insert_many(&self, entries: Vec<(K, V)>, ttl: Option<Duration>) -> Result<(), BackendError> {
        let batch = self.insert_batch(&entries, ttl, clock::now())?;
        self.run_batch(&batch).map(drop)
    }

    fn remove_many<Q: ?Sized + Lookup<K>>(&self, keys: &[&Q]) -> Result<u64, BackendError> {
        let (keys, now) = (self.keys(keys)?, clock::now());
        let replies = self.run_batch(&self.remove_batch(&keys))?;
        Ok(self.removed::<K, V>(replies, now))
    }

    fn take<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<V>, BackendError> {
        let now = clock::now();
        let cmd = self.key(key).map(Self::take_cmd);
        self.one(cmd, |bytes| self.taken::<K, V>(bytes, now))
    }

    fn compute<F>(&self, key: K, ttl: Option<Duration>, f: F) -> Result<Computed<V>, BackendError>
    where
        F: FnMut(Option<&V>) -> Compute<V>,
    {
        self.atomically(self.computation::<K, V, F>(self.space.key(&key)?, ttl, f, clock::now()))
    }

    fn transaction<R, F>(&self, keys: &[K], ttl: Option<Duration>, f: F) -> Result<R, BackendError>
    where
        F: FnMut(&mut Transaction<'_, K, V>) -> R,
    {
        self.atomically(self.transact(keys, ttl, f, clock::now())?)
    }

    fn contains_key<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let now = clock::now();
        let cmd = self.header_cmd(key);
        self.one(
            cmd,
            |header: Vec<u8>| Ok(self.is_live::<K, V>(&header, now)),
        )
    }

    fn ttl<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Ttl, BackendError> {
        let now = clock::now();
        let cmd = self.header_cmd(key);
        self.one(cmd, |header: Vec<u8>| Ok(self.ttl_in::<K, V>(&header, now)))
    }

    fn expire<Q: ?Sized + Lookup<K>>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
    ) -> Result<bool, BackendError> {
        let now = clock::now();
        let cmd = self
            .key(key)
            .map(|key| self.expire_cmd::<K, V>(key, ttl, now));
        self.one(cmd, |done: u64| Ok(done == 1))
    }

    fn touch<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<bool, BackendError> {
        let now = clock::now();
        let cmd = self.key(key).map(|key| self.touch_cmd::<K, V>(key, now));
        self.one(cmd, |header: Option<Vec<u8>>| {
            Ok(self.is_live::<K, V>(&header.unwrap_or_default(), now))
        })
    }

    // The impl's bounds already make `K` and `V` `Send`, so the `where K: Send, V: Send` of the
    // trait's async methods is not repeated on them.
    fn get_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<Found<V>>, BackendError>> + Send {
        let key = self.space.key(&key.to_key());
        // The caller's clock (a sandbox's), read before the future moves to another thread.
        let now = clock::now();
        async move {
            let cmd = self.read::<K, V>(&key?, now);
            self.found::<K, V>(self.run_async(&cmd).await?, now)
        }
    }

    fn insert_async(
        &self,
        key: K,
        value: V,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        let cmd = self.write(&key, &value, ttl);
        async move { self.run_async(&cmd?).await }
    }

    fn remove_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        let key = self.space.key(&key.to_key());
        async move { Ok(self.run_async::<u64>(&unlink(&key?)).await? > 0) }
    }

    async fn clear_async(&self) -> Result<(), BackendError> {
        Walker::new(&self.space, Walk::Unlink)
            .run_async(&self.store.connector)
            .await
            .map(drop)
    }

    // Each async form reads the caller's clock (a sandbox's) and encodes its keys before the
    // future moves to another thread.
    fn get_many_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<Vec<Option<Found<V>>>, BackendError>> + Send {
        self.read_many_async::<K, V, Q, _>(keys, |bytes, now| self.found::<K, V>(bytes, now))
    }

    fn insert_many_async(
        &self,
        entries: Vec<(K, V)>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<(), BackendError>> + Send {
        let batch = self.insert_batch(&entries, ttl, clock::now());
        async move { self.run_batch_async(&batch?).await.map(drop) }
    }

    fn remove_many_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<u64, BackendError>> + Send {
        let (keys, now) = (self.keys(keys), clock::now());
        async move {
            let replies = self.run_batch_async(&self.remove_batch(&keys?)).await?;
            Ok(self.removed::<K, V>(replies, now))
        }
    }

    fn take_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<V>, BackendError>> + Send {
        let (cmd, now) = (self.key(key).map(Self::take_cmd), clock::now());
        self.one_async(cmd, move |bytes| self.taken::<K, V>(bytes, now))
    }

    fn compute_async<F>(
        &self,
        key: K,
        ttl: Option<Duration>,
        f: F,
    ) -> impl Future<Output = Result<Computed<V>, BackendError>> + Send
    where
        F: FnMut(Option<&V>) -> Compute<V> + Send,
    {
        let key = self.space.key(&key);
        let now = clock::now();
        async move {
            let cas = self.computation::<K, V, F>(key?, ttl, f, now);
            self.atomically_async(cas).await
        }
    }

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
        let now = clock::now();
        async move {
            self.atomically_async(self.transact(keys, ttl, f, now)?)
                .await
        }
    }

    fn contains_key_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        let (cmd, now) = (self.header_cmd(key), clock::now());
        self.one_async(cmd, move |header: Vec<u8>| {
            Ok(self.is_live::<K, V>(&header, now))
        })
    }

    fn ttl_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Ttl, BackendError>> + Send {
        let (cmd, now) = (self.header_cmd(key), clock::now());
        self.one_async(cmd, move |header: Vec<u8>| {
            Ok(self.ttl_in::<K, V>(&header, now))
        })
    }

    fn expire_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
        ttl: Option<Duration>,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        let now = clock::now();
        let cmd = self
            .key(key)
            .map(|key| self.expire_cmd::<K, V>(key, ttl, now));
        self.one_async(cmd, |done: u64| Ok(done == 1))
    }

    fn touch_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<bool, BackendError>> + Send {
        let now = clock::now();
        let cmd = self.key(key).map(|key| self.touch_cmd::<K, V>(key, now));
        self.one_async(cmd, move |header: Option<Vec<u8>>| {
            Ok(self.is_live::<K, V>(&header.unwrap_or_default(), now))
        })
    }
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &String::from_utf8_lossy(self.space.base()))
            .field("codec", &self.store.envelope.codec().name())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_become_whole_milliseconds_rounded_up() {
        assert_eq!(px(Duration::from_millis(1500)), 1500);
        assert_eq!(px(Duration::from_micros(1500)), 2);
        assert_eq!(px(Duration::from_nanos(1)), 1);
        assert_eq!(px(Duration::MAX), u64::MAX);
    }
}
