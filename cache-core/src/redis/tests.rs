//! Tests of the Redis backend that need crate internals (namespaces) and a real server.

#[path = "../../../tests/support/redis.rs"]
mod redis_server;

use std::time::Duration;

use crate::backend::Backend;
use crate::context::Namespace;
use crate::{Cache, RedisBackend, RedisOptions};

use redis_server::RedisServer;

#[test]
fn scoped_views_are_isolated_and_clear_only_themselves() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: Cache<u32, String, RedisBackend> = Cache::builder("scoped")
        .backend_options(
            RedisOptions::new()
                .url(server.url())
                .timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    let global = cache.backend().unwrap().clone();
    let one = Backend::<u32, String>::scoped(&global, Namespace(1)).unwrap();
    let two = Backend::<u32, String>::scoped(&global, Namespace(2)).unwrap();

    Backend::<u32, String>::insert(&global, 1, "global".into(), None).unwrap();
    Backend::<u32, String>::insert(&one, 1, "one".into(), None).unwrap();
    Backend::<u32, String>::insert(&two, 2, "two".into(), None).unwrap();
    let value = |view: &RedisBackend, key: u32| {
        Backend::<u32, String>::get(view, &key)
            .unwrap()
            .map(|found| found.value)
    };
    assert_eq!(value(&global, 1).as_deref(), Some("global"));
    assert_eq!(value(&one, 1).as_deref(), Some("one"));
    assert_eq!(value(&two, 1), None);
    assert_eq!(value(&global, 2), None);

    Backend::<u32, String>::clear(&one).unwrap();
    assert_eq!(value(&one, 1), None);
    assert_eq!(value(&global, 1).as_deref(), Some("global"));
    assert_eq!(value(&two, 2).as_deref(), Some("two"));
    assert_eq!(one.count().unwrap(), 0);
    assert_eq!(two.count().unwrap(), 1);
}
