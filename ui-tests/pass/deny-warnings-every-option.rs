//! Every `#[cached]` option, in a crate that denies warnings: the expansion adds nothing a lint
//! flags in the user's code. Single-expression bodies with `refresh`, sync and async, with and
//! without arguments, once drew a bogus `unused_braces`.

#![deny(warnings)]

use std::time::Duration;

use memokit::{Cached, cached};

#[derive(Clone)]
struct User {
    ttl: Duration,
}

#[cached(
    key = (tenant, id),
    condition = id != 0,
    unless = |r| matches!(r, Ok(u) if u.ttl.is_zero()),
    ttl = "10m",
    tti = "2m",
    ttl_from = |u: &User| u.ttl,
    capacity = 100,
    weigher = |_: &(String, u64), _: &User| 1,
    name = "deny::users",
    backend = memory,
    sync = false,
    version = 2,
    sandbox = "optional",
    companion = USERS,
)]
fn user(db: &str, tenant: &str, id: u64) -> Result<User, String> {
    Ok(User { ttl: Duration::from_secs(db.len() as u64 + tenant.len() as u64 + id) })
}

#[cached(cache_err)]
fn errors_too(x: u8) -> Result<u8, String> {
    Err(x.to_string())
}

#[cached(cache_none)]
fn none_too(x: u8) -> Option<u8> {
    x.checked_sub(1)
}

#[cached(once, ttl = "1h")]
fn settings(path: &str) -> String {
    path.to_uppercase()
}

#[cached(key: String = format!("{a}/{b}"), crate = memokit)]
fn typed_key(a: u8, b: u8) -> u16 {
    u16::from(a) * u16::from(b)
}

#[cached]
fn flagged(x: u8) -> Cached<u8> {
    Cached::new(x)
}

#[cached(refresh = "30s", ttl = "1h")]
fn refreshed(x: u64) -> u64 {
    x * 2
}

#[cached(refresh = "30s")]
fn refreshed_without_arguments() -> u64 {
    7
}

#[cached(refresh = "30s", ttl = "1h")]
async fn refreshed_async(x: u64) -> u64 {
    x * 3
}

#[cached(refresh = "30s")]
async fn refreshed_async_without_arguments() -> u64 {
    9
}

#[cached(backend = redis, url = "redis://127.0.0.1:1/", timeout = "50ms", ttl = "1m", flight = "distributed", flight_lease = "2s")]
fn on_redis(x: u32) -> u32 {
    x
}

#[cached(backend = disk, path = "target/caches/deny-warnings.redb", capacity = 10, ttl = "1d")]
fn on_disk(x: u32) -> u32 {
    x
}

fn main() {
    assert_eq!(user("db", "acme", 7).map(|u| u.ttl), Ok(Duration::from_secs(13)));
    assert!(USERS.invalidate(("acme", &7)).is_ok());
    assert!(errors_too(1).is_err());
    assert_eq!(none_too(0), None);
    assert_eq!(settings("a"), "A");
    assert_eq!(typed_key(2, 3), 6);
    assert!(!flagged(1).was_cached());
    assert_eq!(refreshed(2) + refreshed_without_arguments(), 11);
    drop((refreshed_async(1), refreshed_async_without_arguments()));
    // Defined and named, not called: no server, no file.
    let _: [fn(u32) -> u32; 2] = [on_redis, on_disk];
}
