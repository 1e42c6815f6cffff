//! The Redis backend (feature `redis`): caches shared by many processes and machines, on Redis or
//! (feature `redis-cluster`) Redis Cluster.
//!
//! ```no_run
//! use memokit_core::{Cache, RedisBackend, RedisOptions};
//!
//! let users: Cache<u64, String, RedisBackend> = Cache::builder("users")
//!     .backend_options(RedisOptions::new().url("redis://127.0.0.1:6379/0"))
//!     .build()?;
//! users.insert(1, "ada".to_string())?;
//! assert_eq!(users.get(&1)?.as_deref(), Some("ada"));
//! # Ok::<(), memokit_core::CacheError>(())
//! ```
//!
//! With the macros, `#[cached(backend = redis, url = "redis://cache.internal:6379")]` (add
//! `timeout = "1s"` for a deadline other than 250 ms); without a `url` the backend reads
//! `MEMOKIT_REDIS_URL`, then falls back to `redis://127.0.0.1:6379` ([`RedisOptions`] has the
//! details, including TLS, AUTH, database index and Redis Cluster).
//!
//! # Design
//!
//! * **Connections.** Async operations use the `redis` crate's multiplexed connection: one socket
//!   shared by every task, wrapped in its `ConnectionManager`, which reconnects after the server
//!   drops it (on Redis Cluster, the cluster client, which reconnects and follows slot moves by
//!   itself). That connection lives on a Tokio runtime (a driver task reads its socket), so the
//!   backend keeps one per runtime: a cache in a `static` used from several `#[tokio::test]`s keeps
//!   working when the runtime of an earlier test is gone. Sync operations take a blocking
//!   connection from a small pool, so a sync caller never needs a runtime and an async caller never
//!   blocks one (a *sync* memoized function called from async code does block its thread for the
//!   round trip, as any blocking I/O would: memoize the async function instead). Async operations
//!   need a Tokio runtime with time enabled (`#[tokio::main]` has it); outside one they return an
//!   error, which a memoized function treats like any outage. Nothing connects when the cache is
//!   built: the first operation does.
//! * **Faults.** Every operation has one deadline, connecting included
//!   ([`RedisOptions::timeout`], 250 ms by default). After a connection failure or a timeout the
//!   backend stops trying for [`RedisOptions::retry_interval`] and answers
//!   [`Unavailable`](crate::BackendErrorKind) at once; then one caller probes, and success reopens
//!   it. So a dead, unreachable or frozen Redis costs a
//!   memoized function at most one timeout per call, usually none, and the cache comes back by
//!   itself when Redis does. Memoized functions fail open (their body runs); cache modules and
//!   [`Cache`](crate::Cache) methods return the error.
//! * **Keys** are `<prefix>:<cache name length>:<cache name>:<namespace>:<key bytes>`, e.g.
//!   `memokit:10:app::users:global:ada:3` ([`RedisBackend::redis_key`]; the `keys` file has
//!   the layout and why it is injective): the length makes a cache name's end unforgeable, so no
//!   two caches share a key or clear each other's, whatever their names, and the prefix may not
//!   contain `:`. The key is text for integers, strings and tuples of them, readable in
//!   `redis-cli` (`42`, `ada`, `ada:3`), and a `0x00` byte then the
//!   [postcard](https://docs.rs/postcard) encoding otherwise; either depends only on the key's
//!   value and serde shape, so every process and every build agrees (a randomly seeded hash
//!   would not). The namespace is `global`, or `sb<id>-<pid>` inside a test
//!   sandbox: sandbox ids count up per process, and the process id keeps two test processes
//!   sharing one server apart.
//! * **Values** go through a [`Codec`] ([`Postcard`] by default) inside a 28-byte envelope (in
//!   [`crate::codec`], shared by every byte-storing backend) that records the envelope version, the
//!   codec, the [`TypeIdentity`](crate::codec::TypeIdentity) of the key type, value type and the
//!   cache's [`version`](crate::CacheBuilder::version), the write time (so
//!   stale-while-revalidate works across processes) and the deadline. A value that does not decode,
//!   or was written for another key or value type or another `version`, is an error the cache
//!   counts and a miss, so the next load overwrites it; it is never a panic and never a wrong value.
//! * **Expiry** reads memokit's [clock](crate::clock), as on every backend: the deadline in the
//!   envelope is checked on every read against the reader's clock (a sandbox's clock in a sandbox,
//!   so `advance` expires Redis entries too), and an expired value is a miss. Redis's own expiry,
//!   set with `PX` (milliseconds), stays as the storage bound that frees the memory. A cache-wide
//!   `tti` is supported without a `ttl`: reads run a small script that pushes both the deadline
//!   and Redis's expiry back (the `idle` file says why not `GETEX`). `capacity` and `weigher` are
//!   rejected: Redis bounds memory with its own `maxmemory` policy. An eviction listener is never
//!   called, since Redis does not tell clients what it evicted or expired.
//! * **Clearing** deletes only the view's own prefix, with `SCAN ... MATCH` and `UNLINK` (on every
//!   primary of a cluster). Nothing ever calls `KEYS`, `DBSIZE` or `FLUSHDB`.
//! * **Counting** ([`Cache::len`](crate::Cache::len), [`is_empty`](crate::Cache::is_empty),
//!   `stats().entries`) counts live entries only, which costs a network walk: a `SCAN ... MATCH
//!   <view prefix> TYPE string` on every primary (steps of 500 keys; `SCAN` visits the whole
//!   database to find the prefix's keys, without blocking it), and per step one pipeline that
//!   reads the 28-byte header of each value found (`GETRANGE`), to leave out values past their
//!   deadline on memokit's clock and values of another type. It is a sync call on a blocking
//!   connection; keep it off hot paths. [`RedisBackend::count`] counts the view's keys (hashes
//!   and expired values included). `weight` equals `entries`; the other counters are 0.
//! * **The operations beyond get/insert/remove** each take one round trip where they can.
//!   `get_many` is one `MGET` (with a time to idle, one pipeline of idle reads), `insert_many` one
//!   pipeline of `SET`s, `remove_many` one script that deletes the keys and returns their headers,
//!   so the count is of live values; on Redis Cluster each command names the keys of one hash slot
//!   and the groups go out together (the `batch` file). `compute` and transactions are an
//!   optimistic compare-and-set: read the bytes, run the closure, and commit in one Lua script
//!   only if every key still holds them, retried on conflict (the `cas` file says why not
//!   `WATCH`); a transaction on Redis Cluster must keep to one hash slot. `take` is `GETDEL`
//!   (Redis 6.2 or later; updates keep expiry with `KEEPTTL`, 6.0), `contains_key` and `ttl` read
//!   the 28-byte header, `expire` and `persist` rewrite the envelope's deadline and Redis's expiry
//!   in one script, and `touch` is the idle read (the `expiry` file). Iteration and `remove_where`
//!   walk the view with `SCAN` and delete by compare-and-delete (the `iterate` file). `prune` is
//!   not supported: Redis bounds memory with `maxmemory`.
//! * **Redis Cluster** (feature `redis-cluster`; without it a cluster URL or
//!   [`RedisOptions::cluster`] is a config error naming the cache): the `redis` crate's cluster
//!   clients route each command by its key's slot and follow `MOVED` and `ASK`, so calls keep
//!   succeeding, with exact values, while slots migrate; its blocking pipeline does not follow
//!   them, so memokit resends what they answered (the `connection` file's `cluster_pipeline`).
//!   When a primary dies, the operations on its slots fail until a replica is promoted, and the
//!   breaker (one per cache, not per node) then skips Redis for [`RedisOptions::retry_interval`]
//!   after each failure: memoized functions fail open, and hits resume once the client has the
//!   new slot map. The tests in `tests/redis_cluster.rs` run all of this on three primaries and
//!   three replicas, `redis-cli --cluster reshard` and a SIGKILLed primary included.
//! * **Single flight is per process by default.** Concurrent misses on one key in one process run
//!   the loader once; N processes missing the same key at the same moment run it up to N times,
//!   and the last write wins. With
//!   [`distributed_flight`](crate::CacheBuilder::distributed_flight) (`flight = "distributed"`)
//!   the processes share it: each process's leader takes a lease in Redis (`SET NX PX`, renewed
//!   while the loader runs, released by compare-and-delete with a `PUBLISH` that wakes the other
//!   processes' leaders, polling as the fallback), at most one loader per lease period, never a
//!   stall: a dead holder's lease runs out, a waiter gives up after the lease plus one timeout,
//!   and an unreachable Redis fails open (the `lease` file has the commands).
//!
//! Backend-specific operations for cache modules (hashes, pipelines and raw commands) are methods
//! of [`RedisBackend`], reached with [`Cache::backend`](crate::Cache::backend).

/// Lua shared by the scripts that judge a value on the server as the envelope's `is_live` (in
/// [`crate::codec`]) does on the client: `live(v, head, now)` holds when the value `v` starts
/// with `head` (magic, envelope version, codec and type identity: the envelope's `head`) and its
/// deadline is none or after `now` (8 bytes, little-endian nanoseconds on memokit's clock). The
/// deadline is compared byte by byte, most significant first: Lua 5.1 numbers are doubles and
/// cannot hold nanoseconds exactly. The offsets are those of [`crate::codec`]'s layout.
macro_rules! lua_live {
    () => {
        r"
local function live(v, head, now)
  if string.len(v) < 28 or string.sub(v, 1, 12) ~= head then return false end
  local deadline = string.sub(v, 21, 28)
  if deadline == string.rep('\0', 8) then return true end
  for i = 8, 1, -1 do
    local n, d = string.byte(now, i), string.byte(deadline, i)
    if n ~= d then return n < d end
  end
  return false
end
"
    };
}

mod backend;
mod batch;
mod blocking;
mod breaker;
mod cas;
mod clear;
mod connection;
mod expiry;
mod idle;
mod iterate;
#[cfg(feature = "json")]
mod json;
pub(crate) mod keys;
mod lease;
#[cfg(test)]
mod lease_tests;
mod ops;
mod options;
#[cfg(test)]
mod tests;

/// The backend's kind name, in stats, events and errors.
const KIND: &str = "redis";

pub use self::backend::RedisBackend;
pub use self::options::RedisOptions;
#[cfg(feature = "json")]
pub use crate::codec::Json;
pub use crate::codec::{Codec, CodecError, Postcard, Visit};
/// The `redis` crate this backend is built on, for raw commands and pipelines
/// ([`RedisBackend::query`], [`RedisBackend::query_pipeline`]).
pub use ::redis as driver;
pub use ::redis::{Cmd, FromRedisValue, Pipeline, Value, cmd, pipe};
/// The type-erased serde traits a [`Codec`] works with.
pub use erased_serde;
