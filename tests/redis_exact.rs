//! Stored data is exact, on Redis: a value is only read back as the type (and schema version) it
//! was written as; no two caches share a key or clear each other's, whatever their names; every
//! TTL reads memokit's clock (a sandbox's, or an installed `ManualClock`), with Redis's own expiry
//! only the storage bound; and `len`, `is_empty` and `stats().entries` count live entries only.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use memokit::clock::ManualClock;
use memokit::redis::cmd;
use memokit::telemetry::{self, names};
use memokit::{Cache, RedisBackend, RedisOptions};
use redis_server::RedisServer;
use serde::Serialize;
use serde::de::DeserializeOwned;

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

fn ttl_cache<V>(server: &RedisServer, name: &str, ttl: Duration) -> Cache<u32, V, RedisBackend>
where
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    Cache::builder(name)
        .ttl(ttl)
        .backend_options(options(server))
        .build()
        .expect("a valid Redis cache")
}

/// The names of the events of cache `name`, from now on.
fn events_of(name: &str) -> Arc<Mutex<Vec<&'static str>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let wanted = name.to_owned();
    telemetry::attach(name, move |event| {
        if event.cache == wanted {
            log.lock().unwrap().push(event.name());
        }
    })
    .unwrap();
    seen
}

// ---- 1. A value is only ever read back as the type it was written as. ----

#[test]
fn a_value_of_another_type_under_the_same_name_is_a_miss_and_an_error_then_overwritten() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let strings: Cache<u32, String, RedisBackend> = cache(&server, "exact::types");
    let numbers: Cache<u32, u64, RedisBackend> = cache(&server, "exact::types");
    let events = events_of("exact::types");

    // postcard writes `""` and `0` as the same single byte: only the envelope can tell them apart.
    strings.insert(1, String::new()).unwrap();
    assert_eq!(numbers.get(&1).unwrap(), None, "\"\" read back as a u64");
    assert_eq!(numbers.stats().errors, 1);
    assert!(events.lock().unwrap().contains(&names::ERROR));

    let runs = AtomicU32::new(0);
    let loaded = numbers
        .get_or_insert_with(1, || {
            runs.fetch_add(1, Ordering::SeqCst);
            0
        })
        .unwrap();
    assert_eq!(
        (loaded, runs.load(Ordering::SeqCst)),
        (0, 1),
        "the body ran"
    );
    assert_eq!(numbers.get(&1).unwrap(), Some(0), "the load overwrote it");
    assert_eq!(strings.get(&1).unwrap(), None, "0 read back as a String");
    telemetry::detach("exact::types");
}

#[test]
fn a_value_under_a_key_of_another_type_is_a_miss() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // `0u8` and `0u64` are both the key `0` in Redis, and the values encode to the same bytes.
    let by_number: Cache<u8, u8, RedisBackend> = cache(&server, "exact::keys");
    let by_wide: Cache<u64, u8, RedisBackend> = cache(&server, "exact::keys");
    by_number.insert(0, 7).unwrap();
    assert_eq!(by_wide.get(&0).unwrap(), None);
    assert_eq!(by_wide.stats().errors, 1);
    assert_eq!(by_number.get(&0).unwrap(), Some(7));
}

#[test]
fn a_new_schema_version_makes_old_values_misses() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let versioned = |version: u32| -> Cache<u32, String, RedisBackend> {
        Cache::builder("exact::versions")
            .version(version)
            .backend_options(options(&server))
            .build()
            .unwrap()
    };
    let (v1, v2) = (versioned(1), versioned(2));
    v1.insert(1, "old shape".into()).unwrap();
    assert_eq!(v1.get(&1).unwrap().as_deref(), Some("old shape"));
    assert_eq!(v2.get(&1).unwrap(), None);
    assert_eq!(v2.stats().errors, 1);
    v2.insert(1, "new shape".into()).unwrap();
    assert_eq!(v2.get(&1).unwrap().as_deref(), Some("new shape"));
    assert_eq!(v1.get(&1).unwrap(), None);
}

// ---- 2. No two caches share a key, whatever their names. ----

#[test]
fn a_name_ending_where_another_begins_shares_no_key() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let short: Cache<String, String, RedisBackend> = cache(&server, "coll");
    let long: Cache<String, String, RedisBackend> = cache(&server, "coll:global");
    // A 96-byte key in `coll:global` is postcard `[96] ++ key`; `coll`'s key `lobal:` ++ that is
    // 103 bytes long, postcard `[103 = b'g'] ++ "lobal:" ++ ...`: with unescaped names, the same
    // Redis key `memokit:coll:global:global:...`.
    let inner = "x".repeat(96);
    let forged = format!("lobal:{}{inner}", char::from(96u8));
    assert_eq!(forged.len(), 103);
    long.insert(inner.clone(), "long's".into()).unwrap();
    assert_eq!(short.get(&forged).unwrap(), None);
    short.insert(forged.clone(), "short's".into()).unwrap();
    assert_eq!(long.get(&inner).unwrap().as_deref(), Some("long's"));
    assert_eq!(short.get(&forged).unwrap().as_deref(), Some("short's"));
}

#[test]
fn clear_removes_exactly_its_own_view_whatever_the_names() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let names = [
        "clearme",
        "clearme:global",
        "clearme:global:",
        "clear*",
        "clearme?",
        "clear[m]e",
        "clear\\me",
        "clearme{tag}",
        "{clearme}",
        "clearme}",
        ":",
        "::",
    ];
    let caches: Vec<Cache<u32, u32, RedisBackend>> =
        names.iter().map(|name| cache(&server, name)).collect();
    for (i, cache) in caches.iter().enumerate() {
        for key in 0..3 {
            cache.insert(key, i as u32).unwrap();
        }
    }
    for (i, target) in caches.iter().enumerate() {
        target.clear().unwrap();
        assert_eq!(target.backend().unwrap().count().unwrap(), 0);
        for (j, other) in caches.iter().enumerate().skip(i + 1) {
            assert_eq!(
                other.backend().unwrap().count().unwrap(),
                3,
                "clearing `{}` removed keys of `{}`",
                names[i],
                names[j]
            );
            assert_eq!(other.get(&0).unwrap(), Some(j as u32));
        }
    }
    assert_eq!(server.command("DBSIZE"), ":0\r\n");
}

#[test]
fn adversarial_names_are_isolated_on_a_cluster() {
    let Some(server) = RedisServer::start_cluster() else {
        return;
    };
    let cluster = |name: &str| -> Cache<String, String, RedisBackend> {
        Cache::builder(name)
            .backend_options(options(&server).cluster(true))
            .build()
            .unwrap()
    };
    let names = ["tag", "tag:global", "{tag}", "{tag}:global", "t*g", "t}g{"];
    let caches: Vec<_> = names.iter().map(|name| cluster(name)).collect();
    for (cache, name) in caches.iter().zip(names) {
        for key in ["a", "b", "{x}"] {
            cache.insert(key.into(), name.into()).unwrap();
        }
    }
    for (i, target) in caches.iter().enumerate() {
        assert_eq!(target.get("{x}").unwrap().as_deref(), Some(names[i]));
        assert_eq!(target.len(), 3, "{}", names[i]);
        target.clear().unwrap();
        assert!(target.is_empty());
        for (j, other) in caches.iter().enumerate().skip(i + 1) {
            assert_eq!(
                other.len(),
                3,
                "clearing `{}` touched `{}`",
                names[i],
                names[j]
            );
        }
    }
}

#[test]
fn a_prefix_with_the_separator_is_a_config_error() {
    let err = Cache::<u8, u8, RedisBackend>::builder("prefixed")
        .backend_options(RedisOptions::new().prefix("app:prod"))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            memokit::CacheError::Config {
                setting: "prefix",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`:`"), "{err}");
}

// ---- 3. The sandbox clock governs every TTL. ----

#[test]
fn a_sandbox_clock_expires_redis_entries() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u32, String, RedisBackend> =
        ttl_cache(&server, "exact::sandbox-ttl", Duration::from_secs(10));
    let sb = memokit::sandbox();
    cache.insert(1, "short".into()).unwrap();
    cache
        .insert_with_ttl(2, "long".into(), Duration::from_secs(60))
        .unwrap();
    sb.advance(Duration::from_secs(9));
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("short"));
    sb.advance(Duration::from_secs(2));
    assert_eq!(cache.get(&1).unwrap(), None, "served 11 s into a 10 s TTL");
    assert_eq!(cache.get(&2).unwrap().as_deref(), Some("long"));
    // Redis still holds it: its own expiry is only the storage bound.
    assert_eq!(cache.backend().unwrap().count().unwrap(), 2);
    // An expired value is a plain miss, not an error, and the next load replaces it.
    assert_eq!(cache.stats().errors, 0);
    let reloaded = cache.get_or_insert_with(1, || "again".into()).unwrap();
    assert_eq!(reloaded, "again");
    assert_eq!(cache.get(&1).unwrap().as_deref(), Some("again"));
}

#[test]
fn a_sandbox_clock_idles_redis_entries_out_and_reads_push_them_back() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u32, u32, RedisBackend> = Cache::builder("exact::sandbox-tti")
        .tti(Duration::from_secs(10))
        .backend_options(options(&server))
        .build()
        .unwrap();
    let sb = memokit::sandbox();
    cache.insert(1, 1).unwrap();
    cache.insert(2, 2).unwrap();
    sb.advance(Duration::from_secs(6));
    assert_eq!(cache.get(&1).unwrap(), Some(1));
    sb.advance(Duration::from_secs(6));
    assert_eq!(cache.get(&1).unwrap(), Some(1), "read 6 s ago: still live");
    assert_eq!(cache.get(&2).unwrap(), None, "idle for 12 s of a 10 s TTI");
    assert_eq!(cache.len(), 1);
    sb.advance(Duration::from_secs(10));
    assert_eq!(cache.get(&1).unwrap(), None);
    // An expired read pushed nothing back: it stays expired.
    assert_eq!(cache.get(&1).unwrap(), None);
    assert!(cache.is_empty());
    assert_eq!(cache.stats().errors, 0);
}

#[tokio::test]
async fn a_sandbox_clock_expires_redis_entries_read_async() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u32, u32, RedisBackend> =
        ttl_cache(&server, "exact::sandbox-ttl-async", Duration::from_secs(10));
    let sb = memokit::sandbox();
    cache.insert_async(1, 1).await.unwrap();
    assert_eq!(cache.get_async(&1).await.unwrap(), Some(1));
    sb.advance(Duration::from_secs(11));
    assert_eq!(cache.get_async(&1).await.unwrap(), None);
}

#[test]
fn an_installed_manual_clock_expires_redis_entries() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u32, u32, RedisBackend> =
        ttl_cache(&server, "exact::manual-ttl", Duration::from_secs(30));
    let clock = ManualClock::new();
    let _installed = clock.install();
    cache.insert(1, 1).unwrap();
    clock.advance(Duration::from_secs(29));
    assert_eq!(cache.get(&1).unwrap(), Some(1));
    clock.advance(Duration::from_secs(1));
    assert_eq!(cache.get(&1).unwrap(), None, "served at its deadline");
}

// ---- 6. Counts are of live entries only. ----

#[test]
fn len_and_stats_count_live_entries_on_memokits_clock() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let counted: Cache<u32, u32, RedisBackend> =
        ttl_cache(&server, "exact::counts", Duration::from_secs(10));
    let sb = memokit::sandbox();
    assert!(counted.is_empty());
    for key in 0..600 {
        counted.insert(key, key).unwrap();
    }
    counted
        .insert_with_ttl(1_000, 0, Duration::from_secs(60))
        .unwrap();
    // Not entries of this cache: a hash, and a value of another type under the same name.
    counted.backend().unwrap().hash_set("h", "f", &1u8).unwrap();
    let other: Cache<u32, String, RedisBackend> = cache(&server, "exact::counts");
    other.insert(2_000, "other".into()).unwrap();

    assert_eq!(counted.len(), 601);
    assert_eq!(counted.stats().entries, 601);
    assert!(!counted.is_empty());
    sb.advance(Duration::from_secs(11));
    assert_eq!(counted.len(), 1);
    assert_eq!(counted.stats().entries, 1);
    sb.advance(Duration::from_secs(60));
    assert!(counted.is_empty());
    // Counting never scanned the whole database: other keys are still there, untouched.
    let backend = counted.backend().unwrap();
    assert_eq!(backend.count().unwrap(), 603);
    backend
        .query::<()>(cmd("SET").arg("unrelated").arg("x"))
        .unwrap();
    assert!(counted.is_empty());
}
