use memokit::cached;

// Each of these compiled before, then failed when the cache was built, so the function ran
// uncached on every call.
#[cached(backend = redis, capacity = 100)]
fn bounded(id: u32) -> u32 {
    id
}

#[cached(backend = redis, ttl = "10m", tti = "1m", weigher = |_: &u32, _: &u32| 1)]
fn idle(id: u32) -> u32 {
    id
}

#[cached(backend = disk, path = "target/caches/thumbs.redb", tti = "5m")]
fn thumbnail(id: u32) -> u32 {
    id
}

#[cached(backend = disk, path = "target/caches/sized.redb", capacity = 10, weigher = |_: &u32, _: &u32| 1)]
fn sized(id: u32) -> u32 {
    id
}

fn main() {}
