//! Redis-specific operations for cache modules: hashes, raw commands, pipelines, and counting.
//!
//! They work inside the view's keyspace: a hash named `h` lives at
//! [`redis_key(h)`](RedisBackend::redis_key), the Redis key a cache entry keyed `h` would have, so
//! [`clear`](crate::Cache::clear) removes hashes too and sandboxes isolate them. Hash values go
//! through the cache's codec and envelope, like entries, with the cache's `version` but no type of
//! their own (read a field as any type of the same serde shape as the one written: `&str` and
//! `String` alike), and are not entries: `len` does not count them. Every operation has the backend's timeout and returns
//! `Err` rather than failing open: the caller asked Redis directly.

use std::collections::HashMap;

use redis::{Cmd, FromRedisValue, Pipeline};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clock;
use crate::error::BackendError;

use super::backend::RedisBackend;
use super::clear::{Walk, Walker};

/// The key and value type of every hash field's [`TypeIdentity`](crate::codec::TypeIdentity):
/// a field is never read as a cache entry (nor an entry as a field), and a field written under
/// another `version` is a miss. A field's own type is left out on purpose: fields are written and
/// read with types of the caller's choosing, and `&str` written is `String` read.
struct HashField;

impl RedisBackend {
    /// The Redis key of `key` in this view, `<prefix>:<cache name length>:<cache name>:<namespace>:<key
    /// bytes>` (see the [module docs](super) for why), for use in raw commands.
    ///
    /// ```no_run
    /// # use memokit_core::{Cache, RedisBackend};
    /// # let cache: Cache<String, u64, RedisBackend> = Cache::builder("hits").build()?;
    /// use memokit_core::redis::cmd;
    /// let backend = cache.backend()?;
    /// let visits: u64 = backend.query(cmd("INCR").arg(backend.redis_key("home")?))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn redis_key<T: Serialize + ?Sized>(&self, key: &T) -> Result<Vec<u8>, BackendError> {
        self.space.key(key)
    }

    /// The bytes every key of this view starts with.
    pub fn key_prefix(&self) -> &[u8] {
        self.space.base()
    }

    /// Runs a raw command, with the backend's timeout and connection handling. Name keys with
    /// [`redis_key`](Self::redis_key) to stay inside this cache.
    pub fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, BackendError> {
        self.run(cmd)
    }

    /// Async form of [`query`](Self::query).
    pub async fn query_async<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, BackendError> {
        self.run_async(cmd).await
    }

    /// Sends a pipeline (use `.atomic()` on it for `MULTI`/`EXEC`) in one round trip. On Redis
    /// Cluster all its keys must hash to one slot.
    ///
    /// ```no_run
    /// # use memokit_core::{Cache, RedisBackend};
    /// # let cache: Cache<String, u64, RedisBackend> = Cache::builder("hits").build()?;
    /// use memokit_core::redis::pipe;
    /// let backend = cache.backend()?;
    /// let key = backend.redis_key("home")?;
    /// let (visits, ttl): (u64, i64) = backend.query_pipeline(pipe().incr(&key, 1).pttl(&key))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query_pipeline<T: FromRedisValue>(
        &self,
        pipeline: &Pipeline,
    ) -> Result<T, BackendError> {
        self.store
            .connector
            .run_sync(|conn| pipeline.query(conn.as_dyn()))
    }

    /// Async form of [`query_pipeline`](Self::query_pipeline).
    pub async fn query_pipeline_async<T: FromRedisValue>(
        &self,
        pipeline: &Pipeline,
    ) -> Result<T, BackendError> {
        self.store
            .connector
            .run_async(|mut conn| async move { pipeline.query_async(&mut conn).await })
            .await
    }

    /// Sets `field` of the hash `hash` to `value` (`HSET`).
    ///
    /// ```no_run
    /// # use memokit_core::{Cache, RedisBackend};
    /// # let cache: Cache<u64, String, RedisBackend> = Cache::builder("users").build()?;
    /// let backend = cache.backend()?;
    /// backend.hash_set("user:7", "name", &"ada")?;
    /// backend.hash_set("user:7", "age", &36)?;
    /// let age: Option<u32> = backend.hash_get("user:7", "age")?;
    /// assert_eq!(age, Some(36));
    /// assert!(backend.hash_delete("user:7", "age")?);
    /// let all: std::collections::HashMap<String, String> = backend.hash_get_all("user:7")?;
    /// assert_eq!(all["name"], "ada");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hash_set<H, T>(&self, hash: &H, field: &str, value: &T) -> Result<(), BackendError>
    where
        H: Serialize + ?Sized,
        T: Serialize,
    {
        self.run(&self.hset(hash, field, value)?)
    }

    /// Async form of [`hash_set`](Self::hash_set).
    pub async fn hash_set_async<H, T>(
        &self,
        hash: &H,
        field: &str,
        value: &T,
    ) -> Result<(), BackendError>
    where
        H: Serialize + ?Sized,
        T: Serialize,
    {
        self.run_async(&self.hset(hash, field, value)?).await
    }

    /// The value of `field` in the hash `hash` (`HGET`).
    pub fn hash_get<H, T>(&self, hash: &H, field: &str) -> Result<Option<T>, BackendError>
    where
        H: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        self.decode_one(self.run(&self.hash_cmd("HGET", hash, Some(field))?)?)
    }

    /// Async form of [`hash_get`](Self::hash_get).
    pub async fn hash_get_async<H, T>(
        &self,
        hash: &H,
        field: &str,
    ) -> Result<Option<T>, BackendError>
    where
        H: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let cmd = self.hash_cmd("HGET", hash, Some(field))?;
        self.decode_one(self.run_async(&cmd).await?)
    }

    /// Every field of the hash `hash` (`HGETALL`); empty if there is no such hash.
    pub fn hash_get_all<H, T>(&self, hash: &H) -> Result<HashMap<String, T>, BackendError>
    where
        H: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        self.decode_all(self.run(&self.hash_cmd("HGETALL", hash, None)?)?)
    }

    /// Async form of [`hash_get_all`](Self::hash_get_all).
    pub async fn hash_get_all_async<H, T>(
        &self,
        hash: &H,
    ) -> Result<HashMap<String, T>, BackendError>
    where
        H: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let cmd = self.hash_cmd("HGETALL", hash, None)?;
        self.decode_all(self.run_async(&cmd).await?)
    }

    /// Deletes `field` from the hash `hash` (`HDEL`); whether it was there.
    pub fn hash_delete<H: Serialize + ?Sized>(
        &self,
        hash: &H,
        field: &str,
    ) -> Result<bool, BackendError> {
        Ok(self.run::<u64>(&self.hash_cmd("HDEL", hash, Some(field))?)? > 0)
    }

    /// Async form of [`hash_delete`](Self::hash_delete).
    pub async fn hash_delete_async<H: Serialize + ?Sized>(
        &self,
        hash: &H,
        field: &str,
    ) -> Result<bool, BackendError> {
        let cmd = self.hash_cmd("HDEL", hash, Some(field))?;
        Ok(self.run_async::<u64>(&cmd).await? > 0)
    }

    /// Counts this view's keys (entries and hashes, expired on memokit's clock or not) with a
    /// `SCAN` of the view's prefix. `SCAN` steps through the whole database to find them, so this
    /// is for tools and tests, not hot paths; [`Cache::len`](crate::Cache::len) counts live
    /// entries only, with the same scan.
    pub fn count(&self) -> Result<u64, BackendError> {
        Walker::new(&self.space, Walk::Count).run_sync(&self.store.connector)
    }

    /// Async form of [`count`](Self::count).
    pub async fn count_async(&self) -> Result<u64, BackendError> {
        Walker::new(&self.space, Walk::Count)
            .run_async(&self.store.connector)
            .await
    }

    fn hash_cmd<H: Serialize + ?Sized>(
        &self,
        name: &str,
        hash: &H,
        field: Option<&str>,
    ) -> Result<Cmd, BackendError> {
        let mut cmd = redis::cmd(name);
        cmd.arg(self.redis_key(hash)?);
        if let Some(field) = field {
            cmd.arg(field);
        }
        Ok(cmd)
    }

    fn hset<H, T>(&self, hash: &H, field: &str, value: &T) -> Result<Cmd, BackendError>
    where
        H: Serialize + ?Sized,
        T: Serialize,
    {
        let mut cmd = self.hash_cmd("HSET", hash, Some(field))?;
        let identity = self.identity::<HashField, HashField>();
        cmd.arg(self.envelope().seal(identity, value, clock::now(), None)?);
        Ok(cmd)
    }

    fn decode_one<T: DeserializeOwned>(
        &self,
        bytes: Option<Vec<u8>>,
    ) -> Result<Option<T>, BackendError> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let found = self.envelope().unseal(
            self.identity::<HashField, HashField>(),
            &bytes,
            clock::now(),
        );
        Ok(found?.map(|found| found.value))
    }

    fn decode_all<T: DeserializeOwned>(
        &self,
        fields: HashMap<String, Vec<u8>>,
    ) -> Result<HashMap<String, T>, BackendError> {
        let (identity, now) = (self.identity::<HashField, HashField>(), clock::now());
        let mut out = HashMap::with_capacity(fields.len());
        for (field, bytes) in fields {
            if let Some(found) = self.envelope().unseal(identity, &bytes, now)? {
                out.insert(field, found.value);
            }
        }
        Ok(out)
    }
}
