use memokit::cached;

#[cached(backend = "redis")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
