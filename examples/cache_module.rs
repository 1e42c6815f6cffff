//! A cache module: declare the cache once, call it from anywhere, configure it from the
//! environment at first use, and list every cache in the program.
//!
//! Run with `cargo run --example cache_module`; try `USERS_TTL_SECS=1` or `USERS_TTL_SECS=soon`.

use std::time::Duration;

use memokit::{ConfigError, LoadError, Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(u64);

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub name: String,
}

/// The users cache: typed keys and values, a TTL and a bound, and runtime settings from
/// `users_config`.
#[derive(memokit::Cache)]
#[cache(name = "users", key = UserId, value = User, ttl = "5m", capacity = 10_000, config = users_config)]
pub struct Users;

/// Runs once, when `Users` is first used. The attribute's values arrive in `settings`; a TTL in
/// the environment overrides the attribute's. A bad value makes every `Users` call return a
/// `CacheError::Config` naming the cache and the setting.
fn users_config(settings: &mut Settings<UserId, User>) -> Result<(), ConfigError> {
    if let Ok(raw) = std::env::var("USERS_TTL_SECS") {
        let secs: u64 = raw.parse().map_err(|_| {
            ConfigError::new(
                "ttl",
                format!("USERS_TTL_SECS={raw:?} is not a number of seconds"),
            )
        })?;
        settings.ttl = Some(Duration::from_secs(secs));
    }
    Ok(())
}

#[derive(Debug)]
struct DbError(&'static str);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DbError {}

/// Stands in for a database query.
fn load_user(id: UserId) -> Result<User, DbError> {
    match id.0 {
        0 => Err(DbError("no user 0")),
        n => Ok(User {
            id,
            name: format!("user-{n}"),
        }),
    }
}

/// A memoized function: listed by `memokit::caches()` beside the module.
#[memokit::cached(name = "greetings", capacity = 100)]
fn greeting(name: &str) -> String {
    format!("hello, {name}")
}

fn main() {
    if let Err(e) = run() {
        // With USERS_TTL_SECS=soon: cache `users`: invalid `ttl`: USERS_TTL_SECS="soon" is not ...
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    Users::insert(
        UserId(1),
        User {
            id: UserId(1),
            name: "ada".into(),
        },
    )?;
    println!("get(1)      = {:?}", Users::get(&UserId(1))?);

    // Concurrent misses on one key run the loader once; an `Err` is returned, not cached.
    let loaded = Users::try_get_or_insert_with(UserId(2), || load_user(UserId(2)))?;
    println!("loaded      = {loaded:?}");
    match Users::try_get_or_insert_with(UserId(0), || load_user(UserId(0))) {
        Err(LoadError::Load(e)) => println!("load failed = {e:?} (nothing cached)"),
        other => println!("unexpected  = {other:?}"),
    }

    println!("{}", greeting("grace"));
    Users::remove(&UserId(1))?;

    for cache in memokit::caches() {
        let s = cache.stats;
        println!(
            "cache {:<10} backend {:<7} entries {} hits {} misses {}",
            cache.name, cache.backend, s.entries, s.hits, s.misses
        );
    }
    memokit::clear_all()?;
    println!("after clear_all: {} users", Users::len());
    Ok(())
}
