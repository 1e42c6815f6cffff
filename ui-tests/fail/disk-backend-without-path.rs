use memokit::cached;

#[cached(backend = disk)]
fn lookup(id: u64) -> u64 {
    id
}

fn main() {}
