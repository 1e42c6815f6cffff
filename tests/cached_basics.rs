//! `#[cached]` foundation behaviour: hits and misses, TTL on the swappable clock, which results
//! are cached, async functions, and the argument shapes that form keys.
//!
//! Each test memoizes its own functions: the caches are process-wide statics and tests run in
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

counter!(DOUBLE_RUNS);
#[cached]
fn double(x: u64) -> u64 {
    DOUBLE_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 2
}

#[test]
fn hits_and_misses_are_counted() {
    assert_eq!(double(1), 2);
    assert_eq!(double(1), 2);
    assert_eq!(double(2), 4);
    assert_eq!(double(1), 2);
    assert_eq!(runs(&DOUBLE_RUNS), 2);
    let stats = DOUBLE_MEMO.stats();
    assert_eq!((stats.hits, stats.misses), (2, 2));
    assert_eq!((stats.loads, stats.inserts, stats.entries), (2, 2, 2));
    assert!((stats.hit_ratio() - 0.5).abs() < f64::EPSILON);
}

counter!(TTL_RUNS);
#[cached(ttl = "10m")]
fn with_ttl(x: u32) -> u32 {
    TTL_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[test]
fn ttl_expiry_follows_the_swappable_clock() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    assert_eq!(with_ttl(1), 2);
    clock.advance(Duration::from_secs(599));
    assert_eq!(with_ttl(1), 2);
    assert_eq!(runs(&TTL_RUNS), 1, "still fresh one second before the TTL");
    clock.advance(Duration::from_secs(1));
    assert_eq!(with_ttl(1), 2);
    assert_eq!(
        runs(&TTL_RUNS),
        2,
        "expired exactly at the TTL and reloaded"
    );
    assert_eq!(with_ttl(1), 2);
    assert_eq!(runs(&TTL_RUNS), 2, "the reloaded value is fresh again");
}

counter!(EXPR_TTL_RUNS);
#[cached(ttl = Duration::from_millis(1500))]
fn with_expression_ttl(x: u32) -> u32 {
    EXPR_TTL_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn ttl_accepts_a_duration_expression() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    with_expression_ttl(7);
    clock.advance(Duration::from_millis(1499));
    with_expression_ttl(7);
    assert_eq!(runs(&EXPR_TTL_RUNS), 1);
    clock.advance(Duration::from_millis(1));
    with_expression_ttl(7);
    assert_eq!(runs(&EXPR_TTL_RUNS), 2);
}

counter!(PARSE_RUNS);
#[cached]
fn parse(text: &str) -> Result<i64, String> {
    PARSE_RUNS.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|e| format!("{text:?}: {e}"))
}

#[test]
fn result_caches_only_ok() {
    assert_eq!(parse("12"), Ok(12));
    assert_eq!(parse("12"), Ok(12));
    assert!(parse("x").is_err());
    assert!(parse("x").is_err());
    assert_eq!(runs(&PARSE_RUNS), 3, "errors run the body every time");
    assert_eq!(PARSE_MEMO.len(), 1);
    let stats = PARSE_MEMO.stats();
    assert_eq!((stats.loads, stats.load_failures), (1, 2));
}

counter!(PARSE_ALL_RUNS);
#[cached(cache_err)]
fn parse_caching_errors(text: &str) -> Result<i64, String> {
    PARSE_ALL_RUNS.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|e| format!("{e}"))
}

#[test]
fn cache_err_caches_errors_too() {
    assert!(parse_caching_errors("x").is_err());
    assert!(parse_caching_errors("x").is_err());
    assert_eq!(runs(&PARSE_ALL_RUNS), 1);
    assert_eq!(PARSE_CACHING_ERRORS_MEMO.len(), 1);
}

counter!(FIND_RUNS);
#[cached]
fn find(id: u32) -> Option<String> {
    FIND_RUNS.fetch_add(1, Ordering::SeqCst);
    id.is_multiple_of(2).then(|| format!("user-{id}"))
}

#[test]
fn option_caches_only_some() {
    assert_eq!(find(2).as_deref(), Some("user-2"));
    assert_eq!(find(2).as_deref(), Some("user-2"));
    assert_eq!(find(3), None);
    assert_eq!(find(3), None);
    assert_eq!(runs(&FIND_RUNS), 3);
    assert_eq!(FIND_MEMO.len(), 1);
}

counter!(FIND_ALL_RUNS);
#[cached(cache_none)]
fn find_caching_none(id: u32) -> Option<u32> {
    FIND_ALL_RUNS.fetch_add(1, Ordering::SeqCst);
    (id > 10).then_some(id)
}

#[test]
fn cache_none_caches_none_too() {
    assert_eq!(find_caching_none(1), None);
    assert_eq!(find_caching_none(1), None);
    assert_eq!(runs(&FIND_ALL_RUNS), 1);
}

counter!(LOOKUP_RUNS);
#[cached]
async fn lookup(id: u64) -> Result<String, std::io::Error> {
    LOOKUP_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    if id == 0 {
        return Err(std::io::Error::other("id 0 does not exist"));
    }
    Ok(format!("#{id}"))
}

#[tokio::test]
async fn async_functions_are_memoized() {
    assert_eq!(lookup(5).await.unwrap(), "#5");
    assert_eq!(lookup(5).await.unwrap(), "#5");
    assert!(lookup(0).await.is_err());
    assert!(lookup(0).await.is_err());
    assert_eq!(runs(&LOOKUP_RUNS), 3);
    assert_eq!(LOOKUP_MEMO.stats().hits, 1);
}

counter!(ASYNC_TTL_RUNS);
#[cached(ttl = "30s")]
async fn async_with_ttl(name: String) -> usize {
    ASYNC_TTL_RUNS.fetch_add(1, Ordering::SeqCst);
    name.len()
}

#[tokio::test(flavor = "current_thread")]
async fn async_ttl_follows_the_clock() {
    let clock = ManualClock::new();
    let _installed = clock.install();
    assert_eq!(async_with_ttl("abc".into()).await, 3);
    assert_eq!(async_with_ttl("abc".into()).await, 3);
    clock.advance(Duration::from_secs(30));
    assert_eq!(async_with_ttl("abc".into()).await, 3);
    assert_eq!(runs(&ASYNC_TTL_RUNS), 2);
}

#[cached]
async fn label(id: u64) -> String {
    tokio::task::yield_now().await;
    format!("#{id}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_functions_work_on_a_multi_thread_runtime() {
    let handles: Vec<_> = (0..8u64)
        .map(|i| tokio::spawn(async move { label(100 + i % 2).await }))
        .collect();
    for handle in handles {
        let value = handle.await.unwrap();
        assert!(value == "#100" || value == "#101");
    }
}

counter!(ZERO_RUNS);
#[cached]
fn zero_args() -> u32 {
    ZERO_RUNS.fetch_add(1, Ordering::SeqCst) + 40
}

#[test]
fn zero_arguments_form_one_key() {
    assert_eq!(zero_args(), 40);
    assert_eq!(zero_args(), 40);
    assert_eq!(runs(&ZERO_RUNS), 1);
    assert!(ZERO_ARGS_MEMO.invalidate(()).unwrap());
    assert_eq!(zero_args(), 41);
}

counter!(FOUR_RUNS);
#[cached]
fn four_args(a: u8, b: &str, c: String, d: (u16, bool)) -> String {
    FOUR_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{a}{b}{c}{}{}", d.0, d.1)
}

#[test]
fn four_arguments_of_mixed_shapes_form_a_tuple_key() {
    assert_eq!(four_args(1, "b", "c".into(), (4, true)), "1bc4true");
    assert_eq!(four_args(1, "b", "c".into(), (4, true)), "1bc4true");
    assert_eq!(four_args(1, "b", "c".into(), (4, false)), "1bc4false");
    assert_eq!(four_args(1, "x", "c".into(), (4, true)), "1xc4true");
    assert_eq!(runs(&FOUR_RUNS), 3);
    let key = (1u8, "b".to_string(), "c".to_string(), (4u16, true));
    assert!(FOUR_ARGS_MEMO.invalidate(&key).unwrap());
    assert!(!FOUR_ARGS_MEMO.invalidate(&key).unwrap());
    four_args(1, "b", "c".into(), (4, true));
    assert!(
        FOUR_ARGS_MEMO
            .invalidate((&1, "b", "c", &(4, true)))
            .unwrap(),
        "invalidated by references to the arguments"
    );
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Point {
    x: i32,
    y: i32,
}

counter!(DISTANCE_RUNS);
#[cached(capacity = 100)]
fn manhattan(from: &Point, to: Point) -> u32 {
    DISTANCE_RUNS.fetch_add(1, Ordering::SeqCst);
    from.x.abs_diff(to.x) + from.y.abs_diff(to.y)
}

#[test]
fn user_structs_by_value_and_by_reference() {
    let origin = Point { x: 0, y: 0 };
    assert_eq!(manhattan(&origin, Point { x: 3, y: -4 }), 7);
    assert_eq!(manhattan(&origin, Point { x: 3, y: -4 }), 7);
    assert_eq!(manhattan(&Point { x: 1, y: 0 }, Point { x: 3, y: -4 }), 6);
    assert_eq!(runs(&DISTANCE_RUNS), 2);
}

counter!(SUM_RUNS);
#[cached]
fn sum(values: &[i64], scale: i64) -> i64 {
    SUM_RUNS.fetch_add(1, Ordering::SeqCst);
    values.iter().sum::<i64>() * scale
}

#[test]
fn slices_are_keyed_by_their_contents() {
    assert_eq!(sum(&[1, 2, 3], 2), 12);
    let owned = vec![1, 2, 3];
    assert_eq!(sum(&owned, 2), 12);
    assert_eq!(sum(&[1, 2], 2), 6);
    assert_eq!(runs(&SUM_RUNS), 2);
}

counter!(STR_RUNS);
#[cached]
fn shout(word: &str) -> String {
    STR_RUNS.fetch_add(1, Ordering::SeqCst);
    word.to_uppercase()
}

counter!(STRING_RUNS);
#[cached]
fn whisper(word: String) -> String {
    STRING_RUNS.fetch_add(1, Ordering::SeqCst);
    word.to_lowercase()
}

#[test]
fn str_and_string_arguments() {
    let owned = String::from("hey");
    assert_eq!(shout("hey"), "HEY");
    assert_eq!(shout(&owned), "HEY");
    assert_eq!(runs(&STR_RUNS), 1);
    assert!(
        SHOUT_MEMO.invalidate("hey").unwrap(),
        "a &str key is invalidated by its borrowed form"
    );

    assert_eq!(whisper("HEY".into()), "hey");
    assert_eq!(whisper(String::from("HEY")), "hey");
    assert_eq!(runs(&STRING_RUNS), 1);
}

counter!(PAIR_RUNS);
#[cached(name = "tests::pairs")]
fn swap(pair: (u8, char)) -> (char, u8) {
    PAIR_RUNS.fetch_add(1, Ordering::SeqCst);
    (pair.1, pair.0)
}

#[test]
fn tuple_arguments_and_custom_names() {
    assert_eq!(swap((1, 'a')), ('a', 1));
    assert_eq!(swap((1, 'a')), ('a', 1));
    assert_eq!(runs(&PAIR_RUNS), 1);
    assert_eq!(SWAP_MEMO.cache().unwrap().name(), "tests::pairs");
    assert!(
        memokit::caches()
            .iter()
            .any(|c| c.name == "tests::pairs" && c.stats.entries == 1)
    );
}

#[cached]
fn triple(x: u64) -> u64 {
    x * 3
}

#[test]
fn default_names_are_module_paths() {
    assert_eq!(triple(14), 42);
    assert_eq!(TRIPLE_MEMO.cache().unwrap().name(), "cached_basics::triple");
}

counter!(SMALL_RUNS);
#[cached(capacity = 2)]
fn small(x: u8) -> u8 {
    SMALL_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn capacity_bounds_the_entries() {
    for x in 0..10 {
        small(x);
    }
    assert!(
        SMALL_MEMO.len() <= 2,
        "{} entries in a capacity-2 cache",
        SMALL_MEMO.len()
    );
    assert_eq!(runs(&SMALL_RUNS), 10);
    let stats = SMALL_MEMO.stats();
    assert_eq!(
        stats.evicted + stats.entries,
        10,
        "every key either lives or was evicted"
    );
}

counter!(BAD_RUNS);
#[cached(capacity = capacity_from_env())]
fn misconfigured(x: u8) -> u8 {
    BAD_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

fn capacity_from_env() -> u64 {
    0
}

#[test]
fn a_misconfigured_cache_fails_open() {
    assert_eq!(misconfigured(1), 1);
    assert_eq!(misconfigured(1), 1);
    assert_eq!(
        runs(&BAD_RUNS),
        2,
        "without a cache the body runs every time"
    );
    let error = MISCONFIGURED_MEMO.cache().unwrap_err();
    assert_eq!(
        error.to_string(),
        "cache `cached_basics::misconfigured`: invalid `capacity`: must be at least 1"
    );
}
