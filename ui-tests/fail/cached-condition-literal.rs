use memokit::cached;

#[cached(condition = false)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
