use memokit::cached;

#[cached(companion = true)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
