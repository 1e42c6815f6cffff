use std::time::Duration;

use memokit::cached;

#[cached(ttl = "1h30m", capacity = 10_000, name = "pass::options", backend = memory)]
fn every_option(x: u64) -> u64 {
    x + 1
}

#[cached(ttl = Duration::from_secs(5))]
fn expression_ttl(x: u64) -> u64 {
    x
}

#[cached(cache_err)]
fn caches_errors(x: i32) -> Result<i32, String> {
    if x < 0 { Err("negative".into()) } else { Ok(x) }
}

#[cached(cache_none)]
fn caches_none(x: i32) -> Option<i32> {
    (x > 0).then_some(x)
}

fn main() {
    assert_eq!(every_option(1), 2);
    assert_eq!(every_option(1), 2);
    assert_eq!(EVERY_OPTION_MEMO.stats().hits, 1);
    assert_eq!(EVERY_OPTION_MEMO.cache().unwrap().name(), "pass::options");
    assert_eq!(expression_ttl(3), 3);
    assert!(caches_errors(-1).is_err());
    assert_eq!(caches_errors(-1), Err("negative".to_string()));
    assert_eq!(CACHES_ERRORS_MEMO.stats().hits, 1);
    assert_eq!(caches_none(0), None);
    assert_eq!(caches_none(0), None);
    assert_eq!(CACHES_NONE_MEMO.stats().hits, 1);
}
