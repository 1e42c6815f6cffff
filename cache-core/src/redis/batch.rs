//! Batches: [`get_many`](crate::Backend::get_many), [`insert_many`](crate::Backend::insert_many)
//! and [`remove_many`](crate::Backend::remove_many) in one round trip.
//!
//! On one server a batch is one pipeline: a single `MGET` (or, with a time to idle, one idle
//! read per key, which also pushes each deadline back), `SET`s, or one script that reads the
//! headers of the keys it deletes so the count is of live values, as `get` judges them. On Redis
//! Cluster a command's keys must share a hash slot, and memokit's keys carry no hash tags, so the
//! keys are grouped by slot and each group gets its own command. The blocking cluster connection
//! pipelines reads and writes, one round trip per node, and async batches run it on the
//! blocking pool ([`RedisBackend::run_batch_async`] says why). The deletes of `remove_many` and
//! `remove_where` go one group at a time there, since that pipeline can lose their replies while
//! a slot migrates (the connection's `cluster_pipeline`). The blocking cluster pipeline refuses
//! `MGET`, so there a group's `MGET` runs inside a one-line script.

#[cfg(feature = "redis-cluster")]
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures_util::future::try_join_all;
#[cfg(feature = "redis-cluster")]
use redis::cluster_routing::Slot;
use redis::{Pipeline, Value, from_redis_value};
use serde::Serialize;

use crate::clock::{self, Timestamp};
use crate::error::BackendError;
use crate::key::Lookup;

use super::backend::{RedisBackend, set};
use super::cas::delete_if_unchanged;
#[cfg(feature = "redis-cluster")]
use super::connection::cluster_pipeline;
use super::connection::{SyncConn, backend_error};

/// KEYS: the keys to delete. Returns the header of each (empty if there was none to read).
const REMOVE: &str = r"
local headers = {}
for i, key in ipairs(KEYS) do
  local header = redis.pcall('GETRANGE', key, 0, 27)
  if type(header) ~= 'string' then header = '' end
  headers[i] = header
  redis.call('UNLINK', key)
end
return headers
";

/// `MGET` of one slot's keys, for the blocking cluster pipeline, which refuses `MGET` itself.
const MGET: &str = "return redis.call('MGET', unpack(KEYS))";

/// The commands of one batch: one pipeline per group of keys that one command may name together,
/// and the positions of those keys in the batch.
#[derive(Clone)]
pub(crate) struct Batch {
    groups: Vec<Vec<usize>>,
    pipes: Vec<Pipeline>,
    /// Whether running a command twice gives what running it once does (reads, `SET`s; not
    /// deletes that count what they deleted): see the connection's `cluster_pipeline`.
    #[cfg_attr(
        not(feature = "redis-cluster"),
        expect(dead_code, reason = "only the blocking cluster pipeline asks")
    )]
    replayable: bool,
}

/// The positions of `keys` grouped by hash slot on a cluster, or all in one group.
fn groups(cluster: bool, keys: &[Vec<u8>]) -> Vec<Vec<usize>> {
    match cluster {
        #[cfg(feature = "redis-cluster")]
        true => by_slot(keys),
        _ if keys.is_empty() => Vec::new(),
        _ => vec![(0..keys.len()).collect()],
    }
}

/// The positions of `keys` grouped by hash slot, in the order of each slot's first key.
#[cfg(feature = "redis-cluster")]
fn by_slot(keys: &[Vec<u8>]) -> Vec<Vec<usize>> {
    let (mut at, mut groups) = (HashMap::new(), Vec::<Vec<usize>>::new());
    for (i, key) in keys.iter().enumerate() {
        let group = *at.entry(Slot::for_key(key)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(i);
    }
    groups
}

/// The keys at `positions`.
fn pick<'a>(keys: &'a [Vec<u8>], positions: &'a [usize]) -> impl Iterator<Item = &'a [u8]> {
    positions.iter().map(|&i| &keys[i][..])
}

impl RedisBackend {
    /// How many hash slots `keys` span (1 on one server, whatever the keys).
    pub(crate) fn slots(&self, keys: &[Vec<u8>]) -> usize {
        groups(self.store.connector.is_cluster(), keys).len()
    }

    fn batch(
        &self,
        keys: &[Vec<u8>],
        replayable: bool,
        mut pipe: impl FnMut(&[usize]) -> Pipeline,
    ) -> Batch {
        let groups = groups(self.store.connector.is_cluster(), keys);
        let pipes = groups.iter().map(|g| pipe(g)).collect();
        Batch {
            groups,
            pipes,
            replayable,
        }
    }

    /// The reads of `get_many` of `keys` at `now`.
    pub(crate) fn get_batch<K, V>(&self, keys: &[Vec<u8>], now: Timestamp) -> Batch {
        let cluster = self.store.connector.is_cluster();
        self.batch(keys, true, |group| {
            let mut pipe = redis::pipe();
            if self.tti().is_some() {
                for key in pick(keys, group) {
                    pipe.add_command(self.read::<K, V>(key, now));
                }
            } else if cluster {
                let keys: Vec<_> = pick(keys, group).collect();
                pipe.cmd("EVAL").arg(MGET).arg(keys.len()).arg(keys);
            } else {
                pipe.cmd("MGET").arg(pick(keys, group).collect::<Vec<_>>());
            }
            pipe
        })
    }

    /// The batched read of `keys` at memokit's time now: what `decode` makes of each key's
    /// stored bytes (and the time now), in the order of `keys`. `get_many` decodes values; a
    /// tiered first layer also wants the time each has left.
    pub(crate) fn read_many<K: Serialize, V, Q: ?Sized + Lookup<K>, T>(
        &self,
        keys: &[&Q],
        decode: impl Fn(Option<Vec<u8>>, Timestamp) -> Result<Option<T>, BackendError>,
    ) -> Result<Vec<Option<T>>, BackendError> {
        let (keys, now) = (self.keys(keys)?, clock::now());
        let batch = self.get_batch::<K, V>(&keys, now);
        decoded(&batch, self.run_batch(&batch)?, |bytes| decode(bytes, now))
    }

    /// Async form of [`read_many`](Self::read_many). It reads the caller's clock (a sandbox's)
    /// and encodes the keys before the future moves to another thread.
    pub(crate) fn read_many_async<'a, K: Serialize, V, Q: ?Sized + Lookup<K>, T: Send>(
        &'a self,
        keys: &[&Q],
        decode: impl Fn(Option<Vec<u8>>, Timestamp) -> Result<Option<T>, BackendError> + Send + 'a,
    ) -> impl Future<Output = Result<Vec<Option<T>>, BackendError>> + Send + 'a {
        let (keys, now) = (self.keys(keys), clock::now());
        async move {
            let batch = self.get_batch::<K, V>(&keys?, now);
            let replies = self.run_batch_async(&batch).await?;
            decoded(&batch, replies, |bytes| decode(bytes, now))
        }
    }

    /// The writes of `insert_many`, each expiring after `ttl`.
    pub(crate) fn insert_batch<K: Serialize, V: Serialize>(
        &self,
        entries: &[(K, V)],
        ttl: Option<Duration>,
        now: Timestamp,
    ) -> Result<Batch, BackendError> {
        let mut keys = Vec::with_capacity(entries.len());
        let mut sets = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let key = self.space.key(key)?;
            let (bytes, px) = self.sealed::<K, V>(value, ttl, now)?;
            sets.push(set(&key, bytes, px));
            keys.push(key);
        }
        Ok(self.batch(&keys, true, |group| {
            let mut pipe = redis::pipe();
            for &at in group {
                pipe.add_command(sets[at].clone());
            }
            pipe
        }))
    }

    /// The deletes of `remove_many`.
    pub(crate) fn remove_batch(&self, keys: &[Vec<u8>]) -> Batch {
        self.batch(keys, false, |group| {
            let keys: Vec<_> = pick(keys, group).collect();
            let mut pipe = redis::pipe();
            pipe.cmd("EVAL").arg(REMOVE).arg(keys.len()).arg(keys);
            pipe
        })
    }

    /// How many of the values `remove_many` deleted were live `K -> V` entries at `now`.
    pub(crate) fn removed<K, V>(&self, replies: Vec<Vec<Value>>, now: Timestamp) -> u64 {
        let identity = self.identity::<K, V>();
        replies
            .into_iter()
            .flatten()
            .flat_map(|reply| match reply {
                Value::Array(headers) => headers,
                _ => Vec::new(),
            })
            .filter(|header| match header {
                Value::BulkString(header) => self.envelope().is_live(identity, header, now),
                _ => false,
            })
            .count() as u64
    }

    /// The compare-and-deletes of `remove_where`: each key of `entries` is deleted only if it
    /// still holds the bytes read with it.
    pub(crate) fn delete_batch(&self, entries: &[(Vec<u8>, Vec<u8>)]) -> Batch {
        let keys: Vec<Vec<u8>> = entries.iter().map(|(key, _)| key.clone()).collect();
        self.batch(&keys, false, |group| {
            let mut pipe = redis::pipe();
            for &at in group {
                let (key, bytes) = &entries[at];
                pipe.add_command(delete_if_unchanged(key, bytes));
            }
            pipe
        })
    }

    /// Sends `batch` on blocking connections: the replies of each of its pipelines.
    pub(crate) fn run_batch(&self, batch: &Batch) -> Result<Vec<Vec<Value>>, BackendError> {
        if batch.pipes.is_empty() {
            return Ok(Vec::new());
        }
        self.store.connector.run_sync(|conn| match conn {
            SyncConn::Single(c) => batch.pipes.iter().map(|pipe| pipe.query(c)).collect(),
            #[cfg(feature = "redis-cluster")]
            SyncConn::Cluster(c) => {
                let all: Vec<_> = batch
                    .pipes
                    .iter()
                    .flat_map(Pipeline::cmd_iter)
                    .cloned()
                    .collect();
                let mut replies = cluster_pipeline(c, &all, batch.replayable)?.into_iter();
                Ok(batch
                    .pipes
                    .iter()
                    .map(|pipe| replies.by_ref().take(pipe.len()).collect())
                    .collect())
            }
        })
    }

    /// Async form of [`run_batch`](Self::run_batch): on one server the groups go out
    /// concurrently on the multiplexed connection; on a cluster the blocking pipeline runs on
    /// Tokio's blocking pool.
    ///
    /// The async cluster connection (redis 1.8) is not used for batches: while a slot migrates,
    /// its concurrent requests for that slot's groups stalled until the timeout in 5 of 7 runs of
    /// the reshard test, whether a group was one script (answered `TRYAGAIN` until the slot has
    /// moved, with the driver backing off) or one `GET` per key. The blocking pipeline follows
    /// every redirect ([`cluster_pipeline`]), costs one round trip per node rather than one per
    /// slot group, and on the blocking pool holds no runtime worker while it waits.
    pub(crate) async fn run_batch_async(
        &self,
        batch: &Batch,
    ) -> Result<Vec<Vec<Value>>, BackendError> {
        if batch.pipes.is_empty() {
            return Ok(Vec::new());
        }
        #[cfg(feature = "redis-cluster")]
        if self.store.connector.is_cluster() {
            let (this, batch) = (self.clone(), batch.clone());
            return crate::blocking::offload_backend(super::KIND, move || this.run_batch(&batch))
                .await;
        }
        self.store
            .connector
            .run_async(|conn| {
                try_join_all(batch.pipes.iter().map(move |pipe| {
                    let mut conn = conn.clone();
                    async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
                }))
            })
            .await
    }
}

/// What `decode` makes of each key's stored bytes in `replies`, the replies to the reads of
/// `batch`, in the order of the batch's keys.
fn decoded<T>(
    batch: &Batch,
    replies: Vec<Vec<Value>>,
    mut decode: impl FnMut(Option<Vec<u8>>) -> Result<Option<T>, BackendError>,
) -> Result<Vec<Option<T>>, BackendError> {
    let len = batch.groups.iter().map(Vec::len).sum();
    let mut out: Vec<Option<T>> = (0..len).map(|_| None).collect();
    for (group, replies) in batch.groups.iter().zip(replies) {
        // One `MGET` answers with one array, idle reads with one value each.
        let values = replies.into_iter().flat_map(|reply| match reply {
            Value::Array(values) => values,
            value => vec![value],
        });
        for (&at, value) in group.iter().zip(values) {
            let bytes: Option<Vec<u8>> =
                from_redis_value(value).map_err(|e| backend_error(e.into()))?;
            out[at] = decode(bytes)?;
        }
    }
    Ok(out)
}

#[cfg(all(test, feature = "redis-cluster"))]
mod tests {
    use super::*;

    #[test]
    fn one_server_takes_every_key_at_once_and_a_cluster_one_slot_at_a_time() {
        let keys: Vec<Vec<u8>> = (0..50u8).map(|i| vec![b'k', i]).collect();
        assert_eq!(groups(false, &keys), vec![(0..50).collect::<Vec<_>>()]);
        assert!(groups(false, &[]).is_empty());
        let by_slot = groups(true, &keys);
        assert!(by_slot.len() > 1);
        let mut seen: Vec<usize> = by_slot.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
        for group in &by_slot {
            assert!(
                group.windows(2).all(|w| w[0] < w[1]),
                "keys keep their order"
            );
            let slot = Slot::for_key(&keys[group[0]]);
            assert!(group.iter().all(|&i| Slot::for_key(&keys[i]) == slot));
        }
        let tagged: Vec<Vec<u8>> = (0..5u8).map(|i| vec![b'{', b'a', b'}', i]).collect();
        assert_eq!(groups(true, &tagged).len(), 1);
    }
}
