//! Atomic updates on Redis: [`compute`](crate::Backend::compute) and
//! [`transaction`](crate::Backend::transaction) as an optimistic compare-and-set.
//!
//! An update reads the bytes of its keys (one `MGET`), runs the caller's closure on the decoded
//! values, and sends one Lua script that writes the closure's changes only if every key still
//! holds the bytes it read. Redis runs a script atomically, so no other command writes those keys
//! between the check and the writes, and a reader (`GET`, `MGET`, another script) sees all of
//! them or none. When another writer got in first, the script writes nothing and returns the
//! keys' current bytes, so the first retry runs the closure again on them without another read.
//! After [`MAX_ATTEMPTS`] conflicts the operation fails with an error that says so, rather than
//! spin for ever. From the second retry on it first waits a short, random time, so writers that
//! keep colliding spread out, and then reads the keys again: what the conflict returned is old
//! by then, and an attempt on it would be sure to fail under contention.
//!
//! The guarantee is the one `WATCH`/`MULTI`/`EXEC` gives: a commit happens only on an unchanged
//! snapshot, so transactions are serializable among themselves and with every other write.
//! `WATCH` would cost a dedicated connection per update (a watch belongs to its connection, and
//! the multiplexed async connection is shared by every task) and two more round trips (`WATCH`,
//! then `MULTI`/`EXEC`); the script needs neither, so updates run on the shared async connection
//! and on Redis Cluster alike, where all keys of one script must share a hash slot.
//!
//! An update keeps the key's expiry (`SET ... KEEPTTL`, Redis 6.0 or later, and the deadline in
//! the envelope); a new value gets the operation's TTL. A value that is expired on memokit's clock,
//! or that does not decode (another type, a corrupt value), is absent to the closure, and a write
//! replaces it.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use redis::{Cmd, Value, from_redis_value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::{Compute, Computed, Transaction, Write};
use crate::clock::Timestamp;
use crate::error::{BackendError, BackendErrorKind};

use super::KIND;
use super::backend::RedisBackend;
use super::connection::backend_error;

/// Attempts of one update before it gives up on conflicts. Generous, because the unlucky tail
/// is long under heavy contention: with 8 threads incrementing one key on 2 cores, about 1 in 60
/// updates needed more than 8 attempts, 1 in 1,500 more than 20, and the worst of 80,000 about
/// 50 (with 64 attempts, one run in four or so had an update give up).
pub(crate) const MAX_ATTEMPTS: u32 = 128;

/// KEYS: the keys. ARGV[i] for each key i: `=` and the bytes read, or empty if it was absent.
/// Then for each key three arguments: the change (`set`, `keep`, `del`, or empty for none), the
/// bytes to write and, for `set`, Redis's expiry in milliseconds (empty for none). Returns 1 when
/// it wrote, else the keys' current values.
const SCRIPT: &str = r"
local current = redis.call('MGET', unpack(KEYS))
local n = #KEYS
for i = 1, n do
  local seen = current[i] and ('=' .. current[i]) or ''
  if seen ~= ARGV[i] then return current end
end
for i = 1, n do
  local change, bytes, px = ARGV[n + 3 * i - 2], ARGV[n + 3 * i - 1], ARGV[n + 3 * i]
  if change == 'del' then
    redis.call('DEL', KEYS[i])
  elseif change == 'keep' then
    redis.call('SET', KEYS[i], bytes, 'KEEPTTL')
  elseif change == 'set' and px == '' then
    redis.call('SET', KEYS[i], bytes)
  elseif change == 'set' then
    redis.call('SET', KEYS[i], bytes, 'PX', px)
  end
end
return 1
";

/// The bytes an update read, one per key (`None`: absent).
pub(crate) type Seen = Vec<Option<Vec<u8>>>;

/// What an update writes to one key.
pub(crate) enum Change {
    /// A new value, with Redis's expiry in milliseconds if it has one.
    Set(Vec<u8>, Option<u64>),
    /// A new value that keeps the key's expiry.
    Keep(Vec<u8>),
    /// Delete the key.
    Delete,
}

/// What an update's closure made of a snapshot: its result, and the change to each key (`None`:
/// leave it).
pub(crate) type Plan<R> = (R, Vec<Option<Change>>);

/// The closure of an update over the bytes it read: what it makes of them. (A name for the
/// `FnMut` bound, so the functions that build one can return it.)
pub(crate) trait Planner<R>:
    FnMut(&[Option<Vec<u8>>]) -> Result<Plan<R>, BackendError>
{
}

impl<R, P: FnMut(&[Option<Vec<u8>>]) -> Result<Plan<R>, BackendError>> Planner<R> for P {}

/// What to do after a closure ran.
pub(crate) enum Step<R> {
    /// Nothing to write: the result stands.
    Done(R),
    /// Send this commit; the result stands if it is applied.
    Commit(Cmd, R),
}

/// One optimistic update of `keys`, driven by [`RedisBackend::atomically`] or its async form.
pub(crate) struct Cas<P> {
    keys: Vec<Vec<u8>>,
    seen: Seen,
    /// Whether `seen` must be read (again) before the next attempt.
    stale: bool,
    attempt: u32,
    operation: &'static str,
    plan: P,
}

impl<R, P> Cas<P>
where
    P: FnMut(&[Option<Vec<u8>>]) -> Result<Plan<R>, BackendError>,
{
    /// An update of `keys` (all in one hash slot on a cluster) by `plan`, named `operation` in
    /// errors.
    pub(crate) fn new(keys: Vec<Vec<u8>>, operation: &'static str, plan: P) -> Self {
        Self {
            keys,
            seen: Vec::new(),
            stale: true,
            attempt: 0,
            operation,
            plan,
        }
    }

    /// The read of the keys the next attempt needs: at the start, and after a wait (the bytes a
    /// conflict returned are old by then); none for no keys.
    fn read(&self) -> Option<Cmd> {
        (self.stale && !self.keys.is_empty()).then(|| {
            let mut cmd = redis::cmd("MGET");
            cmd.arg(&self.keys);
            cmd
        })
    }

    /// Takes what the keys hold: the reply to [`read`](Self::read), or a conflict's.
    fn saw(&mut self, reply: Value) -> Result<(), BackendError> {
        self.seen = from_redis_value(reply).map_err(|e| backend_error(e.into()))?;
        self.stale = false;
        if self.seen.len() == self.keys.len() {
            Ok(())
        } else {
            Err(BackendError::new(
                KIND,
                BackendErrorKind::Protocol,
                format_args!(
                    "`{}` read {} values for {} keys",
                    self.operation,
                    self.seen.len(),
                    self.keys.len()
                ),
            ))
        }
    }

    /// Runs the closure on what was read; the commit to send, if it changed anything.
    fn step(&mut self) -> Result<Step<R>, BackendError> {
        let (out, changes) = (self.plan)(&self.seen)?;
        if changes.iter().all(Option::is_none) {
            return Ok(Step::Done(out));
        }
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(SCRIPT).arg(self.keys.len()).arg(&self.keys);
        for seen in &self.seen {
            match seen {
                Some(bytes) => cmd.arg([&b"="[..], bytes].concat()),
                None => cmd.arg(""),
            };
        }
        for change in &changes {
            match change {
                None => cmd.arg("").arg("").arg(""),
                Some(Change::Delete) => cmd.arg("del").arg("").arg(""),
                Some(Change::Keep(bytes)) => cmd.arg("keep").arg(bytes).arg(""),
                Some(Change::Set(bytes, px)) => {
                    let px = px.map(|px| px.to_string()).unwrap_or_default();
                    cmd.arg("set").arg(bytes).arg(px)
                }
            };
        }
        Ok(Step::Commit(cmd, out))
    }

    /// Takes a commit's reply: `None` if it was applied, else how long to wait before the next
    /// attempt, or an error once [`MAX_ATTEMPTS`] have met conflicts.
    fn settle(&mut self, reply: Value) -> Result<Option<Duration>, BackendError> {
        if let Value::Int(1) = reply {
            return Ok(None);
        }
        self.saw(reply)?;
        self.attempt += 1;
        if self.attempt == MAX_ATTEMPTS {
            return Err(BackendError::new(
                KIND,
                BackendErrorKind::Other,
                format_args!(
                    "`{}` gave up after {MAX_ATTEMPTS} attempts: each met a conflict with \
                     another writer of its keys",
                    self.operation
                ),
            ));
        }
        let wait = backoff(self.attempt);
        self.stale = !wait.is_zero();
        Ok(Some(wait))
    }
}

/// The wait before attempt `attempt + 1`: none after the first conflict (the script returned the
/// new bytes, so the retry is fresh), then a random time below a bound that doubles from 25 µs
/// up to [`MAX_BACKOFF`] ("full jitter"): writers that keep colliding spread out, so each has
/// fewer rivals on its next attempt.
fn backoff(attempt: u32) -> Duration {
    if attempt < 2 {
        return Duration::ZERO;
    }
    let bound = (BASE_BACKOFF * 2u32.pow((attempt - 2).min(16))).min(MAX_BACKOFF);
    let random = RandomState::new().hash_one(Instant::now());
    let bound_nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % bound_nanos)
}

/// The bound of the first wait between attempts.
const BASE_BACKOFF: Duration = Duration::from_micros(25);
/// The bound of the longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_millis(8);

impl RedisBackend {
    /// Runs the update `cas` to the end on blocking connections.
    pub(crate) fn atomically<R, P>(&self, mut cas: Cas<P>) -> Result<R, BackendError>
    where
        P: FnMut(&[Option<Vec<u8>>]) -> Result<Plan<R>, BackendError>,
    {
        loop {
            if let Some(read) = cas.read() {
                cas.saw(self.run(&read)?)?;
            }
            let (commit, out) = match cas.step()? {
                Step::Done(out) => return Ok(out),
                Step::Commit(commit, out) => (commit, out),
            };
            match cas.settle(self.run(&commit)?)? {
                None => return Ok(out),
                Some(wait) => std::thread::sleep(wait),
            }
        }
    }

    /// Async form of [`atomically`](Self::atomically), on the multiplexed connection.
    pub(crate) async fn atomically_async<R, P>(&self, mut cas: Cas<P>) -> Result<R, BackendError>
    where
        P: FnMut(&[Option<Vec<u8>>]) -> Result<Plan<R>, BackendError>,
    {
        loop {
            if let Some(read) = cas.read() {
                cas.saw(self.run_async(&read).await?)?;
            }
            let (commit, out) = match cas.step()? {
                Step::Done(out) => return Ok(out),
                Step::Commit(commit, out) => (commit, out),
            };
            match cas.settle(self.run_async(&commit).await?)? {
                None => return Ok(out),
                Some(wait) if wait.is_zero() => {}
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}

impl RedisBackend {
    /// The live `K -> V` value in `bytes` at `now`, and its deadline; `None` for none, an expired
    /// value and one that does not decode (which an update then replaces).
    fn live_value<K, V: DeserializeOwned>(
        &self,
        bytes: Option<&[u8]>,
        now: Timestamp,
    ) -> Option<(V, Option<Timestamp>)> {
        let (bytes, identity) = (bytes?, self.identity::<K, V>());
        let deadline = self.envelope().deadline(identity, bytes, now)?;
        let found = self.envelope().unseal::<V>(identity, bytes, now).ok()??;
        Some((found.value, deadline))
    }

    /// The update of [`compute`](crate::Backend::compute) on the Redis key `key` at `now`.
    pub(crate) fn computation<K, V, F>(
        &self,
        key: Vec<u8>,
        ttl: Option<Duration>,
        mut f: F,
        now: Timestamp,
    ) -> Cas<impl Planner<Computed<V>>>
    where
        V: Serialize + DeserializeOwned,
        F: FnMut(Option<&V>) -> Compute<V>,
    {
        Cas::new(vec![key], "compute", move |seen| {
            let current = self.live_value::<K, V>(seen[0].as_deref(), now);
            let decision = f(current.as_ref().map(|(value, _)| value));
            let (out, change) = match (decision, current) {
                // An update keeps the deadline (and, with `KEEPTTL`, Redis's expiry).
                (Compute::Put(value), Some((_, deadline))) => {
                    let identity = self.identity::<K, V>();
                    let bytes = self.envelope().seal(identity, &value, now, deadline)?;
                    (Computed::Updated(value), Some(Change::Keep(bytes)))
                }
                (Compute::Put(value), None) => {
                    let (bytes, px) = self.sealed::<K, V>(&value, ttl, now)?;
                    (Computed::Inserted(value), Some(Change::Set(bytes, px)))
                }
                (Compute::Remove, Some((old, _))) => (Computed::Removed(old), Some(Change::Delete)),
                (Compute::Keep, Some((old, _))) => (Computed::Unchanged(old), None),
                (Compute::Remove | Compute::Keep, None) => (Computed::StillNone, None),
            };
            Ok((out, vec![change]))
        })
    }

    /// The update of [`transaction`](crate::Backend::transaction) on `keys` at `now`. On Redis
    /// Cluster the keys must share a hash slot.
    pub(crate) fn transact<'a, K, V, R, F>(
        &'a self,
        keys: &'a [K],
        ttl: Option<Duration>,
        mut f: F,
        now: Timestamp,
    ) -> Result<Cas<impl Planner<R>>, BackendError>
    where
        K: Serialize + Eq,
        V: Serialize + DeserializeOwned,
        F: FnMut(&mut Transaction<'_, K, V>) -> R,
    {
        let redis_keys = keys
            .iter()
            .map(|key| self.space.key(key))
            .collect::<Result<Vec<_>, _>>()?;
        let slots = self.slots(&redis_keys);
        if slots > 1 {
            return Err(BackendError::new(
                KIND,
                BackendErrorKind::Unsupported,
                format_args!(
                    "`transaction` on Redis Cluster needs all its keys in one hash slot, and these \
                     {} keys are in {slots}: memokit's Redis keys carry no hash tags, so one \
                     cache's keys fall in many slots (a cache name with a `{{tag}}` in it puts \
                     all of the cache's keys in one slot)",
                    keys.len()
                ),
            ));
        }
        Ok(Cas::new(redis_keys, "transaction", move |seen| {
            let values = seen
                .iter()
                .map(|bytes| self.live_value::<K, V>(bytes.as_deref(), now))
                .map(|live| live.map(|(value, _)| value))
                .collect();
            let mut tx = Transaction::new(keys, values, ttl);
            let out = f(&mut tx);
            let mut changes: Vec<Option<Change>> = keys.iter().map(|_| None).collect();
            for (at, write) in tx.into_writes() {
                changes[at] = Some(match write {
                    Write::Put(value, ttl) => {
                        let (bytes, px) = self.sealed::<K, V>(&value, ttl, now)?;
                        Change::Set(bytes, px)
                    }
                    Write::Remove => Change::Delete,
                });
            }
            Ok((out, changes))
        }))
    }
}

/// The compare-and-delete of `key` if it still holds `bytes`; it replies 1 if it deleted.
pub(crate) fn delete_if_unchanged(key: &[u8], bytes: &[u8]) -> Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(SCRIPT)
        .arg(1)
        .arg(key)
        .arg([&b"="[..], bytes].concat())
        .arg("del")
        .arg("")
        .arg("");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cas() -> Cas<impl Planner<u8>> {
        Cas::new(
            vec![b"k".to_vec()],
            "compute",
            |seen: &[Option<Vec<u8>>]| {
                let change = seen[0].as_ref().map(|_| Change::Delete);
                Ok((7, vec![change]))
            },
        )
    }

    #[test]
    fn nothing_to_write_is_done_without_a_commit() {
        let mut cas = cas();
        cas.saw(Value::Array(vec![Value::Nil])).unwrap();
        assert!(matches!(cas.step().unwrap(), Step::Done(7)));
    }

    #[test]
    fn a_commit_names_what_it_read_and_what_it_writes() {
        let mut cas = cas();
        cas.saw(Value::Array(vec![Value::BulkString(b"old".to_vec())]))
            .unwrap();
        let Step::Commit(cmd, 7) = cas.step().unwrap() else {
            panic!("a removal commits");
        };
        let args: Vec<_> = cmd.args_iter().skip(2).collect();
        use redis::Arg::Simple;
        assert_eq!(
            args,
            [
                Simple(&b"1"[..]),
                Simple(b"k"),
                Simple(b"=old"),
                Simple(b"del"),
                Simple(b""),
                Simple(b"")
            ]
        );
        assert_eq!(cas.settle(Value::Int(1)).unwrap(), None);
    }

    #[test]
    fn conflicts_retry_with_the_new_bytes_then_give_up() {
        let mut cas = cas();
        let conflict = || Value::Array(vec![Value::BulkString(b"new".to_vec())]);
        for attempt in 1..MAX_ATTEMPTS {
            let wait = cas.settle(conflict()).unwrap().unwrap();
            assert!(wait < MAX_BACKOFF, "attempt {attempt}: {wait:?}");
            assert_eq!(cas.seen, [Some(b"new".to_vec())]);
            assert_eq!(
                cas.read().is_some(),
                !wait.is_zero(),
                "a wait makes the bytes old"
            );
        }
        let err = cas.settle(conflict()).unwrap_err();
        assert_eq!(err.kind(), BackendErrorKind::Other);
        assert!(err.message().contains("`compute`"), "{err}");
        assert!(err.message().contains("conflict"), "{err}");
    }

    #[test]
    fn the_first_retries_do_not_wait() {
        assert_eq!(backoff(1), Duration::ZERO);
        assert!(backoff(2) < BASE_BACKOFF);
        assert!(backoff(4) < BASE_BACKOFF * 4);
        assert!(backoff(63) < MAX_BACKOFF);
    }
}
