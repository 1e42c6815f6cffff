//! The tiered backend (feature `tiered`): an in-memory first layer in front of Redis (or of the
//! disk backend), so a hot key is answered at memory speed while Redis stays the shared source of
//! truth, and every process's first layer drops a key soon after any process writes it.
//!
//! ```no_run
//! use memokit_core::{Cache, RedisOptions, Tiered, TieredOptions};
//!
//! let users: Cache<u64, String, Tiered<u64, String>> = Cache::builder("users")
//!     .capacity(10_000) // the first layer's bound; Redis keeps everything
//!     .backend_options(TieredOptions::new(RedisOptions::new().url("redis://127.0.0.1:6379")))
//!     .build()?;
//! users.insert(1, "ada".to_string())?; // Redis, then this process's first layer drops key 1
//! assert_eq!(users.get(&1)?.as_deref(), Some("ada")); // from Redis; fills the first layer
//! assert_eq!(users.get(&1)?.as_deref(), Some("ada")); // from memory
//! # Ok::<(), memokit_core::CacheError>(())
//! ```
//!
//! With the macros: `#[cached(backend = tiered, url = "redis://...", capacity = 10_000)]`, and
//! `local_ttl = "30s"` to bound how long the first layer keeps a value.
//!
//! # Design
//!
//! * **Layers.** The first layer is a [`MemoryBackend`]: `capacity` and `weigher` bound it (the
//!   second layer keeps every entry; Redis rejects those options), and a first-layer hit is a
//!   memory hit, with nothing added in front of it. A miss reads the second layer once (value and
//!   time left in one `GET` on Redis), fills the first with the value for the entry's remaining
//!   TTL (at most [`TieredOptions::local_ttl`], and with a `refresh` age, until the value turns
//!   stale, so that the refresh sees the second layer's write time), and returns it. `tti` is rejected: a
//!   first-layer hit never reaches Redis, so it could not push Redis's idle deadline back.
//! * **The second layer is the source of truth.** Every write (insert, remove, batches,
//!   `compute`, `take`, transactions, `expire`, `clear`, `remove_where`) goes to the second layer
//!   and then drops the keys it touched from this process's first layer; a writer does not fill
//!   its own first layer, since Redis's invalidation of that very write, which reaches the
//!   writer too, would drop the copy anyway (and drops a copy that a read made before the
//!   invalidation arrived: one more miss right after a write, never a stale read). `ttl`, `contains_key` of a key not in memory, counting and walking ask the second
//!   layer, and `stats` are the second layer's ([`Tiered::local`] has the first layer's).
//!   A batched read (`get_many`) takes what the first layer has and reads the rest from the
//!   second in one batch (values and times left, one `MGET` on Redis, one read transaction on
//!   disk), filling the first with each as a single miss does.
//! * **Fills never resurrect.** Each fill takes a ticket (an epoch per stripe of keys, one
//!   epoch for the whole layer) before it reads the second layer, and drops its own copy if an
//!   invalidation or local write of the key, or a clear, happened meanwhile. So a value read
//!   from Redis before a write can never land in the first layer after that write's
//!   invalidation went by.
//! * **Coherence across processes: `CLIENT TRACKING ... BCAST PREFIX`.** Each cache opens one
//!   RESP3 connection that enables broadcast tracking on the cache's key prefix
//!   (`<prefix>:<len>:<name>:`, every namespace) and receives Redis's invalidation pushes; each
//!   push drops the key from the matching first-layer view (a `FLUSHDB`'s null push drops them
//!   all). Chosen over a pub/sub channel that writers publish on: tracking adds nothing to a
//!   write (pub/sub costs every write a `PUBLISH`, in every write path, scripts included), and it
//!   hears every change of a key — writes of processes that do not use memokit, `redis-cli`,
//!   Redis's own expiry and eviction — where pub/sub hears only the writers that remember to
//!   publish. Both cost Redis one message per write per listening process. The connection is
//!   named `memokit-tiered-<pid>` (`CLIENT LIST`). It needs Redis 6 or later (RESP3 and
//!   tracking); on an older server tracking never turns on, so the first layer never fills and
//!   the cache works as the second layer alone. Redis Cluster is not supported yet (tracking is
//!   per node): opening a tiered cache on one is a configuration error.
//! * **One listener thread per cache.** Pushes must be read while the program does anything or
//!   nothing, sync or async, so a tiered cache over Redis runs its invalidation connection on a
//!   thread of its own (a single-threaded Tokio runtime, `memokit-tiered`). This is the one
//!   exception to "no hidden threads", and the price of coherence; it ends when the cache and
//!   its views are dropped. The disk backend needs none: its file has one owner.
//!
//! # Consistency model
//!
//! * **Own writes.** A process never reads its own completed write stale: the write drops the
//!   key from its first layer before it returns, and fills that raced with it drop themselves.
//! * **Other processes' writes** reach a first layer one push after Redis applied them: Redis
//!   sends the invalidation before the writer gets its reply, so once the writer's call has
//!   returned, another process reads the old value at most for the delivery of one message on
//!   an open connection (well under a millisecond on a LAN; the tests allow a second).
//! * **When the invalidation connection drops,** the first layer stops filling and is cleared
//!   at once: when the socket closes or errors (a `CLIENT KILL`, a restart, a reset), at the
//!   driver's disconnect notice; when it goes silent (a frozen server, a partition), when a
//!   `PING` sent every [`heartbeat`](TieredOptions::heartbeat) goes unanswered for one more
//!   heartbeat. So a read is stale by at most **2 × heartbeat** (2 s by default) after a write
//!   it could not hear about. Until tracking is back on, every read goes to Redis; the listener
//!   reconnects by itself (backing off up to one heartbeat), and fills resume once it does.
//! * **Bound on top:** [`TieredOptions::local_ttl`] caps any first-layer copy's life, whatever
//!   the connection did; by default a copy lives as long as the entry's TTL.
//!
//! [`MemoryBackend`]: crate::MemoryBackend

use std::time::Duration;

mod backend;
mod coherence;
#[cfg(feature = "disk")]
mod disk;
mod redis;

pub use self::backend::Tiered;

/// The backend's kind name, in stats, events and errors.
const KIND: &str = "tiered";

/// How often the invalidation connection is checked by default.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Settings of a [`Tiered`] backend: the second layer's own options, and how the first layer
/// keeps coherent with it.
///
/// ```
/// use std::time::Duration;
/// use memokit_core::{RedisOptions, TieredOptions};
///
/// let options = TieredOptions::new(RedisOptions::new().url("redis://cache.internal:6379"))
///     .local_ttl(Duration::from_secs(30))
///     .heartbeat(Duration::from_millis(500));
/// assert_eq!(options.local_ttl_value(), Some(Duration::from_secs(30)));
/// ```
#[derive(Clone, Debug)]
pub struct TieredOptions<O> {
    pub(crate) second: O,
    local_ttl: Option<Duration>,
    heartbeat: Duration,
}

impl<O> TieredOptions<O> {
    /// A tiered backend over a second layer opened with `second`.
    pub fn new(second: O) -> Self {
        Self {
            second,
            local_ttl: None,
            heartbeat: HEARTBEAT,
        }
    }

    /// The longest a value stays in the first layer, whatever its TTL in the second (none by
    /// default: as long as the entry's own TTL).
    pub fn local_ttl(mut self, ttl: Duration) -> Self {
        self.local_ttl = Some(ttl);
        self
    }

    /// How often the invalidation connection is checked with a `PING` (1 s by default); a
    /// silent connection is given up after one more, so `2 × heartbeat` bounds how stale a
    /// read can be when invalidations stop arriving.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// The [`local_ttl`](Self::local_ttl) set, if any.
    pub fn local_ttl_value(&self) -> Option<Duration> {
        self.local_ttl
    }

    /// The second layer's options, to change them in a cache module's `config` function.
    pub fn second_mut(&mut self) -> &mut O {
        &mut self.second
    }
}

impl<O: Default> Default for TieredOptions<O> {
    fn default() -> Self {
        Self::new(O::default())
    }
}

pub use self::backend::SecondLayer;
