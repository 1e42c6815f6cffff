//! Leases in Redis, for single flight across processes
//! ([`CacheBuilder::distributed_flight`](crate::CacheBuilder::distributed_flight); the protocol
//! is in the cache's `distributed` module).
//!
//! A lease is one string key beside the view's entries (`<view>.lease:<key bytes>`, see the
//! `keys` file) holding the holder's token, with Redis's expiry as the lease period:
//!
//! * **take**: `SET <lease> <token> NX PX <period>`, and the lease's `PTTL` when it is taken,
//!   in one script, so a waiter knows how long the holder has left;
//! * **renew**: `PEXPIRE` only if the key still holds this token (a script);
//! * **release**: `DEL` only if the key still holds this token, then `PUBLISH` on the channel
//!   named like the lease key (a script: one round trip). It publishes even when the lease was
//!   lost meanwhile, since the value it stored is what the waiters want.
//!
//! Waiters listen on that channel: a channel per key rather than one per cache, so a release
//! wakes only the waiters of its key (a channel costs Redis nothing while nobody listens). The
//! listening connection is one of the waiter's own (pub/sub takes a connection over), opened
//! when a process starts waiting for a key and closed when it stops, on RESP3 for sync waiters
//! (see `Opener::listening`); keyspace notifications were the alternative, but they are off
//! unless the server's `notify-keyspace-events` enables them. On Redis Cluster waiters poll:
//! the cluster client cannot lend a node's connection to a subscription.
//!
//! Tokens are the process id, the time and a counter: unique across the processes sharing the
//! server, which is all a compare-and-delete needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::{Cmd, Value};
use serde::Serialize;

use crate::backend::lease::{Lease, LeaseFuture, Leases, Taken, Watch, WatchAsync};
use crate::error::BackendError;

use super::backend::{RedisBackend, px};
use super::blocking::Blocking;
use super::connection::backend_error;

/// Takes the lease if it is free; else its time left.
const TAKE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0} end
return {0, redis.call('PTTL', KEYS[1])}
";

/// Extends the lease if this token holds it.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// Gives the lease up if this token holds it, and wakes the waiters either way.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('PUBLISH', KEYS[1], '')
return 1
";

/// Leases made by this process, for unique tokens.
static LEASES: AtomicU64 = AtomicU64::new(0);

impl<K: Serialize> Leases<K> for RedisBackend {
    fn lease(&self, key: &K, period: Duration) -> Result<Arc<dyn Lease>, BackendError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let token = format!(
            "{}-{nanos}-{}",
            std::process::id(),
            LEASES.fetch_add(1, Ordering::Relaxed)
        );
        Ok(Arc::new(RedisLease {
            backend: self.clone(),
            key: self.space.lease_key(key)?,
            token,
            px: px(period),
        }))
    }

    fn timeout(&self) -> Duration {
        self.store.connector.timeout()
    }
}

/// One key's lease under one token; see the [module docs](self).
struct RedisLease {
    backend: RedisBackend,
    key: Vec<u8>,
    token: String,
    px: u64,
}

impl RedisLease {
    /// `script` on the lease key, with the token and, where the script takes one, the period.
    fn script(&self, script: &str) -> Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script)
            .arg(1)
            .arg(&self.key)
            .arg(&self.token)
            .arg(self.px);
        cmd
    }

    fn taken(reply: Vec<i64>) -> Result<Taken, BackendError> {
        match reply.as_slice() {
            [1, _] => Ok(Taken::Won),
            // -2: the lease ran out between the two commands; -1 cannot happen (it is always
            // set with an expiry), and both mean "look again at once".
            [0, left] => Ok(Taken::Held {
                left: Duration::from_millis(u64::try_from(*left).unwrap_or(0)),
            }),
            _ => Err(backend_error(redis::RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "the lease script answered out of shape",
            )))),
        }
    }
}

impl Lease for RedisLease {
    fn take(&self) -> Result<Taken, BackendError> {
        Self::taken(self.backend.run(&self.script(TAKE))?)
    }

    fn renew(&self) -> Result<bool, BackendError> {
        Ok(self.backend.run::<u64>(&self.script(RENEW))? == 1)
    }

    fn release(&self) -> Result<(), BackendError> {
        self.backend.run::<Value>(&self.script(RELEASE)).map(drop)
    }

    fn watch(&self) -> Result<Box<dyn Watch>, BackendError> {
        let listening = self.backend.store.connector.listen(&self.key)?;
        Ok(Box::new(Listening(listening)))
    }

    fn take_async(&self) -> LeaseFuture<'_, Taken> {
        Box::pin(async move { Self::taken(self.backend.run_async(&self.script(TAKE)).await?) })
    }

    fn renew_async(&self) -> LeaseFuture<'_, bool> {
        Box::pin(async move { Ok(self.backend.run_async::<u64>(&self.script(RENEW)).await? == 1) })
    }

    fn release_async(&self) -> LeaseFuture<'_, ()> {
        Box::pin(async move {
            let cmd = self.script(RELEASE);
            self.backend.run_async::<Value>(&cmd).await.map(drop)
        })
    }

    fn watch_async(&self) -> LeaseFuture<'_, Box<dyn WatchAsync>> {
        Box::pin(async move {
            let listening = self.backend.store.connector.listen_async(&self.key).await?;
            Ok(Box::new(ListeningAsync(listening)) as Box<dyn WatchAsync>)
        })
    }
}

/// A sync waiter's subscription; `None` on Redis Cluster, where waiting is sleeping.
struct Listening(Option<Blocking>);

impl Watch for Listening {
    fn wait(&mut self, timeout: Duration) -> Result<bool, BackendError> {
        match &mut self.0 {
            Some(conn) => conn
                .message(Instant::now() + timeout)
                .map_err(backend_error),
            None => {
                std::thread::sleep(timeout);
                Ok(false)
            }
        }
    }
}

/// An async waiter's subscription; `None` on Redis Cluster, where waiting is sleeping.
struct ListeningAsync(Option<redis::aio::PubSub>);

impl WatchAsync for ListeningAsync {
    fn wait(&mut self, timeout: Duration) -> LeaseFuture<'_, bool> {
        Box::pin(async move {
            let Some(pubsub) = &mut self.0 else {
                tokio::time::sleep(timeout).await;
                return Ok(false);
            };
            let mut messages = std::pin::pin!(pubsub.on_message());
            let message = futures_util::StreamExt::next(&mut messages);
            match tokio::time::timeout(timeout, message).await {
                Ok(Some(_)) => Ok(true),
                Ok(None) => Err(backend_error(redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "the subscription ended",
                )))),
                Err(_) => Ok(false),
            }
        })
    }
}
