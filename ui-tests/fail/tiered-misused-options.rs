use memokit::cached;

// `local_ttl` bounds the first layer of the tiered backend: it means nothing elsewhere.
#[cached(local_ttl = "30s")]
fn untiered(id: u64) -> u64 {
    id
}

#[cached(backend = redis, local_ttl = "30s")]
fn remote(id: u64) -> u64 {
    id
}

// A first-layer hit never reaches Redis, so an idle deadline there could not be pushed back.
#[cached(backend = tiered, tti = "5m")]
fn idle(id: u64) -> u64 {
    id
}

#[cached(backend = tiered, local_ttl = 30)]
fn unitless(id: u64) -> u64 {
    id
}

// With a `path` the second layer is on disk: Redis's options and a flight shared through Redis
// have nothing to apply to.
#[cached(backend = tiered, path = "target/caches/ui.redb", url = "redis://127.0.0.1:1", timeout = "1s")]
fn on_disk(id: u64) -> u64 {
    id
}

#[cached(backend = tiered, path = "target/caches/ui.redb", flight = "distributed")]
fn on_disk_shared(id: u64) -> u64 {
    id
}

#[derive(memokit::Cache)]
#[cache(key = u64, value = u64, local_ttl = "1m")]
struct Module;

fn main() {}
