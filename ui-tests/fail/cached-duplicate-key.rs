use memokit::cached;

#[cached(key = a, condition = a > 0, key = b)]
fn f(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {}
