//! Redis as the second layer: value and time left in one read, and the invalidation listener, a
//! RESP3 connection with `CLIENT TRACKING ON BCAST PREFIX <cache prefix>` on a thread of its own.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::{AsyncConnectionConfig, PushInfo, PushKind, RedisError, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::backend::Timed;
use crate::bounds::{CacheKey, CacheValue};
use crate::clock::{self, Timestamp};
use crate::codec::text_key;
use crate::error::{BackendError, BackendErrorKind};
use crate::key::Lookup;
use crate::redis::RedisBackend;
use crate::redis::keys::cache_base;

use super::KIND;
use super::backend::{SecondLayer, sealed};
use super::coherence::Coherence;

/// The first wait before reconnecting the listener; it doubles up to one heartbeat.
const RECONNECT: Duration = Duration::from_millis(50);

impl sealed::Sealed for RedisBackend {}

impl RedisBackend {
    /// What one read of a `K -> V` entry at `now` found, with the time it has left.
    fn timed<K, V: DeserializeOwned>(
        &self,
        bytes: Option<Vec<u8>>,
        now: Timestamp,
    ) -> Result<Option<Timed<V>>, BackendError> {
        let left = bytes.as_deref().map(|b| self.ttl_in::<K, V>(b, now));
        Ok(self.found::<K, V>(bytes, now)?.zip(left))
    }
}

impl<K, V> SecondLayer<K, V> for RedisBackend
where
    K: CacheKey + Serialize + DeserializeOwned,
    V: CacheValue + Serialize + DeserializeOwned,
{
    fn get_timed<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Result<Option<Timed<V>>, BackendError> {
        let key = self.space.key(&key.to_key())?;
        let now = clock::now();
        self.timed::<K, V>(self.run(&self.read::<K, V>(&key, now))?, now)
    }

    fn get_timed_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        key: &Q,
    ) -> impl Future<Output = Result<Option<Timed<V>>, BackendError>> + Send {
        let key = self.space.key(&key.to_key());
        let now = clock::now();
        async move {
            let cmd = self.read::<K, V>(&key?, now);
            self.timed::<K, V>(self.run_async(&cmd).await?, now)
        }
    }

    fn get_many_timed<Q: ?Sized + Lookup<K>>(
        &self,
        keys: &[&Q],
    ) -> Result<Vec<Option<Timed<V>>>, BackendError> {
        self.read_many::<K, V, Q, _>(keys, |bytes, now| self.timed::<K, V>(bytes, now))
    }

    fn get_many_timed_async<Q: ?Sized + Lookup<K> + Sync>(
        &self,
        keys: &[&Q],
    ) -> impl Future<Output = Result<Vec<Option<Timed<V>>>, BackendError>> + Send {
        self.read_many_async::<K, V, Q, _>(keys, |bytes, now| self.timed::<K, V>(bytes, now))
    }

    fn view_tag(&self) -> Box<[u8]> {
        self.space.base().into()
    }

    fn listen(
        &self,
        coherence: &Arc<Coherence<K, V>>,
        heartbeat: Duration,
    ) -> Result<(), BackendError> {
        let Some(client) = self.store.connector.tracking_client() else {
            return Err(BackendError::config(
                KIND,
                "cluster",
                "the tiered backend hears invalidations from one Redis server; Redis Cluster is not supported yet: use `backend = redis`",
            ));
        };
        let listener = Listener {
            client: client.clone(),
            base: cache_base(&self.store.prefix, &self.store.cache).into(),
            timeout: self.store.connector.timeout(),
            heartbeat,
            coherence: Arc::downgrade(coherence),
        };
        std::thread::Builder::new()
            .name("memokit-tiered".into())
            .spawn(move || listener.run())
            .map(drop)
            .map_err(|e| {
                BackendError::new(
                    KIND,
                    BackendErrorKind::Other,
                    format_args!("cannot start the invalidation listener: {e}"),
                )
            })
    }
}

/// One cache's invalidation connection, on its own thread.
struct Listener<K, V> {
    /// A RESP3 client of the cache's server.
    client: redis::Client,
    /// `<prefix>:<len>:<name>:`, the tracked prefix.
    base: Arc<[u8]>,
    timeout: Duration,
    heartbeat: Duration,
    coherence: Weak<Coherence<K, V>>,
}

/// Why a session of the listener ended.
enum Ended {
    /// The cache is gone: stop.
    Dropped,
    /// The connection was lost (or never made); whether it had been tracking.
    Lost { tracked: bool },
}

impl<K, V> Listener<K, V>
where
    K: CacheKey + DeserializeOwned,
    V: CacheValue,
{
    fn run(self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        // Without a runtime the listener never hears anything, so the first layer never fills:
        // the cache works as the second layer alone.
        if let Ok(runtime) = runtime {
            runtime.block_on(self.serve());
        }
    }

    async fn serve(&self) {
        let mut wait = RECONNECT;
        loop {
            let ended = self.session().await;
            let Some(coherence) = self.coherence.upgrade() else {
                return;
            };
            coherence.deaf();
            drop(coherence);
            match ended {
                Ended::Dropped => return,
                Ended::Lost { tracked: true } => wait = RECONNECT,
                Ended::Lost { tracked: false } => {}
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.heartbeat);
        }
    }

    /// Connects, turns tracking on, and checks the connection every heartbeat until it is lost
    /// or the cache is dropped.
    async fn session(&self) -> Ended {
        let lost = Arc::new(Notify::new());
        let (coherence, base, on_lost) = (self.coherence.clone(), self.base.clone(), lost.clone());
        let push = move |info: PushInfo| {
            let Some(coherence) = coherence.upgrade() else {
                return Err(());
            };
            if info.kind == PushKind::Disconnection {
                coherence.deaf();
                on_lost.notify_one();
            } else {
                heard(&coherence, &base, info);
            }
            Ok(())
        };
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.heartbeat))
            .set_push_sender(push);
        let connect = async {
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            redis::cmd("CLIENT")
                .arg("SETNAME")
                .arg(format!("memokit-tiered-{}", std::process::id()))
                .query_async::<()>(&mut conn)
                .await?;
            redis::cmd("CLIENT")
                .arg("TRACKING")
                .arg("ON")
                .arg("BCAST")
                .arg("PREFIX")
                .arg(&*self.base)
                .query_async::<()>(&mut conn)
                .await?;
            Ok::<_, RedisError>(conn)
        };
        let Ok(Ok(mut conn)) = tokio::time::timeout(self.timeout, connect).await else {
            return Ended::Lost { tracked: false };
        };
        match self.coherence.upgrade() {
            Some(coherence) => coherence.hearing(),
            None => return Ended::Dropped,
        }
        loop {
            // A disconnect notice ends the session at once; otherwise, one `PING` per heartbeat.
            if tokio::time::timeout(self.heartbeat, lost.notified())
                .await
                .is_ok()
            {
                return Ended::Lost { tracked: true };
            }
            if self.coherence.strong_count() == 0 {
                return Ended::Dropped;
            }
            let ping = redis::cmd("PING");
            let ping = ping.query_async::<()>(&mut conn);
            if !matches!(tokio::time::timeout(self.heartbeat, ping).await, Ok(Ok(()))) {
                return Ended::Lost { tracked: true };
            }
        }
    }
}

/// Applies an invalidation push: each key named leaves its view's first layer; a null (a flush)
/// clears them all.
fn heard<K, V>(coherence: &Coherence<K, V>, base: &[u8], info: PushInfo)
where
    K: CacheKey + DeserializeOwned,
    V: CacheValue,
{
    if info.kind != PushKind::Invalidate {
        return;
    }
    for value in &info.data {
        match value {
            Value::Array(keys) => keys.iter().for_each(|key| {
                if let Value::BulkString(key) = key {
                    heard_key(coherence, base, key);
                }
            }),
            Value::BulkString(key) => heard_key(coherence, base, key),
            _ => coherence.heard_all(),
        }
    }
}

/// `key` is `<base><namespace>:<key bytes>`: the view tagged `<base><namespace>:` drops the
/// key that decodes from the rest. Bytes that decode to no `K` are the key of no entry a first
/// layer can hold.
fn heard_key<K, V>(coherence: &Coherence<K, V>, base: &[u8], key: &[u8])
where
    K: CacheKey + DeserializeOwned,
    V: CacheValue,
{
    let Some(rest) = key.strip_prefix(base) else {
        return;
    };
    let Some(colon) = rest.iter().position(|&b| b == b':') else {
        return;
    };
    let (tag, bytes) = key.split_at(base.len() + colon + 1);
    if let Some(key) = text_key::decode::<K>(bytes) {
        coherence.heard(tag, &key);
    }
}
