//! The `Cache<K, V>` handle used directly: builder validation, the map-like methods, loads,
//! per-entry TTL, time-to-idle, weights, and the async forms.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use memokit::clock::ManualClock;
use memokit::{Cache, CacheError, LoadError};

fn cache<K, V>(name: &str) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder(name).build().expect("a valid cache")
}

#[test]
fn invalid_options_name_the_cache_and_the_setting() {
    type Built = Result<Cache<u8, u8>, CacheError>;
    let cases: Vec<(Built, &str)> = vec![
        (Cache::builder("c1").ttl(Duration::ZERO).build(), "ttl"),
        (Cache::builder("c2").tti(Duration::ZERO).build(), "tti"),
        (Cache::builder("c3").capacity(0).build(), "capacity"),
        (Cache::builder("c4").weigher(|_, _| 1).build(), "weigher"),
        (Cache::builder("").build(), "name"),
    ];
    for (result, expected) in cases {
        match result {
            Err(CacheError::Config { setting, .. }) => assert_eq!(setting, expected),
            other => panic!("expected a config error on `{expected}`, got {other:?}"),
        }
    }
}

#[test]
fn map_like_methods() {
    let users: Cache<String, u32> = cache("handle::map");
    assert!(users.is_empty());
    users.insert("ada".into(), 36).unwrap();
    users.insert("alan".into(), 41).unwrap();
    assert_eq!(
        users.get("ada").unwrap(),
        Some(36),
        "looked up by &str, no String built"
    );
    assert_eq!(users.get("grace").unwrap(), None);
    users.insert("ada".into(), 37).unwrap();
    assert_eq!(users.get("ada").unwrap(), Some(37));
    assert!(users.remove("ada").unwrap());
    assert!(!users.remove("ada").unwrap());
    assert_eq!(users.len(), 1);
    users.clear().unwrap();
    assert!(users.is_empty());
    let stats = users.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.inserts, stats.removals),
        (2, 1, 3, 1)
    );
    assert_eq!(stats.replaced, 1);
}

#[test]
fn per_entry_ttl_overrides_the_cache_wide_one() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let sessions: Cache<u32, &'static str> = Cache::builder("handle::ttl")
        .ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    sessions.insert(1, "cache-wide").unwrap();
    sessions
        .insert_with_ttl(2, "short", Duration::from_secs(5))
        .unwrap();
    sessions
        .insert_with_ttl(3, "long", Duration::from_secs(600))
        .unwrap();
    clock.advance(Duration::from_secs(5));
    assert_eq!(sessions.get(&2).unwrap(), None);
    assert_eq!(sessions.get(&1).unwrap(), Some("cache-wide"));
    clock.advance(Duration::from_secs(55));
    assert_eq!(sessions.get(&1).unwrap(), None);
    assert_eq!(sessions.get(&3).unwrap(), Some("long"));
}

#[test]
fn time_to_idle_expires_entries_nobody_reads() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    let idle: Cache<u32, u32> = Cache::builder("handle::tti")
        .tti(Duration::from_secs(10))
        .build()
        .unwrap();
    idle.insert(1, 1).unwrap();
    idle.insert(2, 2).unwrap();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(9));
        assert_eq!(idle.get(&1).unwrap(), Some(1), "reading keeps it alive");
    }
    assert_eq!(idle.get(&2).unwrap(), None, "27s unread");
}

#[test]
fn weigher_bounds_total_weight() {
    let blobs: Cache<u32, Vec<u8>> = Cache::builder("handle::weight")
        .capacity(100)
        .weigher(|_, v: &Vec<u8>| v.len() as u64)
        .build()
        .unwrap();
    for i in 0..10 {
        blobs.insert(i, vec![0; 30]).unwrap();
    }
    let stats = blobs.stats();
    assert!(stats.weight <= 100, "weight {} over capacity", stats.weight);
    assert!(stats.entries <= 3);
    assert!(stats.evicted >= 7);
}

#[test]
fn get_or_insert_with_loads_once() {
    let squares: Cache<u64, u64> = cache("handle::load");
    let loads = AtomicU32::new(0);
    let load = |n: u64| {
        loads.fetch_add(1, Ordering::SeqCst);
        n * n
    };
    assert_eq!(squares.get_or_insert_with(9, || load(9)).unwrap(), 81);
    assert_eq!(squares.get_or_insert_with(9, || load(9)).unwrap(), 81);
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[test]
fn try_get_or_insert_with_does_not_cache_errors() {
    let parsed: Cache<String, i32> = cache("handle::try");
    let result: Result<i32, LoadError<String>> =
        parsed.try_get_or_insert_with("x".into(), || Err("not a number".to_string()));
    assert!(matches!(result, Err(LoadError::Load(ref e)) if e == "not a number"));
    assert_eq!(parsed.get("x").unwrap(), None);
    let ok: Result<i32, LoadError<String>> = parsed.try_get_or_insert_with("7".into(), || Ok(7));
    assert_eq!(ok.unwrap(), 7);
    assert_eq!(parsed.get("7").unwrap(), Some(7));
    let stats = parsed.stats();
    assert_eq!((stats.loads, stats.load_failures), (1, 1));
}

#[test]
fn eviction_listener_hears_every_cause() {
    use std::sync::{Arc, Mutex};
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let tiny: Cache<u8, u8> = Cache::builder("handle::listener")
        .capacity(1)
        .eviction_listener(move |k, _, cause| sink.lock().unwrap().push((*k, cause)))
        .build()
        .unwrap();
    tiny.insert(1, 1).unwrap();
    tiny.insert(1, 2).unwrap();
    tiny.insert(2, 2).unwrap();
    // The policy decides whether 1 or 2 stays; whichever does is removed explicitly.
    let survivor = if tiny.get(&1).unwrap().is_some() {
        1
    } else {
        2
    };
    assert!(tiny.remove(&survivor).unwrap());
    use memokit::RemovalCause::*;
    let heard = heard.lock().unwrap().clone();
    assert_eq!(heard.len(), 3, "{heard:?}");
    assert_eq!(heard[0], (1, Replaced));
    assert_eq!(heard[1], (3 - survivor, Size));
    assert_eq!(heard[2], (survivor, Explicit));
}

#[tokio::test]
async fn async_forms() {
    let cache: Cache<u32, String> = cache("handle::async");
    cache.insert_async(1, "one".into()).await.unwrap();
    assert_eq!(cache.get_async(&1).await.unwrap().as_deref(), Some("one"));
    let two = cache
        .get_or_insert_with_async(2, async { "two".to_string() })
        .await;
    assert_eq!(two.unwrap(), "two");
    let failed = cache
        .try_get_or_insert_with_async(3, async { Err::<String, _>("nope") })
        .await;
    assert!(matches!(failed, Err(LoadError::Load("nope"))));
    cache
        .insert_with_ttl_async(4, "four".into(), Duration::from_secs(1))
        .await
        .unwrap();
    assert!(cache.remove_async(&1).await.unwrap());
    assert_eq!(cache.len(), 2);
    cache.clear_async().await.unwrap();
    assert!(cache.is_empty());
}

#[test]
fn clones_share_one_cache_and_the_registry_lists_it() {
    let a: Cache<u8, u8> = cache("handle::shared");
    let b = a.clone();
    a.insert(1, 1).unwrap();
    assert_eq!(b.get(&1).unwrap(), Some(1));
    let listed = memokit::caches();
    let info = listed.iter().find(|c| c.name == "handle::shared").unwrap();
    assert_eq!((info.backend, info.stats.entries), ("memory", 1));
}

/// A memory cache's `local()` view: the same operations without `Result`, and the same
/// counters and events as the fallible API.
#[test]
fn the_local_view_of_a_memory_cache_needs_no_result() {
    let prices: Cache<String, u64> = Cache::builder("local-view").capacity(10).build().unwrap();
    let local = prices.local();
    local.insert("tea".to_string(), 3);
    local.insert_with_ttl("cake".to_string(), 5, Duration::from_secs(60));
    assert_eq!(local.get("tea"), Some(3));
    assert_eq!(local.get("coffee"), None);
    assert!(local.contains_key("cake"));
    assert_eq!(local.get_or_insert_with("bun".to_string(), || 2), 2);
    assert_eq!(local.get_or_insert_with("bun".to_string(), || 9), 2);
    assert_eq!(local.take("cake"), Some(5));
    assert!(local.remove("tea"));
    assert!(!local.remove("tea"));
    // The rest of the cache is there through the view.
    assert_eq!(local.len(), 1);
    assert_eq!(prices.get("bun").unwrap(), Some(2));
    let stats = local.stats();
    assert_eq!((stats.hits, stats.misses), (3, 2));
    local.clear();
    assert!(prices.is_empty());
}

#[test]
#[should_panic(expected = "asked this cache for that same key")]
fn a_local_loader_asking_for_its_own_key_panics_instead_of_waiting_forever() {
    let cache: Cache<u32, u32> = Cache::builder("local-recursion").build().unwrap();
    let local = cache.local();
    local.get_or_insert_with(1, || local.get_or_insert_with(1, || 2));
}
