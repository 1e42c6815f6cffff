//! Tests of the Redis backend that need crate internals (namespaces) and a real server.

#[path = "../../../tests/support/redis.rs"]
pub(super) mod redis_server;

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

/// The live count as `len` runs it (sync) and its async form, on one server and on a cluster.
#[tokio::test]
async fn live_counts_leave_out_expired_foreign_and_hash_entries() {
    use crate::clock::{self, ManualClock};
    use crate::redis::clear::{Walk, Walker};

    let topologies: &[bool] = if cfg!(feature = "redis-cluster") {
        &[false, true]
    } else {
        &[false]
    };
    for &cluster in topologies {
        let started = if cluster {
            RedisServer::start_cluster()
        } else {
            RedisServer::start()
        };
        let Some(server) = started else {
            return;
        };
        let cache: Cache<u32, String, RedisBackend> = Cache::builder("live")
            .backend_options(
                RedisOptions::new()
                    .url(server.url())
                    .cluster(cluster)
                    .timeout(Duration::from_secs(2)),
            )
            .build()
            .unwrap();
        let manual = ManualClock::new();
        let _installed = manual.install();
        let view = cache.backend().unwrap().clone();
        for key in 0..700 {
            let ttl = Duration::from_secs(if key < 100 { 60 } else { 10 });
            Backend::<u32, String>::insert(&view, key, "v".into(), Some(ttl)).unwrap();
        }
        Backend::<u32, u64>::insert(&view, 9_999, 0, None).unwrap();
        view.hash_set("h", "f", &1u8).unwrap();
        manual.advance(Duration::from_secs(11));
        let live = || Walker::new(&view.space, view.live::<u32, String>(clock::now()));
        assert_eq!(live().run_sync(&view.store.connector).unwrap(), 100);
        assert_eq!(live().run_async(&view.store.connector).await.unwrap(), 100);
        let raw = Walker::new(&view.space, Walk::Count);
        assert_eq!(raw.run_async(&view.store.connector).await.unwrap(), 702);
    }
}
