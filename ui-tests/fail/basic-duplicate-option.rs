use memokit::cached;

#[cached(ttl = "1m", capacity = 10, ttl = "2m")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
