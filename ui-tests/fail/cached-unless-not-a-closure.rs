use memokit::cached;

#[cached(unless = true)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
