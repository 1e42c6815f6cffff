use memokit::cached;

#[cached(once, key = id)]
fn by_key(id: u32) -> u32 {
    id
}

#[cached(once, ttl = "1h", refresh = "10m")]
fn refreshed(id: u32) -> u32 {
    id
}

#[cached(once = true)]
fn valued(id: u32) -> u32 {
    id
}

fn main() {}
