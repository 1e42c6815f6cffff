use memokit::cached;

#[cached(ttl = "1m", refresh = "90s")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
