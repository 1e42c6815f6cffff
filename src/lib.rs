//! memokit: memoization and caching for Rust.
//!
//! `#[cached]` rewrites a function to consult a cache first; the runtime underneath is a typed
//! [`Cache`](struct@Cache) handle over a pluggable [`Backend`] (in memory by default).
//!
//! ```
//! use memokit::cached;
//!
//! #[cached(ttl = "10m", capacity = 10_000)]
//! fn word_count(text: &str) -> usize {
//!     text.split_whitespace().count()
//! }
//!
//! assert_eq!(word_count("to be or not to be"), 6); // runs the body
//! assert_eq!(word_count("to be or not to be"), 6); // a hit: no allocation, no body
//! assert_eq!(WORD_COUNT_MEMO.stats().hits, 1);          // the function's companion handle
//! ```
//!
//! # What gets cached
//!
//! * The key is the function's arguments, owned (`&str` is keyed as `String`, `&[T]` as
//!   `Vec<T>`); a hit looks the key up by its borrowed form and allocates nothing.
//! * A function returning `Result<T, E>` caches only `Ok(T)`; `Option<T>` only `Some(T)`. Errors
//!   and `None` reach the caller and the next call tries again. `cache_err` / `cache_none` opt
//!   back in.
//! * Concurrent misses on one key run the body once; the other callers wait for its value.
//! * A cache that cannot work (bad configuration, a failing backend) never breaks the function:
//!   the body runs and its result is returned.
//!
//! # Stampedes, failures and refresh
//!
//! Single flight is on by default (`sync = false` turns it off per function): a thousand callers
//! missing one key run the body once, and different keys never wait on each other. If the body
//! returns an uncached `Err`/`None`, panics, or its future is dropped, that reaches its own caller
//! only and one waiting caller runs the body next. A body that calls itself with the *same*
//! arguments panics with a message naming the function instead of deadlocking; recursion over
//! different arguments (a memoized `fib`) just works.
//!
//! `refresh = "30s"` is stale-while-revalidate: after that age a hit returns the cached value at
//! once and starts one reload of that key in the background (async functions: a task on the Tokio
//! runtime, feature `tokio`, without which `refresh` on an `async fn` is a compile error; sync
//! functions: a small bounded pool of `memokit-refresh` threads).
//! A failed reload keeps the old value and counts in [`Stats::refresh_failures`].
//!
//! ```
//! use std::time::Duration;
//! use memokit::{cached, clock::ManualClock};
//!
//! #[cached(refresh = "30s", ttl = "1h")]
//! fn exchange_rate(currency: &str) -> u32 {
//!     # let _ = currency;
//!     42 // a slow lookup
//! }
//!
//! let clock = ManualClock::new();
//! let _installed = clock.install();
//! assert_eq!(exchange_rate("eur"), 42);
//! clock.advance(Duration::from_secs(31));
//! assert_eq!(exchange_rate("eur"), 42); // stale: served at once, reloaded in the background
//! ```
//!
//! # Caches by hand
//!
//! ```
//! use std::time::Duration;
//! use memokit::Cache;
//!
//! let sessions: Cache<String, u64> = Cache::builder("sessions")
//!     .ttl(Duration::from_secs(30 * 60))
//!     .capacity(100_000)
//!     .build()?;
//! // In memory nothing can fail: `local()` has the same operations without `Result`.
//! sessions.local().insert("token-1".to_string(), 42);
//! assert_eq!(sessions.local().get("token-1"), Some(42));
//! # Ok::<(), memokit::CacheError>(())
//! ```
//!
//! [`Cache`](struct@Cache)'s own methods return `Result`, since a remote backend can fail;
//! [`Cache::local`] exists only where the backend cannot ([`InfallibleBackend`]).
//! Values and keys of the backends that store bytes (Redis, disk) are serde types: derive them
//! with `memokit::Serialize` and `memokit::Deserialize` (features `redis`, `disk`, `snapshot`).
//!
//! # Cache modules
//!
//! `#[derive(Cache)]` on a unit struct declares a cache you call directly (`Users::get`,
//! `Users::insert`, `Users::get_or_insert_with`, ...), configured from its attribute and, at
//! first use, from a function of yours; see [`Cache`](macro@Cache). [`caches()`] lists every
//! cache in the program with its stats and [`clear_all()`] clears them.
//!
//! # Tests: sandboxes
//!
//! Caches are global, so tests that share one would see each other's values. A
//! [sandbox](mod@sandbox) gives a test its own namespace in every cache, deleted when the test
//! ends, so such tests run in parallel; it also carries a clock that moves only when told to.
//!
//! ```
//! use std::time::Duration;
//!
//! #[memokit::cached(ttl = "10m")]
//! fn price(item: u32) -> u64 {
//!     u64::from(item) * 100
//! }
//!
//! #[memokit::sandboxed] // with `#[test]` or `#[tokio::test]` in a test
//! fn prices_expire() {
//!     let sb = memokit::sandbox::current().unwrap();
//!     assert_eq!(price(3), 300);
//!     sb.advance(Duration::from_secs(601)); // no sleeping
//!     assert_eq!(price(3), 300);
//!     assert_eq!(PRICE_MEMO.stats().loads, 2);
//! }
//! # prices_expire();
//! ```
//!
//! `let _sb = memokit::sandbox();` does the same for the rest of a scope. Threads and tasks the
//! test spawns join its sandbox through [`sandbox::spawn`] and
//! [`.in_current_sandbox()`](sandbox::InSandbox::in_current_sandbox). A cache declared
//! `#[cached(sandbox = "required")]` panics when your crate's tests use it outside a sandbox.
//!
//! # Time in tests
//!
//! Every TTL reads memokit's [`clock`]. A [`clock::ManualClock`] installed on the test's thread
//! stands still until advanced, so TTL tests move time instead of sleeping; a sandbox installs
//! one of its own.
//!
//! # Telemetry
//!
//! Every operation can emit a [`telemetry::Event`] (cache, backend, namespace, outcome,
//! duration) to handlers attached with [`telemetry::attach`]; with none attached, the cost is
//! one relaxed atomic load. The `tracing` and `metrics` features add bridges, switched on with
//! `memokit::telemetry::tracing::install()` and `memokit::telemetry::metrics::install()`; event
//! and metric names are the constants in [`telemetry::names`].
//!
//! # Crate layout
//!
//! `memokit` re-exports the runtime ([`memokit_core`]) and the macros (`memokit-macros`); depend
//! on this crate only.

#![warn(missing_docs)]

pub use memokit_core::*;

/// `serde`, for the values (and keys) of the backends that store bytes: Redis, disk, and
/// snapshots. With it a crate needs no `serde` dependency of its own; point the derives here with
/// `#[serde(crate = "memokit::serde")]`, since they otherwise name `::serde`:
///
/// ```
/// #[derive(Clone, memokit::Serialize, memokit::Deserialize)]
/// #[serde(crate = "memokit::serde")]
/// struct User {
///     id: u64,
///     name: String,
/// }
/// # fn stored<V: memokit::serde::Serialize + memokit::serde::de::DeserializeOwned>() {}
/// # stored::<User>();
/// ```
#[cfg(any(feature = "redis", feature = "disk", feature = "snapshot"))]
pub use serde;
/// The derives (and traits) of [`serde`](mod@serde), re-exported: `#[derive(memokit::Serialize,
/// memokit::Deserialize)]` with `#[serde(crate = "memokit::serde")]`.
#[cfg(any(feature = "redis", feature = "disk", feature = "snapshot"))]
pub use serde::{Deserialize, Serialize};

/// Memoizes a function: calls with the same key return the cached result instead of running the
/// body again.
///
/// ```
/// use memokit::cached;
///
/// #[cached(ttl = "10m", capacity = 10_000)]
/// fn word_count(text: &str) -> usize {
///     text.split_whitespace().count()
/// }
///
/// assert_eq!(word_count("to be or not to be"), 6); // a miss: runs the body
/// assert_eq!(word_count("to be or not to be"), 6); // a hit
/// assert_eq!(WORD_COUNT_MEMO.stats().hits, 1);
/// ```
///
/// It applies to free functions, inherent methods and associated functions, sync or `async`, and
/// to trait impl methods (see [Methods](#methods)). The expansion is one `static` inside the
/// function, two calls into the runtime and the companion constant; the attribute never inlines
/// caching logic.
///
/// # Keys
///
/// By default the key is the tuple of the arguments, owned: `&str` is stored as `String`, `&[T]` as
/// `Vec<T>`, `&Path` as `PathBuf`, `&T` as `T`, and references inside containers too:
/// `Option<&str>` as `Option<String>`, `Option<&T>` as `Option<T>`, `&[&str]` and `Vec<&str>` as
/// `Vec<String>`, `(&str, &str)` as `(String, String)`. A hit looks the key up by the borrowed
/// arguments and allocates nothing. The receiver (`&self`) is never part of the default key.
///
/// ```
/// # use memokit::cached;
/// #[cached]
/// fn greet(name: Option<&str>, titles: &[&str]) -> String {
///     format!("{} {}", titles.join(" "), name.unwrap_or("you"))
/// }
/// assert_eq!(greet(Some("Ada"), &["Dr"]), "Dr Ada");
/// assert_eq!(greet(Some("Ada"), &["Dr"]), "Dr Ada");
/// assert_eq!(GREET_MEMO.stats().hits, 1);
/// assert!(GREET_MEMO.invalidate((Some("Ada"), memokit::key::Slice(&["Dr"])))?);
/// # Ok::<(), memokit::CacheError>(())
/// ```
///
/// **`once`** keeps one value whatever the arguments (the `cached` crate's `#[once]`); its key is
/// `()`, as for a function without arguments, so the companion takes `()`:
///
/// ```
/// # use memokit::cached;
/// #[cached(once, ttl = "1h")]
/// fn settings(path: &str) -> String {
///     format!("loaded from {path}")
/// }
/// assert_eq!(settings("a.toml"), "loaded from a.toml");
/// assert_eq!(settings("b.toml"), "loaded from a.toml"); // the one value, for an hour
/// SETTINGS_MEMO.prime((), "primed".to_string())?;
/// assert_eq!(settings("c.toml"), "primed");
/// # Ok::<(), memokit::CacheError>(())
/// ```
///
/// **`batch`** memoizes a function from a list of ids to a map, per id (DataLoader-style): each
/// call runs the body once, with only the ids nobody has cached or is loading, and stores each
/// returned pair under its id. The ids are `&[Id]` or `Vec<Id>` (the one argument besides
/// `self`), the answer a `HashMap<Id, V>` or `BTreeMap<Id, V>` or a `Result` of one; ids the body
/// leaves out, and an `Err`, cache nothing. The companion works per id:
///
/// ```
/// # use memokit::cached;
/// # use std::collections::HashMap;
/// #[cached(batch, ttl = "5m")]
/// fn names(ids: &[u32]) -> HashMap<u32, String> {
///     // One query for all the missing ids; id 0 does not exist.
///     ids.iter().filter(|&&id| id != 0).map(|&id| (id, format!("user {id}"))).collect()
/// }
/// assert_eq!(names(&[1, 2]).len(), 2);
/// assert_eq!(names(&[0, 2, 3]).len(), 2); // the body saw [0, 3]
/// assert_eq!(NAMES_MEMO.len(), 3);
/// NAMES_MEMO.invalidate(&2)?;
/// # Ok::<(), memokit::CacheError>(())
/// ```
///
/// **`fallback = "1h"`** answers an `Err` with the last `Ok` (the `cached` crate's
/// `result_fallback`): past the `ttl` the body runs again, and if it fails, the value kept up to
/// that long past the `ttl` is returned instead, counted as a load failure and a fallback. It
/// needs a `ttl` and a `Result` return; see `CacheBuilder::fallback` for where the copies live.
///
/// ```
/// # use memokit::cached;
/// # use std::time::Duration;
/// # use std::sync::atomic::{AtomicBool, Ordering};
/// static UP: AtomicBool = AtomicBool::new(true);
///
/// #[cached(ttl = "1m", fallback = "1h")]
/// fn quote(symbol: &str) -> Result<u32, String> {
///     if UP.load(Ordering::Relaxed) { Ok(symbol.len() as u32) } else { Err("down".into()) }
/// }
/// let sb = memokit::sandbox();
/// assert_eq!(quote("ACME"), Ok(4));
/// sb.advance(Duration::from_secs(61));
/// UP.store(false, Ordering::Relaxed);
/// assert_eq!(quote("ACME"), Ok(4)); // the body failed; the kept value answers
/// assert_eq!(QUOTE_MEMO.stats().fallbacks, 1);
/// ```
///
/// **`key = arg`** or **`key = (a, b)`** keys by some of the arguments only (the others, such as
/// a connection pool, don't need to be hashable):
///
/// ```
/// # use memokit::cached;
/// struct Db;
///
/// #[cached(key = (tenant, id))]
/// fn load(db: &Db, tenant: &str, id: u64) -> String {
///     let _ = db;
///     format!("{tenant}/{id}")
/// }
///
/// assert_eq!(load(&Db, "acme", 7), "acme/7");
/// assert_eq!(LOAD_MEMO.len(), 1);
/// ```
///
/// **`key: Type = <expr>`** keys by any expression over the arguments (and `self`). The type is
/// needed because the cache is a `static`. This is also how generic functions are memoized: their
/// single cache is shared by every instantiation, so the key and the result must be concrete types.
///
/// ```
/// # use memokit::cached;
/// use std::fmt::Display;
///
/// #[cached(key: String = item.to_string())]
/// fn describe<T: Display>(item: T) -> String {
///     format!("<{item}>")
/// }
///
/// assert_eq!(describe(42), "<42>");
/// assert_eq!(describe("42"), "<42>"); // same key, a hit
/// assert_eq!(DESCRIBE_MEMO.stats().hits, 1);
/// ```
///
/// # Which results are cached
///
/// A function returning `Result<T, E>` caches only `Ok(T)`, and `Option<T>` only `Some(T)`; errors
/// and `None` reach the caller and the next call tries again. Type aliases such as `io::Result<T>`
/// work. Everything else is cached whole.
///
/// **`cache_err`** caches `Err` results too (the whole `Result`):
///
/// ```
/// # use memokit::cached;
/// #[cached(cache_err)]
/// fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
///     text.parse()
/// }
/// assert!(parse("x").is_err());
/// assert!(parse("x").is_err());
/// assert_eq!(PARSE_MEMO.stats().hits, 1);
/// ```
///
/// **`cache_none`** caches `None` results too:
///
/// ```
/// # use memokit::cached;
/// #[cached(cache_none)]
/// fn find(id: u32) -> Option<String> {
///     (id == 1).then(|| "one".to_string())
/// }
/// assert_eq!(find(2), None);
/// assert_eq!(find(2), None);
/// assert_eq!(FIND_MEMO.stats().hits, 1);
/// ```
///
/// **Was it cached?** Return [`Cached<T>`](Cached) and wrap the body's result with
/// `Cached::new` (or `.into()`): it dereferences to `T`, and
/// [`was_cached()`](Cached::was_cached) says whether this call was answered from the cache. What
/// is cached follows `T`'s rule (`Cached<Result<T, E>>` caches only `Ok`):
///
/// ```
/// # use memokit::{Cached, cached};
/// #[cached]
/// fn rate(currency: &str) -> Cached<Result<u32, String>> {
///     Cached::new(if currency == "EUR" { Ok(108) } else { Err(format!("no {currency}")) })
/// }
/// assert!(!rate("EUR").was_cached());
/// assert!(rate("EUR").was_cached());
/// assert_eq!(*rate("EUR"), Ok(108));
/// assert!(!rate("XYZ").was_cached() && !rate("XYZ").was_cached()); // errors are not cached
/// ```
///
/// **`unless = |result| <bool>`** keeps a result out of the cache when the closure returns `true`.
/// It sees the result as the function returns it:
///
/// ```
/// # use memokit::cached;
/// #[cached(unless = |hits: &Vec<u32>| hits.is_empty())]
/// fn search(term: &str) -> Vec<u32> {
///     if term == "rust" { vec![1, 2] } else { Vec::new() }
/// }
/// search("cobol");
/// search("rust");
/// assert_eq!(SEARCH_MEMO.len(), 1, "the empty result was not stored");
/// ```
///
/// **`condition = <bool expression>`** decides per call, before the lookup, whether to use the
/// cache at all; when it is false the body runs and nothing is looked up or stored:
///
/// ```
/// # use memokit::cached;
/// #[cached(condition = !fresh)]
/// fn price(item: u32, fresh: bool) -> u64 {
///     u64::from(item) * 100 + u64::from(fresh)
/// }
/// assert_eq!(price(1, true), 101);
/// assert!(PRICE_MEMO.is_empty());
/// assert_eq!(price(1, false), 100);
/// assert_eq!(PRICE_MEMO.len(), 1);
/// ```
///
/// `unless` and `ttl_from` closures see only their argument (and statics): they cannot borrow the
/// function's arguments, which the body owns.
///
/// # Expiry and size
///
/// Durations are string literals checked at compile time (`"250ms"`, `"90s"`, `"10m"`, `"1h30m"`,
/// `"2d"`) or any expression of type [`Duration`](std::time::Duration). Expiry reads memokit's
/// [`clock`], which tests replace with a [`clock::ManualClock`].
///
/// **`ttl`**: every entry expires this long after it was written.
///
/// ```
/// # use memokit::cached;
/// use std::time::Duration;
/// use memokit::clock::ManualClock;
///
/// #[cached(ttl = "10m")]
/// fn rate(currency: &str) -> f64 {
///     if currency == "EUR" { 1.08 } else { 1.0 }
/// }
///
/// let clock = ManualClock::new();
/// let _installed = clock.install();
/// rate("EUR");
/// clock.advance(Duration::from_secs(600));
/// assert!(RATE_MEMO.cache().unwrap().get("EUR")?.is_none(), "expired");
/// # Ok::<(), memokit::CacheError>(())
/// ```
///
/// **`tti`** (time to idle): an entry expires when it has not been read for this long.
///
/// ```
/// # use memokit::cached;
/// use std::time::Duration;
/// use memokit::clock::ManualClock;
///
/// #[cached(tti = "5m")]
/// fn session(token: &str) -> usize {
///     token.len()
/// }
///
/// let clock = ManualClock::new();
/// let _installed = clock.install();
/// session("abc");
/// clock.advance(Duration::from_secs(240));
/// session("abc"); // a read keeps it alive
/// clock.advance(Duration::from_secs(240));
/// assert_eq!(SESSION_MEMO.stats().hits, 1);
/// assert!(SESSION_MEMO.cache().unwrap().get("abc")?.is_some());
/// # Ok::<(), memokit::CacheError>(())
/// ```
///
/// **`ttl_from = |value| <Duration>`** gives each entry its own TTL, computed from the value being
/// stored (the `T` of `Ok(T)` or `Some(T)`). Return an `Option<Duration>` to keep the cache-wide
/// `ttl` for some values (`None`).
///
/// ```
/// # use memokit::cached;
/// use std::time::Duration;
///
/// #[derive(Clone)]
/// struct Token {
///     secret: String,
///     expires_in: Duration,
/// }
///
/// #[cached(ttl_from = |token: &Token| token.expires_in)]
/// fn token(scope: &str) -> Result<Token, String> {
///     Ok(Token { secret: format!("{scope}-secret"), expires_in: Duration::from_secs(300) })
/// }
/// assert_eq!(token("read").unwrap().secret, "read-secret");
/// ```
///
/// **`capacity`** bounds the number of entries (or their total weight, with a `weigher`):
///
/// ```
/// # use memokit::cached;
/// #[cached(capacity = 2)]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
/// for x in 0..10 {
///     square(x);
/// }
/// assert!(SQUARE_MEMO.len() <= 2);
/// ```
///
/// **`weigher = |key, value| <u64>`** bounds the cache by total weight instead of entry count; it
/// needs a `capacity`, the maximum total weight:
///
/// ```
/// # use memokit::cached;
/// #[cached(capacity = 1_000_000, weigher = |_: &u32, page: &String| page.len() as u64)]
/// fn render(id: u32) -> String {
///     "x".repeat(id as usize)
/// }
/// render(10);
/// assert_eq!(RENDER_MEMO.stats().weight, 10);
/// ```
///
/// # Concurrency and staleness
///
/// **`sync = false`** turns single flight off: concurrent misses on one key each run the body
/// (by default they run it once and share the result).
///
/// ```
/// # use memokit::cached;
/// #[cached(sync = false)]
/// fn cheap(x: u32) -> u32 {
///     x + 1
/// }
/// assert_eq!(cheap(1), 2);
/// assert_eq!(CHEAP_MEMO.len(), 1);
/// ```
///
/// **`refresh = "30s"`** is stale-while-revalidate: a hit older than that returns the cached value
/// at once and starts one background reload of the key (see the crate docs). It must be shorter
/// than `ttl`, applies to free functions keyed by all their arguments, and can't be combined with
/// `key`, `unless` or `ttl_from`, which a background reload could not honour. On an `async fn`
/// it needs the `tokio` feature (the reload is a Tokio task).
///
/// ```
/// # use memokit::cached;
/// #[cached(ttl = "1h", refresh = "5m")]
/// fn exchange_rate(currency: &str) -> u32 {
///     if currency == "EUR" { 108 } else { 100 }
/// }
/// assert_eq!(exchange_rate("EUR"), 108);
/// ```
///
/// # Identity and storage
///
/// **`name = "..."`** names the cache in stats, events, errors and remote keys (default: the
/// function's module path and name, like `my_app::users::fetch_user`):
///
/// ```
/// # use memokit::cached;
/// #[cached(name = "users")]
/// fn user(id: u32) -> String {
///     format!("user {id}")
/// }
/// user(1);
/// assert_eq!(USER_MEMO.cache().unwrap().name(), "users");
/// ```
///
/// **`backend = ...`** picks the storage: `memory` (the default), or the path of a type
/// implementing [`Backend`] for the key and value types:
///
/// ```
/// # use memokit::cached;
/// use memokit::MemoryBackend;
///
/// #[cached(backend = MemoryBackend<u32, u32>)]
/// fn cube(x: u32) -> u32 {
///     x * x * x
/// }
/// assert_eq!(cube(3), 27);
/// assert_eq!(CUBE_MEMO.cache().unwrap().backend_kind(), "memory");
/// ```
///
/// **`backend = redis`** (feature `redis`) keeps the cache in Redis, shared by every process
/// that memoizes the function against the same server. **`url = ...`** (a string, or any
/// expression of a type `Into<String>`) names the server, else `MEMOKIT_REDIS_URL` does
/// (comma-separated seed URLs name a Redis Cluster, with the `redis-cluster` feature);
/// **`timeout = "2s"`** (a literal or a `Duration` expression) is the deadline of each Redis
/// operation, 250 ms by default. A call whose Redis operation fails or times out runs the body
/// instead. Both options need `backend = redis`.
///
/// ```no_run
/// # #[cfg(feature = "redis")]
/// # mod with_redis {
/// # use memokit::cached;
/// #[cached(backend = redis, url = "redis://cache.internal:6379", timeout = "2s", ttl = "10m")]
/// fn exchange_rate(pair: &str) -> u64 {
///     # let _ = pair;
///     42 // an expensive lookup
/// }
/// # }
/// ```
///
/// **`flight = "distributed"`** (with `backend = redis`) makes single flight span processes:
/// concurrent misses on one key in every process sharing the server run the body about once, the
/// others waiting for its value. Each process's leader takes a lease in Redis, renewed while the
/// body runs; **`flight_lease = "30s"`** (default 10 s) is its period, a waiter's patience (plus
/// one `timeout`) and the longest a dead holder delays the others. It is at most one body per
/// lease period, not exactly once, and it never stalls a caller: an unreachable Redis runs the
/// body. See [`CacheBuilder::distributed_flight`] for the protocol.
///
/// ```no_run
/// # #[cfg(feature = "redis")]
/// # mod with_redis {
/// # use memokit::cached;
/// #[cached(backend = redis, ttl = "1h", flight = "distributed", flight_lease = "30s")]
/// fn daily_report(day: u32) -> String {
///     format!("report {day}") // minutes of queries: one process runs them, the others wait
/// }
/// # }
/// ```
///
/// **`backend = disk`** (feature `disk`) keeps the cache in a file that survives restarts;
/// **`path = "..."`** (a string literal, required with it, and only with it or
/// `backend = tiered`) names the file.
/// See [`DiskBackend`] for what the file holds and how durable writes are.
///
/// ```no_run
/// # #[cfg(feature = "disk")]
/// # mod with_disk {
/// # use memokit::cached;
/// #[cached(backend = disk, path = "target/caches/thumbnails.redb", ttl = "7d")]
/// fn thumbnail(url: &str) -> Vec<u8> {
///     # let _ = url;
///     vec![0; 64] // an expensive download and resize
/// }
/// # }
/// ```
///
/// **`backend = tiered`** (feature `tiered`) keeps a first layer in this process's memory in
/// front of Redis, kept coherent with every other process by Redis's invalidations; `url` and
/// `timeout` are Redis's, `capacity` and `weigher` bound the first layer, and
/// **`local_ttl = "30s"`** (only with it) caps how long the first layer keeps a value. See
/// [`Tiered`] for the consistency model. With a **`path`** instead of Redis's options, the
/// second layer is the disk backend's file (`Tiered<K, V, DiskBackend>`, features `tiered` and
/// `disk`): memory-speed hits for a cache that survives restarts.
///
/// ```no_run
/// # #[cfg(feature = "tiered")]
/// # mod with_tiered {
/// # use memokit::cached;
/// #[cached(backend = tiered, url = "redis://cache.internal:6379", capacity = 10_000, local_ttl = "1m")]
/// fn exchange_rate(pair: &str) -> u64 {
///     # let _ = pair;
///     42 // an expensive lookup
/// }
/// # }
/// ```
///
/// **`version = 2`** (a `u32` literal or expression, default 0) is the schema version of the
/// cached values. A backend that stores bytes (Redis) writes it beside each value and reads a
/// value of another version as a miss, which the next call overwrites: bump it when the return
/// type keeps its name but its serialized form or meaning changes, so a new deploy never decodes
/// the previous deploy's values as its own.
///
/// ```
/// # use memokit::cached;
/// #[cached(version = 2)]
/// fn price(id: u32) -> u64 {
///     u64::from(id) * 100
/// }
/// assert_eq!(price(1), 100);
/// assert_eq!(PRICE_MEMO.cache().unwrap().config().version(), 2);
/// ```
///
/// **`crate = path`** names this crate where it is not `::memokit`, for a crate that re-exports
/// memokit and uses the attribute from its own macros:
///
/// ```
/// mod reexport {
///     pub use ::memokit;
/// }
///
/// #[memokit::cached(crate = reexport::memokit)]
/// fn half(x: u32) -> u32 {
///     x / 2
/// }
/// assert_eq!(half(8), 4);
/// ```
///
/// # Tests
///
/// **`sandbox = "required"`** makes the test build (`cfg(test)`) of the crate that declares the
/// function panic when it is used outside a [sandbox](mod@sandbox), with a message naming the
/// cache and the fix; every other build is unaffected. `cfg(test)` is set for a crate's unit tests
/// and for functions declared in an integration-test file, not for a library compiled as a
/// dependency of its own integration tests.
///
/// ```
/// #[memokit::cached(sandbox = "required")]
/// fn tax(cents: u64) -> u64 {
///     cents / 5
/// }
///
/// #[memokit::sandboxed] // beside `#[test]`
/// fn computes_tax() {
///     assert_eq!(tax(500), 100);
/// }
/// # computes_tax();
/// ```
///
/// # The companion handle
///
/// Every memoized function `fetch_user` gets a constant **`FETCH_USER_MEMO`** beside it: the
/// function's name in upper case followed by `_MEMO`, with the function's visibility (an associated
/// constant, `Type::FETCH_USER_MEMO`, for functions in an `impl` block). It is a
/// [`Companion`], which dereferences to the function's [`Memo`]. The suffix keeps it apart from the constants people write themselves
/// (`fn timeout` beside `const TIMEOUT`); should a name still clash, **`companion = OTHER_NAME`**
/// renames it, and **`companion = false`** leaves it out (required in trait impls).
///
/// Methods taking the key take references to the key's parts as the function receives them:
/// `&id` for `fn f(id: u64)`, `name` for `fn f(name: &str)`, `(name, &page)` for
/// `fn f(name: &str, page: u32)`, `&key` for a function with `key: T = ...`.
///
/// ```
/// # use memokit::cached;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// static RUNS: AtomicU32 = AtomicU32::new(0);
///
/// #[cached]
/// fn page(book: &str, number: u32) -> String {
///     RUNS.fetch_add(1, Ordering::SeqCst);
///     format!("{book} p.{number}")
/// }
///
/// page("dune", 1);
/// assert_eq!(PAGE_MEMO.len(), 1);
/// assert_eq!(PAGE_MEMO.stats().misses, 1);
///
/// // Invalidate one call's entry, by its arguments.
/// assert!(PAGE_MEMO.invalidate(("dune", &1))?);
///
/// // Prime a value: the next call is a hit.
/// PAGE_MEMO.prime(("dune", &2), "from the cache".to_string())?;
/// assert_eq!(page("dune", 2), "from the cache");
///
/// // Force a reload of one key: runs the body and stores its result.
/// assert_eq!(PAGE_MEMO.refresh(|| page("dune", 2)), "dune p.2");
/// assert_eq!(page("dune", 2), "dune p.2");
///
/// // Call the body without the cache: no lookup, nothing stored.
/// let before = RUNS.load(Ordering::SeqCst);
/// PAGE_MEMO.uncached(|| page("dune", 3));
/// assert_eq!(RUNS.load(Ordering::SeqCst), before + 1);
/// assert!(PAGE_MEMO.cache().unwrap().get(&memokit::key::KeyRef(("dune", &3)))?.is_none());
///
/// PAGE_MEMO.clear()?;
/// assert!(PAGE_MEMO.is_empty());
/// # Ok::<(), memokit::CacheError>(())
/// ```
///
/// `refresh` and `uncached` aim at the function's next call made inside the closure, on the same
/// thread; for `async` functions use `refresh_async` and `uncached_async`, which take the future:
/// `FETCH_MEMO.uncached_async(fetch(42)).await`.
///
/// # Methods
///
/// Methods taking `&self` (sync or `async`) are memoized per arguments; the receiver is not part
/// of the key unless a `key: T = ...` expression uses it. Associated functions without a receiver
/// work the same. Each gets an associated companion constant.
///
/// ```
/// # use memokit::cached;
/// struct Catalog {
///     region: String,
/// }
///
/// impl Catalog {
///     #[cached]
///     fn price(&self, sku: u32) -> u32 {
///         sku * 10
///     }
///
///     #[cached(key: (String, u32) = (self.region.clone(), sku))]
///     fn regional_price(&self, sku: u32) -> String {
///         format!("{}:{}", self.region, sku * 10)
///     }
///
///     #[cached]
///     fn tax_rate(country: &str) -> u32 {
///         if country == "DE" { 19 } else { 20 }
///     }
/// }
///
/// let eu = Catalog { region: "eu".into() };
/// let us = Catalog { region: "us".into() };
/// assert_eq!(eu.price(1), 10);
/// assert_eq!(us.price(1), 10); // same key: the receiver is not part of it
/// assert_eq!(Catalog::PRICE_MEMO.stats().hits, 1);
/// assert_eq!(eu.regional_price(1), "eu:10");
/// assert_eq!(us.regional_price(1), "us:10");
/// assert_eq!(Catalog::REGIONAL_PRICE_MEMO.len(), 2);
/// assert_eq!(Catalog::tax_rate("DE"), 19);
/// assert_eq!(Catalog::TAX_RATE_MEMO.len(), 1);
/// ```
///
/// **Trait impl methods** can be memoized too, but a trait impl cannot hold an extra constant, so
/// write `companion = false` there. The cache still exists and is listed by [`caches`] under its
/// name; for a typed handle, memoize an inherent method and call it from the trait method.
///
/// ```
/// # use memokit::cached;
/// trait Shape {
///     fn area(&self, scale: u32) -> u32;
/// }
/// struct Square(u32);
///
/// impl Shape for Square {
///     #[cached(companion = false, name = "square-area")]
///     fn area(&self, scale: u32) -> u32 {
///         self.0 * self.0 * scale
///     }
/// }
///
/// assert_eq!(Square(3).area(2), 18);
/// let info = memokit::caches().into_iter().find(|c| c.name == "square-area").unwrap();
/// assert_eq!(info.stats.entries, 1);
/// ```
///
/// # Mistakes
///
/// Every mistake is a compile error on the token at fault that says what to write instead, all
/// reported in one compile: unknown or duplicate options, durations without units, a generic
/// function without `key`, `impl Trait` or `&mut` arguments, borrowed return types, `cache_err` on
/// a function that doesn't return `Result`, and so on. The function is still emitted, so the rest
/// of the crate keeps type-checking.
#[doc(inline)]
pub use memokit_macros::cached;

/// Declares a cache module: a unit struct whose associated functions share one typed cache.
///
/// ```
/// #[derive(memokit::Cache)]
/// #[cache(name = "users", key = u64, value = String, ttl = "5m", capacity = 10_000)]
/// pub struct Users;
///
/// Users::insert(1, "ada".to_string())?;
/// assert_eq!(Users::get(&1)?.as_deref(), Some("ada"));
/// let grace = Users::get_or_insert_with(2, || "grace".to_string())?;
/// assert_eq!(grace, "grace");
/// assert!(Users::remove(&1)?);
/// assert_eq!(Users::len(), 1);
/// # Ok::<(), memokit::CacheError>(())
/// ```
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `key = Type`, `value = Type` | required: the key and value types |
/// | `name = "users"` | the cache's name in errors, stats, `caches()` and remote keys; default `module::path::Users` |
/// | `backend = memory` | `memory` (default), `redis` (feature `redis`; its URL and options set by `config`), `disk` (feature `disk`), `tiered` (feature `tiered`; memory in front of Redis, whose options `config` sets as `TieredOptions`, or of the disk backend with a `path`), or a type implementing [`Backend`] |
/// | `local_ttl = "1m"` | with `backend = tiered`: the longest a value stays in the first layer |
/// | `path = "file"` | the disk backend's file (with `backend = disk`, or `backend = tiered` for memory in front of it; or set `settings.backend` in `config`) |
/// | `ttl = "5m"`, `tti = "1h"` | time to live / to idle: a literal (`ms`, `s`, `m`, `h`, `d`) or a `Duration` expression |
/// | `capacity = 10_000` | at most this many entries (or this much weight, with a weigher) |
/// | `weigher = path_or_closure` | `Fn(&K, &V) -> u64`: bound the cache by total weight |
/// | `config = path::to::fn` | `fn(&mut Settings<K, V, B>) -> Result<(), ConfigError>`, run once on first use; see [`Settings`] |
/// | `sandbox = "required"` | in this crate's test builds, using the cache outside a [`sandbox()`] panics with a message naming the cache and the fix |
/// | `version = 2` | the values' schema version (`u32`, default 0): a byte-storing backend reads values of another version as misses; bump it when the value type's serialized form changes |
/// | `flight = "distributed"`, `flight_lease = "30s"` | with `backend = redis`: single flight across the processes sharing the server, with this lease (default 10 s); see [`CacheBuilder::distributed_flight`] |
/// | `restore = "file"` | feature `snapshot`: the module restores this [snapshot](Cache::restore) into the global namespace at first use (a missing file starts empty; a bad one starts empty with an `error` event) and gets `save()`, which writes it |
/// | `crate = path` | where the `memokit` crate is, when it is re-exported |
///
/// # Generated functions
///
/// `NAME`, `cache()` (the [`Cache`](struct@Cache) handle), `backend()` (backend-specific
/// operations), `get`, `insert`, `insert_with_ttl`, `remove`, `clear`, `stats`, `len`,
/// `is_empty`, `get_or_insert_with`, `try_get_or_insert_with`, and `_async` forms of those that
/// touch the backend; `save()` with `restore = "file"`. Every function works in the current namespace, so a test sandbox sees its
/// own entries only.
///
/// # Configuration errors
///
/// The cache is built on first use. If its `config` function fails or the settings are invalid,
/// every call returns that [`CacheError::Config`], naming the cache and the setting:
///
/// ```
/// use memokit::{ConfigError, Settings};
///
/// fn from_env(settings: &mut Settings<u64, u64>) -> Result<(), ConfigError> {
///     let raw = std::env::var("DOC_SCORES_CAPACITY").unwrap_or_else(|_| "lots".into());
///     let capacity = raw.parse().map_err(|_| {
///         ConfigError::new("capacity", format!("DOC_SCORES_CAPACITY={raw:?} is not a number"))
///     })?;
///     settings.capacity = Some(capacity);
///     Ok(())
/// }
///
/// #[derive(memokit::Cache)]
/// #[cache(name = "scores", key = u64, value = u64, config = from_env)]
/// struct Scores;
///
/// let err = Scores::insert(1, 1).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "cache `scores`: invalid `capacity`: DOC_SCORES_CAPACITY=\"lots\" is not a number"
/// );
/// assert!(Scores::get(&1).is_err()); // every call, not only the first
/// ```
pub use memokit_macros::Cache;

/// Runs a test (or any function) in a fresh [sandbox](mod@sandbox): its own namespace in every
/// cache and its own clock, deleted when the function returns or panics.
///
/// It composes with `#[test]` and with `#[tokio::test]` (current-thread and multi-thread), above
/// or below them. On a sync function it is `let _sb = memokit::sandbox();` as the first line; on
/// an async function it enters the sandbox around every poll of the body, on whichever thread
/// polls it. Threads and tasks the test spawns join the sandbox only through the helpers in
/// [`sandbox`](mod@sandbox) ([`sandbox::spawn`], [`SandboxHandle::enter`],
/// [`.in_current_sandbox()`](sandbox::InSandbox::in_current_sandbox)); inside the test,
/// [`sandbox::current`] gives the handle. `#[sandboxed(crate = path)]` names memokit when it is
/// re-exported under another path.
///
/// ```
/// use memokit::{cached, sandboxed};
///
/// #[cached]
/// fn greeting(name: &str) -> String {
///     format!("hello {name}")
/// }
///
/// #[sandboxed]
/// fn check() {
///     assert_eq!(greeting("ada"), "hello ada");
///     assert_eq!(GREETING_MEMO.len(), 1); // only this sandbox's entry
/// }
///
/// # fn main() {
/// check();
/// assert!(GREETING_MEMO.is_empty()); // deleted when `check` returned
/// # }
/// ```
///
/// An async test, with a task that joins the sandbox and time travel on a TTL:
///
/// ```
/// use std::time::Duration;
/// use memokit::sandbox::{self, InSandbox};
///
/// #[memokit::cached(ttl = "10m")]
/// async fn rate(currency: &str) -> u64 {
///     currency.len() as u64
/// }
///
/// #[memokit::sandboxed]
/// #[tokio::main(flavor = "multi_thread", worker_threads = 2)] // `#[tokio::test]` in a test
/// async fn main() {
///     let task = tokio::spawn(async { rate("eur").await }.in_current_sandbox());
///     assert_eq!(task.await.unwrap(), 3);
///     assert_eq!(RATE_MEMO.stats().loads, 1); // the task wrote into this sandbox
///     let sb = sandbox::current().unwrap();
///     sb.advance(Duration::from_secs(601));
///     assert_eq!(rate("eur").await, 3);
///     assert_eq!(RATE_MEMO.stats().loads, 2); // expired at once, nobody slept
/// }
/// ```
pub use memokit_macros::sandboxed;

/// The README's Rust blocks, compiled and run as doctests so the README cannot drift from the
/// code (`cargo test --doc -p memokit --all-features readme`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}
