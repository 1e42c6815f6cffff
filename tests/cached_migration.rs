//! What people coming from the `cached` crate reach for: the cached flag (`with_cached_flag`,
//! `Return<T>` there; `memokit::Cached<T>` here), `#[once]` (`once`), `cache_set` on a function
//! without arguments (`MEMO.prime((), v)`), and keys from borrowed containers.

use std::sync::atomic::{AtomicU32, Ordering};

use memokit::{Cached, cached};

static FLAG_RUNS: AtomicU32 = AtomicU32::new(0);

/// `cached`'s `with_cached_flag = true` scenario: a `Result` function whose caller asks whether the
/// value came from the cache.
#[cached]
fn fetch(id: u32) -> Cached<Result<String, String>> {
    FLAG_RUNS.fetch_add(1, Ordering::SeqCst);
    if id == 0 {
        return Cached::new(Err("no user 0".to_string()));
    }
    Ok(format!("user {id}")).into()
}

#[test]
fn the_flag_says_whether_a_result_came_from_the_cache() {
    let first = fetch(1);
    assert!(!first.was_cached());
    assert_eq!(*first, Ok("user 1".to_string()));
    let second = fetch(1);
    assert!(second.was_cached());
    assert_eq!(second.into_inner(), Ok("user 1".to_string()));

    // Errors follow the inner `Result`'s rule: not cached, and never flagged.
    let before = FLAG_RUNS.load(Ordering::SeqCst);
    assert!(!fetch(0).was_cached());
    assert!(!fetch(0).was_cached());
    assert_eq!(FLAG_RUNS.load(Ordering::SeqCst), before + 2);

    // The companion stores and invalidates the `Ok` value, unwrapped.
    FETCH_MEMO.prime(&2, "primed".to_string()).unwrap();
    let primed = fetch(2);
    assert!(primed.was_cached());
    assert_eq!(primed.as_deref(), Ok("primed"));
    assert!(FETCH_MEMO.invalidate(&2).unwrap());
    assert!(!fetch(2).was_cached());
}

#[cached]
async fn fetch_async(id: u32) -> Cached<Option<u32>> {
    tokio::task::yield_now().await;
    Cached::new((id > 0).then_some(id * 10))
}

#[tokio::test]
async fn the_flag_works_for_async_functions_and_options() {
    assert!(!fetch_async(3).await.was_cached());
    let hit = fetch_async(3).await;
    assert!(hit.was_cached());
    assert_eq!(*hit, Some(30));
    assert!(!fetch_async(0).await.was_cached(), "`None` is not cached");
    assert!(!fetch_async(0).await.was_cached());
}

static ONCE_RUNS: AtomicU32 = AtomicU32::new(0);

/// `cached`'s `#[once]`: one value whatever the arguments, for its TTL.
#[cached(once, ttl = "1h")]
fn config(path: &str, retries: u32) -> String {
    ONCE_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{path}:{retries}")
}

#[test]
fn once_keeps_one_value_whatever_the_arguments() {
    let _sandbox = memokit::sandbox();
    let first = config("a.toml", 1);
    assert_eq!(config("b.toml", 2), first);
    assert_eq!(ONCE_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(CONFIG_MEMO.len(), 1);
    // The key of a one-value cache is `()`, as for a function without arguments.
    CONFIG_MEMO.prime((), "primed".to_string()).unwrap();
    assert_eq!(config("c.toml", 3), "primed");
    assert!(CONFIG_MEMO.invalidate(()).unwrap());
    assert_eq!(config("d.toml", 4), "d.toml:4");
}

#[cached(once)]
fn generic_once<T: std::fmt::Display>(value: T) -> String {
    value.to_string()
}

#[test]
fn once_lets_a_generic_function_go_without_a_key() {
    let _sandbox = memokit::sandbox();
    assert_eq!(generic_once(7), "7");
    assert_eq!(generic_once("other"), "7");
}

#[cached]
fn answer() -> u32 {
    42
}

#[test]
fn a_function_without_arguments_is_primed_with_unit() {
    let _sandbox = memokit::sandbox();
    ANSWER_MEMO.prime((), 7).unwrap();
    assert_eq!(answer(), 7);
    assert!(ANSWER_MEMO.invalidate(()).unwrap());
    assert_eq!(answer(), 42);
}

static BORROWED_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached]
fn greet(name: Option<&str>, titles: &[&str], pair: (&str, &str), id: Option<&u64>) -> String {
    BORROWED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{name:?} {titles:?} {pair:?} {id:?}")
}

#[cached]
fn joined(parts: Vec<&str>) -> String {
    parts.concat()
}

#[cached]
fn one_option(name: Option<&str>) -> usize {
    name.map_or(0, str::len)
}

#[test]
fn borrowed_containers_are_keyed_by_their_owned_forms() {
    let _sandbox = memokit::sandbox();
    let runs = || BORROWED_RUNS.load(Ordering::SeqCst);
    let first = greet(Some("ada"), &["dr", "prof"], ("a", "b"), Some(&1));
    assert_eq!(
        greet(Some("ada"), &["dr", "prof"], ("a", "b"), Some(&1)),
        first
    );
    assert_eq!(runs(), 1, "the second call is a hit");
    greet(None, &["dr", "prof"], ("a", "b"), Some(&1));
    greet(Some("ada"), &["dr"], ("a", "b"), Some(&1));
    greet(Some("ada"), &["dr", "prof"], ("a", "c"), None);
    assert_eq!(runs(), 4, "every part is in the key");
    assert_eq!(GREET_MEMO.stats().hits, 1);

    // The companion takes the owned form, or the borrowed parts in a tuple.
    let key = (
        Some("ada".to_string()),
        vec!["dr".to_string(), "prof".to_string()],
        ("a".to_string(), "b".to_string()),
        Some(1u64),
    );
    assert!(GREET_MEMO.invalidate(&key).unwrap());
    assert!(!GREET_MEMO.invalidate(&key).unwrap());

    assert_eq!(joined(vec!["a", "b"]), "ab");
    assert_eq!(joined(vec!["a", "b"]), "ab");
    assert_eq!(JOINED_MEMO.stats().hits, 1);
    assert_eq!(one_option(Some("abc")), 3);
    assert_eq!(one_option(Some("abc")), 3);
    assert_eq!(one_option(None), 0);
    assert_eq!(ONE_OPTION_MEMO.stats().hits, 1);
    assert!(
        ONE_OPTION_MEMO
            .invalidate(&Some("abc".to_string()))
            .unwrap()
    );
}
