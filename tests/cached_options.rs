//! Every `#[cached]` option, one test each (the foundation options `ttl`, `capacity`, `name`,
//! `cache_err` and `cache_none` are covered in `cached_basics.rs`; these add what they interact
//! with). Each test memoizes its own functions: caches are process-wide statics and tests run in
//! parallel.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use memokit::cached;
use memokit::clock::ManualClock;

macro_rules! counter {
    ($name:ident) => {
        static $name: AtomicU32 = AtomicU32::new(0);
    };
}

fn runs(counter: &AtomicU32) -> u32 {
    counter.load(Ordering::SeqCst)
}

struct Pool;

counter!(SUBSET_RUNS);
#[cached(key = (tenant, id))]
fn subset_key(pool: &Pool, tenant: &str, id: u64, trace: Vec<String>) -> String {
    let _ = (pool, trace);
    SUBSET_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{tenant}/{id}")
}

#[test]
fn key_by_a_subset_of_the_arguments() {
    assert_eq!(subset_key(&Pool, "acme", 1, vec!["a".into()]), "acme/1");
    assert_eq!(subset_key(&Pool, "acme", 1, vec!["b".into()]), "acme/1");
    assert_eq!(
        runs(&SUBSET_RUNS),
        1,
        "arguments outside the key don't matter"
    );
    assert_eq!(subset_key(&Pool, "acme", 2, Vec::new()), "acme/2");
    assert_eq!(runs(&SUBSET_RUNS), 2);
    assert!(SUBSET_KEY_MEMO.invalidate(("acme", &1)).unwrap());
}

counter!(SINGLE_RUNS);
#[cached(key = id)]
fn single_named_key(id: u64, note: &str) -> u64 {
    let _ = note;
    SINGLE_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 3
}

#[test]
fn key_by_one_named_argument() {
    assert_eq!(single_named_key(2, "first"), 6);
    assert_eq!(single_named_key(2, "second"), 6);
    assert_eq!(runs(&SINGLE_RUNS), 1);
    assert!(SINGLE_NAMED_KEY_MEMO.invalidate(&2).unwrap());
}

counter!(TYPED_RUNS);
#[cached(key: String = format!("{}:{}", a.to_lowercase(), b))]
fn typed_key(a: &str, b: u8) -> String {
    TYPED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{a}{b}")
}

#[test]
fn key_by_an_expression_with_its_type() {
    assert_eq!(typed_key("AB", 1), "AB1");
    assert_eq!(
        typed_key("ab", 1),
        "AB1",
        "the key folds case, so this is a hit"
    );
    assert_eq!(runs(&TYPED_RUNS), 1);
    assert!(TYPED_KEY_MEMO.invalidate(&"ab:1".to_string()).unwrap());
}

counter!(GENERIC_RUNS);
#[cached(key: String = format!("{value:?}"))]
fn generic_debug<T: std::fmt::Debug>(value: T) -> usize {
    GENERIC_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{value:?}").len()
}

#[test]
fn generic_functions_share_one_cache_through_their_key() {
    assert_eq!(generic_debug(12_u8), 2);
    assert_eq!(
        generic_debug(12_u64),
        2,
        "another instantiation, same key: a hit"
    );
    assert_eq!(generic_debug("12"), 4);
    assert_eq!(runs(&GENERIC_RUNS), 2);
    assert_eq!(GENERIC_DEBUG_MEMO.len(), 2);
}

counter!(IMPL_ARG_RUNS);
#[cached(key = id)]
fn impl_trait_outside_the_key(id: u32, label: impl std::fmt::Display) -> String {
    IMPL_ARG_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{id}:{label}")
}

#[test]
fn impl_trait_arguments_outside_the_key() {
    assert_eq!(impl_trait_outside_the_key(1, "x"), "1:x");
    assert_eq!(impl_trait_outside_the_key(1, 5), "1:x");
    assert_eq!(runs(&IMPL_ARG_RUNS), 1);
}

counter!(CONDITION_RUNS);
#[cached(condition = n < 10)]
fn small_only(n: u32) -> u32 {
    CONDITION_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 2
}

#[test]
fn condition_false_runs_the_body_and_skips_the_cache() {
    assert_eq!(small_only(20), 40);
    assert_eq!(small_only(20), 40);
    assert_eq!(runs(&CONDITION_RUNS), 2, "not cached: the body ran twice");
    let stats = SMALL_ONLY_MEMO.stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (0, 0, 0));
    assert_eq!(small_only(3), 6);
    assert_eq!(small_only(3), 6);
    assert_eq!(runs(&CONDITION_RUNS), 3);
    assert_eq!(SMALL_ONLY_MEMO.stats().hits, 1);
}

counter!(TYPED_CONDITION_RUNS);
#[cached(key: u32 = n / 10, condition = n != 0)]
fn typed_key_with_condition(n: u32) -> u32 {
    TYPED_CONDITION_RUNS.fetch_add(1, Ordering::SeqCst);
    n / 10
}

#[test]
fn condition_with_a_typed_key() {
    assert_eq!(typed_key_with_condition(0), 0);
    assert_eq!(typed_key_with_condition(0), 0);
    assert_eq!(typed_key_with_condition(11), 1);
    assert_eq!(typed_key_with_condition(12), 1);
    assert_eq!(runs(&TYPED_CONDITION_RUNS), 3);
    assert_eq!(TYPED_KEY_WITH_CONDITION_MEMO.len(), 1);
}

counter!(UNLESS_RUNS);
#[cached(unless = |r: &Vec<u32>| r.is_empty())]
fn divisors(n: u32) -> Vec<u32> {
    UNLESS_RUNS.fetch_add(1, Ordering::SeqCst);
    (2..n).filter(|d| n.is_multiple_of(*d)).collect()
}

#[test]
fn unless_keeps_results_out_of_the_cache() {
    assert!(divisors(7).is_empty());
    assert!(divisors(7).is_empty());
    assert_eq!(runs(&UNLESS_RUNS), 2, "an empty result is not stored");
    assert_eq!(divisors(6), vec![2, 3]);
    assert_eq!(divisors(6), vec![2, 3]);
    assert_eq!(runs(&UNLESS_RUNS), 3);
    assert_eq!(DIVISORS_MEMO.len(), 1);
}

counter!(UNLESS_RESULT_RUNS);
#[cached(unless = |r| matches!(r, Ok(0)))]
fn parse_nonzero(text: &str) -> Result<u32, String> {
    UNLESS_RESULT_RUNS.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|_| format!("not a number: {text}"))
}

#[test]
fn unless_narrows_the_result_policy() {
    assert_eq!(parse_nonzero("0"), Ok(0));
    assert_eq!(parse_nonzero("0"), Ok(0));
    assert!(parse_nonzero("x").is_err());
    assert_eq!(parse_nonzero("5"), Ok(5));
    assert_eq!(parse_nonzero("5"), Ok(5));
    assert_eq!(runs(&UNLESS_RESULT_RUNS), 4);
    assert_eq!(PARSE_NONZERO_MEMO.len(), 1);
}

#[derive(Clone, Debug, PartialEq)]
struct Token {
    scope: String,
    lifetime: Duration,
}

counter!(TOKEN_RUNS);
#[cached(ttl = "1h", ttl_from = |t: &Token| t.lifetime)]
fn token(scope: &str) -> Result<Token, String> {
    TOKEN_RUNS.fetch_add(1, Ordering::SeqCst);
    let secs = if scope == "short" { 60 } else { 600 };
    Ok(Token {
        scope: scope.to_string(),
        lifetime: Duration::from_secs(secs),
    })
}

#[test]
fn ttl_from_gives_each_entry_its_own_ttl() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    token("short").unwrap();
    token("long").unwrap();
    clock.advance(Duration::from_secs(61));
    token("short").unwrap();
    token("long").unwrap();
    assert_eq!(runs(&TOKEN_RUNS), 3, "only the short-lived token expired");
    clock.advance(Duration::from_secs(600));
    token("long").unwrap();
    assert_eq!(runs(&TOKEN_RUNS), 4);
}

counter!(OPTIONAL_TTL_RUNS);
#[cached(ttl = "10m", ttl_from = |v: &u32| (*v > 100).then(|| Duration::from_secs(1)))]
fn optional_ttl(v: u32) -> u32 {
    OPTIONAL_TTL_RUNS.fetch_add(1, Ordering::SeqCst);
    v
}

#[test]
fn ttl_from_returning_none_keeps_the_cache_wide_ttl() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    optional_ttl(1);
    optional_ttl(200);
    clock.advance(Duration::from_secs(2));
    optional_ttl(1);
    optional_ttl(200);
    assert_eq!(runs(&OPTIONAL_TTL_RUNS), 3);
    clock.advance(Duration::from_secs(600));
    optional_ttl(1);
    assert_eq!(runs(&OPTIONAL_TTL_RUNS), 4);
}

counter!(TTI_RUNS);
#[cached(tti = "5m")]
fn idle(x: u32) -> u32 {
    TTI_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn tti_expires_entries_nobody_reads() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    idle(1);
    for _ in 0..3 {
        clock.advance(Duration::from_secs(240));
        idle(1);
    }
    assert_eq!(
        runs(&TTI_RUNS),
        1,
        "read every 4 minutes: still alive after 12"
    );
    clock.advance(Duration::from_secs(300));
    idle(1);
    assert_eq!(runs(&TTI_RUNS), 2);
}

#[cached(capacity = 100, weigher = |_: &u32, s: &String| s.len() as u64)]
fn weighed(n: u32) -> String {
    "x".repeat(n as usize)
}

#[test]
fn weigher_bounds_total_weight() {
    weighed(30);
    weighed(40);
    assert_eq!(WEIGHED_MEMO.stats().weight, 70);
    weighed(50);
    let stats = WEIGHED_MEMO.stats();
    assert!(stats.weight <= 100, "weight {} over capacity", stats.weight);
    assert!(stats.evicted >= 1);
}

#[cached(backend = memokit::MemoryBackend<u8, u8>, name = "options::custom-backend")]
fn custom_backend(x: u8) -> u8 {
    x.wrapping_mul(3)
}

#[test]
fn backend_accepts_a_type_path() {
    assert_eq!(custom_backend(2), 6);
    let cache = CUSTOM_BACKEND_MEMO.cache().unwrap();
    assert_eq!(
        (cache.backend_kind(), cache.name()),
        ("memory", "options::custom-backend")
    );
}

mod facade {
    pub use memokit as reexported;
}

#[cached(crate = facade::reexported, backend = memory)]
fn through_reexport(x: u8) -> u8 {
    x + 1
}

#[cached(crate = ::memokit)]
fn through_absolute_path(x: u8) -> u8 {
    x + 2
}

#[test]
fn crate_paths_reach_the_runtime() {
    assert_eq!(through_reexport(1), 2);
    assert_eq!(through_reexport(1), 2);
    assert_eq!(THROUGH_REEXPORT_MEMO.stats().hits, 1);
    assert_eq!(through_absolute_path(1), 3);
    assert_eq!(THROUGH_ABSOLUTE_PATH_MEMO.len(), 1);
}

#[cached(companion = LOOKUPS)]
fn renamed_companion(x: u8) -> u8 {
    x
}

#[test]
fn companion_can_be_renamed() {
    renamed_companion(1);
    assert_eq!(LOOKUPS.len(), 1);
}

counter!(ASYNC_RUNS);
#[cached(unless = |v: &u32| *v == 0, condition = id != 99)]
async fn async_options(id: u32) -> u32 {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    id % 3
}

#[tokio::test]
async fn options_apply_to_async_functions() {
    assert_eq!(async_options(3).await, 0);
    assert_eq!(async_options(3).await, 0);
    assert_eq!(async_options(4).await, 1);
    assert_eq!(async_options(4).await, 1);
    assert_eq!(async_options(99).await, 0);
    assert_eq!(runs(&ASYNC_RUNS), 4);
    assert_eq!(ASYNC_OPTIONS_MEMO.len(), 1);
}
