//! The Redis variant of the sandbox isolation test: 200 sandboxes at once, on 200 threads, each
//! writing its own values under the same keys of a memoized function and a hand-built cache that
//! both live in one `redis-server`. None may see another's value, and once every sandbox is gone
//! the server holds only what was written outside them: teardown deleted each sandbox's keys
//! (by prefix, with SCAN and UNLINK), and the server itself is the witness.
//!
//! One test owns the server for its whole run, so the server is stopped even if an assertion
//! fails; the sandboxes run on scoped threads rather than as separate tests for that reason.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Duration;

use memokit::{Cache, RedisBackend, RedisOptions, cached};
use redis_server::RedisServer;

const SANDBOXES: u64 = 200;
const KEYS: u64 = 8;

static URL: OnceLock<String> = OnceLock::new();

fn url() -> String {
    URL.get().cloned().unwrap_or_default()
}

thread_local! {
    /// The sandbox running on this thread; the memoized body bakes it into its value.
    static SANDBOX: Cell<u64> = const { Cell::new(u64::MAX) };
}

#[cached(backend = redis, url = url(), timeout = "5s")]
fn value_of(key: u64) -> u64 {
    SANDBOX.get() * 1_000 + key
}

/// One sandbox's work, as one of the in-memory parallel tests does it.
fn exercise(sandbox: u64, shared: &Cache<u64, u64, RedisBackend>) {
    let sb = memokit::sandbox();
    SANDBOX.set(sandbox);
    for round in 0..2 {
        for key in 0..KEYS {
            let own = sandbox * 1_000 + key;
            assert_eq!(
                value_of(key),
                own,
                "sandbox {sandbox} saw another's memoized value"
            );
            shared.insert(key, own + round).unwrap();
            assert_eq!(
                shared.get(&key).unwrap(),
                Some(own + round),
                "sandbox {sandbox} saw another's value"
            );
        }
    }
    let stats = sb.stats();
    assert_eq!(
        stats.loads, KEYS,
        "each key loaded once, in this sandbox only"
    );
    assert_eq!(stats.inserts, KEYS + 2 * KEYS);
}

#[test]
fn parallel_sandboxes_share_keys_in_redis_without_seeing_each_other() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    URL.set(server.url()).unwrap();
    let shared: Cache<u64, u64, RedisBackend> = Cache::builder("sandbox_redis::shared")
        .backend_options(
            RedisOptions::new()
                .url(server.url())
                .timeout(Duration::from_secs(5)),
        )
        .build()
        .unwrap();
    shared.insert(0, 7).unwrap();
    assert_eq!(server.command("DBSIZE"), ":1\r\n");

    std::thread::scope(|scope| {
        for sandbox in 0..SANDBOXES {
            let shared = &shared;
            scope.spawn(move || exercise(sandbox, shared));
        }
    });

    assert_eq!(
        server.command("DBSIZE"),
        ":1\r\n",
        "every sandbox is gone: only the entry written outside them is left"
    );
    assert_eq!(shared.get(&0).unwrap(), Some(7));
    assert_eq!(VALUE_OF_MEMO.cache().unwrap().get(&0).unwrap(), None);
}
