//! The Redis backend against a real `redis-server` started by each test: round trips, keys, TTL,
//! clearing by prefix, undecodable values, Redis-specific operations, configuration errors and
//! `#[cached(backend = redis)]`.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memokit::redis::{Value, cmd, pipe};
use memokit::{Cache, CacheError, RedisBackend, RedisOptions, cached};
use redis_server::RedisServer;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

fn options(server: &RedisServer) -> RedisOptions {
    // Generous deadline: the test machine is shared and slow at times.
    RedisOptions::new()
        .url(server.url())
        .timeout(Duration::from_secs(2))
}

fn cache<K, V>(server: &RedisServer, name: &str) -> Cache<K, V, RedisBackend>
where
    K: std::hash::Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    Cache::builder(name)
        .backend_options(options(server))
        .build()
        .expect("a valid Redis cache")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Role {
    Guest,
    Member { since: u32 },
    Admin(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    email: Option<String>,
    roles: Vec<Role>,
    scores: BTreeMap<String, f64>,
}

fn round_trip<V>(server: &RedisServer, value: V)
where
    V: Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let name = format!("values::{}", std::any::type_name::<V>());
    let cache: Cache<String, V, RedisBackend> = cache(server, &name);
    cache.insert("k".to_string(), value.clone()).unwrap();
    assert_eq!(cache.get("k").unwrap(), Some(value), "{name}");
}

#[test]
fn values_of_many_types_round_trip() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    round_trip(&server, ());
    round_trip(&server, true);
    round_trip(&server, u64::MAX);
    round_trip(&server, i128::MIN);
    round_trip(&server, -0.5f64);
    round_trip(&server, 'λ');
    round_trip(&server, "text with ünïcode".to_string());
    round_trip(&server, vec![0u8, 255, 10, 13]);
    round_trip(&server, Some(Some(3u8)));
    round_trip(&server, None::<String>);
    round_trip(&server, (1u8, "two".to_string(), [3u16; 4]));
    round_trip(&server, HashMap::from([(1u32, vec!["a".to_string()])]));
    round_trip(&server, Duration::from_nanos(1_234_567_890));
    round_trip(&server, Ok::<u8, String>(1));
    round_trip(&server, Err::<u8, String>("no".into()));
    round_trip(
        &server,
        User {
            id: 7,
            name: "ada".into(),
            email: None,
            roles: vec![
                Role::Guest,
                Role::Member { since: 1843 },
                Role::Admin("root".into()),
            ],
            scores: BTreeMap::from([("math".into(), 99.5)]),
        },
    );
}

#[test]
fn keys_are_prefix_named_cache_namespace_and_key_bytes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let users: Cache<(String, u32), u8, RedisBackend> = Cache::builder("app::users")
        .backend_options(options(&server).prefix("shop"))
        .build()
        .unwrap();
    users.insert(("ada".into(), 3), 1).unwrap();
    let backend = users.backend().unwrap();
    let key = backend.redis_key(&("ada", 3u32)).unwrap();
    assert_eq!(key, b"shop:10:app::users:global:ada:3");
    assert_eq!(backend.query::<u8>(cmd("EXISTS").arg(&key)).unwrap(), 1);
    // A hit through the borrowed form finds the same Redis key.
    assert_eq!(
        users.get(&memokit::key::KeyRef(("ada", &3u32))).unwrap(),
        Some(1)
    );
}

#[test]
fn on_the_real_clock_an_entry_expires_at_its_ttl_never_before() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // Redis also drops the key itself, `PX` after the time it cached for the command, in whole
    // milliseconds: before memokit's deadline by up to a millisecond and, on a loaded machine,
    // by how long the server's event loop ran since it cached the time (CI saw 29.7 ms of a
    // 30 ms TTL). memokit's own check is never early; this bounds the server's slack.
    let resolution = Duration::from_millis(10);
    support::assert_never_expires_early(
        &cache(&server, "real-clock"),
        Duration::from_millis(30),
        resolution,
    );
}

#[test]
fn ttls_are_set_in_milliseconds_and_expire() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u32, u32, RedisBackend> = Cache::builder("ttl")
        .ttl(Duration::from_secs(10))
        .backend_options(options(&server))
        .build()
        .unwrap();
    let backend = cache.backend().unwrap();
    let pttl = |k: u32| -> i64 {
        backend
            .query(cmd("PTTL").arg(backend.redis_key(&k).unwrap()))
            .unwrap()
    };

    cache.insert(1, 1).unwrap();
    let cache_wide = pttl(1);
    assert!((9_000..=10_000).contains(&cache_wide), "PTTL {cache_wide}");
    // 1.5 s survives as 1500 ms: EX (seconds) would have made it 1 or 2 s.
    cache
        .insert_with_ttl(2, 2, Duration::from_millis(1500))
        .unwrap();
    let per_entry = pttl(2);
    assert!((1_000..=1_500).contains(&per_entry), "PTTL {per_entry}");

    cache
        .insert_with_ttl(3, 3, Duration::from_millis(20))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while cache.get(&3).unwrap().is_some() {
        assert!(Instant::now() < deadline, "a 20 ms entry never expired");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(cache.get(&1).unwrap(), Some(1));
}

#[test]
fn clear_removes_only_the_caches_own_keys() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let target: Cache<u32, u32, RedisBackend> = cache(&server, "a*");
    let similar: Cache<u32, u32, RedisBackend> = cache(&server, "ab");
    let other_prefix: Cache<u32, u32, RedisBackend> = Cache::builder("a*")
        .backend_options(options(&server).prefix("other"))
        .build()
        .unwrap();
    for i in 0..1_200 {
        target.insert(i, i).unwrap();
    }
    similar.insert(1, 1).unwrap();
    other_prefix.insert(1, 1).unwrap();
    let backend = target.backend().unwrap();
    backend.hash_set("h", "f", &1u8).unwrap();
    backend
        .query::<()>(cmd("SET").arg("unrelated").arg("x"))
        .unwrap();
    assert_eq!(backend.count().unwrap(), 1_201);

    target.clear().unwrap();

    assert_eq!(backend.count().unwrap(), 0);
    assert_eq!(target.get(&1).unwrap(), None);
    assert_eq!(similar.get(&1).unwrap(), Some(1));
    assert_eq!(other_prefix.get(&1).unwrap(), Some(1));
    assert_eq!(
        backend
            .query::<String>(cmd("GET").arg("unrelated"))
            .unwrap(),
        "x"
    );
}

#[test]
fn undecodable_values_are_misses_counted_as_errors_and_overwritten() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<String, User, RedisBackend> = cache(&server, "decode");
    let backend = cache.backend().unwrap();
    let key = backend.redis_key("k").unwrap();
    let user = User {
        id: 1,
        name: "ada".into(),
        email: None,
        roles: vec![],
        scores: BTreeMap::new(),
    };

    // Not a memokit value at all.
    backend
        .query::<()>(cmd("SET").arg(&key).arg("garbage"))
        .unwrap();
    assert_eq!(cache.get("k").unwrap(), None);
    assert_eq!(cache.stats().errors, 1);
    let loaded = cache
        .get_or_insert_with("k".into(), || user.clone())
        .unwrap();
    assert_eq!(loaded, user);
    assert_eq!(cache.get("k").unwrap(), Some(user.clone()));

    // A value from an older envelope version: the same bytes with the version byte changed.
    let mut old: Vec<u8> = backend.query(cmd("GET").arg(&key)).unwrap();
    old[2] = 0;
    backend.query::<()>(cmd("SET").arg(&key).arg(&old)).unwrap();
    assert_eq!(cache.get("k").unwrap(), None);

    // A value written for another type.
    let other: Cache<String, (u8, u8), RedisBackend> = cache_named_like(&server, "decode");
    other.insert("k".into(), (1, 2)).unwrap();
    assert_eq!(cache.get("k").unwrap(), None);
    // One error per read of bad bytes: the four `get`s and the loader's re-check.
    assert_eq!(cache.stats().errors, 5);
    assert!(matches!(
        cache.backend().unwrap().hash_get::<_, User>("nothing", "f"),
        Ok(None)
    ));
}

fn cache_named_like<V>(server: &RedisServer, name: &str) -> Cache<String, V, RedisBackend>
where
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    cache(server, name)
}

#[test]
fn hashes_pipelines_and_raw_commands() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<String, u64, RedisBackend> = cache(&server, "ops");
    let backend = cache.backend().unwrap();

    backend.hash_set("user:7", "name", &"ada").unwrap();
    backend
        .hash_set("user:7", "langs", &vec!["en", "fr"])
        .unwrap();
    assert_eq!(
        backend
            .hash_get::<_, String>("user:7", "name")
            .unwrap()
            .as_deref(),
        Some("ada")
    );
    assert_eq!(
        backend.hash_get::<_, String>("user:7", "nope").unwrap(),
        None
    );
    let all: HashMap<String, Value> = backend
        .query(cmd("HGETALL").arg(backend.redis_key("user:7").unwrap()))
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(backend.hash_delete("user:7", "langs").unwrap());
    assert!(!backend.hash_delete("user:7", "langs").unwrap());
    let names: HashMap<String, String> = backend.hash_get_all("user:7").unwrap();
    assert_eq!(names, HashMap::from([("name".into(), "ada".into())]));

    let counter = backend.redis_key("visits").unwrap();
    let (visits, ttl): (u64, i64) = backend
        .query_pipeline(
            pipe()
                .incr(&counter, 2)
                .pexpire(&counter, 60_000)
                .ignore()
                .pttl(&counter),
        )
        .unwrap();
    assert_eq!(visits, 2);
    assert!(ttl > 0);
    let err = backend.query::<()>(&cmd("NOT-A-COMMAND")).unwrap_err();
    assert_eq!(err.kind(), memokit::BackendErrorKind::Protocol);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_operations_use_real_async_io() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u32, String, RedisBackend> = cache(&server, "async");
    cache.insert_async(1, "one".into()).await.unwrap();
    assert_eq!(cache.get_async(&1).await.unwrap().as_deref(), Some("one"));
    let two = cache
        .get_or_insert_with_async(2, async { "two".to_string() })
        .await
        .unwrap();
    assert_eq!(two, "two");
    assert!(cache.remove_async(&1).await.unwrap());
    assert!(!cache.remove_async(&1).await.unwrap());
    let backend = cache.backend().unwrap();
    backend.hash_set_async("h", "f", &5u8).await.unwrap();
    assert_eq!(
        backend.hash_get_async::<_, u8>("h", "f").await.unwrap(),
        Some(5)
    );
    let all: HashMap<String, u8> = backend.hash_get_all_async("h").await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(backend.hash_delete_async("h", "f").await.unwrap());
    assert_eq!(backend.count_async().await.unwrap(), 1);
    cache.clear_async().await.unwrap();
    assert_eq!(backend.count_async().await.unwrap(), 0);
}

#[test]
fn one_cache_serves_runtime_after_runtime() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u32, u32, RedisBackend> = cache(&server, "runtimes");
    // Each runtime is gone before the next starts, like consecutive #[tokio::test]s sharing a
    // static cache; the connection of a dead runtime must not be reused.
    for round in 0..6 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            cache.insert_async(round, round * 2).await.unwrap();
            assert_eq!(cache.get_async(&round).await.unwrap(), Some(round * 2));
        });
    }
}

#[test]
fn configuration_errors_name_the_cache_and_the_setting() {
    let bad_url = Cache::<u8, u8, RedisBackend>::builder("prices")
        .backend_options(RedisOptions::new().url("htp://user:hunter2@localhost"))
        .build()
        .unwrap_err();
    assert!(
        matches!(&bad_url, CacheError::Config { setting: "url", .. }),
        "{bad_url}"
    );
    assert!(
        bad_url
            .to_string()
            .starts_with("cache `prices`: invalid `url`"),
        "{bad_url}"
    );
    assert!(!bad_url.to_string().contains("hunter2"));

    let capacity = Cache::<u8, u8, RedisBackend>::builder("bounded")
        .capacity(10)
        .build()
        .unwrap_err();
    assert!(matches!(
        capacity,
        CacheError::Config {
            setting: "capacity",
            ..
        }
    ));
}

/// A cluster needs the `redis-cluster` feature: without it, building the cache says so, naming
/// the cache and the setting that asked for a cluster. Nothing connects at build either way.
#[test]
fn a_cluster_without_its_feature_is_a_config_error() {
    let build = |options: RedisOptions| {
        Cache::<u8, u8, RedisBackend>::builder("sharded")
            .backend_options(options)
            .build()
    };
    let flag = build(
        RedisOptions::new()
            .url("redis://127.0.0.1:7000")
            .cluster(true),
    );
    let seeds = build(
        RedisOptions::new().url("redis://:hunter2@127.0.0.1:7000,redis://:hunter2@127.0.0.1:7001"),
    );
    if cfg!(feature = "redis-cluster") {
        assert!(flag.is_ok() && seeds.is_ok(), "{flag:?} {seeds:?}");
        return;
    }
    for (built, setting) in [(flag, "cluster"), (seeds, "url")] {
        let err = built.unwrap_err();
        assert!(
            matches!(&err, CacheError::Config { cache, setting: s, .. } if &**cache == "sharded" && *s == setting),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains("`redis-cluster` feature"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn time_to_idle_is_pushed_back_by_reads() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u8, u8, RedisBackend> = Cache::builder("tti")
        .tti(Duration::from_secs(30))
        .backend_options(options(&server))
        .build()
        .unwrap();
    let backend = cache.backend().unwrap();
    let key = backend.redis_key(&1u8).unwrap();
    cache.insert(1, 1).unwrap();
    backend
        .query::<()>(cmd("PEXPIRE").arg(&key).arg(5_000))
        .unwrap();
    assert_eq!(cache.get(&1).unwrap(), Some(1));
    let pttl: i64 = backend.query(cmd("PTTL").arg(&key)).unwrap();
    assert!(
        pttl > 25_000,
        "a read should push expiry back to 30 s, PTTL is {pttl}"
    );
}

static MACRO_URL: OnceLock<String> = OnceLock::new();
static SQUARES_RUN: AtomicU32 = AtomicU32::new(0);
static HALVES_RUN: AtomicU32 = AtomicU32::new(0);

fn macro_url() -> String {
    MACRO_URL.get().cloned().unwrap_or_default()
}

#[cached(backend = redis, url = macro_url(), ttl = "1m")]
fn square(x: u64) -> u64 {
    SQUARES_RUN.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[cached(backend = redis, url = macro_url())]
async fn half(name: &str, x: u64) -> Result<u64, String> {
    HALVES_RUN.fetch_add(1, Ordering::SeqCst);
    if x.is_multiple_of(2) {
        Ok(x / 2)
    } else {
        Err(format!("{name}: {x} is odd"))
    }
}

#[tokio::test]
async fn memoized_functions_hit_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    MACRO_URL.set(server.url()).unwrap();
    assert_eq!(square(12), 144);
    assert_eq!(square(12), 144);
    assert_eq!(SQUARES_RUN.load(Ordering::SeqCst), 1);
    assert_eq!(SQUARE_MEMO.stats().hits, 1);
    let cache = SQUARE_MEMO.cache().unwrap();
    assert_eq!(cache.backend_kind(), "redis");
    assert_eq!(cache.backend().unwrap().count().unwrap(), 1);

    assert_eq!(half("a", 8).await, Ok(4));
    assert_eq!(half("a", 8).await, Ok(4));
    assert!(half("a", 7).await.is_err());
    assert!(half("a", 7).await.is_err());
    // `Ok` is cached, `Err` is not.
    assert_eq!(HALVES_RUN.load(Ordering::SeqCst), 3);
}
