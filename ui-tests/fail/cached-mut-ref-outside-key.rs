use memokit::cached;

// A `&mut` argument is rejected even outside the key: a hit would skip the body's writes.
#[cached(key = id)]
fn bump(id: u32, seen: &mut Vec<u32>) -> u32 {
    seen.push(id);
    id
}

fn main() {}
