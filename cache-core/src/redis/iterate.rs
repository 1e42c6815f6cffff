//! [`Iterate`] for Redis: walking a cache's entries and removing those a predicate picks.
//!
//! A walk is the `SCAN ... MATCH <view prefix> TYPE string` of clearing and counting (never
//! `KEYS`), on every primary of a cluster, in steps of about 500 keys; each step reads the values
//! it found with one pipeline of `GET`s, decodes each key from its Redis key (the bytes after the
//! view's prefix) and hands on only live entries of the cache's types, judged on memokit's clock.
//! A [`Cursor`] is the primary's index (primaries in the order of their addresses) and its
//! `SCAN` cursor, so a walk may stop and go on later; `SCAN`'s own guarantee makes it weakly
//! consistent: an entry present for the whole walk is seen once, one written meanwhile may or
//! may not be. On a cluster, each step first asks for the primaries (one `PING` to all), since a
//! cursor may outlive a topology.
//!
//! [`remove_where`](Iterate::remove_where) deletes what the predicate picks with a
//! compare-and-delete script per key (batched per step, per hash slot): a key is deleted only if
//! it still holds the bytes the predicate judged, so a value written after the read is never
//! removed.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::{Cursor, Iterate};
use crate::clock::{self, Timestamp};
use crate::codec::text_key;
use crate::error::BackendError;

use super::backend::RedisBackend;
use super::clear::{Walk, Walker};

impl RedisBackend {
    /// The live `K -> V` entry stored at the Redis key `key` as `bytes`, at `now`.
    fn entry<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
        key: &[u8],
        bytes: &[u8],
        now: Timestamp,
    ) -> Option<(K, V)> {
        let found = self
            .envelope()
            .unseal::<V>(self.identity::<K, V>(), bytes, now)
            .ok()??;
        let key = text_key::decode(key.strip_prefix(self.space.base())?)?;
        Some((key, found.value))
    }
}

impl<K, V> Iterate<K, V> for RedisBackend
where
    K: Serialize + DeserializeOwned + Eq + Send + Sync + 'static,
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn scan(
        &self,
        cursor: Cursor,
        visit: &mut dyn FnMut(K, V),
    ) -> Result<Option<Cursor>, BackendError> {
        let (connector, now) = (&self.store.connector, clock::now());
        let mut walker = Walker::resume(&self.space, Walk::Entries, cursor);
        walker.find_nodes(connector)?;
        walker.step_sync(connector)?;
        for (key, bytes) in walker.entries() {
            if let Some((key, value)) = self.entry::<K, V>(&key, &bytes, now) {
                visit(key, value);
            }
        }
        Ok(walker.cursor())
    }

    fn remove_where<F: FnMut(&K, &V) -> bool>(&self, mut pred: F) -> Result<u64, BackendError> {
        let (connector, now) = (&self.store.connector, clock::now());
        let mut walker = Walker::new(&self.space, Walk::Entries);
        walker.find_nodes(connector)?;
        let mut removed = 0;
        while walker.step_sync(connector)? {
            let mut picked = walker.entries();
            picked.retain(|(key, bytes)| {
                self.entry::<K, V>(key, bytes, now)
                    .is_some_and(|(key, value)| pred(&key, &value))
            });
            let replies = self.run_batch(&self.delete_batch(&picked))?;
            removed += replies
                .iter()
                .flatten()
                .filter(|reply| matches!(reply, redis::Value::Int(1)))
                .count() as u64;
        }
        Ok(removed)
    }
}
