use memokit::cached;

#[cached(ttl = "5 fortnights")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
