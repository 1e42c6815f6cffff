//! Cache modules on the Redis backend: the URL comes from the module's `config` function at first
//! use (here from a value the test sets once its own `redis-server` is up, as a program would read
//! an environment variable), and `backend()` reaches the Redis-specific operations.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::sync::OnceLock;
use std::time::Duration;

use memokit::{CacheError, ConfigError, RedisBackend, RedisOptions, Settings};
use redis_server::RedisServer;

/// Where the server of this test binary listens; set before the module's first use.
static URL: OnceLock<String> = OnceLock::new();

fn from_url(settings: &mut Settings<u64, String, RedisBackend>) -> Result<(), ConfigError> {
    let url = URL
        .get()
        .ok_or_else(|| ConfigError::new("url", "no Redis URL configured"))?;
    settings.backend = RedisOptions::new()
        .url(url.clone())
        .timeout(Duration::from_secs(2));
    Ok(())
}

#[derive(memokit::Cache)]
#[cache(name = "redis-users", key = u64, value = String, backend = redis, ttl = "5m", config = from_url)]
struct RedisUsers;

fn bad_url(settings: &mut Settings<u64, u64, RedisBackend>) -> Result<(), ConfigError> {
    settings.backend = RedisOptions::new().url("htp://localhost");
    Ok(())
}

#[derive(memokit::Cache)]
#[cache(name = "redis-misconfigured", key = u64, value = u64, backend = redis, config = bad_url)]
struct Misconfigured;

#[test]
fn a_redis_module_configured_at_first_use() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    URL.set(server.url()).unwrap();

    RedisUsers::insert(1, "ada".into()).unwrap();
    assert_eq!(RedisUsers::get(&1).unwrap().as_deref(), Some("ada"));
    let loaded = RedisUsers::get_or_insert_with(2, || "grace".into()).unwrap();
    assert_eq!(loaded, "grace");
    assert_eq!(RedisUsers::cache().unwrap().backend_kind(), "redis");

    // Redis-specific operations through the module's backend.
    let backend = RedisUsers::backend().unwrap();
    backend.hash_set("profile:1", "lang", &"en").unwrap();
    assert_eq!(
        backend
            .hash_get::<_, String>("profile:1", "lang")
            .unwrap()
            .as_deref(),
        Some("en")
    );

    assert!(RedisUsers::remove(&1).unwrap());
    RedisUsers::clear().unwrap();
    assert_eq!(RedisUsers::get(&2).unwrap(), None);
}

#[test]
fn a_bad_redis_url_is_a_config_error_on_every_call() {
    for _ in 0..2 {
        match Misconfigured::get(&1).unwrap_err() {
            CacheError::Config { cache, setting, .. } => {
                assert_eq!((&*cache, setting), ("redis-misconfigured", "url"));
            }
            other => panic!("expected a config error, got {other}"),
        }
    }
}
