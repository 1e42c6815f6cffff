//! The companion handle: invalidate one key by its arguments, clear, stats, len, prime, forced
//! refresh and uncached calls, sync and async.

use std::sync::atomic::{AtomicU32, Ordering};

use memokit::cached;

static PAGE_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached]
fn page(book: &str, number: u32) -> String {
    PAGE_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{book}:{number}:{}", PAGE_RUNS.load(Ordering::SeqCst))
}

fn page_runs() -> u32 {
    PAGE_RUNS.load(Ordering::SeqCst)
}

#[test]
fn invalidate_clear_stats_len_prime() {
    let first = page("dune", 1);
    assert_eq!(page("dune", 1), first);
    page("dune", 2);
    assert_eq!(PAGE_MEMO.len(), 2);
    let stats = PAGE_MEMO.stats();
    assert_eq!((stats.hits, stats.misses), (1, 2));

    assert!(PAGE_MEMO.invalidate(("dune", &1)).unwrap());
    assert!(!PAGE_MEMO.invalidate(("dune", &1)).unwrap(), "already gone");
    assert_eq!(PAGE_MEMO.len(), 1);
    assert_ne!(page("dune", 1), first, "reloaded after invalidation");

    PAGE_MEMO.prime(("emma", &9), "primed".to_string()).unwrap();
    let before = page_runs();
    assert_eq!(page("emma", 9), "primed");
    assert_eq!(page_runs(), before, "a primed value is a hit");

    PAGE_MEMO.clear().unwrap();
    assert!(PAGE_MEMO.is_empty());
}

static FRESH_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached]
fn versioned(id: u32) -> (u32, u32) {
    (id, FRESH_RUNS.fetch_add(1, Ordering::SeqCst))
}

#[test]
fn refresh_reloads_one_key_and_uncached_stores_nothing() {
    let v0 = versioned(1);
    let other = versioned(2);
    assert_eq!(versioned(1), v0);

    let v1 = VERSIONED_MEMO.refresh(|| versioned(1));
    assert_ne!(v1, v0, "the body ran");
    assert_eq!(versioned(1), v1, "and its result replaced the cached one");
    assert_eq!(versioned(2), other, "other keys are untouched");

    let bypassed = VERSIONED_MEMO.uncached(|| versioned(1));
    assert_ne!(bypassed, v1, "the body ran");
    assert_eq!(versioned(1), v1, "nothing was stored");

    let uncached_new = VERSIONED_MEMO.uncached(|| versioned(3));
    assert_eq!(uncached_new.0, 3);
    assert!(VERSIONED_MEMO.cache().unwrap().get(&3).unwrap().is_none());
}

#[test]
fn a_directive_applies_to_the_first_call_only() {
    let (a, b) = VERSIONED_MEMO.uncached(|| (versioned(10), versioned(10)));
    assert_ne!(a, b, "the first call ran uncached");
    assert_eq!(versioned(10), b, "the second one used the cache");
}

static OUTER_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached]
fn inner(x: u32) -> u32 {
    x + 1
}

#[cached]
fn outer(x: u32) -> u32 {
    OUTER_RUNS.fetch_add(1, Ordering::SeqCst);
    inner(x) * 2
}

#[test]
fn a_directive_aims_at_its_own_function_only() {
    assert_eq!(inner(5), 6);
    let hits = INNER_MEMO.stats().hits;
    assert_eq!(OUTER_MEMO.uncached(|| outer(5)), 12);
    assert_eq!(
        INNER_MEMO.stats().hits,
        hits + 1,
        "inner still used its cache"
    );
    assert!(OUTER_MEMO.is_empty());
    // A directive aimed at another function leaves this one alone.
    assert_eq!(INNER_MEMO.uncached(|| outer(7)), 16);
    assert_eq!(OUTER_MEMO.len(), 1);
}

static ASYNC_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached]
async fn fetch(id: u32) -> Result<(u32, u32), String> {
    tokio::task::yield_now().await;
    Ok((id, ASYNC_RUNS.fetch_add(1, Ordering::SeqCst)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_refresh_and_uncached() {
    let v0 = fetch(1).await.unwrap();
    assert_eq!(fetch(1).await.unwrap(), v0);
    let v1 = FETCH_MEMO.refresh_async(fetch(1)).await.unwrap();
    assert_ne!(v1, v0);
    assert_eq!(fetch(1).await.unwrap(), v1);
    let bypassed = FETCH_MEMO.uncached_async(fetch(1)).await.unwrap();
    assert_ne!(bypassed, v1);
    assert_eq!(fetch(1).await.unwrap(), v1);
    // Prime stores the `Ok` value, unwrapped.
    FETCH_MEMO.prime(&2, (2, 999)).unwrap();
    assert_eq!(fetch(2).await, Ok((2, 999)));
}

#[cached(key: String = name.to_uppercase())]
fn typed(name: &str) -> usize {
    name.len()
}

#[test]
fn companions_of_typed_keys_take_the_key() {
    typed("ab");
    assert!(TYPED_MEMO.invalidate(&"AB".to_string()).unwrap());
    TYPED_MEMO.prime(&"CD".to_string(), 42).unwrap();
    assert_eq!(typed("cd"), 42);
}
