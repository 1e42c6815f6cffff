//! The tiered backend against a real `redis-server` started by each test: a read fills the first
//! layer and every write drops it, TTLs, sandboxes in both layers, another process's writes
//! reaching this process's first layer, a killed invalidation connection, and the macros.

#![cfg(feature = "tiered")]

#[path = "support/redis.rs"]
mod redis_server;

use std::process::Command;
use std::time::{Duration, Instant};

use memokit::{
    Backend, Cache, CacheError, RedisBackend, RedisOptions, Tiered, TieredOptions, Ttl, cached,
};
use redis_server::RedisServer;

/// Set in the child process of [`another_process_write_leaves_this_first_layer`].
const CHILD_ENV: &str = "MEMOKIT_TIERED_CHILD";
/// The heartbeat of the tests' caches: a silent connection is given up after two.
const HEARTBEAT: Duration = Duration::from_millis(200);
/// How long an invalidation may take to arrive on an open connection, for a slow shared machine
/// (the documented figure is one message delivery: well under a millisecond).
const DELIVERY: Duration = Duration::from_secs(1);

fn redis(server: &RedisServer) -> RedisOptions {
    RedisOptions::new()
        .url(server.url())
        .timeout(Duration::from_secs(2))
}

fn tiered(server: &RedisServer, name: &str) -> Cache<u64, String, Tiered<u64, String>> {
    let cache = Cache::builder(name)
        .capacity(1_000)
        .backend_options(TieredOptions::new(redis(server)).heartbeat(HEARTBEAT))
        .build()
        .unwrap();
    wait_coherent(&cache);
    cache
}

/// Waits for the invalidation connection: until then the first layer does not fill.
fn wait_coherent<K, V>(cache: &Cache<K, V, Tiered<K, V>>)
where
    Tiered<K, V>: Backend<K, V>,
    K: memokit::CacheKey,
    V: memokit::CacheValue,
    RedisBackend: memokit::SecondLayer<K, V>,
{
    assert!(
        eventually(Duration::from_secs(10), || cache
            .backend()
            .unwrap()
            .is_coherent()),
        "the invalidation connection never came up"
    );
}

/// Polls `done` until it holds or `within` passes; whether it held.
fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads `key` until the read has filled the first layer and the copy stays: a write's own
/// invalidation push may still be on its way (late on a loaded machine), and drops a copy filled
/// before it arrives.
fn fill(cache: &Cache<u64, String, Tiered<u64, String>>, key: u64) {
    assert!(
        eventually(5 * DELIVERY, || {
            cache.get(&key).unwrap();
            local(cache, key).is_some() && {
                std::thread::sleep(Duration::from_millis(100));
                local(cache, key).is_some()
            }
        }),
        "a read of {key} never filled the first layer"
    );
}

fn local(cache: &Cache<u64, String, Tiered<u64, String>>, key: u64) -> Option<String> {
    let backend = cache.backend().unwrap();
    backend.local().get(&key).unwrap().map(|f| f.value)
}

/// The time left on a first-layer copy, reading (`read`) until the copy is there (`copy_ttl`):
/// a write's own invalidation push may arrive after a fill, however late, and drops that copy
/// (once; the next fill stays).
fn copy_ttl(what: &str, mut read: impl FnMut(), mut copy_ttl: impl FnMut() -> Ttl) -> Duration {
    let mut left = None;
    // Long enough for a cache module's invalidation connection to come up, too.
    let filled = eventually(10 * DELIVERY, || {
        read();
        match copy_ttl() {
            Ttl::In(time) => left = Some(time),
            Ttl::Missing => {}
            Ttl::Never => panic!("the copy of {what} never expires"),
        }
        left.is_some()
    });
    assert!(filled, "a read of {what} never filled the first layer");
    left.unwrap()
}

#[test]
fn a_read_fills_the_first_layer_and_every_write_drops_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let users = tiered(&server, "tiered::basics");
    users.insert(1, "ada".into()).unwrap();
    assert_eq!(
        local(&users, 1),
        None,
        "a write does not fill the first layer"
    );
    assert_eq!(users.get(&1).unwrap().as_deref(), Some("ada"));
    fill(&users, 1);
    assert_eq!(local(&users, 1).as_deref(), Some("ada"));
    assert_eq!(users.get(&1).unwrap().as_deref(), Some("ada"));

    // Own writes are never stale, whichever operation made them.
    users.insert(1, "grace".into()).unwrap();
    assert_eq!(users.get(&1).unwrap().as_deref(), Some("grace"));
    let updated = users
        .update(1, |v| Some(format!("{}!", v.unwrap())))
        .unwrap();
    assert_eq!(updated.as_deref(), Some("grace!"));
    assert_eq!(users.get(&1).unwrap().as_deref(), Some("grace!"));
    assert_eq!(users.take(&1).unwrap().as_deref(), Some("grace!"));
    assert_eq!(users.get(&1).unwrap(), None);
    users
        .insert_many(vec![(2, "b".into()), (3, "c".into())])
        .unwrap();
    assert_eq!(users.get(&2).unwrap().as_deref(), Some("b"));
    assert_eq!(
        users.get_many([&2, &3, &4]).unwrap(),
        vec![Some("b".to_string()), Some("c".to_string()), None]
    );
    assert!(users.remove(&2).unwrap());
    assert_eq!((local(&users, 2), users.get(&2).unwrap()), (None, None));
    assert_eq!(
        users.len(),
        1,
        "counting asks Redis, which holds every entry"
    );
    users.clear().unwrap();
    assert_eq!((local(&users, 3), users.get(&3).unwrap()), (None, None));
    assert!(users.is_empty());
}

/// Whether the first layer holds a copy of each of `keys` (and nothing for `absent`) after a
/// batched read, and still does a moment later (a write's own invalidation may still drop one).
fn batch_filled(
    cache: &Cache<u64, String, Tiered<u64, String>>,
    keys: &[u64],
    absent: u64,
) -> bool {
    let held = || keys.iter().all(|&k| local(cache, k).is_some()) && local(cache, absent).is_none();
    held() && {
        std::thread::sleep(Duration::from_millis(100));
        held()
    }
}

#[test]
fn a_batch_read_fills_the_first_layer_with_each_copy_bounded_by_its_entry() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = tiered(&server, "tiered::batch");
    cache
        .insert_many(vec![(1, "one".into()), (2, "two".into())])
        .unwrap();
    cache
        .insert_with_ttl(3, "three".into(), Duration::from_secs(20))
        .unwrap();
    let want = vec![
        Some("one".to_string()),
        Some("two".to_string()),
        Some("three".to_string()),
        None,
    ];
    assert!(
        eventually(5 * DELIVERY, || {
            assert_eq!(cache.get_many([&1, &2, &3, &4]).unwrap(), want);
            batch_filled(&cache, &[1, 2, 3], 4)
        }),
        "a batched read never filled the first layer"
    );
    let backend = cache.backend().unwrap();
    let left = copy_ttl(
        "3",
        || {
            cache.get_many([&3]).unwrap();
        },
        || backend.local().ttl(&3).unwrap(),
    );
    assert!(left <= Duration::from_secs(20), "{left:?}");
    // A batch of first-layer hits and misses: the hits come from the copies.
    cache.remove(&2).unwrap();
    assert_eq!(
        cache.get_many([&3, &2, &1]).unwrap(),
        vec![Some("three".to_string()), None, Some("one".to_string())]
    );
}

#[tokio::test]
async fn an_async_batch_read_fills_the_first_layer() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = tiered(&server, "tiered::batch-async");
    cache
        .insert_many_async(vec![(7, "seven".into()), (8, "eight".into())])
        .await
        .unwrap();
    let deadline = Instant::now() + 5 * DELIVERY;
    loop {
        let got = cache.get_many_async([&7, &8, &9]).await.unwrap();
        assert_eq!(
            got,
            vec![Some("seven".to_string()), Some("eight".to_string()), None]
        );
        if batch_filled(&cache, &[7, 8], 9) {
            break;
        }
        assert!(Instant::now() < deadline, "an async batch never filled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn a_first_layer_copy_lives_no_longer_than_the_entry_nor_local_ttl() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let sb = memokit::sandbox();
    let cache: Cache<u64, String, Tiered<u64, String>> = Cache::builder("tiered::ttl")
        .backend_options(
            TieredOptions::new(redis(&server))
                .local_ttl(Duration::from_secs(30))
                .heartbeat(HEARTBEAT),
        )
        .build()
        .unwrap();
    wait_coherent(&cache);
    cache
        .insert_with_ttl(1, "short".into(), Duration::from_secs(10))
        .unwrap();
    cache.insert(2, "forever".into()).unwrap();
    let backend = cache.backend().unwrap();
    let left = |key: u64| {
        copy_ttl(
            &key.to_string(),
            || {
                cache.get(&key).unwrap();
            },
            || backend.local().ttl(&key).unwrap(),
        )
    };
    assert!(left(1) <= Duration::from_secs(10), "bounded by the entry");
    assert!(left(2) <= Duration::from_secs(30), "bounded by local_ttl");
    assert_eq!(cache.ttl(&2).unwrap(), Ttl::Never, "Redis keeps it forever");
    // On the sandbox's clock, the first layer's copy expires with the entry.
    sb.advance(Duration::from_secs(11));
    assert_eq!(backend.local().get(&1).unwrap(), None);
    assert_eq!(cache.get(&1).unwrap(), None);
    drop(backend);
}

#[test]
fn sandboxes_reach_both_layers_and_invalidations_reach_the_sandbox() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = tiered(&server, "tiered::sandbox");
    // A plain Redis cache of the same name writes the same keys, without a first layer.
    let writer: Cache<u64, String, RedisBackend> = Cache::builder("tiered::sandbox")
        .backend_options(redis(&server))
        .build()
        .unwrap();
    cache.insert(1, "global".into()).unwrap();
    fill(&cache, 1);
    {
        let _sb = memokit::sandbox();
        assert_eq!(
            cache.get(&1).unwrap(),
            None,
            "the sandbox sees nothing global"
        );
        cache.insert(1, "sandboxed".into()).unwrap();
        assert_eq!(cache.get(&1).unwrap().as_deref(), Some("sandboxed"));
        fill(&cache, 1);
        assert_eq!(local(&cache, 1).as_deref(), Some("sandboxed"));
        writer.insert(1, "rewritten".into()).unwrap();
        assert!(
            eventually(DELIVERY, || local(&cache, 1).is_none()),
            "the sandbox's first layer heard the write"
        );
        assert_eq!(cache.get(&1).unwrap().as_deref(), Some("rewritten"));
    }
    assert_eq!(local(&cache, 1).as_deref(), Some("global"));
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("global"));
    let keys = server.command("KEYS memokit:*");
    assert!(
        !keys.contains(":sb"),
        "the sandbox's Redis keys went with it: {keys}"
    );
}

/// The child reads this cache through the `MEMOKIT_REDIS_URL` its parent gave it.
#[cached(backend = tiered, name = "tiered::square", local_ttl = "1m")]
fn square(x: u64) -> u64 {
    x * x
}

#[test]
fn another_process_write_leaves_this_first_layer() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // The parent stored a wrong square for 7: seeing it proves it came from Redis.
        assert_eq!(square(7), 1_000);
        SQUARE_MEMO.prime(&7, 49).unwrap();
        assert_eq!(square(7), 49, "a process's own write is never stale");
        return;
    }
    let Some(server) = RedisServer::start() else {
        return;
    };
    let squares: Cache<u64, u64, Tiered<u64, u64>> = Cache::builder("tiered::square")
        .backend_options(TieredOptions::new(redis(&server)).heartbeat(HEARTBEAT))
        .build()
        .unwrap();
    wait_coherent(&squares);
    squares.insert(7, 1_000).unwrap();
    let in_memory = || squares.backend().unwrap().local().get(&7).unwrap();
    assert!(eventually(DELIVERY, || {
        assert_eq!(squares.get(&7).unwrap(), Some(1_000));
        in_memory().is_some()
    }));

    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "another_process_write_leaves_this_first_layer",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env(RedisOptions::URL_ENV, server.url())
        .output()
        .unwrap();
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        eventually(DELIVERY, || in_memory().is_none()),
        "the other process's write reached this first layer"
    );
    assert_eq!(squares.get(&7).unwrap(), Some(49));
}

/// The id of this process's invalidation connection, from `CLIENT LIST`.
fn tracking_client_id(server: &RedisServer) -> Option<String> {
    let name = format!("name=memokit-tiered-{}", std::process::id());
    let list = server.command("CLIENT LIST");
    let line = list.lines().find(|l| l.split(' ').any(|f| f == name))?;
    let id = line.split(' ').find_map(|f| f.strip_prefix("id="))?;
    Some(id.to_string())
}

#[test]
fn a_killed_invalidation_connection_leaves_no_stale_read_beyond_the_bound() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = tiered(&server, "tiered::killed");
    let writer: Cache<u64, String, RedisBackend> = Cache::builder("tiered::killed")
        .backend_options(redis(&server))
        .build()
        .unwrap();
    cache.insert(1, "old".into()).unwrap();
    fill(&cache, 1);
    assert_eq!(local(&cache, 1).as_deref(), Some("old"));

    let id = tracking_client_id(&server).expect("the invalidation connection is listed");
    assert!(
        server
            .command(&format!("CLIENT KILL ID {id}"))
            .contains(":1")
    );
    // Written while nobody listens for this process: only the disconnect can tell it.
    writer.insert(1, "new".into()).unwrap();
    let written = Instant::now();
    let bound = 2 * HEARTBEAT + DELIVERY;
    let mut last_stale = None;
    let fresh = eventually(bound, || {
        let read = cache.get(&1).unwrap();
        if read.as_deref() == Some("old") {
            last_stale = Some(written.elapsed());
        }
        read.as_deref() == Some("new")
    });
    assert!(
        fresh,
        "still stale after {bound:?} (last stale read {last_stale:?})"
    );
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("new"));

    // The listener comes back by itself, and the first layer fills and hears writes again.
    wait_coherent(&cache);
    assert_ne!(tracking_client_id(&server), Some(id), "a new connection");
    fill(&cache, 1);
    writer.insert(1, "newer".into()).unwrap();
    assert!(eventually(DELIVERY, || local(&cache, 1).is_none()));
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("newer"));
}

#[tokio::test]
async fn async_reads_fill_and_async_writes_drop() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache = tiered(&server, "tiered::async");
    cache.insert_async(5, "five".into()).await.unwrap();
    assert_eq!(cache.get_async(&5).await.unwrap().as_deref(), Some("five"));
    let deadline = Instant::now() + DELIVERY;
    while local(&cache, 5).is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
        cache.get_async(&5).await.unwrap();
    }
    assert_eq!(
        local(&cache, 5).as_deref(),
        Some("five"),
        "an async read fills"
    );
    cache.insert_async(5, "FIVE".into()).await.unwrap();
    assert_eq!(local(&cache, 5), None);
    assert_eq!(cache.get_async(&5).await.unwrap().as_deref(), Some("FIVE"));
    assert!(cache.remove_async(&5).await.unwrap());
    assert_eq!(cache.get_async(&5).await.unwrap(), None);
}

#[test]
fn options_the_tiered_backend_cannot_keep_are_errors_naming_them() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let build = |builder: memokit::CacheBuilder<u8, u8, Tiered<u8, u8>>| match builder.build() {
        Err(CacheError::Config { setting, .. }) => setting,
        other => panic!("expected a configuration error, got {other:?}"),
    };
    let options = || TieredOptions::new(redis(&server));
    let tti = Cache::builder("tiered::tti")
        .tti(Duration::from_secs(1))
        .backend_options(options());
    assert_eq!(build(tti), "tti");
    let zero = Cache::builder("tiered::zero").backend_options(options().local_ttl(Duration::ZERO));
    assert_eq!(build(zero), "local_ttl");
    let cluster = Cache::builder("tiered::cluster")
        .backend_options(TieredOptions::new(redis(&server).cluster(true)));
    assert_eq!(build(cluster), "cluster");
}

/// Where this binary's server for [`a_tiered_cache_module`] listens; set before first use.
static MODULE_URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn module_config(
    settings: &mut memokit::Settings<String, u64, Tiered<String, u64>>,
) -> Result<(), memokit::ConfigError> {
    let url = MODULE_URL.get().expect("set by the test").clone();
    *settings.backend.second_mut() = RedisOptions::new().url(url);
    settings.backend = settings.backend.clone().heartbeat(HEARTBEAT);
    Ok(())
}

#[derive(memokit::Cache)]
#[cache(name = "tiered::prices", key = String, value = u64, backend = tiered, capacity = 100, local_ttl = "1m", config = module_config)]
struct Prices;

#[test]
fn a_tiered_cache_module() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    MODULE_URL.set(server.url()).unwrap();
    Prices::insert("tea".into(), 3).unwrap();
    assert_eq!(Prices::get("tea").unwrap(), Some(3));
    assert_eq!(Prices::cache().unwrap().backend_kind(), "tiered");
    let backend = Prices::backend().unwrap();
    let left = copy_ttl(
        "tea",
        || {
            Prices::get("tea").unwrap();
        },
        || backend.local().ttl("tea").unwrap(),
    );
    assert!(left <= Duration::from_secs(60), "{left:?}");
}

#[cfg(feature = "disk")]
#[test]
fn memory_in_front_of_the_disk_backend() {
    let dir = std::env::temp_dir().join(format!("memokit-tiered-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiered.redb");
    let cache: Cache<u64, String, Tiered<u64, String, memokit::DiskBackend>> =
        Cache::builder("tiered::disk")
            .capacity(100)
            .backend_options(TieredOptions::new(memokit::DiskOptions::new(&path)))
            .build()
            .unwrap();
    assert!(
        cache.backend().unwrap().is_coherent(),
        "nothing to wait for"
    );
    cache.insert(1, "one".into()).unwrap();
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("one"));
    assert!(cache.backend().unwrap().local().get(&1).unwrap().is_some());
    cache.insert(1, "uno".into()).unwrap();
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("uno"));

    // A batched read fills too, each copy bounded by its entry's time left.
    cache
        .insert_with_ttl(2, "two".into(), Duration::from_secs(20))
        .unwrap();
    assert_eq!(
        cache.get_many([&1, &2, &3]).unwrap(),
        vec![Some("uno".to_string()), Some("two".to_string()), None]
    );
    let backend = cache.backend().unwrap();
    assert!(backend.local().get(&1).unwrap().is_some());
    match backend.local().ttl(&2).unwrap() {
        Ttl::In(left) => assert!(left <= Duration::from_secs(20), "{left:?}"),
        other => panic!("the copy of 2 has {other:?}"),
    }
    assert_eq!(backend.local().get(&3).unwrap(), None);
    cache.remove(&2).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    cache.insert(4, "four".into()).unwrap();
    let got = runtime.block_on(cache.get_many_async([&4, &2]));
    assert_eq!(got.unwrap(), vec![Some("four".to_string()), None]);
    assert!(
        backend.local().get(&4).unwrap().is_some(),
        "an async batch fills"
    );
    assert_eq!(backend.local().get(&2).unwrap(), None);
    drop(backend);
    drop(cache);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "disk")]
static CUBE_RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[cfg(feature = "disk")]
#[cached(backend = tiered, path = "target/caches/test-tiered-cube.redb", name = "tiered::cube", local_ttl = "1m", capacity = 10)]
fn cube(x: u64) -> u64 {
    CUBE_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    x * x * x
}

#[cfg(feature = "disk")]
#[derive(memokit::Cache)]
#[cache(name = "tiered::disk-module", key = u64, value = String, backend = tiered, path = "target/caches/test-tiered-module.redb", capacity = 10)]
struct DiskNames;

#[cfg(feature = "disk")]
#[test]
fn backend_tiered_with_a_path_puts_memory_in_front_of_the_disk_backend() {
    use std::sync::atomic::Ordering::SeqCst;
    let _sb = memokit::sandbox();
    assert_eq!((cube(3), cube(3)), (27, 27));
    assert_eq!(CUBE_RUNS.load(SeqCst), 1, "the second call is a hit");
    let cache = CUBE_MEMO.cache().unwrap();
    assert_eq!(cache.backend_kind(), "tiered");
    let backend = cache.backend().unwrap();
    assert_eq!(backend.local().get(&3).unwrap().map(|f| f.value), Some(27));
    let on_disk = Backend::<u64, u64>::get(backend.remote(), &3).unwrap();
    assert_eq!(on_disk.map(|f| f.value), Some(27));
    match backend.local().ttl(&3).unwrap() {
        Ttl::In(left) => assert!(left <= Duration::from_secs(60), "{left:?}"),
        other => panic!("the copy has {other:?}: `local_ttl` bounds it"),
    }
    drop(backend);

    DiskNames::insert(1, "one".into()).unwrap();
    assert_eq!(DiskNames::get(&1).unwrap().as_deref(), Some("one"));
    let names = DiskNames::backend().unwrap();
    assert!(names.local().get(&1).unwrap().is_some(), "a read fills");
    let on_disk = Backend::<u64, String>::stats(names.remote()).entries;
    assert_eq!(on_disk, 1, "the disk holds the entry");
}
