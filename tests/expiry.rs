//! Counts are of live entries, and expiry is reported when it happens: once an entry's TTL or
//! time to idle passes on memokit's clock it leaves `len`, `is_empty`, `stats()` and `caches()`
//! at once, and the eviction listener hears `Expired` by the next operation on the cache,
//! whichever key that operation touches. `purge_expired` drops them on demand.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use memokit::{Cache, CacheBuilder, RemovalCause, cached, caches};

mod support;

type Heard = Arc<Mutex<Vec<(u64, RemovalCause)>>>;

/// Builds `builder` with a listener that records every removal.
fn listening<V: Clone + Send + Sync + 'static>(
    builder: CacheBuilder<u64, V>,
) -> (Cache<u64, V>, Heard) {
    let heard: Heard = Arc::default();
    let sink = heard.clone();
    let cache = builder
        .eviction_listener(move |&k, _, cause| sink.lock().unwrap().push((k, cause)))
        .build()
        .unwrap();
    (cache, heard)
}

fn expired_keys(heard: &Heard) -> Vec<u64> {
    let mut keys: Vec<u64> = heard
        .lock()
        .unwrap()
        .iter()
        .filter(|h| h.1 == RemovalCause::Expired)
        .map(|h| h.0)
        .collect();
    keys.sort_unstable();
    keys
}

/// The entries `caches()` lists for the cache called `name`, in the current namespace.
fn listed_entries(name: &str) -> u64 {
    caches()
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.stats.entries)
        .expect("the cache is registered")
}

const TTL: Duration = Duration::from_secs(10);

#[test]
fn entries_past_their_ttl_leave_every_count_and_are_reported_at_the_next_operation() {
    // A sandbox, not a bare manual clock: `caches()` from a test on another thread reads the
    // global namespace's caches on that thread's clock, and would expire these entries early.
    let sb = memokit::sandbox();
    // Unbounded, so the cache has as many shards as it gets: the keys spread over them.
    let (cache, heard) = listening(Cache::builder("expiry-ttl").ttl(TTL));
    for k in 0..20 {
        cache.insert(k, k).unwrap();
    }
    assert_eq!(cache.len(), 20);
    sb.advance(TTL);
    // One read of a key that was never there: every expired entry, whatever its shard, is
    // reported by then.
    assert_eq!(cache.get(&1_000).unwrap(), None);
    assert_eq!(expired_keys(&heard), (0..20).collect::<Vec<_>>());
    assert_eq!(cache.len(), 0);
    assert!(cache.is_empty());
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.weight, stats.expired), (0, 0, 20));
    assert_eq!(listed_entries("expiry-ttl"), 0);
}

#[test]
fn counts_drop_expired_entries_before_any_other_operation() {
    let sb = memokit::sandbox();
    let cache: Cache<u64, u64> = Cache::builder("expiry-counts").ttl(TTL).build().unwrap();
    for k in 0..20 {
        cache.insert(k, k).unwrap();
    }
    sb.advance(TTL);
    assert_eq!(listed_entries("expiry-counts"), 0);
    assert!(cache.is_empty());
    assert_eq!(cache.stats().weight, 0);
}

#[test]
fn a_sandbox_advance_expires_its_own_entries() {
    let cache: Cache<u64, u64> = Cache::builder("expiry-sandbox").ttl(TTL).build().unwrap();
    cache.insert(1, 1).unwrap();
    let sb = memokit::sandbox();
    for k in 0..10 {
        cache.insert(k, k).unwrap();
    }
    assert_eq!(cache.len(), 10);
    assert_eq!(sb.stats().entries, 10);
    sb.advance(TTL);
    assert_eq!(cache.len(), 0);
    assert!(cache.is_empty());
    assert_eq!(cache.stats().entries, 0);
    assert_eq!(sb.stats().entries, 0);
    assert_eq!(listed_entries("expiry-sandbox"), 0);
    drop(sb);
    // The global namespace, on the real clock, still holds its entry.
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_sandbox_advance_reports_expiry_at_the_next_operation() {
    let sb = memokit::sandbox();
    let (cache, heard) = listening(Cache::builder("expiry-sandbox-listener").ttl(TTL));
    for k in 0..10 {
        cache.insert(k, k).unwrap();
    }
    sb.advance(TTL);
    assert_eq!(cache.get(&99).unwrap(), None);
    assert_eq!(expired_keys(&heard), (0..10).collect::<Vec<_>>());
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn entries_idle_past_their_tti_are_not_counted() {
    let sb = memokit::sandbox();
    let (cache, heard) = listening(Cache::builder("expiry-tti").tti(Duration::from_secs(10)));
    for k in 0..10 {
        cache.insert(k, k).unwrap();
    }
    sb.advance(Duration::from_secs(6));
    assert_eq!(
        cache.get(&0).unwrap(),
        Some(0),
        "read at 6s: idle again from now"
    );
    sb.advance(Duration::from_secs(6));
    assert_eq!(cache.get(&1_000).unwrap(), None);
    assert_eq!(expired_keys(&heard), (1..10).collect::<Vec<_>>());
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats().weight, 1);
    assert_eq!(listed_entries("expiry-tti"), 1);
    sb.advance(Duration::from_secs(10));
    assert!(cache.is_empty());
    assert_eq!(expired_keys(&heard), (0..10).collect::<Vec<_>>());
}

#[test]
fn only_live_entries_count_in_a_mix_of_timed_and_untimed() {
    let sb = memokit::sandbox();
    let (cache, heard) = listening(
        Cache::builder("expiry-mixed")
            .capacity(1 << 30)
            .weigher(|&k, _: &u64| k + 1),
    );
    for k in 0..10 {
        if k % 2 == 0 {
            cache.insert_with_ttl(k, k, TTL).unwrap();
        } else {
            cache.insert(k, k).unwrap();
        }
    }
    // A long TTL that does not pass.
    cache.insert_with_ttl(10, 10, 10 * TTL).unwrap();
    sb.advance(TTL);
    cache.insert(11, 11).unwrap();
    assert_eq!(expired_keys(&heard), [0, 2, 4, 6, 8]);
    assert_eq!(cache.len(), 7);
    let odd_weights: u64 = [1, 3, 5, 7, 9, 10, 11].iter().map(|k| k + 1).sum();
    assert_eq!(cache.stats().weight, odd_weights);
    assert_eq!(cache.get(&1).unwrap(), Some(1));
    assert_eq!(cache.get(&10).unwrap(), Some(10));
}

#[test]
fn purge_expired_drops_expired_entries_and_counts_them() {
    let sb = memokit::sandbox();
    let (cache, heard) = listening(Cache::builder("expiry-purge").ttl(TTL));
    let held = Arc::new(());
    for k in 0..3 {
        cache.insert(k, held.clone()).unwrap();
    }
    cache.insert_with_ttl(3, held.clone(), 2 * TTL).unwrap();
    sb.advance(TTL);
    assert_eq!(cache.purge_expired().unwrap(), 3);
    assert_eq!(Arc::strong_count(&held), 2, "the purged values are dropped");
    assert_eq!(expired_keys(&heard), [0, 1, 2]);
    assert_eq!(cache.purge_expired().unwrap(), 0, "nothing left to purge");
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats().expired, 3);
}

#[cached(ttl = "10s")]
fn slow_square(x: u64) -> u64 {
    x * x
}

#[test]
fn a_memoized_function_counts_only_live_results_and_purges_on_demand() {
    let sb = memokit::sandbox();
    for x in 0..4 {
        slow_square(x);
    }
    assert_eq!(SLOW_SQUARE_MEMO.len(), 4);
    sb.advance(TTL);
    assert!(SLOW_SQUARE_MEMO.is_empty());
    assert_eq!(
        SLOW_SQUARE_MEMO.purge_expired().unwrap(),
        0,
        "already dropped"
    );
    for x in 0..2 {
        slow_square(x);
    }
    sb.advance(TTL);
    assert_eq!(SLOW_SQUARE_MEMO.purge_expired().unwrap(), 2);
    assert_eq!(SLOW_SQUARE_MEMO.stats().expired, 6);
}

#[test]
fn on_the_real_clock_an_entry_expires_at_its_ttl_never_before() {
    let cache: Cache<u64, u64> = Cache::builder("real-clock-ttl").build().unwrap();
    support::assert_never_expires_early(&cache, Duration::from_millis(30), Duration::ZERO);
}
