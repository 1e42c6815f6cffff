use memokit::cached;

#[cached(ttl = "1h30")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
