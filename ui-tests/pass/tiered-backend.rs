//! `backend = tiered` on a memoized function and a cache module, with the options of both
//! layers; nothing connects until the first call.

use memokit::cached;

#[cached(backend = tiered, url = "redis://127.0.0.1:1", timeout = "50ms", local_ttl = "30s", capacity = 1_000, ttl = "10m")]
fn tiered_square(x: u64) -> u64 {
    x * x
}

#[derive(memokit::Cache)]
#[cache(key = String, value = u64, backend = tiered, capacity = 100, local_ttl = "1m")]
struct Prices;

fn main() {
    let _ = TIERED_SQUARE_MEMO;
    let _: fn() -> Result<(), memokit::CacheError> = Prices::clear;
}
