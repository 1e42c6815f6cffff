use memokit::cached;

#[cached(condtion = x > 1)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
