//! What a Redis user sees: keys of integers, strings and tuples of them read as text in
//! `redis-cli` (`KEYS`), other keys as bytes, every key decodes back for `keys()`; and values
//! whose serde derives come from memokit's re-export, with no `serde` dependency of their own.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::time::Duration;

use memokit::{Cache, RedisBackend, RedisOptions};
use redis_server::RedisServer;

/// A value type as a user writes it with memokit alone.
#[derive(Debug, Clone, PartialEq, memokit::Serialize, memokit::Deserialize)]
#[serde(crate = "memokit::serde")]
struct Price {
    cents: u64,
    currency: String,
}

fn cache<K>(server: &RedisServer, name: &str) -> Cache<K, Price, RedisBackend>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    K: memokit::serde::Serialize + memokit::serde::de::DeserializeOwned,
{
    Cache::builder(name)
        .backend_options(
            RedisOptions::new()
                .url(server.url())
                .timeout(Duration::from_secs(2)),
        )
        .build()
        .expect("a valid Redis cache")
}

/// The keys `KEYS <pattern>` lists, as text (RESP bulk strings, escaped as redis-cli prints them).
fn keys(server: &RedisServer, pattern: &str) -> Vec<String> {
    let reply = server.command(&format!("KEYS {pattern}"));
    let mut keys: Vec<String> = reply
        .split("\r\n")
        .skip(1)
        .filter(|line| !line.starts_with('$') && !line.is_empty())
        .map(|line| line.escape_debug().to_string())
        .collect();
    keys.sort();
    keys
}

fn price(cents: u64) -> Price {
    Price {
        cents,
        currency: "EUR".into(),
    }
}

#[test]
fn integer_string_and_tuple_keys_read_as_text_and_decode_back() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let ints = cache::<u64>(&server, "keys::ints");
    ints.insert(42, price(1)).unwrap();
    let strings = cache::<String>(&server, "keys::strings");
    strings.insert("tea:green".into(), price(2)).unwrap();
    let pairs = cache::<(String, u32)>(&server, "keys::pairs");
    pairs.insert(("a:b".into(), 7), price(3)).unwrap();
    let options = cache::<Option<u8>>(&server, "keys::options");
    options.insert(Some(5), price(4)).unwrap();

    assert_eq!(
        keys(&server, "memokit:10:keys::ints:*"),
        ["memokit:10:keys::ints:global:42"]
    );
    assert_eq!(
        keys(&server, "memokit:13:keys::strings:*"),
        ["memokit:13:keys::strings:global:tea:green"]
    );
    // Inside a tuple, a `:` of a string is escaped, so the one between elements is not forged.
    assert_eq!(
        keys(&server, "memokit:11:keys::pairs:*"),
        ["memokit:11:keys::pairs:global:a\\\\:b:7"]
    );
    // Not text: a 0x00 byte, then postcard.
    assert_eq!(
        keys(&server, "memokit:13:keys::options:*"),
        ["memokit:13:keys::options:global:\\0\\u{1}\\u{5}"]
    );

    assert_eq!(ints.get(&42).unwrap(), Some(price(1)));
    assert_eq!(
        pairs.keys().collect::<Result<Vec<_>, _>>().unwrap(),
        [("a:b".to_string(), 7)]
    );
    assert_eq!(
        strings.keys().collect::<Result<Vec<_>, _>>().unwrap(),
        ["tea:green"]
    );
    assert_eq!(
        options.keys().collect::<Result<Vec<_>, _>>().unwrap(),
        [Some(5)]
    );
}
