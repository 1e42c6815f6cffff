use memokit::cached;

#[cached(url = "redis://127.0.0.1:6379")]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {}
