use memokit::cached;

// Single flight across processes needs a store the processes share.
#[cached(flight = "distributed")]
fn in_memory(id: u32) -> u32 {
    id
}

#[cached(backend = disk, path = "target/caches/flight.redb", flight = "distributed")]
fn on_disk(id: u32) -> u32 {
    id
}

#[cached(backend = redis, flight = "distributed", sync = false)]
fn per_caller(id: u32) -> u32 {
    id
}

#[cached(backend = redis, flight = "everywhere")]
fn unknown_mode(id: u32) -> u32 {
    id
}

#[cached(backend = redis, flight_lease = "2s")]
fn lease_alone(id: u32) -> u32 {
    id
}

#[derive(memokit::Cache)]
#[cache(key = u32, value = u32, flight = "distributed")]
struct Sessions;

fn main() {}
