//! `backend = tiered` on a memoized function and a cache module, with the options of both
//! layers, in front of Redis and of the disk backend; nothing connects or opens until the first
//! call.

use memokit::cached;

#[cached(backend = tiered, url = "redis://127.0.0.1:1", timeout = "50ms", local_ttl = "30s", capacity = 1_000, ttl = "10m")]
fn tiered_square(x: u64) -> u64 {
    x * x
}

#[derive(memokit::Cache)]
#[cache(key = String, value = u64, backend = tiered, capacity = 100, local_ttl = "1m")]
struct Prices;

// With a `path`, the second layer is the disk backend.
#[cached(backend = tiered, path = "target/caches/ui-tiered-cube.redb", local_ttl = "30s", capacity = 100)]
fn tiered_cube(x: u64) -> u64 {
    x * x * x
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = String, backend = tiered, path = "target/caches/ui-tiered-names.redb", capacity = 100)]
struct Names;

fn main() {
    let _ = TIERED_SQUARE_MEMO;
    let _: fn() -> Result<(), memokit::CacheError> = Prices::clear;
    let _: &memokit::Memo<u64, u64, memokit::Tiered<u64, u64, memokit::DiskBackend>> =
        &TIERED_CUBE_MEMO;
    let _: fn() -> Result<(), memokit::CacheError> = Names::clear;
}
