//! The values the operations beyond get/insert/remove exchange with a backend: what an atomic
//! update decides ([`Compute`]) and what it did ([`Computed`]), a key's time left ([`Ttl`]), the
//! view a transaction's closure works on ([`Transaction`]) and a walk's position ([`Cursor`]).
//!
//! # Design
//!
//! One atomic primitive serves every read-modify-write: [`Backend::compute`](super::Backend::compute)
//! hands the closure the live value (or `None`) and applies what it returns, `Put`, `Remove` or
//! `Keep`, with nothing else writing that key in between. Cachex's `get_and_update` and `incr`,
//! and moka's `entry().or_insert_with` / `and_compute_with` / `and_upsert_with`, are each one
//! closure over it, so a backend implements one method, not six. The closure is `FnMut` because
//! an optimistic backend (Redis) runs it again when another writer got in first; a locking
//! backend (memory) runs it once.
//!
//! A transaction is the same idea over several keys: the backend takes a consistent snapshot of
//! the declared keys into a [`Transaction`], the closure reads it and stages writes, and the
//! backend commits the staged writes with no other writer of those keys in between: holding
//! their shards' write locks (memory), or by a compare-and-set of all of them in one server-side
//! script, retried on conflict (Redis). Staging rather than writing through means a closure
//! that panics, or calls [`Transaction::abort`], leaves every key as it was, and that the two
//! kinds of backend give the closure the same view.

use std::time::Duration;

use crate::key::Lookup;

/// What a [`compute`](super::Backend::compute) closure decides for its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compute<V> {
    /// Store this value: a new entry takes the operation's TTL, an existing one keeps its
    /// deadline (an update is not a new write).
    Put(V),
    /// Remove the entry, if there is one.
    Remove,
    /// Leave the key as it is.
    Keep,
}

/// What a [`compute`](super::Backend::compute) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Computed<V> {
    /// There was no value and the closure put this one.
    Inserted(V),
    /// There was a value and the closure replaced it with this one.
    Updated(V),
    /// The closure removed this value.
    Removed(V),
    /// The closure kept this value.
    Unchanged(V),
    /// There was no value and the closure put none.
    StillNone,
}

impl<V> Computed<V> {
    /// The value under the key after the operation, if any.
    pub fn into_value(self) -> Option<V> {
        match self {
            Self::Inserted(v) | Self::Updated(v) | Self::Unchanged(v) => Some(v),
            Self::Removed(_) | Self::StillNone => None,
        }
    }
}

/// How long a key has left ([`Cache::ttl`](crate::Cache::ttl), Cachex's `ttl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// No live value under the key.
    Missing,
    /// The value never expires.
    Never,
    /// The value expires after this long, by its TTL or its time to idle, whichever is nearer.
    In(Duration),
}

/// A staged write of a [`Transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write<V> {
    /// Store the value, expiring after the TTL if one is given.
    Put(V, Option<Duration>),
    /// Remove the key.
    Remove,
}

/// The keys of a [`Cache::transaction`](crate::Cache::transaction) as its closure sees them: a
/// snapshot taken with every other writer of those keys held off, and the writes the closure
/// stages, which the backend commits when the closure returns (unless it called
/// [`abort`](Self::abort)).
///
/// Reads see the closure's own staged writes. Only the keys the transaction declared can be
/// read or written.
///
/// # Panics
///
/// Reading or writing a key the transaction did not declare panics, like indexing a slice out
/// of bounds: it is a bug in the calling code, and no write of the transaction is committed.
#[derive(Debug)]
pub struct Transaction<'a, K, V> {
    keys: &'a [K],
    values: Vec<Option<V>>,
    writes: Vec<Option<Write<V>>>,
    ttl: Option<Duration>,
    aborted: bool,
}

impl<'a, K: Eq, V> Transaction<'a, K, V> {
    /// A transaction over `keys`, whose live values are `values` (in the same order), staging
    /// writes with `ttl` as the default TTL. For backend implementations.
    ///
    /// # Panics
    ///
    /// If `keys` and `values` differ in length.
    pub fn new(keys: &'a [K], values: Vec<Option<V>>, ttl: Option<Duration>) -> Self {
        assert_eq!(keys.len(), values.len(), "one value per transaction key");
        Self {
            keys,
            writes: keys.iter().map(|_| None).collect(),
            values,
            ttl,
            aborted: false,
        }
    }

    fn position<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> usize {
        self.keys
            .iter()
            .position(|k| key.equivalent(k))
            .expect("a transaction reads and writes only the keys it declared")
    }

    /// The value under `key` as the transaction sees it: its own staged write if it made one,
    /// else the snapshot.
    pub fn get<Q: ?Sized + Lookup<K>>(&self, key: &Q) -> Option<&V> {
        let at = self.position(key);
        match &self.writes[at] {
            Some(Write::Put(v, _)) => Some(v),
            Some(Write::Remove) => None,
            None => self.values[at].as_ref(),
        }
    }

    /// Stages `value` under `key` with the cache-wide TTL.
    pub fn insert<Q: ?Sized + Lookup<K>>(&mut self, key: &Q, value: V) {
        let ttl = self.ttl;
        self.stage(key, Write::Put(value, ttl));
    }

    /// Stages `value` under `key`, expiring after `ttl`.
    pub fn insert_with_ttl<Q: ?Sized + Lookup<K>>(&mut self, key: &Q, value: V, ttl: Duration) {
        self.stage(key, Write::Put(value, Some(ttl)));
    }

    /// Stages the removal of `key`; whether the transaction saw a value there.
    pub fn remove<Q: ?Sized + Lookup<K>>(&mut self, key: &Q) -> bool {
        let had = self.get(key).is_some();
        self.stage(key, Write::Remove);
        had
    }

    /// Drops every staged write: the transaction commits nothing.
    pub fn abort(&mut self) {
        self.aborted = true;
    }

    fn stage<Q: ?Sized + Lookup<K>>(&mut self, key: &Q, write: Write<V>) {
        let at = self.position(key);
        self.writes[at] = Some(write);
    }

    /// The writes to commit, as `(index into the keys, write)`; none if the closure aborted.
    /// For backend implementations.
    pub fn into_writes(self) -> impl Iterator<Item = (usize, Write<V>)> {
        let aborted = self.aborted;
        self.writes
            .into_iter()
            .enumerate()
            .filter_map(move |(i, w)| w.filter(|_| !aborted).map(|w| (i, w)))
    }
}

/// Where a walk over a backend's entries ([`Iterate::scan`](super::Iterate::scan)) stands: which
/// part of the store (a shard, a cluster node) and where in it. Start with
/// [`Cursor::START`]; a backend hands back the next one until the walk is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    part: u32,
    position: u64,
}

impl Cursor {
    /// The start of a walk.
    pub const START: Self = Self {
        part: 0,
        position: 0,
    };

    /// A cursor at `position` in `part`. For backend implementations.
    pub const fn new(part: u32, position: u64) -> Self {
        Self { part, position }
    }

    /// The part of the store the walk is in.
    pub const fn part(self) -> u32 {
        self.part
    }

    /// The position inside that part.
    pub const fn position(self) -> u64 {
        self.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_reads_its_own_staged_writes_and_commits_them_in_key_order() {
        let keys = ["a".to_string(), "b".to_string(), "c".to_string()];
        let mut tx = Transaction::new(&keys, vec![Some(1), None, Some(3)], None);
        assert_eq!(tx.get("a"), Some(&1));
        tx.insert("b", 2);
        assert!(tx.remove("c"));
        assert!(!tx.remove("c"), "a staged removal is seen");
        assert_eq!(tx.get("b"), Some(&2));
        assert_eq!(tx.get("c"), None);
        let writes: Vec<_> = tx.into_writes().collect();
        assert_eq!(writes, vec![(1, Write::Put(2, None)), (2, Write::Remove)]);
    }

    #[test]
    fn an_aborted_transaction_commits_nothing() {
        let keys = [1u8];
        let mut tx = Transaction::new(&keys, vec![None], Some(Duration::from_secs(1)));
        tx.insert(&1, 5);
        tx.abort();
        assert_eq!(tx.into_writes().count(), 0);
    }

    #[test]
    #[should_panic(expected = "only the keys it declared")]
    fn an_undeclared_key_panics() {
        let keys = [1u8];
        let tx = Transaction::new(&keys, vec![None::<u8>], None);
        tx.get(&2);
    }

    #[test]
    fn computed_says_what_is_left() {
        assert_eq!(Computed::Updated(2).into_value(), Some(2));
        assert_eq!(Computed::Removed(2).into_value(), None);
        assert_eq!(Computed::<u8>::StillNone.into_value(), None);
    }
}
