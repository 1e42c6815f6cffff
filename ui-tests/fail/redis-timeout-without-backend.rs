use memokit::cached;

#[cached(timeout = "2s", ttl = "1m")]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {}
