//! The Redis backend on Redis Cluster: a one-node cluster owning every slot, which exercises the
//! cluster clients, slot routing and the per-primary clear.

#![cfg(feature = "redis")]

#[path = "support/redis.rs"]
mod redis_server;

use std::time::Duration;

use memokit::{Cache, RedisBackend, RedisOptions};
use redis_server::RedisServer;

fn cluster_cache(server: &RedisServer, name: &str) -> Cache<String, Vec<u32>, RedisBackend> {
    Cache::builder(name)
        .backend_options(
            RedisOptions::new()
                .url(server.url())
                .cluster(true)
                .timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap()
}

#[test]
fn sync_operations_work_on_a_cluster() {
    let Some(server) = RedisServer::start_cluster() else {
        return;
    };
    let cache = cluster_cache(&server, "cluster-sync");
    let other = cluster_cache(&server, "cluster-other");
    for i in 0..300 {
        cache.insert(format!("k{i}"), vec![i]).unwrap();
    }
    other.insert("k1".into(), vec![1]).unwrap();
    assert_eq!(cache.get("k7").unwrap(), Some(vec![7]));
    assert!(cache.remove("k7").unwrap());
    let backend = cache.backend().unwrap();
    assert_eq!(backend.count().unwrap(), 299);
    backend.hash_set("h", "f", &3u8).unwrap();
    assert_eq!(backend.hash_get::<_, u8>("h", "f").unwrap(), Some(3));

    cache.clear().unwrap();
    assert_eq!(backend.count().unwrap(), 0);
    assert_eq!(other.get("k1").unwrap(), Some(vec![1]));
}

#[tokio::test]
async fn async_operations_work_on_a_cluster() {
    let Some(server) = RedisServer::start_cluster() else {
        return;
    };
    let cache = cluster_cache(&server, "cluster-async");
    for i in 0..50 {
        cache.insert_async(format!("k{i}"), vec![i]).await.unwrap();
    }
    assert_eq!(cache.get_async("k3").await.unwrap(), Some(vec![3]));
    let backend = cache.backend().unwrap();
    assert_eq!(backend.count_async().await.unwrap(), 50);
    cache.clear_async().await.unwrap();
    assert_eq!(backend.count_async().await.unwrap(), 0);
}
