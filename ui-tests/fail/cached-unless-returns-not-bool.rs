use memokit::cached;

// A type error in an option's closure points at the closure.
#[cached(unless = |r: &u32| *r + 1)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
