use memokit::cached;

// Every mistake is reported in one compile.
#[cached(ttl = "10 minuets", size = 100)]
fn f(items: &mut Vec<u8>) -> usize {
    items.len()
}

fn main() {}
